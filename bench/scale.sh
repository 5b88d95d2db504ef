#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/scale.sh: throughput against the number of cores the server gets
# (`make bench-scale`), for patchbayd, patchbay-reactor and the Rust peers
# that are built (bench/peers, `make bench-peers`), each peer with as many
# tokio worker threads as the server has cores (`--threads k`). A peer's
# failed run (a stall, a loss) shows in the table as such and does not
# fail the whole run.
#
# Of the CPUs this script may run on (N of them), the server gets the
# first k, k = 1, 2, 4, ... up to N/2 (`taskset -c`), and the load
# generator always the last N/2, with as many threads (`--threads`): on a
# 16-CPU machine, k = 1, 2, 4, 8 against 8 client CPUs; on 2 CPUs, k = 1
# only. For each k, two scenarios, each server in turn, every run against
# a freshly started server:
#   pairs-64    --scenario pairs --clients 64 --window 64 --size 64
#   pairs-1000  --scenario pairs --clients 1000 --window 8
# Every cell is the median of BENCH_REPS runs of BENCH_DURATION seconds.
# Writes scale.md (msgs/s per core count, and the server's CPUs kept busy),
# scale.csv (every run) and, where gnuplot is installed, scale.png, into
# BENCH_OUT. It prints the estimated and the longest possible total time
# before it starts: a run is cut at BENCH_DURATION + 30 s, a server that
# does not start or stop within 5 s is given up or killed.
#
# Needs only a built tree (bash, coreutils' timeout, util-linux' taskset):
#   BENCH_BUILD=/path/to/build bash bench/scale.sh
# Environment:
#   BENCH_BUILD=DIR       the build tree (default: the source tree)
#   BENCH_REPS=3          runs per cell
#   BENCH_DURATION=2      measured seconds per run
#   BENCH_OUT=DIR         where results go (default bench/results)
#   BENCH_PEERS='mutex poll-reactor'  the Rust peers to run (default: all
#                         that are built; empty: none)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$top}
bench=$build/bench/patchbay-bench
reps=${BENCH_REPS:-3}
dur=${BENCH_DURATION:-2}
out=${BENCH_OUT:-$top/bench/results}
csv=$out/scale.csv
md=$out/scale.md
log=$out/scale.log
cut=$((${dur%.*} + 30)) # seconds after which a run is killed

for tool in taskset timeout; do
	if ! command -v "$tool" >/dev/null; then
		echo "scale: $tool is needed" >&2
		exit 2
	fi
done
for b in "$bench" "$build/src/patchbayd" "$build/src/patchbay-reactor"; do
	if [ ! -x "$b" ]; then
		echo "scale: $b is missing: build first, or set BENCH_BUILD" >&2
		exit 2
	fi
done

# The CPUs we may use, from the affinity list (say "0-3,8-11").
cpus=()
IFS=',' read -ra ranges <<<"$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)"
for r in "${ranges[@]}"; do
	for c in $(seq "${r%-*}" "${r#*-}"); do
		cpus+=("$c")
	done
