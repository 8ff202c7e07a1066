/* SPDX-License-Identifier: MIT */
/* ctl.h - the runtime every controller shares: logfmt logs, fenced action records, metrics */
#ifndef CTL_H
#define CTL_H

#include <stdatomic.h>
#include <stdint.h>

#include "dock.h"
#include "etcd.h"
#include "etcd_concurrency.h"

/* logfmt on stderr, one line per event: ts=... level=... controller=... msg="..." k=v ... */
void ctl_log(const char *level, const char *controller, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef struct ctl_metrics {
	atomic_long reconciles, reconcile_errors;
	atomic_long drains_ok, drains_failed, restores_ok, restores_failed, refusals, dry_runs;
	atomic_int leader, ready;
	atomic_long queue_depth;
	atomic_long etcd_ns_total, etcd_calls, engine_ns_total, engine_calls;
} ctl_metrics;

/* Serve /metrics, /healthz, /readyz on addr ("127.0.0.1:9473"); NULL or "" serves nothing. */
void *ctl_metrics_start(const char *addr, ctl_metrics *m, char *err, size_t errlen);
void ctl_metrics_stop(void *srv);

typedef struct ctl_ctx {
	const char *name;      /* controller name: drain */
	const char *prefix;    /* key prefix: /swarmheal */
	etcd_client *etcd;
	dock_client *dock;
	etcd_election *el;     /* leadership; NULL when not leader */
	int dry_run;
	ctl_metrics *m;
} ctl_ctx;

/*
 * Record an action (taken, refused, would-be) under PREFIX/actions/, in a txn
 * guarded by the leader's fencing token, with extra puts in the same txn
 * (e.g. the new state). SH_E_NOT_LEADER: we are no longer leader, stop acting.
 */
sh_err ctl_record(ctl_ctx *x, const char *kind, const char *target, const char *reason, const char *result,
		  const char *state_key, const char *state_json);

/* The arbiter's mode from PREFIX/arbiter/mode ("normal" when absent or unreadable JSON). */
void ctl_arbiter_mode(ctl_ctx *x, char *mode, size_t len);

#endif
