/* SPDX-License-Identifier: MIT */
/* etcd_internal.h - wire encoding and decoding shared by the etcd client's files and its unit tests */
#ifndef ETCD_INTERNAL_H
#define ETCD_INTERNAL_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <protobuf-c/protobuf-c.h>

#include "rpc.pb-c.h"

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

/* ---- gRPC wire (etcd_grpc.c): framing, status, unary calls, streams ---- */

/* A gRPC message on the wire: 1 byte compressed flag (always 0 here), 4 bytes
 * big-endian length, then the protobuf bytes. */
#define EG_FRAME_HDR 5
/* Frame m (5-byte prefix + packed bytes) into a malloc'd buffer. -1 on no memory. */
int eg_frame(const ProtobufCMessage *m, uint8_t **out, size_t *len);
/*
 * The next message in buf[0, len): 1 with *msg, *mlen set and *used the bytes
 * it took; 0 when more bytes are needed; -1 when the frame is malformed
 * (compressed flag set, length over max), with *why naming it. Pure.
 */
int eg_deframe(const uint8_t *buf, size_t len, size_t max, const uint8_t **msg, size_t *mlen, size_t *used,
	       const char **why);

/* What a gRPC answer's headers and trailers said (both pass through one callback). */
struct eg_status {
	int have;          /* grpc-status seen */
	int code;          /* grpc-status */
	char msg[256];     /* grpc-message, percent-decoded */
	int grpc_ctype;    /* content-type application/grpc seen */
};
/* Feed one header or trailer line ("grpc-status: 14\r\n"). Pure. */
void eg_status_line(struct eg_status *st, const char *line, size_t len);

/* A long-lived gRPC stream (watch, lease keepalive) on a curl multi handle of its own. */
struct eg_stream {
	CURLM *m;
	CURL *h;
	struct curl_slist *hd;
	sh_buf out;        /* frames not yet handed to libcurl */
	int paused;        /* the read callback paused the upload (nothing to send) */
	int half_close;    /* end the upload once out is drained */
	sh_buf in;         /* bytes of the answer not yet taken as messages */
	size_t max;
	int too_large;
	int active;        /* a transfer is running */
	int done;          /* it ended: rc, st, http hold why */
	CURLcode rc;
	long http, oserr;
	struct eg_status st;
	size_t ep;
};
/* Open a stream to endpoint ep for method ("/etcdserverpb.Watch/Watch") with first frames
 * already queued; half_close ends the upload after them. 0 ok, -1 no memory. */
int eg_stream_open(etcd_client *c, struct eg_stream *s, size_t ep, const char *method, int hasleader,
		   const uint8_t *first, size_t firstlen, int half_close);
/* Queue frames. -1 on no memory. */
int eg_stream_send(struct eg_stream *s, const uint8_t *data, size_t len);
/* Move bytes both ways, waiting at most wait_ms for the socket (or wake_fd, -1 none:
 * *woken set when it became readable). Sets done when the transfer ended. */
void eg_stream_pump(struct eg_stream *s, long wait_ms, int wake_fd, int *woken);
/* Next whole message received: 1, 0 none yet, -1 malformed (*why). */
int eg_stream_next(struct eg_stream *s, ProtobufCMessage **msg, const ProtobufCMessageDescriptor *d,
		   const char **why);
void eg_stream_close(struct eg_stream *s);
/* One-line reason a stream ended (grpc status, HTTP status, transport), and its sh_err. */
sh_err eg_stream_why(etcd_client *c, const struct eg_stream *s, const char *what, char *buf, size_t len);

/* Unary call: method "/etcdserverpb.KV/Range"; name is the gateway path used in messages
 * ("/v3/kv/range") so errors read as they always did. Fails over and re-authenticates
 * like the gateway's call. *resp freed with protobuf_c_message_free_unpacked. */
sh_err eg_call(etcd_client *c, const char *method, const char *name, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp);

