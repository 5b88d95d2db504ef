#!/bin/bash
# SPDX-License-Identifier: ISC
# build-rpm.sh: builds the RPMs from the release tarball with
# packaging/rpm/patchbay.spec.
#
#   packaging/build-rpm.sh [--tarball patchbay-VERSION.tar.gz] [--out DIR]
#
# Without --tarball it first makes one with `make dist` in a clean copy of
# this tree. The binary and source RPMs and the build log go to DIR
# (default: ./packages).
#
# On Fedora and its relatives this is plain `rpmbuild -ba`. Elsewhere (CI
# builds on Debian) the build dependencies are not RPMs and the systemd
# RPM macros do not exist, so it builds with --nodeps and defines on the
# command line each of those macros that is missing, with the meaning
# Fedora's systemd-rpm-macros gives it; the spec stays as it is.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/packaging/lib.sh"

tarball= out=$PWD/packages
while [ $# -gt 0 ]; do
	case $1 in
	--tarball) tarball=$(realpath "$2"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) die "usage: $0 [--tarball FILE] [--out DIR]" ;;
	esac
done
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT

[ -n "$tarball" ] || tarball=$(make_dist "$work")
spec=$top/packaging/rpm/patchbay.spec
version=$(sed -n 's/^Version: *//p' "$spec")
[ "$(basename "$tarball")" = "patchbay-$version.tar.gz" ] ||
	die "the spec is at Version: $version, the tarball is $(basename "$tarball")"

mkdir -p "$work"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}
cp "$tarball" "$work/SOURCES/"
args=(--define "_topdir $work")

# Debian: no dependency database of RPMs, and no systemd RPM macros.
if [ ! -e /etc/redhat-release ] && [ ! -e /etc/fedora-release ]; then
	args+=(--nodeps)
fi
defined() { [ -n "$(rpm --eval "%{?$1:yes}")" ]; }
# Fedora names the %license and %doc folders after the package alone
# (/usr/share/licenses/patchbay); Debian's rpm adds the version.
if [ "$(rpm --eval '%{_docdir_fmt}')" != "%{NAME}" ]; then
	args+=(--define '_docdir_fmt %%{NAME}')
fi
if ! defined systemd_post; then
	args+=(--define 'systemd_post() if [ $1 -eq 1 ] && [ -x /usr/bin/systemctl ]; then /usr/bin/systemctl --no-reload preset %{?*} >/dev/null 2>&1 || :; fi')
fi
if ! defined systemd_preun; then
	args+=(--define 'systemd_preun() if [ $1 -eq 0 ] && [ -x /usr/bin/systemctl ]; then /usr/bin/systemctl --no-reload disable --now %{?*} >/dev/null 2>&1 || :; fi')
fi
if ! defined systemd_postun_with_restart; then
	args+=(--define 'systemd_postun_with_restart() if [ $1 -ge 1 ] && [ -x /usr/bin/systemctl ]; then /usr/bin/systemctl try-restart %{?*} >/dev/null 2>&1 || :; fi')
fi

log=$out/build-rpm.log
echo "building patchbay $version RPMs in $work (log: $log)"
if ! rpmbuild "${args[@]}" -ba "$spec" >"$log" 2>&1; then
	tail -n 60 "$log"
	die "rpmbuild failed (last lines above, all in $log)"
fi
find "$work/RPMS" "$work/SRPMS" -name '*.rpm' -exec cp {} "$out/" \;
echo "built into $out:"
(cd "$out" && ls -l ./*.rpm)
