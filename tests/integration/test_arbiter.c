/* SPDX-License-Identifier: MIT */
/* test_arbiter.c - arbiter-elect and the election library against real etcd, etcdctl and signals */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etcd_concurrency.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

static char tmp[256];

static const char *path(const char *name)
{
	static char buf[8][512];
	static int i;
	char *b = buf[i++ % 8];
	snprintf(b, 512, "%s/%s", tmp, name);
	return b;
}

static const char *uniq(const char *base)
{
	static char buf[8][128];
	static int i, n;
	char *b = buf[i++ % 8];
	snprintf(b, 128, "%s-%d-%d", base, (int)getpid(), n++);
	return b;
}

/* live keys under an election prefix */
static long count_prefix(const char *eps, const char *prefix)
{
	etcd_config cfg = {.endpoints = eps};
	etcd_client *c;
	if (etcd_client_new(&cfg, &c, NULL, 0))
		return -1;
	etcd_range_result r;
	etcd_range_opts o = {.prefix = 1, .count_only = 1};
	long n = etcd_range(c, prefix, &o, &r) ? -1 : (long)r.count;
	etcd_client_free(c);
	return n;
}

/* wait (wall clock) until exactly n live keys are under prefix: a candidate is in the queue */
static int wait_count(const char *eps, const char *prefix, long n, long ms)
{
	for (int64_t t0 = t_now_ms();; usleep(20000)) {
		if (count_prefix(eps, prefix) == n)
			return 1;
		if (t_now_ms() - t0 >= ms)
			return 0;
	}
}

static const char *epre(const char *name)
{
	static char buf[4][256];
	static int i;
	char *b = buf[i++ % 4];
	snprintf(b, 256, "/swarmheal/elections/%s/", name);
	return b;
}

/* pid a spawned shell wrote to file (waiting 5 s) */
static pid_t pid_from(const char *file)
{
	if (!t_wait_file(file, "\n", 5000))
		return -1;
	char *s = t_read_file(file);
	pid_t p = (pid_t)atoi(s);
	free(s);
	return p;
}

/* timing bounds: etcd's lessor revokes expired leases on a 500 ms scan; margin for a loaded machine */
#define ETCD_EXPIRY_SCAN_S 0.5
#define MARGIN_S 1.5

#define AE(...) t_bin("arbiter-elect")

static void test_decide(void)
{
	etcd_kv kvs[3] = {
		{.key = "/e/n/b", .create_revision = 20},
		{.key = "/e/n/a", .create_revision = 10},
		{.key = "/e/n/c", .create_revision = 30},
	};
	etcd_election_view v = etcd_election_decide(kvs, 3, "/e/n/c", 30);
	CU_ASSERT_TRUE(v.mine_present);
	CU_ASSERT_FALSE(v.leader);
	CU_ASSERT_EQUAL(v.predecessor, 0); /* b, just before c: no herd on the leader */
	CU_ASSERT_EQUAL(v.leader_index, 1);
	v = etcd_election_decide(kvs, 3, "/e/n/a", 10);
	CU_ASSERT_TRUE(v.leader);
	CU_ASSERT_EQUAL(v.predecessor, -1);
	/* our key re-created by someone else (other revision): not ours, not leader */
	v = etcd_election_decide(kvs, 3, "/e/n/a", 5);
	CU_ASSERT_FALSE(v.mine_present);
	CU_ASSERT_FALSE(v.leader);
	/* our key gone (lease expired while waiting): never a phantom leader */
	v = etcd_election_decide(kvs + 1, 1, "/e/n/z", 40);
	CU_ASSERT_FALSE(v.mine_present);
	CU_ASSERT_FALSE(v.leader);
	v = etcd_election_decide(NULL, 0, "/e/n/z", 40);
	CU_ASSERT_FALSE(v.leader);
	CU_ASSERT_EQUAL(v.leader_index, -1);
}

static void test_bad_input(void)
{
	const char *eps = t_endpoints();
	struct {
		const char *args;
		int status;
		const char *msg;
	} cases[] = {
		{"--bogus x", 64, "unknown option '--bogus'"},
		{"''", 64, "must not be empty"},
		{"a/b", 64, "must not contain '/'"},
		{"--ttl 1s x", 64, "below etcd's minimum lease TTL of 2s"},
		{"--ttl 2500ms x", 64, "not a whole number of seconds"},
		{"--ttl abc x", 64, "invalid --ttl 'abc'"},
		{"--ttl 4s --kill-after 5s x", 64, "--kill-after must be at most"},
		{"x --", 64, "no command after '--'"},
		{"x y", 64, "unexpected argument 'y'"},
		{"--leader x -- true", 64, "exclude each other"},
		{"--endpoints http://127.0.0.1:1 x", 69, "cannot reach etcd at 'http://127.0.0.1:1': connection refused"},
		{"--endpoints unix:///x x", 64, "unsupported etcd endpoint"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		pid_t p = t_spawn(path("bad.out"), "%s --endpoints %s %s", AE(), eps, cases[i].args);
		int st = -1;
		CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
		char *out = t_read_file(path("bad.out"));
		if (st != cases[i].status || !strstr(out, cases[i].msg))
			fprintf(stderr, "case '%s': status %d, output: %s\n", cases[i].args, st, out);
		CU_ASSERT_EQUAL(st, cases[i].status);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, cases[i].msg));
		/* one line naming the problem (+ the help hint for usage errors) */
		CU_ASSERT(strchr(out, '\n') == NULL || strchr(out, '\n')[1] == '\0' || strstr(out, "Try '"));
		free(out);
	}
	CU_ASSERT_EQUAL(count_prefix(eps, "/swarmheal/elections/x/"), 0);
}

