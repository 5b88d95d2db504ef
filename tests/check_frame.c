/* SPDX-License-Identifier: ISC */
/*
 * check_frame.c: unit tests of the wire frame parser (frame.h).
 *
 * TCP hands the daemon a byte stream cut at arbitrary places, so the parser
 * must find exactly the same frames however the stream is cut: at every
 * split point, a header cut in pieces, many frames in one read, a huge frame
 * one byte at a time. It must also enforce --max-frame at the exact
 * boundary, and before the terminating 0x00 arrives, since a client that
 * never sends one must not make the daemon buffer without limit.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "run.h"

#define READER_BUF 8192 /* bytes a test reader can hold */
#define OUT_BUF	   8192 /* bytes of parsed frames a test reader records */

/*
 * A reader as the daemon has one: bytes are appended at the end of r_buf,
 * each whole frame is taken from its start and the unconsumed tail moved
 * back to the start, and the parser is initialised once for the
 * connection. Every frame found is recorded as header + payload in r_out,
 * which must therefore end up equal to the bytes that were fed.
 */
struct reader {
	struct pb_frame_parser r_parser;
	char r_buf[READER_BUF];
	size_t r_len;
	char r_out[OUT_BUF];
	size_t r_outlen;
	size_t r_frames;
	size_t r_bad; /* frames whose description was inconsistent */
};

static void reader_init(struct reader *r, size_t max_frame)
{
	memset(r, 0, sizeof(*r));
	pb_frame_parser_init(&r->r_parser, max_frame);
}

/* Feeds n more bytes; returns the status of the last call to the parser. */
static enum pb_frame_status reader_feed(struct reader *r, const char *p,
					size_t n)
{
	enum pb_frame_status st;
	struct pb_frame f;
	size_t used;

	ck_assert_uint_le(r->r_len + n, sizeof(r->r_buf));
	memcpy(r->r_buf + r->r_len, p, n);
	r->r_len += n;
	for (;;) {
		used = 0;
		st = pb_frame_next(&r->r_parser, r->r_buf, r->r_len, &f, &used);
		if (st != PB_FRAME_OK)
			return st;
		/* The frame must be described consistently, in place. */
		if (f.fr_payload != r->r_buf + PB_FRAME_HEADER ||
		    f.fr_len == 0 || used != PB_FRAME_HEADER + f.fr_len ||
		    used > r->r_len || f.fr_payload[f.fr_len - 1] != '\0' ||
		    memchr(f.fr_payload, '\0', f.fr_len - 1) != NULL) {
			r->r_bad++;
			return st;
		}
		ck_assert_uint_le(r->r_outlen + used, sizeof(r->r_out));
		pb_frame_put_id(r->r_out + r->r_outlen, f.fr_dest);
		memcpy(r->r_out + r->r_outlen + PB_FRAME_HEADER, f.fr_payload,
		       f.fr_len);
		r->r_outlen += used;
		r->r_frames++;
		memmove(r->r_buf, r->r_buf + used, r->r_len - used);
		r->r_len -= used;
	}
}

/* Appends one frame to buf at *len. */
static void add_frame(char *buf, size_t *len, uint32_t dest,
		      const char *payload)
{
	size_t n = strlen(payload) + 1;

	pb_frame_put_id(buf + *len, dest);
	memcpy(buf + *len + PB_FRAME_HEADER, payload, n);
	*len += PB_FRAME_HEADER + n;
}

/*
 * A stream of several frames: ids with 0x00 and 0xff bytes in the header
 * (which must not be taken for terminators or sign-extended), an empty
 * payload, bytes with the high bit set, and one longer payload.
 */
static size_t sample_stream(char *buf, int with_long)
{
	char longp[301];
	size_t len = 0;
	size_t i;

	add_frame(buf, &len, 1, "hello, number 2");
	add_frame(buf, &len, 0, "");
	add_frame(buf, &len, 0xffffffffu, "\xff\x80x");
	add_frame(buf, &len, 0x00ff0000u, "hello back, number 1");
	if (with_long) {
		for (i = 0; i < sizeof(longp) - 1; i++)
			longp[i] = (char)('a' + i % 26);
		longp[sizeof(longp) - 1] = '\0';
		add_frame(buf, &len, 0x01020304u, longp);
	}
	return len;
}

