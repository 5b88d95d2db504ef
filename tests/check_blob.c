/* SPDX-License-Identifier: ISC */
/*
 * check_blob.c: unit tests of the hand-over's byte format (blob.h): every
 * field type goes through the writer and the reader unchanged (numbers,
 * byte strings, a byte string in two pieces either of which may be
 * empty, sections inside sections), the header says what blob.c's top
 * comment says it does, byte by byte; and pb_blob_open refuses a blob
 * shorter than its header, without the magic, cut or grown by a byte,
 * with any bit of its body flipped, or asking for a newer reader. Then
 * the reader's distrust: a section whose length runs past the body, or a
 * read past the end of a section, is said (pb_blob_bad) and gives zeros,
 * never the bytes that follow; and its compatibility: sections of an
 * unknown tag are skipped, fields a reader does not know at the end of a
 * section are left unread. CRC32C is checked against the standard check
 * value and the iSCSI vectors (RFC 3720, B.4).
 *
 * Each blob is opened from a buffer of exactly its size, so that
 * AddressSanitizer, where it is on, sees any read past it.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "run.h"

#define TAG_A	    1
#define TAG_B	    2
#define TAG_UNKNOWN 999

/* A blob's bytes, copied into a buffer of exactly their size. */
struct copy {
	char *c_data;
	size_t c_len;
};

static void put_le(char *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(v >> (8 * i));
}

static uint64_t get_le(const char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)(unsigned char)p[i] << (8 * i);
	return v;
}

/* b finished (producer "test"), its bytes copied, b freed. */
static void finish(struct pb_blob *b, struct copy *c)
{
	ck_assert(!b->b_failed);
	ck_assert_int_eq(pb_blob_finish(b, "test"), 0);
	c->c_len = b->b_len;
	c->c_data = malloc(c->c_len);
	ck_assert_ptr_nonnull(c->c_data);
	memcpy(c->c_data, b->b_data, c->c_len);
	pb_blob_free(b);
}

/* Opens c; its status. */
static enum pb_blob_status open_copy(const struct copy *c,
				     struct pb_blob_reader *r,
				     struct pb_blob_header *h)
{
	return pb_blob_open(r, c->c_data, c->c_len, h);
}

/* Opens c, which must be good. */
static void open_ok(const struct copy *c, struct pb_blob_reader *r)
{
	struct pb_blob_header h;

	ck_assert_int_eq(open_copy(c, r, &h), PB_BLOB_OK);
	ck_assert_ptr_eq(r->r_data, c->c_data + PB_BLOB_HEADER);
	ck_assert_uint_eq(r->r_len, c->c_len - PB_BLOB_HEADER);
	ck_assert(!pb_blob_bad(r));
}

/* c's bytes in a new buffer of exactly len bytes (cut, or grown with
 * zeros). */
static void resize(struct copy *c, size_t len)
{
	char *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	memset(p, 0, len);
	memcpy(p, c->c_data, len < c->c_len ? len : c->c_len);
	free(c->c_data);
	c->c_data = p;
	c->c_len = len;
}

/* The next section, which must be there and have this tag. */
static void next_section(struct pb_blob_reader *r, uint32_t want,
			 struct pb_blob_reader *sec)
{
	uint32_t tag = 0;

	ck_assert(pb_blob_next(r, &tag, sec));
	ck_assert_uint_eq(tag, want);
	ck_assert(!pb_blob_bad(r));
	ck_assert(!pb_blob_bad(sec));
}

/* r is at its end, read whole. */
static void at_end(struct pb_blob_reader *r)
{
	uint32_t tag;
	struct pb_blob_reader sec;

	ck_assert(!pb_blob_more(r));
	ck_assert(!pb_blob_next(r, &tag, &sec));
	ck_assert(!pb_blob_bad(r));
}

