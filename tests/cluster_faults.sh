#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_faults.sh: traffic between three daemons while NATS servers
# fail: the server daemon 1 is connected to (server 1) is killed with -9
# and started again with the same configuration; then server 2 hangs
# (SIGSTOP) for 5 s and goes on (SIGCONT). Through both, every frame
# arrives once and in order (no --allow-loss), nothing is dropped, and the
# counters reconcile. Skipped (77) without nats-server.
set -u
. "$(dirname "$0")/cluster_lib.sh"

cl_init
cl_nats_start 3
CL_LINK_TIMEOUT=${CL_LINK_TIMEOUT_FAULTS:-20}
cl_daemons_start 3

# Traffic flows: N more frames received within SECONDS.
flowing() { cl_load_flowing faults "$1" "$2"; }

# Pairs across nodes, and fan-in and fan-out through the "all" pattern,
# at a rate, for 25 s; then it waits for every frame.
cl_load_bg faults --ports "$(cl_ports)" --clients 9 --pattern all \
	--frames 0 --duration-ms 25000 --rate 50 --size 200 --window 256 \
	--progress-ms 250 --timeout-ms 120000
flowing 300 10 || cl_fail "no traffic before the faults"

# 1. kill -9 the server daemon 1 uses, mid-traffic; then start it again.
cl_nats_kill 1
flowing 300 30 || cl_fail "traffic stopped after server 1 was killed"
cl_nats_restart 1
for i in 0 2; do
	cl_nats_wait "$i" || cl_fail "server $i: routes not back"
done
flowing 300 30 || cl_fail "traffic stopped after server 1 came back"

# 2. Server 2 hangs for 5 s (its clients and routes see nothing: the
#    ping_interval of 2 s and ping_max 2 of the servers and the daemons'
#    own pings find it), then goes on.
cl_nats_signal 2 STOP
sleep 5 # the hang itself
cl_nats_signal 2 CONT
for i in 0 1 2; do
	cl_nats_wait "$i" || cl_fail "server $i: routes not back after CONT"
done
flowing 300 30 || cl_fail "traffic stopped after server 2's hang"

cl_load_wait faults || cl_fail "frames lost, duplicated or reordered"
cl_reconcile 30 || true
[ "$CL_DROPPED" = 0 ] || cl_fail "$CL_DROPPED frames dropped, expected none"
[ "$(cl_load_field received)" -gt 0 ] || cl_fail "no frame received"
cl_finish
