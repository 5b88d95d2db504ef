/* SPDX-License-Identifier: ISC */
/*
 * check_envelope.c: unit tests of the messages between the nodes of a
 * cluster (envelope.h), the core's half of federation: every header field
 * goes through pb_env_put_header and pb_env_get_header unchanged; every
 * well-formed type passes pb_env_get_header and pb_env_check; and a
 * message from the network that is shorter than its header, of another
 * version or type, whose entries are not all there, not whole frames,
 * empty, too long, or followed by more bytes, is refused with the reason
 * the log will name. Then pb_env_next walks the entries of each type,
 * and pb_env_frames counts frames.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "run.h"

#define MSG_CAP	  4096
#define MAX_FRAME 64

/* A message being built: header, then an entry count, then entries. */
struct msg {
	unsigned char m_buf[MSG_CAP];
	size_t m_len;
	uint32_t m_n;
};

static void msg_start(struct msg *m, enum pb_env_type type, uint64_t seq)
{
	struct pb_env_header h = {
		.eh_type = (uint8_t)type,
		.eh_src_node = 3,
		.eh_src_epoch = 0x1111222233334445ull,
		.eh_dst_epoch = 0x5555666677778889ull,
		.eh_seq = seq,
	};

	memset(m, 0, sizeof(*m));
	pb_env_put_header(m->m_buf, &h);
	m->m_len = PB_ENV_HEADER;
	if (type != PB_ENV_HELLO) {
		pb_env_put_u32(m->m_buf + m->m_len, 0);
		m->m_len += 4;
	}
}

static void msg_count(struct msg *m)
{
	m->m_n++;
	pb_env_put_u32(m->m_buf + PB_ENV_HEADER, m->m_n);
}

/* A DATA entry for dest holding len bytes. */
static void msg_data(struct msg *m, uint32_t dest, const void *bytes,
		     size_t len)
{
	ck_assert_uint_le(m->m_len + PB_ENV_DATA_ENTRY + len, MSG_CAP);
	pb_env_put_u32(m->m_buf + m->m_len, dest);
	pb_env_put_u32(m->m_buf + m->m_len + 4, (uint32_t)len);
	memcpy(m->m_buf + m->m_len + PB_ENV_DATA_ENTRY, bytes, len);
	m->m_len += PB_ENV_DATA_ENTRY + len;
	msg_count(m);
}

/* An ACK, NAK or ENDED entry. */
static void msg_ack(struct msg *m, uint32_t dest, uint64_t consumed)
{
	pb_env_put_u32(m->m_buf + m->m_len, dest);
	pb_env_put_u64(m->m_buf + m->m_len + 4, consumed);
	m->m_len += PB_ENV_ACK_ENTRY;
	msg_count(m);
}

static void msg_gone(struct msg *m, uint32_t dest)
{
	pb_env_put_u32(m->m_buf + m->m_len, dest);
	m->m_len += PB_ENV_GONE_ENTRY;
	msg_count(m);
}

static void msg_hello(struct msg *m, uint64_t park, uint64_t outbox)
{
	msg_start(m, PB_ENV_HELLO, 0);
	pb_env_put_u64(m->m_buf + m->m_len, park);
	pb_env_put_u64(m->m_buf + m->m_len + 8, outbox);
	m->m_len += PB_ENV_HELLO_BODY;
}

/* What the daemon does with a message from NATS: header, then body. */
static enum pb_env_error msg_verdict(const unsigned char *p, size_t len,
				     size_t max_frame)
{
	struct pb_env_header h;
	enum pb_env_error e = pb_env_get_header(p, len, &h);

	return e != PB_ENV_OK ? e : pb_env_check(p, len, max_frame);
}

static enum pb_env_error msg_check(const struct msg *m)
{
	return msg_verdict(m->m_buf, m->m_len, MAX_FRAME);
}

/* ---- the header ---- */

