#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/cluster.sh: the cluster benchmark behind `make bench-cluster`.
#
# Starts three nats-servers in a cluster on loopback (each with a client
# port, a route port and an HTTP monitor port; ready once /healthz answers
# ok and /routez counts two routes), then runs each scenario, BENCH_REPS
# times, against four systems, alternated run by run:
#   cluster     BENCH_NODES patchbayd nodes (default 3), node i connected to
#               NATS server i first, then the others; patchbay-bench spreads
#               its clients over the nodes (--addr A,B,C: client i on node
#               i mod n), so the two of every pair are on different nodes;
#   one-node    one plain patchbayd (no --nats), the same load;
#   nats-alone  bench/nats-peer: the same job done by NATS clients directly
#               (each subscribed to its own subject, publishing to its
#               peer's), spread over the same NATS servers the same way,
#               each client on a NATS connection of its own, as separate
#               programs would be: the issue's comparison;
#   nats-shared the same with the clients sharing one NATS connection per
#               server (--connections), as a cluster's node shares its one
#               connection: one NATS message per message, but written to
#               the servers in the batches libnats's flusher makes. Not for
#               pingpong, whose two clients have a connection each anyway.
# The daemons are started afresh for every run (a cluster's nodes all at
# once, the clients let in only once every node has logged its link to
# every other up); the NATS servers stay up for the whole benchmark.
#
# Scenarios: pairs-64 (64 clients in pairs, 64 B, window 64), pingpong
# (one round trip at a time) and pairs-1000 (1,000 clients in pairs,
# window 8). Each NATS run takes whichever way of flushing was the faster
# for it on the 2-core development machine: libnats's default flusher,
# which coalesces publishes, for pairs-64 and nats-shared;
# natsOptions_SetSendAsap (--send-asap) for pingpong (the flusher adds
# about a millisecond per hop) and for nats-alone's pairs-1000 (a flusher
# thread per connection, 1,000 of them, cost more than they save: 2x
# slower). Goals (issue 15): the
# cluster's pairs-64 at least 1.5x NATS alone's messages per second, its
# pingpong round trip (median) at most 2x NATS alone's.
#
# Prints a markdown table (medians over the runs that passed, and the
# ratios cluster / one-node and cluster / NATS alone), also written to
# $BENCH_OUT/cluster.md, every run to $BENCH_OUT/cluster.csv, what the
# programs said to $BENCH_OUT/cluster.log. Exits 1 if a run failed its
# checks (shown in the table as what happened and how many of the runs).
#
# Environment:
#   BENCH_REPS=3          repetitions (medians)
#   BENCH_DURATION=3      measured seconds per run
#   BENCH_NODES=3         patchbayd nodes in the cluster: 2 or 3
#   BENCH_ONLY='pairs-64 pingpong'  only these scenarios (default all)
#   BENCH_OUT=DIR         where results go (default bench/results)
#   BENCH_BUILD=DIR       the build tree (default: the source tree)
#   BENCH_NATS_ARGS='--send-asap'  more nats-peer options, for every
#                         nats-alone run (see bench/nats-peer --help)
#   NATS_SERVER=PATH      the nats-server binary (default: from PATH)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$top}
bench=$build/bench/patchbay-bench
peer=$build/bench/nats-peer
daemon=$build/src/patchbayd
reps=${BENCH_REPS:-3}
dur=${BENCH_DURATION:-3}
nodes=${BENCH_NODES:-3}
out=${BENCH_OUT:-$top/bench/results}
nats_server=${NATS_SERVER:-$(command -v nats-server || true)}

if [ -z "$nats_server" ] || [ ! -x "$nats_server" ]; then
	echo "bench-cluster: no nats-server (Debian: apt-get install nats-server; or set NATS_SERVER)" >&2
	exit 2
fi
for p in "$bench" "$peer" "$daemon"; do
	if [ ! -x "$p" ]; then
		echo "bench-cluster: $p is not built (make bench-cluster builds it; nats-peer needs libnats)" >&2
		exit 2
	fi
done
case $nodes in
2 | 3) ;;
*)
	echo "bench-cluster: BENCH_NODES=$nodes: 2 or 3" >&2
	exit 2
	;;
esac
case $reps in
'' | *[!0-9]* | 0)
	echo "bench-cluster: BENCH_REPS=$reps: a positive number" >&2
	exit 2
	;;
esac

mkdir -p "$out"
csv=$out/cluster.csv
md=$out/cluster.md
log=$out/cluster.log
: >"$log"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pb-cluster.XXXXXX")
pids=() # everything started and still running

