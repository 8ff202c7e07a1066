/* SPDX-License-Identifier: MIT */
/* test_dock_wire.c - unit tests of the Docker client's decoders and error paths (scripted responder, no engine) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dock_internal.h"
#include "tmain.h"
#include "tsupport.h"

static cJSON *J(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	return j;
}

static void test_decode_node(void)
{
	cJSON *j = J("{\"ID\":\"n1\",\"Version\":{\"Index\":42},\"Spec\":{\"Labels\":{\"zone\":\"a\"},\"Role\":\"worker\","
		     "\"Availability\":\"active\"},\"Description\":{\"Hostname\":\"h1\"},\"Status\":{\"State\":\"ready\","
		     "\"Addr\":\"10.0.0.1\"},\"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\"}}");
	dock_node n;
	CU_ASSERT_EQUAL(dock_decode_node(j, &n), 0);
	CU_ASSERT_STRING_EQUAL(n.id, "n1");
	CU_ASSERT_EQUAL(n.version, 42);
	CU_ASSERT_STRING_EQUAL(n.hostname, "h1");
	CU_ASSERT_STRING_EQUAL(n.availability, "active");
	CU_ASSERT_STRING_EQUAL(n.state, "ready");
	CU_ASSERT_TRUE(n.leader);
	CU_ASSERT_STRING_EQUAL(dock_node_label(&n, "zone"), "a");
	CU_ASSERT_PTR_NULL(dock_node_label(&n, "nope"));
	dock_node_free(&n);
	cJSON_Delete(j);
	const char *bad[] = {"[]", "{\"ID\":5}", "{\"ID\":\"x\",\"Version\":{\"Index\":1}}",
			     "{\"ID\":\"x\",\"Spec\":{},\"Version\":{}}"};
	for (size_t i = 0; i < 4; i++) {
		j = J(bad[i]);
		CU_ASSERT_EQUAL(dock_decode_node(j, &n), -1);
		dock_node_free(&n);
		cJSON_Delete(j);
	}
}

static void test_decode_service(void)
{
	cJSON *j = J("{\"ID\":\"s1\",\"Version\":{\"Index\":7},\"Spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":"
		     "{\"Replicas\":3}}},\"PreviousSpec\":{\"Name\":\"web\"},\"UpdateStatus\":{\"State\":\"paused\","
		     "\"Message\":\"update paused due to failure\",\"StartedAt\":\"2026-11-28T13:15:15.5Z\","
		     "\"CompletedAt\":\"2026-11-28T13:15:20Z\"}}");
	dock_service s;
	CU_ASSERT_EQUAL(dock_decode_service(j, &s), 0);
	CU_ASSERT_EQUAL(s.update_completed_ns - s.update_started_ns, 4500000000LL);
	CU_ASSERT_STRING_EQUAL(s.name, "web");
	CU_ASSERT_EQUAL(s.replicas, 3);
	CU_ASSERT_STRING_EQUAL(s.update_state, "paused");
	CU_ASSERT_PTR_NOT_NULL(s.previous_spec);
	dock_service_free(&s);
	cJSON_Delete(j);
	j = J("{\"ID\":\"s2\",\"Version\":{\"Index\":1},\"Spec\":{\"Name\":\"g\",\"Mode\":{\"Global\":{}}}}");
	CU_ASSERT_EQUAL(dock_decode_service(j, &s), 0);
	CU_ASSERT_EQUAL(s.replicas, -1);
	CU_ASSERT_PTR_NULL(s.previous_spec);
	CU_ASSERT_STRING_EQUAL(s.update_state, "");
	dock_service_free(&s);
	cJSON_Delete(j);
}

static void test_decode_task_container_event(void)
{
	cJSON *j = J("{\"ID\":\"t1\",\"ServiceID\":\"s1\",\"NodeID\":\"n1\",\"Slot\":2,\"DesiredState\":\"running\","
		     "\"SpecVersion\":{\"Index\":41},\"CreatedAt\":\"2026-11-28T13:15:15Z\","
		     "\"Status\":{\"Timestamp\":\"2026-11-28T13:15:23.25Z\",\"State\":\"failed\","
		     "\"Err\":\"task: non-zero exit (1)\",\"ContainerStatus\":{\"ContainerID\":\"c1\",\"ExitCode\":1}}}");
	dock_task t;
	CU_ASSERT_EQUAL(dock_decode_task(j, &t), 0);
	CU_ASSERT_EQUAL(t.spec_version, 41);
	CU_ASSERT_EQUAL(t.exit_code, 1);
	CU_ASSERT_EQUAL(t.status_ns - t.created_ns, 8250000000LL);
	CU_ASSERT_STRING_EQUAL(t.state, "failed");
	CU_ASSERT_STRING_EQUAL(t.err, "task: non-zero exit (1)");
	CU_ASSERT_EQUAL(t.slot, 2);
	CU_ASSERT_STRING_EQUAL(t.container_id, "c1");
	cJSON_Delete(j);
	/* inspect shape */
	j = J("{\"Id\":\"c1\",\"Name\":\"/x\",\"State\":{\"Status\":\"running\",\"StartedAt\":\"2026-11-28T13:15:15.5Z\","
	      "\"Health\":{\"Status\":\"unhealthy\",\"FailingStreak\":3}},\"Config\":{\"Labels\":{\"autoheal\":\"true\"},"
	      "\"Healthcheck\":{\"StartPeriod\":5000000000}}}");
	dock_container ct;
	CU_ASSERT_EQUAL(dock_decode_container(j, &ct), 0);
	CU_ASSERT_STRING_EQUAL(ct.health, "unhealthy");
	CU_ASSERT_EQUAL(ct.failing_streak, 3);
	CU_ASSERT_EQUAL(ct.health_start_period_ns, INT64_C(5000000000));
	CU_ASSERT_EQUAL(ct.started_at_ns, INT64_C(1795871715500000000));
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(ct.labels, "autoheal")->valuestring, "true");
	dock_container_free(&ct);
	cJSON_Delete(j);
	/* list shape */
	j = J("{\"Id\":\"c2\",\"Names\":[\"/y\"],\"State\":\"running\",\"Status\":\"Up 3 minutes (unhealthy)\"}");
	CU_ASSERT_EQUAL(dock_decode_container(j, &ct), 0);
	CU_ASSERT_STRING_EQUAL(ct.name, "/y");
	CU_ASSERT_STRING_EQUAL(ct.health, "unhealthy");
	dock_container_free(&ct);
	cJSON_Delete(j);
	j = J("{\"Type\":\"node\",\"Action\":\"update\",\"Actor\":{\"ID\":\"n1\",\"Attributes\":{\"availability.new\":"
	      "\"drain\"}},\"scope\":\"swarm\",\"time\":1795871715,\"timeNano\":1795871715000000123}");
	dock_event e;
	const char *raw = "{\"Type\":\"node\",\"timeNano\":1795871715000000123}";
	CU_ASSERT_EQUAL(dock_decode_event(j, raw, strlen(raw), &e), 0);
	CU_ASSERT_STRING_EQUAL(e.type, "node");
	CU_ASSERT_STRING_EQUAL(e.actor_id, "n1");
	CU_ASSERT_EQUAL(e.time_nano, INT64_C(1795871715000000123));
	dock_event_free(&e);
	cJSON_Delete(j);
}

