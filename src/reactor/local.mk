# SPDX-License-Identifier: ISC
# src/reactor/local.mk: patchbay-reactor, the single-threaded epoll server
# on the same core, for benchmarks only (built, not installed). It links
# the core and the common pieces, never the daemon's.
noinst_PROGRAMS += src/patchbay-reactor
src_patchbay_reactor_SOURCES = %D%/main.c %D%/ops.c %D%/reactor.c \
	%D%/reactor.h
src_patchbay_reactor_CPPFLAGS = $(REACTOR_CPPFLAGS)
src_patchbay_reactor_LDADD = $(COMMON_LIBS)
