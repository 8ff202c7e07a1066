/* SPDX-License-Identifier: MIT */
/* test_arbiter_lab.c - the arbiter in a 5-node, 3-zone, 3-manager lab: zone cuts, read-only, quorum guard */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

/*
 * Zones: a = nodes 1 (manager) and 4, b = 2 (manager) and 5, c = 3 (manager).
 * Each node's agent runs inside the node's network namespace and reaches
 * etcd through the lab bridge (etcd listens on loopback and 10.213.57.1), so
 * `lab.sh cut` takes its heartbeat away as a real partition would. The
 * controllers run on the host (loopback to etcd, the engines' unix sockets).
 */
#define N 5
#define BRIDGE "10.213.57.1"
#define LOG "/tmp/swarmheal-arbiter-lab"

static const char *lab;
static const char *zone_of[N + 1] = {"", "a", "b", "c", "a", "b"};
static char socks[N + 1][256], ids[N + 1][64], prefix[64], eps[128], eps_bridge[128];
static pid_t agents[N + 1], etcd_pid, arb_a, arb_b, drainer;
static char host[100];

static void etcd_value(const char *sub, char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get %s%s --print-value-only 2>/dev/null", eps,
		 prefix, sub);
	t_sh_line(cmd, out, len);
}

static int mode_is(const char *mode)
{
	char v[2048], want[64];
	etcd_value("/arbiter/mode", v, sizeof(v));
	snprintf(want, sizeof(want), "\"mode\":\"%s\"", mode);
	return strstr(v, want) != NULL;
}

static double wait_mode(const char *mode, int ms)
{
	int64_t t0 = sh_mono_ns();
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		if (mode_is(mode))
			return (double)(sh_mono_ns() - t0) / 1e9;
		usleep(100000);
	}
	return -1;
}

static int actions_matching(const char *ctl, const char *needle)
{
	char cmd[600], out[32];
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/%s/ --print-value-only | grep -c -- '%s'", eps,
		 prefix, ctl, needle);
	t_sh_line(cmd, out, sizeof(out));
	return atoi(out);
}

static int quorum_state_is(const char *st)
{
	char v[2048], want[64];
	etcd_value("/arbiter/quorum", v, sizeof(v));
	snprintf(want, sizeof(want), "\"state\":\"%s\"", st);
	return strstr(v, want) != NULL;
}

static int wait_quorum(const char *st, int ms)
{
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		if (quorum_state_is(st))
			return 1;
		usleep(200000);
	}
	return 0;
}

/* the arbiter's leader, as its election proposal HOST:PID */
static void arbiter_leader(char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/elections/controller.arbiter/ --sort-by=CREATE "
		 "--order=ASCEND --print-value-only 2>/dev/null | head -1",
		 eps, prefix);
	t_sh_line(cmd, out, len);
}

static int wait_leader(pid_t pid, int ms)
{
	char want[160], got[160];
	snprintf(want, sizeof(want), "%s:%d", host, (int)pid);
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		arbiter_leader(got, sizeof(got));
		if (!strcmp(got, want))
			return 1;
		usleep(200000);
	}
	return 0;
}

static void start_agent(int i)
{
	char ns[32];
	snprintf(ns, sizeof(ns), "shlab-n%d", i);
	agents[i] = t_spawn(LOG "-agents.log",
			    "ip netns exec %s %s --endpoints %s --docker-host %s --prefix %s --ttl 2s --zone %s", ns,
			    t_bin("swarmheal-agent"), eps_bridge, socks[i], prefix, zone_of[i]);
}

static void stop_pid(pid_t *p, int sig)
{
	if (*p > 0) {
		kill(*p, sig);
		if (!t_wait_pid(*p, 10000, NULL)) {
			kill(*p, SIGKILL);
			t_wait_pid(*p, 5000, NULL);
		}
		*p = 0;
	}
}

static pid_t start_arbiter(const char *zone, const char *extra)
{
	char logf[128];
	snprintf(logf, sizeof(logf), LOG "-arbiter-%s.log", zone);
	return t_spawn(logf,
		       "%s --controllers arbiter --endpoints %s --docker-host %s --prefix %s --ttl 3s --metrics-addr '' "
		       "--arbiter-zone %s --mode-grace 4s --quorum-loss-grace 5s --arbiter-managers %s,%s,%s %s",
		       t_bin("swarmheald"), eps, socks[1], prefix, zone, socks[1], socks[2], socks[3], extra);
}

