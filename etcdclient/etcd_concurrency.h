/* SPDX-License-Identifier: MIT */
/* etcd_concurrency.h - session (lease + keepalive thread), fenced election and mutex, as in clientv3/concurrency */
#ifndef ETCD_CONCURRENCY_H
#define ETCD_CONCURRENCY_H

#include <signal.h>
#include <stdatomic.h>

#include "etcd.h"

/*
 * Timeliness: every session keeps its lease alive from a thread of its own,
 * on a client (and connection) of its own, so no slow Engine API call, long
 * reconcile or full watch buffer on the caller's thread can delay it. The
 * session's deadline is the send time of the last successful keepalive plus
 * the TTL etcd granted, on the monotonic clock: never later than etcd's own
 * expiry, and known without asking etcd (which may be unreachable, or may
 * have extended the lease after a leader change: etcd-io/etcd#9395).
 */
typedef struct etcd_session etcd_session;

/* Grant a lease of ttl_s seconds through c and start keeping it alive. */
sh_err etcd_session_new(etcd_client *c, int64_t ttl_s, etcd_session **out);
int64_t etcd_session_lease(const etcd_session *s);
int64_t etcd_session_ttl(const etcd_session *s);
/* Monotonic deadline (ns) after which the lease may be gone. */
int64_t etcd_session_deadline(const etcd_session *s);
/* 1 while the lease is certainly alive: not revoked, deadline not passed.
 * Once 0 it stays 0 (a keepalive answered after the deadline does not revive it). */
int etcd_session_alive(const etcd_session *s);
/* Also store each new deadline here (e.g. shared memory a watchdog reads). */
void etcd_session_set_sink(etcd_session *s, _Atomic int64_t *sink);
/* Why the session was lost, if it was. */
void etcd_session_errmsg(etcd_session *s, char *buf, size_t len);
/* Revoke the lease now from the session's own thread and client, so the
 * caller can resign (delete its key) at the same moment: etcd commits both
 * in one round. The session is lost from then on; close it to wait. */
void etcd_session_revoke_start(etcd_session *s);
/* Stop keeping alive; revoke the lease when revoke is set: at once, through
 * the client that created the session (call from its thread; its connection is
 * usually open already), without waiting for the session thread to stop first.
 * Returns once the revoke is answered (or failed) and the thread has ended. Frees s. */
void etcd_session_close(etcd_session *s, int revoke);

/*
 * Riding out an etcd leader change. Only etcd's leader renews leases; when it
 * dies, the other members elect a new one after their randomized election
 * timeout (1-2 s at etcd's default --election-timeout of 1 s) and the new
 * leader extends every lease (etcd-io/etcd#9395). A keepalive sent meanwhile
 * fails, or hangs at a follower that waits for a leader. So the session
 * thread:
 * - sends each keepalive with a short timeout of its own
 *   (etcd_session_request_timeout: TTL/16, 200 ms to 1 s), not the client's;
 * - after a failure of any kind but "lease not found" (no leader, leader
 *   changed, unavailable, timeout, connection refused) retries at once on the
 *   next endpoint, then at most every ETCD_SESSION_RETRY_NS, until one succeeds or
 *   the deadline passes: a member without a leader is never a reason to give
 *   the session up;
 * - in normal operation keeps the last success recent enough that a whole
 *   election (ETCD_SESSION_ELECTION_NS) plus a retry fits in the owner's
 *   budget (etcd_session_period). The deadline rule above is unchanged.
 */
#define ETCD_SESSION_ELECTION_NS (2000 * INT64_C(1000000))  /* etcd's longest leaderless time at defaults */
#define ETCD_SESSION_RETRY_NS (150 * INT64_C(1000000))      /* between retries after the first */
#define ETCD_SESSION_SLACK_NS (250 * INT64_C(1000000))      /* a retry plus its answer, after an election */
#define ETCD_SESSION_MIN_PERIOD_NS (100 * INT64_C(1000000)) /* never keep alive more often */

/* Normal keepalive period (ns) for a lease of ttl_ns whose owner needs a
 * success within budget_ns of the last one's send (budget_ns <= 0: the TTL):
 * budget - ELECTION - SLACK, at least MIN_PERIOD, at most TTL/3. Pure. */
int64_t etcd_session_period(int64_t ttl_ns, int64_t budget_ns);
/* Timeout (ms) of one keepalive request for a lease of ttl_ns: TTL/16 within
 * [200, 1000]. A member without a leader holds a keepalive until it knows the
 * next one, and then sleeps a whole election timeout before it looks again,
 * so a request sent during an election is better cut short and sent afresh. Pure. */
long etcd_session_request_timeout(int64_t ttl_ns);
/* When to send the next keepalive (monotonic ns). last_ok: send time of the
 * last successful keepalive (or of the grant); last_try: send time of the
 * last attempt; now: when it ended; failures: consecutive failed attempts
 * since last_ok. 0 failures: last_ok + period; 1: now (the next endpoint, at
 * once); more: last_try + ETCD_SESSION_RETRY_NS, or now if later (a request
 * that timed out has waited already). Never later than deadline. Pure. */
