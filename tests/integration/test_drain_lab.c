/* SPDX-License-Identifier: MIT */
/* test_drain_lab.c - swarmheal-agent and swarmheald's drain controller against the 3-node lab and real etcd */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

static const char *lab, *eps;
static char socks[4][256], ids[4][64], prefix[64];
static pid_t agents[4], daemon_pid;

static void popen_line(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	out[0] = '\0';
	if (f) {
		if (!fgets(out, (int)len, f))
			out[0] = '\0';
		pclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
}

static void start_agent(int i)
{
	agents[i] = t_spawn("/tmp/swarmheal-drain-agent.log", "%s --endpoints %s --docker-host %s --prefix %s --ttl 2s",
			    t_bin("swarmheal-agent"), eps, socks[i], prefix);
}

static void stop_agent(int i, int sig)
{
	if (agents[i] > 0) {
		kill(agents[i], sig);
		t_wait_pid(agents[i], 5000, NULL);
		agents[i] = 0;
	}
}

static void availability(int i, char *out, size_t len)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "docker -H %s node inspect %s --format '{{.Spec.Availability}}' 2>/dev/null", socks[1], ids[i]);
	popen_line(cmd, out, len);
}

static int wait_availability(int i, const char *want, int ms)
{
	char a[32];
	for (int t = 0; t < ms; t += 50) {
		availability(i, a, sizeof(a));
		if (!strcmp(a, want))
			return 1;
		usleep(50000);
	}
	return 0;
}

static int actions_matching(const char *needle)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/ --print-value-only | grep -c '%s'",
		 eps, prefix, needle);
	char out[32];
	popen_line(cmd, out, sizeof(out));
	return atoi(out);
}

/* every engine up, every link healed, every node Ready and active */
static void lab_healthy(void)
{
	for (int i = 1; i <= 3; i++) {
		t_sh("%s heal %d >/dev/null 2>&1", lab, i);
		if (t_sh("docker -H %s info >/dev/null 2>&1", socks[i]))
			t_sh("%s start %d >/dev/null 2>&1", lab, i);
	}
	for (int t = 0; t < 300; t++) {
		char out[16], cmd[512];
		snprintf(cmd, sizeof(cmd), "docker -H %s node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready", socks[1]);
		popen_line(cmd, out, sizeof(out));
		if (atoi(out) == 3)
			break;
		usleep(100000);
	}
}

static void activate_all(void)
{
	for (int i = 1; i <= 3; i++)
		t_sh("docker -H %s node update --availability active %s >/dev/null 2>&1", socks[1], ids[i]);
}

/* a healthy lab, a fresh key prefix, an agent on every node */
static void start_agents_round(const char *name)
{
	lab_healthy();
	snprintf(prefix, sizeof(prefix), "/td-%s-%d", name, (int)getpid());
	activate_all();
	for (int i = 1; i <= 3; i++)
		start_agent(i);
	sleep(1); /* heartbeats written before the controller looks */
}

/* SIGTERM a swarmheald: it resigns and exits 0 */
static void stop_daemon(pid_t pid)
{
	kill(pid, SIGTERM);
	int st = -1;
	CU_ASSERT_TRUE(t_wait_pid(pid, 10000, &st));
	CU_ASSERT_EQUAL(st, 0);
}

/* agents stopped, every engine up, every link healed, every node active */
static void end_round(void)
{
	for (int i = 1; i <= 3; i++)
		stop_agent(i, SIGTERM);
	lab_healthy();
	activate_all();
}

static void setup_round_flags(const char *name, const char *extra)
{
	start_agents_round(name);
	char logf[128];
	snprintf(logf, sizeof(logf), "/tmp/swarmheal-drain-%s.log", name);
	daemon_pid = t_spawn(logf,
			     "%s --endpoints %s --docker-host %s --prefix %s --restore-after 2s --ttl 3s --metrics-addr '' %s",
			     t_bin("swarmheald"), eps, socks[1], prefix, extra);
	sleep(1);
}

static void setup_round(const char *name)
{
	setup_round_flags(name, "");
}

static void teardown_round(void)
{
	stop_daemon(daemon_pid);
	end_round();
}

