# SPDX-License-Identifier: ISC
# src/core/local.mk: the protocol core, libpbcore.a. Frames, read buffers,
# outboxes, waiting rooms and their waiters, routing, the id table, the
# memory budget, and the policy both servers share (why a client leaves,
# what is counted), on plain buffers: no sockets, no threads, no clock.
# Both servers build on it, and it sees no header but its own.
noinst_LIBRARIES += %D%/libpbcore.a
%C%_libpbcore_a_CPPFLAGS = $(CORE_CPPFLAGS)
%C%_libpbcore_a_SOURCES = \
	%D%/addrs.c %D%/addrs.h \
	%D%/blob.c %D%/blob.h \
	%D%/budget.c %D%/budget.h \
	%D%/conn.c %D%/conn.h \
	%D%/engine.c %D%/engine.h \
	%D%/envelope.c %D%/envelope.h \
	%D%/frame.c %D%/frame.h \
	%D%/leave.c %D%/leave.h \
	%D%/outbox.c %D%/outbox.h \
	%D%/park.c %D%/park.h \
	%D%/rbuf.c %D%/rbuf.h \
	%D%/route.c %D%/route.h \
	%D%/stat.c %D%/stat.h \
	%D%/table.c %D%/table.h \
	%D%/waiters.c %D%/waiters.h