static void test_print_big_ints(void)
{
	cJSON *j = J("{\"CAConfig\":{\"NodeCertExpiry\":7776000000000000},\"a\":[1.5,-3000000000,7],\"b\":\"x\"}");
	char *s = dock_print_json(j);
	CU_ASSERT_STRING_EQUAL(s, "{\"CAConfig\":{\"NodeCertExpiry\":7776000000000000},\"a\":[1.5,-3000000000,7],\"b\":\"x\"}");
	free(s);
	cJSON_Delete(j);
}

static dock_client *client_at(const char *host)
{
	dock_config cfg = {.host = host, .timeout_ms = 1000};
	dock_client *c = NULL;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(dock_client_new(&cfg, &c, err, sizeof(err)), SH_OK);
	return c;
}

static void test_no_socket(void)
{
	dock_client *c = client_at("unix:///nonexistent/docker.sock");
	dock_info info;
	CU_ASSERT_EQUAL(dock_info_get(c, &info), SH_E_UNREACHABLE);
	CU_ASSERT_STRING_EQUAL(dock_errmsg(c),
			       "cannot reach engine at 'unix:///nonexistent/docker.sock': no such file or directory");
	dock_client_free(c);
	char host[64];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", t_free_port());
	c = client_at(host);
	CU_ASSERT_EQUAL(dock_ping(c), SH_E_UNREACHABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(dock_errmsg(c), "connection refused"));
	dock_client_free(c);
	dock_config cfg = {.host = "ssh://x"};
	char err[256];
	CU_ASSERT_EQUAL(dock_client_new(&cfg, &c, err, sizeof(err)), SH_E_INVAL);
	CU_ASSERT_STRING_EQUAL(err, "unsupported docker host 'ssh://x' (want unix:// or tcp://)");
}

