/* SPDX-License-Identifier: MIT */
/* test_cert_sync.c - one spec reconciled again and again over simulated time: issue, wait, repair, renew, back off */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cert_files.h"
#include "cert_sync.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

#define S INT64_C(1000000000)
#define H (3600 * S)

static char dir[256], spec_json[2048];
static int64_t t0;
static const cert_env env = {.dock = NULL, .policy = CERT_POLICY_DEFAULT, .dry_run = 0};

static void put(const char *name, char *pem, mode_t mode)
{
	char p[512], why[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!pem || cert_write_atomic(p, pem, strlen(pem), mode, why, sizeof(why))) {
		fprintf(stderr, "cannot write '%s'\n", p);
		exit(1);
	}
	free(pem);
}

static void make_ca(void)
{
	char why[256] = "";
	EVP_PKEY *k = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *root = cert_ca_make("sync test root", k, NULL, NULL, t0 - H, 1000 * H, why, sizeof(why));
	if (!root) {
		fprintf(stderr, "make_ca: %s\n", why);
		exit(1);
	}
	put("ca.pem", cert_x509_pem(root), 0644);
	put("ca.key", cert_key_pem(k), 0600);
	X509_free(root);
	EVP_PKEY_free(k);
}

static char *file(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return t_read_file(p);
}

static void sync_at(int64_t now, const rec_cert_status *old, rec_cert_status *st, cert_sync_out *out,
		    cert_check_memo *memo)
{
	cert_sync(&env, spec_json, strlen(spec_json), old, memo, now, st, out);
	if (getenv("T_VERBOSE"))
		fprintf(stderr, "  act %d issued %d err %s: %s | last_error '%s'\n", out->decision.act, out->issued,
			sh_errname(out->err), out->decision.reason, st->last_error);
}

static void test_issue_wait_repair_renew(void)
{
	rec_cert_status st, next;
	cert_sync_out out;
	cert_check_memo memo;
	memset(&memo, 0, sizeof(memo));
	/* first: no certificate yet */
	sync_at(t0, NULL, &st, &out, &memo);
	CU_ASSERT_EQUAL_FATAL(out.err, SH_OK);
	CU_ASSERT_EQUAL(out.decision.act, CERT_ACT_ISSUE);
	CU_ASSERT_TRUE(out.issued);
	CU_ASSERT_TRUE(out.status_changed);
	CU_ASSERT_EQUAL(strlen(st.serial), 32);
	CU_ASSERT_EQUAL(st.renewed_at_ns, t0);
	CU_ASSERT_EQUAL(strlen(st.spec_digest), 64);
	CU_ASSERT(st.next_renewal_ns > t0 + 39 * 60 * S &&
		  st.next_renewal_ns < t0 + 45 * 60 * S); /* 2/3 of 1 h + jitter */
	CU_ASSERT_EQUAL(out.next_check_ns, t0 + env.policy.recheck_ns);
	char *c1 = file("out/cert.pem");
	CU_ASSERT_PTR_NOT_NULL(strstr(c1, "BEGIN CERTIFICATE"));
	/* then: nothing to do, nothing written */
	sync_at(t0 + S, &st, &next, &out, &memo);
	CU_ASSERT_EQUAL(out.decision.act, CERT_ACT_WAIT);
	CU_ASSERT_FALSE(out.issued);
	CU_ASSERT_FALSE(out.status_changed);
	char *c2 = file("out/cert.pem");
	CU_ASSERT_STRING_EQUAL(c1, c2);
	free(c2);
	/* a key replaced by hand: repaired with a new certificate */
	char p[512], why[256];
	EVP_PKEY *k = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	char *kp = cert_key_pem(k);
	snprintf(p, sizeof(p), "%s/out/key.pem", dir);
	CU_ASSERT_EQUAL(cert_write_atomic(p, kp, strlen(kp), 0600, NULL, 0), SH_OK);
	free(kp);
	EVP_PKEY_free(k);
	sync_at(t0 + 2 * S, &st, &next, &out, &memo);
	CU_ASSERT_EQUAL(out.decision.act, CERT_ACT_ISSUE);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.decision.reason, "files need repair (KEY_MISMATCH)"));
	CU_ASSERT_TRUE(out.issued);
	CU_ASSERT_STRING_NOT_EQUAL(next.serial, st.serial);
	st = next;
	/* a chain cut by hand (the chain file holds a certificate of another spec) */
	snprintf(p, sizeof(p), "%s/out/chain.pem", dir);
	CU_ASSERT_EQUAL(cert_write_atomic(p, c1, strlen(c1), 0644, NULL, 0), SH_OK);
	sync_at(t0 + 3 * S, &st, &next, &out, &memo);
	CU_ASSERT_TRUE(out.issued);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.decision.reason, "files need repair (CHAIN_INVALID)"));
	st = next;
	free(c1);
	/* the renewal time comes */
	int64_t at = st.next_renewal_ns;
	sync_at(at - S, &st, &next, &out, &memo);
	CU_ASSERT_EQUAL(out.decision.act, CERT_ACT_WAIT);
	CU_ASSERT_EQUAL(out.next_check_ns, at);
	sync_at(at, &st, &next, &out, &memo);
	CU_ASSERT_TRUE(out.issued);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.decision.reason, "renewal due at"));
	st = next;
	/* a machine suspended past expiry renews as soon as it looks */
	sync_at(st.not_after_ns + 3 * H, &st, &next, &out, &memo);
	CU_ASSERT_TRUE(out.issued);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.decision.reason, "expired at"));
	CU_ASSERT_EQUAL(next.failures, 0);
}

