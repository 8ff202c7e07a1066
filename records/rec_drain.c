/* SPDX-License-Identifier: MIT */
/* rec_drain.c - drain state and drain request records */
#include "rec.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char *const states[] = {"none", "draining", "drained", "restoring", "restored", "reactivated-by-person"};
static const char *const monitors[] = {"unmonitored", "monitored", "suspect", "dead"};

static int one_of(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, v[i]))
			return 1;
	return 0;
}

int rec_drain_state_key(char *buf, size_t len, const char *prefix, const char *node_id)
{
	return rec_key(buf, len, prefix, "/drain/state/", node_id);
}

char *rec_drain_state_encode(const rec_drain_state *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "state", r->state);
	cJSON_AddStringToObject(j, "reason", r->reason);
	rec_add_time(j, "since", r->since_ns);
	cJSON_AddNumberToObject(j, "flaps", (double)r->flaps);
	cJSON_AddNumberToObject(j, "fence", (double)r->fence);
	if (r->monitor[0])
		cJSON_AddStringToObject(j, "monitor", r->monitor);
	return rec_print(j);
}

sh_err rec_drain_state_parse(const char *json, size_t len, rec_drain_state *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	int bad = rec_get_str(j, "state", 1, out->state, sizeof(out->state), why, wlen) ||
		  rec_get_str(j, "reason", 0, out->reason, sizeof(out->reason), why, wlen) ||
		  rec_get_time(j, "since", 0, &out->since_ns, why, wlen) ||
		  rec_get_int(j, "flaps", 0, &out->flaps, why, wlen) || rec_get_int(j, "fence", 0, &out->fence, why, wlen) ||
		  rec_get_str(j, "monitor", 0, out->monitor, sizeof(out->monitor), why, wlen);
	cJSON_Delete(j);
	if (bad)
		return SH_E_MALFORMED;
	if (!one_of(out->state, states, sizeof(states) / sizeof(*states))) {
		snprintf(why, wlen, "field 'state' has unknown value '%s'", out->state);
		return SH_E_MALFORMED;
	}
	if (out->flaps < 0 || out->flaps > 31) {
		snprintf(why, wlen, "field 'flaps' is out of range 0..31");
		return SH_E_MALFORMED;
	}
	if (out->monitor[0] && !one_of(out->monitor, monitors, 4)) {
		snprintf(why, wlen, "field 'monitor' has unknown value '%s'", out->monitor);
		return SH_E_MALFORMED;
	}
	return SH_OK;
}

int rec_drain_request_key(char *buf, size_t len, const char *prefix, const char *node_id)
{
	return rec_key(buf, len, prefix, "/drain/requests/", node_id);
}

char *rec_drain_request_encode(const rec_drain_request *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "reason", r->reason);
	if (r->requested_by[0])
		cJSON_AddStringToObject(j, "requested_by", r->requested_by);
	rec_add_time(j, "ts", r->ts_ns);
	return rec_print(j);
}

sh_err rec_drain_request_parse(const char *json, size_t len, rec_drain_request *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	int bad = rec_get_str(j, "reason", 1, out->reason, sizeof(out->reason), why, wlen) ||
		  rec_get_str(j, "requested_by", 0, out->requested_by, sizeof(out->requested_by), why, wlen) ||
		  rec_get_time(j, "ts", 0, &out->ts_ns, why, wlen);
	cJSON_Delete(j);
	return bad ? SH_E_MALFORMED : SH_OK;
}

int rec_drain_challenge_key(char *buf, size_t len, const char *prefix, const char *node_id)
{
	return rec_key(buf, len, prefix, "/drain/challenge/", node_id);
}

static int nonce_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

char *rec_drain_challenge_encode(const rec_drain_challenge *r)
{
	if (!nonce_ok(r->nonce))
		return NULL;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "nonce", r->nonce);
	rec_add_time(j, "ts", r->ts_ns);
	rec_add_time(j, "answered", r->answered_ns);
	return rec_print(j);
}

sh_err rec_drain_challenge_parse(const char *json, size_t len, rec_drain_challenge *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	char nonce[64];
	int bad = rec_get_str(j, "nonce", 1, nonce, sizeof(nonce), why, wlen) ||
		  rec_get_time(j, "ts", 1, &out->ts_ns, why, wlen) ||
		  rec_get_time(j, "answered", 0, &out->answered_ns, why, wlen);
	cJSON_Delete(j);
	if (bad)
		return SH_E_MALFORMED;
	if (!nonce_ok(nonce)) {
		snprintf(why, wlen, "field 'nonce' is not 1-32 lowercase hex digits");
		return SH_E_MALFORMED;
	}
	memcpy(out->nonce, nonce, strlen(nonce) + 1); /* nonce_ok: at most 32 characters */
	return SH_OK;
}
