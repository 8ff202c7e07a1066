/* SPDX-License-Identifier: MIT */
/* cert_pki.c - keys, CSRs, signing, chain assembly and verification with OpenSSL 3 (no openssl command) */
#include "cert_pki.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cert_files.h"
#include "sh_util.h"

#define MAX_PEM (1u << 20)

static const char *const fault_names[] = {
#define CERT_FAULT_NAME(name, num, desc) [num] = #name,
	CERT_FAULTS(CERT_FAULT_NAME)
#undef CERT_FAULT_NAME
};

const char *cert_fault_name(cert_fault f)
{
	return (unsigned)f < sizeof(fault_names) / sizeof(fault_names[0]) && fault_names[f] ? fault_names[f] : "?";
}

static void setw(char *why, size_t wlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setw(char *why, size_t wlen, const char *fmt, ...)
{
	if (!why || !wlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, wlen, fmt, ap);
	va_end(ap);
}

/* The last OpenSSL error as text, and the queue cleared. */
static const char *ossl_err(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "unknown OpenSSL error");
	ERR_clear_error();
	return buf;
}

/* "CN=foo,O=bar" of a name. */
static const char *name_text(const X509_NAME *n, char *buf, size_t len)
{
	buf[0] = '\0';
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return buf;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
	int r = BIO_read(b, buf, (int)len - 1);
	buf[r > 0 ? r : 0] = '\0';
	BIO_free(b);
	return buf;
}

static int64_t asn1_ns(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm) * SH_NS_PER_S;
}

void cert_info_of(const X509 *x, cert_info *out)
{
	memset(out, 0, sizeof(*out));
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	BIGNUM *bn = sn ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex) {
		size_t i = 0;
		for (const char *p = hex; *p && i + 1 < sizeof(out->serial); p++)
			if (*p != '-')
				out->serial[i++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
		out->serial[i] = '\0';
	}
	OPENSSL_free(hex);
	BN_free(bn);
	out->not_before_ns = asn1_ns(X509_get0_notBefore(x));
	out->not_after_ns = asn1_ns(X509_get0_notAfter(x));
}

/* ---- PEM in and out ---- */

/*
 * OpenSSL 3.0 builds a decoder context for every PEM_read_bio_PrivateKey
 * (about 0.8 ms of a 1 ms key read); one context per thread, reused, decodes
 * a PKCS#8 key in about 0.1 ms. The context writes into the thread's slot.
 */
typedef struct key_decoder {
	OSSL_DECODER_CTX *ctx;
	EVP_PKEY *out;
} key_decoder;
static pthread_key_t decoder_key;
static pthread_once_t decoder_once = PTHREAD_ONCE_INIT;

static void decoder_free(void *p)
{
	key_decoder *d = p;
	if (d) {
		OSSL_DECODER_CTX_free(d->ctx);
		free(d);
	}
}

static void decoder_init(void)
{
	pthread_key_create(&decoder_key, decoder_free);
}

static EVP_PKEY *pkcs8_key(const unsigned char *der, long len)
{
	pthread_once(&decoder_once, decoder_init);
	key_decoder *d = pthread_getspecific(decoder_key);
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return NULL;
		d->ctx = OSSL_DECODER_CTX_new_for_pkey(&d->out, "DER", "PrivateKeyInfo", NULL, EVP_PKEY_KEYPAIR, NULL,
						       NULL);
		if (!d->ctx || pthread_setspecific(decoder_key, d)) {
			decoder_free(d);
			return NULL;
		}
	}
	d->out = NULL;
	const unsigned char *p = der;
	size_t left = (size_t)len;
	EVP_PKEY *k = OSSL_DECODER_from_data(d->ctx, &p, &left) ? d->out : NULL;
	if (!k)
		EVP_PKEY_free(d->out);
	d->out = NULL;
	return k;
}

static EVP_PKEY *pem_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	EVP_PKEY *k = NULL;
	if (b && PEM_read_bio(b, &name, &header, &der, &len) && !strcmp(name, "PRIVATE KEY"))
		k = pkcs8_key(der, len);
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (der)
		OPENSSL_cleanse(der, (size_t)len);
	OPENSSL_free(der);
	BIO_free(b);
	if (!k) { /* traditional formats ("EC PRIVATE KEY", "RSA PRIVATE KEY"): the general reader */
		b = BIO_new_mem_buf(pem, -1);
		k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	ERR_clear_error();
	return k;
}

