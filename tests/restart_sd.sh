#!/bin/bash
# SPDX-License-Identifier: ISC
# restart_sd.sh: restarts through systemd's fd store keep every client.
# patchbayd runs under tests/fakesd (systemd's part: the notify socket, the
# fd store, RestartKillSignal=SIGRTMIN+1, Restart=on-failure) with a small
# --outbox and --park, loaded by tests/cluster_load: pairs, a fan-in whose
# receiver's outbox and senders' waiting rooms stay full, a sender stuck
# on a client that never reads (its outbox and waiting room full), 200
# quieter pairs (so that a take-over lasts long enough to be killed in the
# middle of it), plus one client opened by hand. While that flows:
#  1. three `restart`s: each time the old process stores pb-state and
#     pb-bag and passes the barrier, exits 0; a new process (new pid) gets
#     them, says READY=1, then empties the store; it logs "took over N
#     clients" with N every client; the traffic goes on; the counters carry
#     over (accepted unchanged, forwarded not less, handovers counts);
#  2. the new process killed before READY=1 (fakesd's killnext 0: at once;
#     killthreads: once it runs 8, 30, then 60 threads, in the middle of
#     taking the clients over): fakesd starts another with the store
#     intact, which takes every client over, and no frame is lost or
#     repeated;
#  3. a client connected after all that gets an id above every earlier one,
#     and reaches the hand-made client connected before the first restart.
# Then every load ends with every frame received once and in order and no
# connection closed (closed=0, ok=1; the non-reader is cut by
# --slow-timeout only after the restarts, and its sender released), and
# the counters reconcile (received = forwarded + dropped; accepted = the
# disconnects), none closed by a restart (disconnect_restart=0).
#  4. `stop` then `start`: the clients are closed, the store is dropped
#     (the new process starts with no fds), ids go on above the old ones.
set -u
. "$(dirname "$0")/restart_lib.sh"

rs_init
rs_sd_start --outbox 16K --park 16K --max-frame 4K --slow-timeout 15

cl_client_open ha 0
first_id=$CL_CLIENT_ID
ports=$(cl_ports 0)
common=(--ports "$ports" --progress-ms 250 --timeout-ms 900000)
cl_load_bg pairs "${common[@]}" --clients 8 --pattern pairs --frames 0 \
	--stop-file "$RS_STOP" --size 200 --window 64
cl_load_bg fanin "${common[@]}" --clients 6 --pattern fanin --frames 0 \
	--stop-file "$RS_STOP" --size 1000 --window 0
# 80 MB to the non-reader: far more than the kernel's buffers on the way
# hold, whatever the host's tcp_rmem (its sender must get stuck).
cl_load_bg slow "${common[@]}" --clients 3 --pattern fanout --no-read 1 \
	--wait-cut --frames 20000 --size 4000 --window 0
# And many quieter pairs: a take-over of a few hundred clients takes
# long enough for a kill to land in the middle of it.
cl_load_bg many "${common[@]}" --clients 200 --pattern pairs --frames 0 \
	--stop-file "$RS_STOP" --size 64 --window 8 --rate 50
clients=$((1 + 8 + 6 + 3 + 200))
cl_load_flowing pairs 500 "$RS_TIMEOUT" || cl_die "no traffic between pairs"
cl_load_flowing fanin 500 "$RS_TIMEOUT" || cl_die "no traffic in the fan-in"
cl_load_flowing many 500 "$RS_TIMEOUT" || cl_die "no traffic in many pairs"
cl_until "$RS_TIMEOUT" rs_noread_stuck slow 20000 ||
	cl_die "the frames to the non-reader never got stuck:" \
		"$(cl_load_progress slow)"
cl_stats 0
accepted=$(cl_stat 0 accepted)
[ "$accepted" = "$clients" ] || cl_fail "accepted=$accepted, not $clients"

# The clients taken over: every client of the loads that run throughout
# (the hand-made one, pairs, fan-in, the 200 quiet pairs), and up to the
# slow load's 3, which come and go on their own time (its non-reader is
# cut, then the load ends). Losing one of the others shows as closed= in
# its load too.
steady=$((clients - 3))
took_ok() { # RESTART
	[ "$RS_TOOK" -ge "$steady" ] && [ "$RS_TOOK" -le "$clients" ] ||
		cl_fail "restart $1: took over $RS_TOOK clients, not" \
			"$steady to $clients"
}

