/* SPDX-License-Identifier: ISC */
/*
 * check_route.c: grouping the frames of one read by destination, and the
 * hand-off of a group to a destination's outbox. Order per destination
 * must survive both ways of grouping (a few destinations, or many, which
 * are sorted), and a frame cut short by a write must be completed first.
 * The counts the servers add up must be exact: frames routed per read,
 * frames written whole, and frames lost when the waiting room cannot take
 * what the outbox has no room for; pb_route_deliver and pb_route_behind
 * must park the rest in order and say whether the sender must wait.
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

/* A write that must not be called: the outbox holds data already. */
static ssize_t no_write(void *ctx, const struct iovec *iov, size_t n)
{
	(void)ctx;
	(void)iov;
	(void)n;
	ck_abort_msg("write called behind queued data");
	return -1;
}

/* A write that fails (EAGAIN, or an error the caller sees later). */
static ssize_t failed_write(void *ctx, const struct iovec *iov, size_t n)
{
	(void)ctx;
	(void)iov;
	(void)n;
	return -1;
}

START_TEST(test_handoff_sent_counts_frames_written_whole)
{
	static const char all[] = "aaa\0bbb\0ccc\0ddd";
	struct pb_outbox ob;
	struct pb_route_handoff h;
	size_t k;

	/* Four frames of 4 bytes; the write takes k bytes. */
	for (k = 0; k <= 20; k++) {
		h = handoff(&ob, 64, k);
		ck_assert_msg(h.rh_sent == (k < 16 ? k / 4 : 4),
			      "write of %zu bytes: %zu frames sent", k,
			      h.rh_sent);
		ck_assert_uint_eq(h.rh_taken, 4);
		ck_assert(!h.rh_cut);
		/* What was not written, cut frame included, is queued. */
		ck_assert_int_eq(h.rh_started, k < 16);
		if (k < 16)
			expect_outbox(&ob, all + k, 16 - k);
		else
			ck_assert(pb_outbox_empty(&ob));
		pb_outbox_free(&ob);
	}
}
END_TEST

START_TEST(test_handoff_failed_write_sends_nothing)
{
	struct pb_outbox ob;
	struct pb_route_handoff h;
	struct iovec iov[2] = {
		{.iov_base = (void *)(uintptr_t) "aaa", .iov_len = 4},
		{.iov_base = (void *)(uintptr_t) "bb", .iov_len = 3},
	};

	pb_outbox_init(&ob, 64, NULL);
	h = pb_route_handoff(&ob, iov, 2, failed_write, NULL);
	ck_assert_uint_eq(h.rh_sent, 0);
	ck_assert_uint_eq(h.rh_taken, 2);
	ck_assert(h.rh_started);
	ck_assert(!h.rh_cut);
	expect_outbox(&ob, "aaa\0bb", 7);
	pb_outbox_free(&ob);
}
END_TEST

START_TEST(test_handoff_behind_queued_data_sends_nothing)
{
	struct pb_outbox ob;
	struct pb_route_handoff h;
	struct iovec iov = {.iov_base = (void *)(uintptr_t) "zz", .iov_len = 3};

	pb_outbox_init(&ob, 64, NULL);
	ck_assert_int_eq(pb_outbox_append(&ob, "q", 2), 0);
	h = pb_route_handoff(&ob, &iov, 1, no_write, NULL);
	ck_assert_uint_eq(h.rh_sent, 0);
	ck_assert_uint_eq(h.rh_taken, 1);
	expect_outbox(&ob, "q\0zz", 5);
	pb_outbox_free(&ob);
}
END_TEST

/* The four frames of handoff() as iovecs. */
static void four_frames(struct iovec iov[4])
{
	static const char *const f[] = {"aaa", "bbb", "ccc", "ddd"};
	size_t i;

	for (i = 0; i < 4; i++) {
		iov[i].iov_base = (void *)(uintptr_t)f[i];
		iov[i].iov_len = 4;
	}
}

/* Fails unless exactly the n bytes at want are parked for dest. */
static void expect_parked(const struct pb_park *pk, uint32_t dest,
			  const char *want, size_t n)
{
	long i = pb_park_find(pk, dest);

	ck_assert_msg(i >= 0, "nothing parked for %u", (unsigned)dest);
	expect_outbox(&pk->pk_lanes[i].pl_frames, want, n);
}

