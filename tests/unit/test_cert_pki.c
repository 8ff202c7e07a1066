/* SPDX-License-Identifier: MIT */
/* test_cert_pki.c - issuing, chain assembly, every verification failure with its reason, files on disk */
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert_files.h"
#include "cert_pki.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

#define S   INT64_C(1000000000)
#define DAY (86400 * S)

static char dir[256];
static int64_t now;

/* root -> intermediate -> leaves; files under dir */
static EVP_PKEY *root_key, *inter_key;
static X509 *root, *inter;

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void write_text(const char *name, const char *text)
{
	char p[512];
	path(p, sizeof(p), name);
	char why[512];
	if (!text || cert_write_atomic(p, text, strlen(text), 0644, why, sizeof(why))) {
		fprintf(stderr, "cannot write '%s': %s\n", p, text ? why : "no PEM");
		exit(1);
	}
}

static void write_cert(const char *name, X509 *x)
{
	char *pem = cert_x509_pem(x);
	write_text(name, pem);
	free(pem);
}

static void write_key(const char *name, EVP_PKEY *k)
{
	char *pem = cert_key_pem(k);
	write_text(name, pem);
	free(pem);
}

static rec_cert_spec base_spec(rec_cert_key_type kt)
{
	rec_cert_spec s;
	memset(&s, 0, sizeof(s));
	snprintf(s.common_name, sizeof(s.common_name), "api.swarm.internal");
	snprintf(s.dns_names[0], sizeof(s.dns_names[0]), "api.swarm.internal");
	snprintf(s.dns_names[1], sizeof(s.dns_names[1]), "api");
	s.n_dns = 2;
	snprintf(s.ip_addresses[0], sizeof(s.ip_addresses[0]), "10.0.0.11");
	snprintf(s.ip_addresses[1], sizeof(s.ip_addresses[1]), "fd00::11");
	s.n_ip = 2;
	s.duration_ns = 30 * DAY;
	s.key_type = kt;
	path(s.ca.cert_file, sizeof(s.ca.cert_file), "root.pem");
	path(s.ca.key_file, sizeof(s.ca.key_file), "inter.key");
	path(s.ca.chain_file, sizeof(s.ca.chain_file), "inter.pem");
	s.has_files = 1;
	path(s.files.cert, sizeof(s.files.cert), "out/cert.pem");
	path(s.files.chain, sizeof(s.files.chain), "out/chain.pem");
	path(s.files.key, sizeof(s.files.key), "out/key.pem");
	snprintf(s.files.signal, sizeof(s.files.signal), "SIGHUP");
	return s;
}

static void make_pki(void)
{
	char why[256] = "";
	snprintf(dir, sizeof(dir), "/tmp/test_cert_pki.%d", (int)getpid());
	t_sh("rm -rf %s; mkdir -p %s/out", dir, dir);
	now = sh_real_ns();
	root_key = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	inter_key = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	root = cert_ca_make("swarmheal test root", root_key, NULL, NULL, now, 365 * DAY, why, sizeof(why));
	inter = cert_ca_make("swarmheal test intermediate", inter_key, root, root_key, now, 300 * DAY, why,
			     sizeof(why));
	if (!root || !inter) {
		fprintf(stderr, "make_pki: %s\n", why);
		exit(1);
	}
	write_cert("root.pem", root);
	write_cert("inter.pem", inter);
	write_key("inter.key", inter_key);
	write_key("root.key", root_key);
}

static void load_ca(const rec_cert_spec *s, cert_ca *ca)
{
	char why[256] = "";
	sh_err e = cert_ca_load(s, now, ca, why, sizeof(why));
	if (e)
		fprintf(stderr, "cert_ca_load: %s\n", why);
	CU_ASSERT_EQUAL_FATAL(e, SH_OK);
}

static void issue(const rec_cert_spec *s, const cert_ca *ca, int64_t at, cert_bundle *b)
{
	char why[256] = "";
	sh_err e = cert_issue(s, ca, at, b, why, sizeof(why));
	if (e)
		fprintf(stderr, "cert_issue: %s\n", why);
	CU_ASSERT_EQUAL_FATAL(e, SH_OK);
}

