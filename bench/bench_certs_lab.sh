#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_certs_lab.sh - in the lab: seconds from a certificate entering its renewal window to the service's task
# running with the new one (swarmheald's certs controller, certificates delivered as versioned Swarm secrets),
# against the scripted manual sequence on the same service (docker secret create x3, docker service update
# --secret-rm/--secret-add, docker secret rm x3; the certificate issued beforehand). ROUNDS (default 5) of each;
# the measurement is the bench case of tests/integration/test_certs_lab.c. Needs ROOT and EP (bench/run.sh).
set -euo pipefail
LAB="$ROOT/tests/lab/lab.sh"
T="$ROOT/build/bin/integration_test_certs_lab"
[ -x "$T" ] || { echo "bench_certs_lab: $T is not built (CUnit missing?)" >&2; exit 1; }
"$LAB" up 3 >/dev/null
trap '"$LAB" down >/dev/null' EXIT
OUT=${STATE:-/tmp}/bench-certs-lab.out
st=0
SWARMHEAL_LAB="$LAB" SWARMHEAL_TEST_ENDPOINTS="$EP" SWARMHEAL_BIN="$ROOT/build/bin" SWARMHEAL_SRC="$ROOT" \
	SWARMHEAL_TEST_STRICT=1 SWARMHEAL_CERTS_BENCH="${ROUNDS:-5}" "$T" >"$OUT" 2>&1 || st=$?
if [ "$st" != 0 ]; then
	cat "$OUT" >&2
	echo "bench_certs_lab: the measurement failed (exit $st)" >&2
	exit 1
fi
grep -E '^(renewal of|  (swarmheal|by hand|\(by hand)|    (of which|the same))' "$OUT"
