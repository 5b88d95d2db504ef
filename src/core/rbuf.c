/* SPDX-License-Identifier: ISC */
/*
 * rbuf.c: a client's read buffer (see rbuf.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "frame.h"
#include "park.h"
#include "rbuf.h"

void pb_rbuf_init(struct pb_rbuf *rb, size_t max_frame,
		  struct pb_budget *budget)
{
	size_t whole = max_frame + PB_FRAME_HEADER;

	rb->rb_data = NULL;
	rb->rb_len = rb->rb_cap = 0;
	rb->rb_max = whole < PB_RBUF_SIZE ? PB_RBUF_SIZE : whole;
	rb->rb_budget = budget;
	rb->rb_frame_ms = 0;
}

void pb_rbuf_free(struct pb_rbuf *rb)
{
	free(rb->rb_data);
	pb_budget_release(rb->rb_budget, rb->rb_cap);
	rb->rb_data = NULL;
	rb->rb_len = rb->rb_cap = 0;
	rb->rb_frame_ms = 0;
}

int pb_rbuf_reserve(struct pb_rbuf *rb, bool grow)
{
	size_t cap = rb->rb_cap ? rb->rb_cap : PB_RBUF_MIN;
	char *buf;

	/* Growing a buffer that is not full is only worth it while the
	 * share of read buffers is not spent. */
	if (rb->rb_data != NULL && rb->rb_len < rb->rb_cap &&
	    (!grow || pb_budget_over(rb->rb_budget)))
		return 0;
	if (rb->rb_data != NULL)
		cap *= 2; /* full, or the last read filled what it asked */
	if (cap > rb->rb_max)
		cap = rb->rb_max;
	if (cap == rb->rb_cap)
		return 0;
	buf = realloc(rb->rb_data, cap);
	if (buf == NULL)
		return -1;
	pb_budget_release(rb->rb_budget, rb->rb_cap);
	pb_budget_charge(rb->rb_budget, cap);
	rb->rb_data = buf;
	rb->rb_cap = cap;
	return 0;
}

size_t pb_rbuf_allowance(const struct pb_rbuf *rb, const struct pb_park *pk)
{
	size_t park = pb_park_room(pk) + PB_FRAME_HEADER;
	size_t limit = rb->rb_max < park ? rb->rb_max : park;

	return limit > rb->rb_len ? limit - rb->rb_len : 0;
}

bool pb_rbuf_may_read(const struct pb_rbuf *rb, const struct pb_park *pk)
{
	if (pb_budget_over(pb_budget_root(rb->rb_budget)))
		return false;
	if (pb_park_bytes(pk) > 0 && pb_budget_over(pk->pk_budget))
		return false;
	return rb->rb_data == NULL || rb->rb_len < rb->rb_cap ||
	       rb->rb_cap == rb->rb_max || !pb_budget_over(rb->rb_budget);
}

void pb_rbuf_note_read(struct pb_rbuf *rb, size_t frames, uint64_t now_ms)
{
	if (rb->rb_len == 0)
		rb->rb_frame_ms = 0;
	else if (frames > 0 || rb->rb_frame_ms == 0)
		rb->rb_frame_ms = now_ms; /* a new frame began */
}

void pb_rbuf_pause(struct pb_rbuf *rb, uint64_t now_ms)
{
	if (rb->rb_frame_ms != 0)
		rb->rb_frame_ms = now_ms;
}

bool pb_rbuf_late(const struct pb_rbuf *rb, uint64_t limit_ms, uint64_t now_ms)
{
	return rb->rb_frame_ms != 0 && now_ms - rb->rb_frame_ms >= limit_ms;
}

uint64_t pb_rbuf_deadline(const struct pb_rbuf *rb, uint64_t limit_ms)
{
	return rb->rb_frame_ms != 0 ? rb->rb_frame_ms + limit_ms : 0;
}

bool pb_rbuf_idle(const struct pb_rbuf *rb, uint64_t read_ms, uint64_t now_ms)
{
	return rb->rb_data != NULL && rb->rb_len == 0 &&
	       now_ms - read_ms >= PB_RBUF_IDLE_MS;
}

int pb_rbuf_restore(struct pb_rbuf *rb, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	while (rb->rb_cap < n) {
		size_t was = rb->rb_cap;

		if (pb_rbuf_reserve(rb, true) < 0 || rb->rb_cap == was)
			return -1;
	}
	if (rb->rb_len != 0)
		return -1;
	memcpy(rb->rb_data, p, n);
	rb->rb_len = n;
	return 0;
}
