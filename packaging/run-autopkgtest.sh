#!/bin/bash
# SPDX-License-Identifier: ISC
# run-autopkgtest.sh: the package's autopkgtests (debian/tests/control),
# run by autopkgtest itself with its chroot virtualisation server in a
# fresh copy of the cached clean Debian 12 (packaging/chroot.sh), against
# the .deb files just built (not built again, not from an archive).
#
#   packaging/run-autopkgtest.sh DIR   DIR holds the .dsc, its tarballs
#                                      and the .deb files
# Needs root, autopkgtest, debootstrap and the network to a Debian mirror
# (autopkgtest installs the tests' Depends with apt in the chroot).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(realpath "$1")
dsc=$(ls "$dir"/patchbay_*.dsc 2>/dev/null | head -n 1)
[ -n "$dsc" ] || { echo "error: no patchbay_*.dsc in $dir" >&2; exit 2; }
debs=()
for d in "$dir"/*.deb; do
	case $(basename "$d") in *-dbgsym_*) continue ;; esac
	debs+=("$d")
done

work=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-autopkgtest.XXXXXX")
root=$work/root
trap '"$top/packaging/chroot.sh" remove "$root"; rm -rf "$work"' EXIT
"$top/packaging/chroot.sh" unpack "$root" || exit 1
dpkg-source -x "$dsc" "$work/src" >"$work/dpkg-source.log" 2>&1 || { echo "FAIL: dpkg-source -x"; exit 1; }

echo "autopkgtest $(printf '%s ' "${debs[@]##*/}")$(basename "$dsc") -- chroot (clean Debian 12)"
autopkgtest --output-dir "$work/out" "${debs[@]}" "$work/src" -- chroot "$root" \
	>"$work/log" 2>&1
rc=$?
grep -E '^(ok|FAIL|PASS):' "$work/out/log" 2>/dev/null | sed 's/^/  /' || :
echo "--- summary:"
cat "$work/out/summary" 2>/dev/null || cat "$work/log"
# 0: every test passed. 2 (a test skipped) or more: a failure here.
if [ $rc -ne 0 ]; then
	echo "--- autopkgtest log:"
	tail -n 80 "$work/log"
	echo "FAIL: autopkgtest exit status $rc"
	exit 1
fi
echo "PASS: autopkgtest"
