/* SPDX-License-Identifier: ISC */
/*
 * check_leave.c: why a client leaves (leave.h) and the names of the
 * counters (stat.h).
 *
 * Both servers log and count a departure through these tables, and the
 * counters reconcile only if every reason has its own disconnect counter
 * and its queued frames land in the right drop counter (a slow consumer's
 * in dropped_slow_consumer, everyone else's in dropped_destination_left).
 * The tables are checked against the enum: every reason below
 * PB_LEAVE_COUNT has its words and its counters.
 * The counter names are read by operators' scripts from the stats line
 * ("name=value ..."): each must stay exactly as it was, distinct, and
 * free of anything that would break that line.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "leave.h"
#include "run.h"
#include "stat.h"

#define NLEAVE PB_LEAVE_COUNT /* the reasons there are */

START_TEST(test_leave_text_for_every_reason_distinct)
{
	int i, j;

	for (i = 0; i < NLEAVE; i++) {
		const char *t = pb_leave_text((enum pb_leave)i);

		ck_assert_ptr_nonnull(t);
		ck_assert_uint_gt(strlen(t), 0);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(t, pb_leave_text((enum pb_leave)j));
	}
	/* The words leave.h promises for the log. */
	ck_assert_str_eq(pb_leave_text(PB_LEAVE_CLOSED), "peer closed");
	ck_assert_str_eq(pb_leave_text(PB_LEAVE_SLOW), "slow consumer");
}
END_TEST

START_TEST(test_leave_disconnect_counter_per_reason)
{
	static const enum pb_stat want[NLEAVE] = {
		[PB_LEAVE_CLOSED] = PB_STAT_DISC_CLOSED,
		[PB_LEAVE_RESET] = PB_STAT_DISC_RESET,
		[PB_LEAVE_PROTOCOL] = PB_STAT_DISC_PROTOCOL,
		[PB_LEAVE_SLOW] = PB_STAT_DISC_SLOW,
		[PB_LEAVE_SHUTDOWN] = PB_STAT_DISC_SHUTDOWN,
		[PB_LEAVE_NOMEM] = PB_STAT_DISC_NOMEM,
		[PB_LEAVE_NOMEM_OUT] = PB_STAT_DISC_NOMEM,
		[PB_LEAVE_FRAME_TIMEOUT] = PB_STAT_DISC_FRAME_TIMEOUT,
		[PB_LEAVE_UNREACHABLE] = PB_STAT_DISC_RESET,
		[PB_LEAVE_TLS_NOT_ALLOWED] = PB_STAT_DISC_TLS_NOT_ALLOWED,
		[PB_LEAVE_GONE] = PB_STAT_DISC_CLOSED,
		[PB_LEAVE_RESTART] = PB_STAT_DISC_RESTART,
	};
	int i, j;

	for (i = 0; i < NLEAVE; i++) {
		enum pb_stat s = pb_leave_stat((enum pb_leave)i);

		ck_assert_int_eq(s, want[i]);
		/* One counter per reason, but for the two kinds of running
		 * out of memory, which share theirs. */
		for (j = 0; j < i; j++)
			if (!(i == PB_LEAVE_NOMEM_OUT && j == PB_LEAVE_NOMEM) &&
			    !(i == PB_LEAVE_UNREACHABLE &&
			      j == PB_LEAVE_RESET) &&
			    !(i == PB_LEAVE_GONE && j == PB_LEAVE_CLOSED))
				ck_assert_int_ne(
					s, pb_leave_stat((enum pb_leave)j));
	}
}
END_TEST

START_TEST(test_leave_drop_counter_slow_or_left)
{
	int i;

	for (i = 0; i < NLEAVE; i++) {
		enum pb_stat s = pb_leave_drop_stat((enum pb_leave)i);

		if (i == PB_LEAVE_SLOW)
			ck_assert_int_eq(s, PB_STAT_DROP_SLOW);
		else if (i == PB_LEAVE_NOMEM_OUT)
			ck_assert_int_eq(s, PB_STAT_DROP_NOMEM);
		else if (i == PB_LEAVE_UNREACHABLE)
			ck_assert_int_eq(s, PB_STAT_DROP_UNREACHABLE);
		else if (i == PB_LEAVE_GONE)
			ck_assert_int_eq(s, PB_STAT_DROP_UNKNOWN);
		else
			ck_assert_int_eq(s, PB_STAT_DROP_LEFT);
	}
}
END_TEST

