/* SPDX-License-Identifier: ISC */
/*
 * check_cat_units.c: unit tests of patchbay-cat's pieces that do no I/O
 * (src/cat): the addresses it takes, hex both ways, lines of input made
 * into frames or refused with their number, whichever way the input is
 * cut, and messages from the daemon made into lines, a message cut
 * anywhere kept until its 0x00. check_cat.c runs the program itself.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "hex.h"
#include "input.h"
#include "recv.h"
#include "run.h"

/* --- addresses ---------------------------------------------------------- */

START_TEST(test_addr_forms)
{
	struct cat_addr a;
	char err[256];

	ck_assert_int_eq(cat_addr_parse("127.0.0.1:8080", &a, err, sizeof err),
			 0);
	ck_assert_int_eq(a.ad_kind, CAT_ADDR_TCP);
	ck_assert_str_eq(a.ad_host, "127.0.0.1");
	ck_assert_str_eq(a.ad_port, "8080");
	ck_assert_int_eq(cat_addr_parse("tcp:localhost:1", &a, err, sizeof err),
			 0);
	ck_assert_str_eq(a.ad_host, "localhost");
	ck_assert_int_eq(cat_addr_parse("[::1]:65535", &a, err, sizeof err), 0);
	ck_assert_str_eq(a.ad_host, "::1");
	ck_assert_str_eq(a.ad_port, "65535");
	ck_assert_int_eq(
		cat_addr_parse("unix:/run/p.sock", &a, err, sizeof err), 0);
	ck_assert_int_eq(a.ad_kind, CAT_ADDR_UNIX);
	ck_assert_str_eq(a.ad_path, "/run/p.sock");
	ck_assert_int_eq(cat_addr_parse("tls:h:443", &a, err, sizeof err), 0);
	ck_assert_int_eq(a.ad_kind, CAT_ADDR_TLS);
}
END_TEST

