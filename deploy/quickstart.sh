#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# quickstart.sh - install, build, start a local etcd (and a private swarm engine if needed), run, show status
#
#   deploy/quickstart.sh          start what is not running yet (a second run reuses the rest), show status
#   deploy/quickstart.sh --stop   stop everything it started and remove its state
#
# State (pid files, logs, etcd data, a private engine) lives in SWARMHEAL_QUICKSTART_STATE
# (default /tmp/swarmheal-quickstart). To run swarmheal as containers beside etcd on a real
# swarm, see the README section "Deploying" (deploy/Dockerfile, deploy/stack.yml).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SWARMHEAL_QUICKSTART_STATE:-/tmp/swarmheal-quickstart}
. "$ROOT/tests/lib.sh"

if [ "${1:-}" = --stop ]; then
	sh_cleanup_dir "$STATE"
	sh_log "stopped the agent, swarmheald, etcd and the private engine; removed $STATE"
	exit 0
fi
[ $# = 0 ] || { echo "usage: quickstart.sh [--stop]" >&2; exit 64; }

sh "$ROOT/deploy/install-deps.sh"
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build" -j "$(nproc)" >/dev/null
BIN="$ROOT/build/bin"
mkdir -p "$STATE"

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }
etcd_ok() { curl -fsS -m 2 -X POST -d '{}' "$1/v3/maintenance/status" >/dev/null 2>&1; }

# a local etcd of our own: reused while it answers; else started afresh (its data too)
if alive etcd && [ -s "$STATE/endpoints" ] && etcd_ok "$(cat "$STATE/endpoints")"; then
	export SWARMHEAL_ENDPOINTS=$(cat "$STATE/endpoints")
	sh_log "etcd: $SWARMHEAL_ENDPOINTS (already running, pid $(cat "$STATE/etcd.pid"))"
else
	sh_kill_pidfile "$STATE/etcd.pid"
	rm -rf "$STATE/etcd-data"
	PORT=$(sh_free_port)
	sh_start_etcd "$STATE" "$PORT"
	export SWARMHEAL_ENDPOINTS="http://127.0.0.1:$PORT"
	echo "$SWARMHEAL_ENDPOINTS" >"$STATE/endpoints"
	sh_log "etcd: $SWARMHEAL_ENDPOINTS (started; data in $STATE/etcd-data)"
fi

# a swarm manager: the one an earlier run chose if it still answers, else DOCKER_HOST or the
# machine's engine if it is one, else a private single-node swarm engine
manager_ok() { docker -H "$1" info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null | grep -q true; }
DRY=""
if [ -s "$STATE/docker_host" ] && manager_ok "$(cat "$STATE/docker_host")"; then
	DH=$(cat "$STATE/docker_host")
	[ -f "$STATE/dry_run" ] && DRY="--dry-run"
	sh_log "swarm manager: $DH (already chosen${DRY:+; swarmheald runs with --dry-run there})"
