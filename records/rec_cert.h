/* SPDX-License-Identifier: MIT */
/* rec_cert.h - certificate spec (/certs/specs/NAME) and status (/certs/status/NAME) records */
#ifndef REC_CERT_H
#define REC_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "rec.h"

/*
 * The spec is the operator's (DESIGN.md, "A certificate spec"); the status is
 * the certs controller's. Conventions as in rec.h. Limits below are the
 * record's own: a spec that exceeds one is malformed, never truncated.
 */
#define REC_CERT_PATH_SPECS  "/certs/specs/"
#define REC_CERT_PATH_STATUS "/certs/status/"

#define REC_CERT_MAX_NAMES  32  /* dns_names, ip_addresses, secret.services each */
#define REC_CERT_NAME_LEN   256 /* common name, one DNS name, a service name, a label */
#define REC_CERT_PATH_LEN   512 /* a file path */
#define REC_CERT_SECRET_LEN 48  /* secret.name: room for ".chain.vNNNNNNNN" under Docker's 64 */

typedef enum {
	REC_CERT_EC_P256 = 0, /* the default */
	REC_CERT_RSA_2048,
	REC_CERT_RSA_3072,
	REC_CERT_RSA_4096,
	REC_CERT_ED25519,
} rec_cert_key_type;

/* "ec-p256", "rsa-2048", ... ; never NULL ("?" for an unknown value). */
const char *rec_cert_key_type_name(rec_cert_key_type t);
/* 0 and *t set when name is one of the names above; -1 otherwise. */
int rec_cert_key_type_parse(const char *name, rec_cert_key_type *t);

typedef struct rec_cert_spec {
	char common_name[REC_CERT_NAME_LEN];
	char dns_names[REC_CERT_MAX_NAMES][REC_CERT_NAME_LEN];
	size_t n_dns;
	char ip_addresses[REC_CERT_MAX_NAMES][64]; /* as written; parse checks each with inet_pton */
	size_t n_ip;
	int64_t duration_ns;     /* "duration", > 0 */
	int64_t renew_before_ns; /* "renew_before"; 0 = absent: 2/3 of the lifetime plus jitter */
	rec_cert_key_type key_type;
	struct {
		char cert_file[REC_CERT_PATH_LEN]; /* the CA certificate: the trust anchor */
		char key_file
			[REC_CERT_PATH_LEN]; /* key of the issuer: chain_file's first certificate, else cert_file's */
		char chain_file[REC_CERT_PATH_LEN]; /* "" = absent; intermediates, the issuer first */
	} ca;
	int has_files;
	struct {
		char cert[REC_CERT_PATH_LEN];         /* the leaf alone */
		char chain[REC_CERT_PATH_LEN];        /* "" = absent; leaf + intermediates */
		char key[REC_CERT_PATH_LEN];          /* written mode 0600 */
		char reload_label[REC_CERT_NAME_LEN]; /* "" = absent: no container is signalled */
		char signal[32];                      /* default "SIGHUP" */
	} files;
	int has_secret;
	struct {
		char name[REC_CERT_SECRET_LEN]; /* base name; versions are NAME.PART.vN */
		char services[REC_CERT_MAX_NAMES][REC_CERT_NAME_LEN];
		size_t n_services;
	} secret;
} rec_cert_spec;

typedef struct rec_cert_status {
	char serial[80]; /* lowercase hex of the current certificate's serial; "" none yet */
	int64_t not_before_ns, not_after_ns, next_renewal_ns, renewed_at_ns; /* 0 = absent */
	int64_t failures;       /* consecutive failed attempts (drives the backoff); 0 after a success */
	int64_t next_retry_ns;  /* after a failure: the earliest next attempt; 0 = none */
	int64_t secret_version; /* secret delivery: N of the NAME.PART.vN now in use; 0 = none */
	char spec_digest[72];   /* lowercase hex SHA-256 of the spec the certificate was issued for; "" unknown */
	char last_error[512];   /* "" = the last attempt succeeded */
} rec_cert_status;

/* PREFIX/certs/specs/NAME and PREFIX/certs/status/NAME; rec.h's key convention. */
int rec_cert_spec_key(char *buf, size_t len, const char *prefix, const char *name);
int rec_cert_status_key(char *buf, size_t len, const char *prefix, const char *name);

/* Encode: compact JSON valid against records/schema/cert_spec.json / cert_status.json; NULL: no memory. */
char *rec_cert_spec_encode(const rec_cert_spec *s);
char *rec_cert_status_encode(const rec_cert_status *s);

/*
 * Parse a spec: SH_OK, or SH_E_MALFORMED with why naming the first bad field
 * ("field 'duration' is not a duration: '3 days'"). Checked: types, required
 * fields (common_name, duration, ca.cert_file, ca.key_file, at least one of
 * dns_names/ip_addresses, at least one of files/secret), IP syntax, key_type,
 * renew_before < duration, secret name syntax, lengths. Unknown fields are
 * ignored (a newer writer may add some). Defaults: key_type ec-p256,
 * files.signal SIGHUP.
 */
sh_err rec_cert_spec_parse(const char *json, size_t len, rec_cert_spec *out, char *why, size_t wlen);
sh_err rec_cert_status_parse(const char *json, size_t len, rec_cert_status *out, char *why, size_t wlen);

/* Go-style duration text of ns for the records ("720h", "1h30m", "90s", "1500ms"); out >= 32 bytes. */
void rec_duration_format(int64_t ns, char *out, size_t outlen);

#endif
