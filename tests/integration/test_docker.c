/* SPDX-License-Identifier: MIT */
/* test_docker.c - dockerclient against a real 3-node swarm from tests/lab */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dock.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

#define IMAGE "swarmheal-test-busybox"

static const char *lab;
static char socks[4][256];
static char ids[4][64];

static dock_client *node(int i)
{
	dock_config cfg = {.host = socks[i], .timeout_ms = 15000};
	dock_client *c;
	char err[256] = "";
	sh_err e = dock_client_new(&cfg, &c, err, sizeof(err));
	if (e)
		fprintf(stderr, "dock_client_new: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(e, SH_OK);
	return c;
}

static int lab_cmd(const char *args)
{
	return t_sh("%s %s >/dev/null 2>&1", lab, args);
}

static cJSON *service_spec(const char *name, int replicas, const char *env)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"Name\":\"%s\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"" IMAGE "\",\"Args\":[\"sleep\",\"1000\"],"
		 "\"StopGracePeriod\":1000000000,\"Env\":[\"%s\"]},\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":100000000}},"
		 "\"Mode\":{\"Replicated\":{\"Replicas\":%d}},\"UpdateConfig\":{\"Parallelism\":0,\"FailureAction\":\"pause\"}}",
		 name, env, replicas);
	return cJSON_Parse(buf);
}

/* running tasks of a service; on node (or any node when NULL) */
static int running_tasks(dock_client *c, const char *svc, const char *on)
{
	char f[256];
	snprintf(f, sizeof(f), "{\"service\":[\"%s\"],\"desired-state\":[\"running\"]}", svc);
	dock_task_list l;
	if (dock_tasks_list(c, f, &l))
		return -1;
	int n = 0;
	for (size_t i = 0; i < l.n; i++)
		if (!strcmp(l.v[i].state, "running") && (!on || !strcmp(l.v[i].node_id, on)))
			n++;
	dock_task_list_free(&l);
	return n;
}

static int wait_running(dock_client *c, const char *svc, const char *on, int want, int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		if (running_tasks(c, svc, on) == want)
			return 1;
		usleep(100000);
	}
	return 0;
}

static void test_info_swarm_nodes(void)
{
	dock_client *c = node(1);
	CU_ASSERT_EQUAL(dock_ping(c), SH_OK);
	int major = 0, minor = 0;
	CU_ASSERT_EQUAL(sscanf(dock_api_version(c), "%d.%d", &major, &minor), 2);
	CU_ASSERT(major == 1 && minor >= 41);
	dock_info info;
	CU_ASSERT_EQUAL_FATAL(dock_info_get(c, &info), SH_OK);
	CU_ASSERT_STRING_EQUAL(info.node_id, ids[1]);
	CU_ASSERT_STRING_EQUAL(info.local_node_state, "active");
	CU_ASSERT_TRUE(info.control_available);
	dock_swarm sw;
	CU_ASSERT_EQUAL(dock_swarm_inspect(c, &sw), SH_OK);
	CU_ASSERT(sw.version > 0);
	CU_ASSERT_EQUAL(strncmp(sw.worker_token, "SWMTKN-", 7), 0);
	/* a swarm update with the same spec, rotating the worker token */
	char old_token[128];
	snprintf(old_token, sizeof(old_token), "%s", sw.worker_token);
	CU_ASSERT_EQUAL(dock_swarm_update(c, &sw, NULL, DOCK_ROTATE_WORKER_TOKEN), SH_OK);
	dock_swarm_free(&sw);
	CU_ASSERT_EQUAL(dock_swarm_inspect(c, &sw), SH_OK);
	CU_ASSERT_STRING_NOT_EQUAL(sw.worker_token, old_token);
	dock_swarm_free(&sw);
	dock_node_list l;
	CU_ASSERT_EQUAL_FATAL(dock_nodes_list(c, &l), SH_OK);
	CU_ASSERT_EQUAL(l.n, 3);
	int leaders = 0;
	for (size_t i = 0; i < l.n; i++) {
		leaders += l.v[i].leader;
		CU_ASSERT_STRING_EQUAL(l.v[i].state, "ready");
		CU_ASSERT_PTR_NOT_NULL(dock_node_label(&l.v[i], "lab-node"));
	}
	CU_ASSERT_EQUAL(leaders, 1);
	dock_node_list_free(&l);
	/* a worker is no manager: a clear refusal */
	dock_client *w = node(2);
	CU_ASSERT_EQUAL(dock_info_get(w, &info), SH_OK);
	CU_ASSERT_FALSE(info.control_available);
	CU_ASSERT_EQUAL(dock_nodes_list(w, &l), SH_E_UNAVAILABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(dock_errmsg(w), "refused node list"));
	dock_client_free(w);
	dock_client_free(c);
}

