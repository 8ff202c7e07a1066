/* SPDX-License-Identifier: MIT */
/* drain_ctl.c - node-drain controller shell: gather observed state, decide, act through the engine, record in etcd */
#include "drain_ctl.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_util.h"

static drain_mem *mem_for(drain_ctl *d, const char *id)
{
	for (size_t i = 0; i < d->nmem; i++)
		if (!strcmp(d->mem[i].id, id))
			return &d->mem[i];
	drain_mem *nm = realloc(d->mem, (d->nmem + 1) * sizeof(*nm));
	if (!nm)
		return NULL;
	d->mem = nm;
	drain_mem *m = &d->mem[d->nmem++];
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	return m;
}

void drain_ctl_release(drain_ctl *d)
{
	ctl_queue_free(d->q);
	d->q = NULL;
	free(d->mem);
	d->mem = NULL;
	d->nmem = 0;
}

/* the part of a key after the last '/' */
static const char *leaf(const etcd_kv *kv)
{
	const char *s = strrchr(kv->key, '/');
	return s ? s + 1 : kv->key;
}

static sh_err range_prefix(drain_ctl *d, const char *sub, etcd_range_result *r)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s/", d->x.prefix, sub);
	etcd_range_opts o = {.prefix = 1};
	sh_err e = etcd_range(d->x.etcd, p, &o, r);
	if (e)
		ctl_log("error", d->x.name, "cannot read %s | error=\"%s\"", p, etcd_errmsg(d->x.etcd));
	return e;
}

static char *state_json(const char *state, const char *reason, int flaps, int64_t fence)
{
	char ts[40];
	sh_rfc3339(sh_real_ns(), ts, sizeof(ts));
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "state", state);
	cJSON_AddStringToObject(j, "reason", reason);
	cJSON_AddStringToObject(j, "since", ts);
	cJSON_AddNumberToObject(j, "flaps", flaps);
	cJSON_AddNumberToObject(j, "fence", (double)fence);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

/* drain or restore one node: record intent (fenced), call the engine, record the result */
static sh_err act_availability(drain_ctl *d, const char *id, const char *avail, const char *kind, const char *reason,
			       const char *final_state, const char *prev_state_json, int flaps)
{
	char skey[300];
	snprintf(skey, sizeof(skey), "%s/drain/state/%s", d->x.prefix, id);
	if (d->x.dry_run) {
		drain_mem *m = mem_for(d, id);
		char note[256];
		snprintf(note, sizeof(note), "would-%s %s", kind, reason);
		if (m && !strcmp(m->last_note, note))
			return SH_OK;
		if (m)
			snprintf(m->last_note, sizeof(m->last_note), "%s", note);
		atomic_fetch_add(&d->x.m->dry_runs, 1);
		char k[32];
		snprintf(k, sizeof(k), "would-%s", kind);
		return ctl_record(&d->x, k, id, reason, "dry-run", NULL, NULL);
	}
	int64_t fence = d->x.el ? d->x.el->rev : 0;
	char *pending = state_json(!strcmp(avail, "drain") ? "draining" : "restoring", reason, flaps, fence);
	sh_err e = ctl_record(&d->x, kind, id, reason, "started", skey, pending);
	free(pending);
	if (e)
		return e;
	int64_t t0 = sh_mono_ns();
	sh_err de = dock_node_set_availability(d->x.dock, id, avail);
	atomic_fetch_add(&d->x.m->engine_ns_total, sh_mono_ns() - t0);
	atomic_fetch_add(&d->x.m->engine_calls, 1);
	int is_drain = !strcmp(avail, "drain");
	if (de == SH_OK) {
		atomic_fetch_add(is_drain ? &d->x.m->drains_ok : &d->x.m->restores_ok, 1);
		char *done = state_json(final_state, reason, flaps, fence);
		e = ctl_record(&d->x, kind, id, reason, "ok", skey, done);
		free(done);
		return e;
	}
	atomic_fetch_add(is_drain ? &d->x.m->drains_failed : &d->x.m->restores_failed, 1);
	char res[400];
	snprintf(res, sizeof(res), "failed: %s", dock_errmsg(d->x.dock));
	/* put the state back so the next pass decides afresh */
	return ctl_record(&d->x, kind, id, reason, res, skey, prev_state_json ? prev_state_json : "{\"state\":\"none\"}");
}

