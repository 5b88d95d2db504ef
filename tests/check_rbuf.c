/* SPDX-License-Identifier: ISC */
/*
 * check_rbuf.c: unit tests of a client's read buffer (rbuf.h).
 *
 * The read buffer is what an idle or slow client costs the server, and
 * what bounds a read so that every complete frame read can be parked. So
 * it must start at PB_RBUF_MIN, double only when full or asked to, never
 * grow past rb_max, charge the budget exactly for what it holds and give
 * it all back when freed, allow no read that its waiting room could not
 * hold, and say it is idle only when it holds memory and nothing else.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "frame.h"
#include "park.h"
#include "rbuf.h"
#include "run.h"

/* Fails unless rb holds cap bytes of memory and the budget exactly that. */
static void rb_assert_cap(struct pb_rbuf *rb, struct pb_budget *b, size_t cap)
{
	ck_assert_uint_eq(rb->rb_cap, cap);
	if (cap > 0)
		ck_assert_ptr_nonnull(rb->rb_data);
	else
		ck_assert_ptr_null(rb->rb_data);
	ck_assert_uint_eq(pb_budget_used(b), cap);
}

/* Parks one frame of n bytes (n - 1 'p' and a 0x00) for dest. */
static void park_bytes(struct pb_park *pk, uint32_t dest, size_t n)
{
	static char frame[4096];
	struct iovec iov = {.iov_base = frame, .iov_len = n};

	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, sizeof(frame));
	memset(frame, 'p', n - 1);
	frame[n - 1] = '\0';
	ck_assert_int_eq(pb_park_pushv(pk, dest, &iov, 1), 0);
}

START_TEST(test_rbuf_starts_without_memory)
{
	struct pb_budget b;
	struct pb_rbuf rb;

	pb_budget_init(&b, 1 << 20);
	pb_rbuf_init(&rb, 100, &b);
	ck_assert_uint_eq(rb.rb_len, 0);
	rb_assert_cap(&rb, &b, 0);
	ck_assert(!pb_rbuf_idle(&rb, 0, 1000000));
	pb_rbuf_free(&rb);
	rb_assert_cap(&rb, &b, 0);
}
END_TEST

START_TEST(test_rbuf_max_is_whole_frame_or_rbuf_size)
{
	struct pb_rbuf rb;

	pb_rbuf_init(&rb, 0, NULL);
	ck_assert_uint_eq(rb.rb_max, PB_RBUF_SIZE);
	pb_rbuf_init(&rb, 100, NULL);
	ck_assert_uint_eq(rb.rb_max, PB_RBUF_SIZE);
	pb_rbuf_init(&rb, PB_RBUF_SIZE - PB_FRAME_HEADER, NULL);
	ck_assert_uint_eq(rb.rb_max, PB_RBUF_SIZE);
	pb_rbuf_init(&rb, PB_RBUF_SIZE - PB_FRAME_HEADER + 1, NULL);
	ck_assert_uint_eq(rb.rb_max, PB_RBUF_SIZE + 1);
	pb_rbuf_init(&rb, 1 << 20, NULL);
	ck_assert_uint_eq(rb.rb_max, (1 << 20) + PB_FRAME_HEADER);
}
END_TEST

START_TEST(test_rbuf_first_reserve_allocates_min)
{
	struct pb_budget b;
	struct pb_rbuf rb;

	pb_budget_init(&b, 1 << 20);
	pb_rbuf_init(&rb, 100, &b);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	rb_assert_cap(&rb, &b, PB_RBUF_MIN);
	ck_assert_uint_eq(rb.rb_len, 0);
	pb_rbuf_free(&rb);

	/* Asking to grow before anything was read still starts small. */
	ck_assert_int_eq(pb_rbuf_reserve(&rb, true), 0);
	rb_assert_cap(&rb, &b, PB_RBUF_MIN);
	pb_rbuf_free(&rb);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_rbuf_reserve_keeps_size_while_not_full)
{
	struct pb_budget b;
	struct pb_rbuf rb;
	char *data;

	pb_budget_init(&b, 1 << 20);
	pb_rbuf_init(&rb, 100, &b);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	data = rb.rb_data;
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	ck_assert_ptr_eq(rb.rb_data, data);
	rb_assert_cap(&rb, &b, PB_RBUF_MIN);
	/* One byte of room left is still room. */
	rb.rb_len = PB_RBUF_MIN - 1;
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	ck_assert_ptr_eq(rb.rb_data, data);
	rb_assert_cap(&rb, &b, PB_RBUF_MIN);
	ck_assert_uint_eq(rb.rb_len, PB_RBUF_MIN - 1);
	pb_rbuf_free(&rb);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_rbuf_doubles_when_full_and_keeps_bytes)
{
	struct pb_budget b;
	struct pb_rbuf rb;
	size_t i;

	pb_budget_init(&b, 1 << 20);
	pb_rbuf_init(&rb, 100, &b);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	for (i = 0; i < PB_RBUF_MIN; i++)
		rb.rb_data[i] = (char)(i % 251 + 1);
	rb.rb_len = PB_RBUF_MIN;
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	rb_assert_cap(&rb, &b, 2 * PB_RBUF_MIN);
	ck_assert_uint_eq(rb.rb_len, PB_RBUF_MIN);
	for (i = 0; i < PB_RBUF_MIN; i++)
		ck_assert_int_eq(rb.rb_data[i], (char)(i % 251 + 1));
	pb_rbuf_free(&rb);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_rbuf_doubles_when_grow_is_set)
{
	struct pb_budget b;
	struct pb_rbuf rb;

	pb_budget_init(&b, 1 << 20);
	pb_rbuf_init(&rb, 100, &b);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	rb.rb_len = 10;
	ck_assert_int_eq(pb_rbuf_reserve(&rb, true), 0);
	rb_assert_cap(&rb, &b, 2 * PB_RBUF_MIN);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, true), 0);
	rb_assert_cap(&rb, &b, 4 * PB_RBUF_MIN);
	ck_assert_uint_eq(rb.rb_len, 10);
	pb_rbuf_free(&rb);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

