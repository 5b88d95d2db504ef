# SPDX-License-Identifier: ISC
# restart_lib.sh: sourced by the restart tests (tests/restart_*.sh). It
# builds on tests/cluster_lib.sh with plain daemons (no NATS, node-bits 0:
# its counters, reconcile, loads and clients by hand are used as they are)
# and adds patchbayd run as daemon 0 under tests/fakesd, the fake service
# manager: fakesd's events in $RS_EVENTS, its commands through a FIFO,
# the daemon's log (fakesd's stderr) where cluster_lib keeps daemon 0's,
# and CL_D_PID[0] following the daemon's pid across restarts. Also the
# hand-over's log lines, and checks of a whole restart.
#
# Use:
#   . "$(dirname "$0")/restart_lib.sh"
#   rs_init                      # temp dir, trap, the binaries
#   rs_sd_start [DAEMON ARGS...] # fakesd -- patchbayd ..., until READY=1
#   rs_restart [CLIENTS]         # `restart`, every step checked
#   rs_sd_quit                   # `quit`: daemon and fakesd exit 0
#   cl_finish
#
# Every wait is for a condition (an event, a log line, traffic), bounded
# by RS_TIMEOUT seconds (default 90: sanitizer builds are slow).
# Environment: as cluster_lib's, and FAKESD (the binary).

CL_FEDERATION=0
CL_NODE_BITS=0
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"

# ---- What the daemon logs (EREs, from the hand-over's contract) --------
RS_STARTING_RE='hand-over: starting \(([0-9]+) clients\)'
RS_CARRIED_RE='hand-over: ([0-9]+) clients, ([0-9]+) bytes carried, to '
RS_TOOK_RE='hand-over: took over ([0-9]+) clients, ([0-9]+) bytes, paused ([0-9]+) ms'
RS_REFUSED_RE='hand-over: refused: .*; serving on'
RS_STATE_REFUSED_RE='hand-over: state refused: .*; starting clean, closing ([0-9]+) connections'
RS_CONNECTED_RE='client ([0-9]+) connected'	# with -v
RS_SLOW_CUT_RE='disconnected as slow consumer'

: "${RS_TIMEOUT:=90}"
RS_NAMES_RE='(pb-bag:pb-state|pb-state:pb-bag)'	# LISTEN_FDNAMES after a restart
RS_SD_PID=''
RS_EVENTS=''

