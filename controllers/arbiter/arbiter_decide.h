/* SPDX-License-Identifier: MIT */
/* arbiter_decide.h - the arbiter's pure decisions: live nodes per zone, the cluster mode, its placement, the quorum guard */
#ifndef ARBITER_DECIDE_H
#define ARBITER_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "rec_arbiter.h"

/*
 * Everything here is a pure function of plain structs and a monotonic clock
 * (ns) passed in; the shell (arbiter_ctl.c) reads etcd and the engines. One
 * unit test per rule in tests/unit/test_arbiter.c.
 */

/* ---- live nodes ---- */

enum arbiter_hb {
	ARB_HB_ABSENT = 0, /* no heartbeat key now */
	ARB_HB_RUNNING,    /* the agent's heartbeat, on its lease */
	ARB_HB_STOPPED,    /* the agent's stop mark: stopped on purpose */
};

typedef struct arbiter_node {
	const char *id;
	const char *zone;          /* node label zone, else the heartbeat's zone; NULL or "": none */
	enum arbiter_hb hb;
	int hb_engine_down;        /* the running heartbeat reports its engine down */
	int hb_seen;               /* a running heartbeat was seen since this leader started (gone now = lost) */
	const char *monitor;       /* the drain controller's monitoring state from /drain/state/ ("" unknown):
				    * unmonitored, monitored, suspect, dead */
	int monitor_current;       /* that state was written by the drain leader of the current term (its fence is
				    * the create_revision of the oldest key under PREFIX/elections/controller.drain/):
				    * a verdict still kept up to date, not one left by a leader that is gone */
	const char *swarm_state;   /* Swarm's Status.State: ready, down, disconnected, unknown; "" not known (no
				    * node list: quorum lost and nothing cached) */
	int manager;               /* Swarm role manager */
	const char *reachability;  /* ManagerStatus.Reachability: reachable, unreachable, "" */
} arbiter_node;

/*
 * Is the node alive as far as the arbiter can tell? Rules, first match:
 *  L0 a running heartbeat whose engine is not down, but the drain leader of
 *     the current term (monitor_current) calls the node dead while Swarm does
 *     not say down/disconnected: its
 *     port 7946 is silent and its agent did not answer the drain leader's
 *     challenge (controllers/drain/drain.h, early suspicion): not live. The
 *     key only waits for its lease to expire (15 s at the agent's default TTL),
 *     which would hold the zone's loss back that long.
 *  L1 a running heartbeat whose engine is not down: live (first-hand, and it
 *     proves the node's path to etcd).
 *  L2 a running heartbeat reporting its engine down: not live.
 *  L3 no heartbeat, and it was seen earlier or the drain controller calls the
 *     node suspect or dead: not live (the agent lost its path to etcd: the
 *     node is on the other side of a partition, or gone).
 *  L4 otherwise (stop mark, or never monitored): Swarm decides: ready, and
 *     for a manager not unreachable, is live; anything else is not.
 * why (may be NULL) gets a few words naming the rule.
 */
int arbiter_node_live(const arbiter_node *n, const char **why);

/* ---- the mode ---- */

typedef struct arbiter_policy {
	int64_t zone_min_live;   /* --zone-min-live: live nodes a zone needs to act alone (default 2) */
	int64_t normal_pct;      /* --normal-zones: percent of known zones with live nodes for normal (default 50) */
	int64_t grace_ns;        /* --mode-grace: how long a new mode must hold before it is published */
} arbiter_policy;

#define ARB_MAX_ZONES 16

typedef struct arbiter_zone {
	char name[64];
	int nodes, live, swarm_ready, managers, managers_reachable;
	int disagree; /* nodes whose heartbeat says live while Swarm says down/disconnected, or the reverse */
} arbiter_zone;

typedef struct arbiter_view {
	enum rec_mode mode;
	char survivor[64];        /* single-zone: the zone with live nodes; else "" */
	arbiter_zone zones[ARB_MAX_ZONES];
	size_t nzones;            /* known zones (nodes without a zone are left out of the zone rules) */
	int zoneless, zoneless_live;
	size_t live_zones, strong_zones; /* zones with >= 1 live node; with >= zone_min_live */
	char reason[300];         /* which rule, with the counts */
} arbiter_view;

/*
 * The mode the nodes call for now (no grace applied). Zones beyond
 * ARB_MAX_ZONES are merged into the last one. Rules, first match:
 *  M0 fewer than two known zones: normal (there is nothing to arbitrate).
 *  M1 every zone has fewer than zone_min_live live nodes: read-only.
 *  M2 exactly one zone has live nodes (it has at least zone_min_live):
 *     single-zone, survivor = that zone.
 *  M3 at least normal_pct percent of the known zones have live nodes: normal.
 *  M4 otherwise (several zones, fewer than normal_pct of them live): read-only,
 *     no side can be trusted.
 */
