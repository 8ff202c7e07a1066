/* SPDX-License-Identifier: MIT */
/* test_etcd_wire.c - unit tests of the etcd client's encoding, decoding and error paths (no etcd) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"
#include "tmain.h"
#include "tsupport.h"

static cJSON *J(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	return j;
}

static void test_decode_kv_int64_strings(void)
{
	/* "foo" = Zm9v, "bar" = YmFy; int64 as strings, lease above 2^53 */
	cJSON *j = J("{\"key\":\"Zm9v\",\"value\":\"YmFy\",\"create_revision\":\"5\","
		     "\"mod_revision\":\"7\",\"version\":\"3\",\"lease\":\"7587869184419053611\"}");
	etcd_kv kv;
	CU_ASSERT_EQUAL(ej_decode_kv(j, &kv), 0);
	CU_ASSERT_STRING_EQUAL(kv.key, "foo");
	CU_ASSERT_STRING_EQUAL(kv.value, "bar");
	CU_ASSERT_EQUAL(kv.create_revision, 5);
	CU_ASSERT_EQUAL(kv.mod_revision, 7);
	CU_ASSERT_EQUAL(kv.version, 3);
	CU_ASSERT_EQUAL(kv.lease, INT64_C(7587869184419053611));
	etcd_kv_free(&kv);
	cJSON_Delete(j);
}

static void test_decode_kv_zero_values_omitted(void)
{
	cJSON *j = J("{\"key\":\"Zm9v\",\"create_revision\":\"5\",\"mod_revision\":\"5\",\"version\":\"1\"}");
	etcd_kv kv;
	CU_ASSERT_EQUAL(ej_decode_kv(j, &kv), 0);
	CU_ASSERT_EQUAL(kv.value_len, 0);
	CU_ASSERT_STRING_EQUAL(kv.value, "");
	CU_ASSERT_EQUAL(kv.lease, 0);
	etcd_kv_free(&kv);
	cJSON_Delete(j);
}

static void test_decode_kv_malformed(void)
{
	const char *bad[] = {
		"{\"key\":\"Zm9v!!\"}",
		"{\"key\":5}",
		"{\"key\":\"Zm9v\",\"version\":\"x1\"}",
		"{\"key\":\"Zm9v\",\"version\":[1]}",
		"[1,2]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cJSON *j = J(bad[i]);
		etcd_kv kv;
		CU_ASSERT_EQUAL(ej_decode_kv(j, &kv), -1);
		cJSON_Delete(j);
	}
}

