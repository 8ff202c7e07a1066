/* SPDX-License-Identifier: MIT */
/* cli_fetch.c - swarmhealctl's reads: the etcd prefixes a view needs (in parallel), each endpoint's status, Swarm */
#include <pthread.h>
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
 * The reads of one answer fall into independent groups (nodes; the newest
 * actions; the rollback controller's records; the rest), each read by its
 * own thread with its own etcd client, so `get status` waits for the
 * slowest group rather than their sum (etcd's JSON gateway spends ~30 ms
 * encoding 1,000 heartbeats, and sorting 10,000 action records by
 * mod_revision costs the server as much again). Every group's ranges are
 * separate requests: the answer is not one revision of the store, and says
 * which revision it started watching from (the highest it read).
 */

/* SWARMHEALCTL_TRACE=1: each read's time on stderr (what an answer spends where). Set before threads start. */
static int trace_on = -1;

static void trace(const char *what, int64_t t0)
{
	if (trace_on > 0)
		fprintf(stderr, "trace: %-28s %7.2f ms\n", what, (double)(sh_mono_ns() - t0) / 1e6);
}

typedef struct job {
	cli_ctx *c;
	cli_snap *s;
	etcd_client *ec;
	unsigned what;
	int64_t limit;
	sh_err e;
	int64_t rev;
	char err[400];
	pthread_t th;
	int started;
	int all_read; /* last_actions: s->actions holds every action record there is */
} job;

static sh_err range_sub(job *j, const char *sub, etcd_range_result *r, const etcd_range_opts *o)
{
	int64_t t0 = sh_mono_ns();
	char key[512];
	if (rec_key(key, sizeof(key), j->s->prefix, sub, NULL))
		return SH_E_INVAL;
	etcd_range_opts def = {.prefix = 1};
	sh_err e = etcd_range(j->ec, key, o ? o : &def, r);
	if (!e && r->revision > j->rev)
		j->rev = r->revision;
	trace(sub, t0);
	return e;
}

/* Each endpoint on its own: a cluster with one member down still answers, and status says which. */
static void read_endpoints(cli_ctx *c, cli_snap *s)
{
	int64_t t0 = sh_mono_ns();
	char list[2048];
	snprintf(list, sizeof(list), "%s", c->ecfg.endpoints ? c->ecfg.endpoints : "http://127.0.0.1:2379");
	char *save = NULL;
	for (char *ep = strtok_r(list, ",", &save); ep && s->neps < sizeof(s->eps) / sizeof(s->eps[0]);
	     ep = strtok_r(NULL, ",", &save)) {
		cli_endpoint *e = &s->eps[s->neps++];
		memset(e, 0, sizeof(*e));
		snprintf(e->endpoint, sizeof(e->endpoint), "%s", ep);
		etcd_config one = c->ecfg;
		one.endpoints = ep;
		etcd_client *ec;
		char err[300];
		if (etcd_client_new(&one, &ec, err, sizeof(err))) {
			snprintf(e->error, sizeof(e->error), "%s", err);
			continue;
		}
		etcd_status st;
		if (etcd_status_get(ec, &st)) {
			snprintf(e->error, sizeof(e->error), "%s", etcd_errmsg(ec));
		} else {
			e->reachable = 1;
			snprintf(e->version, sizeof(e->version), "%s", st.version);
			e->db_size = st.db_size;
			e->revision = st.revision;
			e->member_id = st.member_id;
			e->leader = st.leader;
		}
		etcd_client_free(ec);
	}
	trace("endpoints' status", t0);
}

static int has_name(const char *list, const char *name)
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

/* A controller's newest record: from the newest actions when it is among them, else one sorted read. */
static sh_err last_actions(job *j)
{
	cli_snap *s = j->s;
	char names[16][64];
	size_t n = 0;
	const char *p = s->controllers;
	while (p && *p && n < 16) {
		size_t k = strcspn(p, ",");
		if (k && k < 64)
			snprintf(names[n++], 64, "%.*s", (int)k, p);
		p += k + (p[k] == ',');
	}
	rec_election_view *views = calloc(64, sizeof(*views));
	size_t nv = views ? rec_election_views(s->prefix, s->elections.kvs, s->elections.n, views, 64) : 0;
	for (size_t i = 0; i < nv && i < 64 && n < 16; i++)
		if (!strncmp(views[i].name, "controller.", 11) && !has_name(s->controllers, views[i].name + 11) &&
		    strlen(views[i].name + 11) < 64)
			snprintf(names[n++], 64, "%s", views[i].name + 11);
	free(views);
	for (size_t i = 0; i < n; i++) {
		char key[512];
		int done = 0;
		for (size_t k = 0; k < s->nlast && !done; k++)
			done = !strcmp(s->last_action_ctl[k], names[i]); /* recent_actions found it */
		if (done || s->nlast >= 16 || rec_action_prefix(key, sizeof(key), s->prefix, names[i]))
			continue;
		size_t klen = strlen(key);
		etcd_range_result *r = &s->last_action[s->nlast];
		snprintf(s->last_action_ctl[s->nlast++], 64, "%s", names[i]);
		for (size_t k = 0; k < s->actions.n && !r->n; k++) { /* newest first */
			const etcd_kv *kv = &s->actions.kvs[k];
			if (kv->key_len <= klen || memcmp(kv->key, key, klen))
				continue;
			r->kvs = calloc(1, sizeof(etcd_kv));
			if (!r->kvs)
				return SH_E_NOMEM;
			r->kvs[0] = *kv;
			r->kvs[0].key = strdup(kv->key);
			r->kvs[0].value = strdup(kv->value);
			r->n = 1;
		}
		if (r->n || j->all_read)
			continue; /* found, or every action was read and none is this controller's */
		int64_t t0 = sh_mono_ns();
		etcd_range_opts o = {
			.prefix = 1, .limit = 1, .sort_order = ETCD_SORT_DESCEND, .sort_target = ETCD_SORT_KEY};
		sh_err e = etcd_range(j->ec, key, &o, r);
		trace("a controller's last action", t0);
		if (e)
			return e;
	}
	return SH_OK;
}

/* The controllers every swarmheald may run (DESIGN.md), besides --controllers and those campaigning. */
static const char *const known_controllers[] = {"drain", "rollback", "certs", "arbiter"};

static int kv_newer(const void *a, const void *b)
{
	/* keys end in CONTROLLER/<19-digit ns>-KIND-TARGET: compare the times */
	const etcd_kv *x = a, *y = b;
	const char *tx = strrchr(x->key, '/'), *ty = strrchr(y->key, '/');
	int c = strncmp(ty ? ty : "", tx ? tx : "", 20);
	return c ? c : strcmp(y->key, x->key);
}

/*
 * The newest `limit` records of the controllers, without asking etcd to sort
 * every record (10,000 of them cost it 30-40 ms): a controller's keys sort by
 * time, so each is read newest first within a window of time (the last
 * minute, hour, day, then all), widening only while the union holds fewer
 * than `limit`; records outside a window are older than any inside it, so
 * the union's newest `limit` are the true newest. A controller with nothing
 * in the final window gets one read of its own for its newest record. Agents'
 * records (agent.NODE) are not among them: `get actions` reads every writer's.
 */
static sh_err recent_actions(job *j)
{
	cli_snap *s = j->s;
	char names[16][64];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(known_controllers) / sizeof(known_controllers[0]); i++)
		snprintf(names[n++], 64, "%s", known_controllers[i]);
	for (const char *p = s->controllers; p && *p && n < 16;) {
		size_t k = strcspn(p, ",");
		char one[64];
		snprintf(one, sizeof(one), "%.*s", (int)(k < 63 ? k : 63), p);
		int dup = !k;
		for (size_t i = 0; i < n && !dup; i++)
			dup = !strcmp(names[i], one);
		if (!dup)
			snprintf(names[n++], 64, "%s", one);
		p += k + (p[k] == ',');
	}
	static const int64_t windows_s[] = {60, 3600, 86400, 0};
	etcd_range_result got[16];
	memset(got, 0, sizeof(got));
	sh_err e = SH_OK;
	size_t total = 0;
	for (size_t w = 0; w < 4 && !e; w++) {
		total = 0;
		for (size_t i = 0; i < n && !e; i++) {
			char base[512], from[600];
			if (rec_action_prefix(base, sizeof(base), s->prefix, names[i]))
				continue;
			size_t elen;
			char *end = etcd_prefix_end(base, strlen(base), &elen);
			if (!end)
				return SH_E_NOMEM;
			int64_t since = windows_s[w] ? s->now_ns - windows_s[w] * SH_NS_PER_S : 0;
			snprintf(from, sizeof(from), "%s%019lld", base, (long long)(since > 0 ? since : 0));
			etcd_range_opts o = {.range_end = end, .limit = j->limit, .sort_order = ETCD_SORT_DESCEND,
					     .sort_target = ETCD_SORT_KEY};
			etcd_range_result_free(&got[i]);
			int64_t t0 = sh_mono_ns();
			e = etcd_range(j->ec, from, &o, &got[i]);
			trace(windows_s[w] == 60     ? "recent actions (1 min)"
			      : windows_s[w] == 3600 ? "recent actions (1 h)"
			      : windows_s[w]	     ? "recent actions (1 day)"
						     : "recent actions (all)",
			      t0);
			free(end);
			if (!e && got[i].revision > j->rev)
				j->rev = got[i].revision;
			total += got[i].n;
		}
		if (total >= (size_t)j->limit)
			break;
	}
	if (!e) {
		/* the union, newest first, as the view expects s->actions */
		s->actions.kvs = calloc(total ? total : 1, sizeof(etcd_kv));
		if (!s->actions.kvs)
			e = SH_E_NOMEM;
		for (size_t i = 0; !e && i < n; i++) {
			char base[512];
			if (rec_action_prefix(base, sizeof(base), s->prefix, names[i]))
				continue; /* not a name a controller can have ('/' in it) */
			etcd_range_result *r = &s->last_action[s->nlast];
			snprintf(s->last_action_ctl[s->nlast++], 64, "%s", names[i]);
			if (got[i].n) {
				r->kvs = calloc(1, sizeof(etcd_kv));
				if (!r->kvs) {
					e = SH_E_NOMEM;
					break;
				}
				r->kvs[0] = got[i].kvs[0];
				r->kvs[0].key = strdup(got[i].kvs[0].key);
				r->kvs[0].value = strdup(got[i].kvs[0].value);
				r->n = 1;
			} else {
				/* nothing in the last window: its newest, however old */
				etcd_range_opts o = {.prefix = 1, .limit = 1, .sort_order = ETCD_SORT_DESCEND,
						     .sort_target = ETCD_SORT_KEY};
				int64_t t0 = sh_mono_ns();
				e = etcd_range(j->ec, base, &o, r);
				trace("a controller's last action", t0);
			}
			for (size_t k = 0; k < got[i].n; k++) {
				s->actions.kvs[s->actions.n++] = got[i].kvs[k];
				memset(&got[i].kvs[k], 0, sizeof(etcd_kv)); /* moved */
			}
		}
		qsort(s->actions.kvs, s->actions.n, sizeof(etcd_kv), kv_newer);
	}
	for (size_t i = 0; i < n; i++)
		etcd_range_result_free(&got[i]);
	return e;
}

