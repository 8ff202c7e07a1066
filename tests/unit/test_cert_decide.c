/* SPDX-License-Identifier: MIT */
/* test_cert_decide.c - renewal schedule with jitter, backoff capped before expiry, decisions, secret rotation plans */
#include <stdio.h>
#include <string.h>

#include "cert_decide.h"
#include "tmain.h"

#define S  INT64_C(1000000000)
#define H  (3600 * S)
#define T0 (INT64_C(1800000000) * S)

static const cert_policy pol = CERT_POLICY_DEFAULT;

static void test_renewal_two_thirds_with_jitter(void)
{
	int64_t life = 90 * 24 * H;
	/* jitter 0: exactly 2/3 */
	CU_ASSERT_EQUAL(cert_decide_renewal(T0, T0 + life, 0, 0), T0 + 60 * 24 * H);
	/* any jitter stays within [2/3, 2/3 + 1/20] of the lifetime */
	int64_t lo = T0 + life / 3 * 2, hi = T0 + life / 3 * 2 + life / 20;
	int distinct = 0;
	int64_t prev = 0;
	for (uint64_t seed = 0; seed < 1000; seed++) {
		uint64_t j = cert_jitter_of(
			(char[]){(char)('a' + seed % 26), (char)('a' + seed / 26 % 26), (char)('0' + seed / 676), 0});
		int64_t t = cert_decide_renewal(T0, T0 + life, 0, j);
		CU_ASSERT(t >= lo && t <= hi);
		distinct += t != prev;
		prev = t;
	}
	CU_ASSERT(distinct > 900); /* the jitter spreads renewals */
	CU_ASSERT_EQUAL(cert_decide_renewal(T0, T0 + life, 0, (uint64_t)(life / 20)), hi);
	CU_ASSERT_EQUAL(cert_decide_renewal(T0, T0 + life, 0, (uint64_t)(life / 20) + 1), lo);
	/* the same serial gives the same time on every replica */
	CU_ASSERT_EQUAL(cert_jitter_of("0a1b"), cert_jitter_of("0a1b"));
	CU_ASSERT_NOT_EQUAL(cert_jitter_of("0a1b"), cert_jitter_of("0a1c"));
	/* a lifetime of seconds */
	CU_ASSERT_EQUAL(cert_decide_renewal(T0, T0 + 30 * S, 0, 0), T0 + 20 * S);
	/* renew_before overrides, and never points before the start */
	CU_ASSERT_EQUAL(cert_decide_renewal(T0, T0 + life, 240 * H, 12345), T0 + life - 240 * H);
	CU_ASSERT_EQUAL(cert_decide_renewal(T0, T0 + 10 * S, 20 * S, 0), T0);
	/* nonsense validity: renew at once */
	CU_ASSERT_EQUAL(cert_decide_renewal(T0, T0, 0, 7), T0);
}

static void test_backoff_doubles_to_cap(void)
{
	/* no certificate to lose: 5 s, 10 s, 20 s ... 10 min */
	int64_t want[] = {5, 10, 20, 40, 80, 160, 320, 600, 600, 600};
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(cert_decide_retry(&pol, i + 1, T0, 0) - T0, want[i] * S);
	CU_ASSERT_EQUAL(cert_decide_retry(&pol, 1000000, T0, 0) - T0, 600 * S);
	/* far from expiry the cap does not bite */
	CU_ASSERT_EQUAL(cert_decide_retry(&pol, 8, T0, T0 + 30 * 24 * H) - T0, 600 * S);
}

static void test_backoff_capped_before_expiry(void)
{
	/* 30 s left: the 7th failure would wait 320 s, past expiry; it waits half the time to the deadline */
	int64_t na = T0 + 30 * S;
	CU_ASSERT_EQUAL(cert_decide_retry(&pol, 7, T0, na) - T0, 14 * S); /* (30 - 2 lead) / 2 */
	CU_ASSERT_EQUAL(cert_decide_retry(&pol, 1, T0, na) - T0, 5 * S);  /* short backoffs unchanged */
	/* simulate failures until expiry: every retry lands before the deadline, several of them */
	int64_t now = T0, failures = 7, attempts = 0;
	na = T0 + 10 * 60 * S;
	while (now < na - pol.lead_ns) {
		int64_t next = cert_decide_retry(&pol, failures++, now, na);
		CU_ASSERT(next > now);
		CU_ASSERT(next <= na - pol.lead_ns);
		now = next;
		attempts++;
		if (attempts > 100)
			break;
	}
	CU_ASSERT(attempts >= 5 && attempts <= 100);
	/* past the deadline: the plain backoff again (nothing left to save) */
	CU_ASSERT_EQUAL(cert_decide_retry(&pol, 3, na, na) - na, 20 * S);
	CU_ASSERT_EQUAL(cert_decide_retry(&pol, 10, na + H, na) - (na + H), 600 * S);
}

