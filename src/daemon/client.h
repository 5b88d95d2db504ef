/* SPDX-License-Identifier: ISC */
/*
 * client.h: one connected client, as every thread sees it.
 *
 * Each client has its own thread (session.h), which reads the client's
 * socket, parses frames, delivers them (deliver.h) and drains the client's
 * own outbox. Other threads touch a client only through its lock: they
 * append to its outbox, or write to its socket directly when the outbox is
 * empty, and register themselves as waiters when the outbox is full. A
 * reference count keeps the structure alive while anyone holds a pointer
 * to it. Nothing here knows the registry or the thread's loop.
 */
#ifndef PB_CLIENT_H
#define PB_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "leave.h"
#include "net.h"
#include "outbox.h"
#include "park.h"
#include "rbuf.h"
#include "waiters.h"
#include "wake.h"

#define PB_DEST_CACHE 8 /* recent destinations kept per sender */

struct pb_budget;
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
	struct pb_client
		*cl_next_spare; /* handed to a spare thread (spare.h) */

	/* Guarded by cl_lock; cl_fd is written to only under it. */
	pthread_mutex_t cl_lock;
	struct pb_outbox cl_outbox;
	struct pb_waiters cl_waiters; /* senders parked on our outbox,
					 referenced */
	bool cl_closed;		      /* left: nothing may be queued any more */
	enum pb_leave cl_why;	      /* once closed: why it left */

	/* Written under cl_lock, read without it by the client's own thread,
	 * so that its loop takes no lock while nothing is queued: whether the
	 * outbox holds data, and its last write progress. A stale "empty" is
	 * harmless: whoever fills the outbox wakes the thread. */
	atomic_bool cl_pending;
	_Atomic uint64_t cl_progress_ms;
	atomic_bool cl_cut; /* a sender found no memory to queue for it: its
			       stream has a gap, so it must go */
	atomic_size_t cl_waiting; /* frames for it in senders' waiting
				     rooms, for the slow consumer's line */

	/* Owned by the client's thread alone. */
	bool cl_left;		/* socket closed, lingering to flush */
	bool cl_lingering;	/* holds a place (pb_registry_linger) */
	uint64_t cl_moved_ms;	/* lingering: when its waiting room last
				   moved frames on */
	struct pb_park cl_park; /* frames waiting for full outboxes */
	struct pb_rbuf cl_rbuf; /* bytes read: the start of a frame */
	struct pb_frame_parser cl_parser;
	struct pb_client *cl_dests[PB_DEST_CACHE]; /* recent, referenced */
	struct pb_route *cl_route; /* scratch space for routing */
	uint64_t cl_read_ms;	   /* last read: idle buffers go back */
};

/* What a client is made with: the limits when it connects, and what it
 * shares with every other client. */
struct pb_client_env {
	size_t ce_max_frame;
	size_t ce_outbox;		   /* its outbox's limit */
	size_t ce_park;			   /* its waiting room's limit */
	struct pb_budget *ce_budget;	   /* outboxes */
	struct pb_budget *ce_park_budget;  /* its waiting room */
	struct pb_budget *ce_input_budget; /* its read buffer */
	atomic_size_t *ce_outbox_bytes;	   /* gauges: bytes queued in all */
	atomic_size_t *ce_park_bytes;
};

/* A new client for an accepted socket, with one reference (the thread's).
 * reg is only kept, for the client's thread. */
struct pb_client *pb_client_new(struct pb_registry *reg,
				const struct pb_client_env *env, int fd,
				const char *addr);
void pb_client_ref(struct pb_client *c);
void pb_client_unref(struct pb_client *c);

/* Under c's lock, after its outbox changed: republishes cl_pending, and
 * stamps write progress (a write, or data where there was none). */
void pb_client_outbox_changed(struct pb_client *c, bool progress);

/* Registers s as waiting for room in d's outbox; d's lock is held. When
 * that takes memory there is none of, s is woken to retry on its own. */
void pb_client_wait_on(struct pb_client *d, struct pb_client *s);

/* Takes d's waiters into *w (under its lock) and wakes them (outside it):
 * when its outbox drained or it left. */
void pb_client_take_waiters(struct pb_client *d, struct pb_waiters *w);
void pb_client_wake_waiters(struct pb_waiters *w);

#endif
