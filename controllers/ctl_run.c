/* SPDX-License-Identifier: MIT */
/* ctl_run.c - one thread per controller: session, election, watch, engine events, resync, work queue, retention */
#include "ctl.h"
#include "ctl_internal.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh_util.h"

typedef struct ctl_thread {
	ctl_ctx x;
	const void *cfg_master; /* the option struct the main thread changes under cfg_lock */
	void *cfg_copy;
	int gen_seen;
	pthread_t tid;
	int started;
} ctl_thread;

struct ctl_rt {
	ctl_thread *t;
	size_t n;
	ctl_common *common;
	pthread_mutex_t *cfg_lock;
	etcd_config ecfg;
	dock_config dcfg;
	volatile sig_atomic_t stop;
	atomic_int gen;
};

#define PRUNE_EVERY_NS (60 * SH_NS_PER_S)

/* copy the options when they changed (or the first time): 1 when copied */
static int take_options(ctl_thread *t)
{
	int g = atomic_load(&t->x.rt->gen);
	if (g == t->gen_seen && t->x.cfg)
		return 0;
	pthread_mutex_lock(t->x.rt->cfg_lock);
	t->x.common = *t->x.rt->common;
	if (t->cfg_copy && t->cfg_master)
		memcpy(t->cfg_copy, t->cfg_master, t->x.def->cfg_size);
	pthread_mutex_unlock(t->x.rt->cfg_lock);
	t->x.cfg = t->cfg_copy;
	t->gen_seen = g;
	return 1;
}

static void prune(ctl_ctx *x)
{
	rec_retention r = {.retention_ns = x->common.actions_retention_ms * SH_NS_PER_MS, .max = x->common.actions_max};
	int64_t deleted = 0, t0 = sh_mono_ns();
	sh_err e = rec_actions_prune(x->etcd, x->common.prefix, x->def->name, sh_real_ns(), &r, &deleted);
	ctl_etcd_done(x, t0);
	if (deleted) {
		ctl_metric_add("swarmheal_actions_pruned_total", x->labels, (double)deleted);
		sh_log("info", x->def->name, "pruned old action records | deleted=%lld ms=%lld", (long long)deleted,
		       (long long)((sh_mono_ns() - t0) / SH_NS_PER_MS));
	}
	if (e)
		sh_log("warn", x->def->name, "cannot prune action records | error=\"%s\"", etcd_errmsg(x->etcd));
}

static void gap_hook(void *arg, int64_t gap_ns)
{
	ctl_ctx *x = arg;
	ctl_metric_observe("swarmheal_session_keepalive_gap_seconds", x->labels, (double)gap_ns / 1e9);
}