static void test_hold_leader_resign_observe(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("hold");
	pid_t obs = t_spawn(path("obs.out"), "%s --endpoints %s --observe %s", AE(), eps, name);
	pid_t a = t_spawn(path("a.out"), "%s --endpoints %s --ttl 3 --proposal alpha %s", AE(), eps, name);
	CU_ASSERT_FATAL(t_wait_file(path("a.out"), "/swarmheal/elections/", 5000));
	pid_t b = t_spawn(path("b.out"), "%s --endpoints %s --ttl 3 --proposal beta %s", AE(), eps, name);
	CU_ASSERT_TRUE(wait_count(eps, epre(name), 2, 5000)); /* b's key is in the queue */
	char *bo = t_read_file(path("b.out"));
	CU_ASSERT_STRING_EQUAL(bo, ""); /* b waits */
	free(bo);
	pid_t l = t_spawn(path("l.out"), "%s --endpoints %s --leader %s", AE(), eps, name);
	int st;
	CU_ASSERT_TRUE(t_wait_pid(l, 5000, &st));
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_TRUE(t_wait_file(path("l.out"), " alpha", 100));
	/* resign: a exits 0 and b takes over at once */
	int64_t t0 = sh_mono_ns();
	kill(a, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(a, 5000, &st));
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_TRUE(t_wait_file(path("b.out"), "/swarmheal/elections/", 3000));
	CU_ASSERT((sh_mono_ns() - t0) / SH_NS_PER_MS < 1500);
	CU_ASSERT_TRUE(t_wait_file(path("obs.out"), " beta", 3000));
	char *oo = t_read_file(path("obs.out"));
	CU_ASSERT_PTR_NOT_NULL(strstr(oo, " alpha"));
	free(oo);
	kill(b, SIGINT);
	CU_ASSERT_TRUE(t_wait_pid(b, 5000, &st));
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_TRUE(t_wait_file(path("obs.out"), "(no leader)", 3000));
	kill(obs, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(obs, 3000, &st));
	CU_ASSERT_EQUAL(st, 0);
	/* nothing left behind, and --leader says none */
	char pre[256];
	snprintf(pre, sizeof(pre), "/swarmheal/elections/%s/", name);
	CU_ASSERT_EQUAL(count_prefix(eps, pre), 0);
	l = t_spawn(NULL, "%s --endpoints %s --leader %s", AE(), eps, name);
	CU_ASSERT_TRUE(t_wait_pid(l, 5000, &st));
	CU_ASSERT_EQUAL(st, 1);
}

static void test_command_mode(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("cmd");
	pid_t p = t_spawn(path("c.out"), "%s --endpoints %s %s -- sh -c 'echo \"$ARBITER_NAME $ARBITER_KEY $ARBITER_REVISION $ARBITER_LEASE\"; exit 7'",
			  AE(), eps, name);
	int st;
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 7); /* the command's own status */
	char *out = t_read_file(path("c.out"));
	char n[128], key[256], lease[32];
	long long rev = 0;
	CU_ASSERT_EQUAL(sscanf(out, "%127s %255s %lld %31s", n, key, &rev, lease), 4);
	CU_ASSERT_STRING_EQUAL(n, name);
	CU_ASSERT(rev > 0);
	char want[300];
	snprintf(want, sizeof(want), "/swarmheal/elections/%s/%s", name, lease);
	CU_ASSERT_STRING_EQUAL(key, want);
	free(out);
	/* resigned at once: the key is gone */
	char pre[256];
	snprintf(pre, sizeof(pre), "/swarmheal/elections/%s/", name);
	CU_ASSERT_EQUAL(count_prefix(eps, pre), 0);
	/* a command that cannot start */
	p = t_spawn(path("c.out"), "%s --endpoints %s %s -- /nonexistent/cmd", AE(), eps, name);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 127);
	CU_ASSERT_TRUE(t_wait_file(path("c.out"), "cannot run '/nonexistent/cmd'", 100));
	CU_ASSERT_EQUAL(count_prefix(eps, pre), 0);
	/* SIGTERM to arbiter-elect stops the whole command group, resigns, exits 128+15 */
	p = t_spawn(path("c.out"), "%s --endpoints %s %s -- sh -c 'sleep 300 & echo child $!; wait'", AE(), eps, name);
	CU_ASSERT_FATAL(t_wait_file(path("c.out"), "child ", 5000));
	char *o2 = t_read_file(path("c.out"));
	int grandchild = atoi(strstr(o2, "child ") + 6);
	free(o2);
	kill(p, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 128 + SIGTERM);
	usleep(100000);
	CU_ASSERT_FALSE(t_alive(grandchild)); /* the background sleep died with its group */
	CU_ASSERT_EQUAL(count_prefix(eps, pre), 0);
	/* timeout while another holds */
	pid_t h = t_spawn(path("h.out"), "%s --endpoints %s %s", AE(), eps, name);
	CU_ASSERT_FATAL(t_wait_file(path("h.out"), "/swarmheal/", 5000));
	p = t_spawn(path("t.out"), "%s --endpoints %s --timeout 1s %s -- true", AE(), eps, name);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 75);
	CU_ASSERT_EQUAL(count_prefix(eps, pre), 1); /* only the holder's key */
	/* someone deletes the leader's key: leadership lost at once, exit 76 */
	CU_ASSERT_EQUAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s del --prefix %s >/dev/null", eps, pre), 0);
	CU_ASSERT_TRUE(t_wait_pid(h, 3000, &st));
	CU_ASSERT_EQUAL(st, 76);
	CU_ASSERT_TRUE(t_wait_file(path("h.out"), "election key was deleted", 100));
}

