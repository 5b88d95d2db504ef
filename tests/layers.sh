#!/bin/bash
# SPDX-License-Identifier: ISC
# layers.sh: the layering of src/ that the design promises, checked.
#
# 1. Each layer includes only its own headers and those of the layers
#    below it: core sees core; common sees common and core; the daemon's
#    data path sees daemon, common and core; the service around it sees
#    service, daemon, common and core; the reactor and patchbay-cat
#    (src/cat) see common and core.
# 2. No include circle: modules (a .c with its .h) ordered by who
#    includes whom form no loop (tsort finds any).
# 3. Nothing in the core makes a system call: every symbol that
#    libpbcore.a needs from outside is one of the C library's memory and
#    string functions (or a sanitizer's), never socket, poll, send, recv,
#    pthread_*, clock_gettime and the like.
set -u
src=${abs_top_srcdir:?run me through make check}/src
core_lib=${abs_top_builddir:?run me through make check}/src/core/libpbcore.a
status=0
fail() {
	echo "FAIL: $*"
	status=1
}

allowed() { # LAYER: the layers its files may include from
	case $1 in
	core) echo "core" ;;
	common) echo "common core" ;;
	daemon) echo "daemon common core" ;;
	link) echo "link daemon common core" ;;
	service) echo "service link daemon common core" ;;
	reactor) echo "reactor common core" ;;
	cat) echo "cat common core" ;;
	*) echo "" ;;
	esac
}

layer_of() { # HEADER: the layer whose folder has it, or nothing
	local l
	for l in core common daemon link service reactor cat; do
		[ -f "$src/$l/$1" ] && echo "$l" && return
	done
}

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for file in "$src"/*/*.[ch]; do
	layer=$(basename "$(dirname "$file")")
	mod="$layer/$(basename "${file%.[ch]}")"
	echo "$mod $mod" >>"$edges"
	while read -r hdr; do
		[ "$hdr" = config.h ] && continue
		to=$(layer_of "$hdr")
		if [ -z "$to" ]; then
			fail "${file#"$src"/} includes $hdr, which no layer has"
			continue
		fi
		case " $(allowed "$layer") " in
		*" $to "*) ;;
		*) fail "${file#"$src"/} ($layer) includes $to/$hdr" ;;
		esac
		[ "$to/${hdr%.h}" != "$mod" ] && echo "$mod $to/${hdr%.h}" >>"$edges"
	done < <(sed -n 's/^#include "\(.*\)"/\1/p' "$file")
done
if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
	fail "include circle:"
	cat "$edges.err"
fi
rm -f "$edges.err"
[ $status -eq 0 ] && echo "ok: $(sort -u "$edges" | wc -l) include edges between $(ls "$src"/*/*.[ch] | wc -l) files, layered, no circle"

[ -f "$core_lib" ] || fail "$core_lib not built"
defined=$(nm --defined-only "$core_lib" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u)
outside=$(nm -u "$core_lib" | awk 'NF == 2 {print $2}' | sort -u | comm -23 - <(echo "$defined"))
for sym in $outside; do
	case $sym in
	malloc | calloc | realloc | reallocarray | free | memchr | memrchr | bcmp | \
		memcpy | memmove | memset | memcmp | qsort | __errno_location | \
		__stack_chk_fail | __assert_fail) ;;
	__asan_* | __ubsan_* | __tsan_* | __sanitizer_* | __msan_*) ;;
	*) core_status=1 && fail "libpbcore.a calls $sym: the core makes no system call" ;;
	esac
done
[ -z "${core_status:-}" ] && echo "ok: libpbcore.a needs only $(echo "$outside" | grep -cvE '^__(asan|ubsan|tsan|sanitizer|msan)_') memory and string functions from outside"
exit $status