static void test_drain_and_reactivate(void)
{
	dock_client *c = node(1);
	cJSON *spec = service_spec("drainme", 3, "V=1");
	char sid[64];
	CU_ASSERT_EQUAL_FATAL(dock_service_create(c, spec, sid, sizeof(sid)), SH_OK);
	cJSON_Delete(spec);
	CU_ASSERT_FATAL(wait_running(c, sid, NULL, 3, 30));
	CU_ASSERT_EQUAL(dock_node_set_availability(c, ids[3], "drain"), SH_OK);
	dock_node n;
	CU_ASSERT_EQUAL(dock_node_inspect(c, ids[3], &n), SH_OK);
	CU_ASSERT_STRING_EQUAL(n.availability, "drain");
	/* the rest of the spec is kept */
	CU_ASSERT_STRING_EQUAL(dock_node_label(&n, "lab-node"), "3");
	dock_node_free(&n);
	/* tasks leave node 3 and run elsewhere */
	CU_ASSERT(wait_running(c, sid, ids[3], 0, 30));
	CU_ASSERT(wait_running(c, sid, NULL, 3, 30));
	CU_ASSERT_EQUAL(dock_node_set_availability(c, ids[3], "active"), SH_OK);
	CU_ASSERT_EQUAL(dock_node_inspect(c, ids[3], &n), SH_OK);
	CU_ASSERT_STRING_EQUAL(n.availability, "active");
	dock_node_free(&n);
	CU_ASSERT_EQUAL(dock_service_remove(c, sid), SH_OK);
	dock_client_free(c);
}

static void test_update_and_rollback(void)
{
	dock_client *c = node(1);
	cJSON *spec = service_spec("rollme", 2, "V=1");
	char sid[64];
	CU_ASSERT_EQUAL_FATAL(dock_service_create(c, spec, sid, sizeof(sid)), SH_OK);
	cJSON_Delete(spec);
	CU_ASSERT_FATAL(wait_running(c, sid, NULL, 2, 30));
	/* no previous spec yet: rollback says so */
	CU_ASSERT_EQUAL(dock_service_rollback(c, sid), SH_E_NOT_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(dock_errmsg(c), "no previous spec"));
	dock_service s;
	CU_ASSERT_EQUAL_FATAL(dock_service_inspect(c, sid, &s), SH_OK);
	cJSON *next = service_spec("rollme", 2, "V=2");
	CU_ASSERT_EQUAL(dock_service_update(c, sid, s.version, next), SH_OK);
	/* the same stale version again: refused (out of sequence) */
	CU_ASSERT_EQUAL(dock_service_update(c, sid, s.version, next), SH_E_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(dock_errmsg(c), "out of sequence"));
	cJSON_Delete(next);
	dock_service_free(&s);
	CU_ASSERT_EQUAL(dock_service_inspect(c, sid, &s), SH_OK);
	CU_ASSERT_PTR_NOT_NULL(s.previous_spec);
	char *env = cJSON_PrintUnformatted(s.spec);
	CU_ASSERT_PTR_NOT_NULL(strstr(env, "V=2"));
	free(env);
	dock_service_free(&s);
	CU_ASSERT_EQUAL(dock_service_rollback(c, sid), SH_OK);
	CU_ASSERT_EQUAL(dock_service_inspect(c, sid, &s), SH_OK);
	env = cJSON_PrintUnformatted(s.spec);
	CU_ASSERT_PTR_NOT_NULL(strstr(env, "V=1"));
	free(env);
	dock_service_free(&s);
	dock_service_list sl;
	CU_ASSERT_EQUAL(dock_services_list(c, &sl), SH_OK);
	int found = 0;
	for (size_t i = 0; i < sl.n; i++)
		found += !strcmp(sl.v[i].id, sid);
	CU_ASSERT_EQUAL(found, 1);
	dock_service_list_free(&sl);
	CU_ASSERT_EQUAL(dock_service_remove(c, sid), SH_OK);
	dock_client_free(c);
}

struct race {
	dock_client *other;
	int calls;
};