/*
 * The certificates of a PEM text; a block byte-identical to one of known
 * (the CA's intermediates) reuses that object instead of parsing it again
 * (d2i_X509 costs about 0.25 ms in OpenSSL 3.0, most of the check of a
 * certificate on disk).
 */
static STACK_OF(X509) *pem_certs_known(const char *pem, STACK_OF(X509) *known)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pem, -1);
	if (!sk || !b) {
		sk_X509_free(sk);
		BIO_free(b);
		return NULL;
	}
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	while (PEM_read_bio(b, &name, &header, &der, &len)) {
		X509 *x = NULL;
		if (!strcmp(name, "CERTIFICATE") || !strcmp(name, "X509 CERTIFICATE") ||
		    !strcmp(name, "TRUSTED CERTIFICATE")) {
			for (int i = 0; !x && i < sk_X509_num(known); i++) {
				X509 *k = sk_X509_value(known, i);
				unsigned char *kd = NULL;
				int kl = i2d_X509(k, &kd);
				if (kl == len && !memcmp(kd, der, (size_t)len) && X509_up_ref(k))
					x = k;
				OPENSSL_free(kd);
			}
			const unsigned char *p = der;
			if (!x && strcmp(name, "TRUSTED CERTIFICATE"))
				x = d2i_X509(NULL, &p, len);
			else if (!x)
				x = d2i_X509_AUX(NULL, &p, len);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
		if (x && !sk_X509_push(sk, x))
			X509_free(x);
	}
	ERR_clear_error(); /* the end of the input reads as an error */
	BIO_free(b);
	return sk;
}

static char *bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (s) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(b);
	return s;
}

char *cert_x509_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509(b, x)) {
		BIO_free(b);
		return NULL;
	}
	return bio_text(b);
}

char *cert_key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(b);
		return NULL;
	}
	return bio_text(b);
}

static sh_err read_pem(const char *path, const char *what, char **out, char *why, size_t wlen)
{
	char e[300];
	sh_err r = cert_read_file(path, MAX_PEM, out, NULL, e, sizeof(e));
	if (r)
		setw(why, wlen, "%s: %s", what, e);
	return r;
}

/* ---- the CA ---- */

void cert_ca_free(cert_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->root);
	sk_X509_pop_free(ca->inter, X509_free);
	EVP_PKEY_free(ca->key);
	memset(ca, 0, sizeof(*ca));
}

static X509_STORE *store_of(X509 *root, int64_t now_ns)
{
	X509_STORE *st = X509_STORE_new();
	if (!st || !X509_STORE_add_cert(st, root)) {
		X509_STORE_free(st);
		return NULL;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), (time_t)(now_ns / SH_NS_PER_S));
	return st;
}