# After each hand-over: traffic again, the counters carried over.
after_handover() { # HANDOVERS
	local fwd
	fwd=$(cl_stat 0 forwarded)
	cl_load_flowing pairs 200 "$RS_TIMEOUT" ||
		cl_die "pairs: no traffic after hand-over $1"
	cl_load_flowing fanin 200 "$RS_TIMEOUT" ||
		cl_die "fan-in: no traffic after hand-over $1"
	rs_loads_clean "hand-over $1" pairs fanin slow many
	cl_stats 0
	[ "$(cl_stat 0 accepted)" = "$accepted" ] ||
		cl_fail "accepted=$(cl_stat 0 accepted) after hand-over $1," \
			"$accepted before"
	[ "$(cl_stat 0 forwarded)" -ge "$fwd" ] ||
		cl_fail "forwarded=$(cl_stat 0 forwarded) after hand-over $1," \
			"$fwd before"
	[ "$(cl_stat 0 handovers)" = "$1" ] ||
		cl_fail "handovers=$(cl_stat 0 handovers), not $1"
}

# 1. Three restarts while the traffic flows.
pids=" ${CL_D_PID[0]} "
for k in 1 2 3; do
	rs_restart
	took_ok "$k"
	[[ $pids != *" ${CL_D_PID[0]} "* ]] ||
		cl_fail "restart $k: pid ${CL_D_PID[0]} was used before"
	pids+="${CL_D_PID[0]} "
	if [ "$k" = 1 ] && [ "$RS_CARRIED" -lt 16384 ]; then
		cl_fail "$RS_CARRIED bytes carried: less than the full outbox" \
			"(16 KiB) of the non-reader"
	fi
	after_handover "$k"
done

# 2. The new process killed before READY=1: at once (before it runs),
# then once it runs 8, 30, then 60 threads (one a client: it is taking the
# clients over). One that said READY=1 sooner is not killed (fakesd says
# the kill missed, and that restart is a plain one).
rs_sd_cmd killnext 0
rs_restart
took_ok "killnext 0"
[ "$RS_STARTS" = 2 ] ||
	cl_fail "killnext 0: $RS_STARTS processes started, not 2"
after_handover 4
handovers=4
for threads in 8 30 60; do
	rs_sd_cmd killthreads "$threads"
	rs_restart
	took_ok "killthreads $threads"
	cl_log "killthreads $threads: $(grep -E '^(killed|kill missed)' \
		"$RS_EVENTS" | tail -n 1)"
	handovers=$((handovers + 1))
	after_handover "$handovers"
done

# 3. A new client: an id above all before; the first client still there.
max=$(rs_max_id)
[ "$max" -ge "$first_id" ] || cl_fail "no ids in the log (is -v given?)"
cl_client_open hb 0
[ "$CL_CLIENT_ID" -gt "$max" ] ||
	cl_fail "a new client got id $CL_CLIENT_ID, not above $max"
cl_client_send "$hb" "$first_id" "to the first client, after 7 restarts"
cl_client_expect "$ha" "to the first client, after 7 restarts"

rs_loads_final pairs fanin many
cl_client_close "$ha"
cl_client_close "$hb"
rs_no_losses

# 4. stop, start: today's restart. The clients are closed, the store
# dropped; new ids are still above the old (the state dir).
cl_client_open hc 0
old_pid=${CL_D_PID[0]}
from=$(rs_ev_mark)
log=$(cl_log_mark 0)
rs_sd_cmd stop
rs_wait_event "^exited pid=$old_pid " "$RS_TIMEOUT" "$from" &&
	[ "$(rs_ev_field status "$RS_EVENT")" = 0 ] ||
	cl_fail "stop: '$RS_EVENT', not status=0"
rs_client_closed "$hc" || cl_fail "stop: the client was not closed"
cl_client_close "$hc"
stats=$(cl_log_since 0 "$log" | sed -n "s/.*$CL_STATS_RE//p" | tail -n 1)
[ -n "$stats" ] || cl_fail "no stats line at stop"
CL_RETIRED_STATS+=("$stats")
from=$(rs_ev_mark)
log=$(cl_log_mark 0)
rs_sd_cmd start
rs_wait_event '^started pid=' "$RS_TIMEOUT" "$from" ||
	cl_die "start: nothing started"
[ "$(rs_ev_field fds "$RS_EVENT")" = 0 ] ||
	cl_fail "start after stop: '$RS_EVENT' (the store was not dropped)"
CL_D_PID[0]=$(rs_ev_field pid "$RS_EVENT")
rs_wait_event "^ready pid=${CL_D_PID[0]} " "$RS_TIMEOUT" "$from" ||
	cl_die "start after stop: no READY=1"
! cl_log_since 0 "$log" | grep -qE -- "$RS_TOOK_RE" ||
	cl_fail "start after stop took clients over"
max=$(rs_max_id)
cl_client_open hd 0
[ "$CL_CLIENT_ID" -gt "$max" ] ||
	cl_fail "after stop and start, id $CL_CLIENT_ID is not above $max"
cl_client_close "$hd"
cl_reconcile 30 || true
rs_sd_quit
cl_finish