START_TEST(test_env_header_round_trip)
{
	static const struct pb_env_header cases[] = {
		{PB_ENV_DATA, 0, 1, 0, 1},
		{PB_ENV_ACK, 1, 0x0123456789abcdefull, 0xfedcba9876543210ull,
		 42},
		{PB_ENV_GONE, 0xffff, UINT64_MAX, UINT64_MAX, UINT64_MAX},
		{PB_ENV_HELLO, 0x8001, 0x8000000000000001ull, 0, 0},
		{PB_ENV_NAK, 0x00ff, 0xff, 0xff00, 0x100000000ull},
		{PB_ENV_ENDED, 0x0100, 0x0102030405060708ull,
		 0x1112131415161718ull, 0x2122232425262728ull},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char p[PB_ENV_HEADER + 1];
		struct pb_env_header got;

		memset(p, 0xa5, sizeof(p));
		pb_env_put_header(p, &cases[i]);
		/* Exactly PB_ENV_HEADER bytes written. */
		ck_assert_uint_eq(p[PB_ENV_HEADER], 0xa5);
		ck_assert_uint_eq(p[0], PB_ENV_VERSION);
		memset(&got, 0, sizeof(got));
		ck_assert_int_eq(pb_env_get_header(p, PB_ENV_HEADER, &got),
				 PB_ENV_OK);
		ck_assert_uint_eq(got.eh_type, cases[i].eh_type);
		ck_assert_uint_eq(got.eh_src_node, cases[i].eh_src_node);
		ck_assert_uint_eq(got.eh_src_epoch, cases[i].eh_src_epoch);
		ck_assert_uint_eq(got.eh_dst_epoch, cases[i].eh_dst_epoch);
		ck_assert_uint_eq(got.eh_seq, cases[i].eh_seq);
	}
}
END_TEST

/* The layout envelope.h documents: big-endian, field by field. */
START_TEST(test_env_header_layout)
{
	struct pb_env_header h = {
		.eh_type = PB_ENV_NAK,
		.eh_src_node = 0x0102,
		.eh_src_epoch = 0x030405060708090aull,
		.eh_dst_epoch = 0x0b0c0d0e0f101112ull,
		.eh_seq = 0x131415161718191aull,
	};
	static const unsigned char want[PB_ENV_HEADER] = {
		PB_ENV_VERSION, PB_ENV_NAK, 0x01, 0x02, 0x03, 0x04, 0x05,
		0x06,		0x07,	    0x08, 0x09, 0x0a, 0x0b, 0x0c,
		0x0d,		0x0e,	    0x0f, 0x10, 0x11, 0x12, 0x13,
		0x14,		0x15,	    0x16, 0x17, 0x18, 0x19, 0x1a,
	};
	unsigned char p[PB_ENV_HEADER];

	pb_env_put_header(p, &h);
	ck_assert_mem_eq(p, want, PB_ENV_HEADER);
}
END_TEST

START_TEST(test_env_u32_u64)
{
	unsigned char p[8];

	pb_env_put_u32(p, 0xdeadbeef);
	ck_assert_uint_eq(p[0], 0xde);
	ck_assert_uint_eq(p[3], 0xef);
	ck_assert_uint_eq(pb_env_get_u32(p), 0xdeadbeef);
	pb_env_put_u64(p, 0x0123456789abcdefull);
	ck_assert_uint_eq(p[0], 0x01);
	ck_assert_uint_eq(p[7], 0xef);
	ck_assert_uint_eq(pb_env_get_u64(p), 0x0123456789abcdefull);
}
END_TEST

/* ---- well-formed messages pass ---- */

START_TEST(test_env_check_accepts_data)
{
	struct msg m;

	msg_start(&m, PB_ENV_DATA, 1);
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK); /* empty: allowed */
	msg_data(&m, 7, "a\0", 2);
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
	msg_data(&m, 8, "\0", 1); /* an empty payload is one 0x00 */
	msg_data(&m, 7, "one\0two\0three\0", 14);
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
}
END_TEST