/* first call: another client changes the node underneath (version bump), as a concurrent writer would */
static int add_label_racing(dock_node *n, cJSON *spec, void *ud)
{
	struct race *r = ud;
	if (r->calls++ == 0) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "docker -H %s node update --label-add racer=b %s >/dev/null", socks[1], n->id);
		if (t_sh("%s", cmd))
			return -1;
	}
	cJSON *labels = cJSON_GetObjectItemCaseSensitive(spec, "Labels");
	if (!labels)
		labels = cJSON_AddObjectToObject(spec, "Labels");
	cJSON_DeleteItemFromObjectCaseSensitive(labels, "mine");
	cJSON_AddStringToObject(labels, "mine", "a");
	return 1;
}

static void test_out_of_sequence(void)
{
	dock_client *c = node(1);
	struct race r = {NULL, 0};
	CU_ASSERT_EQUAL(dock_node_update(c, ids[2], add_label_racing, &r), SH_OK);
	CU_ASSERT_EQUAL(r.calls, 2); /* refused once, re-read, re-applied */
	dock_node n;
	CU_ASSERT_EQUAL(dock_node_inspect(c, ids[2], &n), SH_OK);
	CU_ASSERT_STRING_EQUAL(dock_node_label(&n, "mine"), "a");
	CU_ASSERT_STRING_EQUAL(dock_node_label(&n, "racer"), "b"); /* the other writer's change survives */
	dock_node_free(&n);
	dock_client_free(c);
}

static void test_events_across_restart(void)
{
	dock_client *c = node(1);
	dock_events *ev;
	CU_ASSERT_EQUAL_FATAL(dock_events_open(c, "{\"type\":[\"node\"]}", 0, &ev), SH_OK);
	dock_event e;
	CU_ASSERT_EQUAL(dock_events_next(ev, &e, 300), SH_E_TIMEOUT);
	CU_ASSERT_EQUAL(t_sh("docker -H %s node update --label-add ev=1 %s >/dev/null", socks[1], ids[2]), 0);
	CU_ASSERT_EQUAL_FATAL(dock_events_next(ev, &e, 5000), SH_OK);
	CU_ASSERT_STRING_EQUAL(e.type, "node");
	CU_ASSERT_STRING_EQUAL(e.actor_id, ids[2]);
	int64_t first = e.time_nano;
	dock_event_free(&e);
	/* restart the manager's engine: the stream drops and resumes */
	CU_ASSERT_EQUAL(lab_cmd("stop 1"), 0);
	/* the stream breaks: the engine is down right now (or nothing came within the second) */
	sh_err down = dock_events_next(ev, &e, 1000);
	CU_ASSERT(down == SH_E_UNREACHABLE || down == SH_E_TIMEOUT);
	CU_ASSERT_EQUAL_FATAL(lab_cmd("start 1"), 0);
	/* wait until the manager serves swarm calls again */
	dock_info info;
	for (int i = 0; i < 100; i++) {
		if (dock_info_get(c, &info) == SH_OK && info.control_available)
			break;
		usleep(200000);
	}
	CU_ASSERT_EQUAL(t_sh("docker -H %s node update --label-add ev=2 %s >/dev/null", socks[1], ids[2]), 0);
	int got_second = 0, repeats = 0;
	for (int i = 0; i < 50 && !got_second; i++) {
		sh_err er = dock_events_next(ev, &e, 200);
		if (er != SH_OK)
			continue;
		if (e.time_nano == first)
			repeats++;
		else if (!strcmp(e.actor_id, ids[2]) && e.time_nano > first)
			got_second = 1;
		dock_event_free(&e);
	}
	CU_ASSERT_TRUE(got_second);
	/* holds by construction here (dockerd keeps events in memory, a restarted one has none of the
	 * old); the de-duplication of a replayed event is proven in test_dock_wire.c:events_dedup_on_resume */
	CU_ASSERT_EQUAL(repeats, 0);
	CU_ASSERT(dock_events_reconnects(ev) >= 1);
	dock_events_close(ev);
	dock_client_free(c);
}

