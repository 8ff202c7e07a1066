/* SPDX-License-Identifier: MIT */
/* test_tsupport.c - the test support itself: spawned groups die after a failed FATAL assertion, at exit and with the test process; waits count wall-clock time; strict mode turns a skip into a failure; a responder makes replies from requests; the scripted engine's routes */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tengine.h"
#include "tmain.h"
#include "tsupport.h"

static char dir[64];

static char *path(const char *name)
{
	static char buf[4][128];
	static int i;
	char *b = buf[i++ % 4];
	snprintf(b, 128, "%s/%s", dir, name);
	return b;
}

/* pid written to FILE by a spawned shell, waiting up to 5 s for it */
static pid_t pid_in(const char *file)
{
	if (!t_wait_file(file, "\n", 5000))
		return -1;
	char *s = t_read_file(file);
	pid_t p = (pid_t)atoi(s);
	free(s);
	return p;
}

/* 1 when pid is gone (or a zombie) within 3 s */
static int gone(pid_t pid)
{
	for (int64_t t0 = t_now_ms(); t_now_ms() - t0 < 3000; usleep(10000))
		if (!t_alive(pid))
			return 1;
	return 0;
}

/* ---- the child program: a suite whose test fails a FATAL assertion with processes running ---- */

static void child_fatal(void)
{
	/* a direct child, a grandchild in its group, and a group whose leader exits at once, leaving a member */
	t_spawn(NULL, "sh -c 'echo $$ > %s; exec sleep 300'", path("direct"));
	t_spawn(NULL, "sh -c 'sleep 300 & echo $! > %s; wait'", path("grand"));
	pid_t l = t_spawn(NULL, "sh -c 'sleep 300 & echo $! > %s'", path("left"));
	int st;
	t_wait_pid(l, 5000, &st);
	t_wait_file(path("direct"), "\n", 5000);
	t_wait_file(path("grand"), "\n", 5000);
	CU_ASSERT_FATAL(0);
	CU_ASSERT(0); /* never reached */
}

static int run_child(int mode)
{
	if (mode == 2) {
		/* die by SIGKILL with a child running: PR_SET_PDEATHSIG takes it along */
		t_spawn(NULL, "sh -c 'echo $$ > %s; exec sleep 300'", path("orphan"));
		t_wait_file(path("orphan"), "\n", 5000);
		raise(SIGKILL);
	}
	/* started by main: killed at exit */
	t_spawn(NULL, "sh -c 'echo $$ > %s; exec sleep 300'", path("main"));
	t_wait_file(path("main"), "\n", 5000);
	static const t_case cases[] = {{"fatal", child_fatal}, {NULL, NULL}};
	char *argv[] = {"child", NULL};
	return t_run("fatal_child", cases, 1, argv);
}

static int child(int mode, char *out, size_t outlen)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "/proc/%d/exe --child%d %s 2>&1", (int)getpid(), mode, dir);
	FILE *f = popen(cmd, "r");
	size_t n = f ? fread(out, 1, outlen - 1, f) : 0;
	out[n] = '\0';
	int st = f ? pclose(f) : -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_fatal_assert_kills_groups(void)
{
	char out[8192];
	int rc = child(1, out, sizeof(out));
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "T_SUMMARY suite=fatal_child tests=1 failed_tests=1 asserts=1 failed_asserts=1"));
	/* direct, grand: the test's groups, killed after the test; main: killed at exit */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "killing process group"));
	const char *names[] = {"direct", "grand", "left", "main"};
	for (int i = 0; i < 4; i++) {
		pid_t p = pid_in(path(names[i]));
		CU_ASSERT(p > 1);
		if (p > 1 && !gone(p)) {
			CU_FAIL("a spawned process outlived the test");
			fprintf(stderr, "%s (pid %d) still runs\n", names[i], (int)p);
			kill(p, SIGKILL);
		}
	}
}

static void test_children_die_with_test_process(void)
{
	char out[4096];
	CU_ASSERT_EQUAL(child(2, out, sizeof(out)), 128 + SIGKILL);
	pid_t p = pid_in(path("orphan"));
	CU_ASSERT_FATAL(p > 1);
	CU_ASSERT_TRUE(gone(p));
	if (t_alive(p))
		kill(p, SIGKILL);
}

