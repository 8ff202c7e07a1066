#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lab.sh - several real Swarm nodes on one machine (one dockerd per network namespace) and the tools to hurt them
#
#   lab.sh up N [--managers M]   start N nodes (node 1 manager; M managers if given), swarm formed, image imported
#   lab.sh down                  stop and remove everything (also what a killed run left)
#   lab.sh sock I                print node I's engine socket (unix://...)
#   lab.sh id I                  print node I's swarm node ID
#   lab.sh kill I                a host's death: SIGKILL its engine, containerd and every task container
#   lab.sh stop I | start I      stop / start only node I's engine
#   lab.sh cut I | heal I        cut / heal node I's link (partition)
#   lab.sh zone I NAME           label node I with zone=NAME
#   lab.sh status                nodes as the first manager sees them
#   lab.sh hold CMD [ARG...]     run CMD holding the lab's lock the whole time (what tests/run.sh does)
#
# One user at a time: every command that changes the lab takes the lock /run/lock/swarmheal-lab.lock
# (SWARMHEAL_LAB_LOCK) and fails at once while someone else holds it (SWARMHEAL_LAB_LOCK_WAIT=SECONDS
# to wait instead). A whole session - tests/run.sh, a bench, `lab.sh hold bash` - holds it from start
# to end, and the lab.sh commands it runs (SWARMHEAL_LAB_LOCKED set) use that lock; so nobody can
# tear a lab down, or bring up their own over it, while another run is using it.
#
# Addresses: bridge shlab0 10.213.57.1/24, node I 10.213.57.(10+I), in namespaces this script
# creates; no default route (pulls fail at once). Never touches the machine's own engine.
set -euo pipefail
STATE=${SWARMHEAL_LAB_STATE:-/tmp/swarmheal-lab}
BR=shlab0
NET=10.213.57
IMAGE=swarmheal-test-busybox
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"

ns() { echo "shlab-n$1"; }
veth() { echo "shl-n$1"; }
ndir() { echo "$STATE/n$1"; }
sock() { echo "unix://$(ndir "$1")/docker.sock"; }
dk() { local i=$1; shift; docker -H "$(sock "$i")" "$@"; }
nodes() { ls -d "$STATE"/n* 2>/dev/null | sed 's|.*/n||' | sort -n; }
die() { echo "lab: $*" >&2; exit 1; }


