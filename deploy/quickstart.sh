#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# quickstart.sh - install, build, start a local etcd (and a private swarm engine if needed), run, show status
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SWARMHEAL_QUICKSTART_STATE:-/tmp/swarmheal-quickstart}
. "$ROOT/tests/lib.sh"

sh "$ROOT/deploy/install-deps.sh"
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build" -j "$(nproc)" >/dev/null
BIN="$ROOT/build/bin"

# a local etcd of our own (stopped and restarted on every run)
sh_cleanup_dir "$STATE"
mkdir -p "$STATE"
PORT=$(sh_free_port)
sh_start_etcd "$STATE" "$PORT"
export SWARMHEAL_ENDPOINTS="http://127.0.0.1:$PORT"
sh_log "etcd: $SWARMHEAL_ENDPOINTS (data in $STATE)"

# a swarm manager: DOCKER_HOST or the machine's engine if it is one, else a private engine
manager_ok() { docker -H "$1" info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null | grep -q true; }
DH=${DOCKER_HOST:-unix:///var/run/docker.sock}
DRY=""
if manager_ok "$DH"; then
	sh_log "using the swarm manager at $DH (swarmheald runs with --dry-run there: it records, never drains)"
	DRY="--dry-run"
else
	sh_log "no swarm manager at $DH: starting a private single-node swarm engine"
	sh_start_dockerd "$STATE"
	DH="unix://$STATE/docker.sock"
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

# the node agent and the drain controller, in the background
sh_log "starting swarmheal-agent and swarmheald (drain controller)"
"$BIN/swarmheal-agent" --docker-host "$DOCKER_HOST" >"$STATE/agent.log" 2>&1 &
echo $! >"$STATE/agent.pid"
METRICS=127.0.0.1:$(sh_free_port)
"$BIN/swarmheald" --docker-host "$DOCKER_HOST" --metrics-addr "$METRICS" $DRY >"$STATE/swarmheald.log" 2>&1 &
echo $! >"$STATE/swarmheald.pid"
sh_wait_for 10 curl -sf "http://$METRICS/readyz" || true
sleep 2

echo
echo "status:"
echo "  etcd      $SWARMHEAL_ENDPOINTS  $(curl -s -X POST -d '{}' "$SWARMHEAL_ENDPOINTS/v3/maintenance/status" | sed -n 's/.*"version":"\([^"]*\)".*/version \1/p')"
echo "  swarm     $DOCKER_HOST  $(docker info --format 'node {{.Swarm.NodeID}} state {{.Swarm.LocalNodeState}} manager {{.Swarm.ControlAvailable}}')"
echo "  elections $("$BIN/arbiter-elect" --leader quickstart >/dev/null 2>&1 && echo 'quickstart: held' || echo 'quickstart: no leader (all resigned)')"
echo "            controller.drain: $("$BIN/arbiter-elect" --leader controller.drain 2>/dev/null || echo 'no leader')"
echo "  heartbeats"
curl -s -X POST -d "{\"key\":\"$(printf /swarmheal/nodes/ | base64)\",\"range_end\":\"$(printf /swarmheal/nodes0 | base64)\"}" \
	"$SWARMHEAL_ENDPOINTS/v3/kv/range" | grep -o '"value":"[^"]*"' | cut -d'"' -f4 | base64 -d 2>/dev/null | sed 's/^/    /; s/}/}\n/g' | sed '/^$/d'
echo "  metrics   http://$METRICS/metrics: $(curl -s "http://$METRICS/metrics" | grep -E '^swarmheal_(leader|reconciles_total) ' | tr '\n' ' ')"
echo "  logs      $STATE/agent.log $STATE/swarmheald.log"
echo
echo "etcd, the engine, the agent and swarmheald keep running; stop them all with:"
echo "  bash -c '. $ROOT/tests/lib.sh && sh_cleanup_dir $STATE'"
