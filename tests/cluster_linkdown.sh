#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_linkdown.sh: with --link-timeout 2, daemon 1 is stopped
# (SIGSTOP) for longer than that while a client of node 0 sends to a
# client of node 1 as fast as it may. Node 0 logs the link to node 1 down,
# drops what it queued for it and counts it as dropped_remote_unreachable,
# and its sender, parked by then, is released (it sends again while node 1
# is still stopped). After SIGCONT the link comes back up and new frames
# arrive. The load allows loss but no duplicate and no reordering; what it
# lost is what the cluster counted as dropped; the counters reconcile.
# Beside it, clients of both nodes send to each other (parked, when node 1
# stops, on node 1's clients, whose ids share the senders' cache slots
# with node 0's): every frame lost is counted for the link, none as for a
# destination that left or is unknown.
# Skipped (77) without nats-server.
set -u
. "$(dirname "$0")/cluster_lib.sh"

cl_init
cl_nats_start 3
CL_LINK_TIMEOUT=2
cl_daemons_start 2 --outbox 256K --park 256K

# Client 0 (node 0) -> client 1 (node 1): 1000-byte frames at up to 5000
# a second, no window, for 20 s; then it waits until nothing more arrives
# for 3 s. Progress every 250 ms.
cl_load_bg down --ports "$(cl_ports 0 1)" --clients 2 --pattern fanout \
	--frames 0 --duration-ms 20000 --rate 5000 --size 1000 --window 0 \
	--allow-loss --quiet-ms 3000 --progress-ms 250 --timeout-ms 90000
cl_load_flowing down 1000 10 || cl_fail "no traffic before the stop"
cl_load_bg mix --ports "$(cl_ports 0 1)" --clients 4 --pattern all \
	--frames 0 --duration-ms 20000 --rate 1000 --size 1000 --window 0 \
	--allow-loss --quiet-ms 3000 --progress-ms 250 --timeout-ms 90000
cl_load_flowing mix 1000 10 || cl_fail "no mixed traffic before the stop"

mark0=$(cl_log_mark 0)
cl_daemon_signal 1 STOP
# shellcheck disable=SC2059
down_re=$(printf "$CL_LINK_DOWN_RE" 1)
# shellcheck disable=SC2059
up_re=$(printf "$CL_LINK_UP_RE" 1)
if cl_federated; then
	cl_wait_log 0 "$down_re" 20 "$mark0" ||
		cl_fail "node 0 did not log '$down_re' within 20 s of node 1's stop"
	cl_log "node 0: $(cl_log_since 0 "$mark0" | grep -E -m 1 -- "$down_re")"
else
	sleep 4 # the dry run: no link to go down
fi
# The sender is released: it sends again while node 1 is still stopped.
cl_load_flowing down 1000 10 sent ||
	cl_fail "the sender on node 0 was not released after the link went down"
cl_stats 0
if cl_federated && [ "$(cl_stat 0 dropped_remote_unreachable)" -le 0 ]; then
	cl_fail "node 0: dropped_remote_unreachable=0 after the link went down"
fi

mark0=$(cl_log_mark 0)
cl_daemon_signal 1 CONT
at_cont=$(cl_progress down received)
if cl_federated; then
	cl_wait_log 0 "$up_re" 30 "$mark0" ||
		cl_fail "node 0: no '$up_re' within 30 s of node 1's SIGCONT"
fi
cl_load_flowing down 1000 20 ||
	cl_fail "no new frame arrived after the link came back"

cl_load_wait down || cl_fail "duplicates or reordering across the link's loss"
[ "$(cl_load_field received)" -gt "$at_cont" ] ||
	cl_fail "nothing received after SIGCONT"
lost=$(cl_load_field lost)
cl_load_wait mix || cl_fail "mixed load: duplicates or reordering"
mixed=$(cl_load_field lost)
lost=$((lost + ${mixed:-0}))
cl_reconcile 30 || true
[ "$lost" = "$CL_DROPPED" ] ||
	cl_fail "the loads lost $lost frames, the nodes counted $CL_DROPPED dropped"
for i in 0 1; do
	for s in dropped_destination_left dropped_unknown_destination; do
		[ "$(cl_stat "$i" "$s")" = 0 ] ||
			cl_fail "node $i counts $s=$(cl_stat "$i" "$s"): only the link lost frames"
	done
done
cl_finish
