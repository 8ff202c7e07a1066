#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_deploy_lab.sh - the image built for real, the stack deployed onto the lab swarm, then hurt
#
# 1. base images made with mmdebstrap (cached in /var/cache/swarmheal-test) and imported into the
#    build engine (SWARMHEAL_TEST_DOCKER_HOST: in the root namespace, it reaches the Debian mirror);
#    deploy/Dockerfile and deploy/Dockerfile.etcd built with --pull=false --network host
# 2. both images saved and loaded into every lab engine (the lab has no route anywhere)
# 3. deploy/stack.yml deployed on the lab (etcd on node 1, swarmheald x2 on the manager, the agent
#    global), every node's heartbeat in the stack's etcd, a drain leader, swarmheald healthy
# 4. node 3's host killed: swarmheal, running as Swarm services, drains it (kill-to-drain timed)
# 5. node 3's host back: restored (its agent ran as a Swarm task, cannot run while drained)
# 6. the swarmheald replica that leads is killed (SIGKILL): the other takes over within the TTL
# Run by ctest under tests/run.sh (label integration). Without a lab it skips (77), unless
# SWARMHEAL_TEST_STRICT=1 (run.sh, CI): then, as for anything else missing, it fails.
# Prints the T_SUMMARY line run.sh collects: tests = the phases above, asserts = the checks.
set -uo pipefail
SRC=${SWARMHEAL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${SWARMHEAL_BIN:-$SRC/build/bin}
LAB=${SWARMHEAL_LAB:-}
BUILD_HOST=${SWARMHEAL_TEST_DOCKER_HOST:-}
STACK=shdeploy
IMG=swarmheal:e2e
ETCD_IMG=swarmheal-etcd:e2e
TTL=3                  # swarmheald's leadership lease (s)
RESTORE_AFTER=5        # --restore-after (s)
AGENT_TTL=15           # the agent's default heartbeat lease (s)
NET=10.213.57          # lab.sh's addresses: node I at NET.(10+I)
ETCD_EP="http://$NET.11:2379"
FAILS=0 ASSERTS=0 PHASES=0 FAILED_PHASES=0 PHASE_FAILED=0
START=$SECONDS

log() { printf '%s test_deploy_lab: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); ASSERTS=$((ASSERTS + 1)); PHASE_FAILED=1; }
die() { fail "$*"; finish; }
ok() { ASSERTS=$((ASSERTS + 1)); }
# phase NAME: a new phase (a "test" in T_SUMMARY); the one before it counted
phase() {
	[ "$PHASES" -gt 0 ] && [ "$PHASE_FAILED" = 1 ] && FAILED_PHASES=$((FAILED_PHASES + 1))
	PHASES=$((PHASES + 1)) PHASE_FAILED=0
	log "phase $PHASES: $*"
}
measured() { ok; log "measured: $*"; echo "measured: $*" >>"$WORK/measured"; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc | sed 's/^\./0./; s/\(\.[0-9][0-9]\)[0-9]*$/\1/'; }

# wait_until SECONDS CMD...: CMD every 0.1 s until it succeeds (0) or time is up (1)
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}

if [ -z "$LAB" ]; then
	if [ "${SWARMHEAL_TEST_STRICT:-0}" = 1 ]; then
		echo "deploy_lab: failed: no lab (SWARMHEAL_LAB) (SWARMHEAL_TEST_STRICT=1: a missing service is a failure)" >&2
		echo "T_SUMMARY suite=deploy_lab tests=1 failed_tests=1 asserts=1 failed_asserts=1 seconds=0.0" >&2
		exit 1
	fi
	echo "no lab (tests/run.sh brings it up and sets SWARMHEAL_LAB): skipped" >&2
	exit 77
fi
WORK=${SWARMHEAL_TEST_STATE:-/tmp}/deploy-lab
rm -rf "$WORK"
mkdir -p "$WORK"

dk() { local i=$1; shift; docker -H "$("$LAB" sock "$i")" "$@"; }

etcd_get_prefix() { # PREFIX: the values (decoded) of every key under PREFIX, one a line
	local k e
	k=$(printf '%s' "$1" | base64 -w0)
	e=$(printf '%s' "${1%?}$(printf '%s' "${1: -1}" | tr '/' '0')" | base64 -w0)
	curl -fsS -m 2 -X POST -d "{\"key\":\"$k\",\"range_end\":\"$e\"}" "$ETCD_EP/v3/kv/range" |
		python3 -c 'import sys, json, base64
for kv in json.load(sys.stdin).get("kvs", []):
    print(base64.b64decode(kv["value"]).decode())'
}

cleanup() {
	[ -n "${KEEP:-}" ] && return
	dk 1 stack rm "$STACK" >/dev/null 2>&1
	local i
	for i in 1 2 3; do
		wait_until 30 sh -c "[ -z \"\$(docker -H $("$LAB" sock $i 2>/dev/null) ps -q --filter label=com.docker.stack.namespace=$STACK)\" ]"
	done
	dk 1 volume rm "${STACK}_etcd-data" >/dev/null 2>&1
	for i in 1 2 3; do
		dk 1 node update --availability active --label-rm swarmheal.etcd --label-rm zone "$("$LAB" id $i)" >/dev/null 2>&1
		rm -f "$LABDIR/lab-n$i"
	done
}

# what a failure needs to be understood, before cleanup removes it
diagnose() {
	local s
	{
		echo "--- services"; dk 1 service ls
		for s in etcd swarmheald agent; do
			echo "--- service ps ${STACK}_$s"; dk 1 service ps --no-trunc "${STACK}_$s"
			echo "--- logs ${STACK}_$s (last 40)"; dk 1 service logs --timestamps --tail 40 "${STACK}_$s"
		done
		echo "--- metrics"; for s in 1 2; do curl -fsS -m 1 "http://$NET.11:947$s/metrics" | grep -E '^swarmheal_(leader|nodes)'; done
		echo "--- etcd"; etcd_get_prefix /swarmheal/
	} >"$WORK/diagnosis" 2>&1
	log "diagnosis in $WORK/diagnosis:"
	sed 's/^/    /' "$WORK/diagnosis" | tail -150 >&2
}

finish() {
	[ "$FAILS" = 0 ] || diagnose
	cleanup
	[ "$PHASE_FAILED" = 1 ] && FAILED_PHASES=$((FAILED_PHASES + 1))
	log "took $((SECONDS - START)) s"
	[ -f "$WORK/measured" ] && cat "$WORK/measured" >&2
	echo "T_SUMMARY suite=deploy_lab tests=$PHASES failed_tests=$FAILED_PHASES asserts=$ASSERTS failed_asserts=$FAILS seconds=$((SECONDS - START)).0" >&2
	if [ "$FAILS" = 0 ]; then log "passed"; exit 0; fi
	log "$FAILS failure(s)"
	exit 1
}

# ---- what the test needs: under run.sh, a missing piece fails ----
phase "what the test needs"
for t in docker curl bc python3 base64; do command -v "$t" >/dev/null || die "$t is missing"; done
[ -n "$BUILD_HOST" ] || die "SWARMHEAL_TEST_DOCKER_HOST (an engine in the root namespace, tests/run.sh starts one) is not set"
docker -H "$BUILD_HOST" version >/dev/null 2>&1 || die "the build engine at $BUILD_HOST does not answer"
for i in 1 2 3; do "$LAB" sock "$i" >/dev/null 2>&1 || die "the lab has no node $i"; done
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap, the lab)"
LABDIR=$(dirname "$("$LAB" sock 1 | sed 's|^unix://||')")
LABDIR=$(dirname "$LABDIR")
trap 'die "interrupted"' INT TERM

