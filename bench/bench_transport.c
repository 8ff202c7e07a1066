/* SPDX-License-Identifier: MIT */
/* bench_transport.c - etcd's own CPU per keepalive, range and watch event through the JSON gateway and
 * through gRPC, side by side on the same etcd, and the etcd CPU of many sessions at a given TTL */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd.h"
#include "etcd_concurrency.h"
#include "sh_util.h"

static const char *eps;
static int etcd_pid;

/* etcd's user + system CPU so far, in ms (from /proc/PID/stat, clock-tick resolution) */
static double etcd_cpu_ms(void)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", etcd_pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		fprintf(stderr, "bench_transport: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	/* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) {
		fprintf(stderr, "bench_transport: cannot parse %s\n", path);
		exit(1);
	}
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* etcd's idle CPU rate (ms of CPU per s) over secs seconds */
static double idle_rate(double secs)
{
	double c0 = etcd_cpu_ms();
	int64_t t0 = sh_mono_ns();
	sh_sleep_ms((long)(secs * 1000), NULL);
	return (etcd_cpu_ms() - c0) / ((double)(sh_mono_ns() - t0) / 1e9);
}

static etcd_client *client(int transport)
{
	etcd_config cfg = {.endpoints = eps, .transport = transport};
	etcd_client *c;
	char err[256];
	if (etcd_client_new(&cfg, &c, err, sizeof(err))) {
		fprintf(stderr, "bench_transport: %s\n", err);
		exit(1);
	}
	return c;
}

static void check(sh_err e, etcd_client *c, const char *what)
{
	if (e) {
		fprintf(stderr, "bench_transport: %s: %s\n", what, etcd_errmsg(c));
		exit(1);
	}
}

static const char *tname(int t)
{
	return t == ETCD_TRANSPORT_GATEWAY ? "gateway" : "gRPC   ";
}

/* etcd CPU (ms) per operation over n operations, less the idle rate over the same time */
struct cost {
	double per_op_ms, wall_s;
};

static struct cost measure(int transport, int kind, int n, double idle)
{
	etcd_client *c = client(transport), *pc = NULL;
	etcd_watch *w = NULL;
	int64_t lease = 0, ttl;
	check(etcd_put(c, "/bench/transport/range", "v", 1, NULL, NULL, NULL), c, "put");
	if (kind == 0)
		check(etcd_lease_grant(c, 60, &lease, NULL), c, "grant");
	if (kind == 2) {
		pc = client(ETCD_TRANSPORT_GRPC);
		etcd_watch_opts o = {.prefix = 1};
		check(etcd_watch_open(c, "/bench/transport/w/", &o, &w), c, "watch");
		etcd_watch_batch b;
		etcd_watch_next(w, &b, 300); /* created */
		etcd_watch_batch_free(&b);
	}
	/* warm up: connections and streams up */
	for (int i = 0; i < 20; i++) {
		if (kind == 0)
			check(etcd_lease_keepalive(c, lease, &ttl), c, "keepalive");
		else if (kind == 1) {
			etcd_range_result r;
			check(etcd_range(c, "/bench/transport/range", NULL, &r), c, "range");
			etcd_range_result_free(&r);
		}
	}
	double c0 = etcd_cpu_ms();
	int64_t t0 = sh_mono_ns();
	for (int i = 0; i < n; i++) {
		if (kind == 0) {
			check(etcd_lease_keepalive(c, lease, &ttl), c, "keepalive");
		} else if (kind == 1) {
			etcd_range_result r;
			check(etcd_range(c, "/bench/transport/range", NULL, &r), c, "range");
			etcd_range_result_free(&r);
		} else if (kind == 3) {
			char k[64];
			snprintf(k, sizeof(k), "/bench/transport/p/%d", i % 16);
			check(etcd_put(c, k, "x", 1, NULL, NULL, NULL), c, "put");
		} else {
			/* a put, and its event on the watch */
			char k[64];
			snprintf(k, sizeof(k), "/bench/transport/w/%d", i % 16);
			check(etcd_put(pc, k, "x", 1, NULL, NULL, NULL), pc, "put");
			for (;;) {
				etcd_watch_batch b;
				sh_err e = etcd_watch_next(w, &b, 5000);
				size_t got = b.n;
				etcd_watch_batch_free(&b);
				if (e == SH_OK && got)
					break;
				if (e != SH_OK && e != SH_E_TIMEOUT) {
					fprintf(stderr, "bench_transport: watch: %s\n", etcd_watch_errmsg(w));
					exit(1);
				}
			}
		}
	}
	double secs = (double)(sh_mono_ns() - t0) / 1e9;
	double used = etcd_cpu_ms() - c0 - idle * secs;
	if (lease)
		etcd_lease_revoke(c, lease);
	etcd_watch_close(w);
	etcd_client_free(c);
	etcd_client_free(pc);
	return (struct cost){used / n, secs};
}

