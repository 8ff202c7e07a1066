#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# base-images.sh - make the Debian base images the Dockerfile starts from, without a registry
#
#   deploy/base-images.sh              make (or reuse) both, import them into the engine at DOCKER_HOST
#   deploy/base-images.sh --make-only  make (or reuse) the cached tarballs only, print their paths
#
# Makes debian:bookworm-slim (minbase, docs/man/locales left out by dpkg path-exclude, as
# Docker's bookworm-slim does) and debian:bookworm (the same plus the build packages) with
# mmdebstrap from the Debian mirror apt already uses, and imports them into the engine at
# DOCKER_HOST (docker import, under those names). Each root filesystem is cached as a tarball
# in SWARMHEAL_BASE_CACHE (default /var/cache/swarmheal-test) named by a hash of its recipe
# (suite, variant, packages, excludes, mirror), so a second run on the same machine only
# imports. An engine that already holds an image of the same recipe is left alone.
# Needs root (mmdebstrap --mode=root, apt-get for mmdebstrap itself when missing).
set -euo pipefail
CACHE=${SWARMHEAL_BASE_CACHE:-/var/cache/swarmheal-test}
SUITE=bookworm
BUILD_PKGS="build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev libssl-dev libmicrohttpd-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler"
EXCLUDES=(
	'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright'
	'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/groff/*' 'path-exclude=/usr/share/info/*'
	'path-exclude=/usr/share/lintian/*' 'path-exclude=/usr/share/linda/*' 'path-exclude=/usr/share/locale/*'
)
RECIPE_VERSION=2 # 2: merged-usr hook (usr-is-merged, not usrmerge and its perl)

log() { printf '%s base-images: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { echo "base-images: $*" >&2; exit 1; }

# the first URI apt uses for ARCHIVE (debian or debian-security), one-line or deb822 sources
apt_uri() {
	local archive=$1 u
	u=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v a="/$archive" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { u = $i; sub(/\/$/, "", u); if (substr(u, length(u) - length(a) + 1) == a) { print u; exit } } }')
	if [ -z "$u" ]; then
		u=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk -v a="/$archive" '$1 == "URIs:" { for (i = 2; i <= NF; i++) { u = $i; sub(/\/$/, "", u); if (substr(u, length(u) - length(a) + 1) == a) { print u; exit } } }')
	fi
	echo "${u:-http://deb.debian.org/$archive}"
}

MIRROR=${SWARMHEAL_DEBIAN_MIRROR:-$(apt_uri debian)}
SECURITY=${SWARMHEAL_DEBIAN_SECURITY:-$(apt_uri debian-security)}
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main")

# make NAME VARIANT INCLUDES: the cached tarball's path on stdout (made if missing)
make_rootfs() {
	local name=$1 variant=$2 include=$3 key tar tmp opts=()
	key=$(printf '%s\n' "$RECIPE_VERSION" "$SUITE" "$variant" "$include" "${EXCLUDES[@]}" "${SOURCES[@]}" |
		sha256sum | cut -c1-16)
	tar="$CACHE/${name//[:\/]/_}-$key.tar"
	if [ -s "$tar" ]; then
		echo "$tar"
		return
	fi
	command -v mmdebstrap >/dev/null || {
		[ "$(id -u)" = 0 ] || die "mmdebstrap is missing (apt-get install mmdebstrap, as root)"
		log "installing mmdebstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
	}
	mkdir -p "$CACHE"
	for o in "${EXCLUDES[@]}"; do opts+=(--dpkgopt="$o"); done
	[ -n "$include" ] && opts+=(--include="${include// /,}")
	tmp="$tar.tmp.$$.tar"
	log "making $name ($variant${include:+ + $include}) from $MIRROR"
	local t0=$SECONDS
	# a mirror that drops a download now and then must not fail the image: three tries, then give up
	local try ok=0
	for try in 1 2 3; do
		if mmdebstrap --quiet --mode=root --variant="$variant" "${opts[@]}" \
			--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
			--aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Retries "3"' \
			--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/apt/* "$1"/var/log/dpkg.log' \
			"$SUITE" "$tmp" "${SOURCES[@]}" >&2; then
			ok=1
			break
		fi
		rm -f "$tmp"
		log "mmdebstrap failed for $name (try $try of 3)"
		sleep $((try * 5))
	done
	[ $ok = 1 ] || die "mmdebstrap failed for $name after 3 tries"
	mv "$tmp" "$tar"
	log "made $name in $((SECONDS - t0)) s: $tar ($(du -m "$tar" | cut -f1) MB)"
	echo "$tar"
}

# import TARBALL NAME into the engine unless an image of the same recipe is there
import_image() {
	local tar=$1 name=$2 key
	key=$(basename "$tar" .tar)
	if [ "$(docker image inspect -f '{{index .Config.Labels "org.swarmheal.base"}}' "$name" 2>/dev/null)" = "$key" ]; then
		return
	fi
	docker import --change "LABEL org.swarmheal.base=$key" --change 'CMD ["bash"]' \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"$tar" "$name" >/dev/null
	log "imported $name ($key) into ${DOCKER_HOST:-the default engine}"
}

case "${1:-}" in
'' | --make-only) ;;
*) die "usage: base-images.sh [--make-only] (images go to the engine at DOCKER_HOST)" ;;
esac
slim=$(make_rootfs debian:bookworm-slim minbase "")
full=$(make_rootfs debian:bookworm minbase "$BUILD_PKGS")
if [ "${1:-}" = --make-only ]; then
	printf '%s\n' "$slim" "$full"
	exit
fi
import_image "$slim" debian:bookworm-slim
import_image "$full" debian:bookworm
