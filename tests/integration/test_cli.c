/* SPDX-License-Identifier: MIT */
/* test_cli.c - swarmhealctl against real etcd: every verb, exit statuses, --watch latency, drain/uncordon, wait */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"
#include "rec_cert.h"
#include "rec_heartbeat.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

static etcd_client *tc;
static char prefix[128], dir[128];

/* Run swarmhealctl with the test's endpoint and prefix; stdout and stderr to dir/out, dir/err; its exit status. */
static int ctl(const char *args)
{
	return t_sh("%s --endpoints %s --prefix %s %s >%s/out 2>%s/err", t_bin("swarmhealctl"), t_endpoints(), prefix,
		    args, dir, dir);
}

static char *out(void)
{
	char p[200];
	snprintf(p, sizeof(p), "%s/out", dir);
	return t_read_file(p);
}

static char *err(void)
{
	char p[200];
	snprintf(p, sizeof(p), "%s/err", dir);
	return t_read_file(p);
}

static cJSON *out_json(void)
{
	char *o = out();
	cJSON *j = cJSON_Parse(o);
	if (!j)
		fprintf(stderr, "not JSON: %s\n", o);
	free(o);
	return j;
}

static void put(const char *sub, const char *id, char *json, int64_t lease)
{
	char key[300];
	CU_ASSERT_EQUAL_FATAL(rec_key(key, sizeof(key), prefix, sub, id), 0);
	etcd_put_opts o = {.lease = lease};
	CU_ASSERT_EQUAL_FATAL(etcd_put(tc, key, json, strlen(json), &o, NULL, NULL), SH_OK);
	free(json);
}

static void seed(int64_t lease)
{
	int64_t now = sh_real_ns();
	rec_heartbeat h = {.node_id = "n1", .hostname = "worker-1", .zone = "a", .addr = "127.0.0.1",
			   .engine = REC_ENGINE_UP, .runs_as = REC_RUNS_PROCESS, .ts_ns = now};
	put("/nodes/", "n1", rec_heartbeat_encode(&h), lease);
	rec_drain_state d = {.state = "drained", .reason = "heartbeat key is gone", .since_ns = now, .fence = 7,
			     .monitor = "dead"};
	put("/drain/state/", "n3", rec_drain_state_encode(&d), 0);
	/* the drain controller leads (a proposal on a lease, as etcd_concurrency writes it) */
	char hex[40];
	snprintf(hex, sizeof(hex), "%llx", (unsigned long long)lease);
	put("/elections/controller.drain/", hex, strdup("mgr-1:4242"), lease);
	rec_action a = {.ts_ns = now,
			.controller = "drain",
			.kind = "drain",
			.target = "n3",
			.reason = "heartbeat key is gone",
			.result = "ok",
			.fence = 7,
			.node = "n3"};
	char key[300];
	rec_action_key(key, sizeof(key), prefix, "drain", now, "drain", "n3");
	char *aj = rec_action_encode(&a);
	etcd_put(tc, key, aj, strlen(aj), NULL, NULL, NULL);
	free(aj);
	rec_cert_status st = {.serial = "01", .not_before_ns = now, .not_after_ns = now + 30 * 86400 * SH_NS_PER_S,
			      .next_renewal_ns = now + 20 * 86400 * SH_NS_PER_S};
	put("/certs/status/", "api", rec_cert_status_encode(&st), 0);
	put("/certs/specs/", "api",
	    strdup("{\"common_name\":\"api\",\"dns_names\":[\"api\"],\"duration\":\"720h\",\"ca\":{\"cert_file\":\"/"
		   "c\","
		   "\"key_file\":\"/k\"},\"files\":{\"cert\":\"/a\",\"key\":\"/b\"}}"),
	    0);
	rec_rollback_snapshot rs = {.spec = "{\"Name\":\"web\"}", .ts_ns = now, .healthy = 1, .version = 3};
	rec_rollback_digest(rs.spec, strlen(rs.spec), rs.sha256);
	char skey[300];
	rec_rollback_snapshot_key(skey, sizeof(skey), prefix, "svc-web", 3);
	char *sj = rec_rollback_snapshot_encode(&rs);
	etcd_put(tc, skey, sj, strlen(sj), NULL, NULL, NULL);
	free(sj);
}

