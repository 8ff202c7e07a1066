/* SPDX-License-Identifier: MIT */
/* bench_lease_ttl.c - how soon etcd's LeaseTimeToLive shows an agent's missed keepalive (the drain's second signal) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drain.h"
#include "etcd_concurrency.h"
#include "sh_util.h"

/*
 * usage: bench_lease_ttl ENDPOINTS [TRIALS [TTL_S]]
 * Each trial: a session of TTL_S (default 3, the agent's) kept alive by the agent's own session code
 * (etcd_session_new: keepalive every etcd_session_period), its lease read every 20 ms for 2 s with
 * etcd_lease_ttl (a reading the drain controller would take for missed is a false alarm and counted);
 * then the session is closed without revoking (the agent's host dies: no more keepalives) at a random
 * point of the keepalive cycle, and the lease read every 20 ms until drain_keepalive_missed() says
 * missed and until etcd no longer has it. Prints per trial and min/median/max: the readings while
 * kept, ms from the death to "missed", ms from the death to the lease's end.
 */

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_lease_ttl ENDPOINTS [TRIALS [TTL_S]]\n");
		return 64;
	}
	int trials = argc > 2 ? atoi(argv[2]) : 10;
	int64_t ttl_s = argc > 3 ? atoll(argv[3]) : 3;
	if (trials < 1 || trials > 1000 || ttl_s < 2) {
		fprintf(stderr, "bench_lease_ttl: TRIALS 1..1000, TTL_S >= 2\n");
		return 64;
	}
	etcd_config cfg = {.endpoints = argv[1], .timeout_ms = 1000};
	etcd_client *holder, *reader;
	char err[256];
	if (etcd_client_new(&cfg, &holder, err, sizeof(err)) || etcd_client_new(&cfg, &reader, err, sizeof(err))) {
		fprintf(stderr, "bench_lease_ttl: %s\n", err);
		return 69;
	}
	int64_t *missed = calloc((size_t)trials, sizeof(int64_t)), *gone = calloc((size_t)trials, sizeof(int64_t));
	if (!missed || !gone)
		return 70;
	long false_alarms = 0, readings_kept = 0, hist[8] = {0};
	srand((unsigned)sh_mono_ns());
	printf("lease TTL %llds, keepalive every %lld ms (etcd_session_period), slack %lld ms\n", (long long)ttl_s,
	       (long long)(etcd_session_period(ttl_s * SH_NS_PER_S, 0) / SH_NS_PER_MS),
	       (long long)(DRAIN_KEEPALIVE_SLACK_NS / SH_NS_PER_MS));
	for (int t = 0; t < trials; t++) {
		etcd_session *s;
		if (etcd_session_new(holder, ttl_s, &s)) {
			fprintf(stderr, "bench_lease_ttl: cannot grant a lease: %s\n", etcd_errmsg(holder));
			return 69;
		}
		int64_t id = etcd_session_lease(s), ttl = 0, granted = 0;
		int64_t until = sh_mono_ns() + 2 * SH_NS_PER_S + (rand() % 1000) * SH_NS_PER_MS;
		while (sh_mono_ns() < until) {
			if (etcd_lease_ttl(reader, id, &ttl, &granted, NULL) == SH_OK) {
				readings_kept++;
				hist[ttl < 0 ? 0 : ttl > 6 ? 7 : ttl + 1]++;
				false_alarms += drain_keepalive_missed(ttl, granted);
			}
			usleep(20000);
		}
		int64_t death = sh_mono_ns();
		etcd_session_close(s, 0); /* no revoke: the lease runs out as after a host's death */
		missed[t] = gone[t] = -1;
		while (sh_mono_ns() - death < (ttl_s + 2) * SH_NS_PER_S) {
			if (etcd_lease_ttl(reader, id, &ttl, &granted, NULL) == SH_OK) {
				int64_t at = (sh_mono_ns() - death) / SH_NS_PER_MS;
				if (missed[t] < 0 && drain_keepalive_missed(ttl, granted))
					missed[t] = at;
				if (ttl < 0 && granted == 0) {
					gone[t] = at;
					break;
				}
			}
			usleep(20000);
		}
		printf("  trial %d: missed keepalive seen %lld ms after the death, lease gone after %lld ms\n", t + 1,
		       (long long)missed[t], (long long)gone[t]);
	}
	printf("readings while kept alive: %ld (by reported TTL:", readings_kept);
	for (int i = 0; i < 8; i++)
		if (hist[i])
			printf(" %d%s s: %ld", i - 1, i == 7 ? "+" : "", hist[i]);
	printf("), read as missed: %ld (must be 0)\n", false_alarms);
	qsort(missed, (size_t)trials, sizeof(int64_t), cmp64);
	qsort(gone, (size_t)trials, sizeof(int64_t), cmp64);
	printf("death -> missed keepalive seen: min %lld, median %lld, max %lld ms\n", (long long)missed[0],
	       (long long)missed[(trials - 1) / 2], (long long)missed[trials - 1]);
	printf("death -> lease gone:            min %lld, median %lld, max %lld ms\n", (long long)gone[0],
	       (long long)gone[(trials - 1) / 2], (long long)gone[trials - 1]);
	int bad = false_alarms > 0 || missed[0] < 0;
	free(missed);
	free(gone);
	etcd_client_free(holder);
	etcd_client_free(reader);
	return bad ? 1 : 0;
}
