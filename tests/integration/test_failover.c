/* SPDX-License-Identifier: MIT */
/* test_failover.c - sessions ride out the kill of etcd's leader: arbiter-elect, agents, swarmheald on 3 members */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd_concurrency.h"
#include "sh_util.h"
#include "tcluster.h"
#include "tmain.h"
#include "tsupport.h"

static tcluster cl;
static char tmp[256];
static pid_t spawned[64]; /* stopped at the end even when a test stops midway */
static int nspawned;

static pid_t spawn_kept(pid_t p)
{
	if (p > 0 && nspawned < 64)
		spawned[nspawned++] = p;
	return p;
}

static const char *path(const char *name)
{
	static char buf[8][512];
	static int i;
	char *b = buf[i++ % 8];
	snprintf(b, 512, "%s/%s", tmp, name);
	return b;
}

/* trials of killing the leader: SWARMHEAL_FAILOVER_TRIALS, default 20 */
static int trial_count(void)
{
	const char *e = getenv("SWARMHEAL_FAILOVER_TRIALS");
	int n = e && *e ? atoi(e) : 20;
	return n > 0 ? n : 20;
}

/* a separate watch on a prefix that counts puts and deletes of heartbeat keys */
typedef struct watcher {
	char prefix[200];
	int64_t start_rev;
	atomic_int stop, ready;
	atomic_long puts, deletes, reconnects;
	char deleted[256];
	pthread_t thr;
} watcher;

static void *watch_loop(void *arg)
{
	watcher *w = arg;
	etcd_config cfg = {.endpoints = cl.endpoints, .timeout_ms = 1000};
	etcd_client *c;
	if (etcd_client_new(&cfg, &c, NULL, 0))
		return NULL;
	etcd_watch *wt;
	etcd_watch_opts o = {.prefix = 1, .start_revision = w->start_rev};
	if (etcd_watch_open(c, w->prefix, &o, &wt)) {
		fprintf(stderr, "watch: %s\n", etcd_errmsg(c));
		etcd_client_free(c);
		return NULL;
	}
	atomic_store(&w->ready, 1);
	while (!atomic_load(&w->stop)) {
		etcd_watch_batch b;
		sh_err e = etcd_watch_next(wt, &b, 200);
		if (e == SH_OK) {
			for (size_t i = 0; i < b.n; i++) {
				if (!strstr(b.events[i].kv.key, "/nodes/"))
					continue;
				if (b.events[i].type == ETCD_EV_DELETE) {
					atomic_fetch_add(&w->deletes, 1);
					snprintf(w->deleted, sizeof(w->deleted), "%s", b.events[i].kv.key);
				} else {
					atomic_fetch_add(&w->puts, 1);
				}
			}
			etcd_watch_batch_free(&b);
		} else if (e == SH_E_COMPACTED) {
			fprintf(stderr, "watch: compacted, events may be missing\n");
			atomic_fetch_add(&w->deletes, 1000);
			break;
		} else if (e != SH_E_TIMEOUT) {
			usleep(50000); /* no member answers right now: the watch resumes */
		}
	}
	atomic_store(&w->reconnects, etcd_watch_reconnects(wt));
	etcd_watch_close(wt);
	etcd_client_free(c);
	return NULL;
}

static int64_t store_revision(void)
{
	etcd_config cfg = {.endpoints = cl.endpoints, .timeout_ms = 1000};
	etcd_client *c;
	if (etcd_client_new(&cfg, &c, NULL, 0))
		return 0;
	etcd_kv kv;
	int64_t rev = 0;
	etcd_get(c, "/nothing", &kv, &rev);
	etcd_client_free(c);
	return rev;
}

/* every running member answers with the same leader */
static int settled(long timeout_ms)
{
	for (long waited = 0; waited < timeout_ms; waited += 50) {
		int leader = tcluster_leader(&cl, 0, -1), all = leader >= 0;
		for (int i = 0; all && i < cl.n; i++) {
			char cmd[300];
			snprintf(cmd, sizeof(cmd), "curl -fsS -m 0.5 -X POST -d '{}' %s/v3/maintenance/status >/dev/null",
				 cl.m[i].endpoint);
			all = cl.m[i].pid && t_sh("%s", cmd) == 0;
		}
		if (all)
			return 1;
		usleep(50000);
	}
	return 0;
}

