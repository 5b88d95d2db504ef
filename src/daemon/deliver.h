/* SPDX-License-Identifier: ISC */
/*
 * deliver.h: routing a sender's frames to their destinations.
 *
 * The complete frames of one read are grouped by destination, and each
 * group leaves in one writev straight to the destination's socket when its
 * outbox is empty, or is appended to the outbox. What does not fit waits in
 * the sender's waiting room (park.h) and the sender registers as a waiter
 * on the destination, which wakes it when its outbox drains; frames to
 * every other destination keep going meanwhile. Only the destination's own
 * lock is taken, and only around non-blocking calls.
 */
#ifndef PB_DELIVER_H
#define PB_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

struct pb_client;

/* Delivers every complete frame in the sender's read buffer and removes
 * them from it. Returns -1 on a protocol error (frame too long): the
 * frames before it were delivered. */
int pb_deliver_input(struct pb_client *s);

/* Moves parked frames into outboxes that have room again; drops those
 * whose destination left. */
void pb_deliver_retry(struct pb_client *s);

/* Drops everything in the sender's waiting room, its destinations'
 * counts of frames waiting for them included; returns how many frames. */
size_t pb_deliver_drop_all(struct pb_client *s);

/* Drops the sender's references to recent destinations. */
void pb_deliver_release(struct pb_client *s);

#endif
