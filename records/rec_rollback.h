/* SPDX-License-Identifier: MIT */
/* rec_rollback.h - /rollback/snapshots/SERVICEID/VERSION: a service spec known to be good, with its digest */
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

#endif