static int count_lines(const char *file, const char *needle)
{
	char *s = t_read_file(file);
	int n = 0;
	for (char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(s);
	return n;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* arbiter-elect --ttl 4s acts until 3.0 s after its last successful keepalive's
 * send (margin 0.5 s, default kill-after 0.5 s), which it keeps at most 0.1 s old;
 * a keepalive succeeds again about 0.1-0.25 s after etcd has a leader. No client
 * can renew a lease while etcd has no leader: a loss is ours only when etcd was
 * leaderless for less than this. */
#define ARBITER_SURVIVES_NS (2650 * SH_NS_PER_MS)
/* swarmheald --ttl 5s acts until 4 s after; keeps alive every 1.67 s */
#define DAEMON_SURVIVES_NS (2000 * SH_NS_PER_MS)

static pid_t start_arbiter(const char *pre, pid_t *cmd)
{
	unlink(path("ae.pid"));
	pid_t ae = spawn_kept(t_spawn(path("ae.out"),
			   "%s --endpoints %s --ttl 4s --prefix %s/elections/ job -- sh -c 'echo $$ > %s; exec sleep 600'",
			   t_bin("arbiter-elect"), cl.endpoints, pre, path("ae.pid")));
	*cmd = 0;
	if (t_wait_file(path("ae.pid"), "\n", 15000)) {
		char *s = t_read_file(path("ae.pid"));
		*cmd = atoi(s);
		free(s);
	}
	return ae;
}

/* arbiter-elect still leads; if it lost, say whether etcd's own leaderless time explains it */
static int check_arbiter(pid_t *ae, pid_t *cmd, const char *pre, int trial, int64_t leaderless, int *etcd_losses)
{
	int st;
	if (!t_wait_pid(*ae, 0, &st)) {
		CU_ASSERT_TRUE(t_alive(*cmd));
		return 0;
	}
	char *out = t_read_file(path("ae.out"));
	fprintf(stderr, "trial %d: etcd leaderless %.2f s, arbiter-elect exited %d: %s", trial, leaderless / 1e9, st, out);
	free(out);
	CU_ASSERT_EQUAL(st, 76);          /* the documented status ... */
	CU_ASSERT_FALSE(t_alive(*cmd));   /* ... and the command stopped */
	if (leaderless < ARBITER_SURVIVES_NS) {
		CU_FAIL("arbiter-elect lost its leadership although etcd elected a leader in time");
	} else {
		(*etcd_losses)++;
	}
	*ae = start_arbiter(pre, cmd);
	CU_ASSERT_FATAL(*cmd > 0);
	usleep(500000); /* a few keepalives before the next kill */
	return 1;
}

static void test_leader_kills(void)
{
	int trials = trial_count();
	const char *dh = getenv("SWARMHEAL_TEST_DOCKER_HOST");
	char pre[128];
	snprintf(pre, sizeof(pre), "/t/failover/%d", (int)getpid());
	pid_t cmd, ae = start_arbiter(pre, &cmd);
	CU_ASSERT_FATAL(cmd > 0);

	watcher w = {0};
	pid_t agents[3] = {0}, daemon = 0;
	if (dh && *dh) {
		snprintf(w.prefix, sizeof(w.prefix), "%s/a", pre);
		w.start_rev = store_revision() + 1;
		CU_ASSERT_FATAL(w.start_rev > 1);
		pthread_create(&w.thr, NULL, watch_loop, &w);
		for (int i = 0; i < 3; i++) {
			char log[64];
			snprintf(log, sizeof(log), "agent%d.log", i);
			agents[i] = spawn_kept(t_spawn(path(log), "%s --endpoints %s --docker-host %s --prefix %s/a%d --ttl 3s",
						       t_bin("swarmheal-agent"), cl.endpoints, dh, pre, i));
		}
		daemon = spawn_kept(t_spawn(path("swarmheald.log"),
					    "%s --endpoints %s --docker-host %s --prefix %s/a0 --dry-run --metrics-addr 127.0.0.1:%d",
					    t_bin("swarmheald"), cl.endpoints, dh, pre, t_free_port()));
		for (int i = 0; i < 3; i++) {
			char log[64];
			snprintf(log, sizeof(log), "agent%d.log", i);
			CU_ASSERT_FATAL(t_wait_file(path(log), "heartbeat written", 10000));
		}
		CU_ASSERT_FATAL(t_wait_file(path("swarmheald.log"), "msg=\"leading\"", 15000));
	} else {
		fprintf(stderr, "SWARMHEAL_TEST_DOCKER_HOST not set: agents and swarmheald left out (arbiter-elect only)\n");
	}

	int64_t *leaderless = calloc((size_t)trials, sizeof(int64_t));
	int done = 0, etcd_losses = 0, long_elections = 0;
	for (int t = 0; t < trials; t++) {
		if (!settled(15000)) {
			CU_FAIL("the cluster did not settle after a restart");
			break;
		}
		usleep(1000000); /* every session has kept alive since the last trial */
		if (t > 0)
			check_arbiter(&ae, &cmd, pre, t, leaderless[t - 1], &etcd_losses);
		int l = tcluster_leader(&cl, 5000, -1);
		CU_ASSERT_FATAL(l >= 0);
		int64_t t0 = sh_mono_ns();
		tcluster_kill(&cl, l);
		int nl = tcluster_leader(&cl, 15000, l);
		leaderless[done++] = sh_mono_ns() - t0;
		long_elections += leaderless[t] >= DAEMON_SURVIVES_NS;
		CU_ASSERT_FATAL(nl >= 0);
		CU_ASSERT_EQUAL_FATAL(tcluster_restart(&cl, l), 0);
	}
	CU_ASSERT_TRUE(settled(15000));
	usleep(1000000);
	if (done)
		check_arbiter(&ae, &cmd, pre, done, leaderless[done - 1], &etcd_losses);

	/* arbiter-elect: resigns on SIGTERM with 143, not 76 */
	CU_ASSERT_TRUE(cmd > 0 && t_alive(cmd));
	int st = -1;
	kill(ae, SIGTERM);
	CU_ASSERT_TRUE(t_wait_pid(ae, 10000, &st));
	CU_ASSERT_EQUAL(st, 128 + SIGTERM);
	char *out = t_read_file(path("ae.out"));
	CU_ASSERT_PTR_NULL(strstr(out, "lost"));
	fprintf(stderr, "arbiter-elect --ttl 4s: kept through %d of %d leader kills; %d lost while etcd had no leader "
			"for more than %.1f s; %s",
		done - etcd_losses, done, etcd_losses, ARBITER_SURVIVES_NS / 1e9, *out ? out : "no gap over ttl/4\n");
	free(out);

	if (dh && *dh) {
		for (int i = 0; i < 3; i++) {
			kill(agents[i], SIGTERM);
			t_wait_pid(agents[i], 5000, NULL);
		}
		kill(daemon, SIGTERM);
		t_wait_pid(daemon, 5000, NULL);
		atomic_store(&w.stop, 1);
		pthread_join(w.thr, NULL);
		int lost = 0;
		for (int i = 0; i < 3; i++) {
			char log[64];
			snprintf(log, sizeof(log), "agent%d.log", i);
			lost += count_lines(path(log), "heartbeat lease lost");
			char *a = t_read_file(path(log));
			char *g = strstr(a, "heartbeat session closed");
			if (g)
				fprintf(stderr, "agent %d: %.*s\n", i, (int)strcspn(g, "\n"), g);
			free(a);
		}
		/* at SIGTERM an agent replaces its key with the stop mark (no lease) before revoking: no delete at all */
		long deletes = atomic_load(&w.deletes);
		fprintf(stderr, "agents --ttl 3s: %ld heartbeat puts, %ld deletes during the trials, %d sessions lost and "
				"replaced, watch reconnected %ld times\n",
			atomic_load(&w.puts), deletes, lost, atomic_load(&w.reconnects));
		if (deletes)
			fprintf(stderr, "last deleted: %s\n", w.deleted);
		CU_ASSERT_EQUAL(deletes, 0);
		CU_ASSERT(atomic_load(&w.puts) >= 3);
		int stopped = count_lines(path("swarmheald.log"), "stopped acting");
		int leading = count_lines(path("swarmheald.log"), "msg=\"leading\"");
		fprintf(stderr, "swarmheald --ttl 5s: led %d time(s), stopped acting %d time(s); %d kills left etcd "
				"leaderless over %.1f s\n",
			leading, stopped, long_elections, DAEMON_SURVIVES_NS / 1e9);
		CU_ASSERT(stopped <= long_elections);
		CU_ASSERT_EQUAL(leading, stopped + 1);
		/* nothing recorded twice: every action record under the daemon's prefix is distinct */
		char cmdline[1400];
		snprintf(cmdline, sizeof(cmdline),
			 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/a0/actions/ --print-value-only | "
			 "sed 's/\"ts\":\"[^\"]*\",//' | sort | uniq -d | grep -q .",
			 cl.endpoints, pre);
		CU_ASSERT_NOT_EQUAL(t_sh("%s", cmdline), 0);
	}
	qsort(leaderless, (size_t)done, sizeof(int64_t), cmp_i64);
	if (done)
		fprintf(stderr, "%d leader kills: kill to a new leader seen min %.2f s, median %.2f s, max %.2f s\n", done,
			leaderless[0] / 1e9, leaderless[done / 2] / 1e9, leaderless[done - 1] / 1e9);
	CU_ASSERT_EQUAL(done, trials);
	free(leaderless);
}

/* the opposite: no member left, the command is stopped before the deadline, exit 76 */
static void test_all_members_stopped(void)
{
	CU_ASSERT_FATAL(settled(15000));
	pid_t ae = spawn_kept(t_spawn(path("all.out"),
				      "%s --endpoints %s --ttl 4s job-all -- sh -c 'echo $$ > %s; exec sleep 600'",
				      t_bin("arbiter-elect"), cl.endpoints, path("all.pid")));
	CU_ASSERT_FATAL(t_wait_file(path("all.pid"), "\n", 10000));
	char *s = t_read_file(path("all.pid"));
	pid_t cmd = atoi(s);
	free(s);
	CU_ASSERT_FATAL(cmd > 0);
	/* and swarmheald's controller (ttl 5 s: stops acting with a fifth of it left) */
	const char *dh = getenv("SWARMHEAL_TEST_DOCKER_HOST");
	pid_t daemon = 0;
	if (dh && *dh) {
		daemon = spawn_kept(t_spawn(path("all-d.log"),
					    "%s --endpoints %s --docker-host %s --prefix /t/failover-all/%d --dry-run "
					    "--metrics-addr 127.0.0.1:%d",
					    t_bin("swarmheald"), cl.endpoints, dh, (int)getpid(), t_free_port()));
		CU_ASSERT_FATAL(t_wait_file(path("all-d.log"), "msg=\"leading\"", 15000));
	}
	usleep(500000);
	/* the last successful keepalive was sent before t0: the deadline is before t0 + ttl */
	int64_t t0 = sh_mono_ns();
	for (int i = 0; i < cl.n; i++)
		tcluster_kill(&cl, i);
	while (t_alive(cmd) && sh_mono_ns() - t0 < 12 * SH_NS_PER_S)
		usleep(10000);
	double dead_after = (double)(sh_mono_ns() - t0) / 1e9;
	if (daemon) {
		while (!count_lines(path("all-d.log"), "stopped acting") && sh_mono_ns() - t0 < 12 * SH_NS_PER_S)
			usleep(10000);
		double stopped_after = (double)(sh_mono_ns() - t0) / 1e9;
		fprintf(stderr, "all members stopped: swarmheald stopped acting %.2f s after (ttl 5 s)\n", stopped_after);
		CU_ASSERT(stopped_after < 4.0); /* deadline minus a fifth of the TTL */
		kill(daemon, SIGTERM);
		t_wait_pid(daemon, 5000, NULL);
	}
	int st = -1;
	CU_ASSERT_TRUE(t_wait_pid(ae, 10000, &st));
	CU_ASSERT_EQUAL(st, 76);
	CU_ASSERT_FALSE(t_alive(cmd));
	/* dead before the deadline minus the margin (4 s - 0.8 s) */
	CU_ASSERT(dead_after < 3.2);
	fprintf(stderr, "all members stopped: command stopped %.2f s after (ttl 4 s), arbiter-elect exit %d\n", dead_after,
		st);
	for (int i = 0; i < cl.n; i++)
		tcluster_restart(&cl, i);
}

/* the gap hook sees every successful keepalive; the longest gap spans an etcd restart */
typedef struct gaps {
	atomic_long calls;
	_Atomic int64_t max;
} gaps;

static void on_gap(void *arg, int64_t gap_ns)
{
	gaps *g = arg;
	atomic_fetch_add(&g->calls, 1);
	if (gap_ns > atomic_load(&g->max))
		atomic_store(&g->max, gap_ns);
}

static void test_gap_hook(void)
{
	tetcd e;
	CU_ASSERT_EQUAL_FATAL(tetcd_start(&e, NULL), 0);
	etcd_config cfg = {.endpoints = e.endpoint};
	etcd_client *c;
	CU_ASSERT_EQUAL_FATAL(etcd_client_new(&cfg, &c, NULL, 0), SH_OK);
	etcd_session *s;
	/* TTL 9 s: a keepalive every 3 s, the owner's budget 7.2 s */
	CU_ASSERT_EQUAL_FATAL(etcd_session_new(c, 9, &s), SH_OK);
	gaps g = {0};
	etcd_session_set_gap_hook(s, on_gap, &g);
	CU_ASSERT_EQUAL(etcd_session_keepalive_period(s), 3 * SH_NS_PER_S);
	/* the first keepalive comes one period after the grant: its gap is about one period */
	int64_t t0 = sh_mono_ns();
	while (atomic_load(&g.calls) == 0 && sh_mono_ns() - t0 < 6 * SH_NS_PER_S)
		usleep(5000);
	CU_ASSERT_FATAL(atomic_load(&g.calls) >= 1);
	CU_ASSERT(etcd_session_max_gap_ns(s) >= 3 * SH_NS_PER_S);
	CU_ASSERT(etcd_session_max_gap_ns(s) < 3500 * SH_NS_PER_MS);
	CU_ASSERT_EQUAL(etcd_session_max_gap_ns(s), atomic_load(&g.max));
	/*
	 * etcd killed right after a keepalive and kept down for 3.4 s: the keepalive due 3 s after the
	 * last one fails, and so do the retries every 150 ms until etcd answers again (at least two
	 * more before the restart even begins). Phase-locked so that the count does not depend on
	 * where in the period the kill lands.
	 */
	long before = atomic_load(&g.calls);
	while (atomic_load(&g.calls) == before && sh_mono_ns() - t0 < 12 * SH_NS_PER_S)
		usleep(2000);
	CU_ASSERT_FATAL(atomic_load(&g.calls) > before);
	before = atomic_load(&g.calls);
	long failed_before = etcd_session_failures(s);
	tetcd_kill(&e);
	t0 = sh_mono_ns();
	usleep(3400000);
	int64_t t_restart = sh_mono_ns();
	CU_ASSERT_EQUAL_FATAL(tetcd_restart(&e), 0);
	int64_t t_ready = sh_mono_ns();
	while (atomic_load(&g.calls) == before && sh_mono_ns() - t0 < 10 * SH_NS_PER_S)
		usleep(5000);
	int64_t t_back = sh_mono_ns();
	char why[256];
	etcd_session_errmsg(s, why, sizeof(why));
	if (!etcd_session_alive(s))
		fprintf(stderr, "session lost: %s\n", why);
	CU_ASSERT(etcd_session_alive(s));
	CU_ASSERT(atomic_load(&g.calls) > before);
	/* the gap spans the outage; the lease outlived it (budget 7.2 s) */
	CU_ASSERT(etcd_session_max_gap_ns(s) >= (t_restart - t0));
	CU_ASSERT(etcd_session_max_gap_ns(s) < 7200 * SH_NS_PER_MS);
	CU_ASSERT_EQUAL(etcd_session_max_gap_ns(s), atomic_load(&g.max));
	long failed = etcd_session_failures(s) - failed_before;
	CU_ASSERT(failed >= 3);
	/* retried every 150 ms, not once a period: back within a second of etcd being ready */
	CU_ASSERT(t_back - t_ready < SH_NS_PER_S);
	fprintf(stderr,
		"etcd down %.2f s (restart took %.2f s more): kept alive again %.2f s after the kill, %.2f s after "
		"etcd was ready; longest gap %lld ms, %ld failed attempts\n",
		(double)(t_restart - t0) / 1e9, (double)(t_ready - t_restart) / 1e9, (double)(t_back - t0) / 1e9,
		(double)(t_back - t_ready) / 1e9, (long long)(etcd_session_max_gap_ns(s) / SH_NS_PER_MS), failed);
	etcd_session_close(s, 1);
	etcd_client_free(c);
	tetcd_stop(&e);
}

int main(int argc, char **argv)
{
	if (t_sh("command -v etcd >/dev/null") != 0) {
		fprintf(stderr, "etcd not installed: skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	snprintf(tmp, sizeof(tmp), "/tmp/swarmheal-failover-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (tcluster_start(&cl, 3)) {
		fprintf(stderr, "cannot start a 3-member etcd\n");
		return 1;
	}
	static const t_case cases[] = {
		{"leader_kills", test_leader_kills},
		{"all_members_stopped", test_all_members_stopped},
		{"gap_hook", test_gap_hook},
		{NULL, NULL},
	};
	int rc = t_run("failover", cases, argc, argv);
	for (int i = 0; i < nspawned; i++) {
		if (t_alive(spawned[i])) {
			kill(-spawned[i], SIGKILL);
			kill(spawned[i], SIGKILL);
		}
		t_wait_pid(spawned[i], 2000, NULL);
	}
	tcluster_stop(&cl);
	if (rc == 0)
		t_sh("rm -rf %s", tmp);
	else
		fprintf(stderr, "logs kept in %s\n", tmp);
	return rc;
}