static int ready_nodes(int via)
{
	char cmd[512], out[16];
	snprintf(cmd, sizeof(cmd), "docker -H %s node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready", socks[via]);
	t_sh_line(cmd, out, sizeof(out));
	return atoi(out);
}

static void heal_all(void)
{
	for (int i = 1; i <= N; i++)
		t_sh("%s heal %d >/dev/null 2>&1", lab, i);
}

static void test_zones(void)
{
	char v[2048], cluster_before[128], cluster_after[128], cmd[512];
	snprintf(cmd, sizeof(cmd), "docker -H %s info --format '{{.Swarm.Cluster.ID}}'", socks[1]);
	t_sh_line(cmd, cluster_before, sizeof(cluster_before));
	/* b first: it leads; a campaigns behind it */
	arb_b = start_arbiter("b", "");
	CU_ASSERT_TRUE_FATAL(wait_leader(arb_b, 10000));
	arb_a = start_arbiter("a", "");
	CU_ASSERT(wait_mode("normal", 10000) >= 0);
	CU_ASSERT_TRUE(wait_leader(arb_b, 5000));
	etcd_value("/arbiter/mode", v, sizeof(v));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "{\"zone\":\"a\",\"nodes\":2,\"live\":2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "{\"zone\":\"b\",\"nodes\":2,\"live\":2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "{\"zone\":\"c\",\"nodes\":1,\"live\":1"));

	/* 1. cut zone c: two of three zones live, normal stays */
	t_sh("%s cut 3", lab);
	sleep(9); /* heartbeat TTL 2 s + mode grace 4 s + margin */
	CU_ASSERT_TRUE(mode_is("normal"));
	CU_ASSERT_EQUAL(actions_matching("arbiter", "\"kind\":\"mode\""), 1);

	/* 2. cut zone b as well: single-zone, survivor a, the arbiter moves into zone a */
	int64_t t0 = sh_mono_ns();
	t_sh("%s cut 2; %s cut 5", lab, lab);
	double secs = wait_mode("single-zone", 20000);
	CU_ASSERT(secs >= 0);
	fprintf(stderr, "zones b and c cut: single-zone published after %.2f s (agent ttl 2 s, mode grace 4 s)\n", secs);
	etcd_value("/arbiter/mode", v, sizeof(v));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "\"survivor\":\"a\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "{\"zone\":\"b\",\"nodes\":2,\"live\":0"));
	CU_ASSERT_TRUE(wait_leader(arb_a, 10000));
	fprintf(stderr, "arbiter leader in zone a %.2f s after the cut\n", (double)(sh_mono_ns() - t0) / 1e9);
	CU_ASSERT(actions_matching("arbiter", "\"kind\":\"resign\"") >= 1);
	/* managers 2 and 3 are cut off: raft quorum lost; without the flag it is reported, nothing forced */
	CU_ASSERT_TRUE(wait_quorum("refused", 45000));
	CU_ASSERT(actions_matching("arbiter", "\"kind\":\"quorum-lost\"") >= 1);
	CU_ASSERT_EQUAL(actions_matching("arbiter", "\"result\":\"ok\""), 0);
	etcd_value("/arbiter/quorum", v, sizeof(v));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "--allow-force-new-cluster is off"));

	/* 3. heal: normal again, the swarm's own cluster (nothing was forced) */
	heal_all();
	CU_ASSERT(wait_mode("normal", 20000) >= 0);
	CU_ASSERT_TRUE(wait_quorum("recovered", 60000));
	/* Swarm.Cluster is empty while a manager has no leader: read it once it is back */
	cluster_after[0] = '\0';
	for (int64_t until = t_now_ms() + 20000; strlen(cluster_after) < 10 && t_now_ms() < until;) {
		t_sh_line(cmd, cluster_after, sizeof(cluster_after));
		if (strlen(cluster_after) < 10)
			usleep(200000);
	}
	if (strcmp(cluster_before, cluster_after))
		fprintf(stderr, "cluster ID before '%s', after '%s'\n", cluster_before, cluster_after);
	CU_ASSERT_STRING_EQUAL(cluster_before, cluster_after);
	for (int64_t until = t_now_ms() + 60000; ready_nodes(1) < N && t_now_ms() < until;)
		usleep(100000);

	/* 4. a single lost heartbeat does not change the mode: zone b down to node 2, then node 4 blinks */
	t_sh("%s cut 5", lab);
	sleep(4);
	CU_ASSERT_TRUE(mode_is("normal"));
	int modes = actions_matching("arbiter", "\"kind\":\"mode\"");
	kill(agents[4], SIGSTOP); /* its lease (2 s) runs out; the key goes */
	sleep(3);
	kill(agents[4], SIGCONT); /* it notices, takes a new lease and writes again */
	sleep(5);
	CU_ASSERT_TRUE(mode_is("normal"));
	CU_ASSERT_EQUAL(actions_matching("arbiter", "\"kind\":\"mode\""), modes);

	/* 5. every zone down to one live node: read-only, the drain controller refuses and says why */
	t_sh("%s cut 4", lab);
	secs = wait_mode("read-only", 20000);
	CU_ASSERT(secs >= 0);
	fprintf(stderr, "nodes 4 and 5 cut: read-only published after %.2f s\n", secs);
	/* the drain controller (started now: before, it would rightly have drained the cut nodes) */
	drainer = t_spawn(LOG "-drain.log",
			  "%s --controllers drain --endpoints %s --docker-host %s --prefix %s --ttl 3s --metrics-addr '' "
			  "--drain-grace 1s --restore-after 60s",
			  t_bin("swarmheald"), eps, socks[1], prefix);
	int refused = 0;
	for (int64_t until = t_now_ms() + 20000; !refused && t_now_ms() < until;) {
		refused = actions_matching("drain", "but the arbiter mode is read-only");
		usleep(100000);
	}
	CU_ASSERT(refused >= 1);
	CU_ASSERT_EQUAL(actions_matching("drain", "\"kind\":\"drain\""), 0);

	/* 6. heal: normal */
	heal_all();
	CU_ASSERT(wait_mode("normal", 20000) >= 0);
	stop_pid(&drainer, SIGTERM);
	stop_pid(&arb_a, SIGTERM);
	stop_pid(&arb_b, SIGTERM);
}

