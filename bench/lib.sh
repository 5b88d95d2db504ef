# SPDX-License-Identifier: ISC
# bench/lib.sh: what the benchmark scripts (cluster.sh, restart.sh) share,
# sourced by them.

# Stops one process started here: TERM, then KILL after 5 s.
stop_pid() { # PID
	local _
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
