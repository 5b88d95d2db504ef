/*
 * client.h: one connected client and the thread that serves it.
 *
 * Each client has its own thread, which reads the client's socket, parses
 * frames, delivers them (deliver.h) and drains the client's own outbox.
 * Other threads touch a client only through its lock: they append to its
 * outbox, or write to its socket directly when the outbox is empty, and
 * register themselves as waiters when the outbox is full. A reference count
 * keeps the structure alive while anyone holds a pointer to it.
 */
#ifndef PB_CLIENT_H
#define PB_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "net.h"
#include "outbox.h"
#include "park.h"
#include "wake.h"

#define PB_DEST_CACHE 8 /* recent destinations kept per sender */

struct pb_registry;
struct pb_route;

struct pb_client {
	/* Set before the client is published, read-only afterwards (but
	 * cl_fd, which its thread closes and clears once cl_closed is set). */
	uint32_t cl_id;
	int cl_fd;
	char cl_addr[PB_NET_ADDRLEN];
	struct pb_wake cl_wake;
	struct pb_registry *cl_reg;
	atomic_int cl_refs;

	/* Guarded by cl_lock; cl_fd is written to only under it. */
	pthread_mutex_t cl_lock;
	struct pb_outbox cl_outbox;
	struct pb_client **cl_waiters; /* senders parked on our outbox */
	size_t cl_nwaiters;
	size_t cl_waiters_alloc;
	bool cl_closed; /* left: nothing may be queued any more */

	/* Written under cl_lock, read without it by the client's own thread,
	 * so that its loop takes no lock while nothing is queued: whether the
	 * outbox holds data, and its last write progress. A stale "empty" is
	 * harmless: whoever fills the outbox wakes the thread. */
	atomic_bool cl_pending;
	_Atomic uint64_t cl_progress_ms;

	/* Owned by the client's thread alone. */
	bool cl_left;		/* socket closed, lingering to flush */
	struct pb_park cl_park; /* frames waiting for full outboxes */
	char *cl_rbuf;		/* bytes read, not yet delivered */
	size_t cl_rlen;
	size_t cl_rcap;
	struct pb_frame_parser cl_parser;
	struct pb_client *cl_dests[PB_DEST_CACHE]; /* recent, referenced */
	struct pb_route *cl_route; /* scratch space for routing */
	uint64_t cl_read_ms;	   /* last read: idle buffers go back */
};

/* Why a client goes away. */
enum pb_leave {
	PB_LEAVE_CLOSED,
	PB_LEAVE_RESET,
	PB_LEAVE_PROTOCOL,
	PB_LEAVE_SLOW,
	PB_LEAVE_SHUTDOWN,
};

/* A new client for an accepted socket, with one reference (the thread's). */
struct pb_client *pb_client_new(struct pb_registry *reg, int fd,
				const char *addr);
void pb_client_ref(struct pb_client *c);
void pb_client_unref(struct pb_client *c);

/* Starts the client's thread, which owns the first reference. */
int pb_client_start(struct pb_client *c, size_t stack);

/* Under c's lock, after its outbox changed: republishes cl_pending, and
 * stamps write progress (a write, or data where there was none). */
void pb_client_outbox_changed(struct pb_client *c, bool progress);

/* Milliseconds on the monotonic clock. */
uint64_t pb_client_now_ms(void);

#endif
