/* SPDX-License-Identifier: MIT */
/* certs_ctl.h - the certificate controller's table entry: renew, verify and deliver the certs under /certs/specs/ */
#ifndef CERTS_CTL_H
#define CERTS_CTL_H

#include "ctl.h"

/* --cert-recheck (longest wait between two checks of one spec), --swarm-cert-warn (warn when a down
 * node's Swarm certificate expires within this), --swarm-ca-rotate-before (rotate Swarm's root CA when it
 * expires within this; 0 never; below the 20 years Swarm gives a root it generates). */
typedef struct certs_opts {
	int64_t recheck_ms, swarm_warn_ms, ca_rotate_before_ms;
} certs_opts;

/* The lifetime of a root CA Swarm generates (swarmkit's RootCAExpiration, 20 years): a
 * --swarm-ca-rotate-before this long or longer would rotate every new root again at once. */
#define CERTS_SWARM_ROOT_LIFE_MS (175200LL * 3600 * 1000)

extern const ctl_def certs_def;

#endif
