/* SPDX-License-Identifier: ISC */
/*
 * check_table.c: unit tests of the client id table (table.h).
 *
 * The table is what makes ids safe: an id is handed out once and never
 * again (until the 32-bit space wraps, and then never one still alive), so
 * a frame for a departed client cannot reach a newcomer. It is also on
 * every frame's path and lives as long as the daemon, so lookups must stay
 * right through any pattern of removals, and its memory must follow the
 * clients alive now, not the connections seen since start.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "table.h"
#include "run.h"

#define FLAT_CAP 64 /* most slots a table with a few ids alive may hold */

/* A distinct, non-NULL value for each id; never dereferenced. */
static void *val(uint32_t id)
{
	return (void *)((uintptr_t)id * 2 + 1);
}

START_TEST(test_table_ids_start_at_zero_in_order)
{
	struct pb_table t;
	uint32_t i;

	pb_table_init(&t);
	ck_assert_uint_eq(pb_table_count(&t), 0);
	for (i = 0; i < 10; i++)
		ck_assert_uint_eq(pb_table_next_id(&t), i);
	/* Handing out ids inserts nothing. */
	ck_assert_uint_eq(pb_table_count(&t), 0);
	for (i = 0; i < 10; i++)
		ck_assert_ptr_null(pb_table_get(&t, i));
	pb_table_free(&t);
}
END_TEST

START_TEST(test_table_empty_table_lookups)
{
	struct pb_table t;

	pb_table_init(&t);
	ck_assert_ptr_null(pb_table_get(&t, 0));
	ck_assert_ptr_null(pb_table_get(&t, 0xffffffffu));
	ck_assert_ptr_null(pb_table_remove(&t, 0));
	ck_assert_uint_eq(pb_table_count(&t), 0);
	pb_table_free(&t);
}
END_TEST

START_TEST(test_table_insert_get_remove)
{
	struct pb_table t;
	uint32_t a, b, c;

	pb_table_init(&t);
	a = pb_table_next_id(&t);
	ck_assert_int_eq(pb_table_insert(&t, a, val(a)), 0);
	b = pb_table_next_id(&t);
	ck_assert_int_eq(pb_table_insert(&t, b, val(b)), 0);
	c = pb_table_next_id(&t);
	ck_assert_int_eq(pb_table_insert(&t, c, val(c)), 0);
	ck_assert_uint_eq(pb_table_count(&t), 3);
	ck_assert_ptr_eq(pb_table_get(&t, a), val(a));
	ck_assert_ptr_eq(pb_table_get(&t, b), val(b));
	ck_assert_ptr_eq(pb_table_get(&t, c), val(c));
	ck_assert_ptr_null(pb_table_get(&t, c + 1));

	ck_assert_ptr_eq(pb_table_remove(&t, b), val(b));
	ck_assert_uint_eq(pb_table_count(&t), 2);
	ck_assert_ptr_null(pb_table_get(&t, b));
	ck_assert_ptr_eq(pb_table_get(&t, a), val(a));
	ck_assert_ptr_eq(pb_table_get(&t, c), val(c));
	/* Removing it again finds nothing and changes nothing. */
	ck_assert_ptr_null(pb_table_remove(&t, b));
	ck_assert_uint_eq(pb_table_count(&t), 2);

	ck_assert_ptr_eq(pb_table_remove(&t, a), val(a));
	ck_assert_ptr_eq(pb_table_remove(&t, c), val(c));
	ck_assert_uint_eq(pb_table_count(&t), 0);
	ck_assert_ptr_null(pb_table_get(&t, a));
	ck_assert_ptr_null(pb_table_get(&t, c));
	pb_table_free(&t);
}
END_TEST

