/* SPDX-License-Identifier: ISC */
/*
 * deliver.h: the delivery engine (engine.h), run by a thread per client.
 *
 * The engine decides; this gives it the daemon's ways: destinations found
 * in the registry and kept, referenced, in each sender's small cache of
 * recent destinations (so steady streams never take the table's lock);
 * each client's own mutex around its outbox and waiters; waiters held by
 * reference and woken with a signal (wake.h); a sender with frames no
 * drain will wake it for retries at once, since its thread has nothing
 * else to do.
 */
#ifndef PB_DELIVER_H
#define PB_DELIVER_H

#include "engine.h"

struct pb_client;

/* The daemon's operations for the engine. */
extern const struct pb_engine_ops pb_deliver_ops;

/* Drops the sender's references to recent destinations. */
void pb_deliver_release(struct pb_client *s);

#endif
