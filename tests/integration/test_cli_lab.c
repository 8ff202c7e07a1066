/* SPDX-License-Identifier: MIT */
/* test_cli_lab.c - swarmhealctl with the 3-node lab: Swarm's view, drain/uncordon through the drain controller,
 * the min-available gate asked of drain_decide, and get nodes timed next to `docker node ls` */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

static const char *lab, *eps;
static char socks[4][256], ids[4][64], prefix[128], dir[128];
static pid_t agents[4], daemon_pid;

/* swarmhealctl with etcd, the test prefix and node 1's engine (the manager); stdout/stderr in dir/out, dir/err */
static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl(const char *fmt, ...)
{
	char args[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return t_sh("%s --endpoints %s --prefix %s --docker-host %s %s >%s/out 2>%s/err", t_bin("swarmhealctl"), eps,
		    prefix, socks[1], args, dir, dir);
}

static char *out(void)
{
	char p[200];
	snprintf(p, sizeof(p), "%s/out", dir);
	return t_read_file(p);
}

static void availability(int i, char *o, size_t len)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "docker -H %s node inspect %s --format '{{.Spec.Availability}}' 2>/dev/null",
		 socks[1], ids[i]);
	t_sh_line(cmd, o, len);
}

static void test_swarm_view(void)
{
	CU_ASSERT_EQUAL(ctl("get nodes -o 'jsonpath={.items[*].swarm.state}'"), 0);
	char *o = out();
	CU_ASSERT_STRING_EQUAL(o, "ready ready ready\n");
	free(o);
	CU_ASSERT_EQUAL(ctl("get nodes -o wide"), 0);
	o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "manager"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, ids[3]));
	free(o);
	/* no agent yet: every node is unmonitored, and status says a person should look */
	CU_ASSERT_EQUAL(ctl("get status --fail-on-degraded"), 3);
	o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "no heartbeat: no agent runs on this node"));
	free(o);
	/* an engine that does not answer: a warning, the etcd view still answers */
	CU_ASSERT_EQUAL(t_sh("%s --endpoints %s --prefix %s --docker-host unix:///nonexistent.sock get nodes >%s/out "
			     "2>%s/err",
			     t_bin("swarmhealctl"), eps, prefix, dir, dir),
			0);
	char p[200];
	snprintf(p, sizeof(p), "%s/err", dir);
	char *e = t_read_file(p);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "warning: Swarm:"));
	free(e);
}

static void start_all(void)
{
	for (int i = 1; i <= 3; i++)
		agents[i] = t_spawn("/tmp/swarmheal-cli-lab-agent.log",
				    "%s --endpoints %s --docker-host %s --prefix %s --ttl 2s", t_bin("swarmheal-agent"),
				    eps, socks[i], prefix);
	daemon_pid =
		t_spawn("/tmp/swarmheal-cli-lab-daemon.log",
			"%s --endpoints %s --docker-host %s --prefix %s --restore-after 1s --ttl 3s --metrics-addr ''",
			t_bin("swarmheald"), eps, socks[1], prefix);
	/* the drain controller leads and every node is monitored: nothing needs a person */
	int ok = 0;
	for (int t = 0; t < 100 && !ok; t++) {
		ok = ctl("get status --fail-on-degraded") == 0;
		if (!ok)
			usleep(200 * 1000);
	}
	CU_ASSERT_TRUE_FATAL(ok);
}

static void stop_all(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		t_wait_pid(daemon_pid, 10000, NULL);
	}
	for (int i = 1; i <= 3; i++)
		if (agents[i] > 0) {
			kill(agents[i], SIGTERM);
			t_wait_pid(agents[i], 10000, NULL);
		}
}

/* drain -> the drain controller drains -> wait returns; uncordon -> it restores -> wait returns. */
static void test_drain_through_controller(void)
{
	start_all();
	CU_ASSERT_EQUAL(ctl("drain %s --reason 'lab maintenance'", ids[3]), 0);
	char *o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "min-available gate: lets it through"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "drain controller: led by"));
	free(o);
	int64_t t0 = sh_mono_ns();
	CU_ASSERT_EQUAL(ctl("wait node %s --for=drained --timeout 30s", ids[3]), 0);
	printf("\n  drain request -> drained: %lld ms\n", (long long)((sh_mono_ns() - t0) / SH_NS_PER_MS));
	char a[32];
	availability(3, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "drain");
	CU_ASSERT_EQUAL(
		ctl("get nodes -l name=%s -o 'jsonpath={.items[0].drained_by} {.items[0].drain_state}'", ids[3]), 0);
	o = out();
	CU_ASSERT_STRING_EQUAL(o, "swarmheal drained\n");
	free(o);
	CU_ASSERT_EQUAL(ctl("uncordon %s", ids[3]), 0);
	t0 = sh_mono_ns();
	CU_ASSERT_EQUAL(ctl("wait node %s --for=active --timeout 30s", ids[3]), 0);
	printf("  uncordon -> active: %lld ms (restore-after 1s)\n", (long long)((sh_mono_ns() - t0) / SH_NS_PER_MS));
	availability(3, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "active");
	CU_ASSERT_EQUAL(ctl("describe node %s", ids[3]), 0);
	o = out();
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "manual request"));
	free(o);
}

