/* SPDX-License-Identifier: MIT */
/* cli_model.c - swarmhealctl's views: pure functions from what was read (cli_snap) to one JSON tree per answer */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rec.h"
#include "rec_cert.h"
#include "rec_election.h"
#include "rec_heartbeat.h"
#include "sh_util.h"

/*
 * Every view is a cJSON tree with a "kind" (Status, NodeList, Node, ...):
 * the table, wide, json, yaml and jsonpath outputs all render that one tree,
 * so they never disagree (cmd/swarmhealctl/schema/swarmhealctl.json is its
 * schema). Records are parsed only through the records module; a record
 * that does not parse is shown as unreadable with the parser's reason, never
 * as a harmless default.
 */

#define NS_S SH_NS_PER_S

static void add_time(cJSON *j, const char *name, int64_t ns)
{
	if (!ns) {
		cJSON_AddNullToObject(j, name);
		return;
	}
	char t[40];
	sh_rfc3339(ns, t, sizeof(t));
	cJSON_AddStringToObject(j, name, t);
}

static void add_str_or_null(cJSON *j, const char *name, const char *v)
{
	if (v && *v)
		cJSON_AddStringToObject(j, name, v);
	else
		cJSON_AddNullToObject(j, name);
}

/* The id after a range's prefix: PREFIX + sub + ID. NULL when the key has another shape. */
static const char *key_id(const etcd_kv *kv, const char *prefix, const char *sub, char *out, size_t len)
{
	size_t p = strlen(prefix), s = strlen(sub);
	if (kv->key_len <= p + s || memcmp(kv->key, prefix, p) || memcmp(kv->key + p, sub, s))
		return NULL;
	size_t n = kv->key_len - p - s;
	if (n >= len || memchr(kv->key + p + s, '/', n))
		return NULL;
	memcpy(out, kv->key + p + s, n);
	out[n] = '\0';
	return out;
}

/* Binary search of a range (etcd returns keys sorted) for PREFIX + sub + id. */
static const etcd_kv *find_kv(const etcd_range_result *r, const char *prefix, const char *sub, const char *id)
{
	char key[600];
	if (snprintf(key, sizeof(key), "%s%s%s", prefix, sub, id) >= (int)sizeof(key))
		return NULL;
	size_t klen = strlen(key), lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const etcd_kv *kv = &r->kvs[mid];
		size_t n = kv->key_len < klen ? kv->key_len : klen;
		int c = memcmp(kv->key, key, n);
		if (!c)
			c = kv->key_len < klen ? -1 : kv->key_len > klen;
		if (!c)
			return kv;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- filters ---- */

int cli_filter_check(const cli_filter *f, char *err, size_t errlen)
{
	if (!f || !f->selector || !*f->selector)
		return 0;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", f->selector);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq || eq == t || (eq == t + 1 && t[0] == '!')) {
			snprintf(err, errlen, "malformed --selector term '%s' (want FIELD=VALUE or FIELD!=VALUE)", t);
			return -1;
		}
	}
	return 0;
}

static void item_text(const cJSON *v, char *out, size_t len)
{
	if (cJSON_IsString(v))
		snprintf(out, len, "%s", v->valuestring);
	else if (cJSON_IsBool(v))
		snprintf(out, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNumber(v))
		snprintf(out, len, "%.15g", v->valuedouble);
	else
		out[0] = '\0';
}

static int passes(const cli_filter *f, const cJSON *item)
{
	if (!f)
		return 1;
	if (f->zone && *f->zone) {
		const cJSON *z = cJSON_GetObjectItemCaseSensitive(item, "zone");
		if (!cJSON_IsString(z) || strcmp(z->valuestring, f->zone))
			return 0;
	}
	if (!f->selector || !*f->selector)
		return 1;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", f->selector);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			return 0;
		int neg = eq > t && eq[-1] == '!';
		*(neg ? eq - 1 : eq) = '\0';
		char have[512];
		item_text(cJSON_GetObjectItemCaseSensitive(item, t), have, sizeof(have));
		if ((strcmp(have, eq + 1) == 0) == neg)
			return 0;
	}
	return 1;
}

/* Every view names its kind and the time of the read (ages in tables are counted from it). */
static cJSON *list(const cli_snap *s, const char *kind)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "kind", kind);
	add_time(j, "time", s->now_ns);
	cJSON_AddArrayToObject(j, "items");
	return j;
}

static cJSON *stamp(cJSON *j, const cli_snap *s, const char *kind)
{
	if (j) {
		cJSON_AddStringToObject(j, "kind", kind);
		add_time(j, "time", s->now_ns);
	}
	return j;
}

static void add_filtered(cJSON *arr, cJSON *item, const cli_filter *f)
{
	if (passes(f, item))
		cJSON_AddItemToArray(arr, item);
	else
		cJSON_Delete(item);
}

/* ---- actions ---- */

