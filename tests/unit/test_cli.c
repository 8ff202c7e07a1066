/* SPDX-License-Identifier: MIT */
/* test_cli.c - swarmhealctl's views from fixed records: golden table/wide outputs, json/yaml against the schema */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "drain.h"
#include "rec.h"
#include "rec_cert.h"
#include "rec_election.h"
#include "rec_heartbeat.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

/*
 * Golden files: tests/unit/golden/VIEW.table and VIEW.wide. After a
 * deliberate change of the output, regenerate them with
 *   SWARMHEAL_UPDATE_GOLDEN=1 build/tests/unit_test_cli
 * and read the diff before committing it.
 */

#define P "/swarmheal"
static int64_t NOW; /* 2026-11-29T12:00:00Z */

static void add(etcd_range_result *r, const char *key, const char *value, int64_t create)
{
	r->kvs = realloc(r->kvs, (r->n + 1) * sizeof(etcd_kv));
	etcd_kv *kv = &r->kvs[r->n++];
	memset(kv, 0, sizeof(*kv));
	kv->key = strdup(key);
	kv->key_len = strlen(key);
	kv->value = strdup(value);
	kv->value_len = strlen(value);
	kv->create_revision = kv->mod_revision = create;
}

static void add_free(etcd_range_result *r, const char *key, char *value, int64_t create)
{
	add(r, key, value, create);
	free(value);
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const etcd_kv *)a)->key, ((const etcd_kv *)b)->key);
}

static void sorted(etcd_range_result *r)
{
	qsort(r->kvs, r->n, sizeof(etcd_kv), kv_cmp); /* etcd answers ranges in key order */
}

static char *hb(const char *id, const char *host, const char *zone, rec_engine e, int stopped, int64_t age_s)
{
	rec_heartbeat h = {
		.stopped = stopped, .engine = e, .runs_as = REC_RUNS_SYSTEMD, .ts_ns = NOW - age_s * SH_NS_PER_S};
	snprintf(h.node_id, sizeof(h.node_id), "%s", id);
	snprintf(h.hostname, sizeof(h.hostname), "%s", host);
	snprintf(h.zone, sizeof(h.zone), "%s", zone);
	snprintf(h.addr, sizeof(h.addr), "10.0.0.%d", id[1] - '0' + 20);
	if (!strcmp(id, "n1"))
		h.cert_not_after_ns = NOW + 40 * 86400 * SH_NS_PER_S;
	return rec_heartbeat_encode(&h);
}

static char *action(int64_t ago_s, const char *ctl, const char *kind, const char *target, const char *result,
		    const char *reason)
{
	rec_action a = {.ts_ns = NOW - ago_s * SH_NS_PER_S, .controller = (char *)ctl, .kind = (char *)kind,
			.target = (char *)target, .reason = (char *)reason, .result = (char *)result, .fence = 5};
	return rec_action_encode(&a);
}

static const char cert_spec[] =
	"{\"common_name\":\"%s.swarm.internal\",\"dns_names\":[\"%s.swarm.internal\"],\"duration\":\"720h\","
	"\"renew_before\":\"240h\",\"ca\":{\"cert_file\":\"/etc/ca.pem\",\"key_file\":\"/etc/ca-key.pem\"},"
	"\"secret\":{\"name\":\"%s-tls\",\"services\":[\"%s\"]}}";

static char *spec(const char *name)
{
	char *s = NULL;
	if (asprintf(&s, cert_spec, name, name, name, name) < 0)
		return NULL;
	return s;
}

static char *cstatus(int64_t not_after_from_now_s, const char *err)
{
	rec_cert_status st = {.serial = "0a1b2c", .not_before_ns = NOW - 86400 * SH_NS_PER_S,
			      .not_after_ns = NOW + not_after_from_now_s * SH_NS_PER_S,
			      .renewed_at_ns = NOW - 86400 * SH_NS_PER_S};
	st.next_renewal_ns = st.not_after_ns - 240 * 3600 * SH_NS_PER_S;
	snprintf(st.last_error, sizeof(st.last_error), "%s", err);
	st.failures = *err ? 2 : 0;
	return rec_cert_status_encode(&st);
}