START_TEST(test_env_check_accepts_control)
{
	static const enum pb_env_type types[] = {PB_ENV_ACK, PB_ENV_NAK,
						 PB_ENV_ENDED};
	struct msg m;
	size_t i;

	for (i = 0; i < 3; i++) {
		msg_start(&m, types[i], 5);
		ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
		msg_ack(&m, 1, 100);
		msg_ack(&m, 2, UINT64_MAX);
		ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
	}
	msg_start(&m, PB_ENV_GONE, 0);
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
	msg_gone(&m, 0x10000001);
	msg_gone(&m, 0x10000002);
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
	msg_hello(&m, 1 << 20, 1 << 16);
	ck_assert_uint_eq(m.m_len, PB_ENV_HEADER + PB_ENV_HELLO_BODY);
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
}
END_TEST

/* A frame of exactly max_frame bytes (its 0x00 included) passes. */
START_TEST(test_env_check_max_frame_exact)
{
	unsigned char f[MAX_FRAME];
	struct msg m;

	memset(f, 'x', sizeof(f));
	f[MAX_FRAME - 1] = 0;
	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, f, sizeof(f));
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
	/* Two of them in one entry: each is judged alone. */
	msg_start(&m, PB_ENV_DATA, 1);
	{
		unsigned char two[2 * MAX_FRAME];

		memcpy(two, f, MAX_FRAME);
		memcpy(two + MAX_FRAME, f, MAX_FRAME);
		msg_data(&m, 1, two, sizeof(two));
	}
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
}
END_TEST

/* ---- what is refused ---- */

START_TEST(test_env_refuses_short_header)
{
	struct msg m;
	struct pb_env_header h;
	size_t len;

	msg_start(&m, PB_ENV_DATA, 1);
	for (len = 0; len < PB_ENV_HEADER; len++)
		ck_assert_int_eq(pb_env_get_header(m.m_buf, len, &h),
				 PB_ENV_SHORT);
	/* A header alone is a header, but no DATA: its count is missing. */
	ck_assert_int_eq(msg_verdict(m.m_buf, PB_ENV_HEADER, MAX_FRAME),
			 PB_ENV_SHORT);
	for (len = PB_ENV_HEADER; len < PB_ENV_HEADER + 4; len++)
		ck_assert_int_eq(msg_verdict(m.m_buf, len, MAX_FRAME),
				 PB_ENV_SHORT);
}
END_TEST

START_TEST(test_env_refuses_version)
{
	struct msg m;
	struct pb_env_header h;
	static const unsigned char versions[] = {0, 2, 0x81, 0xff};
	size_t i;

	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, "x\0", 2);
	for (i = 0; i < sizeof(versions); i++) {
		m.m_buf[0] = versions[i];
		ck_assert_int_eq(pb_env_get_header(m.m_buf, m.m_len, &h),
				 PB_ENV_VERSION_BAD);
	}
	ck_assert_str_eq(pb_env_error_text(PB_ENV_VERSION_BAD),
			 "wrong version");
}
END_TEST

START_TEST(test_env_refuses_type)
{
	struct msg m;
	struct pb_env_header h;
	unsigned t;

	msg_start(&m, PB_ENV_GONE, 0);
	for (t = 0; t < 256; t++) {
		m.m_buf[1] = (unsigned char)t;
		if (t >= PB_ENV_DATA && t <= PB_ENV_ENDED)
			ck_assert_int_eq(
				pb_env_get_header(m.m_buf, m.m_len, &h),
				PB_ENV_OK);
		else
			ck_assert_int_eq(
				pb_env_get_header(m.m_buf, m.m_len, &h),
				PB_ENV_TYPE_BAD);
	}
	ck_assert_str_eq(pb_env_error_text(PB_ENV_TYPE_BAD), "unknown type");
}
END_TEST

/* More entries announced than the bytes hold, for every type with
 * entries. */