/* The leader's loop: returns when leadership ends or the runtime stops. */
static void lead(ctl_thread *t, void *state)
{
	ctl_ctx *x = &t->x;
	ctl_rt *rt = x->rt;
	const char *name = x->def->name;
	size_t nw = 0;
	while (x->def->watch && x->def->watch[nw])
		nw++;
	etcd_watch **w = calloc(nw ? nw : 1, sizeof(*w));
	char key[400];
	etcd_watch_opts wo = {.prefix = 1};
	for (size_t i = 0; w && i < nw; i++) {
		snprintf(key, sizeof(key), "%s%s", x->common.prefix, x->def->watch[i]);
		if (etcd_watch_open(x->etcd, key, &wo, &w[i]))
			sh_log("warn", name, "cannot watch, resync only | prefix=%s error=\"%s\"", key, etcd_errmsg(x->etcd));
	}
	/* our own election key: deleted (by a person, or its lease revoked) means leadership is over */
	etcd_watch *kw = NULL;
	etcd_watch_opts ko = {.start_revision = x->el->rev};
	if (etcd_watch_open(x->etcd, x->el->key, &ko, &kw))
		sh_log("warn", name, "cannot watch the election key | error=\"%s\"", etcd_errmsg(x->etcd));
	dock_events *dev = NULL;
	if (x->dock && x->def->engine_events && dock_events_open(x->dock, x->def->engine_events, 0, &dev))
		sh_log("warn", name, "no engine event stream, resync only | error=\"%s\"", dock_errmsg(x->dock));
	int dirty = 1, passes = 0;
	int64_t last_pass = 0, last_prune = 0;
	while (!rt->stop) {
		if (!ctl_may_act(x)) {
			sh_log("warn", name, "leadership lease about to end: stopped acting | key=%s", x->el->key);
			break;
		}
		if (take_options(t))
			dirty = 1;
		int64_t now = sh_mono_ns();
		if (x->pass_at && now >= x->pass_at)
			dirty = 1;
		if (dirty || now - last_pass >= x->common.resync_ms * SH_NS_PER_MS) {
			dirty = 0;
			x->pass_at = 0;
			ctl_metric_add("swarmheal_reconciles_total", x->labels, 1);
			sh_err e = x->def->reconcile(x, state);
			ctl_metric_observe("swarmheal_reconcile_duration_seconds", x->labels,
					   (double)(sh_mono_ns() - now) / 1e9);
			last_pass = sh_mono_ns();
			passes++;
			if (e == SH_E_NOT_LEADER) {
				sh_log("warn", name, "no longer leader: stopped acting | key=%s", x->el->key);
				break;
			}
			if (e)
				ctl_metric_add("swarmheal_reconcile_errors_total", x->labels, 1);
		}
		/* the work queue: one key at a time, each in one hand */
		char qk[256];
		int lost = 0;
		while (!rt->stop && x->def->work && ctl_queue_get(x->q, sh_mono_ns(), qk, sizeof(qk))) {
			if (!ctl_may_act(x)) {
				ctl_queue_done(x->q, qk, sh_mono_ns(), 1);
				ctl_enqueue(x, qk);
				break;
			}
			sh_err e = x->def->work(x, state, qk);
			ctl_queue_done(x->q, qk, sh_mono_ns(), e == SH_OK);
			if (e == SH_E_NOT_LEADER) {
				sh_log("warn", name, "no longer leader: stopped acting | key=%s", x->el->key);
				lost = 1;
				break;
			}
		}
		ctl_metric_set("swarmheal_queue_depth", x->labels, (double)ctl_queue_len(x->q));
		if (lost)
			break;
		/* retention: after the first pass, then every minute */
		if (passes && sh_mono_ns() - last_prune >= PRUNE_EVERY_NS && ctl_may_act(x)) {
			prune(x);
			last_prune = sh_mono_ns();
		}
		/* wait for a change: engine events, then the watches (the last one blocks up to 100 ms) */
		dock_event dv;
		while (dev && dock_events_next(dev, &dv, 0) == SH_OK) {
			dirty = 1;
			dock_event_free(&dv);
		}
		long wait_ms = dirty ? 0 : 100;
		if (x->pass_at) {
			int64_t until = (x->pass_at - sh_mono_ns()) / SH_NS_PER_MS;
			if (until < wait_ms)
				wait_ms = until < 0 ? 0 : (long)until;
		}
		int64_t nr = ctl_queue_next_ready(x->q);
		if (nr != INT64_MAX) {
			int64_t until = (nr - sh_mono_ns()) / SH_NS_PER_MS;
			if (until < wait_ms)
				wait_ms = until < 0 ? 0 : (long)until;
		}
		etcd_watch_batch kb;
		int key_gone = 0;
		while (kw && etcd_watch_next(kw, &kb, 0) == SH_OK) {
			for (size_t i = 0; i < kb.n; i++)
				key_gone |= kb.events[i].type == ETCD_EV_DELETE ||
					    kb.events[i].kv.create_revision != x->el->rev;
			etcd_watch_batch_free(&kb);
		}
		if (key_gone) {
			sh_log("warn", name, "election key deleted: stopped acting | key=%s", x->el->key);
			break;
		}
		int waited = 0;
		for (size_t i = 0; w && i < nw; i++) {
			if (!w[i])
				continue;
			etcd_watch_batch b;
			sh_err we = etcd_watch_next(w[i], &b, i + 1 == nw ? wait_ms : 0);
			waited |= i + 1 == nw;
			if (we == SH_OK) {
				if (b.n)
					dirty = 1;
				etcd_watch_batch_free(&b);
			} else if (we == SH_E_COMPACTED) {
				etcd_watch_close(w[i]);
				w[i] = NULL;
				snprintf(key, sizeof(key), "%s%s", x->common.prefix, x->def->watch[i]);
				etcd_watch_open(x->etcd, key, &wo, &w[i]);
				dirty = 1;
			}
		}
		if (!waited && wait_ms > 0)
			usleep((useconds_t)wait_ms * 1000);
	}
	for (size_t i = 0; w && i < nw; i++)
		etcd_watch_close(w[i]);
	free(w);
	etcd_watch_close(kw);
	dock_events_close(dev);
}

