# SPDX-License-Identifier: ISC
# src/service/local.mk: running patchbayd as a service (libpbservice.a and
# main.c): signals and reload, systemd's protocols, metrics, detaching.
# Its pieces other than main.c go into libpbservice.a so that the tests can
# link them.
noinst_LIBRARIES += %D%/libpbservice.a
%C%_libpbservice_a_CPPFLAGS = $(SERVICE_CPPFLAGS) $(MHD_CFLAGS) $(NATS_CFLAGS)
%C%_libpbservice_a_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
%C%_libpbservice_a_SOURCES = \
	%D%/activate.c %D%/activate.h \
	%D%/bag.c %D%/bag.h \
	%D%/control.c %D%/control.h \
	%D%/detach.c %D%/detach.h \
	%D%/exposition.c %D%/exposition.h \
	%D%/federation.h \
	%D%/metrics.h \
	%D%/notify.c %D%/notify.h \
	%D%/process.c %D%/process.h \
	%D%/reload.c %D%/reload.h \
	%D%/restart.c %D%/restart.h
# The metrics' HTTP server needs libmicrohttpd; without it, no metrics.
if HAVE_METRICS
%C%_libpbservice_a_SOURCES += %D%/metrics.c
else
%C%_libpbservice_a_SOURCES += %D%/metrics_none.c
endif
# The cluster's links need libnats; without it, no cluster.
if HAVE_NATS
%C%_libpbservice_a_SOURCES += %D%/federation.c
else
%C%_libpbservice_a_SOURCES += %D%/federation_none.c
endif

# Built as src/patchbayd, where the quick start and the scripts run it.
sbin_PROGRAMS += src/patchbayd
src_patchbayd_SOURCES = %D%/main.c
src_patchbayd_CPPFLAGS = $(SERVICE_CPPFLAGS)
src_patchbayd_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
src_patchbayd_LDADD = %D%/libpbservice.a $(LINK_LIBS) \
	src/daemon/libpbdaemon.a $(COMMON_LIBS) $(MHD_LIBS) $(OPENSSL_LIBS) \
	$(PTHREAD_LIBS)
