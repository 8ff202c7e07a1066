#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh - build, start a private etcd (and what else a benchmark needs), print every benchmark's figures
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SWARMHEAL_BENCH_STATE:-/tmp/swarmheal-bench}
. "$ROOT/tests/lib.sh"
sh "$ROOT/deploy/install-deps.sh"
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
	case "$only" in all | "$name") echo "== $name"; bash "$b" ;; esac
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
	sh_make_certs "$STATE/certs"
	TLSPORT=$(sh_free_port)
	sh_start_etcd "$STATE/tls" "$TLSPORT" "$STATE/certs"
	echo "== bench_etcd (TLS with client certificates)"
	"$ROOT/build/bin/bench_etcd" "https://127.0.0.1:$TLSPORT" 1000 "$STATE/certs"
fi
if [ "$only" = all ] || [ "$only" = bench_retention ]; then
	echo "== bench_retention (20,000 action records, --actions-max 10000)"
	"$ROOT/build/bin/bench_retention" "$EP" 20000 10000
fi
