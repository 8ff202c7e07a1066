/* SPDX-License-Identifier: MIT */
/* drain_ctl.c - node-drain controller shell: observe (I/O) -> snapshot (pure) -> drain_decide_all (pure) -> probe -> worker per node */
#include "drain_ctl.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "etcd.h"
#include "rec_drain.h"
#include "sh_index.h"
#include "sh_util.h"

/* ---- snapshot (pure) ---- */

static const char *leaf(const etcd_kv *kv)
{
	const char *s = strrchr(kv->key, '/');
	return s ? s + 1 : kv->key;
}

int drain_snapshot(const dock_node_list *nl, const etcd_range_result *hb, const etcd_range_result *st,
		   const etcd_range_result *rq, const char *const *prev_ids, const drain_mem *prev_mem, size_t nprev,
		   int64_t now, int64_t now_real, drain_node *out, drain_persisted *ps, drain_mem *mem,
		   char (*zones)[64], char (*bad)[160])
{
	size_t n = nl->n;
	const char **ids = calloc(n ? n : 1, sizeof(*ids));
	if (!ids)
		return -1;
	for (size_t i = 0; i < n; i++)
		ids[i] = nl->v[i].id;
	sh_index ix, px = {0};
	if (sh_index_build(&ix, ids, n) || sh_index_build(&px, prev_ids, nprev)) {
		sh_index_free(&ix);
		free(ids);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const dock_node *dn = &nl->v[i];
		memset(&out[i], 0, sizeof(out[i]));
		memset(&ps[i], 0, sizeof(ps[i]));
		bad[i][0] = '\0';
		zones[i][0] = '\0';
		out[i].id = dn->id;
		out[i].hostname = dn->hostname;
		out[i].swarm_state = dn->state;
		out[i].availability = dn->availability;
		out[i].zone = dock_node_label(dn, "zone");
		long p = sh_index_find(&px, dn->id);
		if (p >= 0)
			mem[i] = prev_mem[p];
		else
			memset(&mem[i], 0, sizeof(mem[i]));
	}
	for (size_t k = 0; k < hb->n; k++) {
		long i = sh_index_find(&ix, leaf(&hb->kvs[k]));
		if (i < 0)
			continue;
		drain_node *x = &out[i];
		rec_heartbeat h;
		char why[100];
		int parsed = rec_heartbeat_parse(hb->kvs[k].value, hb->kvs[k].value_len, &h, why, sizeof(why)) == SH_OK;
		if (!parsed)
			snprintf(bad[i], 160, "heartbeat %s: taken as a live agent, engine unknown", why);
		drain_node_set_heartbeat(x, &h, parsed); /* the key exists: unparsable means alive, engine unknown */
		if (parsed && !h.stopped && h.addr[0])
			snprintf(mem[i].addr, sizeof(mem[i].addr), "%s", h.addr);
		if (!x->hb_stopped && hb->kvs[k].lease != mem[i].lease) {
			/* a new lease (agent restarted): no reading of it yet, and a challenge on the old one died with it */
			mem[i].lease = hb->kvs[k].lease;
			mem[i].lease_at = 0;
			mem[i].challenge_nonce[0] = '\0';
			mem[i].challenge_at = 0;
			mem[i].challenge_answered = 0;
		}
		if (!x->zone && parsed && h.zone[0]) {
			snprintf(zones[i], 64, "%s", h.zone);
			x->zone = zones[i];
		}
	}
	for (size_t k = 0; k < st->n; k++) {
		long i = sh_index_find(&ix, leaf(&st->kvs[k]));
		if (i < 0)
			continue;
		drain_node *x = &out[i];
		rec_drain_state r;
		char why[140];
		ps[i].raw = st->kvs[k].value;
		if (rec_drain_state_parse(st->kvs[k].value, st->kvs[k].value_len, &r, why, sizeof(why))) {
			/* never forget a drain we may have made: count it as ours, touch nothing */
			ps[i].unreadable = 1;
			x->state = DRAIN_DRAINED;
			snprintf(bad[i], 160, "drain state %s", why);
			continue;
		}
		ps[i].rec = r;
		/* the previous leader saw this node's heartbeat: it is monitored, not an agent-less node */
		if (!mem[i].watch.seen && (!strcmp(r.monitor, "monitored") || !strcmp(r.monitor, "suspect") ||
					   !strcmp(r.monitor, "dead")))
			mem[i].watch.seen = 1;
		if (!strcmp(r.state, "draining")) {
			ps[i].pending = 1;
			x->state = DRAIN_DRAINED;
		} else if (!strcmp(r.state, "restoring")) {
			ps[i].pending = 2;
			x->state = DRAIN_DRAINED;
		} else {
			drain_state_parse(r.state, &x->state);
		}
		x->flaps = (int)r.flaps;
		x->since_ns = r.since_ns ? now - (now_real - r.since_ns) : now;
	}
	for (size_t k = 0; k < rq->n; k++) {
		long i = sh_index_find(&ix, leaf(&rq->kvs[k]));
		if (i >= 0)
			out[i].requested = 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!out[i].since_ns)
			out[i].since_ns = now;
		out[i].watch = mem[i].watch;
		out[i].probe = mem[i].probe;
		out[i].probe_at_ns = mem[i].probe_at;
		out[i].lease_ttl_s = mem[i].lease_ttl;
		out[i].lease_granted_s = mem[i].lease_granted;
		out[i].lease_at_ns = mem[i].lease_at;
		out[i].challenge_at_ns = mem[i].challenge_at;
		out[i].challenge_answered = mem[i].challenge_answered;
		if (!mem[i].addr[0] && nl->v[i].addr[0] && strcmp(nl->v[i].addr, "0.0.0.0"))
			snprintf(mem[i].addr, sizeof(mem[i].addr), "%s", nl->v[i].addr);
	}
	sh_index_free(&ix);
	sh_index_free(&px);
	free(ids);
	return 0;
}

