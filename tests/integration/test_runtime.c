/* SPDX-License-Identifier: MIT */
/* test_runtime.c - the controller runtime against real etcd: two controllers in one process lead and fail over
 * independently, watches mark them dirty, the work queue records actions, retention prunes, /metrics parses */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

typedef struct tcfg {
	const char *who;          /* "A" or "B": which runtime leads */
	volatile int *block_ms;   /* the next pass sleeps this long (a test-only hook) */
	volatile long *passes;
	volatile long *worked;
} tcfg;

static char prefix[128];
static etcd_client *tc;

static sh_err t_reconcile(ctl_ctx *x, void *st)
{
	(void)st;
	const tcfg *c = x->cfg;
	int ms = *c->block_ms;
	if (ms) {
		*c->block_ms = 0;
		usleep((useconds_t)ms * 1000);
	}
	(*c->passes)++;
	char k[300];
	snprintf(k, sizeof(k), "%s/who/%s", x->common.prefix, x->def->name);
	etcd_put(x->etcd, k, c->who, strlen(c->who), NULL, NULL, NULL);
	ctl_enqueue(x, "job-1");
	return SH_OK;
}

static sh_err t_work(ctl_ctx *x, void *st, const char *key)
{
	(void)st;
	const tcfg *c = x->cfg;
	if (*c->worked)
		return SH_OK;
	(*c->worked)++;
	return ctl_record(x, "noop", key, "test work item", "ok", NULL, NULL, NULL);
}

static const char *const watch_list[] = {"/watched/", NULL};
static const ctl_def alpha = {.name = "alpha", .watch = watch_list, .cfg_size = sizeof(tcfg),
			      .reconcile = t_reconcile, .work = t_work};
static const ctl_def beta = {.name = "beta", .watch = watch_list, .cfg_size = sizeof(tcfg),
			     .reconcile = t_reconcile, .work = t_work};

static volatile int block_a[2], block_b[2];
static volatile long passes_a[2], passes_b[2], worked_a[2], worked_b[2];

static ctl_rt *start(const char *who, volatile int *block, volatile long *passes, volatile long *worked,
		     ctl_common *common, pthread_mutex_t *lock, int64_t resync_ms)
{
	static tcfg cfgs[2][2];
	int r = who[0] == 'A' ? 0 : 1;
	cfgs[r][0] = (tcfg){who, &block[0], &passes[0], &worked[0]};
	cfgs[r][1] = (tcfg){who, &block[1], &passes[1], &worked[1]};
	*common = (ctl_common){.prefix = prefix, .ttl_ms = 2000, .resync_ms = resync_ms,
			       .actions_retention_ms = 7 * 24 * 3600 * 1000LL, .actions_max = 10000};
	const ctl_def *defs[] = {&alpha, &beta};
	void *cfgp[] = {&cfgs[r][0], &cfgs[r][1]};
	etcd_config ec = {.endpoints = t_endpoints()};
	ctl_rt *rt = NULL;
	char err[200];
	CU_ASSERT_EQUAL(ctl_start(defs, cfgp, 2, common, lock, &ec, NULL, &rt, err, sizeof(err)), SH_OK);
	return rt;
}

static int who_is(const char *name, char *out, size_t len)
{
	char k[300];
	snprintf(k, sizeof(k), "%s/who/%s", prefix, name);
	etcd_kv kv;
	out[0] = '\0';
	if (etcd_get(tc, k, &kv, NULL))
		return 0;
	snprintf(out, len, "%s", kv.value);
	etcd_kv_free(&kv);
	return 1;
}

static int wait_who(const char *name, const char *want, long ms)
{
	char w[16];
	for (int64_t end = sh_mono_ns() + ms * SH_NS_PER_MS; sh_mono_ns() < end; usleep(20000))
		if (who_is(name, w, sizeof(w)) && !strcmp(w, want))
			return 1;
	return 0;
}