/* no process left whose command line names this election (the exit helper shares ours), within ms */
static int gone_within(const char *name, long ms)
{
	for (int64_t t0 = t_now_ms();; usleep(20000)) {
		/* "[x]yz" matches "xyz" but not the shell running pgrep, whose command line has "[x]yz" */
		if (t_sh("pgrep -f -- '[%c]%s' >/dev/null", name[0], name + 1) != 0)
			return 1;
		if (t_now_ms() - t0 >= ms)
			return 0;
	}
}

/*
 * What a one-shot run opens (issue 17), counted by a forwarder in front of etcd:
 * the grant, the campaign and the resign (a revoke) share one connection; the
 * watch on our own key waits 50 ms after the command starts and the keepalive
 * stream waits its period, so a command shorter than both opens nothing else.
 */
static void test_connections(void)
{
	const char *eps = t_endpoints();
	const char *colon = strrchr(eps, ':');
	CU_ASSERT_PTR_NOT_NULL_FATAL(colon);
	tproxy *px = tproxy_start(atoi(colon + 1));
	CU_ASSERT_PTR_NOT_NULL_FATAL(px);
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", tproxy_port(px));
	const char *name = uniq("conn");
	CU_ASSERT_EQUAL(t_sh("%s --endpoints %s %s -- true", AE(), ep, name), 0);
	CU_ASSERT_EQUAL(tproxy_accepts(px), 1);
	CU_ASSERT_EQUAL(count_prefix(eps, epre(name)), 0); /* resigned: the revoke took the key */
	CU_ASSERT_TRUE(gone_within(name, 2000));            /* nothing of ours outlives the run */
	/* past 50 ms: the watch on our own key, on a stream (connection) of its own */
	int n = tproxy_accepts(px);
	CU_ASSERT_EQUAL(t_sh("%s --endpoints %s %s -- sleep 0.3", AE(), ep, uniq("conn")), 0);
	CU_ASSERT_EQUAL(tproxy_accepts(px) - n, 2);
	/* past the keepalive period (100 ms at --ttl 4s) and the TTL itself: the keepalive
	 * stream too, and the lease kept alive throughout (else the watchdog stops the command: 76) */
	n = tproxy_accepts(px);
	int64_t t0 = t_now_ms();
	CU_ASSERT_EQUAL(t_sh("%s --endpoints %s --ttl 4s %s -- sleep 5", AE(), ep, uniq("conn")), 0);
	CU_ASSERT(t_now_ms() - t0 >= 5000);
	CU_ASSERT_EQUAL(tproxy_accepts(px) - n, 3);
	tproxy_stop(px);
}

/* a run that ends at once (etcd unreachable: 69) leaves nothing in its process group, not
 * even for a moment: the watchdog and the exit helper get groups of their own before it exits */
static void test_early_exit_leaves_no_group(void)
{
	int left = 0;
	for (int i = 0; i < 20; i++) {
		pid_t p = t_spawn(path("ee.out"), "%s --endpoints http://127.0.0.1:1 %s -- true", AE(), uniq("ee"));
		int st = -1;
		CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
		CU_ASSERT_EQUAL(st, 69);
		left += t_sh("pgrep -g %d >/dev/null", (int)p) == 0;
	}
	CU_ASSERT_EQUAL(left, 0);
}

/* the watch on our own key opens late but replays from the key's creation: a deletion in the
 * command's first moments (before the watch exists) still ends leadership */
static void test_key_deleted_before_watch(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("early");
	int64_t t0 = t_now_ms();
	pid_t p = t_spawn(path("e.out"),
			  "%s --endpoints %s --kill-after 1s %s -- sh -c 'ETCDCTL_API=3 etcdctl --endpoints=%s del "
			  "\"$ARBITER_KEY\" >/dev/null; echo deleted; sleep 30'",
			  AE(), eps, name, eps);
	int st = -1;
	CU_ASSERT_TRUE(t_wait_pid(p, 10000, &st));
	fprintf(stderr, "key deleted by the command itself: arbiter-elect exited after %lld ms\n",
		(long long)(t_now_ms() - t0));
	CU_ASSERT_EQUAL(st, 76);
	CU_ASSERT_TRUE(t_wait_file(path("e.out"), "deleted", 100));
	CU_ASSERT_TRUE(t_wait_file(path("e.out"), "lost: election key was deleted", 100));
	CU_ASSERT(t_now_ms() - t0 < (int64_t)(1000 * (1.0 + MARGIN_S)) + 1000);
}

