/* SPDX-License-Identifier: MIT */
/* bench_ctl.c - time `swarmhealctl get status` (wall time, peak RSS) on an etcd holding a big swarm's records */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd.h"
#include "rec.h"
#include "rec_heartbeat.h"
#include "sh_util.h"

/*
 * bench_ctl ENDPOINT SWARMHEALCTL NODES SERVICES ACTIONS RUNS [ARGS...]
 * Seeds PREFIX /bench-ctl with NODES heartbeats (a tenth of them drained by
 * swarmheal), SERVICES rollback snapshots (a 1 KiB spec each) and ACTIONS
 * action records (60% drain, 20% rollback, 20% agents'), then runs
 * `SWARMHEALCTL --endpoints ENDPOINT --prefix /bench-ctl get status [ARGS]`
 * RUNS times with stdout to /dev/null, and prints the wall time (min,
 * median, max) and the largest peak RSS (getrusage of the child).
 */

static const char *prefix = "/bench-ctl";

typedef struct batch {
	etcd_op ops[128];
	char *keys[128], *vals[128];
	int n;
} batch;

static void flush(etcd_client *c, batch *b)
{
	if (!b->n)
		return;
	etcd_txn_result r;
	if (etcd_txn(c, NULL, 0, b->ops, (size_t)b->n, NULL, 0, &r)) {
		fprintf(stderr, "bench_ctl: %s\n", etcd_errmsg(c));
		exit(1);
	}
	etcd_txn_result_free(&r);
	for (int i = 0; i < b->n; i++) {
		free(b->keys[i]);
		free(b->vals[i]);
	}
	b->n = 0;
}