/* The gate refuses what the drain controller would refuse: a service that needs all of its 3 tasks. */
static void test_gate_refuses(void)
{
	CU_ASSERT_EQUAL_FATAL(t_sh("docker -H %s service create -d --no-resolve-image --name clipdb --replicas 3 "
				   "--replicas-max-per-node 1 --stop-grace-period 1s --label swarmheal.min-available=3 "
				   "swarmheal-test-busybox sleep 1000 >/dev/null",
				   socks[1]),
			      0);
	for (int t = 0; t < 300; t++) {
		char n[16], cmd[512];
		snprintf(cmd, sizeof(cmd),
			 "docker -H %s service ps clipdb --filter desired-state=running --format '{{.CurrentState}}' | "
			 "grep -c Running",
			 socks[1]);
		t_sh_line(cmd, n, sizeof(n));
		if (atoi(n) == 3)
			break;
		usleep(100000);
	}
	CU_ASSERT_EQUAL(ctl("drain %s --reason 'kernel update'", ids[2]), 0);
	char *o = out();
	CU_ASSERT_PTR_NOT_NULL(
		strstr(o, "min-available gate: refuses it: manual drain of node"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "service 'clipdb' would keep 2 running tasks, below its min-available 3"));
	free(o);
	CU_ASSERT_EQUAL(ctl("drain %s --reason 'kernel update' -o 'jsonpath={.gate.allowed}'", ids[2]), 0);
	o = out();
	CU_ASSERT_STRING_EQUAL(o, "false\n");
	free(o);
	CU_ASSERT_EQUAL(ctl("uncordon %s", ids[2]), 0);
	/* describe service: Swarm's update state, for a service swarmheal has no record of yet */
	CU_ASSERT_EQUAL(ctl("describe service clipdb -o 'jsonpath={.swarm.name} {.swarm.replicas} {.state}'"), 0);
	o = out();
	CU_ASSERT_STRING_EQUAL(o, "clipdb 3 ok\n");
	free(o);
	t_sh("docker -H %s service rm clipdb >/dev/null", socks[1]);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double median_ms(const char *cmd, int runs)
{
	int64_t v[64];
	for (int i = 0; i < runs; i++) {
		int64_t t0 = sh_mono_ns();
		t_sh("%s >/dev/null 2>&1", cmd);
		v[i] = sh_mono_ns() - t0;
	}
	qsort(v, (size_t)runs, sizeof(v[0]), cmp64);
	return (double)v[runs / 2] / 1e6;
}

/* Side by side on the lab (figures, not asserts). */
static void test_timing_next_to_docker(void)
{
	char a[1024], b[1024], c[1024];
	snprintf(a, sizeof(a), "docker -H %s node ls", socks[1]);
	snprintf(b, sizeof(b), "%s --endpoints %s --prefix %s --docker-host %s get nodes", t_bin("swarmhealctl"), eps,
		 prefix, socks[1]);
	snprintf(c, sizeof(c), "%s --endpoints %s --prefix %s --docker-host %s get status", t_bin("swarmhealctl"), eps,
		 prefix, socks[1]);
	double da = median_ms(a, 21), db = median_ms(b, 21), dc = median_ms(c, 21);
	double load[1] = {0};
	getloadavg(load, 1);
	printf("\n  lab, median of 21: docker node ls %.1f ms; swarmhealctl get nodes --docker-host %.1f ms (%.2fx); "
	       "get status --docker-host %.1f ms (%.2fx); load average %.2f\n",
	       da, db, db / da, dc, dc / da, load[0]);
	CU_PASS("figures printed");
}

int main(int argc, char **argv)
{
	lab = getenv("SWARMHEAL_LAB");
	eps = t_endpoints();
	if (!lab || !eps || t_sh("%s sock 3 >/dev/null 2>&1", lab)) {
		fprintf(stderr, "no lab or etcd (tests/run.sh brings them up): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	for (int i = 1; i <= 3; i++) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "%s sock %d", lab, i);
		t_sh_line(cmd, socks[i], sizeof(socks[i]));
		snprintf(cmd, sizeof(cmd), "%s id %d", lab, i);
		t_sh_line(cmd, ids[i], sizeof(ids[i]));
	}
	snprintf(prefix, sizeof(prefix), "/t/cli-lab-%d", (int)getpid());
	snprintf(dir, sizeof(dir), "/tmp/test_cli_lab.%d", (int)getpid());
	mkdir(dir, 0700);
	static const t_case cases[] = {
		{"swarm_view", test_swarm_view},
		{"drain_through_controller", test_drain_through_controller},
		{"gate_refuses", test_gate_refuses},
		{"timing_next_to_docker", test_timing_next_to_docker},
		{NULL, NULL},
	};
	int rc = t_run("cli_lab", cases, argc, argv);
	stop_all();
	t_sh("rm -rf %s", dir);
	return rc;
}