/* A byte string read from r, which must be exactly want[0 .. n). */
static void get_bytes_eq(struct pb_blob_reader *r, const void *want, size_t n)
{
	const char *p = NULL;
	size_t got = 1234;

	pb_blob_get_bytes(r, &p, &got);
	ck_assert(!pb_blob_bad(r));
	ck_assert_uint_eq(got, n);
	ck_assert_ptr_nonnull(p);
	ck_assert(p >= r->r_data && p + n <= r->r_data + r->r_len);
	if (n > 0)
		ck_assert_mem_eq(p, want, n);
}

START_TEST(test_blob_crc32c)
{
	unsigned char v[32];
	size_t i;

	ck_assert_uint_eq(pb_blob_crc32c("123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(pb_blob_crc32c("", 0), 0);
	/* RFC 3720, B.4. */
	memset(v, 0, sizeof(v));
	ck_assert_uint_eq(pb_blob_crc32c(v, sizeof(v)), 0x8a9136aau);
	memset(v, 0xff, sizeof(v));
	ck_assert_uint_eq(pb_blob_crc32c(v, sizeof(v)), 0x62a8ab43u);
	for (i = 0; i < sizeof(v); i++)
		v[i] = (unsigned char)i;
	ck_assert_uint_eq(pb_blob_crc32c(v, sizeof(v)), 0x46dd794eu);
	for (i = 0; i < sizeof(v); i++)
		v[i] = (unsigned char)(31 - i);
	ck_assert_uint_eq(pb_blob_crc32c(v, sizeof(v)), 0x113fdb5cu);
}
END_TEST

START_TEST(test_blob_numbers_round_trip)
{
	static const uint32_t u32s[] = {0, 1, 0x01020304u, 0x80000000u,
					UINT32_MAX};
	static const uint64_t u64s[] = {0, 1, 0x0102030405060708ull,
					0x8000000000000000ull, UINT64_MAX};
	struct pb_blob b;
	struct pb_blob_reader r, sec;
	struct copy c;
	const char *body;
	size_t at, i;

	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	for (i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++)
		pb_blob_u32(&b, u32s[i]);
	for (i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
		pb_blob_u64(&b, u64s[i]);
	pb_blob_end(&b, at);
	ck_assert_uint_eq(at, PB_BLOB_HEADER + 4);
	finish(&b, &c);

	/* The bytes: tag, length, then little-endian numbers. */
	body = c.c_data + PB_BLOB_HEADER;
	ck_assert_uint_eq(c.c_len, PB_BLOB_HEADER + 12 + 5 * 4 + 5 * 8);
	ck_assert_uint_eq(get_le(body, 4), TAG_A);
	ck_assert_uint_eq(get_le(body + 4, 8), 5 * 4 + 5 * 8);
	ck_assert_mem_eq(body + 12 + 8, "\x04\x03\x02\x01", 4);
	ck_assert_mem_eq(body + 12 + 20 + 16,
			 "\x08\x07\x06\x05\x04\x03\x02\x01", 8);

	open_ok(&c, &r);
	next_section(&r, TAG_A, &sec);
	ck_assert_ptr_eq(sec.r_data, body + 12);
	ck_assert_uint_eq(sec.r_len, 5 * 4 + 5 * 8);
	for (i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++)
		ck_assert_uint_eq(pb_blob_get_u32(&sec), u32s[i]);
	for (i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
		ck_assert(pb_blob_get_u64(&sec) == u64s[i]);
	ck_assert(!pb_blob_bad(&sec));
	ck_assert(!pb_blob_more(&sec));
	at_end(&r);
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_bytes_round_trip)
{
	struct pb_blob b;
	struct pb_blob_reader r, sec;
	struct copy c;
	char *big = malloc(10000);
	size_t at;

	ck_assert_ptr_nonnull(big);
	memset(big, 'z', 10000);
	big[0] = 'a';
	big[9999] = 'q';
	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_bytes(&b, "hello", 5);
	pb_blob_bytes(&b, NULL, 0);
	pb_blob_bytes(&b, "a\0b", 3); /* NULs are bytes like any other */
	/* In two pieces: both, the first empty, the second empty, none. */
	pb_blob_bytes2(&b, "ab", 2, "cde", 3);
	pb_blob_bytes2(&b, NULL, 0, "xyz", 3);
	pb_blob_bytes2(&b, "uvw", 3, NULL, 0);
	pb_blob_bytes2(&b, "", 0, "", 0);
	/* Past the first 4 KiB the writer starts with. */
	pb_blob_bytes(&b, big, 10000);
	pb_blob_bytes2(&b, big, 5000, big + 5000, 5000);
	pb_blob_u32(&b, 0xfeedf00du);
	pb_blob_end(&b, at);
	finish(&b, &c);

	/* A byte string is its u64 length, then its bytes. */
	ck_assert_uint_eq(get_le(c.c_data + PB_BLOB_HEADER + 12, 8), 5);
	ck_assert_mem_eq(c.c_data + PB_BLOB_HEADER + 20, "hello", 5);

	open_ok(&c, &r);
	next_section(&r, TAG_A, &sec);
	get_bytes_eq(&sec, "hello", 5);
	get_bytes_eq(&sec, "", 0);
	get_bytes_eq(&sec, "a\0b", 3);
	get_bytes_eq(&sec, "abcde", 5);
	get_bytes_eq(&sec, "xyz", 3);
	get_bytes_eq(&sec, "uvw", 3);
	get_bytes_eq(&sec, "", 0);
	get_bytes_eq(&sec, big, 10000);
	get_bytes_eq(&sec, big, 10000);
	ck_assert_uint_eq(pb_blob_get_u32(&sec), 0xfeedf00du);
	ck_assert(!pb_blob_bad(&sec));
	ck_assert(!pb_blob_more(&sec));
	at_end(&r);
	free(c.c_data);
	free(big);
}
END_TEST

START_TEST(test_blob_nested_sections)
{
	struct pb_blob b;
	struct pb_blob_reader r, outer, inner;
	struct copy c;
	size_t at, at_in, at_mid;

	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 11);
	at_in = pb_blob_begin(&b, TAG_B);
	pb_blob_u64(&b, 22);
	pb_blob_bytes(&b, "inner", 5);
	pb_blob_end(&b, at_in);
	at_in = pb_blob_begin(&b, TAG_UNKNOWN); /* empty */
	pb_blob_end(&b, at_in);
	at_mid = pb_blob_begin(&b, TAG_B);
	at_in = pb_blob_begin(&b, TAG_A); /* a third level */
	pb_blob_u32(&b, 44);
	pb_blob_end(&b, at_in);
	pb_blob_end(&b, at_mid);
	pb_blob_end(&b, at);
	at = pb_blob_begin(&b, TAG_B); /* and a sibling of the outer */
	pb_blob_u32(&b, 55);
	pb_blob_end(&b, at);
	finish(&b, &c);

	open_ok(&c, &r);
	next_section(&r, TAG_A, &outer);
	ck_assert_uint_eq(outer.r_len, 4 + (12 + 8 + 8 + 5) + 12 + (12 + 16));
	ck_assert_uint_eq(pb_blob_get_u32(&outer), 11);
	next_section(&outer, TAG_B, &inner);
	ck_assert_uint_eq(inner.r_len, 8 + 8 + 5);
	ck_assert(pb_blob_get_u64(&inner) == 22);
	get_bytes_eq(&inner, "inner", 5);
	ck_assert(!pb_blob_more(&inner));
	next_section(&outer, TAG_UNKNOWN, &inner);
	ck_assert_uint_eq(inner.r_len, 0);
	ck_assert(!pb_blob_more(&inner));
	next_section(&outer, TAG_B, &inner);
	{
		struct pb_blob_reader third;

		next_section(&inner, TAG_A, &third);
		ck_assert_uint_eq(pb_blob_get_u32(&third), 44);
		ck_assert(!pb_blob_more(&third));
		at_end(&inner);
	}
	at_end(&outer);
	next_section(&r, TAG_B, &outer);
	ck_assert_uint_eq(pb_blob_get_u32(&outer), 55);
	at_end(&r);
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_header_layout)
{
	static const char producer[] = "patchbay 1.2.3";
	struct pb_blob b;
	struct pb_blob_reader r;
	struct pb_blob_header h;
	struct copy c;
	size_t at, i;

	pb_blob_init(&b);
	ck_assert_uint_eq(b.b_len, PB_BLOB_HEADER);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 7);
	pb_blob_end(&b, at);
	ck_assert_int_eq(pb_blob_finish(&b, producer), 0);
	c.c_len = b.b_len;
	c.c_data = malloc(c.c_len);
	ck_assert_ptr_nonnull(c.c_data);
	memcpy(c.c_data, b.b_data, c.c_len);
	pb_blob_free(&b);

	ck_assert_uint_eq(c.c_len, PB_BLOB_HEADER + 16);
	ck_assert_mem_eq(c.c_data, "PBHO", 4);
	ck_assert_uint_eq(get_le(c.c_data + 4, 4), PB_BLOB_FORMAT);
	ck_assert_uint_eq(get_le(c.c_data + 8, 4), 1);
	ck_assert_uint_eq(get_le(c.c_data + 12, 4),
			  pb_blob_crc32c(c.c_data + PB_BLOB_HEADER, 16));
	ck_assert_uint_eq(get_le(c.c_data + 16, 8), 16);
	ck_assert_mem_eq(c.c_data + 24, producer, strlen(producer));
	for (i = 24 + strlen(producer); i < PB_BLOB_HEADER; i++)
		ck_assert_int_eq(c.c_data[i], 0);

	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_OK);
	ck_assert_uint_eq(h.bh_format, PB_BLOB_FORMAT);
	ck_assert_uint_eq(h.bh_oldest, 1);
	ck_assert(h.bh_body == 16);
	ck_assert_str_eq(h.bh_producer, producer);
	ck_assert_ptr_eq(r.r_data, c.c_data + PB_BLOB_HEADER);
	ck_assert_uint_eq(r.r_len, 16);
	ck_assert_uint_eq(r.r_off, 0);
	ck_assert(!pb_blob_bad(&r));
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_header_producer_cut)
{
	static const char longer[] = "0123456789012345678901234567890123456789"
				     "-and-more-than-40";
	static const char forty[] = "abcdefghijabcdefghijabcdefghijabcdefghij";
	struct pb_blob b;
	struct pb_blob_reader r, sec;
	struct pb_blob_header h;
	struct copy c;
	size_t at;

	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 99);
	pb_blob_end(&b, at);
	ck_assert_int_eq(pb_blob_finish(&b, longer), 0);
	/* Cut to 40 bytes, with no NUL: the body is untouched. */
	ck_assert_mem_eq(b.b_data + 24, longer, 40);
	ck_assert_uint_eq(get_le(b.b_data + PB_BLOB_HEADER, 4), TAG_A);
	ck_assert_int_eq(pb_blob_open(&r, b.b_data, b.b_len, &h), PB_BLOB_OK);
	ck_assert_uint_eq(strlen(h.bh_producer), 40);
	ck_assert_mem_eq(h.bh_producer, longer, 40);
	next_section(&r, TAG_A, &sec);
	ck_assert_uint_eq(pb_blob_get_u32(&sec), 99);

	/* Exactly 40: whole. */
	ck_assert_int_eq(pb_blob_finish(&b, forty), 0);
	ck_assert_int_eq(pb_blob_open(&r, b.b_data, b.b_len, &h), PB_BLOB_OK);
	ck_assert_str_eq(h.bh_producer, forty);

	/* Empty: 40 NULs. */
	ck_assert_int_eq(pb_blob_finish(&b, ""), 0);
	ck_assert_int_eq(pb_blob_open(&r, b.b_data, b.b_len, &h), PB_BLOB_OK);
	ck_assert_str_eq(h.bh_producer, "");
	pb_blob_free(&b);

	/* No body at all: its CRC is that of nothing. */
	pb_blob_init(&b);
	finish(&b, &c);
	ck_assert_uint_eq(c.c_len, PB_BLOB_HEADER);
	ck_assert_uint_eq(get_le(c.c_data + 12, 4), 0);
	ck_assert_uint_eq(get_le(c.c_data + 16, 8), 0);
	open_ok(&c, &r);
	at_end(&r);
	free(c.c_data);
}
END_TEST