int drain_challenge_answers(const char *value, size_t len, const char *nonce)
{
	rec_drain_challenge c;
	char why[120];
	return nonce && nonce[0] && rec_drain_challenge_parse(value, len, &c, why, sizeof(why)) == SH_OK &&
	       c.answered_ns && !strcmp(c.nonce, nonce);
}

/* ---- the shell ---- */

/* One connect attempt's timeout; sh_probe_many tries twice, so a silent host is known within 600 ms. */
#define DRAIN_PROBE_TIMEOUT_MS 300

typedef struct plan {
	enum drain_kind kind;  /* DRAIN_ACT_DRAIN or DRAIN_ACT_RESTORE */
	char reason[300];
	int flaps;
	char monitor[16];      /* the node's monitoring state when decided */
	char *prev_state;      /* JSON to put back when the engine call fails */
} plan;

typedef struct drain_shell {
	/* memory of the last pass, by node id */
	char **ids;
	drain_mem *mem;
	size_t n;
	plan *plans;           /* parallel to ids: what the worker should do for each node */
	sh_index ix;
	int64_t term;          /* the fencing token of the term the memory belongs to */
	char budget_note[600]; /* the last unknown-budget failure logged ("why|error"), "" while budgets are read */
} drain_shell;

static void shell_clear(drain_shell *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->ids[i]);
		free(d->plans[i].prev_state);
	}
	free(d->ids);
	free(d->mem);
	free(d->plans);
	sh_index_free(&d->ix);
	d->ids = NULL;
	d->mem = NULL;
	d->plans = NULL;
	d->n = 0;
}

static sh_err drain_init(ctl_ctx *x, void **state)
{
	(void)x;
	*state = calloc(1, sizeof(drain_shell));
	return *state ? SH_OK : SH_E_NOMEM;
}

static void drain_release(void *state)
{
	drain_shell *d = state;
	if (d)
		shell_clear(d);
	free(d);
}

static char *state_json(ctl_ctx *x, const char *state, const char *reason, int flaps, const char *monitor)
{
	rec_drain_state r = {.since_ns = sh_real_ns(), .flaps = flaps, .fence = x->el ? x->el->rev : 0};
	snprintf(r.state, sizeof(r.state), "%s", state);
	snprintf(r.monitor, sizeof(r.monitor), "%s", monitor ? monitor : "");
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	return rec_drain_state_encode(&r);
}

/* drain or restore one node: record the intent (fenced), call the engine, record the result */
static sh_err act_availability(ctl_ctx *x, drain_mem *m, const char *id, int drain, const char *reason,
			       const char *prev_state, int flaps, const char *monitor)
{
	const char *kind = drain ? "drain" : "restore";
	char skey[400];
	if (rec_drain_state_key(skey, sizeof(skey), x->common.prefix, id))
		return SH_E_INVAL;
	if (x->common.dry_run) {
		char note[256], k[32];
		snprintf(note, sizeof(note), "would-%s %s", kind, reason);
		if (m && !strcmp(m->last_note, note))
			return SH_OK;
		if (m)
			snprintf(m->last_note, sizeof(m->last_note), "%s", note);
		snprintf(k, sizeof(k), "would-%s", kind);
		return ctl_record(x, k, id, reason, "dry-run", NULL, NULL, NULL);
	}
	char *pending = state_json(x, drain ? "draining" : "restoring", reason, flaps, monitor);
	sh_err e = pending ? ctl_record(x, kind, id, reason, "started", NULL, skey, pending) : SH_E_NOMEM;
	free(pending);
	if (e)
		return e;
	int64_t t0 = sh_mono_ns();
	sh_err de = dock_node_set_availability(x->dock, id, drain ? "drain" : "active");
	ctl_engine_done(x, t0);
	if (m)
		m->last_note[0] = '\0';
	if (de == SH_OK) {
		char *done = state_json(x, drain ? "drained" : "restored", reason, flaps, monitor);
		e = done ? ctl_record(x, kind, id, reason, "ok", NULL, skey, done) : SH_E_NOMEM;
		free(done);
		return e;
	}
	char res[400];
	snprintf(res, sizeof(res), "failed: %s", dock_errmsg(x->dock));
	/* put the state back so the next pass decides afresh */
	e = ctl_record(x, kind, id, reason, res, NULL, skey, prev_state ? prev_state : "{\"state\":\"none\"}");
	return e ? e : de;
}

