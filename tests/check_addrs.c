/* SPDX-License-Identifier: ISC */
/*
 * check_addrs.c: unit tests of the count of clients per source address
 * (addrs.h), behind --max-clients-per-address: the limit holds per
 * address and not across addresses, an IPv6 /64 is one address, counts
 * go back as clients leave, and the table's memory follows the addresses
 * connected now.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "addrs.h"
#include "run.h"

static void key4(uint8_t key[PB_ADDRS_KEY], uint8_t a, uint8_t b)
{
	const uint8_t ip[4] = {10, 0, a, b};

	pb_addrs_key_v4(key, ip);
}

START_TEST(test_limit_is_per_address)
{
	struct pb_addrs a;
	uint8_t x[PB_ADDRS_KEY], y[PB_ADDRS_KEY];

	pb_addrs_init(&a);
	key4(x, 0, 2);
	key4(y, 0, 3);
	ck_assert_int_eq(pb_addrs_add(&a, x, 2), 0);
	ck_assert_int_eq(pb_addrs_add(&a, x, 2), 0);
	ck_assert_int_eq(pb_addrs_add(&a, x, 2), 1);
	ck_assert_uint_eq(pb_addrs_count(&a, x), 2);
	ck_assert_int_eq(pb_addrs_add(&a, y, 2), 0);
	pb_addrs_remove(&a, x);
	ck_assert_int_eq(pb_addrs_add(&a, x, 2), 0);
	ck_assert_uint_eq(pb_addrs_count(&a, y), 1);
	pb_addrs_free(&a);
}
END_TEST

/* An IPv6 host's /64 is one address; an IPv4 address is not confused
 * with the IPv6 address of the same bytes. */
START_TEST(test_v6_counts_per_64)
{
	uint8_t ip1[16] = {0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 1, 1, 2, 3, 4},
		ip2[16] = {0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 1, 9, 9, 9, 9},
		ip3[16] = {0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 2};
	uint8_t k1[PB_ADDRS_KEY], k2[PB_ADDRS_KEY], k3[PB_ADDRS_KEY],
		k4[PB_ADDRS_KEY];
	struct pb_addrs a;

	pb_addrs_key_v6(k1, ip1);
	pb_addrs_key_v6(k2, ip2);
	pb_addrs_key_v6(k3, ip3);
	pb_addrs_key_v4(k4, ip1);
	ck_assert_mem_eq(k1, k2, PB_ADDRS_KEY);
	ck_assert_int_ne(memcmp(k1, k3, PB_ADDRS_KEY), 0);
	ck_assert_int_ne(memcmp(k1, k4, PB_ADDRS_KEY), 0);
	pb_addrs_init(&a);
	ck_assert_int_eq(pb_addrs_add(&a, k1, 1), 0);
	ck_assert_int_eq(pb_addrs_add(&a, k2, 1), 1);
	ck_assert_int_eq(pb_addrs_add(&a, k3, 1), 0);
	pb_addrs_free(&a);
}
END_TEST

/* Many addresses in and out, in a scattered order, against a plain
 * array: every count right after every step; memory back at the end. */
START_TEST(test_random_churn_matches_model)
{
	static unsigned long model[4096];
	struct pb_addrs a;
	uint64_t r = 88172645463325252u;
	uint8_t k[PB_ADDRS_KEY];
	int step, i;

	pb_addrs_init(&a);
	memset(model, 0, sizeof(model));
	for (step = 0; step < 200000; step++) {
		unsigned n;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		n = (unsigned)(r >> 20) % 4096;
		key4(k, (uint8_t)(n >> 8), (uint8_t)n);
		if ((r & 3) != 0 || model[n] == 0) {
			int rc = pb_addrs_add(&a, k, 3);

			ck_assert_int_eq(rc, model[n] == 3 ? 1 : 0);
			if (rc == 0)
				model[n]++;
		} else {
			pb_addrs_remove(&a, k);
			model[n]--;
		}
		ck_assert_uint_eq(pb_addrs_count(&a, k), model[n]);
	}
	for (i = 0; i < 4096; i++) {
		key4(k, (uint8_t)(i >> 8), (uint8_t)i);
		ck_assert_uint_eq(pb_addrs_count(&a, k), model[i]);
		while (model[i]-- > 0)
			pb_addrs_remove(&a, k);
	}
	ck_assert_uint_eq(a.ad_used, 0);
	ck_assert_uint_le(a.ad_cap, 16);
	pb_addrs_free(&a);
}
END_TEST

static Suite *addrs_suite(void)
{
	Suite *s = suite_create("addrs");
	TCase *tc = tcase_create("addrs");

	tcase_add_test(tc, test_limit_is_per_address);
	tcase_add_test(tc, test_v6_counts_per_64);
	tcase_add_test(tc, test_random_churn_matches_model);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(addrs_suite());
}