static void *thread_main(void *arg)
{
	ctl_thread *t = arg;
	ctl_ctx *x = &t->x;
	ctl_rt *rt = x->rt;
	const char *name = x->def->name;
	char err[512], eprefix[400], ename[200], proposal[300], host[200] = "";
	take_options(t);
	gethostname(host, sizeof(host) - 1);
	snprintf(proposal, sizeof(proposal), "%s:%d", host, (int)getpid());
	snprintf(eprefix, sizeof(eprefix), "%s/elections/", x->common.prefix);
	snprintf(ename, sizeof(ename), "controller.%s", name);
	void *state = NULL;
	if (etcd_client_new(&rt->ecfg, &x->etcd, err, sizeof(err))) {
		sh_log("error", name, "cannot create an etcd client | error=\"%s\"", err);
		return NULL;
	}
	if (x->def->needs_engine && dock_client_new(&rt->dcfg, &x->dock, err, sizeof(err))) {
		sh_log("error", name, "cannot create an engine client | error=\"%s\"", err);
		return NULL;
	}
	if (x->dock)
		ctl_dock_guard(x, x->dock);
	x->q = ctl_queue_new(SH_NS_PER_S, 60 * SH_NS_PER_S, 10, 20);
	if (!x->q || (x->def->init && x->def->init(x, &state))) {
		sh_log("error", name, "cannot initialise the controller");
		return NULL;
	}
	int64_t backoff_ms = 500;
	while (!rt->stop) {
		etcd_session *s;
		if (etcd_session_new(x->etcd, x->common.ttl_ms / 1000, &s)) {
			sh_log("error", name, "cannot open a session | error=\"%s\" retry_ms=%lld", etcd_errmsg(x->etcd),
			       (long long)backoff_ms);
			sh_sleep_ms(backoff_ms, (volatile int *)&rt->stop);
			backoff_ms = backoff_ms * 2 > 8000 ? 8000 : backoff_ms * 2;
			continue;
		}
		backoff_ms = 500;
		etcd_session_set_gap_hook(s, gap_hook, x);
		/* we act until a fifth of the TTL is left: keep alive so that an etcd election fits before that */
		etcd_session_set_budget(s, x->common.ttl_ms * SH_NS_PER_MS * 4 / 5);
		etcd_election el;
		if (etcd_election_init(&el, x->etcd, s, eprefix, ename)) {
			etcd_session_close(s, 1);
			sh_sleep_ms(1000, (volatile int *)&rt->stop);
			continue;
		}
		sh_log("info", name, "campaigning | key=%s", el.key);
		sh_err e = etcd_election_campaign(&el, proposal, 0, &rt->stop);
		if (e == SH_OK) {
			sh_log("info", name, "leading | key=%s fence=%lld dry_run=%d", el.key, (long long)el.rev,
			       x->common.dry_run);
			x->s = s;
			x->el = &el;
			ctl_metric_set("swarmheal_leader", x->labels, 1);
			lead(t, state);
			ctl_metric_set("swarmheal_leader", x->labels, 0);
			x->el = NULL;
			x->s = NULL;
		} else if (e != SH_E_CANCELED) {
			sh_log("error", name, "campaign failed | error=\"%s\"", el.errbuf);
			sh_sleep_ms(1000, (volatile int *)&rt->stop);
		}
		sh_log("info", name, "session ends | lease=%llx longest_keepalive_gap_ms=%lld keepalives=%ld failures=%ld",
		       (unsigned long long)etcd_session_lease(s), (long long)(etcd_session_max_gap_ns(s) / SH_NS_PER_MS),
		       etcd_session_keepalives(s), etcd_session_failures(s));
		etcd_session_revoke_start(s);
		etcd_election_resign(&el);
		etcd_session_close(s, 0);
		etcd_election_release(&el);
	}
	if (x->def->release)
		x->def->release(state);
	sh_log("info", name, "stopped");
	return NULL;
}