/* A good blob of a few sections, for the refusals to spoil. */
static void sample(struct copy *c)
{
	struct pb_blob b;
	size_t at;

	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 1);
	pb_blob_u64(&b, 2);
	pb_blob_bytes(&b, "three", 5);
	pb_blob_end(&b, at);
	at = pb_blob_begin(&b, TAG_B);
	pb_blob_u32(&b, 4);
	pb_blob_end(&b, at);
	finish(&b, c);
}

START_TEST(test_blob_refuses_short)
{
	struct pb_blob_reader r;
	struct pb_blob_header h;
	struct copy c;
	size_t len;

	sample(&c);
	resize(&c, PB_BLOB_HEADER);
	/* Its magic is there, the rest is not. */
	for (len = 0; len < PB_BLOB_HEADER; len++) {
		ck_assert_int_eq(pb_blob_open(&r, c.c_data, len, &h),
				 PB_BLOB_NOT_STATE);
		ck_assert_ptr_null(r.r_data);
		ck_assert_uint_eq(r.r_len, 0);
	}
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_refuses_magic)
{
	struct pb_blob_reader r;
	struct pb_blob_header h;
	struct copy c;
	int i;

	sample(&c);
	for (i = 0; i < 4; i++) {
		c.c_data[i] ^= 0x20; /* "pBHO", "PbHO"... */
		ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_NOT_STATE);
		ck_assert_ptr_null(r.r_data);
		c.c_data[i] ^= 0x20;
	}
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_OK);
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_refuses_length)
{
	struct pb_blob_reader r;
	struct pb_blob_header h;
	struct copy c;
	size_t len;

	sample(&c);
	len = c.c_len;
	resize(&c, len - 1);
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_TRUNCATED);
	ck_assert(h.bh_body == len - PB_BLOB_HEADER);
	ck_assert_ptr_null(r.r_data);
	resize(&c, len + 1);
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_TRUNCATED);
	ck_assert(h.bh_body == len - PB_BLOB_HEADER);
	ck_assert_ptr_null(r.r_data);
	/* The header alone, of a blob that had a body. */
	resize(&c, PB_BLOB_HEADER);
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_TRUNCATED);
	/* A body length no buffer could have. */
	free(c.c_data);
	sample(&c);
	put_le(c.c_data + 16, UINT64_MAX, 8);
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_TRUNCATED);
	put_le(c.c_data + 16, len - PB_BLOB_HEADER, 8);
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_OK);
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_refuses_flipped_bit)
{
	struct pb_blob_reader r;
	struct pb_blob_header h;
	struct copy c;
	size_t i;
	int bit;

	sample(&c);
	for (i = PB_BLOB_HEADER; i < c.c_len; i++) {
		for (bit = 0; bit < 8; bit++) {
			c.c_data[i] ^= (char)(1 << bit);
			ck_assert_int_eq(open_copy(&c, &r, &h),
					 PB_BLOB_CHECKSUM);
			ck_assert_ptr_null(r.r_data);
			c.c_data[i] ^= (char)(1 << bit);
		}
	}
	/* And in the CRC itself. */
	for (i = 12; i < 16; i++) {
		c.c_data[i] ^= 0x01;
		ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_CHECKSUM);
		c.c_data[i] ^= 0x01;
	}
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_OK);
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_versions)
{
	struct pb_blob_reader r, sec;
	struct pb_blob_header h;
	struct copy c;

	sample(&c);
	/* A later writer that says this release can still read it (a
	 * rollback). */
	put_le(c.c_data + 4, PB_BLOB_FORMAT + 5, 4);
	put_le(c.c_data + 8, PB_BLOB_FORMAT, 4);
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_OK);
	ck_assert_uint_eq(h.bh_format, PB_BLOB_FORMAT + 5);
	ck_assert_uint_eq(h.bh_oldest, PB_BLOB_FORMAT);
	next_section(&r, TAG_A, &sec);

	/* One that says it cannot: refused whatever else is right, with
	 * what the header says. */
	put_le(c.c_data + 8, PB_BLOB_FORMAT + 1, 4);
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_TOO_NEW);
	ck_assert_uint_eq(h.bh_format, PB_BLOB_FORMAT + 5);
	ck_assert_uint_eq(h.bh_oldest, PB_BLOB_FORMAT + 1);
	ck_assert_str_eq(h.bh_producer, "test");
	ck_assert_ptr_null(r.r_data);
	put_le(c.c_data + 8, UINT32_MAX, 4);
	ck_assert_int_eq(open_copy(&c, &r, &h), PB_BLOB_TOO_NEW);
	free(c.c_data);
}
END_TEST

