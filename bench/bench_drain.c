/* SPDX-License-Identifier: MIT */
/* bench_drain.c - time of the drain decision on 5,000 nodes and 20,000 tasks (goal: under 20 ms) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"
#include "sh_util.h"

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 5000, ntasks = argc > 2 ? (size_t)atol(argv[2]) : 20000;
	drain_node *nodes = calloc(n, sizeof(*nodes));
	char (*ids)[32] = calloc(n, 32);
	static const char *zones[] = {"a", "b", "c"};
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], 32, "node%zu", i);
		nodes[i] = (drain_node){.id = ids[i], .zone = zones[i % 3], .swarm_state = "ready", .availability = "active",
					.hb_present = 1, .hb_engine_up = 1, .healthy_since_ns = 1};
	}
	/* a few dead, a few drained by us, a few manual requests */
	for (size_t i = 0; i < n; i += 500) {
		nodes[i].hb_present = 0;
		nodes[i].unhealthy_since_ns = 1;
		nodes[i].healthy_since_ns = 0;
	}
	for (size_t i = 7; i < n; i += 1000) {
		nodes[i].state = DRAIN_DRAINED;
		nodes[i].availability = "drain";
	}
	for (size_t i = 3; i < n; i += 2500)
		nodes[i].requested = 1;
	enum { NSVC = 20 };
	drain_service svcs[NSVC];
	const char **tn = calloc(ntasks, sizeof(char *));
	for (size_t t = 0; t < ntasks; t++)
		tn[t] = ids[(t * 7919) % n];
	char names[NSVC][16];
	for (int s = 0; s < NSVC; s++) {
		snprintf(names[s], 16, "svc%d", s);
		svcs[s] = (drain_service){.name = names[s], .min_available = "50%", .replicas = (int64_t)(ntasks / NSVC),
					  .task_nodes = tn + s * (ntasks / NSVC), .ntasks = ntasks / NSVC};
	}
	drain_policy p = {.restore_after_ns = 30 * SH_NS_PER_S, .max_drained = (int)(n / 3)};
	drain_action *acts = calloc(n, sizeof(*acts));
	int64_t best = INT64_MAX, total = 0;
	size_t k = 0;
	const int runs = 20;
	for (int r = 0; r < runs; r++) {
		int64_t t0 = sh_mono_ns();
		k = drain_decide(&p, nodes, n, svcs, NSVC, 100 * SH_NS_PER_S, acts, n);
		int64_t dt = sh_mono_ns() - t0;
		total += dt;
		if (dt < best)
			best = dt;
	}
	printf("drain_decide on %zu nodes, %zu tasks in %d labelled services: best %.2f ms, mean %.2f ms over %d runs, %zu actions (goal: < 20 ms)\n",
	       n, ntasks, NSVC, (double)best / 1e6, (double)total / runs / 1e6, runs, k);
	free(acts);
	free(tn);
	free(ids);
	free(nodes);
	return 0;
}
