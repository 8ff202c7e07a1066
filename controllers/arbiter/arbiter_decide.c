/* SPDX-License-Identifier: MIT */
/* arbiter_decide.c - live nodes per zone, the mode with its grace, placement and the quorum guard (pure) */
#include "arbiter_decide.h"

#include <stdio.h>
#include <string.h>

static int eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

int arbiter_node_live(const arbiter_node *n, const char **why)
{
	const char *w;
	int live;
	if (n->hb == ARB_HB_RUNNING && !n->hb_engine_down && eq(n->monitor, "dead") && n->monitor_current &&
	    !eq(n->swarm_state, "down") && !eq(n->swarm_state, "disconnected")) {
		/* the drain controller found the port silent and the agent not answering its challenge: the key
		 * only waits for its lease to expire (15 s at the agent's default) */
		live = 0;
		w = "port and agent silent";
	} else if (n->hb == ARB_HB_RUNNING && !n->hb_engine_down) {
		live = 1;
		w = "heartbeat";
	} else if (n->hb == ARB_HB_RUNNING) {
		live = 0;
		w = "agent reports its engine down";
	} else if (n->hb == ARB_HB_ABSENT && (n->hb_seen || eq(n->monitor, "suspect") || eq(n->monitor, "dead"))) {
		live = 0;
		w = "heartbeat lost";
	} else {
		live = eq(n->swarm_state, "ready") && !(n->manager && eq(n->reachability, "unreachable"));
		w = live ? "unmonitored, swarm ready" : "unmonitored, swarm not ready";
	}
	if (why)
		*why = w;
	return live;
}

static arbiter_zone *zone_of(arbiter_view *v, const char *name)
{
	for (size_t i = 0; i < v->nzones; i++)
		if (!strcmp(v->zones[i].name, name))
			return &v->zones[i];
	if (v->nzones == ARB_MAX_ZONES)
		return &v->zones[ARB_MAX_ZONES - 1];
	arbiter_zone *z = &v->zones[v->nzones++];
	memset(z, 0, sizeof(*z));
	snprintf(z->name, sizeof(z->name), "%s", name);
	return z;
}

void arbiter_view_of(const arbiter_policy *p, const arbiter_node *nodes, size_t n, arbiter_view *v)
{
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const arbiter_node *x = &nodes[i];
		int live = arbiter_node_live(x, NULL);
		if (!x->zone || !*x->zone) {
			v->zoneless++;
			v->zoneless_live += live;
			continue;
		}
		arbiter_zone *z = zone_of(v, x->zone);
		int ready = eq(x->swarm_state, "ready");
		int down = eq(x->swarm_state, "down") || eq(x->swarm_state, "disconnected");
		z->nodes++;
		z->live += live;
		z->swarm_ready += ready;
		z->managers += x->manager;
		z->managers_reachable += x->manager && eq(x->reachability, "reachable");
		z->disagree += x->hb == ARB_HB_RUNNING && ((live && down) || (!live && ready));
	}
	for (size_t i = 0; i < v->nzones; i++) {
		v->live_zones += v->zones[i].live > 0;
		v->strong_zones += v->zones[i].live >= p->zone_min_live;
	}
	const arbiter_zone *only = NULL;
	for (size_t i = 0; i < v->nzones; i++)
		if (v->zones[i].live > 0)
			only = &v->zones[i];
	if (v->nzones < 2) {
		v->mode = REC_MODE_NORMAL;
		snprintf(v->reason, sizeof(v->reason), "%zu zone(s) known: zone rules need two", v->nzones);
	} else if (v->strong_zones == 0) {
		v->mode = REC_MODE_READ_ONLY;
		snprintf(v->reason, sizeof(v->reason), "no zone of %zu has %lld live nodes (%zu with any)", v->nzones,
			 (long long)p->zone_min_live, v->live_zones);
	} else if (v->live_zones == 1) {
		v->mode = REC_MODE_SINGLE_ZONE;
		snprintf(v->survivor, sizeof(v->survivor), "%s", only->name);
		snprintf(v->reason, sizeof(v->reason), "only zone %s of %zu has live nodes (%d of %d)", only->name,
			 v->nzones, only->live, only->nodes);
	} else if ((int64_t)v->live_zones * 100 >= (int64_t)v->nzones * p->normal_pct) {
		v->mode = REC_MODE_NORMAL;
		snprintf(v->reason, sizeof(v->reason), "%zu of %zu zones have live nodes", v->live_zones, v->nzones);
	} else {
		v->mode = REC_MODE_READ_ONLY;
		snprintf(v->reason, sizeof(v->reason), "only %zu of %zu zones have live nodes, fewer than %lld%%: no side "
			 "can be trusted", v->live_zones, v->nzones, (long long)p->normal_pct);
	}
}

