/* SPDX-License-Identifier: ISC */
/*
 * spare.h: spare threads, client threads waiting for their next client.
 *
 * Starting a thread for every connection and ending it at every
 * disconnect costs more than serving a short connection. So a client
 * thread whose client is gone waits here, a while (PB_SPARE_IDLE_MS) and
 * in a bounded number (--spare-threads), for the acceptor to hand it the
 * next client; only when none waits does the acceptor start a thread.
 * There is still exactly one thread per connected client: a spare serves
 * nobody. Spares cost their stacks, which is why they are few and go
 * after a while.
 */
#ifndef PB_SPARE_H
#define PB_SPARE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define PB_SPARE_IDLE_MS 10000 /* a spare unused this long ends */

struct pb_client;

struct pb_spares {
	pthread_mutex_t sp_lock;     /* guards everything below */
	pthread_cond_t sp_cond;	     /* a client was handed over, or stopping */
	struct pb_client *sp_handed; /* handed over, not yet taken: a list
					through cl_next_spare */
	size_t sp_free;		     /* spares waiting that nothing was handed
					to yet */
	size_t sp_waiting;	     /* spares waiting, in all */
	size_t sp_max;		     /* --spare-threads */
	bool sp_stopping;
};

void pb_spare_init(struct pb_spares *sp, size_t max);
void pb_spare_destroy(struct pb_spares *sp);

/* A reload's new --spare-threads; spares above it end when next idle. */
void pb_spare_set_max(struct pb_spares *sp, size_t max);

/* The acceptor: hands c to a waiting spare; false when none waits (then
 * start a thread). */
bool pb_spare_hand(struct pb_spares *sp, struct pb_client *c);

/* A client thread whose client is gone: waits to be handed the next one,
 * and returns it, or NULL when the thread should end instead (the spares
 * are enough, it stayed unused PB_SPARE_IDLE_MS, or the daemon stops). */
struct pb_client *pb_spare_wait(struct pb_spares *sp);

/* Wakes every spare to end: the daemon is stopping. */
void pb_spare_stop(struct pb_spares *sp);

/* Spares waiting now, for the metrics. */
size_t pb_spare_count(struct pb_spares *sp);

#endif