static sh_err run(job *j)
{
	cli_ctx *c = j->c;
	cli_snap *s = j->s;
	sh_err e = SH_OK;
	if (j->what & CLI_READ_ENDPOINTS)
		read_endpoints(c, s);
	if (!e && (j->what & CLI_READ_NODES) && !(e = range_sub(j, "/nodes/", &s->nodes, NULL)) &&
	    !(e = range_sub(j, "/drain/state/", &s->drain_state, NULL)))
		e = range_sub(j, "/drain/requests/", &s->drain_req, NULL);
	if (!e && (j->what & CLI_READ_NODES) && c->docker) {
		int64_t t0 = sh_mono_ns();
		char err[300];
		if (!c->dock && dock_client_new(&c->dcfg, &c->dock, err, sizeof(err)))
			snprintf(s->swarm_error, sizeof(s->swarm_error), "%s", err);
		else if (dock_nodes_list(c->dock, &s->swarm))
			snprintf(s->swarm_error, sizeof(s->swarm_error), "%s", dock_errmsg(c->dock));
		else
			s->have_swarm = 1;
		trace("Swarm's nodes", t0);
	}
	if (!e && (j->what & CLI_READ_ELECTIONS))
		e = range_sub(j, "/elections/", &s->elections, NULL);
	if (!e && (j->what & CLI_READ_CERTS) && !(e = range_sub(j, REC_CERT_PATH_SPECS, &s->cert_specs, NULL)))
		e = range_sub(j, REC_CERT_PATH_STATUS, &s->cert_status, NULL);
	if (!e && (j->what & (CLI_READ_ACTIONS | CLI_READ_ALL_ACTIONS))) {
		/* newest first: mod_revision orders writes across every writer */
		/* at least 100: the server sorts all of them anyway, and each controller's newest is likely among
		 * them (last_actions then needs no sorted read of its own) */
		etcd_range_opts o = {.prefix = 1,
				     .limit = (j->what & CLI_READ_ALL_ACTIONS) ? 0 : j->limit > 100 ? j->limit : 100,
				     .sort_order = ETCD_SORT_DESCEND,
				     .sort_target = ETCD_SORT_MOD};
		e = range_sub(j, "/actions/", &s->actions, &o);
	}
	if (!e && (j->what & CLI_READ_RECENT))
		e = recent_actions(j);
	if (!e && (j->what & CLI_READ_ARBITER)) {
		int64_t t0 = sh_mono_ns();
		char key[512];
		rec_arbiter_mode_key(key, sizeof(key), s->prefix);
		e = etcd_get(j->ec, key, &s->arbiter, NULL);
		s->arbiter_present = e == SH_OK;
		if (e == SH_E_NOT_FOUND)
			e = SH_OK;
		trace("/arbiter/mode", t0);
	}
	if (!e && (j->what & CLI_READ_SERVICES)) {
		/* the newest rollback record per service says whether it is judged, rolled back or paused */
		etcd_range_opts o = {.prefix = 1, .limit = CLI_ROLLBACK_WINDOW, .sort_order = ETCD_SORT_DESCEND,
				     .sort_target = ETCD_SORT_KEY};
		e = range_sub(j, "/actions/rollback/", &s->rollback_actions, &o);
	}
	if (!e && (j->what & CLI_READ_SNAPSHOTS)) {
		/* every snapshot (status leaves them: a spec each, 2,000 services are MiBs) */
		e = range_sub(j, "/rollback/snapshots/", &s->snapshots, NULL);
		s->have_snapshots = e == SH_OK;
	}
	if (e)
		snprintf(j->err, sizeof(j->err), "%s", etcd_errmsg(j->ec));
	return e;
}

