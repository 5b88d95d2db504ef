# SPDX-License-Identifier: ISC
# cluster_lib.sh: sourced by the cluster tests (tests/cluster_*.sh). It
# starts and stops, by pid, a NATS cluster (nats-server, one server per
# node, routes to each other) and patchbayd daemons joined over it, each
# with its own state dir and log; reads the daemons' counters (SIGUSR1 and
# the `stats:` line it logs); checks that they reconcile; runs
# tests/cluster_load; and cleans everything up on exit.
#
# Use:
#   . "$(dirname "$0")/cluster_lib.sh"
#   cl_init                      # SKIP (77) without nats-server; temp dir, trap
#   cl_nats_start 3              # three servers, routes up
#   CL_LINK_TIMEOUT=2 cl_daemons_start 3 [EXTRA DAEMON ARGS...]
#   cl_load pairs --ports "$(cl_ports)" --clients 6 --pattern pairs ...
#   cl_reconcile
#   cl_finish                    # stops the daemons (checks exit 0), exits
#
# Everything the daemon logs that the tests depend on is in the variables
# just below, so a change of wording is one edit here. Variables a scenario
# may set before the calls: CL_NODE_BITS, CL_LINK_TIMEOUT, CL_CLUSTER,
# CL_DAEMON_ARGS (array, given to every daemon), CL_FEDERATION (0: plain
# daemons, no --nats: how the library itself is checked), and per node
# CL_D_HOST[i], CL_D_NS[i], CL_NATS_HOST[i], CL_NATS_NS[i] (a network
# namespace to run in: tests/cluster_netns.sh). Environment: PATCHBAYD,
# CLUSTER_LOAD, NATS_SERVER (binaries), CL_KEEP=1 (keep the temp dir),
# CL_VERBOSE=1 (show the commands started), CL_SINGLE=1 (a dry run of a
# scenario's own logic before the daemon has federation: one plain daemon,
# no --nats, node-bits 0, and every other "node" an alias of it; NATS is
# still started; the checks that need a cluster then fail, as they
# should).

# ---- What the daemon logs (EREs; %d is a node number) -----------------
CL_LISTEN_RE='listening on %s:([0-9]+)$'	# %s: the listen host, escaped
CL_LINK_UP_RE='link %d: up'
CL_LINK_DOWN_RE='link %d: down'
CL_STATS_RE='stats: '				# the counters line follows
# Counters: the reconcile sums received, forwarded and every counter whose
# name matches CL_DROP_RE and not CL_DROP_EXCLUDE_RE (for counters named
# dropped_* that count something other than client frames, e.g. invalid
# NATS batches: add them here).
CL_DROP_RE='^dropped_'
CL_DROP_EXCLUDE_RE='^dropped_(batch|invalid|nats)'
CL_DISC_RE='^disconnect_'
CL_SANITIZER_RE='ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer|runtime error:'

# ---- Settings -----------------------------------------------------------
: "${CL_NODE_BITS:=4}"
: "${CL_LINK_TIMEOUT:=5}"
: "${CL_CLUSTER:=pbtest$$}"
: "${CL_SINGLE:=0}"
[ "$CL_SINGLE" = 1 ] && CL_FEDERATION=0 CL_NODE_BITS=0
: "${CL_FEDERATION:=1}"
: "${CL_START_TIMEOUT:=20}"	# seconds: a server or daemon up, links up
[ -n "${CL_DAEMON_ARGS+x}" ] || CL_DAEMON_ARGS=()

CL_STATUS=0
CL_DIR=''
CL_NNATS=0
CL_ND=0
CL_BG_PIDS=()
CL_CLEANUP_HOOKS=()
CL_RETIRED_STATS=()	# the last stats line of daemons stopped for good
declare -a CL_NATS_PID CL_NATS_PORT CL_NATS_CPORT CL_NATS_HPORT
declare -a CL_NATS_HOST CL_NATS_NS
declare -a CL_D_PID CL_D_PORT CL_D_HOST CL_D_NS CL_D_LOGSTART CL_STATS
declare -a CL_D_ALIAS
declare -A CL_USED_PORTS

