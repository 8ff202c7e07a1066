#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_rollback_lab.sh - in the lab, side by side in one run: seconds from a bad update to rollback_started,
# Swarm's own configured rollback (--update-failure-action rollback --update-monitor 5s, no swarmheal) against
# Swarm's default pause with swarmheal's rollback controller; new tasks that exit at once, that crash 8 s after
# starting, that stay pending. Needs ROOT and EP (bench/run.sh).
set -euo pipefail
LAB="$ROOT/tests/lab/lab.sh"
BIN="$ROOT/build/bin"
PENDING_TIMEOUT=${PENDING_TIMEOUT:-5s}
WAIT=${WAIT:-40}
"$LAB" up 3
S=$("$LAB" sock 1)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	"$LAB" down
}
trap cleanup EXIT
PFX=/bench-rollback-$$
dk() { docker -H "$S" "$@"; }
common=(-d --no-resolve-image --replicas 1 --stop-grace-period 0s --restart-delay 1s)
swarm=(--update-failure-action rollback --update-monitor 5s --label swarmheal.rollback=off)
for c in exit crash pending; do
	dk service create "${common[@]}" "${swarm[@]}" --name "sw-$c" swarmheal-test-busybox sleep 1000 >/dev/null
	dk service create "${common[@]}" --name "sh-$c" swarmheal-test-busybox sleep 1000 >/dev/null
done
for s in sw-exit sh-exit sw-crash sh-crash sw-pending sh-pending; do
	until [ "$(dk service ps "$s" --filter desired-state=running --format '{{.CurrentState}}' | grep -c Running)" -ge 1 ]; do
		sleep 0.2
	done
done
"$BIN/swarmheald" --controllers rollback --endpoints "$EP" --docker-host "$S" --prefix "$PFX" --metrics-addr '' \
	--pending-timeout "$PENDING_TIMEOUT" 2>"$STATE/bench-rollback.log" &
pids+=($!)
sleep 2
now() { date +%s%N; }
# watch one service: print the ns time UpdateStatus first reads rollback_started (or "never")
watch_rb() {
	local s=$1 start=$2 st
	while [ $(( ($(now) - start) / 1000000000 )) -lt "$WAIT" ]; do
		st=$(dk service inspect "$s" --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' 2>/dev/null || true)
		case "$st" in rollback_*) now; return ;; esac
		sleep 0.05
	done
	echo never
}
# the first new task's failure (or pending) time after start, from Swarm's own task timestamps
first_failure() {
	local s=$1 start=$2 best="" t state ts created
	for t in $(dk service ps -q "$s"); do
		read -r state ts created < <(docker -H "$S" inspect "$t" --format '{{.Status.State}} {{.Status.Timestamp.Format "2006-01-02T15:04:05.000000000Z07:00"}} {{.CreatedAt.Format "2006-01-02T15:04:05.000000000Z07:00"}}')
		case "$state" in failed | complete | rejected) ;; *) continue ;; esac
		created=$(date -d "$created" +%s%N)
		[ "$created" -ge "$start" ] || continue
		ts=$(date -d "$ts" +%s%N)
		if [ -z "$best" ] || [ "$ts" -lt "$best" ]; then best=$ts; fi
	done
	echo "${best:-}"
}
secs() { if [ "$1" = never ]; then echo "never (within ${WAIT} s)"; else echo "$(echo "scale=2; ($1 - $2) / 1000000000" | bc) s"; fi; }
declare -A out
run_pair() {
	local c=$1; shift
	local start
	start=$(now)
	dk service update "$@" "sw-$c" >/dev/null &
	local u1=$!
	dk service update "$@" "sh-$c" >/dev/null &
	local u2=$!
	wait $u1 $u2 || true
	watch_rb "sw-$c" "$start" >"$STATE/rb-sw-$c" &
	local w1=$!
	watch_rb "sh-$c" "$start" >"$STATE/rb-sh-$c" &
	local w2=$!
	wait $w1 $w2
	out[$c-start]=$start
}
run_pair exit -d --args "sh -c 'exit 3'"
run_pair crash -d --args "sh -c 'sleep 8; exit 1'"
run_pair pending -d --constraint-add node.labels.lab-node==none
echo "seconds from the update to rollback_started (--stop-grace-period 0s, 1 replica, 3-node lab):"
for c in exit crash pending; do
	start=${out[$c-start]}
	sw=$(cat "$STATE/rb-sw-$c")
	sh=$(cat "$STATE/rb-sh-$c")
	case $c in
	exit) what="new tasks exit at once" ;;
	crash) what="new tasks crash 8 s after starting" ;;
	pending) what="new tasks stay pending (constraint no node satisfies)" ;;
	esac
	echo "  $what:"
	echo "    Swarm (failure action rollback, monitor 5s): $(secs "$sw" "$start")"
	echo "    swarmheal (Swarm's default pause):           $(secs "$sh" "$start")"
	if [ "$c" != pending ] && [ "$sh" != never ]; then
		ff=$(first_failure "sh-$c" "$start")
		[ -n "$ff" ] && echo "      first failed new task after $(secs "$ff" "$start"); rollback $(secs "$sh" "$ff") after it (goal: < 1 s)"
	fi
	[ "$c" = pending ] && echo "      (--pending-timeout $PENDING_TIMEOUT; goal: within it + 1 s of the task's creation)"
done
