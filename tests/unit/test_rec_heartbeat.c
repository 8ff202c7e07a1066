/* SPDX-License-Identifier: MIT */
/* test_rec_heartbeat.c - the heartbeat record: key, encode/parse round trip, every malformed case, JSON Schema */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec_heartbeat.h"
#include "tmain.h"
#include "tsupport.h"

#define S INT64_C(1000000000)

static rec_heartbeat full(void)
{
	rec_heartbeat h = {.engine = REC_ENGINE_SLOW, .runs_as = REC_RUNS_SWARM_TASK, .ts_ns = 1795000000 * S + 123000000,
			   .cert_not_after_ns = 1800000000 * S};
	snprintf(h.node_id, sizeof(h.node_id), "%s", "q0x1n4mbq7r0c2b1o5v5cpd9h");
	snprintf(h.hostname, sizeof(h.hostname), "%s", "worker-2");
	snprintf(h.zone, sizeof(h.zone), "%s", "b");
	snprintf(h.addr, sizeof(h.addr), "%s", "10.88.0.12");
	return h;
}

static void test_key(void)
{
	char k[64];
	CU_ASSERT_EQUAL(rec_heartbeat_key(k, sizeof(k), "/swarmheal", "abc"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/swarmheal/nodes/abc");
	CU_ASSERT_EQUAL(rec_heartbeat_key(k, sizeof(k), "/swarmheal", "a/b"), -1);
	CU_ASSERT_EQUAL(rec_heartbeat_key(k, sizeof(k), "/swarmheal", ""), -1);
	CU_ASSERT_EQUAL(rec_heartbeat_key(k, 10, "/swarmheal", "abc"), -1);
}

static void test_round_trip(void)
{
	for (int stopped = 0; stopped < 2; stopped++)
		for (int e = REC_ENGINE_UP; e <= REC_ENGINE_DOWN; e++)
			for (int r = REC_RUNS_UNKNOWN; r <= REC_RUNS_SWARM_TASK; r++) {
				rec_heartbeat h = full(), back;
				h.stopped = stopped;
				h.engine = (rec_engine)e;
				h.runs_as = (rec_runs_as)r;
				h.answers_challenge = r & 1;
				char *j = rec_heartbeat_encode(&h), why[200] = "";
				CU_ASSERT_PTR_NOT_NULL_FATAL(j);
				CU_ASSERT_EQUAL(rec_heartbeat_parse(j, strlen(j), &back, why, sizeof(why)), SH_OK);
				CU_ASSERT_EQUAL(memcmp(&h, &back, sizeof(h)), 0);
				free(j);
			}
	/* the stop mark without an engine */
	rec_heartbeat h = full(), back;
	h.stopped = 1;
	h.engine = REC_ENGINE_UNKNOWN;
	char *j = rec_heartbeat_encode(&h), why[200];
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"agent\":\"stopped\""));
	CU_ASSERT_EQUAL(rec_heartbeat_parse(j, strlen(j), &back, why, sizeof(why)), SH_OK);
	CU_ASSERT_TRUE(back.stopped);
	free(j);
	/* a running heartbeat needs an engine; out-of-range enums are refused */
	h = full();
	h.engine = REC_ENGINE_UNKNOWN;
	CU_ASSERT_PTR_NULL(rec_heartbeat_encode(&h));
	h = full();
	h.runs_as = (rec_runs_as)9;
	CU_ASSERT_PTR_NULL(rec_heartbeat_encode(&h));
}

