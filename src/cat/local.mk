# SPDX-License-Identifier: ISC
# src/cat/local.mk: patchbay-cat, the command-line client (installed in
# bindir, with patchbay-cat(1)). What it is made of, but for main.c, is
# libpbcat.a, which its tests link. It links the common layer and the core
# (socket helpers, sizes, the clock, the frame header), never a server's;
# its tls: transport uses OpenSSL directly.
noinst_LIBRARIES += %D%/libpbcat.a
%C%_libpbcat_a_CPPFLAGS = $(CAT_CPPFLAGS) $(OPENSSL_CFLAGS)
%C%_libpbcat_a_SOURCES = \
	%D%/addr.c %D%/addr.h \
	%D%/buf.c %D%/buf.h \
	%D%/cat.h \
	%D%/hex.c %D%/hex.h \
	%D%/input.c %D%/input.h \
	%D%/loop.c \
	%D%/out.c %D%/out.h \
	%D%/recv.c %D%/recv.h \
	%D%/transport.c %D%/transport.h

bin_PROGRAMS += src/patchbay-cat
src_patchbay_cat_SOURCES = %D%/main.c
src_patchbay_cat_CPPFLAGS = $(CAT_CPPFLAGS)
src_patchbay_cat_LDADD = %D%/libpbcat.a $(COMMON_LIBS) $(OPENSSL_LIBS)
