/* SPDX-License-Identifier: ISC */
/*
 * check_outbox.c: unit tests of the bounded byte queue (outbox.h).
 *
 * The outbox is where the daemon's bounded-memory and no-split guarantees
 * live: it must never take more than its limit, must take an append whole
 * or not at all, must keep bytes in order across the wrap of its ring,
 * must give its memory back (and the budget's charge) when it empties, and
 * must move only whole frames between queues. Each test checks the queued
 * bytes through pb_outbox_peek, the way the writer sees them. A write must
 * count exactly the frames it finished (what is counted as forwarded), and
 * waiting senders are woken once the outbox is down to half its limit.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "outbox.h"
#include "run.h"

#define BIG 4096 /* larger than any outbox in these tests */

/* Copies the queued bytes, as pb_outbox_peek describes them, into out;
 * returns how many there are and sets *pieces to what peek returned. */
static size_t ob_contents(const struct pb_outbox *ob, char *out, size_t cap,
			  int *pieces)
{
	struct iovec iov[2];
	size_t n = 0;
	int i, k;

	k = pb_outbox_peek(ob, iov);
	ck_assert_int_ge(k, 0);
	ck_assert_int_le(k, 2);
	for (i = 0; i < k; i++) {
		ck_assert_uint_le(n + iov[i].iov_len, cap);
		memcpy(out + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	if (pieces != NULL)
		*pieces = k;
	return n;
}

/* Fails unless the outbox holds exactly the n bytes at want. */
static void ob_assert_holds(const struct pb_outbox *ob, const void *want,
			    size_t n)
{
	char got[BIG];
	int pieces;
	size_t len = ob_contents(ob, got, sizeof(got), &pieces);

	ck_assert_uint_eq(pb_outbox_len(ob), n);
	ck_assert_uint_eq(len, n);
	if (n > 0)
		ck_assert_mem_eq(got, want, n);
	ck_assert_int_eq(pieces == 0, n == 0);
	ck_assert_int_eq(pb_outbox_empty(ob), n == 0);
}

static void ob_append_ok(struct pb_outbox *ob, const void *p, size_t n)
{
	ck_assert_int_eq(pb_outbox_append(ob, p, n), 0);
}

/* A small deterministic generator for the model-checked tests. */
static uint32_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

START_TEST(test_outbox_starts_empty_without_memory)
{
	struct pb_outbox ob;
	struct iovec iov[2];

	pb_outbox_init(&ob, 64, NULL);
	ck_assert_ptr_null(ob.ob_buf);
	ck_assert_uint_eq(ob.ob_cap, 0);
	ck_assert_uint_eq(pb_outbox_len(&ob), 0);
	ck_assert_uint_eq(pb_outbox_room(&ob), 64);
	ck_assert(pb_outbox_empty(&ob));
	ck_assert_int_eq(pb_outbox_peek(&ob, iov), 0);
	ck_assert_uint_eq(pb_outbox_count_frames(&ob), 0);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_outbox_append_exactly_up_to_limit)
{
	char data[64], got[BIG];
	struct pb_outbox ob, before;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i + 1);
	pb_outbox_init(&ob, 64, NULL);
	ob_append_ok(&ob, data, 10);
	ob_append_ok(&ob, data + 10, 20);
	ob_append_ok(&ob, data + 30, 34);
	ck_assert_uint_eq(pb_outbox_room(&ob), 0);
	ob_assert_holds(&ob, data, 64);

	/* One byte more fails and changes nothing. */
	before = ob;
	errno = 0;
	ck_assert_int_eq(pb_outbox_append(&ob, "x", 1), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_ptr_eq(ob.ob_buf, before.ob_buf);
	ck_assert_uint_eq(ob.ob_cap, before.ob_cap);
	ck_assert_uint_eq(ob.ob_head, before.ob_head);
	ck_assert_uint_eq(ob.ob_len, before.ob_len);
	ck_assert_uint_eq(ob.ob_limit, 64);
	ob_assert_holds(&ob, data, 64);

	/* Room made by consuming is usable again, exactly. */
	pb_outbox_consume(&ob, 5);
	ck_assert_uint_eq(pb_outbox_room(&ob), 5);
	errno = 0;
	ck_assert_int_eq(pb_outbox_append(&ob, "abcdef", 6), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ob_append_ok(&ob, "abcde", 5);
	ck_assert_uint_eq(ob_contents(&ob, got, sizeof(got), NULL), 64);
	ck_assert_mem_eq(got, data + 5, 59);
	ck_assert_mem_eq(got + 59, "abcde", 5);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_outbox_append_over_limit_into_empty_takes_no_memory)
{
	struct pb_budget b;
	struct pb_outbox ob;
	char data[9] = "12345678";

	pb_budget_init(&b, 1 << 20);
	pb_outbox_init(&ob, 8, &b);
	errno = 0;
	ck_assert_int_eq(pb_outbox_append(&ob, data, 9), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_ptr_null(ob.ob_buf);
	ck_assert_uint_eq(ob.ob_cap, 0);
	ck_assert_uint_eq(pb_outbox_len(&ob), 0);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
	ob_append_ok(&ob, data, 8);
	ob_assert_holds(&ob, data, 8);
	pb_outbox_free(&ob);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_outbox_appendv_is_all_or_nothing)
{
	struct pb_outbox ob;
	struct iovec too_many[3] = {
		{.iov_base = (void *)"12345", .iov_len = 5},
		{.iov_base = (void *)"678", .iov_len = 3},
		{.iov_base = (void *)"9abcd", .iov_len = 5},
	};
	struct iovec fits[4] = {
		{.iov_base = (void *)"12345", .iov_len = 5},
		{.iov_base = (void *)"", .iov_len = 0},
		{.iov_base = (void *)"678", .iov_len = 3},
		{.iov_base = (void *)"9abc", .iov_len = 4},
	};

	pb_outbox_init(&ob, 16, NULL);
	ob_append_ok(&ob, "abcd", 4);
	/* 13 bytes into 12 of room: the first pieces fit, yet none go. */
	errno = 0;
	ck_assert_int_eq(pb_outbox_appendv(&ob, too_many, 3), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ob_assert_holds(&ob, "abcd", 4);
	/* Nothing at all is a success that changes nothing. */
	ck_assert_int_eq(pb_outbox_appendv(&ob, fits, 0), 0);
	ob_assert_holds(&ob, "abcd", 4);
	/* Exactly the room, in order. */
	ck_assert_int_eq(pb_outbox_appendv(&ob, fits, 4), 0);
	ob_assert_holds(&ob, "abcd123456789abc", 16);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_outbox_appendv_over_limit_into_empty_takes_no_memory)
{
	struct pb_budget b;
	struct pb_outbox ob;
	struct iovec iov[2] = {
		{.iov_base = (void *)"1234", .iov_len = 4},
		{.iov_base = (void *)"5678", .iov_len = 4},
	};

	pb_budget_init(&b, 1 << 20);
	pb_outbox_init(&ob, 7, &b);
	errno = 0;
	ck_assert_int_eq(pb_outbox_appendv(&ob, iov, 2), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_ptr_null(ob.ob_buf);
	ck_assert_uint_eq(ob.ob_cap, 0);
	ck_assert_uint_eq(pb_outbox_len(&ob), 0);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
	pb_outbox_free(&ob);
}
END_TEST

/*
 * Appends and consumes at random while keeping a model of the queue, never
 * letting the outbox empty (so its ring is not reset): the head goes round
 * the ring many times, so the queued bytes must at some point be described
 * in two pieces, and must always match the model, in order.
 */
static void random_walk(size_t limit, uint32_t seed, int *saw_two,
			size_t *max_cap)
{
	struct pb_budget b;
	struct pb_outbox ob;
	char model[BIG], got[BIG], chunk[BIG];
	size_t mlen = 0, n, i;
	unsigned char next = 1;
	int step, pieces;

	ck_assert_uint_le(limit, BIG);
	rng_state = seed;
	*saw_two = 0;
	*max_cap = 0;
	pb_budget_init(&b, 1 << 20);
	pb_outbox_init(&ob, limit, &b);
	for (step = 0; step < 4000; step++) {
		if (rng() % 2 == 0 || mlen <= 1) {
			n = 1 + rng() % limit;
			for (i = 0; i < n; i++) {
				chunk[i] = (char)next;
				next = next == 255 ? 1 : next + 1;
			}
			if (n <= limit - mlen) {
				ob_append_ok(&ob, chunk, n);
				memcpy(model + mlen, chunk, n);
				mlen += n;
			} else {
				errno = 0;
				ck_assert_int_eq(
					pb_outbox_append(&ob, chunk, n), -1);
				ck_assert_int_eq(errno, ENOBUFS);
			}
		} else {
			n = 1 + rng() % (mlen - 1); /* leave at least one */
			pb_outbox_consume(&ob, n);
			memmove(model, model + n, mlen - n);
			mlen -= n;
		}
		n = ob_contents(&ob, got, sizeof(got), &pieces);
		ck_assert_msg(n == mlen && memcmp(got, model, n) == 0,
			      "limit %zu step %d: queue does not match model",
			      limit, step);
		ck_assert_uint_eq(pb_outbox_len(&ob), mlen);
		ck_assert_uint_eq(pb_budget_used(&b), ob.ob_cap);
		if (pieces == 2)
			*saw_two = 1;
		if (ob.ob_cap > *max_cap)
			*max_cap = ob.ob_cap;
	}
	pb_outbox_free(&ob);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}

START_TEST(test_outbox_wraps_around_in_order)
{
	static const size_t limits[] = {16, 100, 1000, 4096};
	size_t i, max_cap;
	int saw_two;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		random_walk(limits[i], 0x9e3779b9u + (uint32_t)i, &saw_two,
			    &max_cap);
		ck_assert_msg(saw_two, "limit %zu: peek never gave 2 pieces",
			      limits[i]);
	}
}
END_TEST

START_TEST(test_outbox_peek_two_pieces_after_wrap)
{
	struct pb_outbox ob;
	struct iovec iov[2];
	char got[BIG];
	int pieces;

	/* Filled to the limit, the ring is at least that big; consuming
	 * from the front and appending again then has to wrap unless the
	 * ring is larger than the limit. */
	pb_outbox_init(&ob, 16, NULL);
	ob_append_ok(&ob, "0123456789abcdef", 16);
	pb_outbox_consume(&ob, 10);
	ob_append_ok(&ob, "ghijklmnop", 10);
	ck_assert_uint_eq(ob_contents(&ob, got, sizeof(got), &pieces), 16);
	ck_assert_mem_eq(got, "abcdefghijklmnop", 16);
	if (ob.ob_cap == 16) {
		ck_assert_int_eq(pieces, 2);
		ck_assert_int_eq(pb_outbox_peek(&ob, iov), 2);
		ck_assert_uint_eq(iov[0].iov_len, 6);
		ck_assert_mem_eq(iov[0].iov_base, "abcdef", 6);
		ck_assert_uint_eq(iov[1].iov_len, 10);
		ck_assert_mem_eq(iov[1].iov_base, "ghijklmnop", 10);
	}
	/* Consuming across the wrap point keeps the order. */
	pb_outbox_consume(&ob, 8);
	ob_assert_holds(&ob, "ijklmnop", 8);
	ob_append_ok(&ob, "qrstuvwx", 8);
	ob_assert_holds(&ob, "ijklmnopqrstuvwx", 16);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_outbox_memory_within_limit)
{
	static const size_t limits[] = {16, 100, 1000};
	size_t i, max_cap;
	int saw_two;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		random_walk(limits[i], 12345u + (uint32_t)i, &saw_two,
			    &max_cap);
		ck_assert_msg(max_cap <= limits[i],
			      "limit %zu: ring grew to %zu bytes", limits[i],
			      max_cap);
	}
}
END_TEST

START_TEST(test_outbox_memory_given_back_when_empty)
{
	struct pb_budget b;
	struct pb_outbox ob;

	pb_budget_init(&b, 1 << 20);
	pb_outbox_init(&ob, 32, &b);
	ob_append_ok(&ob, "hello", 5);
	ck_assert_ptr_nonnull(ob.ob_buf);
	ck_assert_uint_ge(ob.ob_cap, 5);
	pb_outbox_consume(&ob, 3);
	ck_assert_ptr_nonnull(ob.ob_buf);
	ob_assert_holds(&ob, "lo", 2);
	pb_outbox_consume(&ob, 2);
	ck_assert_ptr_null(ob.ob_buf);
	ck_assert_uint_eq(ob.ob_cap, 0);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
	ob_assert_holds(&ob, "", 0);

	/* Also when the last bytes consumed had wrapped round the ring. */
	ob_append_ok(&ob, "0123456789abcdef0123456789abcdef", 32);
	pb_outbox_consume(&ob, 30);
	ob_append_ok(&ob, "ghijklmnop", 10);
	ob_assert_holds(&ob, "efghijklmnop", 12);
	pb_outbox_consume(&ob, 12);
	ck_assert_ptr_null(ob.ob_buf);
	ck_assert_uint_eq(ob.ob_cap, 0);
	ck_assert_uint_eq(pb_budget_used(&b), 0);

	/* And the outbox works again afterwards. */
	ob_append_ok(&ob, "again", 5);
	ob_assert_holds(&ob, "again", 5);
	pb_outbox_free(&ob);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_outbox_budget_charged_and_released)
{
	struct pb_budget b;
	struct pb_outbox x, y;

	pb_budget_init(&b, 1 << 20);
	pb_outbox_init(&x, 100, &b);
	pb_outbox_init(&y, 100, &b);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
	ob_append_ok(&x, "0123456789", 10);
	ck_assert_uint_ge(pb_budget_used(&b), 10);
	ck_assert_uint_eq(pb_budget_used(&b), x.ob_cap);
	ob_append_ok(&y, "abcdefghijklmnopqrstuvwxyz", 26);
	ob_append_ok(&x, "0123456789012345678901234567890123456789", 40);
	ck_assert_uint_ge(x.ob_cap, 50);
	ck_assert_uint_ge(y.ob_cap, 26);
	ck_assert_uint_eq(pb_budget_used(&b), x.ob_cap + y.ob_cap);
	pb_outbox_consume(&x, 50);
	ck_assert_uint_eq(pb_budget_used(&b), y.ob_cap);
	/* Freeing an outbox that still holds bytes releases its charge. */
	pb_outbox_free(&y);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
	pb_outbox_free(&x);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_outbox_move_frames_moves_whole_frames_that_fit)
{
	struct pb_outbox from, to;
	size_t frames = 99;

	pb_outbox_init(&from, 64, NULL);
	pb_outbox_init(&to, 10, NULL);
	ob_append_ok(&from, "aa\0bbb\0cccc\0", 12);
	/* 3 + 4 fit in 10, the third frame (5) does not. */
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, &frames), 7);
	ck_assert_uint_eq(frames, 2);
	ob_assert_holds(&to, "aa\0bbb\0", 7);
	ob_assert_holds(&from, "cccc\0", 5);
	/* Room 3 < 5: nothing moves. */
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, &frames), 0);
	ck_assert_uint_eq(frames, 0);
	ob_assert_holds(&to, "aa\0bbb\0", 7);
	ob_assert_holds(&from, "cccc\0", 5);
	/* Behind what is already there, in order. */
	pb_outbox_consume(&to, 3);
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, NULL), 5);
	ob_assert_holds(&to, "bbb\0cccc\0", 9);
	ob_assert_holds(&from, "", 0);
	ck_assert_ptr_null(from.ob_buf);
	/* An empty source moves nothing. */
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, NULL), 0);
	ob_assert_holds(&to, "bbb\0cccc\0", 9);
	pb_outbox_free(&from);
	pb_outbox_free(&to);
}
END_TEST

