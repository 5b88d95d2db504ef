/* SPDX-License-Identifier: ISC */
/*
 * outbox.h: a bounded byte queue.
 *
 * The outbox holds bytes waiting to be written to one client, in a ring
 * that wraps around. It never holds more than its limit, an append takes
 * all of its bytes or none (so a frame is never split between accepted and
 * rejected), and its memory is allocated as it fills and given back when it
 * empties, so an idle client costs nothing here. Waiting rooms (park.h)
 * reuse it as a queue of whole frames, which are self-delimiting because a
 * payload ends at its only 0x00.
 */
#ifndef PB_OUTBOX_H
#define PB_OUTBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct pb_budget;

struct pb_outbox {
	char *ob_buf;		     /* ring storage, NULL while empty */
	size_t ob_cap;		     /* allocated bytes */
	size_t ob_head;		     /* offset of the first queued byte */
	size_t ob_len;		     /* queued bytes */
	size_t ob_limit;	     /* most bytes ever queued */
	struct pb_budget *ob_budget; /* charged for ob_cap, may be NULL */
	atomic_size_t *ob_queued;    /* a total of bytes queued in many
					outboxes, kept up to date for a
					gauge; may be NULL (the default) */
};

void pb_outbox_init(struct pb_outbox *ob, size_t limit,
		    struct pb_budget *budget);
void pb_outbox_free(struct pb_outbox *ob);

static inline size_t pb_outbox_len(const struct pb_outbox *ob)
{
	return ob->ob_len;
}

static inline size_t pb_outbox_room(const struct pb_outbox *ob)
{
	return ob->ob_limit - ob->ob_len;
}

static inline bool pb_outbox_empty(const struct pb_outbox *ob)
{
	return ob->ob_len == 0;
}

/* Appends all n bytes, or nothing: 0, or -1 with errno ENOBUFS (no room)
 * or ENOMEM. */
int pb_outbox_append(struct pb_outbox *ob, const void *p, size_t n);

/* The same for the concatenation of iov[0 .. iovcnt). */
int pb_outbox_appendv(struct pb_outbox *ob, const struct iovec *iov,
		      int iovcnt);

/* Appends n bytes carried over by a restart (handover.h): a limit lowered
 * since they were queued is raised to hold them. 0, or -1 (ENOMEM). */
int pb_outbox_restore(struct pb_outbox *ob, const void *p, size_t n);

/* Describes the queued bytes, oldest first, in at most two pieces; returns
 * how many pieces (0 when empty). */
int pb_outbox_peek(const struct pb_outbox *ob, struct iovec iov[2]);

/* Removes n queued bytes from the front (n <= length). Memory is given
 * back when the outbox empties. */
void pb_outbox_consume(struct pb_outbox *ob, size_t n);

/*
 * Moves whole frames (runs of bytes ending in 0x00) from the front of
 * 'from' to the back of 'to', as many as fit in 'to', in order. Returns
 * the bytes moved (0 if not even the first frame fits), or -1 with errno
 * ENOMEM; *frames, if not NULL, gets how many frames moved.
 */
long pb_outbox_move_frames(struct pb_outbox *to, struct pb_outbox *from,
			   size_t *frames);

/* pb_outbox_consume for n bytes written to the destination: returns how
 * many frames they finished (the 0x00 bytes among them), which is what
 * both servers count as forwarded. */
size_t pb_outbox_written(struct pb_outbox *ob, size_t n);

/* Whether the outbox has drained far enough (to half its limit) that
 * senders waiting for room in it are worth waking. */
static inline bool pb_outbox_has_room_for_waiters(const struct pb_outbox *ob)
{
	return ob->ob_len <= ob->ob_limit / 2;
}

/* Counts the 0x00 bytes queued: the frames that would be lost if the
 * outbox were dropped now (a partly written frame counts as one). */
size_t pb_outbox_count_frames(const struct pb_outbox *ob);

#endif