static cJSON *action_item(const etcd_kv *kv)
{
	rec_action a;
	char why[200];
	cJSON *j = cJSON_CreateObject();
	if (rec_action_parse(kv->value, kv->value_len, &a, why, sizeof(why))) {
		cJSON_AddStringToObject(j, "ts", "");
		cJSON_AddStringToObject(j, "controller", "");
		cJSON_AddStringToObject(j, "kind", "unreadable");
		cJSON_AddStringToObject(j, "target", "");
		cJSON_AddStringToObject(j, "result", "");
		cJSON_AddStringToObject(j, "reason", why);
		cJSON_AddStringToObject(j, "key", kv->key);
		rec_action_free(&a);
		return j;
	}
	char t[40];
	sh_rfc3339(a.ts_ns, t, sizeof(t));
	cJSON_AddStringToObject(j, "ts", t);
	cJSON_AddStringToObject(j, "controller", a.controller ? a.controller : "");
	cJSON_AddStringToObject(j, "kind", a.kind ? a.kind : "");
	cJSON_AddStringToObject(j, "target", a.target ? a.target : "");
	cJSON_AddStringToObject(j, "result", a.result ? a.result : "");
	cJSON_AddStringToObject(j, "reason", a.reason ? a.reason : "");
	if (a.node)
		cJSON_AddStringToObject(j, "node", a.node);
	cJSON_AddNumberToObject(j, "fence", (double)a.fence);
	cJSON_AddStringToObject(j, "key", kv->key);
	rec_action_free(&a);
	return j;
}

/* Actions in time order (the range is newest first). */
static cJSON *actions_array(const cli_snap *s, const cli_filter *f, int64_t limit, const char *about)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i = s->actions.n; /* newest first: walk back for time order */
	if (!about && limit > 0 && (size_t)limit < i)
		i = (size_t)limit;
	while (i-- > 0) {
		cJSON *it = action_item(&s->actions.kvs[i]);
		if (about) {
			const cJSON *tg = cJSON_GetObjectItemCaseSensitive(it, "target"),
				    *nd = cJSON_GetObjectItemCaseSensitive(it, "node");
			if (!(cJSON_IsString(tg) && !strcmp(tg->valuestring, about)) &&
			    !(cJSON_IsString(nd) && !strcmp(nd->valuestring, about))) {
				cJSON_Delete(it);
				continue;
			}
		}
		add_filtered(arr, it, f);
	}
	if (about && limit > 0)
		while (cJSON_GetArraySize(arr) > limit)
			cJSON_DeleteItemFromArray(arr, 0);
	return arr;
}

cJSON *cli_view_actions(const cli_snap *s, const cli_filter *f, int64_t limit)
{
	cJSON *j = list(s, "ActionList");
	cJSON_ReplaceItemInObject(j, "items", actions_array(s, f, limit, NULL));
	return j;
}

/* ---- nodes ---- */

