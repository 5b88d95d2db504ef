/* SPDX-License-Identifier: ISC */
/*
 * check_park.c: unit tests of a sender's waiting room (park.h).
 *
 * The waiting room is what keeps a slow destination from stalling a
 * sender's other traffic, and what bounds a sender's parked bytes. So it
 * must keep one lane per destination in order, refuse (without side
 * effects) anything over its limit, flush only whole frames into a
 * destination's outbox, forget a lane once it is empty, and count and free
 * what it drops when a destination goes away (its lane) or the sender does
 * (every lane).
 * After a hand-off or a retry it must also tell the sender rightly whether
 * to go on, wait to be woken (the outbox holds data, so it will drain), or
 * retry on its own (frames wait but the outbox is empty).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "outbox.h"
#include "park.h"
#include "run.h"

#define BIG 4096 /* larger than anything parked in these tests */

/* Copies what an outbox holds into out; returns how many bytes. */
static size_t ob_contents(const struct pb_outbox *ob, char *out, size_t cap)
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
	ck_assert_uint_eq(n, pb_outbox_len(ob));
	return n;
}

static void ob_assert_holds(const struct pb_outbox *ob, const void *want,
			    size_t n)
{
	char got[BIG];

	ck_assert_uint_eq(ob_contents(ob, got, sizeof(got)), n);
	if (n > 0)
		ck_assert_mem_eq(got, want, n);
}

/* Fails unless exactly the n bytes at want wait for dest. */
static void lane_assert_holds(const struct pb_park *pk, uint32_t dest,
			      const void *want, size_t n)
{
	long i = pb_park_find(pk, dest);

	ck_assert_msg(i >= 0, "no lane for %u", (unsigned)dest);
	ck_assert_uint_lt((size_t)i, pk->pk_nlanes);
	ck_assert_uint_eq(pk->pk_lanes[i].pl_dest, dest);
	ob_assert_holds(&pk->pk_lanes[i].pl_frames, want, n);
}

/* Parks one frame given as a string with its 0x00 counted in n. */
static int push1(struct pb_park *pk, uint32_t dest, const char *frame, size_t n)
{
	struct iovec iov = {.iov_base = (void *)frame, .iov_len = n};

	return pb_park_pushv(pk, dest, &iov, 1);
}

