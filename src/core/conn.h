/* SPDX-License-Identifier: ISC */
/*
 * conn.h: one client as the delivery engine sees it, and its life.
 *
 * Both servers embed a struct pb_conn in their own record of a client
 * (the daemon's struct pb_client, the reactor's struct rc_conn) and hand
 * the engine (engine.h) pointers to it. It holds what the engine decides
 * on: the outbox that senders write into, the senders waiting for room in
 * it, the client's own waiting room, read buffer and parser, and where the
 * client is in its life.
 *
 * A client's life is one state, changed only by pb_conn_set_state, which
 * knows the transitions:
 *
 *   NEW -> OPEN -> CUT -> LINGERING -> DONE, and each may skip ahead:
 *   NEW -> DONE (refused), OPEN -> LINGERING or DONE, CUT -> DONE.
 *
 *   NEW        accepted; its id is not sent yet, nobody can find it
 *   OPEN       has its id: it is read, and senders write to it
 *   CUT        open, but a frame for it found no memory: its stream would
 *              have a gap, so it must go (PB_LEAVE_NOMEM_OUT); set by a
 *              sender under the client's lock
 *   LINGERING  left (its socket is closed) with frames in its waiting
 *              room, which it stays to deliver, holding one of the
 *              --max-clients places for departed clients
 *   DONE       left, with nothing more to do: its owner lets it go
 *
 * The state is atomic: written under the client's lock (by a sender for
 * CUT, by the owner for leaving), read by the owner without it.
 */
#ifndef PB_CONN_H
#define PB_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "leave.h"
#include "outbox.h"
#include "park.h"
#include "rbuf.h"
#include "waiters.h"

/* Room for a peer's address as the log gives it: "[ipv6]:port". */
#define PB_CONN_ADDRLEN 64

enum pb_conn_state {
	PB_CONN_NEW,
	PB_CONN_OPEN,
	PB_CONN_CUT,
	PB_CONN_LINGERING,
	PB_CONN_DONE,
	PB_CONN_STATES /* how many */
};

struct pb_route;

struct pb_conn {
	/* Set before the client is published, read-only afterwards. */
	uint32_t cn_id;
	char cn_addr[PB_CONN_ADDRLEN];
	/* A stand-in for a client of another node (src/link): what is
	 * written to it goes on to that node, which counts it forwarded
	 * when its client has it, so it is not forwarded here. */
	bool cn_relay;

	_Atomic int cn_state; /* enum pb_conn_state; see above */
	enum pb_leave cn_why; /* once left: why (under the lock) */

	/* Under the client's lock: what senders write into. */
	struct pb_outbox cn_outbox;
	struct pb_waiters cn_waiters; /* senders parked on cn_outbox */

	/* Written under the lock, read without it by the owner, so that its
	 * loop takes no lock while nothing is queued: whether the outbox
	 * holds data, and when it last made progress (a write, or data where
	 * there was none). A stale "empty" is harmless: whoever fills the
	 * outbox wakes the owner. */
	atomic_bool cn_pending;
	_Atomic uint64_t cn_progress_ms;
	atomic_size_t cn_waiting; /* frames for it in senders' waiting
				     rooms, for the slow consumer's line */

	/* The owner's alone. */
	struct pb_park cn_park; /* frames waiting for full outboxes */
	struct pb_rbuf cn_rbuf; /* bytes read: the start of a frame */
	struct pb_frame_parser cn_parser;
	struct pb_route *cn_route; /* routing scratch space, or NULL */
	uint64_t cn_read_ms;	   /* last read: idle buffers go back */
	uint64_t cn_moved_ms;	   /* lingering: when its waiting room
				      last moved frames on */
};

/* The limits and shared totals a client is made with. */
struct pb_conn_env {
	size_t ce_max_frame;
	size_t ce_outbox;		   /* its outbox's limit */
	size_t ce_park;			   /* its waiting room's limit */
	struct pb_budget *ce_budget;	   /* outboxes */
	struct pb_budget *ce_park_budget;  /* its waiting room */
	struct pb_budget *ce_input_budget; /* its read buffer */
	atomic_size_t *ce_outbox_bytes;	   /* gauges: bytes queued in all, */
	atomic_size_t *ce_park_bytes;	   /* or NULL */
};

/* A NEW client with this id and address. */
void pb_conn_init(struct pb_conn *c, const struct pb_conn_env *env, uint32_t id,
		  const char *addr);

/* Frees its queues (not cn_route, which is the engine's). */
void pb_conn_free(struct pb_conn *c);

static inline enum pb_conn_state pb_conn_state(const struct pb_conn *c)
{
	return (enum pb_conn_state)atomic_load_explicit(&c->cn_state,
							memory_order_acquire);
}

/* Moves c to 'to', which must be a transition of the diagram above. */
void pb_conn_set_state(struct pb_conn *c, enum pb_conn_state to);

/* OPEN to CUT if c is OPEN (under its lock); true if it was. */
bool pb_conn_cut(struct pb_conn *c);

/* Whether senders may still queue for c: OPEN or CUT. */
static inline bool pb_conn_open(const struct pb_conn *c)
{
	enum pb_conn_state s = pb_conn_state(c);

	return s == PB_CONN_OPEN || s == PB_CONN_CUT;
}

/* Whether c has left: LINGERING or DONE. */
static inline bool pb_conn_left(const struct pb_conn *c)
{
	return pb_conn_state(c) >= PB_CONN_LINGERING;
}

/* The state's name, for logs and tests. */
const char *pb_conn_state_name(enum pb_conn_state s);

/* Under c's lock, after its outbox changed: republishes cn_pending, and
 * stamps progress at now_ms when 'progress' (a write, or data where there
 * was none). */
void pb_conn_outbox_changed(struct pb_conn *c, bool progress, uint64_t now_ms);

/* Keeps c's count of frames waiting for it in senders' waiting rooms;
 * c may be NULL. */
void pb_conn_waiting(struct pb_conn *c, size_t n, bool add);

#endif
