#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_netns.sh: three "hosts": network namespaces on a bridge, each
# with one NATS server and one daemon (the load generator runs here and
# reaches them through the bridge). Then:
#  1. a partition of host 1 (its port on the bridge down) for 3 s, shorter
#     than --link-timeout 10, mid-traffic: nothing lost, duplicated or
#     reordered;
#  2. netem on host 2's link (delay 20ms, loss 1%; skipped where tc or
#     sch_netem is missing): traffic across all nodes keeps order and
#     loses nothing;
#  3. a partition of host 1 longer than --link-timeout: the other nodes
#     declare their links to it down, their senders are released, what
#     the load lost is exactly what the nodes counted dropped, and the
#     links come back up when the partition heals;
#  4. host 2's NATS server hangs (SIGSTOP) for longer than the link
#     timeout while node 2 sends more than its connection to that server
#     can hold (host 2's TCP buffers are made small): node 2 must not hang
#     with its server: it gives up on it (a write deadline) and reconnects
#     to another, its links stay up, and nothing is lost.
# The counters reconcile after each. Needs root and ip (else 77), and
# nats-server (else 77). Namespaces, veths and the bridge are removed on
# exit.
set -u
. "$(dirname "$0")/cluster_lib.sh"

[ "$(id -u)" = 0 ] || cl_skip "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || cl_skip "needs ip (iproute2)"
cl_init

s=$(($$ % 100000))
small_buffers=0
net=10.77.$(($$ % 250 + 1))
br=pbbr$s
ns_of() { echo "pbns${s}_$1"; }
probe=$(ns_of probe)
ip netns add "$probe" 2>/dev/null || cl_skip "cannot create network namespaces here"
ip netns del "$probe"

CL_CLEANUP_HOOKS+=("cl_netns_down")
cl_netns_down() {
	local i
	for i in 0 1 2; do
		ip netns del "$(ns_of "$i")" 2>/dev/null
		ip link del "pbw$s$i" 2>/dev/null
	done
	ip link del "$br" 2>/dev/null
}

ip link add "$br" type bridge || cl_die "cannot create bridge $br"
ip addr add "$net.254/24" dev "$br"
ip link set "$br" up
for i in 0 1 2; do
	ns=$(ns_of "$i")
	ip netns add "$ns" || cl_die "ip netns add $ns"
	ip link add "pbv$s$i" type veth peer name "pbw$s$i" ||
		cl_die "cannot create veth pbv$s$i"
	ip link set "pbv$s$i" netns "$ns"
	ip link set "pbw$s$i" master "$br" up
	ip -n "$ns" addr add "$net.$((i + 1))/24" dev "pbv$s$i"
	ip -n "$ns" link set "pbv$s$i" up
	ip -n "$ns" link set lo up
	# Host 2's sockets get small buffers (for part 4; parts 1 to 3 run
	# with them too), set before anything there opens one. Where a
	# namespace has no TCP buffer settings of its own, part 4 is skipped.
	if [ "$i" = 2 ] && ip netns exec "$ns" sh -c \
		'echo "4096 16384 16384" >/proc/sys/net/ipv4/tcp_wmem &&
		 echo "4096 16384 16384" >/proc/sys/net/ipv4/tcp_rmem' 2>/dev/null; then
		small_buffers=1
	fi
	CL_NATS_NS[i]=$ns CL_NATS_HOST[i]=$net.$((i + 1))
	CL_D_NS[i]=$ns CL_D_HOST[i]=$net.$((i + 1))
done
cl_log "hosts $net.1-3 in namespaces $(ns_of 0) $(ns_of 1) $(ns_of 2) on $br"

CL_START_TIMEOUT=30
cl_nats_start 3
CL_LINK_TIMEOUT=10
cl_daemons_start 3

# 1. A partition of host 1, shorter than the link timeout.
cl_load_bg part --ports "$(cl_ports)" --clients 9 --pattern all \
	--frames 0 --duration-ms 15000 --rate 50 --size 200 --window 256 \
	--progress-ms 250 --timeout-ms 120000
cl_load_flowing part 300 15 || cl_fail "no traffic before the partition"
ip link set "pbw${s}1" down
cl_log "host 1 cut off"
sleep 3 # the partition itself
ip link set "pbw${s}1" up
cl_log "host 1 back"
for i in 0 1 2; do
	cl_nats_wait "$i" || cl_fail "server $i: routes not back after the partition"
done
cl_load_flowing part 300 30 || cl_fail "no traffic after the partition"
cl_load_wait part || cl_fail "frames lost, duplicated or reordered across the partition"
cl_reconcile 30 || true
[ "$CL_DROPPED" = 0 ] || cl_fail "$CL_DROPPED frames dropped across a short partition"