static void test_failover_sigkill(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("kill");
	pid_t a = t_spawn(path("ka.out"), "%s --endpoints %s --ttl 2 %s -- sh -c 'echo started; exec sleep 300'", AE(),
			  eps, name);
	CU_ASSERT_FATAL(t_wait_file(path("ka.out"), "started", 5000)); /* a leads */
	pid_t b = t_spawn(path("kb.out"), "%s --endpoints %s --ttl 2 %s -- sh -c 'echo started; sleep 300'", AE(), eps,
			  name);
	CU_ASSERT_FATAL(wait_count(eps, epre(name), 2, 5000)); /* b waits in the queue */
	CU_ASSERT_FALSE(t_wait_file(path("kb.out"), "started", 0));
	int64_t t0 = t_now_ms();
	kill(a, SIGKILL);
	int st;
	CU_ASSERT_TRUE(t_wait_pid(a, 1000, &st));
	/* a's lease ends at most a TTL after its last keepalive; etcd's scan deletes its key */
	double bound = 2.0 + ETCD_EXPIRY_SCAN_S + MARGIN_S;
	CU_ASSERT_TRUE(t_wait_file(path("kb.out"), "started", (long)(bound * 1000) + 1000));
	double secs = (double)(t_now_ms() - t0) / 1000.0;
	fprintf(stderr, "failover after SIGKILL with ttl 2 s: %.2f s (bound %.1f s = ttl 2 s + etcd expiry scan %.1f s + margin %.1f s)\n",
		secs, bound, ETCD_EXPIRY_SCAN_S, MARGIN_S);
	CU_ASSERT(secs <= bound);
	kill(b, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(b, 5000, &st));
}

static void test_sigstop_watchdog(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("stop");
	unlink(path("sa.pid"));
	pid_t a = t_spawn(path("sa.out"), "%s --endpoints %s --ttl 3 %s -- sh -c 'echo $$ > %s; exec sleep 300'", AE(), eps,
			  name, path("sa.pid"));
	CU_ASSERT_FATAL(t_wait_file(path("sa.pid"), "\n", 5000));
	char *s = t_read_file(path("sa.pid"));
	pid_t cmd = atoi(s);
	free(s);
	pid_t b = t_spawn(path("sb.out"), "%s --endpoints %s --ttl 3 %s -- sh -c 'echo started; sleep 300'", AE(), eps,
			  name);
	CU_ASSERT_TRUE(wait_count(eps, epre(name), 2, 5000)); /* b waits in the queue */
	int64_t t0 = sh_mono_ns();
	kill(a, SIGSTOP);
	/* the watchdog kills the frozen leader's command before its lease (3 s) ends */
	int64_t killed_at = 0, started_at = 0;
	while (sh_mono_ns() - t0 < 8 * SH_NS_PER_S && (!killed_at || !started_at)) {
		if (!killed_at && !t_alive(cmd))
			killed_at = sh_mono_ns();
		if (!started_at && t_wait_file(path("sb.out"), "started", 0))
			started_at = sh_mono_ns();
		usleep(5000);
	}
	CU_ASSERT(killed_at > 0);
	CU_ASSERT(started_at > 0);
	fprintf(stderr, "frozen leader: command killed after %.2f s, next leader started after %.2f s (ttl 3 s)\n",
		(double)(killed_at - t0) / 1e9, (double)(started_at - t0) / 1e9);
	CU_ASSERT(killed_at - t0 < 3 * SH_NS_PER_S);
	CU_ASSERT(killed_at < started_at);
	kill(a, SIGCONT);
	int st;
	CU_ASSERT_TRUE(t_wait_pid(a, 5000, &st));
	CU_ASSERT_EQUAL(st, 76);
	kill(b, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(b, 5000, &st));
}

static void test_etcdctl_interop(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("interop");
	int st;
	/* etcdctl elect leads: arbiter-elect --prefix '' waits */
	pid_t e1 = t_spawn(path("e1.out"), "env ETCDCTL_API=3 etcdctl --endpoints=%s elect %s etcdctl-proposal", eps, name);
	CU_ASSERT_FATAL(t_wait_file(path("e1.out"), "etcdctl-proposal", 5000));
	pid_t a = t_spawn(path("ia.out"), "%s --endpoints %s --prefix '' %s", AE(), eps, name);
	/* both keys have the same shape: NAME/LEASEHEX */
	char pre[256];
	snprintf(pre, sizeof(pre), "%s/", name);
	CU_ASSERT_TRUE(wait_count(eps, pre, 2, 5000));
	CU_ASSERT_FALSE(t_wait_file(path("ia.out"), name, 0));
	kill(e1, SIGINT);
	t_wait_pid(e1, 5000, &st);
	CU_ASSERT_TRUE(t_wait_file(path("ia.out"), name, 3000));
	/* arbiter-elect leads: etcdctl elect waits */
	pid_t e2 = t_spawn(path("e2.out"), "env ETCDCTL_API=3 etcdctl --endpoints=%s elect %s second", eps, name);
	CU_ASSERT_TRUE(wait_count(eps, pre, 2, 5000)); /* etcdctl's key queued behind ours */
	CU_ASSERT_FALSE(t_wait_file(path("e2.out"), "second", 0));
	/* --leader reads etcdctl's view too */
	char *ao = t_read_file(path("ia.out"));
	char key[256];
	CU_ASSERT_EQUAL(sscanf(ao, "%255s", key), 1);
	free(ao);
	CU_ASSERT_EQUAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s --keys-only | grep -qx '%s'", eps, pre,
			     key),
			0);
	kill(a, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(a, 5000, &st));
	CU_ASSERT_TRUE(t_wait_file(path("e2.out"), "second", 3000));
	kill(e2, SIGINT);
	t_wait_pid(e2, 5000, &st);
}

