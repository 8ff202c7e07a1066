/* SPDX-License-Identifier: MIT */
/* drain_ctl.h - the node-drain controller's shell: reads etcd and the engine, runs drain_decide, acts, records */
#ifndef DRAIN_CTL_H
#define DRAIN_CTL_H

#include "ctl.h"
#include "ctl_queue.h"
#include "drain.h"

typedef struct drain_mem {
	char id[64];
	int64_t unhealthy_since, healthy_since;
	char last_note[256];
} drain_mem;

typedef struct drain_ctl {
	ctl_ctx x;
	drain_policy pol;
	drain_mem *mem;
	size_t nmem;
	ctl_queue *q; /* engine actions per node: backoff after failures, global rate limit */
} drain_ctl;

/* One level-triggered pass over every node. SH_E_NOT_LEADER: stop acting. */
sh_err drain_reconcile(drain_ctl *d);
void drain_ctl_release(drain_ctl *d);

#endif