/* A blob whose one section, tag TAG_A, claims len bytes while 4 follow
 * its header (a length the writer would not give). */
static void bad_length(struct copy *c, uint64_t len)
{
	struct pb_blob b;
	size_t at;

	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 0x01020304u);
	put_le(b.b_data + at, len, 8);
	finish(&b, c);
}

START_TEST(test_blob_section_past_end)
{
	struct pb_blob_reader r, sec;
	struct copy c;
	uint32_t tag;

	/* One byte more than there is. */
	bad_length(&c, 5);
	open_ok(&c, &r);
	ck_assert(!pb_blob_next(&r, &tag, &sec));
	ck_assert(pb_blob_bad(&r));
	ck_assert(!pb_blob_next(&r, &tag, &sec)); /* and it stays so */
	ck_assert(pb_blob_bad(&r));
	free(c.c_data);

	/* Lengths that wrap around. */
	bad_length(&c, UINT64_MAX);
	open_ok(&c, &r);
	ck_assert(!pb_blob_next(&r, &tag, &sec));
	ck_assert(pb_blob_bad(&r));
	free(c.c_data);
	bad_length(&c, UINT64_MAX - 3);
	open_ok(&c, &r);
	ck_assert(!pb_blob_next(&r, &tag, &sec));
	ck_assert(pb_blob_bad(&r));
	free(c.c_data);

	/* Exactly what there is: fine. */
	bad_length(&c, 4);
	open_ok(&c, &r);
	next_section(&r, TAG_A, &sec);
	ck_assert_uint_eq(sec.r_len, 4);
	at_end(&r);
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_section_header_cut)
{
	struct pb_blob_reader r, sec;
	struct pb_blob b;
	struct copy c;
	uint32_t tag;
	size_t at, keep;

	/* A good section, then 1 to 11 bytes of the next one's header. */
	for (keep = 1; keep < 12; keep++) {
		pb_blob_init(&b);
		at = pb_blob_begin(&b, TAG_A);
		pb_blob_u32(&b, 1);
		pb_blob_end(&b, at);
		at = pb_blob_begin(&b, TAG_B);
		pb_blob_end(&b, at);
		b.b_len -= 12 - keep;
		finish(&b, &c);
		open_ok(&c, &r);
		next_section(&r, TAG_A, &sec);
		ck_assert_uint_eq(pb_blob_get_u32(&sec), 1);
		ck_assert(!pb_blob_next(&r, &tag, &sec));
		ck_assert(pb_blob_bad(&r));
		free(c.c_data);
	}
}
END_TEST