static void test_uint64_ids(void)
{
	cJSON *j = J("{\"leader\":\"17390862719018254413\",\"bad\":\"-1\"}");
	uint64_t v;
	CU_ASSERT_EQUAL(ej_u64(j, "leader", &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_C(17390862719018254413));
	CU_ASSERT_EQUAL(ej_u64(j, "bad", &v), -1);
	int64_t i;
	CU_ASSERT_EQUAL(ej_i64(j, "leader", &i), -1); /* does not fit: never silently wrong */
	cJSON_Delete(j);
}

static void test_decode_range(void)
{
	cJSON *j = J("{\"header\":{\"revision\":\"42\"},\"kvs\":[{\"key\":\"YQ==\",\"value\":\"MQ==\"},"
		     "{\"key\":\"Yg==\",\"value\":\"Mg==\"}],\"count\":\"3\",\"more\":true}");
	etcd_range_result r;
	CU_ASSERT_EQUAL(ej_decode_range(j, &r), 0);
	CU_ASSERT_EQUAL(r.revision, 42);
	CU_ASSERT_EQUAL(r.n, 2);
	CU_ASSERT_EQUAL(r.count, 3);
	CU_ASSERT_TRUE(r.more);
	CU_ASSERT_STRING_EQUAL(r.kvs[1].key, "b");
	CU_ASSERT_STRING_EQUAL(r.kvs[1].value, "2");
	etcd_range_result_free(&r);
	cJSON_Delete(j);
	/* empty range: kvs and count omitted */
	j = J("{\"header\":{\"revision\":\"1\"}}");
	CU_ASSERT_EQUAL(ej_decode_range(j, &r), 0);
	CU_ASSERT_EQUAL(r.n, 0);
	CU_ASSERT_EQUAL(r.count, 0);
	cJSON_Delete(j);
	/* kvs not an array */
	j = J("{\"kvs\":{}}");
	CU_ASSERT_EQUAL(ej_decode_range(j, &r), -1);
	cJSON_Delete(j);
	/* one bad kv frees the rest */
	j = J("{\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"%%%\"}]}");
	CU_ASSERT_EQUAL(ej_decode_range(j, &r), -1);
	CU_ASSERT_PTR_NULL(r.kvs);
	cJSON_Delete(j);
}

static void test_decode_txn(void)
{
	/* succeeded:false is omitted */
	cJSON *j = J("{\"header\":{\"revision\":\"9\"},\"responses\":[{\"response_range\":{\"kvs\":"
		     "[{\"key\":\"YQ==\",\"create_revision\":\"4\"}],\"count\":\"1\"}}]}");
	etcd_txn_result r;
	CU_ASSERT_EQUAL(ej_decode_txn(j, &r), 0);
	CU_ASSERT_FALSE(r.succeeded);
	CU_ASSERT_EQUAL(r.n, 1);
	CU_ASSERT_EQUAL(r.responses[0].kind, ETCD_OP_RANGE);
	CU_ASSERT_EQUAL(r.responses[0].range.kvs[0].create_revision, 4);
	etcd_txn_result_free(&r);
	cJSON_Delete(j);
	j = J("{\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":{}}},"
	      "{\"response_delete_range\":{\"deleted\":\"2\"}}]}");
	CU_ASSERT_EQUAL(ej_decode_txn(j, &r), 0);
	CU_ASSERT_TRUE(r.succeeded);
	CU_ASSERT_EQUAL(r.responses[0].kind, ETCD_OP_PUT);
	CU_ASSERT_EQUAL(r.responses[1].kind, ETCD_OP_DELETE);
	CU_ASSERT_EQUAL(r.responses[1].deleted, 2);
	etcd_txn_result_free(&r);
	cJSON_Delete(j);
	j = J("{\"responses\":[{\"response_unknown\":{}}]}");
	CU_ASSERT_EQUAL(ej_decode_txn(j, &r), -1);
	cJSON_Delete(j);
}

static void test_decode_watch(void)
{
	/* PUT has no type; DELETE does; prev_kv present */
	cJSON *j = J("{\"header\":{\"revision\":\"12\"},\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"11\"}},"
		     "{\"type\":\"DELETE\",\"kv\":{\"key\":\"Yg==\",\"mod_revision\":\"12\"},"
		     "\"prev_kv\":{\"key\":\"Yg==\",\"value\":\"eA==\"}}]}");
	etcd_watch_batch b;
	int created, canceled;
	CU_ASSERT_EQUAL(ej_decode_watch(j, &b, &created, &canceled), 0);
	CU_ASSERT_FALSE(created);
	CU_ASSERT_FALSE(canceled);
	CU_ASSERT_EQUAL(b.n, 2);
	CU_ASSERT_EQUAL(b.events[0].type, ETCD_EV_PUT);
	CU_ASSERT_EQUAL(b.events[1].type, ETCD_EV_DELETE);
	CU_ASSERT_TRUE(b.events[1].has_prev);
	CU_ASSERT_STRING_EQUAL(b.events[1].prev_kv.value, "x");
	CU_ASSERT_EQUAL(b.revision, 12);
	etcd_watch_batch_free(&b);
	cJSON_Delete(j);
	j = J("{\"header\":{\"revision\":\"20\"},\"canceled\":true,\"compact_revision\":\"15\"}");
	CU_ASSERT_EQUAL(ej_decode_watch(j, &b, &created, &canceled), 0);
	CU_ASSERT_TRUE(canceled);
	CU_ASSERT_EQUAL(b.compact_revision, 15);
	cJSON_Delete(j);
	j = J("{\"events\":[{\"type\":\"BOGUS\",\"kv\":{}}]}");
	CU_ASSERT_EQUAL(ej_decode_watch(j, &b, &created, &canceled), -1);
	cJSON_Delete(j);
}

