#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_arbiter.sh - arbiter-elect against etcdctl lock/elect on the same etcd: wall time, peak memory, handover
# Needs ROOT and EP (bench/run.sh exports them). Prints figures (what each is: mean, median); a run that
# fails (a command that exits non-zero, a handover that never happens) fails the bench instead of
# being counted: a run that exits 69 at once would give a flattering time.
set -euo pipefail
AE="$ROOT/build/bin/arbiter-elect"
export ETCDCTL_API=3
RUNS=${RUNS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

die() { echo "bench_arbiter: $*" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run CMD...; a failed run ends the bench, with the command's own message
run_ok() {
	local rc=0
	"$@" >"$tmp/run.out" 2>&1 || rc=$?
	[ "$rc" = 0 ] || die "a run failed (exit $rc): $* : $(head -c 300 "$tmp/run.out")"
}

# peak RSS (KiB) and wall time (ms) of one command, from GNU time; the command must succeed
measure() {
	local rc=0
	/usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >"$tmp/run.out" 2>&1 || rc=$?
	[ "$rc" = 0 ] || die "a run failed (exit $rc): $* : $(head -c 300 "$tmp/run.out")"
	awk '{printf "%d %d\n", $1 * 1000, $2}' "$tmp/t"
}

# wall time: ms per run over RUNS sequential runs (GNU time has 10 ms resolution); each must succeed
wall() {
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq "$RUNS"); do run_ok "$@"; done
	t1=$(date +%s%N)
	echo "scale=2; ($t1 - $t0) / 1000000 / $RUNS" | bc
}

# command substitutions do not stop the script on their own: check each figure
ae_wall=$(wall "$AE" --endpoints "$EP" --ttl 10 bench-uncontended -- true) || exit 1
ed_wall=$(wall etcdctl --endpoints="$EP" lock bench-uncontended-ctl true) || exit 1
ae_rss=$(for _ in 1 2 3 4 5; do measure "$AE" --endpoints "$EP" bench-rss -- true || exit 1; done | awk '{print $2}' | median)
ed_rss=$(for _ in 1 2 3 4 5; do measure etcdctl --endpoints="$EP" lock bench-rss-ctl true || exit 1; done | awk '{print $2}' | median)
[ -n "$ae_rss" ] && [ "$ae_rss" -gt 0 ] && [ -n "$ed_rss" ] && [ "$ed_rss" -gt 0 ] || die "a memory measurement failed"
echo "uncontended run of 'true' under the lock: wall is the mean of $RUNS runs, peak RSS the median of 5:"
printf '  arbiter-elect NAME -- true : %6.2f ms wall, %6d KiB peak RSS\n' "$ae_wall" "$ae_rss"
printf '  etcdctl lock NAME true     : %6.2f ms wall, %6d KiB peak RSS\n' "$ed_wall" "$ed_rss"
printf '  ratio arbiter/etcdctl      : %6.2f wall (goal <= 0.50), %.2f memory (goal <= 0.25)\n' \
	"$(echo "scale=3; $ae_wall / $ed_wall" | bc)" "$(echo "scale=3; $ae_rss / $ed_rss" | bc)"

# handover: leader resigns at t0; the waiter's command stamps the time it starts
printf '#!/bin/sh\ndate +%%s%%N > %s/stamp\n' "$tmp" >"$tmp/stamp.sh"
chmod +x "$tmp/stamp.sh"
# wait_holder PID: until the holder printed its key (it leads), 10 s at most, and it must still run
wait_holder() {
	local pid=$1 t0
	t0=$(date +%s)
	until grep -q / "$tmp/h.out" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || die "the holder exited before leading: $(head -c 300 "$tmp/h.out")"
		[ $(($(date +%s) - t0)) -lt 10 ] || die "the holder did not lead within 10 s"
		sleep 0.01
	done
}

handover() { # tool
	local tool=$1 i name holder waiter t0 t1 rc
	for i in $(seq 15); do
		name="bench-handover-$tool-$i-$$"
		rm -f "$tmp/stamp"
		if [ "$tool" = arbiter ]; then
			"$AE" --endpoints "$EP" "$name" >"$tmp/h.out" 2>&1 &
			holder=$!
			wait_holder "$holder"
			"$AE" --endpoints "$EP" "$name" -- "$tmp/stamp.sh" &
			waiter=$!
		else
			etcdctl --endpoints="$EP" lock "$name" >"$tmp/h.out" 2>&1 &
			holder=$!
			wait_holder "$holder"
			etcdctl --endpoints="$EP" lock "$name" "$tmp/stamp.sh" >/dev/null 2>&1 &
			waiter=$!
		fi
		sleep 0.5 # the waiter is queued
		t0=$(date +%s%N)
		kill -INT "$holder"
		rc=0
		wait "$waiter" || rc=$?
		wait "$holder" || true # its exit status after SIGINT is the tool's own business
		[ "$rc" = 0 ] && [ -s "$tmp/stamp" ] || die "handover $i ($tool): the waiter failed (exit $rc) or its command never ran"
		t1=$(cat "$tmp/stamp")
		echo $(( (t1 - t0) / 1000 ))
	done >"$tmp/handover-$tool" || exit 1
	median <"$tmp/handover-$tool"
}
ae_h=$(handover arbiter) || exit 1
ed_h=$(handover etcdctl) || exit 1
echo "handover from the leader's resign (SIGINT) to the next leader's command starting, median of 15:"
printf '  arbiter-elect : %6.2f ms\n' "$(echo "scale=2; $ae_h / 1000" | bc)"
printf '  etcdctl lock  : %6.2f ms\n' "$(echo "scale=2; $ed_h / 1000" | bc)"
printf '  ratio         : %6.2f (goal <= 0.75)\n' "$(echo "scale=3; $ae_h / $ed_h" | bc)"