static const char *jstr(const cJSON *o, const char *path)
{
	char buf[200];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL;
	const cJSON *v = o;
	for (char *p = strtok_r(buf, ".", &save); p && v; p = strtok_r(NULL, ".", &save))
		v = (*p >= '0' && *p <= '9') ? cJSON_GetArrayItem(v, atoi(p)) : cJSON_GetObjectItemCaseSensitive(v, p);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Each verb once against a seeded prefix, its output checked, and its exit status. */
static void test_each_verb(void)
{
	int64_t lease, ttl;
	CU_ASSERT_EQUAL_FATAL(etcd_lease_grant(tc, 30, &lease, &ttl), SH_OK);
	seed(lease);
	/* a record two days old of a controller that does not run now, and an agent's record */
	int64_t old = sh_real_ns() - 2 * 86400 * SH_NS_PER_S;
	rec_action oa = {.ts_ns = old, .controller = "certs", .kind = "renew", .target = "api", .reason = "due",
			 .result = "ok", .fence = 2};
	char okey[300];
	rec_action_key(okey, sizeof(okey), prefix, "certs", old, "renew", "api");
	char *oj = rec_action_encode(&oa);
	CU_ASSERT_EQUAL(etcd_put(tc, okey, oj, strlen(oj), NULL, NULL, NULL), SH_OK);
	free(oj);
	rec_action ag = {.ts_ns = sh_real_ns(), .controller = "agent.n1", .kind = "restart", .target = "c1",
			 .reason = "unhealthy", .result = "ok"};
	rec_action_key(okey, sizeof(okey), prefix, "agent.n1", ag.ts_ns, "restart", "c1");
	oj = rec_action_encode(&ag);
	CU_ASSERT_EQUAL(etcd_put(tc, okey, oj, strlen(oj), NULL, NULL, NULL), SH_OK);
	free(oj);
	CU_ASSERT_EQUAL(ctl("get status -o json"), 0);
	cJSON *j = out_json();
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(jstr(j, "kind"), "Status");
	CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "etcd"), 0), "reachable")));
	CU_ASSERT_STRING_EQUAL(jstr(j, "controllers.0.leader"), "mgr-1:4242");
	CU_ASSERT_STRING_EQUAL(jstr(j, "controllers.0.last_action.target"), "n3");
	CU_ASSERT_STRING_EQUAL(jstr(j, "controllers.1.name"), "certs"); /* listed: it has records */
	CU_ASSERT_PTR_NULL(jstr(j, "controllers.1.leader"));
	CU_ASSERT_STRING_EQUAL(jstr(j, "controllers.1.last_action.kind"), "renew");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "controllers")), 2); /* not rollback */
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "actions")), 2); /* the controllers' */
	CU_ASSERT_STRING_EQUAL(jstr(j, "actions.0.kind"), "renew"); /* oldest first */
	CU_ASSERT_STRING_EQUAL(jstr(j, "arbiter.mode"), "normal");
	CU_ASSERT_STRING_EQUAL(jstr(j, "nodes.0.name"), "n1");
	CU_ASSERT_STRING_EQUAL(jstr(j, "nodes.0.monitor"), "monitored");
	CU_ASSERT_STRING_EQUAL(jstr(j, "nodes.1.drained_by"), "swarmheal");
	CU_ASSERT_STRING_EQUAL(jstr(j, "certs.0.state"), "ok");
	CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "degraded")));
	cJSON_Delete(j);
	/* table: aligned columns, one header per section */
	CU_ASSERT_EQUAL(ctl("get status"), 0);
	char *o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "CONTROLLER  LEADER      FENCE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "Nothing needs a person."));
	CU_ASSERT_PTR_NULL(strstr(o, "\033[")); /* no colour when stdout is not a terminal */
	free(o);
	CU_ASSERT_EQUAL(ctl("get status --color always"), 0);
	o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "\033[32mmonitored\033[0m")); /* colour, and the columns still align: */
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "\033[32mmonitored\033[0m  up")); /* widths count the text only */
	free(o);
	CU_ASSERT_EQUAL(ctl("get status --color sometimes"), 64);
	CU_ASSERT_EQUAL(ctl("get status --fail-on-degraded"), 0);
	CU_ASSERT_EQUAL(ctl("get status --fail-on-degraded --controllers drain,certs"), 3); /* certs: no leader */
	CU_ASSERT_EQUAL(ctl("get nodes -o jsonpath='{.items[*].name}'"), 0);
	o = out();
	CU_ASSERT_STRING_EQUAL(o, "n1 n3\n");
	free(o);
	CU_ASSERT_EQUAL(ctl("get nodes -l drained_by=swarmheal -o 'jsonpath={.items[*].name}'"), 0);
	o = out();
	CU_ASSERT_STRING_EQUAL(o, "n3\n");
	free(o);
	CU_ASSERT_EQUAL(ctl("get nodes --zone a -o wide"), 0);
	o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "RUNS-AS"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "process"));
	CU_ASSERT_PTR_NULL(strstr(o, "\nn3 "));
	free(o);
	CU_ASSERT_EQUAL(ctl("get elections -o yaml"), 0);
	o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "  leader: mgr-1:4242\n"));
	free(o);
	CU_ASSERT_EQUAL(ctl("get certs -o jsonpath='{.items[0].days_left}'"), 0);
	o = out();
	CU_ASSERT_TRUE(!strcmp(o, "29\n") || !strcmp(o, "30\n"));
	free(o);
	CU_ASSERT_EQUAL(ctl("get actions -o jsonpath='{.items[*].target}'"), 0);
	o = out();
	CU_ASSERT_STRING_EQUAL(o, "n3 api c1\n"); /* every writer's, in the order written */
	free(o);
	CU_ASSERT_EQUAL(ctl("get services -o jsonpath='{.items[0].name}:{.items[0].latest_version}'"), 0);
	o = out();
	CU_ASSERT_STRING_EQUAL(o, "svc-web:3\n");
	free(o);
	CU_ASSERT_EQUAL(ctl("describe node n3"), 0);
	o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "Drained By:       swarmheal"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "heartbeat key is gone"));
	free(o);
	CU_ASSERT_EQUAL(ctl("describe cert api -o json"), 0);
	CU_ASSERT_EQUAL(ctl("describe service svc-web"), 0);
	CU_ASSERT_EQUAL(ctl("describe node nope"), 1);
	o = err();
	CU_ASSERT_STRING_EQUAL(o, "swarmhealctl: node 'nope' not found\n");
	free(o);
	/* usage */
	CU_ASSERT_EQUAL(ctl("frob"), 64);
	CU_ASSERT_EQUAL(ctl("get nodes -o xml"), 64);
	CU_ASSERT_EQUAL(ctl("get widgets"), 64);
	CU_ASSERT_EQUAL(ctl("get nodes -l bogus"), 64);
	CU_ASSERT_EQUAL(ctl("get nodes --reason x"), 64); /* another verb's option */
	/* every verb has --help with examples */
	const char *verbs[] = {"get", "describe", "drain", "uncordon", "wait", "completion", "man"};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char a[64];
		snprintf(a, sizeof(a), "%s --help", verbs[i]);
		CU_ASSERT_EQUAL(ctl(a), 0);
		o = out();
		CU_ASSERT_PTR_NOT_NULL(strstr(o, "examples:"));
		CU_ASSERT_PTR_NOT_NULL(strstr(o, "usage: swarmhealctl "));
		free(o);
	}
	etcd_lease_revoke(tc, lease);
}

