/* SPDX-License-Identifier: ISC */
/*
 * rbuf.h: a client's read buffer, and how much may be read into it.
 *
 * The buffer starts small (an idle or slow client holds little), doubles
 * while reads come back full, up to a whole frame or PB_RBUF_SIZE, and is
 * given back once the client is idle; it is charged to the memory budget.
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
#define PB_RBUF_IDLE_MS                                                        \
	1000 /* an empty buffer unused this long                               \
		goes back */

struct pb_rbuf {
	char *rb_data; /* NULL until the first read */
	size_t rb_len; /* bytes held: the start of a frame */
	size_t rb_cap;
	size_t rb_max;		     /* the most it grows to */
	struct pb_budget *rb_budget; /* charged for rb_cap, may be NULL */
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

/* How many bytes the next read may take (0: do not read now): all the
 * complete frames in the buffer must fit in the waiting room pk. The read
 * must also fit in rb_cap - rb_len once reserved. */
size_t pb_rbuf_allowance(const struct pb_rbuf *rb, const struct pb_park *pk);

/* Whether the buffer should go back: allocated, empty, and not read into
 * since read_ms for PB_RBUF_IDLE_MS. */
bool pb_rbuf_idle(const struct pb_rbuf *rb, uint64_t read_ms, uint64_t now_ms);

#endif
