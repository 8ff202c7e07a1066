/* SPDX-License-Identifier: MIT */
/* test_agent_lab.c - swarmheal-agent alone against the 3-node lab and real etcd: stop mark, engine states, autoheal */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

static const char *lab, *eps;
static char socks[4][256], ids[4][64], prefix[64];

static pid_t start_agent(int node, const char *log, const char *extra)
{
	snprintf(prefix, sizeof(prefix), "/ta-%d-%lld", (int)getpid(), (long long)(sh_mono_ns() / 1000000));
	/* INVOCATION_ID unset: a test run from a systemd unit would otherwise see runs_as systemd */
	return t_spawn(log, "env -u INVOCATION_ID %s --endpoints %s --docker-host %s --prefix %s --ttl 3s %s",
		       t_bin("swarmheal-agent"), eps, socks[node], prefix, extra ? extra : "");
}

static void heartbeat(int node, char *out, size_t len)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get %s/nodes/%s --print-value-only 2>/dev/null",
		 eps, prefix, ids[node]);
	t_sh_line(cmd, out, len);
}

/* wait until the heartbeat holds needle; 1 found */
static int wait_heartbeat(int node, const char *needle, int ms)
{
	char hb[2048];
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(50000)) {
		heartbeat(node, hb, sizeof(hb));
		if (strstr(hb, needle))
			return 1;
	}
	return 0;
}

/* a number etcd reports for the node's heartbeat key (-w json): "revision" (the store's, in the
 * header), "mod_revision" or "lease" (the key's); 0 when absent */
static long long key_field(int node, const char *field)
{
	char cmd[700], out[32];
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get %s/nodes/%s -w json | grep -o '\"%s\":[0-9]*' | head -1 | cut -d: -f2",
		 eps, prefix, ids[node], field);
	t_sh_line(cmd, out, sizeof(out));
	return atoll(out);
}

/* the lease (decimal ID) has expired or was revoked */
static int wait_lease_gone(long long lease, int ms)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s lease timetolive %llx | grep -q 'already expired'",
		 eps, lease);
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(100000))
		if (t_sh("%s", cmd) == 0)
			return 1;
	return 0;
}

static void stop_agent(pid_t p)
{
	int st = -1;
	kill(p, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(p, 10000, &st));
	CU_ASSERT_EQUAL(st, 0);
}

static pid_t dockerd_pid(int node)
{
	char cmd[300], out[32];
	snprintf(cmd, sizeof(cmd), "cat /tmp/swarmheal-lab/n%d/dockerd.pid 2>/dev/null", node);
	t_sh_line(cmd, out, sizeof(out));
	return (pid_t)atoi(out);
}

static int restarts_recorded(void)
{
	char cmd[600], out[32];
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/ --print-value-only | grep -c "
		 "'\"kind\":\"restart\"'",
		 eps, prefix);
	t_sh_line(cmd, out, sizeof(out));
	return atoi(out);
}

/* SIGTERM: the stop mark is in etcd, on no lease, and the agent exits 0 */
static void test_stop_mark_after_sigterm(void)
{
	pid_t ag = start_agent(2, "/tmp/swarmheal-agentlab-mark.log", NULL);
	CU_ASSERT_TRUE_FATAL(wait_heartbeat(2, "\"agent\":\"running\"", 10000));
	char hb[2048];
	heartbeat(2, hb, sizeof(hb));
	CU_ASSERT_PTR_NOT_NULL(strstr(hb, "\"engine\":\"up\""));
	/* this test's agent is a plain process, or a container's when the tests themselves run in one */
	CU_ASSERT_PTR_NOT_NULL(strstr(hb, access("/.dockerenv", F_OK) ? "\"runs_as\":\"process\"" : "\"runs_as\":\"container\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(hb, "\"addr\":\"10.213.57.12\""));
	long long lease = key_field(2, "lease");
	CU_ASSERT(lease > 0);
	stop_agent(ag);
	heartbeat(2, hb, sizeof(hb));
	fprintf(stderr, "\n  after SIGTERM: %s\n", hb);
	CU_ASSERT_PTR_NOT_NULL(strstr(hb, "\"agent\":\"stopped\""));
	CU_ASSERT_PTR_NULL(strstr(hb, "\"engine\""));
	CU_ASSERT_EQUAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s get %s/nodes/%s -w json | grep -q '\"lease\"'", eps,
			     prefix, ids[2]),
			1);
	/* it outlives the running agent's lease */
	CU_ASSERT_TRUE(wait_lease_gone(lease, 10000));
	heartbeat(2, hb, sizeof(hb));
	CU_ASSERT_PTR_NOT_NULL(strstr(hb, "\"agent\":\"stopped\""));
	/* SIGKILL (a crash) leaves no mark: the key goes with the lease */
	ag = start_agent(2, "/tmp/swarmheal-agentlab-mark.log", NULL);
	CU_ASSERT_TRUE(wait_heartbeat(2, "\"agent\":\"running\"", 10000));
	kill(ag, SIGKILL);
	t_wait_pid(ag, 5000, NULL);
	int gone = 0;
	for (int64_t end = t_now_ms() + 10000; !gone && t_now_ms() < end; usleep(100000)) {
		heartbeat(2, hb, sizeof(hb));
		gone = !hb[0];
	}
	CU_ASSERT_TRUE(gone);
}