START_TEST(test_frame_split_at_every_offset)
{
	static struct reader r;
	char in[1024];
	size_t len = sample_stream(in, 1);
	size_t k;

	for (k = 0; k <= len; k++) {
		reader_init(&r, 4096);
		ck_assert_int_eq(reader_feed(&r, in, k), PB_FRAME_MORE);
		ck_assert_int_eq(reader_feed(&r, in + k, len - k),
				 PB_FRAME_MORE);
		ck_assert_msg(r.r_bad == 0, "split at %zu: bad frame", k);
		ck_assert_msg(r.r_frames == 5, "split at %zu: %zu frames", k,
			      r.r_frames);
		ck_assert_uint_eq(r.r_len, 0);
		ck_assert_uint_eq(r.r_outlen, len);
		ck_assert_mem_eq(r.r_out, in, len);
	}
}
END_TEST

START_TEST(test_frame_split_at_every_pair_of_offsets)
{
	static struct reader r;
	char in[1024];
	size_t len = sample_stream(in, 0);
	size_t i, j;

	for (i = 0; i <= len; i++) {
		for (j = i; j <= len; j++) {
			reader_init(&r, 64);
			reader_feed(&r, in, i);
			reader_feed(&r, in + i, j - i);
			ck_assert_int_eq(reader_feed(&r, in + j, len - j),
					 PB_FRAME_MORE);
			ck_assert_msg(r.r_bad == 0 && r.r_frames == 4 &&
					      r.r_len == 0 &&
					      r.r_outlen == len &&
					      memcmp(r.r_out, in, len) == 0,
				      "splits at %zu and %zu: %zu frames, "
				      "%zu bad, %zu left",
				      i, j, r.r_frames, r.r_bad, r.r_len);
		}
	}
}
END_TEST

START_TEST(test_frame_stream_one_byte_at_a_time)
{
	static struct reader r;
	char in[1024];
	size_t len = sample_stream(in, 1);
	size_t k;

	reader_init(&r, 4096);
	for (k = 0; k < len; k++)
		ck_assert_int_eq(reader_feed(&r, in + k, 1), PB_FRAME_MORE);
	ck_assert_uint_eq(r.r_bad, 0);
	ck_assert_uint_eq(r.r_frames, 5);
	ck_assert_uint_eq(r.r_len, 0);
	ck_assert_uint_eq(r.r_outlen, len);
	ck_assert_mem_eq(r.r_out, in, len);
}
END_TEST

START_TEST(test_frame_many_frames_in_one_buffer)
{
	static struct reader r;
	char in[READER_BUF];
	char payload[16];
	size_t len = 0;
	size_t n = 0;

	while (len + PB_FRAME_HEADER + sizeof(payload) <= sizeof(in)) {
		/* payloads of 0 to 9 bytes, ids 0, 7, 14, ... */
		memset(payload, 'a' + (int)(n % 26), n % 10);
		payload[n % 10] = '\0';
		add_frame(in, &len, (uint32_t)(n * 7), payload);
		n++;
	}
	reader_init(&r, 16);
	ck_assert_int_eq(reader_feed(&r, in, len), PB_FRAME_MORE);
	ck_assert_uint_eq(r.r_bad, 0);
	ck_assert_uint_eq(r.r_frames, n);
	ck_assert_uint_eq(r.r_len, 0);
	ck_assert_uint_eq(r.r_outlen, len);
	ck_assert_mem_eq(r.r_out, in, len);
}
END_TEST

START_TEST(test_frame_empty_payload_is_one_nul)
{
	static const char in[] = {0, 0, 0, 9, 0, 'x'};
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used = 0;

	pb_frame_parser_init(&p, 16);
	ck_assert_int_eq(pb_frame_next(&p, in, 5, &f, &used), PB_FRAME_OK);
	ck_assert_uint_eq(f.fr_dest, 9);
	ck_assert_uint_eq(f.fr_len, 1);
	ck_assert_ptr_eq(f.fr_payload, in + PB_FRAME_HEADER);
	ck_assert_int_eq(f.fr_payload[0], 0);
	ck_assert_uint_eq(used, 5);
	/* The same with a following byte in the buffer. */
	pb_frame_parser_init(&p, 16);
	ck_assert_int_eq(pb_frame_next(&p, in, sizeof(in), &f, &used),
			 PB_FRAME_OK);
	ck_assert_uint_eq(f.fr_len, 1);
	ck_assert_uint_eq(used, 5);
}
END_TEST

