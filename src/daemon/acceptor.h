/* SPDX-License-Identifier: ISC */
/*
 * acceptor.h: the thread that accepts connections.
 *
 * It refuses connections beyond --max-clients before giving an id, gives
 * every other one the next id and starts its thread, which publishes the
 * client and sends it its id (session.c): a client that never had a thread
 * is never visible to anyone. When accept
 * fails for want of descriptors it pauses instead of spinning, and the
 * clients already connected carry on.
 */
#ifndef PB_ACCEPTOR_H
#define PB_ACCEPTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "wake.h"

struct pb_registry;

struct pb_acceptor {
	int ac_fd; /* listening socket */
	struct pb_registry *ac_reg;
	struct pb_wake ac_stop; /* signalled to stop accepting */
	pthread_t ac_thread;
	bool ac_paused;		 /* accept() ran out of resources: retrying */
	atomic_bool ac_stopping; /* set before ac_stop is signalled */
	atomic_uint ac_ping;	 /* a liveness question, and */
	atomic_uint ac_pong;	 /* the last one the thread answered */
};

int pb_acceptor_start(struct pb_acceptor *ac, int fd, struct pb_registry *reg);

/* Asks the thread to show it is alive; pb_acceptor_alive then says
 * whether it has answered. For the watchdog: a thread that is stuck does
 * not answer. */
void pb_acceptor_ping(struct pb_acceptor *ac);
bool pb_acceptor_alive(struct pb_acceptor *ac);

/* Stops accepting and waits for the thread; closes the listening socket. */
void pb_acceptor_stop(struct pb_acceptor *ac);

#endif