else
	DH=${DOCKER_HOST:-unix:///var/run/docker.sock}
	rm -f "$STATE/dry_run"
	if manager_ok "$DH"; then
		sh_log "using the swarm manager at $DH (swarmheald runs with --dry-run there: it records, never drains)"
		DRY="--dry-run"
		touch "$STATE/dry_run"
	else
		sh_log "no swarm manager at $DH: starting a private single-node swarm engine"
		sh_kill_pidfile "$STATE/dockerd.pid"
		sh_start_dockerd "$STATE"
		DH="unix://$STATE/docker.sock"
	fi
	echo "$DH" >"$STATE/docker_host"
	# a new engine or etcd: the programs that used the old ones start again
	sh_kill_pidfile "$STATE/agent.pid"
	sh_kill_pidfile "$STATE/swarmheald.pid"
fi
export DOCKER_HOST=$DH

# what exists so far: an election, held by a command, observed from outside
sh_log "arbiter-elect: one leader runs a job; a second contender waits"
"$BIN/arbiter-elect" --ttl 5s quickstart -- sh -c 'echo "leader: $ARBITER_KEY (fencing token $ARBITER_REVISION)"; sleep 3' &
first=$!
sleep 0.5
"$BIN/arbiter-elect" --ttl 5s quickstart -- sh -c 'echo "next leader: $ARBITER_KEY (fencing token $ARBITER_REVISION)"' &
second=$!
"$BIN/arbiter-elect" --leader quickstart | sed 's/^/current leader: /'
wait "$first" "$second"

# the node agent and swarmheald with every controller built, in the background; a program that
# runs is kept unless the build just replaced its binary or its etcd is new
started_for() { [ -f "$STATE/$1.endpoints" ] && [ "$(cat "$STATE/$1.endpoints")" = "$SWARMHEAL_ENDPOINTS" ]; }
keep() { alive "$1" && started_for "$1" && [ ! "$BIN/$2" -nt "$STATE/$1.pid" ]; }
if keep agent swarmheal-agent; then
	sh_log "swarmheal-agent: already running (pid $(cat "$STATE/agent.pid"))"
else
	sh_kill_pidfile "$STATE/agent.pid"
	"$BIN/swarmheal-agent" --docker-host "$DOCKER_HOST" >>"$STATE/agent.log" 2>&1 &
	echo $! >"$STATE/agent.pid"
	echo "$SWARMHEAL_ENDPOINTS" >"$STATE/agent.endpoints"
	sh_log "swarmheal-agent: started (pid $!)"
fi
CONTROLLERS=$("$BIN/swarmheald" --help | sed -n 's/.*(built: \([^)]*\)).*/\1/p')
if keep swarmheald swarmheald && [ -s "$STATE/metrics" ]; then
	METRICS=$(cat "$STATE/metrics")
	sh_log "swarmheald: already running (pid $(cat "$STATE/swarmheald.pid"), metrics on $METRICS)"
else
	sh_kill_pidfile "$STATE/swarmheald.pid"
	METRICS=127.0.0.1:$(sh_free_port)
	"$BIN/swarmheald" --controllers "$CONTROLLERS" --docker-host "$DOCKER_HOST" --metrics-addr "$METRICS" \
		$DRY >>"$STATE/swarmheald.log" 2>&1 &
	echo $! >"$STATE/swarmheald.pid"
	echo "$METRICS" >"$STATE/metrics"
	echo "$SWARMHEAL_ENDPOINTS" >"$STATE/swarmheald.endpoints"
	sh_log "swarmheald: started (pid $!, controllers $CONTROLLERS${DRY:+, --dry-run}, metrics on $METRICS)"
	sh_wait_for 10 curl -sf "http://$METRICS/readyz" || true
	sleep 2
fi

echo
if [ -x "$BIN/swarmhealctl" ]; then
	"$BIN/swarmhealctl" get status || true
else
	echo "status:"
	echo "  etcd      $SWARMHEAL_ENDPOINTS  $(curl -s -X POST -d '{}' "$SWARMHEAL_ENDPOINTS/v3/maintenance/status" | sed -n 's/.*"version":"\([^"]*\)".*/version \1/p')"
	echo "  swarm     $DOCKER_HOST  $(docker info --format 'node {{.Swarm.NodeID}} state {{.Swarm.LocalNodeState}} manager {{.Swarm.ControlAvailable}}')"
	echo "  elections $("$BIN/arbiter-elect" --leader quickstart >/dev/null 2>&1 && echo 'quickstart: held' || echo 'quickstart: no leader (all resigned)')"
	for c in ${CONTROLLERS//,/ }; do
		echo "            controller.$c: $("$BIN/arbiter-elect" --leader "controller.$c" 2>/dev/null || echo 'no leader')"
	done
	echo "  heartbeats"
	curl -s -X POST -d "{\"key\":\"$(printf /swarmheal/nodes/ | base64)\",\"range_end\":\"$(printf /swarmheal/nodes0 | base64)\"}" \
		"$SWARMHEAL_ENDPOINTS/v3/kv/range" | grep -o '"value":"[^"]*"' | cut -d'"' -f4 | base64 -d 2>/dev/null | sed 's/^/    /; s/}/}\n/g' | sed '/^$/d'
	echo "  metrics   http://$METRICS/metrics: $(curl -s "http://$METRICS/metrics" | grep -E '^swarmheal_(leader|reconciles_total)[{ ]' | tr '\n' ' ')"
fi
echo "  logs      $STATE/agent.log $STATE/swarmheald.log"
echo
echo "etcd, the engine, the agent and swarmheald keep running (a second run reuses them); stop them all with:"
echo "  $ROOT/deploy/quickstart.sh --stop"
