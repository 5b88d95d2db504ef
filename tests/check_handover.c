/* SPDX-License-Identifier: ISC */
/*
 * check_handover.c: pb_handover_check (handover.h), the new process's
 * look at a whole state before it builds anything from it. The states
 * are written here field by field, from the format handover.c's top
 * comment gives (with blob.h's writer, which check_blob tests), not by
 * pb_handover_write, so that each can be wrong in one way: a good one is
 * accepted and counted (clients, their queued bytes, the descriptors
 * named, when the pause began), with sections it does not know and
 * fields a later release appends; and a state is refused whose client
 * names a descriptor that was not handed over, lingers with a socket or
 * is open without one, is in a state or left for a reason there is no
 * such number for, has fewer lanes than it says or a lane cut short, or
 * which has no GLOBAL section, or a section running past its end.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "conn.h"
#include "handover.h"
#include "leave.h"
#include "run.h"

#define NO_FD	    UINT32_MAX
#define TAG_UNKNOWN 77

/* GLOBAL: ids handed out, when the pause began, and two counters. */
static void put_global(struct pb_blob *b, uint64_t paused_ms)
{
	size_t at = pb_blob_begin(b, PB_HO_GLOBAL);

	pb_blob_u64(b, 4242);
	pb_blob_u64(b, paused_ms);
	pb_blob_u32(b, 2);
	pb_blob_u64(b, 5);
	pb_blob_u64(b, 6);
	pb_blob_end(b, at);
}

/* A CLIENT's fields up to its lanes; the caller adds nlanes lanes (or
 * not) and ends it with pb_blob_end on what this returns. */
static size_t put_client(struct pb_blob *b, uint32_t id, uint32_t state,
			 uint32_t why, uint32_t fd, const char *rbuf,
			 size_t rbuf_len, size_t outbox_len, uint32_t nlanes)
{
	size_t at = pb_blob_begin(b, PB_HO_CLIENT);
	char *outbox = malloc(outbox_len + 1);

	ck_assert_ptr_nonnull(outbox);
	memset(outbox, 'o', outbox_len);
	pb_blob_u32(b, id);
	pb_blob_u32(b, state);
	pb_blob_u32(b, why);
	pb_blob_u32(b, fd);
	pb_blob_bytes(b, "192.0.2.7:40000", 15);
	pb_blob_bytes(b, rbuf, rbuf_len);
	pb_blob_bytes(b, outbox, outbox_len);
	pb_blob_u32(b, nlanes);
	free(outbox);
	return at;
}

static void put_lane(struct pb_blob *b, uint32_t dest, const char *frames,
		     size_t n)
{
	pb_blob_u32(b, dest);
	pb_blob_bytes(b, frames, n);
}

/* A whole client with no lanes. */
static void put_plain(struct pb_blob *b, uint32_t id, uint32_t state,
		      uint32_t why, uint32_t fd)
{
	pb_blob_end(b, put_client(b, id, state, why, fd, NULL, 0, 0, 0));
}

/* b finished and checked against nfds descriptors (b is freed): what
 * pb_handover_check returned, *info and err filled. */
static int check(struct pb_blob *b, size_t nfds, struct pb_handover_info *info,
		 char *err, size_t errlen)
{
	struct pb_blob_reader r;
	struct pb_blob_header h;
	char *copy;
	size_t len;
	int rc;

	ck_assert(!b->b_failed);
	ck_assert_int_eq(pb_blob_finish(b, "check_handover"), 0);
	len = b->b_len;
	copy = malloc(len); /* exactly its size, for AddressSanitizer */
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, b->b_data, len);
	pb_blob_free(b);
	ck_assert_int_eq(pb_blob_open(&r, copy, len, &h), PB_BLOB_OK);
	memset(err, 0, errlen);
	rc = pb_handover_check(&r, nfds, info, err, errlen);
	free(copy);
	return rc;
}