/* Delivers the four frames to dest 5 through an outbox of ob_limit and a
 * waiting room of pk_limit, the write taking room bytes. */
static struct pb_route_result deliver(struct pb_outbox *ob, size_t ob_limit,
				      struct pb_park *pk, size_t pk_limit,
				      size_t room)
{
	struct iovec iov[4];

	four_frames(iov);
	pb_outbox_init(ob, ob_limit, NULL);
	pb_park_init(pk, pk_limit, NULL);
	write_room = room;
	return pb_route_deliver(ob, pk, 5, iov, 4, fake_write, NULL);
}

START_TEST(test_deliver_all_written_is_all_sent)
{
	struct pb_outbox ob;
	struct pb_park pk;
	struct pb_route_result r = deliver(&ob, 64, &pk, 64, 1000);

	ck_assert_uint_eq(r.rr_sent, 4);
	ck_assert_uint_eq(r.rr_lost, 0);
	ck_assert(!r.rr_started);
	ck_assert(!r.rr_cut);
	ck_assert_int_eq(r.rr_wait, PB_PARK_GO);
	ck_assert(pb_outbox_empty(&ob));
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	pb_outbox_free(&ob);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_deliver_queues_what_was_not_written)
{
	struct pb_outbox ob;
	struct pb_park pk;
	struct pb_route_result r = deliver(&ob, 64, &pk, 64, 6);

	/* "aaa\0" and "bb" written: the rest of the outbox's room is
	 * enough for everything else. */
	ck_assert_uint_eq(r.rr_sent, 1);
	ck_assert_uint_eq(r.rr_lost, 0);
	ck_assert(r.rr_started);
	ck_assert(!r.rr_cut);
	ck_assert_int_eq(r.rr_wait, PB_PARK_GO);
	expect_outbox(&ob, "b\0ccc\0ddd", 10);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	ck_assert_uint_eq(pb_park_bytes(&pk), 0);
	pb_outbox_free(&ob);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_deliver_parks_the_rest_and_says_wait)
{
	struct pb_outbox ob;
	struct pb_park pk;
	struct pb_route_result r = deliver(&ob, 9, &pk, 64, 2);

	/* "a\0" + "bbb\0" fill the outbox; "ccc\0ddd\0" wait. */
	ck_assert_uint_eq(r.rr_sent, 0);
	ck_assert_uint_eq(r.rr_lost, 0);
	ck_assert_uint_eq(r.rr_parked, 2);
	ck_assert(r.rr_started);
	ck_assert(!r.rr_cut);
	ck_assert_int_eq(r.rr_wait, PB_PARK_WAIT);
	expect_outbox(&ob, "a\0bbb", 6);
	expect_parked(&pk, 5, "ccc\0ddd", 8);
	ck_assert_uint_eq(pk.pk_nlanes, 1);
	ck_assert_uint_eq(pb_park_bytes(&pk), 8);
	pb_outbox_free(&ob);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_deliver_behind_full_outbox_parks_all)
{
	struct pb_outbox ob;
	struct pb_park pk;
	struct pb_route_result r;
	struct iovec iov[4];

	four_frames(iov);
	pb_outbox_init(&ob, 10, NULL);
	pb_park_init(&pk, 64, NULL);
	ck_assert_int_eq(pb_outbox_append(&ob, "queued", 7), 0);
	r = pb_route_deliver(&ob, &pk, 5, iov, 4, no_write, NULL);
	ck_assert_uint_eq(r.rr_sent, 0);
	ck_assert_uint_eq(r.rr_lost, 0);
	ck_assert_uint_eq(r.rr_parked, 4);
	ck_assert(!r.rr_started);
	ck_assert(!r.rr_cut);
	ck_assert_int_eq(r.rr_wait, PB_PARK_WAIT);
	expect_outbox(&ob, "queued", 7);
	expect_parked(&pk, 5, "aaa\0bbb\0ccc\0ddd", 16);
	pb_outbox_free(&ob);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_deliver_parked_with_empty_outbox_says_retry)
{
	struct pb_outbox ob;
	struct pb_park pk;
	struct pb_route_result r = deliver(&ob, 3, &pk, 64, 0);

	/* Nothing written and no frame fits: the outbox stays empty and
	 * will not drain to wake the sender. */
	ck_assert_uint_eq(r.rr_sent, 0);
	ck_assert_uint_eq(r.rr_lost, 0);
	ck_assert(!r.rr_started);
	ck_assert(!r.rr_cut);
	ck_assert_int_eq(r.rr_wait, PB_PARK_RETRY);
	ck_assert(pb_outbox_empty(&ob));
	expect_parked(&pk, 5, "aaa\0bbb\0ccc\0ddd", 16);
	pb_outbox_free(&ob);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_deliver_counts_lost_when_waiting_room_is_full)
{
	struct pb_outbox ob;
	struct pb_park pk;
	struct pb_route_result r = deliver(&ob, 9, &pk, 5, 2);

	/* "ccc\0ddd\0" (8 bytes) into a waiting room of 5: refused with
	 * ENOBUFS, both frames lost, nothing left waiting, and the stream
	 * cut so that the gap is not silent. */
	ck_assert_uint_eq(r.rr_sent, 0);
	ck_assert_uint_eq(r.rr_lost, 2);
	ck_assert(r.rr_started);
	ck_assert(r.rr_cut);
	ck_assert_int_eq(r.rr_wait, PB_PARK_GO);
	expect_outbox(&ob, "a\0bbb", 6);
	ck_assert_int_eq(pb_park_find(&pk, 5), -1);
	ck_assert_uint_eq(pb_park_bytes(&pk), 0);
	pb_outbox_free(&ob);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_deliver_cut_frame_without_room_is_lost)
{
	struct pb_outbox ob;
	struct pb_park pk;
	struct pb_route_result r;

	/* An outbox smaller than the rest of a cut frame makes its append
	 * fail as running out of memory would: the frame and all after it
	 * are lost, none parked, and the stream is cut. */
	r = deliver(&ob, 2, &pk, 64, 5);
	ck_assert(r.rr_cut);
	ck_assert_uint_eq(r.rr_sent, 1);
	ck_assert_uint_eq(r.rr_lost, 3);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	ck_assert(pb_outbox_empty(&ob));
	pb_outbox_free(&ob);
	pb_park_free(&pk);

	r = deliver(&ob, 2, &pk, 64, 1);
	ck_assert(r.rr_cut);
	ck_assert_uint_eq(r.rr_sent, 0);
	ck_assert_uint_eq(r.rr_lost, 4);
	ck_assert_uint_eq(pk.pk_nlanes, 0);
	pb_outbox_free(&ob);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_behind_parks_after_existing_lane_in_order)
{
	struct pb_park pk;
	struct pb_route_result r;
	struct iovec first = {.iov_base = (void *)(uintptr_t) "x",
			      .iov_len = 2};
	struct iovec iov[4];

	four_frames(iov);
	pb_park_init(&pk, 64, NULL);
	ck_assert_int_eq(pb_park_pushv(&pk, 5, &first, 1), 0);
	ck_assert_int_eq(pb_park_pushv(&pk, 6, &first, 1), 0);
	r = pb_route_behind(&pk, 5, iov, 2);
	ck_assert_uint_eq(r.rr_sent, 0);
	ck_assert_uint_eq(r.rr_lost, 0);
	ck_assert(!r.rr_started);
	ck_assert(!r.rr_cut);
	r = pb_route_behind(&pk, 5, iov + 2, 2);
	ck_assert_uint_eq(r.rr_lost, 0);
	expect_parked(&pk, 5, "x\0aaa\0bbb\0ccc\0ddd", 18);
	expect_parked(&pk, 6, "x", 2);
	ck_assert_uint_eq(pb_park_bytes(&pk), 20);
	pb_park_free(&pk);
}
END_TEST