typedef struct persisted {
	enum drain_state st;
	int pending; /* "draining"/"restoring": an action a previous leader did not finish */
	int flaps;
	int64_t since_real;
	char *raw;
} persisted;

static void parse_state(drain_ctl *d, const etcd_kv *kv, persisted *p)
{
	memset(p, 0, sizeof(*p));
	cJSON *j = cJSON_ParseWithLength(kv->value, kv->value_len);
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "state");
	const cJSON *since = cJSON_GetObjectItemCaseSensitive(j, "since");
	const cJSON *flaps = cJSON_GetObjectItemCaseSensitive(j, "flaps");
	if (!cJSON_IsString(st) || drain_state_parse(st->valuestring, &p->st)) {
		if (!(cJSON_IsString(st) && !strcmp(st->valuestring, "restoring"))) {
			ctl_log("warn", d->x.name, "ignoring malformed drain state | key=%s", kv->key);
			cJSON_Delete(j);
			return;
		}
		p->st = DRAIN_DRAINED;
		p->pending = 2;
	} else if (!strcmp(st->valuestring, "draining")) {
		p->pending = 1;
	}
	if (cJSON_IsString(since))
		sh_parse_rfc3339(since->valuestring, &p->since_real);
	if (cJSON_IsNumber(flaps) && flaps->valuedouble >= 0 && flaps->valuedouble < 32)
		p->flaps = flaps->valueint;
	p->raw = strndup(kv->value, kv->value_len);
	cJSON_Delete(j);
}