static int key_exists(const char *sub, const char *id, char **value)
{
	char key[300];
	rec_key(key, sizeof(key), prefix, sub, id);
	etcd_kv kv;
	sh_err e = etcd_get(tc, key, &kv, NULL);
	if (e)
		return 0;
	if (value)
		*value = strdup(kv.value);
	etcd_kv_free(&kv);
	return 1;
}

/* drain writes the request record; uncordon withdraws it. */
static void test_drain_uncordon(void)
{
	CU_ASSERT_EQUAL(ctl("drain n7"), 64); /* --reason is required */
	CU_ASSERT_FALSE(key_exists("/drain/requests/", "n7", NULL));
	CU_ASSERT_EQUAL(ctl("drain n7 --reason 'kernel update' --requested-by alice"), 0);
	char *v = NULL;
	CU_ASSERT_TRUE_FATAL(key_exists("/drain/requests/", "n7", &v));
	rec_drain_request rq;
	char why[100];
	CU_ASSERT_EQUAL(rec_drain_request_parse(v, strlen(v), &rq, why, sizeof(why)), SH_OK);
	CU_ASSERT_STRING_EQUAL(rq.reason, "kernel update");
	CU_ASSERT_STRING_EQUAL(rq.requested_by, "alice");
	CU_ASSERT_TRUE(rq.ts_ns > 0);
	free(v);
	char *o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "node/n7 drain requested"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "min-available gate: unknown: not checked"));
	free(o);
	CU_ASSERT_EQUAL(ctl("get nodes -o jsonpath='{.items[*].request.reason}'"), 0);
	o = out();
	CU_ASSERT_STRING_EQUAL(o, "kernel update\n");
	free(o);
	CU_ASSERT_EQUAL(ctl("uncordon node/n7 -o json"), 0);
	cJSON *j = out_json();
	CU_ASSERT_STRING_EQUAL(jstr(j, "action"), "drain request withdrawn");
	cJSON_Delete(j);
	CU_ASSERT_FALSE(key_exists("/drain/requests/", "n7", NULL));
	CU_ASSERT_EQUAL(ctl("uncordon n7"), 0);
	o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "node/n7 had no drain request"));
	free(o);
	CU_ASSERT_EQUAL(ctl("drain 'a/b' --reason x"), 64);
}