/* every engine value the heartbeat key took while f ran: the key's history from the revision before f
 * to its last write after f, replayed by an etcdctl watch from that revision */
static void watch_engine_during(int node, void (*f)(int), char *seen, size_t len)
{
	long long from = key_field(node, "revision") + 1;
	f(node);
	long long last = key_field(node, "mod_revision");
	char cmd[600], log[128], done[64];
	snprintf(log, sizeof(log), "/tmp/swarmheal-agentlab-watch.%d.log", (int)getpid());
	snprintf(cmd, sizeof(cmd), "env ETCDCTL_API=3 etcdctl --endpoints=%s watch --rev=%lld -w fields %s/nodes/%s", eps,
		 from, prefix, ids[node]);
	pid_t w = t_spawn(log, "%s", cmd);
	snprintf(done, sizeof(done), "\"ModRevision\" : %lld\n", last);
	CU_ASSERT_TRUE(t_wait_file(log, done, 5000));
	kill(w, SIGTERM);
	t_wait_pid(w, 3000, NULL);
	char grep[300];
	snprintf(grep, sizeof(grep), "grep '^\"Value\"' %s | sed 's/\\\\\"/\"/g' | grep -o '\"engine\":\"[a-z]*\"' | tr '\\n' ' '",
		 log);
	t_sh_line(grep, seen, len);
	unlink(log);
}

static void freeze_2s(int node)
{
	pid_t d = dockerd_pid(node);
	CU_ASSERT_FATAL(d > 0);
	kill(d, SIGSTOP);
	usleep(2000000); /* the fault itself: 2 s frozen */
	kill(d, SIGCONT);
	CU_ASSERT_TRUE(wait_heartbeat(node, "\"engine\":\"up\"", 8000)); /* the agent sees it answer again */
}

/* a dockerd frozen for 2 s (every container keeps running) is slow, not down */
static void test_frozen_engine_slow_not_down(void)
{
	pid_t ag = start_agent(3, "/tmp/swarmheal-agentlab-freeze.log", "--interval 500ms");
	CU_ASSERT_TRUE_FATAL(wait_heartbeat(3, "\"engine\":\"up\"", 10000));
	char seen[512];
	watch_engine_during(3, freeze_2s, seen, sizeof(seen));
	fprintf(stderr, "\n  dockerd frozen 2 s: engine %s\n", seen);
	CU_ASSERT_PTR_NOT_NULL(strstr(seen, "\"engine\":\"slow\""));
	CU_ASSERT_PTR_NULL(strstr(seen, "\"engine\":\"down\""));
	CU_ASSERT_TRUE(wait_heartbeat(3, "\"engine\":\"up\"", 5000));
	stop_agent(ag);
}

/* a frozen engine past --engine-down-after is down */
static void freeze_4s(int node)
{
	pid_t d = dockerd_pid(node);
	CU_ASSERT_FATAL(d > 0);
	kill(d, SIGSTOP);
	usleep(4000000); /* the fault itself: 4 s frozen */
	kill(d, SIGCONT);
	CU_ASSERT_TRUE(wait_heartbeat(node, "\"engine\":\"up\"", 8000));
}

static void test_frozen_past_down_after_is_down(void)
{
	pid_t ag = start_agent(3, "/tmp/swarmheal-agentlab-freeze.log", "--interval 500ms --engine-down-after 2s");
	CU_ASSERT_TRUE_FATAL(wait_heartbeat(3, "\"engine\":\"up\"", 10000));
	char seen[512];
	watch_engine_during(3, freeze_4s, seen, sizeof(seen));
	fprintf(stderr, "\n  dockerd frozen 4 s, --engine-down-after 2s: engine %s\n", seen);
	const char *slow = strstr(seen, "\"engine\":\"slow\""), *down = strstr(seen, "\"engine\":\"down\"");
	CU_ASSERT_PTR_NOT_NULL(slow);
	CU_ASSERT_PTR_NOT_NULL(down);
	CU_ASSERT(slow && down && slow < down);
	CU_ASSERT_TRUE(wait_heartbeat(3, "\"engine\":\"up\"", 5000));
	stop_agent(ag);
}

