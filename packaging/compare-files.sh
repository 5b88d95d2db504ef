#!/bin/bash
# SPDX-License-Identifier: ISC
# compare-files.sh: the RPMs install the same files as the .deb files,
# with the same permissions, names aside.
#
#   packaging/compare-files.sh DEB-DIR RPM-DIR
#
# Lists every file (not folder) of patchbay and patchbay-bench in both
# formats, with its permissions, maps the names that differ by convention
# only, and fails on any other difference:
#   .deb                                   .rpm
#   /lib/systemd/system/X                  /usr/lib/systemd/system/X
#                                          (bookworm's unit folder)
#   /usr/share/man/.../X.gz                /usr/share/man/.../X (or .gz)
#   /usr/share/doc/P/X.gz                  /usr/share/doc/P/X
#                                          (dh_compress, brp-compress)
#   /usr/share/doc/P/copyright             /usr/share/licenses/P/COPYING
#   /usr/share/doc/P/changelog.Debian.gz   (none: the RPM's changelog is
#                                          in its header, rpm -q --changelog)
#   /usr/share/doc/patchbay/README.Debian  (none: notes on Debian's
#                                          maintainer scripts)
#   /usr/share/lintian/overrides/P         (none: Debian's package checker)
#   (none: in -dbgsym)                     /usr/lib/.build-id/... (links)
# and checks that both own the folder /etc/patchbay.
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 DEB-DIR RPM-DIR" >&2; exit 2; }
debdir=$1 rpmdir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

for p in patchbay patchbay-bench; do
	deb=$(ls "$debdir/${p}_"*.deb 2>/dev/null | head -n 1)
	rpm=$(ls "$rpmdir/$p-"[0-9]*.x86_64.rpm 2>/dev/null | head -n 1)
	[ -n "$deb" ] && [ -n "$rpm" ] || { echo "FAIL: $p: no .deb or no .rpm"; status=1; continue; }
	dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $1, $6 }' |
		sort -k2 >"$tmp/$p.deb"
	rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null |
		awk '$1 !~ /^d/' | sort -k2 >"$tmp/$p.rpm"
	# Each line: the mapped "perms name", a tab, the name in the package.
	sed -E -e 's|^(\S+) (.*)$|\1 \2\t\2|' \
		-e 's| /lib/systemd/system/([^\t]*\t)| /usr/lib/systemd/system/\1|' \
		-e 's|^(\S+ /usr/share/(man\|doc)/[^\t]*)\.gz\t|\1\t|' \
		-e "s| /usr/share/doc/$p/copyright\t| /usr/share/licenses/$p/COPYING\t|" \
		-e "\\| /usr/share/doc/$p/changelog\\.Debian\t|d" \
		-e "\\| /usr/share/doc/$p/README\\.Debian\t|d" \
		-e "\\| /usr/share/lintian/overrides/$p\t|d" \
		"$tmp/$p.deb" | sort -t"$(printf '\t')" -k1,1 >"$tmp/$p.deb.map"
	sed -E -e 's|^(\S+) (.*)$|\1 \2\t\2|' \
		-e 's|^(\S+ /usr/share/man/[^\t]*)\.gz\t|\1\t|' -e '\| /usr/lib/\.build-id/|d' \
		"$tmp/$p.rpm" | sort -t"$(printf '\t')" -k1,1 >"$tmp/$p.rpm.map"
	cut -f1 "$tmp/$p.deb.map" >"$tmp/$p.deb.mapped"
	cut -f1 "$tmp/$p.rpm.map" >"$tmp/$p.rpm.mapped"
	echo "--- $p: $(basename "$deb") | $(basename "$rpm")"
	join -t"$(printf '\t')" -a1 -a2 -e '(none)' -o 0,1.2,2.2 "$tmp/$p.deb.map" "$tmp/$p.rpm.map" |
		awk -F'\t' '{ split($1, m, " "); printf "  %s %-44s | %s\n", m[1], $2, $3 }'
	echo "  not compared, Debian's own: $(comm -23 <(awk '{print $2}' "$tmp/$p.deb" | sort) \
		<(cut -f2 "$tmp/$p.deb.map" | sort) | tr '\n' ' ')"
	echo "  not compared, RPM's own: $(grep -c ' /usr/lib/\.build-id/' "$tmp/$p.rpm") /usr/lib/.build-id links"
	if diff -u "$tmp/$p.deb.mapped" "$tmp/$p.rpm.mapped" >"$tmp/$p.diff"; then
		echo "ok: $p: the same $(wc -l <"$tmp/$p.deb.mapped") files with the same permissions, names aside"
	else
		echo "FAIL: $p: the files differ (- .deb, + .rpm, names mapped):"
		tail -n +3 "$tmp/$p.diff"
		status=1
	fi
done

debdirs=$(dpkg-deb -c "$debdir"/patchbay_*.deb)
rpmdirs=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpmdir"/patchbay-[0-9]*.x86_64.rpm 2>/dev/null)
grep -q ' \./etc/patchbay/$' <<<"$debdirs" && grep -q '^d.* /etc/patchbay$' <<<"$rpmdirs" &&
	echo "ok: both own the folder /etc/patchbay" ||
	{ echo "FAIL: /etc/patchbay is not owned by both"; status=1; }
[ $status -eq 0 ] && echo "PASS: the .deb and .rpm files install the same files"
exit $status
