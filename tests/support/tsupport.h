/* SPDX-License-Identifier: MIT */
/* tsupport.h - test helpers: a tiny scripted HTTP responder, private etcd processes, spawned process groups */
#ifndef TSUPPORT_H
#define TSUPPORT_H

#include <stdint.h>
#include <sys/types.h>

/* A scripted responder: connection i gets replies[i % n] written raw (a whole
 * HTTP response, possibly truncated), then the connection is closed. A NULL
 * reply holds the connection open without answering until stop. */
typedef struct tresp tresp;
tresp *tresp_start(const char *const *replies, int n);
/* The same with binary replies of lens[i] bytes (e.g. HTTP/2 frames for a scripted
 * gRPC answer): reads what the client sends until it pauses for 100 ms, writes
 * the reply, waits for the client to pause again, then ends the connection. */
tresp *tresp_start_bin(const char *const *replies, const size_t *lens, int n);
/* The same with each reply made from the request: fn(ud, request) returns a whole HTTP response,
 * malloc'd (freed once written), or NULL to hold the connection until stop. Called on the responder's
 * thread, one connection at a time: e.g. a fake engine that routes by path and whose answers the test
 * changes while a daemon runs against it (failed-answer input). */
typedef char *(*tresp_fn)(void *ud, const char *request);
tresp *tresp_start_fn(tresp_fn fn, void *ud);
int tresp_port(const tresp *r);
int tresp_requests(const tresp *r);       /* connections served */
const char *tresp_last_request(tresp *r); /* copy of the last request seen */
void tresp_stop(tresp *r);

/* A TCP forwarder: a loopback port whose connections are relayed, byte for
 * byte, to 127.0.0.1:target_port, counting the connections it accepted (e.g.
 * how many a client opens to etcd). NULL when it cannot listen. */
typedef struct tproxy tproxy;
tproxy *tproxy_start(int target_port);
int tproxy_port(const tproxy *p);
int tproxy_accepts(tproxy *p); /* connections accepted so far */
void tproxy_stop(tproxy *p);   /* closes every relayed connection too */

/* A port on 127.0.0.1 that is free right now, below the ephemeral range (0 when none found). */
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
int tetcd_start(tetcd *e, const char *extra_flags); /* 0 ok; waits (15 s at most) until it serves clients */
int tetcd_restart(tetcd *e);                        /* same ports and data */
void tetcd_kill(tetcd *e);                          /* SIGKILL, keep data */
void tetcd_stop(tetcd *e);                          /* stop and remove data */

/* A test program whose service (etcd, the lab) is missing: prints "NAME: skipped: WHY" and returns 77
 * (ctest counts it skipped); with SWARMHEAL_TEST_STRICT=1 (tests/run.sh, CI) it prints "NAME: failed:
 * WHY" and returns 1, so a missing or vanished service is a failure there, never a skip. */
int t_skip(const char *name, const char *why);

/* Shared etcd started by tests/run.sh; NULL when the environment lacks it. */
const char *t_endpoints(void);
/* Unique key prefix for this test process ("/t/<pid>-<n>/"). */
const char *t_prefix(const char *name);

/* Run a shell command, return its exit status (or -1). */
int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a shell command and keep the first line of its output, without the newline, in out ("" when
 * it printed nothing or could not run). */
void t_sh_line(const char *cmd, char *out, size_t len);


/* ---- processes ---- */
/* Run "sh -c 'exec CMD'" with stdout+stderr to outfile (may be NULL: /dev/null; emptied before
 * this returns, so a wait for a line in it never sees an earlier process's); own process group,
 * descriptors above 2 closed, SIGKILLed when the test process dies (PR_SET_PDEATHSIG). -1 on error. */
pid_t t_spawn(const char *outfile, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wait up to timeout_ms (wall clock, polled every 10 ms) for pid; 1 exited (*status shell-style:
 * code, or 128 + signal), 0 still running. */
int t_wait_pid(pid_t pid, long timeout_ms, int *status);
/* SIGTERM pid and assert (CUnit) that it exits with status 0 within 10 s: a daemon's clean stop. */
void t_stop_clean(pid_t pid);
/* Wait up to timeout_ms (wall clock) until file contains needle; returns 1 found, 0 not. */
int t_wait_file(const char *path, const char *needle, long timeout_ms);
/* One sample of a program's Prometheus /metrics on 127.0.0.1:port: the value of the line whose
 * series (name with its labels, exactly as printed, e.g. swarmheal_reconciles_total{controller="x"})
 * is the given one; -1 when the endpoint does not answer within 2 s or has no such line. */
double t_metric(int port, const char *series);
/* Wait up to timeout_ms (wall clock, polled every 50 ms) until t_metric(port, series) >= min; 1 yes, 0 not.
 * A test that asserts that nothing happens waits for passes of the program (its reconcile counter)
 * rather than for a fixed time. */
int t_wait_metric(int port, const char *series, double min, long timeout_ms);
/* Monotonic clock in ms, for waits and measured durations. */
int64_t t_now_ms(void);

/* Every process group t_spawn and tetcd_start create is recorded. tmain.h's t_run calls
 * t_procs_test_begin/t_procs_test_end around each test: the end SIGKILLs and reaps every group
 * started during that test that is still there (also after a failed FATAL assertion, which skips
 * the rest of the test) and removes the private etcds' data dirs. What a program's main started
 * is killed at exit (atexit, and on SIGTERM/SIGINT/SIGHUP). A group whose leader t_wait_pid
 * already reaped is still cleaned: the members it had at that moment are killed. */
void t_procs_test_begin(void);
void t_procs_test_end(void);
void t_procs_kill_all(void);
/* Remove this directory (rm -rf) after the current test, or at exit when not in a test: a test's
 * scratch space that a failed FATAL assertion would otherwise leave behind. */
void t_remove_after_test(const char *dir);
/* How many groups the last t_procs_test_end or t_procs_kill_all had to kill (tests of the support). */
int t_procs_killed_last(void);
/* Whole file as a malloc'd string ("" when missing). */
char *t_read_file(const char *path);
/* Path of a built program (SWARMHEAL_BIN/name). */
const char *t_bin(const char *name);
/* 1 when pid exists and is not a zombie. */
int t_alive(pid_t pid);

#endif
