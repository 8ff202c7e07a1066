/* SPDX-License-Identifier: MIT */
/* drain_ctl.h - the node-drain controller: its table entry, options, and the pure snapshot its shell builds */
#ifndef DRAIN_CTL_H
#define DRAIN_CTL_H

#include "ctl.h"
#include "drain.h"

/* --drain-grace, --restore-after, --max-drained (0: a third of the nodes, at least 1), --drain-settle,
 * --drain-probe-interval (0: live nodes are not probed, no early suspicion), --drain-challenge-timeout. */
typedef struct drain_opts {
	int64_t grace_ms, restore_after_ms, max_drained, settle_ms, probe_every_ms, challenge_timeout_ms;
} drain_opts;

extern const ctl_def drain_def;

/* What the controller remembers about a node between passes (this leader's term only). */
typedef struct drain_mem {
	drain_watch watch;     /* the decision's memory (drain_result.watch), zero when this leader starts */
	char addr[64];         /* the address of the node's last heartbeat: the probe's target once the key is gone */
	enum drain_probe probe; /* newest probe result and when it finished (monotonic ns) */
	int64_t probe_at;
	int64_t lease;         /* the lease of the node's live heartbeat key (0 none), for early suspicion */
	int64_t lease_ttl, lease_granted, lease_at; /* its newest etcd_lease_ttl reading, when (monotonic ns) */
	char last_note[256];   /* the last refusal or dry-run recorded this episode: recorded once */
	char challenge_nonce[33]; /* the newest challenge written to the node's agent ("" none), when (monotonic ns,
				     after the write), and whether /drain/challenge/NODEID holds its answer */
	int64_t challenge_at;
	int challenge_answered;
	int challenge_failing;  /* the last challenge write failed (logged once until one succeeds) */
} drain_mem;

/* The persisted drain state as the snapshot read it. */
typedef struct drain_persisted {
	int pending;       /* 1 "draining", 2 "restoring": an action a previous leader did not finish */
	int unreadable;    /* the record did not parse: keep the node as drained, act on nothing about it */
	const char *raw;   /* the record's JSON (points into the range result), NULL when absent */
	rec_drain_state rec; /* the parsed record (state "" when absent or unreadable) */
} drain_persisted;

/*
 * Observed state in (plain structs: the engine's node list, the etcd ranges
 * of /nodes/, /drain/state/, /drain/requests/, keyed by the last path part),
 * the previous pass's memory (prev_ids[i] <-> prev_mem[i]), the clocks.
 * Out, for each of nl->n nodes in order: out[i] for drain_decide_all (its
 * heartbeat through rec_heartbeat_parse and drain_node_set_heartbeat, its
 * watch, probe and lease reading from the memory), ps[i], mem[i] (carried
 * over by node id; addr and lease updated from a live heartbeat). A malformed heartbeat or state sets
 * bad[i] to the reason (else ""), for the shell to warn once.
 * Pure: a hash join, O(nodes + keys). 0 ok, -1 no memory.
 */
int drain_snapshot(const dock_node_list *nl, const etcd_range_result *hb, const etcd_range_result *st,
		   const etcd_range_result *rq, const char *const *prev_ids, const drain_mem *prev_mem, size_t nprev,
		   int64_t now_mono, int64_t now_real, drain_node *out, drain_persisted *ps, drain_mem *mem,
		   char (*zones)[64], char (*bad)[160]);

/*
 * 1 when value (the JSON of /drain/challenge/NODEID, len bytes) is the agent's answer to nonce: a
 * rec_drain_challenge with that nonce and `answered` set; 0 otherwise (another nonce, the challenge itself,
 * a value that does not parse, or nonce ""). Pure.
 */
int drain_challenge_answers(const char *value, size_t len, const char *nonce);

#endif