static cert_fault verify(const rec_cert_spec *s, const cert_ca *ca, const cert_bundle *b, int64_t at, char *why)
{
	why[0] = '\0';
	cert_fault f = cert_verify(s, ca, b, at, 0, why, 512);
	if (getenv("T_VERBOSE"))
		fprintf(stderr, "  %s: %s\n", cert_fault_name(f), why);
	return f;
}

static void test_issue_each_key_type(void)
{
	static const struct {
		rec_cert_key_type t;
		int id, bits;
	} kinds[] = {{REC_CERT_EC_P256, EVP_PKEY_EC, 256},
		     {REC_CERT_RSA_2048, EVP_PKEY_RSA, 2048},
		     {REC_CERT_RSA_3072, EVP_PKEY_RSA, 3072},
		     {REC_CERT_RSA_4096, EVP_PKEY_RSA, 4096},
		     {REC_CERT_ED25519, EVP_PKEY_ED25519, 256}};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		rec_cert_spec s = base_spec(kinds[i].t);
		cert_ca ca;
		load_ca(&s, &ca);
		cert_bundle b;
		issue(&s, &ca, now, &b);
		char why[512];
		CU_ASSERT_EQUAL(verify(&s, &ca, &b, now, why), CERT_OK);
		CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(b.key), kinds[i].id);
		if (EVP_PKEY_get_bits(b.key) != kinds[i].bits)
			fprintf(stderr, "%s: %d bits\n", rec_cert_key_type_name(kinds[i].t), EVP_PKEY_get_bits(b.key));
		CU_ASSERT_EQUAL(EVP_PKEY_get_bits(b.key), kinds[i].bits);
		/* extensions: EKU server + client, key usage, CA:FALSE, SKI, AKI = the intermediate's SKI */
		uint32_t xku = X509_get_extended_key_usage(b.leaf);
		CU_ASSERT_TRUE((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT));
		CU_ASSERT_TRUE(X509_get_key_usage(b.leaf) & KU_DIGITAL_SIGNATURE);
		CU_ASSERT_EQUAL(!!(X509_get_key_usage(b.leaf) & KU_KEY_ENCIPHERMENT), kinds[i].id == EVP_PKEY_RSA);
		CU_ASSERT_EQUAL(X509_check_ca(b.leaf), 0);
		CU_ASSERT_PTR_NOT_NULL(X509_get0_subject_key_id(b.leaf));
		const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(b.leaf);
		CU_ASSERT_PTR_NOT_NULL_FATAL(aki);
		CU_ASSERT_EQUAL(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(inter)), 0);
		cert_info info;
		cert_info_of(b.leaf, &info);
		CU_ASSERT_EQUAL(strlen(info.serial), 32); /* 127 random bits, top nibble 4..7 */
		CU_ASSERT(info.not_before_ns <= now - 59 * S && info.not_before_ns >= now - 61 * S);
		CU_ASSERT(info.not_after_ns <= now + 30 * DAY && info.not_after_ns > now + 30 * DAY - 2 * S);
		cert_bundle b2;
		issue(&s, &ca, now, &b2);
		cert_info info2;
		cert_info_of(b2.leaf, &info2);
		CU_ASSERT_STRING_NOT_EQUAL(info.serial, info2.serial);
		CU_ASSERT_NOT_EQUAL(EVP_PKEY_eq(b.key, b2.key), 1); /* a fresh key for each renewal */
		cert_bundle_free(&b2);
		cert_bundle_free(&b);
		cert_ca_free(&ca);
	}
}

static void test_short_lifetime_backdate(void)
{
	/* a lifetime of seconds is backdated by a tenth of it, not a minute */
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	s.duration_ns = 20 * S;
	cert_ca ca;
	load_ca(&s, &ca);
	cert_bundle b;
	issue(&s, &ca, now, &b);
	cert_info info;
	cert_info_of(b.leaf, &info);
	CU_ASSERT(info.not_after_ns - info.not_before_ns <= 23 * S);
	char why[512];
	CU_ASSERT_EQUAL(verify(&s, &ca, &b, now, why), CERT_OK);
	cert_bundle_free(&b);
	cert_ca_free(&ca);
}

