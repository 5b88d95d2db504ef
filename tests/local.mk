# SPDX-License-Identifier: ISC
# tests/local.mk: the cluster tests (included from Makefile.am inside
# `if HAVE_CHECK`). tests/cluster_load is their load generator and
# checker, built with the tests but not one of them; tests/cluster_lib.sh
# is sourced by every tests/cluster_*.sh (NATS servers, daemons, counters).
# Each scenario skips (77) when no nats-server is installed; a few need
# root (network namespaces) and skip otherwise.
check_PROGRAMS += %D%/cluster_load
%C%_cluster_load_SOURCES = %D%/cluster_load.c
%C%_cluster_load_CFLAGS = $(AM_CFLAGS)

CLUSTER_TESTS = %D%/cluster_harness.sh %D%/cluster_basic.sh \
	%D%/cluster_faults.sh %D%/cluster_slow.sh %D%/cluster_restart.sh \
	%D%/cluster_linkdown.sh %D%/cluster_netns.sh
TESTS += $(CLUSTER_TESTS)
EXTRA_DIST += $(CLUSTER_TESTS) %D%/cluster_lib.sh