static void test_quorum_guard(void)
{
	char cmd[512], out[256];
	for (int64_t until = t_now_ms() + 60000; ready_nodes(1) < N && t_now_ms() < until;)
		usleep(100000);
	CU_ASSERT_EQUAL(t_sh("docker -H %s service create -d --name arbweb --replicas 2 swarmheal-test-busybox "
			     "sleep 86400 >/dev/null",
			     socks[1]),
			0);
	pid_t g = start_arbiter("a", "--allow-force-new-cluster");
	CU_ASSERT_TRUE(wait_leader(g, 10000));
	sleep(2);
	CU_ASSERT_FALSE(quorum_state_is("lost"));
	/* two of three managers die */
	int64_t t0 = sh_mono_ns();
	stop_pid(&agents[2], SIGKILL);
	stop_pid(&agents[3], SIGKILL);
	t_sh("%s kill 2; %s kill 3", lab, lab);
	/* the record moves on to "recovered" as soon as the new cluster has its leader: wait for the action */
	int done = 0;
	for (int64_t until = t_now_ms() + 60000; !done && t_now_ms() < until;) {
		done = actions_matching("arbiter", "\"kind\":\"force-new-cluster\",\"target\":\"[^\"]*\",\"reason\":\"[^\"]*\",\"result\":\"ok\"");
		if (!done)
			usleep(100000);
	}
	CU_ASSERT_TRUE(done);
	double forced = (double)(sh_mono_ns() - t0) / 1e9;
	int ok = 0;
	for (int64_t until = t_now_ms() + 60000; !ok && t_now_ms() < until;) {
		ok = t_sh("docker -H %s node ls >/dev/null 2>&1", socks[1]) == 0;
		if (!ok)
			usleep(100000);
	}
	CU_ASSERT_TRUE(ok);
	fprintf(stderr, "two managers killed: new cluster forced after %.2f s, docker node ls works after %.2f s "
		"(quorum-loss grace 5 s)\n", forced, (double)(sh_mono_ns() - t0) / 1e9);
	/* workers and services kept */
	snprintf(cmd, sizeof(cmd), "docker -H %s node ls --format '{{.ID}}' | grep -c -e %s -e %s", socks[1], ids[4], ids[5]);
	t_sh_line(cmd, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "2");
	CU_ASSERT_EQUAL(t_sh("docker -H %s service inspect arbweb >/dev/null 2>&1", socks[1]), 0);
	/* the record says which managers to re-join, one at a time */
	CU_ASSERT_TRUE(wait_quorum("recovered", 10000));
	char v[2048];
	etcd_value("/arbiter/quorum", v, sizeof(v));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, ids[2]));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, ids[3]));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "one at a time"));
	/* never twice for the same loss */
	sleep(3);
	/* one intent, one call (the zones test's refusal, flag off, shares the kind) */
	CU_ASSERT_EQUAL(actions_matching("arbiter", "\"kind\":\"force-new-cluster\".*\"result\":\"started\""), 1);
	CU_ASSERT_EQUAL(actions_matching("arbiter", "\"kind\":\"force-new-cluster\".*\"result\":\"ok\""), 1);
	stop_pid(&g, SIGTERM);
}