static void test_grpc_error_shapes(void)
{
	int code;
	const char *msg;
	cJSON *j = J("{\"error\":\"etcdserver: mvcc: required revision has been compacted\",\"code\":11,"
		     "\"message\":\"etcdserver: mvcc: required revision has been compacted\"}");
	CU_ASSERT_EQUAL(ej_grpc_error(j, &code, &msg), 1);
	CU_ASSERT_EQUAL(code, 11);
	CU_ASSERT_EQUAL(ej_map_grpc(code, msg), SH_E_COMPACTED);
	cJSON_Delete(j);
	j = J("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\"}}");
	CU_ASSERT_EQUAL(ej_grpc_error(j, &code, &msg), 1);
	CU_ASSERT_EQUAL(ej_map_grpc(code, msg), SH_E_UNAVAILABLE);
	cJSON_Delete(j);
	j = J("{\"code\":3,\"message\":\"etcdserver: authentication failed, invalid user ID or password\"}");
	CU_ASSERT_EQUAL(ej_grpc_error(j, &code, &msg), 1);
	CU_ASSERT_EQUAL(ej_map_grpc(code, msg), SH_E_AUTH);
	cJSON_Delete(j);
	j = J("{\"header\":{\"revision\":\"3\"},\"ID\":\"5\",\"TTL\":\"10\"}");
	CU_ASSERT_EQUAL(ej_grpc_error(j, &code, &msg), 0);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(ej_map_grpc(3, "etcdserver: request is too large"), SH_E_TOO_LARGE);
	CU_ASSERT_EQUAL(ej_map_grpc(8, "grpc: received message larger than max (2097163 vs. 2097152)"), SH_E_TOO_LARGE);
	CU_ASSERT_EQUAL(ej_map_grpc(5, "etcdserver: requested lease not found"), SH_E_LEASE_LOST);
}

static void test_requests(void)
{
	etcd_range_opts o = {.prefix = 1, .limit = 10, .sort_order = ETCD_SORT_DESCEND,
			     .sort_target = ETCD_SORT_CREATE, .keys_only = 1};
	cJSON *r = ej_range_request("ab", &o);
	char *s = cJSON_PrintUnformatted(r);
	/* "ab" = YWI=, prefix end "ac" = YWM= */
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"key\":\"YWI=\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"range_end\":\"YWM=\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"limit\":\"10\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"sort_order\":\"DESCEND\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"sort_target\":\"CREATE\""));
	free(s);
	cJSON_Delete(r);
	/* empty prefix: every key, key "\0" and range_end "\0" */
	o = (etcd_range_opts){.prefix = 1};
	r = ej_range_request("", &o);
	s = cJSON_PrintUnformatted(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"key\":\"AA==\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"range_end\":\"AA==\""));
	free(s);
	cJSON_Delete(r);
	etcd_cmp cmp = {.key = "k", .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQUAL, .num = 0};
	etcd_op put = {.kind = ETCD_OP_PUT, .key = "k", .value = "v", .value_len = 1, .lease = 255};
	etcd_op get = {.kind = ETCD_OP_RANGE, .key = "k"};
	r = ej_txn_request(&cmp, 1, &put, 1, &get, 1);
	s = cJSON_PrintUnformatted(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"target\":\"CREATE\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"create_revision\":\"0\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"request_put\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"lease\":\"255\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"failure\":[{\"request_range\""));
	free(s);
	cJSON_Delete(r);
	etcd_cmp badcmp = {.key = "k", .target = (enum etcd_cmp_target)9};
	CU_ASSERT_PTR_NULL(ej_txn_request(&badcmp, 1, NULL, 0, NULL, 0));
	etcd_watch_opts wo = {.prefix = 1, .prev_kv = 1, .progress_notify = 1};
	r = ej_watch_request("/a/", &wo, 77);
	s = cJSON_PrintUnformatted(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"create_request\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"start_revision\":\"77\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"progress_notify\":true"));
	free(s);
	cJSON_Delete(r);
}

