#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/restart.sh: the hand-over benchmark behind `make bench-restart`.
#
# What a client sees when patchbayd is restarted in place (SIGUSR2: the
# daemon hands its clients to a new image of itself, same pid; see
# patchbayd(8)), and how long the hand-over takes. For each scenario it
# starts one patchbayd (foreground, from the build tree), connects the
# clients with tests/cluster_load, and then BENCH_REPS times:
#   - a quiet phase of BENCH_PHASE seconds: the reference, the longest gap
#     the same load shows with no hand-over;
#   - kill -USR2, wait for the new image's "hand-over: took over" line,
#     then BENCH_PHASE seconds more: the hand-over phase.
# The pause is the longest gap of the hand-over phase: the longest time
# any flow waited with frames in flight and none arriving (cluster_load's
# max_gap_ms, reported per phase on SIGUSR1). The hand-over time is
# measured from outside, from kill -USR2 to the "took over" line (the
# daemon's stderr goes through a pipe that stamps each line as it comes),
# beside the daemon's own "paused P ms", and split by the stamps of its
# lines: check-config (to "starting"; the daemon serves on meanwhile),
# freeze and state (to "carried", just before execv), exec and restore
# (to "took over").
#
# Scenarios (all three by default):
#   active  1,000 active clients: 500 pairs, each client sending
#           BENCH_RATE frames a second (64 B, window 64) to its partner;
#           goal: pause under 200 ms;
#   idle    10,000 idle clients (connected, silent), and 20 active ones
#           (10 pairs, the same rate) that see the pause; goal: hand-over
#           under 1 s;
#   mixed   both at once: 1,000 active and 10,000 idle clients.
# The idle clients are not polled while the load runs; at the end each
# sends one frame to another, so the run shows that they were all carried
# over, connected, with their ids.
#
# Checks (any failure makes the exit status 1): every client stays
# connected and every frame arrives once, in order (cluster_load's ok=1);
# every hand-over is taken over (no "refused" line) with every client in
# it; the daemon is the same process throughout and stops cleanly on
# SIGTERM. A goal missed is reported, not a failure.
#
# Writes $BENCH_OUT/restart.md (medians over the hand-overs, the ratio
# pause / reference, the goals), restart.csv (every hand-over) and
# restart.log (the daemons' stamped logs and the loads' output).
#
# Environment:
#   BENCH_REPS=5          hand-overs per scenario (medians)
#   BENCH_PHASE=1         seconds of each quiet and hand-over phase
#   BENCH_RATE=20         frames a second each active client sends
#   BENCH_ONLY='active idle'  only these scenarios (default all)
#   BENCH_HANDOVER=0      no SIGUSR2: every phase is quiet (checks the
#                         tooling, and shows the load's own gaps)
#   BENCH_OUT=DIR         where results go (default bench/results)
#   BENCH_BUILD=DIR       the build tree (default: the source tree)
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a decimal point

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$top}
daemon=$build/src/patchbayd
load=$build/tests/cluster_load
reps=${BENCH_REPS:-5}
phase=${BENCH_PHASE:-1}
rate=${BENCH_RATE:-20}
handover=${BENCH_HANDOVER:-1}
out=${BENCH_OUT:-$top/bench/results}
goal_pause_ms=200
goal_handover_ms=1000

for p in "$daemon" "$load"; do
	if [ ! -x "$p" ]; then
		echo "bench-restart: $p is not built (make bench-restart builds it)" >&2
		exit 2
	fi
done
for v in "BENCH_REPS=$reps" "BENCH_RATE=$rate"; do
	case ${v#*=} in
	'' | *[!0-9]* | 0)
		echo "bench-restart: $v: a positive number" >&2
		exit 2
		;;
	esac
