/* SPDX-License-Identifier: MIT */
/* tmain.h - one CUnit main for every test program: a table of tests, basic runner, exit status */
#ifndef TMAIN_H
#define TMAIN_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct t_case {
	const char *name;
	void (*fn)(void);
} t_case;

/* Runs every case of the table in one suite; argv[1] (optional) selects one test by name. */
static inline int t_run(const char *suite, const t_case *cases, int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, NULL, NULL);
	for (const t_case *c = cases; c->name; c++)
		if (argc < 2 || !strcmp(argv[1], c->name))
			CU_add_test(s, c->name, c->fn);
	CU_basic_set_mode(getenv("T_VERBOSE") ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (ran == 0) {
		fprintf(stderr, "%s: no test ran\n", suite);
		return 1;
	}
	return failed ? 1 : 0;
}

#endif
