/* SPDX-License-Identifier: MIT */
/* test_certs_ctl.c - the certs controller on the runtime against real etcd: certificates of seconds renewed
 * again and again into files, a chain broken by hand repaired, a malformed spec reported without disturbing others */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert_files.h"
#include "cert_pki.h"
#include "certs_ctl.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

#define S INT64_C(1000000000)
static char dir[256], prefix[128];
static etcd_client *tc;

static void put_file(const char *name, char *pem, mode_t mode)
{
	char p[512], why[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!pem || cert_write_atomic(p, pem, strlen(pem), mode, why, sizeof(why))) {
		fprintf(stderr, "cannot write '%s'\n", p);
		exit(1);
	}
	free(pem);
}

static int status_of(const char *name, rec_cert_status *st)
{
	char k[300];
	rec_cert_status_key(k, sizeof(k), prefix, name);
	etcd_kv kv;
	if (etcd_get(tc, k, &kv, NULL))
		return 0;
	char why[200];
	int ok = rec_cert_status_parse(kv.value, kv.value_len, st, why, sizeof(why)) == SH_OK;
	etcd_kv_free(&kv);
	return ok;
}

/* wait until name's status has a serial other than `not` (and no error); copy it to out */
static int wait_serial(const char *name, const char *not, char *out, size_t len, long ms)
{
	for (int64_t end = sh_mono_ns() + ms * 1000000; sh_mono_ns() < end; usleep(50000)) {
		rec_cert_status st;
		if (status_of(name, &st) && st.serial[0] && strcmp(st.serial, not) && !st.last_error[0]) {
			snprintf(out, len, "%s", st.serial);
			return 1;
		}
	}
	return 0;
}

static void put_spec(const char *name, const char *json)
{
	char k[300];
	rec_cert_spec_key(k, sizeof(k), prefix, name);
	CU_ASSERT_EQUAL(etcd_put(tc, k, json, strlen(json), NULL, NULL, NULL), SH_OK);
}

