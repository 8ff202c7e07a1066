/* SPDX-License-Identifier: MIT */
/* test_etcd_grpc.c - unit tests of the etcd client's gRPC wire: framing, status, protobuf decoding, and
 * malformed or truncated answers from a scripted HTTP/2 (h2c) responder (no etcd) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"
#include "tmain.h"
#include "tsupport.h"

/* ---- framing and status ---- */

static void test_frame_roundtrip(void)
{
	Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
	req.id = INT64_C(0x7fffffff12345678);
	uint8_t *f;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(eg_frame((ProtobufCMessage *)&req, &f, &n), 0);
	CU_ASSERT_EQUAL(f[0], 0);
	CU_ASSERT_EQUAL((size_t)f[4] + EG_FRAME_HDR, n);
	const uint8_t *m;
	size_t ml, used;
	const char *why = NULL;
	CU_ASSERT_EQUAL(eg_deframe(f, n, 1024, &m, &ml, &used, &why), 1);
	CU_ASSERT_EQUAL(used, n);
	Etcdserverpb__LeaseKeepAliveRequest *back = etcdserverpb__lease_keep_alive_request__unpack(NULL, ml, m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL(back->id, req.id);
	etcdserverpb__lease_keep_alive_request__free_unpacked(back, NULL);
	/* every prefix short of the whole frame needs more bytes */
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(eg_deframe(f, i, 1024, &m, &ml, &used, &why), 0);
	free(f);
}

static void test_deframe_malformed(void)
{
	const uint8_t *m;
	size_t ml, used;
	const char *why = NULL;
	const uint8_t compressed[] = {1, 0, 0, 0, 1, 0x08};
	CU_ASSERT_EQUAL(eg_deframe(compressed, sizeof(compressed), 1024, &m, &ml, &used, &why), -1);
	CU_ASSERT_PTR_NOT_NULL(why && strstr(why, "compressed"));
	const uint8_t flag[] = {7, 0, 0, 0, 0};
	CU_ASSERT_EQUAL(eg_deframe(flag, sizeof(flag), 1024, &m, &ml, &used, &why), -1);
	const uint8_t huge[] = {0, 0x7f, 0xff, 0xff, 0xff};
	CU_ASSERT_EQUAL(eg_deframe(huge, sizeof(huge), 1024, &m, &ml, &used, &why), -1);
	CU_ASSERT_PTR_NOT_NULL(why && strstr(why, "larger than"));
	/* a valid frame around bytes that are not a RangeResponse */
	const uint8_t junk[] = {0, 0, 0, 0, 3, 0x0a, 0xff, 0xff};
	CU_ASSERT_EQUAL(eg_deframe(junk, sizeof(junk), 1024, &m, &ml, &used, &why), 1);
	CU_ASSERT_PTR_NULL(etcdserverpb__range_response__unpack(NULL, ml, m));
}

static void test_status_lines(void)
{
	struct eg_status st = {0};
	eg_status_line(&st, "content-type: application/grpc\r\n", 32);
	CU_ASSERT_EQUAL(st.grpc_ctype, 1);
	CU_ASSERT_EQUAL(st.have, 0);
	const char *l = "grpc-status: 14\r\n";
	eg_status_line(&st, l, strlen(l));
	l = "Grpc-Message: etcdserver:%20no%20leader%zz%4\r\n";
	eg_status_line(&st, l, strlen(l));
	CU_ASSERT_EQUAL(st.have, 1);
	CU_ASSERT_EQUAL(st.code, 14);
	CU_ASSERT_STRING_EQUAL(st.msg, "etcdserver: no leader%zz%4");
	struct eg_status bad = {0};
	l = "grpc-status: x1\r\n";
	eg_status_line(&bad, l, strlen(l));
	CU_ASSERT_EQUAL(bad.have, 1);
	CU_ASSERT_EQUAL(bad.code, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(bad.msg, "unreadable grpc-status"));
	CU_ASSERT_EQUAL(ej_map_grpc(14, "etcdserver: no leader"), SH_E_UNAVAILABLE);
	CU_ASSERT_EQUAL(ej_map_grpc(5, "etcdserver: requested lease not found"), SH_E_LEASE_LOST);
	CU_ASSERT_EQUAL(ej_map_grpc(11, "etcdserver: mvcc: required revision has been compacted"), SH_E_COMPACTED);
	CU_ASSERT_EQUAL(ej_map_grpc(3, "etcdserver: invalid auth token"), SH_E_AUTH);
}

/* ---- protobuf -> etcd.h ---- */

static void test_decode_pb(void)
{
	Mvccpb__KeyValue kv1 = MVCCPB__KEY_VALUE__INIT, kv2 = MVCCPB__KEY_VALUE__INIT;
	kv1.key = (ProtobufCBinaryData){3, (uint8_t *)"foo"};
	kv1.value = (ProtobufCBinaryData){4, (uint8_t *)"b\0ar"};
	kv1.create_revision = 7;
	kv1.mod_revision = INT64_C(9007199254740993);
	kv1.lease = INT64_C(0x694d7a1b2c3d4e5f);
	kv2.key = (ProtobufCBinaryData){1, (uint8_t *)"z"};
	Mvccpb__KeyValue *kvs[] = {&kv1, &kv2};
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	h.revision = 42;
	Etcdserverpb__RangeResponse rr = ETCDSERVERPB__RANGE_RESPONSE__INIT;
	rr.header = &h;
	rr.kvs = kvs;
	rr.n_kvs = 2;
	rr.count = 5;
	rr.more = 1;
	etcd_range_result r;
	CU_ASSERT_EQUAL_FATAL(ep_decode_range(&rr, &r), 0);
	CU_ASSERT_EQUAL(r.n, 2);
	CU_ASSERT_EQUAL(r.revision, 42);
	CU_ASSERT_EQUAL(r.count, 5);
	CU_ASSERT_EQUAL(r.more, 1);
	CU_ASSERT_STRING_EQUAL(r.kvs[0].key, "foo");
	CU_ASSERT_EQUAL(r.kvs[0].value_len, 4);
	CU_ASSERT_EQUAL(memcmp(r.kvs[0].value, "b\0ar", 4), 0);
	CU_ASSERT_EQUAL(r.kvs[0].mod_revision, INT64_C(9007199254740993));
	CU_ASSERT_EQUAL(r.kvs[0].lease, INT64_C(0x694d7a1b2c3d4e5f));
	CU_ASSERT_STRING_EQUAL(r.kvs[1].value, ""); /* absent value: "" */
	etcd_range_result_free(&r);

	/* txn: a put with prev_kv, a delete with prev_kvs, a range */
	Etcdserverpb__PutResponse pr = ETCDSERVERPB__PUT_RESPONSE__INIT;
	pr.prev_kv = &kv1;
	Etcdserverpb__DeleteRangeResponse dr = ETCDSERVERPB__DELETE_RANGE_RESPONSE__INIT;
	dr.deleted = 2;
	dr.prev_kvs = kvs;
	dr.n_prev_kvs = 2;
	Etcdserverpb__ResponseOp o1 = ETCDSERVERPB__RESPONSE_OP__INIT, o2 = ETCDSERVERPB__RESPONSE_OP__INIT,
				 o3 = ETCDSERVERPB__RESPONSE_OP__INIT, o4 = ETCDSERVERPB__RESPONSE_OP__INIT;
	o1.response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT;
	o1.response_put = &pr;
	o2.response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE;
	o2.response_delete_range = &dr;
	o3.response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE;
	o3.response_range = &rr;
	Etcdserverpb__ResponseOp *ops[] = {&o1, &o2, &o3, &o4};
	Etcdserverpb__TxnResponse tr = ETCDSERVERPB__TXN_RESPONSE__INIT;
	tr.header = &h;
	tr.succeeded = 1;
	tr.responses = ops;
	tr.n_responses = 3;
	etcd_txn_result t;
	CU_ASSERT_EQUAL_FATAL(ep_decode_txn(&tr, &t), 0);
	CU_ASSERT_EQUAL(t.succeeded, 1);
	CU_ASSERT_EQUAL(t.n, 3);
	CU_ASSERT_EQUAL(t.responses[0].kind, ETCD_OP_PUT);
	CU_ASSERT_EQUAL(t.responses[0].range.n, 1);
	CU_ASSERT_EQUAL(t.responses[1].kind, ETCD_OP_DELETE);
	CU_ASSERT_EQUAL(t.responses[1].deleted, 2);
	CU_ASSERT_EQUAL(t.responses[1].range.n, 2);
	CU_ASSERT_EQUAL(t.responses[2].kind, ETCD_OP_RANGE);
	CU_ASSERT_EQUAL(t.responses[2].range.n, 2);
	etcd_txn_result_free(&t);
	/* a response op with no case set is malformed, and nothing leaks */
	tr.n_responses = 4;
	CU_ASSERT_EQUAL(ep_decode_txn(&tr, &t), -1);
	CU_ASSERT_EQUAL(t.n, 0);

	/* watch: put with prev_kv, delete; an event without kv is malformed */
	Mvccpb__Event e1 = MVCCPB__EVENT__INIT, e2 = MVCCPB__EVENT__INIT, e3 = MVCCPB__EVENT__INIT;
	e1.kv = &kv1;
	e1.prev_kv = &kv2;
	e2.type = MVCCPB__EVENT__EVENT_TYPE__DELETE;
	e2.kv = &kv2;
	Mvccpb__Event *evs[] = {&e1, &e2, &e3};
	Etcdserverpb__WatchResponse wr = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	wr.header = &h;
	wr.events = evs;
	wr.n_events = 2;
	wr.created = 1;
	etcd_watch_batch b;
	int created, canceled;
	CU_ASSERT_EQUAL_FATAL(ep_decode_watch(&wr, &b, &created, &canceled), 0);
	CU_ASSERT_EQUAL(created, 1);
	CU_ASSERT_EQUAL(canceled, 0);
	CU_ASSERT_EQUAL(b.n, 2);
	CU_ASSERT_EQUAL(b.events[0].type, ETCD_EV_PUT);
	CU_ASSERT_EQUAL(b.events[0].has_prev, 1);
	CU_ASSERT_STRING_EQUAL(b.events[0].prev_kv.key, "z");
	CU_ASSERT_EQUAL(b.events[1].type, ETCD_EV_DELETE);
	etcd_watch_batch_free(&b);
	wr.n_events = 3;
	CU_ASSERT_EQUAL(ep_decode_watch(&wr, &b, &created, &canceled), -1);
	CU_ASSERT_EQUAL(b.n, 0);
}

/* ---- a scripted h2c responder ---- */

/* Raw HTTP/2 server bytes: frames with HPACK literal headers (no indexing, no Huffman). */
struct h2 {
	char b[8192];
	size_t n;
};

static void h2_frame(struct h2 *h, int type, int flags, const void *p, size_t len)
{
	unsigned char hdr[9] = {(unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len,
				(unsigned char)type, (unsigned char)flags, 0, 0, 0, (unsigned char)(type == 4 ? 0 : 1)};
	CU_ASSERT_FATAL(h->n + 9 + len <= sizeof(h->b));
	memcpy(h->b + h->n, hdr, 9);
	if (len)
		memcpy(h->b + h->n + 9, p, len);
	h->n += 9 + len;
}

/* HEADERS on stream 1 from NULL-terminated name/value pairs. */
static void h2_headers(struct h2 *h, int end_stream, const char *const *nv)
{
	char p[1024];
	size_t n = 0;
	for (; nv[0]; nv += 2) {
		size_t nl = strlen(nv[0]), vl = strlen(nv[1]);
		CU_ASSERT_FATAL(nl < 127 && vl < 127 && n + 3 + nl + vl <= sizeof(p));
		p[n++] = 0;
		p[n++] = (char)nl;
		memcpy(p + n, nv[0], nl);
		n += nl;
		p[n++] = (char)vl;
		memcpy(p + n, nv[1], vl);
		n += vl;
	}
	h2_frame(h, 1, 0x4 | (end_stream ? 0x1 : 0), p, n);
}

static void h2_start(struct h2 *h, const char *status)
{
	h->n = 0;
	h2_frame(h, 4, 0, NULL, 0); /* server SETTINGS */
	const char *nv[] = {":status", status, "content-type", "application/grpc", NULL};
	h2_headers(h, 0, nv);
}

static void h2_msg(struct h2 *h, const ProtobufCMessage *m)
{
	uint8_t *f;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(eg_frame(m, &f, &n), 0);
	h2_frame(h, 0, 0, f, n);
	free(f);
}

static void h2_trailers(struct h2 *h, const char *code, const char *msg)
{
	const char *nv[] = {"grpc-status", code, "grpc-message", msg, NULL};
	h2_headers(h, 1, nv);
}

static etcd_client *grpc_client(int port, long timeout_ms, size_t max_response)
{
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
	etcd_config cfg = {.endpoints = ep, .timeout_ms = timeout_ms, .max_response = max_response,
			   .transport = ETCD_TRANSPORT_GRPC};
	etcd_client *c = NULL;
	CU_ASSERT_EQUAL_FATAL(etcd_client_new(&cfg, &c, NULL, 0), SH_OK);
	return c;
}

static sh_err range_against(const struct h2 *h, char *msg, size_t msglen, size_t max_response, long timeout)
{
	const char *replies[] = {h ? h->b : NULL};
	size_t lens[] = {h ? h->n : 0};
	tresp *r = tresp_start_bin(replies, lens, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	etcd_client *c = grpc_client(tresp_port(r), timeout, max_response);
	etcd_range_result res;
	sh_err e = etcd_range(c, "k", NULL, &res);
	if (e == SH_OK)
		etcd_range_result_free(&res);
	snprintf(msg, msglen, "%s", etcd_errmsg(c));
	etcd_client_free(c);
	tresp_stop(r);
	return e;
}

static void test_scripted_range_ok(void)
{
	static struct h2 h;
	Mvccpb__KeyValue kv = MVCCPB__KEY_VALUE__INIT;
	kv.key = (ProtobufCBinaryData){1, (uint8_t *)"k"};
	kv.value = (ProtobufCBinaryData){1, (uint8_t *)"v"};
	Mvccpb__KeyValue *kvs[] = {&kv};
	Etcdserverpb__RangeResponse rr = ETCDSERVERPB__RANGE_RESPONSE__INIT;
	rr.kvs = kvs;
	rr.n_kvs = 1;
	h2_start(&h, "200");
	h2_msg(&h, (ProtobufCMessage *)&rr);
	h2_trailers(&h, "0", "");
	const char *replies[] = {h.b};
	size_t lens[] = {h.n};
	tresp *r = tresp_start_bin(replies, lens, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	etcd_client *c = grpc_client(tresp_port(r), 2000, 0);
	etcd_kv got;
	sh_err ge = etcd_get(c, "k", &got, NULL);
	if (ge)
		fprintf(stderr, "get: %s\n", etcd_errmsg(c));
	CU_ASSERT_EQUAL(ge, SH_OK);
	if (got.value)
		CU_ASSERT_STRING_EQUAL(got.value, "v");
	etcd_kv_free(&got);
	/* the request: HTTP/2 prior knowledge to the KV service's Range method */
	CU_ASSERT_EQUAL(strncmp(tresp_last_request(r), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24), 0);
	etcd_client_free(c);
	tresp_stop(r);
}

static void test_scripted_errors(void)
{
	static struct h2 h;
	char msg[512];
	Etcdserverpb__RangeResponse rr = ETCDSERVERPB__RANGE_RESPONSE__INIT;

	/* an HTTP error without gRPC status */
	h.n = 0;
	h2_frame(&h, 4, 0, NULL, 0);
	const char *nv502[] = {":status", "502", NULL};
	h2_headers(&h, 1, nv502);
	CU_ASSERT_EQUAL(range_against(&h, msg, sizeof(msg), 0, 2000), SH_E_HTTP);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "answered /v3/kv/range with HTTP 502"));

	/* trailers-only refusal, percent-encoded message */
	h.n = 0;
	h2_frame(&h, 4, 0, NULL, 0);
	const char *nv7[] = {":status", "200", "content-type", "application/grpc", "grpc-status", "7",
			     "grpc-message", "etcdserver:%20permission%20denied", NULL};
	h2_headers(&h, 1, nv7);
	CU_ASSERT_EQUAL(range_against(&h, msg, sizeof(msg), 0, 2000), SH_E_AUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "refused /v3/kv/range: etcdserver: permission denied (grpc code 7)"));

	/* not a RangeResponse */
	h2_start(&h, "200");
	const char junk[] = {0, 0, 0, 0, 3, 0x0a, (char)0xff, (char)0xff};
	h2_frame(&h, 0, 0, junk, sizeof(junk));
	h2_trailers(&h, "0", "");
	CU_ASSERT_EQUAL(range_against(&h, msg, sizeof(msg), 0, 2000), SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "malformed answer from etcd at 'http://127.0.0.1:"));
	if (!strstr(msg, "for /v3/kv/range: invalid protobuf"))
		fprintf(stderr, "junk: %s\n", msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "for /v3/kv/range: invalid protobuf"));

	/* a frame that promises 100 bytes and brings 3, then a clean end */
	h2_start(&h, "200");
	const char part[] = {0, 0, 0, 0, 100, 0x08, 0x01, 0x10};
	h2_frame(&h, 0, 0, part, sizeof(part));
	h2_trailers(&h, "0", "");
	CU_ASSERT_EQUAL(range_against(&h, msg, sizeof(msg), 0, 2000), SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "truncated message"));

	/* compressed flag (we offered no compression) */
	h2_start(&h, "200");
	const char comp[] = {1, 0, 0, 0, 0};
	h2_frame(&h, 0, 0, comp, sizeof(comp));
	h2_trailers(&h, "0", "");
	CU_ASSERT_EQUAL(range_against(&h, msg, sizeof(msg), 0, 2000), SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "compressed"));

	/* a message, then no status at all: the stream ended without trailers */
	h2_start(&h, "200");
	h2_msg(&h, (ProtobufCMessage *)&rr);
	h2_frame(&h, 0, 1, NULL, 0); /* END_STREAM on an empty DATA frame */
	CU_ASSERT_EQUAL(range_against(&h, msg, sizeof(msg), 0, 2000), SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no grpc-status"));

	/* cut off mid-stream: the connection closes with the stream open */
	h2_start(&h, "200");
	h2_frame(&h, 0, 0, part, sizeof(part));
	sh_err e = range_against(&h, msg, sizeof(msg), 0, 2000);
	CU_ASSERT(e == SH_E_IO || e == SH_E_UNREACHABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "etcd at 'http://127.0.0.1:"));

	/* larger than the response limit */
	static char pad[2000];
	memset(pad, 'a', sizeof(pad));
	Mvccpb__KeyValue big = MVCCPB__KEY_VALUE__INIT;
	big.key = (ProtobufCBinaryData){1, (uint8_t *)"k"};
	big.value = (ProtobufCBinaryData){sizeof(pad), (uint8_t *)pad};
	Mvccpb__KeyValue *bigs[] = {&big};
	rr.kvs = bigs;
	rr.n_kvs = 1;
	h2_start(&h, "200");
	h2_msg(&h, (ProtobufCMessage *)&rr);
	h2_trailers(&h, "0", "");
	CU_ASSERT_EQUAL(range_against(&h, msg, sizeof(msg), 1024, 2000), SH_E_TOO_LARGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "exceeds 1024 bytes"));

	/* no answer at all */
	int64_t t0 = sh_mono_ns();
	CU_ASSERT_EQUAL(range_against(NULL, msg, sizeof(msg), 0, 300), SH_E_TIMEOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "did not answer within 300 ms"));
	CU_ASSERT((sh_mono_ns() - t0) / SH_NS_PER_MS < 2000);
}