static char *snapshot(int64_t version, int healthy)
{
	rec_rollback_snapshot r = {.spec = "{\"Name\":\"web\"}", .ts_ns = NOW - 3600 * SH_NS_PER_S, .healthy = healthy,
				   .version = version};
	rec_rollback_digest(r.spec, strlen(r.spec), r.sha256);
	return rec_rollback_snapshot_encode(&r);
}

static void fixture(cli_snap *s)
{
	memset(s, 0, sizeof(*s));
	sh_parse_rfc3339("2026-11-29T12:00:00Z", &NOW);
	s->now_ns = NOW;
	s->prefix = P;
	s->revision = 4242;
	s->controllers = "drain,certs";
	s->etcd_quota = INT64_C(2147483648);
	s->neps = 2;
	s->eps[0] = (cli_endpoint){.endpoint = "http://10.0.0.5:2379", .reachable = 1, .version = "3.4.23",
				   .db_size = 25 * 1024 * 1024, .member_id = 0xabc, .leader = 0xabc};
	s->eps[1] = (cli_endpoint){.endpoint = "http://10.0.0.6:2379",
				   .error = "cannot reach etcd at 'http://10.0.0.6:2379': connection refused"};
	/* heartbeats: running up, stop mark, slow engine, engine down, unreadable */
	add_free(&s->nodes, P "/nodes/n1", hb("n1", "worker-1", "a", REC_ENGINE_UP, 0, 2), 10);
	add_free(&s->nodes, P "/nodes/n2", hb("n2", "worker-2", "b", REC_ENGINE_UNKNOWN, 1, 300), 11);
	add_free(&s->nodes, P "/nodes/n4", hb("n4", "worker-4", "a", REC_ENGINE_SLOW, 0, 1), 12);
	add_free(&s->nodes, P "/nodes/n5", hb("n5", "worker-5", "b", REC_ENGINE_DOWN, 0, 3), 13);
	add(&s->nodes, P "/nodes/n6", "{\"agent\":\"running\",\"node_id\":", 14);
	sorted(&s->nodes);
	rec_drain_state d3 = {.state = "drained",
			      .reason = "heartbeat key is gone",
			      .since_ns = NOW - 600 * SH_NS_PER_S,
			      .fence = 5,
			      .monitor = "dead"};
	add_free(&s->drain_state, P "/drain/state/n3", rec_drain_state_encode(&d3), 20);
	rec_drain_state d5 = {.state = "draining", .reason = "agent reports its engine down",
			      .since_ns = NOW - 2 * SH_NS_PER_S, .fence = 5};
	add_free(&s->drain_state, P "/drain/state/n5", rec_drain_state_encode(&d5), 21);
	add(&s->drain_state, P "/drain/state/n7", "{\"state\":\"sideways\"}", 22);
	sorted(&s->drain_state);
	rec_drain_request rq = {
		.reason = "kernel update", .requested_by = "alice@ops", .ts_ns = NOW - 60 * SH_NS_PER_S};
	add_free(&s->drain_req, P "/drain/requests/n1", rec_drain_request_encode(&rq), 30);
	/* elections: drain led by the lowest create_revision, a script's election, none for certs */
	add(&s->elections, P "/elections/controller.drain/694d7e1a2b3c4d60", "mgr-2:977", 9);
	add(&s->elections, P "/elections/controller.drain/694d7e1a2b3c4d5e", "mgr-1:4242", 5);
	add(&s->elections, P "/elections/nightly-backup/694d7e1a2b3c4d70", "mgr-3:12", 40);
	sorted(&s->elections);
	s->nlast = 2;
	snprintf(s->last_action_ctl[0], 64, "drain");
	add_free(&s->last_action[0], P "/actions/drain/x", action(2, "drain", "drain", "n5", "started", "engine down"),
		 50);
	snprintf(s->last_action_ctl[1], 64, "certs");
	/* certs: renewal due with an error, fine, unreadable spec, status without spec */
	add_free(&s->cert_specs, P "/certs/specs/api", spec("api"), 60);
	add_free(&s->cert_specs, P "/certs/specs/web", spec("web"), 61);
	add(&s->cert_specs, P "/certs/specs/bad", "{\"common_name\":\"x\"}", 62);
	sorted(&s->cert_specs);
	add_free(&s->cert_status, P "/certs/status/api", cstatus(5 * 86400, "ca key unreadable: permission denied"),
		 63);
	add_free(&s->cert_status, P "/certs/status/web", cstatus(25 * 86400, ""), 64);
	add_free(&s->cert_status, P "/certs/status/zombie", cstatus(25 * 86400, ""), 65);
	sorted(&s->cert_status);
	/* actions, newest first as the range returns them */
	add_free(&s->actions, P "/actions/drain/3",
		 action(2, "drain", "drain", "n5", "started", "agent reports its engine down"), 73);
	add(&s->actions, P "/actions/drain/2", "{\"ts\":\"yesterday\"}", 72);
	add_free(&s->actions, P "/actions/agent.n1/1",
		 action(90, "agent.n1", "restart", "c0ffee", "ok", "container unhealthy for 3 checks"), 71);
	add_free(&s->actions, P "/actions/drain/1", action(600, "drain", "drain", "n3", "ok", "heartbeat key is gone"),
		 70);
	/* rollback: svc1 paused for a person, svc2 rolling back; snapshots of svc1 and svc3 */
	add_free(&s->rollback_actions, P "/actions/rollback/2",
		 action(30, "rollback", "rollback", "svc1", "paused: rollback failed twice", "tasks fail after update"),
		 81);
	add_free(&s->rollback_actions, P "/actions/rollback/1",
		 action(40, "rollback", "rollback", "svc2", "started", "3 of 4 tasks failed"), 80);
	add_free(&s->snapshots, P "/rollback/snapshots/svc1/00000000000000000011", snapshot(11, 1), 90);
	add_free(&s->snapshots, P "/rollback/snapshots/svc1/00000000000000000012", snapshot(12, 0), 91);
	add_free(&s->snapshots, P "/rollback/snapshots/svc3/00000000000000000004", snapshot(4, 1), 92);
	s->have_snapshots = 1;
	/* arbiter: single zone */
	rec_arbiter_mode m = {.mode = REC_MODE_SINGLE_ZONE, .nzones = 1, .since_ns = NOW - 120 * SH_NS_PER_S,
			      .reason = "zone b unreachable from 2 of 3 managers", .fence = 3};
	snprintf(m.zones[0], 64, "a");
	char *mj = rec_arbiter_mode_encode(&m);
	s->arbiter = (etcd_kv){.key = strdup(P "/arbiter/mode"), .key_len = strlen(P "/arbiter/mode"), .value = mj,
			       .value_len = strlen(mj)};
	s->arbiter_present = 1;
	/* Swarm (--docker-host): n1 a ready manager, n3 down and drained, n8 drained by a person, no agent */
	s->have_swarm = 1;
	s->swarm.n = 3;
	s->swarm.v = calloc(3, sizeof(dock_node));
	s->swarm.v[0] = (dock_node){.id = "n1", .hostname = "worker-1", .role = "manager", .availability = "active",
				    .state = "ready", .addr = "10.0.0.21", .leader = 1};
	s->swarm.v[1] = (dock_node){.id = "n3", .hostname = "worker-3", .role = "worker", .availability = "drain",
				    .state = "down", .addr = "10.0.0.23"};
	s->swarm.v[2] = (dock_node){.id = "n8", .hostname = "worker-8", .role = "worker", .availability = "drain",
				    .state = "ready", .addr = "10.0.0.28"};
}