rs_init() {
	local top
	cl_init --no-nats
	top=${abs_top_builddir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
	: "${FAKESD:=$top/tests/fakesd}"
	[ -x "$FAKESD" ] || {
		echo "FAIL: no fakesd at $FAKESD (make check builds it)"
		exit 1
	}
	RS_EVENTS=$CL_DIR/events
	RS_STOP=$CL_DIR/stop-loads	# the loads' --stop-file
	CL_CLEANUP_HOOKS+=('rs_show_events')
}

# The events, for a failure (cl_show_logs shows the daemon's log).
rs_show_events() {
	[ "$CL_STATUS" != 0 ] && [ -s "$RS_EVENTS" ] || return 0
	echo "---- fakesd events (last 40) ----"
	grep -v '^notify .*: \(STATUS\|WATCHDOG\)=' "$RS_EVENTS" | tail -n 40
}

rs_sd_alive() {
	local state
	[ -n "$RS_SD_PID" ] || return 1
	state=$(awk '/^State:/ { print $2 }' "/proc/$RS_SD_PID/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# The number of the next event line, to wait for events after it.
rs_ev_mark() {
	local n
	n=$(wc -l <"$RS_EVENTS")
	echo $((n + 1))
}

# Waits until fakesd prints an event matching ERE at line FROM or later
# (default: any); RS_EVENT is the line, RS_EVENT_AT its number. False
# after SECONDS, or once fakesd has exited without printing it.
rs_wait_event() { # ERE [SECONDS] [FROM]
	local re=$1 end=$((SECONDS + ${2-$RS_TIMEOUT})) from=${3-1} hit alive
	while :; do
		alive=''
		rs_sd_alive && alive=1
		hit=$(tail -n +"$from" "$RS_EVENTS" | grep -n -m 1 -E -- "$re")
		if [ -n "$hit" ]; then
			RS_EVENT=${hit#*:}
			RS_EVENT_AT=$((from + ${hit%%:*} - 1))
			return 0
		fi
		[ -n "$alive" ] && [ "$SECONDS" -lt "$end" ] || break
		sleep 0.1
	done
	RS_EVENT=''
	return 1
}

# How many events from line FROM to line TO match ERE.
rs_count_events() { # FROM TO ERE
	sed -n "$1,$2p" "$RS_EVENTS" | grep -cE -- "$3"
}

# A field of an event line: rs_ev_field pid "started pid=12 fds=2" -> 12.
rs_ev_field() { # NAME LINE
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

rs_sd_cmd() { # COMMAND...
	rs_sd_alive || cl_die "fakesd has exited (before '$*')"
	cl_log "fakesd: $*"
	echo "$*" >&"$RS_CMD"
}

# rs_sd_start [DAEMON ARGS...]: fakesd running patchbayd (on a fixed free
# port, so that a stop and start listens where the clients dial, with a
# state dir, -v for the clients' ids, CL_DAEMON_ARGS and ARGS), until the
# daemon's READY=1. Sets CL_D_PID[0], CL_D_PORT[0], RS_SD_PID.
rs_sd_start() { # [DAEMON ARGS...]
	local d=$CL_DIR/d0 args
	mkdir -p "$d/state"
	touch "$d/log"
	CL_D_HOST[0]=127.0.0.1
	cl_free_port "CL_D_PORT[0]"
	args=(--listen "127.0.0.1:${CL_D_PORT[0]}" --state-dir "$d/state" -v
		"${CL_DAEMON_ARGS[@]}" "$@")
	: >"$RS_EVENTS"
	mkfifo "$CL_DIR/fakesd.in" || cl_die "mkfifo"
	CL_D_LOGSTART[0]=$(cl_log_mark 0)
	# fakesd's temp dir (the notify socket) goes with ours.
	TMPDIR=$CL_DIR "$FAKESD" --stop-timeout "$RS_TIMEOUT" -- \
		"$PATCHBAYD" "${args[@]}" <"$CL_DIR/fakesd.in" \
		>"$RS_EVENTS" 2>>"$d/log" &
	RS_SD_PID=$!
	CL_BG_PIDS+=("$RS_SD_PID")	# killed first: the daemon dies with it
	exec {RS_CMD}>"$CL_DIR/fakesd.in"
	CL_ND=1
	rs_wait_event '^started pid=' || cl_die "fakesd started no daemon"
	CL_D_PID[0]=$(rs_ev_field pid "$RS_EVENT")
	rs_wait_event "^(ready|exited) pid=${CL_D_PID[0]} " &&
		[[ $RS_EVENT == ready* ]] ||
		cl_die "the daemon (pid ${CL_D_PID[0]}) did not say READY=1"
	cl_log "fakesd pid $RS_SD_PID, daemon pid ${CL_D_PID[0]}:" \
		"patchbayd ${args[*]}"
}

# Checks the old process's part of a restart in the events from line
# FROM: its last store change before it exits is pb-state and pb-bag
# stored, then the barrier, then exit status 0. Sets RS_EXIT_AT.
rs_check_stored() { # OLD_PID FROM
	local old=$1 from=$2 last
	if ! rs_wait_event "^exited pid=$old " "$RS_TIMEOUT" "$from"; then
		cl_fail "the old process (pid $old) did not exit"
		return 1
	fi
	RS_EXIT_AT=$RS_EVENT_AT
	[ "$(rs_ev_field status "$RS_EVENT")" = 0 ] ||
		cl_fail "the old process: '$RS_EVENT', not status=0"
	last=$(sed -n "$from,${RS_EXIT_AT}p" "$RS_EVENTS" | grep '^store ' | tail -n 1)
	[[ $last =~ ^store\ n=2\ names=(pb-bag:pb-state|pb-state:pb-bag)$ ]] ||
		cl_fail "the old process's store before it exited: '$last'," \
			"not pb-state and pb-bag"
	sed -n "$from,${RS_EXIT_AT}p" "$RS_EVENTS" | grep -qx barrier ||
		cl_fail "no barrier before the old process exited"
}

# Checks the new process's part from the old one's exit (RS_EXIT_AT): the
# one that says READY=1 was started with pb-state and pb-bag (the names
# RS_NAMES_RE matches, for a test that took one away), every
# process started before it was killed before READY=1 (killnext), and the
# store is empty after its READY=1. Sets CL_D_PID[0], RS_READY_MS,
# RS_STARTS (processes started), RS_READY_AT. False if none said READY=1
# (fakesd gave up after its start limit, or RS_TIMEOUT passed).
rs_check_started() { # OLD_PID
	local old=$1 pid started
	RS_STARTS=0
	if ! rs_wait_event '^(ready pid=|failed )' "$RS_TIMEOUT" "$RS_EXIT_AT" ||
		[[ $RS_EVENT == failed* ]]; then
		RS_STARTS=$(rs_count_events "$RS_EXIT_AT" '$' '^started ')
		cl_fail "no process said READY=1 after the restart" \
			"($RS_STARTS started${RS_EVENT:+, then '$RS_EVENT'})"
		return 1
	fi
	RS_READY_AT=$RS_EVENT_AT
	pid=$(rs_ev_field pid "$RS_EVENT")
	RS_READY_MS=$(rs_ev_field ms "$RS_EVENT")
	[ "$pid" != "$old" ] || cl_fail "the pid did not change ($pid)"
	CL_D_PID[0]=$pid
	started=$(sed -n "$RS_EXIT_AT,${RS_READY_AT}p" "$RS_EVENTS" |
		grep "^started pid=$pid ")
	[[ $started =~ names=${RS_NAMES_RE}$ ]] ||
		cl_fail "the new process (pid $pid) started with '$started'"
	RS_STARTS=$(rs_count_events "$RS_EXIT_AT" "$RS_READY_AT" '^started ')
	[ "$RS_STARTS" = $((1 + $(rs_count_events "$RS_EXIT_AT" \
		"$RS_READY_AT" '^killed pid=[0-9]+ before-ready'))) ] ||
		cl_fail "$RS_STARTS processes started for one restart"
	# Emptied before any client is served again, so by READY=1 at the
	# latest (a crash after it must not replay a state in use).
	rs_wait_event '^store n=0 ' "$RS_TIMEOUT" "$RS_EXIT_AT" ||
		cl_fail "the store was not emptied by READY=1 (pid $pid)"
}

# rs_restart [CLIENTS]: `restart` and each step of it (rs_check_stored,
# rs_check_started); then the new process's "took over N clients" (N =
# CLIENTS when given). Sets RS_TOOK (N), RS_CARRIED (the bytes the old
# process said it carried), CL_D_PID[0].
rs_restart() { # [CLIENTS]
	local old=${CL_D_PID[0]} from log line
	from=$(rs_ev_mark)
	log=$(cl_log_mark 0)
	rs_sd_cmd restart
	rs_check_stored "$old" "$from" || cl_die "restart of pid $old"
	rs_check_started "$old" || cl_die "restart of pid $old"
	# Without a take-over, what follows cannot be checked.
	rs_check_took "$log" "${1-}" || cl_die "no take-over after restart"
	cl_log_since 0 "$log" | grep -qE -- "$RS_STARTING_RE" ||
		cl_fail "the old process did not log 'hand-over: starting'"
	line=$(cl_log_since 0 "$log" | grep -E -m 1 -- "$RS_CARRIED_RE")
	[[ $line =~ $RS_CARRIED_RE ]] || cl_fail "the old process did not log" \
		"'hand-over: N clients, B bytes carried'"
	RS_CARRIED=${BASH_REMATCH[2]:-0}
	cl_log "restarted: pid $old -> ${CL_D_PID[0]} (READY in" \
		"${RS_READY_MS} ms, $RS_STARTS started), took over $RS_TOOK" \
		"clients, $RS_CARRIED bytes carried"
}

# Waits for "took over N clients" in daemon 0's log after line FROM (the
# last such line); checks N = CLIENTS when given. Sets RS_TOOK.
rs_check_took() { # FROM [CLIENTS]
	local line
	RS_TOOK=''
	if ! cl_wait_log 0 "$RS_TOOK_RE" "$RS_TIMEOUT" "$1"; then
		cl_fail "the new process did not log 'hand-over: took over'"
		return 1
	fi
	line=$(cl_log_since 0 "$1" | grep -E -- "$RS_TOOK_RE" | tail -n 1)
	[[ $line =~ $RS_TOOK_RE ]]
	RS_TOOK=${BASH_REMATCH[1]}
	[ -z "${2-}" ] || [ "$RS_TOOK" = "$2" ] ||
		cl_fail "took over $RS_TOOK clients, not $2: '$line'"
}

# The highest client id daemon 0 has logged (-v) so far.
rs_max_id() {
	grep -oE -- "$RS_CONNECTED_RE" "$(cl_dlog 0)" |
		awk '{ if ($2 + 0 > m) m = $2 + 0 } END { print m + 0 }'
}

# True once FD's connection ends (EOF or reset) within SECONDS.
rs_client_closed() { # FD [SECONDS]
	timeout "${2-$RS_TIMEOUT}" cat <&"$1" >/dev/null 2>&1
	[ $? != 124 ]
}

# True when the last 4 progress lines of load NAME (250 ms apart) show
# the same noread_sent, above 0 and below FRAMES (all of them sent: not
# stuck, the buffers on the way took them): its sender is stuck on the
# non-reader, the daemon's queues for it full.
rs_noread_stuck() { # NAME FRAMES
	local v
	v=$(grep '^progress ' "$CL_DIR/$1.out" | tail -n 4 |
		sed -n 's/.* noread_sent=\([0-9]*\).*/\1/p' | sort -u)
	[ "$(grep -c '^progress ' "$CL_DIR/$1.out")" -ge 4 ] &&
		[ "$(wc -l <<<"$v")" = 1 ] && [ "${v:-0}" -gt 0 ] &&
		[ "$v" -lt "$2" ]
}

# Ends the sending of the loads given --stop-file "$RS_STOP"; they have
# RS_TIMEOUT seconds from now, all together, to end (rs_load_end).
rs_stop_loads() {
	touch "$RS_STOP"
	RS_LOADS_END=$((SECONDS + RS_TIMEOUT))
}

# Waits until load NAME ends, by the time rs_stop_loads set (or within
# RS_TIMEOUT); if it does not, fails and ends it (SIGTERM to its
# timeout(1), which passes it on).
rs_load_end() { # NAME
	local pid left=$RS_TIMEOUT
	eval "pid=\$CL_LOAD_PID_$1"
	[ -n "${RS_LOADS_END-}" ] && left=$((RS_LOADS_END - SECONDS))
	[ "$left" -ge 1 ] || left=1
	timeout "$left" tail --pid="$pid" -f /dev/null && return 0
	cl_fail "load $1 has not ended (it waits for frames that never came?)"
	kill -TERM "$pid" 2>/dev/null
}

# Fails with what the running loads (NAME...) have reported on stderr
# (lost, repeated or broken frames, each told as soon as it is seen) since
# the last call, said to be after WHAT: the step that broke them.
RS_LOAD_FAILS=0
rs_loads_clean() { # WHAT NAME...
	local what=$1 n new
	shift
	new=$(for n in "$@"; do grep -h '^FAIL' "$CL_DIR/$n.err"; done)
	n=$(grep -c . <<<"$new")
	[ -n "$new" ] || n=0
	if [ "$n" -gt "$RS_LOAD_FAILS" ]; then
		cl_fail "after $what, the loads saw: $(tail -n +$((RS_LOAD_FAILS + 1)) \
			<<<"$new" | head -n 5 | tr '\n' '|')"
	fi
	RS_LOAD_FAILS=$n
}

# Checks a load's totals line, once it ends (rs_load_end): exit 0, ok=1,
# closed=0, nothing lost.
rs_load_done() { # NAME
	rs_load_end "$1"
	cl_load_wait "$1" || cl_fail "load $1 failed"
	[ "$(cl_load_field ok)" = 1 ] && [ "$(cl_load_field closed)" = 0 ] &&
		[ "$(cl_load_field lost)" = 0 ] &&
		[ "$(cl_load_field sent)" = "$(cl_load_field received)" ] ||
		cl_fail "load $1: $CL_LOAD_LINE"
}

# `quit`: the daemon stops (exit status 0, its last stats line kept for
# a reconcile, as cl_daemon_stop keeps it), then fakesd exits 0.
rs_sd_quit() {
	local from log rc stats
	[ -n "$RS_SD_PID" ] || return 0
	from=$(rs_ev_mark)
	log=$(cl_log_mark 0)
	rs_sd_cmd quit
	if rs_wait_event '^exited pid=' "$RS_TIMEOUT" "$from"; then
		[ "$(rs_ev_field status "$RS_EVENT")" = 0 ] ||
			cl_fail "the daemon at quit: '$RS_EVENT'"
	else
		cl_fail "the daemon did not exit at quit"
	fi
	timeout "$RS_TIMEOUT" tail --pid="$RS_SD_PID" -f /dev/null ||
		cl_fail "fakesd still runs after quit"
	wait "$RS_SD_PID"
	rc=$?
	[ "$rc" = 0 ] || cl_fail "fakesd: exit status $rc"
	exec {RS_CMD}>&-
	RS_SD_PID=''
	stats=$(cl_log_since 0 "$log" | sed -n "s/.*$CL_STATS_RE//p" | tail -n 1)
	[ -n "$stats" ] && CL_RETIRED_STATS+=("$stats")
	CL_STATS[0]=''
	CL_D_PID[0]=''
	if grep -qE "$CL_SANITIZER_RE" "$(cl_dlog 0)"; then
		cl_fail "the daemon reported a sanitizer error"
	fi
}

# The end of the restart tests' loads: the loads named (which send until
# now) stopped and each clean; the slow load's non-reader cut, and every
# one of its 20,000 frames to the other reader there.
rs_loads_final() { # LOAD...
	local l
	rs_stop_loads
	for l in "$@"; do
		rs_load_done "$l"
	done
	rs_load_end slow
	cl_load_wait slow || cl_fail "the sender to the non-reader"
	[ "$(cl_load_field noread_cut)" = 1 ] && [ "$(cl_load_field ok)" = 1 ] &&
		[ "$(cl_load_field received)" = 20000 ] &&
		[ "$(cl_load_field closed)" = 0 ] ||
		cl_fail "load slow: $CL_LOAD_LINE"
}

# Once every client is gone: the counters reconcile, and no hand-over
# closed, failed or refused anything.
rs_no_losses() {
	local c
	cl_reconcile 30 || true
	cl_reconcile_conns 30 || true
	for c in disconnect_restart handovers_failed handover_state_refused; do
		[ "$(cl_stat 0 "$c")" = 0 ] || cl_fail "$c=$(cl_stat 0 "$c")"
	done
}