static void test_etcdctl_lock_interop(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("lock");
	char pre[256];
	snprintf(pre, sizeof(pre), "%s/", name);
	int st;
	/* etcdctl lock holds: arbiter-elect --prefix '' waits and runs its command after the unlock */
	pid_t l1 = t_spawn(path("l1.out"), "env ETCDCTL_API=3 etcdctl --endpoints=%s lock %s", eps, name);
	CU_ASSERT_FATAL(t_wait_file(path("l1.out"), name, 5000)); /* it prints the key it holds */
	pid_t a = t_spawn(path("la.out"), "%s --endpoints %s --prefix '' %s -- sh -c 'echo ran $ARBITER_KEY'", AE(), eps,
			  name);
	CU_ASSERT_TRUE(wait_count(eps, pre, 2, 5000));
	CU_ASSERT_FALSE(t_wait_file(path("la.out"), "ran", 0));
	kill(l1, SIGINT);
	CU_ASSERT_TRUE(t_wait_pid(l1, 5000, &st));
	CU_ASSERT_TRUE(t_wait_pid(a, 5000, &st));
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_TRUE(t_wait_file(path("la.out"), "ran ", 100));
	/* arbiter-elect holds: etcdctl lock waits, and runs its command once we resign */
	a = t_spawn(path("la2.out"), "%s --endpoints %s --prefix '' %s", AE(), eps, name);
	CU_ASSERT_FATAL(t_wait_file(path("la2.out"), name, 5000));
	pid_t l2 = t_spawn(path("l2.out"), "env ETCDCTL_API=3 etcdctl --endpoints=%s lock %s echo locked-by-etcdctl", eps,
			   name);
	CU_ASSERT_TRUE(wait_count(eps, pre, 2, 5000));
	CU_ASSERT_FALSE(t_wait_file(path("l2.out"), "locked-by-etcdctl", 0));
	kill(a, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(a, 5000, &st));
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_TRUE(t_wait_pid(l2, 5000, &st));
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_TRUE(t_wait_file(path("l2.out"), "locked-by-etcdctl", 100));
	CU_ASSERT_EQUAL(count_prefix(eps, pre), 0);
}

static void test_command_exit_statuses(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("exits");
	int st;
	/* the command dies of signal N: 128 + N */
	pid_t p = t_spawn(path("x.out"), "%s --endpoints %s %s -- sh -c 'kill -USR1 $$'", AE(), eps, name);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 128 + SIGUSR1);
	p = t_spawn(path("x.out"), "%s --endpoints %s %s -- sh -c 'kill -KILL $$'", AE(), eps, name);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 128 + SIGKILL);
	/* SIGINT to arbiter-elect in command mode: 130, the command's group stopped, resigned */
	unlink(path("x.pid"));
	p = t_spawn(path("x.out"), "%s --endpoints %s %s -- sh -c 'echo $$ > %s; exec sleep 300'", AE(), eps, name,
		    path("x.pid"));
	pid_t cmd = pid_from(path("x.pid"));
	CU_ASSERT_FATAL(cmd > 0);
	kill(p, SIGINT);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 130);
	CU_ASSERT_FALSE(t_alive(cmd));
	CU_ASSERT_EQUAL(count_prefix(eps, epre(name)), 0);
}

/* 70, an internal error: with the address space capped (ulimit -v) something fails to allocate -
 * where depends on the machine, so a range of caps is tried: each run ends in 0, 70 with one line
 * naming what failed, or 127 when the loader itself cannot map a library; never a crash */
