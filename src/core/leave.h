/* SPDX-License-Identifier: ISC */
/*
 * leave.h: why a client goes away, and what that means.
 *
 * Both servers end a client for the same reasons, say so in the same
 * words and count it in the same counters: the disconnect, and the frames
 * that were still queued for it (a slow consumer's, and those of a client
 * cut for want of memory, are their own drop reasons; everyone else's are
 * "destination left").
 */
#ifndef PB_LEAVE_H
#define PB_LEAVE_H

#include "stat.h"

enum pb_leave {
	PB_LEAVE_CLOSED,    /* the peer closed its end */
	PB_LEAVE_RESET,	    /* connection reset, or a socket error */
	PB_LEAVE_PROTOCOL,  /* it sent a frame longer than --max-frame */
	PB_LEAVE_SLOW,	    /* nothing could be written to it for too long */
	PB_LEAVE_SHUTDOWN,  /* the server is stopping */
	PB_LEAVE_NOMEM,	    /* no memory for its input */
	PB_LEAVE_NOMEM_OUT, /* no memory to queue a frame for it: its stream
			       would have a gap */
	PB_LEAVE_FRAME_TIMEOUT,	  /* a frame left unfinished for too long */
	PB_LEAVE_UNREACHABLE,	  /* a client of another node whose node was
				     not heard within --link-timeout (only the
				     stand-ins of src/link leave so) */
	PB_LEAVE_TLS_NOT_ALLOWED, /* a TLS client whose identity a reload no
				     longer allows */
	PB_LEAVE_GONE,		  /* a client of another node that its node
				     says it does not have (stand-ins only) */
	PB_LEAVE_RESTART,	  /* a TLS client at a hand-over, which
				     cannot carry its TLS state */
	PB_LEAVE_COUNT		  /* the number of reasons, not one of them */
};

/* The reason as the log gives it: "peer closed", "slow consumer"... */
const char *pb_leave_text(enum pb_leave why);

/* The disconnect counter for the reason. */
enum pb_stat pb_leave_stat(enum pb_leave why);

/* The drop counter for the frames still queued for a client that left. */
enum pb_stat pb_leave_drop_stat(enum pb_leave why);

#endif
