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
# watch one service: the ns time its UpdateStatus first reads rollback_* (or "never"); the same 50 ms poll
# for both sides (Swarm's automatic rollback keeps the update's StartedAt, so the manager's time cannot be used)
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
		read -r state ts created < <(docker -H "$S" inspect "$t" 2>/dev/null --format '{{.Status.State}} {{.Status.Timestamp.Format "2006-01-02T15:04:05.000000000Z07:00"}} {{.CreatedAt.Format "2006-01-02T15:04:05.000000000Z07:00"}}')
		case "$state" in failed | complete | rejected) ;; *) continue ;; esac
		created=$(date -d "$created" +%s%N)
		[ "$created" -ge "$start" ] || continue
		ts=$(date -d "$ts" +%s%N)
		if [ -z "$best" ] || [ "$ts" -lt "$best" ]; then best=$ts; fi
	done
	echo "${best:-}"
}
secs() { if [ "$1" = never ]; then echo "never (within ${WAIT} s)"; else echo "$(echo "scale=2; ($1 - $2) / 1000000000" | bc) s"; fi; }
# one bad update of sw-SVC and sh-SVC at the same moment; results saved under TAG
run_pair() {
	local svc=$1 tag=$2; shift 2
	local start
	start=$(now)
	dk service update "$@" "sw-$svc" >/dev/null &
	local u1=$!
	dk service update "$@" "sh-$svc" >/dev/null &
	local u2=$!
	wait $u1 $u2 || true
	watch_rb "sw-$svc" "$start" >"$STATE/rb-sw-$tag" &
	local w1=$!
	watch_rb "sh-$svc" "$start" >"$STATE/rb-sh-$tag" &
	local w2=$!
	wait $w1 $w2
	echo "$start" >"$STATE/rb-start-$tag"
}
report() {
	local svc=$1 tag=$2 what=$3 start side r label line ff
	start=$(cat "$STATE/rb-start-$tag")
	echo "  $what:"
	for side in sw sh; do
		r=$(cat "$STATE/rb-$side-$tag")
		if [ $side = sw ]; then label="Swarm (failure action rollback, monitor 5s):"; else label="swarmheal (Swarm's default pause):          "; fi
		line="    $label $(secs "$r" "$start")"
		if [ "$svc" != pending ] && [ "$r" != never ]; then
			ff=$(first_failure "$side-$svc" "$start")
			[ -n "$ff" ] && line="$line   (first failed new task at $(secs "$ff" "$start"), rollback $(secs "$r" "$ff") after it)"
		fi
		echo "$line"
	done
}
# back to the good spec and running on both sides before the next round
settle() {
	local s
	for s in "sw-$1" "sh-$1"; do
		until dk service inspect "$s" --format '{{.UpdateStatus.State}}' | grep -q rollback_completed &&
			[ "$(dk service ps "$s" --filter desired-state=running --format '{{.CurrentState}}' | grep -c Running)" -ge 1 ]; do
			sleep 0.2
		done
	done
}
ROUNDS=${ROUNDS:-3}
echo "seconds from the update to rollback_* seen in UpdateStatus (polled every 50 ms; --stop-grace-period 0s, 1 replica, 3-node lab):"
for r in $(seq "$ROUNDS"); do
	run_pair exit "exit$r" -d --args "sh -c 'exit 3'"
	report exit "exit$r" "new tasks exit at once (round $r of $ROUNDS)"
	[ "$r" = "$ROUNDS" ] || settle exit
done
run_pair crash crash -d --args "sh -c 'sleep 8; exit 1'"
report crash crash "new tasks crash 8 s after starting"
run_pair pending pending -d --constraint-add node.labels.lab-node==none
report pending pending "new tasks stay pending (constraint no node satisfies)"
echo "      (--pending-timeout $PENDING_TIMEOUT: goal within it + 1 s of the task's creation)"
