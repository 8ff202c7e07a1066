#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_ctl.sh - `swarmhealctl get status` on an etcd holding 1,000 heartbeats, 2,000 services' snapshots and
# 10,000 action records (goal: under 100 ms, peak RSS under 16 MiB), next to `docker node ls` when an engine is given
# (BENCH_DOCKER_HOST=unix:///... of a Swarm manager, e.g. the lab's; run under the machine lock).
# Run by bench/run.sh (ROOT, EP set) or alone: EP=http://127.0.0.1:2379 ROOT=. bash bench/bench_ctl.sh
set -euo pipefail
RUNS=${RUNS:-20}
"$ROOT/build/bin/bench_ctl" "$EP" "$ROOT/build/bin/swarmhealctl" 1000 2000 10000 "$RUNS"
"$ROOT/build/bin/bench_ctl" "$EP" "$ROOT/build/bin/swarmhealctl" 1000 2000 10000 "$RUNS" --output=json
if [ -n "${BENCH_DOCKER_HOST:-}" ] && docker -H "$BENCH_DOCKER_HOST" node ls >/dev/null 2>&1; then
	n=$(docker -H "$BENCH_DOCKER_HOST" node ls -q | wc -l)
	times=()
	for _ in $(seq "$RUNS"); do
		s=$(date +%s%N)
		docker -H "$BENCH_DOCKER_HOST" node ls >/dev/null
		times+=($(( ($(date +%s%N) - s) / 1000 )))
	done
	sorted=($(printf '%s\n' "${times[@]}" | sort -n))
	printf 'docker node ls (%d nodes): %d runs, wall min %.1f ms, median %.1f ms, max %.1f ms\n' "$n" "$RUNS" \
		"$(echo "${sorted[0]} / 1000" | bc -l)" "$(echo "${sorted[$((RUNS / 2))]} / 1000" | bc -l)" \
		"$(echo "${sorted[$((RUNS - 1))]} / 1000" | bc -l)"
	/usr/bin/time -f 'docker node ls: peak RSS %M KiB' docker -H "$BENCH_DOCKER_HOST" node ls >/dev/null
else
	echo "docker node ls: skipped (set BENCH_DOCKER_HOST to a Swarm manager's engine, under the machine lock)"
fi