int arbiter_step(const arbiter_policy *p, arbiter_mem *mem, const rec_arbiter_mode *published, int have,
		 const arbiter_view *view, int64_t now)
{
	enum rec_mode cur = have ? published->mode : REC_MODE_NORMAL;
	const char *cur_surv = have ? published->survivor : "";
	if (have && view->mode == cur && !strcmp(view->survivor, cur_surv)) {
		memset(mem, 0, sizeof(*mem));
		return 0;
	}
	if (!have && view->mode == REC_MODE_NORMAL) {
		memset(mem, 0, sizeof(*mem));
		return 1;
	}
	if (!mem->pending_since || mem->pending != view->mode || strcmp(mem->pending_survivor, view->survivor)) {
		mem->pending = view->mode;
		snprintf(mem->pending_survivor, sizeof(mem->pending_survivor), "%s", view->survivor);
		mem->pending_since = now;
	}
	if (now - mem->pending_since >= p->grace_ns) {
		memset(mem, 0, sizeof(*mem));
		return 1;
	}
	return 0;
}

enum arbiter_place arbiter_placement(const rec_arbiter_mode *mode, const char *my_zone, int survivor_replicas)
{
	if (mode->mode != REC_MODE_SINGLE_ZONE || !mode->survivor[0] || !strcmp(nz(my_zone), mode->survivor))
		return ARB_STAY;
	return survivor_replicas > 0 ? ARB_RESIGN : ARB_STAY_ALONE;
}

void arbiter_quorum_step(const arbiter_qpolicy *p, arbiter_qmem *mem, const arbiter_manager *m, size_t n,
			 int64_t now, arbiter_qaction *out)
{
	memset(out, 0, sizeof(*out));
	size_t answering = 0;
	for (size_t i = 0; i < n; i++) {
		if (m[i].answers && m[i].has_leader) {
			if (mem->lost_since && mem->reported) {
				out->kind = ARB_Q_RECOVERED;
				snprintf(out->reason, sizeof(out->reason), "manager %s reports a swarm leader again",
					 nz(m[i].node_id)[0] ? m[i].node_id : m[i].host);
			}
			memset(mem, 0, sizeof(*mem));
			return;
		}
		answering += m[i].answers && m[i].is_manager;
	}
	if (!answering)
		return;
	if (!mem->lost_since) {
		memset(mem, 0, sizeof(*mem));
		mem->lost_since = now;
	}
	if (!mem->reported) {
		mem->reported = 1;
		out->kind = ARB_Q_LOST;
		snprintf(out->reason, sizeof(out->reason), "no manager reports a swarm leader (%zu of %zu answer): raft "
			 "quorum lost", answering, n);
		return;
	}
	if (mem->acted || now - mem->lost_since < p->grace_ns)
		return;
	long long secs = (long long)((now - mem->lost_since) / 1000000000);
	if (!p->allow_force) {
		if (!mem->refused) {
			mem->refused = 1;
			out->kind = ARB_Q_REFUSE;
			snprintf(out->reason, sizeof(out->reason), "quorum lost for %llds; not forcing a new cluster: "
				 "--allow-force-new-cluster is off", secs);
		}
		return;
	}
	if (!p->may_act)
		return;
	for (size_t i = 0; i < n; i++) {
		if (m[i].answers && m[i].is_manager && eq(m[i].zone, p->my_zone) && *nz(p->my_zone)) {
			mem->acted = 1;
			out->kind = ARB_Q_FORCE;
			out->target = i;
			snprintf(out->reason, sizeof(out->reason), "quorum lost for %llds; forcing a new cluster on manager "
				 "%s in zone %s", secs, nz(m[i].node_id)[0] ? m[i].node_id : m[i].host, p->my_zone);
			return;
		}
	}
	if (!mem->refused) {
		mem->refused = 1;
		out->kind = ARB_Q_REFUSE;
		snprintf(out->reason, sizeof(out->reason), "quorum lost for %llds; no manager in zone '%s' answers: "
			 "not forcing a new cluster", secs, nz(p->my_zone));
	}
}