static int count_certs(const char *pem)
{
	int n = 0;
	for (const char *p = pem; (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
		n++;
	return n;
}

static void test_chain_assembly(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	cert_ca ca;
	load_ca(&s, &ca);
	CU_ASSERT_EQUAL(sk_X509_num(ca.inter), 1);
	CU_ASSERT_EQUAL(X509_cmp(ca.issuer, inter), 0);
	cert_bundle b;
	issue(&s, &ca, now, &b);
	CU_ASSERT_EQUAL(sk_X509_num(b.inter), 1);
	cert_pem pem;
	CU_ASSERT_EQUAL_FATAL(cert_bundle_pem(&b, 0, &pem), SH_OK);
	CU_ASSERT_EQUAL(count_certs(pem.cert), 1);
	CU_ASSERT_EQUAL(count_certs(pem.chain), 2); /* leaf + intermediate, no root */
	CU_ASSERT_PTR_NOT_NULL(strstr(pem.key, "-----BEGIN PRIVATE KEY-----"));
	char *inter_pem = cert_x509_pem(inter), *root_pem = cert_x509_pem(root);
	CU_ASSERT_PTR_NOT_NULL(strstr(pem.chain, inter_pem));
	CU_ASSERT_PTR_NULL(strstr(pem.chain, root_pem));
	CU_ASSERT_EQUAL(strncmp(pem.chain, pem.cert, strlen(pem.cert)), 0); /* leaf first */
	/* read back: the same verdict */
	cert_bundle back;
	char why[512];
	CU_ASSERT_EQUAL_FATAL(cert_bundle_from_pem(pem.cert, pem.chain, pem.key, NULL, &back, why, sizeof(why)),
			      CERT_OK);
	CU_ASSERT_EQUAL(verify(&s, &ca, &back, now, why), CERT_OK);
	cert_bundle_free(&back);
	cert_pem_free(&pem);
	/* no separate chain destination: the cert text carries the chain */
	CU_ASSERT_EQUAL_FATAL(cert_bundle_pem(&b, 1, &pem), SH_OK);
	CU_ASSERT_EQUAL(count_certs(pem.cert), 2);
	CU_ASSERT_EQUAL_FATAL(cert_bundle_from_pem(pem.cert, NULL, pem.key, ca.inter, &back, why, sizeof(why)),
			      CERT_OK);
	CU_ASSERT_EQUAL(verify(&s, &ca, &back, now, why), CERT_OK);
	cert_bundle_free(&back);
	/* a chain file whose leaf is another certificate */
	cert_bundle other;
	issue(&s, &ca, now, &other);
	cert_pem opem;
	CU_ASSERT_EQUAL_FATAL(cert_bundle_pem(&other, 0, &opem), SH_OK);
	CU_ASSERT_EQUAL(cert_bundle_from_pem(pem.cert, opem.chain, pem.key, ca.inter, &back, why, sizeof(why)),
			CERT_F_CHAIN_INVALID);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not start with the certificate's leaf"));
	CU_ASSERT_EQUAL(cert_bundle_from_pem("garbage", NULL, pem.key, NULL, &back, why, sizeof(why)),
			CERT_F_UNREADABLE);
	CU_ASSERT_EQUAL(cert_bundle_from_pem(pem.cert, NULL, "garbage", NULL, &back, why, sizeof(why)),
			CERT_F_UNREADABLE);
	cert_pem_free(&opem);
	cert_bundle_free(&other);
	cert_pem_free(&pem);
	free(inter_pem);
	free(root_pem);
	cert_bundle_free(&b);
	cert_ca_free(&ca);
	/* a CA without intermediates: the root signs, the chain is the leaf alone */
	rec_cert_spec r = base_spec(REC_CERT_EC_P256);
	path(r.ca.key_file, sizeof(r.ca.key_file), "root.key");
	r.ca.chain_file[0] = '\0';
	load_ca(&r, &ca);
	issue(&r, &ca, now, &b);
	CU_ASSERT_EQUAL(sk_X509_num(b.inter), 0);
	CU_ASSERT_EQUAL(verify(&r, &ca, &b, now, why), CERT_OK);
	cert_bundle_free(&b);
	cert_ca_free(&ca);
}

static void test_wrong_ca(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	cert_ca ca, other;
	load_ca(&s, &ca);
	/* another CA entirely: its own root signs */
	char why[512];
	EVP_PKEY *k = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *r2 = cert_ca_make("someone else's root", k, NULL, NULL, now, 10 * DAY, why, sizeof(why));
	memset(&other, 0, sizeof(other));
	other.root = r2;
	other.issuer = r2;
	other.key = k;
	other.inter = sk_X509_new_null();
	cert_bundle b;
	issue(&s, &other, now, &b);
	CU_ASSERT_EQUAL(verify(&s, &other, &b, now, why), CERT_OK);
	CU_ASSERT_EQUAL(verify(&s, &ca, &b, now, why), CERT_F_WRONG_CA);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "issued by 'CN=someone else's root', not by the CA's issuer "
					   "'CN=swarmheal test intermediate'"));
	cert_bundle_free(&b);
	cert_ca_free(&other);
	/* an intermediate of the right name whose root is not ours: X509_verify_cert rejects the chain */
	EVP_PKEY *rk = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *fake_root = cert_ca_make("swarmheal test root", rk, NULL, NULL, now, 10 * DAY, why, sizeof(why));
	cert_ca fake = {0};
	fake.root = fake_root;
	fake.inter = sk_X509_new_null();
	sk_X509_push(fake.inter, inter);
	X509_up_ref(inter);
	fake.issuer = inter;
	fake.key = inter_key;
	EVP_PKEY_up_ref(inter_key);
	issue(&s, &ca, now, &b);
	CU_ASSERT_EQUAL(verify(&s, &fake, &b, now, why), CERT_F_WRONG_CA);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "chain does not verify against the CA 'CN=swarmheal test root'"));
	cert_bundle_free(&b);
	cert_ca_free(&fake);
	EVP_PKEY_free(rk);
	cert_ca_free(&ca);
}