/*
 * Every service with a swarmheal.min-available label, with the nodes of its running tasks. Fails at the first read
 * that fails - the service list, or a labelled service's task list - with why naming it (the engine's error stays in
 * dock_errmsg): a budget left out would let a manual drain take the last replicas the label keeps. *out, *nout and
 * *tls_out hold what was read also then, released by the caller the same way.
 */
static sh_err read_services(ctl_ctx *x, drain_service **out, size_t *nout, dock_service_list *sl,
			    dock_task_list **tls_out, char *why, size_t wlen)
{
	*out = NULL;
	*nout = 0;
	*tls_out = NULL;
	int64_t t0 = sh_mono_ns();
	sh_err e = dock_services_list(x->dock, sl);
	ctl_engine_done(x, t0);
	if (e) {
		snprintf(why, wlen, "cannot read the service list");
		return e;
	}
	drain_service *svcs = calloc(sl->n ? sl->n : 1, sizeof(*svcs));
	dock_task_list *tls = calloc(sl->n ? sl->n : 1, sizeof(*tls));
	if (!svcs || !tls) {
		free(svcs);
		free(tls);
		snprintf(why, wlen, "out of memory reading the services");
		return SH_E_NOMEM;
	}
	size_t n = 0;
	for (size_t s = 0; s < sl->n && e == SH_OK; s++) {
		const cJSON *lab = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sl->v[s].spec, "Labels"),
								    "swarmheal.min-available");
		if (!cJSON_IsString(lab))
			continue;
		char f[200];
		snprintf(f, sizeof(f), "{\"service\":[\"%s\"],\"desired-state\":[\"running\"]}", sl->v[s].id);
		t0 = sh_mono_ns();
		e = dock_tasks_list(x->dock, f, &tls[n]);
		ctl_engine_done(x, t0);
		if (e) {
			snprintf(why, wlen, "cannot read the task list of service '%.100s'", sl->v[s].name);
			break;
		}
		drain_service *sv = &svcs[n];
		sv->name = sl->v[s].name;
		sv->min_available = lab->valuestring;
		sv->replicas = sl->v[s].replicas;
		sv->task_nodes = calloc(tls[n].n ? tls[n].n : 1, sizeof(char *));
		for (size_t t = 0; t < tls[n].n && sv->task_nodes; t++)
			if (!strcmp(tls[n].v[t].state, "running"))
				sv->task_nodes[sv->ntasks++] = tls[n].v[t].node_id;
		if (!sv->task_nodes) {
			snprintf(why, wlen, "out of memory reading the tasks of service '%.100s'", sl->v[s].name);
			e = SH_E_NOMEM;
		}
		n++;
	}
	*out = svcs;
	*nout = n;
	*tls_out = tls;
	return e;
}

/* mark the challenges the range ch shows answered (by node id, the key's last part) */
static void read_answers(ctl_ctx *x, const etcd_range_result *ch, drain_node *nodes, drain_mem *mem, size_t n,
			 int64_t now)
{
	for (size_t k = 0; k < ch->n; k++) {
		const char *id = leaf(&ch->kvs[k]);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(nodes[i].id, id) || !mem[i].challenge_nonce[0] || mem[i].challenge_answered)
				continue;
			if (!drain_challenge_answers(ch->kvs[k].value, ch->kvs[k].value_len, mem[i].challenge_nonce))
				break;
			mem[i].challenge_answered = 1;
			nodes[i].challenge_answered = 1;
			/* seen_after_ms: from our write to this read, pass pick-up and probes included (an upper bound
			 * of the agent's answer time) */
			sh_log("info", x->def->name, "challenge answered | node=%s nonce=%s seen_after_ms=%lld", id,
			       mem[i].challenge_nonce, (long long)((now - mem[i].challenge_at) / SH_NS_PER_MS));
			break;
		}
	}
}