static char *render(cJSON *v, enum cli_fmt fmt, const char *jsonpath)
{
	char *buf = NULL;
	size_t len = 0;
	cli_ctx c = {.prog = "swarmhealctl", .fmt = fmt, .jsonpath = jsonpath};
	c.out = open_memstream(&buf, &len);
	CU_ASSERT_EQUAL(cli_print(&c, v), 0);
	fclose(c.out);
	return buf;
}

static const char *src(void)
{
	const char *s = getenv("SWARMHEAL_SRC");
	return s ? s : ".";
}

/* Compare with tests/unit/golden/NAME (or write it with SWARMHEAL_UPDATE_GOLDEN=1). */
static void golden(const char *name, const char *got)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/unit/golden/%s", src(), name);
	if (getenv("SWARMHEAL_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs(got, f);
		fclose(f);
		return;
	}
	char *want = t_read_file(path);
	if (strcmp(want, got)) {
		fprintf(stderr, "\n--- golden %s differs; got:\n%s--- want:\n%s", name, got, want);
		CU_FAIL("output differs from its golden file");
	}
	free(want);
}

static char tmpdir[128];

static void save(const char *name, const char *text)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

typedef struct view_case {
	const char *name;
	cJSON *(*build)(const cli_snap *s);
} view_case;

