#!/bin/bash
# SPDX-License-Identifier: ISC
# bench_smoke.sh: every patchbay-bench scenario, briefly, against both
# servers; then a few over a Unix socket and, where patchbayd and
# patchbay-bench have OpenSSL and there is an openssl command, over TLS
# with a client certificate. Correctness only (the load generator checks
# every message and exits non-zero on any error); speed is for `make
# bench`, never for tests.
set -u
top=${abs_top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
bench=$top/bench/patchbay-bench
log=$(mktemp)
dir=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$dir"' EXIT
status=0

# run_against NAME BINARY LISTENER PREFIX SCENARIOS [BENCH OPTIONS...]:
# starts BINARY -l LISTENER, takes what follows PREFIX in its "listening
# on" line as the --addr, and runs each scenario against it.
run_against() {
	local name=$1 binary=$2 listen=$3 prefix=$4 scenarios=$5
	local fifo=$log.fifo line addr= sc extra
	shift 5
	mkfifo "$fifo"
	"$binary" -l "$listen" "${daemon_args[@]}" 2>"$fifo" &
	pid=$!
	exec 3<"$fifo"
	rm -f "$fifo"
	# Wait (bounded) for the line that says where it listens.
	while IFS= read -r -t 10 line <&3; do
		echo "$line" >>"$log"
		case $line in
		"listening on $prefix"*) addr=${line#"listening on $prefix"} ;;
		esac
		[ -n "$addr" ] && break
	done
	cat <&3 >>"$log" &
	exec 3<&-
	if [ -z "$addr" ]; then
		echo "FAIL: $name did not start"; cat "$log"; status=1; return
	fi
	for sc in $scenarios; do
		extra=
		case $sc in
		idle | scale) extra="--clients 200" ;;
		esac
		# shellcheck disable=SC2086
		if "$bench" --addr "$addr" --scenario $sc --smoke \
			--server-pid $pid $extra "$@" >/dev/null; then
			echo "ok: $name $sc"
		else
			echo "FAIL: $name $sc"; status=1
		fi
	done
	kill -TERM $pid
	wait $pid || { echo "FAIL: $name exit status $?"; cat "$log"; status=1; }
}

all="pingpong pairs fanin fanout slow idle churn scale"
daemon_args=()
run_against patchbayd "$top/src/patchbayd" 127.0.0.1:0 "" "$all"
run_against reactor "$top/src/patchbay-reactor" 127.0.0.1:0 "" "$all"
run_against "patchbayd unix" "$top/src/patchbayd" "unix:$dir/pb.sock" \
	"" "pingpong pairs churn"

# TLS: a CA, a server certificate for 127.0.0.1, a client certificate.
if grep -q '^#define HAVE_OPENSSL 1' "$top/config.h" 2>/dev/null &&
	command -v openssl >/dev/null; then
	key='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'
	# shellcheck disable=SC2086
	if (cd "$dir" &&
		openssl req -x509 $key -keyout ca.key -out ca.crt -days 2 \
			-subj /CN=bench-ca &&
		printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext &&
		openssl req $key -keyout srv.key -out srv.csr -subj /CN=srv &&
		openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key \
			-CAcreateserial -out srv.crt -days 2 -extfile srv.ext &&
		openssl req $key -keyout cli.key -out cli.csr -subj /CN=bench &&
		openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key \
			-CAcreateserial -out cli.crt -days 2) >/dev/null 2>&1
	then
		daemon_args=(--tls-cert "$dir/srv.crt" --tls-key "$dir/srv.key"
			--tls-ca "$dir/ca.crt")
		run_against "patchbayd tls" "$top/src/patchbayd" \
			tls:127.0.0.1:0 tls: "pingpong pairs idle churn" \
			--tls-ca "$dir/ca.crt" --tls-cert "$dir/cli.crt" \
			--tls-key "$dir/cli.key"
	else
		echo "FAIL: cannot make the TLS certificates"; status=1
	fi
else
	echo "skipped: TLS (no OpenSSL, or no openssl command)"
fi
exit $status