static void test_two_controllers_independent(void)
{
	snprintf(prefix, sizeof(prefix), "%s", t_prefix("runtime"));
	prefix[strlen(prefix) - 1] = '\0';
	/* runtime B in a child forked before any thread: it starts when told */
	int go[2];
	CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
	pid_t child = fork();
	if (child == 0) {
		close(go[1]);
		char b;
		if (read(go[0], &b, 1) != 1)
			_exit(2);
		ctl_common common;
		pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		ctl_rt *rt = start("B", block_b, passes_b, worked_b, &common, &lock, 200);
		int sig;
		sigwait(&set, &sig);
		ctl_stop(rt);
		_exit(0);
	}
	close(go[0]);
	ctl_common common;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	ctl_rt *rt = start("A", block_a, passes_a, worked_a, &common, &lock, 200);
	CU_ASSERT_TRUE(wait_who("alpha", "A", 5000));
	CU_ASSERT_TRUE(wait_who("beta", "A", 5000));
	CU_ASSERT_EQUAL(write(go[1], "g", 1), 1);
	/* the work queue: each controller worked its key once and recorded it */
	for (int i = 0; i < 100 && (!worked_a[0] || !worked_a[1]); i++)
		usleep(20000);
	CU_ASSERT_EQUAL(worked_a[0], 1);
	CU_ASSERT_EQUAL(worked_a[1], 1);
	CU_ASSERT_EQUAL(ctl_metric_get("swarmheal_actions_total", "controller=\"beta\",kind=\"noop\",result=\"ok\""), 1);

	/* alpha's pass blocks for 3 TTLs: beta goes on passing and keeps its leadership */
	long b0 = passes_a[1];
	block_a[0] = 6000;
	/* alpha takes the hook (clears it) when its pass starts blocking */
	for (int64_t end = sh_mono_ns() + 5 * SH_NS_PER_S; block_a[0] && sh_mono_ns() < end;)
		usleep(10000);
	CU_ASSERT_EQUAL_FATAL(block_a[0], 0);
	int64_t t0 = sh_mono_ns();
	while (sh_mono_ns() - t0 < 5 * SH_NS_PER_S) {
		char w[16];
		CU_ASSERT_TRUE(who_is("beta", w, sizeof(w)) && !strcmp(w, "A"));
		usleep(250000);
	}
	long during = passes_a[1] - b0;
	printf("\nbeta passed %ld times while alpha's pass was blocked (resync 200 ms, TTL 2 s)\n", during);
	CU_ASSERT_TRUE(during >= 15);
	CU_ASSERT_EQUAL(ctl_metric_get("swarmheal_leader", "controller=\"beta\""), 1);

	/* alpha alone fails over: revoke the lease behind its election key; B's alpha takes over, beta stays */
	etcd_kv leader;
	char ep[300];
	snprintf(ep, sizeof(ep), "%s/elections/", prefix);
	CU_ASSERT_EQUAL_FATAL(etcd_election_leader(tc, ep, "controller.alpha", &leader), SH_OK);
	CU_ASSERT_EQUAL(etcd_lease_revoke(tc, leader.lease), SH_OK);
	etcd_kv_free(&leader);
	t0 = sh_mono_ns();
	CU_ASSERT_TRUE(wait_who("alpha", "B", 8000));
	printf("alpha failed over to runtime B in %.2f s; beta stayed with A\n", (double)(sh_mono_ns() - t0) / 1e9);
	char w[16];
	CU_ASSERT_TRUE(who_is("beta", w, sizeof(w)) && !strcmp(w, "A"));
	CU_ASSERT_TRUE(wait_who("beta", "A", 1000));
	/* A's alpha campaigns again and stands by */
	for (int64_t end = sh_mono_ns() + 2 * SH_NS_PER_S;
	     ctl_metric_get("swarmheal_leader", "controller=\"alpha\"") != 0 && sh_mono_ns() < end;)
		usleep(10000);
	CU_ASSERT_EQUAL(ctl_metric_get("swarmheal_leader", "controller=\"alpha\""), 0);

	/* a watched prefix marks the controller dirty at once; others do not */
	long p0 = passes_a[1];
	char k[300];
	snprintf(k, sizeof(k), "%s/watched/x", prefix);
	etcd_put(tc, k, "1", 1, NULL, NULL, NULL);
	int64_t tw = sh_mono_ns();
	while (passes_a[1] == p0 && sh_mono_ns() - tw < 150 * SH_NS_PER_MS)
		usleep(5000);
	CU_ASSERT_TRUE(passes_a[1] > p0); /* within 150 ms of the write, not at the next 200 ms resync */

	/* /metrics parses with Prometheus' own parser and holds labelled counters and histograms */
	char *text = ctl_metrics_text();
	FILE *f = fopen("/tmp/swarmheal-runtime-metrics.txt", "w");
	fputs(text, f);
	fclose(f);
	free(text);
	CU_ASSERT_EQUAL(t_sh("/usr/bin/python3 %s/tests/integration/check_metrics.py /tmp/swarmheal-runtime-metrics.txt",
			     getenv("SWARMHEAL_SRC")), 0);

	kill(child, SIGTERM);
	int st;
	CU_ASSERT_TRUE(t_wait_pid(child, 10000, &st));
	CU_ASSERT_EQUAL(st, 0);
	ctl_stop(rt);
	/* both resigned: no election key is left */
	etcd_range_result r;
	etcd_range_opts o = {.prefix = 1, .count_only = 1};
	CU_ASSERT_EQUAL(etcd_range(tc, ep, &o, &r), SH_OK);
	CU_ASSERT_EQUAL(r.count, 0);
	etcd_range_result_free(&r);
	close(go[1]);
}

