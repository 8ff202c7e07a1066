/* SPDX-License-Identifier: MIT */
/* drain.h - the node-drain decision: observed nodes, heartbeats and persisted state in, actions out (pure) */
#ifndef DRAIN_H
#define DRAIN_H

#include <stddef.h>
#include <stdint.h>

/* What swarmheal itself remembers about a node (/drain/state/NODEID). */
enum drain_state {
	DRAIN_NONE = 0,     /* never drained by us (or restored long ago) */
	DRAIN_DRAINED,      /* we set availability=drain */
	DRAIN_RESTORED,     /* we set it back to active */
	DRAIN_HUMAN_ACTIVE, /* we drained it, a person reactivated it: hands off this episode */
};

typedef struct drain_node {
	const char *id, *hostname, *zone;
	/* Swarm's view */
	const char *swarm_state;  /* ready, down, unknown, disconnected */
	const char *availability; /* active, pause, drain */
	/* the agent's heartbeat (/nodes/ID) */
	int hb_present, hb_engine_up;
	/* a manual request (/drain/requests/ID) */
	int requested;
	/* persisted state */
	enum drain_state state;
	int64_t since_ns;          /* when state was entered */
	int flaps;                 /* failures soon after a restore (hold-off exponent) */
	/* the controller's memory (monotonic ns; 0 = not seen) */
	int64_t unhealthy_since_ns, healthy_since_ns;
} drain_node;

/* Services with a swarmheal.min-available label: running tasks per node. */
typedef struct drain_service {
	const char *name;
	const char *min_available; /* "2" or "50%" */
	int64_t replicas;          /* desired */
	const char **task_nodes;   /* node of each running task */
	size_t ntasks;
} drain_service;

typedef struct drain_policy {
	int64_t grace_ns;          /* --drain-grace */
	int64_t restore_after_ns;  /* --restore-after */
	int max_drained;           /* --max-drained; <= 0: a third of the nodes, at least 1 */
	int64_t flap_window_ns;    /* a failure this soon after a restore is a flap (default 5 min) */
	int64_t holdoff_max_ns;    /* cap of restore_after << flaps (default 1 h) */
	int read_only;             /* arbiter mode read-only: refuse destructive actions */
} drain_policy;

enum drain_kind {
	DRAIN_ACT_DRAIN,    /* set availability=drain */
	DRAIN_ACT_RESTORE,  /* set availability=active */
	DRAIN_ACT_REFUSE,   /* a drain or restore that a rule forbids: record it */
	DRAIN_ACT_FORGET,   /* a person took over: record state HUMAN_ACTIVE / NONE, no engine call */
};

typedef struct drain_action {
	enum drain_kind kind;
	size_t node;             /* index into the nodes array */
	enum drain_state new_state;
	int flaps;
	char reason[256];
} drain_action;

/* Health as the rules see it: 1 dead, 0 alive. Swarm "unknown" alone (heartbeat
 * fine) is not death: every node shows it for ~30 s after a Swarm leader change. */
int drain_node_dead(const drain_node *n);

/* Parse "2" or "50%" against replicas; -1 when malformed. */
int drain_min_available(const char *spec, int64_t replicas);

/*
 * The decision. Fills up to max actions, returns how many. now_ns is the
 * monotonic clock of the caller (since/unhealthy/healthy use the same clock).
 */
size_t drain_decide(const drain_policy *p, const drain_node *nodes, size_t n, const drain_service *svcs, size_t nsvc,
		    int64_t now_ns, drain_action *out, size_t max);

const char *drain_state_name(enum drain_state s);
int drain_state_parse(const char *s, enum drain_state *out);

#endif
