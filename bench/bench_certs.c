/* SPDX-License-Identifier: MIT */
/* bench_certs.c - time to check N certificates on disk, and to issue one (key, CSR, sign, verify) per key type */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cert_files.h"
#include "cert_pki.h"
#include "sh_util.h"

#define DAY (86400 * SH_NS_PER_S)

static char dir[256];

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_certs: %s: %s\n", what, why);
	exit(1);
}

static void put(const char *name, char *pem, mode_t mode)
{
	char p[512], why[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!pem || cert_write_atomic(p, pem, strlen(pem), mode, why, sizeof(why)))
		die("write", pem ? why : "no PEM");
	free(pem);
}

static rec_cert_spec spec_for(int i, rec_cert_key_type kt)
{
	rec_cert_spec s;
	memset(&s, 0, sizeof(s));
	snprintf(s.common_name, sizeof(s.common_name), "svc-%d.swarm.internal", i);
	snprintf(s.dns_names[0], sizeof(s.dns_names[0]), "svc-%d.swarm.internal", i);
	snprintf(s.dns_names[1], sizeof(s.dns_names[1]), "svc-%d", i);
	s.n_dns = 2;
	snprintf(s.ip_addresses[0], sizeof(s.ip_addresses[0]), "10.0.%d.%d", i / 250, i % 250 + 1);
	s.n_ip = 1;
	s.duration_ns = 30 * DAY;
	s.key_type = kt;
	snprintf(s.ca.cert_file, sizeof(s.ca.cert_file), "%s/root.pem", dir);
	snprintf(s.ca.chain_file, sizeof(s.ca.chain_file), "%s/inter.pem", dir);
	snprintf(s.ca.key_file, sizeof(s.ca.key_file), "%s/inter.key", dir);
	s.has_files = 1;
	snprintf(s.files.cert, sizeof(s.files.cert), "%s/c/%d.cert.pem", dir, i);
	snprintf(s.files.chain, sizeof(s.files.chain), "%s/c/%d.chain.pem", dir, i);
	snprintf(s.files.key, sizeof(s.files.key), "%s/c/%d.key.pem", dir, i);
	return s;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 1000;
	if (n < 1)
		n = 1000;
	snprintf(dir, sizeof(dir), "%s/bench_certs.%d", argc > 2 ? argv[2] : "/tmp", (int)getpid());
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/c", dir);
	if (system(cmd))
		die("mkdir", dir);
	char why[512] = "";
	int64_t now = sh_real_ns();
	EVP_PKEY *rk = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	EVP_PKEY *ik = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *root = rk ? cert_ca_make("bench root", rk, NULL, NULL, now, 365 * DAY, why, sizeof(why)) : NULL;
	X509 *inter =
		root && ik ? cert_ca_make("bench intermediate", ik, root, rk, now, 300 * DAY, why, sizeof(why)) : NULL;
	if (!inter)
		die("CA", why);
	put("root.pem", cert_x509_pem(root), 0644);
	put("inter.pem", cert_x509_pem(inter), 0644);
	put("inter.key", cert_key_pem(ik), 0600);
	rec_cert_spec s0 = spec_for(0, REC_CERT_EC_P256);
	cert_ca ca;
	if (cert_ca_load(&s0, now, &ca, why, sizeof(why)))
		die("CA load", why);

	/* issue one per key type: key + CSR + sign + verify (the CA is an EC P-256 intermediate) */
	static const struct {
		rec_cert_key_type t;
		int rounds;
	} kinds[] = {{REC_CERT_EC_P256, 200},
		     {REC_CERT_ED25519, 200},
		     {REC_CERT_RSA_2048, 10},
		     {REC_CERT_RSA_3072, 5},
		     {REC_CERT_RSA_4096, 3}};
	printf("issue one certificate (key, CSR, sign, verify chain) per key type:\n");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		rec_cert_spec s = spec_for(0, kinds[k].t);
		int64_t t0 = sh_mono_ns();
		for (int r = 0; r < kinds[k].rounds; r++) {
			cert_bundle b;
			if (cert_issue(&s, &ca, now, &b, why, sizeof(why)))
				die("issue", why);
			if (cert_verify(&s, &ca, &b, now, 0, why, sizeof(why)) != CERT_OK)
				die("verify", why);
			cert_bundle_free(&b);
		}
		double ms = (double)(sh_mono_ns() - t0) / 1e6 / kinds[k].rounds;
		printf("  %-9s %9.2f ms  (mean of %d)\n", rec_cert_key_type_name(kinds[k].t), ms, kinds[k].rounds);
	}

	/* N certificates on disk, each with its chain and key */
	int64_t t0 = sh_mono_ns();
	for (int i = 0; i < n; i++) {
		rec_cert_spec s = spec_for(i, REC_CERT_EC_P256);
		cert_bundle b;
		cert_pem pem;
		if (cert_issue(&s, &ca, now, &b, why, sizeof(why)) || cert_bundle_pem(&b, 0, &pem))
			die("issue", why);
		if (cert_write_atomic(s.files.key, pem.key, strlen(pem.key), 0600, why, sizeof(why)) ||
		    cert_write_atomic(s.files.chain, pem.chain, strlen(pem.chain), 0644, why, sizeof(why)) ||
		    cert_write_atomic(s.files.cert, pem.cert, strlen(pem.cert), 0644, why, sizeof(why)))
			die("write", why);
		cert_pem_free(&pem);
		cert_bundle_free(&b);
	}
	double setup_s = (double)(sh_mono_ns() - t0) / 1e9;
	/* check them all: read cert, chain, key; key match, SANs, validity, issuer, X509_verify_cert */
	int64_t renew_at = now + 20 * DAY;
	int bad = 0;
	cert_check_memo *memo = calloc((size_t)n, sizeof(*memo));
	if (!memo)
		die("memo", "out of memory");
	double check_s = 0;
	for (int pass = 0; pass < 2; pass++) {
		struct timespec c0, c1;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		t0 = sh_mono_ns();
		for (int i = 0; i < n; i++) {
			rec_cert_spec s = spec_for(i, REC_CERT_EC_P256);
			cert_info info;
			if (cert_check_files(&s, &ca, now, renew_at, &memo[i], &info, why, sizeof(why)) != CERT_OK)
				bad++;
		}
		double wall = (double)(sh_mono_ns() - t0) / 1e9;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
		if (!pass)
			check_s = wall;
		printf("check %d certificates on disk, %s: %.3f s (%.1f us each; %.3f s of CPU)%s\n", n,
		       pass ? "again, files unchanged (memo hit: read + SHA-256)"
			    : "first time (read cert + chain + key, parse, key match, SANs, X509_verify_cert)",
		       wall, wall * 1e6 / n, cpu, wall < 1.0 ? "  [goal < 1 s: met]" : "  [goal < 1 s: MISSED]");
	}
	free(memo);
	if (bad)
		printf("  %d checks did not come out valid (a bug)\n", bad);
	printf("  (writing them took %.2f s: issue + 3 atomic, fsync'd writes each)\n", setup_s);
	/* the alternative people script: one `openssl verify` process per certificate */
	if (!system("command -v openssl >/dev/null 2>&1")) {
		int m = n < 50 ? n : 50;
		t0 = sh_mono_ns();
		for (int i = 0; i < m; i++) {
			snprintf(cmd, sizeof(cmd),
				 "openssl verify -CAfile %s/root.pem -untrusted %s/c/%d.chain.pem %s/c/%d.cert.pem "
				 ">/dev/null 2>&1",
				 dir, dir, i, dir, i);
			if (system(cmd))
				bad++;
		}
		double per = (double)(sh_mono_ns() - t0) / 1e9 / m;
		printf("  vs one 'openssl verify' process per certificate (chain only; no key or SAN check): %.3f s "
		       "for %d "
		       "(from %d runs), %.0fx slower\n",
		       per * n, n, m, per * n / check_s);
	}
	cert_ca_free(&ca);
	X509_free(inter);
	X509_free(root);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "bench_certs: cannot remove '%s'\n", dir);
	return bad ? 1 : 0;
}