START_TEST(test_frame_header_only_is_more)
{
	static const char in[] = {0, 0, 0, 1, 'h', 'i', 0};
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used;
	size_t k;

	/* Every prefix short of the terminator is incomplete. */
	pb_frame_parser_init(&p, 16);
	for (k = 0; k < sizeof(in); k++)
		ck_assert_msg(pb_frame_next(&p, in, k, &f, &used) ==
				      PB_FRAME_MORE,
			      "prefix of %zu bytes not MORE", k);
	ck_assert_int_eq(pb_frame_next(&p, in, sizeof(in), &f, &used),
			 PB_FRAME_OK);
	ck_assert_uint_eq(f.fr_dest, 1);
	ck_assert_uint_eq(f.fr_len, 3);
	ck_assert_mem_eq(f.fr_payload, "hi", 3);
	ck_assert_uint_eq(used, sizeof(in));
}
END_TEST

START_TEST(test_frame_header_split_across_calls)
{
	static struct reader r;
	char in[64];
	size_t len = 0;

	add_frame(in, &len, 0x0a0b0c0du, "split header");
	reader_init(&r, 64);
	ck_assert_int_eq(reader_feed(&r, in, 1), PB_FRAME_MORE);
	ck_assert_int_eq(reader_feed(&r, in + 1, 2), PB_FRAME_MORE);
	ck_assert_int_eq(reader_feed(&r, in + 3, 1), PB_FRAME_MORE);
	ck_assert_uint_eq(r.r_frames, 0);
	ck_assert_int_eq(reader_feed(&r, in + 4, len - 4), PB_FRAME_MORE);
	ck_assert_uint_eq(r.r_bad, 0);
	ck_assert_uint_eq(r.r_frames, 1);
	ck_assert_uint_eq(r.r_outlen, len);
	ck_assert_mem_eq(r.r_out, in, len);
}
END_TEST

START_TEST(test_frame_dest_is_big_endian)
{
	static const char a[] = {1, 2, 3, 4, 'h', 'i', 0};
	static const char b[] = {'\xff', '\xfe', '\xfd', '\xfc', 'x', 0};
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used;

	pb_frame_parser_init(&p, 16);
	ck_assert_int_eq(pb_frame_next(&p, a, sizeof(a), &f, &used),
			 PB_FRAME_OK);
	ck_assert_uint_eq(f.fr_dest, 0x01020304u);
	/* High-bit header bytes must not be sign-extended. */
	pb_frame_parser_init(&p, 16);
	ck_assert_int_eq(pb_frame_next(&p, b, sizeof(b), &f, &used),
			 PB_FRAME_OK);
	ck_assert_uint_eq(f.fr_dest, 0xfffefdfcu);
}
END_TEST

START_TEST(test_frame_put_id_round_trip)
{
	static const uint32_t ids[] = {0,	    1,		 0x01020304u,
				       0x80000000u, 0x00ff00ffu, 0xfffefdfcu,
				       0xffffffffu};
	unsigned char be[PB_FRAME_HEADER];
	char buf[PB_FRAME_HEADER + 2];
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used;
	size_t i;

	pb_frame_put_id((char *)be, 0x01020304u);
	ck_assert_uint_eq(be[0], 1);
	ck_assert_uint_eq(be[1], 2);
	ck_assert_uint_eq(be[2], 3);
	ck_assert_uint_eq(be[3], 4);
	pb_frame_put_id((char *)be, 0xfffefdfcu);
	ck_assert_uint_eq(be[0], 0xff);
	ck_assert_uint_eq(be[3], 0xfc);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		pb_frame_put_id(buf, ids[i]);
		buf[PB_FRAME_HEADER] = 'z';
		buf[PB_FRAME_HEADER + 1] = '\0';
		pb_frame_parser_init(&p, 16);
		ck_assert_int_eq(pb_frame_next(&p, buf, sizeof(buf), &f, &used),
				 PB_FRAME_OK);
		ck_assert_uint_eq(f.fr_dest, ids[i]);
	}
}
END_TEST