int64_t etcd_session_next_send(int64_t last_ok, int64_t last_try, int64_t now, int64_t deadline, int64_t period,
			       int failures);

/* The owner's budget (ns): how long after the send of the last successful
 * keepalive it still runs or acts (e.g. deadline minus its own margins);
 * <= 0 means the whole TTL. Sets the keepalive period (etcd_session_period)
 * from the next keepalive on. */
void etcd_session_set_budget(etcd_session *s, int64_t budget_ns);
/* Normal keepalive period in use (ns). */
int64_t etcd_session_keepalive_period(const etcd_session *s);
/*
 * Keepalive gap: from the send of one successful keepalive (or of the grant)
 * to the answer of the next successful one, i.e. how much of the TTL was used
 * up before the deadline moved; a gap of a whole TTL means the session was
 * lost. fn (may be NULL to remove) is called from the session thread after
 * each successful keepalive with that gap in ns (e.g. to observe the
 * Prometheus histogram swarmheal_session_keepalive_gap_seconds); it must
 * return quickly and must not call back into the session.
 */
void etcd_session_set_gap_hook(etcd_session *s, void (*fn)(void *arg, int64_t gap_ns), void *arg);
/* Longest keepalive gap so far (ns); 0 before the first keepalive. */
int64_t etcd_session_max_gap_ns(const etcd_session *s);
/* Successful keepalives and failed attempts so far. */
long etcd_session_keepalives(const etcd_session *s);
long etcd_session_failures(const etcd_session *s);

/* ---- election: the scheme of concurrency.Election and `etcdctl elect` ---- */

/* Pure view of the candidates under a prefix (any order). */
typedef struct etcd_election_view {
	int mine_present;    /* my key exists with my create_revision */
	int leader;          /* ... and it has the lowest create_revision */
	long predecessor;    /* index of the candidate just before mine, -1 none */
	long leader_index;   /* index of the current leader, -1 none */
} etcd_election_view;
etcd_election_view etcd_election_decide(const etcd_kv *kvs, size_t n, const char *my_key, int64_t my_rev);

typedef struct etcd_election {
	etcd_client *c;
	etcd_session *s;
	char *prefix;   /* "PREFIX NAME/" */
	char *key;      /* prefix + lease hex */
	int64_t rev;    /* create_revision of key: the fencing token */
	int leader;
	char errbuf[512];
} etcd_election;

/* Election named name under prefix (key = prefix + name + "/" + lease hex). */
sh_err etcd_election_init(etcd_election *e, etcd_client *c, etcd_session *s, const char *prefix, const char *name);
void etcd_election_release(etcd_election *e);
/*
 * Campaign with proposal value until leader. Waits on the key just before
 * ours only; re-checks our key and session before claiming leadership (after
 * a wait, with a serializable read when its answer is no older than the
 * deletion waited for, else a linearizable one).
 * timeout_ms <= 0 waits forever. *stop (may be NULL) cancels.
 * SH_OK leader; SH_E_TIMEOUT; SH_E_CANCELED; SH_E_LEASE_LOST; etcd errors.
 */
sh_err etcd_election_campaign(etcd_election *e, const char *value, long timeout_ms, volatile sig_atomic_t *stop);
/* Delete our key (only if it is still ours). */
sh_err etcd_election_resign(etcd_election *e);
/* Is our key still there with our create_revision, and the session alive? SH_E_NOT_LEADER if not.
 * revision (may be NULL): the store revision of that read. */
sh_err etcd_election_check(etcd_election *e, int64_t *revision);
/*
 * The fenced write: do then_ops only if our key still exists with our
 * create_revision (plus extra compares). SH_E_NOT_LEADER when the guard fails.
 */
sh_err etcd_election_guarded_txn(etcd_election *e, const etcd_cmp *extra, size_t nextra, const etcd_op *then_ops,
				 size_t nthen, etcd_txn_result *out);
/* Current leader under "prefix name/": SH_E_NOT_FOUND when none. */
sh_err etcd_election_leader(etcd_client *c, const char *prefix, const char *name, etcd_kv *leader);

/* ---- mutex: an election whose proposal is empty ---- */
typedef etcd_election etcd_mutex;
#define etcd_mutex_init etcd_election_init
#define etcd_mutex_release etcd_election_release
static inline sh_err etcd_mutex_lock(etcd_mutex *m, long timeout_ms, volatile sig_atomic_t *stop)
{
	return etcd_election_campaign(m, "", timeout_ms, stop);
}
#define etcd_mutex_unlock etcd_election_resign

/* Set the per-request timeout of a client. */
void etcd_client_set_timeout(etcd_client *c, long timeout_ms);

#endif