START_TEST(test_addr_refused)
{
	static const char *const bad[] = {
		"8080",	 "host",  ":8080",  "h:0",   "h:65536", "h:",	"h:8x",
		"::1:8", "[::1]", "[::1]8", "unix:", "tls:h",	"h:-1", "h: 1",
	};
	char err[256], longpath[200];
	struct cat_addr a;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_msg(cat_addr_parse(bad[i], &a, err, sizeof err) < 0,
			      "'%s' taken", bad[i]);
		ck_assert_msg(err[0] != '\0', "'%s': no message", bad[i]);
	}
	memset(longpath, 'p', sizeof longpath);
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof longpath - 1] = '\0';
	ck_assert_int_lt(cat_addr_parse(longpath, &a, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

/* --- hex ------------------------------------------------------------------ */

START_TEST(test_hex_round_trip)
{
	unsigned char bytes[256], back[256];
	char text[512];
	size_t i;

	for (i = 0; i < sizeof bytes; i++)
		bytes[i] = (unsigned char)i;
	cat_hex_encode(bytes, sizeof bytes, text);
	ck_assert_int_eq(memcmp(text, "000102", 6), 0);
	ck_assert_int_eq(memcmp(text + 2 * 0xfe, "feff", 4), 0);
	ck_assert_uint_eq(cat_hex_decode(text, sizeof back, back), sizeof back);
	ck_assert_int_eq(memcmp(bytes, back, sizeof bytes), 0);
	ck_assert_uint_eq(cat_hex_decode("0A0b", 2, back), 2);
	ck_assert_uint_eq(back[0], 0x0a);
	ck_assert_uint_eq(back[1], 0x0b);
	ck_assert_uint_eq(cat_hex_decode("41zz42", 3, back), 1);
	ck_assert_uint_eq(cat_hex_decode("4 ", 1, back), 0);
}
END_TEST

/* --- input ------------------------------------------------------------- */

/* An input under test, with what it sent and what it said. */
struct feed {
	struct cat_input f_in;
	struct cat_buf f_out;
	char *f_errs;
	size_t f_errlen;
	FILE *f_errf;
};

static void feed_init(struct feed *f, bool has_to, uint32_t to, bool hex,
		      size_t max_frame)
{
	memset(f, 0, sizeof *f);
	cat_input_init(&f->f_in, has_to, to, hex, max_frame);
	f->f_errf = open_memstream(&f->f_errs, &f->f_errlen);
	ck_assert_ptr_nonnull(f->f_errf);
}

/* Feeds text cut into pieces of `step` bytes, then the end of input. */
static void feed_text(struct feed *f, const char *text, size_t len, size_t step)
{
	size_t i, n;

	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		ck_assert_int_eq(cat_input_feed(&f->f_in, text + i, n,
						&f->f_out, f->f_errf),
				 0);
	}
	ck_assert_int_eq(cat_input_end(&f->f_in, &f->f_out, f->f_errf), 0);
	fflush(f->f_errf);
}

static void feed_free(struct feed *f)
{
	fclose(f->f_errf);
	free(f->f_errs);
	cat_input_free(&f->f_in);
	cat_buf_free(&f->f_out);
}

/* Appends a frame as the protocol writes it. */
static void frame(struct cat_buf *b, uint32_t id, const void *p, size_t n)
{
	unsigned char hdr[4] = {(unsigned char)(id >> 24),
				(unsigned char)(id >> 16),
				(unsigned char)(id >> 8), (unsigned char)id};

	ck_assert_int_eq(cat_buf_add(b, hdr, sizeof hdr), 0);
	ck_assert_int_eq(cat_buf_add(b, p, n), 0);
	ck_assert_int_eq(cat_buf_add(b, "", 1), 0);
}

static void expect_frames(const struct feed *f, const struct cat_buf *want)
{
	ck_assert_uint_eq(cat_buf_size(&f->f_out), cat_buf_size(want));
	ck_assert_int_eq(memcmp(cat_buf_head(&f->f_out), cat_buf_head(want),
				cat_buf_size(want)),
			 0);
}

/* However the input is cut, the same frames: ids, empty texts, spaces
 * kept, a last line without its newline, the largest id. */
START_TEST(test_input_lines_to_frames)
{
	static const char text[] = "1 hello\n"
				   "22  two spaces\n"
				   "3\n"
				   "4294967295 max id\n"
				   "0 last, no newline";
	struct cat_buf want = {0};
	struct feed f;
	size_t step;

	frame(&want, 1, "hello", 5);
	frame(&want, 22, " two spaces", 11);
	frame(&want, 3, "", 0);
	frame(&want, UINT32_MAX, "max id", 6);
	frame(&want, 0, "last, no newline", 16);
	for (step = 1; step <= sizeof text; step++) {
		feed_init(&f, false, 0, false, 65536);
		feed_text(&f, text, sizeof text - 1, step);
		expect_frames(&f, &want);
		ck_assert_uint_eq(f.f_errlen, 0);
		ck_assert_uint_eq(f.f_in.in_sent, 5);
		feed_free(&f);
	}
	cat_buf_free(&want);
}
END_TEST

START_TEST(test_input_to_sends_lines_as_they_are)
{
	static const char text[] = "12 not an id here\n\nx\n";
	struct cat_buf want = {0};
	struct feed f;

	frame(&want, 7, "12 not an id here", 17);
	frame(&want, 7, "", 0);
	frame(&want, 7, "x", 1);
	feed_init(&f, true, 7, false, 65536);
	feed_text(&f, text, sizeof text - 1, sizeof text);
	expect_frames(&f, &want);
	ck_assert_uint_eq(f.f_errlen, 0);
	feed_free(&f);
	cat_buf_free(&want);
}
END_TEST

/* Each bad line is refused with its number and a reason; the good ones
 * around it go. */
START_TEST(test_input_bad_lines_refused_by_number)
{
	static const char text[] = "1 ok\n"
				   "\n"
				   "x hello\n"
				   "4294967296 too big\n"
				   "12345678901 digits\n"
				   "5x no space\n"
				   "2 a\0b\n"
				   "3 ok again\n";
	struct cat_buf want = {0};
	struct feed f;

	frame(&want, 1, "ok", 2);
	frame(&want, 3, "ok again", 8);
	feed_init(&f, false, 0, false, 65536);
	feed_text(&f, text, sizeof text - 1, 3);
	expect_frames(&f, &want);
	ck_assert_uint_eq(f.f_in.in_refused, 6);
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 2 refused: no id"));
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 3 refused: no id"));
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 4 refused: '4294967296"));
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 5 refused: '1234567890"));
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 6 refused: '5x"));
	ck_assert_ptr_nonnull(strstr(f.f_errs,
				     "line 7 refused: its text holds a 0x00 "
				     "(byte 2)"));
	ck_assert_ptr_null(strstr(f.f_errs, "line 1 "));
	ck_assert_ptr_null(strstr(f.f_errs, "line 8 "));
	feed_free(&f);
	cat_buf_free(&want);
}
END_TEST

/* --max-frame counts the 0x00: with 8, 7 bytes of text go, 8 do not;
 * a line far longer is only counted, not kept. */
START_TEST(test_input_max_frame_boundary)
{
	struct cat_buf want = {0};
	struct feed f;
	char *big;
	size_t n = 1 << 20;

	frame(&want, 1, "1234567", 7);
	frame(&want, 1, "after", 5);
	big = malloc(n + 20);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "1 1234567\n1 12345678\n1 ", 23);
	memset(big + 23, 'y', n - 23);
	memcpy(big + n, "\n1 after\n", 9);
	feed_init(&f, false, 0, false, 8);
	feed_text(&f, big, n + 9, 4096);
	expect_frames(&f, &want);
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 2 refused: its text is 8 "
					       "bytes, --max-frame allows 7"));
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 3 refused: its text is"));
	ck_assert_uint_le(f.f_in.in_line.b_cap, 4096); /* not the 1 MiB */
	feed_free(&f);
	free(big);
	cat_buf_free(&want);
}
END_TEST