static void *run_thread(void *p)
{
	job *j = p;
	j->e = run(j);
	return NULL;
}

sh_err cli_fetch(cli_ctx *c, unsigned what, int64_t limit, cli_snap *s)
{
	memset(s, 0, sizeof(*s));
	if (trace_on < 0)
		trace_on = getenv("SWARMHEALCTL_TRACE") != NULL;
	s->prefix = c->g.prefix;
	s->controllers = c->g.controllers;
	s->etcd_quota = c->g.etcd_quota;
	s->now_ns = sh_real_ns();
	if (limit <= 0)
		limit = 10;
	/* the groups: each its own thread and client, the first on this thread with c->etcd */
	static const unsigned groups[] = {
		CLI_READ_ENDPOINTS | CLI_READ_ELECTIONS | CLI_READ_CERTS | CLI_READ_ARBITER,
		CLI_READ_NODES,
		CLI_READ_ACTIONS | CLI_READ_ALL_ACTIONS | CLI_READ_RECENT,
		CLI_READ_SERVICES | CLI_READ_SNAPSHOTS,
	};
	job jobs[4];
	size_t nj = 0;
	for (size_t g = 0; g < 4; g++)
		if (what & groups[g])
			jobs[nj++] = (job){.c = c, .s = s, .ec = c->etcd, .what = what & groups[g], .limit = limit};
	sh_err e = SH_OK;
	for (size_t i = 1; i < nj; i++) {
		if (etcd_client_dup(c->etcd, &jobs[i].ec) != SH_OK) {
			jobs[i].ec = NULL;
			e = SH_E_NOMEM;
			break;
		}
		jobs[i].started = pthread_create(&jobs[i].th, NULL, run_thread, &jobs[i]) == 0;
		if (!jobs[i].started)
			jobs[i].e = run(&jobs[i]); /* no thread: read it here */
	}
	if (!e && nj)
		jobs[0].e = run(&jobs[0]);
	for (size_t i = 0; i < nj; i++) {
		if (i && jobs[i].started)
			pthread_join(jobs[i].th, NULL);
		if (jobs[i].rev > s->revision)
			s->revision = jobs[i].rev;
		if (!e && jobs[i].e) {
			e = jobs[i].e;
			snprintf(s->error, sizeof(s->error), "%s", jobs[i].err);
		}
	}
	if (!e && (what & CLI_READ_ELECTIONS)) {
		int64_t asked = (what & CLI_READ_ALL_ACTIONS) ? INT64_MAX : limit > 100 ? limit : 100;
		job j = {.c = c,
			 .s = s,
			 .ec = c->etcd,
			 .all_read =
				 (what & (CLI_READ_ACTIONS | CLI_READ_ALL_ACTIONS)) && (int64_t)s->actions.n < asked};
		if ((e = last_actions(&j)))
			snprintf(s->error, sizeof(s->error), "%s", etcd_errmsg(c->etcd));
	}
	for (size_t i = 1; i < nj; i++)
		if (jobs[i].ec)
			etcd_client_free(jobs[i].ec);
	return e;
}

void cli_snap_release(cli_snap *s)
{
	etcd_range_result_free(&s->nodes);
	etcd_range_result_free(&s->drain_state);
	etcd_range_result_free(&s->drain_req);
	etcd_range_result_free(&s->elections);
	etcd_range_result_free(&s->cert_specs);
	etcd_range_result_free(&s->cert_status);
	etcd_range_result_free(&s->actions);
	etcd_range_result_free(&s->snapshots);
	etcd_range_result_free(&s->rollback_actions);
	for (size_t i = 0; i < s->nlast; i++)
		etcd_range_result_free(&s->last_action[i]);
	if (s->arbiter_present)
		etcd_kv_free(&s->arbiter);
	if (s->have_swarm)
		dock_node_list_free(&s->swarm);
	memset(s, 0, sizeof(*s));
}
