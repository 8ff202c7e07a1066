/* SPDX-License-Identifier: MIT */
/* tmain.h - one CUnit main for every test program: a table of tests, basic runner, summary line, exit status */
#ifndef TMAIN_H
#define TMAIN_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsupport.h"

typedef struct t_case {
	const char *name;
	void (*fn)(void);
} t_case;

/*
 * Runs every case of the table in one suite; argv[1] (optional) selects one test by name. After
 * each test (also one a FATAL assertion ended) the process groups it started are killed
 * (tsupport.h: t_procs_test_end). Prints CUnit's run summary and one line tests/run.sh collects:
 *   T_SUMMARY suite=NAME tests=N failed_tests=N asserts=N failed_asserts=N seconds=S (wall clock;
 * CUnit's own "Elapsed time" is CPU time)
 */
static inline int t_run(const char *suite, const t_case *cases, int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite_with_setup_and_teardown(suite, NULL, NULL, t_procs_test_begin, t_procs_test_end);
	for (const t_case *c = cases; c->name; c++)
		if (argc < 2 || !strcmp(argv[1], c->name))
			CU_add_test(s, c->name, c->fn);
	CU_basic_set_mode(getenv("T_VERBOSE") ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
	int64_t t0 = t_now_ms();
	CU_basic_run_tests();
	double wall = (double)(t_now_ms() - t0) / 1000.0;
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned ran = CU_get_number_of_tests_run();
	fprintf(stderr, "T_SUMMARY suite=%s tests=%u failed_tests=%u asserts=%u failed_asserts=%u seconds=%.1f\n", suite,
		ran, CU_get_number_of_tests_failed(), CU_get_number_of_asserts(), CU_get_number_of_failures(),
		wall);
	CU_cleanup_registry();
	t_procs_kill_all();
	if (ran == 0) {
		fprintf(stderr, "%s: no test ran\n", suite);
		return 1;
	}
	return failed ? 1 : 0;
}

#endif
