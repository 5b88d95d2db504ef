/* SPDX-License-Identifier: ISC */
/*
 * recv.h: what arrives from the daemon made into lines of output.
 *
 * After the 4-byte id, the daemon writes messages, each a payload and its
 * 0x00. Bytes are added as they are read; each whole message becomes one
 * line (the payload, or with --hex its hexadecimal digits, and a newline),
 * and a message still arriving is kept until its 0x00 comes. No I/O here.
 */
#ifndef CAT_RECV_H
#define CAT_RECV_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct cat_recv {
	struct cat_buf rv_buf; /* read, not yet made into lines */
	size_t rv_scanned; /* bytes of rv_buf's head known to hold no 0x00 */
	bool rv_hex;	   /* --hex */
};

/* Makes up to max whole messages of r->rv_buf into lines on out: how many,
 * or -1 (ENOMEM). */
long cat_recv_lines(struct cat_recv *r, struct cat_buf *out, unsigned long max);

/* Bytes of a message that has begun and not ended. */
size_t cat_recv_partial(const struct cat_recv *r);

void cat_recv_free(struct cat_recv *r);

#endif
