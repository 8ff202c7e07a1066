/* SPDX-License-Identifier: MIT */
/* arbiter_ctl.c - arbiter shell: observe nodes, heartbeats, drain states and managers -> decide (pure) -> fenced records */
#include "arbiter_ctl.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec_election.h"
#include "rec_heartbeat.h"
#include "sh_index.h"
#include "sh_util.h"

#define MAX_MANAGERS 9
#define FORCE_TIMEOUT_MS 60000L /* POST /swarm/init with ForceNewCluster: raft restarts on the node */

typedef struct mgr_conn {
	char host[256];
	dock_client *c;       /* NULL: use ctl's own engine client */
	dock_info info;
	int answers, has_leader;
	char zone[64], err[300];
} mgr_conn;

typedef struct seen_set { /* node IDs whose running heartbeat this process has seen, with their zone */
	char **ids;
	char (*zones)[64];
	size_t n, cap;
} seen_set;

typedef struct arb_state {
	char zone[64];            /* where this replica sits ("" unknown) */
	char name[128];           /* HOST:PID, the runtime's election proposal */
	int replica_written;
	etcd_client *etcd;        /* for release: delete the replica record */
	char prefix[200];
	dock_node_list cache;     /* the last node list that could be read (the swarm may lose its quorum) */
	int have_cache;
	seen_set seen;
	int64_t term;             /* fence of the leadership the memory below belongs to */
	arbiter_mem mem;
	arbiter_qmem qmem;
	int64_t qsince_real;
	int alone_noted;
	char dry_noted[140];      /* dry run: the last would-be mode recorded */
	int list_failing;         /* the node list failed last pass (logged once per episode) */
	mgr_conn m[MAX_MANAGERS];
	size_t nm;
} arb_state;

static const char *leaf(const char *key)
{
	const char *s = strrchr(key, '/');
	return s ? s + 1 : key;
}

static int seen_has(const seen_set *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->ids[i], id))
			return 1;
	return 0;
}

static void seen_add(seen_set *s, const char *id, const char *zone)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->ids[i], id)) {
			if (zone && *zone)
				snprintf(s->zones[i], 64, "%s", zone);
			return;
		}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->ids, nc * sizeof(*v));
		if (v)
			s->ids = v;
		char(*z)[64] = realloc(s->zones, nc * 64);
		if (z)
			s->zones = z;
		if (!v || !z)
			return;
		s->cap = nc;
	}
	char *d = strdup(id);
	if (d) {
		snprintf(s->zones[s->n], 64, "%s", zone ? zone : "");
		s->ids[s->n++] = d;
	}
}

static const char *node_zone_from_cache(const arb_state *st, const char *id)
{
	for (size_t i = 0; st->have_cache && i < st->cache.n; i++)
		if (!strcmp(st->cache.v[i].id, id))
			return dock_node_label(&st->cache.v[i], "zone");
	return NULL;
}

/* the zone of the node behind an engine: its label, else its heartbeat's zone */
static void zone_of_engine(ctl_ctx *x, arb_state *st, dock_client *c, const char *node_id, char *out, size_t len)
{
	out[0] = '\0';
	const char *z = node_zone_from_cache(st, node_id);
	if (z) {
		snprintf(out, len, "%s", z);
		return;
	}
	dock_node n;
	if (c && dock_node_inspect(c, node_id, &n) == SH_OK) {
		z = dock_node_label(&n, "zone");
		if (z)
			snprintf(out, len, "%s", z);
		dock_node_free(&n);
		if (out[0])
			return;
	}
	char key[300];
	etcd_kv kv;
	if (rec_heartbeat_key(key, sizeof(key), x->common.prefix, node_id) == 0 &&
	    etcd_get(x->etcd, key, &kv, NULL) == SH_OK) {
		rec_heartbeat hb;
		char why[160];
		if (rec_heartbeat_parse(kv.value, kv.value_len, &hb, why, sizeof(why)) == SH_OK)
			snprintf(out, len, "%s", hb.zone);
		etcd_kv_free(&kv);
	}
}

static void write_replica(ctl_ctx *x, arb_state *st)
{
	char key[400];
	rec_arbiter_replica r = {.ts_ns = sh_real_ns()};
	snprintf(r.name, sizeof(r.name), "%s", st->name);
	snprintf(r.zone, sizeof(r.zone), "%s", st->zone);
	char *v = rec_arbiter_replica_encode(&r);
	if (v && rec_arbiter_replica_key(key, sizeof(key), x->common.prefix, st->name) == 0 &&
	    etcd_put(x->etcd, key, v, strlen(v), NULL, NULL, NULL) == SH_OK)
		st->replica_written = 1;
	else
		sh_log("warn", x->def->name, "cannot record this replica's zone | error=\"%s\"", etcd_errmsg(x->etcd));
	free(v);
}