/* the answers to our challenges, read only while one waits: call it after taking the clock the decision gets
 * (now), so an answer written before now is seen (etcd's range is linearizable) and "not answered by now" holds.
 * A failed read (logged by ctl_range) is returned: the caller must not decide with it (no answer seen is not
 * "not answered") */
static sh_err read_waiting_answers(ctl_ctx *x, drain_node *nodes, drain_mem *mem, size_t n, int64_t now)
{
	int waiting = 0;
	for (size_t i = 0; i < n; i++)
		waiting |= mem[i].challenge_nonce[0] && !mem[i].challenge_answered;
	etcd_range_result ch = {0};
	sh_err e = waiting ? ctl_range(x, "/drain/challenge/", &ch) : SH_OK;
	if (waiting && e == SH_OK)
		read_answers(x, &ch, nodes, mem, n, now);
	etcd_range_result_free(&ch);
	return e;
}

/* write a fresh challenge for node i's agent on its heartbeat's lease (rec_drain_challenge) */
static void challenge(ctl_ctx *x, drain_node *nd, drain_mem *m)
{
	const char *name = x->def->name;
	uint64_t r;
	rec_drain_challenge c = {.ts_ns = sh_real_ns()};
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		sh_log("error", name, "cannot challenge: no random bytes | node=%s", nd->id);
		return;
	}
	snprintf(c.nonce, sizeof(c.nonce), "%016" PRIx64, r);
	char key[400];
	char *v = rec_drain_challenge_key(key, sizeof(key), x->common.prefix, nd->id) ? NULL
											 : rec_drain_challenge_encode(&c);
	if (!v)
		return;
	etcd_put_opts po = {.lease = m->lease};
	int64_t t0 = sh_mono_ns();
	sh_err e = etcd_put(x->etcd, key, v, strlen(v), &po, NULL, NULL);
	ctl_etcd_done(x, t0);
	free(v);
	if (e) {
		/* asked again at the next pass (every 100 ms during an incident): logged once until a write succeeds */
		if (!m->challenge_failing)
			sh_log("warn", name, "cannot write a challenge, retrying at each pass | node=%s key=%s error=\"%s\"",
			       nd->id, key, etcd_errmsg(x->etcd));
		m->challenge_failing = 1;
		return;
	}
	m->challenge_failing = 0;
	snprintf(m->challenge_nonce, sizeof(m->challenge_nonce), "%s", c.nonce);
	m->challenge_at = sh_mono_ns();
	m->challenge_answered = 0;
	nd->challenge_at_ns = m->challenge_at;
	nd->challenge_answered = 0;
	sh_log("info", name, "challenged the agent of a node that does not answer on port 7946 | node=%s nonce=%s "
	       "lease=%llx", nd->id, c.nonce, (unsigned long long)m->lease);
}

