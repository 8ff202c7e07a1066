/* SPDX-License-Identifier: MIT */
/* test_records.c - the records module: keys, round trips, and every malformed record read as malformed */
#include <string.h>

#include "rec.h"
#include "tmain.h"

static void test_keys(void)
{
	char k[64];
	CU_ASSERT_EQUAL(rec_drain_state_key(k, sizeof(k), "/swarmheal", "n1"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/swarmheal/drain/state/n1");
	CU_ASSERT_EQUAL(rec_drain_request_key(k, sizeof(k), "/p", "n1"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/p/drain/requests/n1");
	CU_ASSERT_EQUAL(rec_arbiter_mode_key(k, sizeof(k), "/p"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/p/arbiter/mode");
	CU_ASSERT_EQUAL(rec_action_key(k, sizeof(k), "/p", "drain", 5, "drain", "n1"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/p/actions/drain/0000000000000000005-drain-n1");
	CU_ASSERT_EQUAL(rec_rollback_snapshot_key(k, sizeof(k), "/p", "svc", 12), 0);
	CU_ASSERT_STRING_EQUAL(k, "/p/rollback/snapshots/svc/00000000000000000012");
	/* ids with '/' or empty, and keys that do not fit, are refused */
	CU_ASSERT_EQUAL(rec_drain_state_key(k, sizeof(k), "/p", "a/b"), -1);
	CU_ASSERT_EQUAL(rec_drain_state_key(k, sizeof(k), "/p", ""), -1);
	CU_ASSERT_EQUAL(rec_action_key(k, sizeof(k), "/p", "drain", 1, "drain", "x/y"), -1);
	CU_ASSERT_EQUAL(rec_drain_state_key(k, 10, "/swarmheal", "n1"), -1);
}

static void test_drain_state_round_trip(void)
{
	rec_drain_state a = {.state = "drained", .reason = "heartbeat \"gone\"", .since_ns = INT64_C(1700000000123000000),
			     .flaps = 3, .fence = 99, .monitor = "dead"};
	char *j = rec_drain_state_encode(&a);
	rec_drain_state b;
	char why[128];
	CU_ASSERT_EQUAL(rec_drain_state_parse(j, strlen(j), &b, why, sizeof(why)), SH_OK);
	CU_ASSERT_STRING_EQUAL(b.state, "drained");
	CU_ASSERT_STRING_EQUAL(b.reason, a.reason);
	CU_ASSERT_EQUAL(b.since_ns, a.since_ns);
	CU_ASSERT_EQUAL(b.flaps, 3);
	CU_ASSERT_EQUAL(b.fence, 99);
	CU_ASSERT_STRING_EQUAL(b.monitor, "dead");
	free(j);
}

static void expect_bad_state(const char *json, const char *why_part)
{
	rec_drain_state b;
	char why[128] = "";
	CU_ASSERT_EQUAL(rec_drain_state_parse(json, strlen(json), &b, why, sizeof(why)), SH_E_MALFORMED);
	if (!strstr(why, why_part))
		fprintf(stderr, "\n  %s: why '%s' lacks '%s'\n", json, why, why_part);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, why_part));
}

static void test_drain_state_malformed(void)
{
	expect_bad_state("{\"state\":\"drai", "not valid JSON");
	expect_bad_state("[1]", "not a JSON object");
	expect_bad_state("{}", "field 'state' is missing");
	expect_bad_state("{\"state\":7}", "field 'state' is not a string");
	expect_bad_state("{\"state\":\"gone\"}", "unknown value 'gone'");
	expect_bad_state("{\"state\":\"drained\",\"since\":\"yesterday\"}", "field 'since' is not an RFC 3339 time");
	expect_bad_state("{\"state\":\"drained\",\"flaps\":1.5}", "field 'flaps' is not an integer");
	expect_bad_state("{\"state\":\"drained\",\"flaps\":40}", "out of range");
	expect_bad_state("{\"state\":\"drained\",\"monitor\":\"maybe\"}", "unknown value 'maybe'");
}

/* the drain leader's challenge and the agent's answer: round trip, and every malformed case names its field */
static void test_drain_challenge(void)
{
	char k[64];
	CU_ASSERT_EQUAL(rec_drain_challenge_key(k, sizeof(k), "/p", "n1"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/p/drain/challenge/n1");
	rec_drain_challenge c = {.nonce = "00ff9a", .ts_ns = INT64_C(1795000000123000000)}, back;
	char *j = rec_drain_challenge_encode(&c), why[200] = "";
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_PTR_NULL(strstr(j, "answered"));
	CU_ASSERT_EQUAL(rec_drain_challenge_parse(j, strlen(j), &back, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(memcmp(&c, &back, sizeof(c)), 0);
	free(j);
	c.answered_ns = c.ts_ns + 4000000;
	j = rec_drain_challenge_encode(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(rec_drain_challenge_parse(j, strlen(j), &back, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(back.answered_ns, c.answered_ns);
	free(j);
	rec_drain_challenge e = {.nonce = "", .ts_ns = 1};
	CU_ASSERT_PTR_NULL(rec_drain_challenge_encode(&e));
	snprintf(e.nonce, sizeof(e.nonce), "ABC");
	CU_ASSERT_PTR_NULL(rec_drain_challenge_encode(&e));
	static const struct {
		const char *json, *why;
	} bad[] = {
		{"{\"nonce\":\"ab\"", "not valid JSON"},
		{"{\"ts\":\"2026-11-28T13:15:15Z\"}", "'nonce' is missing"},
		{"{\"nonce\":\"\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'nonce' is not"},
		{"{\"nonce\":\"xyz\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'nonce' is not"},
		{"{\"nonce\":\"0123456789abcdef0123456789abcdef0\",\"ts\":\"2026-11-28T13:15:15Z\"}", "'nonce' is not"},
		{"{\"nonce\":7,\"ts\":\"2026-11-28T13:15:15Z\"}", "'nonce'"},
		{"{\"nonce\":\"ab\"}", "'ts' is missing"},
		{"{\"nonce\":\"ab\",\"ts\":\"2026-11-28T13:15:15Z\",\"answered\":\"soon\"}", "'answered'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		why[0] = '\0';
		CU_ASSERT_EQUAL(rec_drain_challenge_parse(bad[i].json, strlen(bad[i].json), &back, why, sizeof(why)),
				SH_E_MALFORMED);
		if (!strstr(why, bad[i].why))
			fprintf(stderr, "\n  case %zu: '%s' (want '%s')\n", i, why, bad[i].why);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
	}
}

static void test_arbiter_mode_unreadable_is_read_only(void)
{
	rec_arbiter_mode m;
	char why[128];
	const char *trunc = "{\"mode\":\"read-only";
	CU_ASSERT_EQUAL(rec_arbiter_mode_parse(trunc, strlen(trunc), &m, why, sizeof(why)), SH_E_MALFORMED);
	CU_ASSERT_EQUAL(m.mode, REC_MODE_READ_ONLY);
	const char *unknown = "{\"mode\":\"relaxed\"}";
	CU_ASSERT_EQUAL(rec_arbiter_mode_parse(unknown, strlen(unknown), &m, why, sizeof(why)), SH_E_MALFORMED);
	CU_ASSERT_EQUAL(m.mode, REC_MODE_READ_ONLY);
	const char *zones = "{\"mode\":\"normal\",\"zones\":\"a\"}";
	CU_ASSERT_EQUAL(rec_arbiter_mode_parse(zones, strlen(zones), &m, why, sizeof(why)), SH_E_MALFORMED);
	CU_ASSERT_EQUAL(m.mode, REC_MODE_READ_ONLY);
	const char *ok = "{\"mode\":\"single-zone\",\"zones\":[\"a\",\"b\"],\"fence\":4}";
	CU_ASSERT_EQUAL(rec_arbiter_mode_parse(ok, strlen(ok), &m, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(m.mode, REC_MODE_SINGLE_ZONE);
	CU_ASSERT_EQUAL(m.nzones, 2);
	CU_ASSERT_STRING_EQUAL(m.zones[1], "b");
	CU_ASSERT_EQUAL(m.fence, 4);
}

static void test_action_round_trip_and_malformed(void)
{
	rec_action a = {.ts_ns = INT64_C(1700000000000000000), .controller = "drain", .kind = "refuse", .target = "n2",
			.reason = "partition", .result = "refused", .fence = 12, .details = "{\"dead\":4}"};
	char *j = rec_action_encode(&a);
	rec_action b;
	char why[128];
	CU_ASSERT_EQUAL(rec_action_parse(j, strlen(j), &b, why, sizeof(why)), SH_OK);
	CU_ASSERT_STRING_EQUAL(b.kind, "refuse");
	CU_ASSERT_STRING_EQUAL(b.details, "{\"dead\":4}");
	CU_ASSERT_EQUAL(b.fence, 12);
	CU_ASSERT_EQUAL(b.ts_ns, a.ts_ns);
	rec_action_free(&b);
	free(j);
	const char *nokind = "{\"ts\":\"2026-01-01T00:00:00Z\",\"controller\":\"d\",\"target\":\"t\",\"reason\":\"\",\"result\":\"ok\"}";
	CU_ASSERT_EQUAL(rec_action_parse(nokind, strlen(nokind), &b, why, sizeof(why)), SH_E_MALFORMED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "'kind' is missing"));
	CU_ASSERT_PTR_NULL(b.controller); /* nothing half-filled is left to leak */
}

static void test_snapshot_digest(void)
{
	rec_rollback_snapshot s = {.spec = "{\"Name\":\"web\"}", .ts_ns = INT64_C(1700000000000000000), .healthy = 1};
	rec_rollback_digest(s.spec, strlen(s.spec), s.sha256);
	/* echo -n '{"Name":"web"}' | sha256sum */
	CU_ASSERT_STRING_EQUAL(s.sha256, "29aed845d299926be1904e15265fb4649826885b91eba40e9a470d074fbe2743");
	char *j = rec_rollback_snapshot_encode(&s);
	rec_rollback_snapshot r;
	char why[128];
	CU_ASSERT_EQUAL(rec_rollback_snapshot_parse(j, strlen(j), &r, why, sizeof(why)), SH_OK);
	CU_ASSERT_TRUE(rec_rollback_snapshot_verify(&r));
	r.spec[2] = 'X'; /* tampered */
	CU_ASSERT_FALSE(rec_rollback_snapshot_verify(&r));
	rec_rollback_snapshot_free(&r);
	free(j);
}

static void test_rollback_state_round_trip_and_malformed(void)
{
	char k[128];
	CU_ASSERT_EQUAL(rec_rollback_state_key(k, sizeof(k), "/p", "svc1"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/p/rollback/state/svc1");
	CU_ASSERT_EQUAL(rec_rollback_state_key(k, sizeof(k), "/p", "a/b"), -1);
	rec_rollback_state a = {.state = "rolled-back", .update_ns = INT64_C(1700000000000000000), .fence = 4,
				.reason = "1 of 2 new tasks failed"};
	char d1[65], d2[65];
	rec_rollback_digest("a", 1, d1);
	rec_rollback_digest("b", 1, d2);
	snprintf(a.spec_sha256, 65, "%s", d1);
	snprintf(a.target_sha256, 65, "%s", d2);
	rec_rollback_state_add_bad(&a, d1);
	rec_rollback_state_add_bad(&a, d1); /* no repeats */
	CU_ASSERT_EQUAL(a.nbad, 1);
	for (int i = 0; i < REC_ROLLBACK_MAX_BAD + 2; i++) {
		char d[65], t[8];
		snprintf(t, sizeof(t), "x%d", i);
		rec_rollback_digest(t, strlen(t), d);
		rec_rollback_state_add_bad(&a, d);
	}
	CU_ASSERT_EQUAL(a.nbad, REC_ROLLBACK_MAX_BAD);
	CU_ASSERT_FALSE(rec_rollback_state_is_bad(&a, d1)); /* the oldest went first */
	rec_rollback_state_add_bad(&a, d1);
	char *j = rec_rollback_state_encode(&a);
	rec_rollback_state b;
	char why[128];
	CU_ASSERT_EQUAL(rec_rollback_state_parse(j, strlen(j), &b, why, sizeof(why)), SH_OK);
	CU_ASSERT_STRING_EQUAL(b.state, "rolled-back");
	CU_ASSERT_EQUAL(b.update_ns, a.update_ns);
	CU_ASSERT_STRING_EQUAL(b.target_sha256, d2);
	CU_ASSERT_EQUAL(b.nbad, REC_ROLLBACK_MAX_BAD);
	CU_ASSERT_TRUE(rec_rollback_state_is_bad(&b, d1));
	CU_ASSERT_STRING_EQUAL(b.bad[0], d1);
	free(j);
	const char *unk = "{\"state\":\"rolled-forward\"}";
	CU_ASSERT_EQUAL(rec_rollback_state_parse(unk, strlen(unk), &b, why, sizeof(why)), SH_E_MALFORMED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "unknown value"));
	const char *badd = "{\"state\":\"held\",\"bad\":[\"xyz\"]}";
	CU_ASSERT_EQUAL(rec_rollback_state_parse(badd, strlen(badd), &b, why, sizeof(why)), SH_E_MALFORMED);
	const char *nostate = "{\"bad\":[]}";
	CU_ASSERT_EQUAL(rec_rollback_state_parse(nostate, strlen(nostate), &b, why, sizeof(why)), SH_E_MALFORMED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "'state' is missing"));
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"keys", test_keys},
		{"drain_state_round_trip", test_drain_state_round_trip},
		{"drain_state_malformed", test_drain_state_malformed},
		{"drain_challenge", test_drain_challenge},
		{"arbiter_mode_unreadable_is_read_only", test_arbiter_mode_unreadable_is_read_only},
		{"action_round_trip_and_malformed", test_action_round_trip_and_malformed},
		{"snapshot_digest", test_snapshot_digest},
		{"rollback_state_round_trip_and_malformed", test_rollback_state_round_trip_and_malformed},
		{NULL, NULL},
	};
	return t_run("records", cases, argc, argv);
}
