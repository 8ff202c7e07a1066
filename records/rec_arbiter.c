/* SPDX-License-Identifier: MIT */
/* rec_arbiter.c - the arbiter mode record */
#include "rec.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {"normal", "single-zone", "read-only"};

int rec_arbiter_mode_key(char *buf, size_t len, const char *prefix)
{
	return rec_key(buf, len, prefix, "/arbiter/mode", NULL);
}

const char *rec_mode_name(enum rec_mode m)
{
	return (unsigned)m < 3 ? names[m] : "read-only";
}

int rec_mode_parse(const char *s, enum rec_mode *out)
{
	for (int i = 0; i < 3; i++)
		if (s && !strcmp(s, names[i])) {
			*out = (enum rec_mode)i;
			return 0;
		}
	return -1;
}

char *rec_arbiter_mode_encode(const rec_arbiter_mode *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "mode", rec_mode_name(r->mode));
	cJSON *z = cJSON_AddArrayToObject(j, "zones");
	for (size_t i = 0; i < r->nzones && i < 16; i++)
		cJSON_AddItemToArray(z, cJSON_CreateString(r->zones[i]));
	rec_add_time(j, "since", r->since_ns);
	cJSON_AddStringToObject(j, "reason", r->reason);
	cJSON_AddNumberToObject(j, "fence", (double)r->fence);
	return rec_print(j);
}

sh_err rec_arbiter_mode_parse(const char *json, size_t len, rec_arbiter_mode *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	out->mode = REC_MODE_READ_ONLY;
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	char mode[32];
	int bad = rec_get_str(j, "mode", 1, mode, sizeof(mode), why, wlen) ||
		  rec_get_time(j, "since", 0, &out->since_ns, why, wlen) ||
		  rec_get_str(j, "reason", 0, out->reason, sizeof(out->reason), why, wlen) ||
		  rec_get_int(j, "fence", 0, &out->fence, why, wlen);
	if (!bad && rec_mode_parse(mode, &out->mode)) {
		snprintf(why, wlen, "field 'mode' has unknown value '%s'", mode);
		bad = 1;
	}
	const cJSON *z = cJSON_GetObjectItemCaseSensitive(j, "zones");
	if (!bad && z && !cJSON_IsArray(z)) {
		snprintf(why, wlen, "field 'zones' is not an array");
		bad = 1;
	}
	const cJSON *it, *arr = bad ? NULL : z;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || strlen(it->valuestring) >= 64) {
			snprintf(why, wlen, "field 'zones' holds a non-string or over-long zone");
			bad = 1;
			break;
		}
		if (out->nzones < 16)
			snprintf(out->zones[out->nzones++], 64, "%s", it->valuestring);
	}
	cJSON_Delete(j);
	if (bad) {
		out->mode = REC_MODE_READ_ONLY;
		return SH_E_MALFORMED;
	}
	return SH_OK;
}
