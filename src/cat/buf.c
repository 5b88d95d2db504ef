/* SPDX-License-Identifier: ISC */
/*
 * buf.c: a growing byte buffer (see buf.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int cat_buf_reserve(struct cat_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->b_cap - b->b_len >= n)
		return 0;
	cat_buf_compact(b);
	if (b->b_cap - b->b_len >= n)
		return 0;
	if (n > (size_t)-1 / 2 - b->b_len) {
		errno = ENOMEM;
		return -1;
	}
	cap = b->b_cap ? b->b_cap : 4096;
	while (cap - b->b_len < n)
		cap *= 2;
	p = realloc(b->b_data, cap);
	if (p == NULL)
		return -1;
	b->b_data = p;
	b->b_cap = cap;
	return 0;
}

int cat_buf_add(struct cat_buf *b, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	if (cat_buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->b_data + b->b_len, data, n);
	b->b_len += n;
	return 0;
}

char *cat_buf_head(const struct cat_buf *b)
{
	/* Never NULL, so that callers may add 0 to it and pass it to
	 * memchr or memcpy with a size of 0. */
	static char empty[1];

	return b->b_data != NULL ? b->b_data + b->b_off : empty;
}

size_t cat_buf_size(const struct cat_buf *b)
{
	return b->b_len - b->b_off;
}

void cat_buf_consume(struct cat_buf *b, size_t n)
{
	b->b_off += n;
	if (b->b_off == b->b_len)
		b->b_off = b->b_len = 0;
}

void cat_buf_compact(struct cat_buf *b)
{
	if (b->b_off == 0)
		return;
	memmove(b->b_data, b->b_data + b->b_off, b->b_len - b->b_off);
	b->b_len -= b->b_off;
	b->b_off = 0;
}

void cat_buf_free(struct cat_buf *b)
{
	free(b->b_data);
	memset(b, 0, sizeof *b);
}
