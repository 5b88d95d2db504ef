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

/* Listening sockets at most: one per --listen. */
#define PB_ACCEPTOR_MAX 8

struct pb_acceptor {
	int ac_fds[PB_ACCEPTOR_MAX];  /* listening sockets, one id space */
	bool ac_tls[PB_ACCEPTOR_MAX]; /* which are tls: listeners */
	size_t ac_nfds;
	struct pb_registry *ac_reg;
	struct pb_wake ac_stop; /* signalled to stop accepting */
	pthread_t ac_thread;
	bool ac_paused;		 /* accept() ran out of resources: retrying */
	atomic_bool ac_stopping; /* set before ac_stop is signalled */
	atomic_uint ac_ping;	 /* a liveness question, and */
	atomic_uint ac_pong;	 /* the last one the thread answered */
};

/* Starts accepting on fds[0 .. n) (n at most PB_ACCEPTOR_MAX), which
 * the acceptor owns from then on; tls[i] says that fds[i] is a tls:
 * listener, whose clients get their id only after their handshake, in
 * their own thread (session.h). */
int pb_acceptor_start(struct pb_acceptor *ac, const int *fds, const bool *tls,
		      size_t n, struct pb_registry *reg);

/* Asks the thread to show it is alive; pb_acceptor_alive then says
 * whether it has answered. For the watchdog: a thread that is stuck does
 * not answer. */
void pb_acceptor_ping(struct pb_acceptor *ac);
bool pb_acceptor_alive(struct pb_acceptor *ac);

/* Stops accepting and waits for the thread. The listening sockets stay
 * open: whoever opened them closes them (pb_listener_close). */
void pb_acceptor_stop(struct pb_acceptor *ac);

#endif
