/* SPDX-License-Identifier: MIT */
/* arbiter_ctl.h - the arbiter controller: cluster mode from live nodes per zone, its own placement, the quorum guard */
#ifndef ARBITER_CTL_H
#define ARBITER_CTL_H

#include "arbiter_decide.h"
#include "ctl.h"

/*
 * Options (table in arbiter_ctl.c; swarmheald --help lists them):
 *  --arbiter-zone NAME           the zone this replica sits in (env SWARMHEAL_ARBITER_ZONE); empty: the zone of
 *                                the node whose engine --docker-host names (node label zone, else its heartbeat)
 *  --mode-grace DUR              a new mode must be called for this long before it is published (default 5s)
 *  --zone-min-live N             live nodes a zone needs to act alone (default 2)
 *  --normal-zones PCT            percent of known zones with live nodes for normal (default 50)
 *  --allow-force-new-cluster     let the quorum guard run POST /swarm/init ForceNewCluster (default off)
 *  --quorum-loss-grace DUR       how long no manager reports a leader before the guard acts (default 30s)
 *  --arbiter-managers LIST       engine addresses of the Swarm managers (unix:// or tcp://) the guard watches
 *                                (default: --docker-host only)
 *  --arbiter-manager-timeout DUR per request to those engines (default 2s)
 */
typedef struct arbiter_opts {
	const char *zone;
	int64_t mode_grace_ms, zone_min_live, normal_pct;
	int allow_force;
	int64_t quorum_grace_ms;
	const char *managers;
	int64_t manager_timeout_ms;
} arbiter_opts;

extern const ctl_def arbiter_def;

#endif