static void test_missing_intermediate(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	cert_ca ca;
	load_ca(&s, &ca);
	cert_bundle b;
	issue(&s, &ca, now, &b);
	sk_X509_pop_free(b.inter, X509_free);
	b.inter = sk_X509_new_null();
	char why[512];
	CU_ASSERT_EQUAL(verify(&s, &ca, &b, now, why), CERT_F_CHAIN_INCOMPLETE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "chain lacks intermediate 'CN=swarmheal test intermediate'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "leaf alone"));
	/* the root in place of the intermediate is no better */
	sk_X509_push(b.inter, root);
	X509_up_ref(root);
	CU_ASSERT_EQUAL(verify(&s, &ca, &b, now, why), CERT_F_CHAIN_INCOMPLETE);
	cert_bundle_free(&b);
	cert_ca_free(&ca);
}

static void test_mismatched_key(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	cert_ca ca;
	load_ca(&s, &ca);
	cert_bundle b, c;
	issue(&s, &ca, now, &b);
	issue(&s, &ca, now, &c);
	EVP_PKEY *k = b.key;
	b.key = c.key;
	c.key = k;
	char why[512];
	CU_ASSERT_EQUAL(verify(&s, &ca, &b, now, why), CERT_F_KEY_MISMATCH);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "private key does not match the certificate (serial "));
	/* another key type altogether */
	EVP_PKEY_free(b.key);
	b.key = cert_key_new(REC_CERT_ED25519, why, sizeof(why));
	CU_ASSERT_EQUAL(verify(&s, &ca, &b, now, why), CERT_F_KEY_MISMATCH);
	cert_bundle_free(&b);
	cert_bundle_free(&c);
	cert_ca_free(&ca);
}