static void test_group_killed_after_test(void)
{
	/* a group this very test leaves running is killed by t_procs_test_end; nested here by hand */
	pid_t p = t_spawn(NULL, "sleep 300");
	CU_ASSERT_FATAL(p > 0);
	CU_ASSERT_TRUE(t_alive(p));
	t_procs_test_end();
	CU_ASSERT_EQUAL(t_procs_killed_last(), 1);
	CU_ASSERT_FALSE(t_alive(p));
	t_procs_test_begin();
	/* one that exited and was waited for is not counted */
	p = t_spawn(NULL, "true");
	int st = -1;
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 0);
	t_procs_test_end();
	CU_ASSERT_EQUAL(t_procs_killed_last(), 0);
	t_procs_test_begin();
}

static void test_waits_count_wall_clock(void)
{
	pid_t p = t_spawn(NULL, "sleep 300");
	int64_t t0 = t_now_ms();
	CU_ASSERT_FALSE(t_wait_pid(p, 300, NULL));
	int64_t took = t_now_ms() - t0;
	CU_ASSERT(took >= 300 && took < 1500);
	t0 = t_now_ms();
	CU_ASSERT_FALSE(t_wait_file(path("never"), "x", 300));
	took = t_now_ms() - t0;
	CU_ASSERT(took >= 300 && took < 1500);
	/* status shell-style */
	kill(p, SIGTERM);
	int st = -1;
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 128 + SIGTERM);
	p = t_spawn(NULL, "sh -c 'exit 70'");
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 70);
}

static void test_stale_output_and_scratch_dirs(void)
{
	/* a log left by an earlier process is empty as soon as t_spawn returns */
	FILE *f = fopen(path("stale.log"), "w");
	fputs("msg=\"leading\" from an earlier run\n", f);
	fclose(f);
	pid_t p = t_spawn(path("stale.log"), "sleep 300");
	CU_ASSERT_FALSE(t_wait_file(path("stale.log"), "leading", 0));
	kill(p, SIGKILL);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, NULL));
	/* a scratch dir registered in a test is removed at its end */
	char d[128];
	snprintf(d, sizeof(d), "%s/scratch", dir);
	CU_ASSERT_EQUAL_FATAL(t_sh("mkdir -p %s/x && touch %s/x/y", d, d), 0);
	t_remove_after_test(d);
	t_procs_test_end();
	CU_ASSERT_NOT_EQUAL(access(d, F_OK), 0);
	t_procs_test_begin();
}

static void test_strict_turns_skip_into_failure(void)
{
	const char *was = getenv("SWARMHEAL_TEST_STRICT");
	char *saved = was ? strdup(was) : NULL;
	unsetenv("SWARMHEAL_TEST_STRICT");
	CU_ASSERT_EQUAL(t_skip("t", "no lab"), 77);
	setenv("SWARMHEAL_TEST_STRICT", "1", 1);
	CU_ASSERT_EQUAL(t_skip("t", "no lab"), 1);
	if (saved) {
		setenv("SWARMHEAL_TEST_STRICT", saved, 1);
		free(saved);
	} else {
		unsetenv("SWARMHEAL_TEST_STRICT");
	}
}

/* tresp_start_fn: each reply made from its request, by the test's function, on the responder's thread */
static char *echo_path(void *ud, const char *req)
{
	(*(int *)ud)++;
	char line[200] = "", *r = NULL;
	sscanf(req, "%*s %199s", line);
	if (asprintf(&r, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(line), line) < 0)
		return NULL;
	return r;
}

static void test_responder_replies_from_request(void)
{
	int calls = 0;
	tresp *r = tresp_start_fn(echo_path, &calls);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	char cmd[200], out[200];
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 http://127.0.0.1:%d/first/path", tresp_port(r));
	t_sh_line(cmd, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "/first/path");
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 'http://127.0.0.1:%d/second?q=1'", tresp_port(r));
	t_sh_line(cmd, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "/second?q=1");
	CU_ASSERT_EQUAL(tresp_requests(r), 2);
	tresp_stop(r);
	CU_ASSERT_EQUAL(calls, 2);
}

/* tengine: its built-in routes, node updates counted, a hook's route before them */
static char *fail_services(tengine *e, const char *req)
{
	(*(int *)e->ud)++;
	return tengine_is(req, "GET /v1.41/services ") ? tengine_reply(500, "{\"message\":\"services fail\"}") : NULL;
}

/* "BODY CODE" of one request to the engine (curl, 5 s at most) */
static void eng_call(const tengine *e, const char *method, const char *path, const char *body, char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 -X %s %s%s%s -w ' %%{http_code}' 'http://127.0.0.1:%d%s'", method,
		 body ? "-H 'Content-Type: application/json' -d '" : "", body ? body : "", body ? "'" : "",
		 tengine_port(e), path);
	t_sh_line(cmd, out, len);
}

