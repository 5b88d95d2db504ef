#!/bin/bash
# SPDX-License-Identifier: ISC
# build-deb.sh: builds the Debian packages from the release tarball.
#
#   packaging/build-deb.sh [--tarball patchbay-VERSION.tar.gz] [--out DIR]
#                          [--binary-only] [--nocheck]
#
# Without --tarball it first makes one with `make dist` in a clean copy of
# this tree. The tarball becomes patchbay_VERSION.orig.tar.gz, is unpacked,
# gets packaging/debian/ as its debian/, and dpkg-buildpackage -us -uc
# builds the source package and the binary packages (with --binary-only:
# -b, binaries only). debian/ is kept out of the release tarball, so the
# orig tarball is exactly what was released.
#
# The results (.deb, .dsc, .debian.tar.xz, .orig.tar.gz, .changes,
# .buildinfo) and the build log go to DIR (default: ./packages).
# --nocheck builds with DEB_BUILD_OPTIONS=nocheck and the nocheck profile:
# `make check` does not run and Check is not needed.
# Needs: dpkg-dev, debhelper and the Build-Depends of packaging/debian/control.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/packaging/lib.sh"

tarball= out=$PWD/packages binary_only= nocheck=
while [ $# -gt 0 ]; do
	case $1 in
	--tarball) tarball=$(realpath "$2"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	--binary-only) binary_only=1; shift ;;
	--nocheck) nocheck=1; shift ;;
	*) die "usage: $0 [--tarball FILE] [--out DIR] [--binary-only] [--nocheck]" ;;
	esac
done
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT

[ -n "$tarball" ] || tarball=$(make_dist "$work")
base=$(basename "$tarball")
version=${base#patchbay-}
version=${version%.tar.gz}
[ "$base" = "patchbay-$version.tar.gz" ] || die "not a release tarball: $base"

changelog_version=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)
upstream=${changelog_version#*:}
upstream=${upstream%-*}
[ "$upstream" = "$version" ] ||
	die "packaging/debian/changelog is at $changelog_version, the tarball at $version: add a changelog entry (dch -v $version-1)"

cp "$tarball" "$work/patchbay_$version.orig.tar.gz"
tar -xzf "$tarball" -C "$work"
src=$work/patchbay-$version
[ ! -e "$src/debian" ] || die "the release tarball has a debian/ folder; it must not"
cp -r "$top/packaging/debian" "$src/debian"

opts=(-us -uc -jauto)
[ -n "$binary_only" ] && opts+=(-b)
if [ -n "$nocheck" ]; then
	export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }nocheck"
	opts+=(-Pnocheck)
fi
log=$out/build-deb${nocheck:+-nocheck}.log
echo "building patchbay $changelog_version in $src (log: $log)"
if ! (cd "$src" && dpkg-buildpackage "${opts[@]}") >"$log" 2>&1; then
	tail -n 60 "$log"
	die "dpkg-buildpackage failed (last lines above, all in $log)"
fi
files=$(cd "$work" && find . -maxdepth 1 -type f -name "*_${version}[-.]*" -printf '%f\n' | sort)
for f in $files; do cp "$work/$f" "$out/"; done
echo "built into $out:"
(cd "$out" && ls -l $files)