static void test_wrong_san(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	cert_ca ca;
	load_ca(&s, &ca);
	cert_bundle b;
	issue(&s, &ca, now, &b);
	char why[512];
	rec_cert_spec t = s;
	snprintf(t.dns_names[2], sizeof(t.dns_names[2]), "new.swarm.internal");
	t.n_dns = 3;
	CU_ASSERT_EQUAL(verify(&t, &ca, &b, now, why), CERT_F_SAN_MISMATCH);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "certificate lacks DNS name 'new.swarm.internal' of the spec"));
	t = s;
	t.n_dns = 1;
	CU_ASSERT_EQUAL(verify(&t, &ca, &b, now, why), CERT_F_SAN_MISMATCH);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "certificate has DNS name 'api' the spec does not name"));
	t = s;
	snprintf(t.ip_addresses[1], sizeof(t.ip_addresses[1]), "fd00::12");
	CU_ASSERT_EQUAL(verify(&t, &ca, &b, now, why), CERT_F_SAN_MISMATCH);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "certificate has IP address 'fd00::11' the spec does not name"));
	t = s;
	t.n_ip = 1;
	CU_ASSERT_EQUAL(verify(&t, &ca, &b, now, why), CERT_F_SAN_MISMATCH);
	t = s;
	snprintf(t.ip_addresses[2], sizeof(t.ip_addresses[2]), "10.0.0.12");
	t.n_ip = 3;
	CU_ASSERT_EQUAL(verify(&t, &ca, &b, now, why), CERT_F_SAN_MISMATCH);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "certificate lacks IP address '10.0.0.12' of the spec"));
	t = s;
	snprintf(t.common_name, sizeof(t.common_name), "other");
	CU_ASSERT_EQUAL(verify(&t, &ca, &b, now, why), CERT_F_SAN_MISMATCH);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "common name 'api.swarm.internal' is not the spec's 'other'"));
	/* DNS names compare without case, IPv6 by value */
	t = s;
	snprintf(t.dns_names[1], sizeof(t.dns_names[1]), "API");
	snprintf(t.ip_addresses[1], sizeof(t.ip_addresses[1]), "fd00:0:0::11");
	CU_ASSERT_EQUAL(verify(&t, &ca, &b, now, why), CERT_OK);
	cert_bundle_free(&b);
	cert_ca_free(&ca);
}

static void test_expired_and_not_yet(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	s.duration_ns = 1 * DAY;
	cert_ca ca;
	load_ca(&s, &ca);
	cert_bundle b;
	issue(&s, &ca, now, &b);
	char why[512];
	CU_ASSERT_EQUAL(verify(&s, &ca, &b, now + 2 * DAY, why), CERT_F_EXPIRED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "expired at "));
	CU_ASSERT_EQUAL(verify(&s, &ca, &b, now - 2 * DAY, why), CERT_F_NOT_YET_VALID);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "is not valid before "));
	/* inside the renewal window: valid, but due */
	CU_ASSERT_EQUAL(cert_verify(&s, &ca, &b, now + DAY / 2, now + DAY / 3, why, sizeof(why)), CERT_F_RENEW_DUE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "renewal was due at "));
	CU_ASSERT_EQUAL(cert_verify(&s, &ca, &b, now, now + DAY / 3, why, sizeof(why)), CERT_OK);
	cert_bundle_free(&b);
	cert_ca_free(&ca);
}

