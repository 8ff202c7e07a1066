/* SPDX-License-Identifier: MIT */
/* bench_failover.c - keepalive gaps against etcd's own leaderless time over kills of a 3-member etcd's leader */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd_concurrency.h"
#include "sh_util.h"
#include "tcluster.h"

/*
 * usage: bench_failover [TRIALS [SESSIONS [SECONDS_FOR_CPU]]]
 * Starts its own 3-member etcd (default raft settings), opens SESSIONS
 * sessions at TTL 3 s (the agent's default) and one with arbiter-elect's
 * budget at TTL 4 s, then TRIALS times: finds the leader through the
 * maintenance status call, SIGKILLs it, polls the survivors' status every
 * 10 ms until one is leader (etcd's leaderless time, as seen from outside),
 * restarts it. Prints per trial and as min/median/p90/max: leaderless time,
 * the longest keepalive gap of the trial (all sessions), and sessions lost.
 * Then etcd's CPU per keepalive: SESSIONS sessions kept alive for
 * SECONDS_FOR_CPU, the members' CPU time from /proc over the keepalives sent.
 */

/* arbiter-elect --ttl 4s (cmd/arbiter-elect/main.c): the budget it gives its session (TTL - kill-after 0.5 s -
 * margin 0.5 s - the 0.8 s it allows beyond the session's 2 s election) and when it stops its command */
#define AE_BUDGET_NS (2200 * SH_NS_PER_MS)
#define AE_STOP_NS (3000 * SH_NS_PER_MS)

typedef struct sess {
	etcd_client *c;
	etcd_session *s;
	int64_t ttl_s;
	_Atomic int64_t trial_gap; /* longest gap since the trial began */
} sess;

