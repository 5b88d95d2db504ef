/* SPDX-License-Identifier: ISC */
/*
 * park.h: a sender's waiting room.
 *
 * When a destination's outbox is full, the frames a sender has for it wait
 * here, on the sender's side, in one lane per destination so that order to
 * each destination is kept while frames to every other destination go on.
 * All lanes together hold at most the waiting room's limit; the owner stops
 * reading its client's socket before that could be exceeded (see
 * pb_park_room), so a push of a frame that was read never has to fail for
 * want of room.
 *
 * One thing, two words: "park" in the code, the option and the metrics'
 * labels (pb_park_*, pk_*, --park, queue="park"), "waiting room" in prose
 * (comments, log lines, the README and the man pages).
 */
#ifndef PB_PARK_H
#define PB_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbox.h"

struct pb_budget;

struct pb_park_lane {
	uint32_t pl_dest;	    /* destination id of every frame here */
	struct pb_outbox pl_frames; /* whole frames, oldest first */
};

struct pb_park {
	struct pb_park_lane *pk_lanes; /* pk_nlanes lanes, in no order */
	size_t pk_nlanes;
	size_t pk_alloc;	     /* lanes allocated */
	size_t pk_bytes;	     /* frame bytes in all lanes */
	size_t pk_limit;	     /* most frame bytes in all lanes */
	struct pb_budget *pk_budget; /* may be NULL */
	atomic_size_t *pk_queued;    /* a total of pk_bytes over many
					waiting rooms, for a gauge; may be
					NULL (the default) */
};

void pb_park_init(struct pb_park *pk, size_t limit, struct pb_budget *budget);
void pb_park_free(struct pb_park *pk);

static inline size_t pb_park_bytes(const struct pb_park *pk)
{
	return pk->pk_bytes;
}

/* Bytes that may still be parked before the waiting room is full. */
static inline size_t pb_park_room(const struct pb_park *pk)
{
	return pk->pk_bytes < pk->pk_limit ? pk->pk_limit - pk->pk_bytes : 0;
}

/* The lane index for dest, or -1 if nothing waits for dest. */
long pb_park_find(const struct pb_park *pk, uint32_t dest);

/* Parks the concatenated whole frames iov[0 .. iovcnt) for dest, behind
 * anything already waiting for it. 0, or -1 with errno ENOBUFS (over the
 * limit) or ENOMEM; nothing is parked on failure. */
int pb_park_pushv(struct pb_park *pk, uint32_t dest, const struct iovec *iov,
		  int iovcnt);

/* Parks n bytes of whole frames for dest carried over by a restart
 * (handover.h): a limit lowered since they were parked is raised to hold
 * them. 0, or -1 (ENOMEM). */
int pb_park_restore(struct pb_park *pk, uint32_t dest, const void *p, size_t n);

/* Moves as many whole frames of lane i as fit into 'to', in order; a lane
 * left empty is removed (lane indexes above i may then change). Returns the
 * bytes moved, or -1 with errno ENOMEM; *frames, if not NULL, gets how
 * many frames moved. */
long pb_park_flush(struct pb_park *pk, size_t i, struct pb_outbox *to,
		   size_t *frames);

/* Drops lane i and everything in it; returns how many frames it held. */
size_t pb_park_drop(struct pb_park *pk, size_t i);

/* Drops every lane (the sender is gone and so is its last chance to
 * deliver); returns how many frames they held. */
size_t pb_park_drop_all(struct pb_park *pk);

/* What a sender must do about a destination after handing it frames. */
enum pb_park_wait {
	PB_PARK_GO,    /* nothing new waits for it */
	PB_PARK_WAIT,  /* frames wait: be woken when its outbox drains */
	PB_PARK_RETRY, /* frames wait, but its outbox is empty and so will
			  not drain (memory ran out): retry on our own */
};

/* The wait for dest, whose outbox is 'to', given what is parked now. */
enum pb_park_wait pb_park_wait_for(const struct pb_park *pk, uint32_t dest,
				   const struct pb_outbox *to);

struct pb_park_retry {
	enum pb_park_wait pr_wait;
	bool pr_started; /* 'to' went from empty to not empty */
	size_t pr_moved; /* frames moved into 'to' */
};

/* Retries lane i into its destination's outbox 'to': moves the whole
 * frames that fit (pb_park_flush) and says whether the sender must go on
 * waiting. Lane indexes above i may change. */
struct pb_park_retry pb_park_retry(struct pb_park *pk, size_t i,
				   struct pb_outbox *to);

#endif