START_TEST(test_blob_read_past_section)
{
	struct pb_blob b;
	struct pb_blob_reader r, sec, sec2;
	struct copy c;
	const char *p;
	size_t at, n;

	/* A section of 6 bytes (a u32, and 2 bytes of another taken back),
	 * then one full of 0xff that a read past the first must not see. */
	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 0x11223344u);
	pb_blob_u32(&b, 0x5566u);
	b.b_len -= 2;
	pb_blob_end(&b, at);
	at = pb_blob_begin(&b, TAG_B);
	pb_blob_u64(&b, UINT64_MAX);
	pb_blob_u64(&b, UINT64_MAX);
	pb_blob_end(&b, at);
	finish(&b, &c);

	open_ok(&c, &r);
	next_section(&r, TAG_A, &sec);
	ck_assert_uint_eq(sec.r_len, 6);
	sec2 = sec;
	ck_assert_uint_eq(pb_blob_get_u32(&sec), 0x11223344u);
	ck_assert(!pb_blob_bad(&sec));
	ck_assert(pb_blob_get_u64(&sec) == 0);
	ck_assert(pb_blob_bad(&sec));
	/* Once bad, everything is zeros, even what would fit. */
	ck_assert_uint_eq(pb_blob_get_u32(&sec), 0);
	p = c.c_data;
	n = 99;
	pb_blob_get_bytes(&sec, &p, &n);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(n, 0);
	ck_assert(pb_blob_bad(&sec));
	/* The blob around it is not the worse for it. */
	ck_assert(!pb_blob_bad(&r));
	next_section(&r, TAG_B, &sec);
	ck_assert(pb_blob_get_u64(&sec) == UINT64_MAX);
	at_end(&r);

	/* A u32 where 2 bytes are left. */
	ck_assert_uint_eq(pb_blob_get_u32(&sec2), 0x11223344u);
	ck_assert_uint_eq(pb_blob_get_u32(&sec2), 0);
	ck_assert(pb_blob_bad(&sec2));
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_bytes_past_section)
{
	static const uint64_t lens[] = {
		5,	    /* one more than there is */
		UINT64_MAX, /* wraps */
		UINT64_MAX - 7,
		(uint64_t)1 << 63,
	};
	struct pb_blob b;
	struct pb_blob_reader r, sec;
	struct copy c;
	const char *p;
	size_t at, n, i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		/* A byte string of 4 whose length says more, then a
		 * section it must not reach into. */
		pb_blob_init(&b);
		at = pb_blob_begin(&b, TAG_A);
		pb_blob_bytes(&b, "abcd", 4);
		put_le(b.b_data + b.b_len - 12, lens[i], 8);
		pb_blob_end(&b, at);
		at = pb_blob_begin(&b, TAG_B);
		pb_blob_bytes(&b, "efgh", 4);
		pb_blob_end(&b, at);
		finish(&b, &c);

		open_ok(&c, &r);
		next_section(&r, TAG_A, &sec);
		p = c.c_data;
		n = 99;
		pb_blob_get_bytes(&sec, &p, &n);
		ck_assert_ptr_null(p);
		ck_assert_uint_eq(n, 0);
		ck_assert(pb_blob_bad(&sec));
		next_section(&r, TAG_B, &sec);
		get_bytes_eq(&sec, "efgh", 4);
		at_end(&r);
		free(c.c_data);
	}

	/* A byte string's length itself cut short. */
	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 0);
	pb_blob_end(&b, at);
	finish(&b, &c);
	open_ok(&c, &r);
	next_section(&r, TAG_A, &sec);
	pb_blob_get_bytes(&sec, &p, &n);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(n, 0);
	ck_assert(pb_blob_bad(&sec));
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_unknown_tags_skipped)
{
	struct pb_blob b;
	struct pb_blob_reader r, sec;
	struct copy c;
	uint32_t tag;
	size_t at;
	int seen_a = 0, seen_b = 0, i;

	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_UNKNOWN); /* before any known one */
	pb_blob_bytes(&b, "from a later release", 20);
	pb_blob_end(&b, at);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 1);
	pb_blob_end(&b, at);
	for (i = 0; i < 3; i++) {
		at = pb_blob_begin(&b, TAG_UNKNOWN + (uint32_t)i);
		pb_blob_u64(&b, UINT64_MAX); /* looks like a long length */
		pb_blob_end(&b, at);
	}
	at = pb_blob_begin(&b, UINT32_MAX);
	pb_blob_end(&b, at);
	at = pb_blob_begin(&b, TAG_B);
	pb_blob_u32(&b, 2);
	pb_blob_end(&b, at);
	finish(&b, &c);

	/* A reader that knows TAG_A and TAG_B. */
	open_ok(&c, &r);
	while (pb_blob_next(&r, &tag, &sec)) {
		if (tag == TAG_A) {
			ck_assert_uint_eq(pb_blob_get_u32(&sec), 1);
			seen_a++;
		} else if (tag == TAG_B) {
			ck_assert_uint_eq(pb_blob_get_u32(&sec), 2);
			seen_b++;
		}
	}
	ck_assert(!pb_blob_bad(&r));
	ck_assert_int_eq(seen_a, 1);
	ck_assert_int_eq(seen_b, 1);
	free(c.c_data);
}
END_TEST

