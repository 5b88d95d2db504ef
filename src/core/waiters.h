/* SPDX-License-Identifier: ISC */
/*
 * waiters.h: the senders waiting for room in one destination's outbox.
 *
 * A sender whose frames for a destination had to wait in its waiting room
 * registers here, once, and is woken when the outbox has drained to half
 * (pb_outbox_has_room_for_waiters) or the destination leaves. A waiter is
 * whatever the server finds a sender again by: the daemon keeps a
 * referenced pointer, the reactor an id (its connections may be freed
 * before the destination drains).
 */
#ifndef PB_WAITERS_H
#define PB_WAITERS_H

#include <stddef.h>
#include <stdint.h>

struct pb_waiters {
	uintptr_t *wt_list; /* wt_n waiters, in no order, each once */
	size_t wt_n;
	size_t wt_alloc;
};

void pb_waiters_init(struct pb_waiters *w);
void pb_waiters_free(struct pb_waiters *w);

/* Adds who unless it is there already: 1 added, 0 already there, or -1
 * with no memory for it (the sender cannot be woken and must retry on its
 * own). */
int pb_waiters_add(struct pb_waiters *w, uintptr_t who);

/* Moves every waiter to *out (which owns them afterwards, to be freed
 * with pb_waiters_free) and leaves w empty: so that they are woken after
 * the destination's lock is released. */
void pb_waiters_take(struct pb_waiters *w, struct pb_waiters *out);

#endif
