/* SPDX-License-Identifier: ISC */
/*
 * leave.c: the reasons a client leaves, their words and counters (see
 * leave.h).
 */
#include "config.h"

#include "leave.h"

static const char *const leave_text[] = {
	[PB_LEAVE_CLOSED] = "peer closed",
	[PB_LEAVE_RESET] = "connection reset",
	[PB_LEAVE_PROTOCOL] = "protocol error",
	[PB_LEAVE_SLOW] = "slow consumer",
	[PB_LEAVE_SHUTDOWN] = "shutdown",
	[PB_LEAVE_NOMEM] = "no memory for its input",
	[PB_LEAVE_NOMEM_OUT] = "no memory to queue frames for it",
	[PB_LEAVE_FRAME_TIMEOUT] =
		"frame unfinished for too long (--frame-timeout)",
	[PB_LEAVE_UNREACHABLE] = "its node unreachable (--link-timeout)",
	[PB_LEAVE_GONE] = "no such client on its node",
	[PB_LEAVE_TLS_NOT_ALLOWED] =
		"TLS identity no longer allowed after a reload",
	[PB_LEAVE_RESTART] = "TLS client at a hand-over",
};
_Static_assert(sizeof(leave_text) / sizeof(leave_text[0]) == PB_LEAVE_COUNT,
	       "a text for every reason");

static const enum pb_stat leave_stat[] = {
	[PB_LEAVE_CLOSED] = PB_STAT_DISC_CLOSED,
	[PB_LEAVE_RESET] = PB_STAT_DISC_RESET,
	[PB_LEAVE_PROTOCOL] = PB_STAT_DISC_PROTOCOL,
	[PB_LEAVE_SLOW] = PB_STAT_DISC_SLOW,
	[PB_LEAVE_SHUTDOWN] = PB_STAT_DISC_SHUTDOWN,
	[PB_LEAVE_NOMEM] = PB_STAT_DISC_NOMEM,
	[PB_LEAVE_NOMEM_OUT] = PB_STAT_DISC_NOMEM,
	[PB_LEAVE_FRAME_TIMEOUT] = PB_STAT_DISC_FRAME_TIMEOUT,
	/* Never a connection of ours: counted as none. */
	[PB_LEAVE_UNREACHABLE] = PB_STAT_DISC_RESET,
	[PB_LEAVE_TLS_NOT_ALLOWED] = PB_STAT_DISC_TLS_NOT_ALLOWED,
	/* Never a connection of ours: counted as none. */
	[PB_LEAVE_GONE] = PB_STAT_DISC_CLOSED,
	[PB_LEAVE_RESTART] = PB_STAT_DISC_RESTART,
};
_Static_assert(sizeof(leave_stat) / sizeof(leave_stat[0]) == PB_LEAVE_COUNT,
	       "a disconnect counter for every reason");

const char *pb_leave_text(enum pb_leave why)
{
	return leave_text[why];
}

enum pb_stat pb_leave_stat(enum pb_leave why)
{
	return leave_stat[why];
}

enum pb_stat pb_leave_drop_stat(enum pb_leave why)
{
	if (why == PB_LEAVE_SLOW)
		return PB_STAT_DROP_SLOW;
	if (why == PB_LEAVE_NOMEM_OUT)
		return PB_STAT_DROP_NOMEM;
	if (why == PB_LEAVE_UNREACHABLE)
		return PB_STAT_DROP_UNREACHABLE;
	if (why == PB_LEAVE_GONE)
		return PB_STAT_DROP_UNKNOWN;
	return PB_STAT_DROP_LEFT;
}
