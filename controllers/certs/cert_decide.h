/* SPDX-License-Identifier: MIT */
/* cert_decide.h - the certs controller's pure decisions: renewal schedule, failure backoff, secret rotation plan */
#ifndef CERT_DECIDE_H
#define CERT_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "cert_pki.h"
#include "rec_cert.h"

/*
 * No I/O, no clock: every time is real-time ns (CLOCK_REALTIME, sh_real_ns())
 * passed in. The schedule is kept in wall-clock time on purpose: a machine
 * that was suspended finds on waking that now_ns is past the renewal time and
 * renews at once, which a monotonic timer (it stops while suspended) would
 * miss. The shell therefore never sleeps longer than policy.recheck_ns
 * before calling cert_decide() again.
 */

typedef struct cert_policy {
	int64_t backoff_base_ns; /* first retry after a failure; default 5 s */
	int64_t backoff_max_ns;  /* cap of the doubling; default 10 min */
	int64_t lead_ns;         /* time an issue + delivery needs: the last retry lands this long before expiry; 2 s */
	int64_t recheck_ns;      /* longest wait between two decisions (files on disk, wall-clock jumps); 60 s */
} cert_policy;
#define CERT_POLICY_DEFAULT                                                                                            \
	{                                                                                                              \
		5 * INT64_C(1000000000), 600 * INT64_C(1000000000), 2 * INT64_C(1000000000), 60 * INT64_C(1000000000)  \
	}

/* A stable jitter value for a certificate: FNV-1a of its serial (the same certificate gets the same
 * renewal time on every replica and after every restart). */
uint64_t cert_jitter_of(const char *serial);

/*
 * When a certificate valid [not_before_ns, not_after_ns) is due for renewal:
 * renew_before_ns > 0: not_after - renew_before (not before not_before);
 * else not_before + 2/3 of the lifetime + (jitter mod (lifetime/20 + 1)),
 * i.e. between 2/3 and 2/3 + 1/20 of the lifetime (cert-manager's 2/3, step-ca's jitter).
 */
int64_t cert_decide_renewal(int64_t not_before_ns, int64_t not_after_ns, int64_t renew_before_ns, uint64_t jitter);

/*
 * When to try again after `failures` consecutive failures (>= 1) at now_ns:
 * base * 2^(failures-1), capped at backoff_max. While the current
 * certificate (not_after_ns; 0 = none) can still be replaced in time, i.e.
 * before deadline = not_after - lead, a retry never waits more than half the
 * time left to the deadline (the whole of it when under 1 s), so attempts
 * keep coming until expiry instead of one long backoff overshooting it
 * (cert-manager#6378). Past the deadline the plain backoff applies.
 */
int64_t cert_decide_retry(const cert_policy *p, int64_t failures, int64_t now_ns, int64_t not_after_ns);

/* What the shell observed for one spec. */
typedef struct cert_observed {
	const char *spec_error;        /* non-NULL: the spec is malformed (the parser's why) */
	const rec_cert_spec *spec;     /* parsed spec when spec_error is NULL */
	const char *spec_digest;       /* hex SHA-256 of the spec's canonical encoding */
	const rec_cert_status *status; /* NULL: no status record yet */
	cert_fault files_fault;        /* spec has files: cert_check_files() at now (RENEW_DUE is the schedule's) */
	const char *files_why;
	int secret_current; /* spec has a secret: every part NAME.PART.v<status.secret_version> exists,
					* carries status.serial, and every service in spec.secret.services uses it */
} cert_observed;

typedef enum {
	CERT_ACT_WAIT = 0, /* nothing to do until next_check_ns */
	CERT_ACT_ISSUE,    /* issue, verify and deliver a new certificate now */
	CERT_ACT_REPORT,   /* record reason as last_error (malformed spec); touch nothing else */
} cert_act;

typedef struct cert_decision {
	cert_act act;
	char reason[640];
	int64_t renew_at_ns;   /* the current certificate's renewal time (0: none) */
	int64_t next_check_ns; /* call cert_decide() again by then at the latest (0: on the next change of the spec) */
} cert_decision;