/* Grows rb as far as it goes; checks every step doubles (or stops at
 * rb_max) with the budget charged exactly. */
static void grow_to_max(size_t max_frame)
{
	struct pb_budget b;
	struct pb_rbuf rb;
	size_t want = PB_RBUF_MIN;
	int step;

	pb_budget_init(&b, 1 << 30);
	pb_rbuf_init(&rb, max_frame, &b);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, true), 0);
	rb_assert_cap(&rb, &b, PB_RBUF_MIN);
	for (step = 0; step < 40; step++) {
		/* Alternately asked to grow and found full. */
		if (step % 2 == 0)
			rb.rb_len = rb.rb_cap;
		ck_assert_int_eq(pb_rbuf_reserve(&rb, step % 2 != 0), 0);
		want = 2 * want < rb.rb_max ? 2 * want : rb.rb_max;
		rb_assert_cap(&rb, &b, want);
		ck_assert_uint_le(rb.rb_cap, rb.rb_max);
	}
	ck_assert_uint_eq(rb.rb_cap, rb.rb_max);
	/* Full at its largest: reserving changes nothing and succeeds. */
	rb.rb_len = rb.rb_cap;
	ck_assert_int_eq(pb_rbuf_reserve(&rb, true), 0);
	rb_assert_cap(&rb, &b, rb.rb_max);
	pb_rbuf_free(&rb);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}

START_TEST(test_rbuf_never_grows_beyond_max)
{
	grow_to_max(100);		      /* rb_max PB_RBUF_SIZE */
	grow_to_max(100000);		      /* rb_max not a power of 2 */
	grow_to_max(4 * PB_RBUF_SIZE + 1000); /* past 4 * PB_RBUF_SIZE */
}
END_TEST

START_TEST(test_rbuf_free_gives_all_back_and_is_reusable)
{
	struct pb_budget b;
	struct pb_rbuf rb;
	size_t max;

	pb_budget_init(&b, 1 << 20);
	pb_rbuf_init(&rb, 100000, &b);
	max = rb.rb_max;
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, true), 0);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, true), 0);
	rb.rb_len = 100;
	rb_assert_cap(&rb, &b, 4 * PB_RBUF_MIN);
	pb_rbuf_free(&rb);
	ck_assert_uint_eq(rb.rb_len, 0);
	rb_assert_cap(&rb, &b, 0);
	ck_assert_uint_eq(rb.rb_max, max);
	ck_assert(rb.rb_budget == &b);
	/* Freeing twice is harmless. */
	pb_rbuf_free(&rb);
	rb_assert_cap(&rb, &b, 0);
	/* And it starts over from the smallest size. */
	ck_assert_int_eq(pb_rbuf_reserve(&rb, true), 0);
	rb_assert_cap(&rb, &b, PB_RBUF_MIN);
	ck_assert_uint_eq(rb.rb_len, 0);
	pb_rbuf_free(&rb);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_rbuf_buffers_share_a_budget)
{
	struct pb_budget b;
	struct pb_rbuf x, y;

	pb_budget_init(&b, 1 << 20);
	pb_rbuf_init(&x, 100, &b);
	pb_rbuf_init(&y, 100, &b);
	ck_assert_int_eq(pb_rbuf_reserve(&x, false), 0);
	ck_assert_int_eq(pb_rbuf_reserve(&y, false), 0);
	ck_assert_int_eq(pb_rbuf_reserve(&y, true), 0);
	ck_assert_uint_eq(pb_budget_used(&b), 3 * PB_RBUF_MIN);
	pb_rbuf_free(&y);
	ck_assert_uint_eq(pb_budget_used(&b), PB_RBUF_MIN);
	pb_rbuf_free(&x);
	ck_assert_uint_eq(pb_budget_used(&b), 0);
}
END_TEST