# ---- 1. base images (cached) and the two images ----
phase "base images and the image build"
log "base images into the build engine ($BUILD_HOST)"
t0=$(now)
DOCKER_HOST=$BUILD_HOST bash "$SRC/deploy/base-images.sh" || die "deploy/base-images.sh failed"
measured "base images ready in $(elapsed "$t0") s (made with mmdebstrap when not cached, else imported)"

log "docker build -f deploy/Dockerfile (--pull=false --network host)"
t0=$(now)
DOCKER_BUILDKIT=0 docker -H "$BUILD_HOST" build -q --pull=false --network host -f "$SRC/deploy/Dockerfile" \
	-t "$IMG" "$SRC" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "image build failed"; }
measured "swarmheal image built in $(elapsed "$t0") s (base images cached; every layer rebuilt)"
t0=$(now)
DOCKER_BUILDKIT=0 docker -H "$BUILD_HOST" build -q --pull=false --network host -f "$SRC/deploy/Dockerfile.etcd" \
	-t "$ETCD_IMG" "$SRC/deploy" >"$WORK/build-etcd.log" 2>&1 || { tail -30 "$WORK/build-etcd.log" >&2; die "etcd image build failed"; }
size=$(docker -H "$BUILD_HOST" image inspect -f '{{.Size}}' "$IMG")
base=$(docker -H "$BUILD_HOST" image inspect -f '{{.Size}}' debian:bookworm-slim)
esize=$(docker -H "$BUILD_HOST" image inspect -f '{{.Size}}' "$ETCD_IMG")
measured "etcd image built in $(elapsed "$t0") s: $((esize / 1000000)) MB, above base $(((esize - base) / 1000000)) MB"
measured "image $IMG $((size / 1000000)) MB, base debian:bookworm-slim (mmdebstrap minbase) $((base / 1000000)) MB, above base $(((size - base) / 1000000)) MB"
[ "$size" -lt 100000000 ] || fail "image is $size bytes, goal under 100 MB"
progs=$(docker -H "$BUILD_HOST" run --rm --network none --entrypoint sh "$IMG" -c 'ls /usr/local/bin | tr "\n" " "; id -u')
log "image holds: $progs"
for p in swarmheald swarmheal-agent arbiter-elect; do
	case "$progs" in *"$p "*) ;; *) fail "image lacks $p" ;; esac
