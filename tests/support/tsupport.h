/* SPDX-License-Identifier: MIT */
/* tsupport.h - test helpers: a tiny scripted HTTP responder and private etcd processes */
#ifndef TSUPPORT_H
#define TSUPPORT_H

#include <stdint.h>
#include <sys/types.h>

/* A scripted responder: connection i gets replies[i % n] written raw (a whole
 * HTTP response, possibly truncated), then the connection is closed. A NULL
 * reply holds the connection open without answering until stop. */
typedef struct tresp tresp;
tresp *tresp_start(const char *const *replies, int n);
int tresp_port(const tresp *r);
int tresp_requests(const tresp *r);       /* connections served */
const char *tresp_last_request(tresp *r); /* copy of the last request seen */
void tresp_stop(tresp *r);

/* A port on 127.0.0.1 that is free right now (nothing listens). */
int t_free_port(void);

/* A private etcd on loopback with its own data dir, for tests that restart it,
 * enable auth or TLS. */
typedef struct tetcd {
	pid_t pid;
	int client_port, peer_port;
	char dir[256];
	char endpoint[128];
	char extra[1024]; /* extra flags, space separated (TLS) */
} tetcd;
int tetcd_start(tetcd *e, const char *extra_flags); /* 0 ok; waits until it answers */
int tetcd_restart(tetcd *e);                        /* same ports and data */
void tetcd_kill(tetcd *e);                          /* SIGKILL, keep data */
void tetcd_stop(tetcd *e);                          /* stop and remove data */

/* Shared etcd started by tests/run.sh; NULL when the environment lacks it. */
const char *t_endpoints(void);
/* Unique key prefix for this test process ("/t/<pid>-<n>/"). */
const char *t_prefix(const char *name);

/* Run a shell command, return its exit status (or -1). */
int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));


/* ---- processes ---- */
/* Run "sh -c 'exec CMD'" with stdout+stderr to outfile (may be NULL: /dev/null); own process group. */
pid_t t_spawn(const char *outfile, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wait up to timeout_ms for pid; 1 exited (*status shell-style), 0 still running. */
int t_wait_pid(pid_t pid, long timeout_ms, int *status);
/* Wait up to timeout_ms until file contains needle; returns 1 found, 0 not. */
int t_wait_file(const char *path, const char *needle, long timeout_ms);
/* Whole file as a malloc'd string ("" when missing). */
char *t_read_file(const char *path);
/* Path of a built program (SWARMHEAL_BIN/name). */
const char *t_bin(const char *name);
/* 1 when pid exists and is not a zombie. */
int t_alive(pid_t pid);

#endif
