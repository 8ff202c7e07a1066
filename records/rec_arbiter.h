/* SPDX-License-Identifier: MIT */
/* rec_arbiter.h - /arbiter/mode: the cluster mode every controller obeys */
#ifndef REC_ARBITER_H
#define REC_ARBITER_H

#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

enum rec_mode { REC_MODE_NORMAL = 0, REC_MODE_SINGLE_ZONE, REC_MODE_READ_ONLY };

typedef struct rec_arbiter_mode {
	enum rec_mode mode;
	char zones[16][64]; /* zones seen with live nodes */
	size_t nzones;
	int64_t since_ns;
	char reason[300];
	int64_t fence;
	char survivor[64];  /* single-zone: the zone the arbiter saw as the survivor; else "" */
	struct rec_zone_count { /* evidence: every known zone with its counts (absent in older records) */
		char zone[64];
		int64_t nodes, live, swarm_ready;
	} evidence[16];
	size_t nevidence;
} rec_arbiter_mode;

int rec_arbiter_mode_key(char *buf, size_t len, const char *prefix);
const char *rec_mode_name(enum rec_mode m); /* normal, single-zone, read-only */
int rec_mode_parse(const char *s, enum rec_mode *out); /* 0 ok, -1 unknown */
char *rec_arbiter_mode_encode(const rec_arbiter_mode *r);
/*
 * SH_E_MALFORMED for anything but a whole record with a known mode. The caller
 * must read a malformed mode as read-only, never as normal: a truncated
 * {"mode":"read-only was once read as normal and a manual drain went ahead.
 */
sh_err rec_arbiter_mode_parse(const char *json, size_t len, rec_arbiter_mode *out, char *why, size_t wlen);

/*
 * PREFIX/arbiter/replicas/NAME: an arbiter replica (NAME "HOST:PID", its
 * election proposal) and the zone it sits in, on the replica's own lease:
 * a leader outside the surviving zone resigns only when a replica there
 * campaigns (records/schema/arbiter_replica.json).
 */
typedef struct rec_arbiter_replica {
	char name[128];
	char zone[64];
	int64_t ts_ns;
} rec_arbiter_replica;
int rec_arbiter_replica_key(char *buf, size_t len, const char *prefix, const char *name);
char *rec_arbiter_replica_encode(const rec_arbiter_replica *r);
/* name and zone required (zone may be ""). */
sh_err rec_arbiter_replica_parse(const char *json, size_t len, rec_arbiter_replica *out, char *why, size_t wlen);

/*
 * PREFIX/arbiter/quorum: the quorum guard's memory of the current (or last)
 * loss of the Swarm managers' raft quorum, written fenced by the arbiter.
 * state: lost (seen, reported), forcing (the call is under way: never made twice), refused (past the grace, not forcing: why in
 * reason), forced (POST /swarm/init ForceNewCluster succeeded on manager),
 * failed (it failed: never retried for this loss, next_step says what a
 * person does), recovered (a manager reports a leader again).
 */
typedef struct rec_arbiter_quorum {
	char state[16];
	int64_t since_ns;      /* the loss was first seen (real time) */
	char manager[128];     /* forced or failed: the manager's node ID (or engine address) */
	char reason[300];
	char next_step[600];   /* for a person: which managers to re-join, one at a time */
	char rejoin[8][64];    /* node IDs of the managers to re-join after a forced new cluster */
	size_t nrejoin;
	int64_t fence;
} rec_arbiter_quorum;
int rec_arbiter_quorum_key(char *buf, size_t len, const char *prefix);
char *rec_arbiter_quorum_encode(const rec_arbiter_quorum *r);
/* SH_E_MALFORMED when state is missing or not one of the names above. */
sh_err rec_arbiter_quorum_parse(const char *json, size_t len, rec_arbiter_quorum *out, char *why, size_t wlen);

#endif