START_TEST(test_outbox_move_frames_returns_0_when_first_does_not_fit)
{
	struct pb_budget b;
	struct pb_outbox from, to;

	pb_budget_init(&b, 1 << 20);
	pb_outbox_init(&from, 64, &b);
	pb_outbox_init(&to, 5, &b);
	ob_append_ok(&from, "hello\0a\0", 8);
	/* 6 bytes into 5 of room, although the second frame would fit:
	 * frames are moved in order, so nothing moves. */
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, NULL), 0);
	ob_assert_holds(&from, "hello\0a\0", 8);
	ob_assert_holds(&to, "", 0);
	ck_assert_ptr_null(to.ob_buf);
	ck_assert_uint_eq(pb_budget_used(&b), from.ob_cap);
	pb_outbox_free(&from);
	pb_outbox_free(&to);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_outbox_move_frames_leaves_partial_frame)
{
	struct pb_outbox from, to;

	pb_outbox_init(&from, 64, NULL);
	pb_outbox_init(&to, 64, NULL);
	ob_append_ok(&from, "aa\0bb", 5);
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, NULL), 3);
	ob_assert_holds(&to, "aa\0", 3);
	ob_assert_holds(&from, "bb", 2);
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, NULL), 0);
	ob_assert_holds(&from, "bb", 2);
	pb_outbox_free(&from);
	pb_outbox_free(&to);
}
END_TEST

