/* SPDX-License-Identifier: ISC */
/*
 * park.c: a sender's waiting room, one lane per blocked destination (see
 * park.h). Lanes are few (a sender is rarely blocked on many destinations at
 * once), so they live in a small array searched linearly.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "park.h"

void pb_park_init(struct pb_park *pk, size_t limit, struct pb_budget *budget)
{
	memset(pk, 0, sizeof(*pk));
	pk->pk_limit = limit;
	pk->pk_budget = budget;
}

void pb_park_free(struct pb_park *pk)
{
	while (pk->pk_nlanes > 0)
		pb_park_drop(pk, pk->pk_nlanes - 1);
	free(pk->pk_lanes);
	pk->pk_lanes = NULL;
	pk->pk_alloc = 0;
}

/* Keeps pk_bytes and the shared total in step. */
static void park_count(struct pb_park *pk, size_t n, bool add)
{
	pk->pk_bytes = add ? pk->pk_bytes + n : pk->pk_bytes - n;
	if (pk->pk_queued == NULL || n == 0)
		return;
	if (add)
		atomic_fetch_add_explicit(pk->pk_queued, n,
					  memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(pk->pk_queued, n,
					  memory_order_relaxed);
}

long pb_park_find(const struct pb_park *pk, uint32_t dest)
{
	size_t i;

	for (i = 0; i < pk->pk_nlanes; i++)
		if (pk->pk_lanes[i].pl_dest == dest)
			return (long)i;
	return -1;
}

static struct pb_park_lane *park_new_lane(struct pb_park *pk, uint32_t dest)
{
	struct pb_park_lane *lane;

	if (pk->pk_nlanes == pk->pk_alloc) {
		size_t n = pk->pk_alloc ? pk->pk_alloc * 2 : 4;

		lane = reallocarray(pk->pk_lanes, n, sizeof(*lane));
		if (lane == NULL)
			return NULL;
		pk->pk_lanes = lane;
		pk->pk_alloc = n;
	}
	lane = &pk->pk_lanes[pk->pk_nlanes++];
	lane->pl_dest = dest;
	pb_outbox_init(&lane->pl_frames, pk->pk_limit, pk->pk_budget);
	return lane;
}

/* Removes lane i, which must be empty, by moving the last lane into it. */
static void park_remove_lane(struct pb_park *pk, size_t i)
{
	pb_outbox_free(&pk->pk_lanes[i].pl_frames);
	pk->pk_lanes[i] = pk->pk_lanes[--pk->pk_nlanes];
}

int pb_park_pushv(struct pb_park *pk, uint32_t dest, const struct iovec *iov,
		  int iovcnt)
{
	struct pb_park_lane *lane;
	size_t total = 0;
	long i;
	int k;

	for (k = 0; k < iovcnt; k++)
		total += iov[k].iov_len;
	if (total > pb_park_room(pk)) {
		errno = ENOBUFS;
		return -1;
	}
	if (total == 0)
		return 0;
	i = pb_park_find(pk, dest);
	lane = i >= 0 ? &pk->pk_lanes[i] : park_new_lane(pk, dest);
	if (lane == NULL)
		return -1;
	if (pb_outbox_appendv(&lane->pl_frames, iov, iovcnt) < 0) {
		if (pb_outbox_empty(&lane->pl_frames))
			park_remove_lane(pk, (size_t)(lane - pk->pk_lanes));
		return -1;
	}
	park_count(pk, total, true);
	return 0;
}

long pb_park_flush(struct pb_park *pk, size_t i, struct pb_outbox *to,
		   size_t *frames)
{
	struct pb_park_lane *lane = &pk->pk_lanes[i];
	long moved;

	moved = pb_outbox_move_frames(to, &lane->pl_frames, frames);
	if (moved < 0)
		return -1;
	park_count(pk, (size_t)moved, false);
	if (pb_outbox_empty(&lane->pl_frames))
		park_remove_lane(pk, i);
	return moved;
}

size_t pb_park_drop(struct pb_park *pk, size_t i)
{
	struct pb_outbox *frames = &pk->pk_lanes[i].pl_frames;
	size_t n = pb_outbox_count_frames(frames);

	park_count(pk, pb_outbox_len(frames), false);
	park_remove_lane(pk, i);
	return n;
}

size_t pb_park_drop_all(struct pb_park *pk)
{
	size_t frames = 0;

	while (pk->pk_nlanes > 0)
		frames += pb_park_drop(pk, pk->pk_nlanes - 1);
	return frames;
}

enum pb_park_wait pb_park_wait_for(const struct pb_park *pk, uint32_t dest,
				   const struct pb_outbox *to)
{
	if (pb_park_find(pk, dest) < 0)
		return PB_PARK_GO;
	return pb_outbox_empty(to) ? PB_PARK_RETRY : PB_PARK_WAIT;
}

struct pb_park_retry pb_park_retry(struct pb_park *pk, size_t i,
				   struct pb_outbox *to)
{
	struct pb_park_retry r = {.pr_wait = PB_PARK_GO, .pr_moved = 0};
	uint32_t dest = pk->pk_lanes[i].pl_dest;
	bool was_empty = pb_outbox_empty(to);

	/* On failure (no memory) the lane stays, to be retried. */
	(void)pb_park_flush(pk, i, to, &r.pr_moved);
	r.pr_started = was_empty && !pb_outbox_empty(to);
	r.pr_wait = pb_park_wait_for(pk, dest, to);
	return r;
}

int pb_park_restore(struct pb_park *pk, uint32_t dest, const void *p, size_t n)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)p, .iov_len = n};

	if (n > pb_park_room(pk))
		pk->pk_limit = pk->pk_bytes + n;
	return pb_park_pushv(pk, dest, &iov, 1);
}