/* X509_verify_cert of x with untrusted intermediates against root. 0 ok; else the error, *depth set. */
static int verify_chain(X509 *root, X509 *x, STACK_OF(X509) *untrusted, int64_t now_ns, int *depth)
{
	X509_STORE *st = store_of(root, now_ns);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err = X509_V_ERR_OUT_OF_MEM;
	*depth = 0;
	if (st && ctx && X509_STORE_CTX_init(ctx, st, x, untrusted)) {
		err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
		*depth = X509_STORE_CTX_get_error_depth(ctx);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return err;
}

sh_err cert_ca_load(const rec_cert_spec *spec, int64_t now_ns, cert_ca *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	char *pem = NULL;
	sh_err e;
	if ((e = read_pem(spec->ca.cert_file, "CA certificate", &pem, why, wlen)))
		return e == SH_E_NOT_FOUND ? SH_E_IO : e;
	STACK_OF(X509) *sk = pem_certs_known(pem, NULL);
	free(pem);
	if (!sk || sk_X509_num(sk) < 1) {
		sk_X509_pop_free(sk, X509_free);
		setw(why, wlen, "CA certificate '%s' holds no PEM certificate", spec->ca.cert_file);
		return SH_E_IO;
	}
	out->root = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	out->inter = NULL;
	if (spec->ca.chain_file[0]) {
		if ((e = read_pem(spec->ca.chain_file, "CA chain", &pem, why, wlen))) {
			cert_ca_free(out);
			return e == SH_E_NOT_FOUND ? SH_E_IO : e;
		}
		out->inter = pem_certs_known(pem, NULL);
		free(pem);
		if (!out->inter || sk_X509_num(out->inter) < 1) {
			cert_ca_free(out);
			setw(why, wlen, "CA chain '%s' holds no PEM certificate", spec->ca.chain_file);
			return SH_E_IO;
		}
	} else if (!(out->inter = sk_X509_new_null())) {
		cert_ca_free(out);
		return SH_E_NOMEM;
	}
	int has_inter = sk_X509_num(out->inter) > 0;
	out->issuer = has_inter ? sk_X509_value(out->inter, 0) : out->root;
	snprintf(out->issuer_path, sizeof(out->issuer_path), "%s",
		 has_inter ? spec->ca.chain_file : spec->ca.cert_file);
	if ((e = read_pem(spec->ca.key_file, "CA key", &pem, why, wlen))) {
		cert_ca_free(out);
		return e == SH_E_NOT_FOUND ? SH_E_IO : e;
	}
	out->key = pem_key(pem);
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	if (!out->key) {
		setw(why, wlen, "CA key '%s' holds no PEM private key", spec->ca.key_file);
		cert_ca_free(out);
		return SH_E_IO;
	}
	char nb[256];
	if (EVP_PKEY_eq(X509_get0_pubkey(out->issuer), out->key) != 1) {
		setw(why, wlen, "CA key '%s' does not match the issuer '%s' in '%s'", spec->ca.key_file,
		     name_text(X509_get_subject_name(out->issuer), nb, sizeof(nb)), out->issuer_path);
		cert_ca_free(out);
		ERR_clear_error();
		return SH_E_INVAL;
	}
	if (has_inter) {
		int depth, err = verify_chain(out->root, out->issuer, out->inter, now_ns, &depth);
		if (err != X509_V_OK) {
			setw(why, wlen, "CA chain '%s' does not verify against '%s': %s (depth %d)",
			     spec->ca.chain_file, spec->ca.cert_file, X509_verify_cert_error_string(err), depth);
			cert_ca_free(out);
			return SH_E_INVAL;
		}
	}
	return SH_OK;
}

/* ---- keys, CSR, signing ---- */

EVP_PKEY *cert_key_new(rec_cert_key_type t, char *why, size_t wlen)
{
	EVP_PKEY *k = NULL;
	switch (t) {
	case REC_CERT_EC_P256:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case REC_CERT_RSA_2048:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case REC_CERT_RSA_3072:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case REC_CERT_RSA_4096:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case REC_CERT_ED25519:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (!k) {
		char eb[200];
		setw(why, wlen, "cannot generate a '%s' key: %s", rec_cert_key_type_name(t), ossl_err(eb, sizeof(eb)));
	}
	return k;
}

/* Ed25519/Ed448 sign without a separate digest; everything else with SHA-256. */
static const EVP_MD *md_for(const EVP_PKEY *k)
{
	return EVP_PKEY_is_a(k, "ED25519") || EVP_PKEY_is_a(k, "ED448") ? NULL : EVP_sha256();
}

static GENERAL_NAMES *spec_sans(const rec_cert_spec *s)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	for (size_t i = 0; gens && i < s->n_dns + s->n_ip; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		if (!g)
			goto fail;
		if (i < s->n_dns) {
			ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
			if (!ia5 || !ASN1_STRING_set(ia5, s->dns_names[i], -1)) {
				ASN1_IA5STRING_free(ia5);
				GENERAL_NAME_free(g);
				goto fail;
			}
			GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
		} else {
			ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s->ip_addresses[i - s->n_dns]);
			if (!ip) {
				GENERAL_NAME_free(g);
				goto fail;
			}
			GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
		}
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto fail;
		}
	}
	return gens;
fail:
	GENERAL_NAMES_free(gens);
	return NULL;
}

