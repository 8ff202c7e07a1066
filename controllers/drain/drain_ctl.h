/* SPDX-License-Identifier: MIT */
/* drain_ctl.h - the node-drain controller: its table entry, options, and the pure snapshot its shell builds */
#ifndef DRAIN_CTL_H
#define DRAIN_CTL_H

#include "ctl.h"
#include "drain.h"

/* --drain-grace, --restore-after, --max-drained (0: a third of the nodes, at least 1). */
typedef struct drain_opts {
	int64_t grace_ms, restore_after_ms, max_drained;
} drain_opts;

extern const ctl_def drain_def;

/* What the controller remembers about a node between passes (monotonic ns). */
typedef struct drain_mem {
	int64_t unhealthy_since, healthy_since;
	char last_note[256]; /* the last refusal or dry-run recorded this episode: recorded once */
} drain_mem;

/* The persisted drain state as the snapshot read it. */
typedef struct drain_persisted {
	int pending;       /* 1 "draining", 2 "restoring": an action a previous leader did not finish */
	int unreadable;    /* the record did not parse: keep the node as drained, act on nothing about it */
	const char *raw;   /* the record's JSON (points into the range result), NULL when absent */
} drain_persisted;

/*
 * Observed state in (plain structs: the engine's node list, the etcd ranges
 * of /nodes/, /drain/state/, /drain/requests/, keyed by the last path part),
 * the previous pass's memory (prev_ids[i] ↔ prev_mem[i]), the clocks.
 * Out, for each of nl->n nodes in order: out[i] for drain_decide, ps[i],
 * mem[i] (carried over by node id, then updated: unhealthy/healthy since).
 * A malformed heartbeat or state sets bad[i] to the reason (else ""), for the
 * shell to warn once. Pure: a hash join, O(nodes + keys). 0 ok, -1 no memory.
 */
int drain_snapshot(const dock_node_list *nl, const etcd_range_result *hb, const etcd_range_result *st,
		   const etcd_range_result *rq, const char *const *prev_ids, const drain_mem *prev_mem, size_t nprev,
		   int64_t now_mono, int64_t now_real, drain_node *out, drain_persisted *ps, drain_mem *mem,
		   char (*zones)[64], char (*bad)[160]);

#endif
