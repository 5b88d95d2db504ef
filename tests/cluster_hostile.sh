#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_hostile.sh: messages on the cluster's subjects that no daemon
# sent, while traffic flows. Two daemons (nodes 0 and 1 of --node-bits 4)
# over a three-server NATS cluster carry a cross-node load; meanwhile this
# script speaks NATS's text protocol itself (bash /dev/tcp: CONNECT, PUB,
# PING) and publishes, mostly to node 0 (pb.CLUSTER.d.0, pb.CLUSTER.c.0)
# and on the heartbeat subject (pb.CLUSTER.hb):
#   refused, each counted once in node 0's node_messages_refused:
#     garbage (short, and long with a wrong first byte); a truncated
#     header; version 2; an unknown type; a DATA of the live session from
#     the future (seq 2^40: node 0 asks for what it lacks, the sender sends
#     its own again); a DATA of an unknown session not starting at 1; a
#     DATA whose dst_epoch is not node 0's; a DATA entry that is not whole
#     frames; a DATA announcing more entries than it holds; a HELLO of the
#     wrong length; a HELLO claiming to come from node 0 itself (sent on
#     c.0 only: on hb, node 1 would take it for node 0 restarted, see
#     below); a HELLO from node 32767 (no node of 4 bits); an ACK and a
#     GONE from node 1 with an epoch that is not node 1's.
#   harmless but not counted: an ACK from node 1's epoch for a session of
#     node 0's that does not exist (ignored, as a late ACK of a session
#     that ended would be).
# Asserted: both daemons stay up, the load passes (ok=1: nothing lost,
# duplicated or reordered), node 0's node_messages_refused grows by at
# least the refused ones, the counters reconcile, and both exit 0.
#
# What cannot be told from the real thing. NATS credentials are the trust
# boundary: whoever may publish on the cluster's subjects can forge a
# well-formed message, and the epochs that make one well-formed are no
# secret (every HELLO on pb.CLUSTER.hb carries its node's epoch, every DATA
# its session's). This script shows two such forgeries and what they do,
# and asserts that what they do is what is documented here:
#   - a HELLO from an unused node number of the cluster's bits (node 9):
#     taken as a node joining; each daemon logs `link 9: up`, then
#     `link 9: down` after --link-timeout (nothing is lost: no client is
#     there);
#   - a GONE from node 1's epoch naming a live client X of node 1: node 0
#     believes X left, for good (ids never come back): frames from node 0
#     to X are dropped and counted dropped_unknown_destination, while X
#     still reaches node 0. (A bystander client, not part of the load.)
# Others are not sent, because they break the traffic (and would, from
# anyone on the NATS account): a HELLO with node 1's number and another
# epoch (node 0 takes node 1 for restarted and drops what it queued for
# it); a DATA with node 0's epoch and seq 1 under a new session epoch
# (node 0 ends the real session, refuses its batches, and the link goes
# down after --link-timeout, the frames in flight dropped as
# remote_unreachable); a DATA with the live session's next seq (its
# frames are delivered, the real batch of that number is taken for a
# repeat); a HELLO with tiny credit (senders slowed, nothing lost).
# Skipped (77) without nats-server.
set -u
. "$(dirname "$0")/cluster_lib.sh"
export LC_ALL=C

cl_init
CL_LINK_TIMEOUT=5
cl_nats_start 3
# -v: node 0 says when it takes a GONE (waited for below).
CL_DAEMON_ARGS+=(-v)
cl_daemons_start 2
cl_federated || cl_skip "CL_SINGLE=1: no federation to attack"

P="pb.$CL_CLUSTER"
NP=${CL_NATS_PORT[1]} # the hostile publisher's server: not node 0's own
REFUSED_SENT=0

