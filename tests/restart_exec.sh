#!/bin/bash
# SPDX-License-Identifier: ISC
# restart_exec.sh: the in-place hand-over (SIGUSR2, no service manager)
# keeps every client, and a binary that cannot take over is refused.
# patchbayd runs in the foreground with a small --outbox and --park,
# loaded by tests/cluster_load (pairs, a fan-in with full outboxes and
# waiting rooms, a sender stuck on a client that never reads) and one
# client opened by hand:
#  1. three SIGUSR2 in a row while that flows: each time the daemon keeps
#     its pid (the same process, still this script's child) and logs "took
#     over N clients" with N every client; the traffic goes on, the
#     counters carry over (handovers counts); a client connected after gets
#     an id above every earlier one and reaches the first client; the loads
#     end with every frame once, in order, no connection closed; the
#     counters reconcile.
#  2. the daemon started from a copy of the binary, which is then replaced
#     by a script that exits 1 (--check-config fails), then removed: each
#     SIGUSR2 is refused ("hand-over: refused:"), counted
#     (handovers_failed), and the daemon serves on, same pid, the load
#     intact; with the binary back, SIGUSR2 takes over again.
set -u
. "$(dirname "$0")/restart_lib.sh"

rs_init
CL_DAEMON_ARGS=(-v --outbox 16K --park 16K --max-frame 4K --slow-timeout 15)
cl_daemon_start 0
pid=${CL_D_PID[0]}

# SIGUSR2, then waits for ERE in the log; the daemon must still be pid.
usr2() { # ERE WHAT
	local log
	log=$(cl_log_mark 0)
	cl_daemon_signal 0 USR2
	cl_wait_log 0 "$1" "$RS_TIMEOUT" "$log" ||
		cl_die "SIGUSR2: no '$2' in the log"
	cl_daemon_alive 0 || cl_die "the daemon (pid $pid) is gone"
	[ "${CL_D_PID[0]}" = "$pid" ] || cl_die "pid changed"
	USR2_LOG=$log
}

cl_client_open ha 0
first_id=$CL_CLIENT_ID
common=(--ports "$(cl_ports 0)" --progress-ms 250 --timeout-ms 900000)
cl_load_bg pairs "${common[@]}" --clients 8 --pattern pairs --frames 0 \
	--stop-file "$RS_STOP" --size 200 --window 64
cl_load_bg fanin "${common[@]}" --clients 6 --pattern fanin --frames 0 \
	--stop-file "$RS_STOP" --size 1000 --window 0
# 80 MB to the non-reader: far more than the kernel's buffers on the way
# hold, whatever the host's tcp_rmem (its sender must get stuck).
cl_load_bg slow "${common[@]}" --clients 3 --pattern fanout --no-read 1 \
	--wait-cut --frames 20000 --size 4000 --window 0
clients=$((1 + 8 + 6 + 3))
cl_load_flowing pairs 500 "$RS_TIMEOUT" || cl_die "no traffic between pairs"
cl_load_flowing fanin 500 "$RS_TIMEOUT" || cl_die "no traffic in the fan-in"
cl_until "$RS_TIMEOUT" rs_noread_stuck slow 20000 ||
	cl_die "the frames to the non-reader never got stuck:" \
		"$(cl_load_progress slow)"
cl_stats 0
accepted=$(cl_stat 0 accepted)

# 1. Three in-place hand-overs in a row.
for k in 1 2 3; do
	cl_stats 0
	fwd=$(cl_stat 0 forwarded)
	usr2 "$RS_TOOK_RE" "took over"
	rs_check_took "$USR2_LOG"
	# Every client of the loads that run throughout, and up to the slow
	# load's 3, which come and go on their own time.
	[ "$RS_TOOK" -ge $((clients - 3)) ] && [ "$RS_TOOK" -le "$clients" ] ||
		cl_fail "hand-over $k: took over $RS_TOOK clients, not" \
			"$((clients - 3)) to $clients"
	cl_log_since 0 "$USR2_LOG" | grep -qF -- "bytes carried, to $PATCHBAYD" ||
		cl_fail "hand-over $k: no 'bytes carried, to $PATCHBAYD' line"
	cl_load_flowing pairs 200 "$RS_TIMEOUT" ||
		cl_die "pairs: no traffic after hand-over $k"
	cl_load_flowing fanin 200 "$RS_TIMEOUT" ||
		cl_die "fan-in: no traffic after hand-over $k"
	rs_loads_clean "hand-over $k" pairs fanin slow
	cl_stats 0
	[ "$(cl_stat 0 handovers)" = "$k" ] ||
		cl_fail "handovers=$(cl_stat 0 handovers), not $k"
	[ "$(cl_stat 0 accepted)" = "$accepted" ] ||
		cl_fail "accepted=$(cl_stat 0 accepted), $accepted before"
	[ "$(cl_stat 0 forwarded)" -ge "$fwd" ] ||
		cl_fail "forwarded=$(cl_stat 0 forwarded), $fwd before"
	cl_log "hand-over $k: pid $pid kept, took over $RS_TOOK clients"