X509_REQ *cert_csr_new(const rec_cert_spec *spec, EVP_PKEY *key, char *why, size_t wlen)
{
	char eb[200];
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	GENERAL_NAMES *gens = spec_sans(spec);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = gens ? X509V3_EXT_i2d(NID_subject_alt_name, 0, gens) : NULL;
	int ok = req && name && gens && exts && san && X509_REQ_set_version(req, X509_REQ_VERSION_1) &&
		 X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)spec->common_name, -1, -1,
					    0) &&
		 X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key) &&
		 sk_X509_EXTENSION_push(exts, san);
	if (ok)
		san = NULL; /* owned by exts */
	ok = ok && X509_REQ_add_extensions(req, exts) && X509_REQ_sign(req, key, md_for(key)) > 0;
	if (!ok) {
		setw(why, wlen, "cannot build a CSR for '%s': %s", spec->common_name, ossl_err(eb, sizeof(eb)));
		X509_REQ_free(req);
		req = NULL;
	}
	X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(name);
	return req;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* 127 random bits, never zero, as the serial of x. */
static int random_serial(X509 *x)
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof(r)) != 1)
		return 0;
	r[0] = (unsigned char)((r[0] & 0x7f) | 0x40); /* positive, and 16 bytes long in DER */
	BIGNUM *bn = BN_bin2bn(r, sizeof(r), NULL);
	int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int set_validity(X509 *x, int64_t from_ns, int64_t to_ns)
{
	return ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(from_ns / SH_NS_PER_S)) &&
	       ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(to_ns / SH_NS_PER_S));
}

X509 *cert_sign(X509_REQ *csr, const cert_ca *ca, int64_t now_ns, int64_t duration_ns, char *why, size_t wlen)
{
	char eb[200];
	EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
	if (!pub || X509_REQ_verify(csr, pub) != 1) {
		setw(why, wlen, "CSR signature does not verify: %s", ossl_err(eb, sizeof(eb)));
		return NULL;
	}
	int64_t backdate = duration_ns / 10 < 60 * SH_NS_PER_S ? duration_ns / 10 : 60 * SH_NS_PER_S;
	X509 *x = X509_new();
	STACK_OF(X509_EXTENSION) *req_exts = X509_REQ_get_extensions(csr);
	int ok = x && X509_set_version(x, X509_VERSION_3) && random_serial(x) &&
		 X509_set_subject_name(x, X509_REQ_get_subject_name(csr)) &&
		 X509_set_issuer_name(x, X509_get_subject_name(ca->issuer)) && X509_set_pubkey(x, pub) &&
		 set_validity(x, now_ns - backdate, now_ns + duration_ns);
	/* the requested SAN, exactly as asked */
	for (int i = 0; ok && req_exts && i < sk_X509_EXTENSION_num(req_exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(req_exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name)
			ok = X509_add_ext(x, ext, -1);
	}
	sk_X509_EXTENSION_pop_free(req_exts, X509_EXTENSION_free);
	X509V3_CTX ctx;
	if (ok) {
		X509V3_set_ctx(&ctx, ca->issuer, x, NULL, NULL, 0);
		int rsa = EVP_PKEY_is_a(pub, "RSA");
		ok = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, &ctx, NID_key_usage,
			     rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature") &&
		     add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") &&
		     add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		     add_ext(x, &ctx, NID_authority_key_identifier,
			     X509_get0_subject_key_id(ca->issuer) ? "keyid:always" : "keyid,issuer:always") &&
		     X509_sign(x, ca->key, md_for(ca->key)) > 0;
	}
	if (!ok) {
		setw(why, wlen, "cannot sign the certificate: %s", ossl_err(eb, sizeof(eb)));
		X509_free(x);
		return NULL;
	}
	return x;
}

void cert_bundle_free(cert_bundle *b)
{
	if (!b)
		return;
	X509_free(b->leaf);
	sk_X509_pop_free(b->inter, X509_free);
	EVP_PKEY_free(b->key);
	memset(b, 0, sizeof(*b));
}

sh_err cert_issue(const rec_cert_spec *spec, const cert_ca *ca, int64_t now_ns, cert_bundle *out, char *why,
		  size_t wlen)
{
	memset(out, 0, sizeof(*out));
	out->key = cert_key_new(spec->key_type, why, wlen);
	if (!out->key)
		return SH_E_IO;
	X509_REQ *csr = cert_csr_new(spec, out->key, why, wlen);
	if (!csr) {
		cert_bundle_free(out);
		return SH_E_IO;
	}
	out->leaf = cert_sign(csr, ca, now_ns, spec->duration_ns, why, wlen);
	X509_REQ_free(csr);
	out->inter = X509_chain_up_ref(ca->inter);
	if (!out->leaf || !out->inter) {
		sh_err e = out->leaf ? SH_E_NOMEM : SH_E_IO;
		if (out->leaf)
			setw(why, wlen, "out of memory assembling the chain");
		cert_bundle_free(out);
		return e;
	}
	return SH_OK;
}

/* ---- verification ---- */

static int ip_bytes(const char *s, unsigned char *buf)
{
	if (inet_pton(AF_INET, s, buf) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, buf) == 1)
		return 16;
	return 0;
}