/* a killed dockerd (its socket refuses) is down at once */
static void test_killed_engine_down(void)
{
	pid_t ag = start_agent(3, "/tmp/swarmheal-agentlab-kill.log", "--interval 500ms");
	CU_ASSERT_TRUE_FATAL(wait_heartbeat(3, "\"engine\":\"up\"", 10000));
	pid_t d = dockerd_pid(3);
	CU_ASSERT_FATAL(d > 0);
	int64_t t0 = sh_mono_ns();
	kill(d, SIGKILL);
	int down = wait_heartbeat(3, "\"engine\":\"down\"", 5000);
	double s = (double)(sh_mono_ns() - t0) / 1e9;
	char hb[2048];
	heartbeat(3, hb, sizeof(hb));
	fprintf(stderr, "\n  dockerd killed: heartbeat says down after %.2f s\n", s);
	CU_ASSERT_TRUE(down);
	CU_ASSERT(s < 2.0); /* refused: down at once, not after --engine-down-after (8 s) */
	stop_agent(ag);
	/* back up as after a host's death: every process of the node gone first (containerd and the task
	 * containers outlived dockerd), then the engine; once more if the first start times out */
	t_sh("%s kill 3 >/dev/null 2>&1", lab);
	int up = t_sh("%s start 3 >>/tmp/swarmheal-agentlab-start.log 2>&1", lab) == 0 ||
		 t_sh("%s start 3 >>/tmp/swarmheal-agentlab-start.log 2>&1", lab) == 0;
	CU_ASSERT_TRUE(up);
	/* back in the swarm before the next test */
	for (int64_t end = t_now_ms() + 30000; t_now_ms() < end;) {
		char out[16], cmd[512];
		snprintf(cmd, sizeof(cmd), "docker -H %s node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready", socks[1]);
		t_sh_line(cmd, out, sizeof(out));
		if (atoi(out) == 3)
			break;
		usleep(100000);
	}
}

/* autoheal beside a Swarm service: never a task's container; at most one container per task slot at any time */
static void test_autoheal_beside_swarm_service(void)
{
	t_sh("docker -H %s service rm ahsvc >/dev/null 2>&1", socks[1]);
	CU_ASSERT_EQUAL_FATAL(
		t_sh("docker -H %s service create -d --name ahsvc --replicas 1 --constraint node.labels.lab-node==2 "
		     "--container-label autoheal=true --health-cmd 'test -f /tmp/ok' --health-interval 1s --health-retries 1 "
		     "--restart-delay 1s --stop-grace-period 1s swarmheal-test-busybox sleep 100000 >/dev/null",
		     socks[1]),
		0);
	pid_t ag = start_agent(2, "/tmp/swarmheal-agentlab-ahsvc.log", "--autoheal --interval 500ms --autoheal-stop-timeout 1s");
	int maxrun = 0, samples = 0, seen_unhealthy = 0;
	char cmd[600], out[64];
	snprintf(cmd, sizeof(cmd), "docker -H %s ps -q --filter label=com.docker.swarm.service.name=ahsvc | wc -l", socks[2]);
	char cmd2[600];
	snprintf(cmd2, sizeof(cmd2),
		 "docker -H %s ps -q --filter label=com.docker.swarm.service.name=ahsvc --filter health=unhealthy | wc -l",
		 socks[2]);
	int64_t end = sh_mono_ns() + 60 * SH_NS_PER_S;
	while (sh_mono_ns() < end) {
		t_sh_line(cmd, out, sizeof(out));
		int n = atoi(out);
		if (n > maxrun)
			maxrun = n;
		t_sh_line(cmd2, out, sizeof(out));
		seen_unhealthy += atoi(out) > 0;
		samples++;
		usleep(200000);
	}
	fprintf(stderr, "\n  service of 1 replica, unhealthy, autoheal on: at most %d running container(s) over %d samples "
			"in 60 s (%d samples saw it unhealthy), %d agent restarts\n",
		maxrun, samples, seen_unhealthy, restarts_recorded());
	CU_ASSERT(seen_unhealthy > 0); /* the case was real: the agent had something to (not) act on */
	CU_ASSERT(maxrun <= 1);
	CU_ASSERT_EQUAL(restarts_recorded(), 0);
	stop_agent(ag);
	t_sh("docker -H %s service rm ahsvc >/dev/null 2>&1", socks[1]);
}

static char *inspect(int node, const char *name, const char *fmt)
{
	char cmd[600];
	static char out[128];
	snprintf(cmd, sizeof(cmd), "docker -H %s inspect %s --format '%s' 2>/dev/null", socks[node], name, fmt);
	t_sh_line(cmd, out, sizeof(out));
	return out;
}

