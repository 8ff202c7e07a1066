/* SPDX-License-Identifier: MIT */
/* ctl.h - the controller runtime: a controller is a table entry; ctl_start gives each its own loop */
#ifndef CTL_H
#define CTL_H

#include <pthread.h>
#include <stdint.h>

#include "ctl_metrics.h"
#include "ctl_queue.h"
#include "dock.h"
#include "etcd.h"
#include "etcd_concurrency.h"
#include "rec.h"
#include "sh_log.h"
#include "sh_opt.h"

#define ctl_log sh_log /* the name controllers have used; logging lives in common/sh_log.h */

typedef struct ctl_ctx ctl_ctx;

/*
 * A controller, as one entry of swarmheald's table (like tmux's cmd_entry or
 * a sample-controller): what it watches, its options and its callbacks. The
 * runtime owns everything else (see ctl_start). All callbacks run on the
 * controller's own thread, one at a time.
 */
typedef struct ctl_def {
	const char *name;              /* "drain": election controller.NAME, logs, metrics, /actions/NAME/ */
	const char *summary;           /* one line for --help */
	const char *const *watch;      /* prefixes under --prefix ("/nodes/"), NULL-ended; a change marks it dirty.
					* Leave out what the controller itself writes. */
	const char *engine_events;     /* Engine API /events filters (JSON), NULL none: an event marks it dirty */
	int needs_engine;              /* open a Docker client for it */
	const sh_opt *opts;            /* its own options, NULL-ended table (NULL: none) */
	size_t cfg_size;               /* sizeof the struct those options fill */
	/* once per thread, before the first campaign: allocate state (*state may stay NULL) */
	sh_err (*init)(ctl_ctx *x, void **state);
	/* one level-triggered pass while leading: observe, decide, record, ctl_enqueue keys for the worker.
	 * SH_E_NOT_LEADER: stop acting at once. Other errors are counted and retried at the next pass. */
	sh_err (*reconcile)(ctl_ctx *x, void *state);
	/* act on one key handed out by the work queue (no key is ever in two hands). SH_OK forgets its
	 * failures; another error retries it after a per-key exponential backoff; SH_E_NOT_LEADER stops. */
	sh_err (*work)(ctl_ctx *x, void *state, const char *key);
	void (*release)(void *state);
} ctl_def;

/* swarmheald-wide settings every controller sees (its "common" option group). */
typedef struct ctl_common {
	const char *prefix;           /* --prefix, default /swarmheal */
	int dry_run;                  /* record would-... actions, change nothing (reloadable) */
	int64_t ttl_ms;               /* leadership lease TTL (whole seconds >= 2) */
	int64_t resync_ms;            /* full pass at least this often (reloadable) */
	int64_t actions_retention_ms; /* delete action records older than this (reloadable) */
	int64_t actions_max;          /* and keep at most this many per controller (reloadable) */
	const char *controllers;      /* --controllers list */
	const char *metrics_addr;
} ctl_common;

/*
 * What a callback may read (do not write): the controller's clients, its
 * snapshot of the options (copied at the start of a pass after a reload),
 * and, while leading, the session and election.
 */
struct ctl_ctx {
	const ctl_def *def;
	ctl_common common;     /* snapshot */
	const void *cfg;       /* snapshot of the controller's own options (def->cfg_size bytes) */
	etcd_client *etcd;
	dock_client *dock;     /* NULL unless def->needs_engine */
	etcd_session *s;       /* while leading */
	etcd_election *el;     /* while leading; NULL otherwise */
	ctl_queue *q;
	char labels[96];       /* controller="NAME" for metrics */
	struct ctl_rt *rt;     /* the runtime (private) */
	struct ctl_seen *seen; /* warn-once memory (private) */
	int64_t pass_at;       /* a pass asked for by ctl_resync_after (monotonic ns; 0 none) (private) */
	int mode_last;         /* the arbiter mode ctl_mode last logged, -1 none yet (private) */
};

/* ---- running controllers ---- */
typedef struct ctl_rt ctl_rt;