static void test_internal_error_70(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("mem");
	int seen70 = 0, crashes = 0;
	for (int kb = 14000; kb <= 40000; kb += 1000) {
		int st = t_sh("ulimit -v %d; exec %s --endpoints %s --ttl 2 %s -- true >%s 2>&1", kb, AE(), eps, name,
			      path("m.out"));
		char *out = t_read_file(path("m.out"));
		if (st == 70) {
			/* our line is the last one (a TLS library may complain first) and says what failed */
			seen70++;
			size_t len = strlen(out);
			char *last = len > 1 ? memrchr(out, '\n', len - 1) : NULL;
			last = last ? last + 1 : out;
			int printable = 1;
			for (const char *q = last; *q && *q != '\n'; q++)
				printable &= *q >= ' ' && *q < 127;
			if (strncmp(last, "arbiter-elect: ", 15) || !printable || len < 20 || out[len - 1] != '\n')
				fprintf(stderr, "ulimit -v %d: exit 70 with: %s\n", kb, out);
			CU_ASSERT(!strncmp(last, "arbiter-elect: ", 15) && printable && strlen(last) > 16);
		} else if (st != 0 && st != 127) {
			crashes++;
			fprintf(stderr, "ulimit -v %d: exit %d: %s\n", kb, st, out);
		}
		free(out);
	}
	fprintf(stderr, "address space caps 14-40 MB: %d runs exited 70\n", seen70);
	CU_ASSERT(seen70 >= 1);
	CU_ASSERT_EQUAL(crashes, 0);
	CU_ASSERT_EQUAL(count_prefix(eps, epre(name)), 0);
}

static void test_kill_after_escalation(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("killafter");
	/* a command that traps SIGTERM and goes on: SIGKILLed --kill-after (1 s) after the SIGTERM */
	unlink(path("k.pid"));
	pid_t p = t_spawn(path("k.out"),
			  "%s --endpoints %s --ttl 6 --kill-after 1s %s -- sh -c 'trap \"echo got-term\" TERM; echo $$ > %s; "
			  "while :; do sleep 0.05; done'",
			  AE(), eps, name, path("k.pid"));
	pid_t cmd = pid_from(path("k.pid"));
	CU_ASSERT_FATAL(cmd > 0);
	int64_t t0 = t_now_ms();
	kill(p, SIGTERM);
	CU_ASSERT_TRUE(t_wait_file(path("k.out"), "got-term", 2000)); /* the command saw SIGTERM, kept going */
	CU_ASSERT_TRUE(t_alive(cmd));
	int st = -1;
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	double secs = (double)(t_now_ms() - t0) / 1000.0;
	fprintf(stderr, "--kill-after 1s: a command that traps SIGTERM ended %.2f s after the SIGTERM\n", secs);
	CU_ASSERT_EQUAL(st, 128 + SIGTERM);
	CU_ASSERT(secs >= 0.95 && secs < 1.0 + MARGIN_S);
	CU_ASSERT_FALSE(t_alive(cmd));
	CU_ASSERT_EQUAL(count_prefix(eps, epre(name)), 0);
}

static void test_command_revision_and_key_deleted(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("cmdlost");
	/* ARBITER_REVISION is the fencing token: the election key's create_revision */
	unlink(path("r.pid"));
	pid_t p = t_spawn(path("r.out"),
			  "%s --endpoints %s --kill-after 1s %s -- sh -c 'echo \"$ARBITER_KEY $ARBITER_REVISION\"; trap \"\" TERM; "
			  "echo $$ > %s; while :; do sleep 0.05; done'",
			  AE(), eps, name, path("r.pid"));
	pid_t cmd = pid_from(path("r.pid"));
	CU_ASSERT_FATAL(cmd > 0);
	char *out = t_read_file(path("r.out"));
	char key[256] = "";
	long long rev = 0;
	CU_ASSERT_EQUAL(sscanf(out, "%255s %lld", key, &rev), 2);
	free(out);
	etcd_config cfg = {.endpoints = eps};
	etcd_client *c;
	CU_ASSERT_EQUAL_FATAL(etcd_client_new(&cfg, &c, NULL, 0), SH_OK);
	etcd_range_result r;
	etcd_range_opts o = {0};
	CU_ASSERT_EQUAL(etcd_range(c, key, &o, &r), SH_OK);
	CU_ASSERT_EQUAL(r.count, 1);
	if (r.count == 1) {
		CU_ASSERT_EQUAL(r.kvs[0].create_revision, rev);
		CU_ASSERT(r.revision >= rev);
	}
	etcd_range_result_free(&r);
	etcd_client_free(c);
	/* someone deletes the key: leadership lost at once, the group SIGTERMed then SIGKILLed, exit 76 */
	int64_t t0 = t_now_ms();
	CU_ASSERT_EQUAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s del %s >/dev/null", eps, key), 0);
	int st = -1;
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	double secs = (double)(t_now_ms() - t0) / 1000.0;
	fprintf(stderr, "command mode: key deleted, command stopped and arbiter-elect exited after %.2f s (--kill-after 1 s)\n",
		secs);
	CU_ASSERT_EQUAL(st, 76);
	CU_ASSERT(secs < 1.0 + MARGIN_S);
	CU_ASSERT_FALSE(t_alive(cmd));
	CU_ASSERT_TRUE(t_wait_file(path("r.out"), "leadership of '", 100));
	CU_ASSERT_TRUE(t_wait_file(path("r.out"), "lost: election key was deleted", 100));
}