static sh_err arb_init(ctl_ctx *x, void **state)
{
	const arbiter_opts *o = x->cfg;
	arb_state *st = calloc(1, sizeof(*st));
	if (!st)
		return SH_E_NOMEM;
	*state = st;
	char host[100] = "";
	gethostname(host, sizeof(host) - 1);
	snprintf(st->name, sizeof(st->name), "%s:%d", host, (int)getpid());
	snprintf(st->prefix, sizeof(st->prefix), "%s", x->common.prefix);
	st->etcd = x->etcd;
	/* the managers the quorum guard watches, each with a short timeout */
	const char *list = o->managers && *o->managers ? o->managers : NULL;
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	char *save = NULL;
	for (char *t = list ? strtok_r(buf, ",", &save) : NULL; t && st->nm < MAX_MANAGERS; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (!*t)
			continue;
		mgr_conn *m = &st->m[st->nm];
		snprintf(m->host, sizeof(m->host), "%s", t);
		dock_config dc = {.host = m->host, .timeout_ms = (long)o->manager_timeout_ms};
		char err[300];
		if (dock_client_new(&dc, &m->c, err, sizeof(err))) {
			sh_log("error", x->def->name, "cannot use manager engine '%s': %s", m->host, err);
			continue;
		}
		ctl_dock_guard(x, m->c); /* a probe given up is never taken for a manager without a leader */
		st->nm++;
	}
	if (!list && x->dock) {
		snprintf(st->m[0].host, sizeof(st->m[0].host), "%s", dock_host(x->dock));
		st->nm = 1; /* c NULL: the runtime's own client */
	}
	/* where this replica sits */
	if (o->zone && *o->zone) {
		snprintf(st->zone, sizeof(st->zone), "%s", o->zone);
	} else if (x->dock) {
		dock_info in;
		if (dock_info_get(x->dock, &in) == SH_OK && in.node_id[0])
			zone_of_engine(x, st, x->dock, in.node_id, st->zone, sizeof(st->zone));
	}
	sh_log("info", x->def->name, "arbiter replica | name=%s zone=\"%s\" managers=%zu force_new_cluster=%s", st->name,
	       st->zone, st->nm, o->allow_force ? "allowed" : "off");
	write_replica(x, st);
	return SH_OK;
}

static void arb_release(void *state)
{
	arb_state *st = state;
	if (!st)
		return;
	char key[400];
	if (st->replica_written && st->etcd && rec_arbiter_replica_key(key, sizeof(key), st->prefix, st->name) == 0)
		etcd_delete(st->etcd, key, NULL, NULL);
	for (size_t i = 0; i < st->nm; i++)
		if (st->m[i].c)
			dock_client_free(st->m[i].c);
	if (st->have_cache)
		dock_node_list_free(&st->cache);
	for (size_t i = 0; i < st->seen.n; i++)
		free(st->seen.ids[i]);
	free(st->seen.ids);
	free(st->seen.zones);
	free(st);
}

/* ---- observe ---- */

typedef struct obs_node {
	char id[64], zone[64], monitor[16];
	const dock_node *dn; /* in the cache, or NULL */
} obs_node;

