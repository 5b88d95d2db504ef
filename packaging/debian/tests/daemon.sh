# SPDX-License-Identifier: ISC
# daemon.sh: sourced by the tests here. Starts the installed patchbayd with
# the packaged configuration file, on the address in PATCHBAY_LISTEN
# (default 127.0.0.1:0, a free port; set it empty to keep the file's
# address), and reads from its log the port it listens on.

tmp=${AUTOPKGTEST_TMP:-$(mktemp -d)}
pid=
port=

fail() {
	echo "FAIL: $*"
	if [ -s "$tmp/patchbayd.log" ]; then
		echo "--- patchbayd's log:"
		cat "$tmp/patchbayd.log"
	fi
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	exit 1
}

start_daemon() {
	local listen=${PATCHBAY_LISTEN-127.0.0.1:0} i
	local args=(--config /etc/patchbay/patchbayd.conf)
	[ -n "$listen" ] && args+=(--listen "$listen")
	echo "starting: /usr/sbin/patchbayd ${args[*]}"
	/usr/sbin/patchbayd "${args[@]}" 2>"$tmp/patchbayd.log" &
	pid=$!
	for i in $(seq 100); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
			"$tmp/patchbayd.log")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || { wait "$pid"; pid=; fail "patchbayd exited with status $? at start"; }
		sleep 0.1
	done
	[ -n "$port" ] || fail "patchbayd did not say where it listens within 10 s"
	echo "ok: patchbayd (pid $pid) listens on 127.0.0.1:$port"
}

# SIGTERM must stop it, with exit status 0, within 10 s.
stop_daemon() {
	local st i
	kill -TERM "$pid" || fail "cannot signal patchbayd"
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "patchbayd still runs 10 s after SIGTERM"
	wait "$pid"
	st=$?
	pid=
	[ "$st" -eq 0 ] || fail "patchbayd exited with status $st after SIGTERM"
	echo "ok: SIGTERM stopped patchbayd with status 0; its last log line:"
	tail -n 1 "$tmp/patchbayd.log"
}