static void test_container_health(void)
{
	/* a standalone container with a HEALTHCHECK on node 2 */
	CU_ASSERT_EQUAL_FATAL(
		t_sh("docker -H %s run -d --name hc --label autoheal=true --health-cmd 'test -f /tmp/ok' --health-interval 1s "
		     "--health-retries 2 " IMAGE " sh -c 'touch /tmp/ok; exec sleep 1000' >/dev/null",
		     socks[2]),
		0);
	dock_client *c = node(2);
	dock_container ct;
	int healthy = 0;
	for (int i = 0; i < 100 && !healthy; i++) {
		CU_ASSERT_EQUAL_FATAL(dock_container_inspect(c, "hc", &ct), SH_OK);
		healthy = !strcmp(ct.health, "healthy");
		dock_container_free(&ct);
		if (!healthy)
			usleep(100000);
	}
	CU_ASSERT_TRUE(healthy);
	CU_ASSERT_EQUAL(t_sh("docker -H %s exec hc rm /tmp/ok", socks[2]), 0);
	int unhealthy = 0;
	for (int i = 0; i < 100 && !unhealthy; i++) {
		CU_ASSERT_EQUAL_FATAL(dock_container_inspect(c, "hc", &ct), SH_OK);
		unhealthy = !strcmp(ct.health, "unhealthy");
		if (unhealthy)
			CU_ASSERT(ct.failing_streak >= 2);
		dock_container_free(&ct);
		if (!unhealthy)
			usleep(100000);
	}
	CU_ASSERT_TRUE(unhealthy);
	dock_container_list l;
	CU_ASSERT_EQUAL(dock_containers_list(c, "{\"label\":[\"autoheal=true\"]}", 0, &l), SH_OK);
	CU_ASSERT_EQUAL(l.n, 1);
	if (l.n)
		CU_ASSERT_STRING_EQUAL(l.v[0].health, "unhealthy");
	dock_container_list_free(&l);
	/* a restart is proven by a new StartedAt, not by the call's return code alone */
	CU_ASSERT_EQUAL_FATAL(dock_container_inspect(c, "hc", &ct), SH_OK);
	int64_t started = ct.started_at_ns;
	dock_container_free(&ct);
	CU_ASSERT(started > 0);
	CU_ASSERT_EQUAL(dock_container_restart(c, "hc", 1), SH_OK);
	CU_ASSERT_EQUAL_FATAL(dock_container_inspect(c, "hc", &ct), SH_OK);
	CU_ASSERT(ct.started_at_ns > started);
	CU_ASSERT_STRING_EQUAL(ct.state, "running");
	dock_container_free(&ct);
	CU_ASSERT_EQUAL(dock_container_kill(c, "hc", "KILL"), SH_OK);
	CU_ASSERT_EQUAL(dock_container_inspect(c, "hc", &ct), SH_OK);
	CU_ASSERT_STRING_NOT_EQUAL(ct.state, "running");
	dock_container_free(&ct);
	CU_ASSERT_EQUAL(dock_container_inspect(c, "nope-not-here", &ct), SH_E_NOT_FOUND);
	t_sh("docker -H %s rm -f hc >/dev/null 2>&1", socks[2]);
	dock_client_free(c);
}

static void test_engine_down(void)
{
	CU_ASSERT_EQUAL_FATAL(lab_cmd("stop 3"), 0);
	dock_client *c = node(3);
	dock_info info;
	sh_err e = dock_info_get(c, &info);
	CU_ASSERT_EQUAL(e, SH_E_UNREACHABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(dock_errmsg(c), "cannot reach engine at 'unix://"));
	dock_client_free(c);
	CU_ASSERT_EQUAL(lab_cmd("start 3"), 0);
}

int main(int argc, char **argv)
{
	lab = getenv("SWARMHEAL_LAB");
	if (!lab || t_sh("%s sock 3 >/dev/null 2>&1", lab)) {
		return t_skip("docker", "no lab with 3 nodes (tests/run.sh brings it up)");
	}
	for (int i = 1; i <= 3; i++) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "%s sock %d", lab, i);
		FILE *f = popen(cmd, "r");
		if (!f || !fgets(socks[i], sizeof(socks[i]), f))
			return 1;
		pclose(f);
		socks[i][strcspn(socks[i], "\n")] = '\0';
		snprintf(cmd, sizeof(cmd), "%s id %d", lab, i);
		f = popen(cmd, "r");
		if (!f || !fgets(ids[i], sizeof(ids[i]), f))
			return 1;
		pclose(f);
		ids[i][strcspn(ids[i], "\n")] = '\0';
	}
	static const t_case cases[] = {
		{"info_swarm_nodes", test_info_swarm_nodes},
		{"drain_and_reactivate", test_drain_and_reactivate},
		{"update_and_rollback", test_update_and_rollback},
		{"out_of_sequence", test_out_of_sequence},
		{"container_health", test_container_health},
		{"engine_down", test_engine_down},
		{"events_across_restart", test_events_across_restart},
		{NULL, NULL},
	};
	return t_run("docker", cases, argc, argv);
}
