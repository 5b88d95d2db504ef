# SPDX-License-Identifier: ISC
# tests/local.mk: the cluster tests and the restart tests (included from
# Makefile.am inside `if HAVE_CHECK`). tests/cluster_load is their load
# generator and checker, built with the tests but not one of them;
# tests/cluster_lib.sh is sourced by every tests/cluster_*.sh (NATS
# servers, daemons, counters) and, through tests/restart_lib.sh, by the
# restart tests.
# Each scenario skips (77) when no nats-server is installed; a few need
# root (network namespaces) and skip otherwise.
#
# Run one:   make check TESTS=tests/cluster_basic.sh   (log in
#            tests/cluster_basic.sh.log), or straight from the build tree:
#            tests/cluster_basic.sh  (PATCHBAYD, CLUSTER_LOAD, NATS_SERVER
#            override the binaries; CL_KEEP=1 keeps the logs' temp dir;
#            CL_VERBOSE=1 shows the commands).
# Dry run:   CL_SINGLE=1 tests/cluster_faults.sh  runs a scenario against
#            one plain daemon (every node an alias of it): checks the
#            script, not the federation.
# The scenarios: cluster_harness (the tools themselves; passes today),
# cluster_basic (pairs, fan-in, fan-out across 3 nodes), cluster_faults
# (kill -9 and restart of a NATS server, SIGSTOP/CONT of another),
# cluster_slow (a non-reader on node 1, --slow-timeout 2), cluster_restart
# (node 1 restarted with its state dir), cluster_linkdown (node 1 stopped
# past --link-timeout 2), cluster_netns (namespaces: partition, netem),
# cluster_start (bad options; a daemon started with NATS down serves its
# own clients, then joins), cluster_hostile (forged and broken messages on
# the cluster's subjects while traffic flows), cluster_handover (node 1
# handed over in place three times under cross traffic: node 0 sees only
# a pause).
check_PROGRAMS += %D%/cluster_load
%C%_cluster_load_SOURCES = %D%/cluster_load.c
%C%_cluster_load_CFLAGS = $(AM_CFLAGS)

# The restart tests (tests/restart_*.sh, through tests/restart_lib.sh) run
# patchbayd under tests/fakesd, a fake service manager with systemd's fd
# store, and load it with tests/cluster_load; fakesd is built with the
# tests but is not one of them.
check_PROGRAMS += %D%/fakesd
%C%_fakesd_SOURCES = %D%/fakesd.c
%C%_fakesd_CFLAGS = $(AM_CFLAGS)

CLUSTER_TESTS = %D%/cluster_harness.sh %D%/cluster_basic.sh \
	%D%/cluster_faults.sh %D%/cluster_slow.sh %D%/cluster_restart.sh \
	%D%/cluster_linkdown.sh %D%/cluster_netns.sh %D%/cluster_start.sh \
	%D%/cluster_hostile.sh %D%/cluster_handover.sh
TESTS += $(CLUSTER_TESTS)
EXTRA_DIST += $(CLUSTER_TESTS) %D%/cluster_lib.sh

# The restart tests need no NATS and never skip: restart_sd (restarts
# through the fd store keep every client, a crash before READY=1 too),
# restart_exec (SIGUSR2 in place; a binary that cannot take over is
# refused), restart_badstate (a tampered state: a clean start, no loop).
RESTART_TESTS = %D%/restart_sd.sh %D%/restart_exec.sh \
	%D%/restart_badstate.sh
TESTS += $(RESTART_TESTS)
EXTRA_DIST += $(RESTART_TESTS) %D%/restart_lib.sh