START_TEST(test_stat_names_are_the_published_ones)
{
	static const char *const want[PB_STAT_COUNT] = {
		[PB_STAT_ACCEPTED] = "accepted",
		[PB_STAT_FORWARDED] = "forwarded",
		[PB_STAT_DROP_UNKNOWN] = "dropped_unknown_destination",
		[PB_STAT_DROP_LEFT] = "dropped_destination_left",
		[PB_STAT_DROP_SLOW] = "dropped_slow_consumer",
		[PB_STAT_DROP_NOMEM] = "dropped_no_memory",
		[PB_STAT_DISC_CLOSED] = "disconnect_peer_closed",
		[PB_STAT_DISC_RESET] = "disconnect_reset",
		[PB_STAT_DISC_PROTOCOL] = "disconnect_protocol_error",
		[PB_STAT_DISC_SLOW] = "disconnect_slow_consumer",
		[PB_STAT_DISC_SHUTDOWN] = "disconnect_shutdown",
		[PB_STAT_REFUSED_MAX] = "refused_max_clients",
		[PB_STAT_REFUSED_THREAD] = "refused_no_thread",
		[PB_STAT_RECEIVED] = "received",
		[PB_STAT_BYTES_FORWARDED] = "forwarded_bytes",
		[PB_STAT_REFUSED_GONE] = "refused_gone_before_id",
		[PB_STAT_REFUSED_NOMEM] = "refused_no_memory",
		[PB_STAT_DISC_NOMEM] = "disconnect_no_memory",
		[PB_STAT_DROP_SENDER_LEFT] = "dropped_sender_left",
		[PB_STAT_DISC_FRAME_TIMEOUT] = "disconnect_frame_timeout",
		[PB_STAT_REFUSED_STATE] = "refused_id_state",
		[PB_STAT_REFUSED_PER_ADDRESS] = "refused_per_address",
		[PB_STAT_REFUSED_HANDSHAKES] = "refused_handshakes",
		[PB_STAT_DROP_UNREACHABLE] = "dropped_remote_unreachable",
		[PB_STAT_DROP_UNKNOWN_NODE] = "dropped_unknown_node",
		[PB_STAT_RECEIVED_REMOTE] = "received_remote",
		[PB_STAT_SENT_REMOTE] = "sent_remote",
		[PB_STAT_NODE_MSG_BAD] = "node_messages_refused",
		[PB_STAT_REFUSED_TLS] = "refused_tls",
		[PB_STAT_REFUSED_TLS_TIMEOUT] = "refused_tls_timeout",
		[PB_STAT_REFUSED_TLS_IDENTITY] = "refused_tls_identity",
		[PB_STAT_TLS_RELOAD_FAILED] = "tls_reload_failed",
		[PB_STAT_DISC_TLS_NOT_ALLOWED] = "disconnect_tls_not_allowed",
		[PB_STAT_DISC_RESTART] = "disconnect_restart",
		[PB_STAT_HANDOVERS] = "handovers",
		[PB_STAT_HANDOVERS_FAILED] = "handovers_failed",
		[PB_STAT_HANDOVER_REFUSED] = "handover_state_refused",
	};
	int i;

	for (i = 0; i < PB_STAT_COUNT; i++) {
		/* A counter added without a name here must be named. */
		ck_assert_msg(want[i] != NULL, "counter %d: no expected name",
			      i);
		ck_assert_ptr_nonnull(pb_stat_name((enum pb_stat)i));
		ck_assert_str_eq(pb_stat_name((enum pb_stat)i), want[i]);
	}
}
END_TEST

START_TEST(test_stat_names_distinct_and_fit_the_stats_line)
{
	int i, j;

	for (i = 0; i < PB_STAT_COUNT; i++) {
		const char *name = pb_stat_name((enum pb_stat)i);

		ck_assert_msg(name != NULL, "counter %d has no name", i);
		ck_assert_uint_gt(strlen(name), 0);
		/* "name=value" pairs split on spaces: lower case and '_'. */
		ck_assert_msg(strspn(name, "abcdefghijklmnopqrstuvwxyz_") ==
				      strlen(name),
			      "counter %d: name \"%s\"", i, name);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(name, pb_stat_name((enum pb_stat)j));
	}
}
END_TEST

/* Whether s is a counter whose name begins with prefix. */
static bool counter_of_kind(enum pb_stat s, const char *prefix)
{
	const char *name;

	if ((int)s < 0 || s >= PB_STAT_COUNT)
		return false;
	name = pb_stat_name(s);
	return name != NULL && strncmp(name, prefix, strlen(prefix)) == 0;
}

START_TEST(test_leave_tables_cover_the_enum)
{
	int i;

	/* Every reason up to PB_LEAVE_COUNT has a row in each table: words
	 * for the log, a disconnect counter and a drop counter. A reason
	 * added without its rows reads NULL, or counter 0 ("accepted"). */
	for (i = 0; i < PB_LEAVE_COUNT; i++) {
		enum pb_leave why = (enum pb_leave)i;

		ck_assert_msg(pb_leave_text(why) != NULL, "reason %d: no text",
			      i);
		ck_assert_msg(
			counter_of_kind(pb_leave_stat(why), "disconnect_"),
			"reason %d: no disconnect counter", i);
		ck_assert_msg(
			counter_of_kind(pb_leave_drop_stat(why), "dropped_"),
			"reason %d: no drop counter", i);
	}
}
END_TEST

static Suite *leave_suite(void)
{
	Suite *s = suite_create("leave");
	TCase *tc = tcase_create("leave");

	tcase_add_test(tc, test_leave_tables_cover_the_enum);
	tcase_add_test(tc, test_leave_text_for_every_reason_distinct);
	tcase_add_test(tc, test_leave_disconnect_counter_per_reason);
	tcase_add_test(tc, test_leave_drop_counter_slow_or_left);
	suite_add_tcase(s, tc);

	tc = tcase_create("stat");
	tcase_add_test(tc, test_stat_names_are_the_published_ones);
	tcase_add_test(tc, test_stat_names_distinct_and_fit_the_stats_line);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(leave_suite());
}
