/* SPDX-License-Identifier: MIT */
/* rec_rollback.c - rollback snapshot records with their SHA-256 */
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
