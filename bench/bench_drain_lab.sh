#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_drain_lab.sh - in the lab, side by side: seconds from killing a worker to swarmheal draining it and to
# Swarm marking it Down; swarmheald's resident memory and idle CPU. Needs ROOT and EP (bench/run.sh).
set -euo pipefail
LAB="$ROOT/tests/lab/lab.sh"
BIN="$ROOT/build/bin"
TTL=${TTL:-3s}
"$LAB" up 3
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; "$LAB" down; }
trap cleanup EXIT
PFX=/bench-drain-$$
for i in 1 2 3; do
	"$BIN/swarmheal-agent" --endpoints "$EP" --docker-host "$("$LAB" sock "$i")" --prefix "$PFX" --ttl "$TTL" 2>/dev/null &
	pids+=($!)
	[ "$i" = 3 ] && agent3=$!
done
sleep 1
"$BIN/swarmheald" --endpoints "$EP" --docker-host "$("$LAB" sock 1)" --prefix "$PFX" --metrics-addr '' 2>/dev/null &
daemon=$!
pids+=($daemon)
sleep 2
kill -0 "$daemon" 2>/dev/null || { echo "bench_drain_lab: swarmheald exited at start" >&2; exit 1; }
# idle: 10 s with nothing to do
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t0=$(ticks $daemon)
sleep 10
t1=$(ticks $daemon)
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)
id3=$("$LAB" id 3)
sock1=$("$LAB" sock 1)
start=$(date +%s%N)
kill -9 "$agent3"
"$LAB" kill 3
drained="" down=""
while [ -z "$drained" ] || [ -z "$down" ]; do
	now=$(date +%s%N)
	out=$(docker -H "$sock1" node inspect "$id3" --format '{{.Spec.Availability}} {{.Status.State}}')
	[ -z "$drained" ] && [ "${out%% *}" = drain ] && drained=$now
	[ -z "$down" ] && [ "${out##* }" = down ] && down=$now
	[ $(( (now - start) / 1000000000 )) -gt 60 ] && break
	sleep 0.05
done
secs() { echo "scale=2; ($1 - $start) / 1000000000" | bc; }
# a drain or a Down that never came is a failed run, not a figure
[ -n "$drained" ] || { echo "bench_drain_lab: swarmheal did not drain the killed worker within 60 s" >&2; exit 1; }
[ -n "$down" ] || { echo "bench_drain_lab: Swarm did not mark the killed worker Down within 60 s" >&2; exit 1; }
kill -0 "$daemon" 2>/dev/null || { echo "bench_drain_lab: swarmheald exited during the run" >&2; exit 1; }
echo "worker killed (agent TTL $TTL), one run:"
echo "  drained by swarmheal after  $(secs "$drained") s   (goal: within TTL + 1 s)"
echo "  marked Down by Swarm after  $(secs "$down") s"
echo "  ratio swarmheal/Swarm       $(echo "scale=2; ($drained - $start) / ($down - $start)" | bc)   (goal: <= 0.33)"
echo "swarmheald: resident memory ${rss} KiB (goal < 10 MiB), idle CPU $(echo "scale=2; ($t1 - $t0) * 100 / $hz / 10" | bc)% over 10 s"
