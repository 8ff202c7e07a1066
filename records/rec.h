/* SPDX-License-Identifier: MIT */
/* rec.h - swarmheal's etcd records in one place: key builders, JSON encode and parse, shared conventions */
#ifndef REC_H
#define REC_H

/*
 * Every part (agent, controllers, swarmhealctl) reads and writes its etcd
 * records only through this module. Conventions of every rec_*.h:
 *
 *  - keys: int rec_<record>_key(char *buf, size_t len, const char *prefix, const char *id)
 *    writes PREFIX + the record's path (DESIGN.md's key table); 0 ok, -1 when
 *    it does not fit or id is empty or holds '/'.
 *  - encode: char *rec_<record>_encode(const rec_<record> *r): malloc'd
 *    compact JSON that validates against records/schema/<record>.json;
 *    NULL only when out of memory.
 *  - parse: sh_err rec_<record>_parse(const char *json, size_t len,
 *    rec_<record> *out, char *why, size_t wlen): SH_OK, or SH_E_MALFORMED
 *    with `why` naming the first bad field ("field 'mode' is missing").
 *    A record that does not parse never reads as a harmless default: the
 *    caller decides the safe meaning (an unreadable arbiter mode is
 *    read-only, an unreadable drain state keeps the node as drained).
 *  - times are RFC 3339 UTC strings in JSON, int64 ns of the real-time clock
 *    in structs (0 = absent).
 */

#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

/* Build PREFIX + path + id into buf ("/swarmheal" "/nodes/" "abc"); 0 ok, -1 when it does not fit,
 * id is NULL/empty or contains '/'. id may be NULL when path is a whole key ("/arbiter/mode"). */
int rec_key(char *buf, size_t len, const char *prefix, const char *path, const char *id);

/* ---- helpers every rec_*.c uses (cJSON is an implementation detail: the public API is plain structs) ---- */
struct cJSON;
/* Copy the string member name of j into out (len bytes). required: missing is an error.
 * 0 ok, -1 with why filled ("field 'mode' is missing", "... is not a string", "... is too long"). */
int rec_get_str(const struct cJSON *j, const char *name, int required, char *out, size_t len, char *why, size_t wlen);
/* A malloc'd copy (NULL when absent and optional). */
int rec_get_strdup(const struct cJSON *j, const char *name, int required, char **out, char *why, size_t wlen);
/* RFC 3339 member to real-time ns (0 when absent and optional). */
int rec_get_time(const struct cJSON *j, const char *name, int required, int64_t *out, char *why, size_t wlen);
/* Integer member (JSON number without fraction, within int64). */
int rec_get_int(const struct cJSON *j, const char *name, int required, int64_t *out, char *why, size_t wlen);
/* Boolean member (JSON true/false; 0 when absent and optional). */
int rec_get_bool(const struct cJSON *j, const char *name, int required, int *out, char *why, size_t wlen);
/* Parse json as an object; NULL with why when it is not one. */
struct cJSON *rec_parse_object(const char *json, size_t len, char *why, size_t wlen);
/* Add an RFC 3339 member (skipped when ns is 0). */
void rec_add_time(struct cJSON *j, const char *name, int64_t real_ns);
/* Print compactly and free j; NULL when out of memory. */
char *rec_print(struct cJSON *j);

#include "rec_action.h"
#include "rec_arbiter.h"
#include "rec_drain.h"
#include "rec_heartbeat.h"
#include "rec_rollback.h"

#endif