/* every node known from Swarm (cache) and from heartbeats; the arbiter_node array points into obs */
static size_t observe(ctl_ctx *x, arb_state *st, const etcd_range_result *hb, const etcd_range_result *ds,
		      int64_t drain_fence, obs_node **obs_out, arbiter_node **out)
{
	size_t cap = (st->have_cache ? st->cache.n : 0) + hb->n + st->seen.n + 1;
	obs_node *obs = calloc(cap, sizeof(*obs));
	arbiter_node *v = calloc(cap, sizeof(*v));
	const char **ids = calloc(cap, sizeof(*ids));
	size_t n = 0;
	if (!obs || !v || !ids) {
		free(obs);
		free(v);
		free(ids);
		*obs_out = NULL;
		*out = NULL;
		return 0;
	}
	for (size_t i = 0; st->have_cache && i < st->cache.n; i++) {
		const dock_node *d = &st->cache.v[i];
		snprintf(obs[n].id, sizeof(obs[n].id), "%s", d->id);
		const char *z = dock_node_label(d, "zone");
		snprintf(obs[n].zone, sizeof(obs[n].zone), "%s", z ? z : "");
		obs[n].dn = d;
		n++;
	}
	/* heartbeats of nodes Swarm did not list (or no list at all) */
	for (size_t k = 0; k < hb->n; k++) {
		const char *id = leaf(hb->kvs[k].key);
		int found = 0;
		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(obs[i].id, id);
		if (!found && n < cap && strlen(id) < sizeof(obs[n].id)) {
			snprintf(obs[n].id, sizeof(obs[n].id), "%s", id);
			n++;
		}
	}
	/* nodes whose heartbeat this replica saw and that neither list shows now: lost, not forgotten */
	for (size_t k = 0; k < st->seen.n; k++) {
		int found = 0;
		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(obs[i].id, st->seen.ids[k]);
		if (!found && n < cap && strlen(st->seen.ids[k]) < sizeof(obs[n].id)) {
			snprintf(obs[n].id, sizeof(obs[n].id), "%s", st->seen.ids[k]);
			snprintf(obs[n].zone, sizeof(obs[n].zone), "%s", st->seen.zones[k]);
			n++;
		}
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = obs[i].id;
	sh_index ix;
	if (sh_index_build(&ix, ids, n)) {
		free(ids);
		free(obs);
		free(v);
		*obs_out = NULL;
		*out = NULL;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].id = obs[i].id;
		v[i].swarm_state = obs[i].dn ? obs[i].dn->state : "";
		v[i].manager = obs[i].dn && !strcmp(obs[i].dn->role, "manager");
		v[i].reachability = obs[i].dn ? obs[i].dn->reachability : "";
		v[i].monitor = obs[i].monitor;
	}
	for (size_t k = 0; k < hb->n; k++) {
		long i = sh_index_find(&ix, leaf(hb->kvs[k].key));
		if (i < 0)
			continue;
		rec_heartbeat h;
		char why[160];
		if (rec_heartbeat_parse(hb->kvs[k].value, hb->kvs[k].value_len, &h, why, sizeof(why))) {
			/* unreadable: the key is there, so the agent lives; its engine state is unknown */
			ctl_warn_record(x, hb->kvs[k].key, hb->kvs[k].mod_revision, why);
			v[i].hb = ARB_HB_RUNNING;
			continue;
		}
		v[i].hb = h.stopped ? ARB_HB_STOPPED : ARB_HB_RUNNING;
		v[i].hb_engine_down = !h.stopped && h.engine == REC_ENGINE_DOWN;
		if (!obs[i].zone[0])
			snprintf(obs[i].zone, sizeof(obs[i].zone), "%s", h.zone);
		if (!h.stopped)
			seen_add(&st->seen, obs[i].id, obs[i].zone);
	}
	for (size_t k = 0; k < ds->n; k++) {
		long i = sh_index_find(&ix, leaf(ds->kvs[k].key));
		rec_drain_state d;
		char why[160];
		if (i >= 0 && rec_drain_state_parse(ds->kvs[k].value, ds->kvs[k].value_len, &d, why, sizeof(why)) == SH_OK) {
			snprintf(obs[i].monitor, sizeof(obs[i].monitor), "%s", d.monitor);
			v[i].monitor_current = drain_fence && d.fence == drain_fence;
		}
	}
	for (size_t i = 0; i < n; i++) {
		v[i].zone = obs[i].zone;
		v[i].hb_seen = seen_has(&st->seen, obs[i].id);
	}
	sh_index_free(&ix);
	free(ids);
	*obs_out = obs;
	*out = v;
	return n;
}

static char *evidence_json(const arbiter_view *v)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *zs = cJSON_AddArrayToObject(j, "zones");
	for (size_t i = 0; i < v->nzones; i++) {
		const arbiter_zone *z = &v->zones[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "zone", z->name);
		cJSON_AddNumberToObject(o, "nodes", z->nodes);
		cJSON_AddNumberToObject(o, "live", z->live);
		cJSON_AddNumberToObject(o, "swarm_ready", z->swarm_ready);
		cJSON_AddNumberToObject(o, "managers", z->managers);
		cJSON_AddNumberToObject(o, "managers_reachable", z->managers_reachable);
		cJSON_AddNumberToObject(o, "disagree", z->disagree);
		cJSON_AddItemToArray(zs, o);
	}
	cJSON_AddNumberToObject(j, "zoneless", v->zoneless);
	cJSON_AddNumberToObject(j, "zoneless_live", v->zoneless_live);
	cJSON_AddStringToObject(j, "mode", rec_mode_name(v->mode));
	if (v->survivor[0])
		cJSON_AddStringToObject(j, "survivor", v->survivor);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

