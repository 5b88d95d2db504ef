#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/run.sh: the side-by-side benchmark behind `make bench`.
#
# Runs every scenario of patchbay-bench against patchbayd and
# patchbay-reactor, the Rust peers that are built (bench/peers, `make
# bench-peers`) and any server named in BENCH_EXTRA, alternating the
# servers run by run, BENCH_REPS times, each run against a freshly started
# server. A run of a peer that fails the load generator's checks (a stall,
# a loss, a message misrouted) is shown in the tables as such, with the
# first error under them, and does not fail the whole benchmark; a failed
# run of patchbayd, the reactor or an extra server does. Writes bench/results/latest.md (medians, and the ratio
# patchbayd / reactor), bench/results/latest.csv (every run) and, where
# gnuplot is installed, bench/results/latest.png.
#
# With the server's pid, patchbay-bench also reports what the server spent
# in the measured time; a second table gives, for every scenario, its CPU
# seconds per million messages and context switches per 1,000 messages.
#
# Environment:
#   BENCH_REPS=3          repetitions (at least 3 for a median)
#   BENCH_DURATION=2      measured seconds per run
#   BENCH_EXTRA='name=cmd {port}'   more servers, separated by ';'
#   BENCH_PEERS='mutex poll-reactor'  the Rust peers to run (default: all
#                         that are built; empty: none)
#   BENCH_OUT=DIR         where results go (default bench/results)
#   BENCH_BUILD=DIR       the build tree (default: the source tree)
#   BENCH_ONLY='pairs-64 churn'     only these scenarios (default all)
#   BENCH_PIN=1           pinned mode (`make bench-pinned`): the server
#                         runs under `taskset -c $BENCH_SERVER_CPUS`
#                         (default 0), the load generator under
#                         `taskset -c $BENCH_CLIENT_CPUS` (default 1), so
#                         that neither takes the other's CPU and the cost
#                         per message is the server's alone
#   BENCH_STRACE=1        then one more short run of pairs-64 (1 s) per
#                         server under `strace -c -f -p PID`, attached after
#                         the server starts and detached at the end: the
#                         system calls per message, top 5 by name, appended
#                         to latest.md (skipped, with a note, without strace)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$top}
bench=$build/bench/patchbay-bench
reps=${BENCH_REPS:-3}
dur=${BENCH_DURATION:-2}
out=${BENCH_OUT:-$top/bench/results}
mkdir -p "$out"
pin=${BENCH_PIN:-0}
srv_pin=()
cli_pin=()
if [ "$pin" = 1 ]; then
	scpus=${BENCH_SERVER_CPUS:-0}
	ccpus=${BENCH_CLIENT_CPUS:-1}
	if ! command -v taskset >/dev/null; then
		echo "bench: BENCH_PIN=1 needs taskset (util-linux)" >&2
		exit 2
	fi
	for c in "$scpus" "$ccpus"; do
		if ! taskset -c "$c" true 2>/dev/null; then
			echo "bench: cannot pin to CPUs '$c' (this machine has $(nproc))" >&2
			exit 2
		fi
	done
	srv_pin=(taskset -c "$scpus")
	cli_pin=(taskset -c "$ccpus")
fi
csv=$out/latest.csv
md=$out/latest.md
log=$out/latest.log
: >"$log"
slog=$(mktemp)
trap 'rm -f "$slog"' EXIT

