# SPDX-License-Identifier: ISC
# tests/fuzz/local.mk: the fuzz targets of the core, and handover, the
# daemon's check of a hand-over state (included from Makefile.am inside
# `if HAVE_CHECK`). Each target, fuzz_NAME.c, is built
# twice: here as tests/fuzz/replay_NAME, with replay.c's main and any
# compiler, a test of `make check` that runs the seed corpus corpus/NAME
# (found through abs_top_srcdir, which AM_TESTS_ENVIRONMENT exports);
# and by `make fuzz` (run.sh) with clang's libFuzzer and the sanitizers,
# for FUZZ_SECONDS each, in a scratch directory (CI runs run.sh's default,
# envelope and handover for 20 s only).
FUZZ_NAMES = frame route outbox_park deliver engine envelope handover
FUZZ_SOURCES = %D%/replay.c %D%/fuzz.h

FUZZ_REPLAY = %D%/replay_frame %D%/replay_route %D%/replay_outbox_park \
	%D%/replay_deliver %D%/replay_engine %D%/replay_engine_reactor \
	%D%/replay_envelope %D%/replay_handover
check_PROGRAMS += $(FUZZ_REPLAY)
TESTS += $(FUZZ_REPLAY)

%C%_replay_frame_SOURCES = %D%/fuzz_frame.c $(FUZZ_SOURCES)
%C%_replay_frame_CPPFLAGS = $(CORE_CPPFLAGS) -DFUZZ_CORPUS='"frame"'
%C%_replay_frame_LDADD = src/core/libpbcore.a
%C%_replay_route_SOURCES = %D%/fuzz_route.c $(FUZZ_SOURCES)
%C%_replay_route_CPPFLAGS = $(CORE_CPPFLAGS) -DFUZZ_CORPUS='"route"'
%C%_replay_route_LDADD = src/core/libpbcore.a
%C%_replay_outbox_park_SOURCES = %D%/fuzz_outbox_park.c $(FUZZ_SOURCES)
%C%_replay_outbox_park_CPPFLAGS = $(CORE_CPPFLAGS) \
	-DFUZZ_CORPUS='"outbox_park"'
%C%_replay_outbox_park_LDADD = src/core/libpbcore.a
%C%_replay_deliver_SOURCES = %D%/fuzz_deliver.c $(FUZZ_SOURCES)
%C%_replay_deliver_CPPFLAGS = $(CORE_CPPFLAGS) -DFUZZ_CORPUS='"deliver"'
%C%_replay_deliver_LDADD = src/core/libpbcore.a
%C%_replay_engine_SOURCES = %D%/fuzz_engine.c $(FUZZ_SOURCES)
%C%_replay_engine_CPPFLAGS = $(CORE_CPPFLAGS) -DFUZZ_CORPUS='"engine"'
%C%_replay_engine_LDADD = src/core/libpbcore.a
%C%_replay_envelope_SOURCES = %D%/fuzz_envelope.c $(FUZZ_SOURCES)
%C%_replay_envelope_CPPFLAGS = $(CORE_CPPFLAGS) -DFUZZ_CORPUS='"envelope"'
%C%_replay_envelope_LDADD = src/core/libpbcore.a
# A layer up: pb_handover_check is the daemon's, over the core's blob.
%C%_replay_handover_SOURCES = %D%/fuzz_handover.c $(FUZZ_SOURCES)
%C%_replay_handover_CPPFLAGS = $(DAEMON_CPPFLAGS) -DFUZZ_CORPUS='"handover"'
%C%_replay_handover_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
%C%_replay_handover_LDADD = src/daemon/libpbdaemon.a $(COMMON_LIBS) \
	$(OPENSSL_LIBS) $(PTHREAD_LIBS)
# The same seeds with the reactor's flush at once (engine.h, eo_flush).
%C%_replay_engine_reactor_SOURCES = %D%/fuzz_engine.c $(FUZZ_SOURCES)
%C%_replay_engine_reactor_CPPFLAGS = $(CORE_CPPFLAGS) \
	-DFUZZ_CORPUS='"engine"' -DFUZZ_REACTOR_FLUSH
%C%_replay_engine_reactor_LDADD = src/core/libpbcore.a

# The seeds (the whole folder) and the libFuzzer driver.
EXTRA_DIST += %D%/corpus %D%/run.sh

# `make fuzz`: every target under libFuzzer for FUZZ_SECONDS seconds
# (`make fuzz FUZZ_SECONDS=600`); crash inputs go to tests/fuzz/artifacts
# of the build tree. Fails if any target finds a crash. (Not in .PHONY:
# automake wants that one defined outside any condition.)
FUZZ_SECONDS = 60
CLANG = clang
fuzz:
	$(SHELL) '$(srcdir)/%D%/run.sh' --seconds '$(FUZZ_SECONDS)' \
		--cc '$(CLANG)' --config '$(abs_top_builddir)' \
		--artifacts '$(abs_top_builddir)/%D%/artifacts' $(FUZZ_NAMES)