static sh_err publish(ctl_ctx *x, const arbiter_view *v, rec_arbiter_mode *pub, int had, int *have)
{
	rec_arbiter_mode r = {.mode = v->mode, .since_ns = sh_real_ns(), .fence = x->el->rev};
	snprintf(r.reason, sizeof(r.reason), "%s", v->reason);
	snprintf(r.survivor, sizeof(r.survivor), "%s", v->survivor);
	for (size_t i = 0; i < v->nzones && i < 16; i++) {
		if (v->zones[i].live > 0)
			snprintf(r.zones[r.nzones++], 64, "%s", v->zones[i].name);
		struct rec_zone_count *c = &r.evidence[r.nevidence++];
		snprintf(c->zone, sizeof(c->zone), "%s", v->zones[i].name);
		c->nodes = v->zones[i].nodes;
		c->live = v->zones[i].live;
		c->swarm_ready = v->zones[i].swarm_ready;
	}
	char key[300], target[80], reason[500];
	rec_arbiter_mode_key(key, sizeof(key), x->common.prefix);
	char *val = rec_arbiter_mode_encode(&r);
	char *ev = evidence_json(v);
	snprintf(target, sizeof(target), "%s", rec_mode_name(v->mode));
	snprintf(reason, sizeof(reason), "%s -> %s%s%s: %s", had ? rec_mode_name(pub->mode) : "(none)",
		 rec_mode_name(v->mode), v->survivor[0] ? ", survivor zone " : "", v->survivor, v->reason);
	sh_err e = val && ev ? ctl_record(x, "mode", target, reason, x->common.dry_run ? "dry-run" : "published", ev,
					  x->common.dry_run ? NULL : key, x->common.dry_run ? NULL : val)
			     : SH_E_NOMEM;
	if (e == SH_OK && !x->common.dry_run) {
		*pub = r;
		*have = 1;
	}
	free(val);
	free(ev);
	return e;
}

/* live candidates of the arbiter's election sitting in zone, other than this replica */
static int replicas_in_zone(ctl_ctx *x, arb_state *st, const char *zone)
{
	etcd_range_result el = {0}, rp = {0};
	char sub[200];
	snprintf(sub, sizeof(sub), "/elections/controller.%s/", x->def->name);
	int n = 0;
	if (ctl_range(x, sub, &el) == SH_OK && ctl_range(x, "/arbiter/replicas/", &rp) == SH_OK) {
		for (size_t i = 0; i < rp.n; i++) {
			rec_arbiter_replica r;
			char why[160];
			if (rec_arbiter_replica_parse(rp.kvs[i].value, rp.kvs[i].value_len, &r, why, sizeof(why)) ||
			    strcmp(r.zone, zone) || !strcmp(r.name, st->name))
				continue;
			for (size_t k = 0; k < el.n; k++)
				if (el.kvs[k].value_len == strlen(r.name) && !memcmp(el.kvs[k].value, r.name, el.kvs[k].value_len)) {
					n++;
					break;
				}
		}
	}
	etcd_range_result_free(&el);
	etcd_range_result_free(&rp);
	return n;
}

/* ---- the quorum guard ---- */

static void probe_managers(ctl_ctx *x, arb_state *st)
{
	for (size_t i = 0; i < st->nm; i++) {
		mgr_conn *m = &st->m[i];
		dock_client *c = m->c ? m->c : x->dock;
		m->answers = m->has_leader = 0;
		m->err[0] = '\0';
		if (!c)
			continue;
		int64_t t0 = sh_mono_ns();
		sh_err e = dock_info_get(c, &m->info);
		ctl_engine_done(x, t0);
		if (e) {
			snprintf(m->err, sizeof(m->err), "%s", dock_errmsg(c));
			continue;
		}
		m->answers = 1;
		if (!m->zone[0] && m->info.node_id[0])
			zone_of_engine(x, st, NULL, m->info.node_id, m->zone, sizeof(m->zone));
		if (!m->info.control_available)
			continue;
		dock_node_list nl;
		t0 = sh_mono_ns();
		e = dock_nodes_list(c, &nl);
		ctl_engine_done(x, t0);
		if (e) {
			snprintf(m->err, sizeof(m->err), "%s", dock_errmsg(c));
			continue;
		}
		for (size_t k = 0; k < nl.n; k++)
			m->has_leader |= nl.v[k].leader;
		dock_node_list_free(&nl);
	}
}