static int spec_has_ip(const rec_cert_spec *s, const unsigned char *ip, int len)
{
	for (size_t i = 0; i < s->n_ip; i++) {
		unsigned char b[16];
		int n = ip_bytes(s->ip_addresses[i], b);
		if (n == len && !memcmp(b, ip, (size_t)n))
			return 1;
	}
	return 0;
}

static int spec_has_dns(const rec_cert_spec *s, const char *d, size_t len)
{
	for (size_t i = 0; i < s->n_dns; i++)
		if (strlen(s->dns_names[i]) == len && !strncasecmp(s->dns_names[i], d, len))
			return 1;
	return 0;
}

static cert_fault check_names(const rec_cert_spec *s, X509 *leaf, char *why, size_t wlen)
{
	char cn[REC_CERT_NAME_LEN] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof(cn));
	if (strcmp(cn, s->common_name)) {
		setw(why, wlen, "certificate's common name '%s' is not the spec's '%s'", cn, s->common_name);
		return CERT_F_SAN_MISMATCH;
	}
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	int seen_dns[REC_CERT_MAX_NAMES] = {0}, seen_ip[REC_CERT_MAX_NAMES] = {0};
	cert_fault f = CERT_OK;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && f == CERT_OK; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS) {
			const char *d = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
			size_t n = (size_t)ASN1_STRING_length(g->d.dNSName);
			if (!spec_has_dns(s, d, n)) {
				setw(why, wlen, "certificate has DNS name '%.*s' the spec does not name", (int)n, d);
				f = CERT_F_SAN_MISMATCH;
			}
			for (size_t k = 0; k < s->n_dns; k++)
				if (strlen(s->dns_names[k]) == n && !strncasecmp(s->dns_names[k], d, n))
					seen_dns[k] = 1;
		} else if (g->type == GEN_IPADD) {
			const unsigned char *ip = ASN1_STRING_get0_data(g->d.iPAddress);
			int n = ASN1_STRING_length(g->d.iPAddress);
			if (!spec_has_ip(s, ip, n)) {
				char t[64] = "?";
				inet_ntop(n == 4 ? AF_INET : AF_INET6, ip, t, sizeof(t));
				setw(why, wlen, "certificate has IP address '%s' the spec does not name", t);
				f = CERT_F_SAN_MISMATCH;
			}
			for (size_t k = 0; k < s->n_ip; k++) {
				unsigned char b[16];
				if (ip_bytes(s->ip_addresses[k], b) == n && !memcmp(b, ip, (size_t)n))
					seen_ip[k] = 1;
			}
		}
	}
	GENERAL_NAMES_free(gens);
	for (size_t k = 0; f == CERT_OK && k < s->n_dns; k++)
		if (!seen_dns[k]) {
			setw(why, wlen, "certificate lacks DNS name '%s' of the spec", s->dns_names[k]);
			f = CERT_F_SAN_MISMATCH;
		}
	for (size_t k = 0; f == CERT_OK && k < s->n_ip; k++)
		if (!seen_ip[k]) {
			setw(why, wlen, "certificate lacks IP address '%s' of the spec", s->ip_addresses[k]);
			f = CERT_F_SAN_MISMATCH;
		}
	return f;
}

static int in_stack(STACK_OF(X509) *sk, X509 *x)
{
	for (int i = 0; sk && i < sk_X509_num(sk); i++)
		if (!X509_cmp(sk_X509_value(sk, i), x))
			return 1;
	return 0;
}

