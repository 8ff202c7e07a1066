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
	if (r->survivor[0])
		cJSON_AddStringToObject(j, "survivor", r->survivor);
	if (r->nevidence) {
		cJSON *ev = cJSON_AddArrayToObject(j, "evidence");
		for (size_t i = 0; i < r->nevidence && i < 16; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "zone", r->evidence[i].zone);
			cJSON_AddNumberToObject(o, "nodes", (double)r->evidence[i].nodes);
			cJSON_AddNumberToObject(o, "live", (double)r->evidence[i].live);
			cJSON_AddNumberToObject(o, "swarm_ready", (double)r->evidence[i].swarm_ready);
			cJSON_AddItemToArray(ev, o);
		}
	}
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
		  rec_get_int(j, "fence", 0, &out->fence, why, wlen) ||
		  rec_get_str(j, "survivor", 0, out->survivor, sizeof(out->survivor), why, wlen);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "evidence");
	if (!bad && ev && !cJSON_IsArray(ev)) {
		snprintf(why, wlen, "field 'evidence' is not an array");
		bad = 1;
	}
	const cJSON *e1, *earr = bad ? NULL : ev;
	cJSON_ArrayForEach(e1, earr)
	{
		if (out->nevidence >= 16)
			break;
		struct rec_zone_count *c = &out->evidence[out->nevidence++];
		if (!cJSON_IsObject(e1) || rec_get_str(e1, "zone", 1, c->zone, sizeof(c->zone), why, wlen) ||
		    rec_get_int(e1, "nodes", 0, &c->nodes, why, wlen) || rec_get_int(e1, "live", 0, &c->live, why, wlen) ||
		    rec_get_int(e1, "swarm_ready", 0, &c->swarm_ready, why, wlen)) {
			if (!cJSON_IsObject(e1))
				snprintf(why, wlen, "field 'evidence' holds a non-object");
			bad = 1;
			break;
		}
	}
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

int rec_arbiter_replica_key(char *buf, size_t len, const char *prefix, const char *name)
{
	return rec_key(buf, len, prefix, "/arbiter/replicas/", name);
}

char *rec_arbiter_replica_encode(const rec_arbiter_replica *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", r->name);
	cJSON_AddStringToObject(j, "zone", r->zone);
	rec_add_time(j, "ts", r->ts_ns);
	return rec_print(j);
}

sh_err rec_arbiter_replica_parse(const char *json, size_t len, rec_arbiter_replica *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	int bad = rec_get_str(j, "name", 1, out->name, sizeof(out->name), why, wlen) ||
		  rec_get_str(j, "zone", 1, out->zone, sizeof(out->zone), why, wlen) ||
		  rec_get_time(j, "ts", 0, &out->ts_ns, why, wlen);
	cJSON_Delete(j);
	return bad ? SH_E_MALFORMED : SH_OK;
}

static const char *const qstates[] = {"lost", "refused", "forcing", "forced", "failed", "recovered", NULL};

int rec_arbiter_quorum_key(char *buf, size_t len, const char *prefix)
{
	return rec_key(buf, len, prefix, "/arbiter/quorum", NULL);
}

char *rec_arbiter_quorum_encode(const rec_arbiter_quorum *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "state", r->state);
	rec_add_time(j, "since", r->since_ns);
	if (r->manager[0])
		cJSON_AddStringToObject(j, "manager", r->manager);
	cJSON_AddStringToObject(j, "reason", r->reason);
	if (r->next_step[0])
		cJSON_AddStringToObject(j, "next_step", r->next_step);
	cJSON *a = cJSON_AddArrayToObject(j, "rejoin");
	for (size_t i = 0; i < r->nrejoin && i < 8; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(r->rejoin[i]));
	cJSON_AddNumberToObject(j, "fence", (double)r->fence);
	return rec_print(j);
}

sh_err rec_arbiter_quorum_parse(const char *json, size_t len, rec_arbiter_quorum *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	int bad = rec_get_str(j, "state", 1, out->state, sizeof(out->state), why, wlen) ||
		  rec_get_time(j, "since", 0, &out->since_ns, why, wlen) ||
		  rec_get_str(j, "manager", 0, out->manager, sizeof(out->manager), why, wlen) ||
		  rec_get_str(j, "reason", 0, out->reason, sizeof(out->reason), why, wlen) ||
		  rec_get_str(j, "next_step", 0, out->next_step, sizeof(out->next_step), why, wlen) ||
		  rec_get_int(j, "fence", 0, &out->fence, why, wlen);
	int known = 0;
	for (int i = 0; qstates[i]; i++)
		known |= !strcmp(out->state, qstates[i]);
	if (!bad && !known) {
		snprintf(why, wlen, "field 'state' has unknown value '%s'", out->state);
		bad = 1;
	}
	const cJSON *it, *a = bad ? NULL : cJSON_GetObjectItemCaseSensitive(j, "rejoin");
	if (a && !cJSON_IsArray(a)) {
		snprintf(why, wlen, "field 'rejoin' is not an array");
		bad = 1;
		a = NULL;
	}
	cJSON_ArrayForEach(it, a)
	{
		if (!cJSON_IsString(it) || strlen(it->valuestring) >= 64) {
			snprintf(why, wlen, "field 'rejoin' holds a non-string or over-long node ID");
			bad = 1;
			break;
		}
		if (out->nrejoin < 8)
			snprintf(out->rejoin[out->nrejoin++], 64, "%s", it->valuestring);
	}
	cJSON_Delete(j);
	return bad ? SH_E_MALFORMED : SH_OK;
}