/* What swarmheald's idle passes read at nnodes nodes: the drain controller's pass ranges the heartbeats, the drain
 * states and requests and reads the arbiter mode; the arbiter's ranges the heartbeats and drain states (records of
 * their real sizes). etcd CPU (ms) per second of passes (one of each: --resync 1 s), over rounds. */
static double pass_reads(int transport, int nnodes, int rounds, double idle)
{
	etcd_client *c = client(transport);
	char hb[512], ds[512], key[128];
	for (int i = 0; i < nnodes; i++) {
		snprintf(hb, sizeof(hb),
			 "{\"agent\":\"running\",\"node_id\":\"q0x1n4mbq7r0c2b1o5v5c%05d\",\"hostname\":\"worker-%d\","
			 "\"zone\":\"a\",\"addr\":\"10.88.%d.%d\",\"engine\":\"up\",\"runs_as\":\"systemd\","
			 "\"ts\":\"2026-11-29T23:30:00.123Z\",\"cert_not_after\":\"2027-02-26T13:00:00Z\","
			 "\"answers_challenge\":true}",
			 i, i, i / 250, i % 250);
		snprintf(ds, sizeof(ds),
			 "{\"state\":\"none\",\"reason\":\"\",\"since\":\"2026-11-29T23:30:00.123Z\",\"flaps\":0,"
			 "\"fence\":1640,\"monitor\":\"monitored\"}");
		snprintf(key, sizeof(key), "/bench-transport/pass/nodes/q0x1n4mbq7r0c2b1o5v5c%05d", i);
		check(etcd_put(c, key, hb, strlen(hb), NULL, NULL, NULL), c, "put");
		snprintf(key, sizeof(key), "/bench-transport/pass/drain/state/q0x1n4mbq7r0c2b1o5v5c%05d", i);
		check(etcd_put(c, key, ds, strlen(ds), NULL, NULL, NULL), c, "put");
	}
	static const char *const drain_pass[] = {"/bench-transport/pass/nodes/", "/bench-transport/pass/drain/state/",
						 "/bench-transport/pass/drain/requests/", "/bench-transport/pass/arbiter/mode",
						 "/bench-transport/pass/nodes/", "/bench-transport/pass/drain/state/"};
	double c0 = etcd_cpu_ms();
	int64_t t0 = sh_mono_ns();
	for (int r = 0; r < rounds; r++)
		for (size_t k = 0; k < sizeof(drain_pass) / sizeof(*drain_pass); k++) {
			etcd_range_result rr;
			etcd_range_opts o = {.prefix = k != 3};
			check(etcd_range(c, drain_pass[k], &o, &rr), c, "range");
			etcd_range_result_free(&rr);
		}
	double secs = (double)(sh_mono_ns() - t0) / 1e9;
	double used = etcd_cpu_ms() - c0 - idle * secs;
	etcd_delete_opts all = {.prefix = 1};
	etcd_delete(c, "/bench-transport/pass/", &all, NULL);
	etcd_client_free(c);
	return used / rounds;
}

/* nsess sessions of ttl_s seconds in this process, with an idle watch each on a key of its own when watches
 * (what an agent keeps: its heartbeat's lease and the watch on its challenge key); etcd CPU (ms per s) once
 * they run, over secs */
