/* SPDX-License-Identifier: MIT */
/* rec_rollback.c - rollback snapshot records with their SHA-256, and the rollback controller's per-service state */
#include "rec.h"

#include <cjson/cJSON.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rec_rollback_snapshot_key(char *buf, size_t len, const char *prefix, const char *service_id, int64_t version)
{
	if (!service_id || !*service_id || strchr(service_id, '/') || version < 0)
		return -1;
	int n = snprintf(buf, len, "%s/rollback/snapshots/%s/%020lld", prefix ? prefix : "", service_id,
			 (long long)version);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

void rec_rollback_digest(const char *spec, size_t len, char hex[65])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)spec, len, d);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

char *rec_rollback_snapshot_encode(const rec_rollback_snapshot *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "spec", r->spec ? r->spec : "");
	cJSON_AddStringToObject(j, "sha256", r->sha256);
	rec_add_time(j, "ts", r->ts_ns);
	cJSON_AddBoolToObject(j, "healthy", r->healthy);
	cJSON_AddNumberToObject(j, "version", (double)r->version);
	return rec_print(j);
}

sh_err rec_rollback_snapshot_parse(const char *json, size_t len, rec_rollback_snapshot *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	int bad = rec_get_strdup(j, "spec", 1, &out->spec, why, wlen) ||
		  rec_get_str(j, "sha256", 1, out->sha256, sizeof(out->sha256), why, wlen) ||
		  rec_get_time(j, "ts", 1, &out->ts_ns, why, wlen) || rec_get_int(j, "version", 0, &out->version, why, wlen);
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "healthy");
	if (!bad && !cJSON_IsBool(h)) {
		snprintf(why, wlen, "field 'healthy' is %s", h ? "not a boolean" : "missing");
		bad = 1;
	}
	if (!bad)
		out->healthy = cJSON_IsTrue(h);
	if (!bad && strlen(out->sha256) != 64) {
		snprintf(why, wlen, "field 'sha256' is not 64 hex digits");
		bad = 1;
	}
	cJSON_Delete(j);
	if (bad) {
		rec_rollback_snapshot_free(out);
		return SH_E_MALFORMED;
	}
	return SH_OK;
}

int rec_rollback_snapshot_verify(const rec_rollback_snapshot *r)
{
	char hex[65];
	if (!r->spec)
		return 0;
	rec_rollback_digest(r->spec, strlen(r->spec), hex);
	return !strcmp(hex, r->sha256);
}

void rec_rollback_snapshot_free(rec_rollback_snapshot *r)
{
	free(r->spec);
	r->spec = NULL;
}

static const char *const rb_states[] = {"judging", "rolling-back", "rolled-back", "restoring",
					"restored", "held", "settled"};

int rec_rollback_state_key(char *buf, size_t len, const char *prefix, const char *service_id)
{
	return rec_key(buf, len, prefix, "/rollback/state/", service_id);
}

static int hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

char *rec_rollback_state_encode(const rec_rollback_state *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "state", r->state);
	rec_add_time(j, "update", r->update_ns);
	if (r->spec_sha256[0])
		cJSON_AddStringToObject(j, "spec_sha256", r->spec_sha256);
	if (r->target_sha256[0])
		cJSON_AddStringToObject(j, "target_sha256", r->target_sha256);
	cJSON *b = cJSON_AddArrayToObject(j, "bad");
	for (size_t i = 0; b && i < r->nbad && i < REC_ROLLBACK_MAX_BAD; i++)
		cJSON_AddItemToArray(b, cJSON_CreateString(r->bad[i]));
	cJSON_AddStringToObject(j, "reason", r->reason);
	rec_add_time(j, "since", r->since_ns);
	cJSON_AddNumberToObject(j, "fence", (double)r->fence);
	return rec_print(j);
}

sh_err rec_rollback_state_parse(const char *json, size_t len, rec_rollback_state *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	int bad = rec_get_str(j, "state", 1, out->state, sizeof(out->state), why, wlen) ||
		  rec_get_time(j, "update", 0, &out->update_ns, why, wlen) ||
		  rec_get_str(j, "spec_sha256", 0, out->spec_sha256, sizeof(out->spec_sha256), why, wlen) ||
		  rec_get_str(j, "target_sha256", 0, out->target_sha256, sizeof(out->target_sha256), why, wlen) ||
		  rec_get_str(j, "reason", 0, out->reason, sizeof(out->reason), why, wlen) ||
		  rec_get_time(j, "since", 0, &out->since_ns, why, wlen) ||
		  rec_get_int(j, "fence", 0, &out->fence, why, wlen);
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "bad");
	if (!bad && b && !cJSON_IsArray(b)) {
		snprintf(why, wlen, "field 'bad' is not an array");
		bad = 1;
	}
	const cJSON *it, *arr = bad ? NULL : b;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || !hex64(it->valuestring)) {
			snprintf(why, wlen, "field 'bad' holds something other than a SHA-256");
			bad = 1;
			break;
		}
		if (out->nbad < REC_ROLLBACK_MAX_BAD)
			snprintf(out->bad[out->nbad++], 65, "%s", it->valuestring);
	}
	cJSON_Delete(j);
	if (bad)
		return SH_E_MALFORMED;
	int known = 0;
	for (size_t i = 0; i < sizeof(rb_states) / sizeof(*rb_states); i++)
		known |= !strcmp(out->state, rb_states[i]);
	if (!known) {
		snprintf(why, wlen, "field 'state' has unknown value '%s'", out->state);
		return SH_E_MALFORMED;
	}
	if ((out->spec_sha256[0] && !hex64(out->spec_sha256)) || (out->target_sha256[0] && !hex64(out->target_sha256))) {
		snprintf(why, wlen, "field '%s' is not 64 hex digits",
			 out->spec_sha256[0] && !hex64(out->spec_sha256) ? "spec_sha256" : "target_sha256");
		return SH_E_MALFORMED;
	}
	return SH_OK;
}

int rec_rollback_state_is_bad(const rec_rollback_state *r, const char *digest)
{
	for (size_t i = 0; digest && *digest && i < r->nbad; i++)
		if (!strcmp(r->bad[i], digest))
			return 1;
	return 0;
}

void rec_rollback_state_add_bad(rec_rollback_state *r, const char *digest)
{
	if (!digest || !*digest || rec_rollback_state_is_bad(r, digest))
		return;
	size_t n = r->nbad < REC_ROLLBACK_MAX_BAD ? r->nbad : REC_ROLLBACK_MAX_BAD - 1;
	memmove(r->bad[1], r->bad[0], n * sizeof(r->bad[0]));
	snprintf(r->bad[0], 65, "%s", digest);
	r->nbad = n + 1;
}