static void test_older_intermediate(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	cert_ca ca;
	load_ca(&s, &ca);
	cert_bundle b;
	issue(&s, &ca, now, &b);
	cert_ca_free(&ca);
	/* the intermediate is re-issued with a new key (same name) and replaces the one on disk */
	char why[512];
	EVP_PKEY *k2 = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *inter2 =
		cert_ca_make("swarmheal test intermediate", k2, root, root_key, now, 300 * DAY, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(inter2);
	rec_cert_spec s2 = s;
	path(s2.ca.chain_file, sizeof(s2.ca.chain_file), "inter2.pem");
	path(s2.ca.key_file, sizeof(s2.ca.key_file), "inter2.key");
	write_cert("inter2.pem", inter2);
	write_key("inter2.key", k2);
	load_ca(&s2, &ca);
	CU_ASSERT_EQUAL(verify(&s2, &ca, &b, now, why), CERT_F_STALE_ISSUER);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "signed by an older key of 'CN=swarmheal test intermediate'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "inter2.pem"));
	/* a leaf without an authority key ID (made by another tool), signed by the old key, delivered with the new
	 * intermediate: caught by its signature */
	cert_ca old_ca;
	load_ca(&s, &old_ca);
	cert_bundle na;
	issue(&s, &old_ca, now, &na);
	X509_EXTENSION *ext = X509_delete_ext(na.leaf, X509_get_ext_by_NID(na.leaf, NID_authority_key_identifier, -1));
	X509_EXTENSION_free(ext);
	CU_ASSERT(X509_sign(na.leaf, inter_key, EVP_sha256()) > 0);
	cert_pem np;
	CU_ASSERT_EQUAL_FATAL(cert_bundle_pem(&na, 0, &np), SH_OK);
	char *inter2_pem = cert_x509_pem(inter2);
	char *leaf_pem = cert_x509_pem(na.leaf);
	size_t cl = strlen(leaf_pem) + strlen(inter2_pem) + 1;
	char *chain2 = malloc(cl);
	snprintf(chain2, cl, "%s%s", leaf_pem, inter2_pem);
	cert_bundle nb;
	CU_ASSERT_EQUAL_FATAL(cert_bundle_from_pem(leaf_pem, chain2, np.key, NULL, &nb, why, sizeof(why)), CERT_OK);
	CU_ASSERT_PTR_NULL(X509_get0_authority_key_id(nb.leaf));
	CU_ASSERT_EQUAL(verify(&s2, &ca, &nb, now, why), CERT_F_STALE_ISSUER);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "its signature does not verify with the issuer now in"));
	cert_bundle_free(&nb);
	free(chain2);
	free(leaf_pem);
	free(inter2_pem);
	cert_pem_free(&np);
	cert_bundle_free(&na);
	cert_ca_free(&old_ca);
	/* a fresh issue from the new intermediate is whole again */
	cert_bundle n;
	issue(&s2, &ca, now, &n);
	CU_ASSERT_EQUAL(verify(&s2, &ca, &n, now, why), CERT_OK);
	/* and its chain holding the old intermediate copy is not accepted */
	sk_X509_pop_free(n.inter, X509_free);
	n.inter = sk_X509_new_null();
	sk_X509_push(n.inter, inter);
	X509_up_ref(inter);
	CU_ASSERT_EQUAL(verify(&s2, &ca, &n, now, why), CERT_F_CHAIN_INCOMPLETE);
	cert_bundle_free(&n);
	cert_bundle_free(&b);
	cert_ca_free(&ca);
	X509_free(inter2);
	EVP_PKEY_free(k2);
}

static void test_ca_load_errors(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	cert_ca ca;
	char why[512];
	rec_cert_spec t = s;
	path(t.ca.key_file, sizeof(t.ca.key_file), "root.key"); /* the root's key, but the intermediate issues */
	CU_ASSERT_EQUAL(cert_ca_load(&t, now, &ca, why, sizeof(why)), SH_E_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not match the issuer 'CN=swarmheal test intermediate'"));
	t = s;
	path(t.ca.cert_file, sizeof(t.ca.cert_file), "nope.pem");
	CU_ASSERT_EQUAL(cert_ca_load(&t, now, &ca, why, sizeof(why)), SH_E_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "CA certificate: cannot open '"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "nope.pem': No such file"));
	t = s;
	path(t.ca.chain_file, sizeof(t.ca.chain_file), "inter.key"); /* a key where certificates belong */
	CU_ASSERT_EQUAL(cert_ca_load(&t, now, &ca, why, sizeof(why)), SH_E_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "holds no PEM certificate"));
	/* an intermediate from a different root */
	EVP_PKEY *rk = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *r2 = cert_ca_make("another root", rk, NULL, NULL, now, 10 * DAY, why, sizeof(why));
	write_cert("root2.pem", r2);
	t = s;
	path(t.ca.cert_file, sizeof(t.ca.cert_file), "root2.pem");
	CU_ASSERT_EQUAL(cert_ca_load(&t, now, &ca, why, sizeof(why)), SH_E_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not verify against"));
	X509_free(r2);
	EVP_PKEY_free(rk);
}

static void deliver(const rec_cert_spec *s, const cert_bundle *b)
{
	cert_pem pem;
	char why[512];
	CU_ASSERT_EQUAL_FATAL(cert_bundle_pem(b, !s->files.chain[0], &pem), SH_OK);
	CU_ASSERT_EQUAL(cert_write_atomic(s->files.key, pem.key, strlen(pem.key), 0600, why, sizeof(why)), SH_OK);
	if (s->files.chain[0])
		CU_ASSERT_EQUAL(cert_write_atomic(s->files.chain, pem.chain, strlen(pem.chain), 0644, why, sizeof(why)),
				SH_OK);
	CU_ASSERT_EQUAL(cert_write_atomic(s->files.cert, pem.cert, strlen(pem.cert), 0644, why, sizeof(why)), SH_OK);
	cert_pem_free(&pem);
}