cert_fault cert_verify(const rec_cert_spec *spec, const cert_ca *ca, const cert_bundle *b, int64_t now_ns,
		       int64_t renew_at_ns, char *why, size_t wlen)
{
	char n1[256], n2[256], t1[40], t2[40];
	cert_info info;
	if (!b->leaf || !b->key) {
		setw(why, wlen, "no %s to verify", b->leaf ? "key" : "certificate");
		return CERT_F_UNREADABLE;
	}
	cert_info_of(b->leaf, &info);
	if (EVP_PKEY_eq(X509_get0_pubkey(b->leaf), b->key) != 1) {
		ERR_clear_error();
		setw(why, wlen, "private key does not match the certificate (serial %s)", info.serial);
		return CERT_F_KEY_MISMATCH;
	}
	cert_fault f = check_names(spec, b->leaf, why, wlen);
	if (f)
		return f;
	if (info.not_before_ns > now_ns) {
		sh_rfc3339(info.not_before_ns, t1, sizeof(t1));
		setw(why, wlen, "certificate (serial %s) is not valid before %s", info.serial, t1);
		return CERT_F_NOT_YET_VALID;
	}
	if (info.not_after_ns <= now_ns) {
		sh_rfc3339(info.not_after_ns, t1, sizeof(t1));
		setw(why, wlen, "certificate (serial %s) expired at %s", info.serial, t1);
		return CERT_F_EXPIRED;
	}
	const X509_NAME *iss = X509_get_issuer_name(b->leaf), *want = X509_get_subject_name(ca->issuer);
	if (X509_NAME_cmp(iss, want)) {
		setw(why, wlen, "certificate was issued by '%s', not by the CA's issuer '%s' in '%s'",
		     name_text(iss, n1, sizeof(n1)), name_text(want, n2, sizeof(n2)), ca->issuer_path);
		return CERT_F_WRONG_CA;
	}
	/* the same name but another key: the leaf's authority key ID is not the issuer's subject key ID */
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(b->leaf), *ski = X509_get0_subject_key_id(ca->issuer);
	if (aki && ski && ASN1_OCTET_STRING_cmp(aki, ski)) {
		setw(why, wlen,
		     "certificate was signed by an older key of '%s': its authority key ID is not that of the issuer "
		     "now "
		     "in '%s'",
		     name_text(want, n1, sizeof(n1)), ca->issuer_path);
		return CERT_F_STALE_ISSUER;
	}
	for (int i = 0; i < sk_X509_num(ca->inter); i++) {
		X509 *x = sk_X509_value(ca->inter, i);
		if (!in_stack(b->inter, x)) {
			setw(why, wlen, "chain lacks intermediate '%s' of '%s'%s",
			     name_text(X509_get_subject_name(x), n1, sizeof(n1)), ca->issuer_path,
			     sk_X509_num(b->inter) ? "" : " (the chain holds the leaf alone)");
			return CERT_F_CHAIN_INCOMPLETE;
		}
	}
	int depth, err = verify_chain(ca->root, b->leaf, b->inter, now_ns, &depth);
	if (err != X509_V_OK) {
		/* the issuer's name is right (checked above): a signature that fails with the issuer on disk was
		 * made by an older key of it */
		if (X509_verify(b->leaf, X509_get0_pubkey(ca->issuer)) != 1) {
			ERR_clear_error();
			setw(why, wlen,
			     "certificate was signed by an older key of '%s': its signature does not verify with the "
			     "issuer now in '%s'",
			     name_text(want, n1, sizeof(n1)), ca->issuer_path);
			return CERT_F_STALE_ISSUER;
		}
		setw(why, wlen, "chain does not verify against the CA '%s': %s (depth %d)",
		     name_text(X509_get_subject_name(ca->root), n1, sizeof(n1)), X509_verify_cert_error_string(err),
		     depth);
		return err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
				       err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
			       ? CERT_F_WRONG_CA
			       : CERT_F_CHAIN_INVALID;
	}
	if (renew_at_ns && now_ns >= renew_at_ns) {
		sh_rfc3339(info.not_after_ns, t1, sizeof(t1));
		sh_rfc3339(renew_at_ns, t2, sizeof(t2));
		setw(why, wlen, "certificate (serial %s) expires at %s; its renewal was due at %s", info.serial, t1,
		     t2);
		return CERT_F_RENEW_DUE;
	}
	return CERT_OK;
}

/* ---- PEM bundles ---- */

void cert_pem_free(cert_pem *p)
{
	if (!p)
		return;
	free(p->cert);
	free(p->chain);
	if (p->key) {
		OPENSSL_cleanse(p->key, strlen(p->key));
		free(p->key);
	}
	memset(p, 0, sizeof(*p));
}