/* wait: 124 after --timeout; 0 soon after the drain controller records the state. */
static void test_wait(void)
{
	int64_t t0 = sh_mono_ns();
	CU_ASSERT_EQUAL(ctl("wait node n9 --for=drained --timeout 1s"), 124);
	int64_t took = (sh_mono_ns() - t0) / SH_NS_PER_MS;
	CU_ASSERT_TRUE(took >= 1000 && took < 2500);
	char *e = err();
	CU_ASSERT_STRING_EQUAL(e, "swarmhealctl: timed out waiting for node 'n9' to be drained (drain state none)\n");
	free(e);
	CU_ASSERT_EQUAL(ctl("wait node n9"), 64);
	CU_ASSERT_EQUAL(ctl("wait node n9 --for=gone"), 64);
	char outp[200];
	snprintf(outp, sizeof(outp), "%s/wait.out", dir);
	pid_t p = t_spawn(outp, "%s --endpoints %s --prefix %s wait node n9 --for=drained --timeout 20s",
			  t_bin("swarmhealctl"), t_endpoints(), prefix);
	usleep(300 * 1000); /* let it read and start watching */
	rec_drain_state d = {.state = "drained", .reason = "manual request", .since_ns = sh_real_ns(), .fence = 3};
	int64_t w0 = sh_mono_ns();
	put("/drain/state/", "n9", rec_drain_state_encode(&d), 0);
	int st = -1;
	CU_ASSERT_EQUAL_FATAL(t_wait_pid(p, 5000, &st), 1);
	int64_t ms = (sh_mono_ns() - w0) / SH_NS_PER_MS;
	printf("\n  wait returned %lld ms after the drain state was written\n", (long long)ms);
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_TRUE(ms < 1000);
	CU_ASSERT_TRUE(t_wait_file(outp, "node/n9 condition met (drain state drained)", 100));
	CU_ASSERT_EQUAL(ctl("wait node/n9 --for=active --timeout 200ms"), 124);
}

