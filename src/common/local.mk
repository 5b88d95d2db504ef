# src/common/local.mk: what both servers share around the core,
# libpbcommon.a: logging, socket helpers, the command line and the
# counters.
noinst_LIBRARIES += %D%/libpbcommon.a
%C%_libpbcommon_a_CPPFLAGS = $(COMMON_CPPFLAGS)
%C%_libpbcommon_a_SOURCES = \
	%D%/account.c %D%/account.h \
	%D%/clock.c %D%/clock.h \
	%D%/log.c %D%/log.h \
	%D%/net.c %D%/net.h \
	%D%/options.c %D%/options.h \
	%D%/stats.c %D%/stats.h