START_TEST(test_behind_full_waiting_room_counts_lost)
{
	struct pb_park pk;
	struct pb_route_result r;
	struct iovec first = {.iov_base = (void *)(uintptr_t) "x",
			      .iov_len = 2};
	struct iovec iov[4];

	four_frames(iov);
	pb_park_init(&pk, 10, NULL);
	ck_assert_int_eq(pb_park_pushv(&pk, 5, &first, 1), 0);
	r = pb_route_behind(&pk, 5, iov, 4);
	ck_assert_uint_eq(r.rr_lost, 4);
	ck_assert(r.rr_cut);
	ck_assert_uint_eq(r.rr_sent, 0);
	expect_parked(&pk, 5, "x", 2);
	ck_assert_uint_eq(pb_park_bytes(&pk), 2);
	pb_park_free(&pk);
}
END_TEST

/* Counts the frames routed, checking each is "c<k>" for the next k. */
struct tally {
	size_t frames;
	unsigned next;
};

static void tally(void *arg, uint32_t dest, const struct iovec *iov, size_t n)
{
	struct tally *t = arg;
	char want[16];
	size_t i;

	ck_assert_uint_eq(dest, 9);
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "%u", t->next++);
		ck_assert_str_eq(iov[i].iov_base, want);
	}
	t->frames += n;
}