static void on_gap(void *arg, int64_t gap_ns)
{
	sess *x = arg;
	int64_t cur = atomic_load(&x->trial_gap);
	while (gap_ns > cur && !atomic_compare_exchange_weak(&x->trial_gap, &cur, gap_ns))
		;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void dist(const char *what, int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	printf("%-34s min %5.0f  median %5.0f  p90 %5.0f  max %5.0f ms\n", what, v[0] / 1e6, v[n / 2] / 1e6,
	       v[(n * 9 + 9) / 10 - 1] / 1e6, v[n - 1] / 1e6);
}

static int64_t cluster_cpu_ticks(tcluster *cl)
{
	int64_t sum = 0;
	for (int i = 0; i < cl->n; i++) {
		char p[64], buf[1024];
		snprintf(p, sizeof(p), "/proc/%d/stat", (int)cl->m[i].pid);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *q = strrchr(buf, ')');
		unsigned long long ut = 0, st = 0;
		if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
			sum += (int64_t)(ut + st);
	}
	return sum;
}

int main(int argc, char **argv)
{
	int trials = argc > 1 ? atoi(argv[1]) : 20;
	int nsess = argc > 2 ? atoi(argv[2]) : 10;
	int cpu_s = argc > 3 ? atoi(argv[3]) : 10;
	if (trials < 1 || nsess < 1 || nsess > 2000)
		return 64;
	tcluster cl;
	if (tcluster_start(&cl, 3)) {
		fprintf(stderr, "bench_failover: cannot start a 3-member etcd\n");
		return 1;
	}
	/* etcd's idle CPU, before any session exists */
	int64_t idle0 = cluster_cpu_ticks(&cl);
	if (cpu_s > 0)
		sleep((unsigned)cpu_s);
	int64_t idle_ticks = cluster_cpu_ticks(&cl) - idle0;
	int total = nsess + 1;
	sess *ss = calloc((size_t)total, sizeof(sess));
	for (int i = 0; i < total; i++) {
		etcd_config cfg = {.endpoints = cl.endpoints, .timeout_ms = 1000};
		if (etcd_client_new(&cfg, &ss[i].c, NULL, 0))
			return 1;
		ss[i].ttl_s = i < nsess ? 3 : 4;
		if (etcd_session_new(ss[i].c, ss[i].ttl_s, &ss[i].s)) {
			fprintf(stderr, "bench_failover: %s\n", etcd_errmsg(ss[i].c));
			return 1;
		}
		if (i == nsess) /* arbiter-elect --ttl 4s: margin 0.5 s, default kill-after 0.5 s, sized for 2.8 s leaderless */
			etcd_session_set_budget(ss[i].s, AE_BUDGET_NS);
		etcd_session_set_gap_hook(ss[i].s, on_gap, &ss[i]);
	}
	printf("3-member etcd 3.4 at default raft settings (heartbeat 100 ms, election 1 s); %d sessions at ttl 3 s "
	       "(keepalive every %.0f ms, request timeout %ld ms) and 1 at ttl 4 s with arbiter-elect's cadence (stops at 3.0 s) "
	       "(every %.0f ms)\n",
	       nsess, etcd_session_keepalive_period(ss[0].s) / 1e6, etcd_session_request_timeout(3 * SH_NS_PER_S),
	       etcd_session_keepalive_period(ss[nsess].s) / 1e6);
	int64_t *leaderless = calloc((size_t)trials, sizeof(int64_t)), *gap3 = calloc((size_t)trials, sizeof(int64_t)),
		*gap4 = calloc((size_t)trials, sizeof(int64_t));
	int lost3 = 0, lost4 = 0, arbiter_stops = 0;
	printf("trial  leaderless  gap(ttl3)  gap(ttl4)   ms\n");
	for (int t = 0; t < trials; t++) {
		sleep(2); /* the restarted member catches up; every session has kept alive since */
		int l = tcluster_leader(&cl, 10000, -1);
		if (l < 0) {
			fprintf(stderr, "bench_failover: no leader\n");
			break;
		}
		for (int i = 0; i < total; i++)
			atomic_store(&ss[i].trial_gap, 0);
		int64_t t0 = sh_mono_ns();
		tcluster_kill(&cl, l);
		int nl = tcluster_leader(&cl, 15000, l);
		leaderless[t] = sh_mono_ns() - t0;
		if (nl < 0) {
			fprintf(stderr, "bench_failover: no new leader within 15 s\n");
			break;
		}
		sleep(2); /* every session has kept alive under the new leader (or is lost) */
		for (int i = 0; i < total; i++) {
			int64_t g = atomic_load(&ss[i].trial_gap);
			int64_t *dst = i < nsess ? &gap3[t] : &gap4[t];
			if (g > *dst)
				*dst = g;
		}
		int lost = 0;
		for (int i = 0; i < total; i++) {
			if (etcd_session_alive(ss[i].s))
				continue;
			/* lost: counted, and replaced as the agent would, for the next trials */
			lost++;
			*(i < nsess ? &lost3 : &lost4) += 1;
			etcd_session_close(ss[i].s, 0);
			while (etcd_session_new(ss[i].c, ss[i].ttl_s, &ss[i].s))
				usleep(100000);
			if (i == nsess)
				etcd_session_set_budget(ss[i].s, AE_BUDGET_NS);
			etcd_session_set_gap_hook(ss[i].s, on_gap, &ss[i]);
		}
		printf("%5d  %10.0f  %9.0f  %9.0f   ", t + 1, leaderless[t] / 1e6, gap3[t] / 1e6, gap4[t] / 1e6);
		if (lost)
			printf("%d sessions lost ", lost);
		if (gap4[t] > AE_STOP_NS || gap4[t] == 0) {
			printf("arbiter-elect would have stopped its command");
			arbiter_stops++;
		}
		printf("\n");
		fflush(stdout);
		tcluster_restart(&cl, l);
	}
	long fails = 0, kas = 0;
	for (int i = 0; i < total; i++) {
		fails += etcd_session_failures(ss[i].s);
		kas += etcd_session_keepalives(ss[i].s);
	}
	printf("over %d leader kills (gap: send of one successful keepalive to the answer of the next):\n", trials);
	dist("etcd leaderless (kill -> leader)", leaderless, trials);
	dist("keepalive gap, ttl 3 s sessions", gap3, trials);
	dist("keepalive gap, ttl 4 s (arbiter)", gap4, trials);
	printf("sessions lost over all kills: %d (of %d open) at ttl 3 s, %d (of 1) at ttl 4 s; "
	       "%ld keepalives, %ld failed attempts (counts of the sessions open at the end)\n",
	       lost3, nsess, lost4, kas, fails);
	printf("arbiter-elect --ttl 4s (stops its command 3.0 s after the last success's send) would have stopped it in "
	       "%d of %d kills\n", arbiter_stops, trials);

	/* etcd's CPU per keepalive at the cadence chosen, over its idle CPU (all members) */
	if (cpu_s > 0) {
		sleep(3);
		long k0 = 0, k1 = 0;
		for (int i = 0; i < total; i++)
			k0 += etcd_session_keepalives(ss[i].s);
		int64_t c0 = cluster_cpu_ticks(&cl);
		sleep((unsigned)cpu_s);
		int64_t c1 = cluster_cpu_ticks(&cl);
		for (int i = 0; i < total; i++)
			k1 += etcd_session_keepalives(ss[i].s);
		double tick_ms = 1000.0 / (double)sysconf(_SC_CLK_TCK);
		double busy_ms = (double)(c1 - c0 - idle_ticks) * tick_ms;
		double per = k1 > k0 ? busy_ms / (double)(k1 - k0) : 0;
		double rate = 1e9 / (double)etcd_session_keepalive_period(ss[0].s);
		printf("etcd CPU over idle (%.0f ms/s idle, 3 members): %.0f ms over %d s for %ld keepalives: %.2f ms each; "
		       "at this cadence 1,000 ttl-3 s sessions would cost %.0f%% of a core (%.1f keepalives/s each)\n",
		       (double)idle_ticks * tick_ms / cpu_s, busy_ms, cpu_s, k1 - k0, per, per * rate * 1000 / 10.0, rate);
	}
	for (int i = 0; i < total; i++) {
		etcd_session_close(ss[i].s, 1);
		etcd_client_free(ss[i].c);
	}
	tcluster_stop(&cl);
	free(ss);
	free(leaderless);
	free(gap3);
	free(gap4);
	return 0;
}
