#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_drain_lab.sh - in the lab, with default flags (agent TTL 15 s, swarmheald's drain defaults), side by side in
# one run: seconds from a worker host's death to swarmheal's drain and to Swarm's Down (median of RUNS, default 5),
# and the false drains over the suite's non-fatal faults (must be 0); swarmheald's resident memory and idle CPU.
# Needs ROOT and EP (bench/run.sh). Fails, printing no figure, when a drain or a Down never comes, when a fault
# drains a node, or when swarmheald exits.
set -euo pipefail
LAB="$ROOT/tests/lab/lab.sh"
BIN="$ROOT/build/bin"
RUNS=${RUNS:-5}
LOGS=${STATE:-/tmp}/bench-drain-lab
mkdir -p "$LOGS"
"$LAB" up 3
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; "$LAB" down; }
trap cleanup EXIT
sock1=$("$LAB" sock 1)
ids=("" "$("$LAB" id 1)" "$("$LAB" id 2)" "$("$LAB" id 3)")
ectl() { ETCDCTL_API=3 etcdctl --endpoints="$EP" "$@"; }
die() { echo "bench_drain_lab: $*" >&2; exit 1; }

declare -A agent
start_agent() { # start_agent I PREFIX
	"$BIN/swarmheal-agent" --endpoints "$EP" --docker-host "$("$LAB" sock "$1")" --prefix "$2" 2>>"$LOGS/agent.log" &
	agent[$1]=$!
	pids+=($!)
}
stop_agent() { # stop_agent I SIGNAL
	kill -"$2" "${agent[$1]}" 2>/dev/null || true
	wait "${agent[$1]}" 2>/dev/null || true
}
start_daemon() { # start_daemon PREFIX LOG: defaults for every drain flag
	"$BIN/swarmheald" --endpoints "$EP" --docker-host "$sock1" --prefix "$1" --metrics-addr '' 2>"$2" &
	daemon=$!
	pids+=($daemon)
	for _ in $(seq 100); do grep -q 'msg="leading"' "$2" && return 0; sleep 0.1; done
	die "swarmheald did not lead within 10 s"
}
stop_daemon() { kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; }
# every agent's node monitored: the drain state of each says so
wait_monitored() { # PREFIX
	local i
	for i in 1 2 3; do
		for _ in $(seq 100); do
			ectl get "$1/drain/state/${ids[$i]}" --print-value-only | grep -q '"monitor":"monitored"' && break
			sleep 0.1
		done
		ectl get "$1/drain/state/${ids[$i]}" --print-value-only | grep -q '"monitor":"monitored"' ||
			die "node $i not monitored within 10 s"
	done
}
wait_ready_active() {
	for _ in $(seq 300); do
		n=$(docker -H "$sock1" node ls --format '{{.Status}} {{.Availability}}' | grep -c 'Ready Active' || true)
		[ "$n" = 3 ] && return 0
		sleep 0.1
	done
	die "the lab did not have 3 Ready and Active nodes within 30 s"
}

# ---- host deaths: a fresh prefix, agents and swarmheald each run, node 3's host killed ----
drains=() downs=()
for run in $(seq "$RUNS"); do
	PFX=/bench-drain-$$-$run
	for i in 1 2 3; do start_agent "$i" "$PFX"; done
	start_daemon "$PFX" "$LOGS/swarmheald-kill-$run.log"
	wait_monitored "$PFX"
	if [ "$run" = 1 ]; then # idle: 10 s with nothing to do
		ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
		t0=$(ticks $daemon)
		sleep 10
		t1=$(ticks $daemon)
		hz=$(getconf CLK_TCK)
		rss=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)
		idle_cpu=$(echo "scale=2; ($t1 - $t0) * 100 / $hz / 10" | bc)
	fi
	start=$(date +%s%N)
	stop_agent 3 KILL
	"$LAB" kill 3
	drained="" down=""
	while [ -z "$drained" ] || [ -z "$down" ]; do
		now=$(date +%s%N)
		out=$(docker -H "$sock1" node inspect "${ids[3]}" --format '{{.Spec.Availability}} {{.Status.State}}')
		[ -z "$drained" ] && [ "${out%% *}" = drain ] && drained=$now
		[ -z "$down" ] && [ "${out##* }" = down ] && down=$now
		[ $(((now - start) / 1000000000)) -gt 60 ] && break
		sleep 0.05
	done
	# a drain or a Down that never came is a failed run, not a figure
	[ -n "$drained" ] || die "run $run: swarmheal did not drain the killed worker within 60 s"
	[ -n "$down" ] || die "run $run: Swarm did not mark the killed worker Down within 60 s"
	kill -0 "$daemon" 2>/dev/null || die "run $run: swarmheald exited during the run"
	d=$(echo "scale=2; ($drained - $start) / 1000000000" | bc)
	w=$(echo "scale=2; ($down - $start) / 1000000000" | bc)
	why=$(ectl get --prefix "$PFX/actions/" --print-value-only | grep '"kind":"drain"' |
		grep -o '"reason":"[^"]*"' | head -1 || true)
	echo "  run $run: drained after $d s, Down after $w s; $why"
	drains+=("$d")
	downs+=("$w")
	stop_daemon
	for i in 1 2; do stop_agent "$i" TERM; done
	"$LAB" start 3 >/dev/null
	docker -H "$sock1" node update --availability active "${ids[3]}" >/dev/null
	wait_ready_active
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
md=$(median "${drains[@]}")
mw=$(median "${downs[@]}")

