# SPDX-License-Identifier: ISC
# bench/peers/local.mk: the Rust peers of the benchmarks (bench/peers/,
# one cargo package, a binary per pattern; see its Cargo.toml), included
# by Makefile.am. `make bench-peers` builds them with cargo, in release
# mode, offline, into bench/peers/target/release of the build tree; `make
# check` builds them for tests/peers_routing.sh, and `make bench`,
# `make bench-pinned` and `make bench-scale` before they run. In a VPATH
# build the package is first copied into the build tree, since cargo
# writes Cargo.lock beside Cargo.toml and the source tree may be read-only
# (`make distcheck`). cargo is handed RUSTC and nothing else of configure's
# choices: CFLAGS and the sanitizer flags are for the C code only.
PEER_FILES = %D%/Cargo.toml %D%/.cargo/config.toml %D%/src/lib.rs \
	%D%/src/bin/mutex.rs %D%/src/bin/mutex-per-writer.rs \
	%D%/src/bin/channels.rs %D%/src/bin/channel-per-writer.rs \
	%D%/src/bin/select-reactor.rs %D%/src/bin/poll-reactor.rs
EXTRA_DIST += $(PEER_FILES) %D%/local.mk

cargo_v_ = $(cargo_v_@AM_DEFAULT_V@)
cargo_v_0 = --quiet
cargo_v_1 =
CARGO_V = $(cargo_v_@AM_V@)

if HAVE_RUST_PEERS
# Built by `make check` (the smoke test runs them) and before a benchmark.
BENCH_PEERS_BUILD = bench-peers
if HAVE_CHECK
check_DATA += bench-peers
endif
# `+`: cargo takes its jobs from make's jobserver (make -j2: two in all).
bench-peers:
	@if test '$(srcdir)' != .; then \
		for f in $(PEER_FILES); do \
			cmp -s '$(srcdir)'/$$f $$f 2>/dev/null && continue; \
			$(MKDIR_P) `dirname $$f` && rm -f $$f && \
			cp -p '$(srcdir)'/$$f $$f || exit 1; \
		done; \
	fi
	+$(AM_V_GEN)cd %D% && RUSTC='$(RUSTC)' CARGO_TARGET_DIR=target \
		'$(CARGO)' build --release --offline $(CARGO_V)
else
BENCH_PEERS_BUILD =
bench-peers:
	@echo "make bench-peers: ./configure found no cargo, or not the crates (see config.log):" >&2
	@echo "install cargo librust-tokio-dev librust-bytes-dev librust-futures-dev and run ./configure again" >&2
	@exit 1
endif
.PHONY: bench-peers

# The build's own: target/ and Cargo.lock, and in a VPATH build the copy.
clean-local: clean-peers
clean-peers:
	-rm -rf %D%/target %D%/Cargo.lock
distclean-local: distclean-peers
distclean-peers:
	-if test '$(srcdir)' != .; then \
		rm -f $(PEER_FILES); \
		rmdir %D%/src/bin %D%/src %D%/.cargo %D% 2>/dev/null; \
	fi; true
.PHONY: clean-peers distclean-peers

# The routing tests and the protocol's edges against each peer built.
if HAVE_CHECK
TESTS += tests/peers_routing.sh
EXTRA_DIST += tests/peers_routing.sh
endif