sh_err ctl_start(const ctl_def *const *defs, void *const *cfgs, size_t n, ctl_common *common,
		 pthread_mutex_t *cfg_lock, const etcd_config *ecfg, const dock_config *dcfg, ctl_rt **out, char *err,
		 size_t errlen)
{
	*out = NULL;
	if (common->ttl_ms < 2000 || common->ttl_ms % 1000) {
		snprintf(err, errlen, "invalid lease TTL %lldms (whole seconds, at least 2s)", (long long)common->ttl_ms);
		return SH_E_INVAL;
	}
	ctl_rt *rt = calloc(1, sizeof(*rt));
	if (!rt || !(rt->t = calloc(n ? n : 1, sizeof(*rt->t)))) {
		free(rt);
		snprintf(err, errlen, "out of memory");
		return SH_E_NOMEM;
	}
	rt->n = n;
	rt->common = common;
	rt->cfg_lock = cfg_lock;
	rt->ecfg = *ecfg;
	/* a request never outlasts a third of the TTL: the deadline check must come round in time */
	if (!rt->ecfg.timeout_ms || rt->ecfg.timeout_ms > common->ttl_ms / 3)
		rt->ecfg.timeout_ms = (long)(common->ttl_ms / 3);
	if (dcfg)
		rt->dcfg = *dcfg;
	for (size_t i = 0; i < n; i++) {
		ctl_thread *t = &rt->t[i];
		t->x.def = defs[i];
		t->x.rt = rt;
		t->gen_seen = -1;
		t->cfg_master = cfgs ? cfgs[i] : NULL;
		snprintf(t->x.labels, sizeof(t->x.labels), "controller=\"%s\"", defs[i]->name);
		t->x.mode_last = -1;
		if (defs[i]->cfg_size && !(t->cfg_copy = calloc(1, defs[i]->cfg_size))) {
			snprintf(err, errlen, "out of memory");
			rt->stop = 1;
			ctl_stop(rt);
			return SH_E_NOMEM;
		}
		ctl_metric_set("swarmheal_leader", t->x.labels, 0);
	}
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&rt->t[i].tid, NULL, thread_main, &rt->t[i])) {
			snprintf(err, errlen, "cannot start a thread for controller '%s'", defs[i]->name);
			rt->stop = 1;
			ctl_stop(rt);
			return SH_E_NOMEM;
		}
		rt->t[i].started = 1;
	}
	*out = rt;
	return SH_OK;
}

void ctl_reload(ctl_rt *rt)
{
	if (rt)
		atomic_fetch_add(&rt->gen, 1);
}

void ctl_stop(ctl_rt *rt)
{
	if (!rt)
		return;
	rt->stop = 1;
	for (size_t i = 0; i < rt->n; i++) {
		ctl_thread *t = &rt->t[i];
		if (t->started)
			pthread_join(t->tid, NULL);
		ctl_queue_free(t->x.q);
		ctl_seen_free(&t->x);
		if (t->x.dock)
			dock_client_free(t->x.dock);
		if (t->x.etcd)
			etcd_client_free(t->x.etcd);
		free(t->cfg_copy);
	}
	free(rt->t);
	free(rt);
}
