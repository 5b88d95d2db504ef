#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_harness.sh: checks the cluster tests' own tools, so that a
# cluster test that fails points at the daemons, not at its harness:
#  1. tests/cluster_load and tests/cluster_lib.sh against one plain
#     patchbayd (no NATS, --node-bits 0): every pattern, several clients
#     per daemon "port", a client that never reads (cut by --slow-timeout,
#     its sender released), a timed run with a rate, the counters
#     reconciled, a restart with the state dir (ids above the old ones, a
#     frame to an old id counted as unknown);
#  2. when nats-server is installed: a three-server NATS cluster started,
#     its routes up, one server killed (-9) and restarted, one stopped
#     (SIGSTOP) and continued, every route back, all stopped by pid.
# Passes without the federation in the daemon.
set -u
. "$(dirname "$0")/cluster_lib.sh"

CL_FEDERATION=0 CL_NODE_BITS=0
cl_init --no-nats
cl_daemon_start 0 --slow-timeout 2 --outbox 64K --park 64K

# 1. The loader against one daemon, clients given out over "three" ports.
p=$(cl_ports 0 0 0)
for pattern in pairs fanin fanout all; do
	cl_load "$pattern" --ports "$p" --clients 7 --pattern "$pattern" \
		--frames 500 --size 300 --timeout-ms 30000 ||
		cl_fail "load $pattern"
	[ "$(cl_load_field received)" = "$(cl_load_field sent)" ] &&
		[ "$(cl_load_field sent)" -gt 0 ] ||
		cl_fail "load $pattern: $CL_LOAD_LINE"
done
cl_load window0 --ports "$p" --clients 4 --pattern pairs --frames 5000 \
	--size 64 --window 0 || cl_fail "load with no window"

# A client that never reads: cut after 2 s, its sender released, the
# sender's frames to the reading client all delivered. 80 MB to it: far
# more than the kernel's buffers on the way hold, whatever the host's
# tcp_rmem (20 MB once fitted in a daemon's receive buffer, with a
# tcp_rmem maximum of 32 MB, and the sender was never stuck).
cl_load noread --ports "$p" --clients 3 --pattern fanout --no-read 1 \
	--frames 20000 --size 4000 --window 0 --wait-cut --timeout-ms 60000 ||
	cl_fail "load with a client that never reads"
[ "$(cl_load_field noread_cut)" = 1 ] || cl_fail "the non-reader was not cut"
cl_stats 0
[ "$(cl_stat 0 disconnect_slow_consumer)" -ge 1 ] ||
	cl_fail "no disconnect_slow_consumer"

# A timed run at a rate, with progress lines.
cl_load timed --ports "$p" --clients 6 --pattern all --duration-ms 1500 \
	--rate 200 --progress-ms 500 || cl_fail "timed load"
grep -q '^progress ' "$CL_DIR/timed.out" || cl_fail "no progress lines"
# 6 clients, 30 flows, 200 frames/s for 1.5 s: about 9000 frames.
sent=$(cl_load_field sent)
[ "$sent" -ge 7000 ] && [ "$sent" -le 9100 ] ||
	cl_fail "timed load: $sent frames sent, expected about 9000"

# With loss allowed, a run that loses nothing passes too.
cl_load lossy --ports "$p" --clients 2 --pattern pairs --frames 100 \
	--allow-loss || cl_fail "load with --allow-loss"

cl_reconcile || true
cl_reconcile_conns || true

# A restart with the state dir: ids above the old ones; a frame to an old
# id is counted as unknown; the counters of both runs reconcile.
cl_client_open fa 0
old=$CL_CLIENT_ID
cl_client_close "$fa"
cl_daemon_restart 0
cl_client_open fb 0
new=$CL_CLIENT_ID
cl_client_open fc 0
[ "$new" -gt "$old" ] || cl_fail "after a restart, id $new is not above $old"
cl_stats 0
before=$(cl_stat 0 dropped_unknown_destination)
cl_client_send "$fc" "$old" "to the old id"
cl_client_send "$fc" "$new" "to the new id"
cl_client_expect "$fb" "to the new id"
cl_stats 0
[ "$(cl_stat 0 dropped_unknown_destination)" = $((before + 1)) ] ||
	cl_fail "the frame to the old id $old was not counted unknown"
cl_client_close "$fb"
cl_client_close "$fc"
cl_reconcile || true
cl_log "part 1 done (plain daemon)"

# 2. The NATS cluster on its own.
if ! cl_find_nats; then
	cl_log "no nats-server: NATS part skipped"
	cl_finish
fi
cl_nats_start 3
cl_nats_urls 1 | grep -q "^nats://127.0.0.1:${CL_NATS_PORT[1]},nats://" ||
	cl_fail "cl_nats_urls 1 does not start with server 1"
for i in 0 1 2; do
	cl_nats_ready "$i" 2 || cl_fail "nats server $i not ready"
done
cl_nats_kill 1
cl_until 15 eval '! cl_nats_ready 0 2' || cl_fail "server 0 still has 2 routes"
cl_nats_restart 1
cl_nats_wait 0 && cl_nats_wait 2 || cl_fail "routes not back after the restart"
cl_nats_signal 2 STOP
cl_until 20 eval '! cl_nats_ready 0 2' ||
	cl_fail "server 0 kept its route to the stopped server"
cl_nats_signal 2 CONT
for i in 0 1 2; do
	cl_nats_wait "$i" || cl_fail "server $i: routes not back after CONT"
done
pids="${CL_NATS_PID[*]}"
cl_nats_stop_all
for pid in $pids; do
	kill -0 "$pid" 2>/dev/null && cl_fail "nats server pid $pid still runs"
done
cl_log "part 2 done (NATS cluster)"
cl_finish