/*
 * Start one thread per controller in defs (n of them), each with cfgs[i] as
 * its options struct and: its own etcd client (from ecfg) and engine client
 * (from dcfg), a session of common->ttl_ms and an election under
 * PREFIX/elections/controller.NAME/ (proposal "HOSTNAME:PID"); while leader,
 * watches of the declared prefixes and engine events that mark it dirty, a
 * pass when dirty and every resync, the work queue (client-go's: per-key
 * backoff 1 s doubling to 60 s, 10 keys/s with bursts of 20), retention of
 * its action records every minute, and it stops acting when the lease
 * deadline is less than a fifth of the TTL away or a fenced write fails,
 * then campaigns again. A slow pass of one controller never delays another's
 * lease (each session has its own keepalive thread too).
 * cfg_lock guards common and cfgs: hold it while changing them, then call
 * ctl_reload. SH_E_NOMEM or SH_E_INVAL (err filled) when it cannot start.
 */
sh_err ctl_start(const ctl_def *const *defs, void *const *cfgs, size_t n, ctl_common *common,
		 pthread_mutex_t *cfg_lock, const etcd_config *ecfg, const dock_config *dcfg, ctl_rt **out, char *err,
		 size_t errlen);
/* Options changed (SIGHUP): each controller copies them at its next pass and runs one at once. */
void ctl_reload(ctl_rt *rt);
/* Ask every controller to stop: leaders resign (delete the key, revoke the lease); wait for them; free. */
void ctl_stop(ctl_rt *rt);

/* ---- what controllers call ---- */

/* Ask for another pass within ns (sooner than --resync): a grace or settle window ends then. */
void ctl_resync_after(ctl_ctx *x, int64_t ns);

/* 1 while leading with more than a fifth of the TTL left before the lease deadline. */
int ctl_may_act(const ctl_ctx *x);
/*
 * Bind an engine client to the controller's lease (dock_set_abort): while leading, a request is
 * not sent once ctl_may_act() is 0, and one in flight ends then (its timeout is cut to that
 * moment) with SH_E_NOT_LEADER; not leading (init), calls run as usual. The runtime does this
 * for x->dock; a controller does it for every client of its own that acts or whose answer
 * decides an action. c may be NULL.
 */
void ctl_dock_guard(ctl_ctx *x, dock_client *c);
/* Queue key for the worker (deduplicated; a key in the worker's hands is queued again when done). */
void ctl_enqueue(ctl_ctx *x, const char *key);

/*
 * Record an action (taken, refused, would-be) under PREFIX/actions/NAME/ in
 * one txn guarded by the fencing token, together with an optional put of
 * state_key = state_json (e.g. the drain state). Counts
 * swarmheal_actions_total{controller,kind,result}. SH_E_NOT_LEADER: no longer
 * leader (or past the acting deadline): stop acting. details may be NULL
 * (else a JSON object as text).
 */
sh_err ctl_record(ctl_ctx *x, const char *kind, const char *target, const char *reason, const char *result,
		  const char *details, const char *state_key, const char *state_json);

/*
 * Put n keys (bookkeeping, not actions: no action record) in fenced txns of
 * at most 100 puts each, guarded by our election key. SH_E_NOT_LEADER when
 * the guard fails: stop acting.
 */
sh_err ctl_put_fenced(ctl_ctx *x, const char *const *keys, const char *const *values, size_t n);

/* The arbiter's mode. Absent: normal. Unreadable or malformed: read-only (warned once per change). */
enum rec_mode ctl_mode(ctl_ctx *x);

/* Range a prefix under --prefix ("/nodes/"), timing it in the etcd latency histogram; logs failures. */
sh_err ctl_range(ctl_ctx *x, const char *sub, etcd_range_result *r);
/* Observe an Engine API call that started at t0 (sh_mono_ns) in the engine latency histogram. */
void ctl_engine_done(ctl_ctx *x, int64_t t0);
/* Observe an etcd call that started at t0. */
void ctl_etcd_done(ctl_ctx *x, int64_t t0);

/*
 * Warn about a malformed record once per change of it: key and its
 * mod_revision identify the version; the same version warns only once.
 */
void ctl_warn_record(ctl_ctx *x, const char *key, int64_t mod_revision, const char *why);

#endif
