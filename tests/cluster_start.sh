#!/bin/bash
# SPDX-License-Identifier: ISC
# cluster_start.sh: starting a node of a cluster. First the options: each
# bad one makes patchbayd exit 2 at once, naming it (a URL that is not
# nats:// or tls://, --nats without --state-dir, an unreadable
# --nats-creds, a --cluster that is no NATS subject token, --link-timeout
# 0, --nats with --node-bits 0). Then a daemon started with --nats at a
# port where no NATS server listens (yet) still starts, says it is
# disconnected and reconnecting, and serves its own clients: clients on it
# exchange frames, in order, nothing lost. Then a NATS server is started
# on that port; the daemon connects, a second daemon joins, both log
# `link N: up`, traffic crosses between them, and the counters reconcile.
# Skipped (77) without nats-server.
set -u
. "$(dirname "$0")/cluster_lib.sh"

cl_init

# ---- bad options: exit 2, the option named -------------------------------
# bad_option WORD ARGS...: patchbayd ARGS exits 2 within 10 s, and its
# stderr names WORD.
bad_option() {
	local word=$1 rc out
	shift
	out=$(timeout 10 "$PATCHBAYD" --listen 127.0.0.1:0 "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" != 2 ]; then
		cl_fail "patchbayd $*: exit $rc, expected 2 (said: $out)"
	elif ! grep -qF -- "$word" <<<"$out"; then
		cl_fail "patchbayd $*: exit 2, but does not name $word: $out"
	else
		cl_log "exit 2 as expected: $out"
	fi
}

st=$CL_DIR/bad-state
mkdir -p "$st"
bad_option --nats --nats foo://x --state-dir "$st" --node-bits 4
bad_option --nats --nats nats://127.0.0.1:1,foo://y --state-dir "$st" \
	--node-bits 4
bad_option --state-dir --nats nats://127.0.0.1:1 --node-bits 4
bad_option --nats-creds --nats nats://127.0.0.1:1 --state-dir "$st" \
	--node-bits 4 --nats-creds /nonexistent
bad_option --cluster --nats nats://127.0.0.1:1 --state-dir "$st" \
	--node-bits 4 --cluster a.b
bad_option --link-timeout --nats nats://127.0.0.1:1 --state-dir "$st" \
	--node-bits 4 --link-timeout 0
bad_option --node-bits --nats nats://127.0.0.1:1 --state-dir "$st" \
	--node-bits 0

# ---- a daemon with no NATS server to reach -------------------------------
# One server, on ports chosen now and started later: node 0 is told of a
# port where nothing listens.
CL_NNATS=1
CL_NATS_HOST[0]=127.0.0.1
cl_free_port 'CL_NATS_PORT[0]'
cl_free_port 'CL_NATS_CPORT[0]'
cl_free_port 'CL_NATS_HPORT[0]'
cl_log "NATS to be at 127.0.0.1:${CL_NATS_PORT[0]}; nothing there yet"

cl_daemon_start 0
cl_wait_log 0 'nats: disconnected; reconnecting' 10 ||
	cl_fail "daemon 0: no 'nats: disconnected; reconnecting' in its log"
cl_daemon_alive 0 || cl_die "daemon 0 exited with NATS unreachable"

# Its own clients are served meanwhile: by hand, then a load.
cl_client_open ca 0
ida=$CL_CLIENT_ID
cl_client_open cb 0
idb=$CL_CLIENT_ID
cl_client_send "$ca" "$idb" "hello b"
cl_client_expect "$cb" "hello b"
cl_client_send "$cb" "$ida" "hello a"
cl_client_expect "$ca" "hello a"
cl_client_close "$ca"
cl_client_close "$cb"
cl_load local --ports "$(cl_ports 0)" --clients 6 --pattern pairs \
	--frames 2000 --size 200 --window 64 --timeout-ms 30000 ||
	cl_fail "local traffic with NATS down"
cl_daemon_alive 0 || cl_die "daemon 0 died"
# Still no link, still not connected.
if cl_log_since 0 | grep -q 'nats: connected'; then
	cl_fail "daemon 0 says it connected, with no NATS server"
fi

# ---- the NATS server comes ----------------------------------------------
mark=$(cl_log_mark 0)
cl_nats_conf 0
cl_nats_run 0
cl_nats_wait 0 0 || cl_die "the NATS server did not start"
cl_log "NATS server up at 127.0.0.1:${CL_NATS_PORT[0]} (pid ${CL_NATS_PID[0]})"
cl_wait_log 0 'nats: connected to' 20 "$mark" ||
	cl_die "daemon 0 did not connect within 20 s of the NATS server's start"

cl_daemon_start 1
cl_wait_links
# Across the nodes: clients alternate between them.
cl_load cross --ports "$(cl_ports 0 1)" --clients 6 --pattern pairs \
	--frames 2000 --size 200 --window 64 --timeout-ms 60000 ||
	cl_fail "cross-node traffic"
cl_load fanin --ports "$(cl_ports 0 1)" --clients 5 --pattern fanin \
	--frames 500 --size 100 --window 32 --timeout-ms 60000 ||
	cl_fail "cross-node fan-in"

cl_reconcile 30 || true
[ "$CL_DROPPED" = 0 ] || cl_fail "$CL_DROPPED frames dropped, expected none"
if cl_federated; then
	[ "$(cl_sum sent_remote)" -gt 0 ] ||
		cl_fail "no frame crossed a link (sent_remote=0)"
fi
cl_reconcile_conns || true
cl_finish
