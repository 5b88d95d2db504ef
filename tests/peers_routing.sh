#!/bin/bash
# SPDX-License-Identifier: ISC
# peers_routing.sh: the routing end-to-end tests (check_routing) against
# each Rust peer of the benchmarks (bench/peers), as reactor_routing.sh
# does for the reactor; then the protocol's edges that check_routing does
# not cover (a frame to an id never given or gone is dropped and the
# sender stays; ids are never reused; a payload of --max-frame bytes
# without its 0x00 ends the sender's connection, after the frames before
# it; SIGTERM ends the peer with status 0), and a few load generator
# scenarios, briefly, for correctness. A peer that forwards wrongly would
# make `make bench` measure a bug. Skipped (77) when no peer is built
# (configure did not find cargo and the crates); fails if only some are.
set -u
: "${abs_top_builddir:?run me through make check}"
dir=$abs_top_builddir/bench/peers/target/release
bench=$abs_top_builddir/bench/patchbay-bench
peers="mutex mutex-per-writer channels channel-per-writer select-reactor poll-reactor"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

built=0
for p in $peers; do
	[ -x "$dir/$p" ] && built=$((built + 1))
done
if [ "$built" -eq 0 ]; then
	echo "SKIP: no Rust peer in $dir (configure --with-rust-peers, make bench-peers)"
	exit 77
fi

# Starts peer $1 with the options after it; sets pid and port.
start() {
	local bin=$1 _
	shift
	: >"$log"
	"$bin" -l 127.0.0.1:0 "$@" 2>"$log" &
	pid=$!
	port=
	for _ in $(seq 200); do
		port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$log")
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "FAIL: $bin did not start"
	cat "$log"
	kill "$pid" 2>/dev/null
	return 1
}

# Reads N bytes from descriptor FD within 5 s; NULs shown as '|'.
get() { # FD N
	timeout 5 head -c "$2" <&"$1" | tr '\0' '|'
}

# Expects the next N bytes on FD to be WANT.
expect() { # WHAT FD N WANT
	local got
	got=$(get "$2" "$3")
	[ "$got" = "$4" ] && return 0
	echo "FAIL: $1: got '$got', not '$4'"
	return 1
}

# A client's id, as 4 decimal bytes.
id_of() { # FD
	timeout 5 head -c 4 <&"$1" | od -An -tu1 | tr -s ' ' | sed 's/^ //; s/ $//'
}

edges() { # BINARY
	local ok=0 id st
	start "$1" -f 64 || return 1
	exec 3<>"/dev/tcp/127.0.0.1/$port" 4<>"/dev/tcp/127.0.0.1/$port"
	id=$(id_of 3)
	[ "$id" = "0 0 0 0" ] || { echo "FAIL: first id '$id'"; ok=1; }
	id=$(id_of 4)
	[ "$id" = "0 0 0 1" ] || { echo "FAIL: second id '$id'"; ok=1; }
	# To id 7, never given: dropped; the sender stays and goes on.
	printf '\x00\x00\x00\x07lost\x00\x00\x00\x00\x01kept\x00' >&3
	expect "after a frame to an unknown id" 4 5 "kept|" || ok=1
	# B leaves: frames to its id are dropped, and C gets id 2, not 1.
	exec 4<&-
	sleep 0.2
	printf '\x00\x00\x00\x01anyone?\x00\x00\x00\x00\x00self\x00' >&3
	expect "after a frame to a departed id" 3 5 "self|" || ok=1
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	id=$(id_of 5)
	[ "$id" = "0 0 0 2" ] || { echo "FAIL: id after a departure '$id', not 0 0 0 2"; ok=1; }
	# 64 payload bytes and no 0x00 (-f 64): A is disconnected, the frame
	# before it delivered.
	printf '\x00\x00\x00\x02before\x00\x00\x00\x00\x02' >&3
	printf 'x%.0s' $(seq 64) >&3
	expect "the frame before a frame too long" 5 7 "before|" || ok=1
	if ! timeout 5 cat <&3 >/dev/null; then
		echo "FAIL: a frame longer than --max-frame did not end the connection"
		ok=1
	fi
	grep -q "client 0 protocol error: frame longer than 64 bytes" "$log" ||
		{ echo "FAIL: no protocol error logged"; ok=1; }
	# C still served.
	printf '\x00\x00\x00\x02still here\x00' >&5
	expect "a client beside the one disconnected" 5 11 "still here|" || ok=1
	exec 3<&- 5<&-
	kill -TERM "$pid"
	wait "$pid"
	st=$?
	[ "$st" -eq 0 ] || { echo "FAIL: exit status $st after SIGTERM"; ok=1; }
	[ "$ok" -eq 0 ] || cat "$log"
	return "$ok"
}

scenarios() { # BINARY
	local ok=0 sc extra
	start "$1" || return 1
	for sc in pingpong pairs fanin fanout churn scale; do
		extra=
		[ "$sc" = scale ] && extra="--clients 200"
		# shellcheck disable=SC2086
		if ! timeout 60 "$bench" --addr "127.0.0.1:$port" --scenario "$sc" \
			--smoke --server-pid "$pid" $extra >/dev/null; then
			echo "FAIL: patchbay-bench $sc"
			ok=1
		fi
	done
	kill -TERM "$pid"
	wait "$pid" || { echo "FAIL: exit status $? after SIGTERM"; ok=1; }
	return "$ok"
}

status=0
for p in $peers; do
	if [ ! -x "$dir/$p" ]; then
		echo "FAIL: $p is not built, though $built of the peers are"
		status=1
		continue
	fi
	if PATCHBAYD=$dir/$p "$abs_top_builddir/tests/check_routing"; then
		echo "ok: $p check_routing"
	else
		echo "FAIL: $p check_routing"
		status=1
	fi
	if edges "$dir/$p"; then echo "ok: $p edges"; else status=1; fi
	if scenarios "$dir/$p"; then echo "ok: $p scenarios"; else status=1; fi
done
exit $status