static rec_cert_spec spec(void)
{
	rec_cert_spec s;
	memset(&s, 0, sizeof(s));
	snprintf(s.common_name, sizeof(s.common_name), "api");
	snprintf(s.dns_names[0], sizeof(s.dns_names[0]), "api");
	s.n_dns = 1;
	s.duration_ns = 30 * H;
	s.has_files = 1;
	return s;
}

static rec_cert_status issued(void)
{
	rec_cert_status st;
	memset(&st, 0, sizeof(st));
	snprintf(st.serial, sizeof(st.serial), "4a5b");
	st.not_before_ns = T0;
	st.not_after_ns = T0 + 30 * H;
	snprintf(st.spec_digest, sizeof(st.spec_digest), "d1");
	return st;
}

static void test_decide_rules(void)
{
	rec_cert_spec sp = spec();
	rec_cert_status st = issued();
	cert_observed o = {.spec = &sp, .spec_digest = "d1", .status = &st, .files_fault = CERT_OK};
	cert_decision d;
	int64_t renew = cert_decide_renewal(T0, T0 + 30 * H, 0, cert_jitter_of("4a5b"));
	/* all well: wait, and look again within recheck */
	cert_decide(&o, &pol, T0 + H, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_WAIT);
	CU_ASSERT_EQUAL(d.renew_at_ns, renew);
	CU_ASSERT_EQUAL(d.next_check_ns, T0 + H + pol.recheck_ns);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "certificate 4a5b valid until "));
	/* just before the renewal time the next check is the renewal time itself */
	cert_decide(&o, &pol, renew - S, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_WAIT);
	CU_ASSERT_EQUAL(d.next_check_ns, renew);
	/* the renewal time has come */
	cert_decide(&o, &pol, renew, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "renewal due at "));
	/* a machine suspended for a day: on waking the wall clock says expired, issue at once */
	cert_decide(&o, &pol, T0 + 31 * H, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "expired at "));
	/* files broken on disk */
	o.files_fault = CERT_F_CHAIN_INCOMPLETE;
	o.files_why = "chain lacks intermediate 'CN=i'";
	cert_decide(&o, &pol, T0 + H, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	CU_ASSERT_STRING_EQUAL(d.reason, "files need repair (CHAIN_INCOMPLETE): chain lacks intermediate 'CN=i'");
	/* RENEW_DUE from the files check is the schedule's business, not a repair */
	o.files_fault = CERT_F_RENEW_DUE;
	cert_decide(&o, &pol, T0 + H, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_WAIT);
	o.files_fault = CERT_OK;
	/* secrets behind */
	sp.has_secret = 1;
	snprintf(sp.secret.name, sizeof(sp.secret.name), "api-tls");
	cert_decide(&o, &pol, T0 + H, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "secrets 'api-tls' do not hold certificate 4a5b"));
	o.secret_current = 1;
	cert_decide(&o, &pol, T0 + H, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_WAIT);
	/* the spec changed */
	o.spec_digest = "d2";
	cert_decide(&o, &pol, T0 + H, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "spec changed"));
	o.spec_digest = "d1";
	/* no status yet, or one without a certificate */
	o.status = NULL;
	cert_decide(&o, &pol, T0, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	CU_ASSERT_STRING_EQUAL(d.reason, "no certificate issued yet");
	rec_cert_status empty;
	memset(&empty, 0, sizeof(empty));
	o.status = &empty;
	cert_decide(&o, &pol, T0, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	/* malformed spec: report only */
	cert_observed bad = {.spec_error = "field 'duration' is missing"};
	cert_decide(&bad, &pol, T0, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_REPORT);
	CU_ASSERT_STRING_EQUAL(d.reason, "spec is malformed: field 'duration' is missing");
	CU_ASSERT_EQUAL(d.next_check_ns, 0);
}

static void test_decide_backoff_and_status(void)
{
	rec_cert_spec sp = spec();
	rec_cert_status st = issued();
	cert_observed o = {.spec = &sp, .spec_digest = "d1", .status = &st};
	int64_t now = T0 + 29 * H; /* past the renewal time */
	cert_decision d;
	cert_decide(&o, &pol, now, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	cert_status_failed(&st, &pol, now, "CA key '/k' does not match");
	CU_ASSERT_EQUAL(st.failures, 1);
	CU_ASSERT_EQUAL(st.next_retry_ns, now + 5 * S);
	CU_ASSERT_STRING_EQUAL(st.last_error, "CA key '/k' does not match");
	CU_ASSERT_STRING_EQUAL(st.serial, "4a5b"); /* the old certificate is still the one in use */
	cert_decide(&o, &pol, now + S, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_WAIT);
	CU_ASSERT_EQUAL(d.next_check_ns, now + 5 * S);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "backing off after 1 failed attempts"));
	cert_decide(&o, &pol, now + 5 * S, &d);
	CU_ASSERT_EQUAL(d.act, CERT_ACT_ISSUE);
	for (int i = 0; i < 20; i++)
		cert_status_failed(&st, &pol, now, "again");
	/* 21 failures, one hour before expiry: the wait is capped well before it */
	CU_ASSERT(st.next_retry_ns <= now + 600 * S);
	cert_status_failed(&st, &pol, st.not_after_ns - 10 * S, "again");
	CU_ASSERT(st.next_retry_ns <= st.not_after_ns - pol.lead_ns);
	/* success resets */
	cert_info info = {.serial = "77", .not_before_ns = now, .not_after_ns = now + 30 * H};
	cert_status_succeeded(&st, &info, &sp, "d3", now);
	CU_ASSERT_EQUAL(st.failures, 0);
	CU_ASSERT_EQUAL(st.next_retry_ns, 0);
	CU_ASSERT_STRING_EQUAL(st.last_error, "");
	CU_ASSERT_STRING_EQUAL(st.serial, "77");
	CU_ASSERT_STRING_EQUAL(st.spec_digest, "d3");
	CU_ASSERT_EQUAL(st.renewed_at_ns, now);
	CU_ASSERT_EQUAL(st.next_renewal_ns, cert_decide_renewal(now, now + 30 * H, 0, cert_jitter_of("77")));
}