/* One keepalive against a responder that answers h (NULL: never); the stream stays open as etcd's does. */
static sh_err keepalive_against(const struct h2 *h, char *msg, size_t msglen)
{
	const char *replies[] = {h ? h->b : NULL};
	size_t lens[] = {h ? h->n : 0};
	tresp *r = tresp_start_bin(replies, lens, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	etcd_client *c = grpc_client(tresp_port(r), 1000, 0);
	int64_t ttl = 0;
	sh_err e = etcd_lease_keepalive(c, 0x42, &ttl);
	snprintf(msg, msglen, "%s", etcd_errmsg(c));
	etcd_client_free(c);
	tresp_stop(r);
	return e;
}

static void test_scripted_keepalive(void)
{
	static struct h2 h;
	char msg[512];
	/* lease gone: etcd answers TTL 0 on the stream */
	Etcdserverpb__LeaseKeepAliveResponse kr = ETCDSERVERPB__LEASE_KEEP_ALIVE_RESPONSE__INIT;
	kr.id = 0x42;
	h2_start(&h, "200");
	h2_msg(&h, (ProtobufCMessage *)&kr);
	CU_ASSERT_EQUAL(keepalive_against(&h, msg, sizeof(msg)), SH_E_LEASE_LOST);
	CU_ASSERT_STRING_EQUAL(msg, "lease 42 expired or was revoked");
	/* a malformed message on the stream */
	h2_start(&h, "200");
	const char junk[] = {0, 0, 0, 0, 2, 0x10, (char)0xff};
	h2_frame(&h, 0, 0, junk, sizeof(junk));
	CU_ASSERT_EQUAL(keepalive_against(&h, msg, sizeof(msg)), SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "for /v3/lease/keepalive: invalid protobuf"));
	/* refused at once (trailers-only): no leader */
	h.n = 0;
	h2_frame(&h, 4, 0, NULL, 0);
	const char *nv[] = {":status", "200", "content-type", "application/grpc", "grpc-status", "14",
			    "grpc-message", "etcdserver: no leader", NULL};
	h2_headers(&h, 1, nv);
	CU_ASSERT_EQUAL(keepalive_against(&h, msg, sizeof(msg)), SH_E_UNAVAILABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "refused /v3/lease/keepalive: etcdserver: no leader (grpc code 14)"));
	/* no answer: the keepalive's own timeout */
	CU_ASSERT_EQUAL(keepalive_against(NULL, msg, sizeof(msg)), SH_E_TIMEOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "did not answer within 1000 ms"));
}