static cJSON *b_status(const cli_snap *s)
{
	return cli_view_status(s, NULL, 10);
}
static cJSON *b_nodes(const cli_snap *s)
{
	return cli_view_nodes(s, NULL);
}
static cJSON *b_elections(const cli_snap *s)
{
	return cli_view_elections(s, NULL);
}
static cJSON *b_certs(const cli_snap *s)
{
	return cli_view_certs(s, NULL);
}
static cJSON *b_actions(const cli_snap *s)
{
	return cli_view_actions(s, NULL, 10);
}
static cJSON *b_services(const cli_snap *s)
{
	return cli_view_services(s, NULL);
}
static cJSON *b_node(const cli_snap *s)
{
	return cli_view_node(s, "n5");
}
static cJSON *b_cert(const cli_snap *s)
{
	return cli_view_cert(s, "api");
}
static cJSON *b_service(const cli_snap *s)
{
	return cli_view_service(s, "svc1");
}

static const view_case views[] = {
	{"status", b_status}, {"nodes", b_nodes},     {"elections", b_elections},
	{"certs", b_certs},   {"actions", b_actions}, {"services", b_services},
	{"node", b_node},     {"cert", b_cert},	      {"service", b_service},
};

/* Every view: table and wide match their golden files; json and yaml validate against the schema and agree. */
static void test_views_golden_and_schema(void)
{
	cli_snap s;
	fixture(&s);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cli.%d", (int)getpid());
	mkdir(tmpdir, 0700);
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		cJSON *v = views[i].build(&s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		char name[64];
		char *t = render(v, CLI_TABLE, NULL);
		snprintf(name, sizeof(name), "%s.table", views[i].name);
		golden(name, t);
		free(t);
		t = render(v, CLI_WIDE, NULL);
		snprintf(name, sizeof(name), "%s.wide", views[i].name);
		golden(name, t);
		free(t);
		t = render(v, CLI_JSON, NULL);
		snprintf(name, sizeof(name), "%s.json", views[i].name);
		save(name, t);
		free(t);
		t = render(v, CLI_YAML, NULL);
		snprintf(name, sizeof(name), "%s.yaml", views[i].name);
		save(name, t);
		free(t);
		cJSON_Delete(v);
	}
	CU_ASSERT_EQUAL(
		t_sh("/usr/bin/python3 %s/tests/cli/validate_output.py %s/cmd/swarmhealctl/schema/swarmhealctl.json "
		     "%s/*.json %s/*.yaml",
		     src(), src(), tmpdir, tmpdir),
		0);
	t_sh("rm -rf %s", tmpdir);
	cli_snap_release(&s);
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(m) ? m->valuestring : NULL;
}

