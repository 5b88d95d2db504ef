/* SPDX-License-Identifier: ISC */
/*
 * input.h: lines of standard input made into frames.
 *
 * Each line is "ID TEXT" (the id in decimal, one space, the text; "ID"
 * alone sends an empty message), or, with --to, the text alone. With
 * --from-hex the text is hexadecimal. A line whose text would hold a
 * 0x00, is longer than --max-frame allows, or has no valid id is refused:
 * a message names its number, and the lines after it go on. A line is
 * kept only up to what a valid one can hold, so a very long line costs no
 * more memory than a valid one. No I/O here but the messages written to
 * the stream it is given, so the tests drive it with plain buffers.
 */
#ifndef CAT_INPUT_H
#define CAT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

struct cat_input {
	bool in_has_to;		  /* --to given: every line goes to in_to */
	uint32_t in_to;		  /* --to ID */
	bool in_from_hex;	  /* --from-hex */
	size_t in_max_frame;	  /* --max-frame: payload and its 0x00 */
	struct cat_buf in_line;	  /* the line so far, up to in_keep bytes */
	size_t in_keep;		  /* the most of a line kept */
	size_t in_len;		  /* the line's length so far, all of it */
	unsigned long in_lineno;  /* lines seen, the current one included */
	unsigned long in_sent;	  /* lines made into frames */
	unsigned long in_refused; /* lines refused */
};

/* Sets in up for lines to frames; *in is zeroed first. */
void cat_input_init(struct cat_input *in, bool has_to, uint32_t to,
		    bool from_hex, size_t max_frame);

/* Takes n bytes of input: each line they complete is appended to out as
 * a frame, or refused with one line on errs. 0, or -1 (ENOMEM). */
int cat_input_feed(struct cat_input *in, const char *data, size_t n,
		   struct cat_buf *out, FILE *errs);

/* The end of input: a last line without its newline is taken as one. */
int cat_input_end(struct cat_input *in, struct cat_buf *out, FILE *errs);

void cat_input_free(struct cat_input *in);

#endif
