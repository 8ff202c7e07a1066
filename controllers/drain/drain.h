/* SPDX-License-Identifier: MIT */
/* drain.h - the node-drain decision: observed nodes, heartbeats and persisted state in, actions out (pure) */
#ifndef DRAIN_H
#define DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "rec_heartbeat.h"
#include "sh_err.h"
#include "sh_probe.h"

/* What swarmheal itself remembers about a node (/drain/state/NODEID). */
enum drain_state {
	DRAIN_NONE = 0,     /* never drained by us (or restored long ago) */
	DRAIN_DRAINED,      /* we set availability=drain */
	DRAIN_RESTORED,     /* we set it back to active */
	DRAIN_HUMAN_ACTIVE, /* we drained it, a person reactivated it: hands off this episode */
};

/*
 * Monitoring states (DESIGN.md "Node health: what each signal means"), used when
 * drain_policy.monitoring is 1. The decision computes them; the shell keeps the
 * result (drain_watch) per node ID and passes it back on the next pass.
 *
 *   UNMONITORED  no heartbeat seen since this leader started watching, or the
 *                agent left its stop mark: judged by Swarm's own state only
 *                (down/disconnected past --drain-grace), never drained for a
 *                missing key.
 *   MONITORED    a live heartbeat (first one seen makes the node monitored).
 *   SUSPECT      the heartbeat of a monitored node is gone without a stop mark:
 *                the decision asks for a probe (DRAIN_ACT_PROBE) instead of
 *                draining. If the node answers the probe it stays SUSPECT with
 *                drain_watch.answered set ("agent lost, node answers", recorded
 *                once per episode, never drained for the lost heartbeat).
 *   DEAD         evidence of death: the probe was refused or timed out, the
 *                agent reports its engine `down` (first-hand), or Swarm reports
 *                the node down/disconnected. Drained after --drain-grace, through
 *                the partition guard, the budget and the read-only mode.
 *
 * Correlated losses count as one event: leases lost together expire up to a
 * third of the agents' TTL apart (keepalives go every TTL/3) plus etcd's 500 ms
 * lease-expiry tick. A node found dead by the probe is therefore not drained
 * until drain_policy.settle_ns has passed since its own heartbeat vanished, and
 * the partition guard counts every SUSPECT node that has not answered beside the
 * DEAD ones. So whatever order the keys vanish in, the guard sees all the losses
 * of one event before any of them is drained. A first-hand `engine down` and
 * Swarm's own down are not delayed by the settle window (only by --drain-grace).
 * The cost: a host's death is drained settle_ns after its lease expires.
 *
 * Early suspicion (drain_policy.probe_every_ns > 0): a host's death shows on
 * its gossip port long before its lease expires (2.25-3.5 s after death with a
 * 3 s TTL). So every live monitored node is probed too, at most every
 * probe_every_ns (DRAIN_ACT_PROBE; the shell probes at its passes). A live node
 * whose newest probe, taken while its heartbeat was live, is refused or times
 * out is SUSPECT at once (counted by the partition guard like an unanswered
 * suspect). The second signal, the agent's own path to etcd:
 *
 * - An agent whose heartbeat says answers_challenge (this release's agents) is
 *   challenged (DRAIN_ACT_CHALLENGE): the shell writes a fresh nonce to
 *   /drain/challenge/NODEID on the heartbeat's lease, the agent watches that
 *   key and puts the nonce back at once (rec_drain_challenge). No answer within
 *   drain_policy.challenge_timeout_ns of the write (500 ms) is DEAD. An
 *   answered challenge is asked again every DRAIN_CHALLENGE_REASK_NS while the
 *   probe keeps failing, so a later death is still seen within a second. This
 *   needs no keepalive cadence: agents keep long TTLs (the agent's default is
 *   15 s) and etcd pays for one keepalive per agent every 5 s, not every 750 ms
 *   (what swarmheal costs etcd: issue 17).
 * - Older agents (no answers_challenge) keep the lease reading: the decision
 *   asks for its heartbeat lease's remaining TTL
 * (DRAIN_ACT_LEASE: etcd's LeaseTimeToLive, whole seconds rounded down). Only
 * when that TTL shows a missed keepalive - remaining < granted TTL - the agent's
 * keepalive period (etcd_session_period of the granted TTL, what the agent's
 * session uses) - DRAIN_KEEPALIVE_SLACK_NS, i.e. (ttl + 1) s <= that, or the
 * lease is gone - is it DEAD.
 *
 * Two independent signals either way, the node's own port and its agent's
 * path to etcd. Such a death is drained probe_every_ns after the
 * first failed probe at the earliest (every other node has been probed once
 * more by then, so nodes lost together are seen together). A node whose probe
 * fails while its agent keeps its lease (its engine restarting, a path cut
 * between swarmheald and the node only) stays SUSPECT, never drained for it.
 *
 * A node whose heartbeat is gone is probed again every reprobe_ns: an answer
 * makes a DEAD node alive again (no more drain), a later failure makes an
 * answering one DEAD. The restore clock (--restore-after) runs while a node is
 * MONITORED, UNMONITORED and not down in Swarm, or SUSPECT-and-answering when
 * its last heartbeat said runs_as "swarm-task" and Swarm reports it ready (such
 * an agent cannot run on the drained node, so its heartbeat never returns).
 */
