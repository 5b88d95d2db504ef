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
#include <stdbool.h>

#include "wake.h"

struct pb_registry;

struct pb_acceptor {
	int ac_fd; /* listening socket */
	struct pb_registry *ac_reg;
	struct pb_wake ac_stop; /* signalled to stop accepting */
	pthread_t ac_thread;
	bool ac_paused; /* accept() ran out of resources: retrying */
};

int pb_acceptor_start(struct pb_acceptor *ac, int fd, struct pb_registry *reg);

/* Stops accepting and waits for the thread; closes the listening socket. */
void pb_acceptor_stop(struct pb_acceptor *ac);

#endif