# Servers: name and command. Ours listen on port 0 and log the port they
# got; {port} in an extra server's command is replaced by a free port.
# shellcheck source=bench/servers.sh
. "$top/bench/servers.sh"
bench_servers bench
if [ -n "${BENCH_EXTRA:-}" ]; then
	IFS=';' read -ra extras <<<"$BENCH_EXTRA"
	for e in "${extras[@]}"; do
		servers+=("${e%%=*}")
		cmd[${e%%=*}]=${e#*=}
	done
fi

# Scenarios: name, then patchbay-bench arguments.
scenarios=(
	"pingpong|--scenario pingpong"
	"pairs-64|--scenario pairs --clients 64 --window 64 --size 64"
	"pairs-4k|--scenario pairs --clients 64 --window 16 --size 4096"
	"fanin|--scenario fanin --clients 16 --window 64"
	"fanout|--scenario fanout --clients 16 --window 1024"
	"slow|--scenario slow --clients 64 --window 64 --size 64 --rate 128000"
	"idle|--scenario idle --clients 10000"
	"churn|--scenario churn --clients 8"
	"scale|--scenario scale --clients 10000 --window 8"
	"sweep-2|--scenario pairs --clients 2 --window 8"
	"sweep-10|--scenario pairs --clients 10 --window 8"
	"sweep-100|--scenario pairs --clients 100 --window 8"
	"sweep-1000|--scenario pairs --clients 1000 --window 8"
	"sweep-5000|--scenario pairs --clients 5000 --window 8"
)
if [ -n "${BENCH_ONLY:-}" ]; then
	picked=()
	for sc in "${scenarios[@]}"; do
		for want in $BENCH_ONLY; do
			[ "${sc%%|*}" = "$want" ] && picked+=("$sc")
		done
	done
	if [ "${#picked[@]}" -eq 0 ]; then
		echo "bench: BENCH_ONLY='$BENCH_ONLY' names no scenario" >&2
		exit 2
	fi
	scenarios=("${picked[@]}")
fi

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000)) # below Linux's ephemeral range
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# Starts server $1; sets spid and sport.
start_server() {
	local _
	sport=$(free_port)
	# In a session of its own, as a service would be in a cgroup of its
	# own: the scheduler then shares the CPUs fairly between the server
	# and the load generator, whatever the server's thread count.
	# Emptied here, not only by the child's redirection, which may come
	# after the first look for the port below: that look would find the
	# last server's port.
	: >"$slog"
	# shellcheck disable=SC2086 # the command is words on purpose
	setsid "${srv_pin[@]}" ${cmd[$1]//\{port\}/$sport} 2>"$slog" &
	spid=$!
	for _ in $(seq 100); do
		if [[ ${cmd[$1]} == *" -l 127.0.0.1:0" ]]; then
			sport=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$slog")
			[ -n "$sport" ] && return 0
		elif (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null; then
			return 0
		fi
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$spid" 2>/dev/null
	cat "$slog" >>"$log"
	echo "bench: server $1 did not start" >&2
	return 1
}

stop_server() {
	kill -TERM "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	cat "$slog" >>"$log"
}

field() { # field NAME JSON
	sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$2" | tr -d '"'
}

cols="msgs_per_s mib_per_s p50_us p99_us p999_us max_us rss_end_kib rss_peak_kib threads_end bytes_per_conn conns_per_s"
cols="$cols server_cpu_s server_cpu_util server_vcsw server_nvcsw server_syscr server_syscw server_cpu_us_per_msg server_csw_per_kmsg"
echo "rep,server,scenario,ok,$(tr ' ' ',' <<<"$cols"),failure" >"$csv"
failed=0
cut=$((${dur%.*} + 60)) # seconds after which a run is killed
declare -A why=() # SERVER|SCENARIO: the first error of its failed runs

# What went wrong in a failed run, in a word, from the load generator's
# first error.
failure_kind() { # ERROR
	case $1 in
	"") echo "no report" ;;
	*"did not start"*) echo "no start" ;;
	*"no progress for"*) echo "stalled" ;;
	*"meant for another client"*) echo "misrouted" ;;
	*"lost, duplicated or reordered"*) echo "reordered" ;;
	*" sent, "*" received"*) echo "lost" ;;
	*"gave id"*"two clients"*) echo "id reused" ;;
	*"closed the connection"*) echo "disconnected" ;;
	*" received "*) echo "corrupted" ;;
	*) echo "failed" ;;
	esac
}

