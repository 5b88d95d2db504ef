# SPDX-License-Identifier: ISC
# src/daemon/local.mk: the data path of patchbayd, a thread per client
# (libpbdaemon.a): accepting, serving a client, reading, delivering. The
# service around it (src/service) starts it and links it.
noinst_LIBRARIES += %D%/libpbdaemon.a
%C%_libpbdaemon_a_CPPFLAGS = $(DAEMON_CPPFLAGS)
%C%_libpbdaemon_a_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
%C%_libpbdaemon_a_SOURCES = \
	%D%/acceptor.c %D%/acceptor.h \
	%D%/client.c %D%/client.h \
	%D%/deliver.c %D%/deliver.h \
	%D%/handover.c %D%/handover.h \
	%D%/ids.c %D%/ids.h \
	%D%/registry.c %D%/registry.h \
	%D%/remote.h \
	%D%/session.c %D%/session.h \
	%D%/spare.c %D%/spare.h \
	%D%/wake.c %D%/wake.h
