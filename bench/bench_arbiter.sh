#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_arbiter.sh - arbiter-elect against etcdctl lock/elect on the same etcd: wall time, peak memory, handover
# Needs ROOT and EP (bench/run.sh exports them). Prints figures; asserts nothing.
set -euo pipefail
AE="$ROOT/build/bin/arbiter-elect"
export ETCDCTL_API=3
RUNS=${RUNS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# peak RSS (KiB) and wall time (ms) of one command, from GNU time
measure() {
	/usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >/dev/null 2>&1 || true
	awk '{printf "%d %d\n", $1 * 1000, $2}' "$tmp/t"
}

# wall time: ms per run over RUNS sequential runs (GNU time has 10 ms resolution)
wall() {
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq "$RUNS"); do "$@" >/dev/null 2>&1; done
	t1=$(date +%s%N)
	echo "scale=2; ($t1 - $t0) / 1000000 / $RUNS" | bc
}

ae_wall=$(wall "$AE" --endpoints "$EP" --ttl 10 bench-uncontended -- true)
ed_wall=$(wall etcdctl --endpoints="$EP" lock bench-uncontended-ctl true)
ae_rss=$(for _ in 1 2 3 4 5; do measure "$AE" --endpoints "$EP" bench-rss -- true; done | awk '{print $2}' | median)
ed_rss=$(for _ in 1 2 3 4 5; do measure etcdctl --endpoints="$EP" lock bench-rss-ctl true; done | awk '{print $2}' | median)
echo "uncontended run of 'true' under the lock, mean of $RUNS runs:"
printf '  arbiter-elect NAME -- true : %6.2f ms wall, %6d KiB peak RSS\n' "$ae_wall" "$ae_rss"
printf '  etcdctl lock NAME true     : %6.2f ms wall, %6d KiB peak RSS\n' "$ed_wall" "$ed_rss"
printf '  ratio arbiter/etcdctl      : %6.2f wall (goal <= 0.50), %.2f memory (goal <= 0.25)\n' \
	"$(echo "scale=3; $ae_wall / $ed_wall" | bc)" "$(echo "scale=3; $ae_rss / $ed_rss" | bc)"

# handover: leader resigns at t0; the waiter's command stamps the time it starts
printf '#!/bin/sh\ndate +%%s%%N > %s/stamp\n' "$tmp" >"$tmp/stamp.sh"
chmod +x "$tmp/stamp.sh"
handover() { # tool
	local tool=$1 i name holder waiter t0 t1
	for i in $(seq 15); do
		name="bench-handover-$tool-$i-$$"
		rm -f "$tmp/stamp"
		if [ "$tool" = arbiter ]; then
			"$AE" --endpoints "$EP" "$name" >"$tmp/h.out" 2>&1 &
			holder=$!
			until grep -q / "$tmp/h.out" 2>/dev/null; do sleep 0.01; done
			"$AE" --endpoints "$EP" "$name" -- "$tmp/stamp.sh" &
			waiter=$!
		else
			etcdctl --endpoints="$EP" lock "$name" >"$tmp/h.out" 2>&1 &
			holder=$!
			until grep -q / "$tmp/h.out" 2>/dev/null; do sleep 0.01; done
			etcdctl --endpoints="$EP" lock "$name" "$tmp/stamp.sh" >/dev/null 2>&1 &
			waiter=$!
		fi
		sleep 0.5 # the waiter is queued
		t0=$(date +%s%N)
		kill -INT "$holder"
		wait "$waiter" || true
		wait "$holder" || true
		t1=$(cat "$tmp/stamp")
		echo $(( (t1 - t0) / 1000 ))
	done | median
}
ae_h=$(handover arbiter)
ed_h=$(handover etcdctl)
echo "handover from the leader's resign (SIGINT) to the next leader's command starting, median of 15:"
printf '  arbiter-elect : %6.2f ms\n' "$(echo "scale=2; $ae_h / 1000" | bc)"
printf '  etcdctl lock  : %6.2f ms\n' "$(echo "scale=2; $ed_h / 1000" | bc)"
printf '  ratio         : %6.2f (goal <= 0.75)\n' "$(echo "scale=3; $ae_h / $ed_h" | bc)"