static sh_err drain_reconcile(ctl_ctx *x, void *state)
{
	drain_shell *d = state;
	const drain_opts *o = x->cfg;
	const char *name = x->def->name;
	/* observe */
	dock_node_list nl;
	int64_t t0 = sh_mono_ns();
	sh_err e = dock_nodes_list(x->dock, &nl);
	ctl_engine_done(x, t0);
	if (e) {
		sh_log("error", name, "cannot list nodes | error=\"%s\"", dock_errmsg(x->dock));
		return e;
	}
	etcd_range_result hb = {0}, st = {0}, rq = {0};
	if ((e = ctl_range(x, "/nodes/", &hb)) || (e = ctl_range(x, "/drain/state/", &st)) ||
	    (e = ctl_range(x, "/drain/requests/", &rq))) {
		etcd_range_result_free(&hb);
		etcd_range_result_free(&st);
		etcd_range_result_free(&rq);
		dock_node_list_free(&nl);
		return e;
	}
	enum rec_mode mode = ctl_mode(x);

	/* snapshot */
	size_t n = nl.n;
	drain_node *nodes = calloc(n + 1, sizeof(*nodes));
	drain_persisted *ps = calloc(n + 1, sizeof(*ps));
	drain_mem *mem = calloc(n + 1, sizeof(*mem));
	char(*zones)[64] = calloc(n + 1, 64);
	char(*bad)[160] = calloc(n + 1, 160);
	char **ids = calloc(n + 1, sizeof(char *));
	plan *plans = calloc(n + 1, sizeof(*plans));
	drain_result res = {0};
	int ok = nodes && ps && mem && zones && bad && ids && plans;
	for (size_t i = 0; ok && i < n; i++)
		ok = (ids[i] = strdup(nl.v[i].id)) != NULL;
	int64_t now = sh_mono_ns();
	/* a new term starts with no heartbeat seen: every node is unmonitored until its first one */
	if (x->el && x->el->rev != d->term) {
		shell_clear(d);
		d->term = x->el->rev;
	}
	if (ok)
		ok = drain_snapshot(&nl, &hb, &st, &rq, (const char *const *)d->ids, d->mem, d->n, now, sh_real_ns(),
				    nodes, ps, mem, zones, bad) == 0;
	int any_request = rq.n > 0;
	for (size_t i = 0; ok && i < n; i++) {
		if (!bad[i][0])
			continue;
		char key[400];
		int st_bad = !strncmp(bad[i], "drain state", 11);
		snprintf(key, sizeof(key), "%s/%s/%s", x->common.prefix, st_bad ? "drain/state" : "nodes", nodes[i].id);
		int64_t rev = 0;
		const etcd_range_result *src = st_bad ? &st : &hb;
		for (size_t k = 0; k < src->n; k++)
			if (!strcmp(src->kvs[k].key, key))
				rev = src->kvs[k].mod_revision;
		ctl_warn_record(x, key, rev, bad[i]);
	}
	/* finish what a previous leader started (its intent is recorded, the engine call may not be) */
	for (size_t i = 0; ok && i < n && e == SH_OK; i++) {
		if (ps[i].pending == 1 && strcmp(nodes[i].availability, "drain")) {
			e = act_availability(x, &mem[i], nodes[i].id, 1, "finishing a drain a previous leader started", NULL,
					     nodes[i].flaps, NULL);
			nodes[i].availability = "drain";
		} else if (ps[i].pending == 2 && strcmp(nodes[i].availability, "active")) {
			e = act_availability(x, &mem[i], nodes[i].id, 0, "finishing a restore a previous leader started", NULL,
					     nodes[i].flaps, NULL);
			nodes[i].availability = "active";
			nodes[i].state = DRAIN_RESTORED;
		} else if (ps[i].pending == 2) {
			nodes[i].state = DRAIN_RESTORED;
		}
	}
	if (e == SH_E_NOT_LEADER)
		ok = 0;
	/* services with a disruption budget, only when a manual request needs them */
	dock_service_list sl = {0};
	drain_service *svcs = NULL;
	dock_task_list *tls = NULL;
	size_t nsvc = 0;
	char bwhy[200] = "", berr[400] = "";
	sh_err be = ok && any_request ? read_services(x, &svcs, &nsvc, &sl, &tls, bwhy, sizeof(bwhy)) : SH_OK;
	if (be) {
		/* a budget unknown: manual requests are held this pass (the decision refuses them, marked held) */
		snprintf(berr, sizeof(berr), "%s", be == SH_E_NOMEM ? "out of memory" : dock_errmsg(x->dock));
		char note[sizeof(d->budget_note)];
		snprintf(note, sizeof(note), "%s|%s", bwhy, berr);
		if (strcmp(d->budget_note, note)) /* logged when the failure changes, not at every pass */
			sh_log("warn", name,
			       "min-available budgets unknown: manual drain requests held | why=\"%s\" error=\"%s\"",
			       bwhy, berr);
		snprintf(d->budget_note, sizeof(d->budget_note), "%s", note);
	} else {
		d->budget_note[0] = '\0';
	}

	/* answers to our challenges, read after now was taken; unread, this pass decides nothing */
	sh_err ae = ok ? read_waiting_answers(x, nodes, mem, n, now) : SH_OK;
	if (ae) {
		ok = 0;
		e = e ? e : ae;
	}

	/* decide; probe together (one poll loop) every node the decision asks for - the watched live ones and the
	 * suspects - read the lease of each early suspect, and decide again at once (at most three rounds) */
	drain_policy pol = {.grace_ns = o->grace_ms * SH_NS_PER_MS, .restore_after_ns = o->restore_after_ms * SH_NS_PER_MS,
			    .max_drained = (int)o->max_drained, .read_only = mode == REC_MODE_READ_ONLY, .monitoring = 1,
			    .settle_ns = o->settle_ms ? o->settle_ms * SH_NS_PER_MS : -1,
			    .probe_every_ns = o->probe_every_ms * SH_NS_PER_MS,
			    .challenge_timeout_ns = o->challenge_timeout_ms * SH_NS_PER_MS,
			    .budgets_unknown = bwhy[0] ? bwhy : NULL};
	if (ok && drain_decide_all(&pol, nodes, n, svcs, nsvc, now, &res))
		ok = 0;
	for (int round = 0; ok && round < 3; round++) {
		size_t nprobe = 0, nlease = 0, nchal = 0;
		for (size_t a = 0; a < res.nacts; a++) {
			nprobe += res.acts[a].kind == DRAIN_ACT_PROBE;
			nlease += res.acts[a].kind == DRAIN_ACT_LEASE;
			nchal += res.acts[a].kind == DRAIN_ACT_CHALLENGE;
		}
		if (!nprobe && !nlease && !nchal)
			break;
		sh_probe *pv = calloc(nprobe + 1, sizeof(*pv));
		size_t *who = calloc(nprobe + 1, sizeof(*who));
		size_t k = 0;
		for (size_t a = 0; pv && who && a < res.nacts; a++) {
			size_t i = res.acts[a].node;
			if (res.acts[a].kind != DRAIN_ACT_PROBE || !mem[i].addr[0])
				continue;
			pv[k] = (sh_probe){.host = mem[i].addr, .port = 7946};
			who[k++] = i;
		}
		int64_t tp = sh_mono_ns();
		if (k)
			sh_probe_many(pv, k, DRAIN_PROBE_TIMEOUT_MS, NULL);
		int64_t done = sh_mono_ns();
		for (size_t j = 0; j < k; j++) {
			size_t i = who[j];
			enum drain_probe was = mem[i].probe;
			mem[i].probe = drain_probe_from(pv[j].result);
			mem[i].probe_at = done;
			nodes[i].probe = mem[i].probe;
			nodes[i].probe_at_ns = done;
			int lost = !nodes[i].hb_present || nodes[i].hb_stopped;
			/* a watched node is logged only when it does not answer or answers again */
			int changed = was != DRAIN_PROBE_ALIVE && was != DRAIN_PROBE_NONE;
			if (lost || mem[i].probe != DRAIN_PROBE_ALIVE || changed)
				sh_log(mem[i].probe == DRAIN_PROBE_ALIVE ? "info" : "warn", name,
				       "probed %s | node=%s addr=%s:7946 result=%s tries=%d ms=%lld",
				       lost ? "a node whose heartbeat is gone" : "a live node", nodes[i].id, mem[i].addr,
				       sh_probe_result_name(pv[j].result), pv[j].tries,
				       (long long)((done - tp) / SH_NS_PER_MS));
		}
		free(pv);
		free(who);
		/* early suspects: how long ago did the agent keep its lease alive? */
		for (size_t a = 0; a < res.nacts; a++) {
			size_t i = res.acts[a].node;
			if (res.acts[a].kind != DRAIN_ACT_LEASE || !mem[i].lease)
				continue;
			int64_t ttl = -1, granted = 0, tl = sh_mono_ns();
			sh_err le = etcd_lease_ttl(x->etcd, mem[i].lease, &ttl, &granted, NULL);
			ctl_etcd_done(x, tl);
			if (le) {
				sh_log("warn", name, "cannot read a heartbeat lease | node=%s lease=%llx error=\"%s\"",
				       nodes[i].id, (unsigned long long)mem[i].lease, etcd_errmsg(x->etcd));
				continue;
			}
			/* logged when the reading changes, not at every read */
			if (!mem[i].lease_at || ttl != mem[i].lease_ttl)
				sh_log("info", name,
				       "read the lease of a node that does not answer | node=%s lease=%llx ttl=%lld "
				       "granted=%lld",
				       nodes[i].id, (unsigned long long)mem[i].lease, (long long)ttl,
				       (long long)granted);
			mem[i].lease_ttl = ttl;
			mem[i].lease_granted = granted;
			mem[i].lease_at = sh_mono_ns();
			nodes[i].lease_ttl_s = ttl;
			nodes[i].lease_granted_s = granted;
			nodes[i].lease_at_ns = mem[i].lease_at;
		}
		/* early suspects whose agents answer challenges: challenge them */
		for (size_t a = 0; a < res.nacts; a++)
			if (res.acts[a].kind == DRAIN_ACT_CHALLENGE)
				challenge(x, &nodes[res.acts[a].node], &mem[res.acts[a].node]);
		/* the clock moved on (a silent port's probe takes 600 ms): an answer that came meanwhile counts, or a
		 * challenge answered in time would be judged unanswered against this later clock. Unread: the last
		 * decision stands (its answers were read after its clock), as when the rounds run out */
		int64_t later = sh_mono_ns();
		if (read_waiting_answers(x, nodes, mem, n, later))
			break;
		for (size_t i = 0; i < n; i++)
			nodes[i].watch = res.watch[i];
		drain_result_free(&res);
		now = later;
		if (drain_decide_all(&pol, nodes, n, svcs, nsvc, now, &res))
			ok = 0;
	}
	int incident = 0;
	for (size_t i = 0; ok && i < n; i++) {
		mem[i].watch = res.watch[i];
		incident |= res.watch[i].mon == DRAIN_MON_SUSPECT || res.watch[i].mon == DRAIN_MON_DEAD;
	}
	for (int m = 0; ok && m < DRAIN_MON_COUNT; m++) {
		char l[64];
		snprintf(l, sizeof(l), "state=\"%s\"", drain_mon_name((enum drain_mon)m));
		ctl_metric_set("swarmheal_nodes", l, (double)res.count[m]);
	}
	/* keep each node's monitoring state in its drain state, so a successor knows which nodes had agents */
	const char **mkeys = calloc(n + 1, sizeof(char *)), **mvals = calloc(n + 1, sizeof(char *));
	size_t nm = 0;
	for (size_t i = 0; ok && mkeys && mvals && i < n; i++) {
		const char *want = drain_mon_name(mem[i].watch.mon);
		if (ps[i].unreadable || ps[i].pending || !strcmp(ps[i].rec.monitor, want))
			continue;
		rec_drain_state r = ps[i].rec;
		if (!r.state[0]) {
			snprintf(r.state, sizeof(r.state), "none");
			r.since_ns = sh_real_ns();
		}
		snprintf(r.monitor, sizeof(r.monitor), "%s", want);
		r.fence = x->el ? x->el->rev : 0;
		char key[400];
		char *v = rec_drain_state_encode(&r);
		if (!v || rec_drain_state_key(key, sizeof(key), x->common.prefix, nodes[i].id) || !(mkeys[nm] = strdup(key))) {
			free(v);
			continue;
		}
		mvals[nm++] = v;
	}
	if (nm && e == SH_OK)
		e = ctl_put_fenced(x, mkeys, mvals, nm);
	for (size_t i = 0; i < nm; i++) {
		free((char *)mkeys[i]);
		free((char *)mvals[i]);
	}
	free(mkeys);
	free(mvals);
	/* while a node is suspect or dead, pass often: a settle window or a grace ends between resyncs */
	if (incident)
		ctl_resync_after(x, 100 * SH_NS_PER_MS);

	/* records now; engine actions to the worker, one per node */
	for (size_t a = 0; ok && a < res.nacts && e == SH_OK; a++) {
		drain_action *ac = &res.acts[a];
		size_t i = ac->node;
		if (ac->kind == DRAIN_ACT_PROBE || ac->kind == DRAIN_ACT_LEASE || ac->kind == DRAIN_ACT_CHALLENGE)
			continue; /* asked for in the last round: the decision asks again at the next pass */
		if (ps[i].unreadable) {
			char note[256];
			snprintf(note, sizeof(note), "drain state of node %s is unreadable: leaving the node as it is",
				 nodes[i].id);
			if (strcmp(mem[i].last_note, note)) {
				snprintf(mem[i].last_note, sizeof(mem[i].last_note), "%s", note);
				e = ctl_record(x, "refuse", nodes[i].id, note, "refused", NULL, NULL, NULL);
			}
			continue;
		}
		if (ac->kind == DRAIN_ACT_DRAIN || ac->kind == DRAIN_ACT_RESTORE) {
			plans[i].kind = ac->kind;
			plans[i].flaps = ac->flaps;
			snprintf(plans[i].reason, sizeof(plans[i].reason), "%s", ac->reason);
			snprintf(plans[i].monitor, sizeof(plans[i].monitor), "%s", drain_mon_name(mem[i].watch.mon));
			plans[i].prev_state = ps[i].raw ? strdup(ps[i].raw) : NULL;
			if (!ctl_queue_backing_off(x->q, nodes[i].id, now))
				ctl_enqueue(x, nodes[i].id);
		} else if (ac->kind == DRAIN_ACT_FORGET) {
			char skey[400];
			rec_drain_state_key(skey, sizeof(skey), x->common.prefix, nodes[i].id);
			char *sj = state_json(x, drain_state_name(ac->new_state), ac->reason, ac->flaps,
					      drain_mon_name(mem[i].watch.mon));
			e = x->common.dry_run ? SH_OK
					      : ctl_record(x, "hands-off", nodes[i].id, ac->reason, "recorded", NULL, skey, sj);
			free(sj);
			mem[i].last_note[0] = '\0';
		} else if (ac->kind == DRAIN_ACT_REFUSE) {
			if (!strcmp(mem[i].last_note, ac->reason))
				continue; /* already recorded this episode */
			snprintf(mem[i].last_note, sizeof(mem[i].last_note), "%s", ac->reason);
			/* a request held for an unknown budget: the engine's error with it */
			char *det = NULL;
			cJSON *dj = ac->held ? cJSON_CreateObject() : NULL;
			if (dj && cJSON_AddStringToObject(dj, "error", berr))
				det = cJSON_PrintUnformatted(dj);
			cJSON_Delete(dj);
			e = ctl_record(x, "refuse", nodes[i].id, ac->reason, "refused", det, NULL, NULL);
			free(det);
		} else if (ac->kind == DRAIN_ACT_NOTE) {
			/* the decision emits each note once per episode */
			e = ctl_record(x, "note", nodes[i].id, ac->reason, "recorded", NULL, NULL, NULL);
		}
	}
	/* the new memory replaces the old */
	if (ok) {
		shell_clear(d);
		d->ids = ids;
		d->mem = mem;
		d->plans = plans;
		d->n = n;
		if (sh_index_build(&d->ix, (const char *const *)d->ids, n))
			e = SH_E_NOMEM;
		ids = NULL;
		mem = NULL;
		plans = NULL;
	}
	for (size_t s = 0; s < nsvc; s++) {
		free(svcs[s].task_nodes);
		dock_task_list_free(&tls[s]);
	}
	free(svcs);
	free(tls);
	dock_service_list_free(&sl);
	for (size_t i = 0; ids && i < n; i++)
		free(ids[i]);
	for (size_t i = 0; plans && i < n; i++)
		free(plans[i].prev_state);
	free(ids);
	free(plans);
	free(mem);
	drain_result_free(&res);
	free(bad);
	free(zones);
	free(ps);
	free(nodes);
	etcd_range_result_free(&hb);
	etcd_range_result_free(&st);
	etcd_range_result_free(&rq);
	dock_node_list_free(&nl);
	if (!ok && e == SH_OK)
		e = SH_E_NOMEM;
	return e;
}

