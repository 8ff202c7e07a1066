/* SPDX-License-Identifier: MIT */
/* rollback_ctl.h - the rollback controller: its table entry and options */
#ifndef ROLLBACK_CTL_H
#define ROLLBACK_CTL_H

#include "ctl.h"
#include "rollback_decide.h"

/* --healthy-after, --pending-timeout, --start-timeout (ms), --max-failure-ratio (text, 0..1), --keep. */
typedef struct rollback_opts {
	int64_t healthy_after_ms, pending_timeout_ms, start_timeout_ms, keep;
	const char *max_failure_ratio;
} rollback_opts;

/*
 * Watches every service (label swarmheal.rollback=off opts out; job-mode
 * services are never judged). Engine events of type service mark it dirty:
 * a pass lists the services and queues each one whose version changed or
 * whose look-again time has come; the worker reads that service and its
 * tasks (every engine call bounded by the client's --docker-timeout),
 * its snapshots and its judgement, runs rollback_decide, records and acts.
 * Services being judged are looked at again every RB_POLL_NS (Swarm has no
 * task events), all of them under one queue key per round so the runtime's
 * rate limit counts one token per round, not one per service.
 */
extern const ctl_def rollback_def;

#endif
