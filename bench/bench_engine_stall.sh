#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_engine_stall.sh - what a /_ping does while a lab worker's dockerd is frozen or busy, and when Swarm calls it Down
#
# Needs the lab (tests/lab/lab.sh up 3) and the machine lock. Prints, for node 3:
#  1. a ping started during a SIGSTOP freeze of 2 s and of 5 s: its latency and result (it waits, never refuses);
#  2. ping latencies every 100 ms while the node starts 20 containers at once (load: create, mount, network, start);
#  3. seconds from a freeze until a manager reports the node Down (Swarm's own detection), freeze up to 25 s.
# These choose swarmheal-agent's --engine-down-after: above what load stalls a ping, below Swarm's own Down.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB="$ROOT/tests/lab/lab.sh"
S3=$("$LAB" sock 3); S1=$("$LAB" sock 1)
SOCK3=${S3#unix://}
PID3=$(cat /tmp/swarmheal-lab/n3/dockerd.pid)
ping_once() { curl -s -o /dev/null -w '%{http_code} %{time_total}' --unix-socket "$SOCK3" -m 30 http://x/_ping || echo "fail $?"; }

for f in 2 5; do
	kill -STOP "$PID3"
	( sleep "$f"; kill -CONT "$PID3" ) &
	r=$(ping_once)
	wait
	echo "freeze ${f}s: ping started at the freeze -> status/latency: $r"
done

# load: 20 containers started at once, pings every 100 ms meanwhile
docker -H "$S3" rm -f $(docker -H "$S3" ps -aq --filter label=bench-stall) >/dev/null 2>&1 || true
: >/tmp/bench-stall-pings
( for i in $(seq 150); do ping_once >>/tmp/bench-stall-pings; echo >>/tmp/bench-stall-pings; sleep 0.1; done ) &
PP=$!
for i in $(seq 20); do docker -H "$S3" run -d --label bench-stall=1 swarmheal-test-busybox sleep 600 >/dev/null & done
wait $(jobs -p | grep -v "^$PP$") 2>/dev/null || true
wait $PP
docker -H "$S3" rm -f $(docker -H "$S3" ps -aq --filter label=bench-stall) >/dev/null 2>&1 || true
awk '{print $2}' /tmp/bench-stall-pings | sort -n | awk '{v[NR]=$1} END {printf "under load (20 containers started at once): %d pings, median %.3f s, p99 %.3f s, max %.3f s\n", NR, v[int(NR/2)+1], v[int(NR*0.99)], v[NR]}'

# Swarm's own detection of a frozen worker
ID3=$("$LAB" id 3)
kill -STOP "$PID3"
t0=$(date +%s.%N); down=""
for i in $(seq 250); do
	st=$(docker -H "$S1" node inspect "$ID3" --format '{{.Status.State}}' 2>/dev/null || true)
	if [ "$st" = down ]; then down=$(echo "$(date +%s.%N) - $t0" | bc); break; fi
	sleep 0.1
done
kill -CONT "$PID3"
echo "swarm reports the frozen worker down after: ${down:-more than 25} s"