static const cJSON *item(const cJSON *arr, const char *name)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) if (str(it, "name") && !strcmp(str(it, "name"), name)) return it;
	return NULL;
}

/* DESIGN.md "Node health" as far as records tell it, and who drained what. */
static void test_node_monitoring_and_drained_by(void)
{
	cli_snap s;
	fixture(&s);
	cJSON *v = cli_view_nodes(&s, NULL);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(v, "items");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(items), 8); /* n1..n8: heartbeats, drain records, Swarm */
	CU_ASSERT_STRING_EQUAL(str(item(items, "n1"), "monitor"), "monitored");
	CU_ASSERT_STRING_EQUAL(str(item(items, "n2"), "monitor"), "unmonitored"); /* stop mark */
	CU_ASSERT_STRING_EQUAL(str(item(items, "n2"), "agent"), "stopped");
	CU_ASSERT_STRING_EQUAL(str(item(items, "n3"), "monitor"), "dead");        /* drain controller's judgement */
	CU_ASSERT_STRING_EQUAL(str(item(items, "n3"), "drained_by"), "swarmheal");
	CU_ASSERT_STRING_EQUAL(str(item(items, "n4"), "engine"), "slow");
	CU_ASSERT_STRING_EQUAL(str(item(items, "n4"), "monitor"), "monitored");   /* slow is not death */
	CU_ASSERT_STRING_EQUAL(str(item(items, "n5"), "monitor"), "dead");        /* engine down, first hand */
	CU_ASSERT_STRING_EQUAL(str(item(items, "n6"), "agent"), "unreadable");    /* never read as gone */
	CU_ASSERT_STRING_EQUAL(str(item(items, "n6"), "monitor"), "monitored");
	CU_ASSERT_STRING_EQUAL(str(item(items, "n7"), "drain_state"), "unreadable");
	CU_ASSERT_STRING_EQUAL(str(item(items, "n7"), "drained_by"), "swarmheal"); /* unreadable counts as ours */
	CU_ASSERT_STRING_EQUAL(str(item(items, "n8"), "monitor"), "unmonitored"); /* no agent */
	CU_ASSERT_STRING_EQUAL(str(item(items, "n8"), "drained_by"), "person");
	cJSON_Delete(v);
	cli_snap_release(&s);
}

/* --fail-on-degraded's list: read-only mode, no leader, unmonitored nodes, a paused rollback, a cert past renewal. */
static void test_status_needs_person(void)
{
	cli_snap s;
	fixture(&s);
	cJSON *v = cli_view_status(&s, NULL, 10);
	CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "degraded")));
	char *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(v, "needs_person"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "{\"what\":\"controller\",\"name\":\"certs\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "{\"what\":\"node\",\"name\":\"n2\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "{\"what\":\"node\",\"name\":\"n8\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "{\"what\":\"service\",\"name\":\"svc1\""));
	CU_ASSERT_PTR_NULL(strstr(t, "\"name\":\"svc2\"")); /* rolling back by itself: no person needed */
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "{\"what\":\"cert\",\"name\":\"api\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "{\"what\":\"cert\",\"name\":\"bad\""));
	CU_ASSERT_PTR_NULL(strstr(t, "\"name\":\"web\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "{\"what\":\"etcd\",\"name\":\"http://10.0.0.6:2379\""));
	CU_ASSERT_PTR_NULL(strstr(t, "\"what\":\"arbiter\"")); /* single-zone is the arbiter doing its job */
	free(t);
	cJSON_Delete(v);
	/* a read-only mode, and an unreadable one, need a person; all well otherwise */
	free(s.arbiter.value);
	s.arbiter.value = strdup("{\"mode\":\"read-only");
	s.arbiter.value_len = strlen(s.arbiter.value);
	v = cli_view_status(&s, NULL, 10);
	const cJSON *arb = cJSON_GetObjectItemCaseSensitive(v, "arbiter");
	CU_ASSERT_STRING_EQUAL(str(arb, "mode"), "read-only");
	CU_ASSERT_STRING_EQUAL(str(arb, "record"), "unreadable");
	t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(v, "needs_person"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"what\":\"arbiter\""));
	free(t);
	cJSON_Delete(v);
	cli_snap_release(&s);
	cli_snap empty = {.now_ns = NOW, .prefix = P, .controllers = ""};
	v = cli_view_status(&empty, NULL, 10);
	CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(v, "degraded")));
	cJSON_Delete(v);
}