static void test_prefix_end(void)
{
	size_t n;
	char *e = etcd_prefix_end("abc", 3, &n);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(e, "abd");
	free(e);
	e = etcd_prefix_end("a\xff", 2, &n);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_STRING_EQUAL(e, "b");
	free(e);
	e = etcd_prefix_end("\xff\xff", 2, &n);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(e[0], '\0');
	free(e);
}

/* ---- error paths against a scripted local responder ---- */

static etcd_client *client_for(const char *endpoints, long timeout_ms, size_t max_response)
{
	/* these scripted answers are the JSON gateway's (test_etcd_grpc.c has gRPC's) */
	etcd_config cfg = {.endpoints = endpoints, .timeout_ms = timeout_ms, .max_response = max_response,
			   .transport = ETCD_TRANSPORT_GATEWAY};
	etcd_client *c = NULL;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(etcd_client_new(&cfg, &c, err, sizeof(err)), SH_OK);
	return c;
}

#define OK_HDR "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"

static sh_err range_against(const char *reply, char *msg, size_t msglen, size_t max_response, long timeout)
{
	const char *replies[] = {reply};
	tresp *r = tresp_start(replies, 1);
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", tresp_port(r));
	etcd_client *c = client_for(ep, timeout, max_response);
	etcd_range_result res;
	sh_err e = etcd_range(c, "k", NULL, &res);
	if (e == SH_OK)
		etcd_range_result_free(&res);
	snprintf(msg, msglen, "%s", etcd_errmsg(c));
	etcd_client_free(c);
	tresp_stop(r);
	return e;
}

static void test_unreachable(void)
{
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", t_free_port());
	etcd_client *c = client_for(ep, 1000, 0);
	etcd_range_result res;
	CU_ASSERT_EQUAL(etcd_range(c, "k", NULL, &res), SH_E_UNREACHABLE);
	char want[128];
	snprintf(want, sizeof(want), "cannot reach etcd at '%s': connection refused", ep);
	CU_ASSERT_STRING_EQUAL(etcd_errmsg(c), want);
	etcd_client_free(c);
}

static void test_http_error(void)
{
	char msg[512];
	sh_err e = range_against("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 7\r\nConnection: close\r\n\r\nupstrm!",
				 msg, sizeof(msg), 0, 2000);
	CU_ASSERT_EQUAL(e, SH_E_HTTP);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "HTTP 502"));
}

static void test_malformed_json(void)
{
	char msg[512];
	sh_err e = range_against(OK_HDR "Content-Length: 9\r\n\r\n{\"kvs\":[1", msg, sizeof(msg), 0, 2000);
	CU_ASSERT_EQUAL(e, SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "malformed JSON"));
	e = range_against(OK_HDR "Content-Length: 10\r\n\r\nnot json!!", msg, sizeof(msg), 0, 2000);
	CU_ASSERT_EQUAL(e, SH_E_PROTO);
	/* valid JSON, wrong shape */
	e = range_against(OK_HDR "Content-Length: 12\r\n\r\n{\"kvs\":\"x\"}\n", msg, sizeof(msg), 0, 2000);
	CU_ASSERT_EQUAL(e, SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "malformed range"));
}

static void test_truncated_body(void)
{
	char msg[512];
	/* promises 100 bytes, sends 20, closes */
	sh_err e = range_against(OK_HDR "Content-Length: 100\r\n\r\n{\"header\":{\"revisi", msg, sizeof(msg), 0,
				 2000);
	CU_ASSERT_NOT_EQUAL(e, SH_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "etcd at 'http://127.0.0.1:"));
}

static void test_grpc_error_body(void)
{
	char msg[512];
	const char *body = "{\"error\":\"etcdserver: permission denied\",\"code\":7,\"message\":\"etcdserver: permission denied\"}";
	char reply[512];
	snprintf(reply, sizeof(reply),
		 "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		 strlen(body), body);
	sh_err e = range_against(reply, msg, sizeof(msg), 0, 2000);
	CU_ASSERT_EQUAL(e, SH_E_AUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "permission denied"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "/v3/kv/range"));
}

