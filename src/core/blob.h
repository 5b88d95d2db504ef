/* SPDX-License-Identifier: ISC */
/*
 * blob.h: the byte format of the state a restart hands over.
 *
 * A blob is a 64-byte header and a body of sections. The header holds a
 * magic, the format version that wrote it, the oldest format version a
 * reader must know to read it, a CRC32C of the body and its length, and
 * the writer's version string; a section is a tag (u32), a length (u64)
 * and that many bytes. Numbers are little-endian, byte strings are a u64
 * length and the bytes.
 *
 * Compatibility works by skipping: a reader passes over the sections whose
 * tag it does not know, and over the bytes at the end of a section that
 * it does not know (a newer writer appends fields, never reorders them),
 * so a release reads the blobs of the one before it and, as long as the
 * writer says so in "oldest reader", of the one after it (a rollback).
 *
 * Reading never trusts the blob: every length is checked against what is
 * left, and a reader that runs past the end of its section says so once
 * (pb_blob_bad) instead of reading on.
 */
#ifndef PB_BLOB_H
#define PB_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PB_BLOB_HEADER 64
#define PB_BLOB_FORMAT 1 /* the format this release writes */

/* A blob being written; b_failed once an allocation failed (the blob is
 * then useless, and pb_blob_finish says so). */
struct pb_blob {
	char *b_data;
	size_t b_len;
	size_t b_cap;
	bool b_failed;
};

/* An empty blob, its header still to be written by pb_blob_finish. */
void pb_blob_init(struct pb_blob *b);
void pb_blob_free(struct pb_blob *b);

void pb_blob_u32(struct pb_blob *b, uint32_t v);
void pb_blob_u64(struct pb_blob *b, uint64_t v);
/* A byte string: its length (u64), then its bytes. */
void pb_blob_bytes(struct pb_blob *b, const void *p, size_t n);
/* A byte string made of two pieces (a ring's two halves). */
void pb_blob_bytes2(struct pb_blob *b, const void *p1, size_t n1,
		    const void *p2, size_t n2);

/* Opens a section with this tag; returns where its length goes, for
 * pb_blob_end. */
size_t pb_blob_begin(struct pb_blob *b, uint32_t tag);
void pb_blob_end(struct pb_blob *b, size_t at);

/* Writes the header (producer: the writer's version, cut to fit). 0, or
 * -1 if memory failed at some point. */
int pb_blob_finish(struct pb_blob *b, const char *producer);

/* Reading a blob, or one of its sections. */
struct pb_blob_reader {
	const char *r_data;
	size_t r_len;
	size_t r_off;
	bool r_bad; /* read past the end: what it returned is zeros */
};

/* What a blob's header says, and what is wrong with it. */
struct pb_blob_header {
	uint32_t bh_format; /* the writer's format */
	uint32_t bh_oldest; /* the oldest format that reads it */
	uint64_t bh_body;   /* the body's length it gives */
	char bh_producer[41];
};

enum pb_blob_status {
	PB_BLOB_OK,
	PB_BLOB_NOT_STATE, /* no magic, or shorter than a header */
	PB_BLOB_TOO_NEW,   /* needs a reader of a later format */
	PB_BLOB_TRUNCATED, /* its length is not the header's */
	PB_BLOB_CHECKSUM,  /* its body is not what was written */
};

/* The header of data[0 .. len) checked (magic, versions, length, CRC):
 * PB_BLOB_OK with r set on the body; *h has what the header says. */
enum pb_blob_status pb_blob_open(struct pb_blob_reader *r, const char *data,
				 size_t len, struct pb_blob_header *h);

/* The next section: true with *tag and *sec set on it; false at the end,
 * or when a section's length runs past the body (then r->r_bad). */
bool pb_blob_next(struct pb_blob_reader *r, uint32_t *tag,
		  struct pb_blob_reader *sec);

uint32_t pb_blob_get_u32(struct pb_blob_reader *r);
uint64_t pb_blob_get_u64(struct pb_blob_reader *r);
/* A byte string: *p points into the blob; *n is its length. */
void pb_blob_get_bytes(struct pb_blob_reader *r, const char **p, size_t *n);

/* Whether what was read so far was all there. */
static inline bool pb_blob_bad(const struct pb_blob_reader *r)
{
	return r->r_bad;
}

/* Whether there is more to read (fields a newer writer appended). */
static inline bool pb_blob_more(const struct pb_blob_reader *r)
{
	return r->r_off < r->r_len;
}

/* CRC32C (Castagnoli) of data[0 .. n). */
uint32_t pb_blob_crc32c(const void *data, size_t n);

#endif
