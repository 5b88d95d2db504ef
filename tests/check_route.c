/*
 * check_route.c: grouping the frames of one read by destination, and the
 * hand-off of a group to a destination's outbox. Order per destination
 * must survive both ways of grouping (a few destinations, or many, which
 * are sorted), and a frame cut short by a write must be completed first.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "outbox.h"
#include "route.h"
#include "run.h"

#define MAX_CALLS 64

/* What the routing callback saw, call by call. */
struct seen {
	uint32_t dest[MAX_CALLS];
	char text[MAX_CALLS][512]; /* the payloads of one call, joined */
	size_t ncalls;
};

static void record(void *arg, uint32_t dest, const struct iovec *iov, size_t n)
{
	struct seen *s = arg;
	char *t = s->text[s->ncalls];
	size_t i, off = 0;

	ck_assert_uint_lt(s->ncalls, MAX_CALLS);
	s->dest[s->ncalls] = dest;
	for (i = 0; i < n; i++) {
		ck_assert_uint_lt(off + iov[i].iov_len, sizeof(s->text[0]));
		memcpy(t + off, iov[i].iov_base, iov[i].iov_len - 1);
		off += iov[i].iov_len - 1;
		t[off++] = ',';
	}
	t[off] = '\0';
	s->ncalls++;
}

/* Appends a frame "c<k>" for dest to buf. */
static size_t put_frame(char *buf, size_t off, uint32_t dest, unsigned k)
{
	pb_frame_put_id(buf + off, dest);
	off += PB_FRAME_HEADER;
	off += (size_t)sprintf(buf + off, "%u", k) + 1;
	return off;
}

/* Routes frames k = 0 .. n-1 to dest k % ndests; checks one call per
 * destination, carrying its frames in order. */
static void check_grouping(unsigned n, unsigned ndests)
{
	static struct pb_route rt;
	static struct seen seen;
	struct pb_frame_parser p;
	char buf[16384], want[512];
	size_t len = 0, i;
	unsigned k;

	memset(&seen, 0, sizeof(seen));
	for (k = 0; k < n; k++)
		len = put_frame(buf, len, 100 + k % ndests, k);
	len = put_frame(buf, len, 7, 999); /* cut short: stays behind */
	len -= 2;
	pb_frame_parser_init(&p, 64);
	ck_assert_int_eq(pb_route_input(&rt, &p, buf, &len, record, &seen), 0);
	ck_assert_uint_eq(len, PB_FRAME_HEADER + 2);
	ck_assert_uint_eq(seen.ncalls, ndests);
	for (i = 0; i < seen.ncalls; i++) {
		uint32_t d = seen.dest[i];
		size_t off = 0;

		ck_assert(d >= 100 && d < 100 + ndests);
		for (k = d - 100; k < n; k += ndests)
			off += (size_t)snprintf(want + off, sizeof(want) - off,
						"%u,", k);
		ck_assert_str_eq(seen.text[i], want);
	}
}

START_TEST(test_one_destination_one_call)
{
	check_grouping(40, 1);
}
END_TEST

START_TEST(test_few_destinations_keep_order)
{
	check_grouping(40, 3);
}
END_TEST

START_TEST(test_many_destinations_keep_order)
{
	check_grouping(60, PB_ROUTE_FEW + 12);
}
END_TEST

START_TEST(test_too_long_frame_stops_after_good_ones)
{
	static struct pb_route rt;
	static struct seen seen;
	struct pb_frame_parser p;
	char buf[256];
	size_t len = put_frame(buf, 0, 5, 1);

	memset(&seen, 0, sizeof(seen));
	pb_frame_put_id(buf + len, 5);
	memset(buf + len + PB_FRAME_HEADER, 'x', 40);
	len += PB_FRAME_HEADER + 40;
	pb_frame_parser_init(&p, 16);
	ck_assert_int_eq(pb_route_input(&rt, &p, buf, &len, record, &seen), -1);
	ck_assert_uint_eq(seen.ncalls, 1);
	ck_assert_str_eq(seen.text[0], "1,");
}
END_TEST

