/* SPDX-License-Identifier: MIT */
/* rec_action.h - /actions/CONTROLLER/TS-KIND-TARGET: one record per action taken, refused or only considered */
#ifndef REC_ACTION_H
#define REC_ACTION_H

#include <stddef.h>
#include <stdint.h>

#include "etcd.h"
#include "sh_err.h"

/*
 * Keys sort by time within a controller: PREFIX/actions/CONTROLLER/ + the
 * real time in ns as 19 digits + "-KIND-TARGET". CONTROLLER is the
 * controller's name ("drain") or "agent.NODEID" for an agent's records.
 */
typedef struct rec_action {
	int64_t ts_ns;
	char *controller, *kind, *target, *reason, *result;
	char *node;         /* optional: the node it happened on */
	char *details;      /* optional: a JSON object as text (failing task IDs, errors) */
	int64_t fence;      /* the writer's fencing token; 0 for the agent */
} rec_action;

/* 0 ok, -1 when it does not fit or a part is empty or holds '/'. */
int rec_action_key(char *buf, size_t len, const char *prefix, const char *controller, int64_t ts_ns, const char *kind,
		   const char *target);
/* The prefix of one controller's records: PREFIX/actions/CONTROLLER/ (or every record's with controller NULL). */
int rec_action_prefix(char *buf, size_t len, const char *prefix, const char *controller);
char *rec_action_encode(const rec_action *r);
sh_err rec_action_parse(const char *json, size_t len, rec_action *out, char *why, size_t wlen);
void rec_action_free(rec_action *r);

/*
 * Retention (etcd's quota is 2 GiB by default, and a full quota stops every
 * write in the cluster, leases included: the NOSPACE alarm). Deletes the
 * records of one controller older than retention_ns and, beyond that, the
 * oldest ones above max, oldest first, in delete-range batches of at most
 * `batch` keys; never a record younger than a minute (min_age_ns). now_ns is
 * real time. *deleted (may be NULL) counts what went. SH_OK or the etcd
 * error of the first failed call (what was deleted before it stays deleted).
 */
typedef struct rec_retention {
	int64_t retention_ns; /* --actions-retention, default 7 days */
	int64_t max;          /* --actions-max, default 10000 */
	int64_t batch;        /* keys per delete, default 500 */
	int64_t min_age_ns;   /* default 60 s */
} rec_retention;
sh_err rec_actions_prune(etcd_client *c, const char *prefix, const char *controller, int64_t now_ns,
			 const rec_retention *r, int64_t *deleted);

#endif