static void test_renew_repair_malformed(void)
{
	snprintf(dir, sizeof(dir), "/tmp/swarmheal-certs-ctl-%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(prefix, sizeof(prefix), "%s", t_prefix("certs"));
	prefix[strlen(prefix) - 1] = '\0';
	int64_t now = sh_real_ns();
	char why[256] = "";
	EVP_PKEY *k = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *root = cert_ca_make("certs ctl test root", k, NULL, NULL, now - 3600 * S, 1000 * 3600 * S, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	put_file("ca.pem", cert_x509_pem(root), 0644);
	put_file("ca.key", cert_key_pem(k), 0600);
	X509_free(root);
	EVP_PKEY_free(k);

	static certs_opts co = {.recheck_ms = 1000, .swarm_warn_ms = 0};
	ctl_common common = {.prefix = prefix, .ttl_ms = 3000, .resync_ms = 500,
			     .actions_retention_ms = 7 * 24 * 3600 * 1000LL, .actions_max = 10000};
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	const ctl_def *defs[] = {&certs_def};
	void *cfgs[] = {&co};
	etcd_config ec = {.endpoints = t_endpoints()};
	dock_config dc = {.host = "unix:///nonexistent/docker.sock"};
	ctl_rt *rt;
	char err[200];
	CU_ASSERT_EQUAL_FATAL(ctl_start(defs, cfgs, 1, &common, &lock, &ec, &dc, &rt, err, sizeof(err)), SH_OK);

	char spec[2048];
	snprintf(spec, sizeof(spec),
		 "{\"common_name\":\"app.test\",\"dns_names\":[\"app.test\"],\"ip_addresses\":[\"127.0.0.1\"],"
		 "\"duration\":\"9s\",\"ca\":{\"cert_file\":\"%s/ca.pem\",\"key_file\":\"%s/ca.key\"},"
		 "\"files\":{\"cert\":\"%s/cert.pem\",\"key\":\"%s/key.pem\"}}",
		 dir, dir, dir, dir);
	put_spec("app", spec);
	put_spec("broken", "{\"common_name\":\"x\",\"duration\":");
	char s1[80] = "", s2[80] = "", s3[80] = "", s4[80] = "";
	int64_t t0 = sh_mono_ns();
	CU_ASSERT_TRUE_FATAL(wait_serial("app", "", s1, sizeof(s1), 10000));
	printf("\nfirst certificate issued %.2f s after its spec was written\n", (double)(sh_mono_ns() - t0) / 1e9);
	char kp[512];
	snprintf(kp, sizeof(kp), "%s/key.pem", dir);
	struct stat sb;
	CU_ASSERT_EQUAL(stat(kp, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	/* a 9 s certificate is renewed at 2/3 of its life (6 s + jitter of at most 0.45 s), again and again */
	t0 = sh_mono_ns();
	CU_ASSERT_TRUE(wait_serial("app", s1, s2, sizeof(s2), 12000));
	double r1 = (double)(sh_mono_ns() - t0) / 1e9;
	t0 = sh_mono_ns();
	CU_ASSERT_TRUE(wait_serial("app", s2, s3, sizeof(s3), 12000));
	printf("renewed after %.2f s and %.2f s (9 s certificates)\n", r1, (double)(sh_mono_ns() - t0) / 1e9);
	/* a chain broken by hand (the certificate replaced by garbage) is repaired within the recheck (1 s) */
	char cp[512];
	snprintf(cp, sizeof(cp), "%s/cert.pem", dir);
	FILE *f = fopen(cp, "w");
	fputs("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	t0 = sh_mono_ns();
	CU_ASSERT_TRUE(wait_serial("app", s3, s4, sizeof(s4), 5000));
	printf("a certificate file broken by hand was repaired after %.2f s\n", (double)(sh_mono_ns() - t0) / 1e9);
	char *pem = t_read_file(cp);
	CU_ASSERT_PTR_NOT_NULL(strstr(pem, "BEGIN CERTIFICATE"));
	CU_ASSERT_PTR_NULL(strstr(pem, "broken"));
	free(pem);
	/* the malformed spec has its error in its status and disturbed nothing */
	rec_cert_status bs;
	CU_ASSERT_TRUE(status_of("broken", &bs));
	CU_ASSERT_PTR_NOT_NULL(strstr(bs.last_error, "malformed"));
	CU_ASSERT_EQUAL(bs.serial[0], '\0');
	/* every renewal is an action record of the certs controller */
	char ap[300];
	rec_action_prefix(ap, sizeof(ap), prefix, "certs");
	etcd_range_opts o = {.prefix = 1};
	etcd_range_result r;
	CU_ASSERT_EQUAL(etcd_range(tc, ap, &o, &r), SH_OK);
	int renews = 0;
	for (size_t i = 0; i < r.n; i++)
		renews += strstr(r.kvs[i].key, "-renew-app") != NULL && strstr(r.kvs[i].value, "\"result\":\"ok\"");
	etcd_range_result_free(&r);
	CU_ASSERT(renews >= 4);
	ctl_stop(rt);
	t_sh("rm -rf %s", dir);
	etcd_delete_opts dop = {.prefix = 1};
	etcd_delete(tc, prefix, &dop, NULL);
}

int main(int argc, char **argv)
{
	if (!t_endpoints())
		return t_skip("certs_ctl", "SWARMHEAL_TEST_ENDPOINTS not set (tests/run.sh sets it)");
	etcd_config ec = {.endpoints = t_endpoints()};
	if (etcd_client_new(&ec, &tc, NULL, 0))
		return 1;
	static const t_case cases[] = {
		{"renew_repair_malformed", test_renew_repair_malformed},
		{NULL, NULL},
	};
	int rc = t_run("certs_ctl", cases, argc, argv);
	etcd_client_free(tc);
	return rc;
}