enum drain_mon {
	DRAIN_MON_UNMONITORED = 0,
	DRAIN_MON_MONITORED,
	DRAIN_MON_SUSPECT,
	DRAIN_MON_DEAD,
};
#define DRAIN_MON_COUNT 4

/* The engine as the heartbeat reports it (rec_heartbeat's engine field). */
enum drain_engine {
	DRAIN_ENGINE_UNSET = 0, /* no heartbeat, or a caller of the rules before monitoring */
	DRAIN_ENGINE_UP,
	DRAIN_ENGINE_SLOW, /* its ping times out, for less than the agent's --engine-down-after: alive */
	DRAIN_ENGINE_DOWN, /* refused, or silent past --engine-down-after: dead (first-hand) */
};

/* Result of a TCP connect to the node's gossip port (sh_probe's results, mapped by the shell). */
enum drain_probe {
	DRAIN_PROBE_NONE = 0, /* no result */
	DRAIN_PROBE_ALIVE,
	DRAIN_PROBE_REFUSED,
	DRAIN_PROBE_TIMEOUT,
};

/*
 * The decision's memory of one node (monitoring mode). The shell keeps one per
 * node ID, zeroed when this leader starts watching (a new leader has seen no
 * heartbeat yet), copies drain_result.watch[i] back into it after every call and
 * passes it as drain_node.watch on the next one. Times are the caller's
 * monotonic clock (ns), 0 = not set. The shell never needs to edit it.
 */
typedef struct drain_watch {
	enum drain_mon mon;
	int64_t mon_since_ns;     /* when mon began */
	int seen;                 /* a live heartbeat seen since watching, not ended by a stop mark */
	int runs_as_task;         /* the newest heartbeat said runs_as "swarm-task" (kept while the key is gone) */
	int answered;             /* SUSPECT whose newest probe connected */
	int64_t lost_ns;          /* when the key of a seen node vanished without a mark (0 while present) */
	int64_t probe_asked_ns;   /* when the decision last asked for a probe */
	int64_t healthy_since_ns; /* start of the current healthy stretch (restore clock) */
	unsigned noted;           /* notes already emitted this episode (DRAIN_NOTED_*) */
	int64_t live_since_ns;    /* start of the current stretch with a live heartbeat (0 while none) */
	int64_t early_ns;         /* early suspicion: when the first failed probe of a live node was taken (0 none) */
	int early_challenge;      /* that early death was an unanswered challenge (its reason while the key is gone) */
} drain_watch;
#define DRAIN_NOTED_UNMONITORED 1u
#define DRAIN_NOTED_ANSWERS 2u

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
	int64_t unhealthy_since_ns, healthy_since_ns; /* rules before monitoring only (policy.monitoring 0) */
	/* monitoring (policy.monitoring 1), from rec_heartbeat and sh_probe:
	 * hb_present is 1 whenever the key exists, hb_stopped when it holds the stop mark */
	int hb_stopped;
	enum drain_engine hb_engine; /* the live heartbeat's engine state */
	const char *hb_runs_as;      /* the live heartbeat's runs_as (process, systemd, container, swarm-task) */
	enum drain_probe probe;      /* newest probe result of the node's ADDR:7946, DRAIN_PROBE_NONE if none */
	int64_t probe_at_ns;         /* when that probe finished (monotonic) */
	/* early suspicion: the heartbeat lease's remaining TTL as etcd reported it (etcd_lease_ttl: whole seconds,
	 * rounded down; -1 when expired or unknown to etcd), its granted TTL, and when it was read (monotonic;
	 * 0 = never) */
	int64_t lease_ttl_s, lease_granted_s, lease_at_ns;
	drain_watch watch;           /* the memory from the previous pass (drain_result.watch[i]), zero at first */
	/* early suspicion by challenge: the live heartbeat says its agent answers challenges; when the shell last
	 * wrote a challenge for this node (monotonic, after the write succeeded; 0 = none this term) and whether
	 * /drain/challenge/NODEID holds the agent's answer to that challenge's nonce */
	int hb_answers_challenge;
	int64_t challenge_at_ns;
	int challenge_answered;
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
	int monitoring;            /* 1: monitoring states (above); 0: the rules before them, where a missing
				      heartbeat key is death (kept for callers that keep no drain_watch) */
	int64_t settle_ns;         /* monitoring: a probe death waits this long after its heartbeat vanished,
				      so the partition guard sees correlated losses together; 0 = 1.5 s
				      (a third of the default 3 s TTL + etcd's 500 ms expiry tick), < 0 none */
	int64_t reprobe_ns;        /* monitoring: a node whose heartbeat is gone is probed again this often;
				      0 = 5 s */
	int64_t probe_every_ns;    /* monitoring: probe every live monitored node at most this often and suspect it
				      early when it does not answer (above); 0 = off (probes only after a loss) */
	int64_t challenge_timeout_ns; /* an early suspect's agent that has not answered a challenge this long after
					 it was written is dead; 0 = DRAIN_CHALLENGE_TIMEOUT_NS */
	const char *budgets_unknown; /* NULL: svcs holds every service with a swarmheal.min-available label. Else
					why some budget is unknown this pass (the shell could not read the service
					list, or a labelled service's task list): every manual request of a node
					that is not dead is held - a DRAIN_ACT_REFUSE with held set, no drain - until
					a pass knows them all. Drains of dead nodes go on (budgets are for manual
					requests only) */
} drain_policy;