static const dock_node *swarm_node(const cli_snap *s, const char *id)
{
	for (size_t i = 0; s->have_swarm && i < s->swarm.n; i++)
		if (!strcmp(s->swarm.v[i].id, id))
			return &s->swarm.v[i];
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Node IDs seen anywhere: heartbeats, drain state, requests, Swarm. Sorted, unique; malloc'd array of malloc'd. */
static char **node_ids(const cli_snap *s, size_t *n)
{
	size_t cap = s->nodes.n + s->drain_state.n + s->drain_req.n + (s->have_swarm ? s->swarm.n : 0) + 1, k = 0;
	char **ids = calloc(cap, sizeof(char *));
	if (!ids) {
		*n = 0;
		return NULL;
	}
	const struct {
		const etcd_range_result *r;
		const char *sub;
	} src[] = {{&s->nodes, "/nodes/"}, {&s->drain_state, "/drain/state/"}, {&s->drain_req, "/drain/requests/"}};
	char id[256];
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < src[i].r->n; j++)
			if (key_id(&src[i].r->kvs[j], s->prefix, src[i].sub, id, sizeof(id)))
				ids[k++] = strdup(id);
	for (size_t j = 0; s->have_swarm && j < s->swarm.n; j++)
		ids[k++] = strdup(s->swarm.v[j].id);
	qsort(ids, k, sizeof(char *), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < k; i++) {
		if (!ids[i])
			continue;
		if (u && !strcmp(ids[u - 1], ids[i])) {
			free(ids[i]);
			continue;
		}
		ids[u++] = ids[i];
	}
	*n = u;
	return ids;
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static cJSON *node_item(const cli_snap *s, const char *id, int detail)
{
	const etcd_kv *hkv = find_kv(&s->nodes, s->prefix, "/nodes/", id),
		      *skv = find_kv(&s->drain_state, s->prefix, "/drain/state/", id),
		      *rkv = find_kv(&s->drain_req, s->prefix, "/drain/requests/", id);
	const dock_node *sw = swarm_node(s, id);
	rec_heartbeat hb;
	rec_drain_state ds;
	rec_drain_request rq;
	char hwhy[200] = "", swhy[200] = "", rwhy[200] = "";
	int hok = hkv && !rec_heartbeat_parse(hkv->value, hkv->value_len, &hb, hwhy, sizeof(hwhy));
	int sok = skv && !rec_drain_state_parse(skv->value, skv->value_len, &ds, swhy, sizeof(swhy));
	int rok = rkv && !rec_drain_request_parse(rkv->value, rkv->value_len, &rq, rwhy, sizeof(rwhy));

	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", id);
	cJSON_AddStringToObject(j, "hostname", hok && hb.hostname[0] ? hb.hostname : sw ? sw->hostname : "");
	cJSON_AddStringToObject(j, "zone", hok ? hb.zone : "");
	cJSON_AddStringToObject(j, "addr", hok ? hb.addr : sw ? sw->addr : "");

	/* monitoring: DESIGN.md "Node health" as far as the records tell it */
	const char *agent, *monitor, *engine = "unknown";
	char why[400];
	if (!hkv) {
		agent = "absent";
		if (sok && (!strcmp(ds.monitor, "suspect") || !strcmp(ds.monitor, "dead"))) {
			monitor = ds.monitor;
			snprintf(why, sizeof(why), "heartbeat gone; drain controller judged it %s", ds.monitor);
		} else if (sw && (!strcmp(sw->state, "down") || !strcmp(sw->state, "disconnected"))) {
			monitor = "dead";
			snprintf(why, sizeof(why), "no heartbeat and Swarm reports %s", sw->state);
		} else {
			monitor = "unmonitored";
			snprintf(why, sizeof(why), "no heartbeat: no agent runs on this node");
		}
	} else if (!hok) {
		agent = "unreadable";
		monitor = "monitored"; /* as the drain controller takes it: the key lives, so does the agent */
		snprintf(why, sizeof(why), "heartbeat unreadable: %s", hwhy);
	} else if (hb.stopped) {
		agent = "stopped";
		monitor = "unmonitored";
		char t[40];
		sh_rfc3339(hb.ts_ns, t, sizeof(t));
		snprintf(why, sizeof(why), "agent stopped on purpose at %s", t);
	} else {
		agent = "running";
		engine = rec_engine_name(hb.engine);
		if (hb.engine == REC_ENGINE_DOWN) {
			monitor = "dead";
			snprintf(why, sizeof(why), "the agent reports its engine down");
		} else {
			monitor = "monitored";
			snprintf(why, sizeof(why), "%s", hb.engine == REC_ENGINE_SLOW ? "engine slow to answer" : "");
		}
	}
	if (hok && hb.stopped && hb.engine)
		engine = rec_engine_name(hb.engine);
	cJSON_AddStringToObject(j, "monitor", monitor);
	cJSON_AddStringToObject(j, "monitor_reason", why);
	cJSON_AddStringToObject(j, "agent", agent);
	cJSON_AddStringToObject(j, "engine", engine && *engine ? engine : "unknown");
	cJSON_AddStringToObject(j, "runs_as", hok ? rec_runs_as_name(hb.runs_as) : "");
	if (hok) {
		cJSON_AddNumberToObject(j, "heartbeat_age_s", (double)((s->now_ns - hb.ts_ns) / SH_NS_PER_MS) / 1000.0);
		add_time(j, "heartbeat_ts", hb.ts_ns);
	} else {
		cJSON_AddNullToObject(j, "heartbeat_age_s");
		cJSON_AddNullToObject(j, "heartbeat_ts");
	}

	/* Swarm's own view (with --docker-host) */
	if (sw) {
		cJSON *o = cJSON_AddObjectToObject(j, "swarm");
		cJSON_AddStringToObject(o, "state", sw->state);
		cJSON_AddStringToObject(o, "availability", sw->availability);
		cJSON_AddStringToObject(o, "role", sw->role);
		cJSON_AddBoolToObject(o, "leader", sw->leader);
	} else {
		cJSON_AddNullToObject(j, "swarm");
	}

	/* drained by whom */
	const char *by = "";
	const char *dstate = sok ? ds.state : skv ? "unreadable" : "none";
	if (skv && !sok)
		by = "swarmheal"; /* an unreadable state keeps the node counted as drained by us */
	else if (sok && (!strcmp(ds.state, "drained") || !strcmp(ds.state, "draining")))
		by = "swarmheal";
	else if (sw && !strcmp(sw->availability, "drain"))
		by = "person";
	cJSON_AddStringToObject(j, "drained_by", by);
	cJSON_AddStringToObject(j, "drain_state", dstate);
	cJSON_AddStringToObject(j, "drain_reason", sok ? ds.reason : skv ? swhy : "");
	add_time(j, "drain_since", sok ? ds.since_ns : 0);
	if (rkv) {
		cJSON *o = cJSON_AddObjectToObject(j, "request");
		cJSON_AddStringToObject(o, "reason", rok ? rq.reason : rwhy);
		cJSON_AddStringToObject(o, "requested_by", rok ? rq.requested_by : "");
		add_time(o, "ts", rok ? rq.ts_ns : 0);
		cJSON_AddBoolToObject(o, "readable", rok);
	} else {
		cJSON_AddNullToObject(j, "request");
	}
	if (hok && hb.cert_not_after_ns) {
		add_time(j, "cert_not_after", hb.cert_not_after_ns);
		cJSON_AddNumberToObject(j, "cert_days_left",
					(double)((hb.cert_not_after_ns - s->now_ns) / (86400 * NS_S)));
	} else {
		cJSON_AddNullToObject(j, "cert_not_after");
		cJSON_AddNullToObject(j, "cert_days_left");
	}
	if (detail) {
		if (sok) {
			cJSON_AddNumberToObject(j, "drain_flaps", (double)ds.flaps);
			cJSON_AddNumberToObject(j, "drain_fence", (double)ds.fence);
		}
		cJSON_AddItemToObject(j, "actions", actions_array(s, NULL, 20, id));
	}
	return j;
}

cJSON *cli_view_nodes(const cli_snap *s, const cli_filter *f)
{
	cJSON *j = list(s, "NodeList");
	cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
	size_t n;
	char **ids = node_ids(s, &n);
	for (size_t i = 0; i < n; i++)
		add_filtered(items, node_item(s, ids[i], 0), f);
	free_ids(ids, n);
	if (s->swarm_error[0])
		cJSON_AddStringToObject(j, "swarm_error", s->swarm_error);
	return j;
}

cJSON *cli_view_node(const cli_snap *s, const char *name)
{
	size_t n;
	char **ids = node_ids(s, &n);
	cJSON *j = NULL;
	for (size_t i = 0; i < n && !j; i++)
		if (!strcmp(ids[i], name))
			j = stamp(node_item(s, ids[i], 1), s, "Node");
	for (size_t i = 0; i < n && !j; i++) { /* or by hostname, as Swarm and the heartbeat name it */
		cJSON *it = node_item(s, ids[i], 0);
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(it, "hostname");
		int match = cJSON_IsString(h) && !strcmp(h->valuestring, name);
		cJSON_Delete(it);
		if (match)
			j = stamp(node_item(s, ids[i], 1), s, "Node");
	}
	free_ids(ids, n);
	return j;
}

/* ---- elections and controllers ---- */

cJSON *cli_view_elections(const cli_snap *s, const cli_filter *f)
{
	cJSON *j = list(s, "ElectionList");
	cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
	size_t cap = 64;
	rec_election_view *v = calloc(cap, sizeof(*v));
	size_t n = v ? rec_election_views(s->prefix, s->elections.kvs, s->elections.n, v, cap) : 0;
	for (size_t i = 0; i < n && i < cap; i++) {
		char *txt = rec_election_view_encode(&v[i]);
		cJSON *it = txt ? cJSON_Parse(txt) : NULL;
		free(txt);
		if (it)
			add_filtered(items, it, f);
	}
	free(v);
	return j;
}

static int list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && !strncmp(p, name, n))
			return 1;
		p += k + (p[k] == ',');
	}
	return 0;
}

