# SPDX-License-Identifier: ISC
# packaging/lib.sh: shared by the packaging scripts (sourced, not run).
# Needs $top, the top of the source tree (a git checkout or an unpacked
# copy of one).

die() {
	echo "error: $*" >&2
	exit 1
}

# The version, from configure.ac's AC_INIT: the one place it is set.
configure_version() {
	sed -n 's/^AC_INIT(\[patchbay\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac"
}

# copy_tree DEST: the source tree, as git sees it (tracked files, and
# untracked ones that are not ignored), without anything built in it, so
# that a configured or half-built checkout still packages cleanly.
copy_tree() {
	local dest=$1
	mkdir -p "$dest"
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$top" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				# Files deleted in the work tree but still in the index.
				[ -e "$f" ] && printf '%s\0' "$f"
			done | tar --null -T - -cf -) | tar -xf - -C "$dest"
	else
		cp -a "$top/." "$dest/"
	fi
}

# make_dist DIR: makes the release tarball from a clean copy of the tree,
# with the project's own `make dist`, and prints its path.
make_dist() {
	local dir=$1 src=$1/src
	rm -rf "$src"
	copy_tree "$src" || die "cannot copy the source tree"
	(cd "$src" && ./autogen.sh && ./configure -q && make -s dist) >"$dir/dist.log" 2>&1 ||
		{ cat "$dir/dist.log" >&2; die "make dist failed (log above)"; }
	ls "$src"/patchbay-*.tar.gz
}