START_TEST(test_outbox_move_frames_across_wrap)
{
	struct pb_budget bf, bt;
	struct pb_outbox from, to;

	pb_budget_init(&bf, 1 << 20);
	pb_budget_init(&bt, 1 << 20);
	pb_outbox_init(&from, 16, &bf);
	pb_outbox_init(&to, 16, &bt);
	/* Make both rings wrap (if they are no bigger than the limit). */
	ob_append_ok(&from, "0123456789abcde\0", 16);
	pb_outbox_consume(&from, 12);
	ob_append_ok(&from, "fg\0hijk\0lm\0", 11); /* "cde\0fg\0hijk\0lm\0" */
	ob_append_ok(&to, "ZYXWVUTSRQPONML\0", 16);
	pb_outbox_consume(&to, 12);
	ob_assert_holds(&to, "NML\0", 4);
	/* Room 12: "cde\0" "fg\0" "hijk\0" = 12 fit, "lm\0" does not. */
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, NULL), 12);
	ob_assert_holds(&to, "NML\0cde\0fg\0hijk\0", 16);
	ob_assert_holds(&from, "lm\0", 3);
	ck_assert_uint_eq(pb_budget_used(&bf), from.ob_cap);
	ck_assert_uint_eq(pb_budget_used(&bt), to.ob_cap);
	pb_outbox_consume(&to, 16);
	ck_assert_int_eq(pb_outbox_move_frames(&to, &from, NULL), 3);
	ob_assert_holds(&to, "lm\0", 3);
	ck_assert_ptr_null(from.ob_buf);
	ck_assert_uint_eq(pb_budget_used(&bf), 0);
	ck_assert_uint_eq(pb_budget_used(&bt), to.ob_cap);
	pb_outbox_free(&from);
	pb_outbox_free(&to);
	ck_assert_uint_eq(pb_budget_used(&bt), 0);
}
END_TEST