START_TEST(test_blob_trailing_fields_ignored)
{
	struct pb_blob b;
	struct pb_blob_reader r, sec;
	struct copy c;
	size_t at;

	/* A later writer: two fields this reader knows, then three it
	 * does not. */
	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_A);
	pb_blob_u32(&b, 10);
	pb_blob_bytes(&b, "known", 5);
	pb_blob_u64(&b, 77);
	pb_blob_bytes(&b, "new field", 9);
	pb_blob_u32(&b, 78);
	pb_blob_end(&b, at);
	at = pb_blob_begin(&b, TAG_B);
	pb_blob_u32(&b, 20);
	pb_blob_end(&b, at);
	finish(&b, &c);

	open_ok(&c, &r);
	next_section(&r, TAG_A, &sec);
	ck_assert_uint_eq(pb_blob_get_u32(&sec), 10);
	get_bytes_eq(&sec, "known", 5);
	ck_assert(pb_blob_more(&sec));
	ck_assert(!pb_blob_bad(&sec));
	/* The next section starts where the writer's ended. */
	next_section(&r, TAG_B, &sec);
	ck_assert_uint_eq(pb_blob_get_u32(&sec), 20);
	ck_assert(!pb_blob_more(&sec));
	at_end(&r);
	free(c.c_data);
}
END_TEST