static void add(etcd_client *c, batch *b, const char *key, char *val)
{
	if (!val) {
		fprintf(stderr, "bench_ctl: encoder failed\n");
		exit(1);
	}
	b->keys[b->n] = strdup(key);
	b->vals[b->n] = val;
	b->ops[b->n] = (etcd_op){.kind = ETCD_OP_PUT, .key = b->keys[b->n], .value = val, .value_len = strlen(val)};
	if (++b->n == 100)
		flush(c, b);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: bench_ctl ENDPOINT SWARMHEALCTL NODES SERVICES ACTIONS RUNS [ARGS...]\n");
		return 64;
	}
	const char *ep = argv[1], *bin = argv[2];
	int nodes = atoi(argv[3]), services = atoi(argv[4]), actions = atoi(argv[5]), runs = atoi(argv[6]);
	etcd_config cfg = {.endpoints = ep};
	etcd_client *c;
	if (etcd_client_new(&cfg, &c, NULL, 0))
		return 1;
	etcd_delete_opts dopt = {.prefix = 1};
	etcd_delete_result dr;
	char key[400];
	snprintf(key, sizeof(key), "%s/", prefix);
	if (etcd_delete(c, key, &dopt, &dr) == SH_OK)
		etcd_delete_result_free(&dr);
	static batch b;
	int64_t now = sh_real_ns();
	char id[64];
	for (int i = 0; i < nodes; i++) {
		snprintf(id, sizeof(id), "node%05dx4k2l0q9h8j7g6f5d4", i);
		rec_heartbeat h = {.engine = REC_ENGINE_UP, .runs_as = REC_RUNS_SYSTEMD, .ts_ns = now,
				   .cert_not_after_ns = now + 60 * 86400 * SH_NS_PER_S};
		snprintf(h.node_id, sizeof(h.node_id), "%s", id);
		snprintf(h.hostname, sizeof(h.hostname), "worker-%05d.swarm.internal", i);
		snprintf(h.zone, sizeof(h.zone), "zone-%c", 'a' + i % 3);
		snprintf(h.addr, sizeof(h.addr), "10.%d.%d.%d", i / 65536, (i / 256) % 256, i % 256);
		rec_heartbeat_key(key, sizeof(key), prefix, id);
		add(c, &b, key, rec_heartbeat_encode(&h));
		if (i % 10 == 0) {
			rec_drain_state d = {.state = "restored",
					     .reason = "node healthy for 30s",
					     .since_ns = now,
					     .fence = 9,
					     .monitor = "monitored"};
			rec_drain_state_key(key, sizeof(key), prefix, id);
			add(c, &b, key, rec_drain_state_encode(&d));
		}
	}
	char spec[1100];
	memset(spec, 0, sizeof(spec));
	int o = snprintf(spec, sizeof(spec),
			 "{\"Name\":\"svc\",\"Labels\":{\"swarmheal.min-available\":\"50%%\"},"
			 "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"registry/app:1.2.3\",\"Env\":[\"");
	while (o < 1000)
		spec[o++] = 'x';
	snprintf(spec + o, sizeof(spec) - (size_t)o, "\"]}}}");
	for (int i = 0; i < services; i++) {
		snprintf(id, sizeof(id), "svc%05dq9h8j7g6f5d4s3a2p1", i);
		rec_rollback_snapshot s = {.spec = spec, .ts_ns = now, .healthy = 1, .version = 100 + i};
		rec_rollback_digest(spec, strlen(spec), s.sha256);
		rec_rollback_snapshot_key(key, sizeof(key), prefix, id, s.version);
		add(c, &b, key, rec_rollback_snapshot_encode(&s));
	}
	for (int i = 0; i < actions; i++) {
		int kind = i % 5;
		const char *ctl = kind < 3 ? "drain" : kind == 3 ? "rollback" : "agent.node00001x4k2l0q9h8j7g6f5d4";
		char target[64];
		snprintf(target, sizeof(target), kind == 3 ? "svc%05dq9h8j7g6f5d4s3a2p1" : "node%05dx4k2l0q9h8j7g6f5d4",
			 kind == 3 ? (i / 5) % (services ? services : 1) : i % (nodes ? nodes : 1));
		rec_action a = {
			.ts_ns = now - (int64_t)(actions - i) * SH_NS_PER_S,
			.controller = (char *)ctl,
			.kind = kind < 3    ? "refuse"
				: kind == 3 ? "rollback"
					    : "restart",
			.target = target,
			.reason = "not draining node (heartbeat key is gone): 4 of 6 nodes look dead, suspecting our "
				  "own partition",
			.result = kind == 3 ? "ok" : "refused",
			.fence = 1234};
		rec_action_key(key, sizeof(key), prefix, ctl, a.ts_ns, a.kind, target);
		add(c, &b, key, rec_action_encode(&a));
	}
	snprintf(key, sizeof(key), "%s/elections/controller.drain/694d7e1a2b3c4d5e", prefix);
	add(c, &b, key, strdup("mgr-1:4242"));
	flush(c, &b);
	etcd_status st;
	etcd_status_get(c, &st);
	/* the history of earlier runs' deletes out of the way, as a long-running cluster's compaction does */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints %s compact --physical %lld >/dev/null && "
				   "ETCDCTL_API=3 etcdctl --endpoints %s defrag >/dev/null && sleep 1",
		 ep, (long long)st.revision, ep);
	if (system(cmd))
		fprintf(stderr, "bench_ctl: etcdctl compact/defrag failed (timing anyway)\n");
	etcd_status_get(c, &st);
	printf("seeded %s: %d heartbeats, %d services' snapshots, %d actions; etcd DB %.1f MiB\n", prefix, nodes,
	       services, actions, (double)st.db_size / 1048576.0);
	etcd_client_free(c);

	int64_t *ms = calloc((size_t)runs, sizeof(int64_t)), *cpu = calloc((size_t)runs, sizeof(int64_t)), maxrss = 0;
	char *args[32] = {(char *)bin, "--endpoints", (char *)ep, "--prefix", (char *)prefix, "get", "status"};
	int na = 7;
	for (int i = 7; i < argc && na < 31; i++)
		args[na++] = argv[i];
	args[na] = NULL;
	for (int r = 0; r < runs; r++) {
		int64_t t0 = sh_mono_ns();
		pid_t p = fork();
		if (p == 0) {
			int fd = open("/dev/null", O_WRONLY);
			dup2(fd, 1);
			execv(bin, args);
			_exit(127);
		}
		int status;
		struct rusage ru;
		wait4(p, &status, 0, &ru);
		ms[r] = (sh_mono_ns() - t0) / 1000;
		if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3)) {
			fprintf(stderr, "bench_ctl: swarmhealctl exited %d\n",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			return 1;
		}
		cpu[r] = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
			 ru.ru_stime.tv_usec;
		if (ru.ru_maxrss > maxrss)
			maxrss = ru.ru_maxrss;
	}
	qsort(ms, (size_t)runs, sizeof(int64_t), cmp64);
	qsort(cpu, (size_t)runs, sizeof(int64_t), cmp64);
	double load[1] = {0};
	getloadavg(load, 1);
	printf("swarmhealctl get status%s%s: %d runs, wall min %.1f ms, median %.1f ms, max %.1f ms; its own CPU "
	       "(user+sys) median %.1f ms; peak RSS %.1f MiB; load average %.2f\n",
	       argc > 7 ? " " : "", argc > 7 ? argv[7] : "", runs, ms[0] / 1000.0, ms[runs / 2] / 1000.0,
	       ms[runs - 1] / 1000.0, cpu[runs / 2] / 1000.0, (double)maxrss / 1024.0, load[0]);
	free(ms);
	free(cpu);
	return 0;
}