static void test_kill_worker_drained_then_restored(void)
{
	setup_round("kill");
	int64_t t0 = sh_mono_ns();
	stop_agent(3, SIGKILL); /* a host's death: agent, engine, tasks */
	CU_ASSERT_EQUAL(t_sh("%s kill 3", lab), 0);
	CU_ASSERT_TRUE(wait_availability(3, "drain", 10000));
	double secs = (double)(sh_mono_ns() - t0) / 1e9;
	fprintf(stderr, "killed worker drained after %.2f s (agent ttl 2 s)\n", secs);
	CU_ASSERT(secs < 3.5);
	CU_ASSERT(actions_matching("heartbeat key is gone") >= 1);
	/* bring it back: restored after --restore-after 2s */
	CU_ASSERT_EQUAL(t_sh("%s start 3", lab), 0);
	start_agent(3);
	CU_ASSERT_TRUE(wait_availability(3, "active", 30000));
	CU_ASSERT(actions_matching("\"kind\":\"restore\"") >= 1);
	teardown_round();
}

static void test_engine_stop_drained_from_agent_report(void)
{
	setup_round("engine");
	CU_ASSERT_EQUAL(t_sh("%s stop 2", lab), 0);
	CU_ASSERT_TRUE(wait_availability(2, "drain", 8000));
	CU_ASSERT(actions_matching("agent reports its engine down") >= 1);
	CU_ASSERT_EQUAL(t_sh("%s start 2", lab), 0);
	CU_ASSERT_TRUE(wait_availability(2, "active", 30000));
	teardown_round();
}

static void test_partition_nothing_drained(void)
{
	/* leases of nodes lost together expire up to ttl/3 apart: a grace of the
	 * agent TTL makes them one event, as an operator would configure it */
	setup_round_flags("partition", "--drain-grace 2s");
	/* we lose sight of two of three nodes at once */
	stop_agent(2, SIGKILL);
	stop_agent(3, SIGKILL);
	t_sh("%s cut 2; %s cut 3", lab, lab);
	sleep(5);
	char a[32];
	availability(2, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "active");
	availability(3, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "active");
	CU_ASSERT(actions_matching("suspecting our own partition") >= 2);
	CU_ASSERT_EQUAL(actions_matching("\"kind\":\"drain\""), 0);
	teardown_round();
}

static void test_manual_request_min_available(void)
{
	setup_round("manual");
	/* a service that needs all 3 of its tasks: a manual drain must wait */
	CU_ASSERT_EQUAL_FATAL(t_sh("docker -H %s service create -d --no-resolve-image --name pdb --replicas 3 "
				   "--replicas-max-per-node 1 --stop-grace-period 1s --label swarmheal.min-available=3 "
				   "swarmheal-test-busybox sleep 1000 >/dev/null",
				   socks[1]),
			      0);
	for (int t = 0; t < 300; t++) {
		char out[16], cmd[512];
		snprintf(cmd, sizeof(cmd), "docker -H %s service ps pdb --filter desired-state=running --format '{{.CurrentState}}' | grep -c Running",
			 socks[1]);
		popen_line(cmd, out, sizeof(out));
		if (atoi(out) == 3)
			break;
		usleep(100000);
	}
	CU_ASSERT_EQUAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s put %s/drain/requests/%s '{\"reason\":\"kernel update\",\"requested_by\":\"test\"}' >/dev/null",
			     eps, prefix, ids[2]),
			0);
	sleep(3);
	char a[32];
	availability(2, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "active");
	CU_ASSERT(actions_matching("below its min-available 3") >= 1);
	/* capacity returns: the budget drops to 2 */
	CU_ASSERT_EQUAL(t_sh("docker -H %s service update -d --label-add swarmheal.min-available=2 pdb >/dev/null", socks[1]), 0);
	CU_ASSERT_TRUE(wait_availability(2, "drain", 10000));
	CU_ASSERT(actions_matching("manual request") >= 1);
	/* held while the request stands, restored once it is withdrawn */
	sleep(3);
	availability(2, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "drain");
	CU_ASSERT_EQUAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s del %s/drain/requests/%s >/dev/null", eps, prefix, ids[2]), 0);
	CU_ASSERT_TRUE(wait_availability(2, "active", 10000));
	t_sh("docker -H %s service rm pdb >/dev/null", socks[1]);
	teardown_round();
}