static cJSON *controllers_array(const cli_snap *s, cJSON *needs)
{
	cJSON *arr = cJSON_CreateArray();
	rec_election_view *v = calloc(64, sizeof(*v));
	size_t nv = v ? rec_election_views(s->prefix, s->elections.kvs, s->elections.n, v, 64) : 0;
	for (size_t i = 0; i < s->nlast; i++) {
		const char *name = s->last_action_ctl[i];
		char ename[128];
		snprintf(ename, sizeof(ename), "controller.%s", name);
		const rec_election_view *e = NULL;
		for (size_t k = 0; k < nv && k < 64 && !e; k++)
			if (!strcmp(v[k].name, ename))
				e = &v[k];
		int expected = list_has(s->controllers, name);
		if (!expected && !(e && e->candidates) && !s->last_action[i].n)
			continue; /* a controller nobody runs, expects or ever ran */
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "name", name);
		if (e && e->candidates) {
			cJSON_AddStringToObject(c, "leader", e->leader);
			cJSON_AddNumberToObject(c, "fence", (double)e->fence);
		} else {
			cJSON_AddNullToObject(c, "leader");
			cJSON_AddNullToObject(c, "fence");
			if (needs && expected) {
				cJSON *w = cJSON_CreateObject();
				cJSON_AddStringToObject(w, "what", "controller");
				cJSON_AddStringToObject(w, "name", name);
				cJSON_AddStringToObject(w, "why",
							"no leader: no swarmheald runs it, or none reaches etcd");
				cJSON_AddItemToArray(needs, w);
			}
		}
		cJSON *sb = cJSON_AddArrayToObject(c, "standbys");
		for (size_t k = 0; e && k < e->nstandbys; k++)
			cJSON_AddItemToArray(sb, cJSON_CreateString(e->standbys[k]));
		if (s->last_action[i].n)
			cJSON_AddItemToObject(c, "last_action", action_item(&s->last_action[i].kvs[0]));
		else
			cJSON_AddNullToObject(c, "last_action");
		cJSON_AddItemToArray(arr, c);
	}
	free(v);
	return arr;
}

/* ---- certificates ---- */