START_TEST(test_frame_exactly_max_frame_is_ok)
{
	char in[PB_FRAME_HEADER + 8];
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used;
	size_t k;

	/* 7 payload bytes + 0x00 = 8 = max_frame. */
	pb_frame_put_id(in, 3);
	memcpy(in + PB_FRAME_HEADER, "1234567", 8);
	pb_frame_parser_init(&p, 8);
	ck_assert_int_eq(pb_frame_next(&p, in, sizeof(in), &f, &used),
			 PB_FRAME_OK);
	ck_assert_uint_eq(f.fr_len, 8);
	ck_assert_uint_eq(used, sizeof(in));
	/* The same, one byte at a time. */
	pb_frame_parser_init(&p, 8);
	for (k = 0; k < sizeof(in); k++)
		ck_assert_msg(pb_frame_next(&p, in, k, &f, &used) ==
				      PB_FRAME_MORE,
			      "prefix of %zu bytes not MORE", k);
	ck_assert_int_eq(pb_frame_next(&p, in, sizeof(in), &f, &used),
			 PB_FRAME_OK);
	ck_assert_uint_eq(f.fr_len, 8);
}
END_TEST

START_TEST(test_frame_one_over_max_frame_is_too_long)
{
	char in[PB_FRAME_HEADER + 9];
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used;

	/* 8 payload bytes + 0x00 = 9 > max_frame 8, all in the buffer. */
	pb_frame_put_id(in, 3);
	memcpy(in + PB_FRAME_HEADER, "12345678", 9);
	pb_frame_parser_init(&p, 8);
	ck_assert_int_eq(pb_frame_next(&p, in, sizeof(in), &f, &used),
			 PB_FRAME_TOO_LONG);
}
END_TEST

START_TEST(test_frame_too_long_before_nul_arrives)
{
	char in[PB_FRAME_HEADER + 8];
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used;
	size_t k;

	/* 7 non-zero bytes may still end well; the 8th cannot. */
	pb_frame_put_id(in, 3);
	memcpy(in + PB_FRAME_HEADER, "12345678", 8);
	pb_frame_parser_init(&p, 8);
	ck_assert_int_eq(pb_frame_next(&p, in, sizeof(in) - 1, &f, &used),
			 PB_FRAME_MORE);
	pb_frame_parser_init(&p, 8);
	ck_assert_int_eq(pb_frame_next(&p, in, sizeof(in), &f, &used),
			 PB_FRAME_TOO_LONG);
	/* Fed one byte at a time, it is refused at the 8th byte. */
	pb_frame_parser_init(&p, 8);
	for (k = 0; k < sizeof(in); k++)
		ck_assert_msg(pb_frame_next(&p, in, k, &f, &used) ==
				      PB_FRAME_MORE,
			      "prefix of %zu bytes not MORE", k);
	ck_assert_int_eq(pb_frame_next(&p, in, sizeof(in), &f, &used),
			 PB_FRAME_TOO_LONG);
}
END_TEST

START_TEST(test_frame_good_frame_before_too_long_one)
{
	static struct reader r;
	char in[64];
	size_t len = 0;

	add_frame(in, &len, 2, "ok");
	pb_frame_put_id(in + len, 2);
	memcpy(in + len + PB_FRAME_HEADER, "123456789", 9); /* no 0x00 */
	len += PB_FRAME_HEADER + 9;
	reader_init(&r, 8);
	ck_assert_int_eq(reader_feed(&r, in, len), PB_FRAME_TOO_LONG);
	ck_assert_uint_eq(r.r_bad, 0);
	ck_assert_uint_eq(r.r_frames, 1);
	ck_assert_mem_eq(r.r_out, in, PB_FRAME_HEADER + 3);
}
END_TEST

/*
 * 4 MiB of payload, one byte at a time. With the scan state kept in the
 * parser this is four million short calls; a parser that rescanned the
 * frame on every call would do about 10^13 byte compares and trip the test
 * case timeout, so this test also fails if the scan state is not used.
 */