START_TEST(test_env_refuses_count_past_end)
{
	static const uint32_t counts[] = {1, 2, 3, 0x7fffffff, UINT32_MAX};
	struct msg m;
	size_t i;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		msg_start(&m, PB_ENV_DATA, 1);
		if (counts[i] > 1)
			msg_data(&m, 1, "x\0", 2);
		pb_env_put_u32(m.m_buf + PB_ENV_HEADER, counts[i]);
		ck_assert_int_eq(msg_check(&m), PB_ENV_SHORT);

		msg_start(&m, PB_ENV_ACK, 1);
		if (counts[i] > 1)
			msg_ack(&m, 1, 1);
		pb_env_put_u32(m.m_buf + PB_ENV_HEADER, counts[i]);
		ck_assert_int_eq(msg_check(&m), PB_ENV_SHORT);

		msg_start(&m, PB_ENV_GONE, 0);
		if (counts[i] > 1)
			msg_gone(&m, 1);
		pb_env_put_u32(m.m_buf + PB_ENV_HEADER, counts[i]);
		ck_assert_int_eq(msg_check(&m), PB_ENV_SHORT);
	}
}
END_TEST

/* An entry whose head is whole but whose length runs past the end; one
 * whose head itself is cut. */
START_TEST(test_env_refuses_entry_past_end)
{
	struct msg m;
	size_t len;

	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, "hello\0", 6);
	for (len = PB_ENV_HEADER + 4 + 1; len < m.m_len; len++)
		ck_assert_int_eq(msg_verdict(m.m_buf, len, MAX_FRAME),
				 PB_ENV_SHORT);
	/* The length field says one byte more than there is. */
	pb_env_put_u32(m.m_buf + PB_ENV_HEADER + 4 + 4, 7);
	ck_assert_int_eq(msg_check(&m), PB_ENV_SHORT);
	pb_env_put_u32(m.m_buf + PB_ENV_HEADER + 4 + 4, UINT32_MAX);
	ck_assert_int_eq(msg_check(&m), PB_ENV_SHORT);

	msg_start(&m, PB_ENV_ENDED, 1);
	msg_ack(&m, 1, 1);
	ck_assert_int_eq(msg_verdict(m.m_buf, m.m_len - 1, MAX_FRAME),
			 PB_ENV_SHORT);
}
END_TEST

START_TEST(test_env_refuses_entry_without_nul)
{
	struct msg m;

	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, "abc", 3);
	ck_assert_int_eq(msg_check(&m), PB_ENV_ENTRY_BAD);
	/* Whole frames, then a piece of one. */
	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, "a\0b\0c", 5);
	ck_assert_int_eq(msg_check(&m), PB_ENV_ENTRY_BAD);
	/* A good entry, then a bad one. */
	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, "a\0", 2);
	msg_data(&m, 2, "b", 1);
	ck_assert_int_eq(msg_check(&m), PB_ENV_ENTRY_BAD);
	ck_assert_str_eq(pb_env_error_text(PB_ENV_ENTRY_BAD),
			 "an entry that is not whole frames");
}
END_TEST

START_TEST(test_env_refuses_empty_entry)
{
	struct msg m;

	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, "", 0);
	ck_assert_int_eq(msg_check(&m), PB_ENV_ENTRY_BAD);
	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, "a\0", 2);
	msg_data(&m, 2, "", 0);
	ck_assert_int_eq(msg_check(&m), PB_ENV_ENTRY_BAD);
}
END_TEST

START_TEST(test_env_refuses_frame_over_max)
{
	unsigned char f[2 * MAX_FRAME + 1];
	struct msg m;

	memset(f, 'x', sizeof(f));
	f[MAX_FRAME] = 0; /* one byte over */
	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, f, MAX_FRAME + 1);
	ck_assert_int_eq(msg_check(&m), PB_ENV_ENTRY_BAD);
	/* The same message with a larger --max-frame passes. */
	ck_assert_int_eq(msg_verdict(m.m_buf, m.m_len, MAX_FRAME + 1),
			 PB_ENV_OK);
	/* A short frame, then a long one in the same entry. */
	f[0] = 0;
	f[MAX_FRAME] = 'x';
	f[2 * MAX_FRAME] = 0;
	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, f, 2 * MAX_FRAME + 1);
	ck_assert_int_eq(msg_check(&m), PB_ENV_ENTRY_BAD);
}
END_TEST

