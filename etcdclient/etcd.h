/* SPDX-License-Identifier: MIT */
/* etcd.h - etcd v3 client over gRPC (or etcd's JSON gateway): KV, txn, lease, watch, auth, TLS, failover */
#ifndef ETCD_H
#define ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

/*
 * One etcd_client is used by one thread at a time. It keeps one kept-alive
 * connection per endpoint and fails over to the next endpoint on connection
 * errors. Keys and values are plain bytes to callers (protobuf, or base64 and
 * int64-as-string, are the wire's business). Every call returns an sh_err;
 * on failure etcd_errmsg() holds one line naming what failed, the same line
 * on either transport (errors name the call by its gateway path, e.g.
 * "refused /v3/kv/put").
 *
 * Transport (etcd_config.transport, else SWARMHEAL_ETCD_TRANSPORT, else gRPC):
 * - gRPC (default): etcd's gRPC API on the port etcd serves, over libcurl's
 *   HTTP/2 (plain endpoints: h2c with prior knowledge; https: ALPN h2) with
 *   etcd's messages in protobuf (protobuf-c; etcdclient/proto). Unary calls
 *   share the client's connection per endpoint; etcd_lease_keepalive() sends
 *   on a LeaseKeepAlive stream the client keeps open between keepalives (one
 *   per client, so one per session); a watch is one Watch stream.
 * - gateway: etcd's JSON gRPC gateway (POST /v3/...) over HTTP/1.1, as
 *   before; several times dearer for etcd per request (bench_transport).
 */

typedef struct etcd_config {
	const char *endpoints;     /* comma list of http(s)://host:port */
	const char *cacert, *cert, *key;
	const char *user, *password;
	long timeout_ms;           /* whole request; default 5000 */
	long connect_timeout_ms;   /* default 1000 */
	size_t max_value;          /* largest value put accepts; default 1.5 MiB */
	size_t max_response;       /* largest response body; default 64 MiB */
	int fresh_connect;         /* 1: new TCP connection per request (benchmarks) */
	int transport;             /* ETCD_TRANSPORT_*: 0 (default) takes SWARMHEAL_ETCD_TRANSPORT
				    * ("grpc" or "gateway") from the environment, else gRPC */
} etcd_config;

enum etcd_transport {
	ETCD_TRANSPORT_DEFAULT,
	ETCD_TRANSPORT_GRPC,    /* gRPC over HTTP/2 (h2c prior knowledge, or TLS with ALPN h2) */
	ETCD_TRANSPORT_GATEWAY, /* etcd's JSON gRPC gateway over HTTP/1.1 (/v3/...) */
};

typedef struct etcd_client etcd_client;

typedef struct etcd_kv {
	char *key;
	size_t key_len;
	char *value; /* NUL-terminated for convenience; may hold NULs */
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
} etcd_kv;

/* Fill cfg's endpoints from SWARMHEAL_ENDPOINTS, then ETCDCTL_ENDPOINTS, when unset. */
void etcd_config_from_env(etcd_config *cfg);

sh_err etcd_client_new(const etcd_config *cfg, etcd_client **out, char *errbuf, size_t errlen);
/* A new client with the same configuration (for another thread). */
sh_err etcd_client_dup(const etcd_client *c, etcd_client **out);
void etcd_client_free(etcd_client *c);
const char *etcd_errmsg(const etcd_client *c);
/* Endpoint the last request went to. */
const char *etcd_current_endpoint(const etcd_client *c);
/* New TCP connections opened so far (to check reuse). */
long etcd_connects(const etcd_client *c);
/* Successful authentications so far: the first, and each renewal of an expired token (to check them). */
long etcd_auths(const etcd_client *c);

/* ---- KV ---- */
enum etcd_sort_order { ETCD_SORT_NONE, ETCD_SORT_ASCEND, ETCD_SORT_DESCEND };
enum etcd_sort_target { ETCD_SORT_KEY, ETCD_SORT_VERSION, ETCD_SORT_CREATE, ETCD_SORT_MOD, ETCD_SORT_VALUE };

typedef struct etcd_range_opts {
	int prefix;              /* every key starting with key */
	const char *range_end;   /* explicit end (exclusive); overrides prefix */
	int64_t limit, revision;
	int keys_only, count_only, serializable;
	enum etcd_sort_order sort_order;
	enum etcd_sort_target sort_target;
	int64_t min_create_revision, max_create_revision;
	int64_t min_mod_revision, max_mod_revision;
} etcd_range_opts;

typedef struct etcd_range_result {
	etcd_kv *kvs;
	size_t n;
	int64_t count;     /* keys in range (before limit) */
	int more;
	int64_t revision;  /* store revision of the answer */
} etcd_range_result;

sh_err etcd_range(etcd_client *c, const char *key, const etcd_range_opts *opts, etcd_range_result *out);
/* One key; SH_E_NOT_FOUND when absent. kv filled (free with etcd_kv_free). */
sh_err etcd_get(etcd_client *c, const char *key, etcd_kv *kv, int64_t *revision);

typedef struct etcd_put_opts {
	int64_t lease;
	int prev_kv;
} etcd_put_opts;

sh_err etcd_put(etcd_client *c, const char *key, const void *value, size_t value_len,
		const etcd_put_opts *opts, int64_t *revision, etcd_kv *prev /* may be NULL */);

typedef struct etcd_delete_opts {
	int prefix;
	const char *range_end;
	int prev_kv;
} etcd_delete_opts;

typedef struct etcd_delete_result {
	int64_t deleted, revision;
	etcd_kv *prev_kvs;
	size_t n;
} etcd_delete_result;

