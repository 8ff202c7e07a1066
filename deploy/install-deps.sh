#!/bin/sh
# SPDX-License-Identifier: MIT
# install-deps.sh - install the Debian packages swarmheal builds and tests with; idempotent
set -eu
PKGS="build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev libssl-dev
libcunit1-dev libmicrohttpd-dev etcd-server etcd-client docker.io busybox-static
iproute2 iptables procps psmisc openssl valgrind curl util-linux time bc mmdebstrap
python3 python3-jsonschema python3-prometheus-client
libyaml-dev python3-yaml libprotobuf-c-dev protobuf-c-compiler"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