/* --from-hex: any byte but 0x00, newlines included; odd digits, a bad
 * digit and a 0x00 refused; the limit counts bytes, not digits. */
START_TEST(test_input_from_hex)
{
	static const char text[] = "9 0a00\n"
				   "9 680a69ff\n"
				   "9 6\n"
				   "9 6g\n"
				   "9 00\n"
				   "9 41424344454647\n"
				   "9 4142434445464748\n"
				   "9\n";
	struct cat_buf want = {0};
	struct feed f;

	frame(&want, 9, "h\ni\xff", 4);
	frame(&want, 9, "ABCDEFG", 7);
	frame(&want, 9, "", 0);
	feed_init(&f, false, 0, true, 8);
	feed_text(&f, text, sizeof text - 1, 5);
	expect_frames(&f, &want);
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 1 refused: its text holds "
					       "a 0x00 (byte 2)"));
	ck_assert_ptr_nonnull(
		strstr(f.f_errs, "line 3 refused: an odd number"));
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 4 refused: '6g' is not"));
	ck_assert_ptr_nonnull(strstr(f.f_errs, "line 5 refused: its text holds "
					       "a 0x00 (byte 1)"));
	ck_assert_ptr_nonnull(
		strstr(f.f_errs, "line 7 refused: its text is 8"));
	ck_assert_uint_eq(f.f_in.in_refused, 5);
	feed_free(&f);
	cat_buf_free(&want);
}
END_TEST

/* --- received messages ---------------------------------------------------- */

static void recv_add(struct cat_recv *r, const void *p, size_t n)
{
	ck_assert_int_eq(cat_buf_add(&r->rv_buf, p, n), 0);
}

/* A stream cut at every byte gives the same lines; a message is printed
 * only once its 0x00 has come. */
START_TEST(test_recv_lines_whatever_the_cut)
{
	static const char stream[] = "one\0\0three, long\0";
	size_t i;

	for (i = 0; i <= sizeof stream - 1; i++) {
		struct cat_recv r = {0};
		struct cat_buf out = {0};

		recv_add(&r, stream, i);
		ck_assert_int_ge(cat_recv_lines(&r, &out, (unsigned long)-1),
				 0);
		recv_add(&r, stream + i, sizeof stream - 1 - i);
		ck_assert_int_ge(cat_recv_lines(&r, &out, (unsigned long)-1),
				 0);
		ck_assert_uint_eq(cat_buf_size(&out), 4 + 1 + 12);
		ck_assert_int_eq(
			memcmp(cat_buf_head(&out), "one\n\nthree, long\n", 17),
			0);
		ck_assert_uint_eq(cat_recv_partial(&r), 0);
		cat_recv_free(&r);
		cat_buf_free(&out);
	}
}
END_TEST

START_TEST(test_recv_partial_kept_and_max)
{
	struct cat_recv r = {0};
	struct cat_buf out = {0};

	recv_add(&r, "a\0b\0c\0par", 9);
	ck_assert_int_eq(cat_recv_lines(&r, &out, 2), 2);
	ck_assert_uint_eq(cat_buf_size(&out), 4);
	ck_assert_int_eq(cat_recv_lines(&r, &out, 5), 1);
	ck_assert_uint_eq(cat_recv_partial(&r), 3);
	recv_add(&r, "tial\0", 5);
	ck_assert_int_eq(cat_recv_lines(&r, &out, 5), 1);
	ck_assert_uint_eq(cat_buf_size(&out), 6 + 8);
	ck_assert_int_eq(memcmp(cat_buf_head(&out), "a\nb\nc\npartial\n", 14),
			 0);
	cat_recv_free(&r);
	cat_buf_free(&out);
}
END_TEST

START_TEST(test_recv_hex)
{
	struct cat_recv r = {.rv_hex = true};
	struct cat_buf out = {0};

	recv_add(&r, "h\ni\xff\0\0", 6);
	ck_assert_int_eq(cat_recv_lines(&r, &out, 9), 2);
	ck_assert_uint_eq(cat_buf_size(&out), 10);
	ck_assert_int_eq(memcmp(cat_buf_head(&out), "680a69ff\n\n", 10), 0);
	cat_recv_free(&r);
	cat_buf_free(&out);
}
END_TEST

static Suite *cat_units_suite(void)
{
	Suite *s = suite_create("cat_units");
	TCase *tc = tcase_create("units");

	tcase_add_test(tc, test_addr_forms);
	tcase_add_test(tc, test_addr_refused);
	tcase_add_test(tc, test_hex_round_trip);
	tcase_add_test(tc, test_input_lines_to_frames);
	tcase_add_test(tc, test_input_to_sends_lines_as_they_are);
	tcase_add_test(tc, test_input_bad_lines_refused_by_number);
	tcase_add_test(tc, test_input_max_frame_boundary);
	tcase_add_test(tc, test_input_from_hex);
	tcase_add_test(tc, test_recv_lines_whatever_the_cut);
	tcase_add_test(tc, test_recv_partial_kept_and_max);
	tcase_add_test(tc, test_recv_hex);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(cat_units_suite());
}
