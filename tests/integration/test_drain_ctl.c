/* SPDX-License-Identifier: MIT */
/* test_drain_ctl.c - the drain controller against real etcd and a scripted engine that fails the service list, then
 * a labelled service's task list (failed-answer input): a manual request is held and recorded once meanwhile, a dead
 * node is drained all the same, and the request is carried out once the engine answers again */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmain.h"
#include "tsupport.h"

static const char *eps;
static char prefix[128];

/* ---- the scripted engine: four nodes (n4 down in Swarm), one service "web" (min-available 2, tasks on n1-n3) ---- */

#define NNODES 4
static const char *const node_ids[NNODES] = {"drainctln1", "drainctln2", "drainctln3", "drainctln4"};

typedef struct fake {
	pthread_mutex_t mu;
	int fail_services, fail_tasks; /* answer HTTP 500 to the service list / the task list */
	char avail[NNODES][16];
	int version[NNODES];
	int updates[NNODES]; /* node updates received */
	int task_lists;      /* task list requests received */
} fake;

static fake fk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static char *reply(int status, const char *body)
{
	char *r = NULL;
	if (asprintf(&r,
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
		     "\r\n%s",
		     status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Internal Server Error", strlen(body),
		     body) < 0)
		return NULL;
	return r;
}

/* one node as the engine shows it (called with fk.mu held) */
static void node_json(int i, char *out, size_t len)
{
	snprintf(out, len,
		 "{\"ID\":\"%s\",\"Version\":{\"Index\":%d},"
		 "\"Spec\":{\"Role\":\"worker\",\"Availability\":\"%s\",\"Labels\":{}},"
		 "\"Description\":{\"Hostname\":\"host%d\"},\"Status\":{\"State\":\"%s\",\"Addr\":\"0.0.0.0\"}}",
		 node_ids[i], fk.version[i], fk.avail[i], i + 1, i == 3 ? "down" : "ready");
}

static int starts(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* the request line "METHOD PATH HTTP/1.1" routed; the API version is 1.41 */
static char *engine(void *ud, const char *req)
{
	(void)ud;
	char buf[2048] = "";
	pthread_mutex_lock(&fk.mu);
	char *out = NULL;
	if (starts(req, "GET /version ")) {
		out = reply(200, "{\"ApiVersion\":\"1.41\",\"Version\":\"scripted\"}");
	} else if (starts(req, "GET /v1.41/nodes ")) {
		size_t k = (size_t)snprintf(buf, sizeof(buf), "[");
		for (int i = 0; i < NNODES; i++) {
			char one[400];
			node_json(i, one, sizeof(one));
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%s", i ? "," : "", one);
		}
		snprintf(buf + k, sizeof(buf) - k, "]");
		out = reply(200, buf);
	} else if (starts(req, "GET /v1.41/nodes/") || starts(req, "POST /v1.41/nodes/")) {
		const char *id = strstr(req, "/nodes/") + 7;
		int i = -1;
		for (int j = 0; j < NNODES; j++) {
			char end = starts(id, node_ids[j]) ? id[strlen(node_ids[j])] : 0;
			if (end == ' ' || end == '/')
				i = j;
		}
		const char *body = strstr(req, "\r\n\r\n");
		if (i < 0) {
			out = reply(404, "{\"message\":\"node not found\"}");
		} else if (req[0] == 'G') {
			node_json(i, buf, sizeof(buf));
			out = reply(200, buf);
		} else {
			/* a node update: the spec's Availability becomes the node's */
			cJSON *spec = body ? cJSON_Parse(body + 4) : NULL;
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, "Availability");
			if (cJSON_IsString(a)) {
				snprintf(fk.avail[i], sizeof(fk.avail[i]), "%s", a->valuestring);
				fk.version[i]++;
				fk.updates[i]++;
				out = reply(200, "");
			} else {
				out = reply(500, "{\"message\":\"scripted engine: no Availability in the node spec\"}");
			}
			cJSON_Delete(spec);
		}
	} else if (starts(req, "GET /v1.41/services ")) {
		out = fk.fail_services ? reply(500, "{\"message\":\"scripted engine: the service list fails\"}")
				       : reply(200, "[{\"ID\":\"drainctlweb\",\"Version\":{\"Index\":1},"
						    "\"Spec\":{\"Name\":\"web\","
						    "\"Labels\":{\"swarmheal.min-available\":\"2\"},"
						    "\"Mode\":{\"Replicated\":{\"Replicas\":3}}}}]");
	} else if (starts(req, "GET /v1.41/tasks?")) {
		fk.task_lists++;
		if (fk.fail_tasks) {
			out = reply(500, "{\"message\":\"scripted engine: the task list fails\"}");
		} else {
			size_t k = (size_t)snprintf(buf, sizeof(buf), "[");
			for (int i = 0; i < 3; i++)
				k += (size_t)snprintf(buf + k, sizeof(buf) - k,
						      "%s{\"ID\":\"drainctltask%d\",\"ServiceID\":\"drainctlweb\","
						      "\"NodeID\":\"%s\",\"DesiredState\":\"running\","
						      "\"Status\":{\"State\":\"running\"}}",
						      i ? "," : "", i, node_ids[i]);
			snprintf(buf + k, sizeof(buf) - k, "]");
			out = reply(200, buf);
		}
	} else if (starts(req, "GET /v1.41/events")) {
		out = reply(200, ""); /* the stream ends at once: the controller resyncs */
	} else {
		out = reply(404, "{\"message\":\"page not found\"}");
	}
	pthread_mutex_unlock(&fk.mu);
	return out;
}