# stop_pid
. "$top/bench/lib.sh"

forget_pid() { # PID: no longer ours to stop
	local keep=() p
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local p
	for p in "${pids[@]}"; do
		stop_pid "$p"
	done
	pids=()
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000)) # below Linux's ephemeral range
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
			[[ " ${taken[*]} " != *" $p "* ]]; then
			taken+=("$p")
			echo "$p"
			return
		fi
	done
}

# GET http://127.0.0.1:PORT/PATH, the body on stdout (bash's /dev/tcp: no
# curl needed).
http_get() { # PORT PATH
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
		sed '1,/^\r\{0,1\}$/d' <&3
	) 2>/dev/null
}

# ---- the NATS cluster ----

taken=()
nports=() # client ports
rports=() # route ports
hports=() # monitor ports
for i in 1 2 3; do
	nports+=("$(free_port)")
	rports+=("$(free_port)")
	hports+=("$(free_port)")
done
routes=$(printf 'nats-route://127.0.0.1:%s, ' "${rports[@]}")
routes=${routes%, }
urls=()
for i in 0 1 2; do
	urls+=("nats://127.0.0.1:${nports[$i]}")
	cat >"$tmp/nats$((i + 1)).conf" <<EOF
server_name: pbbench-n$((i + 1))
listen: 127.0.0.1:${nports[$i]}
http: 127.0.0.1:${hports[$i]}
cluster {
  name: pbbench
  listen: 127.0.0.1:${rports[$i]}
  routes: [ $routes ]
}
EOF
	"$nats_server" -c "$tmp/nats$((i + 1)).conf" >"$tmp/nats$((i + 1)).log" 2>&1 &
	pids+=("$!")
	nats_pids+=("$!")
done

# Ready: every server healthy, with routes to the two others.
nats_ready() {
	local i
	for i in 0 1 2; do
		kill -0 "${nats_pids[$i]}" 2>/dev/null || return 2
		http_get "${hports[$i]}" /healthz | grep -q '"ok"' || return 1
		http_get "${hports[$i]}" /routez |
			grep -q '"num_routes": *2[,}]' || return 1
	done
}
ok=
for _ in $(seq 200); do
	rc=0
	nats_ready || rc=$?
	[ "$rc" = 0 ] && ok=1 && break
	[ "$rc" = 2 ] && break
	sleep 0.05
done
if [ -z "$ok" ]; then
	echo "bench-cluster: the NATS cluster did not come up (servers' logs follow)" >&2
	cat "$tmp"/nats*.log >&2
	exit 1
fi

# ---- the daemons ----

node_urls() { # I (1-based): its own server first, then the others
	local i=$1 j list=${urls[$(($1 - 1))]}
	for j in 1 2 3; do
		[ "$j" = "$i" ] || list="$list,${urls[$((j - 1))]}"
	done
	echo "$list"
}

# Starts the cluster's daemons and waits until each logs its links up;
# sets addrs (HOST:PORT,...) and dpids. 1 if they did not come up.
start_cluster() {
	local i j port all _
	dpids=()
	addrs=
	for i in $(seq "$nodes"); do
		rm -rf "$tmp/state$i"
		mkdir -p "$tmp/state$i"
		: >"$tmp/node$i.log"
		setsid "$daemon" --listen 127.0.0.1:0 --node-bits 4 --node "$i" \
			--state-dir "$tmp/state$i" --nats "$(node_urls "$i")" \
			2>"$tmp/node$i.log" &
		pids+=("$!")
		dpids+=("$!")
	done
	for _ in $(seq 300); do
		all=1
		for i in $(seq "$nodes"); do
			kill -0 "${dpids[$((i - 1))]}" 2>/dev/null || { all=; break 2; }
			grep -q '^listening on ' "$tmp/node$i.log" || all=
			for j in $(seq "$nodes"); do
				[ "$j" = "$i" ] && continue
				grep -q "^link $j: up" "$tmp/node$i.log" || all=
			done
		done
		[ -n "$all" ] && break
		sleep 0.05
	done
	if [ -z "$all" ]; then
		echo "bench-cluster: the cluster's links did not come up" >>"$log"
		stop_daemons
		return 1
	fi
	for i in $(seq "$nodes"); do
		port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/node$i.log" | head -1)
		addrs="$addrs${addrs:+,}127.0.0.1:$port"
	done
}