static const char *const parts[] = {"cert", "chain", "key"};

static void test_secret_names(void)
{
	size_t p;
	int64_t v;
	CU_ASSERT_TRUE(cert_secret_parse_name("api-tls.chain.v12", "api-tls", parts, 3, &p, &v));
	CU_ASSERT_EQUAL(p, 1);
	CU_ASSERT_EQUAL(v, 12);
	CU_ASSERT_FALSE(cert_secret_parse_name("api-tls.chain.v", "api-tls", parts, 3, &p, &v));
	CU_ASSERT_FALSE(cert_secret_parse_name("api-tls.chain.v0", "api-tls", parts, 3, &p, &v));
	CU_ASSERT_FALSE(cert_secret_parse_name("api-tls.chain.v01", "api-tls", parts, 3, &p, &v));
	CU_ASSERT_FALSE(cert_secret_parse_name("api-tls.chain.v1x", "api-tls", parts, 3, &p, &v));
	CU_ASSERT_FALSE(cert_secret_parse_name("api-tls2.cert.v1", "api-tls", parts, 3, &p, &v));
	CU_ASSERT_FALSE(cert_secret_parse_name("api-tls.ca.v1", "api-tls", parts, 3, &p, &v));
	CU_ASSERT_FALSE(cert_secret_parse_name("api-tls.cert", "api-tls", parts, 3, &p, &v));
	CU_ASSERT_FALSE(cert_secret_parse_name(NULL, "api-tls", parts, 3, &p, &v));
}

