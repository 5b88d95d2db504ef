/* SPDX-License-Identifier: ISC */
/*
 * spare.c: spare threads waiting for their next client (see spare.h).
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "client.h"
#include "log.h"
#include "spare.h"

void pb_spare_init(struct pb_spares *sp, size_t max)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&sp->sp_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sp->sp_cond, &ca);
	pthread_condattr_destroy(&ca);
	sp->sp_handed = NULL;
	sp->sp_free = sp->sp_waiting = 0;
	sp->sp_max = max;
	sp->sp_stopping = false;
}

void pb_spare_destroy(struct pb_spares *sp)
{
	pthread_cond_destroy(&sp->sp_cond);
	pthread_mutex_destroy(&sp->sp_lock);
}

void pb_spare_set_max(struct pb_spares *sp, size_t max)
{
	pthread_mutex_lock(&sp->sp_lock);
	sp->sp_max = max;
	pthread_mutex_unlock(&sp->sp_lock);
}

bool pb_spare_hand(struct pb_spares *sp, struct pb_client *c)
{
	bool handed = false;

	pthread_mutex_lock(&sp->sp_lock);
	if (sp->sp_free > 0 && !sp->sp_stopping) {
		sp->sp_free--;
		c->cl_next_spare = sp->sp_handed;
		sp->sp_handed = c;
		handed = true;
		pthread_cond_signal(&sp->sp_cond);
	}
	pthread_mutex_unlock(&sp->sp_lock);
	return handed;
}

/* The deadline PB_SPARE_IDLE_MS from now, on the condition's clock. */
static struct timespec spare_deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += PB_SPARE_IDLE_MS / 1000;
	ts.tv_nsec += (long)(PB_SPARE_IDLE_MS % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

struct pb_client *pb_spare_wait(struct pb_spares *sp)
{
	struct timespec until = spare_deadline();
	struct pb_client *c = NULL;
	bool timed_out = false;

	pthread_mutex_lock(&sp->sp_lock);
	if (sp->sp_stopping || sp->sp_waiting >= sp->sp_max) {
		pthread_mutex_unlock(&sp->sp_lock);
		return NULL;
	}
	sp->sp_waiting++;
	sp->sp_free++;
	pthread_mutex_unlock(&sp->sp_lock);
	log_debug("a client thread waits for the next client");
	pthread_mutex_lock(&sp->sp_lock);
	/* A client handed over is taken even when the wait timed out or
	 * the daemon stops: the acceptor counted on this thread. */
	while (sp->sp_handed == NULL && !sp->sp_stopping && !timed_out)
		timed_out = pthread_cond_timedwait(&sp->sp_cond, &sp->sp_lock,
						   &until) == ETIMEDOUT;
	if (sp->sp_handed != NULL) {
		c = sp->sp_handed;
		sp->sp_handed = c->cl_next_spare;
	} else {
		sp->sp_free--; /* nothing was handed to this one */
	}
	sp->sp_waiting--;
	pthread_mutex_unlock(&sp->sp_lock);
	return c;
}

void pb_spare_stop(struct pb_spares *sp)
{
	pthread_mutex_lock(&sp->sp_lock);
	sp->sp_stopping = true;
	pthread_cond_broadcast(&sp->sp_cond);
	pthread_mutex_unlock(&sp->sp_lock);
}

size_t pb_spare_count(struct pb_spares *sp)
{
	size_t n;

	pthread_mutex_lock(&sp->sp_lock);
	n = sp->sp_waiting;
	pthread_mutex_unlock(&sp->sp_lock);
	return n;
}