static void test_oversized_response(void)
{
	char msg[512];
	char reply[4096];
	char pad[2001];
	memset(pad, 'a', 2000);
	pad[2000] = '\0';
	snprintf(reply, sizeof(reply), OK_HDR "Content-Length: %d\r\n\r\n{\"x\":\"%s\"}", 2008, pad);
	sh_err e = range_against(reply, msg, sizeof(msg), 1024, 2000);
	CU_ASSERT_EQUAL(e, SH_E_TOO_LARGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "exceeds 1024 bytes"));
}

static void test_timeout(void)
{
	char msg[512];
	int64_t t0 = sh_mono_ns();
	sh_err e = range_against(NULL, msg, sizeof(msg), 0, 300);
	int64_t took = (sh_mono_ns() - t0) / SH_NS_PER_MS;
	CU_ASSERT_EQUAL(e, SH_E_TIMEOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "did not answer within 300 ms"));
	CU_ASSERT(took < 2000);
}

static void test_oversized_value_refused_locally(void)
{
	etcd_config cfg = {.endpoints = "http://127.0.0.1:1", .max_value = 16};
	etcd_client *c;
	CU_ASSERT_EQUAL_FATAL(etcd_client_new(&cfg, &c, NULL, 0), SH_OK);
	char v[17] = "0123456789abcdef";
	CU_ASSERT_EQUAL(etcd_put(c, "k", v, 17, NULL, NULL, NULL), SH_E_TOO_LARGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(etcd_errmsg(c), "exceeds the limit of 16 bytes"));
	etcd_client_free(c);
}

