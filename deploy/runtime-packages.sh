#!/bin/sh
# SPDX-License-Identifier: MIT
# runtime-packages.sh PROGRAM... - the Debian packages that hold the shared libraries PROGRAMs load,
# one a line, sorted (deploy/Dockerfile's build stage: the runtime stage installs exactly these).
# Fails when ldd cannot resolve a library or no package owns one, so a new dependency is never
# left out of the image silently. With merged /usr, ldd may print /lib/... or /usr/lib/... and
# dpkg may know either: every spelling is tried.
set -eu
[ $# -gt 0 ] || { echo "usage: runtime-packages.sh PROGRAM..." >&2; exit 64; }
ldd "$@" >/dev/null || { echo "runtime-packages: ldd failed on $*" >&2; exit 1; }
if ldd "$@" 2>&1 | grep -q 'not found'; then
	ldd "$@" | grep 'not found' >&2
	echo "runtime-packages: unresolved libraries" >&2
	exit 1
fi
libs=$(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}' | sort -u)
pkgs=""
for lib in $libs; do
	real=$(readlink -f "$lib")
	pkg=""
	for cand in "$lib" "$real" "${lib#/usr}" "/usr$lib" "${real#/usr}" "/usr$real"; do
		pkg=$(dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1) || pkg=""
		[ -n "$pkg" ] && break
	done
	[ -n "$pkg" ] || { echo "runtime-packages: no package owns $lib" >&2; exit 1; }
	pkgs="$pkgs $pkg"
done
printf '%s\n' $pkgs | sort -u