# Notes a failed run: sets kind, the word for the CSV, and keeps the
# error for the notes.
failed_run() { # SERVER SCENARIO ERROR
	kind=$(failure_kind "$3")
	[ -n "${why[$1|$2]+set}" ] || why[$1|$2]="$kind: ${3:0:240}"
	is_peer "$1" || failed=1
}
start=$(date +%s)
for rep in $(seq "$reps"); do
	for sc in "${scenarios[@]}"; do
		name=${sc%%|*}
		args=${sc#*|}
		for srv in "${servers[@]}"; do
			if ! start_server "$srv"; then
				failed_run "$srv" "$name" "did not start"
				echo "$rep,$srv,$name,false$(printf ',%.0s' $cols),$kind" >>"$csv"
				continue
			fi
			# shellcheck disable=SC2086
			json=$(timeout -k 5 "$cut" "${cli_pin[@]}" "$bench" \
				--addr "127.0.0.1:$sport" $args \
				--duration "$dur" --server-pid "$spid" --json \
				2>>"$log") || true
			stop_server
			kind=
			if [ "$(field ok "$json")" != true ]; then
				err=$(sed -n 's/.*"errors":\["\([^"]*\).*/\1/p' <<<"$json")
				failed_run "$srv" "$name" "$err"
			fi
			row="$rep,$srv,$name,$(field ok "$json")"
			for c in $cols; do
				row="$row,$(field "$c" "$json")"
			done
			echo "$row,$kind" >>"$csv"
			printf '%-3s %-10s %-11s %s\n' "$rep" "$srv" "$name" \
				"$(cut -d, -f4,5,7,8 <<<"$row")"
		done
	done
done
elapsed=$(($(date +%s) - start))
command="make bench"
[ "$pin" = 1 ] && command="make bench-pinned"
[ -n "${BENCH_ONLY:-}" ] && command="BENCH_ONLY='$BENCH_ONLY' $command"

# The strace step: pairs-64 for 1 s per server, strace attached to the
# running server before the load starts and detached once it ends, so that
# it sees every message of the run (received_total).
strace_one() { # strace_one SERVER; prints a markdown row
	local sout serr stpid json msgs rc=0 _
	start_server "$1" || { echo "| $1 | did not start | | |"; return 1; }
	sout=$(mktemp)
	serr=$(mktemp)
	strace -c -f -o "$sout" -p "$spid" 2>"$serr" &
	stpid=$!
	for _ in $(seq 100); do
		grep -q attached "$serr" && break
		kill -0 "$stpid" 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q attached "$serr"; then
		kill -INT "$stpid" 2>/dev/null || true
		wait "$stpid" 2>/dev/null || true
		stop_server
		echo "| $1 | strace could not attach: $(head -1 "$serr") | | |"
		rm -f "$sout" "$serr"
		return 0
	fi
	# shellcheck disable=SC2086
	json=$("${cli_pin[@]}" "$bench" --addr "127.0.0.1:$sport" \
		${strace_args} --duration 1 --json 2>>"$log") || rc=1
	kill -INT "$stpid" 2>/dev/null || true
	wait "$stpid" 2>/dev/null || true
	stop_server
	msgs=$(field received_total "$json")
	awk -v s="$1" -v m="${msgs:-0}" '
		/^------/ { part++; next }
		part == 1 { n[$NF] = $4; total += $4 }
		END {
			if (m == 0 || total == 0) {
				printf "| %s | no messages, or no strace summary | | |\n", s
				exit
			}
			top = ""
			for (k = 0; k < 5; k++) {
				best = ""
				for (c in n)
					if (best == "" || n[c] + 0 > n[best] + 0)
						best = c
				if (best == "")
					break
				top = top (k ? ", " : "") sprintf("%s %.3f", best, n[best] / m)
				delete n[best]
			}
			printf "| %s | %d | %.3f | %s |\n", s, m, total / m, top
		}' "$sout"
	rm -f "$sout" "$serr"
	return "$rc"
}

strace_md=
if [ "${BENCH_STRACE:-0}" = 1 ]; then
	strace_args="--scenario pairs --clients 64 --window 64 --size 64"
	nl=$'\n'
	strace_md="System calls per message (\`strace -c -f -p PID\`, pairs-64, 1 s, the load slowed by strace; messages: all the run received):$nl$nl"
	if command -v strace >/dev/null; then
		strace_md+="| server | messages | syscalls/msg | top 5 (calls/msg) |$nl|---|---|---|---|"
		for srv in "${servers[@]}"; do
			row=$(strace_one "$srv") || failed=1
			strace_md+="$nl$row"
		done
	else
		strace_md+="strace is not installed: skipped."
	fi
fi

# The versions the peers were built with, from cargo's files.
tokio_version() {
	sed -n '/^name = "tokio"$/{n;s/^version = "\(.*\)"$/\1/p;}' \
		"$build/bench/peers/Cargo.lock" 2>/dev/null | head -1
}
rustc_version() {
	grep -o 'rustc [0-9][0-9.]*' "$build/bench/peers/target/.rustc_info.json" \
		2>/dev/null | head -1 | cut -d' ' -f2
}

ran() { # ran SCENARIO: was it run (BENCH_ONLY)?
	local sc
	for sc in "${scenarios[@]}"; do
		[ "${sc%%|*}" = "$1" ] && return 0
	done
	return 1
}

# Median of a column for one server and scenario, over the runs that
# passed.
median() { # median SERVER SCENARIO COLUMN
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

# A cell: the failure of the server's runs of the scenario, if one failed
# ("stalled 2/3": two of three), else the median, formatted by FMT.
cell() { # SERVER SCENARIO COLUMN FMT
	local bad
	bad=$(awk -F, -v s="$1" -v n="$2" '
		$2 == s && $3 == n { all++; if ($4 != "true") { bad++; if (w == "") w = $NF } }
		END { if (bad) printf "%s %d/%d", w, bad, all }' "$csv")
	if [ -n "$bad" ]; then
		echo "**$bad**"
	else
		"$4" "$(median "$1" "$2" "$3")"
	fi
}

# CPU and context switches per message, every scenario but idle.
cost_table() {
	local name hdr sep line srv col
	echo
	echo "Server cost per message (from /proc/PID: CPU s per million messages, context switches per 1,000 messages; churn: per connection, and a thread-per-client server's switches undercounted, its exiting threads taking theirs along):"
	echo
	hdr="| scenario |"
	sep="|---|"
	for col in "CPU s/M msgs" "csw/k msgs"; do
		for srv in "${servers[@]}"; do
			hdr="$hdr $col $srv |"
			sep="$sep---|"
		done
		hdr="$hdr ratio |"
		sep="$sep---|"
	done
	echo "$hdr"
	echo "$sep"
	for sc in "${scenarios[@]}"; do
		name=${sc%%|*}
		[ "$name" = idle ] && continue
		line="| $name |"
		for col in server_cpu_us_per_msg server_csw_per_kmsg; do
			for srv in "${servers[@]}"; do
				line="$line $(cell "$srv" "$name" "$col" fmt3) |"
			done
			line="$line $(ratio "$(median patchbayd "$name" "$col")" "$(median reactor "$name" "$col")") |"
		done
		echo "$line"
	done
}

# Small figures keep three significant digits.
fmt3() {
	awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 100) printf "%.0f", v; else printf "%.3g", v }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'
}

fmt() {
	awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 1000000) printf "%.2fM", v / 1e6; else if (v >= 10000) printf "%.0fk", v / 1e3; else printf "%.1f", v }'
}

