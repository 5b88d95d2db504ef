#!/bin/bash
# SPDX-License-Identifier: ISC
# build-deb-clean.sh: builds the binary packages again from the source
# package, in a fresh copy of the cached clean Debian 12 (packaging/chroot.sh)
# that has only build-essential and what debian/control's Build-Depends
# name (apt-get build-dep), as a Debian build daemon would; then checks that
# the packages hold the same files as those built on this machine.
# A build dependency missing from debian/control fails here.
#
#   packaging/build-deb-clean.sh DIR   DIR holds the .dsc, its tarballs
#                                      and the .deb files built here
# Needs root, debootstrap and the network to a Debian mirror.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(realpath "$1")
dsc=$(ls "$dir"/patchbay_*.dsc 2>/dev/null | head -n 1)
[ -n "$dsc" ] || { echo "error: no patchbay_*.dsc in $dir" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-cleanbuild.XXXXXX")
root=$work/root
trap '"$top/packaging/chroot.sh" remove "$root"; rm -rf "$work"' EXIT
"$top/packaging/chroot.sh" unpack "$root" || exit 1
mkdir -p "$root/build"
base=$(basename "$dsc" .dsc)
cp "$dsc" "$dir/${base%-*}.orig.tar."* "$dir/$base.debian.tar."* "$root/build/"
log=$dir/build-deb-clean.log
echo "in a clean Debian 12: apt-get build-dep ./$(basename "$dsc"); dpkg-buildpackage -us -uc -b (log: $log)"
if ! chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}" \
	bash -ec "cd /build
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends build-essential dpkg-dev
		apt-get build-dep -y -qq --no-install-recommends ./$(basename "$dsc")
		dpkg-source -x $(basename "$dsc") src
		cd src
		dpkg-buildpackage -us -uc -b -jauto" >"$log" 2>&1; then
	tail -n 60 "$log"
	echo "FAIL: the build in a clean Debian 12 failed (last lines above)"
	exit 1
fi
grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$log" | sed 's/^/  make check: /'
grep -E '^(SKIP|FAIL|ERROR): ' "$log" | sed 's/^/  /'
status=0
for deb in "$dir"/*.deb; do
	p=$(basename "$deb")
	[ -f "$root/build/$p" ] || { echo "FAIL: $p was not built"; status=1; continue; }
	if diff <(dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }') \
		<(dpkg-deb -c "$root/build/$p" | awk '{ print $1, $2, $6 }') >"$work/diff"; then
		echo "ok: $p: the same files"
	else
		echo "FAIL: $p: other files than those built here:"
		cat "$work/diff"
		status=1
	fi
	[ "$(dpkg-deb -f "$deb" Depends)" = "$(dpkg-deb -f "$root/build/$p" Depends)" ] ||
		{ echo "FAIL: $p: other Depends: $(dpkg-deb -f "$root/build/$p" Depends)"; status=1; }
done
[ $status -eq 0 ] && echo "PASS: the Build-Depends are complete"
exit $status