/* Frames of 1 to 12 bytes, each ending in its only 0x00. */
static size_t random_frame(char *out, unsigned char *next)
{
	size_t n = 1 + rng() % 12, i;

	for (i = 0; i + 1 < n; i++) {
		out[i] = (char)*next;
		*next = *next == 255 ? 1 : *next + 1;
	}
	out[n - 1] = '\0';
	return n;
}

/* The bytes of the longest run of whole frames at the front of q[0 .. n)
 * that fits in room. */
static size_t model_fit(const char *q, size_t n, size_t room)
{
	size_t fit = 0, i;

	for (i = 0; i < n && i < room; i++)
		if (q[i] == '\0')
			fit = i + 1;
	return fit;
}

START_TEST(test_outbox_move_frames_matches_model)
{
	struct pb_outbox from, to;
	char mf[BIG], mt[BIG], got[BIG], fr[16];
	size_t nf = 0, nt = 0, n, want;
	unsigned char next = 1;
	long moved;
	int step;

	rng_state = 0xdeadbeefu;
	pb_outbox_init(&from, 200, NULL);
	pb_outbox_init(&to, 37, NULL);
	for (step = 0; step < 5000; step++) {
		switch (rng() % 3) {
		case 0: /* a frame arrives for the source */
			n = random_frame(fr, &next);
			if (n <= pb_outbox_room(&from)) {
				ob_append_ok(&from, fr, n);
				memcpy(mf + nf, fr, n);
				nf += n;
			}
			break;
		case 1: /* the destination writes some bytes */
			if (nt > 0) {
				n = 1 + rng() % nt;
				pb_outbox_consume(&to, n);
				memmove(mt, mt + n, nt - n);
				nt -= n;
			}
			break;
		default:
			want = model_fit(mf, nf, 37 - nt);
			moved = pb_outbox_move_frames(&to, &from, NULL);
			ck_assert_msg(moved == (long)want,
				      "step %d: moved %ld, expected %zu", step,
				      moved, want);
			memcpy(mt + nt, mf, want);
			nt += want;
			memmove(mf, mf + want, nf - want);
			nf -= want;
			break;
		}
		n = ob_contents(&from, got, sizeof(got), NULL);
		ck_assert_msg(n == nf && memcmp(got, mf, n) == 0,
			      "step %d: source does not match model", step);
		n = ob_contents(&to, got, sizeof(got), NULL);
		ck_assert_msg(n == nt && memcmp(got, mt, n) == 0,
			      "step %d: destination does not match model",
			      step);
	}
	pb_outbox_free(&from);
	pb_outbox_free(&to);
}
END_TEST

