/* SPDX-License-Identifier: MIT */
/* test_arbiter_ctl.c - the arbiter controller against real etcd (no engine): modes, grace, fenced records, placement */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

static const char *eps;
static char prefix[96], host[100];

static void hb(const char *id, const char *zone)
{
	t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s put %s/nodes/%s "
	     "'{\"node_id\":\"%s\",\"zone\":\"%s\",\"addr\":\"10.0.0.1\",\"engine\":\"up\",\"ts\":\"2026-01-01T00:00:00Z\"}' "
	     ">/dev/null",
	     eps, prefix, id, id, zone);
}

static void hb_del(const char *id)
{
	t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s del %s/nodes/%s >/dev/null", eps, prefix, id);
}

static void get(const char *sub, char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get %s%s --print-value-only", eps, prefix, sub);
	t_sh_line(cmd, out, len);
}

static int count_actions(const char *needle)
{
	char cmd[512], out[32];
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/arbiter/ --print-value-only | grep -c -- '%s'",
		 eps, prefix, needle);
	t_sh_line(cmd, out, sizeof(out));
	return atoi(out);
}

static double wait_mode(const char *mode, int ms)
{
	char v[2048], want[64];
	snprintf(want, sizeof(want), "\"mode\":\"%s\"", mode);
	int64_t t0 = sh_mono_ns();
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		get("/arbiter/mode", v, sizeof(v));
		if (strstr(v, want))
			return (double)(sh_mono_ns() - t0) / 1e9;
		usleep(50000);
	}
	return -1;
}

static int wait_leader(pid_t pid, int ms)
{
	char cmd[512], got[160], want[160];
	snprintf(want, sizeof(want), "%s:%d", host, (int)pid);
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/elections/controller.arbiter/ --sort-by=CREATE "
		 "--order=ASCEND --print-value-only | head -1",
		 eps, prefix);
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		t_sh_line(cmd, got, sizeof(got));
		if (!strcmp(got, want))
			return 1;
		usleep(100000);
	}
	return 0;
}

static pid_t arbiter(const char *zone, const char *extra)
{
	char logf[96];
	snprintf(logf, sizeof(logf), "/tmp/swarmheal-arbiter-ctl-%s.log", zone);
	return t_spawn(logf,
		       "%s --controllers arbiter --endpoints %s --prefix %s --docker-host unix:///nonexistent/docker.sock "
		       "--ttl 2s --metrics-addr '' --arbiter-zone %s %s",
		       t_bin("swarmheald"), eps, prefix, zone, extra);
}

static void stop(pid_t p)
{
	kill(p, SIGTERM);
	if (!t_wait_pid(p, 10000, NULL)) {
		kill(p, SIGKILL);
		t_wait_pid(p, 2000, NULL);
	}
}

/* zones a={a1,a2} b={b1,b2} c={c1} */
static void seed(const char *name)
{
	snprintf(prefix, sizeof(prefix), "%s", t_prefix(name));
	prefix[strlen(prefix) - 1] = '\0'; /* no trailing slash */
	hb("a1", "a");
	hb("a2", "a");
	hb("b1", "b");
	hb("b2", "b");
	hb("c1", "c");
}

