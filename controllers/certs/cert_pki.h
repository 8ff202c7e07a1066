/* SPDX-License-Identifier: MIT */
/* cert_pki.h - the certs controller's X.509 work (OpenSSL 3): keys, CSR, signing, chains, verification */
#ifndef CERT_PKI_H
#define CERT_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "rec_cert.h"
#include "sh_err.h"

/*
 * The CA a spec names (rec_cert_spec.ca) reads as:
 *   ca.cert_file   the CA certificate: the trust anchor chains are verified against;
 *   ca.chain_file  optional intermediates, the issuer of leaves first, each signed by the next,
 *                  the last by cert_file;
 *   ca.key_file    the key of the issuer: chain_file's first certificate, else cert_file's.
 * What is delivered (files or secrets), in PEM:
 *   cert   the leaf alone when a separate chain destination exists, else leaf + intermediates;
 *   chain  leaf + intermediates (the root is never included: peers hold it);
 *   key    PKCS#8, unencrypted (files are written mode 0600).
 * Nothing is delivered before cert_verify() said CERT_OK for exactly what is delivered.
 *
 * Every function that can fail writes one line into why (git style: lowercase,
 * no final full stop, subject quoted). Times are real-time ns (sh_real_ns()),
 * taken as a parameter so tests fix the clock.
 */

/* A verification verdict. Each has a distinct reason text (why). Numbers are stable. */
#define CERT_FAULTS(X)                                                                                                 \
	X(OK, 0, "valid")                                                                                              \
	X(UNREADABLE, 1, "file missing or not PEM")                                                                    \
	X(KEY_MISMATCH, 2, "private key does not match the certificate")                                               \
	X(SAN_MISMATCH, 3, "names differ from the spec")                                                               \
	X(NOT_YET_VALID, 4, "not valid yet")                                                                           \
	X(EXPIRED, 5, "expired")                                                                                       \
	X(WRONG_CA, 6, "not issued by the spec's CA")                                                                  \
	X(STALE_ISSUER, 7, "signed by an older key of the issuer")                                                     \
	X(CHAIN_INCOMPLETE, 8, "intermediate missing from the chain")                                                  \
	X(CHAIN_INVALID, 9, "chain does not verify")                                                                   \
	X(RENEW_DUE, 10, "inside its renewal window")

typedef enum {
#define CERT_FAULT_ENUM(name, num, desc) CERT_F_##name = num,
	CERT_FAULTS(CERT_FAULT_ENUM)
#undef CERT_FAULT_ENUM
} cert_fault;
#define CERT_OK CERT_F_OK

/* "KEY_MISMATCH"; never NULL. */
const char *cert_fault_name(cert_fault f);

/* The issuing CA, loaded from the spec's ca.* files. */
typedef struct cert_ca {
	X509 *root;                          /* ca.cert_file */
	STACK_OF(X509) *inter;              /* ca.chain_file, issuer first; empty when absent */
	X509 *issuer;                        /* borrowed: inter[0], else root */
	EVP_PKEY *key;                       /* the issuer's key */
	char issuer_path[REC_CERT_PATH_LEN]; /* the file issuer came from, for messages */
} cert_ca;

/*
 * Load and check the CA: each file readable PEM, the key matches the issuer,
 * the intermediates chain to cert_file (X509_verify_cert at now_ns).
 * SH_E_IO (a file cannot be read or holds no PEM of the right kind) or
 * SH_E_INVAL (they do not fit together), why says which file and how.
 */
sh_err cert_ca_load(const rec_cert_spec *spec, int64_t now_ns, cert_ca *out, char *why, size_t wlen);
void cert_ca_free(cert_ca *ca);

/* A certificate with its intermediates and key: what is issued, delivered, or found on disk. */
typedef struct cert_bundle {
	X509 *leaf;
	STACK_OF(X509) *inter; /* intermediates after the leaf, as delivered; never NULL once filled */
	EVP_PKEY *key;
} cert_bundle;
void cert_bundle_free(cert_bundle *b);

/* Facts of a leaf: the serial as lowercase hex, validity in real-time ns. */
typedef struct cert_info {
	char serial[80];
	int64_t not_before_ns, not_after_ns;
} cert_info;
void cert_info_of(const X509 *x, cert_info *out);

/* A fresh key of the type (EC P-256, RSA 2048/3072/4096, Ed25519); NULL on failure (why set). */
EVP_PKEY *cert_key_new(rec_cert_key_type t, char *why, size_t wlen);

/* A CSR for the spec (subject CN, SAN DNS + IP requested as an extension), signed by key. NULL on failure. */
X509_REQ *cert_csr_new(const rec_cert_spec *spec, EVP_PKEY *key, char *why, size_t wlen);