/* autoheal beside a plain container: one unhealthy episode, one restart, with the container's own stop timeout */
static void test_autoheal_plain_container_once(void)
{
	t_sh("docker -H %s rm -f ahplain >/dev/null 2>&1", socks[2]);
	/* unhealthy in its first start only: the restart makes it healthy. PID 1 ignores SIGTERM, so a stop waits
	 * for the whole stop timeout (3 s, its own), during which it is still running and unhealthy */
	CU_ASSERT_EQUAL_FATAL(t_sh("docker -H %s run -d --name ahplain --label autoheal=true --stop-timeout 3 "
				   "--health-cmd 'test -f /tmp/ok' --health-interval 1s --health-retries 1 "
				   "swarmheal-test-busybox sh -c '[ -f /marker ] && touch /tmp/ok; touch /marker; exec sleep 100000' "
				   ">/dev/null",
				   socks[2]),
			      0);
	char first[128];
	snprintf(first, sizeof(first), "%s", inspect(2, "ahplain", "{{.State.StartedAt}}"));
	pid_t ag = start_agent(2, "/tmp/swarmheal-agentlab-ahplain.log", "--autoheal --interval 500ms --autoheal-stop-timeout 1s");
	int starts = 1;
	char last[128];
	snprintf(last, sizeof(last), "%s", first);
	int64_t end = sh_mono_ns() + 25 * SH_NS_PER_S;
	while (sh_mono_ns() < end) {
		const char *now = inspect(2, "ahplain", "{{.State.StartedAt}}");
		if (now[0] && strcmp(now, last)) {
			starts++;
			snprintf(last, sizeof(last), "%s", now);
		}
		usleep(200000);
	}
	char health[128];
	snprintf(health, sizeof(health), "%s", inspect(2, "ahplain", "{{.State.Health.Status}}"));
	fprintf(stderr, "\n  plain container, one unhealthy episode: %d start(s) in 25 s, %d restart(s) recorded, now %s\n",
		starts, restarts_recorded(), health);
	CU_ASSERT_EQUAL(starts, 2);
	CU_ASSERT_EQUAL(restarts_recorded(), 1);
	CU_ASSERT_STRING_EQUAL(health, "healthy");
	char cmd[600];
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/ --print-value-only | grep -c "
		 "\"stop timeout 3s from the container's stop timeout\"",
		 eps, prefix);
	char out[16];
	t_sh_line(cmd, out, sizeof(out));
	CU_ASSERT_EQUAL(atoi(out), 1);
	stop_agent(ag);

	/* a label sets the stop timeout; a container a person stopped stays stopped */
	t_sh("docker -H %s rm -f ahplain >/dev/null 2>&1", socks[2]);
	CU_ASSERT_EQUAL_FATAL(t_sh("docker -H %s run -d --name ahplain --label autoheal=true --label autoheal.stop.timeout=2 "
				   "--health-cmd 'test -f /tmp/ok' --health-interval 1s --health-retries 1 "
				   "swarmheal-test-busybox sh -c 'exec sleep 100000' >/dev/null",
				   socks[2]),
			      0);
	ag = start_agent(2, "/tmp/swarmheal-agentlab-ahplain.log", "--autoheal --interval 500ms");
	for (int64_t until = t_now_ms() + 20000; restarts_recorded() < 1 && t_now_ms() < until;)
		usleep(100000);
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/ --print-value-only | grep -c "
		 "\"stop timeout 2s from label autoheal.stop.timeout\"",
		 eps, prefix);
	t_sh_line(cmd, out, sizeof(out));
	CU_ASSERT(atoi(out) >= 1);
	t_sh("docker -H %s stop -t 0 ahplain >/dev/null 2>&1", socks[2]);
	int before = restarts_recorded();
	/* a negative control, so a window: 8 of the agent's 500 ms autoheal passes (it reports none of them) */
	usleep(8 * 500 * 1000);
	CU_ASSERT_STRING_EQUAL(inspect(2, "ahplain", "{{.State.Status}}"), "exited");
	CU_ASSERT_EQUAL(restarts_recorded(), before);
	stop_agent(ag);
	t_sh("docker -H %s rm -f ahplain >/dev/null 2>&1", socks[2]);
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
	static const t_case cases[] = {
		{"stop_mark_after_sigterm", test_stop_mark_after_sigterm},
		{"frozen_engine_slow_not_down", test_frozen_engine_slow_not_down},
		{"frozen_past_down_after_is_down", test_frozen_past_down_after_is_down},
		{"killed_engine_down", test_killed_engine_down},
		{"autoheal_beside_swarm_service", test_autoheal_beside_swarm_service},
		{"autoheal_plain_container_once", test_autoheal_plain_container_once},
		{NULL, NULL},
	};
	return t_run("agent_lab", cases, argc, argv);
}