void arbiter_view_of(const arbiter_policy *p, const arbiter_node *nodes, size_t n, arbiter_view *out);

/* What the arbiter remembers between passes (the grace). */
typedef struct arbiter_mem {
	enum rec_mode pending;     /* the mode waiting out the grace */
	char pending_survivor[64];
	int64_t pending_since;     /* monotonic ns; 0 none */
} arbiter_mem;

/*
 * Publish or wait. published: the mode in /arbiter/mode (have = 0 when the
 * key is absent). Rules:
 *  G1 the view equals the published mode (and survivor): nothing; the
 *     pending change, if any, is forgotten (one lost heartbeat never flips).
 *  G2 no record yet and the view is normal: publish at once (the first record).
 *  G3 a different mode (or survivor) is published once it has been called for,
 *     unchanged, for grace_ns; a different call restarts the clock.
 * Returns 1 to publish view now (mem reset), 0 to wait (mem updated).
 */
int arbiter_step(const arbiter_policy *p, arbiter_mem *mem, const rec_arbiter_mode *published, int have,
		 const arbiter_view *view, int64_t now);

/* ---- placement ---- */

enum arbiter_place { ARB_STAY = 0, ARB_RESIGN, ARB_STAY_ALONE };

/*
 * Where the arbiter must sit. In single-zone mode a leader whose zone
 * (my_zone, "" unknown) is not the survivor resigns so that a replica there
 * is elected (P1), but only when such a replica is campaigning
 * (survivor_replicas > 0); with none it stays and says so (P2: ARB_STAY_ALONE,
 * better an arbiter elsewhere than none). Any other mode, or the right zone: stay (P3).
 */
enum arbiter_place arbiter_placement(const rec_arbiter_mode *mode, const char *my_zone, int survivor_replicas);

/* ---- the quorum guard ---- */

typedef struct arbiter_manager {
	const char *host;      /* engine API address (--arbiter-managers) */
	const char *node_id;   /* Swarm node ID from GET /info ("" unknown) */
	const char *zone;      /* "" unknown */
	const char *addr;      /* Swarm.NodeAddr */
	int answers;           /* its engine answered GET /info */
	int is_manager;        /* ... as a swarm manager (ControlAvailable) */
	int has_leader;        /* GET /nodes worked and named a leader */
} arbiter_manager;

typedef struct arbiter_qpolicy {
	int allow_force;       /* --allow-force-new-cluster */
	int64_t grace_ns;      /* --quorum-loss-grace */
	const char *my_zone;
	int may_act;           /* holds its lease (ctl_may_act) */
} arbiter_qpolicy;

/* Quorum memory: what the shell also persists in /arbiter/quorum. */
typedef struct arbiter_qmem {
	int64_t lost_since;    /* monotonic ns the loss was first seen; 0: no loss */
	int reported;          /* the loss was recorded */
	int acted;             /* force-new-cluster tried (done or failed) for this loss: never again */
	int refused;           /* the refusal (flag off, no manager in zone) was recorded */
} arbiter_qmem;

enum arbiter_qkind {
	ARB_Q_NONE = 0,
	ARB_Q_LOST,        /* record: quorum lost (no manager reports a leader) */
	ARB_Q_FORCE,       /* POST /swarm/init ForceNewCluster on managers[target] */
	ARB_Q_REFUSE,      /* record: lost past the grace, not forcing (why in reason) */
	ARB_Q_RECOVERED,   /* record: a manager reports a leader again */
};

typedef struct arbiter_qaction {
	enum arbiter_qkind kind;
	size_t target;         /* ARB_Q_FORCE: index into managers */
	char reason[300];
} arbiter_qaction;

/*
 * One step of the guard (at most one action). Rules:
 *  Q1 a manager reports a leader: no loss; a loss in memory ends (RECOVERED
 *     when it was recorded), memory cleared.
 *  Q2 no manager answers as a manager: nothing is known, nothing done.
 *  Q3 managers answer, none reports a leader: the loss starts (LOST, once).
 *  Q4 already acted for this loss: nothing, ever (never twice for one loss).
 *  Q5 lost for less than the grace: wait.
 *  Q6 past the grace without --allow-force-new-cluster: REFUSE once, flag off.
 *  Q7 past the grace without the lease: nothing (the next leader decides).
 *  Q8 past the grace, no manager in my_zone answers: REFUSE once.
 *  Q9 otherwise FORCE on the first answering manager in my_zone (acted set).
 */
void arbiter_quorum_step(const arbiter_qpolicy *p, arbiter_qmem *mem, const arbiter_manager *m, size_t n,
			 int64_t now, arbiter_qaction *out);

#endif
