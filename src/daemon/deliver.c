/*
 * deliver.c: routing a sender's frames to their destinations (see
 * deliver.h). Everything here runs in the sender's thread; a destination is
 * touched only under its own lock, and only with non-blocking calls.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "deliver.h"
#include "log.h"
#include "registry.h"
#include "route.h"
#include "stats.h"

/* The destination for id, referenced by the sender. Recent destinations
 * are kept in a small direct-mapped cache, so that steady streams to a few
 * peers never touch the table's lock. */
static struct pb_client *deliver_dest(struct pb_client *s, uint32_t id)
{
	struct pb_client **slot = &s->cl_dests[id % PB_DEST_CACHE];

	if (*slot != NULL && (*slot)->cl_id == id)
		return *slot;
	if (*slot != NULL)
		pb_client_unref(*slot);
	*slot = pb_registry_get(s->cl_reg, id);
	return *slot;
}

/* Drops the cached reference to id, a client that has left. */
static void deliver_forget_dest(struct pb_client *s, uint32_t id)
{
	struct pb_client **slot = &s->cl_dests[id % PB_DEST_CACHE];

	if (*slot != NULL)
		pb_client_unref(*slot);
	*slot = NULL;
}

static void deliver_drop_unknown(struct pb_client *s, uint32_t dest, size_t n)
{
	pb_stats_add(PB_STAT_DROP_UNKNOWN, n);
	log_debug("client %u: %zu frames to unknown client %u dropped",
		  s->cl_id, n, dest);
}

/* Parks frames for dest behind what waits for it; returns how many frames
 * could not be kept for want of memory (counted, logged by the caller). */
static size_t deliver_park(struct pb_client *s, uint32_t dest,
			   const struct iovec *iov, size_t n)
{
	if (pb_park_pushv(&s->cl_park, dest, iov, (int)n) == 0)
		return 0;
	pb_stats_add(PB_STAT_DROP_NOMEM, n);
	return n;
}

static void deliver_log_lost(struct pb_client *s, uint32_t dest, size_t n)
{
	if (n > 0)
		log_warn("client %u: out of memory, %zu frames to client %u "
			 "dropped",
			 s->cl_id, n, dest);
}

/* Waits for room in d's outbox (d's lock is held) or, when it holds
 * nothing that could drain (no memory for it), retries on our own. */
static void deliver_wait_for_room(struct pb_client *d, struct pb_client *s)
{
	if (pb_outbox_empty(&d->cl_outbox))
		pb_wake_signal(&s->cl_wake);
	else
		pb_client_wait_on(d, s);
}

static ssize_t deliver_write(void *ctx, const struct iovec *iov, size_t n)
{
	const struct pb_client *d = ctx;

	return pb_net_sendv(d->cl_fd, iov, n);
}

/*
 * Hands frames iov[0 .. n) to d, whose lock is held; what its outbox has no
 * room for waits in the sender's waiting room. Returns true if d's outbox
 * went from empty to not empty (d must then be woken to write it); *lost
 * counts frames dropped for want of memory. Nothing here may block or log.
 */
static bool deliver_locked(struct pb_client *s, struct pb_client *d,
			   const struct iovec *iov, size_t n, size_t *lost)
{
	struct pb_route_handoff h;

	h = pb_route_handoff(&d->cl_outbox, iov, n, deliver_write, d);
	if (h.rh_cut) {
		/* A frame was cut on the wire: d's stream cannot go on. */
		*lost = n - h.rh_taken;
		pb_stats_add(PB_STAT_DROP_NOMEM, *lost);
		shutdown(d->cl_fd, SHUT_RDWR);
		return false;
	}
	if (h.rh_taken < n) {
		*lost = deliver_park(s, d->cl_id, iov + h.rh_taken,
				     n - h.rh_taken);
		deliver_wait_for_room(d, s);
	}
	if (h.rh_started)
		pb_client_outbox_changed(d, true);
	return h.rh_started;
}

/* Delivers frames iov[0 .. n), all for dest, in order (a pb_route_fn). */
static void deliver_run(void *arg, uint32_t dest, const struct iovec *iov,
			size_t n)
{
	struct pb_client *s = arg, *d;
	size_t lost = 0;
	bool wake;

	if (pb_park_find(&s->cl_park, dest) >= 0) {
		/* Earlier frames to dest are waiting: these go behind. */
		deliver_log_lost(s, dest, deliver_park(s, dest, iov, n));
		return;
	}
	d = deliver_dest(s, dest);
	if (d == NULL) {
		deliver_drop_unknown(s, dest, n);
		return;
	}
	pthread_mutex_lock(&d->cl_lock);
	if (d->cl_closed) {
		pthread_mutex_unlock(&d->cl_lock);
		deliver_forget_dest(s, dest);
		deliver_drop_unknown(s, dest, n);
		return;
	}
	wake = deliver_locked(s, d, iov, n, &lost);
	pthread_mutex_unlock(&d->cl_lock);
	deliver_log_lost(s, dest, lost);
	pb_stats_add(PB_STAT_FORWARDED, n - lost);
	if (wake)
		pb_wake_signal(&d->cl_wake);
}

int pb_deliver_input(struct pb_client *s)
{
	return pb_route_input(s->cl_route, &s->cl_parser, s->cl_rbuf,
			      &s->cl_rlen, deliver_run, s);
}

void pb_deliver_retry(struct pb_client *s)
{
	struct pb_park *pk = &s->cl_park;
	size_t i = pk->pk_nlanes;

	while (i-- > 0) {
		uint32_t dest = pk->pk_lanes[i].pl_dest;
		struct pb_client *d = deliver_dest(s, dest);
		bool was_empty, wake;

		if (d != NULL)
			pthread_mutex_lock(&d->cl_lock);
		if (d == NULL || d->cl_closed) {
			if (d != NULL) {
				pthread_mutex_unlock(&d->cl_lock);
				deliver_forget_dest(s, dest);
			}
			pb_stats_add(PB_STAT_DROP_LEFT, pb_park_drop(pk, i));
			continue;
		}
		was_empty = pb_outbox_empty(&d->cl_outbox);
		(void)pb_park_flush(pk, i, &d->cl_outbox);
		/* Dests are unique per lane: still there means still full. */
		if (i < pk->pk_nlanes && pk->pk_lanes[i].pl_dest == dest)
			deliver_wait_for_room(d, s);
		wake = was_empty && !pb_outbox_empty(&d->cl_outbox);
		if (wake)
			pb_client_outbox_changed(d, true);
		pthread_mutex_unlock(&d->cl_lock);
		if (wake)
			pb_wake_signal(&d->cl_wake);
	}
}

void pb_deliver_release(struct pb_client *s)
{
	uint32_t i;

	for (i = 0; i < PB_DEST_CACHE; i++)
		deliver_forget_dest(s, i);
}
