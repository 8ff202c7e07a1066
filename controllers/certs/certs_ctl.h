/* SPDX-License-Identifier: MIT */
/* certs_ctl.h - the certificate controller's table entry: renew, verify and deliver the certs under /certs/specs/ */
#ifndef CERTS_CTL_H
#define CERTS_CTL_H

#include "ctl.h"

/* --cert-recheck (longest wait between two checks of one spec), --swarm-cert-warn (warn when a down
 * node's Swarm certificate expires within this). */
typedef struct certs_opts {
	int64_t recheck_ms, swarm_warn_ms;
} certs_opts;

extern const ctl_def certs_def;

#endif
