/* SPDX-License-Identifier: MIT */
/* rec_key.c - key builders shared by every record */
#include "rec.h"

#include <stdio.h>
#include <string.h>

int rec_key(char *buf, size_t len, const char *prefix, const char *path, const char *id)
{
	if (id && (!*id || strchr(id, '/')))
		return -1;
	int n = snprintf(buf, len, "%s%s%s", prefix ? prefix : "", path, id ? id : "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "sh_util.h"

static const cJSON *member(const cJSON *j, const char *name, int required, char *why, size_t wlen, int *rc)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, name);
	*rc = 0;
	if (!m || cJSON_IsNull(m)) {
		if (required) {
			snprintf(why, wlen, "field '%s' is missing", name);
			*rc = -1;
		}
		return NULL;
	}
	return m;
}

/* the string member name of j: 1 found (*out set), 0 absent and optional, -1 error (why filled) */
static int str_member(const cJSON *j, const char *name, int required, const char **out, char *why, size_t wlen)
{
	int rc;
	const cJSON *m = member(j, name, required, why, wlen, &rc);
	if (!m)
		return rc;
	if (!cJSON_IsString(m)) {
		snprintf(why, wlen, "field '%s' is not a string", name);
		return -1;
	}
	*out = m->valuestring;
	return 1;
}

int rec_get_str(const cJSON *j, const char *name, int required, char *out, size_t len, char *why, size_t wlen)
{
	const char *v;
	out[0] = '\0';
	int rc = str_member(j, name, required, &v, why, wlen);
	if (rc <= 0)
		return rc;
	if (strlen(v) >= len) {
		snprintf(why, wlen, "field '%s' is longer than %zu bytes", name, len - 1);
		return -1;
	}
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int rec_get_strdup(const cJSON *j, const char *name, int required, char **out, char *why, size_t wlen)
{
	const char *v;
	*out = NULL;
	int rc = str_member(j, name, required, &v, why, wlen);
	if (rc <= 0)
		return rc;
	if (!(*out = strdup(v))) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	return 0;
}

int rec_get_time(const cJSON *j, const char *name, int required, int64_t *out, char *why, size_t wlen)
{
	int rc;
	*out = 0;
	const cJSON *m = member(j, name, required, why, wlen, &rc);
	if (!m)
		return rc;
	if (!cJSON_IsString(m) || sh_parse_rfc3339(m->valuestring, out)) {
		snprintf(why, wlen, "field '%s' is not an RFC 3339 time", name);
		return -1;
	}
	return 0;
}

int rec_get_int(const cJSON *j, const char *name, int required, int64_t *out, char *why, size_t wlen)
{
	int rc;
	*out = 0;
	const cJSON *m = member(j, name, required, why, wlen, &rc);
	if (!m)
		return rc;
	double d = cJSON_IsNumber(m) ? m->valuedouble : 0.5;
	if (!cJSON_IsNumber(m) || d != (double)(int64_t)d || d > 9.2e18 || d < -9.2e18) {
		snprintf(why, wlen, "field '%s' is not an integer", name);
		return -1;
	}
	*out = (int64_t)d;
	return 0;
}

int rec_get_bool(const cJSON *j, const char *name, int required, int *out, char *why, size_t wlen)
{
	int rc;
	*out = 0;
	const cJSON *m = member(j, name, required, why, wlen, &rc);
	if (!m)
		return rc;
	if (!cJSON_IsBool(m)) {
		snprintf(why, wlen, "field '%s' is not true or false", name);
		return -1;
	}
	*out = cJSON_IsTrue(m);
	return 0;
}

cJSON *rec_parse_object(const char *json, size_t len, char *why, size_t wlen)
{
	cJSON *j = json ? cJSON_ParseWithLength(json, len) : NULL;
	if (!cJSON_IsObject(j)) {
		snprintf(why, wlen, "%s", j ? "not a JSON object" : "not valid JSON (truncated or malformed)");
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

void rec_add_time(cJSON *j, const char *name, int64_t real_ns)
{
	if (!real_ns)
		return;
	char ts[40];
	sh_rfc3339(real_ns, ts, sizeof(ts));
	cJSON_AddStringToObject(j, name, ts);
}

char *rec_print(cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	return s;
}