static int64_t abort_at;

static int tell_left; /* give_up_after says how long it will go on */

static sh_err give_up_after(void *arg, long *left_ms)
{
	(void)arg;
	int64_t now = t_now_ms();
	if (now >= abort_at)
		return SH_E_NOT_LEADER;
	if (tell_left)
		*left_ms = (long)(abort_at - now);
	return SH_OK;
}

/* an engine that takes the connection and never answers: the owner's abort ends the call, not the timeout */
static void test_abort_hanging_call(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 8) == 0 &&
			getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	char host[64], want[160];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	dock_config cfg = {.host = host, .timeout_ms = 10000};
	dock_client *c = NULL;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(dock_client_new(&cfg, &c, err, sizeof(err)), SH_OK);
	dock_set_abort(c, give_up_after, NULL);
	dock_info info;
	/* given up 300 ms in, while waiting for the answer (libcurl reports progress at least once a second) */
	int64_t t0 = t_now_ms();
	abort_at = t0 + 300;
	CU_ASSERT_EQUAL(dock_info_get(c, &info), SH_E_NOT_LEADER);
	int64_t took = t_now_ms() - t0;
	CU_ASSERT(took >= 300 && took < 1600);
	snprintf(want, sizeof(want), "gave up version query at engine '%s': not the leader", host);
	CU_ASSERT_STRING_EQUAL(dock_errmsg(c), want);
	/* an owner that says when it will give up: the request ends then, not up to a second later */
	tell_left = 1;
	for (int i = 0; i < 3; i++) {
		t0 = t_now_ms();
		abort_at = t0 + 300;
		CU_ASSERT_EQUAL(dock_info_get(c, &info), SH_E_NOT_LEADER);
		took = t_now_ms() - t0;
		CU_ASSERT(took >= 300 && took < 600);
		CU_ASSERT_STRING_EQUAL(dock_errmsg(c), want);
	}
	tell_left = 0;
	/* already given up: not even sent */
	t0 = t_now_ms();
	CU_ASSERT_EQUAL(dock_node_set_availability(c, "abc", "drain"), SH_E_NOT_LEADER);
	CU_ASSERT(t_now_ms() - t0 < 100);
	/* no abort: the request timeout as before */
	dock_set_abort(c, NULL, NULL);
	dock_client_free(c);
	cfg.timeout_ms = 500;
	CU_ASSERT_EQUAL_FATAL(dock_client_new(&cfg, &c, err, sizeof(err)), SH_OK);
	t0 = t_now_ms();
	CU_ASSERT_EQUAL(dock_info_get(c, &info), SH_E_TIMEOUT);
	CU_ASSERT(t_now_ms() - t0 >= 450);
	dock_client_free(c);
	close(fd);
}

#define VERSION_REPLY "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 23\r\nConnection: close\r\n\r\n{\"ApiVersion\":\"1.41\"}\n\n"

static sh_err against(const char *reply, char *msg, size_t len, int what)
{
	const char *replies[] = {VERSION_REPLY, reply};
	tresp *r = tresp_start(replies, 2);
	char host[64];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", tresp_port(r));
	dock_client *c = client_at(host);
	sh_err e;
	if (what == 0) {
		dock_node_list l;
		e = dock_nodes_list(c, &l);
		if (!e)
			dock_node_list_free(&l);
	} else {
		e = dock_node_set_availability(c, "abc", "drain");
	}
	snprintf(msg, len, "%s", dock_errmsg(c));
	dock_client_free(c);
	tresp_stop(r);
	return e;
}