static cJSON *cert_item(const cli_snap *s, const char *name, int detail, cJSON *needs)
{
	const etcd_kv *skv = find_kv(&s->cert_specs, s->prefix, REC_CERT_PATH_SPECS, name),
		      *tkv = find_kv(&s->cert_status, s->prefix, REC_CERT_PATH_STATUS, name);
	rec_cert_spec *sp = calloc(1, sizeof(*sp));
	rec_cert_status st;
	char swhy[300] = "", twhy[300] = "";
	int sok = sp && skv && !rec_cert_spec_parse(skv->value, skv->value_len, sp, swhy, sizeof(swhy));
	int tok = tkv && !rec_cert_status_parse(tkv->value, tkv->value_len, &st, twhy, sizeof(twhy));
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", name);
	cJSON_AddStringToObject(j, "common_name", sok ? sp->common_name : "");
	add_time(j, "not_after", tok ? st.not_after_ns : 0);
	if (tok && st.not_after_ns)
		cJSON_AddNumberToObject(j, "days_left", (double)((st.not_after_ns - s->now_ns) / (86400 * NS_S)));
	else
		cJSON_AddNullToObject(j, "days_left");
	int64_t renew = 0;
	if (tok && st.next_renewal_ns)
		renew = st.next_renewal_ns;
	else if (tok && sok && st.not_after_ns && sp->renew_before_ns)
		renew = st.not_after_ns - sp->renew_before_ns;
	add_time(j, "next_renewal", renew);
	cJSON_AddStringToObject(j, "serial", tok ? st.serial : "");
	cJSON_AddNumberToObject(j, "failures", tok ? (double)st.failures : 0);
	cJSON_AddStringToObject(j, "last_error", tok ? st.last_error : tkv ? twhy : "");
	const char *state;
	char why[800] = "";
	if (skv && !sok) {
		state = "bad-spec";
		snprintf(why, sizeof(why), "spec unreadable: %s", swhy);
	} else if (!skv) {
		state = "orphan";
		snprintf(why, sizeof(why), "status without a spec");
	} else if (!tkv || (tok && !st.not_after_ns)) {
		state = "not-issued";
	} else if (!tok) {
		state = "unreadable";
		snprintf(why, sizeof(why), "status unreadable: %s", twhy);
	} else if (st.not_after_ns <= s->now_ns) {
		state = "expired";
		snprintf(why, sizeof(why), "expired%s%s", st.last_error[0] ? ": " : "", st.last_error);
	} else if (renew && renew <= s->now_ns) {
		state = "renewal-due";
		snprintf(why, sizeof(why), "past its renewal time%s%s", st.last_error[0] ? ": " : "", st.last_error);
	} else {
		state = st.last_error[0] ? "failing" : "ok";
	}
	cJSON_AddStringToObject(j, "state", state);
	if (needs && (!strcmp(state, "expired") || !strcmp(state, "renewal-due") || !strcmp(state, "bad-spec"))) {
		cJSON *w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "what", "cert");
		cJSON_AddStringToObject(w, "name", name);
		cJSON_AddStringToObject(w, "why", why);
		cJSON_AddItemToArray(needs, w);
	}
	if (detail && sok) {
		cJSON *o = cJSON_AddObjectToObject(j, "spec");
		cJSON *d = cJSON_AddArrayToObject(o, "dns_names");
		for (size_t i = 0; i < sp->n_dns; i++)
			cJSON_AddItemToArray(d, cJSON_CreateString(sp->dns_names[i]));
		cJSON *ip = cJSON_AddArrayToObject(o, "ip_addresses");
		for (size_t i = 0; i < sp->n_ip; i++)
			cJSON_AddItemToArray(ip, cJSON_CreateString(sp->ip_addresses[i]));
		char dur[32];
		rec_duration_format(sp->duration_ns, dur, sizeof(dur));
		cJSON_AddStringToObject(o, "duration", dur);
		if (sp->renew_before_ns) {
			rec_duration_format(sp->renew_before_ns, dur, sizeof(dur));
			cJSON_AddStringToObject(o, "renew_before", dur);
		}
		cJSON_AddStringToObject(o, "key_type", rec_cert_key_type_name(sp->key_type));
		add_str_or_null(o, "files_cert", sp->has_files ? sp->files.cert : NULL);
		add_str_or_null(o, "secret", sp->has_secret ? sp->secret.name : NULL);
	}
	if (detail) {
		add_time(j, "not_before", tok ? st.not_before_ns : 0);
		add_time(j, "renewed_at", tok ? st.renewed_at_ns : 0);
		cJSON_AddItemToObject(j, "actions", actions_array(s, NULL, 20, name));
	}
	free(sp);
	return j;
}

static char **cert_names(const cli_snap *s, size_t *n)
{
	size_t cap = s->cert_specs.n + s->cert_status.n + 1, k = 0;
	char **v = calloc(cap, sizeof(char *)), id[256];
	if (!v) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < s->cert_specs.n; i++)
		if (key_id(&s->cert_specs.kvs[i], s->prefix, REC_CERT_PATH_SPECS, id, sizeof(id)))
			v[k++] = strdup(id);
	for (size_t i = 0; i < s->cert_status.n; i++)
		if (key_id(&s->cert_status.kvs[i], s->prefix, REC_CERT_PATH_STATUS, id, sizeof(id)))
			v[k++] = strdup(id);
	qsort(v, k, sizeof(char *), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < k; i++) {
		if (!v[i] || (u && !strcmp(v[u - 1], v[i]))) {
			free(v[i]);
			continue;
		}
		v[u++] = v[i];
	}
	*n = u;
	return v;
}

static cJSON *certs_array(const cli_snap *s, const cli_filter *f, cJSON *needs)
{
	cJSON *arr = cJSON_CreateArray();
	size_t n;
	char **names = cert_names(s, &n);
	for (size_t i = 0; i < n; i++)
		add_filtered(arr, cert_item(s, names[i], 0, needs), f);
	free_ids(names, n);
	return arr;
}

