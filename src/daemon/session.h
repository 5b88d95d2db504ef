/* SPDX-License-Identifier: ISC */
/*
 * session.h: the thread that serves one client.
 *
 * It makes the client findable and sends it its id, then loops: polls the
 * client's socket, reads and delivers its frames (the engine, deliver.h),
 * flushes its outbox, retries its waiting room when woken, and takes the
 * client out of the daemon when it leaves, lingering while frames it sent
 * still wait for room elsewhere. Then it waits, as a spare, to serve the
 * next client.
 */
#ifndef PB_SESSION_H
#define PB_SESSION_H

#include <stddef.h>

struct pb_client;

/* Gives the client a thread, which owns the first reference: a spare one
 * if one waits (spare.h), else a new one with this stack. */
int pb_session_start(struct pb_client *c, size_t stack);

#endif