static void test_rotation_plan(void)
{
	cert_secret secrets[] = {
		{"api-tls.cert.v1", "i1", "aa"},       {"api-tls.chain.v1", "i2", "aa"}, {"api-tls.key.v1", "i3", "aa"},
		{"api-tls.cert.v2", "i4", "bb"},       {"api-tls.chain.v2", "i5", "bb"}, {"api-tls.key.v2", "i6", "bb"},
		{"api-tls-other.cert.v9", "i7", "cc"}, /* another spec's: never touched */
	};
	/* api uses v2 at its own targets; legacy still mounts v1's cert only; web is wanted but has none; db is
	 * unrelated */
	cert_secret_ref api_refs[] = {{"api-tls.cert.v2", "tls/cert.pem"},
				      {"api-tls.chain.v2", "tls/chain.pem"},
				      {"api-tls.key.v2", "tls/key.pem"},
				      {"db-password", "db"}};
	cert_secret_ref legacy_refs[] = {{"api-tls.cert.v1", "cert.pem"}};
	cert_secret_ref db_refs[] = {{"api-tls-other.cert.v9", "x"}};
	cert_service services[] = {{"s1", "api", api_refs, 4},
				   {"s2", "legacy", legacy_refs, 1},
				   {"s3", "web", NULL, 0},
				   {"s4", "db", db_refs, 1}};
	char wanted[2][REC_CERT_NAME_LEN] = {"api", "web"};
	cert_rot_in in = {.base = "api-tls",
			  .parts = parts,
			  .nparts = 3,
			  .secrets = secrets,
			  .nsecrets = 7,
			  .services = services,
			  .nservices = 4,
			  .wanted = wanted,
			  .nwanted = 2,
			  .serial = "dd"};
	cert_rot_plan p;
	CU_ASSERT_EQUAL_FATAL(cert_rot_plan_make(&in, &p), 0);
	CU_ASSERT_EQUAL(p.version, 3);
	CU_ASSERT_TRUE(p.create);
	CU_ASSERT_STRING_EQUAL(p.names[0], "api-tls.cert.v3");
	CU_ASSERT_STRING_EQUAL(p.names[1], "api-tls.chain.v3");
	CU_ASSERT_STRING_EQUAL(p.names[2], "api-tls.key.v3");
	CU_ASSERT_STRING_EQUAL(p.missing, "");
	CU_ASSERT_EQUAL_FATAL(p.nupdates, 3);
	/* api: one update, each old reference out and the new one in at the same target */
	CU_ASSERT_EQUAL(p.updates[0].service, 0);
	CU_ASSERT_EQUAL_FATAL(p.updates[0].nswaps, 3);
	CU_ASSERT_STRING_EQUAL(p.updates[0].swaps[0].old_name, "api-tls.cert.v2");
	CU_ASSERT_STRING_EQUAL(p.updates[0].swaps[0].target, "tls/cert.pem");
	CU_ASSERT_TRUE(p.updates[0].swaps[0].add);
	CU_ASSERT_EQUAL(p.updates[0].swaps[2].part, 2);
	CU_ASSERT_STRING_EQUAL(p.updates[0].swaps[2].target, "tls/key.pem");
	/* legacy: only the part it mounts */
	CU_ASSERT_EQUAL(p.updates[1].service, 1);
	CU_ASSERT_EQUAL_FATAL(p.updates[1].nswaps, 1);
	CU_ASSERT_STRING_EQUAL(p.updates[1].swaps[0].old_name, "api-tls.cert.v1");
	CU_ASSERT_STRING_EQUAL(p.updates[1].swaps[0].target, "cert.pem");
	/* web: every part added at the default target */
	CU_ASSERT_EQUAL(p.updates[2].service, 2);
	CU_ASSERT_EQUAL_FATAL(p.updates[2].nswaps, 3);
	CU_ASSERT_STRING_EQUAL(p.updates[2].swaps[1].old_name, "");
	CU_ASSERT_STRING_EQUAL(p.updates[2].swaps[1].target, "api-tls.chain");
	/* every old version goes, the other spec's secret stays */
	CU_ASSERT_EQUAL(p.nremove, 6);
	for (size_t i = 0; i < p.nremove; i++)
		CU_ASSERT_PTR_NULL(strstr(p.remove[i], "other"));

	/* resumed after a crash: v3 exists with our serial, api already moved, legacy not yet */
	cert_secret secrets2[] = {
		{"api-tls.cert.v2", "i4", "bb"}, {"api-tls.chain.v2", "i5", "bb"}, {"api-tls.key.v2", "i6", "bb"},
		{"api-tls.cert.v3", "i8", "dd"}, {"api-tls.chain.v3", "i9", "dd"}, {"api-tls.key.v3", "i10", "dd"},
	};
	cert_secret_ref api3[] = {{"api-tls.cert.v3", "tls/cert.pem"},
				  {"api-tls.chain.v3", "tls/chain.pem"},
				  {"api-tls.key.v3", "tls/key.pem"}};
	cert_secret_ref legacy2[] = {{"api-tls.cert.v2", "cert.pem"}};
	cert_service services2[] = {{"s1", "api", api3, 3}, {"s2", "legacy", legacy2, 1}};
	in.secrets = secrets2;
	in.nsecrets = 6;
	in.services = services2;
	in.nservices = 2;
	in.nwanted = 1;
	CU_ASSERT_EQUAL_FATAL(cert_rot_plan_make(&in, &p), 0);
	CU_ASSERT_EQUAL(p.version, 3);
	CU_ASSERT_FALSE(p.create);
	CU_ASSERT_EQUAL_FATAL(p.nupdates, 1);
	CU_ASSERT_EQUAL(p.updates[0].service, 1);
	CU_ASSERT_EQUAL(p.nremove, 3); /* v2: legacy's reference leaves in its update */
	/* the same, but v3 was left by a standby that died with another certificate: a new version */
	in.serial = "ee";
	CU_ASSERT_EQUAL_FATAL(cert_rot_plan_make(&in, &p), 0);
	CU_ASSERT_EQUAL(p.version, 4);
	CU_ASSERT_TRUE(p.create);
	CU_ASSERT_EQUAL(p.nupdates, 2);
	CU_ASSERT_EQUAL(p.nremove, 6); /* the orphaned v3 goes too */
	/* an incomplete v3 (the key was never created): not reused */
	in.serial = "dd";
	in.nsecrets = 5;
	CU_ASSERT_EQUAL_FATAL(cert_rot_plan_make(&in, &p), 0);
	CU_ASSERT_EQUAL(p.version, 4);
	/* a wanted service that does not exist is reported */
	char ghost[1][REC_CERT_NAME_LEN] = {"ghost"};
	in.wanted = ghost;
	in.nwanted = 1;
	CU_ASSERT_EQUAL_FATAL(cert_rot_plan_make(&in, &p), 0);
	CU_ASSERT_STRING_EQUAL(p.missing, "ghost");
}

