/* SPDX-License-Identifier: ISC */
/*
 * input.h: reading a client's socket.
 *
 * Into the client's read buffer (rbuf.h: it grows while reads come back
 * full and goes back once the client is idle), never more than its waiting
 * room could hold should every destination be full; then the complete
 * frames go to their destinations (deliver.h).
 */
#ifndef PB_INPUT_H
#define PB_INPUT_H

#include <stddef.h>

#include "client.h"
#include "leave.h"

/* Reads and delivers what the socket has: 0, or -1 with *why set when the
 * client must leave. */
int pb_input_read(struct pb_client *c, enum pb_leave *why);

/* Whether the client may be read now: its waiting room could take what
 * is read, and memory allows it (pb_rbuf_may_read). */
bool pb_input_wanted(const struct pb_client *c);

/* Gives back the read buffer and the routing scratch space. */
void pb_input_free(struct pb_client *c);

#endif
