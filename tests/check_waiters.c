/* SPDX-License-Identifier: ISC */
/*
 * check_waiters.c: unit tests of the senders waiting on one destination
 * (waiters.h).
 *
 * A sender that had to park frames for a destination registers once and
 * must be woken exactly once when the destination drains: so adding is
 * idempotent, the set grows to any number of senders, and taking it moves
 * every waiter out (to be woken outside the destination's lock) and leaves
 * the set empty and usable again.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "run.h"
#include "waiters.h"

/* How many times who is in w. */
static size_t count_of(const struct pb_waiters *w, uintptr_t who)
{
	size_t i, n = 0;

	for (i = 0; i < w->wt_n; i++)
		if (w->wt_list[i] == who)
			n++;
	return n;
}

/* A waiter value that looks like the pointers the daemon registers. */
static uintptr_t who_nr(size_t i)
{
	return (uintptr_t)0x1000 + (uintptr_t)i * 64;
}

START_TEST(test_waiters_start_empty)
{
	struct pb_waiters w;

	pb_waiters_init(&w);
	ck_assert_uint_eq(w.wt_n, 0);
	ck_assert_uint_eq(count_of(&w, 0), 0);
	pb_waiters_free(&w);
	ck_assert_uint_eq(w.wt_n, 0);
}
END_TEST

START_TEST(test_waiters_add_is_idempotent)
{
	struct pb_waiters w;

	pb_waiters_init(&w);
	ck_assert_int_eq(pb_waiters_add(&w, 7), 1);
	ck_assert_int_eq(pb_waiters_add(&w, 7), 0);
	ck_assert_uint_eq(w.wt_n, 1);
	ck_assert_int_eq(pb_waiters_add(&w, 8), 1);
	ck_assert_int_eq(pb_waiters_add(&w, 7), 0);
	ck_assert_int_eq(pb_waiters_add(&w, 8), 0);
	/* 0 is an id like any other (the reactor's first connection). */
	ck_assert_int_eq(pb_waiters_add(&w, 0), 1);
	ck_assert_int_eq(pb_waiters_add(&w, 0), 0);
	ck_assert_int_eq(pb_waiters_add(&w, UINTPTR_MAX), 1);
	ck_assert_int_eq(pb_waiters_add(&w, UINTPTR_MAX), 0);
	ck_assert_uint_eq(w.wt_n, 4);
	ck_assert_uint_eq(count_of(&w, 7), 1);
	ck_assert_uint_eq(count_of(&w, 8), 1);
	ck_assert_uint_eq(count_of(&w, 0), 1);
	ck_assert_uint_eq(count_of(&w, UINTPTR_MAX), 1);
	pb_waiters_free(&w);
}
END_TEST

START_TEST(test_waiters_grow_past_first_allocation)
{
	struct pb_waiters w;
	size_t i, n = 100;

	pb_waiters_init(&w);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(pb_waiters_add(&w, who_nr(i)), 1);
		ck_assert_uint_eq(w.wt_n, i + 1);
		ck_assert_uint_le(w.wt_n, w.wt_alloc);
	}
	/* Every one is there once, and none can be added twice. */
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(count_of(&w, who_nr(i)), 1);
		ck_assert_int_eq(pb_waiters_add(&w, who_nr(i)), 0);
	}
	ck_assert_uint_eq(w.wt_n, n);
	ck_assert_uint_eq(count_of(&w, who_nr(n)), 0);
	pb_waiters_free(&w);
}
END_TEST

START_TEST(test_waiters_take_moves_all_and_empties_source)
{
	struct pb_waiters w, out;
	size_t i, n = 10;

	pb_waiters_init(&w);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(pb_waiters_add(&w, who_nr(i)), 1);
	pb_waiters_take(&w, &out);
	ck_assert_uint_eq(w.wt_n, 0);
	ck_assert_uint_eq(out.wt_n, n);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(count_of(&out, who_nr(i)), 1);
		ck_assert_uint_eq(count_of(&w, who_nr(i)), 0);
	}
	/* The source is usable again, and shares nothing with out: a
	 * sender taken can register anew. */
	ck_assert_int_eq(pb_waiters_add(&w, who_nr(3)), 1);
	ck_assert_int_eq(pb_waiters_add(&w, who_nr(3)), 0);
	ck_assert_int_eq(pb_waiters_add(&w, who_nr(n)), 1);
	ck_assert_uint_eq(w.wt_n, 2);
	ck_assert_uint_eq(out.wt_n, n);
	ck_assert_uint_eq(count_of(&out, who_nr(n)), 0);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(count_of(&out, who_nr(i)), 1);
	pb_waiters_free(&out);
	pb_waiters_free(&w);
}
END_TEST

START_TEST(test_waiters_take_of_empty_gives_empty)
{
	struct pb_waiters w, out;

	pb_waiters_init(&w);
	pb_waiters_take(&w, &out);
	ck_assert_uint_eq(out.wt_n, 0);
	ck_assert_uint_eq(w.wt_n, 0);
	ck_assert_int_eq(pb_waiters_add(&out, 1), 1);
	ck_assert_uint_eq(w.wt_n, 0);
	pb_waiters_free(&out);
	pb_waiters_free(&w);
}
END_TEST

START_TEST(test_waiters_free_empties_and_is_reusable)
{
	struct pb_waiters w;
	size_t i;

	pb_waiters_init(&w);
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(pb_waiters_add(&w, who_nr(i)), 1);
	pb_waiters_free(&w);
	ck_assert_uint_eq(w.wt_n, 0);
	ck_assert_ptr_null(w.wt_list);
	ck_assert_uint_eq(count_of(&w, who_nr(0)), 0);
	/* What was there before can be added again. */
	ck_assert_int_eq(pb_waiters_add(&w, who_nr(0)), 1);
	ck_assert_int_eq(pb_waiters_add(&w, who_nr(0)), 0);
	ck_assert_uint_eq(w.wt_n, 1);
	pb_waiters_free(&w);
	pb_waiters_free(&w); /* twice is harmless */
	ck_assert_uint_eq(w.wt_n, 0);
}
END_TEST

static Suite *waiters_suite(void)
{
	Suite *s = suite_create("waiters");
	TCase *tc = tcase_create("set");

	tcase_add_test(tc, test_waiters_start_empty);
	tcase_add_test(tc, test_waiters_add_is_idempotent);
	tcase_add_test(tc, test_waiters_grow_past_first_allocation);
	tcase_add_test(tc, test_waiters_take_moves_all_and_empties_source);
	tcase_add_test(tc, test_waiters_take_of_empty_gives_empty);
	tcase_add_test(tc, test_waiters_free_empties_and_is_reusable);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(waiters_suite());
}
