#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_restart.sh: daemon 1 is restarted (SIGTERM, then started again
# with the same --state-dir). Its new ids are above the ones it gave
# before, with its node number in the top bits; frames that node 0 sends
# to an old id of node 1 are dropped and counted as unknown (by node 0 or
# node 1, once each); the links come up again and traffic across the nodes
# flows as before. The counters of both runs of node 1 and of node 0
# reconcile. Skipped (77) without nats-server.
set -u
. "$(dirname "$0")/cluster_lib.sh"

cl_init
cl_nats_start 3
cl_daemons_start 2
node_of() { echo $(($1 >> (32 - CL_NODE_BITS))); }
unknown() {
	cl_stats_all
	cl_sum_re '^dropped_unknown'
}

# Traffic across the nodes before the restart.
cl_load before --ports "$(cl_ports)" --clients 4 --pattern pairs \
	--frames 500 --size 100 || cl_fail "traffic before the restart"

# Two clients of node 1 whose ids will be old: one leaves before the
# restart, one is still connected when node 1 stops.
cl_client_open fa 1
old_left=$CL_CLIENT_ID
cl_client_close "$fa"
cl_client_open fb 1
old=$CL_CLIENT_ID
if cl_federated && [ "$(node_of "$old")" != 1 ]; then
	cl_fail "id $old of node 1 has node bits $(node_of "$old")"
fi

mark0=$(cl_log_mark 0)
cl_daemon_restart 1
cl_client_close "$fb"
if cl_federated; then
	# shellcheck disable=SC2059
	cl_wait_log 0 "$(printf "$CL_LINK_UP_RE" 1)" 30 "$mark0" ||
		cl_fail "node 0: link 1 not up again after node 1's restart"
	cl_wait_links 30
fi

cl_client_open fn 1
new=$CL_CLIENT_ID
[ "$new" -gt "$old" ] || cl_fail "after the restart, id $new is not above $old"
if cl_federated && [ "$(node_of "$new")" != 1 ]; then
	cl_fail "new id $new of node 1 has node bits $(node_of "$new")"
fi
cl_log "node 1: ids $old_left, $old before the restart, $new after"

# From node 0: 10 frames to each old id, then one to the new id, which
# arrives (the path works, and the frames to old ids were not delivered
# to it).
cl_reconcile 30 || true
before=$(cl_sum_re '^dropped_unknown')
cl_client_open fs 0
for i in $(seq 10); do
	cl_client_send "$fs" "$old" "to the old id $i"
	cl_client_send "$fs" "$old_left" "to the id that left $i"
done
cl_client_send "$fs" "$new" "to the new id"
cl_client_expect "$fn" "to the new id"
cl_until 15 eval '[ "$(unknown)" -ge $((before + 20)) ]'
cl_stats_all # (unknown ran in a subshell)
after=$(cl_sum_re '^dropped_unknown')
[ $((after - before)) = 20 ] ||
	cl_fail "20 frames to old ids, but the dropped_unknown* counters grew by $((after - before))"
cl_client_close "$fs"
cl_client_close "$fn"

# Traffic across the nodes after the restart.
cl_load after --ports "$(cl_ports)" --clients 4 --pattern pairs \
	--frames 500 --size 100 || cl_fail "traffic after the restart"
cl_reconcile 30 || true
cl_finish