int main(int argc, char **argv)
{
	lab = getenv("SWARMHEAL_LAB");
	if (!lab || access(lab, X_OK)) {
		fprintf(stderr, "no lab (tests/run.sh sets SWARMHEAL_LAB): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	gethostname(host, sizeof(host) - 1);
	/* run.sh's 3-node lab, if it is up, is put back afterwards; a lab this test made is taken down (its
	 * engines would otherwise keep the machine lock's file descriptor, and the lock, after the test ends) */
	int had_lab = t_sh("%s sock 3 >/dev/null 2>&1", lab) == 0;
	if (t_sh("%s up %d --managers 3 >" LOG "-up.log 2>&1", lab, N)) {
		fprintf(stderr, "cannot bring up a %d-node lab (see " LOG "-up.log)\n", N);
		return 1;
	}
	for (int i = 1; i <= N; i++) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "%s sock %d", lab, i);
		t_sh_line(cmd, socks[i], sizeof(socks[i]));
		snprintf(cmd, sizeof(cmd), "%s id %d", lab, i);
		t_sh_line(cmd, ids[i], sizeof(ids[i]));
		t_sh("%s zone %d %s", lab, i, zone_of[i]);
	}
	/* etcd on loopback and on the lab bridge, so agents in the nodes' namespaces reach it through their links */
	int cp = t_free_port(), pp;
	do
		pp = t_free_port();
	while (pp == cp);
	t_sh("rm -rf " LOG "-etcd");
	etcd_pid = t_spawn(LOG "-etcd.log",
			   "etcd --name arb --data-dir " LOG "-etcd --listen-client-urls http://127.0.0.1:%d,http://" BRIDGE
			   ":%d --advertise-client-urls http://127.0.0.1:%d --listen-peer-urls http://127.0.0.1:%d "
			   "--initial-advertise-peer-urls http://127.0.0.1:%d --initial-cluster arb=http://127.0.0.1:%d",
			   cp, cp, cp, pp, pp, pp);
	snprintf(eps, sizeof(eps), "http://127.0.0.1:%d", cp);
	snprintf(eps_bridge, sizeof(eps_bridge), "http://" BRIDGE ":%d", cp);
	for (int64_t until = t_now_ms() + 20000; t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s endpoint health >/dev/null 2>&1", eps) && t_now_ms() < until;)
		usleep(200000);
	snprintf(prefix, sizeof(prefix), "/arb-%d", (int)getpid());
	for (int i = 1; i <= N; i++)
		start_agent(i);
	sleep(2);
	static const t_case cases[] = {
		{"zones", test_zones},
		{"quorum_guard", test_quorum_guard},
		{NULL, NULL},
	};
	int rc = t_run("arbiter_lab", cases, argc, argv);
	for (int i = 1; i <= N; i++)
		stop_pid(&agents[i], SIGTERM);
	stop_pid(&drainer, SIGKILL);
	stop_pid(&arb_a, SIGKILL);
	stop_pid(&arb_b, SIGKILL);
	stop_pid(&etcd_pid, SIGKILL);
	t_sh("rm -rf " LOG "-etcd");
	/* the other lab tests expect run.sh's 3-node lab */
	if (had_lab && t_sh("%s up 3 >>" LOG "-up.log 2>&1", lab))
		fprintf(stderr, "cannot restore the 3-node lab (see " LOG "-up.log)\n");
	else if (!had_lab)
		t_sh("%s down >>" LOG "-up.log 2>&1", lab);
	return rc;
}