START_TEST(test_park_starts_empty)
{
	struct pb_park pk;

	pb_park_init(&pk, 100, NULL);
	ck_assert_uint_eq(pb_park_bytes(&pk), 0);
	ck_assert_uint_eq(pb_park_room(&pk), 100);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	ck_assert_int_eq(pb_park_find(&pk, 0), -1);
	ck_assert_int_eq(pb_park_find(&pk, 7), -1);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_lanes_keep_order_per_destination)
{
	struct pb_park pk;
	struct iovec two[2] = {
		{.iov_base = (void *)"a", .iov_len = 1},
		{.iov_base = (void *)"2\0", .iov_len = 2},
	};

	pb_park_init(&pk, 100, NULL);
	ck_assert_int_eq(push1(&pk, 5, "a1", 3), 0);
	ck_assert_int_eq(push1(&pk, 7, "b1", 3), 0);
	ck_assert_int_eq(pb_park_pushv(&pk, 5, two, 2), 0);
	ck_assert_int_eq(push1(&pk, 7, "b2", 3), 0);
	ck_assert_int_eq(push1(&pk, 0, "", 1), 0);
	ck_assert_int_eq(push1(&pk, 5, "a3", 3), 0);
	ck_assert_uint_eq(pk.pk_nlanes, 3);
	ck_assert_uint_eq(pb_park_bytes(&pk), 16);
	lane_assert_holds(&pk, 5, "a1\0a2\0a3", 9);
	lane_assert_holds(&pk, 7, "b1\0b2", 6);
	lane_assert_holds(&pk, 0, "", 1);
	ck_assert_int_eq(pb_park_find(&pk, 6), -1);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_push_several_frames_at_once)
{
	struct pb_park pk;
	struct iovec iov[3] = {
		{.iov_base = (void *)"one\0tw", .iov_len = 6},
		{.iov_base = (void *)"o\0thr", .iov_len = 5},
		{.iov_base = (void *)"ee\0", .iov_len = 3},
	};

	pb_park_init(&pk, 100, NULL);
	ck_assert_int_eq(pb_park_pushv(&pk, 3, iov, 3), 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 14);
	lane_assert_holds(&pk, 3, "one\0two\0three", 14);
	ck_assert_uint_eq(pb_outbox_count_frames(
				  &pk.pk_lanes[pb_park_find(&pk, 3)].pl_frames),
			  3);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_push_of_nothing_makes_no_lane)
{
	struct pb_park pk;
	struct iovec none = {.iov_base = (void *)"", .iov_len = 0};

	/* No frames parked means nothing waits for dest: no lane. */
	pb_park_init(&pk, 100, NULL);
	ck_assert_int_eq(pb_park_pushv(&pk, 4, &none, 1), 0);
	ck_assert_int_eq(pb_park_pushv(&pk, 4, &none, 0), 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 0);
	ck_assert_int_eq(pb_park_find(&pk, 4), -1);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_limit_refuses_and_changes_nothing)
{
	struct pb_park pk;
	struct iovec over[2] = {
		{.iov_base = (void *)"x", .iov_len = 1},
		{.iov_base = (void *)"\0", .iov_len = 1},
	};

	pb_park_init(&pk, 10, NULL);
	ck_assert_int_eq(push1(&pk, 5, "abc", 4), 0);
	ck_assert_uint_eq(pb_park_room(&pk), 6);
	/* 7 bytes into 6 of room. */
	errno = 0;
	ck_assert_int_eq(push1(&pk, 5, "abcdef", 7), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_eq(pb_park_bytes(&pk), 4);
	lane_assert_holds(&pk, 5, "abc", 4);
	/* Exactly up to the limit, in a second lane. */
	ck_assert_int_eq(push1(&pk, 7, "12345", 6), 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 10);
	ck_assert_uint_eq(pb_park_room(&pk), 0);
	ck_assert_uint_eq(pk.pk_nlanes, 2);
	/* Full: one more byte fails, to an existing lane or a new one. */
	errno = 0;
	ck_assert_int_eq(push1(&pk, 5, "", 1), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	errno = 0;
	ck_assert_int_eq(push1(&pk, 9, "", 1), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	errno = 0;
	ck_assert_int_eq(pb_park_pushv(&pk, 9, over, 2), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_int_eq(pb_park_find(&pk, 9), -1);
	ck_assert_uint_eq(pk.pk_nlanes, 2);
	ck_assert_uint_eq(pb_park_bytes(&pk), 10);
	ck_assert_uint_eq(pb_park_room(&pk), 0);
	lane_assert_holds(&pk, 5, "abc", 4);
	lane_assert_holds(&pk, 7, "12345", 6);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_limit_counts_all_lanes)
{
	struct pb_park pk;
	uint32_t d;

	/* Ten lanes of 10 bytes fill a limit of 100; none takes more. */
	pb_park_init(&pk, 100, NULL);
	for (d = 0; d < 10; d++)
		ck_assert_int_eq(push1(&pk, d, "123456789", 10), 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 100);
	ck_assert_uint_eq(pb_park_room(&pk), 0);
	for (d = 0; d < 11; d++) {
		errno = 0;
		ck_assert_int_eq(push1(&pk, d, "", 1), -1);
		ck_assert_int_eq(errno, ENOBUFS);
	}
	ck_assert_uint_eq(pk.pk_nlanes, 10);
	ck_assert_uint_eq(pb_park_bytes(&pk), 100);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_room_tracks_bytes)
{
	struct pb_park pk;
	struct pb_outbox to;

	pb_park_init(&pk, 100, NULL);
	pb_outbox_init(&to, 100, NULL);
	ck_assert_uint_eq(pb_park_room(&pk), 100);
	ck_assert_int_eq(push1(&pk, 1, "0123456789012345678", 20), 0);
	ck_assert_uint_eq(pb_park_room(&pk), 80);
	ck_assert_int_eq(push1(&pk, 2, "abcdefghi", 10), 0);
	ck_assert_uint_eq(pb_park_room(&pk), 70);
	ck_assert_uint_eq(pb_park_bytes(&pk), 30);
	ck_assert_int_eq(
		pb_park_flush(&pk, (size_t)pb_park_find(&pk, 1), &to, NULL),
		20);
	ck_assert_uint_eq(pb_park_bytes(&pk), 10);
	ck_assert_uint_eq(pb_park_room(&pk), 90);
	ck_assert_uint_eq(pb_park_drop(&pk, (size_t)pb_park_find(&pk, 2)), 1);
	ck_assert_uint_eq(pb_park_room(&pk), 100);
	pb_outbox_free(&to);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_find_gives_the_lane_for_dest)
{
	struct pb_park pk;
	uint32_t dests[] = {0, 1, 0xffffffffu, 42, 0x80000000u, 7};
	size_t i;
	long k;

	pb_park_init(&pk, 1000, NULL);
	for (i = 0; i < sizeof(dests) / sizeof(dests[0]); i++)
		ck_assert_int_eq(push1(&pk, dests[i], "f", 2), 0);
	ck_assert_uint_eq(pk.pk_nlanes, sizeof(dests) / sizeof(dests[0]));
	for (i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
		k = pb_park_find(&pk, dests[i]);
		ck_assert_int_ge(k, 0);
		ck_assert_uint_lt((size_t)k, pk.pk_nlanes);
		ck_assert_uint_eq(pk.pk_lanes[k].pl_dest, dests[i]);
	}
	ck_assert_int_eq(pb_park_find(&pk, 2), -1);
	ck_assert_int_eq(pb_park_find(&pk, 0xfffffffeu), -1);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_flush_moves_whole_frames_and_removes_empty_lane)
{
	struct pb_budget b;
	struct pb_park pk;
	struct pb_outbox to;
	long i;

	pb_budget_init(&b, 1 << 20);
	pb_park_init(&pk, 100, &b);
	pb_outbox_init(&to, 8, &b);
	ck_assert_int_eq(push1(&pk, 5, "aa", 3), 0);
	ck_assert_int_eq(push1(&pk, 9, "zz", 3), 0);
	ck_assert_int_eq(push1(&pk, 5, "bbb", 4), 0);
	ck_assert_int_eq(push1(&pk, 5, "cccc", 5), 0);
	ck_assert_uint_eq(pk.pk_nlanes, 2);

	/* Room 8: "aa\0" and "bbb\0" fit, "cccc\0" does not. */
	i = pb_park_find(&pk, 5);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(pb_park_flush(&pk, (size_t)i, &to, NULL), 7);
	ob_assert_holds(&to, "aa\0bbb", 7);
	ck_assert_uint_eq(pb_park_bytes(&pk), 8);
	ck_assert_uint_eq(pk.pk_nlanes, 2);
	lane_assert_holds(&pk, 5, "cccc", 5);

	/* Room 1: nothing moves, the lane stays. */
	i = pb_park_find(&pk, 5);
	ck_assert_int_eq(pb_park_flush(&pk, (size_t)i, &to, NULL), 0);
	ob_assert_holds(&to, "aa\0bbb", 7);
	ck_assert_uint_eq(pb_park_bytes(&pk), 8);
	lane_assert_holds(&pk, 5, "cccc", 5);

	/* The destination writes; the rest moves and the lane goes. */
	pb_outbox_consume(&to, 7);
	i = pb_park_find(&pk, 5);
	ck_assert_int_eq(pb_park_flush(&pk, (size_t)i, &to, NULL), 5);
	ob_assert_holds(&to, "cccc", 5);
	ck_assert_int_eq(pb_park_find(&pk, 5), -1);
	ck_assert_uint_eq(pk.pk_nlanes, 1);
	ck_assert_uint_eq(pb_park_bytes(&pk), 3);
	/* The other lane is untouched. */
	lane_assert_holds(&pk, 9, "zz", 3);

	pb_outbox_free(&to);
	pb_park_free(&pk);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_park_flush_behind_outbox_contents)
{
	struct pb_park pk;
	struct pb_outbox to;

	pb_park_init(&pk, 100, NULL);
	pb_outbox_init(&to, 100, NULL);
	ck_assert_int_eq(pb_outbox_append(&to, "first", 6), 0);
	ck_assert_int_eq(push1(&pk, 4, "second", 7), 0);
	ck_assert_int_eq(push1(&pk, 4, "third", 6), 0);
	ck_assert_int_eq(
		pb_park_flush(&pk, (size_t)pb_park_find(&pk, 4), &to, NULL),
		13);
	ob_assert_holds(&to, "first\0second\0third", 19);
	ck_assert_int_eq(pb_park_find(&pk, 4), -1);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 0);
	pb_outbox_free(&to);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_drop_counts_frames_and_frees_bytes)
{
	struct pb_budget b;
	struct pb_park pk;

	pb_budget_init(&b, 1 << 20);
	pb_park_init(&pk, 100, &b);
	ck_assert_int_eq(push1(&pk, 5, "a", 2), 0);
	ck_assert_int_eq(push1(&pk, 5, "bb", 3), 0);
	ck_assert_int_eq(push1(&pk, 6, "x", 2), 0);
	ck_assert_int_eq(push1(&pk, 5, "", 1), 0);
	ck_assert_uint_ge(pb_budget_used(&b), pb_park_bytes(&pk));
	ck_assert_uint_eq(pb_park_drop(&pk, (size_t)pb_park_find(&pk, 5)), 3);
	ck_assert_int_eq(pb_park_find(&pk, 5), -1);
	ck_assert_uint_eq(pk.pk_nlanes, 1);
	ck_assert_uint_eq(pb_park_bytes(&pk), 2);
	lane_assert_holds(&pk, 6, "x", 2);
	ck_assert_uint_eq(pb_park_drop(&pk, (size_t)pb_park_find(&pk, 6)), 1);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 0);
	ck_assert_uint_eq(pb_park_room(&pk), 100);
	/* The room is usable again. */
	ck_assert_int_eq(push1(&pk, 5, "again", 6), 0);
	lane_assert_holds(&pk, 5, "again", 6);
	pb_park_free(&pk);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

/*
 * Many lanes, flushed and dropped in an order that removes lanes from the
 * middle of the array: every other lane must keep its own frames.
 */
START_TEST(test_park_many_lanes_survive_removals)
{
	struct pb_budget b;
	struct pb_park pk;
	struct pb_outbox to;
	char frame[16], want[64], got[BIG];
	uint32_t d;
	size_t n, len, lanes = 200;
	int round;

	pb_budget_init(&b, 1 << 20);
	pb_park_init(&pk, 100000, &b);
	for (round = 0; round < 3; round++) {
		for (d = 0; d < lanes; d++) {
			n = (size_t)snprintf(frame, sizeof(frame), "%u.%d",
					     (unsigned)d, round);
			ck_assert_int_eq(push1(&pk, d * 3, frame, n + 1), 0);
		}
	}
	ck_assert_uint_eq(pk.pk_nlanes, lanes);
	for (d = 0; d < lanes; d++) {
		len = 0;
		for (round = 0; round < 3; round++)
			len += (size_t)snprintf(want + len, sizeof(want) - len,
						"%u.%d", (unsigned)d, round) +
			       1;
		if (d % 3 == 0) {
			/* every third lane is dropped */
			ck_assert_uint_eq(
				pb_park_drop(&pk,
					     (size_t)pb_park_find(&pk, d * 3)),
				3);
		} else if (d % 3 == 1) {
			pb_outbox_init(&to, 1000, &b);
			ck_assert_int_eq(
				pb_park_flush(&pk,
					      (size_t)pb_park_find(&pk, d * 3),
					      &to, NULL),
				(long)len);
			ck_assert_uint_eq(ob_contents(&to, got, sizeof(got)),
					  len);
			ck_assert_mem_eq(got, want, len);
			pb_outbox_free(&to);
		}
		ck_assert_int_eq(pb_park_find(&pk, d * 3) >= 0, d % 3 == 2);
	}
	for (d = 0; d < lanes; d++) {
		if (d % 3 != 2)
			continue;
		len = 0;
		for (round = 0; round < 3; round++)
			len += (size_t)snprintf(want + len, sizeof(want) - len,
						"%u.%d", (unsigned)d, round) +
			       1;
		lane_assert_holds(&pk, d * 3, want, len);
	}
	pb_park_free(&pk);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_park_drop_all_counts_frames_and_leaves_nothing)
{
	struct pb_budget b;
	struct pb_park pk;
	struct iovec three[2] = {
		{.iov_base = (void *)"x\0y", .iov_len = 3},
		{.iov_base = (void *)"\0z", .iov_len = 3},
	};

	pb_budget_init(&b, 1 << 20);
	pb_park_init(&pk, 100, &b);
	/* Nothing parked: nothing dropped. */
	ck_assert_uint_eq(pb_park_drop_all(&pk), 0);
	ck_assert_int_eq(push1(&pk, 5, "a", 2), 0);
	ck_assert_int_eq(push1(&pk, 6, "bb", 3), 0);
	ck_assert_int_eq(pb_park_pushv(&pk, 7, three, 2), 0);
	ck_assert_int_eq(push1(&pk, 5, "c", 2), 0);
	ck_assert_int_eq(push1(&pk, 8, "", 1), 0);
	ck_assert_uint_eq(pk.pk_nlanes, 4);
	ck_assert_uint_gt(pb_budget_used(&b), 0);
	/* 2 for 5, 1 for 6, 3 for 7, 1 for 8. */
	ck_assert_uint_eq(pb_park_drop_all(&pk), 7);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 0);
	ck_assert_uint_eq(pb_park_room(&pk), 100);
	ck_assert_int_eq(pb_park_find(&pk, 5), -1);
	ck_assert_int_eq(pb_park_find(&pk, 7), -1);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
	ck_assert_uint_eq(pb_park_drop_all(&pk), 0);
	/* The waiting room is usable again. */
	ck_assert_int_eq(push1(&pk, 7, "again", 6), 0);
	lane_assert_holds(&pk, 7, "again", 6);
	ck_assert_uint_eq(pb_park_bytes(&pk), 6);
	pb_park_free(&pk);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_park_wait_for_go_when_nothing_parked_for_dest)
{
	struct pb_park pk;
	struct pb_outbox empty, busy;

	pb_park_init(&pk, 100, NULL);
	pb_outbox_init(&empty, 100, NULL);
	pb_outbox_init(&busy, 100, NULL);
	ck_assert_int_eq(pb_outbox_append(&busy, "q", 2), 0);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &empty), PB_PARK_GO);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &busy), PB_PARK_GO);
	/* Frames parked for another destination do not count. */
	ck_assert_int_eq(push1(&pk, 6, "x", 2), 0);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &empty), PB_PARK_GO);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &busy), PB_PARK_GO);
	pb_outbox_free(&busy);
	pb_outbox_free(&empty);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_wait_for_wait_when_outbox_holds_data)
{
	struct pb_park pk;
	struct pb_outbox to;

	pb_park_init(&pk, 100, NULL);
	pb_outbox_init(&to, 100, NULL);
	ck_assert_int_eq(push1(&pk, 5, "x", 2), 0);
	ck_assert_int_eq(pb_outbox_append(&to, "q", 2), 0);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &to), PB_PARK_WAIT);
	/* Even a single byte queued will drain and wake the sender. */
	pb_outbox_consume(&to, 1);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &to), PB_PARK_WAIT);
	pb_outbox_free(&to);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_wait_for_retry_when_outbox_empty)
{
	struct pb_park pk;
	struct pb_outbox to;

	pb_park_init(&pk, 100, NULL);
	pb_outbox_init(&to, 100, NULL);
	ck_assert_int_eq(push1(&pk, 5, "x", 2), 0);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &to), PB_PARK_RETRY);
	/* Drained to empty after having held data: still nothing to wait
	 * for. */
	ck_assert_int_eq(pb_outbox_append(&to, "q", 2), 0);
	pb_outbox_consume(&to, 2);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &to), PB_PARK_RETRY);
	/* Once the lane is gone, nothing waits. */
	ck_assert_uint_eq(pb_park_drop(&pk, (size_t)pb_park_find(&pk, 5)), 1);
	ck_assert_int_eq(pb_park_wait_for(&pk, 5, &to), PB_PARK_GO);
	pb_outbox_free(&to);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_retry_moves_whole_frames_and_says_wait)
{
	struct pb_budget b;
	struct pb_park pk;
	struct pb_outbox to;
	struct pb_park_retry r;

	pb_budget_init(&b, 1 << 20);
	pb_park_init(&pk, 100, &b);
	pb_outbox_init(&to, 8, &b);
	ck_assert_int_eq(push1(&pk, 5, "aa", 3), 0);
	ck_assert_int_eq(push1(&pk, 9, "zz", 3), 0);
	ck_assert_int_eq(push1(&pk, 5, "bbb", 4), 0);
	ck_assert_int_eq(push1(&pk, 5, "cccc", 5), 0);

	/* Room 8: two frames move into the empty outbox, one stays. */
	r = pb_park_retry(&pk, (size_t)pb_park_find(&pk, 5), &to);
	ck_assert(r.pr_started);
	ck_assert_uint_eq(r.pr_moved, 2);
	ck_assert_int_eq(r.pr_wait, PB_PARK_WAIT);
	ob_assert_holds(&to, "aa\0bbb", 7);
	lane_assert_holds(&pk, 5, "cccc", 5);
	ck_assert_uint_eq(pb_park_bytes(&pk), 8);

	/* Room 1: nothing moves; the outbox was not empty, so nothing
	 * started, and the sender goes on waiting. */
	r = pb_park_retry(&pk, (size_t)pb_park_find(&pk, 5), &to);
	ck_assert(!r.pr_started);
	ck_assert_uint_eq(r.pr_moved, 0);
	ck_assert_int_eq(r.pr_wait, PB_PARK_WAIT);
	ob_assert_holds(&to, "aa\0bbb", 7);
	lane_assert_holds(&pk, 5, "cccc", 5);

	/* Drained: the rest moves, the lane goes, nothing waits. */
	pb_outbox_consume(&to, 7);
	r = pb_park_retry(&pk, (size_t)pb_park_find(&pk, 5), &to);
	ck_assert(r.pr_started);
	ck_assert_int_eq(r.pr_wait, PB_PARK_GO);
	ob_assert_holds(&to, "cccc", 5);
	ck_assert_int_eq(pb_park_find(&pk, 5), -1);
	ck_assert_uint_eq(pb_park_bytes(&pk), 3);
	lane_assert_holds(&pk, 9, "zz", 3);

	pb_outbox_free(&to);
	pb_park_free(&pk);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_park_retry_behind_data_does_not_start)
{
	struct pb_park pk;
	struct pb_outbox to;
	struct pb_park_retry r;

	pb_park_init(&pk, 100, NULL);
	pb_outbox_init(&to, 100, NULL);
	ck_assert_int_eq(pb_outbox_append(&to, "q", 2), 0);
	ck_assert_int_eq(push1(&pk, 4, "one", 4), 0);
	ck_assert_int_eq(push1(&pk, 4, "two", 4), 0);
	r = pb_park_retry(&pk, (size_t)pb_park_find(&pk, 4), &to);
	ck_assert(!r.pr_started);
	ck_assert_int_eq(r.pr_wait, PB_PARK_GO);
	ob_assert_holds(&to, "q\0one\0two", 10);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 0);
	pb_outbox_free(&to);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_retry_nothing_fits_empty_outbox_says_retry)
{
	struct pb_park pk;
	struct pb_outbox to;
	struct pb_park_retry r;

	/* An outbox too small for the first frame stays empty: it will
	 * never drain to wake the sender. */
	pb_park_init(&pk, 100, NULL);
	pb_outbox_init(&to, 3, NULL);
	ck_assert_int_eq(push1(&pk, 4, "four", 5), 0);
	r = pb_park_retry(&pk, (size_t)pb_park_find(&pk, 4), &to);
	ck_assert(!r.pr_started);
	ck_assert_int_eq(r.pr_wait, PB_PARK_RETRY);
	ck_assert(pb_outbox_empty(&to));
	lane_assert_holds(&pk, 4, "four", 5);
	pb_outbox_free(&to);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_park_retry_of_one_lane_keeps_the_others)
{
	struct pb_park pk;
	struct pb_outbox to;
	struct pb_park_retry r;
	uint32_t d;

	/* Removing lane 0 moves another lane into its place. */
	pb_park_init(&pk, 100, NULL);
	pb_outbox_init(&to, 100, NULL);
	for (d = 1; d <= 4; d++)
		ck_assert_int_eq(push1(&pk, d, "f", 2), 0);
	ck_assert_int_eq(push1(&pk, 1, "g", 2), 0);
	r = pb_park_retry(&pk, (size_t)pb_park_find(&pk, 1), &to);
	ck_assert(r.pr_started);
	ck_assert_int_eq(r.pr_wait, PB_PARK_GO);
	ob_assert_holds(&to, "f\0g", 4);
	ck_assert_uint_eq(pk.pk_nlanes, 3);
	for (d = 2; d <= 4; d++)
		lane_assert_holds(&pk, d, "f", 2);
	pb_outbox_free(&to);
	pb_park_free(&pk);
}
END_TEST