static void test_filters(void)
{
	cli_snap s;
	fixture(&s);
	cli_filter f = {.zone = "a"};
	cJSON *v = cli_view_nodes(&s, &f);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "items")), 2); /* n1, n4 */
	cJSON_Delete(v);
	f = (cli_filter){.selector = "monitor=dead,drain_state!=draining"};
	v = cli_view_nodes(&s, &f);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(v, "items");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(items), 1);
	CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(items, 0), "name"), "n3");
	cJSON_Delete(v);
	char err[200];
	f = (cli_filter){.selector = "monitor"};
	CU_ASSERT_EQUAL(cli_filter_check(&f, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "malformed --selector term 'monitor'"));
	f = (cli_filter){.selector = "!=x"};
	CU_ASSERT_EQUAL(cli_filter_check(&f, err, sizeof(err)), -1);
	cli_snap_release(&s);
}

static void test_jsonpath(void)
{
	cJSON *v = cJSON_Parse(
		"{\"items\":[{\"name\":\"a\",\"n\":1,\"o\":{\"x\":true}},{\"name\":\"b\",\"n\":2.5,\"o\":null}]}");
	char *buf = NULL, err[200];
	size_t len = 0;
	const struct {
		const char *expr, *want;
	} cases[] = {
		{"{.items[*].name}", "a b\n"},
		{".items[1].n", "2.5\n"},
		{"{.items[-1].name}", "b\n"},
		{"{.items[0].o}", "{\"x\":true}\n"},
		{"{.items[*].o.x}", "true\n"},
		{"{.items[0].name}{\"\\t\"}{.items[1].name}\\n", "a\tb\n"},
		{"names: {.items[*].name}\\n", "names: a b\n"},
		{"{.missing}", "\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = open_memstream(&buf, &len);
		CU_ASSERT_EQUAL(cli_jsonpath(v, cases[i].expr, f, err, sizeof(err)), 0);
		fclose(f);
		if (strcmp(buf, cases[i].want))
			fprintf(stderr, "\njsonpath %s: got '%s' want '%s'\n", cases[i].expr, buf, cases[i].want);
		CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
		free(buf);
	}
	const char *bad[] = {"{.items[x]}", "{items}", "{.items[0}", "{.a"};
	for (size_t i = 0; i < 4; i++) {
		FILE *f = open_memstream(&buf, &len);
		CU_ASSERT_EQUAL(cli_jsonpath(v, bad[i], f, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "jsonpath:"));
		fclose(f);
		free(buf);
	}
	cJSON_Delete(v);
}

/* Strings a YAML 1.1 reader would take for numbers, booleans, nulls or timestamps come out quoted. */
static void test_yaml_quoting(void)
{
	cJSON *v = cJSON_Parse(
		"{\"a\":\"yes\",\"b\":\"10.0.0.1\",\"c\":\"2026-11-29T12:00:00Z\",\"d\":\"\",\"e\":\"null\","
		"\"f\":\"plain words\",\"g\":\"- dash: colon\",\"h\":\"-1\",\"i\":7,\"j\":false,\"k\":null,"
		"\"l\":[],\"m\":{}}");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_EQUAL(cli_emit_yaml(v, f), 0);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "a: \"yes\"\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "b: \"10.0.0.1\"\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "c: \"2026-11-29T12:00:00Z\"\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "f: plain words\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "i: 7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "k: null\n"));
	/* and Python's YAML reader gets the JSON document back */
	char path[128];
	snprintf(path, sizeof(path), "/tmp/test_cli_yaml.%d", (int)getpid());
	FILE *o = fopen(path, "w");
	fputs(buf, o);
	fclose(o);
	char *j = cJSON_PrintUnformatted(v);
	CU_ASSERT_EQUAL(t_sh("/usr/bin/python3 -c 'import json,sys,yaml; sys.exit(yaml.safe_load(open(\"%s\")) != "
			     "json.loads(sys.argv[1]))' '%s'",
			     path, j),
			0);
	unlink(path);
	free(j);
	free(buf);
	cJSON_Delete(v);
}

static void test_election_views(void)
{
	cli_snap s;
	fixture(&s);
	rec_election_view v[4];
	CU_ASSERT_EQUAL(rec_election_views(P, s.elections.kvs, s.elections.n, v, 4), 2);
	CU_ASSERT_STRING_EQUAL(v[0].name, "controller.drain");
	CU_ASSERT_STRING_EQUAL(v[0].leader, "mgr-1:4242"); /* lowest create_revision, whatever the key order */
	CU_ASSERT_EQUAL(v[0].fence, 5);
	CU_ASSERT_EQUAL(v[0].lease, INT64_C(0x694d7e1a2b3c4d5e));
	CU_ASSERT_EQUAL(v[0].candidates, 2);
	CU_ASSERT_EQUAL(v[0].nstandbys, 1);
	CU_ASSERT_STRING_EQUAL(v[0].standbys[0], "mgr-2:977");
	CU_ASSERT_STRING_EQUAL(v[1].name, "nightly-backup");
	/* only max filled, the count still told; keys of another shape skipped */
	CU_ASSERT_EQUAL(rec_election_views(P, s.elections.kvs, s.elections.n, v, 1), 2);
	etcd_kv odd[2] = {{.key = P "/elections/lonely", .key_len = strlen(P "/elections/lonely")},
			  {.key = P "/elections/x/", .key_len = strlen(P "/elections/x/")}};
	CU_ASSERT_EQUAL(rec_election_views(P, odd, 2, v, 4), 0);
	char *j = rec_election_view_encode(&v[0]);
	rec_election_view back;
	char why[100];
	CU_ASSERT_EQUAL(rec_election_view_parse(j, strlen(j), &back, why, sizeof(why)), SH_OK);
	CU_ASSERT_STRING_EQUAL(back.leader, "mgr-1:4242");
	CU_ASSERT_EQUAL(back.lease, v[0].lease);
	free(j);
	CU_ASSERT_EQUAL(rec_election_view_parse("{\"name\":\"x\",\"candidates\":1,\"lease\":\"zz\"}", 41, &back, why,
						sizeof(why)),
			SH_E_MALFORMED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "lease"));
	cli_snap_release(&s);
}