sh_err cert_bundle_pem(const cert_bundle *b, int full_cert, cert_pem *out)
{
	memset(out, 0, sizeof(*out));
	sh_buf chain = SH_BUF_INIT;
	char *leaf = cert_x509_pem(b->leaf);
	int ok = leaf && !sh_buf_add(&chain, leaf, strlen(leaf));
	for (int i = 0; ok && i < sk_X509_num(b->inter); i++) {
		char *p = cert_x509_pem(sk_X509_value(b->inter, i));
		ok = p && !sh_buf_add(&chain, p, strlen(p));
		free(p);
	}
	out->key = ok ? cert_key_pem(b->key) : NULL;
	if (!out->key) {
		free(leaf);
		sh_buf_release(&chain);
		return SH_E_NOMEM;
	}
	out->chain = chain.buf;
	out->cert = full_cert ? sh_strdup(chain.buf) : leaf;
	if (full_cert)
		free(leaf);
	if (!out->cert) {
		cert_pem_free(out);
		return SH_E_NOMEM;
	}
	return SH_OK;
}

cert_fault cert_bundle_from_pem(const char *cert, const char *chain, const char *key, STACK_OF(X509) *known,
				cert_bundle *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	STACK_OF(X509) *ch = chain ? pem_certs_known(chain, known) : NULL;
	STACK_OF(X509) *first = sk_X509_new_null();
	if (ch && sk_X509_num(ch) > 0 && first)
		sk_X509_push(first,
			     sk_X509_value(ch, 0)); /* borrowed: the cert file's leaf is usually the same bytes */
	STACK_OF(X509) *sk = cert ? pem_certs_known(cert, chain ? first : known) : NULL;
	sk_X509_free(first);
	cert_fault f = CERT_OK;
	if (!sk || sk_X509_num(sk) < 1) {
		setw(why, wlen, "certificate holds no PEM certificate");
		f = CERT_F_UNREADABLE;
	} else if (chain && (!ch || sk_X509_num(ch) < 1)) {
		setw(why, wlen, "chain holds no PEM certificate");
		f = CERT_F_UNREADABLE;
	} else if (chain && X509_cmp(sk_X509_value(ch, 0), sk_X509_value(sk, 0))) {
		setw(why, wlen, "chain does not start with the certificate's leaf");
		f = CERT_F_CHAIN_INVALID;
	}
	if (f) {
		sk_X509_pop_free(sk, X509_free);
		sk_X509_pop_free(ch, X509_free);
		return f;
	}
	if (chain) {
		sk_X509_pop_free(sk, X509_free);
		sk = ch;
	}
	out->leaf = sk_X509_shift(sk);
	out->inter = sk;
	out->key = key ? pem_key(key) : NULL;
	if (!out->key) {
		cert_bundle_free(out);
		setw(why, wlen, "key holds no PEM private key");
		return CERT_F_UNREADABLE;
	}
	return CERT_OK;
}

static void digest_cert(EVP_MD_CTX *md, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	if (n > 0)
		EVP_DigestUpdate(md, der, (size_t)n);
	OPENSSL_free(der);
}