START_TEST(test_input_counts_frames_routed)
{
	static struct pb_route rt;
	static char buf[16384];
	struct pb_frame_parser p;
	struct tally t = {0, 0};
	size_t len = 0;
	unsigned k;

	/* More than two batches, and the start of one more frame. */
	for (k = 0; k < 2 * PB_ROUTE_BATCH + 77; k++)
		len = put_frame(buf, len, 9, k);
	len = put_frame(buf, len, 9, k) - 1;
	pb_frame_parser_init(&p, 64);
	ck_assert_int_eq(pb_route_input(&rt, &p, buf, &len, tally, &t), 0);
	ck_assert_uint_eq(rt.rt_frames, 2 * PB_ROUTE_BATCH + 77);
	ck_assert_uint_eq(t.frames, rt.rt_frames);

	/* Another call counts its own frames only. */
	buf[len++] = '\0'; /* ends the frame left cut, k */
	len = put_frame(buf, len, 9, k + 1);
	ck_assert_int_eq(pb_route_input(&rt, &p, buf, &len, tally, &t), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(rt.rt_frames, 2);
	ck_assert_uint_eq(t.frames, 2 * PB_ROUTE_BATCH + 79);

	/* Nothing complete: none. */
	len = put_frame(buf, 0, 9, 0) - 1;
	ck_assert_int_eq(pb_route_input(&rt, &p, buf, &len, tally, &t), 0);
	ck_assert_uint_eq(rt.rt_frames, 0);
}
END_TEST

START_TEST(test_input_counts_frames_before_a_too_long_one)
{
	static struct pb_route rt;
	static struct seen seen;
	struct pb_frame_parser p;
	char buf[256];
	size_t len = 0;
	unsigned k;

	memset(&seen, 0, sizeof(seen));
	for (k = 0; k < 3; k++)
		len = put_frame(buf, len, 5 + k % 2, k);
	pb_frame_put_id(buf + len, 5);
	memset(buf + len + PB_FRAME_HEADER, 'x', 40);
	len += PB_FRAME_HEADER + 40;
	pb_frame_parser_init(&p, 16);
	ck_assert_int_eq(pb_route_input(&rt, &p, buf, &len, record, &seen), -1);
	ck_assert_uint_eq(rt.rt_frames, 3);
	ck_assert_uint_eq(seen.ncalls, 2);
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
	tcase_add_test(tc, test_handoff_sent_counts_frames_written_whole);
	tcase_add_test(tc, test_handoff_failed_write_sends_nothing);
	tcase_add_test(tc, test_handoff_behind_queued_data_sends_nothing);
	tcase_add_test(tc, test_input_counts_frames_routed);
	tcase_add_test(tc, test_input_counts_frames_before_a_too_long_one);
	suite_add_tcase(s, tc);

	tc = tcase_create("deliver");
	tcase_add_test(tc, test_deliver_all_written_is_all_sent);
	tcase_add_test(tc, test_deliver_queues_what_was_not_written);
	tcase_add_test(tc, test_deliver_parks_the_rest_and_says_wait);
	tcase_add_test(tc, test_deliver_behind_full_outbox_parks_all);
	tcase_add_test(tc, test_deliver_parked_with_empty_outbox_says_retry);
	tcase_add_test(tc, test_deliver_counts_lost_when_waiting_room_is_full);
	tcase_add_test(tc, test_deliver_cut_frame_without_room_is_lost);
	tcase_add_test(tc, test_behind_parks_after_existing_lane_in_order);
	tcase_add_test(tc, test_behind_full_waiting_room_counts_lost);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(route_suite());
}