/* --watch prints the change within 100 ms of the write (an etcd watch, not a poll). */
static void test_watch_latency(void)
{
	char outp[200];
	snprintf(outp, sizeof(outp), "%s/watch.out", dir);
	pid_t p = t_spawn(outp, "%s --endpoints %s --prefix %s get nodes -w -o 'jsonpath={.items[*].name}\\n'",
			  t_bin("swarmhealctl"), t_endpoints(), prefix);
	CU_ASSERT_TRUE_FATAL(t_wait_file(outp, "\n", 3000)); /* the first drawing */
	int64_t worst = 0;
	for (int round = 0; round < 5; round++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", round);
		rec_heartbeat h = {.node_id = "x", .addr = "127.0.0.1", .engine = REC_ENGINE_UP, .ts_ns = sh_real_ns()};
		snprintf(h.node_id, sizeof(h.node_id), "%s", id);
		int64_t t0 = sh_mono_ns();
		put("/nodes/", id, rec_heartbeat_encode(&h), 0);
		int seen = 0;
		while (!seen && sh_mono_ns() - t0 < 2000 * SH_NS_PER_MS) {
			char *s = t_read_file(outp);
			char *last = strrchr(s, '\n'), *prev = last;
			if (last) {
				*last = '\0';
				prev = strrchr(s, '\n');
				seen = strstr(prev ? prev + 1 : s, id) != NULL;
			}
			free(s);
			if (!seen)
				usleep(1000);
		}
		int64_t ms = (sh_mono_ns() - t0) / SH_NS_PER_MS;
		CU_ASSERT_TRUE(seen);
		if (ms > worst)
			worst = ms;
	}
	printf("\n  --watch: worst of 5 changes printed %lld ms after the write\n", (long long)worst);
	CU_ASSERT_TRUE(worst < 100);
	kill(-p, SIGTERM);
	int st;
	t_wait_pid(p, 2000, &st);
}

/* etcd unreachable: one line on stderr and status 69, promptly. */
static void test_unreachable(void)
{
	int port = t_free_port();
	int64_t t0 = sh_mono_ns();
	int rc = t_sh("%s --endpoints http://127.0.0.1:%d get status >%s/out 2>%s/err", t_bin("swarmhealctl"), port,
		      dir, dir);
	int64_t ms = (sh_mono_ns() - t0) / SH_NS_PER_MS;
	CU_ASSERT_EQUAL(rc, 69);
	char *e = err(), want[200];
	snprintf(want, sizeof(want),
		 "swarmhealctl: etcd: cannot reach etcd at 'http://127.0.0.1:%d': connection refused\n", port);
	CU_ASSERT_STRING_EQUAL(e, want);
	free(e);
	char *o = out();
	CU_ASSERT_STRING_EQUAL(o, "");
	free(o);
	CU_ASSERT_TRUE(ms < 3000);
	rc = t_sh("%s --endpoints http://127.0.0.1:%d drain n1 --reason x >%s/out 2>%s/err", t_bin("swarmhealctl"),
		  port, dir, dir);
	CU_ASSERT_EQUAL(rc, 69);
}

int main(int argc, char **argv)
{
	if (!t_endpoints()) {
		fprintf(stderr, "SWARMHEAL_TEST_ENDPOINTS not set (tests/run.sh sets it): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	etcd_config ec = {.endpoints = t_endpoints()};
	if (etcd_client_new(&ec, &tc, NULL, 0))
		return 1;
	snprintf(prefix, sizeof(prefix), "%s", t_prefix("cli"));
	prefix[strlen(prefix) - 1] = '\0'; /* --prefix has no trailing slash */
	snprintf(dir, sizeof(dir), "/tmp/test_cli_it.%d", (int)getpid());
	mkdir(dir, 0700);
	static const t_case cases[] = {
		{"each_verb", test_each_verb},   {"drain_uncordon", test_drain_uncordon}, {"wait", test_wait},
		{"watch_latency", test_watch_latency}, {"unreachable", test_unreachable}, {NULL, NULL},
	};
	int rc = t_run("cli_integration", cases, argc, argv);
	t_sh("rm -rf %s", dir);
	etcd_client_free(tc);
	return rc;
}