cl_log() { echo "# $*"; }
# False in a dry run (CL_SINGLE=1): guards the checks that need a cluster.
cl_federated() { [ "$CL_FEDERATION" = 1 ]; }
cl_fail() {
	echo "FAIL: $*"
	CL_STATUS=1
}
# Fails, shows the logs and exits: for what the scenario cannot go on from.
cl_die() {
	cl_fail "$@"
	cl_show_logs
	exit 1
}
cl_skip() {
	echo "SKIP: $*"
	exit 77
}

# Starts CMD in the background in namespace NS (or here if NS is empty),
# its output appended to LOG; sets CL_SPAWNED to its pid. A simple command
# put in the background is forked and exec'd, and ip netns exec execs the
# command, so the pid is the program's own (a function in the background
# would be a subshell).
cl_spawn() { # NS LOG CMD...
	local ns=$1 log=$2
	shift 2
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$@" >>"$log" 2>&1 &
	else
		"$@" >>"$log" 2>&1 &
	fi
	CL_SPAWNED=$!
}

cl_find_nats() {
	local c
	for c in "${NATS_SERVER:-}" "$(command -v nats-server 2>/dev/null)" \
		/usr/sbin/nats-server /usr/bin/nats-server \
		/usr/local/bin/nats-server; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			CL_NATS_BIN=$c
			return 0
		fi
	done
	return 1
}

