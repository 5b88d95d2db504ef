/* SPDX-License-Identifier: ISC */
/*
 * rbuf.h: a client's read buffer, and how much may be read into it.
 *
 * The buffer starts small (an idle or slow client holds little), doubles
 * while reads come back full, up to a whole frame or PB_RBUF_SIZE, and is
 * given back once the client is idle; it is charged to the memory budget
 * (the daemon gives it the share of read buffers).
 * A read never takes more than the client's waiting room could hold should
 * every destination be full, so every complete frame read can be placed
 * somewhere and back-pressure never loses a frame. Both servers read this
 * way; the clock and the socket are theirs.
 */
#ifndef PB_RBUF_H
#define PB_RBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pb_budget;
struct pb_park;

#define PB_RBUF_MIN  4096	 /* the buffer starts at this */
#define PB_RBUF_SIZE (64 * 1024) /* and grows to this at least */
/* An empty buffer unused this long goes back. */
#define PB_RBUF_IDLE_MS 1000

struct pb_rbuf {
	char *rb_data; /* NULL until the first read */
	size_t rb_len; /* bytes held: the start of a frame */
	size_t rb_cap;
	size_t rb_max;		     /* the most it grows to */
	struct pb_budget *rb_budget; /* charged for rb_cap, may be NULL */
	uint64_t rb_frame_ms;	     /* when the unfinished frame in the buffer
					began to be read (or reading resumed), or
					0 when there is none */
};

void pb_rbuf_init(struct pb_rbuf *rb, size_t max_frame,
		  struct pb_budget *budget);

/* Gives the memory back; the buffer is empty and usable again. */
void pb_rbuf_free(struct pb_rbuf *rb);

/* Makes room to read into: allocates the first PB_RBUF_MIN bytes, and
 * doubles the buffer (up to rb_max) when it is full or 'grow' says the
 * last read filled what it asked for. 0, or -1 with no memory (the buffer
 * is left as it was). */
int pb_rbuf_reserve(struct pb_rbuf *rb, bool grow);

/* Puts back n bytes of an unfinished frame carried over by a restart
 * (handover.h), into an empty buffer. 0, or -1 (no memory, or more than
 * the buffer may hold: a --max-frame lowered since). */
int pb_rbuf_restore(struct pb_rbuf *rb, const void *p, size_t n);

/* How many bytes the next read may take (0: do not read now): all the
 * complete frames in the buffer must fit in the waiting room pk. The read
 * must also fit in rb_cap - rb_len once reserved. */
size_t pb_rbuf_allowance(const struct pb_rbuf *rb, const struct pb_park *pk);

/* Whether the client may be read now, as far as memory goes: not while the
 * whole budget is spent; not while the share of waiting rooms (pk's
 * budget) is spent and frames wait in pk; not while the share of read
 * buffers (rb's budget) is spent and this buffer is full and would have to
 * grow. A client that takes no part in spending a share is read whatever
 * that share holds; allocating the first PB_RBUF_MIN bytes is never held
 * back by the share of read buffers. */
bool pb_rbuf_may_read(const struct pb_rbuf *rb, const struct pb_park *pk);

/*
 * The deadline of an unfinished frame (--frame-timeout): a frame must be
 * complete within limit_ms of reading its first byte, not counting the
 * time the server did not read the client (its own back-pressure).
 * pb_rbuf_note_read after each read and routing (frames: how many were
 * complete), pb_rbuf_pause while the client is not read; pb_rbuf_late
 * says the client has had its time; pb_rbuf_deadline is when that will
 * be (0: no unfinished frame).
 */
void pb_rbuf_note_read(struct pb_rbuf *rb, size_t frames, uint64_t now_ms);
void pb_rbuf_pause(struct pb_rbuf *rb, uint64_t now_ms);
bool pb_rbuf_late(const struct pb_rbuf *rb, uint64_t limit_ms, uint64_t now_ms);
uint64_t pb_rbuf_deadline(const struct pb_rbuf *rb, uint64_t limit_ms);

/* Whether the buffer should go back: allocated, empty, and not read into
 * since read_ms for PB_RBUF_IDLE_MS. */
bool pb_rbuf_idle(const struct pb_rbuf *rb, uint64_t read_ms, uint64_t now_ms);

#endif