static const ctl_def gamma_def = {.name = "gamma", .cfg_size = sizeof(tcfg), .reconcile = t_reconcile};

static void test_retention(void)
{
	snprintf(prefix, sizeof(prefix), "%s", t_prefix("retention"));
	prefix[strlen(prefix) - 1] = '\0';
	int64_t now = sh_real_ns(), day = 24 * 3600 * SH_NS_PER_S;
	/* 20,000 records two days old, 500 eight days old, 100 from the last seconds */
	char keys[100][300];
	etcd_op ops[100];
	const char *val = "{\"ts\":\"2026-01-01T00:00:00Z\",\"controller\":\"gamma\",\"kind\":\"k\",\"target\":\"t\","
			  "\"reason\":\"r\",\"result\":\"ok\",\"fence\":1}";
	int total = 20000 + 500 + 100;
	for (int i = 0; i < total; i += 100) {
		for (int j = 0; j < 100; j++) {
			int n = i + j;
			int64_t ts = n < 500 ? now - 8 * day + n : n < 20500 ? now - 2 * day + n : now - 5 * SH_NS_PER_S + n;
			rec_action_key(keys[j], sizeof(keys[j]), prefix, "gamma", ts, "k", "t");
			ops[j] = (etcd_op){.kind = ETCD_OP_PUT, .key = keys[j], .value = val, .value_len = strlen(val)};
		}
		etcd_txn_result tr;
		CU_ASSERT_EQUAL_FATAL(etcd_txn(tc, NULL, 0, ops, 100, NULL, 0, &tr), SH_OK);
		etcd_txn_result_free(&tr);
	}
	char ap[300];
	rec_action_prefix(ap, sizeof(ap), prefix, "gamma");
	etcd_range_opts co = {.prefix = 1, .count_only = 1};
	etcd_range_result r;
	CU_ASSERT_EQUAL(etcd_range(tc, ap, &co, &r), SH_OK);
	if (r.count != total)
		printf("\nseeded %lld of %d records\n", (long long)r.count, total);
	CU_ASSERT_EQUAL(r.count, total);
	etcd_range_result_free(&r);

	static volatile int blk;
	static volatile long ps, wk;
	static tcfg c = {"A", &blk, &ps, &wk};
	ctl_common common = {.prefix = prefix, .ttl_ms = 2000, .resync_ms = 1000,
			     .actions_retention_ms = 7 * 24 * 3600 * 1000LL, .actions_max = 10000};
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	const ctl_def *defs[] = {&gamma_def};
	void *cfgp[] = {&c};
	etcd_config ec = {.endpoints = t_endpoints()};
	ctl_rt *rt;
	char err[200];
	int64_t t0 = sh_mono_ns();
	CU_ASSERT_EQUAL_FATAL(ctl_start(defs, cfgp, 1, &common, &lock, &ec, NULL, &rt, err, sizeof(err)), SH_OK);
	int64_t count = -1;
	while (sh_mono_ns() - t0 < 60 * SH_NS_PER_S) {
		CU_ASSERT_EQUAL(etcd_range(tc, ap, &co, &r), SH_OK);
		count = r.count;
		etcd_range_result_free(&r);
		if (count == 10000)
			break;
		usleep(100000);
	}
	printf("\n%d action records pruned to %lld in %.2f s after the leader started\n", total, (long long)count,
	       (double)(sh_mono_ns() - t0) / 1e9);
	CU_ASSERT_EQUAL(count, 10000);
	/* the oldest went first: nothing eight days old is left, every young record is */
	char young[300];
	rec_action_key(young, sizeof(young), prefix, "gamma", now - 2 * day + 20499, "k", "t");
	etcd_kv kv;
	CU_ASSERT_EQUAL(etcd_get(tc, young, &kv, NULL), SH_OK);
	etcd_kv_free(&kv);
	etcd_range_opts first = {.prefix = 1, .limit = 1, .keys_only = 1};
	CU_ASSERT_EQUAL(etcd_range(tc, ap, &first, &r), SH_OK);
	char oldest[300];
	rec_action_key(oldest, sizeof(oldest), prefix, "gamma", now - 2 * day + 10600, "k", "t");
	CU_ASSERT_TRUE(r.n == 1 && strcmp(r.kvs[0].key, oldest) >= 0);
	etcd_range_result_free(&r);
	CU_ASSERT_EQUAL(ctl_metric_get("swarmheal_actions_pruned_total", "controller=\"gamma\""), 10600);
	ctl_stop(rt);
	etcd_delete_opts dop = {.prefix = 1};
	etcd_delete(tc, prefix, &dop, NULL);
}

/* ---- an engine call that hangs while the lease lapses ---- */

static volatile int hang_armed, hang_in_call, hang_done;
static volatile sh_err hang_err;
static volatile int64_t hang_end_ns, hang_deadline_ns, hang_limit_ns;
static char hang_msg[300];

