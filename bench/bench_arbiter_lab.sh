#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_arbiter_lab.sh - in the lab (5 nodes, zones a={1,4} b={2,5} c={3}, managers 1-3): seconds from cutting zones
# b and c to the arbiter publishing single-zone and to a drain controller on the cut side stopping; seconds from
# killing two of three managers to a working swarm with the quorum guard, beside a script that polls every 5 s and
# makes the same API calls (GET /nodes, POST /swarm/init ForceNewCluster) as Docker's documented recovery.
# Needs ROOT (bench/run.sh); starts its own etcd on loopback and the lab bridge. Run under the machine lock.
set -euo pipefail
LAB="$ROOT/tests/lab/lab.sh"
BIN="$ROOT/build/bin"
. "$ROOT/tests/lib.sh"
D=${STATE:-/tmp/swarmheal-bench}/arbiter
BR=10.213.57.1
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$D/etcd.pid" ] && kill "$(cat "$D/etcd.pid")" 2>/dev/null || true
	"$LAB" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
zone() { case $1 in 1 | 4) echo a ;; 2 | 5) echo b ;; *) echo c ;; esac; }
now() { date +%s%N; }
secs() { echo "scale=2; ($1 - $2) / 1000000000" | bc; }

up_lab() {
	"$LAB" up 5 --managers 3 >/dev/null
	for i in 1 2 3 4 5; do "$LAB" zone "$i" "$(zone "$i")"; done
}

start_etcd() {
	rm -rf "$D" && mkdir -p "$D"
	PORT=$(sh_free_port)
	local peer
	peer=$(sh_free_port)
	etcd --name b --data-dir "$D/data" --listen-client-urls "http://127.0.0.1:$PORT,http://$BR:$PORT" \
		--advertise-client-urls "http://127.0.0.1:$PORT" --listen-peer-urls "http://127.0.0.1:$peer" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "b=http://127.0.0.1:$peer" \
		>"$D/etcd.log" 2>&1 &
	echo $! >"$D/etcd.pid"
	EPL="http://127.0.0.1:$PORT"
	EPB="http://$BR:$PORT"
	sh_wait_for 20 etcdctl --endpoints="$EPL" endpoint health
}

# ---- zone cut ----
up_lab
start_etcd
PFX=/bench-arb-$$
S1=$("$LAB" sock 1)
for i in 1 2 3 4 5; do
	ip netns exec "shlab-n$i" "$BIN/swarmheal-agent" --endpoints "$EPB" --docker-host "$("$LAB" sock "$i")" \
		--prefix "$PFX" --ttl 2s --zone "$(zone "$i")" 2>/dev/null &
	pids+=($!)
done
# a drain controller on the side about to be cut (node 3's namespace), leading first
ip netns exec shlab-n3 "$BIN/swarmheald" --controllers drain --endpoints "$EPB" --docker-host "$("$LAB" sock 3)" \
	--prefix "$PFX" --ttl 3s --metrics-addr '' 2>"$D/drain-c.log" &
pids+=($!)
sleep 2
"$BIN/swarmheald" --controllers arbiter --endpoints "$EPL" --docker-host "$S1" --prefix "$PFX" --ttl 3s \
	--metrics-addr '' --arbiter-zone a --mode-grace 2s 2>"$D/arbiter.log" &
pids+=($!)
sleep 4
mode() { etcdctl --endpoints="$EPL" get "$PFX/arbiter/mode" --print-value-only | grep -o '"mode":"[a-z-]*"'; }
[ "$(mode)" = '"mode":"normal"' ] || { echo "bench_arbiter_lab: no normal mode published" >&2; exit 1; }
start=$(now)
"$LAB" cut 2
"$LAB" cut 3
"$LAB" cut 5
published="" stopped=""
while [ -z "$published" ] || [ -z "$stopped" ]; do
	t=$(now)
	[ -z "$published" ] && [ "$(mode)" = '"mode":"single-zone"' ] && published=$t
	[ -z "$stopped" ] && grep -q "stopped acting" "$D/drain-c.log" && stopped=$t
	[ $(((t - start) / 1000000000)) -gt 60 ] && break
	sleep 0.05
done
echo "zones b and c cut (agent TTL 2 s, --mode-grace 2 s, controller lease TTL 3 s):"
echo "  single-zone published after          $(secs "${published:-$start}" "$start") s"
echo "  cut-side drain controller logged 'stopped acting' after $(secs "${stopped:-$start}" "$start") s (its lease TTL 3 s;" \
	"every write it tries after the deadline is refused by the fencing check)"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()

# ---- quorum loss: the guard ----
quorum_run() { # $1: guard | script
	up_lab
	local s1 start t ok="" n
	s1=$("$LAB" sock 1)
	docker -H "$s1" service create -d --name benchweb --replicas 2 swarmheal-test-busybox sleep 86400 >/dev/null
	if [ "$1" = guard ]; then
		"$BIN/swarmheald" --controllers arbiter --endpoints "$EPL" --docker-host "$s1" --prefix "$PFX-q" --ttl 3s \
			--metrics-addr '' --arbiter-zone a --allow-force-new-cluster --quorum-loss-grace 5s \
			--arbiter-managers "$s1,$("$LAB" sock 2),$("$LAB" sock 3)" 2>"$D/guard.log" &
		pids+=($!)
		sleep 3
	fi
	start=$(now)
	"$LAB" kill 2
	"$LAB" kill 3
	# the survivor keeps answering GET /nodes for a while after the kill: the loss is visible once it fails
	lost=""
	if [ "$1" = script ]; then
		# a person's best: poll every 5 s, give it the same grace as the guard, then the documented recovery
		while docker -H "$s1" node ls >/dev/null 2>&1; do sleep 5; done
		lost=$(now)
		sleep 5
		docker -H "$s1" swarm init --force-new-cluster --advertise-addr 10.213.57.11 >/dev/null 2>&1 || true
	else
		while docker -H "$s1" node ls >/dev/null 2>&1; do
			[ $((($(now) - start) / 1000000000)) -gt 120 ] && break
			sleep 0.2
		done
		lost=$(now)
	fi
	while :; do
		t=$(now)
		docker -H "$s1" node ls >/dev/null 2>&1 && { ok=$t; break; }
		[ $(((t - start) / 1000000000)) -gt 180 ] && break
		sleep 0.1
	done
	n=$(docker -H "$s1" node ls -q 2>/dev/null | wc -l)
	echo "  $1: loss seen after $(secs "$lost" "$start") s, working swarm after $(secs "${ok:-$start}" "$start") s" \
		"($n nodes listed, service kept: $(docker -H "$s1" service ls -q --filter name=benchweb | wc -l))"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	pids=()
}
echo "two of three managers killed (--quorum-loss-grace 5 s):"
quorum_run guard
quorum_run script
