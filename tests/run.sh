#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/run.sh - install, build, start a private etcd and dockerd, run every suite through ctest
#   tests/run.sh [REGEX]   only the ctest tests matching REGEX, on the release build (no sanitizer pass)
set -euo pipefail
ONLY=${1:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SWARMHEAL_TEST_STATE:-/tmp/swarmheal-test}
. "$ROOT/tests/lib.sh"

if [ "$(id -u)" = 0 ]; then
	sh "$ROOT/deploy/install-deps.sh"
else
	sh "$ROOT/deploy/install-deps.sh" || { echo "run.sh: run as root (it starts dockerd)" >&2; exit 1; }
fi

# one run of the lab at a time: held until this script exits (tests/lab/lab.sh explains the lock)
sh_lab_lock "tests/run.sh in $ROOT"

# what an earlier run killed midway left behind
sh_cleanup_dir "$STATE"
[ -x "$ROOT/tests/lab/lab.sh" ] && "$ROOT/tests/lab/lab.sh" down >/dev/null 2>&1 || true
mkdir -p "$STATE"

cleanup() {
	local rc=$?
	[ -x "$ROOT/tests/lab/lab.sh" ] && "$ROOT/tests/lab/lab.sh" down >/dev/null 2>&1 || true
	sh_cleanup_dir "$STATE"
	exit $rc
}
trap cleanup EXIT INT TERM

JOBS=$(nproc)
sh_log "building (build/ and the sanitizer build build-asan/)"
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build" -j "$JOBS" >/dev/null
if [ -z "$ONLY" ]; then
	cmake -S "$ROOT" -B "$ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug -DSWARMHEAL_SANITIZE=ON >/dev/null
	cmake --build "$ROOT/build-asan" -j "$JOBS" >/dev/null
fi

ETCD_PORT=$(sh_free_port)
sh_log "starting etcd on 127.0.0.1:$ETCD_PORT"
sh_start_etcd "$STATE" "$ETCD_PORT"
sh_log "starting a private dockerd in swarm mode"
sh_start_dockerd "$STATE"
sh_busybox_image "$STATE/docker.sock" swarmheal-test-busybox

sh_log "bringing up the lab: a 3-node swarm in network namespaces"
"$ROOT/tests/lab/lab.sh" up 3
export SWARMHEAL_LAB="$ROOT/tests/lab/lab.sh"

export SWARMHEAL_TEST_ENDPOINTS="http://127.0.0.1:$ETCD_PORT"
export SWARMHEAL_TEST_DOCKER_HOST="unix://$STATE/docker.sock"
export SWARMHEAL_TEST_STATE="$STATE"
# a missing or vanished service (etcd, the lab) fails a suite here instead of skipping it
export SWARMHEAL_TEST_STRICT=1

# suites PASS LOG ARGS...: ctest ARGS with its output shown and kept in LOG, then every suite's
# T_SUMMARY line (tmain.h) as a table; fails when ctest fails, a test ran without printing its
# summary, or ctest reports a test skipped or not run
suites() {
	local pass=$1 log=$2 st listed printed
	shift 2
	set +o pipefail
	ctest "$@" --no-tests=error --output-on-failure -V 2>&1 | tee "$log"
	st=${PIPESTATUS[0]}
	set -o pipefail
	listed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#' "$log" || true)
	# ctest -V prefixes a test's output with its number; suites that fork print their summary from
	# more than one process: count each test number once
	printed=$(grep -oE '^[0-9]+: T_SUMMARY ' "$log" | sort -u | wc -l)
	sh_log "$pass: ctest exit $st, $listed tests, assertion counts:"
	grep -E '^[0-9]+: T_SUMMARY ' "$log" | sort -u -t: -k1,1n | sed 's/^[0-9]*: T_SUMMARY //' |
		awk '{printf "    %-32s %-10s %-16s %-12s %-18s %s\n", $1, $2, $3, $4, $5, $6}' >&2
	if grep -qE '\*\*\*Skipped|Not Run|tests did not run' "$log"; then
		sh_log "$pass: ctest skipped a test (a skip is a failure here)"
		return 1
	fi
	if [ "$printed" != "$listed" ]; then
		sh_log "$pass: $listed tests ran but $printed printed their summary"
		return 1
	fi
	[ "$st" = 0 ]
}

rc=0
t0=$(date +%s)
if [ -n "$ONLY" ]; then
	sh_log "the suites matching '$ONLY' on the release build"
	suites "release build, '$ONLY'" "$STATE/ctest.log" --test-dir "$ROOT/build" -R "$ONLY" || rc=1
else
	sh_log "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		suites "sanitizer build, unit" "$STATE/ctest-asan.log" --test-dir "$ROOT/build-asan" -L unit || rc=1
	sh_log "every suite (unit, integration) on the release build"
	suites "release build, all" "$STATE/ctest.log" --test-dir "$ROOT/build" || rc=1
fi
sh_log "suites took $(( $(date +%s) - t0 )) s"
if [ $rc = 0 ]; then sh_log "all suites passed"; else sh_log "some suites failed"; fi
exit $rc