static sh_err write_quorum(ctl_ctx *x, arb_state *st, const char *kind, const char *target, const char *state,
			   const char *manager, const char *reason, const char *result, const char *next_step,
			   const char *const *rejoin, size_t nrejoin)
{
	rec_arbiter_quorum q = {.since_ns = st->qsince_real, .fence = x->el->rev};
	snprintf(q.state, sizeof(q.state), "%s", state);
	snprintf(q.manager, sizeof(q.manager), "%s", manager ? manager : "");
	snprintf(q.reason, sizeof(q.reason), "%s", reason);
	snprintf(q.next_step, sizeof(q.next_step), "%s", next_step ? next_step : "");
	for (size_t i = 0; i < nrejoin && i < 8; i++)
		snprintf(q.rejoin[q.nrejoin++], 64, "%s", rejoin[i]);
	char key[300];
	rec_arbiter_quorum_key(key, sizeof(key), x->common.prefix);
	char *v = rec_arbiter_quorum_encode(&q);
	sh_err e = v ? ctl_record(x, kind, target, reason, result, NULL, x->common.dry_run ? NULL : key,
				  x->common.dry_run ? NULL : v)
		     : SH_E_NOMEM;
	free(v);
	return e;
}

/* the managers other than the target, from the last node list (else the engines the guard knows) */
static size_t rejoin_list(arb_state *st, const char *target_id, const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; st->have_cache && i < st->cache.n && n < max; i++)
		if (!strcmp(st->cache.v[i].role, "manager") && strcmp(st->cache.v[i].id, target_id))
			out[n++] = st->cache.v[i].id;
	if (n)
		return n;
	for (size_t i = 0; i < st->nm && n < max; i++)
		if (st->m[i].info.node_id[0] && strcmp(st->m[i].info.node_id, target_id))
			out[n++] = st->m[i].info.node_id;
	return n;
}

static sh_err force_new_cluster(ctl_ctx *x, arb_state *st, mgr_conn *m, const char *reason)
{
	const char *id = m->info.node_id[0] ? m->info.node_id : m->host;
	const char *rj[8];
	size_t nrj = rejoin_list(st, id, rj, 8);
	char rjs[400] = "";
	for (size_t i = 0; i < nrj; i++)
		snprintf(rjs + strlen(rjs), sizeof(rjs) - strlen(rjs), "%s%s", i ? ", " : "", rj[i]);
	if (x->common.dry_run)
		return write_quorum(x, st, "would-force-new-cluster", id, "lost", id, reason, "dry-run", NULL, NULL, 0);
	/* the intent first: a leader that dies during the call leaves "forcing", and no one calls again */
	sh_err e = write_quorum(x, st, "force-new-cluster", id, "forcing", id, reason, "started", NULL, rj, nrj);
	if (e)
		return e;
	/* never while a manager reports a leader: look once more right before the call. A probe given up
	 * because the lease is lapsing answers nothing, which must not read as "no leader": stop here */
	probe_managers(x, st);
	if (!ctl_may_act(x))
		return SH_E_NOT_LEADER;
	for (size_t i = 0; i < st->nm; i++)
		if (st->m[i].answers && st->m[i].has_leader)
			return write_quorum(x, st, "force-new-cluster", id, "recovered", id,
					    "a manager reports a leader again: not forcing", "canceled", NULL, NULL, 0);
	/* a client of its own: a forced init takes longer than the guard's short probes (FORCE_TIMEOUT_MS) */
	dock_client *c = NULL;
	dock_config dc = {.host = m->host, .timeout_ms = FORCE_TIMEOUT_MS};
	char listen[100], next[1400], cerr[300];
	sh_err de = dock_client_new(&dc, &c, cerr, sizeof(cerr));
	snprintf(listen, sizeof(listen), "%s:2377", m->info.node_addr[0] ? m->info.node_addr : "0.0.0.0");
	int64_t t0 = sh_mono_ns();
	if (de == SH_OK)
		de = dock_swarm_init(c, listen, m->info.node_addr[0] ? m->info.node_addr : NULL, 1, NULL, 0);
	ctl_engine_done(x, t0);
	if (de == SH_OK) {
		snprintf(next, sizeof(next),
			 "re-join the other managers one at a time (moby/swarmkit#2670): %s; on each: docker swarm leave "
			 "--force, docker swarm join --token <manager token from %s> %s:2377, wait until docker node ls "
			 "shows it Reachable before the next; then docker node rm the old entries",
			 nrj ? rjs : "(none known)", id, m->info.node_addr);
		sh_log("warn", x->def->name, "forced a new swarm cluster | manager=%s rejoin=\"%s\"", id, rjs);
		dock_client_free(c);
		return write_quorum(x, st, "force-new-cluster", id, "forced", id, reason, "ok", next, rj, nrj);
	}
	char res[400];
	snprintf(res, sizeof(res), "failed: %s", c ? dock_errmsg(c) : cerr);
	snprintf(next, sizeof(next),
		 "swarmheal will not retry for this loss. By hand on %s: if its engine says 'not a swarm manager', "
		 "restart dockerd there (moby/moby#34384), then docker swarm init --force-new-cluster --advertise-addr %s; "
		 "then re-join %s one at a time (moby/swarmkit#2670)",
		 id, m->info.node_addr[0] ? m->info.node_addr : "ADDR", nrj ? rjs : "the other managers");
	sh_log("error", x->def->name, "force-new-cluster failed | manager=%s error=\"%s\"", id, res + 8);
	if (c)
		dock_client_free(c);
	return write_quorum(x, st, "force-new-cluster", id, "failed", id, reason, res, next, rj, nrj);
}

