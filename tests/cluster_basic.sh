#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_basic.sh: three daemons (--node-bits 4, nodes 0 to 2) over a
# three-server NATS cluster: pairs across nodes, fan-in to one client from
# clients on every node, fan-out from one client to clients on every node,
# and every client to every other; every frame arrives once, in order, and
# the counters reconcile across the nodes with nothing dropped. Skipped
# (77) without nats-server.
set -u
. "$(dirname "$0")/cluster_lib.sh"

cl_init
cl_nats_start 3
cl_daemons_start 3

# Client i is on node i % 3: consecutive clients, so every pair, and the
# fan-in and fan-out, cross nodes.
p=$(cl_ports)
cl_load pairs --ports "$p" --clients 12 --pattern pairs --frames 2000 \
	--size 200 --window 64 --timeout-ms 60000 || cl_fail "pairs"
cl_load fanin --ports "$p" --clients 10 --pattern fanin --frames 1000 \
	--size 100 --window 32 --timeout-ms 60000 || cl_fail "fan-in"
cl_load fanout --ports "$p" --clients 10 --pattern fanout --frames 1000 \
	--size 100 --window 32 --timeout-ms 60000 || cl_fail "fan-out"
cl_load all --ports "$p" --clients 6 --pattern all --frames 300 \
	--size 1000 --window 16 --timeout-ms 60000 || cl_fail "all to all"
# Big frames, no window: the links batch and back-pressure.
cl_load big --ports "$p" --clients 4 --pattern pairs --frames 300 \
	--size 60000 --window 0 --timeout-ms 60000 || cl_fail "big frames"

cl_reconcile 30 || true
[ "$CL_DROPPED" = 0 ] || cl_fail "$CL_DROPPED frames dropped, expected none"
# Every frame sent crossed a link (pairs of consecutive clients, fan-in and
# fan-out to client 0 from the others, all-to-all but a third).
if cl_federated; then
	remote=$(cl_sum sent_remote)
	[ "$remote" -gt 0 ] || cl_fail "sent_remote is 0 on every node"
	[ "$(cl_sum received_remote)" = "$remote" ] ||
		cl_fail "received_remote=$(cl_sum received_remote), sent_remote=$remote"
fi
cl_reconcile_conns || true
cl_finish