static void test_failover(void)
{
	const char *body = "{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"aw==\",\"value\":\"dg==\"}],\"count\":\"1\"}";
	char reply[512];
	snprintf(reply, sizeof(reply), OK_HDR "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	const char *replies[] = {reply};
	tresp *r = tresp_start(replies, 1);
	char eps[128];
	snprintf(eps, sizeof(eps), "http://127.0.0.1:%d,127.0.0.1:%d", t_free_port(), tresp_port(r));
	etcd_client *c = client_for(eps, 2000, 0);
	etcd_kv kv;
	CU_ASSERT_EQUAL(etcd_get(c, "k", &kv, NULL), SH_OK);
	CU_ASSERT_STRING_EQUAL(kv.value, "v");
	etcd_kv_free(&kv);
	CU_ASSERT_PTR_NOT_NULL(strstr(etcd_current_endpoint(c), "127.0.0.1"));
	/* the request carried JSON with the base64 key */
	CU_ASSERT_PTR_NOT_NULL(strstr(tresp_last_request(r), "\"key\":\"aw==\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(tresp_last_request(r), "POST /v3/kv/range"));
	etcd_client_free(c);
	tresp_stop(r);
}

static void test_bad_config(void)
{
	etcd_client *c;
	char err[256];
	etcd_config cfg = {.endpoints = "unix:///x"};
	CU_ASSERT_EQUAL(etcd_client_new(&cfg, &c, err, sizeof(err)), SH_E_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unsupported etcd endpoint 'unix:///x'"));
	cfg = (etcd_config){.endpoints = " , ,"};
	CU_ASSERT_EQUAL(etcd_client_new(&cfg, &c, err, sizeof(err)), SH_E_INVAL);
	cfg = (etcd_config){.endpoints = "127.0.0.1:2379", .cert = "/x"};
	CU_ASSERT_EQUAL(etcd_client_new(&cfg, &c, err, sizeof(err)), SH_E_INVAL);
	CU_ASSERT_STRING_EQUAL(err, "--cert and --key must be given together");
}

static void test_watch_stream_errors(void)
{
	/* connection 1: created, one event, then a truncated line and close;
	 * connection 2: must resume from revision 6 and gets the next event */
	const char *r1 = OK_HDR "\r\n"
			 "{\"result\":{\"header\":{\"revision\":\"4\"},\"created\":true}}\n"
			 "{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"5\"}}]}}\n"
			 "{\"result\":{\"header\":{\"revi";
	const char *r2 = OK_HDR "\r\n"
			 "{\"result\":{\"header\":{\"revision\":\"6\"},\"created\":true}}\n"
			 "{\"result\":{\"header\":{\"revision\":\"6\"},\"events\":[{\"kv\":{\"key\":\"Yg==\",\"mod_revision\":\"6\"}}]}}\n";
	const char *r3 = OK_HDR "\r\n"
			 "{\"result\":{\"header\":{\"revision\":\"9\"},\"canceled\":true,\"compact_revision\":\"8\"}}\n";
	const char *replies[] = {r1, r2, r3};
	tresp *r = tresp_start(replies, 3);
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", tresp_port(r));
	etcd_client *c = client_for(ep, 2000, 0);
	etcd_watch *w;
	etcd_watch_opts o = {.prefix = 1, .start_revision = 5};
	CU_ASSERT_EQUAL_FATAL(etcd_watch_open(c, "", &o, &w), SH_OK);
	etcd_watch_batch b;
	CU_ASSERT_EQUAL(etcd_watch_next(w, &b, 3000), SH_OK);
	CU_ASSERT_EQUAL(b.n, 1);
	CU_ASSERT_STRING_EQUAL(b.events[0].kv.key, "a");
	etcd_watch_batch_free(&b);
	CU_ASSERT_EQUAL(etcd_watch_next(w, &b, 3000), SH_OK);
	CU_ASSERT_EQUAL(b.n, 1);
	if (b.n)
		CU_ASSERT_STRING_EQUAL(b.events[0].kv.key, "b");
	etcd_watch_batch_free(&b);
	CU_ASSERT_PTR_NOT_NULL(strstr(tresp_last_request(r), "\"start_revision\":\"6\""));
	CU_ASSERT_EQUAL(etcd_watch_reconnects(w), 1);
	/* third stream: compacted */
	CU_ASSERT_EQUAL(etcd_watch_next(w, &b, 3000), SH_E_COMPACTED);
	CU_ASSERT_EQUAL(b.compact_revision, 8);
	CU_ASSERT_PTR_NOT_NULL(strstr(etcd_watch_errmsg(w), "compacted up to 8"));
	etcd_watch_close(w);
	etcd_client_free(c);
	tresp_stop(r);
}

static void test_watch_unreachable(void)
{
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", t_free_port());
	etcd_client *c = client_for(ep, 1000, 0);
	etcd_watch *w;
	CU_ASSERT_EQUAL_FATAL(etcd_watch_open(c, "k", NULL, &w), SH_OK);
	etcd_watch_batch b;
	CU_ASSERT_EQUAL(etcd_watch_next(w, &b, 300), SH_E_UNREACHABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(etcd_watch_errmsg(w), "connection refused"));
	etcd_watch_close(w);
	etcd_client_free(c);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"decode_kv_int64_strings", test_decode_kv_int64_strings},
		{"decode_kv_zero_values_omitted", test_decode_kv_zero_values_omitted},
		{"decode_kv_malformed", test_decode_kv_malformed},
		{"uint64_ids", test_uint64_ids},
		{"decode_range", test_decode_range},
		{"decode_txn", test_decode_txn},
		{"decode_watch", test_decode_watch},
		{"grpc_error_shapes", test_grpc_error_shapes},
		{"requests", test_requests},
		{"prefix_end", test_prefix_end},
		{"unreachable", test_unreachable},
		{"http_error", test_http_error},
		{"malformed_json", test_malformed_json},
		{"truncated_body", test_truncated_body},
		{"grpc_error_body", test_grpc_error_body},
		{"oversized_response", test_oversized_response},
		{"timeout", test_timeout},
		{"oversized_value_refused_locally", test_oversized_value_refused_locally},
		{"failover", test_failover},
		{"bad_config", test_bad_config},
		{"watch_stream_errors", test_watch_stream_errors},
		{"watch_unreachable", test_watch_unreachable},
		{NULL, NULL},
	};
	return t_run("etcd_wire", cases, argc, argv);
}