static void test_check_files(void)
{
	rec_cert_spec s = base_spec(REC_CERT_EC_P256);
	cert_ca ca;
	load_ca(&s, &ca);
	char why[512];
	cert_info info;
	/* nothing there yet */
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, 0, NULL, &info, why, sizeof(why)), CERT_F_UNREADABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "certificate file: cannot open '"));
	cert_bundle b;
	issue(&s, &ca, now, &b);
	deliver(&s, &b);
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, 0, NULL, &info, why, sizeof(why)), CERT_OK);
	cert_info want;
	cert_info_of(b.leaf, &want);
	CU_ASSERT_STRING_EQUAL(info.serial, want.serial);
	struct stat st;
	CU_ASSERT_EQUAL(stat(s.files.key, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	/* a memo of the check: the second check of unchanged files is a hit (it answers with the memo's facts) */
	cert_check_memo memo;
	memset(&memo, 0, sizeof(memo));
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, now + DAY, &memo, &info, why, sizeof(why)), CERT_OK);
	CU_ASSERT_TRUE(memo.valid);
	CU_ASSERT_STRING_EQUAL(memo.info.serial, want.serial);
	snprintf(memo.info.serial, sizeof(memo.info.serial), "from-memo");
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now + 1, now + DAY, &memo, &info, why, sizeof(why)), CERT_OK);
	CU_ASSERT_STRING_EQUAL(info.serial, "from-memo");
	/* ... but not once the renewal time passed, nor past expiry, nor with the clock turned back */
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now + 2, now + 1, &memo, &info, why, sizeof(why)), CERT_F_RENEW_DUE);
	CU_ASSERT_FALSE(memo.valid);
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, now + DAY, &memo, &info, why, sizeof(why)), CERT_OK);
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now + 31 * DAY, 0, &memo, &info, why, sizeof(why)), CERT_F_EXPIRED);
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, now + DAY, &memo, &info, why, sizeof(why)), CERT_OK);
	snprintf(memo.info.serial, sizeof(memo.info.serial), "from-memo");
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now - 10, now + DAY, &memo, &info, why, sizeof(why)), CERT_OK);
	CU_ASSERT_STRING_EQUAL(info.serial, want.serial);
	/* another spec name set: no hit */
	rec_cert_spec other_names = s;
	other_names.n_dns = 1;
	CU_ASSERT_EQUAL(cert_check_files(&other_names, &ca, now, now + DAY, &memo, &info, why, sizeof(why)),
			CERT_F_SAN_MISMATCH);
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, now + DAY, &memo, &info, why, sizeof(why)), CERT_OK);
	/* near expiry */
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, now - 1, NULL, &info, why, sizeof(why)), CERT_F_RENEW_DUE);
	/* a chain broken by hand: the intermediate cut out */
	char *leaf = cert_x509_pem(b.leaf);
	CU_ASSERT_EQUAL(cert_write_atomic(s.files.chain, leaf, strlen(leaf), 0644, NULL, 0), SH_OK);
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, 0, NULL, &info, why, sizeof(why)), CERT_F_CHAIN_INCOMPLETE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "chain lacks intermediate"));
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, now + DAY, &memo, &info, why, sizeof(why)),
			CERT_F_CHAIN_INCOMPLETE); /* a memo never hides a changed file */
	free(leaf);
	deliver(&s, &b);
	/* a key that does not match */
	cert_bundle other;
	issue(&s, &ca, now, &other);
	char *k = cert_key_pem(other.key);
	CU_ASSERT_EQUAL(cert_write_atomic(s.files.key, k, strlen(k), 0600, NULL, 0), SH_OK);
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, 0, NULL, &info, why, sizeof(why)), CERT_F_KEY_MISMATCH);
	free(k);
	/* a truncated key file */
	CU_ASSERT_EQUAL(cert_write_atomic(s.files.key, "-----BEGIN PRIVATE KEY-----\nAAAA\n", 33, 0600, NULL, 0),
			SH_OK);
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, now, 0, NULL, &info, why, sizeof(why)), CERT_F_UNREADABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "key file '"));
	/* without a chain destination the cert file carries the chain */
	rec_cert_spec t = s;
	t.files.chain[0] = '\0';
	deliver(&t, &b);
	CU_ASSERT_EQUAL(cert_check_files(&t, &ca, now, 0, NULL, &info, why, sizeof(why)), CERT_OK);
	cert_bundle_free(&other);
	cert_bundle_free(&b);
	cert_ca_free(&ca);
}

