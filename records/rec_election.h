/* SPDX-License-Identifier: MIT */
/* rec_election.h - PREFIX/elections/NAME/LEASEHEX: who leads each election and who stands by (a read-only view) */
#ifndef REC_ELECTION_H
#define REC_ELECTION_H

#include <stddef.h>
#include <stdint.h>

#include "etcd.h"
#include "sh_err.h"

/*
 * Candidates write PREFIX/elections/NAME/LEASEHEX = their proposal (plain
 * text, "HOSTNAME:PID" for swarmheald, anything for arbiter-elect or etcdctl
 * elect), bound to their lease; the leader is the live key with the lowest
 * create_revision, which is also its fencing token. The controllers'
 * elections are NAME = "controller.DRAIN" etc. This module does not write
 * those keys (etcd_concurrency.h does); it turns a range over them into views
 * and encodes a view for swarmhealctl (records/schema/election_view.json).
 */
#define REC_ELECTION_MAX_STANDBYS 8

typedef struct rec_election_view {
	char name[128];           /* "controller.drain" */
	char leader[256];         /* the leader's proposal; "" when nobody campaigns */
	char leader_key[400];     /* its key (under the prefix) */
	int64_t lease;            /* the leader's lease ID (from LEASEHEX; 0 unknown) */
	int64_t fence;            /* the leader key's create_revision */
	size_t candidates;        /* live keys, leader included */
	char standbys[REC_ELECTION_MAX_STANDBYS][256]; /* the next proposals in order of create_revision */
	size_t nstandbys;         /* at most REC_ELECTION_MAX_STANDBYS kept; candidates - 1 is the true count */
} rec_election_view;

/* PREFIX/elections/NAME/ (NAME NULL: PREFIX/elections/). rec.h's key convention. */
int rec_election_prefix(char *buf, size_t len, const char *prefix, const char *name);

/*
 * Group the keys of a range over PREFIX/elections/ (any order) by NAME and
 * fill one view per election, sorted by name. Keys not of the form
 * PREFIX/elections/NAME/ID are skipped. Returns the number of elections
 * (may exceed max: only max are filled).
 */
size_t rec_election_views(const char *prefix, const etcd_kv *kvs, size_t n, rec_election_view *out, size_t max);

char *rec_election_view_encode(const rec_election_view *v);
sh_err rec_election_view_parse(const char *json, size_t len, rec_election_view *out, char *why, size_t wlen);

#endif
