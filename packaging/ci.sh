#!/bin/bash
# SPDX-License-Identifier: ISC
# packaging/ci.sh: what CI runs for the distribution packages, on Debian 12,
# as root, with the network to a Debian mirror. From a clean copy of this
# tree it builds the release tarball, the Debian packages (source and
# binary, make check included) and the RPMs, and checks them:
#
#   apt          the tools (apt-get)
#   dist         make dist, in a clean copy of the tree
#   deb          dpkg-buildpackage -us -uc from the tarball (make check runs)
#   deb-nocheck  the same, binaries only, with DEB_BUILD_OPTIONS=nocheck:
#                no test runs, and the same files come out
#   deb-clean    the binaries again, from the .dsc, in a clean Debian 12
#                with only the declared Build-Depends (apt-get build-dep)
#   rpm          rpmbuild -ba --nodeps from the tarball (%check runs)
#   lintian      lintian on the .changes: no error, no warning
#   files        rpm -qlp lists the same files as the .deb (names aside)
#   versions     configure.ac = debian/changelog = spec = tarball =
#                packages = patchbayd --version
#   chroot       the cached debootstrap --variant=minbase Debian 12
#   install      install, serve, purge in a fresh copy of it
#   systemd      in another, booted with systemd-nspawn (its systemd 252 as
#                PID 1): install, clients sending all along, two
#                `systemctl restart` and an upgrade keep them, stop
#   autopkgtest  debian/tests, by autopkgtest with its chroot server
#
# A step whose input failed is skipped (and counts as failed). Each step
# says how long it took; a failed one prints "=== FAILED: STEP" with its
# output. The exit status is 0 only if every step passed. The artefacts
# and logs stay in $PATCHBAY_PKG_WORK (default: a new folder in /tmp).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/packaging/lib.sh"
export DEBIAN_FRONTEND=noninteractive
work=${PATCHBAY_PKG_WORK:-$(mktemp -d /tmp/patchbay-packaging.XXXXXX)}
mkdir -p "$work"
work=$(realpath "$work")
echo "packaging CI: artefacts and logs in $work"

declare -A result
order=()
total_start=$SECONDS