static void load_quorum(ctl_ctx *x, arb_state *st)
{
	memset(&st->qmem, 0, sizeof(st->qmem));
	st->qsince_real = 0;
	char key[300];
	rec_arbiter_quorum_key(key, sizeof(key), x->common.prefix);
	etcd_kv kv;
	if (etcd_get(x->etcd, key, &kv, NULL) != SH_OK)
		return;
	rec_arbiter_quorum q;
	char why[160];
	if (rec_arbiter_quorum_parse(kv.value, kv.value_len, &q, why, sizeof(why))) {
		/* unreadable: take it as acted, so no second force-new-cluster for what may be the same loss */
		ctl_warn_record(x, key, kv.mod_revision, why);
		q = (rec_arbiter_quorum){.state = "failed"};
	}
	etcd_kv_free(&kv);
	if (!strcmp(q.state, "recovered"))
		return;
	int64_t now = sh_mono_ns(), age = q.since_ns ? sh_real_ns() - q.since_ns : 0;
	st->qmem.lost_since = now - (age > 0 ? age : 0);
	if (!st->qmem.lost_since)
		st->qmem.lost_since = 1;
	st->qmem.reported = 1;
	st->qmem.refused = !strcmp(q.state, "refused");
	st->qmem.acted = !strcmp(q.state, "forcing") || !strcmp(q.state, "forced") || !strcmp(q.state, "failed");
	st->qsince_real = q.since_ns;
}

static sh_err guard(ctl_ctx *x, arb_state *st)
{
	const arbiter_opts *o = x->cfg;
	probe_managers(x, st);
	arbiter_manager am[MAX_MANAGERS];
	for (size_t i = 0; i < st->nm; i++)
		am[i] = (arbiter_manager){.host = st->m[i].host, .node_id = st->m[i].info.node_id, .zone = st->m[i].zone,
					  .addr = st->m[i].info.node_addr, .answers = st->m[i].answers,
					  .is_manager = st->m[i].answers && st->m[i].info.control_available,
					  .has_leader = st->m[i].has_leader};
	arbiter_qpolicy qp = {.allow_force = o->allow_force, .grace_ns = o->quorum_grace_ms * SH_NS_PER_MS,
			      .my_zone = st->zone, .may_act = ctl_may_act(x)};
	int had_loss = st->qmem.lost_since != 0;
	arbiter_qaction a;
	arbiter_quorum_step(&qp, &st->qmem, am, st->nm, sh_mono_ns(), &a);
	if (!had_loss && st->qmem.lost_since)
		st->qsince_real = sh_real_ns();
	char who[400] = "";
	for (size_t i = 0; i < st->nm; i++)
		snprintf(who + strlen(who), sizeof(who) - strlen(who), "%s%s%s", i ? ", " : "",
			 am[i].node_id[0] ? am[i].node_id : am[i].host, am[i].answers ? "" : " (no answer)");
	switch (a.kind) {
	case ARB_Q_NONE:
		return SH_OK;
	case ARB_Q_LOST: {
		char r[720];
		snprintf(r, sizeof(r), "%s; managers: %s", a.reason, who);
		return write_quorum(x, st, "quorum-lost", "swarm", "lost", NULL, r, "reported",
				    o->allow_force ? "the quorum guard forces a new cluster after --quorum-loss-grace"
						   : "restore the lost managers, or run docker swarm init --force-new-cluster "
						     "on a surviving manager (--allow-force-new-cluster lets swarmheal do it)",
				    NULL, 0);
	}
	case ARB_Q_REFUSE:
		return write_quorum(x, st, "force-new-cluster", "swarm", "refused", NULL, a.reason, "refused",
				    "restore the lost managers, or run docker swarm init --force-new-cluster on a surviving "
				    "manager and re-join the others one at a time",
				    NULL, 0);
	case ARB_Q_RECOVERED: {
		/* after a forced new cluster the re-join list stays in the record: people still need it */
		rec_arbiter_quorum prev = {0};
		char key[300], why[160], r[720];
		etcd_kv kv;
		rec_arbiter_quorum_key(key, sizeof(key), x->common.prefix);
		if (etcd_get(x->etcd, key, &kv, NULL) == SH_OK) {
			if (rec_arbiter_quorum_parse(kv.value, kv.value_len, &prev, why, sizeof(why)))
				memset(&prev, 0, sizeof(prev));
			etcd_kv_free(&kv);
		}
		int carry = !strcmp(prev.state, "forced") || !strcmp(prev.state, "failed");
		const char *rj[8];
		for (size_t i = 0; i < prev.nrejoin; i++)
			rj[i] = prev.rejoin[i];
		snprintf(r, sizeof(r), "%s%s%s%s", a.reason, carry ? " (after force-new-cluster " : "",
			 carry ? prev.state : "", carry ? ")" : "");
		return write_quorum(x, st, "quorum-recovered", "swarm", "recovered", carry ? prev.manager : NULL, r,
				    "recorded", carry ? prev.next_step : NULL, rj, carry ? prev.nrejoin : 0);
	}
	case ARB_Q_FORCE:
		return force_new_cluster(x, st, &st->m[a.target], a.reason);
	}
	return SH_OK;
}

