#!/bin/bash
# SPDX-License-Identifier: ISC
# bench_smoke.sh: every patchbay-bench scenario, briefly, against both
# servers. Correctness only (the load generator checks every message and
# exits non-zero on any error); speed is for `make bench`, never for tests.
set -u
top=${abs_top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
bench=$top/bench/patchbay-bench
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

run_against() { # NAME BINARY
	local fifo=$log.fifo line port=
	mkfifo "$fifo"
	"$2" -l 127.0.0.1:0 2>"$fifo" &
	pid=$!
	exec 3<"$fifo"
	rm -f "$fifo"
	# Wait (bounded) for the line that says which port it got.
	while IFS= read -r -t 10 line <&3; do
		echo "$line" >>"$log"
		port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' <<<"$line")
		[ -n "$port" ] && break
	done
	cat <&3 >>"$log" &
	exec 3<&-
	if [ -z "$port" ]; then
		echo "FAIL: $1 did not start"; cat "$log"; status=1; return
	fi
	for sc in pingpong pairs fanin fanout slow idle churn scale; do
		extra=
		case $sc in
		idle | scale) extra="--clients 200" ;;
		esac
		# shellcheck disable=SC2086
		if "$bench" --addr "127.0.0.1:$port" --scenario $sc --smoke \
			--server-pid $pid $extra >/dev/null; then
			echo "ok: $1 $sc"
		else
			echo "FAIL: $1 $sc"; status=1
		fi
	done
	kill -TERM $pid
	wait $pid || { echo "FAIL: $1 exit status $?"; cat "$log"; status=1; }
}

run_against patchbayd "$top/src/patchbayd"
run_against reactor "$top/src/patchbay-reactor"
exit $status