# 2. Delay and loss on host 2's link.
if tc qdisc add dev "pbw${s}2" root netem delay 20ms loss 1% 2>/dev/null; then
	cl_log "netem on host 2: delay 20ms loss 1%"
	cl_load netem --ports "$(cl_ports)" --clients 6 --pattern all \
		--frames 300 --size 500 --window 64 --timeout-ms 120000 ||
		cl_fail "frames lost, duplicated or reordered under netem"
	tc qdisc del dev "pbw${s}2" root 2>/dev/null
	cl_reconcile 30 || true
	[ "$CL_DROPPED" = 0 ] || cl_fail "$CL_DROPPED frames dropped under netem"
else
	cl_log "SKIP part 2: tc/sch_netem unavailable here"
fi

# 3. A partition of host 1, longer than the link timeout (10 s).
# It sends until the checks below are done (however long the link takes
# to come up again on a loaded machine), then stops.
cl_load_bg long --ports "$(cl_ports 0 1)" --clients 2 --pattern fanout \
	--frames 0 --stop-file "$CL_DIR/stop-long" --rate 2000 --size 200 \
	--window 0 --allow-loss --quiet-ms 3000 --progress-ms 250 \
	--timeout-ms 240000
cl_load_flowing long 500 15 || cl_fail "no traffic before the long partition"
mark0=$(cl_log_mark 0)
ip link set "pbw${s}1" down
cl_log "host 1 cut off, for longer than the link timeout"
# shellcheck disable=SC2059
cl_wait_log 0 "$(printf "$CL_LINK_DOWN_RE" 1)" 30 "$mark0" ||
	cl_fail "node 0 did not declare its link to node 1 down"
cl_load_flowing long 500 10 sent ||
	cl_fail "the sender on node 0 was not released after the link went down"
mark0=$(cl_log_mark 0)
ip link set "pbw${s}1" up
cl_log "host 1 back"
# shellcheck disable=SC2059
cl_wait_log 0 "$(printf "$CL_LINK_UP_RE" 1)" 60 "$mark0" ||
	cl_fail "node 0: link to node 1 not up again after the partition"
cl_load_flowing long 500 30 || cl_fail "no traffic after the long partition"
touch "$CL_DIR/stop-long"
cl_load_wait long || cl_fail "duplicates or reordering across the long partition"
cl_reconcile 30 || true
lost=$(cl_load_field lost)
[ "$lost" = "$CL_DROPPED" ] ||
	cl_fail "the load lost $lost frames, the nodes counted $CL_DROPPED dropped"
dropped3=$CL_DROPPED

# 4. Host 2's NATS server hangs (SIGSTOP) while node 2 sends to node 0 at
#    2000 frames/s: its connection's 16 KiB buffers fill at once. Node 2
#    must leave it within the write deadline; the hang then goes on for
#    14 s more, past the link timeout.
if [ "$small_buffers" = 0 ]; then
	cl_log "SKIP part 4: no TCP buffer settings per network namespace here"
	cl_finish
fi
cl_load_bg stall --ports "$(cl_ports 2 0)" --clients 2 --pattern fanout \
	--frames 0 --stop-file "$CL_DIR/stop-stall" --rate 2000 --size 200 \
	--window 0 --progress-ms 250 --timeout-ms 240000
cl_load_flowing stall 500 15 || cl_fail "no traffic before the hang"
mark0=$(cl_log_mark 0)
mark2=$(cl_log_mark 2)
cl_nats_signal 2 STOP
cl_wait_log 2 "nats: connected to nats://${net//./\\.}\\.[12]:" 30 "$mark2" ||
	cl_fail "node 2 did not reconnect to another server"
cl_load_flowing stall 500 20 ||
	cl_fail "no traffic from node 2 while its server hangs"
sleep 14 # the rest of the hang, past the link timeout
cl_nats_signal 2 CONT
cl_nats_wait 2 || cl_fail "server 2: routes not back after CONT"
cl_load_flowing stall 500 30 || cl_fail "no traffic after the hang"
touch "$CL_DIR/stop-stall"
cl_load_wait stall || cl_fail "frames lost, duplicated or reordered while node 2's server hung"
# shellcheck disable=SC2059
! cl_log_since 0 "$mark0" | grep -qE "$(printf "$CL_LINK_DOWN_RE" 2)" ||
	cl_fail "node 0 took its link to node 2 down while node 2's server hung"
cl_reconcile 30 || true
[ "$CL_DROPPED" = "$dropped3" ] ||
	cl_fail "$((CL_DROPPED - dropped3)) frames dropped while node 2's server hung"
cl_finish
