/* SPDX-License-Identifier: MIT */
/* tcluster.h - a private multi-member etcd cluster on loopback, for tests and benchmarks that kill its leader */
#ifndef TCLUSTER_H
#define TCLUSTER_H

#include <stdint.h>
#include <sys/types.h>

#define TCLUSTER_MAX 5

/* Members run etcd at its default raft settings (heartbeat 100 ms, election
 * timeout 1 s), each with its own data dir and log under dir. */
typedef struct tcluster {
	int n;
	char dir[256];
	char endpoints[512];   /* "http://127.0.0.1:P1,http://127.0.0.1:P2,..." */
	char initial[1024];    /* --initial-cluster value */
	struct tcluster_member {
		pid_t pid;      /* 0 while stopped */
		int client_port, peer_port;
		char endpoint[64];
		char log[300];  /* its log file (appended across restarts) */
	} m[TCLUSTER_MAX];
} tcluster;

/* Start n members (1..TCLUSTER_MAX) and wait up to 20 s until each answers
 * and one is leader. 0 ok; -1 (everything started is stopped again). */
int tcluster_start(tcluster *c, int n);
/* Index of the member that is leader according to the maintenance status of
 * the running members (a member is leader when its status' leader is its own
 * member_id); waits up to timeout_ms for one; -1 none. With not (>= 0), a
 * leader other than member not. */
int tcluster_leader(tcluster *c, long timeout_ms, int not);
/* Raft term of the first running member that answers, 0 when none does. */
int64_t tcluster_term(tcluster *c);
/* SIGKILL member i (its data stays). */
void tcluster_kill(tcluster *c, int i);
/* Start member i again on its ports and data; waits until its client port
 * accepts. 0 ok. */
int tcluster_restart(tcluster *c, int i);
/* SIGKILL every member and remove the data (kept when TCLUSTER_KEEP is set). */
void tcluster_stop(tcluster *c);

#endif