done
ncpu=${#cpus[@]}
if [ "$ncpu" -lt 2 ]; then
	echo "scale: needs at least 2 CPUs, has $ncpu" >&2
	exit 2
fi

# Physical cores: CPUs that are hyperthreads of one core form a group, so
# that the server's half and the load generator's share no core. The
# server's CPUs are listed first threads first: its first k CPUs are on k
# cores for as long as it has cores to spare.
declare -A group=()
cores=()
for c in "${cpus[@]}"; do
	key=$(cat "/sys/devices/system/cpu/cpu$c/topology/thread_siblings_list" 2>/dev/null || echo "$c")
	[ -n "${group[$key]+set}" ] || cores+=("$key")
	group[$key]="${group[$key]:-}${group[$key]:+ }$c"
done
server_list=()
client_list=()
if [ "${#cores[@]}" -ge 2 ]; then
	nsc=$((${#cores[@]} / 2))
	for ((t = 0; ; t++)); do
		more=0
		for key in "${cores[@]:0:$nsc}"; do
			read -ra sib <<<"${group[$key]}"
			[ "$t" -lt "${#sib[@]}" ] && server_list+=("${sib[$t]}") && more=1
		done
		[ "$more" = 1 ] || break
	done
	for key in "${cores[@]:$nsc}"; do
		read -ra sib <<<"${group[$key]}"
		client_list+=("${sib[@]}")
	done
else # one core with hyperthreads: split its CPUs
	server_list=("${cpus[@]:0:$((ncpu / 2))}")
	client_list=("${cpus[@]:$((ncpu / 2))}")
fi
half=${#server_list[@]}
client_cpus=$(IFS=,; echo "${client_list[*]}")
nclient=${#client_list[@]}
points=()
for ((k = 1; k <= half; k *= 2)); do
	points+=("$k")
done

# shellcheck source=bench/servers.sh
. "$top/bench/servers.sh"
bench_servers scale
scenarios=(
	"pairs-64|--scenario pairs --clients 64 --window 64 --size 64"
	"pairs-1000|--scenario pairs --clients 1000 --window 8"
)

runs=$((reps * ${#points[@]} * ${#scenarios[@]} * ${#servers[@]}))
est=$(awk -v n="$runs" -v d="$dur" 'BEGIN { printf "%.0f", n * (d + 1) }')
echo "scale: $ncpu CPUs (${#cores[@]} cores); the server gets ${points[*]} of CPUs $(IFS=,; echo "${server_list[*]}"); the load generator CPUs $client_cpus, $nclient threads"
echo "scale: $runs runs of ${dur}s: about ${est}s in all ($((est / 60)) min), at most $((runs * (cut + 15)))s"

mkdir -p "$out"
: >"$log"
slog=$(mktemp)
trap 'rm -f "$slog"' EXIT

# Starts server $1 on CPUs $2 (a peer with $3 worker threads); sets spid
# and sport.
start_server() {
	local _ threads=()
	is_peer "$1" && threads=(--threads "$3")
	# Emptied here, not only by the child's redirection, which may come
	# after the first look for the port below: that look would find the
	# last server's port.
	: >"$slog"
	# shellcheck disable=SC2086 # the command is words on purpose
	setsid taskset -c "$2" ${cmd[$1]} "${threads[@]}" 2>"$slog" &
	spid=$!
	for _ in $(seq 100); do
		sport=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$slog")
		[ -n "$sport" ] && return 0
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$spid" 2>/dev/null || true
	cat "$slog" >>"$log"
	echo "scale: server $1 did not start" >&2
	return 1
}

# Stops it, bounded: SIGKILL after 5 s.
stop_server() {
	local _
	kill -TERM "$spid" 2>/dev/null || true
	for _ in $(seq 100); do
		# Gone, or a zombie waiting for us (state Z, after the name).
		case $(sed 's/.*) //' "/proc/$spid/stat" 2>/dev/null) in
		"" | Z*) break ;;
		esac
		sleep 0.05
	done
	kill -KILL "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	cat "$slog" >>"$log"
}

field() { # field NAME JSON
	sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$2" | tr -d '"'
}

echo "rep,cores,server,scenario,ok,msgs_per_s,server_cpu_util,p99_us,failure" >"$csv"
failed=0
declare -A why=() # SERVER|SCENARIO: the first error of its failed runs

# What went wrong in a failed run, in a word (as bench/run.sh says it).
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

# Notes a failed run: sets kind, and keeps the error for the notes.
failed_run() { # SERVER SCENARIO CORES ERROR
	kind=$(failure_kind "$4")
	[ -n "${why[$1|$2]+set}" ] || why[$1|$2]="$kind ($3 cores): ${4:0:240}"
	is_peer "$1" || failed=1
}
start=$(date +%s)
for rep in $(seq "$reps"); do
	for k in "${points[@]}"; do
		server_cpus=$(IFS=,; echo "${server_list[*]:0:$k}")
		for sc in "${scenarios[@]}"; do
			name=${sc%%|*}
			for srv in "${servers[@]}"; do
				if ! start_server "$srv" "$server_cpus" "$k"; then
					failed_run "$srv" "$name" "$k" "did not start"
					echo "$rep,$k,$srv,$name,false,,,,$kind" >>"$csv"
					continue
				fi
				# shellcheck disable=SC2086
				json=$(timeout -k 5 "$cut" taskset -c "$client_cpus" \
					"$bench" --addr "127.0.0.1:$sport" ${sc#*|} \
					--threads "$nclient" --duration "$dur" \
					--server-pid "$spid" --json 2>>"$log") || true
				stop_server
				kind=
				if [ "$(field ok "$json")" != true ]; then
					failed_run "$srv" "$name" "$k" \
						"$(sed -n 's/.*"errors":\["\([^"]*\).*/\1/p' <<<"$json")"
				fi
				row="$rep,$k,$srv,$name,$(field ok "$json"),$(field msgs_per_s "$json"),$(field server_cpu_util "$json"),$(field p99_us "$json"),$kind"
				echo "$row" >>"$csv"
				printf '%-3s %2s cores %-10s %-11s %s\n' "$rep" "$k" \
					"$srv" "$name" "$(cut -d, -f5-8 <<<"$row")"
			done
		done
	done
done
elapsed=$(($(date +%s) - start))

# Over the runs that passed.
median() { # median CORES SERVER SCENARIO COLUMN
	awk -F, -v k="$1" -v s="$2" -v n="$3" -v c="$4" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
		$2 == k && $3 == s && $4 == n && $5 == "true" && $col != "" { print $col }' "$csv" |
		sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) print ""
			else if (NR % 2) print v[(NR + 1) / 2]
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'
}

fmt() {
	awk -v v="$1" -v p="$2" 'BEGIN { if (v == "") print "-"; else if (p) printf "%.2f", v; else if (v >= 1000000) printf "%.2fM", v / 1e6; else if (v >= 10000) printf "%.0fk", v / 1e3; else printf "%.1f", v }'
}

# A cell: the failure of the runs, if one failed ("stalled 2/3"), else the
# median.
cell() { # CORES SERVER SCENARIO COLUMN PLAIN
	local bad
	bad=$(awk -F, -v k="$1" -v s="$2" -v n="$3" '
		$2 == k && $3 == s && $4 == n { all++; if ($5 != "true") { bad++; if (w == "") w = $NF } }
		END { if (bad) printf "%s %d/%d", w, bad, all }' "$csv")
	if [ -n "$bad" ]; then
		echo "**$bad**"
	else
		fmt "$(median "$1" "$2" "$3" "$4")" "$5"
	fi
}

# One table: a row per core count, per scenario each server and the ratio.
table() { # table COLUMN PLAIN
	local hdr="| server cores |" sep="|---|" line name srv k
	for sc in "${scenarios[@]}"; do
		for srv in "${servers[@]}"; do
			hdr="$hdr ${sc%%|*} $srv |"
			sep="$sep---|"
		done
		hdr="$hdr ratio |"
		sep="$sep---|"
	done
	echo "$hdr"
	echo "$sep"
	for k in "${points[@]}"; do
		line="| $k |"
		for sc in "${scenarios[@]}"; do
			name=${sc%%|*}
			for srv in "${servers[@]}"; do
				line="$line $(cell "$k" "$srv" "$name" "$1" "$2") |"
			done
			line="$line $(ratio "$(median "$k" patchbayd "$name" "$1")" "$(median "$k" reactor "$name" "$1")") |"
		done
		echo "$line"
	done
}

{
	echo "# patchbay: throughput against the server's cores"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $reps runs per cell, ${dur}s each, servers alternated run by run; medians."
	echo "- machine: $ncpu CPUs, ${#cores[@]} cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r)."
	[ "${#peers[@]}" -gt 0 ] &&
		echo "- the Rust peers (bench/peers, each with k tokio worker threads): ${peers[*]}; a failed run shows as what happened and how many of the runs, its error below."
	echo "- the server runs under \`taskset -c\` on the first k of CPUs $(IFS=,; echo "${server_list[*]}") (first threads of its cores first), the load generator on CPUs $client_cpus with $nclient threads; ratio = patchbayd / reactor; whole run: ${elapsed}s; command: \`make bench-scale\`."
	echo
	echo "Messages/s:"
	echo
	table msgs_per_s 0
	echo
	echo "The server's CPUs kept busy (CPU seconds per second of the measured time):"
	echo
	table server_cpu_util 1
	if [ "${#why[@]}" -gt 0 ]; then
		echo
		echo "Failed runs, the first error of each server and scenario (all in scale.log):"
		echo
		for srv in "${servers[@]}"; do
			for sc in "${scenarios[@]}"; do
				[ -n "${why[$srv|${sc%%|*}]+set}" ] &&
					echo "- $srv, ${sc%%|*}: ${why[$srv|${sc%%|*}]}"
			done
		done
	fi
	if [ "$failed" -ne 0 ]; then
		echo
		echo "**Some runs of patchbayd or the reactor failed: see scale.log.**"
	fi
} >"$md"

if command -v gnuplot >/dev/null; then
	dat=$out/scale.dat
	: >"$dat"
	plot=
	i=0
	for sc in "${scenarios[@]}"; do
		for srv in "${servers[@]}"; do
			echo "# $srv ${sc%%|*}" >>"$dat"
			for k in "${points[@]}"; do
				echo "$k $(median "$k" "$srv" "${sc%%|*}" msgs_per_s)" >>"$dat"
			done
			printf '\n\n' >>"$dat"
			plot="$plot${plot:+, }'$dat' index $i using 1:2 with linespoints title '$srv ${sc%%|*}'"
			i=$((i + 1))
		done
	done
	gnuplot <<EOF
set terminal png size 800,480
set output '$out/scale.png'
set logscale x 2
set xlabel 'server cores'
set ylabel 'msgs/s'
set key top left
set title 'throughput against the server cores'
plot $plot
EOF
	rm -f "$dat"
	echo "![throughput against the server's cores](scale.png)" >>"$md"
fi
cat "$md"
exit "$failed"