cJSON *cli_view_certs(const cli_snap *s, const cli_filter *f)
{
	cJSON *j = list(s, "CertList");
	cJSON_ReplaceItemInObject(j, "items", certs_array(s, f, NULL));
	return j;
}

cJSON *cli_view_cert(const cli_snap *s, const char *name)
{
	if (!find_kv(&s->cert_specs, s->prefix, REC_CERT_PATH_SPECS, name) &&
	    !find_kv(&s->cert_status, s->prefix, REC_CERT_PATH_STATUS, name))
		return NULL;
	return stamp(cert_item(s, name, 1, NULL), s, "Cert");
}

/* ---- services (rollback snapshots and the rollback controller's actions) ---- */

/*
 * A service's state comes from the newest rollback action naming it:
 * result "paused..." -> paused (a rollback that failed waits for a person),
 * kind "rollback" with result "started" -> rolling-back, kind "judge" or
 * "would-rollback" -> judging; anything else, or none -> ok.
 */
static const char *service_state(const cJSON *act)
{
	if (!act)
		return "ok";
	const char *kind = cJSON_GetObjectItemCaseSensitive(act, "kind")->valuestring,
		   *res = cJSON_GetObjectItemCaseSensitive(act, "result")->valuestring;
	if (!strncmp(res, "paused", 6))
		return "paused";
	if (!strcmp(kind, "rollback") && !strcmp(res, "started"))
		return "rolling-back";
	if (!strcmp(kind, "judge") || !strcmp(kind, "would-rollback"))
		return "judging";
	return "ok";
}

typedef struct svc_acc {
	char id[128];
	int64_t snaps, latest_version, latest_ts;
	int latest_healthy, digest_ok;
	cJSON *last_action; /* newest rollback action naming it (borrowed) */
} svc_acc;

static int svc_cmp(const void *a, const void *b)
{
	return strcmp(((const svc_acc *)a)->id, ((const svc_acc *)b)->id);
}

static svc_acc *svc_find(svc_acc *v, size_t n, const char *id)
{
	svc_acc k;
	snprintf(k.id, sizeof(k.id), "%s", id);
	return bsearch(&k, v, n, sizeof(*v), svc_cmp);
}

typedef struct tact {
	const char *target;
	size_t idx; /* in the range: 0 is the newest */
	cJSON *it;
} tact;

static int tact_cmp(const void *a, const void *b)
{
	const tact *x = a, *y = b;
	int c = strcmp(x->target, y->target);
	return c ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Services known from snapshots and rollback actions; acts holds the parsed actions (newest first). */
static svc_acc *services_collect(const cli_snap *s, size_t *nout, cJSON **acts)
{
	size_t cap = s->snapshots.n + s->rollback_actions.n + 1, n = 0;
	svc_acc *v = calloc(cap, sizeof(*v));
	*acts = cJSON_CreateArray();
	if (!v) {
		*nout = 0;
		return NULL;
	}
	char base[512];
	snprintf(base, sizeof(base), "%s/rollback/snapshots/", s->prefix);
	size_t blen = strlen(base);
	for (size_t i = 0; i < s->snapshots.n; i++) {
		const etcd_kv *kv = &s->snapshots.kvs[i];
		if (kv->key_len <= blen || memcmp(kv->key, base, blen))
			continue;
		const char *id = kv->key + blen, *slash = memchr(id, '/', kv->key_len - blen);
		if (!slash || (size_t)(slash - id) >= sizeof(v[0].id))
			continue;
		svc_acc *a = (n && !strncmp(v[n - 1].id, id, (size_t)(slash - id)) && !v[n - 1].id[slash - id])
				     ? &v[n - 1]
				     : &v[n++];
		snprintf(a->id, sizeof(a->id), "%.*s", (int)(slash - id), id);
		rec_rollback_snapshot r;
		char why[200];
		a->snaps++;
		if (rec_rollback_snapshot_parse(kv->value, kv->value_len, &r, why, sizeof(why)) == SH_OK) {
			if (r.version >= a->latest_version) {
				a->latest_version = r.version;
				a->latest_ts = r.ts_ns;
				a->latest_healthy = r.healthy;
				a->digest_ok = rec_rollback_snapshot_verify(&r);
			}
			rec_rollback_snapshot_free(&r);
		}
	}
	qsort(v, n, sizeof(*v), svc_cmp);
	size_t nsnap = n;
	/* the newest rollback record per service: actions sorted by target, newest first within one */
	size_t na = s->rollback_actions.n;
	tact *ta = calloc(na ? na : 1, sizeof(*ta));
	if (!ta) {
		*nout = n;
		return v;
	}
	for (size_t i = 0; i < na; i++) {
		cJSON *it = action_item(&s->rollback_actions.kvs[i]);
		cJSON_AddItemToArray(*acts, it);
		ta[i] = (tact){cJSON_GetObjectItemCaseSensitive(it, "target")->valuestring, i, it};
	}
	qsort(ta, na, sizeof(*ta), tact_cmp);
	for (size_t i = 0; i < na; i++) {
		if (!*ta[i].target || (i && !strcmp(ta[i - 1].target, ta[i].target)))
			continue; /* not a service, or an older record of the same one */
		svc_acc *a = svc_find(v, nsnap, ta[i].target);
		if (!a) {
			a = &v[n++];
			snprintf(a->id, sizeof(a->id), "%s", ta[i].target);
		}
		a->last_action = ta[i].it;
	}
	free(ta);
	qsort(v, n, sizeof(*v), svc_cmp);
	*nout = n;
	return v;
}

static cJSON *service_item(const svc_acc *a, const cli_snap *s)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", a->id);
	cJSON_AddStringToObject(j, "state", service_state(a->last_action));
	if (s->have_snapshots) {
		cJSON_AddNumberToObject(j, "snapshots", (double)a->snaps);
		if (a->snaps) {
			cJSON_AddNumberToObject(j, "latest_version", (double)a->latest_version);
			add_time(j, "latest_ts", a->latest_ts);
			cJSON_AddBoolToObject(j, "latest_healthy", a->latest_healthy);
			cJSON_AddBoolToObject(j, "digest_ok", a->digest_ok);
		}
	}
	if (a->last_action)
		cJSON_AddItemToObject(j, "last_action", cJSON_Duplicate(a->last_action, 1));
	else
		cJSON_AddNullToObject(j, "last_action");
	return j;
}