done
[ -x "$BIN/swarmhealctl" ] && case "$progs" in *"swarmhealctl "*) ;; *) fail "swarmhealctl is built but not in the image" ;; esac
[ "${progs##* }" = 10001 ] || fail "the image runs as uid ${progs##* }, not 10001"
docker -H "$BUILD_HOST" run --rm --network none "$IMG" swarmheald --help >/dev/null 2>&1 ||
	fail "swarmheald --help does not run in the image (a missing library?)"

log "loading both images into every lab engine"
t0=$(now)
for i in 1 2 3; do
	docker -H "$BUILD_HOST" save "$IMG" "$ETCD_IMG" | dk "$i" load -q >/dev/null || die "docker load into lab node $i failed"
done
measured "images loaded into 3 lab engines in $(elapsed "$t0") s"

# ---- 2. the stack on the lab ----
phase "the stack deployed on the lab"
# every node's engine socket at one templated path: /LABDIR/{{.Node.Hostname}}/docker.sock
for i in 1 2 3; do
	[ "$(dk "$i" info -f '{{.Name}}')" = "lab-n$i" ] || die "node $i's hostname is not lab-n$i"
	ln -sfn "n$i" "$LABDIR/lab-n$i"
done
GID=$(stat -c %g "$LABDIR/n1/docker.sock")
dk 1 node update --label-add swarmheal.etcd=true "$("$LAB" id 1)" >/dev/null
for i in 1 2 3; do dk 1 node update --label-add "zone=z$i" "$("$LAB" id "$i")" >/dev/null; done
dk 1 stack rm "$STACK" >/dev/null 2>&1
CONTROLLERS=$("$BIN/swarmheald" --help | sed -n 's/.*(built: \([^)]*\)).*/\1/p')
# deploy REPLICAS: docker stack deploy with swarmheald's replica count
deploy() {
	DOCKER_GID=$GID SWARMHEAL_ENDPOINTS=$ETCD_EP SWARMHEAL_IMAGE=$IMG ETCD_IMAGE=$ETCD_IMG \
		SWARMHEAL_DOCKER_SOCKET="$LABDIR/{{.Node.Hostname}}/docker.sock" SWARMHEAL_TTL=${TTL}s \
		SWARMHEAL_RESTORE_AFTER=${RESTORE_AFTER}s SWARMHEAL_CONTROLLERS="$CONTROLLERS" SWARMHEALD_REPLICAS=$1 \
		dk 1 stack deploy --resolve-image never -c "$SRC/deploy/stack.yml" "$STACK" >>"$WORK/deploy.log" 2>&1 ||
		{ cat "$WORK/deploy.log" >&2; die "docker stack deploy failed"; }
}
# as the README says: etcd and the agents first, swarmheald once every node's heartbeat is in
log "docker stack deploy, swarmheald at 0 replicas (socket gid $GID)"
t0=$(now)
deploy 0
heartbeats() { [ "$(etcd_get_prefix /swarmheal/nodes/ | grep -c '"node_id"')" -ge "$1" ]; }
if ! wait_until 90 heartbeats 3; then
	dk 1 service ls >&2
	die "not every node's heartbeat reached the stack's etcd within 90 s"
fi
measured "stack deployed (etcd, agents) to 3 heartbeats in $(elapsed "$t0") s"
log "docker stack deploy, swarmheald at 2 replicas"
deploy 2
etcd_get_prefix /swarmheal/nodes/ >"$WORK/heartbeats"
grep -q '"runs_as":"swarm-task"' "$WORK/heartbeats" && ok ||
	fail "no heartbeat says runs_as swarm-task: $(head -1 "$WORK/heartbeats")"