static pid_t start_daemon(const char *log)
{
	return t_spawn(log, "%s --endpoints %s --docker-host %s --prefix %s --restore-after 60s --ttl 3s --max-drained 2 --metrics-addr ''",
		       t_bin("swarmheald"), eps, socks[1], prefix);
}

static void test_two_replicas_failover(void)
{
	start_agents_round("ha");
	pid_t a = start_daemon("/tmp/swarmheal-drain-ha-a.log");
	sleep(1);
	pid_t b = start_daemon("/tmp/swarmheal-drain-ha-b.log");
	sleep(1);
	CU_ASSERT_TRUE(t_wait_file("/tmp/swarmheal-drain-ha-a.log", "msg=\"leading\"", 100));
	CU_ASSERT_FALSE(t_wait_file("/tmp/swarmheal-drain-ha-b.log", "msg=\"leading\"", 0));
	/* a previous leader recorded its intent to drain node 2 and died before the engine call */
	CU_ASSERT_EQUAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s put %s/drain/state/%s "
			     "'{\"state\":\"draining\",\"reason\":\"heartbeat key is gone\",\"flaps\":0}' >/dev/null",
			     eps, prefix, ids[2]),
			0);
	/* the leader dies too (SIGKILL: no resign); node 3 dies at the same moment */
	kill(a, SIGKILL);
	t_wait_pid(a, 2000, NULL);
	int64_t t0 = sh_mono_ns();
	stop_agent(3, SIGKILL);
	CU_ASSERT_EQUAL(t_sh("%s kill 3", lab), 0);
	/* the standby takes over once the leader's lease (3 s) ends, finishes node 2's drain, drains node 3 */
	CU_ASSERT_TRUE(wait_availability(3, "drain", 10000));
	fprintf(stderr, "standby drained the dead worker %.2f s after the leader was killed (leader ttl 3 s)\n",
		(double)(sh_mono_ns() - t0) / 1e9);
	CU_ASSERT_TRUE(wait_availability(2, "drain", 5000));
	CU_ASSERT_TRUE(t_wait_file("/tmp/swarmheal-drain-ha-b.log", "msg=\"leading\"", 100));
	CU_ASSERT_EQUAL(actions_matching("finishing a drain a previous leader started\",\"result\":\"ok\""), 1);
	/* exactly one successful drain per node */
	char needle[200];
	snprintf(needle, sizeof(needle), "\"kind\":\"drain\",\"target\":\"%s\",\"reason\":\"heartbeat key is gone\",\"result\":\"ok\"", ids[3]);
	CU_ASSERT_EQUAL(actions_matching(needle), 1);
	stop_daemon(b);
	end_round();
}

static void test_agent_heartbeat_and_autoheal(void)
{
	lab_healthy();
	snprintf(prefix, sizeof(prefix), "/td-agent-%d", (int)getpid());
	t_sh("docker -H %s rm -f ah >/dev/null 2>&1", socks[2]);
	CU_ASSERT_EQUAL_FATAL(t_sh("docker -H %s run -d --name ah --label autoheal=true --health-cmd 'test -f /tmp/ok' "
				   "--health-interval 1s --health-retries 1 swarmheal-test-busybox sh -c 'sleep 1000' >/dev/null",
				   socks[2]),
			      0);
	char before[64], cmd[600];
	snprintf(cmd, sizeof(cmd), "docker -H %s inspect ah --format '{{.State.StartedAt}}'", socks[2]);
	popen_line(cmd, before, sizeof(before));
	pid_t ag = t_spawn("/tmp/swarmheal-agent-ah.log", "%s --endpoints %s --docker-host %s --prefix %s --autoheal --autoheal-stop-timeout 1s",
			   t_bin("swarmheal-agent"), eps, socks[2], prefix);
	/* the heartbeat: engine up, hostname from the engine, the node's Swarm certificate expiry */
	char hb[2048];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get %s/nodes/%s --print-value-only", eps, prefix, ids[2]);
	for (int t = 0; t < 50; t++) {
		popen_line(cmd, hb, sizeof(hb));
		if (hb[0])
			break;
		usleep(100000);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(hb, "\"engine\":\"up\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(hb, "\"hostname\":\"lab-n2\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(hb, "\"cert_not_after\":\"20"));
	/* the unhealthy container is restarted, and the restart is recorded */
	int restarted = 0;
	for (int t = 0; t < 150 && !restarted; t++) {
		char now[64];
		snprintf(cmd, sizeof(cmd), "docker -H %s inspect ah --format '{{.State.StartedAt}}'", socks[2]);
		popen_line(cmd, now, sizeof(now));
		restarted = now[0] && strcmp(now, before);
		usleep(100000);
	}
	CU_ASSERT_TRUE(restarted);
	CU_ASSERT(actions_matching("\"kind\":\"restart\"") >= 1);
	CU_ASSERT(actions_matching("\"result\":\"ok\"") >= 1);
	kill(ag, SIGTERM);
	int st;
	CU_ASSERT_TRUE(t_wait_pid(ag, 10000, &st));
	CU_ASSERT_EQUAL(st, 0);
	/* SIGTERM revoked the lease: the heartbeat is gone */
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get %s/nodes/%s --print-value-only", eps, prefix, ids[2]);
	popen_line(cmd, hb, sizeof(hb));
	CU_ASSERT_STRING_EQUAL(hb, "");
	t_sh("docker -H %s rm -f ah >/dev/null 2>&1", socks[2]);
}