start_one() {
	local _ port
	: >"$tmp/one.log"
	setsid "$daemon" --listen 127.0.0.1:0 2>"$tmp/one.log" &
	pids+=("$!")
	dpids=("$!")
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/one.log")
		[ -n "$port" ] && addrs=127.0.0.1:$port && return 0
		kill -0 "${dpids[0]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench-cluster: one-node patchbayd did not start" >>"$log"
	stop_daemons
	return 1
}

stop_daemons() {
	local p f
	for p in "${dpids[@]}"; do
		stop_pid "$p"
		forget_pid "$p"
	done
	dpids=()
	for f in "$tmp"/node*.log "$tmp/one.log"; do
		[ -s "$f" ] && { echo "--- $(basename "$f")"; cat "$f"; } >>"$log"
		rm -f "$f"
	done
	return 0
}

# ---- the runs ----

# Scenarios: name|patchbay-bench's arguments|nats-peer's own for
# nats-alone|for nats-shared (-: not run).
shared="--connections $nodes"
scenarios=(
	"pairs-64|--scenario pairs --clients 64 --window 64 --size 64||$shared"
	"pingpong|--scenario pingpong --size 64|--send-asap|-"
	"pairs-1000|--scenario pairs --clients 1000 --window 8 --size 64|--send-asap|$shared"
)
if [ -n "${BENCH_ONLY:-}" ]; then
	picked=()
	for sc in "${scenarios[@]}"; do
		for want in $BENCH_ONLY; do
			[ "${sc%%|*}" = "$want" ] && picked+=("$sc")
		done
	done
	if [ "${#picked[@]}" -eq 0 ]; then
		echo "bench-cluster: BENCH_ONLY='$BENCH_ONLY' names no scenario" >&2
		exit 2
	fi
	scenarios=("${picked[@]}")
fi
systems=(cluster one-node nats-alone nats-shared)

field() { # field NAME JSON
	sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$2" | tr -d '"'
}

cols="msgs_per_s p50_us p99_us p999_us max_us"
echo "rep,system,scenario,ok,$(tr ' ' ',' <<<"$cols"),error" >"$csv"
cut=$((${dur%.*} + 60)) # seconds after which a run is killed
failed=0
nats_list=$(
	IFS=,
	echo "${urls[*]:0:$nodes}"
)

# Runs one scenario against one system; sets json, the report. Not in a
# subshell, so that what it starts is in pids, for the trap.
run_one() { # SYSTEM PB_ARGS PEER_ARGS
	json=
	case $1 in
	cluster | one-node)
		if [ "$1" = cluster ]; then
			start_cluster || { json='{"ok":false,"errors":["the cluster did not start"]}'; return; }
		else
			start_one || { json='{"ok":false,"errors":["patchbayd did not start"]}'; return; }
		fi
		# shellcheck disable=SC2086 # the arguments are words on purpose
		json=$(timeout -k 5 "$cut" "$bench" --addr "$addrs" $2 \
			--duration "$dur" --json 2>>"$log") || true
		stop_daemons
		;;
	nats-alone | nats-shared)
		# nats-peer takes patchbay-bench's options for these scenarios.
		# shellcheck disable=SC2086
		json=$(timeout -k 5 "$cut" "$peer" --nats "$nats_list" $2 $3 \
			${BENCH_NATS_ARGS:-} \
			--duration "$dur" --json 2>>"$log") || true
		;;
	esac
}

start=$(date +%s)
for rep in $(seq "$reps"); do
	for sc in "${scenarios[@]}"; do
		IFS='|' read -r name pbargs peerargs sharedargs <<<"$sc"
		for sys in "${systems[@]}"; do
			args=$peerargs
			if [ "$sys" = nats-shared ]; then
				[ "$sharedargs" = - ] && continue
				args=$sharedargs
			fi
			run_one "$sys" "$pbargs" "$args"
			ok=$(field ok "$json")
			err=
			if [ "$ok" != true ]; then
				ok=false
				failed=1
				err=$(sed -n 's/.*"errors":\["\([^"]*\).*/\1/p' <<<"$json")
				[ -n "$err" ] || err="no report"
			fi
			row="$rep,$sys,$name,$ok"
			for c in $cols; do
				row="$row,$(field "$c" "$json")"
			done
			echo "$row,\"${err//\"/\'}\"" >>"$csv"
			printf '%-3s %-11s %-10s %s\n' "$rep" "$sys" "$name" \
				"$(cut -d, -f4-9 <<<"$row")"
		done
	done