leader_of() { curl -fsS -m 1 "http://$NET.11:947$1/metrics" 2>/dev/null | grep -Eq '^swarmheal_leader\{controller="drain"\} 1'; }
a_leader() { leader_of 1 || leader_of 2; }
wait_until 30 a_leader || die "no swarmheald replica leads the drain controller within 30 s"
healthy() {
	local c
	c=$(dk 1 ps -q --filter "label=com.docker.swarm.service.name=${STACK}_swarmheald" --filter health=healthy | wc -l)
	[ "$c" -ge 2 ]
}
wait_until 60 healthy && ok || fail "two swarmheald containers did not become healthy (HEALTHCHECK /healthz) within 60 s"
for i in 1 2 3; do
	[ -n "$(dk "$i" ps -q --filter "label=com.docker.swarm.service.name=${STACK}_agent")" ] ||
		fail "no agent task runs on node $i"
	[ "$(dk "$i" ps --filter "label=com.docker.swarm.service.name=${STACK}_agent" --format '{{.Status}}' |
		grep -c unhealthy)" = 0 ] || fail "the agent on node $i is unhealthy"
done

# ---- 3. a worker's host dies: drained by swarmheal ----
phase "a worker's host killed: drained"
ID3=$("$LAB" id 3)
avail() { [ "$(dk 1 node inspect -f '{{.Spec.Availability}}' "$ID3" 2>/dev/null)" = "$1" ]; }
avail active || die "node 3 is not active before the kill"
log "lab.sh kill 3"
t0=$(now)
"$LAB" kill 3
if wait_until 60 avail drain; then
	measured "worker host killed -> drained by swarmheal (Swarm services) in $(elapsed "$t0") s (agent TTL ${AGENT_TTL}s)"
else
	fail "node 3 was not drained within 60 s of its host's death"
fi
etcd_get_prefix "/swarmheal/drain/state/" >"$WORK/drain-state"
grep -q "\"state\":\"drained\"" "$WORK/drain-state" && ok || fail "no drained state in etcd: $(cat "$WORK/drain-state")"
swarm_down() { dk 1 node inspect -f '{{.Status.State}}' "$ID3" | grep -q down; }
wait_until 30 swarm_down && measured "Swarm marked it down $(elapsed "$t0") s after the kill"

# ---- 4. the host comes back: restored ----
phase "the host back: restored"
log "lab.sh start 3"
t0=$(now)
"$LAB" start 3 >/dev/null || die "lab.sh start 3 failed"
if wait_until 90 avail active; then
	measured "host back -> restored to active in $(elapsed "$t0") s (--restore-after ${RESTORE_AFTER}s)"
else
	fail "node 3 was not restored within 90 s of its host's return (still $(dk 1 node inspect -f '{{.Spec.Availability}}/{{.Status.State}}' "$ID3"))"
fi
hb3() { etcd_get_prefix /swarmheal/nodes/ | grep -q "\"node_id\":\"$ID3\""; }
wait_until 60 hb3 && ok || fail "node 3's agent (a global task again once active) sent no heartbeat within 60 s"

# ---- 5. the leading replica is killed: the other takes over ----
phase "the leading swarmheald killed: the other leads"
wait_until 30 a_leader || die "no swarmheald replica leads the drain controller before the failover"
if leader_of 1; then lead=1 other=2; else lead=2 other=1; fi
cid=""
for c in $(dk 1 ps -q --filter "label=com.docker.swarm.service.name=${STACK}_swarmheald"); do
	[ "$(dk 1 inspect -f '{{index .Config.Labels "com.docker.swarm.task.name"}}' "$c" | cut -d. -f2)" = "$lead" ] && cid=$c
done
[ -n "$cid" ] || die "no container of swarmheald slot $lead on node 1"
key0=$(SWARMHEAL_ENDPOINTS=$ETCD_EP "$BIN/arbiter-elect" --leader controller.drain 2>/dev/null)
log "docker kill the leading swarmheald (slot $lead, $cid; leader $key0)"
t0=$(now)
dk 1 kill "$cid" >/dev/null || die "docker kill $cid failed"
if wait_until $((TTL + 10)) leader_of "$other"; then
	measured "leading swarmheald killed -> slot $other leads in $(elapsed "$t0") s (lease TTL ${TTL}s)"
else
	fail "slot $other did not take over within TTL + 10 s"
fi
key1=$(SWARMHEAL_ENDPOINTS=$ETCD_EP "$BIN/arbiter-elect" --leader controller.drain 2>/dev/null)
[ -n "$key1" ] && [ "$key1" != "$key0" ] && ok || fail "the election key did not change ($key0 -> $key1)"
finish