/* b refused against nfds, with an error that contains want. */
static void refused(struct pb_blob *b, size_t nfds, const char *want)
{
	struct pb_handover_info info;
	char err[256];

	ck_assert_int_eq(check(b, nfds, &info, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s', not '%s'", err,
		      want);
}

/* A state of GLOBAL, then the one client put_plain makes. */
static void refused_client(uint32_t state, uint32_t why, uint32_t fd,
			   size_t nfds)
{
	struct pb_blob b;

	pb_blob_init(&b);
	put_global(&b, 1);
	put_plain(&b, 9, state, why, fd);
	refused(&b, nfds, "client record 1 ");
}

START_TEST(test_handover_accepts_good)
{
	static const char rbuf[] = "\0\0\0\x01par"; /* an unfinished frame */
	struct pb_handover_info info;
	struct pb_blob b;
	char err[256];
	size_t at;

	pb_blob_init(&b);
	at = pb_blob_begin(&b, TAG_UNKNOWN); /* a later release's, first */
	pb_blob_bytes(&b, "whatever it is", 14);
	pb_blob_end(&b, at);
	put_global(&b, 123456789);
	/* New, its socket at 0, nothing queued. */
	put_plain(&b, 1, PB_CONN_NEW, 0, 0);
	/* Open, its socket at 2, a partial frame, an outbox, two lanes (one
	 * of them empty). */
	at = put_client(&b, 2, PB_CONN_OPEN, 0, 2, rbuf, 7, 10, 2);
	put_lane(&b, 1, "\0\0\0\x01hi\0", 7);
	put_lane(&b, 3, NULL, 0);
	pb_blob_end(&b, at);
	/* A listener between clients (the service's). */
	at = pb_blob_begin(&b, PB_HO_LISTENER);
	pb_blob_u32(&b, 3);
	pb_blob_end(&b, at);
	/* Lingering (left slow), no socket, frames still queued, and a
	 * field a later release appended. */
	at = put_client(&b, 3, PB_CONN_LINGERING, PB_LEAVE_SLOW, NO_FD, NULL, 0,
			20, 1);
	put_lane(&b, 2, "\0\0\0\x02x\0", 6);
	pb_blob_u64(&b, 0xabcdef);
	pb_blob_end(&b, at);
	/* Every reason a lingering client may have left for. */
	put_plain(&b, 4, PB_CONN_LINGERING, PB_LEAVE_COUNT - 1, NO_FD);
	put_plain(&b, 5, PB_CONN_LINGERING, PB_LEAVE_CLOSED, NO_FD);

	memset(&info, 0xff, sizeof(info));
	ck_assert_int_eq(check(&b, 4, &info, err, sizeof(err)), 0);
	ck_assert_uint_eq(info.hi_clients, 5);
	ck_assert_uint_eq(info.hi_bytes, 7 + 10 + 7 + 0 + 20 + 6);
	ck_assert_uint_eq(info.hi_fds, 3);
	ck_assert(info.hi_paused_ms == 123456789);
}
END_TEST

START_TEST(test_handover_accepts_empty)
{
	struct pb_handover_info info;
	struct pb_blob b;
	char err[64];

	/* No client, no descriptor. */
	pb_blob_init(&b);
	put_global(&b, 7);
	ck_assert_int_eq(check(&b, 0, &info, err, sizeof(err)), 0);
	ck_assert_uint_eq(info.hi_clients, 0);
	ck_assert_uint_eq(info.hi_bytes, 0);
	ck_assert_uint_eq(info.hi_fds, 0);
	ck_assert(info.hi_paused_ms == 7);

	/* GLOBAL with nothing past the two numbers the check reads. */
	pb_blob_init(&b);
	{
		size_t at = pb_blob_begin(&b, PB_HO_GLOBAL);

		pb_blob_u64(&b, 1);
		pb_blob_u64(&b, 8);
		pb_blob_end(&b, at);
	}
	ck_assert_int_eq(check(&b, 0, &info, err, sizeof(err)), 0);
	ck_assert(info.hi_paused_ms == 8);
}
END_TEST

START_TEST(test_handover_descriptor_bounds)
{
	struct pb_handover_info info;
	struct pb_blob b;
	char err[256];

	/* The last descriptor handed over: fine. */
	pb_blob_init(&b);
	put_global(&b, 1);
	put_plain(&b, 1, PB_CONN_OPEN, 0, 5);
	ck_assert_int_eq(check(&b, 6, &info, err, sizeof(err)), 0);
	ck_assert_uint_eq(info.hi_fds, 6);

	/* One past it, far past it, or any with none handed over. */
	refused_client(PB_CONN_OPEN, 0, 6, 6);
	refused_client(PB_CONN_NEW, 0, 6, 6);
	refused_client(PB_CONN_OPEN, 0, NO_FD - 1, 6);
	refused_client(PB_CONN_OPEN, 0, 0, 0);

	/* The error names the record and the count. */
	pb_blob_init(&b);
	put_global(&b, 1);
	put_plain(&b, 1, PB_CONN_OPEN, 0, 0);
	put_plain(&b, 2, PB_CONN_OPEN, 0, 1);
	put_plain(&b, 3, PB_CONN_OPEN, 0, 2);
	refused(&b, 2, "client record 3 ");
	pb_blob_init(&b);
	put_global(&b, 1);
	put_plain(&b, 3, PB_CONN_OPEN, 0, 2);
	refused(&b, 2, "of 2 ");

	/* Two clients cannot have one socket. */
	pb_blob_init(&b);
	put_global(&b, 1);
	put_plain(&b, 1, PB_CONN_OPEN, 0, 0);
	put_plain(&b, 2, PB_CONN_OPEN, 0, 1);
	put_plain(&b, 3, PB_CONN_NEW, 0, 0);
	refused(&b, 2, "client record 3 ");
}
END_TEST

START_TEST(test_handover_socket_by_state)
{
	/* Lingering with a socket (one that is there). */
	refused_client(PB_CONN_LINGERING, PB_LEAVE_CLOSED, 0, 4);
	/* Open or new without one. */
	refused_client(PB_CONN_OPEN, 0, NO_FD, 4);
	refused_client(PB_CONN_NEW, 0, NO_FD, 4);
}
END_TEST

START_TEST(test_handover_bad_state)
{
	/* CUT and DONE clients are not handed over; the rest are no
	 * state at all. */
	refused_client(PB_CONN_CUT, 0, 0, 1);
	refused_client(PB_CONN_DONE, 0, 0, 1);
	refused_client(PB_CONN_CUT, 0, NO_FD, 1);
	refused_client(PB_CONN_DONE, 0, NO_FD, 1);
	refused_client(PB_CONN_STATES, 0, 0, 1);
	refused_client(PB_CONN_STATES, 0, NO_FD, 1);
	refused_client(1000, 0, 0, 1);
	refused_client(UINT32_MAX, 0, NO_FD, 1);
}
END_TEST

START_TEST(test_handover_bad_reason)
{
	refused_client(PB_CONN_LINGERING, PB_LEAVE_COUNT, NO_FD, 1);
	refused_client(PB_CONN_OPEN, PB_LEAVE_COUNT, 0, 1);
	refused_client(PB_CONN_LINGERING, UINT32_MAX, NO_FD, 1);
	refused_client(PB_CONN_NEW, 0x80000000u, 0, 1);
}
END_TEST

START_TEST(test_handover_lanes_cut)
{
	struct pb_blob b;
	size_t at;

	/* Two lanes said, one there. */
	pb_blob_init(&b);
	put_global(&b, 1);
	at = put_client(&b, 1, PB_CONN_OPEN, 0, 0, NULL, 0, 0, 2);
	put_lane(&b, 2, "\0\0\0\x02z\0", 6);
	pb_blob_end(&b, at);
	refused(&b, 1, "client record 1 ");

	/* A lane count no section could hold. */
	pb_blob_init(&b);
	put_global(&b, 1);
	at = put_client(&b, 1, PB_CONN_OPEN, 0, 0, NULL, 0, 0, UINT32_MAX);
	put_lane(&b, 2, "\0\0\0\x02z\0", 6);
	pb_blob_end(&b, at);
	refused(&b, 1, "client record 1 ");

	/* A lane whose frames run past the section (the next section's
	 * bytes there to be misread). */
	pb_blob_init(&b);
	put_global(&b, 1);
	at = put_client(&b, 1, PB_CONN_OPEN, 0, 0, NULL, 0, 0, 1);
	put_lane(&b, 2, "\0\0\0\x02z\0", 6);
	b.b_len -= 1;
	pb_blob_end(&b, at);
	put_global(&b, 1);
	refused(&b, 1, "client record 1 ");

	/* A lane with its destination and no frames' length. */
	pb_blob_init(&b);
	put_global(&b, 1);
	at = put_client(&b, 1, PB_CONN_OPEN, 0, 0, NULL, 0, 0, 1);
	pb_blob_u32(&b, 2);
	pb_blob_end(&b, at);
	refused(&b, 1, "client record 1 ");

	/* The second client's lane, the first client fine. */
	pb_blob_init(&b);
	put_global(&b, 1);
	put_plain(&b, 1, PB_CONN_OPEN, 0, 0);
	at = put_client(&b, 2, PB_CONN_OPEN, 0, 1, NULL, 0, 0, 1);
	pb_blob_end(&b, at);
	refused(&b, 2, "client record 2 ");
}
END_TEST

START_TEST(test_handover_client_cut)
{
	struct pb_blob b;
	size_t at, keep;

	/* A record cut anywhere before its lane count (what is left of it
	 * is still a whole section). */
	for (keep = 0; keep < 16 + 8 + 15 + 8 + 8 + 4; keep++) {
		pb_blob_init(&b);
		put_global(&b, 1);
		at = put_client(&b, 1, PB_CONN_OPEN, 0, 0, NULL, 0, 0, 0);
		b.b_len = at + 8 + keep;
		pb_blob_end(&b, at);
		refused(&b, 1, "client record 1 ");
	}
	/* A byte string longer than its record. */
	pb_blob_init(&b);
	put_global(&b, 1);
	at = put_client(&b, 1, PB_CONN_OPEN, 0, 0, "abc", 3, 0, 0);
	b.b_data[at + 8 + 16 + 8 + 15] = 100; /* rbuf's length */
	pb_blob_end(&b, at);
	refused(&b, 1, "client record 1 ");
}
END_TEST

START_TEST(test_handover_no_global)
{
	struct pb_blob b;
	size_t at;

	pb_blob_init(&b);
	refused(&b, 0, "no global section");

	pb_blob_init(&b);
	put_plain(&b, 1, PB_CONN_OPEN, 0, 0);
	at = pb_blob_begin(&b, PB_HO_LISTENER);
	pb_blob_u32(&b, 1);
	pb_blob_end(&b, at);
	refused(&b, 2, "no global section");

	/* One too short to be read. */
	pb_blob_init(&b);
	at = pb_blob_begin(&b, PB_HO_GLOBAL);
	pb_blob_u64(&b, 1);
	pb_blob_u32(&b, 2);
	pb_blob_end(&b, at);
	refused(&b, 0, "no global section");
}
END_TEST

START_TEST(test_handover_section_past_end)
{
	struct pb_blob b;
	size_t at;

	/* After a good GLOBAL and client, a section longer than what is
	 * left. */
	pb_blob_init(&b);
	put_global(&b, 1);
	put_plain(&b, 1, PB_CONN_OPEN, 0, 0);
	at = pb_blob_begin(&b, PB_HO_CLIENT);
	pb_blob_u32(&b, 2);
	pb_blob_end(&b, at);
	b.b_data[at] = 5;
	refused(&b, 1, "a section runs past the end");

	/* Or the start of a section header alone. */
	pb_blob_init(&b);
	put_global(&b, 1);
	pb_blob_u32(&b, PB_HO_CLIENT);
	refused(&b, 1, "a section runs past the end");
}
END_TEST

static Suite *handover_suite(void)
{
	Suite *s = suite_create("handover");
	TCase *tc = tcase_create("accepts");

	tcase_add_test(tc, test_handover_accepts_good);
	tcase_add_test(tc, test_handover_accepts_empty);
	suite_add_tcase(s, tc);
	tc = tcase_create("refuses");
	tcase_add_test(tc, test_handover_descriptor_bounds);
	tcase_add_test(tc, test_handover_socket_by_state);
	tcase_add_test(tc, test_handover_bad_state);
	tcase_add_test(tc, test_handover_bad_reason);
	tcase_add_test(tc, test_handover_lanes_cut);
	tcase_add_test(tc, test_handover_client_cut);
	tcase_add_test(tc, test_handover_no_global);
	tcase_add_test(tc, test_handover_section_past_end);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(handover_suite());
}