/* ---- protobuf <-> etcd.h (etcd_pb.c) ---- */
int ep_decode_kv(const Mvccpb__KeyValue *p, etcd_kv *kv);
int ep_decode_range(const Etcdserverpb__RangeResponse *p, etcd_range_result *r);
int ep_decode_txn(const Etcdserverpb__TxnResponse *p, etcd_txn_result *r);
int ep_decode_watch(const Etcdserverpb__WatchResponse *p, etcd_watch_batch *b, int *created, int *canceled);
/* Framed WatchRequest{create_request} (malloc'd). -1 on no memory. */
int ep_watch_request(const char *key, const etcd_watch_opts *o, int64_t start_revision, uint8_t **out,
		     size_t *len);
/* The gRPC implementations behind etcd.h's calls (etcd_client.c dispatches). */
sh_err ep_authenticate(etcd_client *c);
sh_err ep_range(etcd_client *c, const char *key, const etcd_range_opts *opts, etcd_range_result *out);
sh_err ep_put(etcd_client *c, const char *key, const void *value, size_t value_len, const etcd_put_opts *opts,
	      int64_t *revision, etcd_kv *prev);
sh_err ep_delete(etcd_client *c, const char *key, const etcd_delete_opts *opts, etcd_delete_result *out);
sh_err ep_txn(etcd_client *c, const etcd_cmp *cmps, size_t ncmp, const etcd_op *t, size_t nt, const etcd_op *e,
	      size_t ne, etcd_txn_result *out);
sh_err ep_lease_grant(etcd_client *c, int64_t ttl_s, int64_t *id, int64_t *granted_ttl);
sh_err ep_lease_keepalive(etcd_client *c, int64_t id, int64_t *ttl);
sh_err ep_lease_revoke(etcd_client *c, int64_t id);
sh_err ep_lease_ttl(etcd_client *c, int64_t id, int64_t *ttl, int64_t *granted_ttl, etcd_range_result *keys);
sh_err ep_status_get(etcd_client *c, etcd_status *st);

/* Internal: the client's HTTP layer, shared with the watch. */
struct etcd_endpoint {
	char *url;
	CURL *h;
	CURLM *m;   /* gRPC: unary calls run h through this multi handle (its connection cache), see unary_perform */
	int h2c_up; /* gRPC: h's cached connection to a plain endpoint already speaks HTTP/2 */
};

struct etcd_client {
	struct etcd_endpoint *eps;
	size_t neps, cur;
	char *cacert, *cert, *key, *user, *password, *endpoints_str;
	char *token;
	long timeout_ms, connect_timeout_ms;
	size_t max_value, max_response;
	int fresh_connect;
	int grpc;                 /* 1: gRPC over HTTP/2; 0: the JSON gateway */
	struct eg_stream *ka;     /* gRPC: this client's LeaseKeepAlive stream, opened on first use */
	long connects, auths;
	char errbuf[512];
};

void etcd_setf(etcd_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "malformed WHAT answer from etcd at '...'": SH_E_PROTO. */
sh_err etcd_malformed(etcd_client *c, const char *what);
/* "out of memory building WHAT request": SH_E_NOMEM. */
sh_err etcd_nomem(etcd_client *c, const char *what);
/* An answer's body, at most max bytes (too_large set past that); etcd_body_write is its libcurl writer. */
struct etcd_body {
	sh_buf b;
	size_t max;
	int too_large;
};
size_t etcd_body_write(char *ptr, size_t size, size_t nmemb, void *ud);
/* Common libcurl options (TLS, timeouts, keepalive) on a handle. */
void etcd_curl_setup(etcd_client *c, CURL *h, long timeout_ms);
/* Headers for a request: JSON content type, token, optional hasleader. */
struct curl_slist *etcd_headers(etcd_client *c, int hasleader);
/* One-line description of a transport failure. */
void etcd_describe_curl(char *buf, size_t len, const char *url, CURLcode rc, long os_errno, long timeout_ms);
int etcd_curl_is_connect_error(CURLcode rc);

#endif
