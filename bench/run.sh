#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh - build, start a private etcd (and what else a benchmark needs), print every benchmark's figures
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SWARMHEAL_BENCH_STATE:-/tmp/swarmheal-bench}
. "$ROOT/tests/lib.sh"
sh "$ROOT/deploy/install-deps.sh"
# bench_drain_lab.sh brings the lab up and down: hold its lock for the whole run (tests/lab/lab.sh)
sh_lab_lock "bench/run.sh in $ROOT"
# sh_cleanup_dir stops what was recorded at any depth, the TLS etcd's $STATE/tls/etcd.pid too
sh_cleanup_dir "$STATE"
mkdir -p "$STATE"
trap 'sh_cleanup_dir "$STATE"' EXIT INT TERM
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build" -j "$(nproc)" >/dev/null
PORT=$(sh_free_port)
sh_start_etcd "$STATE" "$PORT"
EP="http://127.0.0.1:$PORT"
only=${1:-all}
export ROOT STATE EP
for b in "$ROOT"/bench/bench_*.sh; do
	[ -e "$b" ] || continue
	name=$(basename "$b" .sh)
	case "$only" in all | "$name") echo "== $name"; bash "$b" || { echo "bench/run.sh: $name failed" >&2; exit 1; } ;; esac
done
if [ "$only" = all ] || [ "$only" = bench_drain ]; then
	echo "== bench_drain"
	"$ROOT/build/bin/bench_drain" 5000 20000
fi
if [ "$only" = all ] || [ "$only" = bench_certs ]; then
	echo "== bench_certs"
	"$ROOT/build/bin/bench_certs" 1000 "$STATE"
fi
if [ "$only" = all ] || [ "$only" = bench_etcd ]; then
	echo "== bench_etcd (plain HTTP)"
	"$ROOT/build/bin/bench_etcd" "$EP" 1000
	# the same etcd seen by curl's own CLI: time from the connection being up to the first byte of
	# the answer, i.e. what the gateway itself costs a request (no client library in the way)
	echo "== curl CLI on the same etcd (plain HTTP), median of 200 serializable range requests"
	for _ in $(seq 200); do
		curl -sS -o /dev/null -w '%{time_connect} %{time_starttransfer} %{time_total}\n' -X POST \
			-d '{"key":"L2JlbmNo","serializable":true}' "$EP/v3/kv/range" ||
			{ echo "bench/run.sh: a curl request to $EP failed" >&2; exit 1; }
	done >"$STATE/curl.times"
	med() { sort -n | awk '{a[NR] = $1} END {printf "%.3f", a[int((NR + 1) / 2)]}'; }
	printf '  server time (connected -> first byte) %s ms, whole request %s ms\n' \
		"$(awk '{print ($2 - $1) * 1000}' "$STATE/curl.times" | med)" "$(awk '{print $3 * 1000}' "$STATE/curl.times" | med)"
	sh_make_certs "$STATE/certs"
	TLSPORT=$(sh_free_port)
	sh_start_etcd "$STATE/tls" "$TLSPORT" "$STATE/certs"
	echo "== bench_etcd (TLS with client certificates)"
	"$ROOT/build/bin/bench_etcd" "https://127.0.0.1:$TLSPORT" 1000 "$STATE/certs"
fi
if [ "$only" = all ] || [ "$only" = bench_lease_ttl ]; then
	# the drain's second signal: how soon a dead agent's lease shows a missed keepalive, against its expiry
	echo "== bench_lease_ttl (10 deaths of a TTL 3 s session)"
	"$ROOT/build/bin/bench_lease_ttl" "$EP" 10 3
fi
if [ "$only" = all ] || [ "$only" = bench_retention ]; then
	echo "== bench_retention (20,000 action records, --actions-max 10000)"
	"$ROOT/build/bin/bench_retention" "$EP" 20000 10000
fi
if [ "$only" = all ] || [ "$only" = bench_failover ]; then
	# its own 3-member etcd: 20 kills of the leader, 100 sessions at ttl 3 s, 10 s of CPU
	echo "== bench_failover"
	"$ROOT/build/bin/bench_failover" "${FAILOVER_TRIALS:-20}" 100 10
fi