START_TEST(test_env_refuses_trailing_bytes)
{
	struct msg m;

	msg_start(&m, PB_ENV_DATA, 1);
	msg_data(&m, 1, "a\0", 2);
	m.m_buf[m.m_len++] = 0;
	ck_assert_int_eq(msg_check(&m), PB_ENV_LONG);

	msg_start(&m, PB_ENV_ACK, 1);
	msg_ack(&m, 1, 1);
	m.m_len += 3;
	ck_assert_int_eq(msg_check(&m), PB_ENV_LONG);

	/* No entries announced, yet bytes follow. */
	msg_start(&m, PB_ENV_GONE, 0);
	msg_gone(&m, 5);
	pb_env_put_u32(m.m_buf + PB_ENV_HEADER, 0);
	ck_assert_int_eq(msg_check(&m), PB_ENV_LONG);
	ck_assert_str_eq(pb_env_error_text(PB_ENV_LONG), "bytes after its end");
}
END_TEST

START_TEST(test_env_refuses_hello_length)
{
	struct msg m;
	size_t len;

	msg_hello(&m, 1, 2);
	for (len = PB_ENV_HEADER; len < m.m_len; len++)
		ck_assert_int_eq(msg_verdict(m.m_buf, len, MAX_FRAME),
				 PB_ENV_SHORT);
	ck_assert_int_eq(msg_verdict(m.m_buf, m.m_len + 1, MAX_FRAME),
			 PB_ENV_LONG);
	ck_assert_int_eq(msg_verdict(m.m_buf, m.m_len + 100, MAX_FRAME),
			 PB_ENV_LONG);
}
END_TEST

START_TEST(test_env_error_texts)
{
	ck_assert_str_eq(pb_env_error_text(PB_ENV_OK), "ok");
	ck_assert_str_eq(pb_env_error_text(PB_ENV_SHORT), "truncated");
	ck_assert_str_eq(pb_env_error_text((enum pb_env_error)99), "?");
}
END_TEST

/* ---- walking entries ---- */

START_TEST(test_env_next_data)
{
	struct msg m;
	struct pb_env_iter it;
	struct pb_env_entry e;

	msg_start(&m, PB_ENV_DATA, 9);
	msg_data(&m, 0x10000001, "one\0", 4);
	msg_data(&m, 0x20000002, "two\0three\0", 10);
	msg_data(&m, 0xffffffff, "\0", 1);
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
	pb_env_iter_init(&it, m.m_buf, m.m_len);
	ck_assert(pb_env_next(&it, PB_ENV_DATA, &e));
	ck_assert_uint_eq(e.ee_dest, 0x10000001);
	ck_assert_uint_eq(e.ee_len, 4);
	ck_assert_mem_eq(e.ee_data, "one\0", 4);
	ck_assert_uint_eq(e.ee_consumed, 0);
	ck_assert(pb_env_next(&it, PB_ENV_DATA, &e));
	ck_assert_uint_eq(e.ee_dest, 0x20000002);
	ck_assert_uint_eq(e.ee_len, 10);
	ck_assert_mem_eq(e.ee_data, "two\0three\0", 10);
	ck_assert(pb_env_next(&it, PB_ENV_DATA, &e));
	ck_assert_uint_eq(e.ee_dest, 0xffffffff);
	ck_assert_uint_eq(e.ee_len, 1);
	ck_assert_ptr_eq(e.ee_data + e.ee_len, m.m_buf + m.m_len);
	ck_assert(!pb_env_next(&it, PB_ENV_DATA, &e));
	ck_assert(!pb_env_next(&it, PB_ENV_DATA, &e));
}
END_TEST