static void test_rotation_first_and_double(void)
{
	/* first delivery: no secrets at all */
	cert_service services[] = {{"s1", "api", NULL, 0}};
	char wanted[1][REC_CERT_NAME_LEN] = {"api"};
	cert_rot_in in = {.base = "t",
			  .parts = parts,
			  .nparts = 3,
			  .services = services,
			  .nservices = 1,
			  .wanted = wanted,
			  .nwanted = 1,
			  .serial = "01"};
	cert_rot_plan p;
	CU_ASSERT_EQUAL_FATAL(cert_rot_plan_make(&in, &p), 0);
	CU_ASSERT_EQUAL(p.version, 1);
	CU_ASSERT_TRUE(p.create);
	CU_ASSERT_EQUAL(p.nupdates, 1);
	CU_ASSERT_EQUAL(p.nremove, 0);
	/* a service holding the new version and also an old copy of it: the old copy goes, nothing is added */
	cert_secret secrets[] = {
		{"t.cert.v1", "a", "01"}, {"t.cert.v2", "b", "02"}, {"t.chain.v2", "c", "02"}, {"t.key.v2", "d", "02"}};
	cert_secret_ref refs[] = {
		{"t.cert.v1", "old.pem"}, {"t.cert.v2", "c.pem"}, {"t.chain.v2", "ch.pem"}, {"t.key.v2", "k.pem"}};
	services[0].refs = refs;
	services[0].nrefs = 4;
	in.secrets = secrets;
	in.nsecrets = 4;
	in.serial = "02";
	CU_ASSERT_EQUAL_FATAL(cert_rot_plan_make(&in, &p), 0);
	CU_ASSERT_EQUAL(p.version, 2);
	CU_ASSERT_FALSE(p.create);
	CU_ASSERT_EQUAL_FATAL(p.nupdates, 1);
	CU_ASSERT_EQUAL_FATAL(p.updates[0].nswaps, 1);
	CU_ASSERT_FALSE(p.updates[0].swaps[0].add);
	CU_ASSERT_STRING_EQUAL(p.updates[0].swaps[0].old_name, "t.cert.v1");
	CU_ASSERT_EQUAL(p.nremove, 1);
	/* limits */
	in.nparts = 4;
	CU_ASSERT_EQUAL(cert_rot_plan_make(&in, &p), -1);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"renewal_two_thirds_with_jitter", test_renewal_two_thirds_with_jitter},
		{"backoff_doubles_to_cap", test_backoff_doubles_to_cap},
		{"backoff_capped_before_expiry", test_backoff_capped_before_expiry},
		{"decide_rules", test_decide_rules},
		{"decide_backoff_and_status", test_decide_backoff_and_status},
		{"secret_names", test_secret_names},
		{"rotation_plan", test_rotation_plan},
		{"rotation_first_and_double", test_rotation_first_and_double},
		{NULL, NULL},
	};
	return t_run("cert_decide", cases, argc, argv);
}