static void test_etcd_restart(void)
{
	tetcd e;
	CU_ASSERT_EQUAL_FATAL(tetcd_start(&e, NULL), 0);
	pid_t a = t_spawn(path("ra.out"), "%s --endpoints %s --ttl 9 job -- sh -c 'echo $$ > %s; exec sleep 300'", AE(),
			  e.endpoint, path("ra.pid"));
	CU_ASSERT_FATAL(t_wait_file(path("ra.pid"), "\n", 5000));
	char *s = t_read_file(path("ra.pid"));
	pid_t cmd = atoi(s);
	free(s);
	/* etcd back within the ttl: leadership kept */
	CU_ASSERT_EQUAL_FATAL(tetcd_restart(&e), 0);
	sleep(10);
	CU_ASSERT_TRUE(t_alive(cmd));
	int st;
	CU_ASSERT_FALSE(t_wait_pid(a, 0, &st));
	/* etcd gone past the ttl: the command is stopped before the deadline, exit 76 */
	int64_t t0 = sh_mono_ns();
	tetcd_kill(&e);
	CU_ASSERT_TRUE(t_wait_pid(a, 12000, &st));
	CU_ASSERT_EQUAL(st, 76);
	CU_ASSERT_FALSE(t_alive(cmd));
	fprintf(stderr, "etcd down: leadership given up after %.2f s (ttl 9 s)\n", (double)(sh_mono_ns() - t0) / 1e9);
	CU_ASSERT(sh_mono_ns() - t0 < 9 * SH_NS_PER_S);
	tetcd_stop(&e);
}

static void test_auth_tls(void)
{
	tetcd e;
	CU_ASSERT_EQUAL_FATAL(tetcd_start(&e, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s user add root:pw >/dev/null && "
				   "ETCDCTL_API=3 etcdctl --endpoints=%s auth enable >/dev/null 2>&1",
				   e.endpoint, e.endpoint),
			      0);
	int st;
	pid_t p = t_spawn(path("au.out"), "%s --endpoints %s --user root:wrong job -- true", AE(), e.endpoint);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 69);
	CU_ASSERT_TRUE(t_wait_file(path("au.out"), "authentication as 'root' failed", 100));
	p = t_spawn(path("au.out"), "env ETCDCTL_USER=root ETCDCTL_PASSWORD=pw %s --endpoints %s job -- sh -c 'exit 3'",
		    AE(), e.endpoint);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 3);
	tetcd_stop(&e);

	char certs[300];
	snprintf(certs, sizeof(certs), "%s/certs", tmp);
	CU_ASSERT_EQUAL_FATAL(t_sh("bash -c '. %s/tests/lib.sh && sh_make_certs %s'", getenv("SWARMHEAL_SRC"), certs), 0);
	char flags[1024];
	snprintf(flags, sizeof(flags),
		 "--cert-file %s/server.pem --key-file %s/server.key --trusted-ca-file %s/ca.pem --client-cert-auth",
		 certs, certs, certs);
	CU_ASSERT_EQUAL_FATAL(tetcd_start(&e, flags), 0);
	p = t_spawn(path("tls.out"), "%s --endpoints %s --cacert %s/ca.pem --cert %s/client.pem --key %s/client.key job -- sh -c 'exit 4'",
		    AE(), e.endpoint, certs, certs, certs);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 4);
	p = t_spawn(path("tls.out"), "%s --endpoints %s --cacert %s/ca.pem --cert %s/client.pem job -- true", AE(),
		    e.endpoint, certs, certs);
	CU_ASSERT_TRUE(t_wait_pid(p, 5000, &st));
	CU_ASSERT_EQUAL(st, 64);
	CU_ASSERT_TRUE(t_wait_file(path("tls.out"), "--cert and --key must be given together", 100));
	tetcd_stop(&e);
}

/*
 * Safety: five contenders run a command that stamps "REVISION TIME" into one
 * file every 20 ms while leader; for ~30 s the leader's arbiter-elect is hit
 * at random with SIGKILL, SIGSTOP/SIGCONT or a resign (SIGTERM). Each term is
 * identified by its fencing token; no two terms' stamp intervals may overlap.
 */