static void test_atomic_write(void)
{
	char p[512], why[512];
	path(p, sizeof(p), "atomic/key.pem");
	t_sh("mkdir -p %s/atomic", dir);
	mode_t old = umask(0);
	CU_ASSERT_EQUAL(cert_write_atomic(p, "one", 3, 0600, why, sizeof(why)), SH_OK);
	umask(old);
	struct stat st;
	CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600); /* the mode holds whatever the umask */
	ino_t first = st.st_ino;
	CU_ASSERT_EQUAL(cert_write_atomic(p, "second", 6, 0644, why, sizeof(why)), SH_OK);
	char *text = t_read_file(p);
	CU_ASSERT_STRING_EQUAL(text, "second");
	free(text);
	CU_ASSERT_EQUAL(stat(p, &st), 0);
	CU_ASSERT_NOT_EQUAL(st.st_ino, first); /* replaced by rename, not rewritten in place */
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0644);
	/* no temp file left behind */
	CU_ASSERT_EQUAL(t_sh("test $(ls -A %s/atomic | wc -l) -eq 1", dir), 0);
	/* a directory that does not exist: an error naming it, nothing written */
	char q[512];
	path(q, sizeof(q), "nodir/key.pem");
	CU_ASSERT_EQUAL(cert_write_atomic(q, "x", 1, 0600, why, sizeof(why)), SH_E_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "cannot create a temporary file beside '"));
	/* the target is a directory: rename fails, the temp file is removed */
	path(q, sizeof(q), "atomic/isdir");
	t_sh("mkdir -p %s", q);
	CU_ASSERT_EQUAL(cert_write_atomic(q, "x", 1, 0600, why, sizeof(why)), SH_E_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "cannot rename '"));
	CU_ASSERT_EQUAL(t_sh("test $(ls -A %s/atomic | wc -l) -eq 2", dir), 0);
	/* read back, missing file */
	char *out;
	size_t len;
	CU_ASSERT_EQUAL(cert_read_file(p, 1024, &out, &len, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(len, 6);
	free(out);
	CU_ASSERT_EQUAL(cert_read_file(p, 4, &out, &len, why, sizeof(why)), SH_E_TOO_LARGE);
	path(q, sizeof(q), "atomic/none");
	CU_ASSERT_EQUAL(cert_read_file(q, 1024, &out, &len, why, sizeof(why)), SH_E_NOT_FOUND);
}

static void test_fault_names(void)
{
	CU_ASSERT_STRING_EQUAL(cert_fault_name(CERT_F_STALE_ISSUER), "STALE_ISSUER");
	CU_ASSERT_STRING_EQUAL(cert_fault_name(CERT_OK), "OK");
	CU_ASSERT_STRING_EQUAL(cert_fault_name((cert_fault)99), "?");
}

int main(int argc, char **argv)
{
	make_pki();
	static const t_case cases[] = {
		{"issue_each_key_type", test_issue_each_key_type},
		{"short_lifetime_backdate", test_short_lifetime_backdate},
		{"chain_assembly", test_chain_assembly},
		{"wrong_ca", test_wrong_ca},
		{"missing_intermediate", test_missing_intermediate},
		{"mismatched_key", test_mismatched_key},
		{"wrong_san", test_wrong_san},
		{"expired_and_not_yet", test_expired_and_not_yet},
		{"older_intermediate", test_older_intermediate},
		{"ca_load_errors", test_ca_load_errors},
		{"check_files", test_check_files},
		{"atomic_write", test_atomic_write},
		{"fault_names", test_fault_names},
		{NULL, NULL},
	};
	int rc = t_run("cert_pki", cases, argc, argv);
	t_sh("rm -rf %s", dir);
	X509_free(inter);
	X509_free(root);
	EVP_PKEY_free(inter_key);
	EVP_PKEY_free(root_key);
	return rc;
}