# cl_init [--no-nats]: the binaries, the temp dir, the exit trap.
cl_init() {
	local top
	if [ "${1-}" != --no-nats ]; then
		cl_find_nats || cl_skip "no nats-server (install the nats-server package, or set NATS_SERVER)"
	else
		cl_find_nats || CL_NATS_BIN=''
	fi
	top=${abs_top_builddir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
	: "${PATCHBAYD:=$top/src/patchbayd}"
	: "${CLUSTER_LOAD:=$top/tests/cluster_load}"
	[ -x "$PATCHBAYD" ] || { echo "FAIL: no patchbayd at $PATCHBAYD"; exit 1; }
	[ -x "$CLUSTER_LOAD" ] || {
		echo "FAIL: no load generator at $CLUSTER_LOAD (make check builds it)"
		exit 1
	}
	CL_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pbcluster.XXXXXX") || exit 1
	trap cl_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

cl_cleanup() {
	local p h i
	# SIGTERM first: a load runs under timeout(1), which passes it on to
	# cluster_load (SIGKILL would leave cluster_load running alone).
	for p in "${CL_BG_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${CL_BG_PIDS[@]}"; do
		timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	for i in "${!CL_D_PID[@]}"; do
		p=${CL_D_PID[i]}
		[ -n "$p" ] || continue
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for i in "${!CL_NATS_PID[@]}"; do
		p=${CL_NATS_PID[i]}
		[ -n "$p" ] || continue
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for h in "${CL_CLEANUP_HOOKS[@]}"; do
		eval "$h"
	done
	if [ -n "$CL_DIR" ]; then
		if [ -n "${CL_KEEP:-}" ]; then
			echo "# kept $CL_DIR"
		else
			rm -rf "$CL_DIR"
		fi
	fi
}

# The tail of every log, for a failure.
cl_show_logs() {
	local f
	[ -n "$CL_DIR" ] || return 0
	for f in "$CL_DIR"/nats*/log "$CL_DIR"/d*/log "$CL_DIR"/*.err; do
		[ -s "$f" ] || continue
		echo "---- ${f#"$CL_DIR"/} (last 30 lines) ----"
		tail -n 30 "$f"
	done
	echo "---- end of logs ----"
}

# Polls COMMAND every 0.1 s until it succeeds or SECONDS pass.
cl_until() { # SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# ---- Ports --------------------------------------------------------------
# Sets VAR to a TCP port nobody here listens on or uses, below the
# ephemeral range (where daemons on port 0 and clients take theirs), and
# not given before in this run.
cl_free_port() { # VAR
	local low _ used p tries
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	[ "$low" -gt 12000 ] || low=32768
	used=' '
	while read -r _ p _; do
		[[ $p == *:* ]] && used+="$((16#${p##*:})) "
	done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	for ((tries = 0; tries < 1000; tries++)); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
		[[ $used == *" $p "* ]] && continue
		[ -n "${CL_USED_PORTS[$p]-}" ] && continue
		CL_USED_PORTS[$p]=1
		printf -v "$1" %s "$p"
		return 0
	done
	cl_die "no free port found"
}

# ---- HTTP (NATS monitoring) -----------------------------------------------
# Prints the body of http://HOST:PORT/PATH, within 3 s; curl if there is
# one, else bash's /dev/tcp.
cl_http_get() { # HOST PORT PATH
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -m 3 "http://$1:$2$3" 2>/dev/null
	else
		timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
			printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$3" "$1" >&3
			cat <&3' _ "$1" "$2" "$3" 2>/dev/null | sed '1,/^\r*$/d'
	fi
}

# ---- NATS ---------------------------------------------------------------
cl_nats_conf() { # I
	local i=$1 j routes='' d=$CL_DIR/nats$1
	for ((j = 0; j < CL_NNATS; j++)); do
		routes+="    nats://${CL_NATS_HOST[j]}:${CL_NATS_CPORT[j]}"$'\n'
	done
	mkdir -p "$d"
	cat >"$d/n$i.conf" <<EOF
server_name: n$i
listen: ${CL_NATS_HOST[i]}:${CL_NATS_PORT[i]}
http: ${CL_NATS_HOST[i]}:${CL_NATS_HPORT[i]}
max_payload: 1048576
max_pending: 67108864
write_deadline: "10s"
ping_interval: "2s"
ping_max: 2
cluster {
  name: $CL_CLUSTER
  listen: ${CL_NATS_HOST[i]}:${CL_NATS_CPORT[i]}
  routes: [
$routes  ]
}
EOF
}

# Starts server I from its config (appending to its log); sets its pid.
cl_nats_run() { # I
	local i=$1 d=$CL_DIR/nats$1
	[ -n "${CL_VERBOSE:-}" ] && cl_log "start: $CL_NATS_BIN -c $d/n$i.conf"
	echo "==== start $(date +%T.%N)" >>"$d/log"
	cl_spawn "${CL_NATS_NS[i]-}" "$d/log" "$CL_NATS_BIN" -c "$d/n$i.conf"
	CL_NATS_PID[i]=$CL_SPAWNED
}

cl_nats_alive() { # I
	[ -n "${CL_NATS_PID[$1]-}" ] && kill -0 "${CL_NATS_PID[$1]}" 2>/dev/null
}

# True when server I answers /healthz and has at least ROUTES routes.
cl_nats_ready() { # I [ROUTES]
	local i=$1 want=${2-$((CL_NNATS - 1))} body n
	body=$(cl_http_get "${CL_NATS_HOST[i]}" "${CL_NATS_HPORT[i]}" /healthz) || return 1
	[[ $body == *'"ok"'* ]] || return 1
	body=$(cl_http_get "${CL_NATS_HOST[i]}" "${CL_NATS_HPORT[i]}" /routez) || return 1
	n=$(sed -n 's/.*"num_routes": *\([0-9]*\).*/\1/p' <<<"$body" | head -n 1)
	[ "${n:-0}" -ge "$want" ]
}

cl_nats_wait() { # I [ROUTES]
	local i=$1 end=$((SECONDS + CL_START_TIMEOUT))
	while ! cl_nats_ready "$@"; do
		cl_nats_alive "$i" || { cl_fail "nats server $i exited"; return 1; }
		if [ "$SECONDS" -ge "$end" ]; then
			cl_fail "nats server $i: not healthy with its routes in" \
				"$CL_START_TIMEOUT s"
			return 1
		fi
		sleep 0.1
	done
}

# cl_nats_start [N]: N servers (default 3) on fresh ports, routes to each
# other; waits for /healthz and N-1 routes on each. Tries new ports once if
# a server dies at start (a port taken meanwhile).
cl_nats_start() { # [N]
	local n=${1-3} i try ok
	CL_NNATS=$n
	for try in 1 2; do
		for ((i = 0; i < n; i++)); do
			: "${CL_NATS_HOST[i]:=127.0.0.1}"
			cl_free_port "CL_NATS_PORT[$i]"
			cl_free_port "CL_NATS_CPORT[$i]"
			cl_free_port "CL_NATS_HPORT[$i]"
		done
		for ((i = 0; i < n; i++)); do
			cl_nats_conf "$i"
			cl_nats_run "$i"
		done
		ok=yes
		for ((i = 0; i < n; i++)); do
			cl_nats_wait "$i" || { ok=''; break; }
		done
		[ -n "$ok" ] && break
		[ "$try" = 2 ] && cl_die "the NATS cluster did not start"
		cl_log "NATS cluster did not start; again on other ports"
		CL_STATUS=0
		cl_nats_stop_all
	done
	cl_log "NATS cluster $CL_CLUSTER: $(for ((i = 0; i < n; i++)); do
		printf '%s ' "n$i=${CL_NATS_HOST[i]}:${CL_NATS_PORT[i]}(pid ${CL_NATS_PID[i]})"
	done)"
}

cl_nats_kill() { # I: kill -9, reaped
	local p=${CL_NATS_PID[$1]}
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	CL_NATS_PID[$1]=''
	cl_log "nats server $1 killed (-9)"
}

# Starts server I again with the same config; waits for its routes.
cl_nats_restart() { # I
	cl_nats_run "$1"
	cl_nats_wait "$1" || cl_die "nats server $1 did not come back"
	cl_log "nats server $1 restarted (pid ${CL_NATS_PID[$1]})"
}

cl_nats_signal() { # I SIG
	kill -"$2" "${CL_NATS_PID[$1]}"
	cl_log "nats server $1: SIG$2"
}

cl_nats_stop_all() {
	local i p
	for ((i = 0; i < CL_NNATS; i++)); do
		p=${CL_NATS_PID[i]-}
		[ -n "$p" ] || continue
		kill -CONT "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
	done
	for ((i = 0; i < CL_NNATS; i++)); do
		p=${CL_NATS_PID[i]-}
		[ -n "$p" ] || continue
		timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null ||
			kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		CL_NATS_PID[i]=''
	done
}

# The --nats list for node I: its own server first, then the others.
cl_nats_urls() { # I
	local i=$1 j k urls=''
	for ((k = 0; k < CL_NNATS; k++)); do
		j=$(((i + k) % CL_NNATS))
		urls+="${urls:+,}nats://${CL_NATS_HOST[j]}:${CL_NATS_PORT[j]}"
	done
	echo "$urls"
}

# ---- Daemons --------------------------------------------------------------
cl_dlog() { echo "$CL_DIR/d$1/log"; }

# The daemon's log since its latest start.
cl_log_since() { # I [FROM_LINE]
	tail -n +"${2-${CL_D_LOGSTART[$1]}}" "$(cl_dlog "$1")"
}

# The current length of daemon I's log, to wait for lines after it.
cl_log_mark() { # I
	local n
	n=$(wc -l <"$(cl_dlog "$1")")
	echo $((n + 1))
}

cl_daemon_alive() { # I
	local p=${CL_D_PID[$1]-} state
	[ -z "${CL_D_ALIAS[$1]-}" ] || return 1
	[ -n "$p" ] || return 1
	state=$(awk '/^State:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# How many connections to the NATS servers daemon I holds open, in any
# state (one the server closed is still held here, in CLOSE_WAIT); from
# the tables of its own network namespace.
cl_daemon_nats_conns() { # I
	local p=${CL_D_PID[$1]} ports='' inodes i
	for i in "${!CL_NATS_PORT[@]}"; do
		ports+=" $(printf '%04X' "${CL_NATS_PORT[i]}")"
	done
	inodes=$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' \
		-printf '%l\n' 2>/dev/null | tr -dc '0-9\n' | tr '\n' ' ')
	awk -v ports="$ports " -v inodes=" $inodes" '
		NR > 1 && index(inodes, " " $10 " ") {
			split($3, r, ":")
			if (index(ports, " " r[2] " ")) n++
		}
		END { print n + 0 }' "/proc/$p/net/tcp"
}

# Waits until daemon I logs a line matching ERE (after FROM_LINE, by
# default since its latest start); false after SECONDS, or if it died.
cl_wait_log() { # I ERE [SECONDS] [FROM_LINE]
	local i=$1 re=$2 end=$((SECONDS + ${3-$CL_START_TIMEOUT}))
	local from=${4-${CL_D_LOGSTART[$1]}}
	while ! tail -n +"$from" "$(cl_dlog "$i")" | grep -qE -- "$re"; do
		cl_daemon_alive "$i" || return 1
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# cl_daemon_start I [EXTRA...]: node I, its state dir kept across
# restarts; EXTRA (and CL_DAEMON_ARGS) after the cluster options. Remembers
# EXTRA for cl_daemon_restart. Sets CL_D_PID[I], CL_D_PORT[I].
cl_daemon_start() { # I [EXTRA...]
	local i=$1 d=$CL_DIR/d$1 host re line args
	shift
	if [ "${CL_SINGLE:-0}" = 1 ] && [ "$i" -gt 0 ]; then
		# A dry run of a scenario's own logic: every "node" is daemon 0.
		CL_D_ALIAS[i]=1
		CL_D_HOST[i]=${CL_D_HOST[0]} CL_D_PORT[i]=${CL_D_PORT[0]}
		[ "$i" -ge "$CL_ND" ] && CL_ND=$((i + 1))
		cl_log "daemon $i: CL_SINGLE=1, an alias of daemon 0"
		return 0
	fi
	declare -ga "CL_D_EXTRA_$i"
	eval "CL_D_EXTRA_$i=(\"\$@\")"
	: "${CL_D_HOST[i]:=127.0.0.1}"
	host=${CL_D_HOST[i]}
	mkdir -p "$d/state"
	touch "$d/log"
	args=(--listen "$host:0" --node-bits "$CL_NODE_BITS" --node "$i"
		--state-dir "$d/state")
	if [ "$CL_FEDERATION" = 1 ]; then
		args+=(--nats "$(cl_nats_urls "$i")" --cluster "$CL_CLUSTER"
			--link-timeout "$CL_LINK_TIMEOUT")
	fi
	args+=("${CL_DAEMON_ARGS[@]}" "$@")
	CL_D_LOGSTART[i]=$(cl_log_mark "$i")
	[ -n "${CL_VERBOSE:-}" ] && cl_log "start: $PATCHBAYD ${args[*]}"
	cl_spawn "${CL_D_NS[i]-}" "$d/log" "$PATCHBAYD" "${args[@]}"
	CL_D_PID[i]=$CL_SPAWNED
	# shellcheck disable=SC2059
	re=$(printf "$CL_LISTEN_RE" "${host//./\\.}")
	if ! cl_wait_log "$i" "$re"; then
		cl_die "daemon $i did not say where it listens"
	fi
	line=$(cl_log_since "$i" | grep -E -m 1 -- "$re")
	[[ $line =~ $re ]]
	CL_D_PORT[i]=${BASH_REMATCH[1]}
	[ "$i" -ge "$CL_ND" ] && CL_ND=$((i + 1))
	cl_log "daemon $i: pid ${CL_D_PID[i]}, $host:${CL_D_PORT[i]}: ${args[*]}"
}

# Waits until every daemon logged "link J: up" for every other J (since
# its latest start).
cl_wait_links() { # [SECONDS]
	local i j re
	[ "$CL_FEDERATION" = 1 ] || return 0
	for ((i = 0; i < CL_ND; i++)); do
		cl_daemon_alive "$i" || continue
		for ((j = 0; j < CL_ND; j++)); do
			[ "$i" = "$j" ] && continue
			# shellcheck disable=SC2059
			re=$(printf "$CL_LINK_UP_RE" "$j")
			cl_wait_log "$i" "$re" "${1-$CL_START_TIMEOUT}" ||
				cl_die "daemon $i: no '$re' in ${1-$CL_START_TIMEOUT} s"
		done
	done
	cl_log "links up between the $CL_ND daemons"
}

# cl_daemons_start K [EXTRA...]: nodes 0..K-1, then their links.
cl_daemons_start() { # K [EXTRA...]
	local k=$1 i
	shift
	for ((i = 0; i < k; i++)); do
		cl_daemon_start "$i" "$@"
	done
	cl_wait_links
}

cl_daemon_signal() { # I SIG
	[ -z "${CL_D_ALIAS[$1]-}" ] || { cl_log "daemon $1 (alias): SIG$2 not sent"; return 0; }
	kill -"$2" "${CL_D_PID[$1]}"
	cl_log "daemon $1: SIG$2"
}

# Stops daemon I with SIGTERM (within 20 s, else -9 and a failure), checks
# its exit status 0 and its log for sanitizer reports, and keeps its last
# stats line for the reconcile (a later cl_daemon_start of the same node
# is a new process with new counters).
cl_daemon_stop() { # I
	local i=$1 p=${CL_D_PID[$1]-} rc from stats
	[ -n "$p" ] || return 0
	from=$(cl_log_mark "$i")
	kill -CONT "$p" 2>/dev/null
	kill -TERM "$p" 2>/dev/null
	if ! timeout 20 tail --pid="$p" -f /dev/null 2>/dev/null; then
		cl_fail "daemon $i still ran 20 s after SIGTERM"
		kill -KILL "$p" 2>/dev/null
	fi
	wait "$p"
	rc=$?
	CL_D_PID[i]=''
	[ "$rc" = 0 ] || cl_fail "daemon $i: exit status $rc after SIGTERM"
	stats=$(tail -n +"$from" "$(cl_dlog "$i")" | sed -n "s/.*$CL_STATS_RE//p" | tail -n 1)
	if [ -n "$stats" ]; then
		CL_RETIRED_STATS+=("$stats")
	else
		cl_fail "daemon $i: no stats line after SIGTERM"
	fi
	if cl_log_since "$i" | grep -qE "$CL_SANITIZER_RE"; then
		cl_fail "daemon $i reported a sanitizer error"
	fi
	cl_log "daemon $i stopped"
}

# Restarts node I with its state dir and the options it had.
cl_daemon_restart() { # I
	local -n extra="CL_D_EXTRA_$1"
	cl_daemon_stop "$1"
	cl_daemon_start "$1" "${extra[@]}"
}

# ---- Counters -------------------------------------------------------------
# Sets CL_STATS[I] to a fresh stats line of daemon I: SIGUSR1, then the
# first stats line logged after it.
cl_stats() { # I
	local i=$1 from
	cl_daemon_alive "$i" || { CL_STATS[i]=''; return 1; }
	from=$(cl_log_mark "$i")
	kill -USR1 "${CL_D_PID[i]}"
	if ! cl_wait_log "$i" "$CL_STATS_RE" 10 "$from"; then
		cl_fail "daemon $i: no stats line 10 s after SIGUSR1"
		CL_STATS[i]=''
		return 1
	fi
	CL_STATS[i]=$(tail -n +"$from" "$(cl_dlog "$i")" |
		sed -n "s/.*$CL_STATS_RE//p" | head -n 1)
}

cl_stats_all() {
	local i
	for ((i = 0; i < CL_ND; i++)); do
		cl_daemon_alive "$i" && cl_stats "$i"
	done
	return 0
}

# A counter from a stats line (empty if the line has no such counter).
cl_field() { # NAME LINE
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $2"
}

# A counter of daemon I's latest CL_STATS (0 if it has none such).
cl_stat() { # I NAME
	local v
	v=$(cl_field "$2" "${CL_STATS[$1]-}")
	echo "${v:-0}"
}

# The sum of a counter over the live daemons' CL_STATS and the retired
# daemons' last lines.
cl_sum() { # NAME
	printf '%s\n' "${CL_STATS[@]}" "${CL_RETIRED_STATS[@]}" |
		grep -o " $1=[0-9]*" | awk -F= '{ s += $2 } END { print s + 0 }'
}

# The sum, over the same lines, of the counters whose names match ERE and
# not EXCLUDE.
cl_sum_re() { # ERE [EXCLUDE]
	printf '%s\n' "${CL_STATS[@]}" "${CL_RETIRED_STATS[@]}" |
		tr ' ' '\n' | awk -F= -v re="$1" -v ex="${2-^$}" \
		'NF == 2 && $1 ~ re && $1 !~ ex { s += $2 } END { print s + 0 }'
}

# Each counter matching ERE, summed per name: "name=sum ...", non-zero only.
cl_sums_by_name() { # ERE
	printf '%s\n' "${CL_STATS[@]}" "${CL_RETIRED_STATS[@]}" |
		tr ' ' '\n' | awk -F= -v re="$1" \
		'NF == 2 && $1 ~ re { s[$1] += $2 }
		END { for (k in s) if (s[k]) printf "%s=%d ", k, s[k] }'
}

# cl_reconcile [SECONDS]: summed over the daemons (live, and stopped ones'
# last lines), received == forwarded + the dropped_* counters, polled
# until it holds (frames may still be on their way) or SECONDS (default
# 15) pass. Leaves the sums in CL_RECEIVED, CL_FORWARDED, CL_DROPPED.
cl_reconcile() { # [SECONDS]
	local end=$((SECONDS + ${1-15})) i
	while :; do
		cl_stats_all
		CL_RECEIVED=$(cl_sum received)
		CL_FORWARDED=$(cl_sum forwarded)
		CL_DROPPED=$(cl_sum_re "$CL_DROP_RE" "$CL_DROP_EXCLUDE_RE")
		if [ "$CL_RECEIVED" = $((CL_FORWARDED + CL_DROPPED)) ]; then
			cl_log "reconciled: received=$CL_RECEIVED" \
				"forwarded=$CL_FORWARDED dropped=$CL_DROPPED" \
				"($(cl_sums_by_name "$CL_DROP_RE"))"
			return 0
		fi
		[ "$SECONDS" -ge "$end" ] && break
		sleep 0.2
	done
	cl_fail "counters do not reconcile: received=$CL_RECEIVED," \
		"forwarded=$CL_FORWARDED + dropped=$CL_DROPPED" \
		"= $((CL_FORWARDED + CL_DROPPED)) ($(cl_sums_by_name "$CL_DROP_RE"))"
	for ((i = 0; i < CL_ND; i++)); do
		echo "  node $i: ${CL_STATS[i]-}"
	done
	for i in "${CL_RETIRED_STATS[@]}"; do
		echo "  stopped: $i"
	done
	return 1
}

# Per daemon, once its clients are gone: accepted == the disconnect_*.
cl_reconcile_conns() { # [SECONDS]
	local end=$((SECONDS + ${1-15})) i bad
	while :; do
		cl_stats_all
		bad=''
		for ((i = 0; i < CL_ND; i++)); do
			cl_daemon_alive "$i" || continue
			[ "$(cl_stat "$i" accepted)" = "$(cl_sum_re_line "$CL_DISC_RE" "${CL_STATS[i]}")" ] ||
				bad+=" $i"
		done
		[ -z "$bad" ] && return 0
		[ "$SECONDS" -ge "$end" ] && break
		sleep 0.2
	done
	cl_fail "accepted != the disconnect_* on node(s)$bad"
	return 1
}

cl_sum_re_line() { # ERE LINE
	tr ' ' '\n' <<<"$2" | awk -F= -v re="$1" \
		'NF == 2 && $1 ~ re { s += $2 } END { print s + 0 }'
}

# ---- Load -----------------------------------------------------------------
# The --ports list of cluster_load: daemons I... (default all, in order).
cl_ports() { # [I...]
	local i out=''
	[ $# -gt 0 ] || set -- $(seq 0 $((CL_ND - 1)))
	for i in "$@"; do
		out+="${out:+,}${CL_D_HOST[i]}:${CL_D_PORT[i]}"
	done
	echo "$out"
}

# cl_load NAME ARGS...: runs cluster_load (output in $CL_DIR/NAME.out and
# .err), shows its result; CL_LOAD_LINE is the totals line; its exit status.
cl_load() { # NAME ARGS...
	local name=$1
	shift
	cl_load_bg "$name" "$@"
	cl_load_wait "$name"
}

# The same in the background: CL_LOAD_PID; then cl_load_wait NAME.
cl_load_bg() { # NAME ARGS...
	local name=$1
	shift
	cl_log "load $name: cluster_load $*"
	timeout 900 "$CLUSTER_LOAD" "$@" >"$CL_DIR/$name.out" 2>"$CL_DIR/$name.err" &
	CL_LOAD_PID=$!
	CL_BG_PIDS+=("$CL_LOAD_PID")
	eval "CL_LOAD_PID_$name=\$CL_LOAD_PID"
}

cl_load_wait() { # NAME
	local name=$1 pid rc
	eval "pid=\$CL_LOAD_PID_$name"
	wait "$pid"
	rc=$?
	CL_LOAD_LINE=$(grep '^sent=' "$CL_DIR/$name.out" | tail -n 1)
	cl_log "load $name (exit $rc): $CL_LOAD_LINE"
	if [ -s "$CL_DIR/$name.err" ]; then
		head -n 20 "$CL_DIR/$name.err" | sed "s/^/  $name: /"
	fi
	return "$rc"
}

# The latest progress line of a load running in the background.
cl_load_progress() { # NAME
	grep '^progress ' "$CL_DIR/$1.out" | tail -n 1
}

# A counter of the latest progress line of load NAME (0 before the first).
cl_progress() { # NAME FIELD
	local v
	v=$(cl_field "$2" "$(cl_load_progress "$1")")
	echo "${v:-0}"
}

cl_progress_at_least() { # NAME FIELD N
	[ "$(cl_progress "$1" "$2")" -ge "$3" ]
}

# Waits until load NAME (with --progress-ms) has FIELD (default received)
# N more than now, within SECONDS: traffic flows.
cl_load_flowing() { # NAME N SECONDS [FIELD]
	local f=${4-received}
	cl_until "$3" cl_progress_at_least "$1" "$f" \
		$(($(cl_progress "$1" "$f") + $2))
}

# A counter of CL_LOAD_LINE.
cl_load_field() { # NAME
	cl_field "$1" "$CL_LOAD_LINE"
}

# ---- A client by hand (bash /dev/tcp) -------------------------------------
# Connects to daemon I; sets the variable FDVAR to the descriptor and
# CL_CLIENT_ID to the id it was given (decimal).
cl_client_open() { # FDVAR I
	local fd b
	exec {fd}<>"/dev/tcp/${CL_D_HOST[$2]}/${CL_D_PORT[$2]}" ||
		cl_die "cannot connect to daemon $2"
	b=$(timeout 5 head -c 4 <&"$fd" | od -An -tu1)
	read -r -a b <<<"$b"
	[ "${#b[@]}" = 4 ] || cl_die "daemon $2: no id for a client"
	CL_CLIENT_ID=$(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]))
	printf -v "$1" %s "$fd"
}

cl_client_close() { # FD
	local fd=$1
	exec {fd}>&-
}

# Sends one frame: DEST (decimal id), PAYLOAD (no NUL).
cl_client_send() { # FD DEST PAYLOAD
	local d=$2 hdr
	printf -v hdr '\\x%02x\\x%02x\\x%02x\\x%02x' $((d >> 24 & 255)) \
		$((d >> 16 & 255)) $((d >> 8 & 255)) $((d & 255))
	# shellcheck disable=SC2059
	printf "$hdr%s\0" "$3" >&"$1"
}

# True if the next message on FD, within 5 s, is PAYLOAD.
cl_client_expect() { # FD PAYLOAD
	local got
	got=$(timeout 5 head -c $((${#2} + 1)) <&"$1" | tr '\0' '|')
	[ "$got" = "$2|" ] && return 0
	cl_fail "expected '$2|', got '$got'"
	return 1
}

# ---- The end --------------------------------------------------------------
# Stops the daemons (exit 0, no sanitizer report) and the NATS servers,
# shows the logs after a failure, and exits with the verdict.
cl_finish() {
	local i
	for ((i = 0; i < CL_ND; i++)); do
		cl_daemon_stop "$i"
	done
	cl_nats_stop_all
	if [ "$CL_STATUS" != 0 ]; then
		cl_show_logs
		echo "FAIL: $(basename "$0")"
	else
		echo "ok: $(basename "$0")"
	fi
	exit "$CL_STATUS"
}