START_TEST(test_outbox_count_frames_counts_nuls)
{
	struct pb_outbox ob;

	pb_outbox_init(&ob, 16, NULL);
	ck_assert_uint_eq(pb_outbox_count_frames(&ob), 0);
	ob_append_ok(&ob, "aa\0bbb\0cc", 9);
	ck_assert_uint_eq(pb_outbox_count_frames(&ob), 2);
	/* A partly written frame still counts as one. */
	pb_outbox_consume(&ob, 2);
	ck_assert_uint_eq(pb_outbox_count_frames(&ob), 2);
	pb_outbox_consume(&ob, 1);
	ck_assert_uint_eq(pb_outbox_count_frames(&ob), 1);
	/* Across the wrap of the ring: "bbb\0cc" + "d\0eeeeee\0\0" */
	ob_append_ok(&ob, "d\0eeeeee\0\0", 10);
	ob_assert_holds(&ob, "bbb\0ccd\0eeeeee\0\0", 16);
	ck_assert_uint_eq(pb_outbox_count_frames(&ob), 4);
	pb_outbox_consume(&ob, 15);
	ck_assert_uint_eq(pb_outbox_count_frames(&ob), 1);
	pb_outbox_consume(&ob, 1);
	ck_assert_uint_eq(pb_outbox_count_frames(&ob), 0);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_outbox_written_counts_frames_finished)
{
	struct pb_budget b;
	struct pb_outbox ob;

	pb_budget_init(&b, 1 << 20);
	pb_outbox_init(&ob, 64, &b);
	ob_append_ok(&ob, "aa\0bbb\0cc", 9);
	/* Nothing written, nothing finished. */
	ck_assert_uint_eq(pb_outbox_written(&ob, 0), 0);
	ob_assert_holds(&ob, "aa\0bbb\0cc", 9);
	/* Part of a frame finishes none; its 0x00 finishes it. */
	ck_assert_uint_eq(pb_outbox_written(&ob, 2), 0);
	ob_assert_holds(&ob, "\0bbb\0cc", 7);
	ck_assert_uint_eq(pb_outbox_written(&ob, 1), 1);
	ob_assert_holds(&ob, "bbb\0cc", 6);
	/* A whole frame and the start of the next: one. */
	ck_assert_uint_eq(pb_outbox_written(&ob, 5), 1);
	ob_assert_holds(&ob, "c", 1);
	ck_assert_uint_eq(pb_outbox_written(&ob, 1), 0);
	ob_assert_holds(&ob, "", 0);
	/* Emptied, it gives its memory back like pb_outbox_consume. */
	ck_assert_ptr_null(ob.ob_buf);
	ck_assert_uint_eq(pb_budget_used(&b), 0);

	/* Several frames in one write, empty ones included. */
	ob_append_ok(&ob, "a\0\0b\0cd\0\0", 10);
	ck_assert_uint_eq(pb_outbox_written(&ob, 9), 5);
	ob_assert_holds(&ob, "", 1);
	ck_assert_uint_eq(pb_outbox_written(&ob, 1), 1);
	ck_assert_ptr_null(ob.ob_buf);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_outbox_written_counts_across_wrap)
{
	struct iovec iov[2];
	struct pb_outbox ob;

	/* A ring of its limit, 16, wrapped: "cde\0" + "fg\0hijk\0lm\0". */
	pb_outbox_init(&ob, 16, NULL);
	ob_append_ok(&ob, "0123456789abcde\0", 16);
	ck_assert_uint_eq(ob.ob_cap, 16);
	ck_assert_uint_eq(pb_outbox_written(&ob, 12), 0);
	ob_append_ok(&ob, "fg\0hijk\0lm\0", 11);
	ck_assert_int_eq(pb_outbox_peek(&ob, iov), 2);
	ob_assert_holds(&ob, "cde\0fg\0hijk\0lm\0", 15);
	/* The write ends past the wrap point, in "hijk". */
	ck_assert_uint_eq(pb_outbox_written(&ob, 8), 2);
	ob_assert_holds(&ob, "ijk\0lm\0", 7);
	ck_assert_uint_eq(pb_outbox_written(&ob, 7), 2);
	ck_assert(pb_outbox_empty(&ob));

	/* And a single write over the whole wrapped ring. */
	ob_append_ok(&ob, "0123456789ab\0\0\0\0", 16);
	pb_outbox_consume(&ob, 12);
	ob_append_ok(&ob, "x\0y\0z\0", 6);
	ck_assert_int_eq(pb_outbox_peek(&ob, iov), 2);
	ck_assert_uint_eq(pb_outbox_written(&ob, 10), 7);
	ck_assert(pb_outbox_empty(&ob));
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_outbox_written_matches_model)
{
	struct pb_outbox ob;
	char model[BIG], fr[16];
	size_t mlen = 0, n, i, want;
	unsigned char next = 1;
	int step;

	/* Frames arrive and are written in random pieces, the ring wrapping
	 * often: each write finishes exactly the 0x00 bytes it covers. */
	rng_state = 0x2545f491u;
	pb_outbox_init(&ob, 50, NULL);
	for (step = 0; step < 5000; step++) {
		if (rng() % 2 == 0) {
			n = random_frame(fr, &next);
			if (n <= pb_outbox_room(&ob)) {
				ob_append_ok(&ob, fr, n);
				memcpy(model + mlen, fr, n);
				mlen += n;
			}
		} else if (mlen > 0) {
			n = rng() % (mlen + 1);
			for (i = want = 0; i < n; i++)
				want += model[i] == '\0';
			ck_assert_msg(pb_outbox_written(&ob, n) == want,
				      "step %d: wrong count", step);
			memmove(model, model + n, mlen - n);
			mlen -= n;
		}
		ck_assert_uint_eq(pb_outbox_len(&ob), mlen);
	}
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_outbox_room_for_waiters_at_half)
{
	struct pb_outbox ob;

	pb_outbox_init(&ob, 10, NULL);
	ck_assert(pb_outbox_has_room_for_waiters(&ob));
	ob_append_ok(&ob, "12345", 5);
	ck_assert(pb_outbox_has_room_for_waiters(&ob)); /* exactly half */
	ob_append_ok(&ob, "6", 1);
	ck_assert(!pb_outbox_has_room_for_waiters(&ob));
	ob_append_ok(&ob, "7890", 4);
	ck_assert(!pb_outbox_has_room_for_waiters(&ob)); /* full */
	pb_outbox_consume(&ob, 4);
	ck_assert(!pb_outbox_has_room_for_waiters(&ob));
	pb_outbox_consume(&ob, 1);
	ck_assert(pb_outbox_has_room_for_waiters(&ob));
	pb_outbox_consume(&ob, 5);
	ck_assert(pb_outbox_has_room_for_waiters(&ob));
	pb_outbox_free(&ob);

	/* An odd limit: half of 9 rounds down. */
	pb_outbox_init(&ob, 9, NULL);
	ob_append_ok(&ob, "1234", 4);
	ck_assert(pb_outbox_has_room_for_waiters(&ob));
	ob_append_ok(&ob, "5", 1);
	ck_assert(!pb_outbox_has_room_for_waiters(&ob));
	pb_outbox_free(&ob);
}
END_TEST