static void test_dry_run_then_sighup(void)
{
	const char *cfg = "/tmp/swarmheal-drain-test.conf";
	FILE *f = fopen(cfg, "w");
	fprintf(f, "# start careful\ndry-run = true\nrestore-after = 2s\n");
	fclose(f);
	start_agents_round("dry");
	pid_t dm = t_spawn("/tmp/swarmheal-drain-dry.log", "%s --endpoints %s --docker-host %s --prefix %s --config %s --metrics-addr 127.0.0.1:19474",
			   t_bin("swarmheald"), eps, socks[1], prefix, cfg);
	sleep(1);
	stop_agent(3, SIGKILL);
	CU_ASSERT_EQUAL(t_sh("%s stop 3", lab), 0);
	sleep(4);
	char a[32];
	availability(3, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "active"); /* dry run: decided, recorded, not done */
	CU_ASSERT_EQUAL(actions_matching("\"kind\":\"would-drain\""), 1);
	CU_ASSERT_EQUAL(t_sh("curl -s 127.0.0.1:19474/metrics | grep -q 'swarmheal_actions_total{controller=\"drain\",kind=\"would-drain\",result=\"dry-run\"} 1'"), 0);
	CU_ASSERT_EQUAL(t_sh("curl -sf 127.0.0.1:19474/readyz >/dev/null && curl -sf 127.0.0.1:19474/healthz >/dev/null"), 0);
	/* a bad file on SIGHUP changes nothing */
	f = fopen(cfg, "w");
	fprintf(f, "dry-run = false\nrestore-after = soon\n");
	fclose(f);
	kill(dm, SIGHUP);
	sleep(2);
	availability(3, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "active");
	CU_ASSERT_TRUE(t_wait_file("/tmp/swarmheal-drain-dry.log", "config not applied", 100));
	/* a good one applies at once */
	f = fopen(cfg, "w");
	fprintf(f, "dry-run = false\nrestore-after = 2s\n");
	fclose(f);
	kill(dm, SIGHUP);
	CU_ASSERT_TRUE(wait_availability(3, "drain", 5000));
	CU_ASSERT_TRUE(t_wait_file("/tmp/swarmheal-drain-dry.log", "configuration reloaded", 100));
	stop_daemon(dm);
	end_round();
	unlink(cfg);
}

static double restore_time(void)
{
	int64_t t0 = sh_mono_ns();
	start_agent(3);
	if (!wait_availability(3, "active", 30000))
		return -1;
	return (double)(sh_mono_ns() - t0) / 1e9;
}

static void test_flap_holdoff_grows(void)
{
	setup_round("flap");
	/* first failure: drained, restored after restore-after (2 s) */
	stop_agent(3, SIGKILL);
	CU_ASSERT_TRUE(wait_availability(3, "drain", 8000));
	double first = restore_time();
	/* fails again right after the restore: a flap, drained again, restore waits twice as long */
	stop_agent(3, SIGKILL);
	CU_ASSERT_TRUE(wait_availability(3, "drain", 8000));
	double second = restore_time();
	fprintf(stderr, "flapping node: restored %.1f s after recovery the first time, %.1f s the second (restore-after 2 s)\n",
		first, second);
	CU_ASSERT(first > 1.5 && first < 4.5);
	CU_ASSERT(second >= 3.8);
	CU_ASSERT(second > first + 1.5);
	CU_ASSERT(actions_matching("failed again soon after a restore") >= 1);
	teardown_round();
}