/*
 * Sign csr with the CA: the CSR's signature is checked first; the subject,
 * public key and SANs come from the CSR. Extensions: basicConstraints
 * CA:FALSE, keyUsage digitalSignature (+ keyEncipherment for RSA),
 * extendedKeyUsage serverAuth + clientAuth, subject and authority key
 * identifiers. Serial: 127 random bits (RAND_bytes). Validity: from now_ns
 * backdated by min(60 s, duration/10) (clock skew between peers) to
 * now_ns + duration_ns. NULL on failure.
 */
X509 *cert_sign(X509_REQ *csr, const cert_ca *ca, int64_t now_ns, int64_t duration_ns, char *why, size_t wlen);

/* Key + CSR + signature + chain (leaf, then the CA's intermediates): a bundle not yet verified. */
sh_err cert_issue(const rec_cert_spec *spec, const cert_ca *ca, int64_t now_ns, cert_bundle *out, char *why,
		  size_t wlen);

/*
 * Verify a bundle against the spec and the CA at now_ns, first failure wins:
 *  KEY_MISMATCH  the key is not the leaf's;
 *  SAN_MISMATCH  the common name or the set of DNS names / IP addresses differs from the spec;
 *  NOT_YET_VALID, EXPIRED;
 *  WRONG_CA      the leaf's issuer is not the CA's issuer (by name);
 *  CHAIN_INCOMPLETE  an intermediate of ca.chain_file is not in the bundle's chain;
 *  STALE_ISSUER  X509_verify_cert fails and the leaf's signature does not verify with the issuer now
 *                on disk although its name matches: signed by an older intermediate (cert-manager#5114);
 *  WRONG_CA, CHAIN_INVALID  X509_verify_cert (trust anchor ca.cert_file, the bundle's intermediates
 *                untrusted) fails otherwise (why holds its error and depth);
 *  RENEW_DUE     all is well but renew_at_ns is set and now_ns >= renew_at_ns.
 */
cert_fault cert_verify(const rec_cert_spec *spec, const cert_ca *ca, const cert_bundle *b, int64_t now_ns,
		       int64_t renew_at_ns, char *why, size_t wlen);

/* The PEM texts to deliver (see the top of this file); malloc'd, NUL-terminated. */
typedef struct cert_pem {
	char *cert, *chain, *key;
} cert_pem;
/* full_cert: the cert text holds leaf + intermediates (no separate chain destination). SH_E_NOMEM. */
sh_err cert_bundle_pem(const cert_bundle *b, int full_cert, cert_pem *out);
void cert_pem_free(cert_pem *p);

/*
 * A bundle from PEM texts as found on disk: cert (leaf first, then any
 * intermediates), chain (may be NULL: leaf + intermediates; when given, its
 * first certificate must be the same leaf), key. known (may be NULL, e.g.
 * the CA's intermediates): certificates byte-identical to one of them are
 * shared, not parsed again (parsing is most of a check's cost in OpenSSL 3.0).
 * CERT_F_UNREADABLE or CERT_F_CHAIN_INVALID with why, else CERT_OK.
 */
cert_fault cert_bundle_from_pem(const char *cert, const char *chain, const char *key, STACK_OF(X509) *known,
				cert_bundle *out, char *why, size_t wlen);

/*
 * What an earlier check of one spec's files found valid, so that unchanged
 * files skip parsing and signatures (a check every resync for every spec).
 * Zero-initialise one per spec; the caller owns it. A hit needs the same
 * bytes in the three files, the same CA certificates and spec names, a
 * clock not before the earlier check, and now before the earliest notAfter
 * of the chain and before renew_at_ns; anything else checks in full.
 */
typedef struct cert_check_memo {
	unsigned char digest[32]; /* SHA-256 of the CA's certificates, the spec's names, the files' bytes */
	int valid;
	int64_t checked_ns, valid_until_ns;
	cert_info info;
} cert_check_memo;

/*
 * Check what spec.files holds on disk now: readable (UNREADABLE names the
 * file), then cert_verify() with renew_at_ns (a chain broken by hand, a key
 * that does not match, a certificate near expiry all need repair). memo
 * (may be NULL) as above. info (may be NULL) gets the leaf's facts when one
 * was read.
 */
cert_fault cert_check_files(const rec_cert_spec *spec, const cert_ca *ca, int64_t now_ns, int64_t renew_at_ns,
			    cert_check_memo *memo, cert_info *info, char *why, size_t wlen);

/* ---- for tests, benchmarks and the quickstart: a CA of our own ---- */
/* A CA certificate for key, signed by issuer/issuer_key (NULL: self-signed), valid from now_ns for duration_ns. */
X509 *cert_ca_make(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int64_t now_ns,
		   int64_t duration_ns, char *why, size_t wlen);
/* PEM of one certificate / of a private key (PKCS#8); malloc'd, NULL on failure. */
char *cert_x509_pem(X509 *x);
char *cert_key_pem(EVP_PKEY *k);

#endif