# step NAME NEEDS CMD...: NEEDS is a comma-separated list of steps that
# must have passed (or -).
step() {
	local name=$1 needs=$2 n start rc
	shift 2
	order+=("$name")
	for n in ${needs//,/ }; do
		[ "$n" = - ] && continue
		if [ "${result[$n]:-}" != ok ]; then
			result[$name]="skipped (needs $n)"
			echo "=== FAILED: $name: skipped, because $n failed"
			return
		fi
	done
	echo "=== $name"
	start=$SECONDS
	"$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		result[$name]=ok
		echo "=== $name: ok ($((SECONDS - start)) s)"
	else
		result[$name]="FAILED (exit $rc)"
		echo "=== FAILED: $name (exit status $rc, after $((SECONDS - start)) s)"
	fi
	times[$name]=$((SECONDS - start))
}
declare -A times

do_apt() {
	apt-get update -qq &&
		apt-get install -y -qq --no-install-recommends build-essential autoconf \
			automake pkg-config check libmicrohttpd-dev libnats-dev nats-server \
			systemd debhelper \
			dpkg-dev lintian rpm rpm2cpio cpio debootstrap autopkgtest \
			systemd-container iproute2 ca-certificates >"$work/apt.log" 2>&1 ||
		{ tail -n 30 "$work/apt.log"; return 1; }
}

do_dist() {
	local t
	mkdir -p "$work/dist"
	t=$(make_dist "$work/dist") || return 1
	mv "$t" "$work/dist/" && rm -rf "$work/dist/src"
	tarball=$(ls "$work"/dist/patchbay-*.tar.gz)
	echo "made $tarball"
	local list
	list=$(tar -tzf "$tarball") || return 1
	# The Debian packaging is not in the release tarball; the license is.
	if grep -q '^[^/]*/\(debian\|packaging\)/' <<<"$list"; then
		echo "the tarball carries debian/ or packaging/; it must not"
		return 1
	fi
	grep -q '^[^/]*/COPYING$' <<<"$list" || { echo "no COPYING in the tarball"; return 1; }
	echo "ok: COPYING in it, no debian/ or packaging/"
}

do_deb() {
	rm -rf "$work/deb"
	"$top/packaging/build-deb.sh" --tarball "$tarball" --out "$work/deb" &&
		grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$work/deb/build-deb.log" | sed 's/^/  make check: /'
}

do_deb_nocheck() {
	local d p
	rm -rf "$work/deb-nocheck"
	"$top/packaging/build-deb.sh" --tarball "$tarball" --out "$work/deb-nocheck" \
		--binary-only --nocheck >/dev/null || return 1
	if grep -q 'Testsuite summary' "$work/deb-nocheck/build-deb-nocheck.log"; then
		echo "the test suite ran despite DEB_BUILD_OPTIONS=nocheck"
		return 1
	fi
	echo "ok: no test ran"
	for d in "$work"/deb/*.deb; do
		p=$(basename "$d")
		[ -f "$work/deb-nocheck/$p" ] || { echo "no $p without the tests"; return 1; }
		diff <(dpkg-deb -c "$d" | awk '{ print $1, $6 }') \
			<(dpkg-deb -c "$work/deb-nocheck/$p" | awk '{ print $1, $6 }') ||
			{ echo "$p: other files without the tests"; return 1; }
	done
	echo "ok: the same packages, with the same files"
}

do_rpm() {
	rm -rf "$work/rpm"
	"$top/packaging/build-rpm.sh" --tarball "$tarball" --out "$work/rpm" &&
		grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$work/rpm/build-rpm.log" | sed 's/^/  make check: /'
}

do_lintian() {
	local changes out
	changes=$(ls "$work"/deb/patchbay_*.changes)
	echo "lintian $(lintian --version | awk '{print $2}') on $(basename "$changes") (the source and binary packages):"
	# Errors and warnings fail, and so do overrides that match nothing;
	# info tags and the (commented) overrides are shown. One run with
	# --fail-on none, judged by its tags: with --show-overrides, lintian
	# 2.116 would count an overridden warning as a warning.
	out=$(lintian --fail-on none --display-info --show-overrides "$changes" 2>&1) ||
		{ echo "$out"; echo "lintian itself failed"; return 1; }
	out=$(grep -v '^running with root privileges is not recommended!$' <<<"$out")
	echo "$out"
	if grep -qE '^[EW]: |(unused|mismatched)-override' <<<"$out"; then
		echo "lintian: errors or warnings (E:, W:) or a stale override above"
		return 1
	fi
	echo "ok: no error, no warning"
}

step apt - do_apt
step dist apt do_dist
step deb dist do_deb
step deb-nocheck deb do_deb_nocheck
step rpm dist do_rpm
step lintian deb do_lintian
step files deb,rpm "$top/packaging/compare-files.sh" "$work/deb" "$work/rpm"
step versions deb,rpm "$top/packaging/check-version.sh" "${tarball:-none}" "$work/deb" "$work/rpm"
step chroot apt "$top/packaging/chroot.sh" tarball
step deb-clean deb,chroot "$top/packaging/build-deb-clean.sh" "$work/deb"
step install deb,chroot "$top/packaging/test-install.sh" "$work/deb"
step systemd deb,chroot "$top/packaging/test-systemd.sh" "$work/deb"
step autopkgtest deb,chroot "$top/packaging/run-autopkgtest.sh" "$work/deb"

echo "=== packaging summary"
passed=0 failed=0
for name in "${order[@]}"; do
	printf '  %-12s %6s  %s\n' "$name" "${times[$name]:+${times[$name]} s}" "${result[$name]}"
	if [ "${result[$name]}" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "  total        $((SECONDS - total_start)) s"
echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