# Rows: scenario, column, what it means, target (ratio patchbayd/reactor).
rows=(
	"pingpong|msgs_per_s|round trips/s|"
	"pingpong|p50_us|p50 latency (us)|<= 1.1"
	"pairs-64|msgs_per_s|64 clients, 64 B, window 64: msgs/s|>= 1.0"
	"pairs-64|p99_us|  p99 latency (us)|<= 1.5"
	"pairs-4k|mib_per_s|64 clients, 4 KiB, window 16: MiB/s|>= 1.0"
	"sweep-1000|msgs_per_s|1,000 clients, window 8: msgs/s|>= 0.8"
	"fanin|msgs_per_s|16 to 1: msgs/s|"
	"fanout|msgs_per_s|1 to 16: msgs/s|"
	"slow|msgs_per_s|slow: healthy pairs' msgs/s|"
	"slow|rss_peak_kib|  server RSS (KiB)|"
	"idle|bytes_per_conn|10,000 idle: bytes per client|"
	"idle|rss_end_kib|  server RSS (KiB)|"
	"churn|conns_per_s|churn: connections/s|"
	"scale|msgs_per_s|10,000 clients, 1% active: msgs/s|"
	"scale|p99_us|  p99 latency (us)|"
)

{
	if [ "${#peers[@]}" -gt 0 ]; then
		echo "# patchbay benchmark: patchbayd against the reactor and the Rust peers"
	else
		echo "# patchbay benchmark: patchbayd against the reactor"
	fi
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $reps runs per cell, ${dur}s each, servers alternated run by run; medians."
	echo "- machine: $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r)."
	if [ "$pin" = 1 ]; then
		echo "- pinned: the server runs under \`taskset -c $scpus\`, the load generator (patchbay-bench, 1 thread) under \`taskset -c $ccpus\`; each server runs in a session of its own (setsid)."
	else
		echo "- the load generator (patchbay-bench, 1 thread) runs on the same cores as the server it measures; each server runs in a session of its own (setsid), so the kernel's autogroup scheduling shares the CPUs fairly between server and load generator, as cgroups do for a service."
	fi
	[ "${#peers[@]}" -gt 0 ] &&
		echo "- the Rust peers (bench/peers, tokio $(tokio_version), rustc $(rustc_version), their own threads: tokio's default, one per CPU they may run on): ${peers[*]}; a failed run shows as what happened and how many of the runs, its error below."
	echo "- ratio = patchbayd / reactor; whole run: ${elapsed}s; command: \`$command\`."
	echo
	hdr="| scenario |"
	sep="|---|"
	for srv in "${servers[@]}"; do
		hdr="$hdr $srv |"
		sep="$sep---|"
	done
	echo "$hdr ratio | target |"
	echo "$sep---|---|"
	for r in "${rows[@]}"; do
		IFS='|' read -r name col what target <<<"$r"
		ran "$name" || continue
		line="| $what |"
		for srv in "${servers[@]}"; do
			line="$line $(cell "$srv" "$name" "$col" fmt) |"
		done
		line="$line $(ratio "$(median patchbayd "$name" "$col")" "$(median reactor "$name" "$col")") | $target |"
		echo "$line"
	done
	sm=$(median patchbayd slow msgs_per_s)
	pm=$(median patchbayd pairs-64 msgs_per_s)
	ran slow && ran pairs-64 && echo &&
	echo "slow / pairs-64 for patchbayd: $(ratio "$sm" "$pm") (target >= 0.95); for the reactor: $(ratio "$(median reactor slow msgs_per_s)" "$(median reactor pairs-64 msgs_per_s)")."
	cost_table
	if [ "${#why[@]}" -gt 0 ]; then
		echo
		echo "Failed runs, the first error of each server and scenario (the load generator's own words; all in latest.log):"
		echo
		for srv in "${servers[@]}"; do
			for sc in "${scenarios[@]}"; do
				[ -n "${why[$srv|${sc%%|*}]+set}" ] &&
					echo "- $srv, ${sc%%|*}: ${why[$srv|${sc%%|*}]}"
			done
		done
	fi
	[ -n "$strace_md" ] && printf '\n%s\n' "$strace_md"
	if [ "$failed" -ne 0 ]; then
		echo
		echo "**Some runs of patchbayd, the reactor or an extra server failed their correctness checks: see latest.log.**"
	fi
} >"$md"

# Throughput and p99 against the number of clients.
if command -v gnuplot >/dev/null && ran sweep-1000; then
	dat=$out/sweep.dat
	: >"$dat"
	for srv in patchbayd reactor; do
		echo "# $srv" >>"$dat"
		for n in 2 10 100 1000 5000; do
			echo "$n $(median "$srv" "sweep-$n" msgs_per_s) $(median "$srv" "sweep-$n" p99_us)" >>"$dat"
		done
		printf '\n\n' >>"$dat"
	done
	gnuplot <<EOF
set terminal png size 1000,420
set output '$out/latest.png'
set multiplot layout 1,2
set logscale x
set xlabel 'clients (pairs, window 8)'
set key top right
set title 'throughput (msgs/s)'
plot '$dat' index 0 using 1:2 with linespoints title 'patchbayd', '' index 1 using 1:2 with linespoints title 'reactor'
set title 'p99 latency (us)'
set logscale y
plot '$dat' index 0 using 1:3 with linespoints title 'patchbayd', '' index 1 using 1:3 with linespoints title 'reactor'
unset multiplot
EOF
	rm -f "$dat"
	echo "![throughput and p99 against clients](latest.png)" >>"$md"
fi
cat "$md"
exit "$failed"
