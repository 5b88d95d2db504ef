#!/bin/bash
# SPDX-License-Identifier: ISC
# test-systemd.sh: the installed package under a real systemd (Debian 12's,
# 252) as PID 1: `systemctl restart` and an upgrade keep every client.
#
#   packaging/test-systemd.sh DIR      DIR holds patchbay_*.deb
#
# A fresh copy of the cached debootstrap chroot (packaging/chroot.sh, which
# has Debian 12's systemd in it) gets the package's dependencies (apt-get
# satisfy, from the mirror) and is booted with systemd-nspawn: its systemd
# runs as PID 1 in namespaces of its own (pid, mount, network with only a
# loopback, uts, ipc, cgroup), never on this machine's root. In it:
#
#   - `dpkg -i` the package: the postinst enables and starts
#     patchbayd.service (the shipped unit, with its fd store);
#   - two clients in bash: A sends B the first 9 bytes of a frame and
#     holds the rest until the end;
#   - clients (tests/cluster_load, built here from the tree, run in the
#     container's network) exchange numbered frames without a pause, in
#     pairs, checking order, loss and duplicates;
#   - `systemctl restart patchbayd` twice, then `dpkg -i` of the same
#     package with a higher version (repacked with dpkg-deb), whose
#     postinst restarts the service as on any upgrade. Each time the
#     MainPID changes, the unit is active, the fd store is empty again once
#     the new process has taken over, and frames flow again;
#   - A ends its frame and B receives it whole (A's unfinished frame was
#     carried, B kept its id); the clients end with closed=0 and ok=1 (no
#     connection lost, so each kept its id; nothing lost, repeated or
#     reordered); the journal has one `hand-over: took over N clients` per
#     restart, N all the clients, each carrying at least A's 9 bytes; the
#     daemon's counters say handovers=3 and that each client was accepted
#     once;
#   - `systemctl stop patchbayd`, with a client connected, stops it:
#     inactive, result success, exit status 0, the fd store released, and
#     the client's connection closed.
#
# Then the container is halted and everything is removed (its root, its
# cgroups, nspawn's folder for it under /run).
#
# systemd-nspawn runs with --boot --register=no --private-network; where
# this machine runs no systemd (a container, a VM whose PID 1 is something
# else) it cannot ask one for a scope, so it is started in a cgroup made
# for it (in cgroup2, and in name=systemd on a hybrid set-up) with
# --keep-unit. Nothing here starts a systemd outside the container: its
# /tmp and cgroups are its own, /proc/sys (but for its network) read-only.
#
# Environment: PATCHBAY_SD_CLIENTS (default 16), PATCHBAY_SD_DURATION_MS
# (how long the clients send, default 30000: the restarts and the upgrade
# must be done within it), PATCHBAY_SD_SIZE and PATCHBAY_SD_WINDOW (bytes a
# frame, frames in flight a flow: 200 and 32), PATCHBAY_KEEP=1 keeps the
# work folder (logs, the journal of the service).
# Needs root, systemd-nspawn (systemd-container), nsenter (util-linux), a C
# compiler, debootstrap and the network to a Debian mirror.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 DIR-WITH-DEBS" >&2; exit 2; }
debdir=$(realpath "$1")
deb=$(ls "$debdir"/patchbay_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "error: no patchbay_*.deb in $debdir" >&2; exit 2; }
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
clients=${PATCHBAY_SD_CLIENTS:-16}
duration=${PATCHBAY_SD_DURATION_MS:-30000}
size=${PATCHBAY_SD_SIZE:-200}
window=${PATCHBAY_SD_WINDOW:-32}
for tool in systemd-nspawn nsenter cc dpkg-deb; do
	command -v "$tool" >/dev/null || { echo "error: no $tool here (systemd-container, util-linux, gcc, dpkg)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-systemd.XXXXXX")
root=$work/root
machine=pb-sd-$$
nspawn_pid='' leader='' load_pid='' pair_pid='' last_pid='' cgroups=() nspawn_run_existed=''
[ -d /run/systemd/nspawn ] && nspawn_run_existed=1
failures=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
# A command in the container: all its namespaces, a clean environment.
in_ct() { nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive SYSTEMD_PAGER= "$@"; }

