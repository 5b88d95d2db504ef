# SPDX-License-Identifier: ISC
# src/daemon/local.mk: patchbayd, the thread-per-client daemon. Its pieces
# other than main.c go into libpbdaemon.a so that the tests can link them.
noinst_LIBRARIES += %D%/libpbdaemon.a
%C%_libpbdaemon_a_CPPFLAGS = $(DAEMON_CPPFLAGS) $(MHD_CFLAGS)
%C%_libpbdaemon_a_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
%C%_libpbdaemon_a_SOURCES = \
	%D%/acceptor.c %D%/acceptor.h \
	%D%/activate.c %D%/activate.h \
	%D%/client.c %D%/client.h \
	%D%/control.c %D%/control.h \
	%D%/deliver.c %D%/deliver.h \
	%D%/detach.c %D%/detach.h \
	%D%/exposition.c %D%/exposition.h \
	%D%/input.c %D%/input.h \
	%D%/metrics.h \
	%D%/notify.c %D%/notify.h \
	%D%/process.c %D%/process.h \
	%D%/registry.c %D%/registry.h \
	%D%/reload.c %D%/reload.h \
	%D%/session.c %D%/session.h \
	%D%/spare.c %D%/spare.h \
	%D%/wake.c %D%/wake.h
# The metrics' HTTP server needs libmicrohttpd; without it, no metrics.
if HAVE_METRICS
%C%_libpbdaemon_a_SOURCES += %D%/metrics.c
else
%C%_libpbdaemon_a_SOURCES += %D%/metrics_none.c
endif

# Built as src/patchbayd, where the quick start and the scripts run it.
sbin_PROGRAMS += src/patchbayd
src_patchbayd_SOURCES = %D%/main.c
src_patchbayd_CPPFLAGS = $(DAEMON_CPPFLAGS)
src_patchbayd_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
src_patchbayd_LDADD = %D%/libpbdaemon.a $(COMMON_LIBS) $(MHD_LIBS) \
	$(PTHREAD_LIBS)