static Suite *blob_suite(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("fields");

	tcase_add_test(tc, test_blob_crc32c);
	tcase_add_test(tc, test_blob_numbers_round_trip);
	tcase_add_test(tc, test_blob_bytes_round_trip);
	tcase_add_test(tc, test_blob_nested_sections);
	suite_add_tcase(s, tc);
	tc = tcase_create("header");
	tcase_add_test(tc, test_blob_header_layout);
	tcase_add_test(tc, test_blob_header_producer_cut);
	tcase_add_test(tc, test_blob_refuses_short);
	tcase_add_test(tc, test_blob_refuses_magic);
	tcase_add_test(tc, test_blob_refuses_length);
	tcase_add_test(tc, test_blob_refuses_flipped_bit);
	tcase_add_test(tc, test_blob_versions);
	suite_add_tcase(s, tc);
	tc = tcase_create("reading");
	tcase_add_test(tc, test_blob_section_past_end);
	tcase_add_test(tc, test_blob_section_header_cut);
	tcase_add_test(tc, test_blob_read_past_section);
	tcase_add_test(tc, test_blob_bytes_past_section);
	tcase_add_test(tc, test_blob_unknown_tags_skipped);
	tcase_add_test(tc, test_blob_trailing_fields_ignored);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(blob_suite());
}
