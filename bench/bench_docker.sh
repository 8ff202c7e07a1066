#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_docker.sh - dockerclient vs the docker CLI on the lab's manager (needs ROOT; brings the lab up and down)
set -euo pipefail
LAB="$ROOT/tests/lab/lab.sh"
"$LAB" up 3
trap '"$LAB" down' EXIT
"$ROOT/build/bin/bench_docker" "$("$LAB" sock 1)" "$("$LAB" id 2)" 50
