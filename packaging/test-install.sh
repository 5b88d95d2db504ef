#!/bin/bash
# SPDX-License-Identifier: ISC
# test-install.sh: installs the .deb on a clean Debian 12 and uses it as a
# user would; then purges it and checks that nothing of it is left.
#
#   packaging/test-install.sh DIR      DIR holds patchbay_*.deb
#
# In a fresh copy of the cached debootstrap --variant=minbase chroot
# (packaging/chroot.sh): `apt-get install ./patchbay_*.deb` must pull in
# only what the package declares; the service must be enabled by the
# maintainer scripts (and the socket not) and the configuration file be a
# conffile; `man -w` must find the pages, `systemd-analyze verify` on the
# installed units print nothing, `patchbayd --version` give the package's
# version; the installed daemon, started as the unit starts it
# (`/usr/sbin/patchbayd --config /etc/patchbay/patchbayd.conf`, in a
# network namespace of its own so that its port 8080 is free), must serve
# two clients that exchange a message, and stop with status 0 on SIGTERM.
# Then `apt-get purge patchbay` must remove every file of the package and
# its systemd state, and once `apt-get autoremove --purge` has removed the
# dependencies the file list must be what it was before the install.
# Needs root, debootstrap, and the network to a Debian mirror.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 DIR-WITH-DEBS" >&2; exit 2; }
debdir=$(realpath "$1")
deb=$(ls "$debdir"/patchbay_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "error: no patchbay_*.deb in $debdir" >&2; exit 2; }
version=$(dpkg-deb -f "$deb" Version)

work=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-install.XXXXXX")
root=$work/root
cleanup() { "$top/packaging/chroot.sh" remove "$root"; rm -rf "$work"; }
trap cleanup EXIT
failures=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# What is on the system, by name: everything but apt's and dpkg's own
# records and caches, logs, and what a run leaves in /tmp, /proc, /dev.
snapshot() {
	(cd "$root" && find . -xdev \
		\( -path ./proc -o -path ./dev -o -path ./sys -o -path ./run \
		-o -path ./tmp -o -path ./var/tmp -o -path ./var/log \
		-o -path ./var/lib/dpkg -o -path ./var/lib/apt \
		-o -path ./var/cache/apt -o -path ./var/cache/debconf \
		-o -path ./var/cache/man -o -path ./var/cache/ldconfig \) -prune \
		-o -print | sort)
}

echo "--- a fresh Debian 12 (debootstrap --variant=minbase) in $root"
"$top/packaging/chroot.sh" unpack "$root" || exit 1
in_root apt-get update -qq || { echo "FAIL: apt-get update in the chroot"; exit 1; }
snapshot >"$work/before"
in_root dpkg-query -W -f '${Package}\n' | sort >"$work/packages-before"

echo "--- apt-get install ./$(basename "$deb")"
mkdir -p "$root/tmp/debs"
cp "$deb" "$root/tmp/debs/"
if in_root apt-get install -y --no-install-recommends "/tmp/debs/$(basename "$deb")" >"$work/install.log" 2>&1; then
	ok "apt-get install ./$(basename "$deb")"
	grep -E '^(Setting up|Unpacking) ' "$work/install.log" | grep '^Setting up' | sed 's/^/   /'
else
	cat "$work/install.log"
	echo "FAIL: apt-get install"
	exit 1
fi
in_root dpkg-query -W -f '${Package}\n' | sort >"$work/packages-after"
comm -13 "$work/packages-before" "$work/packages-after" >"$work/new"
# What the package declares, followed to the end.
in_root apt-cache depends --recurse --no-recommends --no-suggests \
	--no-conflicts --no-breaks --no-replaces --no-enhances --no-pre-depends patchbay |
	grep -v '^ ' | sed 's/:.*//' | sort -u >"$work/declared"
undeclared=$(comm -23 "$work/new" "$work/declared")
if [ -z "$undeclared" ]; then
	ok "installed only patchbay and what it declares: $(tr '\n' ' ' <"$work/new")"
else
	bad "installed packages that patchbay does not declare: $undeclared"
fi