static void test_safety(void)
{
	const char *eps = t_endpoints();
	const char *name = uniq("safety");
	char log[512];
	snprintf(log, sizeof(log), "%s", path("stamps.log"));
	unlink(log);
	enum { N = 5 };
	pid_t ps[N];
	char cmd[N][1024];
	for (int i = 0; i < N; i++) {
		snprintf(cmd[i], sizeof(cmd[i]),
			 "%s --endpoints %s --ttl 2 --kill-after 300ms --proposal slot%d %s -- sh -c 'while :; do echo \"$ARBITER_REVISION $(date +%%s%%N)\" >> %s; sleep 0.02; done'",
			 AE(), eps, i, name, log);
		ps[i] = t_spawn(NULL, "%s", cmd[i]);
	}
	srand((unsigned)getpid());
	int kills = 0, stops = 0, resigns = 0;
	int64_t end = sh_mono_ns() + 30 * SH_NS_PER_S;
	while (sh_mono_ns() < end) {
		usleep(300000 + (useconds_t)(rand() % 700) * 1000);
		/* mostly hit the leader */
		int i = rand() % N, st;
		if (rand() % 4) {
			pid_t l = t_spawn(path("sl.out"), "%s --endpoints %s --leader %s", AE(), eps, name);
			t_wait_pid(l, 3000, &st);
			char *lo = t_read_file(path("sl.out"));
			char *slot = strstr(lo, " slot");
			if (slot)
				i = atoi(slot + 5) % N;
			free(lo);
		}
		int action = rand() % 3;
		if (action == 0) {
			kill(ps[i], SIGKILL);
			kills++;
		} else if (action == 1) {
			kill(ps[i], SIGSTOP);
			usleep(1000000 + (useconds_t)(rand() % 2500) * 1000);
			kill(ps[i], SIGCONT);
			stops++;
		} else {
			kill(ps[i], SIGTERM);
			resigns++;
		}
		/* replace whoever ended */
		for (int j = 0; j < N; j++)
			if (t_wait_pid(ps[j], j == i ? 300 : 0, &st))
				ps[j] = t_spawn(NULL, "%s", cmd[j]);
	}
	for (int j = 0; j < N; j++) {
		kill(ps[j], SIGCONT);
		kill(ps[j], SIGTERM);
	}
	for (int j = 0; j < N; j++) {
		int st;
		if (!t_wait_pid(ps[j], 5000, &st)) {
			kill(ps[j], SIGKILL);
			t_wait_pid(ps[j], 1000, &st);
		}
	}
	/* check: per term (revision) the first and last stamp; terms must not overlap */
	char *s = t_read_file(log);
	struct term {
		long long rev, first, last;
	} terms[512];
	int nt = 0, lines = 0;
	for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		long long rev, t;
		if (sscanf(line, "%lld %lld", &rev, &t) != 2)
			continue;
		lines++;
		int k;
		for (k = 0; k < nt && terms[k].rev != rev; k++)
			;
		if (k == nt && nt < 512)
			terms[nt++] = (struct term){rev, t, t};
		if (k < nt) {
			if (t < terms[k].first)
				terms[k].first = t;
			if (t > terms[k].last)
				terms[k].last = t;
		}
	}
	free(s);
	int overlaps = 0;
	for (int a = 0; a < nt; a++)
		for (int b = a + 1; b < nt; b++)
			if (terms[a].first <= terms[b].last && terms[b].first <= terms[a].last) {
				overlaps++;
				fprintf(stderr, "overlap: term %lld [%lld, %lld] and term %lld [%lld, %lld]\n", terms[a].rev,
					terms[a].first, terms[a].last, terms[b].rev, terms[b].first, terms[b].last);
			}
	fprintf(stderr, "safety: %d terms, %d stamps, %d SIGKILL, %d SIGSTOP/SIGCONT, %d resigns, %d overlaps\n", nt, lines,
		kills, stops, resigns, overlaps);
	CU_ASSERT(nt >= 5); /* liveness: leadership moved under the faults (7-15 terms seen) */
	CU_ASSERT_EQUAL(overlaps, 0);
}

static void test_valgrind_clean(void)
{
	if (t_sh("command -v valgrind >/dev/null") != 0) {
		CU_FAIL("valgrind is not installed");
		return;
	}
	const char *eps = t_endpoints();
	const char *name = uniq("vg");
	int rc = t_sh("valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "
		      "--child-silent-after-fork=yes %s --endpoints %s %s -- true 2>%s",
		      AE(), eps, name, path("vg.out"));
	if (rc)
		fprintf(stderr, "%s", t_read_file(path("vg.out")));
	CU_ASSERT_EQUAL(rc, 0);
	rc = t_sh("valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 %s "
		  "--endpoints %s --leader %s 2>%s",
		  AE(), eps, name, path("vg.out"));
	CU_ASSERT_EQUAL(rc, 1); /* no leader, no leak */
	rc = t_sh("valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 %s "
		  "--endpoints http://127.0.0.1:1 %s 2>%s",
		  AE(), name, path("vg.out"));
	CU_ASSERT_EQUAL(rc, 69);
}

int main(int argc, char **argv)
{
	if (!t_endpoints()) {
		return t_skip("arbiter", "SWARMHEAL_TEST_ENDPOINTS not set (tests/run.sh sets it)");
	}
	snprintf(tmp, sizeof(tmp), "/tmp/swarmheal-arbiter-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	static const t_case cases[] = {
		{"decide", test_decide},
		{"bad_input", test_bad_input},
		{"hold_leader_resign_observe", test_hold_leader_resign_observe},
		{"command_mode", test_command_mode},
		{"connections", test_connections},
		{"key_deleted_before_watch", test_key_deleted_before_watch},
		{"early_exit_leaves_no_group", test_early_exit_leaves_no_group},
		{"failover_sigkill", test_failover_sigkill},
		{"sigstop_watchdog", test_sigstop_watchdog},
		{"etcdctl_interop", test_etcdctl_interop},
		{"etcdctl_lock_interop", test_etcdctl_lock_interop},
		{"command_exit_statuses", test_command_exit_statuses},
		{"kill_after_escalation", test_kill_after_escalation},
		{"internal_error_70", test_internal_error_70},
		{"command_revision_and_key_deleted", test_command_revision_and_key_deleted},
		{"etcd_restart", test_etcd_restart},
		{"auth_tls", test_auth_tls},
		{"safety", test_safety},
		{"valgrind_clean", test_valgrind_clean},
		{NULL, NULL},
	};
	int rc = t_run("arbiter_integration", cases, argc, argv);
	t_sh("rm -rf %s", tmp);
	return rc;
}