/* The decision for one spec at now_ns; rules in the order they apply are in cert_decide.c. */
void cert_decide(const cert_observed *o, const cert_policy *p, int64_t now_ns, cert_decision *out);

/* Status after a successful issue + delivery of the certificate described by info. */
void cert_status_succeeded(rec_cert_status *st, const cert_info *info, const rec_cert_spec *spec,
			   const char *spec_digest, int64_t now_ns);
/* Status after a failed attempt: failures + 1, next_retry from cert_decide_retry, last_error = why. */
void cert_status_failed(rec_cert_status *st, const cert_policy *p, int64_t now_ns, const char *why);

/* ---- secret rotation (Swarm secrets are immutable: versions NAME.PART.vN) ---- */
#define CERT_ROT_MAX_PARTS   3
#define CERT_ROT_MAX         128 /* secrets of one spec, services touched */
#define CERT_SECRET_NAME_LEN 64

typedef struct cert_secret {
	const char *name, *id;
	const char *serial; /* its label swarmheal.cert.serial; NULL when absent */
} cert_secret;
typedef struct cert_secret_ref {
	const char *secret_name, *target; /* SecretName, File.Name */
} cert_secret_ref;
typedef struct cert_service {
	const char *id, *name;
	const cert_secret_ref *refs; /* the service spec's TaskTemplate.ContainerSpec.Secrets */
	size_t nrefs;
} cert_service;

typedef struct cert_rot_in {
	const char *base;         /* spec.secret.name */
	const char *const *parts; /* {"cert", "chain", "key"} */
	size_t nparts;
	const cert_secret *secrets; /* every secret whose name starts with base (others are ignored) */
	size_t nsecrets;
	const cert_service *services; /* every service */
	size_t nservices;
	const char (*wanted)[REC_CERT_NAME_LEN]; /* spec.secret.services: get the secret even if they lack it */
	size_t nwanted;
	const char *serial; /* the certificate being delivered */
} cert_rot_in;

typedef struct cert_rot_swap {
	size_t part;
	char old_name[CERT_SECRET_NAME_LEN]; /* reference to remove; "" = none (the service had no version) */
	int add;                             /* 1: add names[part] at target; 0: remove only (a second old copy) */
	char target[REC_CERT_NAME_LEN];      /* File.Name: the old reference's, else BASE.PART */
} cert_rot_swap;
#define CERT_ROT_MAX_SWAPS 8
typedef struct cert_rot_update {
	size_t service; /* index into in.services */
	size_t nswaps;
	cert_rot_swap swaps[CERT_ROT_MAX_SWAPS];
} cert_rot_update;

typedef struct cert_rot_plan {
	int64_t version;                                      /* N of the version to deliver */
	int create;                                           /* 1: create names[]; 0: they exist with in.serial */
	char names[CERT_ROT_MAX_PARTS][CERT_SECRET_NAME_LEN]; /* NAME.PART.vN */
	cert_rot_update updates[CERT_ROT_MAX]; /* one service update each: old out, new in, same target */
	size_t nupdates;
	const char *remove[CERT_ROT_MAX]; /* secret names no service uses after the updates */
	size_t nremove;
	char missing[REC_CERT_NAME_LEN]; /* a wanted service that does not exist ("" none) */
} cert_rot_plan;

/*
 * Plan one rotation: the version is 1 + the highest N among the parts'
 * secrets, unless the highest already exists for every part with
 * in.serial (a rotation resumed: create = 0). Every service referring to any
 * version of a part, and every wanted service, gets one update that swaps
 * each old reference for the new one at the same target. Versions other
 * than the new one that no service refers to after the updates are listed
 * for removal: the shell removes them only after the updates succeeded.
 * 0 ok, -1 when the input exceeds the limits (nothing planned).
 */
int cert_rot_plan_make(const cert_rot_in *in, cert_rot_plan *out);

/* 1 when name is BASE.PART.vN for one of the parts (*part, *version set), else 0. */
int cert_secret_parse_name(const char *name, const char *base, const char *const *parts, size_t nparts, size_t *part,
			   int64_t *version);

#endif