echo "--- the installed package"
v=$(in_root /usr/sbin/patchbayd --version)
[ "$v" = "patchbayd ${version%-*}" ] && ok "patchbayd --version: $v" ||
	bad "patchbayd --version says '$v', the package is $version"
conffiles=$(in_root dpkg-query -W -f '${Conffiles}\n' patchbay)
grep -q '^ /etc/patchbay/patchbayd.conf ' <<<"$conffiles" &&
	ok "/etc/patchbay/patchbayd.conf is a conffile" ||
	bad "/etc/patchbay/patchbayd.conf is not a conffile"
[ -L "$root/etc/systemd/system/multi-user.target.wants/patchbayd.service" ] &&
	ok "patchbayd.service enabled by the postinst" ||
	bad "patchbayd.service was not enabled on installation"
[ ! -e "$root/etc/systemd/system/sockets.target.wants/patchbayd.socket" ] &&
	ok "patchbayd.socket shipped, not enabled" || bad "patchbayd.socket was enabled"
for page in patchbayd patchbayd.conf patchbay-cat; do
	p=$(in_root man -w "$page" 2>&1) && ok "man -w $page: $p" || bad "man -w $page: $p"
done
out=$(in_root systemd-analyze verify /lib/systemd/system/patchbayd.service \
	/lib/systemd/system/patchbayd.socket 2>&1)
[ -z "$out" ] && ok "systemd-analyze verify patchbayd.service patchbayd.socket prints nothing" ||
	bad "systemd-analyze verify says: $out"
grep -q '^ExecStart=/usr/sbin/patchbayd --config /etc/patchbay/patchbayd.conf --state-dir ${STATE_DIRECTORY}$' \
	"$root/lib/systemd/system/patchbayd.service" &&
	ok "the unit runs /usr/sbin/patchbayd --config /etc/patchbay/patchbayd.conf --state-dir \${STATE_DIRECTORY}" ||
	bad "unexpected ExecStart in the unit: $(grep ExecStart= "$root/lib/systemd/system/patchbayd.service")"

echo "--- the daemon, as the unit starts it, on the configured 127.0.0.1:8080"
mkdir -p "$root/tmp/tests"
cp "$top/packaging/debian/tests/daemon.sh" "$top/packaging/debian/tests/exchange" "$root/tmp/tests/"
run='chroot "$0" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin PATCHBAY_LISTEN= bash /tmp/tests/exchange'
if unshare -n true 2>/dev/null; then
	# A network namespace of its own: 8080 is free whatever runs here.
	unshare -n bash -c "ip link set lo up && $run" "$root" && ok "exchange" || bad "exchange"
else
	echo "(no network namespaces here: on the host's loopback)"
	bash -c "$run" "$root" && ok "exchange" || bad "exchange"
fi

echo "--- apt-get purge patchbay"
in_root dpkg-query -L patchbay >"$work/files"
if in_root apt-get purge -y patchbay >"$work/purge.log" 2>&1; then
	ok "apt-get purge patchbay"
else
	cat "$work/purge.log"
	bad "apt-get purge patchbay"
fi
left=$(while IFS= read -r f; do
	[ -e "$root$f" ] || [ -L "$root$f" ] || continue
	# Folders are shared (/usr, /lib, ...), but /etc/patchbay is its own.
	[ -d "$root$f" ] && [ "$f" != /etc/patchbay ] && continue
	echo "$f"
done <"$work/files")
[ -z "$left" ] && ok "no file of the package is left" || bad "left behind: $left"
in_root apt-get autoremove --purge -y >"$work/autoremove.log" 2>&1 ||
	{ cat "$work/autoremove.log"; bad "apt-get autoremove --purge"; }
snapshot >"$work/after"
if diff -u "$work/before" "$work/after" >"$work/diff"; then
	ok "after purge and autoremove, the file list is the one from before the install ($(wc -l <"$work/before") entries)"
else
	bad "the file list differs from the one before the install:"
	tail -n +3 "$work/diff"
fi

if [ "$failures" -eq 0 ]; then
	echo "PASS: install and run on a clean Debian 12"
else
	echo "FAIL: $failures checks of the install test failed"
	exit 1
fi
