#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_handover.sh: node 1 of two is restarted in place (SIGUSR2, the
# hand-over of patchbayd(8), RESTARTS) three times while clients of both
# nodes send numbered frames to each other through full outboxes and
# waiting rooms. The other node must notice no more than a pause: its
# link to node 1 never goes down nor sees node 1 restarted, every client
# keeps its connection, every frame arrives once and in order, node 1
# keeps its pid and holds one connection to NATS (the former image's
# must not live on in the new one, unknown to it), and the counters of
# both nodes reconcile. Skipped (77) without nats-server.
set -u
. "$(dirname "$0")/cluster_lib.sh"

cl_init
cl_nats_start 2
# Small queues, so that credit runs out and senders wait on both sides.
CL_DAEMON_ARGS=(--max-frame 1024 --outbox 8192 --park 16384)
cl_daemons_start 2
pid1=${CL_D_PID[1]}
mark0=$(cl_log_mark 0)

cl_load_bg cross --ports "$(cl_ports)" --clients 8 --pattern all \
	--size 300 --window 16 --duration-ms 20000 --progress-ms 200 \
	--timeout-ms 240000
cl_load_flowing cross 300 60 || cl_fail "no traffic before the hand-overs"
for i in 1 2 3; do
	mark=$(cl_log_mark 1)
	cl_daemon_signal 1 USR2
	cl_wait_log 1 'hand-over: took over [0-9]+ clients' 60 "$mark" ||
		cl_fail "node 1: hand-over $i did not happen"
	cl_load_flowing cross 300 60 ||
		cl_fail "no traffic after hand-over $i"
	n=$(cl_daemon_nats_conns 1)
	[ "$n" = 1 ] || cl_fail "after hand-over $i node 1 holds $n" \
		"connections to NATS, not 1: $(ls -l "/proc/$pid1/fd")"
done
cl_daemon_alive 1 && [ "${CL_D_PID[1]}" = "$pid1" ] ||
	cl_fail "node 1 is not the same process any more"
cl_load_wait cross || cl_fail "the load failed across the hand-overs"
[ "$(cl_load_field closed)" = 0 ] || cl_fail "clients were disconnected"
[ "$(cl_load_field ok)" = 1 ] || cl_fail "frames lost, repeated or reordered"
if cl_log_since 0 "$mark0" | grep -E 'link 1: (down|up again)'; then
	cl_fail "node 0 saw its link to node 1 go down or restart"
fi
cl_stats 1
[ "$(cl_field handovers "${CL_STATS[1]}")" = 3 ] ||
	cl_fail "node 1 counts $(cl_field handovers "${CL_STATS[1]}") hand-overs, not 3"
cl_reconcile 30 || true
cl_finish