static cJSON *services_array(const cli_snap *s, const cli_filter *f, int only_attention, cJSON *needs)
{
	cJSON *arr = cJSON_CreateArray(), *acts;
	size_t n;
	svc_acc *v = services_collect(s, &n, &acts);
	for (size_t i = 0; i < n; i++) {
		cJSON *it = service_item(&v[i], s);
		const char *st = cJSON_GetObjectItemCaseSensitive(it, "state")->valuestring;
		if (needs && !strcmp(st, "paused")) {
			cJSON *w = cJSON_CreateObject();
			cJSON_AddStringToObject(w, "what", "service");
			cJSON_AddStringToObject(w, "name", v[i].id);
			cJSON_AddStringToObject(w, "why", "rollback paused for a person");
			cJSON_AddItemToArray(needs, w);
		}
		if (only_attention && !strcmp(st, "ok"))
			cJSON_Delete(it);
		else
			add_filtered(arr, it, f);
	}
	free(v);
	cJSON_Delete(acts);
	return arr;
}

cJSON *cli_view_services(const cli_snap *s, const cli_filter *f)
{
	cJSON *j = list(s, "ServiceList");
	cJSON_ReplaceItemInObject(j, "items", services_array(s, f, 0, NULL));
	return j;
}

cJSON *cli_view_service(const cli_snap *s, const char *name)
{
	cJSON *acts;
	size_t n;
	svc_acc *v = services_collect(s, &n, &acts);
	svc_acc *a = v ? svc_find(v, n, name) : NULL;
	cJSON *j = NULL;
	if (a) {
		j = stamp(service_item(a, s), s, "Service");
		cJSON *snaps = cJSON_AddArrayToObject(j, "snapshot_list");
		char base[512];
		snprintf(base, sizeof(base), "%s/rollback/snapshots/%s/", s->prefix, name);
		size_t blen = strlen(base);
		for (size_t i = 0; i < s->snapshots.n; i++) {
			const etcd_kv *kv = &s->snapshots.kvs[i];
			if (kv->key_len <= blen || memcmp(kv->key, base, blen))
				continue;
			rec_rollback_snapshot r;
			char why[200];
			cJSON *o = cJSON_CreateObject();
			if (rec_rollback_snapshot_parse(kv->value, kv->value_len, &r, why, sizeof(why)) == SH_OK) {
				cJSON_AddNumberToObject(o, "version", (double)r.version);
				add_time(o, "ts", r.ts_ns);
				cJSON_AddBoolToObject(o, "healthy", r.healthy);
				cJSON_AddStringToObject(o, "sha256", r.sha256);
				cJSON_AddBoolToObject(o, "digest_ok", rec_rollback_snapshot_verify(&r));
				rec_rollback_snapshot_free(&r);
			} else {
				cJSON_AddStringToObject(o, "error", why);
			}
			cJSON_AddItemToArray(snaps, o);
		}
		cJSON *failures = cJSON_AddArrayToObject(j, "actions");
		int size = cJSON_GetArraySize(acts);
		for (int i = size - 1; i >= 0; i--) { /* time order */
			const cJSON *it = cJSON_GetArrayItem(acts, i);
			if (!strcmp(cJSON_GetObjectItemCaseSensitive(it, "target")->valuestring, name))
				cJSON_AddItemToArray(failures, cJSON_Duplicate(it, 1));
		}
	}
	free(v);
	cJSON_Delete(acts);
	return j;
}

/* ---- status ---- */