START_TEST(test_rbuf_allowance_limited_by_max)
{
	struct pb_park pk;
	struct pb_rbuf rb;

	pb_park_init(&pk, 1 << 30, NULL);
	pb_rbuf_init(&rb, 100, NULL);
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), PB_RBUF_SIZE);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	/* What is held counts against it. */
	rb.rb_len = 100;
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), PB_RBUF_SIZE - 100);
	pb_rbuf_free(&rb);

	pb_rbuf_init(&rb, 100000, NULL);
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk),
			  100000 + PB_FRAME_HEADER);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_rbuf_allowance_limited_by_waiting_room)
{
	struct pb_park pk;
	struct pb_rbuf rb;

	pb_park_init(&pk, 1000, NULL);
	pb_rbuf_init(&rb, 100000, NULL);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	/* The room, plus one frame's header. */
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 1000 + PB_FRAME_HEADER);
	rb.rb_len = 4;
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 1000);
	/* Parked frames shrink it. */
	park_bytes(&pk, 3, 300);
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 700);
	park_bytes(&pk, 5, 650);
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 50);
	rb.rb_len = 0;
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 50 + PB_FRAME_HEADER);
	/* And flushing them gives it back. */
	ck_assert_uint_eq(pb_park_drop_all(&pk), 2);
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 1000 + PB_FRAME_HEADER);
	pb_rbuf_free(&rb);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_rbuf_allowance_is_0_when_full)
{
	struct pb_park pk;
	struct pb_rbuf rb;

	/* The waiting room is full: only a header's worth may be held. */
	pb_park_init(&pk, 100, NULL);
	pb_rbuf_init(&rb, 100, NULL);
	park_bytes(&pk, 1, 100);
	ck_assert_uint_eq(pb_park_room(&pk), 0);
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), PB_FRAME_HEADER);
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	rb.rb_len = PB_FRAME_HEADER;
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 0);
	/* Holding more than that is still 0, not a wrap-around. */
	rb.rb_len = 50;
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 0);
	pb_park_free(&pk);

	/* The buffer holds all it ever may. */
	pb_park_init(&pk, 1 << 30, NULL);
	rb.rb_len = rb.rb_max;
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 0);
	rb.rb_len = rb.rb_max - 1;
	ck_assert_uint_eq(pb_rbuf_allowance(&rb, &pk), 1);
	rb.rb_len = 0;
	pb_rbuf_free(&rb);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_rbuf_idle_only_when_allocated_empty_and_unused)
{
	struct pb_rbuf rb;
	uint64_t t = 5000000;

	pb_rbuf_init(&rb, 100, NULL);
	/* Nothing allocated: nothing to give back. */
	ck_assert(!pb_rbuf_idle(&rb, t, t + 10 * PB_RBUF_IDLE_MS));
	ck_assert_int_eq(pb_rbuf_reserve(&rb, false), 0);
	ck_assert(!pb_rbuf_idle(&rb, t, t));
	ck_assert(!pb_rbuf_idle(&rb, t, t + PB_RBUF_IDLE_MS - 1));
	ck_assert(pb_rbuf_idle(&rb, t, t + PB_RBUF_IDLE_MS));
	ck_assert(pb_rbuf_idle(&rb, t, t + 10 * PB_RBUF_IDLE_MS));
	/* Holding the start of a frame: never idle. */
	rb.rb_len = 1;
	ck_assert(!pb_rbuf_idle(&rb, t, t + 10 * PB_RBUF_IDLE_MS));
	rb.rb_len = 0;
	/* Given back: not idle any more. */
	pb_rbuf_free(&rb);
	ck_assert(!pb_rbuf_idle(&rb, t, t + 10 * PB_RBUF_IDLE_MS));
}
END_TEST

static Suite *rbuf_suite(void)
{
	Suite *s = suite_create("rbuf");
	TCase *tc = tcase_create("size");

	tcase_add_test(tc, test_rbuf_starts_without_memory);
	tcase_add_test(tc, test_rbuf_max_is_whole_frame_or_rbuf_size);
	tcase_add_test(tc, test_rbuf_first_reserve_allocates_min);
	tcase_add_test(tc, test_rbuf_reserve_keeps_size_while_not_full);
	tcase_add_test(tc, test_rbuf_doubles_when_full_and_keeps_bytes);
	tcase_add_test(tc, test_rbuf_doubles_when_grow_is_set);
	tcase_add_test(tc, test_rbuf_never_grows_beyond_max);
	tcase_add_test(tc, test_rbuf_free_gives_all_back_and_is_reusable);
	tcase_add_test(tc, test_rbuf_buffers_share_a_budget);
	suite_add_tcase(s, tc);

	tc = tcase_create("allowance");
	tcase_add_test(tc, test_rbuf_allowance_limited_by_max);
	tcase_add_test(tc, test_rbuf_allowance_limited_by_waiting_room);
	tcase_add_test(tc, test_rbuf_allowance_is_0_when_full);
	tcase_add_test(tc, test_rbuf_idle_only_when_allocated_empty_and_unused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(rbuf_suite());
}