sh_err etcd_delete(etcd_client *c, const char *key, const etcd_delete_opts *opts, etcd_delete_result *out);

/* ---- txn ---- */
enum etcd_cmp_target { ETCD_CMP_VERSION, ETCD_CMP_CREATE, ETCD_CMP_MOD, ETCD_CMP_VALUE, ETCD_CMP_LEASE };
enum etcd_cmp_result { ETCD_CMP_EQUAL, ETCD_CMP_GREATER, ETCD_CMP_LESS, ETCD_CMP_NOT_EQUAL };

typedef struct etcd_cmp {
	const char *key;
	enum etcd_cmp_target target;
	enum etcd_cmp_result result;
	int64_t num;                /* VERSION, CREATE, MOD, LEASE */
	const char *value;          /* VALUE */
	size_t value_len;
} etcd_cmp;

enum etcd_op_kind { ETCD_OP_RANGE, ETCD_OP_PUT, ETCD_OP_DELETE };

typedef struct etcd_op {
	enum etcd_op_kind kind;
	const char *key;
	const char *value;          /* PUT */
	size_t value_len;
	int64_t lease;              /* PUT */
	int prefix;                 /* RANGE, DELETE */
	int prev_kv;                /* PUT, DELETE */
	int64_t limit;              /* RANGE */
} etcd_op;

typedef struct etcd_op_result {
	enum etcd_op_kind kind;
	etcd_range_result range;    /* RANGE: kvs; DELETE/PUT with prev_kv: previous kvs */
	int64_t deleted;            /* DELETE */
} etcd_op_result;

typedef struct etcd_txn_result {
	int succeeded;
	int64_t revision;
	etcd_op_result *responses;
	size_t n;
} etcd_txn_result;

sh_err etcd_txn(etcd_client *c, const etcd_cmp *cmps, size_t ncmp,
		const etcd_op *then_ops, size_t nthen, const etcd_op *else_ops, size_t nelse,
		etcd_txn_result *out);

/* ---- leases ---- */
sh_err etcd_lease_grant(etcd_client *c, int64_t ttl_s, int64_t *id, int64_t *granted_ttl);
/* One keepalive; SH_E_LEASE_LOST when the lease no longer exists. */
sh_err etcd_lease_keepalive(etcd_client *c, int64_t id, int64_t *ttl);
sh_err etcd_lease_revoke(etcd_client *c, int64_t id);
/* ttl -1 when expired or unknown. keys may be NULL. */
sh_err etcd_lease_ttl(etcd_client *c, int64_t id, int64_t *ttl, int64_t *granted_ttl,
		      etcd_range_result *keys);

/* ---- maintenance, auth ---- */
typedef struct etcd_status {
	char version[32];
	int64_t db_size, raft_index, raft_term, revision;
	uint64_t leader, member_id; /* member IDs are uint64: half of them do not fit an int64 */
} etcd_status;
sh_err etcd_status_get(etcd_client *c, etcd_status *st);
/* (Re)authenticate with the configured user/password now. */
sh_err etcd_authenticate(etcd_client *c);

/* ---- watch ---- */
enum etcd_event_type { ETCD_EV_PUT, ETCD_EV_DELETE };

typedef struct etcd_event {
	enum etcd_event_type type;
	etcd_kv kv;
	etcd_kv prev_kv;
	int has_prev;
} etcd_event;

typedef struct etcd_watch_batch {
	etcd_event *events;
	size_t n;
	int64_t revision;          /* header revision */
	int progress;              /* progress notification: no events, revision advanced */
	int64_t compact_revision;  /* with SH_E_COMPACTED */
} etcd_watch_batch;

typedef struct etcd_watch_opts {
	int prefix;
	const char *range_end;
	int64_t start_revision;    /* 0: from now */
	int prev_kv;
	int progress_notify;
	int filter_nodelete, filter_noput;
} etcd_watch_opts;

typedef struct etcd_watch etcd_watch;

/* The watch shares c's configuration and token; use it from c's thread. */
sh_err etcd_watch_open(etcd_client *c, const char *key, const etcd_watch_opts *opts, etcd_watch **out);
/*
 * Wait up to timeout_ms for the next batch. SH_OK: batch filled (events, or
 * progress). SH_E_TIMEOUT: nothing yet. SH_E_COMPACTED: the start revision is
 * compacted, relist and open a new watch. SH_E_UNREACHABLE: no endpoint
 * answers right now; the watch stays usable and resumes from the revision
 * after the last one delivered, so no event is lost or repeated.
 */
sh_err etcd_watch_next(etcd_watch *w, etcd_watch_batch *b, long timeout_ms);
/* While waiting, also wake (returning SH_E_TIMEOUT early) when fd is readable. -1: none. */
void etcd_watch_set_wake_fd(etcd_watch *w, int fd);
/* Revision the watch resumes from after a reconnect. */
int64_t etcd_watch_next_revision(const etcd_watch *w);
/* Reconnects made so far. */
long etcd_watch_reconnects(const etcd_watch *w);
const char *etcd_watch_errmsg(const etcd_watch *w);
void etcd_watch_close(etcd_watch *w);

/* ---- freeing results ---- */
void etcd_kv_free(etcd_kv *kv);
void etcd_range_result_free(etcd_range_result *r);
void etcd_delete_result_free(etcd_delete_result *r);
void etcd_txn_result_free(etcd_txn_result *r);
void etcd_watch_batch_free(etcd_watch_batch *b);

/* Smallest key greater than every key with this prefix (malloc'd; "\0" for ""). */
char *etcd_prefix_end(const char *prefix, size_t len, size_t *end_len);

#endif