halt_container() {
	local i
	[ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null || return 0
	# nspawn turns SIGTERM into a clean halt of the container's systemd.
	kill -TERM "$nspawn_pid"
	for i in $(seq 150); do
		kill -0 "$nspawn_pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$nspawn_pid" 2>/dev/null; then
		echo "the container did not halt in 30 s: killing it"
		kill -KILL "$nspawn_pid"
	fi
	wait "$nspawn_pid" 2>/dev/null
	nspawn_pid=
}

cleanup() {
	local cg d
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null && wait "$load_pid" 2>/dev/null
	[ -n "$pair_pid" ] && kill "$pair_pid" 2>/dev/null && wait "$pair_pid" 2>/dev/null
	[ -n "$last_pid" ] && kill "$last_pid" 2>/dev/null && wait "$last_pid" 2>/dev/null
	halt_container
	for cg in "${cgroups[@]}"; do
		# Deepest first: what nspawn and the container's systemd made in it.
		[ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$cg" ] && echo "warning: cannot remove the cgroup $cg"
	done
	rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null
	if [ -z "$nspawn_run_existed" ]; then
		for d in propagate locks ""; do rmdir "/run/systemd/nspawn/$d" 2>/dev/null; done
	fi
	"$top/packaging/chroot.sh" remove "$root"
	if [ "${PATCHBAY_KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step_start=$(now_ms)
phase() { echo "--- $* (at $((($(now_ms) - step_start) / 1000)) s)"; }

phase "the load generator, tests/cluster_load, built from the tree"
: >"$work/config.h"
cc -O2 -I"$work" -o "$work/cluster_load" "$top/tests/cluster_load.c" ||
	{ echo "FAIL: cannot build tests/cluster_load.c"; exit 1; }

phase "the upgrade: $(basename "$deb") repacked with a higher version"
new_version=$version+restart1
dpkg --compare-versions "$new_version" gt "$version" || { echo "FAIL: $new_version is not above $version"; exit 1; }
dpkg-deb -R "$deb" "$work/repack" &&
	sed -i "s/^Version: .*/Version: $new_version/" "$work/repack/DEBIAN/control" &&
	dpkg-deb -b "$work/repack" "$work/patchbay_${new_version}_$arch.deb" >/dev/null ||
	{ echo "FAIL: cannot repack $(basename "$deb") as $new_version"; exit 1; }
rm -rf "$work/repack"
echo "patchbay $version, then $new_version"

phase "a fresh Debian 12 with its systemd, and what patchbay depends on"
"$top/packaging/chroot.sh" unpack "$root" || exit 1
[ -x "$root/lib/systemd/systemd" ] || { echo "FAIL: no systemd in the chroot"; exit 1; }
depends=$(dpkg-deb -f "$deb" Depends)
if ! { in_root apt-get update -qq && in_root apt-get satisfy -y -qq --no-install-recommends "$depends"; } >"$work/apt.log" 2>&1; then
	tail -n 30 "$work/apt.log"
	echo "FAIL: apt-get satisfy '$depends' in the chroot"
	exit 1
fi
mkdir -p "$root/root/debs" "$root/root/partial"
# Two more clients, in bash: A writes B's id and the start of a frame,
# "half-", and holds the rest until the restarts and the upgrade are done
# (the daemon carries the 9 bytes in A's read buffer each time); then A
# writes "rest" and the 0x00, and B must receive "half-rest" and 0x00: A's
# connection and B's id survived.
cat >"$root/root/partial/pair.sh" <<'PAIR'
set -eu
cd /root/partial
exec 3<>/dev/tcp/127.0.0.1/8080 4<>/dev/tcp/127.0.0.1/8080
id_a=$(dd bs=1 count=4 status=none <&3 | od -An -tx1 | tr -d ' \n')
id_b=$(dd bs=1 count=4 status=none <&4 | od -An -tx1 | tr -d ' \n')
echo "A $id_a B $id_b" >ids
# shellcheck disable=SC2059
printf "$(sed 's/../\\x&/g' <<<"$id_b")half-" >&3
: >sent
while [ ! -e go ]; do sleep 0.1; done
printf 'rest\0' >&3
timeout 20 dd bs=1 count=10 status=none <&4 >got
PAIR
cp "$deb" "$work/patchbay_${new_version}_$arch.deb" "$root/root/debs/"
# man-db's trigger rebuilds its index at each dpkg -i, seconds on a busy
# machine while the clients wait for the upgrade to be done: off.
rm -f "$root/var/lib/man-db/auto-update"
# nspawn mounts its own /proc and /dev; not the host's, under it.
for m in dev/pts proc; do
	! mountpoint -q "$root/$m" || umount "$root/$m" || { echo "FAIL: cannot unmount $root/$m"; exit 1; }
done

phase "systemd as PID 1 in the container (systemd-nspawn --boot)"
nspawn_opts=(-q -D "$root" --boot --machine="$machine" --register=no
	--private-network --console=passive --link-journal=no
	--resolv-conf=off --timezone=off)
if [ -d /run/systemd/system ]; then
	# This machine runs systemd: nspawn asks it for a scope of its own.
	: >"$work/nspawn.log"
	systemd-nspawn "${nspawn_opts[@]}" >"$work/nspawn.log" 2>&1 &
	nspawn_pid=$!
else
	# No systemd here to ask for a scope: a cgroup of our own in each
	# hierarchy systemd uses (cgroup2, and name=systemd if it is a hybrid
	# set-up), which nspawn keeps (--keep-unit) and divides.
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		cgroups=("/sys/fs/cgroup/$machine")
	else
		for h in unified systemd; do
			[ -e "/sys/fs/cgroup/$h/cgroup.procs" ] && cgroups+=("/sys/fs/cgroup/$h/$machine")
		done
	fi
	[ ${#cgroups[@]} -gt 0 ] || { echo "FAIL: no cgroup hierarchy for systemd under /sys/fs/cgroup"; exit 1; }
	mkdir "${cgroups[@]}" || { echo "FAIL: cannot make the cgroups ${cgroups[*]}"; exit 1; }
	(
		for cg in "${cgroups[@]}"; do echo "$BASHPID" >"$cg/cgroup.procs" || exit 1; done
		exec systemd-nspawn "${nspawn_opts[@]}" --keep-unit
	) >"$work/nspawn.log" 2>&1 &
	nspawn_pid=$!
fi
echo "systemd-nspawn ${nspawn_opts[*]}$([ ${#cgroups[@]} -gt 0 ] && echo " --keep-unit, in ${cgroups[*]}")"
deadline=$((SECONDS + 30))
while [ -z "$leader" ] || [ "$(cat "/proc/$leader/comm" 2>/dev/null)" != systemd ]; do
	kill -0 "$nspawn_pid" 2>/dev/null && [ $SECONDS -lt $deadline ] ||
		{ tail -n 30 "$work/nspawn.log"; echo "FAIL: the container's systemd did not start"; exit 1; }
	sleep 0.2
	leader=$(ps -o pid= --ppid "$nspawn_pid" | head -n 1 | tr -d ' ')
done
deadline=$((SECONDS + 90))
while :; do
	state=$(timeout 60 nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		systemctl is-system-running --wait 2>/dev/null)
	case $state in running | degraded) break ;; esac
	[ $SECONDS -lt $deadline ] && kill -0 "$nspawn_pid" 2>/dev/null ||
		{ tail -n 30 "$work/nspawn.log"; echo "FAIL: the container did not boot (state '$state')"; exit 1; }
	sleep 0.5
done
pid1=$(in_ct readlink /proc/1/exe)
sdver=$(in_ct systemctl --version | head -n 1)
ok "booted: $sdver is PID 1 ($pid1) of the container, state $state"
[ "$state" = running ] || in_ct systemctl --failed --no-legend | sed 's/^/   failed: /'

# Values of the unit's properties.
prop() { in_ct systemctl show -P "$1" patchbayd.service; }
# The last received= of the clients' progress lines.
received() { sed -n 's/^progress .* received=\([0-9]*\).*/\1/p' "$work/load.out" | tail -n 1; }
# frames_flow WHAT: frames arrive after WHAT: between two of the clients'
# progress lines written after it, received= grows (what the old process
# delivered before it ended shows in the first one).
frames_flow() {
	local lines base='' now deadline=$((SECONDS + 20))
	lines=$(grep -c '^progress ' "$work/load.out")
	while :; do
		if [ -z "$base" ] && [ "$(grep -c '^progress ' "$work/load.out")" -gt "$lines" ]; then
			base=$(received)
		fi
		now=$(received)
		[ -n "$base" ] && [ "$now" -gt "$base" ] && break
		if ! kill -0 "$load_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			bad "no frame arrived for 20 s after $1 (received=${now:-0})"
			return 1
		fi
		sleep 0.1
	done
	ok "frames flow after $1 (received $base, then $now)"
}
# store_emptied WHAT: the new process took pb-state and pb-bag out of the
# fd store (after READY=1), so a later crash cannot replay them.
store_emptied() {
	local n deadline=$((SECONDS + 10))
	while n=$(prop NFileDescriptorStore); [ "$n" != 0 ]; do
		[ $SECONDS -lt $deadline ] || { bad "NFileDescriptorStore=$n 10 s after $1"; return 1; }
		sleep 0.2
	done
	ok "the fd store is empty again after $1"
}
# restarted WHAT OLD-PID: active, with another MainPID.
restarted() {
	local pid state
	pid=$(prop MainPID) state=$(prop ActiveState)
	if [ "$state" = active ] && [ "$pid" != 0 ] && [ "$pid" != "$2" ]; then
		ok "$1: active, MainPID $2 -> $pid"
	else
		bad "$1: ActiveState=$state, MainPID $2 -> $pid"
	fi
}

phase "dpkg -i $(basename "$deb"): the postinst starts patchbayd.service"
if in_ct dpkg -i "/root/debs/$(basename "$deb")" >"$work/install.log" 2>&1; then
	ok "dpkg -i $(basename "$deb")"
else
	cat "$work/install.log"
	echo "FAIL: dpkg -i $(basename "$deb")"
	exit 1
fi
[ "$(prop ActiveState)" = active ] || { in_ct systemctl status --no-pager -l patchbayd; echo "FAIL: patchbayd.service is not active"; exit 1; }
for p in FileDescriptorStoreMax RestartKillSignal; do
	echo "   $p=$(prop "$p")"
done
[ "$(prop FileDescriptorStoreMax)" -gt 0 ] 2>/dev/null ||
	bad "the installed unit has no fd store (FileDescriptorStoreMax=0): a restart cannot keep the clients"
pid=$(prop MainPID)
ok "patchbayd.service active, MainPID $pid, enabled: $(in_ct systemctl is-enabled patchbayd)"

phase "2 clients with a frame half sent (packaging/test-systemd.sh's pair.sh)"
in_ct bash /root/partial/pair.sh >"$work/pair.log" 2>&1 &
pair_pid=$!
deadline=$((SECONDS + 20))
until [ -e "$root/root/partial/sent" ]; do
	kill -0 "$pair_pid" 2>/dev/null && [ $SECONDS -lt $deadline ] ||
		{ cat "$work/pair.log"; echo "FAIL: the pair of clients did not start"; exit 1; }
	sleep 0.1
done
ok "connected: $(cat "$root/root/partial/ids"), A sent B 'half-' of a frame"

phase "$clients clients in pairs, sending for $((duration / 1000)) s"
nsenter -t "$leader" -n "$work/cluster_load" --ports 127.0.0.1:8080 \
	--clients "$clients" --pattern pairs --frames 0 --duration-ms "$duration" \
	--size "$size" --window "$window" --progress-ms 200 --timeout-ms $((duration + 60000)) \
	>"$work/load.out" 2>"$work/load.err" &
load_pid=$!
frames_flow "the clients connected"

for i in 1 2; do
	phase "systemctl restart patchbayd ($i)"
	t0=$(now_ms)
	if timeout 120 nsenter -t "$leader" -a systemctl restart patchbayd.service; then
		ok "systemctl restart patchbayd ($i) in $(($(now_ms) - t0)) ms"
	else
		bad "systemctl restart patchbayd ($i) failed"
	fi
	restarted "restart $i" "$pid"
	pid=$(prop MainPID)
	frames_flow "restart $i"
	store_emptied "restart $i"
done

phase "the upgrade: dpkg -i patchbay_${new_version}_$arch.deb"
t0=$(now_ms)
if in_ct dpkg -i "/root/debs/patchbay_${new_version}_$arch.deb" >"$work/upgrade.log" 2>&1; then
	ok "dpkg -i patchbay_${new_version}_$arch.deb in $(($(now_ms) - t0)) ms"
	grep -E '^(Preparing|Unpacking|Setting up) ' "$work/upgrade.log" | sed 's/^/   /'
else
	cat "$work/upgrade.log"
	bad "dpkg -i patchbay_${new_version}_$arch.deb"
fi
v=$(in_ct dpkg-query -W -f '${Version}' patchbay)
[ "$v" = "$new_version" ] && ok "installed: patchbay $v" || bad "installed: patchbay $v, not $new_version"
restarted "the upgrade" "$pid"
frames_flow "the upgrade"
store_emptied "the upgrade"
if ! kill -0 "$load_pid" 2>/dev/null; then
	bad "the clients were done before the upgrade was: raise PATCHBAY_SD_DURATION_MS"
fi

phase "A ends its frame"
: >"$root/root/partial/go"
wait "$pair_pid"
pair_rc=$?
pair_pid=''
if [ $pair_rc -eq 0 ] && printf 'half-rest\0' | cmp -s - "$root/root/partial/got"; then
	ok "B received 'half-rest' and 0x00: the frame begun before the restarts ended after the upgrade"
else
	cat "$work/pair.log"
	bad "B received '$(tr '\0' '@' <"$root/root/partial/got" 2>/dev/null)' (status $pair_rc), not 'half-rest' and 0x00"
fi

phase "the clients finish"
wait "$load_pid"
load_rc=$?
load_pid=
result=$(grep -v '^progress ' "$work/load.out" | tail -n 1)
echo "   cluster_load: $result (exit status $load_rc)"
sed 's/^/   cluster_load: /' "$work/load.err" | head -n 20
if [ $load_rc -eq 0 ] && grep -q ' closed=0 ' <<<" $result " && grep -q ' ok=1 ' <<<" $result "; then
	ok "the clients stayed connected across the restarts and the upgrade, and every frame arrived once, in order"
else
	bad "the clients: closed=0 ok=1 and exit status 0 expected"
fi

phase "what the daemon logged and counted"
in_ct systemctl kill --kill-who=main -s SIGUSR1 patchbayd.service
sleep 1
in_ct journalctl -u patchbayd.service -o short-monotonic --no-pager >"$work/journal.log" 2>&1
grep -E 'hand-over|Started|Stopp|Deactivated|Main process' "$work/journal.log" | sed 's/^/   /'
all=$((clients + 2))
took=$(grep -c 'hand-over: took over [0-9]* clients' "$work/journal.log")
took_all=$(grep -c "hand-over: took over $all clients" "$work/journal.log")
if [ "$took" -eq 3 ] && [ "$took_all" -eq 3 ]; then
	ok "3 times 'hand-over: took over $all clients' in the journal"
else
	bad "'hand-over: took over $all clients' $took_all times in the journal ($took with any number), not 3"
fi
carried=$(sed -n 's/.*hand-over: [0-9]* clients, \([0-9]*\) bytes carried.*/\1/p' "$work/journal.log" | tr '\n' ' ')
n=0
for b in $carried; do [ "$b" -ge 9 ] && n=$((n + 1)); done
[ "$n" -eq 3 ] && ok "bytes carried: $carried(each at least A's 9)" ||
	bad "bytes carried: '$carried', not 3 times at least A's 9"
stats=$(grep -o 'stats: .*' "$work/journal.log" | tail -n 1)
counter() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $stats"; }
echo "   $stats"
[ "$(counter handovers)" = 3 ] && ok "handovers=3" || bad "handovers=$(counter handovers), not 3"
[ "$(counter accepted)" = "$all" ] && ok "accepted=$all: no client came back on a new connection" ||
	bad "accepted=$(counter accepted), not $all"
for c in handovers_failed handover_state_refused disconnect_restart; do
	[ "$(counter $c)" = 0 ] && ok "$c=0" || bad "$c=$(counter $c), not 0"
done

phase "systemctl stop patchbayd, with a client connected"
# The client reads its id, then until the daemon closes the connection.
in_ct bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080; dd bs=1 count=4 status=none <&3 >/root/partial/last-id; : >/root/partial/last-in; cat <&3 >/dev/null' \
	>"$work/last.log" 2>&1 &
last_pid=$!
deadline=$((SECONDS + 10))
until [ -e "$root/root/partial/last-in" ] || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
[ -e "$root/root/partial/last-in" ] || bad "a client could not connect before the stop"
t0=$(now_ms)
timeout 120 nsenter -t "$leader" -a systemctl stop patchbayd.service || bad "systemctl stop patchbayd failed"
shown=$(for p in ActiveState Result ExecMainCode ExecMainStatus NFileDescriptorStore; do echo "$p=$(prop $p)"; done | tr '\n' ' ')
if [ "$shown" = "ActiveState=inactive Result=success ExecMainCode=1 ExecMainStatus=0 NFileDescriptorStore=0 " ]; then
	ok "stopped in $(($(now_ms) - t0)) ms: $shown"
else
	bad "after systemctl stop: $shown"
	in_ct journalctl -u patchbayd.service -o short-monotonic --no-pager | tail -n 20
fi
for i in $(seq 50); do kill -0 "$last_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$last_pid" 2>/dev/null; then
	bad "the client connected at the stop was not closed 5 s after it"
	kill "$last_pid"
else
	ok "the client connected at the stop (id $(od -An -tx1 "$root/root/partial/last-id" | tr -d ' \n')) saw its connection end"
fi
wait "$last_pid" 2>/dev/null
last_pid=''

phase "halting the container"
halt_container
echo "the whole test took $((($(now_ms) - step_start) / 1000)) s"
if [ "$failures" -eq 0 ]; then
	echo "PASS: restarts and an upgrade under $sdver as PID 1 kept every client"
else
	[ -f "$work/journal.log" ] && { echo "--- the journal of patchbayd.service"; tail -n 40 "$work/journal.log"; }
	echo "FAIL: $failures checks of the systemd test failed"
	exit 1
fi
