/* SPDX-License-Identifier: MIT */
/* test_drain_ctl.c - the drain controller against real etcd and a scripted engine that fails the service list, then
 * a labelled service's task list (failed-answer input): a manual request is held and recorded once meanwhile, a dead
 * node is drained all the same, and the request is carried out once the engine answers again */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tengine.h"
#include "tmain.h"
#include "tsupport.h"

static const char *eps;
static char prefix[128];

/* ---- the scripted engine: four nodes (n4 down in Swarm), one service "web" (min-available 2, tasks on n1-n3) ---- */

#define NNODES 4
static const char *const node_ids[NNODES] = {"drainctln1", "drainctln2", "drainctln3", "drainctln4"};

typedef struct fake {
	int fail_services, fail_tasks; /* answer HTTP 500 to the service list / the task list */
	int task_lists;                /* task list requests received */
} fake;

static fake fk;
static tengine eng;

/* the service list and the task list (called with eng.mu held); the nodes are the engine's own routes */
static char *services_and_tasks(tengine *e, const char *req)
{
	fake *f = e->ud;
	if (tengine_is(req, "GET /v1.41/services "))
		return f->fail_services ? tengine_reply(500, "{\"message\":\"scripted engine: the service list fails\"}")
					: tengine_reply(200, "[{\"ID\":\"drainctlweb\",\"Version\":{\"Index\":1},"
							     "\"Spec\":{\"Name\":\"web\","
							     "\"Labels\":{\"swarmheal.min-available\":\"2\"},"
							     "\"Mode\":{\"Replicated\":{\"Replicas\":3}}}}]");
	if (!tengine_is(req, "GET /v1.41/tasks?"))
		return NULL;
	f->task_lists++;
	if (f->fail_tasks)
		return tengine_reply(500, "{\"message\":\"scripted engine: the task list fails\"}");
	char buf[2048];
	size_t k = (size_t)snprintf(buf, sizeof(buf), "[");
	for (int i = 0; i < 3; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k,
				      "%s{\"ID\":\"drainctltask%d\",\"ServiceID\":\"drainctlweb\","
				      "\"NodeID\":\"%s\",\"DesiredState\":\"running\","
				      "\"Status\":{\"State\":\"running\"}}",
				      i ? "," : "", i, node_ids[i]);
	snprintf(buf + k, sizeof(buf) - k, "]");
	return tengine_reply(200, buf);
}

static int fk_get(const int *field)
{
	tengine_lock(&eng);
	int v = *field;
	tengine_unlock(&eng);
	return v;
}

static void fk_set(int *field, int v)
{
	tengine_lock(&eng);
	*field = v;
	tengine_unlock(&eng);
}

/* ---- etcd ---- */

static int field_is(const cJSON *j, const char *name, const char *want)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, name);
	return !want || (cJSON_IsString(f) && !strcmp(f->valuestring, want));
}

/* drain action records with these fields (NULL: any; reason and details: a part of them) */
static int count_actions(const char *kind, const char *target, const char *reason, const char *details)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/drain/ --print-value-only", eps, prefix);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(j, "reason");
		char *det = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "details"));
		if (j && field_is(j, "kind", kind) && field_is(j, "target", target) &&
		    (!reason || (cJSON_IsString(why) && strstr(why->valuestring, reason))) &&
		    (!details || (det && strstr(det, details))))
			n++;
		free(det);
		cJSON_Delete(j);
	}
	pclose(f);
	return n;
}

static int wait_actions(const char *kind, const char *target, const char *reason, const char *details, int ms)
{
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(50000))
		if (count_actions(kind, target, reason, details) > 0)
			return 1;
	return 0;
}

/* wait until a counter of the scripted engine (or of its hook) reaches want */
static int wait_count(const int *field, int want, int ms)
{
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(20000))
		if (fk_get(field) >= want)
			return 1;
	return fk_get(field) >= want;
}

static int lines_in(const char *log, const char *needle)
{
	char *s = t_read_file(log);
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	free(s);
	return n;
}

/* passes of the drain controller so far (its reconcile counter) */
static double passes(int mport)
{
	return t_metric(mport, "swarmheal_reconciles_total{controller=\"drain\"}");
}

#define HELD "manual drain of node drainctln2 held: the min-available budgets are unknown this pass"