static int fk_get(const int *field)
{
	pthread_mutex_lock(&fk.mu);
	int v = *field;
	pthread_mutex_unlock(&fk.mu);
	return v;
}

static void fk_set(int *field, int v)
{
	pthread_mutex_lock(&fk.mu);
	*field = v;
	pthread_mutex_unlock(&fk.mu);
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

/* wait until the scripted engine's counter reaches want */
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
	pthread_mutex_lock(&fk.mu);
	for (int i = 0; i < NNODES; i++) {
		snprintf(fk.avail[i], sizeof(fk.avail[i]), "active");
		fk.version[i] = 10;
		fk.updates[i] = 0;
	}
	fk.fail_services = 1;
	fk.fail_tasks = 0;
	fk.task_lists = 0;
	pthread_mutex_unlock(&fk.mu);
	tresp *eng = tresp_start_fn(engine, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eng);
	CU_ASSERT_EQUAL_FATAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s put %s/drain/requests/%s "
				   "'{\"reason\":\"kernel update\",\"requested_by\":\"test\"}' >/dev/null",
				   eps, prefix, node_ids[1]),
			      0);
	const char *log = "/tmp/swarmheal-drain-ctl.log";
	int mport = t_free_port();
	pid_t p = t_spawn(log,
			  "%s --controllers drain --endpoints %s --prefix %s --docker-host tcp://127.0.0.1:%d --ttl 2s "
			  "--resync 200ms --metrics-addr 127.0.0.1:%d --max-drained 2",
			  t_bin("swarmheald"), eps, prefix, tresp_port(eng), mport);
	CU_ASSERT_FATAL(p > 0);

	/* the service list fails: the request is held and recorded, with the engine's error; n4, down in Swarm, is
	 * drained all the same (budgets are for manual requests only) */
	CU_ASSERT_FATAL(wait_actions("refuse", node_ids[1], HELD " (cannot read the service list)",
				     "scripted engine: the service list fails", 20000));
	CU_ASSERT(wait_actions("drain", node_ids[3], "swarm reports it down", NULL, 10000));
	CU_ASSERT(wait_count(&fk.updates[3], 1, 10000));
	/* held, not refused once and then forgotten: ten passes later still not drained, recorded once */
	double p0 = passes(mport);
	CU_ASSERT(p0 > 0);
	CU_ASSERT(t_wait_metric(mport, "swarmheal_reconciles_total{controller=\"drain\"}", p0 + 10, 20000));
	CU_ASSERT_EQUAL(count_actions("refuse", node_ids[1], HELD, NULL), 1);
	CU_ASSERT_EQUAL(fk_get(&fk.updates[1]), 0);
	CU_ASSERT_EQUAL(lines_in(log, "why=\"cannot read the service list\""), 1);

	/* the service list answers, web's task list fails: held again, for that reason, recorded once */
	pthread_mutex_lock(&fk.mu);
	fk.fail_services = 0;
	fk.fail_tasks = 1;
	pthread_mutex_unlock(&fk.mu);
	CU_ASSERT_FATAL(wait_actions("refuse", node_ids[1], HELD " (cannot read the task list of service 'web')",
				     "scripted engine: the task list fails", 20000));
	p0 = passes(mport);
	CU_ASSERT(t_wait_metric(mport, "swarmheal_reconciles_total{controller=\"drain\"}", p0 + 10, 20000));
	CU_ASSERT(fk_get(&fk.task_lists) >= 10); /* the budgets were read again at every pass */
	CU_ASSERT_EQUAL(count_actions("refuse", node_ids[1], HELD, NULL), 2);
	CU_ASSERT_EQUAL(count_actions("refuse", node_ids[1], "(cannot read the task list of service 'web')", NULL), 1);
	CU_ASSERT_EQUAL(fk_get(&fk.updates[1]), 0);
	CU_ASSERT_EQUAL(lines_in(log, "why=\"cannot read the task list of service 'web'\""), 1);

	/* the engine answers again: web keeps tasks on n1 and n3 (its minimum, 2) without n2, so n2 is drained */
	fk_set(&fk.fail_tasks, 0);
	CU_ASSERT(wait_actions("drain", node_ids[1], "manual request", NULL, 20000));
	CU_ASSERT(wait_count(&fk.updates[1], 1, 10000));
	pthread_mutex_lock(&fk.mu);
	CU_ASSERT_STRING_EQUAL(fk.avail[1], "drain");
	pthread_mutex_unlock(&fk.mu);
	CU_ASSERT_EQUAL(count_actions("refuse", node_ids[1], HELD, NULL), 2);
	t_stop_clean(p);
	tresp_stop(eng);
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
