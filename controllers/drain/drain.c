/* SPDX-License-Identifier: MIT */
/* drain.c - node-drain rules: grace, partition guard, budget, flap hold-off, hands off what people did */
#include "drain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void act(drain_action *out, size_t max, size_t *k, enum drain_kind kind, size_t node, enum drain_state st,
		int flaps, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

#include <stdarg.h>
static void act(drain_action *out, size_t max, size_t *k, enum drain_kind kind, size_t node, enum drain_state st,
		int flaps, const char *fmt, ...)
{
	if (*k >= max)
		return;
	drain_action *a = &out[(*k)++];
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
static int budget_ok(const drain_node *nodes, const node_index *ix, const drain_service *svcs, size_t nsvc,
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
			if (on >= 0 && (drain_node_dead(&nodes[on]) || eq(nodes[on].availability, "drain")))
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

size_t drain_decide(const drain_policy *p, const drain_node *nodes, size_t n, const drain_service *svcs, size_t nsvc,
		    int64_t now, drain_action *out, size_t max)
{
	size_t k = 0;
	if (n == 0)
		return 0;
	int64_t flap_window = p->flap_window_ns > 0 ? p->flap_window_ns : 300 * NS_S;
	int64_t holdoff_max = p->holdoff_max_ns > 0 ? p->holdoff_max_ns : 3600 * NS_S;
	int max_drained = p->max_drained > 0 ? p->max_drained : (int)(n / 3 > 0 ? n / 3 : 1);

	/* partition guard: more than half the nodes, or every node of more than half the zones */
	size_t dead = 0;
	for (size_t i = 0; i < n; i++)
		dead += drain_node_dead(&nodes[i]);
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
		zone_dead[j] += drain_node_dead(&nodes[i]);
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
		int is_dead = drain_node_dead(nd);
		const char *avail = nd->availability ? nd->availability : "";

		/* a person reactivated a node we drained: hands off until it has been healthy */
		if (nd->state == DRAIN_DRAINED && !eq(avail, "drain")) {
			act(out, max, &k, DRAIN_ACT_FORGET, i, DRAIN_HUMAN_ACTIVE, nd->flaps,
			    "node %s was set to %s by someone else after we drained it: leaving it alone", nd->id,
			    avail);
			continue;
		}
		if (nd->state == DRAIN_HUMAN_ACTIVE) {
			if (!is_dead && nd->healthy_since_ns && now - nd->healthy_since_ns >= p->restore_after_ns)
				act(out, max, &k, DRAIN_ACT_FORGET, i, DRAIN_NONE, nd->flaps,
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
			if (!is_dead && !nd->requested && nd->healthy_since_ns && now - nd->healthy_since_ns >= need) {
				if (p->read_only)
					act(out, max, &k, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
					    "would restore node %s but the arbiter mode is read-only", nd->id);
				else
					act(out, max, &k, DRAIN_ACT_RESTORE, i, DRAIN_RESTORED, nd->flaps,
					    "node %s healthy for %llds (heartbeat and swarm ready)", nd->id,
					    (long long)((now - nd->healthy_since_ns) / NS_S));
			}
			continue;
		}

		/* a drain a person made is theirs: never undone, never counted as ours */
		if (eq(avail, "drain"))
			continue;

		char why[200];
		int want = 0;
		if (is_dead && nd->unhealthy_since_ns && now - nd->unhealthy_since_ns >= p->grace_ns) {
			want = 1;
			snprintf(why, sizeof(why), "%s",
				 !nd->hb_present		  ? "heartbeat key is gone"
				 : !nd->hb_engine_up		  ? "agent reports its engine down"
				 : eq(nd->swarm_state, "down") ? "swarm reports it down"
							       : "swarm reports it disconnected");
		} else if (nd->requested && !is_dead) {
			char bwhy[200];
			if (nsvc && !have_index) {
				act(out, max, &k, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
				    "manual drain of node %s refused: out of memory checking budgets", nd->id);
				continue;
			}
			if (nsvc && !budget_ok(nodes, &ix, svcs, nsvc, i, bwhy, sizeof(bwhy))) {
				act(out, max, &k, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
				    "manual drain of node %s refused: %s", nd->id, bwhy);
				continue;
			}
			want = 2;
			snprintf(why, sizeof(why), "manual request");
		}
		if (!want)
			continue;
		if (want == 1 && partition) {
			act(out, max, &k, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
			    "not draining node %s (%s): %zu of %zu nodes%s look dead, suspecting our own partition", nd->id,
			    why, dead, n, nz > 1 ? " or most zones" : "");
			continue;
		}
		if (p->read_only) {
			act(out, max, &k, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
			    "would drain node %s (%s) but the arbiter mode is read-only", nd->id, why);
			continue;
		}
		if (drained_by_us >= max_drained) {
			act(out, max, &k, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps,
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
		act(out, max, &k, DRAIN_ACT_DRAIN, i, DRAIN_DRAINED, flaps, "%s%s", why,
		    flaps ? " (failed again soon after a restore)" : "");
	}
	free(ix.slot);
	return k;
}
