/*
 * input.h: reading a client's socket.
 *
 * The read buffer starts small (an idle or slow client holds little),
 * doubles while reads come back full, and goes back once the client is
 * idle. A read never takes more than the client's waiting room could hold
 * should every destination be full, so every complete frame read can be
 * placed somewhere and back-pressure never loses a frame.
 */
#ifndef PB_INPUT_H
#define PB_INPUT_H

#include <stddef.h>

#include "client.h"

/* Reads and delivers what the socket has: 0, or -1 with *why set when the
 * client must leave. */
int pb_input_read(struct pb_client *c, enum pb_leave *why);

/* How many bytes the next read may take (0: do not read now). */
size_t pb_input_allowance(const struct pb_client *c);

/* Gives back the read buffer and the routing scratch space. */
void pb_input_free(struct pb_client *c);

#endif
