#!/bin/bash
# SPDX-License-Identifier: ISC
# check-version.sh: one version everywhere. configure.ac's AC_INIT is the
# source; the Debian changelog (upstream part), the spec's Version:, the
# release tarball's name, the built .deb and .rpm files, and what the
# packaged patchbayd and patchbay-bench say with --version must all agree.
#
#   packaging/check-version.sh TARBALL DEB-DIR RPM-DIR
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/packaging/lib.sh"
[ $# -eq 3 ] || die "usage: $0 TARBALL DEB-DIR RPM-DIR"
tarball=$1 debdir=$2 rpmdir=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

want=$(configure_version)
[ -n "$want" ] || die "no version in configure.ac's AC_INIT"
failures=0
check() { # WHAT VERSION
	if [ "$2" = "$want" ]; then
		printf 'ok:   %-52s %s\n' "$1" "$2"
	else
		printf 'FAIL: %-52s %s (configure.ac: %s)\n' "$1" "${2:-(none)}" "$want"
		failures=$((failures + 1))
	fi
}
upstream_of() { local v=${1#*:}; echo "${v%-*}"; }

check "configure.ac AC_INIT" "$want"
check "packaging/debian/changelog" \
	"$(upstream_of "$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)")"
check "packaging/rpm/patchbay.spec Version:" \
	"$(sed -n 's/^Version: *//p' "$top/packaging/rpm/patchbay.spec")"
t=$(basename "$tarball")
t=${t#patchbay-}
check "tarball $(basename "$tarball")" "${t%.tar.gz}"

for deb in "$debdir"/patchbay_*.deb "$debdir"/patchbay-bench_*.deb; do
	check "$(basename "$deb") Version" "$(upstream_of "$(dpkg-deb -f "$deb" Version)")"
done
for rpm in "$rpmdir"/patchbay-[0-9]*.x86_64.rpm "$rpmdir"/patchbay-bench-[0-9]*.rpm "$rpmdir"/*.src.rpm; do
	[ -e "$rpm" ] || { check "$rpm" ""; continue; }
	check "$(basename "$rpm") VERSION" "$(rpm -qp --qf '%{VERSION}' "$rpm" 2>/dev/null)"
done

# --version of the programs as packaged, both formats.
mkdir -p "$tmp/deb" "$tmp/rpm"
for deb in "$debdir"/patchbay_*.deb "$debdir"/patchbay-bench_*.deb; do
	dpkg-deb -x "$deb" "$tmp/deb"
done
for rpm in "$rpmdir"/*.x86_64.rpm; do
	(cd "$tmp/rpm" && rpm2cpio "$rpm" | cpio -idm --quiet)
done
for kind in deb rpm; do
	for prog in usr/sbin/patchbayd usr/bin/patchbay-bench; do
		out=$("$tmp/$kind/$prog" --version 2>&1)
		name=$(basename "$prog")
		v=${out#"$name "}
		[ "$out" = "$name $v" ] || v="(said: $out)"
		check "$name --version, from the .$kind" "$v"
	done
done

[ "$failures" -eq 0 ] || { echo "FAIL: $failures version checks"; exit 1; }
echo "PASS: every version is $want"
