# SPDX-License-Identifier: ISC
# src/link/local.mk: the links to the other nodes of a cluster, over NATS
# (libpblink.a): the connection, the envelope's sending and receiving, a
# link per node. Built only with libnats (configure --with-nats); the
# service starts it for --nats.
if HAVE_NATS
noinst_LIBRARIES += %D%/libpblink.a
%C%_libpblink_a_CPPFLAGS = $(LINK_CPPFLAGS) $(NATS_CFLAGS)
%C%_libpblink_a_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
%C%_libpblink_a_SOURCES = \
	%D%/cluster.c %D%/cluster.h \
	%D%/idmap.c %D%/idmap.h \
	%D%/link.c %D%/link.h \
	%D%/nats.c %D%/nats.h
endif
