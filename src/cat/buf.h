/* SPDX-License-Identifier: ISC */
/*
 * buf.h: a growing byte buffer with a read offset, for what patchbay-cat
 * holds between reading and writing: frames on their way to the daemon,
 * messages still arriving, lines of input still incomplete, lines on their
 * way to standard output.
 */
#ifndef CAT_BUF_H
#define CAT_BUF_H

#include <stddef.h>

struct cat_buf {
	char *b_data;
	size_t b_off; /* bytes before it were consumed */
	size_t b_len; /* bytes held, from b_data */
	size_t b_cap;
};

/* Makes room for n more bytes after b_len; 0, or -1 (ENOMEM). */
int cat_buf_reserve(struct cat_buf *b, size_t n);

/* Appends n bytes; 0, or -1 (ENOMEM). */
int cat_buf_add(struct cat_buf *b, const void *data, size_t n);

/* The bytes not consumed yet (never NULL), and how many there are. */
char *cat_buf_head(const struct cat_buf *b);
size_t cat_buf_size(const struct cat_buf *b);

/* Consumes n bytes at the head; once all are, the buffer starts over. */
void cat_buf_consume(struct cat_buf *b, size_t n);

/* Moves what is left to the start, so that a reserve does not grow a
 * buffer whose head was consumed. */
void cat_buf_compact(struct cat_buf *b);

void cat_buf_free(struct cat_buf *b);

#endif
