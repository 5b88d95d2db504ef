/* SPDX-License-Identifier: ISC */
/*
 * recv.c: messages from the daemon made into lines (see recv.h).
 */
#include "config.h"

#include <string.h>

#include "hex.h"
#include "recv.h"

long cat_recv_lines(struct cat_recv *r, struct cat_buf *out, unsigned long max)
{
	unsigned long n = 0;

	while (n < max) {
		const char *head = cat_buf_head(&r->rv_buf), *nul;
		size_t avail = cat_buf_size(&r->rv_buf), len, width;

		/* A long message arriving in pieces is scanned once. */
		nul = memchr(head + r->rv_scanned, '\0', avail - r->rv_scanned);
		if (nul == NULL) {
			r->rv_scanned = avail;
			break;
		}
		len = (size_t)(nul - head);
		width = r->rv_hex ? 2 * len : len;
		if (cat_buf_reserve(out, width + 1) < 0)
			return -1;
		if (r->rv_hex)
			cat_hex_encode((const unsigned char *)head, len,
				       out->b_data + out->b_len);
		else
			memcpy(out->b_data + out->b_len, head, len);
		out->b_len += width;
		out->b_data[out->b_len++] = '\n';
		cat_buf_consume(&r->rv_buf, len + 1);
		r->rv_scanned = 0;
		n++;
	}
	return (long)n;
}

size_t cat_recv_partial(const struct cat_recv *r)
{
	return cat_buf_size(&r->rv_buf);
}

void cat_recv_free(struct cat_recv *r)
{
	cat_buf_free(&r->rv_buf);
}
