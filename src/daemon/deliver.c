/* SPDX-License-Identifier: ISC */
/*
 * deliver.c: routing a sender's frames to their destinations (see
 * deliver.h). Everything here runs in the sender's thread; a destination is
 * touched only under its own lock, and only with non-blocking calls.
 */
#include "config.h"

#include <sys/socket.h>

#include "account.h"
#include "client.h"
#include "deliver.h"
#include "registry.h"
#include "route.h"

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

/* Does what a hand-off or retry asks of sender s about d (d's lock held):
 * wait for room in d's outbox, or retry on its own when nothing there can
 * drain. */
static void deliver_wait(struct pb_client *s, struct pb_client *d,
			 enum pb_park_wait w)
{
	if (w == PB_PARK_WAIT)
		pb_client_wait_on(d, s);
	else if (w == PB_PARK_RETRY)
		pb_wake_signal(&s->cl_wake);
}

/* Cuts d's stream (d's lock held): a frame for it found no memory, so
 * what follows would reach it past a gap it could not see. Its thread
 * ends it as PB_LEAVE_NOMEM_OUT (doc/protocol.md, "Out of memory"). */
static void deliver_cut(struct pb_client *d)
{
	atomic_store(&d->cl_cut, true);
	shutdown(d->cl_fd, SHUT_RDWR);
}

/* Keeps d's count of frames waiting for it in senders' waiting rooms. */
static void deliver_waiting(struct pb_client *d, size_t n, bool add)
{
	if (d == NULL || n == 0)
		return;
	if (add)
		atomic_fetch_add_explicit(&d->cl_waiting, n,
					  memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&d->cl_waiting, n,
					  memory_order_relaxed);
}

/* Frames for dest go behind those already waiting for it. The
 * destination is looked up again only when it must be told: frames
 * parked for it, or its stream cut for want of memory. */
static void deliver_behind(struct pb_client *s, uint32_t dest,
			   const struct iovec *iov, size_t n)
{
	struct pb_route_result r = pb_route_behind(&s->cl_park, dest, iov, n);
	struct pb_client *d = NULL;

	if (r.rr_parked > 0 || r.rr_cut)
		d = deliver_dest(s, dest);
	deliver_waiting(d, r.rr_parked, true);
	if (r.rr_cut && d != NULL) {
		pthread_mutex_lock(&d->cl_lock);
		if (!d->cl_closed)
			deliver_cut(d);
		pthread_mutex_unlock(&d->cl_lock);
		pb_wake_signal(&d->cl_wake);
	}
	pb_account_delivered(s->cl_id, dest, &r);
}

static ssize_t deliver_write(void *ctx, const struct iovec *iov, size_t n)
{
	const struct pb_client *d = ctx;

	return pb_net_sendv(d->cl_fd, iov, n);
}

/* Delivers frames iov[0 .. n), all for dest, in order (a pb_route_fn).
 * Under d's lock nothing may block or log. */
static void deliver_run(void *arg, uint32_t dest, const struct iovec *iov,
			size_t n)
{
	struct pb_client *s = arg, *d;
	struct pb_route_result r;

	if (pb_park_find(&s->cl_park, dest) >= 0) {
		/* Earlier frames to dest are waiting: these go behind. */
		deliver_behind(s, dest, iov, n);
		return;
	}
	d = deliver_dest(s, dest);
	if (d == NULL) {
		pb_account_unknown(s->cl_id, dest, n);
		return;
	}
	pthread_mutex_lock(&d->cl_lock);
	if (d->cl_closed) {
		pthread_mutex_unlock(&d->cl_lock);
		deliver_forget_dest(s, dest);
		pb_account_unknown(s->cl_id, dest, n);
		return;
	}
	r = pb_route_deliver(&d->cl_outbox, &s->cl_park, dest, iov, n,
			     deliver_write, d);
	deliver_waiting(d, r.rr_parked, true);
	if (r.rr_cut)
		deliver_cut(d);
	else
		deliver_wait(s, d, r.rr_wait);
	if (r.rr_started)
		pb_client_outbox_changed(d, true);
	pthread_mutex_unlock(&d->cl_lock);
	pb_account_delivered(s->cl_id, dest, &r);
	if (r.rr_started || r.rr_cut)
		pb_wake_signal(&d->cl_wake);
}

int pb_deliver_input(struct pb_client *s)
{
	struct pb_rbuf *rb = &s->cl_rbuf;
	int rc = pb_route_input(s->cl_route, &s->cl_parser, rb->rb_data,
				&rb->rb_len, deliver_run, s);

	pb_account_received(s->cl_route->rt_frames);
	return rc;
}

void pb_deliver_retry(struct pb_client *s)
{
	struct pb_park *pk = &s->cl_park;
	size_t i = pk->pk_nlanes;

	while (i-- > 0) {
		uint32_t dest = pk->pk_lanes[i].pl_dest;
		struct pb_client *d = deliver_dest(s, dest);
		struct pb_park_retry r;

		if (d != NULL)
			pthread_mutex_lock(&d->cl_lock);
		if (d == NULL || d->cl_closed) {
			enum pb_leave why = PB_LEAVE_CLOSED;

			if (d != NULL) {
				why = d->cl_why;
				pthread_mutex_unlock(&d->cl_lock);
				deliver_forget_dest(s, dest);
			}
			pb_account_dest_left(pb_park_drop(pk, i), why);
			continue;
		}
		r = pb_park_retry(pk, i, &d->cl_outbox);
		deliver_waiting(d, r.pr_moved, false);
		deliver_wait(s, d, r.pr_wait);
		if (r.pr_started)
			pb_client_outbox_changed(d, true);
		pthread_mutex_unlock(&d->cl_lock);
		if (r.pr_started)
			pb_wake_signal(&d->cl_wake);
	}
}

size_t pb_deliver_drop_all(struct pb_client *s)
{
	struct pb_park *pk = &s->cl_park;
	size_t frames = 0;

	while (pk->pk_nlanes > 0) {
		size_t i = pk->pk_nlanes - 1, n;
		struct pb_client *d = deliver_dest(s, pk->pk_lanes[i].pl_dest);

		n = pb_park_drop(pk, i);
		deliver_waiting(d, n, false);
		frames += n;
	}
	return frames;
}

void pb_deliver_release(struct pb_client *s)
{
	uint32_t i;

	for (i = 0; i < PB_DEST_CACHE; i++)
		deliver_forget_dest(s, i);
}
