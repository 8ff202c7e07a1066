/* SPDX-License-Identifier: MIT */
/* drain.c - node-drain rules: grace, partition guard, budget, flap hold-off, hands off what people did */
#include "drain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_concurrency.h"

#define NS_S INT64_C(1000000000)

const char *drain_state_name(enum drain_state s)
{
	switch (s) {
	case DRAIN_NONE:
		return "none";
	case DRAIN_DRAINED:
		return "drained";
	case DRAIN_RESTORED:
		return "restored";
	case DRAIN_HUMAN_ACTIVE:
		return "reactivated-by-person";
	}
	return "none";
}

int drain_state_parse(const char *s, enum drain_state *out)
{
	static const enum drain_state all[] = {DRAIN_NONE, DRAIN_DRAINED, DRAIN_RESTORED, DRAIN_HUMAN_ACTIVE};
	for (size_t i = 0; i < 4; i++)
		if (s && !strcmp(s, drain_state_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	if (s && !strcmp(s, "draining")) {
		*out = DRAIN_DRAINED;
		return 0;
	}
	return -1;
}

static int eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

int drain_node_dead(const drain_node *n)
{
	if (eq(n->swarm_state, "down") || eq(n->swarm_state, "disconnected"))
		return 1;
	if (!n->hb_present || !n->hb_engine_up)
		return 1;
	return 0;
}

int drain_min_available(const char *spec, int64_t replicas)
{
	if (!spec || !*spec)
		return -1;
	char *end;
	long v = strtol(spec, &end, 10);
	if (end == spec || v < 0)
		return -1;
	if (*end == '%' && end[1] == '\0') {
		if (v > 100)
			return -1;
		return (int)((replicas * v + 99) / 100); /* round up, like a PodDisruptionBudget */
	}
	return *end ? -1 : (int)v;
}

#include <stdarg.h>
static void act(drain_result *r, int *oom, enum drain_kind kind, size_t node, enum drain_state st, int flaps,
		const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void act(drain_result *r, int *oom, enum drain_kind kind, size_t node, enum drain_state st, int flaps,
		const char *fmt, ...)
{
	if (r->nacts == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		drain_action *v = realloc(r->acts, cap * sizeof(*v));
		if (!v) {
			*oom = 1;
			return;
		}
		r->acts = v;
		r->cap = cap;
	}
	drain_action *a = &r->acts[r->nacts++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->node = node;
	a->new_state = st;
	a->flaps = flaps;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
}

/* node id -> index, open addressing (FNV-1a): tasks name their node by id */
typedef struct node_index {
	long *slot;
	size_t mask;
	const drain_node *nodes;
} node_index;

static uint64_t fnv(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);
	while (*s)
		h = (h ^ (unsigned char)*s++) * UINT64_C(1099511628211);
	return h;
}

static int index_build(node_index *ix, const drain_node *nodes, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	ix->slot = malloc(cap * sizeof(long));
	if (!ix->slot)
		return -1;
	for (size_t i = 0; i < cap; i++)
		ix->slot[i] = -1;
	ix->mask = cap - 1;
	ix->nodes = nodes;
	for (size_t i = 0; i < n; i++) {
		size_t h = (size_t)fnv(nodes[i].id) & ix->mask;
		while (ix->slot[h] >= 0)
			h = (h + 1) & ix->mask;
		ix->slot[h] = (long)i;
	}
	return 0;
}

static long index_find(const node_index *ix, const char *id)
{
	if (!id || !ix->slot)
		return -1;
	for (size_t h = (size_t)fnv(id) & ix->mask; ix->slot[h] >= 0; h = (h + 1) & ix->mask)
		if (!strcmp(ix->nodes[ix->slot[h]].id, id))
			return ix->slot[h];
	return -1;
}

/* Would draining node `target` leave every labelled service its minimum? */
static int budget_ok(const drain_node *nodes, const int *dead, const node_index *ix, const drain_service *svcs, size_t nsvc,
		     size_t target, char *why, size_t wlen)
{
	for (size_t s = 0; s < nsvc; s++) {
		int min = drain_min_available(svcs[s].min_available, svcs[s].replicas);
		if (min < 0) {
			snprintf(why, wlen, "service '%s' has a malformed swarmheal.min-available '%s'", svcs[s].name,
				 svcs[s].min_available ? svcs[s].min_available : "");
			return 0;
		}
		int left = 0;
		for (size_t t = 0; t < svcs[s].ntasks; t++) {
			long on = index_find(ix, svcs[s].task_nodes[t]);
			if (on == (long)target)
				continue;
			/* tasks on dead or drained nodes do not count */
			if (on >= 0 && (dead[on] || eq(nodes[on].availability, "drain")))
				continue;
			left++;
		}
		if (left < min) {
			snprintf(why, wlen, "service '%s' would keep %d running tasks, below its min-available %d",
				 svcs[s].name, left, min);
			return 0;
		}
	}
	return 1;
}

const char *drain_mon_name(enum drain_mon m)
{
	switch (m) {
	case DRAIN_MON_UNMONITORED:
		return "unmonitored";
	case DRAIN_MON_MONITORED:
		return "monitored";
	case DRAIN_MON_SUSPECT:
		return "suspect";
	case DRAIN_MON_DEAD:
		return "dead";
	}
	return "unmonitored";
}

void drain_node_set_heartbeat(drain_node *n, const rec_heartbeat *h, int parsed)
{
	n->hb_present = h != NULL;
	n->hb_stopped = h && parsed && h->stopped;
	n->hb_engine = !h || n->hb_stopped ? DRAIN_ENGINE_UNSET
		       : !parsed	   ? DRAIN_ENGINE_UNSET
		       : h->engine == REC_ENGINE_DOWN ? DRAIN_ENGINE_DOWN
		       : h->engine == REC_ENGINE_SLOW ? DRAIN_ENGINE_SLOW
						      : DRAIN_ENGINE_UP;
	n->hb_engine_up = n->hb_present && n->hb_engine != DRAIN_ENGINE_DOWN;
	n->hb_runs_as = h && parsed && h->runs_as ? rec_runs_as_name(h->runs_as) : NULL;
	n->hb_answers_challenge = h && parsed && !h->stopped && h->answers_challenge;
}

enum drain_probe drain_probe_from(sh_probe_result r)
{
	switch (r) {
	case SH_PROBE_ALIVE:
		return DRAIN_PROBE_ALIVE;
	case SH_PROBE_REFUSED:
		return DRAIN_PROBE_REFUSED;
	case SH_PROBE_TIMEOUT:
	case SH_PROBE_UNREACHABLE:
		return DRAIN_PROBE_TIMEOUT;
	case SH_PROBE_NONE:
	case SH_PROBE_ERROR:
		break;
	}
	return DRAIN_PROBE_NONE;
}

int drain_keepalive_missed(int64_t ttl_s, int64_t granted_s)
{
	int64_t g = granted_s * NS_S;
	/* -1: etcd no longer has the lease (it omits the granted TTL then); a granted TTL of 0 (unknown) makes the
	 * bound negative: no verdict */
	return ttl_s < 0 || (ttl_s + 1) * NS_S <= g - etcd_session_period(g, 0) - DRAIN_KEEPALIVE_SLACK_NS;
}

/* How the rules see one node this pass. */
typedef struct judged {
	int dead;              /* evidence of death */
	int pending;           /* not dead yet, not alive either (a suspect without an answer): the guard counts it */
	int settling;          /* dead by the probe, inside the settle window: counted, not drained yet */
	int healthy;           /* alive for the restore clock */
	int64_t dead_since;    /* grace clock (0: unknown, never drained) */
	int64_t healthy_since; /* restore clock */
	char why[200];         /* what the death is */
} judged;

static const char *swarm_dead_why(const drain_node *n)
{
	if (eq(n->swarm_state, "down"))
		return "swarm reports it down";
	if (eq(n->swarm_state, "disconnected"))
		return "swarm reports it disconnected";
	return NULL;
}

/* the rules before monitoring: the key's presence at face value */
static void judge_legacy(const drain_node *nd, judged *j)
{
	j->dead = drain_node_dead(nd);
	j->dead_since = nd->unhealthy_since_ns;
	j->healthy = !j->dead;
	j->healthy_since = nd->healthy_since_ns;
	const char *sw = swarm_dead_why(nd);
	snprintf(j->why, sizeof(j->why), "%s",
		 !nd->hb_present    ? "heartbeat key is gone"
		 : !nd->hb_engine_up ? "agent reports its engine down"
		 : sw		     ? sw
				     : "");
}

#define PROBE_REASK_NS (2 * NS_S) /* a probe asked for and not answered is asked again after this */

/* monitoring: the next drain_watch of one node, its judgement, and whether to probe or note */
static void judge_watch(const drain_policy *p, const drain_node *nd, size_t i, int64_t now, drain_watch *w,
			judged *j, drain_result *r, int *oom)
{
	const drain_watch *o = &nd->watch;
	int64_t settle = p->settle_ns == 0 ? 1500 * NS_S / 1000 : p->settle_ns < 0 ? 0 : p->settle_ns;
	int64_t reprobe = p->reprobe_ns > 0 ? p->reprobe_ns : 5 * NS_S;
	*w = *o;
	int live = nd->hb_present && !nd->hb_stopped;
	if (nd->hb_stopped) {
		w->seen = 0;
	} else if (live) {
		w->seen = 1;
		w->runs_as_task = eq(nd->hb_runs_as, "swarm-task");
	}
	if (live || !w->seen) {
		w->lost_ns = 0;
		w->answered = 0;
		w->noted &= ~DRAIN_NOTED_ANSWERS;
	} else if (!w->lost_ns) {
		w->lost_ns = now;
	}
	if (w->seen)
		w->noted &= ~DRAIN_NOTED_UNMONITORED;
	int fresh = w->lost_ns && nd->probe != DRAIN_PROBE_NONE && nd->probe_at_ns >= w->lost_ns;
	/* early suspicion: the newest probe of a live node, taken while its heartbeat was live, failed */
	int64_t every = p->probe_every_ns > 0 ? p->probe_every_ns : 0;
	if (!live)
		w->live_since_ns = 0;
	else if (!w->live_since_ns)
		w->live_since_ns = now;
	int early = every && live && w->seen && nd->probe_at_ns >= w->live_since_ns &&
		    (nd->probe == DRAIN_PROBE_REFUSED || nd->probe == DRAIN_PROBE_TIMEOUT);
	/* a node found dead early stays dead when its key then expires, for the same reason, while its port
	 * still fails (no second settle window, no second record of the same death) */
	int early_kept = !live && w->seen && o->mon == DRAIN_MON_DEAD && o->early_ns &&
			 (nd->probe == DRAIN_PROBE_REFUSED || nd->probe == DRAIN_PROBE_TIMEOUT);
	if (!early && !early_kept) {
		w->early_ns = 0;
		w->early_challenge = 0;
	}
	else if (!w->early_ns)
		w->early_ns = nd->probe_at_ns;
	/* the second signal: an agent that answers challenges is challenged, an older one's lease is read */
	int chal = early && nd->hb_answers_challenge;
	int lease_fresh = early && !chal && nd->lease_at_ns && nd->lease_at_ns >= w->early_ns;
	int missed = lease_fresh && drain_keepalive_missed(nd->lease_ttl_s, nd->lease_granted_s);
	int64_t ctimeout = p->challenge_timeout_ns > 0 ? p->challenge_timeout_ns : DRAIN_CHALLENGE_TIMEOUT_NS;
	int chal_fresh = chal && nd->challenge_at_ns && nd->challenge_at_ns >= w->early_ns;
	int unanswered = chal_fresh && !nd->challenge_answered && now - nd->challenge_at_ns >= ctimeout;
	enum drain_mon m;
	int probe_death = 0, early_death = 0;
	j->why[0] = '\0';
	if (!w->seen) {
		m = DRAIN_MON_UNMONITORED;
	} else if (live && nd->hb_engine == DRAIN_ENGINE_DOWN) {
		m = DRAIN_MON_DEAD;
		snprintf(j->why, sizeof(j->why), "agent reports its engine down");
	} else if ((live && unanswered) || (early_kept && o->early_challenge)) {
		m = DRAIN_MON_DEAD;
		early_death = 1;
		w->early_challenge = 1;
		snprintf(j->why, sizeof(j->why),
			 "the node %s on port 7946 and its agent did not answer a challenge within %lldms",
			 nd->probe == DRAIN_PROBE_REFUSED ? "refuses connections" : "does not answer",
			 (long long)(ctimeout / (NS_S / 1000)));
	} else if ((live && missed) || early_kept) {
		m = DRAIN_MON_DEAD;
		early_death = 1;
		char lease[64];
		if (nd->lease_ttl_s < 0)
			snprintf(lease, sizeof(lease), "under 1s left or gone");
		else
			snprintf(lease, sizeof(lease), "TTL %llds of %llds", (long long)nd->lease_ttl_s,
				 (long long)nd->lease_granted_s);
		snprintf(j->why, sizeof(j->why), "the node %s on port 7946 and its agent missed a keepalive (lease %s)",
			 nd->probe == DRAIN_PROBE_REFUSED ? "refuses connections" : "does not answer", lease);
	} else if (live) {
		m = early ? DRAIN_MON_SUSPECT : DRAIN_MON_MONITORED;
	} else if (fresh && nd->probe == DRAIN_PROBE_ALIVE) {
		m = DRAIN_MON_SUSPECT;
		w->answered = 1;
	} else if (fresh) {
		m = DRAIN_MON_DEAD;
		w->answered = 0;
		probe_death = 1;
		snprintf(j->why, sizeof(j->why), "heartbeat gone without a stop mark and the node %s on port 7946",
			 nd->probe == DRAIN_PROBE_REFUSED ? "refuses connections" : "does not answer");
	} else {
		m = DRAIN_MON_SUSPECT;
		w->answered = 0;
	}
	/* Swarm's own view: down or disconnected is death whatever the heartbeat says */
	const char *sw = swarm_dead_why(nd);
	if (sw && m != DRAIN_MON_DEAD) {
		m = DRAIN_MON_DEAD;
		snprintf(j->why, sizeof(j->why), "%s", sw);
	}
	if (m != o->mon || !o->mon_since_ns)
		w->mon_since_ns = now;
	w->mon = m;

	/* ask for a probe: a seen node without its key, first in this episode, then every reprobe */
	if (w->seen && !live && !sw) {
		int need = fresh ? now - nd->probe_at_ns >= reprobe : 1;
		int outstanding = w->probe_asked_ns && w->probe_asked_ns >= w->lost_ns &&
				  (!fresh || w->probe_asked_ns > nd->probe_at_ns) && now - w->probe_asked_ns < PROBE_REASK_NS;
		if (need && !outstanding) {
			w->probe_asked_ns = now;
			act(r, oom, DRAIN_ACT_PROBE, i, nd->state, nd->flaps,
			    "heartbeat of node %s gone without a stop mark: probing its port 7946", nd->id);
		}
	} else if (every && live && w->seen && !sw) {
		/* watching: a live node's port, every probe_every_ns */
		int need = !nd->probe_at_ns || now - nd->probe_at_ns >= every;
		int outstanding = w->probe_asked_ns > nd->probe_at_ns && now - w->probe_asked_ns < PROBE_REASK_NS;
		if (need && !outstanding) {
			w->probe_asked_ns = now;
			act(r, oom, DRAIN_ACT_PROBE, i, nd->state, nd->flaps, "watching node %s: probing its port 7946",
			    nd->id);
		}
	}
	/* an early suspect: is its agent still keeping its lease? */
	int64_t reask = now - w->early_ns < DRAIN_LEASE_FAST_NS ? DRAIN_LEASE_REASK_NS : DRAIN_LEASE_SLOW_NS;
	if (early && !chal && !missed && !sw && (!lease_fresh || now - nd->lease_at_ns >= reask))
		act(r, oom, DRAIN_ACT_LEASE, i, nd->state, nd->flaps,
		    "node %s does not answer on port 7946 while its heartbeat lives: reading its lease's TTL", nd->id);
	/* an early suspect whose agent answers challenges: challenge it, again a while after each answer (never
	 * while one waits: an unanswered one is death, not a reason to ask again) */
	if (chal && !sw &&
	    (!chal_fresh || (nd->challenge_answered && now - nd->challenge_at_ns >= DRAIN_CHALLENGE_REASK_NS)))
		act(r, oom, DRAIN_ACT_CHALLENGE, i, nd->state, nd->flaps,
		    "node %s does not answer on port 7946 while its heartbeat lives: challenging its agent", nd->id);
	if (m == DRAIN_MON_UNMONITORED && !(w->noted & DRAIN_NOTED_UNMONITORED)) {
		w->noted |= DRAIN_NOTED_UNMONITORED;
		act(r, oom, DRAIN_ACT_NOTE, i, nd->state, nd->flaps,
		    "node %s is unmonitored: %s; judged by Swarm's state only", nd->id,
		    nd->hb_stopped ? "its agent was stopped on purpose" : "no agent heartbeat seen");
	}
	if (m == DRAIN_MON_SUSPECT && w->answered && !(w->noted & DRAIN_NOTED_ANSWERS)) {
		w->noted |= DRAIN_NOTED_ANSWERS;
		act(r, oom, DRAIN_ACT_NOTE, i, nd->state, nd->flaps,
		    "agent lost, node answers: node %s has no heartbeat but accepts connections on port 7946; not "
		    "draining",
		    nd->id);
	}

	j->dead = m == DRAIN_MON_DEAD;
	j->pending = m == DRAIN_MON_SUSPECT && !w->answered;
	j->settling = (probe_death && !sw && now - w->lost_ns < settle) ||
		      (early_death && !sw && now - w->early_ns < every);
	j->dead_since = j->dead ? w->mon_since_ns : 0;
	/* healthy for the restore clock: a live heartbeat, or (unmonitored) Swarm's word; a node whose agent ran as
	 * a Swarm task (it cannot run on a drained node) also when Swarm says ready and the node answers */
	j->healthy = m == DRAIN_MON_MONITORED || m == DRAIN_MON_UNMONITORED ||
		     (m == DRAIN_MON_SUSPECT && w->answered && w->runs_as_task && eq(nd->swarm_state, "ready"));
	if (!j->healthy)
		w->healthy_since_ns = 0;
	else if (!w->healthy_since_ns)
		w->healthy_since_ns = now;
	j->healthy_since = w->healthy_since_ns;
	r->count[m]++;
}

void drain_result_free(drain_result *r)
{
	if (!r)
		return;
	free(r->acts);
	free(r->watch);
	memset(r, 0, sizeof(*r));
}

sh_err drain_decide_all(const drain_policy *p, const drain_node *nodes, size_t n, const drain_service *svcs,
			size_t nsvc, int64_t now, drain_result *out)
{
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return SH_OK;
	int oom = 0;
	drain_result *r = out;
	judged *jd = calloc(n, sizeof(*jd));
	int *deadv = calloc(n, sizeof(*deadv));
	r->watch = calloc(n, sizeof(*r->watch));
	if (!jd || !deadv || !r->watch) {
		free(jd);
		free(deadv);
		return SH_E_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (p->monitoring)
			judge_watch(p, &nodes[i], i, now, &r->watch[i], &jd[i], r, &oom);
		else
			judge_legacy(&nodes[i], &jd[i]);
		deadv[i] = jd[i].dead;
	}

	int64_t flap_window = p->flap_window_ns > 0 ? p->flap_window_ns : 300 * NS_S;
	int64_t holdoff_max = p->holdoff_max_ns > 0 ? p->holdoff_max_ns : 3600 * NS_S;
	int max_drained = p->max_drained > 0 ? p->max_drained : (int)(n / 3 > 0 ? n / 3 : 1);

	/* partition guard: more than half the nodes, or every node of more than half the zones, look dead
	 * (dead or a suspect that has not answered its probe) */
	size_t dead = 0;
	for (size_t i = 0; i < n; i++)
		dead += jd[i].dead || jd[i].pending;
	const char *zones[64];
	int zone_total[64] = {0}, zone_dead[64] = {0};
	size_t nz = 0;
	for (size_t i = 0; i < n; i++) {
		const char *z = nodes[i].zone && *nodes[i].zone ? nodes[i].zone : NULL;
		if (!z)
			continue;
		size_t j;
		for (j = 0; j < nz && strcmp(zones[j], z); j++)
			;
		if (j == nz) {
			if (nz == 64)
				continue;
			zones[nz++] = z;
		}
		zone_total[j]++;
		zone_dead[j] += jd[i].dead || jd[i].pending;
	}
	size_t zones_down = 0;
	for (size_t j = 0; j < nz; j++)
		zones_down += zone_dead[j] == zone_total[j];
	int partition = dead * 2 > n || (nz > 1 && zones_down * 2 > nz);

	node_index ix = {0};
	int have_index = nsvc > 0 && index_build(&ix, nodes, n) == 0;
	int drained_by_us = 0;
	for (size_t i = 0; i < n; i++)
		drained_by_us += nodes[i].state == DRAIN_DRAINED && eq(nodes[i].availability, "drain");

	for (size_t i = 0; i < n; i++) {
		const drain_node *nd = &nodes[i];
		const judged *J = &jd[i];
		int is_dead = J->dead;
		const char *avail = nd->availability ? nd->availability : "";

		/* a person reactivated a node we drained: hands off until it has been healthy */
		if (nd->state == DRAIN_DRAINED && !eq(avail, "drain")) {
			act(r, &oom, DRAIN_ACT_FORGET, i, DRAIN_HUMAN_ACTIVE, nd->flaps,
			    "node %s was set to %s by someone else after we drained it: leaving it alone", nd->id,
			    avail);
			continue;
		}
		if (nd->state == DRAIN_HUMAN_ACTIVE) {
			if (J->healthy && J->healthy_since && now - J->healthy_since >= p->restore_after_ns)
				act(r, &oom, DRAIN_ACT_FORGET, i, DRAIN_NONE, nd->flaps,
				    "node %s healthy again after a person reactivated it: back under swarmheal's care",
				    nd->id);
			continue;
		}

		if (nd->state == DRAIN_DRAINED) {
			/* restore once healthy long enough; flapping nodes wait exponentially longer */
			int64_t need = p->restore_after_ns;
			for (int f = 0; f < nd->flaps && need < holdoff_max; f++)
				need *= 2;
			if (need > holdoff_max)
				need = holdoff_max;
			if (J->healthy && !nd->requested && J->healthy_since && now - J->healthy_since >= need) {
				if (p->read_only)
					act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
					    "would restore node %s but the arbiter mode is read-only", nd->id);
				else if (p->monitoring && r->watch[i].mon == DRAIN_MON_SUSPECT)
					act(r, &oom, DRAIN_ACT_RESTORE, i, DRAIN_RESTORED, nd->flaps,
					    "node %s ready in swarm and answering on port 7946 for %llds; its agent runs "
					    "as a swarm task, which cannot run on a drained node",
					    nd->id, (long long)((now - J->healthy_since) / NS_S));
				else
					act(r, &oom, DRAIN_ACT_RESTORE, i, DRAIN_RESTORED, nd->flaps,
					    "node %s healthy for %llds (%s)", nd->id,
					    (long long)((now - J->healthy_since) / NS_S),
					    p->monitoring && r->watch[i].mon == DRAIN_MON_UNMONITORED
						    ? "unmonitored, swarm not down"
						    : "heartbeat and swarm ready");
			}
			continue;
		}

		/* a drain a person made is theirs: never undone, never counted as ours */
		if (eq(avail, "drain"))
			continue;

		char why[200];
		int want = 0;
		if (is_dead && J->dead_since && now - J->dead_since >= p->grace_ns && !J->settling) {
			want = 1;
			snprintf(why, sizeof(why), "%s", J->why);
		} else if (nd->requested && !is_dead) {
			char bwhy[200];
			if (p->budgets_unknown) {
				size_t held_at = r->nacts;
				act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
				    "manual drain of node %s held: the min-available budgets are unknown this pass (%s)",
				    nd->id, p->budgets_unknown);
				if (r->nacts > held_at)
					r->acts[held_at].held = 1;
				continue;
			}
			if (nsvc && !have_index) {
				act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
				    "manual drain of node %s refused: out of memory checking budgets", nd->id);
				continue;
			}
			if (nsvc && !budget_ok(nodes, deadv, &ix, svcs, nsvc, i, bwhy, sizeof(bwhy))) {
				act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
				    "manual drain of node %s refused: %s", nd->id, bwhy);
				continue;
			}
			want = 2;
			snprintf(why, sizeof(why), "manual request");
		}
		if (!want)
			continue;
		if (want == 1 && partition) {
			act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
			    "not draining node %s (%s): %zu of %zu nodes%s look dead, suspecting our own partition", nd->id,
			    why, dead, n, nz > 1 ? " or most zones" : "");
			continue;
		}
		if (p->read_only) {
			act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
			    "would drain node %s (%s) but the arbiter mode is read-only", nd->id, why);
			continue;
		}
		if (drained_by_us >= max_drained) {
			act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
			    "not draining node %s (%s): %d nodes already drained by swarmheal, the limit is %d", nd->id,
			    why, drained_by_us, max_drained);
			continue;
		}
		int flaps = nd->flaps;
		if (nd->state == DRAIN_RESTORED && now - nd->since_ns < flap_window)
			flaps++;
		else if (nd->state == DRAIN_RESTORED || nd->state == DRAIN_NONE)
			flaps = nd->state == DRAIN_RESTORED ? 0 : flaps;
		drained_by_us++;
		act(r, &oom, DRAIN_ACT_DRAIN, i, DRAIN_DRAINED, flaps, "%s%s", why,
		    flaps ? " (failed again soon after a restore)" : "");
	}
	free(ix.slot);
	free(jd);
	free(deadv);
	return oom ? SH_E_NOMEM : SH_OK;
}

size_t drain_decide(const drain_policy *p, const drain_node *nodes, size_t n, const drain_service *svcs, size_t nsvc,
		    int64_t now, drain_action *out, size_t max)
{
	drain_result r;
	size_t k = 0;
	if (drain_decide_all(p, nodes, n, svcs, nsvc, now, &r) == SH_OK) {
		k = r.nacts < max ? r.nacts : max;
		if (k)
			memcpy(out, r.acts, k * sizeof(*out));
	}
	drain_result_free(&r);
	return k;
}