static Suite *park_suite(void)
{
	Suite *s = suite_create("park");
	TCase *tc = tcase_create("lanes");

	tcase_add_test(tc, test_park_starts_empty);
	tcase_add_test(tc, test_park_lanes_keep_order_per_destination);
	tcase_add_test(tc, test_park_push_several_frames_at_once);
	tcase_add_test(tc, test_park_push_of_nothing_makes_no_lane);
	tcase_add_test(tc, test_park_limit_refuses_and_changes_nothing);
	tcase_add_test(tc, test_park_limit_counts_all_lanes);
	tcase_add_test(tc, test_park_room_tracks_bytes);
	tcase_add_test(tc, test_park_find_gives_the_lane_for_dest);
	tcase_add_test(
		tc, test_park_flush_moves_whole_frames_and_removes_empty_lane);
	tcase_add_test(tc, test_park_flush_behind_outbox_contents);
	tcase_add_test(tc, test_park_drop_counts_frames_and_frees_bytes);
	tcase_add_test(tc, test_park_many_lanes_survive_removals);
	tcase_add_test(tc, test_park_drop_all_counts_frames_and_leaves_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_add_test(tc, test_park_wait_for_go_when_nothing_parked_for_dest);
	tcase_add_test(tc, test_park_wait_for_wait_when_outbox_holds_data);
	tcase_add_test(tc, test_park_wait_for_retry_when_outbox_empty);
	tcase_add_test(tc, test_park_retry_moves_whole_frames_and_says_wait);
	tcase_add_test(tc, test_park_retry_behind_data_does_not_start);
	tcase_add_test(tc,
		       test_park_retry_nothing_fits_empty_outbox_says_retry);
	tcase_add_test(tc, test_park_retry_of_one_lane_keeps_the_others);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(park_suite());
}
