# SPDX-License-Identifier: ISC
# bench/servers.sh: the servers a benchmark runs, sourced by run.sh and
# scale.sh so that both choose them the same way: patchbayd, the reactor,
# and the Rust peers built in $build (all of them, or those BENCH_PEERS
# names; BENCH_PEERS= for none). bench_servers PROG sets
#   servers   the names, in order;
#   cmd[NAME] each one's command, listening on 127.0.0.1 port 0;
#   peers     the peers among them;
# and exits 2, with PROG's name, on a peer that is unknown or not built.

# The Rust peers, in the order of bench/peers/Cargo.toml's comment.
all_peers="mutex mutex-per-writer channels channel-per-writer select-reactor poll-reactor"

bench_servers() {
	local prog=$1 peerdir=$build/bench/peers/target/release p
	servers=("patchbayd" "reactor")
	declare -gA cmd=(
		[patchbayd]="$build/src/patchbayd -l 127.0.0.1:0"
		[reactor]="$build/src/patchbay-reactor -l 127.0.0.1:0"
	)
	peers=()
	for p in ${BENCH_PEERS-$all_peers}; do
		if [[ " $all_peers " != *" $p "* ]]; then
			echo "$prog: BENCH_PEERS: no peer '$p' (there are: $all_peers)" >&2
			exit 2
		fi
		if [ -x "$peerdir/$p" ]; then
			peers+=("$p")
		elif [ -n "${BENCH_PEERS+set}" ]; then
			echo "$prog: peer $p is not built ($peerdir/$p): make bench-peers" >&2
			exit 2
		fi
	done
	for p in "${peers[@]}"; do
		servers+=("$p")
		cmd[$p]="$peerdir/$p -l 127.0.0.1:0"
	done
}

is_peer() {
	[[ " ${peers[*]} " == *" $1 "* ]]
}