/* ---- the pass ---- */

static sh_err arb_reconcile(ctl_ctx *x, void *state)
{
	arb_state *st = state;
	const arbiter_opts *o = x->cfg;
	const char *name = x->def->name;
	if (st->term != x->el->rev) {
		/* a new leadership: the grace starts afresh, the guard's memory comes from its record */
		st->term = x->el->rev;
		memset(&st->mem, 0, sizeof(st->mem));
		st->alone_noted = 0;
		load_quorum(x, st);
		if (!st->replica_written)
			write_replica(x, st);
	}
	dock_node_list nl;
	int64_t t0 = sh_mono_ns();
	sh_err e = x->dock ? dock_nodes_list(x->dock, &nl) : SH_E_INVAL;
	ctl_engine_done(x, t0);
	if (e == SH_OK) {
		if (st->have_cache)
			dock_node_list_free(&st->cache);
		st->cache = nl;
		st->have_cache = 1;
		if (st->list_failing)
			sh_log("info", name, "node list readable again");
		st->list_failing = 0;
	} else if (x->dock && !st->list_failing) {
		st->list_failing = 1;
		sh_log("warn", name, "cannot list nodes, using the last list | error=\"%s\"", dock_errmsg(x->dock));
	}
	etcd_range_result hb = {0}, ds = {0}, de = {0};
	if ((e = ctl_range(x, "/nodes/", &hb)) || (e = ctl_range(x, "/drain/state/", &ds)) ||
	    (e = ctl_range(x, "/elections/controller.drain/", &de))) {
		etcd_range_result_free(&hb);
		etcd_range_result_free(&ds);
		etcd_range_result_free(&de);
		return e;
	}
	/* the drain leader of this term and its fence (a drain state it wrote carries it); 0 when nobody leads */
	rec_election_view dv = {0};
	int64_t drain_fence = rec_election_views(x->common.prefix, de.kvs, de.n, &dv, 1) ? dv.fence : 0;
	etcd_range_result_free(&de);
	obs_node *obs;
	arbiter_node *nodes;
	size_t n = observe(x, st, &hb, &ds, drain_fence, &obs, &nodes);
	arbiter_policy p = {.zone_min_live = o->zone_min_live, .normal_pct = o->normal_pct,
			    .grace_ns = o->mode_grace_ms * SH_NS_PER_MS};
	arbiter_view v;
	arbiter_view_of(&p, nodes, n, &v);
	free(nodes);
	free(obs);
	etcd_range_result_free(&hb);
	etcd_range_result_free(&ds);

	/* the published mode (an unreadable one reads as read-only, as every controller reads it) */
	char key[300];
	rec_arbiter_mode_key(key, sizeof(key), x->common.prefix);
	rec_arbiter_mode pub = {.mode = REC_MODE_NORMAL};
	int have = 0;
	etcd_kv kv;
	t0 = sh_mono_ns();
	e = etcd_get(x->etcd, key, &kv, NULL);
	ctl_etcd_done(x, t0);
	if (e == SH_OK) {
		char why[200];
		have = 1;
		if (rec_arbiter_mode_parse(kv.value, kv.value_len, &pub, why, sizeof(why)))
			ctl_warn_record(x, key, kv.mod_revision, why);
		etcd_kv_free(&kv);
	} else if (e != SH_E_NOT_FOUND) {
		sh_log("error", name, "cannot read the arbiter mode | error=\"%s\"", etcd_errmsg(x->etcd));
		return e;
	}
	if (arbiter_step(&p, &st->mem, &pub, have, &v, sh_mono_ns())) {
		/* dry run: the mode is not written, so record each would-be transition once */
		char dry[140];
		snprintf(dry, sizeof(dry), "%s/%s", rec_mode_name(v.mode), v.survivor);
		if (!x->common.dry_run || strcmp(dry, st->dry_noted)) {
			if ((e = publish(x, &v, &pub, have, &have)))
				return e;
			snprintf(st->dry_noted, sizeof(st->dry_noted), "%s", x->common.dry_run ? dry : "");
		}
	}

	/* where the arbiter sits */
	if (have) {
		int there = pub.mode == REC_MODE_SINGLE_ZONE ? replicas_in_zone(x, st, pub.survivor) : 0;
		enum arbiter_place pl = arbiter_placement(&pub, st->zone, there);
		if (pl == ARB_RESIGN) {
			char r[300];
			snprintf(r, sizeof(r), "single-zone: zone %s survives, this replica sits in zone '%s': resigning for "
				 "the %d replica(s) there", pub.survivor, st->zone, there);
			ctl_record(x, "resign", st->name, r, "resigned", NULL, NULL, NULL);
			return SH_E_NOT_LEADER;
		}
		if (pl == ARB_STAY_ALONE && !st->alone_noted) {
			st->alone_noted = 1;
			sh_log("warn", name, "single-zone: no arbiter replica campaigns in the surviving zone, staying | "
			       "survivor=%s zone=\"%s\"", pub.survivor, st->zone);
		}
		if (pl != ARB_STAY_ALONE)
			st->alone_noted = 0;
	}
	return guard(x, st);
}

