#!/bin/bash
# SPDX-License-Identifier: ISC
# chroot.sh: a clean Debian 12 system, as `debootstrap --variant=minbase`
# makes it, cached as a tarball so that one CI run (and later runs on the
# same machine, for up to a week) makes it once.
#
#   packaging/chroot.sh tarball        prints the cached tarball, making it
#                                      if missing or older than a week
#   packaging/chroot.sh unpack DIR     a fresh copy of it in DIR (empty or
#                                      absent), /proc and /dev/pts mounted
#   packaging/chroot.sh remove DIR     unmounts what is mounted under DIR
#                                      and deletes it
#
# Besides minbase it has man-db (for `man -w`) and systemd (for
# `systemd-analyze verify`, and so that the package's maintainer scripts
# enable the service as on a real system; systemd does not run in it).
# Environment: PATCHBAY_CHROOT_CACHE (default /var/cache/patchbay-packaging),
# PATCHBAY_MIRROR (default http://deb.debian.org/debian),
# PATCHBAY_CHROOT_MAX_AGE_DAYS (default 7).
set -euo pipefail

suite=bookworm
include=man-db,systemd
mirror=${PATCHBAY_MIRROR:-http://deb.debian.org/debian}
cache=${PATCHBAY_CHROOT_CACHE:-/var/cache/patchbay-packaging}
max_age=${PATCHBAY_CHROOT_MAX_AGE_DAYS:-7}
key=$(printf '%s %s %s' "$suite" "$include" "$mirror" | md5sum | cut -c1-8)
tarball=$cache/$suite-minbase-$key.tar

die() {
	echo "error: $*" >&2
	exit 1
}

# mounts_under DIR: what is mounted at or below DIR, deepest first.
mounts_under() {
	awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

remove() {
	local dir m
	dir=$(realpath -m "$1")
	[ -d "$dir" ] || return 0
	for m in $(mounts_under "$dir"); do
		umount "$m" || umount -l "$m" || die "cannot unmount $m"
	done
	[ -z "$(mounts_under "$dir")" ] || die "still mounted under $dir; not deleting it"
	rm -rf --one-file-system "$dir"
}

make_tarball() {
	local tmp
	mkdir -p "$cache"
	if [ -f "$tarball" ] && [ -z "$(find "$tarball" -mtime +"$max_age")" ]; then
		return 0
	fi
	tmp=$(mktemp -d "$cache/debootstrap.XXXXXX")
	echo "debootstrap --variant=minbase --include=$include $suite ($mirror)" >&2
	if ! debootstrap --variant=minbase --include="$include" "$suite" "$tmp/root" \
		"$mirror" >"$tmp/debootstrap.log" 2>&1; then
		tail -n 30 "$tmp/debootstrap.log" >&2
		remove "$tmp"
		die "debootstrap failed"
	fi
	# The same suites as an installed Debian 12.
	cat >"$tmp/root/etc/apt/sources.list" <<-SOURCES
		deb $mirror $suite main
		deb $mirror $suite-updates main
		deb ${PATCHBAY_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $suite-security main
	SOURCES
	chroot "$tmp/root" apt-get clean
	tar -C "$tmp/root" -cf "$tmp/root.tar" . || die "cannot make $tarball"
	mv "$tmp/root.tar" "$tarball"
	remove "$tmp"
	# Older caches (another mirror, another list of packages) go.
	find "$cache" -maxdepth 1 -name "$suite-minbase-*.tar" ! -name "$(basename "$tarball")" -delete
}

unpack() {
	local dir=$1
	make_tarball
	remove "$dir"
	mkdir -p "$dir"
	tar -C "$dir" -xf "$tarball"
	mount -t proc proc "$dir/proc"
	# For apt's terminal log; not needed otherwise.
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$dir/dev/pts" 2>/dev/null || :
	# Name resolution for apt, as on the host.
	cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || :
}

case ${1:-} in
tarball) make_tarball && echo "$tarball" ;;
unpack) [ $# -eq 2 ] || die "usage: $0 unpack DIR"; unpack "$2" ;;
remove) [ $# -eq 2 ] || die "usage: $0 remove DIR"; remove "$2" ;;
*) die "usage: $0 tarball | unpack DIR | remove DIR" ;;
esac