static size_t write_room;

static ssize_t fake_write(void *ctx, const struct iovec *iov, size_t n)
{
	size_t total = 0, i;

	(void)ctx;
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	return (ssize_t)(total < write_room ? total : write_room);
}

/* Frames "aaa\0" "bbb\0" "ccc\0" "ddd\0" through an outbox of limit. */
static struct pb_route_handoff handoff(struct pb_outbox *ob, size_t limit,
				       size_t room)
{
	static const char *const f[] = {"aaa", "bbb", "ccc", "ddd"};
	struct iovec iov[4];
	size_t i;

	for (i = 0; i < 4; i++) {
		iov[i].iov_base = (void *)(uintptr_t)f[i];
		iov[i].iov_len = 4;
	}
	pb_outbox_init(ob, limit, NULL);
	write_room = room;
	return pb_route_handoff(ob, iov, 4, fake_write, NULL);
}

static void expect_outbox(const struct pb_outbox *ob, const char *want,
			  size_t n)
{
	struct iovec iov[2];
	char got[64];
	size_t off = 0;
	int k, i;

	k = pb_outbox_peek(ob, iov);
	for (i = 0; i < k; i++) {
		memcpy(got + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ck_assert_uint_eq(off, n);
	ck_assert_mem_eq(got, want, n);
}

START_TEST(test_handoff_all_written)
{
	struct pb_outbox ob;
	struct pb_route_handoff h = handoff(&ob, 64, 1000);

	ck_assert_uint_eq(h.rh_taken, 4);
	ck_assert(!h.rh_started);
	ck_assert(pb_outbox_empty(&ob));
}
END_TEST

START_TEST(test_handoff_cut_frame_is_completed_first)
{
	struct pb_outbox ob;
	struct pb_route_handoff h = handoff(&ob, 64, 6);

	ck_assert_uint_eq(h.rh_taken, 4);
	ck_assert(h.rh_started);
	expect_outbox(&ob, "b\0ccc\0ddd", 10);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_handoff_leaves_what_does_not_fit)
{
	struct pb_outbox ob;
	struct pb_route_handoff h = handoff(&ob, 9, 2);

	/* "a\0" (rest of frame 1) + "bbb\0" fit in 9; "ccc\0" does not. */
	ck_assert_uint_eq(h.rh_taken, 2);
	expect_outbox(&ob, "a\0bbb", 6);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_handoff_behind_queued_data_does_not_write)
{
	struct pb_outbox ob;
	struct iovec iov = {.iov_base = (void *)(uintptr_t) "zz", .iov_len = 3};
	struct pb_route_handoff h;

	pb_outbox_init(&ob, 64, NULL);
	ck_assert_int_eq(pb_outbox_append(&ob, "q", 2), 0);
	write_room = 1000; /* would take all, must not be asked */
	h = pb_route_handoff(&ob, &iov, 1, fake_write, NULL);
	ck_assert_uint_eq(h.rh_taken, 1);
	ck_assert(!h.rh_started);
	expect_outbox(&ob, "q\0zz", 5);
	pb_outbox_free(&ob);
}
END_TEST

static Suite *route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");

	tcase_add_test(tc, test_one_destination_one_call);
	tcase_add_test(tc, test_few_destinations_keep_order);
	tcase_add_test(tc, test_many_destinations_keep_order);
	tcase_add_test(tc, test_too_long_frame_stops_after_good_ones);
	tcase_add_test(tc, test_handoff_all_written);
	tcase_add_test(tc, test_handoff_cut_frame_is_completed_first);
	tcase_add_test(tc, test_handoff_leaves_what_does_not_fit);
	tcase_add_test(tc, test_handoff_behind_queued_data_does_not_write);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(route_suite());
}
