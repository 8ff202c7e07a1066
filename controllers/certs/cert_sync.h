/* SPDX-License-Identifier: MIT */
/* cert_sync.h - one reconcile of one certificate spec: observe, decide, issue + verify + deliver, new status */
#ifndef CERT_SYNC_H
#define CERT_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "cert_decide.h"
#include "cert_deliver.h"
#include "cert_pki.h"
#include "dock.h"
#include "rec_cert.h"

/*
 * The per-key worker of the certs controller, without etcd: the runtime reads
 * /certs/specs/NAME and /certs/status/NAME, calls cert_sync(), writes the
 * status it returns when status_changed, and requeues NAME for
 * next_check_ns (real time: convert with the real clock, and never sleep
 * longer than policy.recheck_ns, so a suspended machine renews on waking).
 * Level-triggered: everything is re-read from disk and the engine each time.
 */
typedef struct cert_env {
	dock_client *dock; /* NULL: no Engine API (files without reload only; a spec with a secret fails) */
	cert_policy policy;
	int dry_run; /* decide and report; issue, write and signal nothing */
	const cert_step_hook *hook; /* hears each step of a delivery by secrets (cert_deliver.h); may be NULL */
} cert_env;

typedef struct cert_sync_out {
	cert_decision decision; /* what was decided and why (act, reason, renew_at_ns) */
	int issued;             /* a new certificate was issued, verified and delivered */
	int status_changed;     /* the status differs from old: write it */
	sh_err err;             /* SH_OK, or what failed (its text is in the status's last_error) */
	int signalled;          /* containers sent the reload signal */
	int64_t next_check_ns;  /* requeue by then (real time); 0: only when the spec changes */
} cert_sync_out;

/*
 * One reconcile at now_ns of the spec (its JSON as stored; NULL/len 0 never
 * comes: a deleted spec is the runtime's release, which leaves files and
 * secrets alone) with its old status (NULL: none yet). memo (may be NULL)
 * is the spec's check memo, kept by the caller across calls. st gets the
 * new status:
 *  - malformed spec: last_error = "spec is malformed: ...", nothing else touched;
 *  - failure (CA unreadable, engine error, the issued chain failing verification, a write):
 *    failures + 1, next_retry by the backoff capped before expiry, last_error; what was
 *    delivered before stays;
 *  - success: serial, validity, next_renewal, renewed_at, spec_digest, secret_version, no error.
 */
void cert_sync(const cert_env *env, const char *spec_json, size_t len, const rec_cert_status *old,
	       cert_check_memo *memo, int64_t now_ns, rec_cert_status *st, cert_sync_out *out);

#endif