static void test_bad_answers(void)
{
	char msg[512];
	CU_ASSERT_EQUAL(against("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", msg, sizeof(msg), 0),
			SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "malformed"));
	CU_ASSERT_EQUAL(against("HTTP/1.1 200 OK\r\nContent-Length: 50\r\nConnection: close\r\n\r\n[{\"ID\":\"x\"", msg,
				sizeof(msg), 0),
			SH_E_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "engine at 'tcp://127.0.0.1:"));
	CU_ASSERT_EQUAL(against("HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\n[{\"ID\":\"x\"}]\n\n",
				msg, sizeof(msg), 0),
			SH_E_PROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "malformed node list answer"));
	CU_ASSERT_EQUAL(against("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 68\r\nConnection: close\r\n\r\n"
				"{\"message\":\"This node is not a swarm manager. Use \\\"docker swarm\\\"\"}",
				msg, sizeof(msg), 0),
			SH_E_UNAVAILABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "refused node list: This node is not a swarm manager"));
	/* the node is gone before the update: NOT_FOUND, no update sent */
	CU_ASSERT_EQUAL(against("HTTP/1.1 404 Not Found\r\nContent-Length: 34\r\nConnection: close\r\n\r\n"
				"{\"message\":\"node abc not found\"}\n\n",
				msg, sizeof(msg), 1),
			SH_E_NOT_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "refused node inspect: node abc not found"));
}

/* a whole HTTP response with a JSON body (malloc'd) */
static char *reply(const char *status, const char *body)
{
	char *r;
	if (asprintf(&r, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     status, strlen(body), body) < 0)
		return NULL;
	return r;
}

#define NODE_AT(v) "{\"ID\":\"abc\",\"Version\":{\"Index\":" #v "},\"Spec\":{\"Role\":\"worker\",\"Availability\":\"active\"}," \
		   "\"Description\":{\"Hostname\":\"h\"},\"Status\":{\"State\":\"ready\"}}"
#define OUT_OF_SEQUENCE "{\"message\":\"rpc error: code = Unknown desc = update out of sequence\"}"

static void test_update_out_of_sequence(void)
{
	/* every update answered "update out of sequence": re-read and retried, then given up with CONFLICT */
	char *inspect = reply("200 OK", NODE_AT(42)), *oos = reply("500 Internal Server Error", OUT_OF_SEQUENCE);
	const char *replies[11] = {VERSION_REPLY};
	for (int i = 1; i < 11; i++)
		replies[i] = i % 2 ? inspect : oos;
	tresp *r = tresp_start(replies, 11);
	char host[64];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", tresp_port(r));
	dock_client *c = client_at(host);
	CU_ASSERT_EQUAL(dock_node_set_availability(c, "abc", "drain"), SH_E_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(dock_errmsg(c), "refused node update: rpc error: code = Unknown desc = update out of sequence"));
	CU_ASSERT_EQUAL(tresp_requests(r), 11); /* version, then 5 x (inspect, update) */
	const char *last = tresp_last_request(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(last, "POST /v1.41/nodes/abc/update?version=42 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(last, "\"Availability\":\"drain\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(last, "\"Role\":\"worker\"")); /* the rest of the spec kept */
	dock_client_free(c);
	tresp_stop(r);
	/* out of sequence once: re-read (now version 43) and the second update succeeds */
	char *inspect2 = reply("200 OK", NODE_AT(43)), *ok = reply("200 OK", "");
	const char *replies2[] = {VERSION_REPLY, inspect, oos, inspect2, ok, NULL};
	r = tresp_start(replies2, 6);
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", tresp_port(r));
	c = client_at(host);
	CU_ASSERT_EQUAL(dock_node_set_availability(c, "abc", "drain"), SH_OK);
	CU_ASSERT_EQUAL(tresp_requests(r), 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(tresp_last_request(r), "POST /v1.41/nodes/abc/update?version=43 "));
	dock_client_free(c);
	tresp_stop(r);
	free(inspect);
	free(oos);
	free(inspect2);
	free(ok);
}

#define EV(t, actor) "{\"Type\":\"node\",\"Action\":\"update\",\"Actor\":{\"ID\":\"" actor "\",\"Attributes\":{}},\"scope\":\"swarm\",\"time\":0,\"timeNano\":" #t "}\n"
#define STREAM_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"