static Suite *outbox_suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *tc = tcase_create("queue");

	tcase_add_test(tc, test_outbox_starts_empty_without_memory);
	tcase_add_test(tc, test_outbox_append_exactly_up_to_limit);
	tcase_add_test(
		tc, test_outbox_append_over_limit_into_empty_takes_no_memory);
	tcase_add_test(tc, test_outbox_appendv_is_all_or_nothing);
	tcase_add_test(
		tc, test_outbox_appendv_over_limit_into_empty_takes_no_memory);
	tcase_add_test(tc, test_outbox_wraps_around_in_order);
	tcase_add_test(tc, test_outbox_peek_two_pieces_after_wrap);
	tcase_add_test(tc, test_outbox_memory_within_limit);
	tcase_add_test(tc, test_outbox_memory_given_back_when_empty);
	tcase_add_test(tc, test_outbox_budget_charged_and_released);
	tcase_add_test(tc, test_outbox_count_frames_counts_nuls);
	suite_add_tcase(s, tc);

	tc = tcase_create("move_frames");
	tcase_add_test(tc, test_outbox_move_frames_moves_whole_frames_that_fit);
	tcase_add_test(
		tc, test_outbox_move_frames_returns_0_when_first_does_not_fit);
	tcase_add_test(tc, test_outbox_move_frames_leaves_partial_frame);
	tcase_add_test(tc, test_outbox_move_frames_across_wrap);
	tcase_add_test(tc, test_outbox_move_frames_matches_model);
	suite_add_tcase(s, tc);

	tc = tcase_create("written");
	tcase_add_test(tc, test_outbox_written_counts_frames_finished);
	tcase_add_test(tc, test_outbox_written_counts_across_wrap);
	tcase_add_test(tc, test_outbox_written_matches_model);
	tcase_add_test(tc, test_outbox_room_for_waiters_at_half);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(outbox_suite());
}