static sh_err hang_reconcile(ctl_ctx *x, void *st)
{
	(void)st;
	if (!hang_armed || hang_done)
		return SH_OK;
	dock_info info;
	hang_in_call = 1;
	sh_err e = dock_info_get(x->dock, &info);
	hang_end_ns = sh_mono_ns();
	hang_deadline_ns = etcd_session_deadline(x->s);
	hang_limit_ns = hang_deadline_ns - x->common.ttl_ms * SH_NS_PER_MS / 5;
	hang_err = e;
	snprintf(hang_msg, sizeof(hang_msg), "%s", dock_errmsg(x->dock));
	hang_done = 1;
	return e;
}

static const ctl_def hang_def = {.name = "hang", .cfg_size = sizeof(tcfg), .needs_engine = 1,
				 .reconcile = hang_reconcile};

/* an engine that takes the connection and never answers (timeout 10 s), etcd frozen meanwhile: the call ends
 * when the controller may no longer act (a fifth of the TTL before the deadline), never past the deadline */
static void test_engine_call_ends_with_lease(void)
{
	tetcd e;
	CU_ASSERT_EQUAL_FATAL(tetcd_start(&e, NULL), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 8) == 0 &&
			getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	char host[64];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	static char pfx[128];
	snprintf(pfx, sizeof(pfx), "%s", t_prefix("hang"));
	pfx[strlen(pfx) - 1] = '\0';
	static volatile int blk;
	static volatile long ps, wk;
	static tcfg c = {"A", &blk, &ps, &wk};
	ctl_common common = {.prefix = pfx, .ttl_ms = 2000, .resync_ms = 200,
			     .actions_retention_ms = 7 * 24 * 3600 * 1000LL, .actions_max = 10000};
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	const ctl_def *defs[] = {&hang_def};
	void *cfgp[] = {&c};
	etcd_config ec = {.endpoints = e.endpoint};
	dock_config dc = {.host = host, .timeout_ms = 10000};
	ctl_rt *rt;
	char err[200];
	CU_ASSERT_EQUAL_FATAL(ctl_start(defs, cfgp, 1, &common, &lock, &ec, &dc, &rt, err, sizeof(err)), SH_OK);
	/* leading: passes run */
	int64_t t0 = sh_mono_ns();
	while (ctl_metric_get("swarmheal_reconciles_total", "controller=\"hang\"") < 2 && sh_mono_ns() - t0 < 10 * SH_NS_PER_S)
		usleep(20000);
	CU_ASSERT_FATAL(ctl_metric_get("swarmheal_reconciles_total", "controller=\"hang\"") >= 2);
	hang_armed = 1;
	while (!hang_in_call && sh_mono_ns() - t0 < 15 * SH_NS_PER_S)
		usleep(5000);
	CU_ASSERT_FATAL(hang_in_call);
	kill(e.pid, SIGSTOP); /* no keepalive answers from now on */
	int64_t t_stop = sh_mono_ns();
	while (!hang_done && sh_mono_ns() - t_stop < 8 * SH_NS_PER_S)
		usleep(5000);
	kill(e.pid, SIGCONT);
	CU_ASSERT_FATAL(hang_done);
	printf("\nengine call given up %.0f ms after etcd froze: %.0f ms after the controller's limit, %.0f ms before "
	       "the lease deadline (%s)\n",
	       (double)(hang_end_ns - t_stop) / 1e6, (double)(hang_end_ns - hang_limit_ns) / 1e6,
	       (double)(hang_deadline_ns - hang_end_ns) / 1e6, hang_msg);
	CU_ASSERT_EQUAL(hang_err, SH_E_NOT_LEADER);
	CU_ASSERT(hang_end_ns >= hang_limit_ns);
	CU_ASSERT(hang_end_ns < hang_deadline_ns); /* never past the deadline (was up to ~1 s after the limit) */
	CU_ASSERT_PTR_NOT_NULL(strstr(hang_msg, "gave up"));
	ctl_stop(rt);
	close(fd);
	tetcd_stop(&e);
}

int main(int argc, char **argv)
{
	if (!t_endpoints())
		return t_skip("runtime", "SWARMHEAL_TEST_ENDPOINTS not set (tests/run.sh sets it)");
	etcd_config ec = {.endpoints = t_endpoints()};
	if (etcd_client_new(&ec, &tc, NULL, 0))
		return 1;
	static const t_case cases[] = {
		{"two_controllers_independent", test_two_controllers_independent},
		{"retention", test_retention},
		{"engine_call_ends_with_lease", test_engine_call_ends_with_lease},
		{NULL, NULL},
	};
	int rc = t_run("runtime", cases, argc, argv);
	etcd_client_free(tc);
	return rc;
}
