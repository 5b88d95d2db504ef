#!/bin/bash
# SPDX-License-Identifier: ISC
# units.sh: the systemd units, checked as systemd would: made for this
# build (ExecStart= naming the binary just built), `systemd-analyze verify`
# must print nothing for the service and the socket (it returns 0 on
# warnings, so its output is what counts), and `systemd-analyze security`
# must rate the service's exposure 2.0 or less. Skipped (77) where
# systemd-analyze is not installed.
set -u
: "${abs_top_srcdir:?run me through make check}"
: "${abs_top_builddir:?run me through make check}"
command -v systemd-analyze >/dev/null || {
	echo "SKIP: no systemd-analyze (Debian: apt-get install systemd)"
	exit 77
}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed -e "s|@sbindir[@]|$abs_top_builddir/src|g" \
	-e "s|@sysconfdir[@]/patchbay/patchbayd.conf|$abs_top_srcdir/etc/patchbayd.conf|g" \
	"$abs_top_srcdir/systemd/patchbayd.service.in" >"$dir/patchbayd.service"
cp "$abs_top_srcdir/systemd/patchbayd.socket" "$dir/"
status=0

# --man=no: the man pages are not installed yet where man(1) looks.
out=$(cd "$dir" && systemd-analyze verify --man=no ./patchbayd.service \
	./patchbayd.socket 2>&1)
if [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify says:"
	echo "$out"
	status=1
else
	echo "ok: systemd-analyze verify prints nothing"
fi

line=$(cd "$dir" && systemd-analyze security --offline=true \
	./patchbayd.service 2>&1 | grep 'Overall exposure level')
level=$(sed -n 's/.*Overall exposure level for patchbayd.service: \([0-9.]*\).*/\1/p' <<<"$line")
if [ -z "$level" ]; then
	echo "FAIL: no exposure level from systemd-analyze security: $line"
	status=1
elif awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
	echo "ok: exposure $level (at most 2.0)"
else
	echo "FAIL: exposure $level, more than 2.0"
	status=1
fi
exit $status
