/* SPDX-License-Identifier: MIT */
/* rec_action.c - action records and their retention */
#include "rec.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int part_ok(const char *s)
{
	return s && *s && !strchr(s, '/');
}

int rec_action_prefix(char *buf, size_t len, const char *prefix, const char *controller)
{
	if (controller && !part_ok(controller))
		return -1;
	int n = snprintf(buf, len, "%s/actions/%s%s", prefix ? prefix : "", controller ? controller : "",
			 controller ? "/" : "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int rec_action_key(char *buf, size_t len, const char *prefix, const char *controller, int64_t ts_ns, const char *kind,
		   const char *target)
{
	if (!part_ok(controller) || !part_ok(kind) || !part_ok(target) || ts_ns < 0)
		return -1;
	int n = snprintf(buf, len, "%s/actions/%s/%019lld-%s-%s", prefix ? prefix : "", controller, (long long)ts_ns,
			 kind, target);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

char *rec_action_encode(const rec_action *r)
{
	cJSON *j = cJSON_CreateObject();
	rec_add_time(j, "ts", r->ts_ns);
	cJSON_AddStringToObject(j, "controller", r->controller ? r->controller : "");
	cJSON_AddStringToObject(j, "kind", r->kind ? r->kind : "");
	cJSON_AddStringToObject(j, "target", r->target ? r->target : "");
	cJSON_AddStringToObject(j, "reason", r->reason ? r->reason : "");
	cJSON_AddStringToObject(j, "result", r->result ? r->result : "");
	cJSON_AddNumberToObject(j, "fence", (double)r->fence);
	if (r->node)
		cJSON_AddStringToObject(j, "node", r->node);
	if (r->details) {
		cJSON *d = cJSON_Parse(r->details);
		if (cJSON_IsObject(d))
			cJSON_AddItemToObject(j, "details", d);
		else
			cJSON_Delete(d);
	}
	return rec_print(j);
}

void rec_action_free(rec_action *r)
{
	free(r->controller);
	free(r->kind);
	free(r->target);
	free(r->reason);
	free(r->result);
	free(r->node);
	free(r->details);
	memset(r, 0, sizeof(*r));
}

sh_err rec_action_parse(const char *json, size_t len, rec_action *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	int bad = rec_get_time(j, "ts", 1, &out->ts_ns, why, wlen) ||
		  rec_get_strdup(j, "controller", 1, &out->controller, why, wlen) ||
		  rec_get_strdup(j, "kind", 1, &out->kind, why, wlen) ||
		  rec_get_strdup(j, "target", 1, &out->target, why, wlen) ||
		  rec_get_strdup(j, "reason", 1, &out->reason, why, wlen) ||
		  rec_get_strdup(j, "result", 1, &out->result, why, wlen) ||
		  rec_get_int(j, "fence", 0, &out->fence, why, wlen) || rec_get_strdup(j, "node", 0, &out->node, why, wlen);
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "details");
	if (!bad && d) {
		if (!cJSON_IsObject(d)) {
			snprintf(why, wlen, "field 'details' is not an object");
			bad = 1;
		} else if (!(out->details = cJSON_PrintUnformatted(d))) {
			snprintf(why, wlen, "out of memory");
			bad = 1;
		}
	}
	cJSON_Delete(j);
	if (bad) {
		rec_action_free(out);
		return SH_E_MALFORMED;
	}
	return SH_OK;
}

/* delete [from, through] (through inclusive: the end is through + "\x01", keys are printable) */
static sh_err delete_through(etcd_client *c, const char *from, const char *through, int64_t *deleted)
{
	size_t n = strlen(through);
	char *end = malloc(n + 2);
	if (!end)
		return SH_E_NOMEM;
	memcpy(end, through, n);
	end[n] = '\x01';
	end[n + 1] = '\0';
	etcd_delete_opts o = {.range_end = end};
	etcd_delete_result r = {0};
	sh_err e = etcd_delete(c, from, &o, &r);
	free(end);
	if (!e && deleted)
		*deleted += r.deleted;
	etcd_delete_result_free(&r);
	return e;
}

/* the first `limit` keys of [from, below) (keys only); *last gets a copy of the last one */
static sh_err first_keys(etcd_client *c, const char *from, const char *below, int64_t limit, char **last, size_t *n)
{
	etcd_range_opts o = {.range_end = below, .limit = limit, .keys_only = 1, .sort_order = ETCD_SORT_ASCEND,
			     .sort_target = ETCD_SORT_KEY};
	etcd_range_result r = {0};
	*last = NULL;
	*n = 0;
	sh_err e = etcd_range(c, from, &o, &r);
	if (!e && r.n) {
		*n = r.n;
		*last = strdup(r.kvs[r.n - 1].key);
		if (!*last)
			e = SH_E_NOMEM;
	}
	etcd_range_result_free(&r);
	return e;
}

sh_err rec_actions_prune(etcd_client *c, const char *prefix, const char *controller, int64_t now_ns,
			 const rec_retention *rt, int64_t *deleted)
{
	rec_retention r = *rt;
	if (r.retention_ns <= 0)
		r.retention_ns = INT64_C(7) * 24 * 3600 * 1000000000;
	if (r.max <= 0)
		r.max = 10000;
	if (r.batch <= 0)
		r.batch = 500;
	if (r.min_age_ns <= 0)
		r.min_age_ns = INT64_C(60) * 1000000000;
	if (deleted)
		*deleted = 0;
	char from[512], floor_key[600], age_key[600];
	if (rec_action_prefix(from, sizeof(from), prefix, controller))
		return SH_E_INVAL;
	int64_t floor_ts = now_ns - r.min_age_ns, age_ts = now_ns - r.retention_ns;
	if (age_ts > floor_ts)
		age_ts = floor_ts;
	snprintf(floor_key, sizeof(floor_key), "%s%019lld", from, (long long)(floor_ts > 0 ? floor_ts : 0));
	snprintf(age_key, sizeof(age_key), "%s%019lld", from, (long long)(age_ts > 0 ? age_ts : 0));
	sh_err e = SH_OK;
	/* by age */
	for (;;) {
		char *last;
		size_t n;
		if ((e = first_keys(c, from, age_key, r.batch, &last, &n)) || !n)
			break;
		e = delete_through(c, from, last, deleted);
		free(last);
		if (e || (int64_t)n < r.batch)
			break;
	}
	if (e)
		return e;
	/* by count */
	for (;;) {
		etcd_range_opts co = {.prefix = 1, .count_only = 1};
		etcd_range_result cr = {0};
		if ((e = etcd_range(c, from, &co, &cr)))
			break;
		int64_t excess = cr.count - r.max;
		etcd_range_result_free(&cr);
		if (excess <= 0)
			break;
		char *last;
		size_t n;
		if ((e = first_keys(c, from, floor_key, excess < r.batch ? excess : r.batch, &last, &n)) || !n)
			break; /* what is left is younger than a minute */
		e = delete_through(c, from, last, deleted);
		free(last);
		if (e)
			break;
	}
	return e;
}