static void test_events_dedup_on_resume(void)
{
	/* the first stream delivers two events and ends; the engine replays the last one on the
	 * resumed stream (since= is inclusive to the nanosecond), plus an older one, then new ones:
	 * one at the same nanosecond from another node, and a later one */
	const char *replies[] = {
		VERSION_REPLY,
		STREAM_HEAD EV(1000, "n1") EV(2000, "n2"),
		STREAM_HEAD EV(1500, "n1") EV(2000, "n2") EV(2000, "n3") EV(3000, "n1"),
		NULL, /* the third stream stays open, silent */
	};
	tresp *r = tresp_start(replies, 4);
	char host[64];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", tresp_port(r));
	dock_client *c = client_at(host);
	dock_events *ev;
	CU_ASSERT_EQUAL_FATAL(dock_events_open(c, NULL, 1, &ev), SH_OK);
	char got[8][160];
	int n = 0;
	for (int64_t t0 = t_now_ms(); t_now_ms() - t0 < 5000 && n < 8;) {
		dock_event e;
		sh_err er = dock_events_next(ev, &e, 200);
		if (er == SH_OK) {
			snprintf(got[n++], sizeof(got[0]), "%lld/%s", (long long)e.time_nano, e.actor_id);
			dock_event_free(&e);
		} else if (n >= 4 && er == SH_E_TIMEOUT) {
			break; /* a quiet 200 ms after the last expected one: no late repeat */
		}
	}
	CU_ASSERT_EQUAL(n, 4);
	const char *want[] = {"1000/n1", "2000/n2", "2000/n3", "3000/n1"};
	for (int i = 0; i < 4 && i < n; i++)
		CU_ASSERT_STRING_EQUAL(got[i], want[i]);
	CU_ASSERT_EQUAL(dock_events_reconnects(ev), 2);
	/* the stream resumed again asks from the last delivered event's time */
	int late = 0;
	for (int64_t t0 = t_now_ms(); (tresp_requests(r) < 4 || !*tresp_last_request(r)) && t_now_ms() - t0 < 3000;) {
		dock_event e; /* curl sends the request only while we pump the stream */
		if (dock_events_next(ev, &e, 50) == SH_OK) {
			late++;
			dock_event_free(&e);
		}
	}
	CU_ASSERT_EQUAL(late, 0);
	CU_ASSERT_EQUAL(tresp_requests(r), 4);
	if (!strstr(tresp_last_request(r), "GET /v1.41/events?since=0.000003000 "))
		fprintf(stderr, "last request (%d served): %s\n", tresp_requests(r), tresp_last_request(r));
	CU_ASSERT_PTR_NOT_NULL(strstr(tresp_last_request(r), "GET /v1.41/events?since=0.000003000 "));
	dock_events_close(ev);
	dock_client_free(c);
	tresp_stop(r);
}

static void test_invalid_ids(void)
{
	dock_client *c = client_at("unix:///nonexistent.sock");
	dock_node n;
	CU_ASSERT_EQUAL(dock_node_inspect(c, "../../x", &n), SH_E_INVAL);
	CU_ASSERT_STRING_EQUAL(dock_errmsg(c), "invalid node ID '../../x'");
	CU_ASSERT_EQUAL(dock_node_set_availability(c, "abc", "sleep"), SH_E_INVAL);
	CU_ASSERT_EQUAL(dock_container_kill(c, "abc", "KILL; rm"), SH_E_INVAL);
	dock_task_list tl;
	CU_ASSERT_EQUAL(dock_tasks_list(c, "{not json", &tl), SH_E_INVAL);
	dock_client_free(c);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"decode_node", test_decode_node},
		{"decode_service", test_decode_service},
		{"decode_task_container_event", test_decode_task_container_event},
		{"print_big_ints", test_print_big_ints},
		{"no_socket", test_no_socket},
		{"abort_hanging_call", test_abort_hanging_call},
		{"bad_answers", test_bad_answers},
		{"invalid_ids", test_invalid_ids},
		{"update_out_of_sequence", test_update_out_of_sequence},
		{"events_dedup_on_resume", test_events_dedup_on_resume},
		{NULL, NULL},
	};
	return t_run("dock_wire", cases, argc, argv);
}
