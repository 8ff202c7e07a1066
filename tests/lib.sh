# SPDX-License-Identifier: MIT
# tests/lib.sh - start and stop the private etcd and dockerd that tests and the quickstart use
# Sourced by tests/run.sh and deploy/quickstart.sh. Every process it starts records
# its pid under a state dir, so a later run can clean up what a killed run left; the
# daemons do not inherit fd 9 (the lab's lock, tests/lab/lab.sh), so they never hold it.

sh_log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# sh_free_port: print a loopback TCP port nothing listens on
# sh_free_port: a loopback port no socket uses right now, below the kernel's ephemeral range
# (ip_local_port_range), where a client connection of any process could take it before our
# server binds it (etcd once failed "bind: address already in use" that way)
sh_free_port() {
	local p lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 12000 ] 2>/dev/null || lo=32768
	while :; do
		p=$(( 10000 + RANDOM % (lo - 10000) ))
		if ! ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; then
			echo "$p"
			return
		fi
	done
}

# sh_wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds
sh_wait_for() {
	local secs=$1 i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -ge $((secs * 10)) ] && return 1
		sleep 0.1
	done
}

# sh_kill_pidfile FILE: SIGKILL the process (group) named in FILE, wait for it
sh_kill_pidfile() {
	local f=$1 pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

# sh_cleanup_dir DIR: stop everything a run recorded under DIR (pid files at any depth, e.g.
# bench/run.sh's DIR/tls/etcd.pid; not inside engine or etcd data), unmount, remove
sh_cleanup_dir() {
	local dir=$1 f m
	[ -d "$dir" ] || return 0
	while IFS= read -r f; do
		sh_kill_pidfile "$f"
	done < <(find "$dir" \( -name docker-data -o -name docker-exec -o -name etcd-data -o -name data -o -name exec \) \
		-prune -o -type f -name '*.pid' -print 2>/dev/null)
	# containerd shims and task processes started by a private dockerd
	if [ -d "$dir/docker-exec" ]; then
		pkill -KILL -f -- "$dir/docker-exec" 2>/dev/null || true
	fi
	# unmount deepest first
	for m in $(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$dir" 2>/dev/null || true
	return 0
}

# sh_lab_lock WHO: hold the lab's lock (SWARMHEAL_LAB_LOCK, default /run/lock/swarmheal-lab.lock)
# on fd 9 until this shell exits; fails at once while another run holds it (SWARMHEAL_LAB_LOCK_WAIT=
# SECONDS to wait). Exports SWARMHEAL_LAB_LOCKED, so the lab.sh commands this run starts use it.
sh_lab_lock() {
	local lock=${SWARMHEAL_LAB_LOCK:-/run/lock/swarmheal-lab.lock}
	[ "${SWARMHEAL_LAB_LOCKED:-}" = "$lock" ] && return 0
	mkdir -p "$(dirname "$lock")"
	exec 9>>"$lock"
	if ! flock -w "${SWARMHEAL_LAB_LOCK_WAIT:-0}" 9; then
		sh_log "the lab is in use by another run ($(cat "$lock" 2>/dev/null || echo '?')); lock $lock"
		return 1
	fi
	echo "pid $$ ($1) since $(date -u +%H:%M:%S)" >"$lock"
	export SWARMHEAL_LAB_LOCKED=$lock
}

# sh_start_etcd DIR PORT [CERTDIR]: etcd on 127.0.0.1:PORT with data under DIR;
# with CERTDIR (from sh_make_certs) it serves TLS and wants client certificates
sh_start_etcd() {
	local dir=$1 port=$2 certs=${3:-} peer scheme=http tls=() probe=()
	if [ -n "$certs" ]; then
		scheme=https
		tls=(--cert-file "$certs/server.pem" --key-file "$certs/server.key"
			--trusted-ca-file "$certs/ca.pem" --client-cert-auth)
		probe=(--cacert "$certs/ca.pem" --cert "$certs/client.pem" --key "$certs/client.key")
	fi
	peer=$(sh_free_port)
	while [ "$peer" = "$port" ]; do peer=$(sh_free_port); done
	mkdir -p "$dir"
	etcd --name swarmheal-test --data-dir "$dir/etcd-data" \
		--listen-client-urls "$scheme://127.0.0.1:$port" --advertise-client-urls "$scheme://127.0.0.1:$port" \
		--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "swarmheal-test=http://127.0.0.1:$peer" \
		--experimental-watch-progress-notify-interval 1s "${tls[@]}" \
		>"$dir/etcd.log" 2>&1 9>&- &
	echo $! >"$dir/etcd.pid"
	if ! sh_wait_for 20 curl -fsS -m 1 "${probe[@]}" -X POST -d '{}' "$scheme://127.0.0.1:$port/v3/maintenance/status"; then
		sh_log "etcd did not start; last lines of $dir/etcd.log:"
		tail -5 "$dir/etcd.log" >&2
		return 1
	fi
}

# sh_start_dockerd DIR: a private dockerd (own socket, data root, exec root), in swarm mode
sh_start_dockerd() {
	local dir=$1 sock swarmport
	sock="$dir/docker.sock"
	mkdir -p "$dir/docker-data" "$dir/docker-exec"
	dockerd --data-root "$dir/docker-data" --exec-root "$dir/docker-exec" \
		--pidfile "$dir/dockerd.pidf" -H "unix://$sock" \
		--iptables=false --ip-masq=false --bridge=none --userland-proxy=false \
		>"$dir/dockerd.log" 2>&1 9>&- &
	echo $! >"$dir/dockerd.pid"
	if ! sh_wait_for 30 docker -H "unix://$sock" version; then
		sh_log "dockerd did not start; last lines of $dir/dockerd.log:"
		tail -5 "$dir/dockerd.log" >&2
		return 1
	fi
	swarmport=$(sh_free_port)
	docker -H "unix://$sock" swarm init --advertise-addr 127.0.0.1 \
		--listen-addr "127.0.0.1:$swarmport" >/dev/null
	sh_wait_for 30 sh -c "docker -H unix://$sock info --format '{{.Swarm.ControlAvailable}}' | grep -q true"
}

# sh_busybox_image SOCK NAME: import a busybox-static root filesystem as image NAME
sh_busybox_image() {
	local sock=$1 name=$2 root
	docker -H "unix://$sock" image inspect "$name" >/dev/null 2>&1 && return 0
	root=$(mktemp -d)
	mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/var/run"
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
	done
	tar -C "$root" -c . | docker -H "unix://$sock" import - "$name" >/dev/null
	rm -rf "$root"
}

# sh_make_certs DIR: a test CA, a server certificate for 127.0.0.1/localhost, a client certificate
sh_make_certs() {
	local d=$1
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=swarmheal-test-ca \
			-keyout ca.key -out ca.pem 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >ext
		for n in server client; do
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
				-keyout "$n.key" -out "$n.csr" 2>/dev/null
			openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
				-extfile ext -out "$n.pem" 2>/dev/null
		done
	)
}