done
if ! [[ $phase =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
	echo "bench-restart: BENCH_PHASE=$phase: seconds" >&2
	exit 2
fi

# Scenarios: name, active clients, idle clients.
scenarios=("active|1000|0" "idle|20|10000" "mixed|1000|10000")
if [ -n "${BENCH_ONLY:-}" ]; then
	picked=()
	for sc in "${scenarios[@]}"; do
		for want in $BENCH_ONLY; do
			[ "${sc%%|*}" = "$want" ] && picked+=("$sc")
		done
	done
	if [ "${#picked[@]}" -eq 0 ]; then
		echo "bench-restart: BENCH_ONLY='$BENCH_ONLY' names no scenario" >&2
		exit 2
	fi
	scenarios=("${picked[@]}")
fi

# A descriptor per client in the daemon and in the load generator (which
# holds all of them, idle ones included), and a few more.
ulimit -n "$(ulimit -Hn)"
need=$((1000 + 10000 + 64))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
	echo "bench-restart: $need descriptors per process needed, the hard limit is $(ulimit -Hn)" >&2
	exit 2
fi

# Before this run writes its results over the last ones.
version=$(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')
mkdir -p "$out"
csv=$out/restart.csv
md=$out/restart.md
log=$out/restart.log
: >"$log"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pb-restart.XXXXXX")
pids=() # everything started and still running

# stop_pid
. "$top/bench/lib.sh"

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

# Each line read, with the time it was read (seconds, microseconds).
stamp() {
	local line
	while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "$line"
	done
}

# Milliseconds from stamp $1 to stamp $2, one decimal.
ms_between() { # FROM TO
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'
}

# $1 - $2 in ms, or - without both.
minus() { # A B
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f", a - b }'
}

# Waits up to $1 seconds for command $2... to succeed; 1 if it did not.
until_s() { # SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.01
	done
}

field() { # NAME LINE
	sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $2"
}

lines() { # PATTERN FILE: how many lines match
	grep -c -- "$1" "$2" || true
}

bad=''    # why this scenario failed, if it did
failed=0  # some scenario failed
note() { # WHY: the scenario fails
	bad="${bad:+$bad; }$1"
	echo "bench-restart: $name: $1" >&2
}

# Starts the daemon, its stderr stamped into $dlog; sets dpid, port.
start_daemon() { # CLIENTS
	local fifo=$tmp/daemon.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	stamp <"$fifo" >"$dlog" &
	stpid=$!
	pids+=("$stpid")
	# A session of its own, as a service would be in a cgroup of its own.
	setsid "$daemon" -l 127.0.0.1:0 -c "$(($1 + 64))" \
		>"$tmp/daemon.out" 2>"$fifo" &
	dpid=$!
	pids+=("$dpid")
	if ! until_s 10 grep -q ' listening on 127\.0\.0\.1:' "$dlog"; then
		note "the daemon did not start"
		return 1
	fi
	port=$(sed -n 's/^[0-9.]* listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dlog" | head -1)
}

# shellcheck disable=SC2317 # called through until_s
phases_at_least() { # N: the load has reported N phases
	[ "$(lines '^phase ' "$lout")" -ge "$1" ]
}

# SIGUSR1 to the load: the gaps of the phase that ends; sets pline.
mark() {
	local n
	n=$(($(lines '^phase ' "$lout") + 1))
	kill -USR1 "$lpid"
	if ! until_s 10 phases_at_least "$n"; then
		note "the load did not report phase $n"
		return 1
	fi
	pline=$(grep '^phase ' "$lout" | sed -n "${n}p")
}

# shellcheck disable=SC2317 # called through until_s
gone() { # PID
	! kill -0 "$1" 2>/dev/null
}

# The end of a hand-over: more than $1 "took over" lines, a "refused"
# line, or no daemon.
# shellcheck disable=SC2317 # called through until_s
handed_over() { # N
	[ "$(lines ' hand-over: took over ' "$dlog")" -gt "$1" ] ||
		grep -q ' hand-over: .*refused' "$dlog" || gone "$dpid"
}

# One hand-over: SIGUSR2, then the new image's line. Sets the t_* times
# (ms from the signal), took, carried, paused.
hand_over() { # REP
	local t0 l n
	t_start=- t_carried=- t_took=- took=- carried=- paused=-
	n=$(lines ' hand-over: took over ' "$dlog")
	t0=$EPOCHREALTIME
	kill -USR2 "$dpid"
	if ! until_s 60 handed_over "$n"; then
		note "hand-over $1: no 'took over' line within 60 s"
		return 1
	fi
	if grep -q ' hand-over: .*refused' "$dlog"; then
		note "hand-over $1: $(grep -m1 ' hand-over: .*refused' "$dlog" | cut -d' ' -f2-)"
		return 1
	fi
	if gone "$dpid"; then
		note "hand-over $1: the daemon is gone"
		return 1
	fi
	l=$(grep ' hand-over: starting ' "$dlog" | tail -1)
	[ -n "$l" ] && t_start=$(ms_between "$t0" "${l%% *}")
	l=$(grep ' hand-over: .* carried, to ' "$dlog" | tail -1)
	[ -n "$l" ] && t_carried=$(ms_between "$t0" "${l%% *}")
	l=$(grep ' hand-over: took over ' "$dlog" | tail -1)
	t_took=$(ms_between "$t0" "${l%% *}")
	took=$(sed -n 's/.* took over \([0-9]*\) clients.*/\1/p' <<<"$l")
	carried=$(sed -n 's/.* clients, \([0-9]*\) bytes.*/\1/p' <<<"$l")
	paused=$(sed -n 's/.* paused \([0-9.]*\) ms.*/\1/p' <<<"$l")
	if [ "$took" != "$clients" ]; then
		note "hand-over $1: took over ${took:-?} clients, not $clients"
		return 1
	fi
}

# The daemon's counters after the load: every hand-over counted, none
# refused, no client closed by one, none connected twice. Sets
# stats[scenario].
counters() { # STATS_LINE
	local c want v
	stats[$name]=''
	for c in accepted handovers handovers_failed handover_state_refused \
		disconnect_restart; do
		v=$(field "$c" "$1")
		stats[$name]+="${stats[$name]:+ }$c=${v:-?}"
		case $c in
		accepted) want=$clients ;;
		handovers) want=$([ "$handover" = 1 ] && echo "$reps" || echo 0) ;;
		*) want=0 ;;
		esac
		[ "$v" = "$want" ] || note "the daemon's $c=${v:-?}, not $want"
	done
}

echo "scenario,rep,active,idle,ref_max_gap_ms,ref_p99_gap_ms,max_gap_ms,p99_gap_ms,stalled_ms,to_starting_ms,to_carried_ms,to_took_over_ms,daemon_paused_ms,took_over,carried_bytes,freeze_ms,restore_ms" >"$csv"
declare -A why=() # scenario: why it failed
declare -A final=() # scenario: the load's last line
declare -A stats=() # scenario: the daemon's hand-over counters
start=$(date +%s)
for sc in "${scenarios[@]}"; do
	IFS='|' read -r name active idle <<<"$sc"
	clients=$((active + idle))
	bad=''
	dlog=$tmp/$name.daemon.log
	lout=$tmp/$name.load.out
	: >"$dlog"
	echo "== $name: $active active, $idle idle clients" | tee -a "$log"
	if start_daemon "$clients"; then
		# Long enough for every phase and hand-over, a hard limit only.
		limit=$(((reps * (2 * ${phase%.*} + 62) + 300) * 1000))
		"$load" --ports "$port" \
			--clients "$active" --idle "$idle" --pattern pairs \
			--size 64 --window 64 --rate "$rate" --frames 0 --phases \
			--timeout-ms "$limit" >"$lout" 2>"$tmp/$name.load.err" &
		lpid=$!
		pids+=("$lpid")
		if ! until_s 300 grep -q '^connected ' "$lout"; then
			note "the load did not connect"
		fi
		# A first phase, not counted: the load's start.
		if [ -z "$bad" ]; then
			sleep "$phase"
			mark || true
		fi
		for rep in $(seq "$reps"); do
			[ -z "$bad" ] || break
			sleep "$phase"
			mark || break
			ref=$pline
			if [ "$handover" = 1 ]; then
				hand_over "$rep" || break
			else
				t_start=- t_carried=- t_took=- took=- carried=- paused=-
			fi
			sleep "$phase"
			mark || break
			echo "$name,$rep,$active,$idle,$(field max_gap_ms "$ref"),$(field p99_gap_ms "$ref"),$(field max_gap_ms "$pline"),$(field p99_gap_ms "$pline"),$(field stalled_ms "$pline"),$t_start,$t_carried,$t_took,$paused,$took,$carried,$(minus "$t_carried" "$t_start"),$(minus "$t_took" "$t_carried")" >>"$csv"
			printf '%-6s %s: pause %s ms (reference %s), took over %s clients in %s ms (daemon: paused %s ms)\n' \
				"$name" "$rep" "$(field max_gap_ms "$pline")" \
				"$(field max_gap_ms "$ref")" "$took" "$t_took" "$paused" |
				tee -a "$log"
		done
		# The end: the load stops sending, the idle clients send their
		# frame, everything must arrive.
		kill -USR2 "$lpid" 2>/dev/null || true
		rc=0
		wait "$lpid" || rc=$?
		final[$name]=$(grep '^sent=' "$lout" | tail -1 || true)
		if [ "$(field ok "${final[$name]}")" != 1 ]; then
			note "the load failed (exit $rc): ${final[$name]:-no final line} $(head -3 "$tmp/$name.load.err" | tr '\n' ' ')"
		fi
		# The daemon's counters, then a clean stop of the same process.
		if gone "$dpid"; then
			note "the daemon (pid $dpid) is gone"
		else
			kill -USR1 "$dpid"
			until_s 10 grep -q ' stats: ' "$dlog" || true
			counters "$(grep ' stats: ' "$dlog" | tail -1)"
		fi
		kill -TERM "$dpid" 2>/dev/null || true
		rc=0
		wait "$dpid" || rc=$?
		[ "$rc" = 0 ] || note "the daemon exited with status $rc on SIGTERM"
		# The stamper ends with the daemon's stderr.
		until_s 10 gone "$stpid" || true
	fi
	{
		echo "-- $name: the daemon's log (seconds since the epoch, as read)"
		cat "$dlog"
		echo "-- $name: the load's output"
		cat "$lout" "$tmp/$name.load.err" 2>/dev/null || true
	} >>"$log"
	if [ -n "$bad" ]; then
		why[$name]=$bad
		failed=1
	fi
	for p in "${pids[@]}"; do
		stop_pid "$p"
	done
	pids=()
done
elapsed=$(($(date +%s) - start))

# Median of a column over a scenario's hand-overs.
median() { # SCENARIO COLUMN
	awk -F, -v s="$1" -v c="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
		$1 == s && $col != "" && $col != "-" { print $col }' "$csv" |
		sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) print "-"
			else if (NR % 2) print v[(NR + 1) / 2]
			else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

maximum() { # SCENARIO COLUMN
	awk -F, -v s="$1" -v c="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
		$1 == s && $col != "" && $col != "-" { if (m == "" || $col + 0 > m) m = $col + 0 }
		END { print (m == "" ? "-" : m) }' "$csv"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.1f", a / b }'
}

# "yes"/"no" for a median against a goal (below), "-" without a value.
meets() { # VALUE GOAL
	awk -v v="$1" -v g="$2" 'BEGIN { if (v == "-") print "-"; else if (v < g) print "yes"; else print "**no**" }'
}

command="make bench-restart"
[ -n "${BENCH_ONLY:-}" ] && command="BENCH_ONLY='$BENCH_ONLY' $command"
[ "$reps" != 5 ] && command="BENCH_REPS=$reps $command"
[ "$phase" != 1 ] && command="BENCH_PHASE=$phase $command"
[ "$rate" != 20 ] && command="BENCH_RATE=$rate $command"
[ "$handover" != 1 ] && command="BENCH_HANDOVER=$handover $command"
{
	echo "# patchbayd in-place hand-over (SIGUSR2): the pause clients see, the time to hand over"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); patchbayd $version; command: \`$command\`; whole run: ${elapsed}s."
	echo "- machine: $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r); daemon and load generator (tests/cluster_load, one thread) share the cores, the daemon in a session of its own."
	echo "- per scenario one daemon, $reps hand-overs (kill -USR2, same pid), each after a quiet phase of ${phase}s (the reference) and followed by ${phase}s after the new image's \"took over\" line; medians over the hand-overs."
	echo "- active clients in pairs, each sending $rate frames/s (64 B, window 64) to its partner, the flows' schedules staggered; idle clients connected and silent, each sending one frame to another idle one at the end."
	echo "- pause: the longest time any flow waited with frames in flight and none arriving (cluster_load's max_gap_ms), in the hand-over phase; reference: the same in the quiet phase before it. Hand-over: from kill -USR2 to the new image's \"took over\" line as read from its stderr (outside), and the daemon's own \"paused P ms\" (from its \"starting\" line on); its parts, from the stamps of the daemon's lines: check-config (kill to \"starting\": the daemon runs itself with --check-config, serving on meanwhile), freeze, state (\"starting\" to \"carried\": clients frozen, state and sockets written, just before execv), exec, restore (\"carried\" to \"took over\")."
	[ "$handover" = 1 ] || echo "- **BENCH_HANDOVER=0: no hand-over was made; every phase is quiet.**"
	echo
	echo "| scenario | pause: max gap (ms) | reference max gap (ms) | pause / reference | p99 gap, hand-over phase (ms) | hand-over, outside (ms) | daemon's paused (ms) | check-config (ms) | freeze, state (ms) | exec, restore (ms) | goal | met |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for sc in "${scenarios[@]}"; do
		IFS='|' read -r name active idle <<<"$sc"
		gap=$(median "$name" max_gap_ms)
		refg=$(median "$name" ref_max_gap_ms)
		took=$(median "$name" to_took_over_ms)
		case $name in
		active) goal="pause < $goal_pause_ms ms" met=$(meets "$gap" $goal_pause_ms) ;;
		idle) goal="hand-over < $goal_handover_ms ms" met=$(meets "$took" $goal_handover_ms) ;;
		*) goal="(both, not the issue's)" met="$(meets "$gap" $goal_pause_ms) / $(meets "$took" $goal_handover_ms)" ;;
		esac
		[ "$handover" = 1 ] || met=-
		[ -n "${why[$name]+set}" ] && met="**failed**"
		echo "| $name: $active active, $idle idle | $gap | $refg | $(ratio "$gap" "$refg") | $(median "$name" p99_gap_ms) | $took | $(median "$name" daemon_paused_ms) | $(median "$name" to_starting_ms) | $(median "$name" freeze_ms) | $(median "$name" restore_ms) | $goal | $met |"
	done
	echo
	echo "Worst of the $reps hand-overs: $(for sc in "${scenarios[@]}"; do n=${sc%%|*}; printf '%s pause %s ms, hand-over %s ms; ' "$n" "$(maximum "$n" max_gap_ms)" "$(maximum "$n" to_took_over_ms)"; done | sed 's/; $//')."
	echo
	echo "The loads' last lines (ok=1: every client stayed connected, every frame arrived once and in order):"
	echo
	for sc in "${scenarios[@]}"; do
		echo "- ${sc%%|*}: \`${final[${sc%%|*}]:-none}\`"
	done
	echo
	echo "The daemon's counters after the load (SIGUSR1):"
	echo
	for sc in "${scenarios[@]}"; do
		echo "- ${sc%%|*}: \`${stats[${sc%%|*}]:-none}\`"
	done
	if [ "${#why[@]}" -gt 0 ]; then
		echo
		echo "**Failed:**"
		echo
		for sc in "${scenarios[@]}"; do
			[ -n "${why[${sc%%|*}]+set}" ] && echo "- ${sc%%|*}: ${why[${sc%%|*}]}"
		done
	fi
	echo
	echo "Every hand-over: restart.csv; the daemons' logs and the loads' output: restart.log."
} >"$md"
cat "$md"
exit "$failed"