sh_err drain_reconcile(drain_ctl *d)
{
	atomic_fetch_add(&d->x.m->reconciles, 1);
	sh_err e;
	dock_node_list nl;
	int64_t t0 = sh_mono_ns();
	if ((e = dock_nodes_list(d->x.dock, &nl))) {
		atomic_fetch_add(&d->x.m->reconcile_errors, 1);
		ctl_log("error", d->x.name, "cannot list nodes | error=\"%s\"", dock_errmsg(d->x.dock));
		return e;
	}
	atomic_fetch_add(&d->x.m->engine_ns_total, sh_mono_ns() - t0);
	atomic_fetch_add(&d->x.m->engine_calls, 1);
	etcd_range_result hb, st, rq;
	if ((e = range_prefix(d, "nodes", &hb))) {
		dock_node_list_free(&nl);
		atomic_fetch_add(&d->x.m->reconcile_errors, 1);
		return e;
	}
	if ((e = range_prefix(d, "drain/state", &st))) {
		etcd_range_result_free(&hb);
		dock_node_list_free(&nl);
		atomic_fetch_add(&d->x.m->reconcile_errors, 1);
		return e;
	}
	if ((e = range_prefix(d, "drain/requests", &rq))) {
		etcd_range_result_free(&hb);
		etcd_range_result_free(&st);
		dock_node_list_free(&nl);
		atomic_fetch_add(&d->x.m->reconcile_errors, 1);
		return e;
	}
	char mode[32];
	ctl_arbiter_mode(&d->x, mode, sizeof(mode));
	drain_policy pol = d->pol;
	pol.read_only = !strcmp(mode, "read-only");

	size_t n = nl.n;
	drain_node *nodes = calloc(n ? n : 1, sizeof(*nodes));
	persisted *ps = calloc(n ? n : 1, sizeof(*ps));
	char (*zones)[64] = calloc(n ? n : 1, 64);
	int64_t now = sh_mono_ns(), now_real = sh_real_ns();
	int any_request = 0;
	for (size_t i = 0; i < n; i++) {
		dock_node *dn = &nl.v[i];
		drain_node *x = &nodes[i];
		x->id = dn->id;
		x->hostname = dn->hostname;
		x->swarm_state = dn->state;
		x->availability = dn->availability;
		const char *z = dock_node_label(dn, "zone");
		for (size_t k = 0; k < hb.n; k++) {
			if (strcmp(leaf(&hb.kvs[k]), dn->id))
				continue;
			x->hb_present = 1;
			cJSON *j = cJSON_ParseWithLength(hb.kvs[k].value, hb.kvs[k].value_len);
			const cJSON *eng = cJSON_GetObjectItemCaseSensitive(j, "engine");
			const cJSON *hz = cJSON_GetObjectItemCaseSensitive(j, "zone");
			if (!cJSON_IsString(eng))
				ctl_log("warn", d->x.name, "heartbeat without engine state, taken as up | key=%s",
					hb.kvs[k].key);
			x->hb_engine_up = !cJSON_IsString(eng) || strcmp(eng->valuestring, "down");
			if (!z && cJSON_IsString(hz) && *hz->valuestring) {
				snprintf(zones[i], 64, "%s", hz->valuestring);
				z = zones[i];
			}
			cJSON_Delete(j);
		}
		x->zone = z;
		for (size_t k = 0; k < st.n; k++)
			if (!strcmp(leaf(&st.kvs[k]), dn->id))
				parse_state(d, &st.kvs[k], &ps[i]);
		x->state = ps[i].st;
		x->flaps = ps[i].flaps;
		x->since_ns = ps[i].since_real ? now - (now_real - ps[i].since_real) : now;
		for (size_t k = 0; k < rq.n; k++)
			if (!strcmp(leaf(&rq.kvs[k]), dn->id))
				x->requested = any_request = 1;
		drain_mem *m = mem_for(d, dn->id);
		if (m) {
			if (drain_node_dead(x)) {
				if (!m->unhealthy_since)
					m->unhealthy_since = now;
				m->healthy_since = 0;
			} else {
				if (!m->healthy_since)
					m->healthy_since = now;
				m->unhealthy_since = 0;
			}
			x->unhealthy_since_ns = m->unhealthy_since;
			x->healthy_since_ns = m->healthy_since;
		}
	}
	/* finish what a previous leader started (its intent is recorded, the engine call may not be) */
	for (size_t i = 0; i < n && e == SH_OK; i++) {
		if (ps[i].pending == 1 && strcmp(nodes[i].availability, "drain")) {
			e = act_availability(d, nodes[i].id, "drain", "drain", "finishing a drain a previous leader started",
					     "drained", NULL, ps[i].flaps);
			nodes[i].availability = "drain";
		} else if (ps[i].pending == 2 && strcmp(nodes[i].availability, "active")) {
			e = act_availability(d, nodes[i].id, "active", "restore",
					     "finishing a restore a previous leader started", "restored", NULL, ps[i].flaps);
			nodes[i].availability = "active";
			nodes[i].state = DRAIN_RESTORED;
		} else if (ps[i].pending == 2) {
			nodes[i].state = DRAIN_RESTORED;
		}
	}
	/* services with a disruption budget, only when a manual request needs them */
	dock_service_list sl = {0};
	drain_service *svcs = NULL;
	size_t nsvc = 0;
	dock_task_list *tls = NULL;
	if (e == SH_OK && any_request && dock_services_list(d->x.dock, &sl) == SH_OK) {
		svcs = calloc(sl.n ? sl.n : 1, sizeof(*svcs));
		tls = calloc(sl.n ? sl.n : 1, sizeof(*tls));
		for (size_t s = 0; s < sl.n && svcs && tls; s++) {
			const cJSON *lab = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sl.v[s].spec, "Labels"),
									    "swarmheal.min-available");
			if (!cJSON_IsString(lab))
				continue;
			char f[200];
			snprintf(f, sizeof(f), "{\"service\":[\"%s\"],\"desired-state\":[\"running\"]}", sl.v[s].id);
			if (dock_tasks_list(d->x.dock, f, &tls[nsvc]))
				continue;
			drain_service *sv = &svcs[nsvc];
			sv->name = sl.v[s].name;
			sv->min_available = lab->valuestring;
			sv->replicas = sl.v[s].replicas;
			sv->task_nodes = calloc(tls[nsvc].n ? tls[nsvc].n : 1, sizeof(char *));
			for (size_t t = 0; t < tls[nsvc].n && sv->task_nodes; t++)
				if (!strcmp(tls[nsvc].v[t].state, "running"))
					sv->task_nodes[sv->ntasks++] = tls[nsvc].v[t].node_id;
			nsvc++;
		}
	}
	drain_action acts[64];
	size_t na = e == SH_OK ? drain_decide(&pol, nodes, n, svcs, nsvc, now, acts, 64) : 0;
	if (!d->q)
		d->q = ctl_queue_new(SH_NS_PER_S, 60 * SH_NS_PER_S, 10, 20);
	/* records first; engine actions go through the queue (one per node, backoff, rate) */
	for (size_t a = 0; a < na && e == SH_OK; a++) {
		drain_action *ac = &acts[a];
		drain_node *x = &nodes[ac->node];
		drain_mem *m = mem_for(d, x->id);
		if (ac->kind == DRAIN_ACT_DRAIN || ac->kind == DRAIN_ACT_RESTORE) {
			if (d->q && ctl_queue_backing_off(d->q, x->id, now))
				continue; /* an engine call for this node failed recently: wait */
			if (d->q)
				ctl_queue_add(d->q, x->id, now);
			continue;
		}
		if (ac->kind == DRAIN_ACT_FORGET) {
			char skey[300];
			snprintf(skey, sizeof(skey), "%s/drain/state/%s", d->x.prefix, x->id);
			char *sj = state_json(drain_state_name(ac->new_state), ac->reason, ac->flaps, d->x.el ? d->x.el->rev : 0);
			e = d->x.dry_run ? SH_OK : ctl_record(&d->x, "hands-off", x->id, ac->reason, "recorded", skey, sj);
			free(sj);
			if (m)
				m->last_note[0] = '\0';
		} else if (ac->kind == DRAIN_ACT_REFUSE) {
			if (m && !strcmp(m->last_note, ac->reason))
				continue; /* already recorded this episode */
			if (m)
				snprintf(m->last_note, sizeof(m->last_note), "%s", ac->reason);
			atomic_fetch_add(&d->x.m->refusals, 1);
			e = ctl_record(&d->x, "refuse", x->id, ac->reason, "refused", NULL, NULL);
		}
	}
	char key[64];
	while (e == SH_OK && d->q && ctl_queue_get(d->q, sh_mono_ns(), key, sizeof(key))) {
		drain_action *ac = NULL;
		for (size_t a = 0; a < na && !ac; a++)
			if ((acts[a].kind == DRAIN_ACT_DRAIN || acts[a].kind == DRAIN_ACT_RESTORE) &&
			    !strcmp(nodes[acts[a].node].id, key))
				ac = &acts[a];
		if (!ac) {
			ctl_queue_done(d->q, key, sh_mono_ns(), 1); /* no longer needed */
			continue;
		}
		drain_node *x = &nodes[ac->node];
		drain_mem *m = mem_for(d, x->id);
		long failed_before = atomic_load(&d->x.m->drains_failed) + atomic_load(&d->x.m->restores_failed);
		if (ac->kind == DRAIN_ACT_DRAIN)
			/* a manual request stays: the node stays drained until it is removed */
			e = act_availability(d, x->id, "drain", "drain", ac->reason, "drained", ps[ac->node].raw, ac->flaps);
		else
			e = act_availability(d, x->id, "active", "restore", ac->reason, "restored", ps[ac->node].raw,
					     ac->flaps);
		int ok = atomic_load(&d->x.m->drains_failed) + atomic_load(&d->x.m->restores_failed) == failed_before;
		ctl_queue_done(d->q, key, sh_mono_ns(), e == SH_OK && ok);
		if (m && !d->x.dry_run)
			m->last_note[0] = '\0'; /* a dry run keeps its note: one "would" record per episode */
	}
	if (d->q)
		atomic_store(&d->x.m->queue_depth, (long)ctl_queue_len(d->q));
	for (size_t s = 0; s < nsvc; s++) {
		free(svcs[s].task_nodes);
		dock_task_list_free(&tls[s]);
	}
	free(svcs);
	free(tls);
	dock_service_list_free(&sl);
	for (size_t i = 0; i < n; i++)
		free(ps[i].raw);
	free(ps);
	free(zones);
	free(nodes);
	etcd_range_result_free(&hb);
	etcd_range_result_free(&st);
	etcd_range_result_free(&rq);
	dock_node_list_free(&nl);
	if (e && e != SH_E_NOT_LEADER)
		atomic_fetch_add(&d->x.m->reconcile_errors, 1);
	return e;
}