/* A keepalive is missed when the lease's remaining TTL is below granted - period - this. */
#define DRAIN_KEEPALIVE_SLACK_NS (250 * INT64_C(1000000))
/* An early suspect's lease is read again after DRAIN_LEASE_REASK_NS (the shell passes every 100 ms during
 * incidents) for DRAIN_LEASE_FAST_NS after its first failed probe, then every DRAIN_LEASE_SLOW_NS (a node whose
 * agent keeps its lease that long lives; only our path to its port is cut). */
#define DRAIN_LEASE_REASK_NS (100 * INT64_C(1000000))
#define DRAIN_LEASE_FAST_NS (5000 * INT64_C(1000000))
#define DRAIN_LEASE_SLOW_NS (1000 * INT64_C(1000000))
/* Challenges: the default answer timeout (an answer is two etcd writes and a watch event apart: ~5-20 ms on
 * a healthy etcd), and how often an early suspect whose agent answered is challenged again. */
#define DRAIN_CHALLENGE_TIMEOUT_NS (500 * INT64_C(1000000))
#define DRAIN_CHALLENGE_REASK_NS (1000 * INT64_C(1000000))

enum drain_kind {
	DRAIN_ACT_DRAIN,    /* set availability=drain */
	DRAIN_ACT_RESTORE,  /* set availability=active */
	DRAIN_ACT_REFUSE,   /* a drain or restore that a rule forbids: record it */
	DRAIN_ACT_FORGET,   /* a person took over: record state HUMAN_ACTIVE / NONE, no engine call */
	DRAIN_ACT_PROBE,    /* monitoring: connect to the node's ADDR:7946 (sh_probe), feed the result back */
	DRAIN_ACT_NOTE,     /* monitoring: record and log reason once (emitted once per episode) */
	DRAIN_ACT_LEASE,    /* monitoring: read the heartbeat lease's remaining TTL (etcd_lease_ttl), feed it back */
	DRAIN_ACT_CHALLENGE, /* monitoring: write a fresh challenge for the node's agent, feed its time back */
};

typedef struct drain_action {
	enum drain_kind kind;
	size_t node;             /* index into the nodes array */
	enum drain_state new_state;
	int flaps;
	char reason[256];
	int held; /* DRAIN_ACT_REFUSE of a manual request held because drain_policy.budgets_unknown was set */
} drain_action;

/* Health as the rules see it: 1 dead, 0 alive. Swarm "unknown" alone (heartbeat
 * fine) is not death: every node shows it for ~30 s after a Swarm leader change. */
int drain_node_dead(const drain_node *n);

/* Parse "2" or "50%" against replicas; -1 when malformed. */
int drain_min_available(const char *spec, int64_t replicas);