done

max=$(rs_max_id)
[ "$max" -ge "$first_id" ] || cl_fail "no ids in the log (is -v given?)"
cl_client_open hb 0
[ "$CL_CLIENT_ID" -gt "$max" ] ||
	cl_fail "a new client got id $CL_CLIENT_ID, not above $max"
cl_client_send "$hb" "$first_id" "to the first client, after 3 hand-overs"
cl_client_expect "$ha" "to the first client, after 3 hand-overs"

rs_loads_final pairs fanin
cl_client_close "$ha"
cl_client_close "$hb"
rs_no_losses
cl_log "part 1 done"

# 2. From a copy of the binary, which then cannot take over.
cl_daemon_stop 0
mkdir -p "$CL_DIR/bin"
copy=$CL_DIR/bin/patchbayd
cp "$PATCHBAYD" "$copy" || cl_die "cannot copy $PATCHBAYD"
PATCHBAYD=$copy cl_daemon_start 0 # $PATCHBAYD is the real one again after
pid=${CL_D_PID[0]}
rm -f "$RS_STOP"
RS_LOAD_FAILS=0
cl_client_open ha 0
cl_load_bg pairs2 --ports "$(cl_ports 0)" --progress-ms 250 \
	--timeout-ms 900000 --clients 8 --pattern pairs --frames 0 \
	--stop-file "$RS_STOP" --size 200 --window 64
cl_load_flowing pairs2 500 "$RS_TIMEOUT" || cl_die "no traffic between pairs"

# Replaced (renamed over: the running image keeps its own file).
printf '#!/bin/sh\nexit 1\n' >"$copy.new"
chmod +x "$copy.new"
mv -f "$copy.new" "$copy"
fails=0
for how in "a script that exits 1" "no file"; do
	[ "$how" = "no file" ] && rm -f "$copy"
	usr2 "$RS_REFUSED_RE" "hand-over: refused:"
	fails=$((fails + 1))
	cl_log "binary replaced by $how: $(cl_log_since 0 "$USR2_LOG" |
		grep -E -m 1 -- "$RS_REFUSED_RE")"
	! cl_log_since 0 "$USR2_LOG" | grep -qE -- "$RS_TOOK_RE" ||
		cl_fail "$how: took over all the same"
	cl_load_flowing pairs2 200 "$RS_TIMEOUT" ||
		cl_fail "$how: no traffic after the refused hand-over"
	rs_loads_clean "the refused hand-over ($how)" pairs2
	cl_stats 0
	[ "$(cl_stat 0 handovers_failed)" = "$fails" ] ||
		cl_fail "$how: handovers_failed=$(cl_stat 0 handovers_failed)"
done
# The binary back: taken over again, same pid.
cp "$PATCHBAYD" "$copy.new" || cl_die "cannot copy $PATCHBAYD"
mv -f "$copy.new" "$copy"
usr2 "$RS_TOOK_RE" "took over"
rs_check_took "$USR2_LOG" 9
rs_stop_loads
rs_load_done pairs2
cl_client_close "$ha"
cl_stats 0
[ "$(cl_stat 0 handovers)" = 1 ] && [ "$(cl_stat 0 handovers_failed)" = 2 ] ||
	cl_fail "handovers=$(cl_stat 0 handovers)," \
		"handovers_failed=$(cl_stat 0 handovers_failed)"
cl_reconcile 30 || true
cl_finish