static void test_manual_request_held_while_budgets_unknown(void)
{
	snprintf(prefix, sizeof(prefix), "%s", t_prefix("drain_ctl"));
	prefix[strlen(prefix) - 1] = '\0'; /* no trailing slash */
	fk = (fake){.fail_services = 1};
	eng = (tengine){.n = NNODES, .hook = services_and_tasks, .ud = &fk};
	for (int i = 0; i < NNODES; i++) {
		snprintf(eng.nodes[i].id, sizeof(eng.nodes[i].id), "%s", node_ids[i]);
		snprintf(eng.nodes[i].hostname, sizeof(eng.nodes[i].hostname), "host%d", i + 1);
		eng.nodes[i].version = 10;
	}
	snprintf(eng.nodes[3].state, sizeof(eng.nodes[3].state), "down");
	CU_ASSERT_EQUAL_FATAL(tengine_start(&eng), 0);
	CU_ASSERT_EQUAL_FATAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s put %s/drain/requests/%s "
				   "'{\"reason\":\"kernel update\",\"requested_by\":\"test\"}' >/dev/null",
				   eps, prefix, node_ids[1]),
			      0);
	const char *log = "/tmp/swarmheal-drain-ctl.log";
	int mport = t_free_port();
	pid_t p = t_spawn(log,
			  "%s --controllers drain --endpoints %s --prefix %s --docker-host tcp://127.0.0.1:%d --ttl 2s "
			  "--resync 200ms --metrics-addr 127.0.0.1:%d --max-drained 2",
			  t_bin("swarmheald"), eps, prefix, tengine_port(&eng), mport);
	CU_ASSERT_FATAL(p > 0);

	/* the service list fails: the request is held and recorded, with the engine's error; n4, down in Swarm, is
	 * drained all the same (budgets are for manual requests only) */
	CU_ASSERT_FATAL(wait_actions("refuse", node_ids[1], HELD " (cannot read the service list)",
				     "scripted engine: the service list fails", 20000));
	CU_ASSERT(wait_actions("drain", node_ids[3], "swarm reports it down", NULL, 10000));
	CU_ASSERT(wait_count(&eng.nodes[3].updates, 1, 10000));
	/* held, not refused once and then forgotten: ten passes later still not drained, recorded once */
	double p0 = passes(mport);
	CU_ASSERT(p0 > 0);
	CU_ASSERT(t_wait_metric(mport, "swarmheal_reconciles_total{controller=\"drain\"}", p0 + 10, 20000));
	CU_ASSERT_EQUAL(count_actions("refuse", node_ids[1], HELD, NULL), 1);
	CU_ASSERT_EQUAL(fk_get(&eng.nodes[1].updates), 0);
	CU_ASSERT_EQUAL(lines_in(log, "why=\"cannot read the service list\""), 1);

	/* the service list answers, web's task list fails: held again, for that reason, recorded once */
	tengine_lock(&eng);
	fk.fail_services = 0;
	fk.fail_tasks = 1;
	tengine_unlock(&eng);
	CU_ASSERT_FATAL(wait_actions("refuse", node_ids[1], HELD " (cannot read the task list of service 'web')",
				     "scripted engine: the task list fails", 20000));
	p0 = passes(mport);
	CU_ASSERT(t_wait_metric(mport, "swarmheal_reconciles_total{controller=\"drain\"}", p0 + 10, 20000));
	CU_ASSERT(fk_get(&fk.task_lists) >= 10); /* the budgets were read again at every pass */
	CU_ASSERT_EQUAL(count_actions("refuse", node_ids[1], HELD, NULL), 2);
	CU_ASSERT_EQUAL(count_actions("refuse", node_ids[1], "(cannot read the task list of service 'web')", NULL), 1);
	CU_ASSERT_EQUAL(fk_get(&eng.nodes[1].updates), 0);
	CU_ASSERT_EQUAL(lines_in(log, "why=\"cannot read the task list of service 'web'\""), 1);

	/* the engine answers again: web keeps tasks on n1 and n3 (its minimum, 2) without n2, so n2 is drained */
	fk_set(&fk.fail_tasks, 0);
	CU_ASSERT(wait_actions("drain", node_ids[1], "manual request", NULL, 20000));
	CU_ASSERT(wait_count(&eng.nodes[1].updates, 1, 10000));
	tengine_lock(&eng);
	CU_ASSERT_STRING_EQUAL(eng.nodes[1].availability, "drain");
	tengine_unlock(&eng);
	CU_ASSERT_EQUAL(count_actions("refuse", node_ids[1], HELD, NULL), 2);
	t_stop_clean(p);
	tengine_stop(&eng);
}

int main(int argc, char **argv)
{
	eps = t_endpoints();
	if (!eps) {
		fprintf(stderr, "no etcd (SWARMHEAL_TEST_ENDPOINTS): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	static const t_case cases[] = {
		{"manual_request_held_while_budgets_unknown", test_manual_request_held_while_budgets_unknown},
		{NULL, NULL},
	};
	return t_run("drain_ctl", cases, argc, argv);
}
