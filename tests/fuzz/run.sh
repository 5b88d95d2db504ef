#!/bin/bash
# SPDX-License-Identifier: ISC
# run.sh: builds each fuzz target of tests/fuzz with clang's libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer (every report fatal), and
# runs it for a while, seeded from a copy of its corpus in a scratch
# directory: the source tree is never written to. `make fuzz` runs it;
# it needs no configured tree (without --config, a config.h of its own
# asks for what the code needs, _GNU_SOURCE and a PACKAGE_VERSION).
#
#   run.sh [--seconds N] [--config DIR] [--artifacts DIR] [--cc CLANG]
#          [--keep] [TARGET[:SECONDS] ...]
#
# TARGET is frame, route, outbox_park, deliver, engine, envelope or
# handover (default: all, envelope and handover for 20 s only: each checks
# one small function of a few hundred lines, and its inputs are short);
# TARGET:SECONDS runs that one for SECONDS instead of --seconds. The core's
# targets are built with src/core; handover, whose pb_handover_check is
# the daemon's, with src/daemon and src/common too (with OpenSSL where
# --config's config.h says HAVE_OPENSSL), from archives, so that only
# what it uses is linked.
# A crash, a leak, a timeout or an out-of-memory is a failure: the input that
# did it is saved in the artifacts directory (default: in the scratch
# directory, which is then kept), the end of the log is shown, and the exit
# status is 1. Each target says how many inputs it ran, and how fast.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
config=
artifacts=
cc=${CLANG:-clang}
keep=false
targets=()

while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--config) config=$2; shift 2 ;;
	--artifacts) artifacts=$2; shift 2 ;;
	--cc) cc=$2; shift 2 ;;
	--keep) keep=true; shift ;;
	-h | --help) sed -n '3,24p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] ||
	targets=(frame route outbox_park deliver engine envelope:20 handover:20)
case $seconds in
'' | *[!0-9]*) echo "run.sh: --seconds wants a number, not '$seconds'" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-fuzz.XXXXXX") || exit 1
cleanup() {
	if $keep; then
		echo "run.sh: scratch directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
[ -n "$artifacts" ] || artifacts=$work/artifacts
mkdir -p "$artifacts" || exit 1
artifacts=$(cd "$artifacts" && pwd)

if [ -z "$config" ]; then
	config=$work/config
	mkdir -p "$config" &&
		printf '/* run.sh: what the code needs of config.h */\n#define _GNU_SOURCE 1\n#define PACKAGE_VERSION "fuzz"\n' \
			>"$config/config.h" || exit 1
elif [ ! -f "$config/config.h" ]; then
	echo "run.sh: no config.h in $config" >&2
	exit 2
fi

if ! command -v "$cc" >/dev/null; then
	echo "run.sh: $cc not found: the fuzz targets need clang with libFuzzer (Debian: apt-get install clang)" >&2
	exit 1
fi
flags=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=all -I"$config" -I"$top/src/core")
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d[0] & (int)n; }' \
	>"$work/probe.c"
if ! "$cc" "${flags[@]}" "$work/probe.c" -o "$work/probe" 2>"$work/probe.log"; then
	echo "run.sh: $cc cannot build with -fsanitize=fuzzer:" >&2
	cat "$work/probe.log" >&2
	exit 1
fi

# The layers above the core that a target links, from the top.
layers_of() {
	case $1 in
	handover) echo "daemon common" ;;
	esac
}

# Builds target t from src, with the layers it needs above the core, into
# bin; its compiler's output in log.
build() {
	local t=$1 src=$2 bin=$3 log=$4 layers l f obj libs=() inc=() extra=()
	layers=$(layers_of "$t")
	if [ -z "$layers" ]; then
		"$cc" "${flags[@]}" "$src" "$top"/src/core/*.c -o "$bin" >"$log" 2>&1
		return
	fi
	for l in $layers; do
		inc+=(-I"$top/src/$l")
	done
	if grep -q '^#define HAVE_OPENSSL' "$config/config.h"; then
		extra=(-lssl -lcrypto)
	fi
	: >"$log"
	for l in $layers core; do
		mkdir -p "$work/obj/$t/$l" || return 1
		for f in "$top/src/$l"/*.c; do
			case ${f##*/} in
			tls.c) [ ${#extra[@]} -gt 0 ] || continue ;;
			tls_none.c) [ ${#extra[@]} -eq 0 ] || continue ;;
			esac
			obj=$work/obj/$t/$l/$(basename "$f" .c).o
			"$cc" "${flags[@]}" "${inc[@]}" -pthread -c "$f" -o "$obj" \
				>>"$log" 2>&1 || return 1
		done
		ar rcs "$work/obj/$t/lib$l.a" "$work/obj/$t/$l"/*.o >>"$log" 2>&1 ||
			return 1
		libs+=("$work/obj/$t/lib$l.a")
	done
	"$cc" "${flags[@]}" "${inc[@]}" -pthread "$src" "${libs[@]}" \
		"${extra[@]}" -o "$bin" >>"$log" 2>&1
}

status=0
for t in "${targets[@]}"; do
	secs=$seconds
	case $t in
	*:*) secs=${t#*:} t=${t%%:*} ;;
	esac
	case $secs in
	'' | *[!0-9]*) echo "run.sh: $t: seconds must be a number, not '$secs'" >&2
		status=1
		continue ;;
	esac
	src=$here/fuzz_$t.c
	if [ ! -f "$src" ] || [ ! -d "$here/corpus/$t" ]; then
		echo "run.sh: no target $t (no $src or corpus/$t)" >&2
		status=1
		continue
	fi
	bin=$work/fuzz_$t
	log=$work/$t.log
	if ! build "$t" "$src" "$bin" "$log"; then
		echo "FAIL: $t does not build:"
		cat "$log"
		status=1
		continue
	fi
	# The seeds, copied: what libFuzzer finds goes there, not into the
	# source tree.
	mkdir -p "$work/corpus/$t" && cp "$here/corpus/$t"/* "$work/corpus/$t/" &&
		chmod -R u+w "$work/corpus/$t"
	ASAN_OPTIONS=${ASAN_OPTIONS-abort_on_error=0:detect_leaks=1} \
		"$bin" -max_total_time="$secs" -max_len=16384 -timeout=30 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$t-" "$work/corpus/$t" \
		>"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	found=$(find "$work/corpus/$t" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		echo "ok: $t: ${runs:-?} inputs in ${secs} s (${speed:-?}/s), corpus of $found"
	else
		echo "FAIL: $t (exit $rc) after ${runs:-?} inputs; the end of its log:"
		tail -n 60 "$log"
		echo "FAIL: $t: the input is in $artifacts:"
		ls -l "$artifacts" | grep -F -- "$t-" || true
		status=1
		[ "$artifacts" = "$work/artifacts" ] && keep=true
	fi
done
# Nothing found: no empty artifacts directory left behind.
rmdir "$artifacts" 2>/dev/null
exit $status
