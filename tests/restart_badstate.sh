#!/bin/bash
# SPDX-License-Identifier: ISC
# restart_badstate.sh: a new process given a bad state starts clean,
# counts it, and neither crashes nor loops. patchbayd runs under
# tests/fakesd; with two clients connected, fakesd tampers with the stored
# pb-state before the new process starts (`corrupt MODE`, then `restart`):
#   truncate  the first half of it kept
#   flip      a byte of the body flipped (the CRC no longer matches)
#   version   the oldest reader version set to 999
#   nobag     the pb-bag entry removed (fewer sockets than the state names)
# Each time: one process started (no loop), it logs "hand-over: state
# refused: ...; starting clean, closing N connections" and no take-over,
# says READY=1, empties the store; the two clients are closed;
# handover_state_refused=1 and disconnect_restart=N in the new process;
# new clients get ids above the old ones and are served (frames between
# them, a numbered load). Last, a restart with a good state takes over
# again, and in all one process was started per restart.
set -u
. "$(dirname "$0")/restart_lib.sh"

rs_init
rs_sd_start --outbox 16K --park 16K --max-frame 4K
starts=1	# processes fakesd should have started, in all

# After a restart that no process survived (fakesd hit its start limit
# and dropped the store): a fresh start, so that the next mode is tried.
fresh_start() {
	local from
	from=$(rs_ev_mark)
	rs_sd_cmd start
	rs_wait_event '^started pid=' "$RS_TIMEOUT" "$from" ||
		cl_die "start: nothing started"
	CL_D_PID[0]=$(rs_ev_field pid "$RS_EVENT")
	rs_wait_event "^ready pid=${CL_D_PID[0]} " "$RS_TIMEOUT" "$from" ||
		cl_die "a fresh start did not say READY=1 either"
}

# Two clients, `corrupt MODE`, `restart`; each check of the header.
bad_restart() { # MODE
	local mode=$1 old=${CL_D_PID[0]} from log line closed max
	cl_client_open ca 0
	cl_client_open cb 0
	cl_client_send "$ca" "$CL_CLIENT_ID" "from a to b, before the $mode"
	cl_client_expect "$cb" "from a to b, before the $mode"
	from=$(rs_ev_mark)
	log=$(cl_log_mark 0)
	rs_sd_cmd corrupt "$mode"
	rs_sd_cmd restart
	RS_NAMES_RE='(pb-bag:pb-state|pb-state:pb-bag)'
	[ "$mode" = nobag ] && RS_NAMES_RE=pb-state
	rs_check_stored "$old" "$from" || cl_die "$mode: restart of pid $old"
	rs_wait_event "^corrupted $mode n=[1-9]" "$RS_TIMEOUT" "$from" ||
		cl_fail "$mode: fakesd did not tamper with the state"
	if ! rs_check_started "$old"; then
		starts=$((starts + RS_STARTS + 1))
		cl_fail "$mode: the daemon's last words: $(cl_log_since 0 "$log" |
			grep -v '^client ' | tail -n 2 | tr '\n' '|')"
		cl_client_close "$ca"
		cl_client_close "$cb"
		fresh_start
		return 1
	fi
	starts=$((starts + 1))
	[ "$RS_STARTS" = 1 ] || cl_fail "$mode: $RS_STARTS processes started"
	if ! cl_wait_log 0 "$RS_STATE_REFUSED_RE" "$RS_TIMEOUT" "$log"; then
		cl_fail "$mode: no 'hand-over: state refused:' in the log"
	fi
	line=$(cl_log_since 0 "$log" | grep -E -m 1 -- "$RS_STATE_REFUSED_RE")
	[[ $line =~ $RS_STATE_REFUSED_RE ]]
	closed=${BASH_REMATCH[1]:-}
	cl_log "$mode: ${line#*hand-over: }"
	! cl_log_since 0 "$log" | grep -qE -- "$RS_TOOK_RE" ||
		cl_fail "$mode: took the clients over from a bad state"
	rs_client_closed "$ca" || cl_fail "$mode: the first client was not closed"
	rs_client_closed "$cb" || cl_fail "$mode: the second client was not closed"
	cl_client_close "$ca"
	cl_client_close "$cb"
	cl_stats 0
	[ "$(cl_stat 0 handover_state_refused)" = 1 ] ||
		cl_fail "$mode: handover_state_refused=$(cl_stat 0 handover_state_refused)"
	[ "$(cl_stat 0 disconnect_restart)" = "${closed:-x}" ] ||
		cl_fail "$mode: disconnect_restart=$(cl_stat 0 disconnect_restart)," \
			"the log says $closed connections closed"
	[ "$(cl_stat 0 handovers)" = 0 ] ||
		cl_fail "$mode: handovers=$(cl_stat 0 handovers) after a clean start"

	# Served: new clients, ids above the old, frames, a numbered load.
	max=$(rs_max_id)
	cl_client_open cc 0
	[ "$CL_CLIENT_ID" -gt "$max" ] ||
		cl_fail "$mode: a new client got id $CL_CLIENT_ID, not above $max"
	cl_client_open cd 0
	cl_client_send "$cc" "$CL_CLIENT_ID" "from c to d, after the $mode"
	cl_client_expect "$cd" "from c to d, after the $mode"
	cl_client_close "$cc"
	cl_client_close "$cd"
	cl_load "after_$mode" --ports "$(cl_ports 0)" --clients 4 \
		--pattern pairs --frames 2000 --size 100 --timeout-ms 300000 ||
		cl_fail "$mode: the load after the clean start"
}

for mode in truncate flip version nobag; do
	bad_restart "$mode"
done

# A good state again: taken over.
RS_NAMES_RE='(pb-bag:pb-state|pb-state:pb-bag)'
cl_client_open ca 0
cl_client_open cb 0
b_id=$CL_CLIENT_ID
rs_restart 2
starts=$((starts + 1))
cl_client_send "$ca" "$b_id" "from a to b, after a good restart"
cl_client_expect "$cb" "from a to b, after a good restart"
cl_client_close "$ca"
cl_client_close "$cb"

n=$(grep -c '^started ' "$RS_EVENTS")
[ "$n" = "$starts" ] || cl_fail "$n processes started, not $starts (a loop?)"
cl_daemon_alive 0 || cl_fail "the daemon is gone"
cl_reconcile 30 || true
rs_sd_quit
cl_finish
