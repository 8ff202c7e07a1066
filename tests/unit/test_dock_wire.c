/* SPDX-License-Identifier: MIT */
/* test_dock_wire.c - unit tests of the Docker client's decoders and error paths (scripted responder, no engine) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	/* inspect then "update out of sequence" every time: gives up with CONFLICT */
	CU_ASSERT_EQUAL(against("HTTP/1.1 404 Not Found\r\nContent-Length: 34\r\nConnection: close\r\n\r\n"
				"{\"message\":\"node abc not found\"}\n\n",
				msg, sizeof(msg), 1),
			SH_E_NOT_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "refused node inspect: node abc not found"));
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
		{"bad_answers", test_bad_answers},
		{"invalid_ids", test_invalid_ids},
		{NULL, NULL},
	};
	return t_run("dock_wire", cases, argc, argv);
}