static void test_grace_and_modes(void)
{
	seed("modes");
	pid_t p = arbiter("a", "--mode-grace 2s");
	CU_ASSERT(wait_mode("normal", 5000) >= 0);
	char v[2048];
	get("/arbiter/mode", v, sizeof(v));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "\"zones\":[\"a\",\"b\",\"c\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "\"fence\":"));
	/* one zone gone: normal stays */
	hb_del("c1");
	sleep(3);
	CU_ASSERT_EQUAL(count_actions("\"kind\":\"mode\""), 1);
	/* a blip shorter than the grace: nothing */
	hb_del("b1");
	hb_del("b2");
	usleep(1000000);
	hb("b1", "b");
	hb("b2", "b");
	sleep(3);
	CU_ASSERT_EQUAL(count_actions("\"kind\":\"mode\""), 1);
	/* held: single-zone after the grace, with the evidence */
	int64_t t0 = sh_mono_ns();
	hb_del("b1");
	hb_del("b2");
	double s = wait_mode("single-zone", 8000);
	CU_ASSERT(s >= 1.9);
	fprintf(stderr, "single-zone published %.2f s after the loss (grace 2 s)\n", (double)(sh_mono_ns() - t0) / 1e9);
	get("/arbiter/mode", v, sizeof(v));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "\"survivor\":\"a\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "{\"zone\":\"b\",\"nodes\":2,\"live\":0"));
	/* a down to one: read-only */
	hb_del("a2");
	CU_ASSERT(wait_mode("read-only", 8000) >= 0);
	/* everything back: normal */
	hb("a2", "a");
	hb("b1", "b");
	hb("b2", "b");
	hb("c1", "c");
	CU_ASSERT(wait_mode("normal", 8000) >= 0);
	CU_ASSERT_EQUAL(count_actions("\"kind\":\"mode\""), 4);
	stop(p);
}

static void test_placement_moves_to_survivor(void)
{
	seed("place");
	pid_t pb = arbiter("b", "--mode-grace 1s");
	CU_ASSERT_TRUE(wait_leader(pb, 5000));
	pid_t pc = arbiter("c", "--mode-grace 1s");
	pid_t pa = arbiter("a", "--mode-grace 1s");
	CU_ASSERT(wait_mode("normal", 5000) >= 0);
	/* every replica has recorded its zone (what placement reads) */
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/arbiter/replicas/ --keys-only | grep -c .",
		 eps, prefix);
	char n[16] = "";
	for (int64_t end = t_now_ms() + 5000; atoi(n) < 3 && t_now_ms() < end; usleep(50000))
		t_sh_line(cmd, n, sizeof(n));
	CU_ASSERT_EQUAL(atoi(n), 3);
	hb_del("b1");
	hb_del("b2");
	hb_del("c1");
	CU_ASSERT(wait_mode("single-zone", 8000) >= 0);
	/* b resigns; c may win next and resigns too; a ends up leading */
	CU_ASSERT_TRUE(wait_leader(pa, 10000));
	CU_ASSERT(count_actions("\"kind\":\"resign\"") >= 1);
	sleep(2);
	CU_ASSERT_TRUE(wait_leader(pa, 100)); /* and stays */
	/* the leader in zone a does not resign again */
	int resigns = count_actions("\"kind\":\"resign\"");
	sleep(2);
	CU_ASSERT_EQUAL(count_actions("\"kind\":\"resign\""), resigns);
	/* with no replica in the surviving zone, a leader elsewhere stays */
	stop(pa);
	CU_ASSERT_TRUE(wait_leader(pb, 8000) || wait_leader(pc, 8000));
	sleep(2);
	CU_ASSERT_TRUE(wait_leader(pb, 100) || wait_leader(pc, 100));
	stop(pb);
	stop(pc);
}

static void test_malformed_mode_rewritten(void)
{
	seed("malformed");
	t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s put %s/arbiter/mode '{\"mode\":\"read-only' >/dev/null", eps, prefix);
	pid_t p = arbiter("a", "--mode-grace 1s");
	/* read as read-only (never normal) until the arbiter writes a whole record after the grace */
	double s = wait_mode("normal", 6000);
	CU_ASSERT(s >= 0.9);
	stop(p);
}

int main(int argc, char **argv)
{
	eps = t_endpoints();
	if (!eps) {
		fprintf(stderr, "no etcd (SWARMHEAL_TEST_ENDPOINTS): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	gethostname(host, sizeof(host) - 1);
	static const t_case cases[] = {
		{"grace_and_modes", test_grace_and_modes},
		{"placement_moves_to_survivor", test_placement_moves_to_survivor},
		{"malformed_mode_rewritten", test_malformed_mode_rewritten},
		{NULL, NULL},
	};
	return t_run("arbiter_ctl", cases, argc, argv);
}