static void test_failure_backoff_and_malformed(void)
{
	rec_cert_status st, next;
	cert_sync_out out;
	int64_t now = t0 + 10 * H;
	sync_at(now, NULL, &st, &out, NULL);
	CU_ASSERT_TRUE_FATAL(out.issued);
	char *before = file("out/cert.pem");
	/* the CA key disappears; at the renewal time the attempt fails, the old files stay */
	char ca_key[512], moved[512];
	snprintf(ca_key, sizeof(ca_key), "%s/ca.key", dir);
	snprintf(moved, sizeof(moved), "%s/ca.key.away", dir);
	CU_ASSERT_EQUAL_FATAL(rename(ca_key, moved), 0);
	now = st.next_renewal_ns;
	sync_at(now, &st, &next, &out, NULL);
	CU_ASSERT_FALSE(out.issued);
	CU_ASSERT_EQUAL(out.err, SH_E_IO);
	CU_ASSERT_EQUAL(next.failures, 1);
	CU_ASSERT_EQUAL(next.next_retry_ns, now + 5 * S);
	CU_ASSERT_EQUAL(out.next_check_ns, now + 5 * S);
	CU_ASSERT_PTR_NOT_NULL(strstr(next.last_error, "CA key: cannot open '"));
	CU_ASSERT_STRING_EQUAL(next.serial, st.serial);
	CU_ASSERT_TRUE(out.status_changed);
	char *after = file("out/cert.pem");
	CU_ASSERT_STRING_EQUAL(before, after);
	free(after);
	st = next;
	/* within the backoff: wait, unchanged */
	sync_at(now + 2 * S, &st, &next, &out, NULL);
	CU_ASSERT_EQUAL(out.decision.act, CERT_ACT_WAIT);
	CU_ASSERT_FALSE(out.status_changed);
	CU_ASSERT_EQUAL(out.next_check_ns, now + 5 * S);
	/* the retry fails again: 10 s */
	sync_at(now + 5 * S, &st, &next, &out, NULL);
	CU_ASSERT_EQUAL(next.failures, 2);
	CU_ASSERT_EQUAL(next.next_retry_ns, now + 15 * S);
	st = next;
	/* the key comes back: the next retry succeeds and the failures reset */
	CU_ASSERT_EQUAL_FATAL(rename(moved, ca_key), 0);
	sync_at(now + 15 * S, &st, &next, &out, NULL);
	CU_ASSERT_TRUE(out.issued);
	CU_ASSERT_EQUAL(next.failures, 0);
	CU_ASSERT_STRING_EQUAL(next.last_error, "");
	st = next;
	/* dry run: decided, nothing done */
	cert_env dry = env;
	dry.dry_run = 1;
	cert_sync(&dry, spec_json, strlen(spec_json), &st, NULL, st.not_after_ns + S, &next, &out);
	CU_ASSERT_EQUAL(out.decision.act, CERT_ACT_ISSUE);
	CU_ASSERT_FALSE(out.issued);
	CU_ASSERT_FALSE(out.status_changed);
	/* a malformed spec: its error in the status, nothing else touched */
	after = file("out/cert.pem");
	const char *bad = "{\"common_name\":\"app\",\"dns_names\":[\"app\"],\"duration\":\"soon\"}";
	cert_sync(&env, bad, strlen(bad), &st, NULL, st.not_after_ns + S, &next, &out);
	CU_ASSERT_EQUAL(out.err, SH_E_MALFORMED);
	CU_ASSERT_EQUAL(out.decision.act, CERT_ACT_REPORT);
	CU_ASSERT_TRUE(out.status_changed);
	CU_ASSERT_STRING_EQUAL(next.last_error,
			       "spec is malformed: field 'duration' is not a positive duration: 'soon'");
	CU_ASSERT_STRING_EQUAL(next.serial, st.serial);
	char *still = file("out/cert.pem");
	CU_ASSERT_STRING_EQUAL(after, still);
	free(still);
	free(after);
	free(before);
	/* the spec changes (another name): a new certificate at once */
	char changed[2048];
	snprintf(changed, sizeof(changed), "%s", spec_json);
	char *dn = strstr(changed, "\"dns_names\":[\"app\"]");
	CU_ASSERT_PTR_NOT_NULL_FATAL(dn);
	memcpy(dn, "\"dns_names\":[\"apx\"]", 19);
	cert_sync(&env, changed, strlen(changed), &st, NULL, st.renewed_at_ns + S, &next, &out);
	CU_ASSERT_TRUE(out.issued);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.decision.reason, "spec changed"));
	/* a secret without an engine client: a clear failure */
	char sec[2048];
	snprintf(sec, sizeof(sec),
		 "{\"common_name\":\"app\",\"dns_names\":[\"app\"],\"duration\":\"1h\","
		 "\"ca\":{\"cert_file\":\"%s/ca.pem\",\"key_file\":\"%s/ca.key\"},\"secret\":{\"name\":\"app-tls\"}}",
		 dir, dir);
	cert_sync(&env, sec, strlen(sec), NULL, NULL, t0, &next, &out);
	CU_ASSERT_FALSE(out.issued);
	CU_ASSERT_PTR_NOT_NULL(strstr(next.last_error, "needs the Engine API"));
}

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/test_cert_sync.%d", (int)getpid());
	t_sh("rm -rf %s; mkdir -p %s/out", dir, dir);
	t0 = sh_real_ns();
	make_ca();
	snprintf(
		spec_json, sizeof(spec_json),
		"{\"common_name\":\"app\",\"dns_names\":[\"app\"],\"ip_addresses\":[\"127.0.0.1\"],\"duration\":\"1h\","
		"\"ca\":{\"cert_file\":\"%s/ca.pem\",\"key_file\":\"%s/ca.key\"},"
		"\"files\":{\"cert\":\"%s/out/cert.pem\",\"chain\":\"%s/out/chain.pem\",\"key\":\"%s/out/key.pem\"}}",
		dir, dir, dir, dir, dir);
	static const t_case cases[] = {
		{"issue_wait_repair_renew", test_issue_wait_repair_renew},
		{"failure_backoff_and_malformed", test_failure_backoff_and_malformed},
		{NULL, NULL},
	};
	int rc = t_run("cert_sync", cases, argc, argv);
	t_sh("rm -rf %s", dir);
	return rc;
}