static void test_age_and_output_names(void)
{
	char b[32];
	cli_age(45 * SH_NS_PER_S, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "45s");
	cli_age(192 * SH_NS_PER_S, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "3m12s");
	cli_age(5 * 3600 * SH_NS_PER_S, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "5h");
	cli_age(12 * 86400 * SH_NS_PER_S, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "12d");
	enum cli_fmt f;
	const char *jp = NULL;
	CU_ASSERT_EQUAL(cli_parse_output("wide", &f, &jp), 0);
	CU_ASSERT_EQUAL(f, CLI_WIDE);
	CU_ASSERT_EQUAL(cli_parse_output("jsonpath={.a}", &f, &jp), 0);
	CU_ASSERT_STRING_EQUAL(jp, "{.a}");
	CU_ASSERT_EQUAL(cli_parse_output("jsonpath=", &f, &jp), -1);
	CU_ASSERT_EQUAL(cli_parse_output("xml", &f, &jp), -1);
}


/* The min-available gate: the drain controller's own decision, from records and the engine's view. */
static void test_gate(void)
{
	cli_snap s = {.now_ns = NOW, .prefix = P, .controllers = "drain"};
	sh_parse_rfc3339("2026-11-29T12:00:00Z", &NOW);
	s.now_ns = NOW;
	const char *ids[] = {"na", "nb", "nc", "nd"};
	s.have_swarm = 1;
	s.swarm.n = 4;
	s.swarm.v = calloc(4, sizeof(dock_node));
	for (int i = 0; i < 4; i++) {
		char key[64];
		snprintf(s.swarm.v[i].id, sizeof(s.swarm.v[i].id), "%s", ids[i]);
		snprintf(s.swarm.v[i].hostname, sizeof(s.swarm.v[i].hostname), "host-%s", ids[i]);
		snprintf(s.swarm.v[i].state, sizeof(s.swarm.v[i].state), "ready");
		snprintf(s.swarm.v[i].availability, sizeof(s.swarm.v[i].availability), "active");
		snprintf(key, sizeof(key), P "/nodes/%s", ids[i]);
		add_free(&s.nodes, key, hb(ids[i], "h", "a", REC_ENGINE_UP, 0, 1), 10 + i);
	}
	const char *api_tasks[] = {"na", "nb"}, *web_tasks[] = {"na", "nc"};
	drain_service svcs[] = {
		{.name = "web", .min_available = "50%", .replicas = 2, .task_nodes = web_tasks, .ntasks = 2},
		{.name = "api", .min_available = "2", .replicas = 2, .task_nodes = api_tasks, .ntasks = 2}};
	char why[400];
	CU_ASSERT_EQUAL(cli_gate_decide(&s, svcs, 1, "na", 1, why, sizeof(why)), 1); /* web keeps 1 of 50% of 2 */
	CU_ASSERT_STRING_EQUAL(why, "every service keeps its swarmheal.min-available");
	CU_ASSERT_EQUAL(cli_gate_decide(&s, svcs, 2, "host-na", 1, why, sizeof(why)), 0); /* by hostname too */
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "service 'api' would keep 1 running tasks, below its min-available 2"));
	CU_ASSERT_EQUAL(cli_gate_decide(&s, svcs, 2, "nd", 1, why, sizeof(why)), 1); /* runs neither */
	CU_ASSERT_EQUAL(cli_gate_decide(&s, svcs, 2, "nx", 1, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "node 'nx' is not in the swarm");
	/* a person's drain: nothing to do */
	snprintf(s.swarm.v[3].availability, sizeof(s.swarm.v[3].availability), "drain");
	CU_ASSERT_EQUAL(cli_gate_decide(&s, svcs, 2, "nd", 1, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "already drained");
	/* read-only arbiter mode: refused */
	s.arbiter = (etcd_kv){.key = strdup(P "/arbiter/mode"), .value = strdup("{\"mode\":\"read-only\"}")};
	s.arbiter.value_len = strlen(s.arbiter.value);
	s.arbiter_present = 1;
	CU_ASSERT_EQUAL(cli_gate_decide(&s, svcs, 1, "na", 1, why, sizeof(why)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "read-only"));
	cli_snap_release(&s);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"views_golden_and_schema", test_views_golden_and_schema},
		{"node_monitoring_and_drained_by", test_node_monitoring_and_drained_by},
		{"status_needs_person", test_status_needs_person},
		{"filters", test_filters},
		{"jsonpath", test_jsonpath},
		{"yaml_quoting", test_yaml_quoting},
		{"election_views", test_election_views},
		{"age_and_output_names", test_age_and_output_names},
		{"gate", test_gate},
		{0},
	};
	return t_run("cli", cases, argc, argv);
}
