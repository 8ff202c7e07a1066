#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_transport.sh - etcd's CPU per request through the JSON gateway and through gRPC (bench_transport),
# and the daemons' start-up time and resident memory. Needs ROOT, EP and STATE (bench/run.sh exports them);
# the etcd's pid is read from $STATE/etcd.pid. SESSIONS (default 1000) sessions at each of TTLS (default "3 10");
# SKIP_CPU=1 measures only the daemons (e.g. to compare two builds: ROOT=the other tree).
set -euo pipefail
BIN="$ROOT/build/bin"
SESSIONS=${SESSIONS:-1000}
TTLS=${TTLS:-3 10}
die() { echo "bench_transport: $*" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pid=$(cat "$STATE/etcd.pid") || die "no $STATE/etcd.pid"
# shellcheck disable=SC2086
[ "${SKIP_CPU:-0}" = 1 ] || "$BIN/bench_transport" "$EP" "$pid" 3000 "$SESSIONS" $TTLS || die "bench_transport failed"

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
nodocker="unix://$tmp/no-docker.sock"
# start-up: exec to "ready" on /readyz (swarmheald, arbiter controller, no engine: it leads on etcd alone);
# resident memory 3 s after the start; median of 10
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for i in $(seq 10); do
	t0=$(date +%s%N)
	"$BIN/swarmheald" --endpoints "$EP" --docker-host "$nodocker" --metrics-addr "127.0.0.1:$port" \
		--controllers arbiter --prefix "/bench-transport-$i-$$" >"$tmp/sd.out" 2>&1 &
	sd=$!
	until [ "$(curl -s "127.0.0.1:$port/readyz" 2>/dev/null)" = ready ]; do
		kill -0 "$sd" 2>/dev/null || die "swarmheald exited: $(head -c 300 "$tmp/sd.out")"
		[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 10000 ] || die "swarmheald not ready within 10 s"
		sleep 0.002
	done
	t1=$(date +%s%N)
	sleep 3
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$sd/status")
	kill -TERM "$sd"
	wait "$sd" || true
	echo "$(( (t1 - t0) / 1000 )) $rss"
done >"$tmp/sd"
# the agent without an engine waits for it; its start-up is the library load and option parsing
# (--version, median of 30) and its resident memory 2 s in
for i in $(seq 30); do
	t0=$(date +%s%N)
	"$BIN/swarmheal-agent" --version >/dev/null
	echo $(( ($(date +%s%N) - t0) / 1000 ))
done >"$tmp/ag"
"$BIN/swarmheal-agent" --endpoints "$EP" --docker-host "$nodocker" >"$tmp/ag.out" 2>&1 &
ag=$!
sleep 2
ag_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$ag/status")
kill -TERM "$ag"
wait "$ag" || true
# etcd's CPU for swarmheald itself, idle: four controllers leading (sessions, elections, watches, the mode read
# and the passes' reads of empty prefixes; the engine unreachable, so no node is read: bench_transport measures
# the reads of 1,000 nodes); etcd's idle rate over 10 s subtracted, 10 s with swarmheald running
etcd_ms() { awk '{print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"'}' "/proc/$pid/stat"; }
c0=$(etcd_ms); sleep 10; c1=$(etcd_ms)
"$BIN/swarmheald" --endpoints "$EP" --docker-host "$nodocker" --metrics-addr '' \
	--controllers drain,rollback,certs,arbiter --prefix "/bench-transport-all-$$" >"$tmp/all.out" 2>&1 &
sd=$!
sleep 3
c2=$(etcd_ms); sleep 10; c3=$(etcd_ms)
kill -TERM "$sd"
wait "$sd" || true
printf 'swarmheald idle (drain, rollback, certs, arbiter leading; no engine, no nodes): etcd %.1f ms CPU per s = %.2f %% of one core (etcd idle %.1f ms/s subtracted)\n' \
	"$(echo "($c3 - $c2 - ($c1 - $c0)) / 10" | bc -l)" "$(echo "($c3 - $c2 - ($c1 - $c0)) / 100" | bc -l)" \
	"$(echo "($c1 - $c0) / 10" | bc -l)"
printf 'swarmheald (arbiter controller, no engine): ready after %.1f ms, %d KiB resident 3 s in (medians of 10)\n' \
	"$(awk '{print $1 / 1000}' "$tmp/sd" | median)" "$(awk '{print $2}' "$tmp/sd" | median)"
printf 'swarmheal-agent: --version in %.2f ms (median of 30); %d KiB resident 2 s in (waiting for the engine)\n' \
	"$(awk '{print $1 / 1000}' "$tmp/ag" | median)" "$ag_rss"