/* SHA-256 over what a check's verdict depends on besides the clock; 0 ok. */
static int check_digest(const rec_cert_spec *spec, const cert_ca *ca, char *const text[3], unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	if (ok) {
		digest_cert(md, ca->root);
		for (int i = 0; i < sk_X509_num(ca->inter); i++)
			digest_cert(md, sk_X509_value(ca->inter, i));
		EVP_DigestUpdate(md, spec->common_name, strlen(spec->common_name) + 1);
		for (size_t i = 0; i < spec->n_dns; i++)
			EVP_DigestUpdate(md, spec->dns_names[i], strlen(spec->dns_names[i]) + 1);
		EVP_DigestUpdate(md, "|", 1);
		for (size_t i = 0; i < spec->n_ip; i++)
			EVP_DigestUpdate(md, spec->ip_addresses[i], strlen(spec->ip_addresses[i]) + 1);
		for (int i = 0; i < 3; i++) {
			EVP_DigestUpdate(md, "|", 1);
			if (text[i])
				EVP_DigestUpdate(md, text[i], strlen(text[i]));
		}
		unsigned int n = 0;
		ok = EVP_DigestFinal_ex(md, out, &n) && n == 32;
	}
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static int64_t chain_valid_until(const cert_bundle *b, const cert_ca *ca)
{
	int64_t t = asn1_ns(X509_get0_notAfter(b->leaf)), r = asn1_ns(X509_get0_notAfter(ca->root));
	if (r < t)
		t = r;
	for (int i = 0; i < sk_X509_num(b->inter); i++) {
		int64_t x = asn1_ns(X509_get0_notAfter(sk_X509_value(b->inter, i)));
		if (x < t)
			t = x;
	}
	return t;
}

cert_fault cert_check_files(const rec_cert_spec *spec, const cert_ca *ca, int64_t now_ns, int64_t renew_at_ns,
			    cert_check_memo *memo, cert_info *info, char *why, size_t wlen)
{
	if (info)
		memset(info, 0, sizeof(*info));
	const char *paths[3] = {spec->files.cert, spec->files.chain[0] ? spec->files.chain : NULL, spec->files.key};
	static const char *const what[3] = {"certificate", "chain", "key"};
	char *text[3] = {NULL, NULL, NULL};
	cert_fault f = CERT_OK;
	for (int i = 0; i < 3 && f == CERT_OK; i++) {
		if (!paths[i])
			continue;
		char e[300];
		if (cert_read_file(paths[i], MAX_PEM, &text[i], NULL, e, sizeof(e))) {
			setw(why, wlen, "%s file: %s", what[i], e);
			f = CERT_F_UNREADABLE;
		}
	}
	unsigned char digest[32];
	int have_digest = f == CERT_OK && memo && !check_digest(spec, ca, text, digest);
	if (have_digest && memo->valid && !memcmp(memo->digest, digest, sizeof(digest)) && now_ns >= memo->checked_ns &&
	    now_ns < memo->valid_until_ns && (!renew_at_ns || now_ns < renew_at_ns)) {
		if (info)
			*info = memo->info;
		for (int i = 0; i < 3; i++)
			if (text[i]) {
				OPENSSL_cleanse(text[i], strlen(text[i]));
				free(text[i]);
			}
		return CERT_OK;
	}
	if (memo)
		memo->valid = 0;
	cert_bundle b = {0};
	if (f == CERT_OK) {
		char e[300];
		f = cert_bundle_from_pem(text[0], text[1], text[2], ca->inter, &b, e, sizeof(e));
		if (f) {
			int which = strstr(e, "chain") ? 1 : strstr(e, "key") ? 2 : 0;
			setw(why, wlen, "%s file '%s': %s", what[which], paths[which] ? paths[which] : "", e);
		}
	}
	for (int i = 0; i < 3; i++)
		if (text[i]) {
			OPENSSL_cleanse(text[i], strlen(text[i]));
			free(text[i]);
		}
	if (f == CERT_OK) {
		cert_info li;
		cert_info_of(b.leaf, &li);
		if (info)
			*info = li;
		f = cert_verify(spec, ca, &b, now_ns, renew_at_ns, why, wlen);
		if (f == CERT_OK && have_digest) {
			memcpy(memo->digest, digest, sizeof(digest));
			memo->valid = 1;
			memo->checked_ns = now_ns;
			memo->valid_until_ns = chain_valid_until(&b, ca);
			memo->info = li;
		}
	}
	cert_bundle_free(&b);
	return f;
}

/* ---- a CA of our own ---- */

X509 *cert_ca_make(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int64_t now_ns,
		   int64_t duration_ns, char *why, size_t wlen)
{
	char eb[200];
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	int ok = x && name && X509_set_version(x, X509_VERSION_3) && random_serial(x) &&
		 X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
		 X509_set_subject_name(x, name) &&
		 X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) && X509_set_pubkey(x, key) &&
		 set_validity(x, now_ns - 60 * SH_NS_PER_S, now_ns + duration_ns);
	X509V3_CTX ctx;
	if (ok) {
		X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
		ok = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
		     add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") &&
		     add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		     (!issuer || add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) &&
		     X509_sign(x, issuer ? issuer_key : key, md_for(issuer ? issuer_key : key)) > 0;
	}
	X509_NAME_free(name);
	if (!ok) {
		setw(why, wlen, "cannot make CA certificate '%s': %s", cn, ossl_err(eb, sizeof(eb)));
		X509_free(x);
		return NULL;
	}
	return x;
}
