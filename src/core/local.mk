# src/core/local.mk: the protocol core, libpbcore.a. Frames, outboxes,
# waiting rooms, routing, the id table and the memory budget, on plain
# buffers: no sockets, no threads, no clock. Both servers build on it, and
# it sees no header but its own.
noinst_LIBRARIES += %D%/libpbcore.a
%C%_libpbcore_a_CPPFLAGS = $(CORE_CPPFLAGS)
%C%_libpbcore_a_SOURCES = \
	%D%/budget.c %D%/budget.h \
	%D%/frame.c %D%/frame.h \
	%D%/outbox.c %D%/outbox.h \
	%D%/park.c %D%/park.h \
	%D%/route.c %D%/route.h \
	%D%/table.c %D%/table.h