static void test_bad_flags(void)
{
	int st;
	pid_t p = t_spawn("/tmp/swarmheal-drain-flags.log", "%s --controllers nosuch", t_bin("swarmheald"));
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 64);
	CU_ASSERT_TRUE(t_wait_file("/tmp/swarmheal-drain-flags.log", "unknown controller 'nosuch' in --controllers", 100));
	p = t_spawn("/tmp/swarmheal-drain-flags.log", "%s --ttl 1s", t_bin("swarmheal-agent"));
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 64);
	p = t_spawn("/tmp/swarmheal-drain-flags.log", "%s --endpoints http://127.0.0.1:1 --docker-host %s --metrics-addr ''",
		    t_bin("swarmheald"), socks[1]);
	CU_ASSERT_TRUE(t_wait_pid(p, 10000, &st));
	CU_ASSERT_EQUAL(st, 69);
	CU_ASSERT_TRUE(t_wait_file("/tmp/swarmheal-drain-flags.log", "cannot reach etcd at 'http://127.0.0.1:1'", 100));
	FILE *f = fopen("/tmp/swarmheal-drain-bad.conf", "w");
	fprintf(f, "max-drained = many\n");
	fclose(f);
	p = t_spawn("/tmp/swarmheal-drain-flags.log", "%s --config /tmp/swarmheal-drain-bad.conf --metrics-addr ''",
		    t_bin("swarmheald"));
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 64);
	CU_ASSERT_TRUE(t_wait_file("/tmp/swarmheal-drain-flags.log", "line 1: invalid --max-drained 'many'", 100));
	unlink("/tmp/swarmheal-drain-bad.conf");
	/* the daemons under valgrind: a real run ended by SIGTERM leaks nothing */
	const char *vg = "valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99";
	p = t_spawn("/tmp/swarmheal-drain-vg.log", "%s %s --endpoints %s --docker-host %s --prefix /td-vg-%d --metrics-addr 127.0.0.1:19476",
		    vg, t_bin("swarmheald"), eps, socks[1], (int)getpid());
	sleep(4);
	kill(p, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(p, 20000, &st));
	CU_ASSERT_EQUAL(st, 0);
	p = t_spawn("/tmp/swarmheal-agent-vg.log", "%s %s --endpoints %s --docker-host %s --prefix /td-vg-%d", vg,
		    t_bin("swarmheal-agent"), eps, socks[2], (int)getpid());
	sleep(3);
	kill(p, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(p, 20000, &st));
	CU_ASSERT_EQUAL(st, 0);
}

int main(int argc, char **argv)
{
	lab = getenv("SWARMHEAL_LAB");
	eps = t_endpoints();
	if (!lab || !eps || t_sh("%s sock 3 >/dev/null 2>&1", lab)) {
		fprintf(stderr, "no lab or etcd (tests/run.sh brings them up): skipped\n");
		return 77;
	}
	for (int i = 1; i <= 3; i++) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "%s sock %d", lab, i);
		popen_line(cmd, socks[i], sizeof(socks[i]));
		snprintf(cmd, sizeof(cmd), "%s id %d", lab, i);
		popen_line(cmd, ids[i], sizeof(ids[i]));
	}
	static const t_case cases[] = {
		{"bad_flags", test_bad_flags},
		{"agent_heartbeat_and_autoheal", test_agent_heartbeat_and_autoheal},
		{"kill_worker_drained_then_restored", test_kill_worker_drained_then_restored},
		{"engine_stop_drained_from_agent_report", test_engine_stop_drained_from_agent_report},
		{"manual_request_min_available", test_manual_request_min_available},
		{"partition_nothing_drained", test_partition_nothing_drained},
		{"two_replicas_failover", test_two_replicas_failover},
		{"dry_run_then_sighup", test_dry_run_then_sighup},
		{"flap_holdoff_grows", test_flap_holdoff_grows},
		{NULL, NULL},
	};
	return t_run("drain_lab", cases, argc, argv);
}