static void test_scripted_watch(void)
{
	/* stream 1: created, one event at 5, then a truncated message and the connection closes;
	 * stream 2: must resume after 5 and gets the event at 6, then ends cleanly;
	 * stream 3: canceled, compacted up to 8 */
	static struct h2 s1, s2, s3;
	Etcdserverpb__ResponseHeader hd = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__WatchResponse wr = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	Mvccpb__KeyValue kv = MVCCPB__KEY_VALUE__INIT;
	Mvccpb__Event ev = MVCCPB__EVENT__INIT;
	Mvccpb__Event *evs[] = {&ev};
	ev.kv = &kv;
	wr.header = &hd;

	h2_start(&s1, "200");
	hd.revision = 4;
	wr.created = 1;
	h2_msg(&s1, (ProtobufCMessage *)&wr);
	wr.created = 0;
	hd.revision = 5;
	kv.key = (ProtobufCBinaryData){1, (uint8_t *)"a"};
	kv.mod_revision = 5;
	wr.events = evs;
	wr.n_events = 1;
	h2_msg(&s1, (ProtobufCMessage *)&wr);
	const char part[] = {0, 0, 0, 0, 40, 0x0a};
	h2_frame(&s1, 0, 0, part, sizeof(part));

	h2_start(&s2, "200");
	hd.revision = 6;
	wr.created = 1;
	wr.n_events = 0;
	h2_msg(&s2, (ProtobufCMessage *)&wr);
	wr.created = 0;
	kv.key = (ProtobufCBinaryData){1, (uint8_t *)"b"};
	kv.mod_revision = 6;
	wr.n_events = 1;
	h2_msg(&s2, (ProtobufCMessage *)&wr);
	h2_trailers(&s2, "0", "");

	h2_start(&s3, "200");
	hd.revision = 9;
	wr.n_events = 0;
	wr.canceled = 1;
	wr.compact_revision = 8;
	h2_msg(&s3, (ProtobufCMessage *)&wr);
	h2_trailers(&s3, "0", "");

	const char *replies[] = {s1.b, s2.b, s3.b};
	size_t lens[] = {s1.n, s2.n, s3.n};
	tresp *r = tresp_start_bin(replies, lens, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	etcd_client *c = grpc_client(tresp_port(r), 2000, 0);
	etcd_watch *w;
	etcd_watch_opts o = {.prefix = 1, .start_revision = 5};
	CU_ASSERT_EQUAL_FATAL(etcd_watch_open(c, "", &o, &w), SH_OK);
	etcd_watch_batch b;
	CU_ASSERT_EQUAL(etcd_watch_next(w, &b, 3000), SH_OK);
	CU_ASSERT_EQUAL(b.n, 1);
	if (b.n)
		CU_ASSERT_STRING_EQUAL(b.events[0].kv.key, "a");
	etcd_watch_batch_free(&b);
	CU_ASSERT_EQUAL(etcd_watch_next_revision(w), 6);
	CU_ASSERT_EQUAL(etcd_watch_next(w, &b, 3000), SH_OK);
	CU_ASSERT_EQUAL(b.n, 1);
	if (b.n)
		CU_ASSERT_STRING_EQUAL(b.events[0].kv.key, "b");
	etcd_watch_batch_free(&b);
	CU_ASSERT_EQUAL(etcd_watch_reconnects(w), 1);
	CU_ASSERT_EQUAL(etcd_watch_next(w, &b, 3000), SH_E_COMPACTED);
	CU_ASSERT_EQUAL(b.compact_revision, 8);
	CU_ASSERT_PTR_NOT_NULL(strstr(etcd_watch_errmsg(w), "compacted up to 8"));
	etcd_watch_close(w);
	etcd_client_free(c);
	tresp_stop(r);
}

static void test_watch_request_encoding(void)
{
	etcd_watch_opts o = {.prefix = 1, .prev_kv = 1, .progress_notify = 1, .filter_nodelete = 1};
	uint8_t *f;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(ep_watch_request("/p/", &o, 17, &f, &n), 0);
	Etcdserverpb__WatchRequest *wr = etcdserverpb__watch_request__unpack(NULL, n - EG_FRAME_HDR, f + EG_FRAME_HDR);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wr);
	CU_ASSERT_EQUAL_FATAL(wr->request_union_case, ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST);
	Etcdserverpb__WatchCreateRequest *cr = wr->create_request;
	CU_ASSERT_EQUAL(cr->key.len, 3);
	CU_ASSERT_EQUAL(memcmp(cr->range_end.data, "/p0", 3), 0);
	CU_ASSERT_EQUAL(cr->start_revision, 17);
	CU_ASSERT_EQUAL(cr->prev_kv, 1);
	CU_ASSERT_EQUAL(cr->progress_notify, 1);
	CU_ASSERT_EQUAL(cr->n_filters, 1);
	CU_ASSERT_EQUAL(cr->filters[0], ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE);
	etcdserverpb__watch_request__free_unpacked(wr, NULL);
	free(f);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"frame_roundtrip", test_frame_roundtrip},
		{"deframe_malformed", test_deframe_malformed},
		{"status_lines", test_status_lines},
		{"decode_pb", test_decode_pb},
		{"watch_request_encoding", test_watch_request_encoding},
		{"scripted_range_ok", test_scripted_range_ok},
		{"scripted_errors", test_scripted_errors},
		{"scripted_keepalive", test_scripted_keepalive},
		{"scripted_watch", test_scripted_watch},
		{NULL, NULL},
	};
	return t_run("etcd_grpc", cases, argc, argv);
}