START_TEST(test_env_next_control)
{
	static const enum pb_env_type types[] = {PB_ENV_ACK, PB_ENV_NAK,
						 PB_ENV_ENDED};
	struct msg m;
	struct pb_env_iter it;
	struct pb_env_entry e;
	size_t i;

	for (i = 0; i < 3; i++) {
		msg_start(&m, types[i], 3);
		msg_ack(&m, 11, 0x0102030405060708ull);
		msg_ack(&m, 12, 7);
		ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
		pb_env_iter_init(&it, m.m_buf, m.m_len);
		ck_assert(pb_env_next(&it, types[i], &e));
		ck_assert_uint_eq(e.ee_dest, 11);
		ck_assert_uint_eq(e.ee_consumed, 0x0102030405060708ull);
		ck_assert_ptr_null(e.ee_data);
		ck_assert(pb_env_next(&it, types[i], &e));
		ck_assert_uint_eq(e.ee_dest, 12);
		ck_assert_uint_eq(e.ee_consumed, 7);
		ck_assert(!pb_env_next(&it, types[i], &e));
	}
	msg_start(&m, PB_ENV_GONE, 0);
	msg_gone(&m, 21);
	msg_gone(&m, 22);
	msg_gone(&m, 23);
	ck_assert_int_eq(msg_check(&m), PB_ENV_OK);
	pb_env_iter_init(&it, m.m_buf, m.m_len);
	for (i = 21; i <= 23; i++) {
		ck_assert(pb_env_next(&it, PB_ENV_GONE, &e));
		ck_assert_uint_eq(e.ee_dest, i);
		ck_assert_uint_eq(e.ee_consumed, 0);
	}
	ck_assert(!pb_env_next(&it, PB_ENV_GONE, &e));
	/* No entries: nothing to walk. */
	msg_start(&m, PB_ENV_ACK, 3);
	pb_env_iter_init(&it, m.m_buf, m.m_len);
	ck_assert(!pb_env_next(&it, PB_ENV_ACK, &e));
}
END_TEST

START_TEST(test_env_frames)
{
	ck_assert_uint_eq(pb_env_frames((const unsigned char *)"", 0), 0);
	ck_assert_uint_eq(pb_env_frames((const unsigned char *)"\0", 1), 1);
	ck_assert_uint_eq(pb_env_frames((const unsigned char *)"abc", 3), 0);
	ck_assert_uint_eq(pb_env_frames((const unsigned char *)"a\0b\0", 4), 2);
	ck_assert_uint_eq(pb_env_frames((const unsigned char *)"\0\0\0", 3), 3);
	/* A piece of a frame after the last 0x00 is no frame. */
	ck_assert_uint_eq(pb_env_frames((const unsigned char *)"a\0bc", 4), 1);
	/* Only the bytes given are looked at. */
	ck_assert_uint_eq(pb_env_frames((const unsigned char *)"a\0b\0", 2), 1);
}
END_TEST

static Suite *envelope_suite(void)
{
	Suite *s = suite_create("envelope");
	TCase *tc = tcase_create("header");

	tcase_add_test(tc, test_env_header_round_trip);
	tcase_add_test(tc, test_env_header_layout);
	tcase_add_test(tc, test_env_u32_u64);
	suite_add_tcase(s, tc);
	tc = tcase_create("check");
	tcase_add_test(tc, test_env_check_accepts_data);
	tcase_add_test(tc, test_env_check_accepts_control);
	tcase_add_test(tc, test_env_check_max_frame_exact);
	tcase_add_test(tc, test_env_refuses_short_header);
	tcase_add_test(tc, test_env_refuses_version);
	tcase_add_test(tc, test_env_refuses_type);
	tcase_add_test(tc, test_env_refuses_count_past_end);
	tcase_add_test(tc, test_env_refuses_entry_past_end);
	tcase_add_test(tc, test_env_refuses_entry_without_nul);
	tcase_add_test(tc, test_env_refuses_empty_entry);
	tcase_add_test(tc, test_env_refuses_frame_over_max);
	tcase_add_test(tc, test_env_refuses_trailing_bytes);
	tcase_add_test(tc, test_env_refuses_hello_length);
	tcase_add_test(tc, test_env_error_texts);
	suite_add_tcase(s, tc);
	tc = tcase_create("walk");
	tcase_add_test(tc, test_env_next_data);
	tcase_add_test(tc, test_env_next_control);
	tcase_add_test(tc, test_env_frames);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(envelope_suite());
}