START_TEST(test_table_insert_existing_id_is_eexist)
{
	struct pb_table t;
	uint32_t a;
	int other = 0;

	pb_table_init(&t);
	a = pb_table_next_id(&t);
	ck_assert_int_eq(pb_table_insert(&t, a, val(a)), 0);
	errno = 0;
	ck_assert_int_eq(pb_table_insert(&t, a, &other), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_ptr_eq(pb_table_get(&t, a), val(a));
	ck_assert_uint_eq(pb_table_count(&t), 1);
	pb_table_free(&t);
}
END_TEST

START_TEST(test_table_ids_not_reused_after_removal)
{
	struct pb_table t;
	uint32_t id, i;

	pb_table_init(&t);
	for (i = 0; i < 100; i++) {
		id = pb_table_next_id(&t);
		ck_assert_uint_eq(id, i);
		ck_assert_int_eq(pb_table_insert(&t, id, val(id)), 0);
		ck_assert_ptr_eq(pb_table_remove(&t, id), val(id));
		ck_assert_ptr_null(pb_table_get(&t, id));
	}
	ck_assert_uint_eq(pb_table_next_id(&t), 100);
	ck_assert_uint_eq(pb_table_count(&t), 0);
	pb_table_free(&t);
}
END_TEST

/*
 * A million connections, never more than three at a time: the table must
 * stay small (memory follows the ids alive, not the ids handed out) and
 * keep answering right. Failures are counted rather than asserted in the
 * loop so that the loop stays fast.
 */
START_TEST(test_table_churn_keeps_capacity_flat)
{
	struct pb_table t;
	uint32_t alive[3] = {0, 0, 0};
	uint32_t i, id, gone;
	size_t max_cap = 0, bad_id = 0, bad_insert = 0, bad_remove = 0;
	size_t bad_get = 0;

	pb_table_init(&t);
	for (i = 0; i < 1000000; i++) {
		id = pb_table_next_id(&t);
		if (id != i)
			bad_id++;
		if (pb_table_insert(&t, id, val(id)) != 0)
			bad_insert++;
		if (i >= 3) {
			gone = alive[i % 3];
			if (pb_table_remove(&t, gone) != val(gone))
				bad_remove++;
			if (pb_table_get(&t, gone) != NULL)
				bad_get++;
		}
		alive[i % 3] = id;
		if (pb_table_get(&t, id) != val(id))
			bad_get++;
		if (pb_table_capacity(&t) > max_cap)
			max_cap = pb_table_capacity(&t);
	}
	ck_assert_uint_eq(bad_id, 0);
	ck_assert_uint_eq(bad_insert, 0);
	ck_assert_uint_eq(bad_remove, 0);
	ck_assert_uint_eq(bad_get, 0);
	ck_assert_uint_eq(pb_table_count(&t), 3);
	ck_assert_uint_le(max_cap, FLAT_CAP);
	for (i = 0; i < 3; i++)
		ck_assert_ptr_eq(pb_table_get(&t, alive[i]), val(alive[i]));
	ck_assert_ptr_null(pb_table_get(&t, 0));
	ck_assert_ptr_null(pb_table_get(&t, 999996));
	pb_table_free(&t);
}
END_TEST

#define MANY 100000u

START_TEST(test_table_many_alive_then_none)
{
	struct pb_table t;
	uint32_t i, id;
	size_t bad = 0, peak;

	pb_table_init(&t);
	for (i = 0; i < MANY; i++) {
		id = pb_table_next_id(&t);
		if (id != i || pb_table_insert(&t, id, val(id)) != 0)
			bad++;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(pb_table_count(&t), MANY);
	peak = pb_table_capacity(&t);
	ck_assert_uint_ge(peak, MANY);
	ck_assert_uint_eq(peak & (peak - 1), 0); /* a power of two */
	for (i = 0; i < MANY; i++)
		if (pb_table_get(&t, i) != val(i))
			bad++;
	ck_assert_uint_eq(bad, 0);
	ck_assert_ptr_null(pb_table_get(&t, MANY));

	for (i = 0; i < MANY; i++) {
		if (pb_table_remove(&t, i) != val(i))
			bad++;
		/* check survivors along the way, as the table shrinks */
		id = i + 1 + (MANY - 1 - i) / 2;
		if (id < MANY && pb_table_get(&t, id) != val(id))
			bad++;
		if (pb_table_get(&t, i) != NULL)
			bad++;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(pb_table_count(&t), 0);
	ck_assert_uint_le(pb_table_capacity(&t), FLAT_CAP);
	ck_assert_uint_eq(pb_table_next_id(&t), MANY);
	pb_table_free(&t);
}
END_TEST

/*
 * Removals in a scattered order, with the table growing and shrinking:
 * every id still alive must be found and every removed one must not.
 */
START_TEST(test_table_scattered_removals_keep_lookups_right)
{
	enum { N = 5000 };
	static unsigned char live[N];
	struct pb_table t;
	uint32_t i, id, k;
	size_t bad = 0, count = 0;

	pb_table_init(&t);
	for (i = 0; i < N; i++) {
		id = pb_table_next_id(&t);
		ck_assert_uint_eq(id, i);
		ck_assert_int_eq(pb_table_insert(&t, id, val(id)), 0);
		live[id] = 1;
	}
	count = N;
	/* 7919 is prime to N, so k visits every id once in a scattered
	 * order; remove four in five of them, checking all as we go. */
	for (i = 0; i < N; i++) {
		k = (uint32_t)(((uint64_t)i * 7919) % N);
		if (k % 5 == 0)
			continue;
		if (pb_table_remove(&t, k) != val(k))
			bad++;
		live[k] = 0;
		count--;
		if (i % 250 == 0) {
			for (id = 0; id < N; id++)
				if (pb_table_get(&t, id) !=
				    (live[id] ? val(id) : NULL))
					bad++;
		}
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(pb_table_count(&t), count);
	ck_assert_uint_eq(count, N / 5);
	for (id = 0; id < N; id++)
		if (pb_table_get(&t, id) != (live[id] ? val(id) : NULL))
			bad++;
	ck_assert_uint_eq(bad, 0);
	pb_table_free(&t);
}
END_TEST

/* A small deterministic generator for the model-checked test. */
static uint32_t rng_state = 0x2545f491u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/*
 * Clients come and go at random, a few hundred alive at a time, so the ids
 * alive are scattered over a range far wider than the table: whatever the
 * hash, entries collide and removals happen inside probe runs. After every
 * step the removed id must be gone and a random live one found; every so
 * often every id ever handed out is checked against the model.
 */
#define CHURN_STEPS 300000u

START_TEST(test_table_random_churn_matches_model)
{
	static unsigned char live[CHURN_STEPS];
	static uint32_t alive[CHURN_STEPS];
	struct pb_table t;
	uint32_t step, id, k, nalive = 0, handed = 0;
	size_t bad = 0, max_cap = 0, max_alive = 0;

	pb_table_init(&t);
	for (step = 0; step < CHURN_STEPS; step++) {
		if (nalive == 0 || (nalive < 600 && rng() % 2 == 0)) {
			id = pb_table_next_id(&t);
			if (id != handed++ || id >= CHURN_STEPS ||
			    pb_table_insert(&t, id, val(id)) != 0) {
				bad++;
				break;
			}
			live[id] = 1;
			alive[nalive++] = id;
		} else {
			k = rng() % nalive;
			id = alive[k];
			alive[k] = alive[--nalive];
			live[id] = 0;
			if (pb_table_remove(&t, id) != val(id))
				bad++;
			if (pb_table_get(&t, id) != NULL)
				bad++;
		}
		if (nalive > 0) {
			id = alive[rng() % nalive];
			if (pb_table_get(&t, id) != val(id))
				bad++;
		}
		if (pb_table_count(&t) != nalive)
			bad++;
		if (pb_table_capacity(&t) > max_cap)
			max_cap = pb_table_capacity(&t);
		if (nalive > max_alive)
			max_alive = nalive;
		if (step % 10000 == 0)
			for (id = 0; id < handed; id++)
				if (pb_table_get(&t, id) !=
				    (live[id] ? val(id) : NULL))
					bad++;
	}
	ck_assert_uint_eq(bad, 0);
	for (id = 0; id < handed; id++)
		if (pb_table_get(&t, id) != (live[id] ? val(id) : NULL))
			bad++;
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_ge(handed, CHURN_STEPS / 3);
	/* Memory follows the ids alive, not the ids handed out. */
	ck_assert_uint_le(max_cap, 8 * max_alive);
	while (nalive > 0) {
		id = alive[--nalive];
		if (pb_table_remove(&t, id) != val(id))
			bad++;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(pb_table_count(&t), 0);
	ck_assert_uint_le(pb_table_capacity(&t), FLAT_CAP);
	pb_table_free(&t);
}
END_TEST

START_TEST(test_table_next_id_wraps_and_skips_alive)
{
	struct pb_table t;
	uint32_t id;

	pb_table_init(&t);
	/* 0 and 2 stay alive, 1 leaves. */
	for (id = 0; id < 3; id++) {
		ck_assert_uint_eq(pb_table_next_id(&t), id);
		ck_assert_int_eq(pb_table_insert(&t, id, val(id)), 0);
	}
	ck_assert_ptr_eq(pb_table_remove(&t, 1), val(1));
	pb_table_set_space(&t, 0, 0, UINT32_MAX - 1);

	id = pb_table_next_id(&t);
	ck_assert_uint_eq(id, UINT32_MAX - 1);
	ck_assert_int_eq(pb_table_insert(&t, id, val(id)), 0);
	id = pb_table_next_id(&t);
	ck_assert_uint_eq(id, UINT32_MAX);
	ck_assert_int_eq(pb_table_insert(&t, id, val(id)), 0);
	/* Wrapped: 0 is alive and skipped, 1 is free again. */
	id = pb_table_next_id(&t);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(pb_table_insert(&t, id, val(id)), 0);
	/* 2 is alive and skipped. */
	id = pb_table_next_id(&t);
	ck_assert_uint_eq(id, 3);
	ck_assert_int_eq(pb_table_insert(&t, id, val(id)), 0);

	ck_assert_uint_eq(pb_table_count(&t), 6);
	ck_assert_ptr_eq(pb_table_get(&t, 0), val(0));
	ck_assert_ptr_eq(pb_table_get(&t, 1), val(1));
	ck_assert_ptr_eq(pb_table_get(&t, 2), val(2));
	ck_assert_ptr_eq(pb_table_get(&t, 3), val(3));
	ck_assert_ptr_eq(pb_table_get(&t, UINT32_MAX - 1), val(UINT32_MAX - 1));
	ck_assert_ptr_eq(pb_table_get(&t, UINT32_MAX), val(UINT32_MAX));
	ck_assert_ptr_eq(pb_table_remove(&t, UINT32_MAX), val(UINT32_MAX));
	ck_assert_ptr_null(pb_table_get(&t, UINT32_MAX));
	ck_assert_uint_eq(pb_table_next_id(&t), 4);
	pb_table_free(&t);
}
END_TEST

/* A node's ids carry its number in their top bits, and the local part
 * wraps within them, going on from where an earlier run stopped. */
START_TEST(test_table_node_space)
{
	struct pb_table t;
	uint32_t id;

	pb_table_init(&t);
	pb_table_set_space(&t, 4, 3, 0);
	ck_assert_uint_eq(pb_table_next_id(&t), 3u << 28);
	ck_assert_uint_eq(pb_table_next_id(&t), (3u << 28) | 1);
	ck_assert_uint_eq(pb_table_handed(&t), 2);
	pb_table_set_space(&t, 16, 0xffff, 65535);
	id = pb_table_next_id(&t);
	ck_assert_uint_eq(id, 0xffffffffu);
	ck_assert_int_eq(pb_table_insert(&t, 0xffff0000u, val(0)), 0);
	/* Wrapped within the node's part: its id 0 is alive, skipped. */
	ck_assert_uint_eq(pb_table_next_id(&t), 0xffff0001u);
	ck_assert_uint_eq(pb_table_handed(&t), 65538);
	pb_table_free(&t);
}
END_TEST

START_TEST(test_table_next_id_wrap_skips_a_run_of_alive_ids)
{
	struct pb_table t;
	uint32_t id;

	pb_table_init(&t);
	for (id = 0; id < 50; id++) {
		ck_assert_uint_eq(pb_table_next_id(&t), id);
		ck_assert_int_eq(pb_table_insert(&t, id, val(id)), 0);
	}
	pb_table_set_space(&t, 0, 0, UINT32_MAX);
	ck_assert_uint_eq(pb_table_next_id(&t), UINT32_MAX);
	/* UINT32_MAX was handed out but not inserted: not alive. Ids 0 to
	 * 49 are alive, so the next is 50. */
	ck_assert_uint_eq(pb_table_next_id(&t), 50);
	ck_assert_uint_eq(pb_table_next_id(&t), 51);
	ck_assert_uint_eq(pb_table_count(&t), 50);
	pb_table_free(&t);
}
END_TEST

/* foreach callback: counts a visit in the int the value points to. */
static void count_visit(void *value, void *arg)
{
	int *visits = value;
	size_t *total = arg;

	(*visits)++;
	(*total)++;
}

START_TEST(test_table_foreach_visits_every_live_value_once)
{
	enum { N = 1000 };
	static int visits[N];
	struct pb_table t;
	uint32_t i, id;
	size_t total = 0;

	pb_table_init(&t);
	pb_table_foreach(&t, count_visit, &total);
	ck_assert_uint_eq(total, 0);
	for (i = 0; i < N; i++) {
		id = pb_table_next_id(&t);
		ck_assert_int_eq(pb_table_insert(&t, id, &visits[id]), 0);
	}
	for (i = 0; i < N; i += 3)
		ck_assert_ptr_eq(pb_table_remove(&t, i), &visits[i]);
	pb_table_foreach(&t, count_visit, &total);
	ck_assert_uint_eq(total, pb_table_count(&t));
	ck_assert_uint_eq(total, N - (N + 2) / 3);
	for (i = 0; i < N; i++)
		ck_assert_msg(visits[i] == (i % 3 != 0 ? 1 : 0),
			      "id %u visited %d times", (unsigned)i, visits[i]);
	pb_table_free(&t);
}
END_TEST

static Suite *table_suite(void)
{
	Suite *s = suite_create("table");
	TCase *tc = tcase_create("ids");

	tcase_add_test(tc, test_table_ids_start_at_zero_in_order);
	tcase_add_test(tc, test_table_empty_table_lookups);
	tcase_add_test(tc, test_table_insert_get_remove);
	tcase_add_test(tc, test_table_insert_existing_id_is_eexist);
	tcase_add_test(tc, test_table_ids_not_reused_after_removal);
	tcase_add_test(tc, test_table_next_id_wraps_and_skips_alive);
	tcase_add_test(tc, test_table_next_id_wrap_skips_a_run_of_alive_ids);
	tcase_add_test(tc, test_table_foreach_visits_every_live_value_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_table_churn_keeps_capacity_flat);
	tcase_add_test(tc, test_table_many_alive_then_none);
	tcase_add_test(tc, test_table_node_space);
	tcase_add_test(tc, test_table_scattered_removals_keep_lookups_right);
	tcase_add_test(tc, test_table_random_churn_matches_model);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(table_suite());
}
