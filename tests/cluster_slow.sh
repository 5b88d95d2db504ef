#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_slow.sh: a client on node 1 that never reads. A sender on node 0
# sends to it and to a reading client on node 1 as fast as it can; it
# parks for the non-reader and is finally slowed by TCP. Meanwhile other
# clients of node 0 keep their traffic to node 1 flowing. With
# --slow-timeout 2, node 1 cuts the non-reader (disconnect_slow_consumer),
# the sender on node 0 is released, and every frame it sent to the reading
# client arrives, once, in order. The counters reconcile. Skipped (77)
# without nats-server.
set -u
. "$(dirname "$0")/cluster_lib.sh"

cl_init
cl_nats_start 3
CL_DAEMON_ARGS=(--slow-timeout 2 --outbox 256K --park 256K)
cl_daemons_start 2

# Other traffic: pairs between node 0 and node 1, at a rate, for 8 s.
cl_load_bg others --ports "$(cl_ports 0 1)" --clients 4 --pattern pairs \
	--frames 0 --duration-ms 8000 --rate 200 --size 100 --progress-ms 500 \
	--timeout-ms 60000
cl_load_flowing others 100 10 || cl_fail "no traffic between the others"

# Client 0 on node 0 sends to client 1 (node 1, never reads) and client 2
# (node 1, reads): 20000 frames of 1000 bytes each, far more than the
# queues and socket buffers on the way hold, so the sender must wait for
# the cut. The load ends once the non-reader was cut and every frame to the
# reader arrived.
# 80 MB to the non-reader: far more than the kernel's buffers on the way
# hold, whatever the host's tcp_rmem (its sender must get stuck).
cl_load slow --ports "$(cl_ports 0 1 1)" --clients 3 --pattern fanout \
	--no-read 1 --wait-cut --frames 20000 --size 4000 --window 0 \
	--progress-ms 500 --timeout-ms 120000 ||
	cl_fail "the sender to the non-reader: not released, or frames to the reader lost"
[ "$(cl_load_field noread_cut)" = 1 ] || cl_fail "the non-reader was not cut"
[ "$(cl_load_field received)" = 20000 ] ||
	cl_fail "the reading client got $(cl_load_field received) of 20000"

# The others kept going while the sender was parked: the load checks each
# of its frames; here, that it received in every half second.
cl_load_wait others || cl_fail "the other clients' traffic"
prev=-1
stalls=0
while read -r line; do
	r=$(cl_field received "$line")
	[ "$r" -gt "$prev" ] || stalls=$((stalls + 1))
	prev=$r
done < <(grep '^progress ' "$CL_DIR/others.out" | head -n 14)
[ "$stalls" -le 1 ] ||
	cl_fail "the other clients' traffic stalled in $stalls half-seconds"

cl_stats_all
n=$(cl_stat 1 disconnect_slow_consumer)
cl_federated || n=$(cl_sum disconnect_slow_consumer)
[ "$n" -ge 1 ] || cl_fail "node 1: disconnect_slow_consumer=$n"
cl_reconcile 30 || true
cl_finish