static double sessions_rate(int transport, int nsess, int64_t ttl_s, int watches, double secs, double idle,
			    int64_t *period_ns, long *kas, long *fails)
{
	etcd_client *c = client(transport);
	etcd_session **s = calloc((size_t)nsess, sizeof(*s));
	etcd_watch **w = calloc((size_t)nsess, sizeof(*w));
	for (int i = 0; i < nsess; i++)
		check(etcd_session_new(c, ttl_s, &s[i]), c, "session");
	for (int i = 0; watches && i < nsess; i++) {
		char key[64];
		snprintf(key, sizeof(key), "/bench-transport/challenge/%d", i);
		check(etcd_watch_open(c, key, &(etcd_watch_opts){0}, &w[i]), c, "watch");
	}
	*period_ns = etcd_session_keepalive_period(s[0]);
	/* one whole period so that every session sent its first keepalive */
	sh_sleep_ms((long)(*period_ns / SH_NS_PER_MS) + 200, NULL);
	long k0 = 0, f0 = 0;
	for (int i = 0; i < nsess; i++)
		k0 += etcd_session_keepalives(s[i]), f0 += etcd_session_failures(s[i]);
	double c0 = etcd_cpu_ms();
	int64_t t0 = sh_mono_ns();
	sh_sleep_ms((long)(secs * 1000), NULL);
	double el = (double)(sh_mono_ns() - t0) / 1e9;
	double rate = (etcd_cpu_ms() - c0) / el - idle;
	*kas = *fails = 0;
	for (int i = 0; i < nsess; i++)
		*kas += etcd_session_keepalives(s[i]), *fails += etcd_session_failures(s[i]);
	*kas -= k0;
	*fails -= f0;
	int alive = 0;
	char why[256] = "";
	for (int i = 0; i < nsess; i++) {
		if (etcd_session_alive(s[i]))
			alive++;
		else if (!why[0])
			etcd_session_errmsg(s[i], why, sizeof(why));
	}
	if (alive < nsess)
		printf("  %d of %d sessions lost, the first: %s\n", nsess - alive, nsess, why);
	for (int i = 0; i < nsess; i++) {
		etcd_watch_close(w[i]);
		etcd_session_close(s[i], 1);
	}
	free(w);
	free(s);
	etcd_client_free(c);
	return rate;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_transport ENDPOINTS ETCD_PID [OPS [SESSIONS [TTL_S[w]...]]]\n"
				"  TTL_Sw: each session with an idle watch of its own, as an agent keeps\n");
		return 2;
	}
	eps = argv[1];
	etcd_pid = atoi(argv[2]);
	int n = argc > 3 ? atoi(argv[3]) : 3000;
	int nsess = argc > 4 ? atoi(argv[4]) : 1000;
	double idle = idle_rate(3.0);
	printf("etcd (pid %d) idle: %.2f ms of CPU per s (subtracted from every figure below)\n", etcd_pid, idle);
	static const char *what[] = {"lease keepalive", "range (linearizable, 1 key)", "watch event (a gRPC put + its event on the watch)"};
	double put = n > 0 ? measure(ETCD_TRANSPORT_GRPC, 3, n, idle).per_op_ms : 0;
	for (int kind = 0; n > 0 && kind < 3; kind++) {
		struct cost gw = measure(ETCD_TRANSPORT_GATEWAY, kind, n, idle);
		struct cost gr = measure(ETCD_TRANSPORT_GRPC, kind, n, idle);
		printf("etcd CPU per %s over %d: gateway %.3f ms (%.0f/s), gRPC %.3f ms (%.0f/s); gateway/gRPC %.2fx\n",
		       what[kind], n, gw.per_op_ms, n / gw.wall_s, gr.per_op_ms, n / gr.wall_s,
		       gw.per_op_ms / gr.per_op_ms);
		if (kind == 2)
			printf("  the event alone (less a gRPC put's %.3f ms): gateway %.3f ms, gRPC %.3f ms; %.2fx\n", put,
			       gw.per_op_ms - put, gr.per_op_ms - put, (gw.per_op_ms - put) / (gr.per_op_ms - put));
	}
	if (nsess <= 0)
		return 0;
	for (int t = ETCD_TRANSPORT_GATEWAY; t >= ETCD_TRANSPORT_GRPC; t--) {
		double ms = pass_reads(t, nsess, 100, idle);
		printf("swarmheald's idle reads at %d nodes (one drain + one arbiter pass: 6 ranges, 4 of them %d keys), %s: "
		       "etcd %.2f ms CPU per second of passes (--resync 1s) = %.2f %% of one core\n",
		       nsess, nsess, tname(t), ms, ms / 10.0);
	}
	for (int a = 5; a < argc || a == 5; a++) {
		int64_t ttl = argc > a ? atoll(argv[a]) : 3;
		int watches = argc > a && strchr(argv[a], 'w') != NULL;
		for (int t = ETCD_TRANSPORT_GATEWAY; t >= ETCD_TRANSPORT_GRPC; t--) {
			int64_t period;
			long kas, fails;
			double rate = sessions_rate(t, nsess, ttl, watches, 10.0, idle, &period, &kas, &fails);
			printf("%d sessions%s at TTL %llds (keepalive every %.0f ms), %s: etcd %.1f ms CPU per s = %.1f %% of "
			       "one core; %ld keepalives in 10 s, %ld failed\n",
			       nsess, watches ? " with an idle watch each" : "", (long long)ttl, (double)period / 1e6,
			       tname(t), rate, rate / 10.0, kas, fails);
		}
	}
	return 0;
}
