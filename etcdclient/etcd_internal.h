/* SPDX-License-Identifier: MIT */
/* etcd_internal.h - wire encoding and decoding shared by the etcd client's files and its unit tests */
#ifndef ETCD_INTERNAL_H
#define ETCD_INTERNAL_H

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "etcd.h"
#include "sh_util.h"

/* int64 field that may arrive as a JSON string or number; absent is 0.
 * Returns -1 when present but not an integer. */
int ej_i64(const cJSON *obj, const char *name, int64_t *v);
/* uint64 field (member and cluster IDs). */
int ej_u64(const cJSON *obj, const char *name, uint64_t *v);
/* base64 field decoded; absent gives "" with length 0. -1 on invalid base64 or no memory. */
int ej_bytes(const cJSON *obj, const char *name, char **out, size_t *len);
/* Add base64 of data as a string field. -1 on no memory. */
int ej_add_b64(cJSON *obj, const char *name, const void *data, size_t len);
int ej_add_i64(cJSON *obj, const char *name, int64_t v);

int ej_decode_kv(const cJSON *j, etcd_kv *kv);
int ej_decode_range(const cJSON *j, etcd_range_result *r);
int ej_decode_txn(const cJSON *j, etcd_txn_result *r);
/* A watch stream line's "result" object -> batch. -1 malformed. Sets
 * *created / *canceled / b->compact_revision as found. */
int ej_decode_watch(const cJSON *res, etcd_watch_batch *b, int *created, int *canceled);

cJSON *ej_range_request(const char *key, const etcd_range_opts *o);
cJSON *ej_txn_request(const etcd_cmp *cmps, size_t ncmp, const etcd_op *t, size_t nt,
		      const etcd_op *e, size_t ne);
cJSON *ej_watch_request(const char *key, const etcd_watch_opts *o, int64_t start_revision);

/*
 * Error object in a body: grpc-gateway v1 unary {"error":"..","code":N,"message":".."},
 * v2 {"code":N,"message":".."}, stream {"error":{"grpc_code":N,"message":".."}}.
 * Returns 1 and fills code/msg when body is an error object, else 0.
 */
int ej_grpc_error(const cJSON *body, int *code, const char **msg);
/* Map a gRPC code + message to an sh_err. */
sh_err ej_map_grpc(int code, const char *msg);

/* Internal: the client's HTTP layer, shared with the watch. */
struct etcd_endpoint {
	char *url;
	CURL *h;
};

struct etcd_client {
	struct etcd_endpoint *eps;
	size_t neps, cur;
	char *cacert, *cert, *key, *user, *password, *endpoints_str;
	char *token;
	long timeout_ms, connect_timeout_ms;
	size_t max_value, max_response;
	int fresh_connect;
	long connects, auths;
	char errbuf[512];
};

void etcd_setf(etcd_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Common libcurl options (TLS, timeouts, keepalive) on a handle. */
void etcd_curl_setup(etcd_client *c, CURL *h, long timeout_ms);
/* Headers for a request: JSON content type, token, optional hasleader. */
struct curl_slist *etcd_headers(etcd_client *c, int hasleader);
/* One-line description of a transport failure. */
void etcd_describe_curl(char *buf, size_t len, const char *url, CURLcode rc, long os_errno, long timeout_ms);
int etcd_curl_is_connect_error(CURLcode rc);

#endif
