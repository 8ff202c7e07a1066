#!/bin/bash
# SPDX-License-Identifier: MIT
# swarmheal-healthcheck - the image's HEALTHCHECK: judge the program that runs as the container's PID 1
#
#   swarmheald       GET /healthz on SWARMHEAL_METRICS_ADDR (0.0.0.0 and [::] mean this host), 200 = healthy
#   swarmheal-agent  PID 1 is running, not stopped or a zombie. The agent's real health is its
#                    heartbeat in etcd: the drain controller watches it, probes the node when it
#                    is gone, and drains only on evidence (README "Drain rules")
#   anything else    healthy (arbiter-elect and swarmhealctl are run by people and scripts)
# Exit 0 healthy, 1 unhealthy, as Docker's HEALTHCHECK wants. bash's /dev/tcp: no curl in the image.
set -u
prog=$(tr '\0' '\n' </proc/1/cmdline 2>/dev/null | head -1)
prog=${prog##*/}
state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/1/status 2>/dev/null)
case "$state" in
T | t | Z | X | "") echo "PID 1 ($prog) is in state '${state:-gone}'"; exit 1 ;;
esac

case "$prog" in
swarmheald)
	addr=${SWARMHEAL_METRICS_ADDR-127.0.0.1:9473}
	if [ -z "$addr" ]; then echo "metrics server off (SWARMHEAL_METRICS_ADDR=''): process state only"; exit 0; fi
	host=${addr%:*} port=${addr##*:}
	case "$host" in '' | 0.0.0.0 | '*') host=127.0.0.1 ;; '[::]' | '::') host=::1 ;; esac
	host=${host#[}; host=${host%]}
	line=$(timeout 2 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n" "$0" >&3
		head -1 <&3' "$host" "$port" 2>/dev/null)
	case "$line" in
	"HTTP/1."?" 200"*) exit 0 ;;
	*) echo "GET http://$host:$port/healthz: ${line:-no answer}"; exit 1 ;;
	esac
	;;
*) exit 0 ;;
esac
