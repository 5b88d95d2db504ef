/* SPDX-License-Identifier: ISC */
/*
 * stat.h: what the servers count.
 *
 * One counter per outcome, so that nothing is lost silently and the
 * counters reconcile: every connection accepted leaves through exactly one
 * disconnect reason, and every complete frame received is forwarded
 * (written whole to its destination's socket), dropped for exactly one
 * reason, or still queued. The core only names them; src/common/stats.c
 * keeps the live values.
 */
#ifndef PB_STAT_H
#define PB_STAT_H

enum pb_stat {
	PB_STAT_ACCEPTED,	 /* connections given an id */
	PB_STAT_FORWARDED,	 /* frames written whole to their destination */
	PB_STAT_DROP_UNKNOWN,	 /* frames for an id nobody holds */
	PB_STAT_DROP_LEFT,	 /* frames queued for a client that left */
	PB_STAT_DROP_SLOW,	 /* frames queued for a slow consumer */
	PB_STAT_DROP_NOMEM,	 /* frames the server had no memory for */
	PB_STAT_DISC_CLOSED,	 /* disconnects: peer closed */
	PB_STAT_DISC_RESET,	 /* disconnects: connection reset or error */
	PB_STAT_DISC_PROTOCOL,	 /* disconnects: protocol error */
	PB_STAT_DISC_SLOW,	 /* disconnects: slow consumer */
	PB_STAT_DISC_SHUTDOWN,	 /* disconnects: server shutting down */
	PB_STAT_REFUSED_MAX,	 /* connections refused: --max-clients */
	PB_STAT_REFUSED_THREAD,	 /* connections refused: no thread */
	PB_STAT_RECEIVED,	 /* complete frames read from clients */
	PB_STAT_BYTES_FORWARDED, /* payload bytes written to clients */
	PB_STAT_REFUSED_GONE,	 /* connections refused: gone before the id */
	PB_STAT_REFUSED_NOMEM,	 /* connections refused: no memory */
	PB_STAT_DISC_NOMEM,	 /* disconnects: no memory for its input, or
				    to queue frames for it */
	PB_STAT_DROP_SENDER_LEFT,     /* frames waiting in the waiting room of a
					 sender that left, given up */
	PB_STAT_DISC_FRAME_TIMEOUT,   /* disconnects: a frame unfinished for
					 --frame-timeout */
	PB_STAT_REFUSED_STATE,	      /* connections refused: the id state
					 (--state-dir) could not be saved */
	PB_STAT_REFUSED_PER_ADDRESS,  /* connections refused:
					 --max-clients-per-address */
	PB_STAT_REFUSED_HANDSHAKES,   /* connections refused:
					 --max-handshakes */
	PB_STAT_DROP_UNREACHABLE,     /* frames for a node not heard within
					 --link-timeout */
	PB_STAT_DROP_UNKNOWN_NODE,    /* frames for a node that is in no
					 cluster of ours */
	PB_STAT_RECEIVED_REMOTE,      /* frames other nodes handed us */
	PB_STAT_SENT_REMOTE,	      /* frames other nodes took from us */
	PB_STAT_NODE_MSG_BAD,	      /* messages from other nodes refused:
					 not a valid one, or out of turn */
	PB_STAT_REFUSED_TLS,	      /* connections refused: the TLS
					 handshake failed */
	PB_STAT_REFUSED_TLS_TIMEOUT,  /* connections refused: the TLS
					 handshake outlasted
					 --tls-handshake-timeout */
	PB_STAT_REFUSED_TLS_IDENTITY, /* connections refused: an identity
					 --tls-allow does not name */
	PB_STAT_TLS_RELOAD_FAILED,    /* reloads that kept the old TLS
					 files (a bad file) */
	PB_STAT_DISC_TLS_NOT_ALLOWED, /* disconnects: a TLS client whose
					 identity a reload no longer allows
					 (--tls-allow, --tls-ca, --tls-crl) */
	PB_STAT_DISC_RESTART,	      /* disconnects: by a hand-over (TLS
					 clients; the clients of a state the
					 new process refused) */
	PB_STAT_HANDOVERS,	      /* hand-overs taken over */
	PB_STAT_HANDOVERS_FAILED,     /* hand-overs that did not happen (the
					 daemon served on) */
	PB_STAT_HANDOVER_REFUSED,     /* hand-over states a new process
					 refused (it started clean) */
	PB_STAT_COUNT,
};

/* The counter's name in the stats line, e.g. "dropped_slow_consumer". */
const char *pb_stat_name(enum pb_stat s);

#endif