# The epoch of daemon I's process, from its start line.
epoch_of() { # I
	cl_log_since "$1" | sed -n 's/.*, epoch \([0-9a-f]\{16\}\);.*/\1/p' |
		head -n 1
}
E0=$(epoch_of 0)
E1=$(epoch_of 1)
[ ${#E0} = 16 ] && [ ${#E1} = 16 ] || cl_die "no epochs in the logs: '$E0' '$E1'"
cl_log "epochs: node 0 $E0, node 1 $E1"
FOREIGN=0123456789abcdef
[ "$FOREIGN" != "$E0" ] && [ "$FOREIGN" != "$E1" ] || FOREIGN=0123456789abcdf1

# ---- the hostile publisher ------------------------------------------------
# hdr TYPE NODE SRC DST SEQ: a header in hex (TYPE, NODE, SEQ numbers;
# SRC, DST 16 hex digits).
hdr() { printf '01%02x%04x%s%s%016x' "$1" "$2" "$3" "$4" "$5"; }
u32() { printf '%08x' "$1"; }
u64() { printf '%016x' "$1"; }
# The bytes of HEX into FILE.
hexfile() { # HEX FILE
	# shellcheck disable=SC2059
	printf "$(sed 's/../\\x&/g' <<<"$1")" >"$2"
}

# pub SUBJECT NAME HEX: publishes the bytes of HEX on SUBJECT through NATS
# server 1, and waits for the server's PONG (it has routed them).
pub() { # SUBJECT NAME HEX
	local subj=$1 name=$2 f=$CL_DIR/hostile-$2.bin fd n reply
	hexfile "$3" "$f"
	n=$(stat -c %s "$f")
	exec {fd}<>"/dev/tcp/127.0.0.1/$NP" || cl_die "cannot reach NATS at $NP"
	{
		printf 'CONNECT {"verbose":false,"pedantic":false,"name":"hostile"}\r\n'
		printf 'PUB %s %d\r\n' "$subj" "$n"
		cat "$f"
		printf '\r\nPING\r\n'
	} >&"$fd"
	reply=$(timeout 5 grep -a -m 1 -E '^(PONG|-ERR)' <&"$fd")
	exec {fd}>&-
	[[ $reply == PONG* ]] || cl_fail "NATS did not take '$name' on $subj: $reply"
	cl_log "published $name ($n bytes) on $subj"
}

# refused SUBJECT NAME HEX: one that node 0 must refuse and count.
refused() {
	pub "$@"
	REFUSED_SENT=$((REFUSED_SENT + 1))
}

# ---- a session to forge within ---------------------------------------------
# Node 1's sending session to node 0 (its DATA's src_epoch), read off the
# wire: one DATA on pb.CLUSTER.d.0, while a load makes some.
p=$(cl_ports 0 1)
cap=$CL_DIR/capture.bin
exec {sfd}<>"/dev/tcp/127.0.0.1/$NP" || cl_die "cannot reach NATS at $NP"
printf 'CONNECT {"verbose":false,"pedantic":false}\r\nSUB %s.d.0 1\r\nUNSUB 1 1\r\nPING\r\n' \
	"$P" >&"$sfd"
# The subscription in place (the server's PONG, after its INFO) before
# the load starts.
pong=
while IFS= read -r -t 5 line <&"$sfd"; do
	[[ $line == PONG* ]] && pong=1 && break
done
[ -n "$pong" ] || cl_die "no PONG from NATS at $NP"
cl_load_bg warm --ports "$p" --clients 4 --pattern pairs --frames 20000 \
	--size 100 --window 16 --timeout-ms 60000
timeout 3 cat <&"$sfd" >"$cap"
exec {sfd}>&-
cl_load_wait warm || cl_fail "the warm-up load"
msg=$(grep -a -b -o -m 1 $'MSG [^\r]*' "$cap" | head -n 1)
[ -n "$msg" ] || cl_die "no DATA seen on $P.d.0 in 2 s of traffic"
start=$((${msg%%:*} + $(printf %s "${msg#*:}" | wc -c) + 2))
h=$(od -An -tx1 -v -j "$start" -N 28 "$cap" | tr -d ' \n')
[ "${h:0:4}" = 0101 ] && [ "${h:4:4}" = 0001 ] && [ "${h:24:16}" = "$E0" ] ||
	cl_die "the captured message is no DATA from node 1 to node 0: $h"
S=${h:8:16}
cl_log "node 1's session to node 0: $S (a batch $((16#${h:40:16})) seen)"

# ---- the bystanders: X on node 1, Y on node 0 -------------------------------
cl_client_open cx 1
X=$CL_CLIENT_ID
cl_client_open cy 0
Y=$CL_CLIENT_ID
cl_client_send "$cy" "$X" "y to x before"
cl_client_expect "$cx" "y to x before"

# ---- hostile messages, while the load runs ----------------------------------
cl_stats 0
refused0=$(cl_stat 0 node_messages_refused)
cl_load_bg main --ports "$p" --clients 6 --pattern pairs --duration-ms 12000 \
	--size 300 --window 32 --timeout-ms 90000 --progress-ms 500
cl_load_flowing main 100 20 || cl_fail "the load does not flow"

data_body=$(u32 1)$(u32 1)$(u32 2)7800 # one entry: "x\0" for id 1
refused "$P.d.0" garbage-short "$(printf 'not an envelope' | od -An -tx1 -v | tr -d ' \n')"
refused "$P.d.0" garbage-long "$(printf 'ff%.0s' $(seq 64))"
refused "$P.d.0" truncated-header "$(hdr 1 1 "$S" "$E0" 2 | cut -c 1-40)"
refused "$P.d.0" version-2 "02$(hdr 1 1 "$S" "$E0" 2 | cut -c 3-)$data_body"
refused "$P.c.0" unknown-type "$(hdr 9 1 "$E1" "$E0" 0)$(u32 0)"
refused "$P.d.0" data-seq-future "$(hdr 1 1 "$S" "$E0" $((1 << 40)))$data_body"
refused "$P.d.0" data-unknown-session "$(hdr 1 1 "$FOREIGN" "$E0" 5)$data_body"
refused "$P.d.0" data-wrong-dst-epoch "$(hdr 1 1 "$S" "$FOREIGN" 2)$data_body"
refused "$P.d.0" data-entry-no-nul "$(hdr 1 1 "$S" "$E0" $((1 << 40)))$(u32 1)$(u32 1)$(u32 2)7878"
refused "$P.d.0" data-count-past-end "$(hdr 1 1 "$S" "$E0" $((1 << 40)))$(u32 3)$(u32 1)$(u32 2)7800"
refused "$P.hb" hello-too-long "$(hdr 4 1 "$E1" 0000000000000000 0)$(u64 1048576)$(u64 65536)00"
refused "$P.c.0" hello-from-self "$(hdr 4 0 "$FOREIGN" 0000000000000000 0)$(u64 1048576)$(u64 65536)"
refused "$P.hb" hello-node-32767 "$(hdr 4 32767 "$FOREIGN" 0000000000000000 0)$(u64 1048576)$(u64 65536)"
refused "$P.c.0" ack-foreign-epoch "$(hdr 2 1 "$FOREIGN" "$E0" 1)$(u32 1)$(u32 "$Y")$(u64 1)"
refused "$P.c.0" gone-foreign-epoch "$(hdr 3 1 "$FOREIGN" "$E0" 0)$(u32 1)$(u32 "$X")"
# Well-formed, about nothing: ignored.
pub "$P.c.0" ack-unknown-session "$(hdr 2 1 "$E1" "$FOREIGN" 99)$(u32 1)$(u32 "$Y")$(u64 1000000)"

for i in 0 1; do
	cl_daemon_alive "$i" || cl_die "daemon $i died under hostile messages"
done
# The refused ones, all counted on node 0 (they may take a moment).
want=$((refused0 + REFUSED_SENT))
got_refused() {
	cl_stats 0 && [ "$(cl_stat 0 node_messages_refused)" -ge "$want" ]
}
if cl_until 10 got_refused; then
	cl_log "node 0: node_messages_refused $refused0 -> $(cl_stat 0 node_messages_refused)" \
		"($REFUSED_SENT refused messages sent)"
else
	cl_fail "node 0: node_messages_refused $refused0 -> $(cl_stat 0 node_messages_refused)," \
		"expected at least $want ($REFUSED_SENT refused messages sent)"
fi

# ---- forgeries indistinguishable from the real thing --------------------------
# A HELLO from node 9, a number of the cluster's 4 bits no daemon has: a
# node joining, as far as anyone can tell.
mark0=$(cl_log_mark 0)
mark1=$(cl_log_mark 1)
pub "$P.hb" hello-unused-node-9 "$(hdr 4 9 "$FOREIGN" 0000000000000000 0)$(u64 1048576)$(u64 65536)"
cl_wait_log 0 'link 9: up' 5 "$mark0" ||
	cl_fail "node 0: no 'link 9: up' after a HELLO from node 9 (documented as taken)"
cl_wait_log 1 'link 9: up' 5 "$mark1" ||
	cl_fail "node 1: no 'link 9: up' after a HELLO from node 9 (documented as taken)"

# A GONE from node 1's own epoch for X, alive on node 1: node 0 believes
# it, and frames from node 0 to X are dropped from then on
# (dropped_unknown_destination).
cl_stats 0
unknown0=$(cl_stat 0 dropped_unknown_destination)
mark0=$(cl_log_mark 0)
pub "$P.c.0" gone-live-client "$(hdr 3 1 "$E1" "$E0" 0)$(u32 1)$(u32 "$X")"
cl_wait_log 0 "link 1: client $X is gone, says its node" 10 "$mark0" ||
	cl_fail "node 0 did not take the forged GONE for client $X"
cl_client_send "$cy" "$X" "y to x after"
dropped_after_gone() {
	cl_stats 0 && [ "$(cl_stat 0 dropped_unknown_destination)" = $((unknown0 + 1)) ]
}
cl_until 5 dropped_after_gone ||
	cl_fail "after a forged GONE for X: node 0 dropped_unknown_destination" \
		"$unknown0 -> $(cl_stat 0 dropped_unknown_destination), expected one more (documented)"
got=$(timeout 1 head -c 1 <&"$cx" | od -An -c)
[ -z "$got" ] || cl_fail "X received '$got' after the forged GONE (documented as dropped)"
# X itself still reaches node 0.
cl_client_send "$cx" "$Y" "x to y after"
cl_client_expect "$cy" "x to y after"

# ---- the load went through it all ------------------------------------------
cl_load_wait main || cl_fail "the load under hostile messages"
[ "$(cl_load_field ok)" = 1 ] || cl_fail "the load: ok=$(cl_load_field ok)"
for i in 0 1; do
	cl_daemon_alive "$i" || cl_fail "daemon $i died"
done
cl_client_close "$cx"
cl_client_close "$cy"
# The forged node 9 is not heard again: its link goes down, nothing lost.
cl_wait_log 0 'link 9: down' $((CL_LINK_TIMEOUT + 5)) "$mark0" ||
	cl_fail "node 0: no 'link 9: down' after --link-timeout"

cl_reconcile 30 || true
# The only frame dropped: Y's to X after the forged GONE.
[ "$CL_DROPPED" = 1 ] ||
	cl_fail "$CL_DROPPED frames dropped, expected 1 ($(cl_sums_by_name "$CL_DROP_RE"))"
cl_reconcile_conns || true
cl_finish