static sh_err drain_work(ctl_ctx *x, void *state, const char *key)
{
	drain_shell *d = state;
	long i = sh_index_find(&d->ix, key);
	if (i < 0 || (d->plans[i].kind != DRAIN_ACT_DRAIN && d->plans[i].kind != DRAIN_ACT_RESTORE))
		return SH_OK; /* no longer needed */
	plan *p = &d->plans[i];
	int drain = p->kind == DRAIN_ACT_DRAIN;
	/* a manual request stays: the node stays drained until it is removed */
	sh_err e = act_availability(x, &d->mem[i], key, drain, p->reason, p->prev_state, p->flaps, p->monitor);
	p->kind = DRAIN_ACT_REFUSE; /* done (or to be decided afresh by the next pass) */
	return e;
}

#define DO(f) offsetof(drain_opts, f)
static const sh_opt drain_opt_table[] = {
	{"drain-grace", SH_OPT_DURATION, DO(grace_ms), "0s", NULL, "how long a node must look dead before it is drained",
	 "SWARMHEAL_DRAIN_GRACE", SH_OPT_RELOAD, 0, NULL},
	{"restore-after", SH_OPT_DURATION, DO(restore_after_ms), "30s", NULL,
	 "healthy time before a node swarmheal drained goes back to active", "SWARMHEAL_RESTORE_AFTER", SH_OPT_RELOAD, 0,
	 NULL},
	{"drain-settle", SH_OPT_DURATION, DO(settle_ms), "1500ms", NULL,
	 "a node found dead by the probe waits this long after its heartbeat vanished, so leases lost together "
	 "count as one event ('0' none)", "SWARMHEAL_DRAIN_SETTLE", SH_OPT_RELOAD, 0, NULL},
	{"drain-probe-interval", SH_OPT_DURATION, DO(probe_every_ms), "500ms", NULL,
	 "probe every live monitored node's port 7946 at most this often (at each pass); one that does not answer "
	 "and whose agent does not answer a challenge (older agents: missed a keepalive) is drained before its lease "
	 "expires ('0' off)",
	 "SWARMHEAL_DRAIN_PROBE_INTERVAL", SH_OPT_RELOAD, 0, NULL},
	{"drain-challenge-timeout", SH_OPT_DURATION, DO(challenge_timeout_ms), "500ms", NULL,
	 "a node that does not answer on port 7946 while its heartbeat lives is challenged through etcd; its agent "
	 "silent this long is the second signal of death", "SWARMHEAL_DRAIN_CHALLENGE_TIMEOUT", SH_OPT_RELOAD, 1,
	 NULL},
	{"max-drained", SH_OPT_COUNT, DO(max_drained), NULL, "N",
	 "nodes drained by swarmheal at once (default a third of the nodes, at least 1)", "SWARMHEAL_MAX_DRAINED",
	 SH_OPT_RELOAD, 1, NULL},
	{0},
};

static const char *const drain_watched[] = {"/nodes/", "/drain/requests/", "/drain/challenge/", "/arbiter/", NULL};

const ctl_def drain_def = {
	.name = "drain",
	.summary = "drain nodes that are dead (heartbeat, engine, Swarm), restore them when healthy",
	.watch = drain_watched,
	.engine_events = "{\"type\":[\"node\"]}",
	.needs_engine = 1,
	.opts = drain_opt_table,
	.cfg_size = sizeof(drain_opts),
	.init = drain_init,
	.reconcile = drain_reconcile,
	.work = drain_work,
	.release = drain_release,
};