done
elapsed=$(($(date +%s) - start))

# Median of a column for one system and scenario, over the runs that
# passed.
median() { # SYSTEM SCENARIO COLUMN
	awk -F, -v s="$1" -v n="$2" -v c="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
		$2 == s && $3 == n && $4 == "true" && $col != "" { print $col }' "$csv" |
		sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) print ""
			else if (NR % 2) print v[(NR + 1) / 2]
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# A cell: "failed 2/3" if runs failed, else the median ("-": not run).
cell() { # SYSTEM SCENARIO COLUMN
	local bad
	bad=$(awk -F, -v s="$1" -v n="$2" '
		$2 == s && $3 == n { all++; if ($4 != "true") bad++ }
		END { if (bad) printf "failed %d/%d", bad, all }' "$csv")
	if [ -n "$bad" ]; then
		echo "**$bad**"
	else
		fmt "$(median "$1" "$2" "$3")"
	fi
}

fmt() {
	awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 1000000) printf "%.2fM", v / 1e6; else if (v >= 10000) printf "%.0fk", v / 1e3; else printf "%.1f", v }'
}

ratio() { # SCENARIO COLUMN OTHER-SYSTEM
	awk -v a="$(median cluster "$1" "$2")" -v b="$(median "$3" "$1" "$2")" \
		'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'
}

# Rows: scenario|column|what|goal (on cluster / NATS alone).
rows=(
	"pairs-64|msgs_per_s|pairs, 64 clients, 64 B, window 64: msgs/s|>= 1.5"
	"pairs-64|p50_us|  latency p50 (us)|"
	"pairs-64|p99_us|  latency p99 (us)|"
	"pingpong|msgs_per_s|pingpong: round trips/s|"
	"pingpong|p50_us|  RTT p50 (us)|<= 2"
	"pingpong|p99_us|  RTT p99 (us)|"
	"pingpong|p999_us|  RTT p99.9 (us)|"
	"pingpong|max_us|  RTT max (us)|"
	"pairs-1000|msgs_per_s|pairs, 1,000 clients, window 8: msgs/s|"
	"pairs-1000|p50_us|  latency p50 (us)|"
	"pairs-1000|p99_us|  latency p99 (us)|"
)

ran() {
	local sc
	for sc in "${scenarios[@]}"; do
		[ "${sc%%|*}" = "$1" ] && return 0
	done
	return 1
}

{
	echo "# patchbay cluster benchmark: $nodes nodes over 3 NATS servers, against one node and NATS alone"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $reps runs per cell, ${dur}s each, systems alternated run by run; medians of the runs that passed."
	echo "- machine: $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r); $("$nats_server" --version 2>/dev/null | head -1), everything on loopback."
	echo "- cluster: $nodes patchbayd nodes (--node-bits 4), node i on NATS server i first; patchbay-bench's client i on node i mod $nodes, so every pair and the pingpong cross nodes."
	echo "- one-node: one patchbayd without --nats; nats-alone: bench/nats-peer, a NATS connection per client, client i on server i mod $nodes (pairs-64: libnats's default flusher; pingpong, pairs-1000: --send-asap); nats-shared: the same clients sharing one connection per server (--connections $nodes, default flusher)."
	echo "- latency: one way for pairs (send to receipt, queueing included), the round trip for pingpong. Whole run: ${elapsed}s; command: \`make bench-cluster\`."
	echo
	echo "| scenario | cluster | one node | NATS alone | NATS shared | cluster / one node | cluster / NATS alone | cluster / NATS shared | goal (cluster / NATS alone) |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for r in "${rows[@]}"; do
		IFS='|' read -r name col what goal <<<"$r"
		ran "$name" || continue
		echo "| $what | $(cell cluster "$name" "$col") | $(cell one-node "$name" "$col") | $(cell nats-alone "$name" "$col") | $(cell nats-shared "$name" "$col") | $(ratio "$name" "$col" one-node) | $(ratio "$name" "$col" nats-alone) | $(ratio "$name" "$col" nats-shared) | $goal |"
	done
	if [ "$failed" -ne 0 ]; then
		echo
		echo "Failed runs, the first error of each (all in cluster.log):"
		echo
		awk -F, 'NR > 1 && $4 != "true" && !seen[$2 "," $3]++ {
			e = $0; sub(/^([^,]*,){9}/, "", e)
			printf "- %s, %s: %s\n", $2, $3, e }' "$csv"
	fi
} >"$md"
cat "$md"
exit "$failed"
