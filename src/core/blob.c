/* SPDX-License-Identifier: ISC */
/*
 * blob.c: writing and reading the hand-over's byte format (see blob.h).
 *
 * Header: 0 magic "PBHO", 4 format (u32), 8 oldest reader (u32), 12 CRC32C
 * of the body (u32), 16 body length (u64), 24 the producer's version (40
 * bytes, NUL padded); the body from byte 64.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "blob.h"

#define BLOB_MAGIC	   "PBHO"
#define BLOB_OLDEST_READER 1 /* what this release's blobs need */
#define BLOB_PRODUCER	   24
#define BLOB_PRODUCER_LEN  40

static void blob_put(char *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(v >> (8 * i));
}

static uint64_t blob_get(const char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)(unsigned char)p[i] << (8 * i);
	return v;
}

/* Room for n more bytes; false (and b_failed) without memory. */
static bool blob_room(struct pb_blob *b, size_t n)
{
	size_t cap = b->b_cap ? b->b_cap : 4096;
	char *p;

	if (b->b_failed)
		return false;
	if (n <= b->b_cap - b->b_len)
		return true;
	while (cap - b->b_len < n) {
		if (cap > SIZE_MAX / 2) {
			b->b_failed = true;
			return false;
		}
		cap *= 2;
	}
	p = realloc(b->b_data, cap);
	if (p == NULL) {
		b->b_failed = true;
		return false;
	}
	b->b_data = p;
	b->b_cap = cap;
	return true;
}

void pb_blob_init(struct pb_blob *b)
{
	memset(b, 0, sizeof(*b));
	if (blob_room(b, PB_BLOB_HEADER)) {
		memset(b->b_data, 0, PB_BLOB_HEADER);
		b->b_len = PB_BLOB_HEADER;
	}
}

void pb_blob_free(struct pb_blob *b)
{
	free(b->b_data);
	memset(b, 0, sizeof(*b));
}

static void blob_number(struct pb_blob *b, uint64_t v, size_t n)
{
	if (!blob_room(b, n))
		return;
	blob_put(b->b_data + b->b_len, v, n);
	b->b_len += n;
}

void pb_blob_u32(struct pb_blob *b, uint32_t v)
{
	blob_number(b, v, 4);
}

void pb_blob_u64(struct pb_blob *b, uint64_t v)
{
	blob_number(b, v, 8);
}

void pb_blob_bytes2(struct pb_blob *b, const void *p1, size_t n1,
		    const void *p2, size_t n2)
{
	pb_blob_u64(b, (uint64_t)n1 + n2);
	if (!blob_room(b, n1 + n2))
		return;
	if (n1 > 0)
		memcpy(b->b_data + b->b_len, p1, n1);
	if (n2 > 0)
		memcpy(b->b_data + b->b_len + n1, p2, n2);
	b->b_len += n1 + n2;
}

void pb_blob_bytes(struct pb_blob *b, const void *p, size_t n)
{
	pb_blob_bytes2(b, p, n, NULL, 0);
}

size_t pb_blob_begin(struct pb_blob *b, uint32_t tag)
{
	size_t at;

	pb_blob_u32(b, tag);
	at = b->b_len;
	pb_blob_u64(b, 0);
	return at;
}

void pb_blob_end(struct pb_blob *b, size_t at)
{
	if (!b->b_failed)
		blob_put(b->b_data + at, b->b_len - at - 8, 8);
}

int pb_blob_finish(struct pb_blob *b, const char *producer)
{
	char *h = b->b_data;
	size_t body, i;

	if (b->b_failed)
		return -1;
	body = b->b_len - PB_BLOB_HEADER;
	memcpy(h, BLOB_MAGIC, 4);
	blob_put(h + 4, PB_BLOB_FORMAT, 4);
	blob_put(h + 8, BLOB_OLDEST_READER, 4);
	blob_put(h + 12, pb_blob_crc32c(h + PB_BLOB_HEADER, body), 4);
	blob_put(h + 16, body, 8);
	memset(h + BLOB_PRODUCER, 0, BLOB_PRODUCER_LEN);
	for (i = 0; i < BLOB_PRODUCER_LEN && producer[i] != '\0'; i++)
		h[BLOB_PRODUCER + i] = producer[i];
	return 0;
}

enum pb_blob_status pb_blob_open(struct pb_blob_reader *r, const char *data,
				 size_t len, struct pb_blob_header *h)
{
	memset(r, 0, sizeof(*r));
	memset(h, 0, sizeof(*h));
	if (len < PB_BLOB_HEADER || memcmp(data, BLOB_MAGIC, 4) != 0)
		return PB_BLOB_NOT_STATE;
	memcpy(h->bh_producer, data + BLOB_PRODUCER, BLOB_PRODUCER_LEN);
	h->bh_format = (uint32_t)blob_get(data + 4, 4);
	h->bh_oldest = (uint32_t)blob_get(data + 8, 4);
	h->bh_body = blob_get(data + 16, 8);
	if (h->bh_oldest > PB_BLOB_FORMAT)
		return PB_BLOB_TOO_NEW;
	if (h->bh_body != len - PB_BLOB_HEADER)
		return PB_BLOB_TRUNCATED;
	if (pb_blob_crc32c(data + PB_BLOB_HEADER, (size_t)h->bh_body) !=
	    (uint32_t)blob_get(data + 12, 4))
		return PB_BLOB_CHECKSUM;
	r->r_data = data + PB_BLOB_HEADER;
	r->r_len = (size_t)h->bh_body;
	return PB_BLOB_OK;
}

/* n bytes to read, or NULL (and r_bad) when fewer are left. */
static const char *blob_take(struct pb_blob_reader *r, size_t n)
{
	const char *p;

	if (r->r_bad || n > r->r_len - r->r_off) {
		r->r_bad = true;
		return NULL;
	}
	p = r->r_data + r->r_off;
	r->r_off += n;
	return p;
}

bool pb_blob_next(struct pb_blob_reader *r, uint32_t *tag,
		  struct pb_blob_reader *sec)
{
	const char *p;
	uint64_t n;

	if (!pb_blob_more(r))
		return false;
	*tag = pb_blob_get_u32(r);
	n = pb_blob_get_u64(r);
	if (r->r_bad || n > r->r_len - r->r_off) {
		r->r_bad = true;
		return false;
	}
	p = blob_take(r, (size_t)n);
	memset(sec, 0, sizeof(*sec));
	sec->r_data = p;
	sec->r_len = (size_t)n;
	return true;
}

uint32_t pb_blob_get_u32(struct pb_blob_reader *r)
{
	const char *p = blob_take(r, 4);

	return p != NULL ? (uint32_t)blob_get(p, 4) : 0;
}

uint64_t pb_blob_get_u64(struct pb_blob_reader *r)
{
	const char *p = blob_take(r, 8);

	return p != NULL ? blob_get(p, 8) : 0;
}

void pb_blob_get_bytes(struct pb_blob_reader *r, const char **p, size_t *n)
{
	uint64_t len = pb_blob_get_u64(r);

	*n = 0;
	*p = NULL;
	if (r->r_bad || len > r->r_len - r->r_off) {
		r->r_bad = true;
		return;
	}
	*p = blob_take(r, (size_t)len);
	*n = (size_t)len;
}

uint32_t pb_blob_crc32c(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint32_t table[256], crc = 0xffffffffu;
	size_t i;

	/* Made each time (2,048 steps): a blob is checked once per
	 * restart, and a table built here is nobody else's. */
	for (i = 0; i < 256; i++) {
		uint32_t c = (uint32_t)i;
		int k;

		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
	for (i = 0; i < n; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}