/* Everything one pass decides. */
typedef struct drain_result {
	drain_action *acts; /* malloc'd, nacts of them, no fixed cap */
	size_t nacts, cap;
	drain_watch *watch; /* malloc'd, one per node (in the nodes' order): keep it, pass it back */
	size_t count[DRAIN_MON_COUNT]; /* nodes per monitoring state: swarmheal_nodes{state=...} */
} drain_result;

/*
 * The decision. now_ns is the monotonic clock of the caller (every *_ns time of
 * the inputs uses the same clock). Fills *out (release with drain_result_free,
 * also after an error). Returns SH_OK or SH_E_NOMEM. Pure: no I/O, no clock.
 *
 * Monitoring mode, the shell's part each pass: fill hb_* from the heartbeat key
 * (rec_heartbeat_parse), probe/probe_at_ns from the newest probe result kept for
 * the node, watch from its memory; call; store out->watch[i]; probe every node of
 * a DRAIN_ACT_PROBE together (sh_probe_many on ADDR:7946, ADDR = the addr of
 * the node's last heartbeat, kept by the shell since the key is gone by then;
 * else Swarm's Status.Addr unless it is 0.0.0.0; suggested timeout 500 ms per
 * try, so a probe ends within 1 s), map SH_PROBE_ALIVE to DRAIN_PROBE_ALIVE,
 * REFUSED to REFUSED, TIMEOUT and UNREACHABLE to TIMEOUT (SH_PROBE_ERROR/NONE:
 * no result), store each with the time it finished, and call again at once (a
 * probe result is what turns SUSPECT into DEAD or alive). For every node of a
 * DRAIN_ACT_LEASE, read the remaining TTL of the lease its heartbeat key is on
 * (the key's lease from the range) into lease_ttl_s/lease_granted_s with the
 * time read in lease_at_ns, and call again (a failed read: leave them). For
 * every node of a DRAIN_ACT_CHALLENGE, write a new rec_drain_challenge (fresh
 * random nonce) to /drain/challenge/NODEID on the heartbeat key's lease, set
 * challenge_at_ns to when the write succeeded and challenge_answered to 0 (a
 * failed write: leave them); before every call (every round of a pass) while
 * a challenge waits, read the key after taking now_ns and set
 * challenge_answered when it holds an answer carrying that nonce: the
 * decision calls a challenge unanswered when now_ns is challenge_timeout_ns
 * past its write, so an answer read before now_ns was taken (e.g. before a
 * round that probed a silent port for 600 ms) would drain a node whose agent
 * answered in time.
 */
sh_err drain_decide_all(const drain_policy *p, const drain_node *nodes, size_t n, const drain_service *svcs,
			size_t nsvc, int64_t now_ns, drain_result *out);
void drain_result_free(drain_result *r);

/* The same decision with a fixed output: copies up to max actions into out, returns how many (0 when out of
 * memory). Kept for callers with a fixed array; loses actions beyond max. */
size_t drain_decide(const drain_policy *p, const drain_node *nodes, size_t n, const drain_service *svcs, size_t nsvc,
		    int64_t now_ns, drain_action *out, size_t max);

const char *drain_mon_name(enum drain_mon m); /* unmonitored, monitored, suspect, dead */

/* 1 when a heartbeat lease whose remaining TTL etcd reports as ttl_s (whole seconds rounded down, -1 when expired
 * or unknown) out of granted_s shows that its agent missed a keepalive: -1, or (ttl_s + 1) s <= granted - the
 * agent's keepalive period (etcd_session_period(granted, 0)) - DRAIN_KEEPALIVE_SLACK_NS. Pure. */
int drain_keepalive_missed(int64_t ttl_s, int64_t granted_s);

/* The shell's two mappings, here so they are one and tested:
 * drain_node_set_heartbeat: the key PREFIX/nodes/ID and what rec_heartbeat_parse made of it (h NULL: no key;
 * parsed 0: the key exists but does not parse, taken as a live heartbeat with its engine unknown, never death).
 * Sets hb_present, hb_stopped, hb_engine, hb_engine_up, hb_runs_as (static strings). */
void drain_node_set_heartbeat(drain_node *n, const rec_heartbeat *h, int parsed);
/* (hb_answers_challenge is set from h->answers_challenge of a live heartbeat.)
 * sh_probe's result as the decision reads it: alive, refused, timeout (timeout and unreachable), none. */
enum drain_probe drain_probe_from(sh_probe_result r);

const char *drain_state_name(enum drain_state s);
int drain_state_parse(const char *s, enum drain_state *out);

#endif
