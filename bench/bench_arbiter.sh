#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_arbiter.sh - arbiter-elect against etcdctl lock on the same etcd: wall time, peak memory, handover
# Needs ROOT and EP (bench/run.sh exports them). The tools take turns (one-shot: PER runs of each per
# round, ROUNDS rounds; handover: one of each per round, HANDOVERS rounds), so a machine that gets
# busier mid-run weighs on both alike; figures are medians of single runs, with the load average
# printed. AE_BASE=/path/to/another/arbiter-elect adds it as a third contender (before/after in one
# run). A run that fails (a command that exits non-zero, a handover that never happens) fails the
# bench instead of being counted: a run that exits 69 at once would give a flattering time.
set -euo pipefail
AE="$ROOT/build/bin/arbiter-elect"
AE_BASE=${AE_BASE:-}
export ETCDCTL_API=3
ROUNDS=${ROUNDS:-10}
PER=${PER:-5}
HANDOVERS=${HANDOVERS:-15}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

die() { echo "bench_arbiter: $*" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# quartiles of a file of numbers: "p25 median p75"
quart() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int(NR/4)+1], a[int((NR+1)/2)], a[int(3*NR/4)]}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# peak RSS (KiB) of one command, from GNU time; the command must succeed
measure() {
	local rc=0
	/usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >"$tmp/run.out" 2>&1 || rc=$?
	[ "$rc" = 0 ] || die "a run failed (exit $rc): $* : $(head -c 300 "$tmp/run.out")"
	awk '{printf "%d %d\n", $1 * 1000, $2}' "$tmp/t"
}

# once FILE CMD...: one run's wall time (us) appended to FILE; the run must succeed
once() {
	local f=$1 t0 t1 rc=0
	shift
	t0=$(date +%s%N)
	"$@" >"$tmp/run.out" 2>&1 || rc=$?
	t1=$(date +%s%N)
	[ "$rc" = 0 ] || die "a run failed (exit $rc): $* : $(head -c 300 "$tmp/run.out")"
	echo $(((t1 - t0) / 1000)) >>"$f"
}

contenders="ae ed"
[ -n "$AE_BASE" ] && contenders="ae base ed"
run_tool() { # NAME FILE: one uncontended run of `true` under the lock
	case $1 in
	ae) once "$2" "$AE" --endpoints "$EP" --ttl 10 bench-uncontended -- true ;;
	base) once "$2" "$AE_BASE" --endpoints "$EP" --ttl 10 bench-uncontended-base -- true ;;
	ed) once "$2" etcdctl --endpoints="$EP" lock bench-uncontended-ctl true ;;
	esac
}
load0=$(load)
for _ in $(seq "$ROUNDS"); do
	for t in $contenders; do
		for _ in $(seq "$PER"); do run_tool "$t" "$tmp/wall-$t" || exit 1; done
	done
done
ae_rss=$(for _ in 1 2 3 4 5; do measure "$AE" --endpoints "$EP" bench-rss -- true || exit 1; done | awk '{print $2}' | median)
ed_rss=$(for _ in 1 2 3 4 5; do measure etcdctl --endpoints="$EP" lock bench-rss-ctl true || exit 1; done | awk '{print $2}' | median)
[ -n "$ae_rss" ] && [ "$ae_rss" -gt 0 ] && [ -n "$ed_rss" ] && [ "$ed_rss" -gt 0 ] || die "a memory measurement failed"
read -r ae25 ae50 ae75 <<<"$(quart "$tmp/wall-ae")"
read -r ed25 ed50 ed75 <<<"$(quart "$tmp/wall-ed")"
ms() { echo "scale=2; $1 / 1000" | bc; }
echo "uncontended run of 'true' under the lock, $ROUNDS rounds of $PER runs each, taking turns" \
	"(load $load0 -> $(load)):"
echo "  wall per run: median (p25-p75); peak RSS: median of 5"
printf '  arbiter-elect NAME -- true : %6.2f ms (%.2f-%.2f), %6d KiB peak RSS\n' "$(ms "$ae50")" "$(ms "$ae25")" \
	"$(ms "$ae75")" "$ae_rss"
if [ -n "$AE_BASE" ]; then
	read -r b25 b50 b75 <<<"$(quart "$tmp/wall-base")"
	printf '  AE_BASE NAME -- true       : %6.2f ms (%.2f-%.2f), ratio to etcdctl %.2f\n' "$(ms "$b50")" \
		"$(ms "$b25")" "$(ms "$b75")" "$(echo "scale=3; $b50 / $ed50" | bc)"
fi
printf '  etcdctl lock NAME true     : %6.2f ms (%.2f-%.2f), %6d KiB peak RSS\n' "$(ms "$ed50")" "$(ms "$ed25")" \
	"$(ms "$ed75")" "$ed_rss"
printf '  ratio arbiter/etcdctl      : %6.2f wall (goal <= 0.75), %.2f memory (goal <= 0.25)\n' \
	"$(echo "scale=3; $ae50 / $ed50" | bc)" "$(echo "scale=3; $ae_rss / $ed_rss" | bc)"

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

handover() { # tool round: one handover's time (us) on stdout
	local tool=$1 i=$2 name holder waiter t0 t1 rc bin
	name="bench-handover-$tool-$i-$$"
	rm -f "$tmp/stamp" "$tmp/h.out"
	if [ "$tool" = ed ]; then
		etcdctl --endpoints="$EP" lock "$name" >"$tmp/h.out" 2>&1 &
		holder=$!
		wait_holder "$holder"
		etcdctl --endpoints="$EP" lock "$name" "$tmp/stamp.sh" >/dev/null 2>&1 &
		waiter=$!
	else
		bin=$AE
		[ "$tool" = base ] && bin=$AE_BASE
		"$bin" --endpoints "$EP" "$name" >"$tmp/h.out" 2>&1 &
		holder=$!
		wait_holder "$holder"
		"$bin" --endpoints "$EP" "$name" -- "$tmp/stamp.sh" &
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
	echo $(((t1 - t0) / 1000))
}
load0=$(load)
for i in $(seq "$HANDOVERS"); do
	for t in $contenders; do
		handover "$t" "$i" >>"$tmp/handover-$t" || exit 1
	done
done
read -r ae25 ae50 ae75 <<<"$(quart "$tmp/handover-ae")"
read -r ed25 ed50 ed75 <<<"$(quart "$tmp/handover-ed")"
echo "handover from the leader's resign (SIGINT) to the next leader's command starting, $HANDOVERS each," \
	"taking turns (load $load0 -> $(load)):"
printf '  arbiter-elect : %6.2f ms median (%.2f-%.2f)\n' "$(ms "$ae50")" "$(ms "$ae25")" "$(ms "$ae75")"
if [ -n "$AE_BASE" ]; then
	read -r b25 b50 b75 <<<"$(quart "$tmp/handover-base")"
	printf '  AE_BASE       : %6.2f ms median (%.2f-%.2f), ratio to etcdctl %.2f\n' "$(ms "$b50")" "$(ms "$b25")" \
		"$(ms "$b75")" "$(echo "scale=3; $b50 / $ed50" | bc)"
fi
printf '  etcdctl lock  : %6.2f ms median (%.2f-%.2f)\n' "$(ms "$ed50")" "$(ms "$ed25")" "$(ms "$ed75")"
printf '  ratio         : %6.2f (goal <= 1.00)\n' "$(echo "scale=3; $ae50 / $ed50" | bc)"
