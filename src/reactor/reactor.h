/* SPDX-License-Identifier: ISC */
/*
 * reactor.h: patchbay-reactor's server and connections, shared by its
 * loop (reactor.c), its operations for the delivery engine (ops.c) and
 * its start (main.c).
 */
#ifndef RC_REACTOR_H
#define RC_REACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "conn.h"
#include "engine.h"
#include "options.h"
#include "route.h"
#include "table.h"

/* Reads a turn: then the other ready clients get theirs (engine.h). */
#define RC_READS_PER_TURN 16
#define RC_TICK_MS	  100 /* timeouts, retries, stalled input */
#define RC_GRACE_MS	  2000
#define RC_EVENTS	  256

struct rc_server;

struct rc_conn {
	struct pb_conn rc_cn; /* its id, address, queues and state */
	struct rc_server *rc_sv;
	int rc_fd;
	bool rc_readable; /* input may be waiting (edge seen, not drained) */
	bool rc_ready;	  /* on the ready list */
	bool rc_retry;	  /* parked frames to retry at the next tick */
	struct rc_conn *rc_next_ready;
	struct rc_conn *rc_next_dead;
};

struct rc_server {
	const struct pb_options *sv_opts;
	struct pb_engine sv_engine;
	int sv_epoll;
	int sv_listen; /* -1 once stopping */
	int sv_signal;
	struct pb_table sv_table; /* every conn until it is freed */
	unsigned long sv_connected;
	struct pb_budget sv_budget;	 /* and its shares, as in the daemon: */
	struct pb_budget sv_park_share;	 /* waiting rooms: a half */
	struct pb_budget sv_input_share; /* read buffers: a quarter */
	unsigned long sv_lingering;	 /* left, still delivering */
	struct pb_route sv_route;	 /* shared: one thread routes */
	struct rc_conn *sv_ready;
	struct rc_conn *sv_dead;
	uint64_t sv_deadline_ms;
};

static inline struct rc_conn *rc_of(struct pb_conn *c)
{
	return (struct rc_conn *)(void *)((char *)c -
					  offsetof(struct rc_conn, rc_cn));
}

/* The reactor's operations for the engine (ops.c). */
extern const struct pb_engine_ops rc_ops;

/* Puts c on the ready list: its parked frames are retried and its input
 * resumed after this round's events. */
void rc_make_ready(struct rc_conn *c);

/* Writes c's outbox until it is empty or the socket is full; a socket
 * that fails makes c leave. */
void rc_flush(struct pb_conn *c);

/* Sets up the event loop on the listening socket lfd: 0, or -1. */
int rc_setup(struct rc_server *sv, const struct pb_options *op, int lfd);

/* Serves until SIGTERM or SIGINT, and the grace time to flush after. */
void rc_loop(struct rc_server *sv);

#endif