# every pid of node I: its namespace and its cgroup (task containers sit in their own netns)
node_pids() {
	local i=$1 f
	ip netns pids "$(ns "$i")" 2>/dev/null || true
	for f in /sys/fs/cgroup/*/"$(ns "$i")" /sys/fs/cgroup/unified/"$(ns "$i")"; do
		[ -d "$f" ] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
	done
	[ -f "$(ndir "$i")/dockerd.pid" ] && cat "$(ndir "$i")/dockerd.pid"
	# containerd and shims started by this node's engine
	pgrep -f -- "$(ndir "$i")/(exec|data)" 2>/dev/null || true
}

kill_node() {
	local i=$1 p round
	for round in 1 2 3; do
		for p in $(node_pids "$i" | sort -u); do
			[ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null || true
		done
		sleep 0.2
	done
	rm -f "$(ndir "$i")/dockerd.pid"
}

start_engine() {
	local i=$1 d
	d=$(ndir "$i")
	mkdir -p "$d/data" "$d/exec"
	# what a killed engine left: its containerd's pid file and socket make the next start wait
	if [ ! -f "$d/dockerd.pid" ] || ! kill -0 "$(cat "$d/dockerd.pid")" 2>/dev/null; then
		kill_node "$i"
		rm -f "$d/exec/containerd/containerd.pid" "$d/exec/containerd/"*.sock* "$d/dockerd.pidf"
	fi
	rm -f "$d/docker.sock"
	nsenter --net="/var/run/netns/$(ns "$i")" unshare --uts sh -c 'hostname "$0" && exec "$@"' "lab-n$i" dockerd \
		--data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pidf" \
		-H "$(sock "$i")" --bip "172.30.$i.1/24" --iptables=false --ip-masq=false \
		--cgroup-parent "$(ns "$i")" --userland-proxy=false \
		>>"$d/dockerd.log" 2>&1 9>&- &
	echo $! >"$d/dockerd.pid"
	sh_wait_for 30 docker -H "$(sock "$i")" version || {
		tail -5 "$d/dockerd.log" >&2
		die "engine of node $i did not start"
	}
}

cmd_down() {
	local i m
	for i in $(nodes); do kill_node "$i"; done
	# stale namespaces and links even without a state dir
	for m in $(ip netns list 2>/dev/null | awk '/^shlab-n/ {print $1}'); do
		for p in $(ip netns pids "$m" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		ip netns del "$m" 2>/dev/null || true
	done
	for m in $(ip -o link show 2>/dev/null | awk -F': ' '/ shl-n[0-9]+/ {sub(/@.*/, "", $2); print $2}'); do
		ip link del "$m" 2>/dev/null || true
	done
	ip link del "$BR" 2>/dev/null || true
	while iptables -D FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null; do :; done
	for m in $(awk -v d="$STATE/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	for m in /sys/fs/cgroup/*/shlab-n*; do
		[ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
	rm -rf "$STATE"
}

cmd_up() {
	local n=${1:-3} managers=1
	[ "${2:-}" = --managers ] && managers=${3:-3}
	[ "$n" -ge 1 ] && [ "$n" -le 9 ] || die "node count must be 1..9"
	[ "$managers" -le "$n" ] || die "more managers than nodes"
	cmd_down
	mkdir -p "$STATE"
	ip link add "$BR" type bridge
	ip addr add "$NET.1/24" dev "$BR"
	ip link set "$BR" up
	iptables -I FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null || true
	local i
	for i in $(seq "$n"); do
		mkdir -p "$(ndir "$i")"
		ip netns add "$(ns "$i")"
		ip link add "$(veth "$i")" type veth peer name eth0 netns "$(ns "$i")"
		ip link set "$(veth "$i")" master "$BR" up
		ip -n "$(ns "$i")" addr add "$NET.$((10 + i))/24" dev eth0
		ip -n "$(ns "$i")" link set eth0 up
		ip -n "$(ns "$i")" link set lo up
		start_engine "$i"
	done
	for i in $(seq "$n"); do sh_busybox_image "$(ndir "$i")/docker.sock" "$IMAGE"; done
	dk 1 swarm init --advertise-addr "$NET.11" --listen-addr "$NET.11:2377" >/dev/null
	local wtok mtok
	wtok=$(dk 1 swarm join-token -q worker)
	mtok=$(dk 1 swarm join-token -q manager)
	for i in $(seq 2 "$n"); do
		local tok=$wtok
		[ "$i" -le "$managers" ] && tok=$mtok
		dk "$i" swarm join --token "$tok" --advertise-addr "$NET.$((10 + i))" \
			--listen-addr "$NET.$((10 + i)):2377" "$NET.11:2377" >/dev/null
	done
	sh_wait_for 60 sh -c "[ \$(docker -H $(sock 1) node ls --format '{{.Status}}' | grep -c Ready) -eq $n ]" ||
		die "not every node became Ready"
	for i in $(seq "$n"); do dk 1 node update --label-add "lab-node=$i" "$(cmd_id "$i")" >/dev/null; done
	echo "lab: $n nodes up ($managers manager(s)); node 1: $(sock 1)" >&2
}

cmd_id() { dk "$1" info --format '{{.Swarm.NodeID}}'; }

need_node() { [ -d "$(ndir "${1:-x}")" ] || die "no node '${1:-}' (see: lab.sh status)"; }

# a manager that answers, for commands about the swarm
any_manager() {
	local i
	for i in $(nodes); do
		if dk "$i" info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null | grep -q true; then
			echo "$i"
			return
		fi
	done
	die "no manager answers"
}

case "${1:-}" in
up | down | kill | stop | start | cut | heal | zone) sh_lab_lock "lab.sh $*" || exit 1 ;;
esac

case "${1:-}" in
hold) shift; [ $# -gt 0 ] || die "hold needs a command"
	sh_lab_lock "lab.sh hold $*" || exit 1; "$@" ;;
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
sock) need_node "${2:-}"; sock "$2" ;;
id) need_node "${2:-}"; cmd_id "$2" ;;
kill) need_node "${2:-}"; kill_node "$2" ;;
stop) need_node "${2:-}"; sh_kill_pidfile "$(ndir "$2")/dockerd.pid" ;;
start) need_node "${2:-}"; start_engine "$2" ;;
cut) need_node "${2:-}"; ip link set "$(veth "$2")" down ;;
heal) need_node "${2:-}"; ip link set "$(veth "$2")" up ;;
zone) need_node "${2:-}"; [ -n "${3:-}" ] || die "zone needs a NAME"
	m=$(any_manager); dk "$m" node update --label-add "zone=$3" "$(cmd_id "$2")" >/dev/null ;;
status) m=$(any_manager); dk "$m" node ls ;;
*) sed -n '3,23p' "$0" | sed 's/^# \{0,1\}//'; exit 64 ;;
esac