static cJSON *arbiter_obj(const cli_snap *s, cJSON *needs)
{
	cJSON *j = cJSON_CreateObject();
	rec_arbiter_mode m;
	char why[200] = "";
	const char *record = "absent";
	enum rec_mode mode = REC_MODE_NORMAL;
	char reason[400] = "no /arbiter/mode record: every controller acts normally";
	if (s->arbiter_present) {
		if (rec_arbiter_mode_parse(s->arbiter.value, s->arbiter.value_len, &m, why, sizeof(why))) {
			record = "unreadable";
			mode = REC_MODE_READ_ONLY;
			snprintf(reason, sizeof(reason), "record unreadable (read as read-only): %s", why);
		} else {
			record = "present";
			mode = m.mode;
			snprintf(reason, sizeof(reason), "%s", m.reason);
		}
	}
	cJSON_AddStringToObject(j, "mode", rec_mode_name(mode));
	cJSON_AddStringToObject(j, "reason", reason);
	cJSON_AddStringToObject(j, "record", record);
	add_time(j, "since", s->arbiter_present && !strcmp(record, "present") ? m.since_ns : 0);
	cJSON *z = cJSON_AddArrayToObject(j, "zones");
	for (size_t i = 0; !strcmp(record, "present") && i < m.nzones; i++)
		cJSON_AddItemToArray(z, cJSON_CreateString(m.zones[i]));
	if (mode == REC_MODE_READ_ONLY && needs) {
		cJSON *w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "what", "arbiter");
		cJSON_AddStringToObject(w, "name", "mode");
		char txt[500];
		snprintf(txt, sizeof(txt), "read-only: %s", reason);
		cJSON_AddStringToObject(w, "why", txt);
		cJSON_AddItemToArray(needs, w);
	}
	return j;
}

static cJSON *endpoints_array(const cli_snap *s, cJSON *needs)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < s->neps; i++) {
		const cli_endpoint *e = &s->eps[i];
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "endpoint", e->endpoint);
		cJSON_AddBoolToObject(j, "reachable", e->reachable);
		if (e->reachable) {
			char id[24];
			cJSON_AddStringToObject(j, "version", e->version);
			cJSON_AddBoolToObject(j, "leader", e->member_id == e->leader);
			snprintf(id, sizeof(id), "%llx", (unsigned long long)e->member_id);
			cJSON_AddStringToObject(j, "member_id", id);
			cJSON_AddNumberToObject(j, "db_size", (double)e->db_size);
			cJSON_AddNumberToObject(j, "quota", (double)s->etcd_quota);
			cJSON_AddNumberToObject(j, "quota_use_pct",
						s->etcd_quota > 0 ? (double)(e->db_size * 1000 / s->etcd_quota) / 10.0
								  : 0);
			if (s->etcd_quota > 0 && e->db_size * 10 >= s->etcd_quota * 8 && needs) {
				cJSON *w = cJSON_CreateObject();
				cJSON_AddStringToObject(w, "what", "etcd");
				cJSON_AddStringToObject(w, "name", e->endpoint);
				cJSON_AddStringToObject(w, "why",
							"database above 80% of its quota: compact and defragment");
				cJSON_AddItemToArray(needs, w);
			}
		} else {
			cJSON_AddStringToObject(j, "error", e->error);
			if (needs) {
				cJSON *w = cJSON_CreateObject();
				cJSON_AddStringToObject(w, "what", "etcd");
				cJSON_AddStringToObject(w, "name", e->endpoint);
				cJSON_AddStringToObject(w, "why", e->error);
				cJSON_AddItemToArray(needs, w);
			}
		}
		cJSON_AddItemToArray(arr, j);
	}
	return arr;
}

cJSON *cli_view_status(const cli_snap *s, const cli_filter *f, int64_t nactions)
{
	cJSON *j = cJSON_CreateObject(), *needs = cJSON_CreateArray();
	cJSON_AddStringToObject(j, "kind", "Status");
	add_time(j, "time", s->now_ns);
	cJSON_AddStringToObject(j, "prefix", s->prefix);
	cJSON_AddNumberToObject(j, "revision", (double)s->revision);
	cJSON_AddItemToObject(j, "etcd", endpoints_array(s, needs));
	cJSON_AddItemToObject(j, "controllers", controllers_array(s, needs));
	cJSON_AddItemToObject(j, "arbiter", arbiter_obj(s, needs));
	cJSON *nodes = cli_view_nodes(s, f);
	cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(nodes, "items"), *it;
	cJSON_ArrayForEach(it, items)
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "monitor")->valuestring, "unmonitored"))
			continue;
		cJSON *w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "what", "node");
		cJSON_AddStringToObject(w, "name", cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring);
		cJSON_AddStringToObject(w, "why",
					cJSON_GetObjectItemCaseSensitive(it, "monitor_reason")->valuestring);
		cJSON_AddItemToArray(needs, w);
	}
	cJSON_AddItemToObject(j, "nodes", items);
	const cJSON *swe = cJSON_GetObjectItemCaseSensitive(nodes, "swarm_error");
	if (cJSON_IsString(swe))
		cJSON_AddStringToObject(j, "swarm_error", swe->valuestring);
	cJSON_Delete(nodes);
	cJSON_AddItemToObject(j, "services", services_array(s, NULL, 1, needs));
	cJSON_AddItemToObject(j, "certs", certs_array(s, NULL, needs));
	cJSON_AddItemToObject(j, "actions", actions_array(s, NULL, nactions, NULL));
	cJSON_AddBoolToObject(j, "degraded", cJSON_GetArraySize(needs) > 0);
	cJSON_AddItemToObject(j, "needs_person", needs);
	return j;
}