static void test_scripted_engine_routes(void)
{
	static tengine e; /* static: a failed FATAL assertion leaves its thread running */
	int hook_calls = 0;
	e = (tengine){.n = 2, .hook = fail_services, .ud = &hook_calls};
	snprintf(e.nodes[0].id, sizeof(e.nodes[0].id), "tengn1");
	snprintf(e.nodes[1].id, sizeof(e.nodes[1].id), "tengn2");
	snprintf(e.nodes[1].state, sizeof(e.nodes[1].state), "down");
	snprintf(e.nodes[1].role, sizeof(e.nodes[1].role), "manager");
	e.nodes[0].version = 10;
	CU_ASSERT_EQUAL_FATAL(tengine_start(&e), 0);
	char out[4096];
	eng_call(&e, "GET", "/version", NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "{\"ApiVersion\":\"1.41\",\"Version\":\"scripted\"} 200");
	eng_call(&e, "GET", "/v1.41/_ping", NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "OK 200");

	/* the list: both nodes, the defaults filled in */
	eng_call(&e, "GET", "/v1.41/nodes", NULL, out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "] 200"));
	cJSON *l = cJSON_Parse(out);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(l), 2);
	const cJSON *n2 = cJSON_GetArrayItem(l, 1);
	char *s2 = cJSON_PrintUnformatted(n2);
	CU_ASSERT_STRING_EQUAL(s2 ? s2 : "",
			       "{\"ID\":\"tengn2\",\"Version\":{\"Index\":0},\"Spec\":{\"Role\":\"manager\","
			       "\"Availability\":\"active\",\"Labels\":{}},\"Description\":{\"Hostname\":\"tengn2\"},"
			       "\"Status\":{\"State\":\"down\",\"Addr\":\"0.0.0.0\"}}");
	free(s2);
	cJSON_Delete(l);

	/* an update takes the spec's Availability, counted, the version one more; one without it changes nothing */
	eng_call(&e, "POST", "/v1.41/nodes/tengn1/update?version=10", "{\"Role\":\"worker\",\"Availability\":\"drain\"}",
		 out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, " 200");
	eng_call(&e, "POST", "/v1.41/nodes/tengn1/update?version=11", "{\"Role\":\"worker\"}", out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " 500"));
	CU_ASSERT_EQUAL(tengine_updates(&e, 0), 1);
	CU_ASSERT_EQUAL(tengine_updates(&e, 1), 0);
	eng_call(&e, "GET", "/v1.41/nodes/tengn1", NULL, out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Version\":{\"Index\":11}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Availability\":\"drain\""));
	eng_call(&e, "GET", "/v1.41/nodes/tengn", NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "{\"message\":\"node not found\"} 404");

	/* the hook answers first; what it leaves, the built-in routes answer */
	eng_call(&e, "GET", "/v1.41/services", NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "{\"message\":\"services fail\"} 500");
	eng_call(&e, "GET", "/v1.41/tasks?filters=%7B%7D", NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "[] 200");
	eng_call(&e, "GET", "/v1.41/swarm", NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "{\"message\":\"page not found\"} 404");
	tengine_stop(&e);
	CU_ASSERT_EQUAL(hook_calls, 10); /* every request, also those it left to the built-in routes */
	CU_ASSERT_STRING_EQUAL(e.nodes[0].availability, "drain");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strncmp(argv[1], "--child", 7)) {
		snprintf(dir, sizeof(dir), "%s", argv[2]);
		return run_child(atoi(argv[1] + 7));
	}
	snprintf(dir, sizeof(dir), "/tmp/swarmheal-tsupport-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	static const t_case cases[] = {
		{"fatal_assert_kills_groups", test_fatal_assert_kills_groups},
		{"children_die_with_test_process", test_children_die_with_test_process},
		{"group_killed_after_test", test_group_killed_after_test},
		{"waits_count_wall_clock", test_waits_count_wall_clock},
		{"stale_output_and_scratch_dirs", test_stale_output_and_scratch_dirs},
		{"strict_turns_skip_into_failure", test_strict_turns_skip_into_failure},
		{"responder_replies_from_request", test_responder_replies_from_request},
		{"scripted_engine_routes", test_scripted_engine_routes},
		{NULL, NULL},
	};
	int rc = t_run("tsupport", cases, argc, argv);
	t_sh("rm -rf %s", dir);
	return rc;
}
