/* SPDX-License-Identifier: MIT */
/* rollback_decide.h - the rollback controller's pure decision for one service: plain structs in, one action out */
#ifndef ROLLBACK_DECIDE_H
#define ROLLBACK_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "rec_rollback.h"

/*
 * Times are real-time ns (the engine's CreatedAt, Status.Timestamp,
 * UpdateStatus.StartedAt/CompletedAt are wall-clock times of the Swarm
 * manager; the controller's clock is assumed close to it: NTP).
 */

/* One task of the service, as Swarm reports it (GET /tasks?filters={"service":[ID]}). */
typedef struct rb_task {
	const char *id;
	const char *state;          /* Status.State: new, pending, assigned, ..., running, complete, failed, rejected, shutdown */
	const char *err;            /* Status.Err ("" none): scheduling errors, "non-zero exit", "unhealthy container" */
	const char *node_id;        /* "" while unassigned */
	int64_t slot;               /* 0 for global services (the node tells tasks apart) */
	int64_t created_ns;         /* CreatedAt */
	int64_t status_ns;          /* Status.Timestamp: when it entered its state */
	int64_t exit_code;
} rb_task;

/* One stored snapshot, newest first (as read from /rollback/snapshots/SERVICEID/). */
typedef struct rb_snapshot {
	const char *sha256;         /* the digest the record claims */
	int verified;               /* 1 when that digest matches its spec (rec_rollback_snapshot_verify) */
	int healthy;
	int malformed;              /* the record did not parse: never applied */
} rb_snapshot;

typedef struct rb_service {
	const char *id;
	int off;                    /* label swarmheal.rollback=off, or a job-mode service: never touched */
	const char *update_state;   /* UpdateStatus.State ("" when the service was never updated) */
	int64_t update_started_ns;  /* UpdateStatus.StartedAt: tasks created since then are the update's */
	int64_t update_completed_ns;
	const char *spec_sha256;    /* digest of the current spec (its JSON text) */
	const char *prev_sha256;    /* digest of PreviousSpec, "" when Swarm has none */
	int64_t replicas;           /* desired replicas, -1 for global */
	int64_t health_start_period_ns; /* the spec's health check start period (0 none) */
	const rb_task *tasks;
	size_t ntasks;
	const rb_snapshot *snaps;   /* newest first */
	size_t nsnaps;
} rb_service;

/* --healthy-after, --pending-timeout, --start-timeout, --max-failure-ratio. */
typedef struct rb_opts {
	int64_t healthy_after_ns, pending_timeout_ns, start_timeout_ns;
	double max_failure_ratio;   /* 0..1: roll back when failed/updated exceeds it */
} rb_opts;

enum rb_kind {
	RB_NONE,     /* nothing to do now (see recheck_ns) */
	RB_LEAVE,    /* hands off: labelled off, or Swarm is rolling back by itself */
	RB_ROLLBACK, /* rollback=previous */
	RB_RESTORE,  /* restore snaps[snapshot] with an ordinary update */
	RB_HOLD,     /* the spec put back fails too, or nothing good is left: record it for a person, act no more */
	RB_SNAPSHOT, /* converged and healthy for --healthy-after: store the current spec */
};

#define RB_MAX_FAILED 16
#define RB_MAX_REFUSED 8

typedef struct rb_decision {
	enum rb_kind kind;
	char reason[300];
	size_t failed[RB_MAX_FAILED];     /* indexes of failed new tasks (the first RB_MAX_FAILED) */
	char why[RB_MAX_FAILED][200];     /* why each counts as failed */
	size_t nfailed;
	size_t updated_slots, failed_slots;
	long snapshot;                    /* RB_RESTORE: index into snaps; else -1 */
	size_t refused[RB_MAX_REFUSED];   /* snapshots skipped because their digest does not match (or malformed) */
	size_t nrefused;
	int finishing;                    /* RB_ROLLBACK/RB_RESTORE: finishing what a previous leader recorded */
	int64_t recheck_ns;               /* look again this soon (0: only when the service changes) */
	int persist;                      /* write next to /rollback/state/SERVICEID */
	rec_rollback_state next;          /* the judgement after this decision (for RB_ROLLBACK/RB_RESTORE the intent) */
} rb_decision;

/* How often a service being judged is looked at again. */
#define RB_POLL_NS (200 * INT64_C(1000000))

/* Is this task, created for the update being judged, failed at now? 1 with why filled. Pure. */
int rollback_task_failed(const rb_opts *o, const rb_service *s, const rb_task *t, int64_t now_ns, char *why,
			 size_t wlen);

/*
 * Decide for one service. j is the persisted judgement (NULL when none).
 * The rules (README "Rollback controller"):
 *  - labelled off: RB_LEAVE. A rollback Swarm (or a person) started and the controller did not: RB_LEAVE
 *    until it ends.
 *  - A recorded intent (rolling-back, restoring) whose engine call did not happen (the spec is still the
 *    judged one) is finished once (finishing=1); when it did happen, it is recorded as done, never repeated.
 *  - During an update (updating, paused, rollback_*) and for healthy_after once Swarm calls it completed,
 *    only tasks created since UpdateStatus.StartedAt are judged (rollback_task_failed). When failed slots
 *    exceed max_failure_ratio of the slots updated so far:
 *      the spec the controller put back (its rollback or restore) fails too: RB_HOLD (never roll back a
 *      rollback); after a rollback by Swarm or a person: the newest verified snapshot when PreviousSpec is
 *      empty, else RB_HOLD; an ordinary update: RB_ROLLBACK when PreviousSpec exists and is not known bad,
 *      else the newest healthy snapshot whose digest matches (others refused), else RB_HOLD.
 *  - Outside a window: RB_SNAPSHOT once the service has converged (every desired task running, as many as
 *    its replicas) with no task failing for healthy_after and its spec is neither stored already nor
 *    known bad.
 * The judgement (d->next, written when d->persist) resets on a new update the controller did not make,
 * keeping the digests known bad.
 */
void rollback_decide(const rb_opts *o, const rb_service *s, const rec_rollback_state *j, int64_t now_ns,
		     rb_decision *d);

const char *rollback_kind_name(enum rb_kind k);

#endif