#define BIG_PAYLOAD ((size_t)4 << 20)

START_TEST(test_frame_large_frame_one_byte_at_a_time)
{
	size_t total = PB_FRAME_HEADER + BIG_PAYLOAD;
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used = 0;
	size_t oks = 0, more = 0, other = 0, first_ok = 0;
	size_t k;
	char *in;

	in = malloc(total);
	ck_assert_ptr_nonnull(in);
	pb_frame_put_id(in, 0x01020304u);
	memset(in + PB_FRAME_HEADER, 'q', BIG_PAYLOAD - 1);
	in[total - 1] = '\0';
	pb_frame_parser_init(&p, BIG_PAYLOAD);
	for (k = 0; k <= total; k++) {
		switch (pb_frame_next(&p, in, k, &f, &used)) {
		case PB_FRAME_OK:
			if (oks++ == 0)
				first_ok = k;
			break;
		case PB_FRAME_MORE:
			more++;
			break;
		default:
			other++;
			break;
		}
		if (oks > 0)
			break;
	}
	ck_assert_uint_eq(other, 0);
	ck_assert_uint_eq(oks, 1);
	ck_assert_uint_eq(first_ok, total);
	ck_assert_uint_eq(more, total);
	ck_assert_uint_eq(f.fr_dest, 0x01020304u);
	ck_assert_uint_eq(f.fr_len, BIG_PAYLOAD);
	ck_assert_ptr_eq(f.fr_payload, in + PB_FRAME_HEADER);
	ck_assert_uint_eq(used, total);
	free(in);
}
END_TEST

START_TEST(test_frame_scan_state_counts_payload_seen)
{
	char in[64];
	struct pb_frame_parser p;
	struct pb_frame f;
	size_t used;
	size_t len = 0;

	add_frame(in, &len, 5, "abcdef");
	add_frame(in, &len, 6, "gh");
	pb_frame_parser_init(&p, 32);
	ck_assert_uint_eq(p.fp_scanned, 0);
	ck_assert_uint_eq(p.fp_max, 32);
	ck_assert_int_eq(pb_frame_next(&p, in, PB_FRAME_HEADER + 4, &f, &used),
			 PB_FRAME_MORE);
	ck_assert_uint_eq(p.fp_scanned, 4);
	ck_assert_int_eq(pb_frame_next(&p, in, PB_FRAME_HEADER + 6, &f, &used),
			 PB_FRAME_MORE);
	ck_assert_uint_eq(p.fp_scanned, 6);
	/* Once a frame is found the state is for the next one, from 0. */
	ck_assert_int_eq(pb_frame_next(&p, in, len, &f, &used), PB_FRAME_OK);
	ck_assert_uint_eq(used, 11);
	ck_assert_uint_eq(p.fp_scanned, 0);
	ck_assert_int_eq(pb_frame_next(&p, in + used, len - used, &f, &used),
			 PB_FRAME_OK);
	ck_assert_uint_eq(f.fr_dest, 6);
	ck_assert_uint_eq(f.fr_len, 3);
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("parser");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_frame_split_at_every_offset);
	tcase_add_test(tc, test_frame_split_at_every_pair_of_offsets);
	tcase_add_test(tc, test_frame_stream_one_byte_at_a_time);
	tcase_add_test(tc, test_frame_many_frames_in_one_buffer);
	tcase_add_test(tc, test_frame_empty_payload_is_one_nul);
	tcase_add_test(tc, test_frame_header_only_is_more);
	tcase_add_test(tc, test_frame_header_split_across_calls);
	tcase_add_test(tc, test_frame_dest_is_big_endian);
	tcase_add_test(tc, test_frame_put_id_round_trip);
	tcase_add_test(tc, test_frame_exactly_max_frame_is_ok);
	tcase_add_test(tc, test_frame_one_over_max_frame_is_too_long);
	tcase_add_test(tc, test_frame_too_long_before_nul_arrives);
	tcase_add_test(tc, test_frame_good_frame_before_too_long_one);
	tcase_add_test(tc, test_frame_scan_state_counts_payload_seen);
	suite_add_tcase(s, tc);
	tc = tcase_create("scan");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_frame_large_frame_one_byte_at_a_time);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(frame_suite());
}
