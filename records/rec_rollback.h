/* SPDX-License-Identifier: MIT */
/* rec_rollback.h - /rollback/snapshots/SERVICEID/VERSION (a spec known to be good, with its digest) and
 * /rollback/state/SERVICEID (the rollback controller's judgement of a service's latest update) */
#ifndef REC_ROLLBACK_H
#define REC_ROLLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

typedef struct rec_rollback_snapshot {
	char *spec;          /* the service spec as JSON text, exactly the bytes the digest covers */
	char sha256[65];     /* lowercase hex SHA-256 of spec */
	int64_t ts_ns;       /* when it was judged healthy */
	int healthy;
	int64_t version;     /* the service's Version.Index it was read at */
} rec_rollback_snapshot;

int rec_rollback_snapshot_key(char *buf, size_t len, const char *prefix, const char *service_id, int64_t version);
/* Fills sha256 from spec (OpenSSL's SHA-256). */
void rec_rollback_digest(const char *spec, size_t len, char hex[65]);
char *rec_rollback_snapshot_encode(const rec_rollback_snapshot *r);
/* SH_E_MALFORMED for a malformed record; a well-formed record whose digest does not match its spec
 * parses (so it can be reported) and rec_rollback_snapshot_verify says so. */
sh_err rec_rollback_snapshot_parse(const char *json, size_t len, rec_rollback_snapshot *out, char *why, size_t wlen);
/* 1 when sha256 matches spec. */
int rec_rollback_snapshot_verify(const rec_rollback_snapshot *r);
void rec_rollback_snapshot_free(rec_rollback_snapshot *r);

/*
 * /rollback/state/SERVICEID: what the rollback controller has judged and done
 * about the service's latest update, so a restarted or failed-over controller
 * resumes and never acts twice. state:
 *   judging      an update is being watched (nothing done yet)
 *   rolling-back the intent to roll back (rollback=previous) is recorded; the engine call may not be made
 *   rolled-back  rolled back; target_sha256 is the spec put in place
 *   restoring    the intent to restore a snapshot is recorded; the engine call may not be made
 *   restored     a snapshot was restored; target_sha256 is the spec put in place
 *   held         the spec put in place fails too (or nothing good was left): left for a person
 *   settled      the update was judged good (or judged and nothing was needed)
 */
#define REC_ROLLBACK_MAX_BAD 8
typedef struct rec_rollback_state {
	char state[16];
	int64_t update_ns;        /* UpdateStatus.StartedAt of the update judged (real ns); 0 none */
	char spec_sha256[65];     /* digest of the spec that update put in place ("" unknown) */
	char target_sha256[65];   /* digest of the spec the controller put in place ("" none) */
	char bad[REC_ROLLBACK_MAX_BAD][65]; /* digests of specs judged failing, newest first */
	size_t nbad;
	char reason[300];
	int64_t since_ns;         /* real time the state was entered */
	int64_t fence;            /* the writer's fencing token */
} rec_rollback_state;

int rec_rollback_state_key(char *buf, size_t len, const char *prefix, const char *service_id);
char *rec_rollback_state_encode(const rec_rollback_state *r);
/* SH_E_MALFORMED when not JSON, a field has the wrong type, state is unknown or a digest is not 64 hex digits. */
sh_err rec_rollback_state_parse(const char *json, size_t len, rec_rollback_state *out, char *why, size_t wlen);
/* Remember digest as bad (newest first, at most REC_ROLLBACK_MAX_BAD, no repeats). */
void rec_rollback_state_add_bad(rec_rollback_state *r, const char *digest);
/* 1 when digest is among r's bad ones. */
int rec_rollback_state_is_bad(const rec_rollback_state *r, const char *digest);

#endif