# ---- non-fatal faults, one swarmheald at default flags: none of them may drain a node ----
PFX=/bench-drain-$$-faults
for i in 1 2 3; do start_agent "$i" "$PFX"; done
start_daemon "$PFX" "$LOGS/swarmheald-faults.log"
wait_monitored "$PFX"
AGENT_TTL=15 # the agent's default --ttl
settle() { sleep $((AGENT_TTL + 3)); } # longer than an agent TTL + the settle window (1.5 s) + a resync (1 s)
faults=0
# 1. node 2's dockerd frozen for 2 s
e=$(cat "${SWARMHEAL_LAB_STATE:-/tmp/swarmheal-lab}/n2/dockerd.pidf")
kill -STOP "$e"; sleep 2; kill -CONT "$e"; faults=$((faults + 1)); settle
# 2. every agent lease revoked at once
ectl get --prefix "$PFX/nodes/" -w json | grep -o '"lease":[0-9]*' | cut -d: -f2 |
	while read -r l; do printf '%x\n' "$l"; done |
	xargs -P 3 -I{} env ETCDCTL_API=3 etcdctl --endpoints="$EP" lease revoke {} >/dev/null
faults=$((faults + 1)); settle
# 3. node 3's agent stopped on purpose (SIGTERM: the stop mark), then started again
stop_agent 3 TERM; faults=$((faults + 1)); settle
start_agent 3 "$PFX"; wait_monitored "$PFX"
# 4. node 2's agent SIGKILLed on a live node (no mark, the node answers), then started again
stop_agent 2 KILL; faults=$((faults + 1)); settle
start_agent 2 "$PFX"; wait_monitored "$PFX"
# 5. node 3's port 7946 silent for 5 s while its agent lives (a firewall rule on the node): challenged, answered
rule="INPUT -p tcp --dport 7946 -j DROP"
ip netns exec shlab-n3 iptables -I $rule
sleep 5
ip netns exec shlab-n3 iptables -D $rule
faults=$((faults + 1)); sleep 3
kill -0 "$daemon" 2>/dev/null || die "swarmheald exited during the faults"
false_drains=$(ectl get --prefix "$PFX/actions/" --print-value-only | grep -c '"kind":"drain"' || true)
active=$(docker -H "$sock1" node ls --format '{{.Availability}}' | grep -c Active || true)

echo "worker host killed (agent TTL $AGENT_TTL s, default flags), median of $RUNS runs:"
echo "  drained by swarmheal after  $md s   (goal: 2.0 s; runs: ${drains[*]})"
echo "  marked Down by Swarm after  $mw s   (runs: ${downs[*]})"
echo "  ratio swarmheal/Swarm       $(echo "scale=2; $md / $mw" | bc)"
answered=$(grep -c 'msg="challenge answered"' "$LOGS/swarmheald-faults.log" || true)
slowest=$(grep -F 'msg="challenge answered"' "$LOGS/swarmheald-faults.log" | grep -o ' seen_after_ms=[0-9]*' | cut -d= -f2 |
	sort -n | tail -1)
echo "false drains over $faults non-fatal faults (dockerd frozen 2 s, all leases revoked, agent SIGTERM," \
	"agent SIGKILL on a live node, port 7946 silent 5 s): $false_drains (must be 0), nodes active: $active of 3;" \
	"challenges answered: $answered (slowest seen by the controller ${slowest:-?} ms after its write)"
echo "swarmheald: resident memory ${rss} KiB (goal < 10 MiB), idle CPU ${idle_cpu}% over 10 s"
[ "$false_drains" = 0 ] && [ "$active" = 3 ] || die "$false_drains false drains, $active of 3 nodes active"