#define AO(f) offsetof(arbiter_opts, f)
static const sh_opt arbiter_opt_table[] = {
	{"arbiter-zone", SH_OPT_STRING, AO(zone), NULL, "NAME",
	 "zone this replica sits in (default: the zone of the node --docker-host names)", "SWARMHEAL_ARBITER_ZONE", 0, 0,
	 NULL},
	{"mode-grace", SH_OPT_DURATION, AO(mode_grace_ms), "5s", NULL,
	 "how long a new mode must be called for before it is published", "SWARMHEAL_MODE_GRACE", SH_OPT_RELOAD, 0, NULL},
	{"zone-min-live", SH_OPT_COUNT, AO(zone_min_live), "2", "N", "live nodes a zone needs to act alone",
	 "SWARMHEAL_ZONE_MIN_LIVE", SH_OPT_RELOAD, 1, NULL},
	{"normal-zones", SH_OPT_COUNT, AO(normal_pct), "50", "PCT", "percent of known zones with live nodes for normal",
	 "SWARMHEAL_NORMAL_ZONES", SH_OPT_RELOAD, 1, NULL},
	{"allow-force-new-cluster", SH_OPT_BOOL, AO(allow_force), "false", NULL,
	 "let the quorum guard run docker swarm init --force-new-cluster on a manager in this zone",
	 "SWARMHEAL_ALLOW_FORCE_NEW_CLUSTER", SH_OPT_RELOAD, 0, NULL},
	{"quorum-loss-grace", SH_OPT_DURATION, AO(quorum_grace_ms), "30s", NULL,
	 "how long no manager reports a leader before the quorum guard acts", "SWARMHEAL_QUORUM_LOSS_GRACE",
	 SH_OPT_RELOAD, 1000, NULL},
	{"arbiter-managers", SH_OPT_LIST, AO(managers), NULL, "LIST",
	 "engine addresses of the Swarm managers the quorum guard watches (default: --docker-host)",
	 "SWARMHEAL_ARBITER_MANAGERS", 0, 0, NULL},
	{"arbiter-manager-timeout", SH_OPT_DURATION, AO(manager_timeout_ms), "2s", NULL,
	 "per request to those engines", "SWARMHEAL_ARBITER_MANAGER_TIMEOUT", 0, 100, NULL},
	{0},
};

/* its own records (/arbiter/) are left out: it writes them */
static const char *const arbiter_watch[] = {"/nodes/", "/drain/state/", NULL};

const ctl_def arbiter_def = {
	.name = "arbiter",
	.summary = "publish the cluster mode (normal, single-zone, read-only) from live nodes per zone; quorum guard",
	.watch = arbiter_watch,
	.engine_events = "{\"type\":[\"node\"]}",
	.needs_engine = 1,
	.opts = arbiter_opt_table,
	.cfg_size = sizeof(arbiter_opts),
	.init = arb_init,
	.reconcile = arb_reconcile,
	.work = NULL,
	.release = arb_release,
};
