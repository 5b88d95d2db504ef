# SPDX-License-Identifier: ISC
# src/common/local.mk: what both servers share around the core,
# libpbcommon.a: the options and the configuration file, the counters and
# how events are accounted, logging, socket helpers and the clock, and
# TLS (tls.c with OpenSSL, tls_none.c without; only what calls pb_tls_*
# pulls it in, and links $(OPENSSL_LIBS)).
noinst_LIBRARIES += %D%/libpbcommon.a
%C%_libpbcommon_a_CPPFLAGS = $(COMMON_CPPFLAGS) $(OPENSSL_CFLAGS)
%C%_libpbcommon_a_SOURCES = \
	%D%/account.c %D%/account.h \
	%D%/clock.c %D%/clock.h \
	%D%/conf.c %D%/conf.h \
	%D%/listener.c %D%/listener.h \
	%D%/log.c %D%/log.h \
	%D%/net.c %D%/net.h \
	%D%/options.c %D%/options.h \
	%D%/stats.c %D%/stats.h \
	%D%/tls.h
if HAVE_OPENSSL
%C%_libpbcommon_a_SOURCES += %D%/tls.c
else
%C%_libpbcommon_a_SOURCES += %D%/tls_none.c
endif