/* what agents before this record wrote (no agent, no runs_as) still parses, as running */
static void test_older_agent(void)
{
	const char *old = "{\"node_id\":\"n1\",\"hostname\":\"h\",\"zone\":\"\",\"addr\":\"10.0.0.1\",\"engine\":\"down\","
			  "\"ts\":\"2026-11-28T13:15:15.123Z\",\"cert_not_after\":\"2027-02-26T13:00:00Z\"}";
	rec_heartbeat h;
	char why[200];
	CU_ASSERT_EQUAL_FATAL(rec_heartbeat_parse(old, strlen(old), &h, why, sizeof(why)), SH_OK);
	CU_ASSERT_FALSE(h.stopped);
	CU_ASSERT_EQUAL(h.engine, REC_ENGINE_DOWN);
	CU_ASSERT_EQUAL(h.runs_as, REC_RUNS_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(h.addr, "10.0.0.1");
	CU_ASSERT(h.cert_not_after_ns > h.ts_ns);
}

static void test_malformed(void)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
		{"", "not"},
		{"[1]", "object"},
		{"{\"agent\":\"running\",\"addr\":\"a\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'node_id'"},
		{"{\"node_id\":\"\",\"addr\":\"a\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'node_id' is empty"},
		{"{\"node_id\":7,\"addr\":\"a\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'node_id'"},
		{"{\"node_id\":\"n\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'addr'"},
		{"{\"node_id\":\"n\",\"addr\":\"\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'addr' is empty"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\"}", "'ts'"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"ts\":\"yesterday\"}", "'ts'"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'engine' is missing"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"sleepy\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'engine'"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":true,\"ts\":\"2026-11-28T13:15:15Z\"}", "'engine'"},
		{"{\"agent\":\"gone\",\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\"}",
		 "'agent'"},
		{"{\"agent\":1,\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'agent'"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"runs_as\":\"k8s\",\"ts\":\"2026-11-28T13:15:15Z\"}",
		 "'runs_as'"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"zone\":[],\"ts\":\"2026-11-28T13:15:15Z\"}", "'zone'"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"hostname\":5,\"ts\":\"2026-11-28T13:15:15Z\"}",
		 "'hostname'"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\","
		 "\"cert_not_after\":5}",
		 "'cert_not_after'"},
		{"{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\","
		 "\"answers_challenge\":\"yes\"}",
		 "'answers_challenge' is not true or false"},
		{"{\"node_id\":\"n\",\"addr\":\"0123456789012345678901234567890123456789012345678901234567890123456789\","
		 "\"engine\":\"up\",\"ts\":\"2026-11-28T13:15:15Z\"}",
		 "'addr' is longer"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		rec_heartbeat h;
		char why[200] = "";
		sh_err e = rec_heartbeat_parse(bad[i].json, strlen(bad[i].json), &h, why, sizeof(why));
		if (e != SH_E_MALFORMED || !strstr(why, bad[i].why))
			fprintf(stderr, "\n  case %zu: %s -> %s '%s' (want '%s')\n", i, bad[i].json, sh_errname(e), why,
				bad[i].why);
		CU_ASSERT_EQUAL(e, SH_E_MALFORMED);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
	}
}

/* Validate json against records/schema/heartbeat.json with python3-jsonschema; 0 valid, 1 invalid. */
static int schema_check(const char *json)
{
	const char *src = getenv("SWARMHEAL_SRC");
	char path[256];
	snprintf(path, sizeof(path), "/tmp/test_rec_heartbeat.%d.json", (int)getpid());
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(json, f);
	fclose(f);
	int rc = t_sh("python3 -c 'import json,sys,jsonschema\n"
		      "s=json.load(open(sys.argv[1])); d=json.load(open(sys.argv[2]))\n"
		      "jsonschema.Draft202012Validator.check_schema(s)\n"
		      "v=jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker())\n"
		      "errs=list(v.iter_errors(d))\n"
		      "[print(e.message, file=sys.stderr) for e in errs]\n"
		      "sys.exit(1 if errs else 0)' %s/records/schema/heartbeat.json %s",
		      src ? src : ".", path);
	unlink(path);
	return rc;
}

static void test_schema(void)
{
	if (t_sh("python3 -c 'import jsonschema' 2>/dev/null")) {
		CU_FAIL("python3-jsonschema missing");
		return;
	}
	for (int stopped = 0; stopped < 2; stopped++)
		for (int r = REC_RUNS_UNKNOWN; r <= REC_RUNS_SWARM_TASK; r++) {
			rec_heartbeat h = full();
			h.stopped = stopped;
			h.runs_as = (rec_runs_as)r;
			h.engine = stopped ? REC_ENGINE_UNKNOWN : (rec_engine)(1 + r % 3);
			h.cert_not_after_ns = r % 2 ? 0 : h.cert_not_after_ns;
			char *j = rec_heartbeat_encode(&h);
			CU_ASSERT_PTR_NOT_NULL_FATAL(j);
			CU_ASSERT_EQUAL(schema_check(j), 0);
			free(j);
		}
	/* the schema does reject: a running heartbeat without engine, an unknown runs_as */
	CU_ASSERT_EQUAL(schema_check("{\"agent\":\"running\",\"node_id\":\"n\",\"addr\":\"a\",\"ts\":\"2026-11-28T13:15:15Z\"}"),
			1);
	CU_ASSERT_EQUAL(schema_check("{\"node_id\":\"n\",\"addr\":\"a\",\"ts\":\"2026-11-28T13:15:15Z\"}"), 1);
	CU_ASSERT_EQUAL(schema_check("{\"node_id\":\"n\",\"addr\":\"a\",\"engine\":\"up\",\"runs_as\":\"k8s\","
				     "\"ts\":\"2026-11-28T13:15:15Z\"}"),
			1);
	CU_ASSERT_EQUAL(schema_check("{\"agent\":\"stopped\",\"node_id\":\"n\",\"addr\":\"a\",\"ts\":\"2026-11-28T13:15:15Z\"}"),
			0);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"key", test_key},
		{"round_trip", test_round_trip},
		{"older_agent", test_older_agent},
		{"malformed", test_malformed},
		{"schema", test_schema},
		{NULL, NULL},
	};
	return t_run("rec_heartbeat", cases, argc, argv);
}
