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
#include "stats.h"

/* Frames grouped at a time: bounds the scratch space, and is Linux's
 * IOV_MAX, so one group always fits in one sendmsg. */
#define PB_BATCH 1024

struct pb_deliver_item {
	uint32_t di_dest;
	uint32_t di_seq; /* position in the read: keeps order when sorting */
	const char *di_payload;
	size_t di_len;
};

struct pb_deliver_scratch {
	struct pb_deliver_item ds_items[PB_BATCH];
	struct iovec ds_iov[PB_BATCH];
};

/* The destination for id, referenced by the sender: its last destination
 * is kept, so a steady stream to one peer never touches the table lock. */
static struct pb_client *deliver_dest(struct pb_client *s, uint32_t id)
{
	if (s->cl_dest != NULL && s->cl_dest->cl_id == id)
		return s->cl_dest;
	if (s->cl_dest != NULL)
		pb_client_unref(s->cl_dest);
	s->cl_dest = pb_registry_get(s->cl_reg, id);
	return s->cl_dest;
}

static void deliver_forget_dest(struct pb_client *s)
{
	if (s->cl_dest != NULL)
		pb_client_unref(s->cl_dest);
	s->cl_dest = NULL;
}

static void deliver_drop_unknown(struct pb_client *s, uint32_t dest, size_t n)
{
	pb_stats_add(PB_STAT_DROP_UNKNOWN, n);
	log_debug("client %u: %zu frames to unknown client %u dropped",
		  s->cl_id, n, dest);
}

/* Registers s as waiting for room in d's outbox; d's lock is held. */
static void deliver_wait_on(struct pb_client *d, struct pb_client *s)
{
	size_t i;

	for (i = 0; i < d->cl_nwaiters; i++)
		if (d->cl_waiters[i] == s)
			return;
	if (d->cl_nwaiters == d->cl_waiters_alloc) {
		size_t n = d->cl_waiters_alloc ? d->cl_waiters_alloc * 2 : 4;
		struct pb_client **w;

		w = reallocarray(d->cl_waiters, n, sizeof(*w));
		if (w == NULL) {
			/* Cannot wait to be woken: retry on our own. */
			pb_wake_signal(&s->cl_wake);
			return;
		}
		d->cl_waiters = w;
		d->cl_waiters_alloc = n;
	}
	pb_client_ref(s);
	d->cl_waiters[d->cl_nwaiters++] = s;
}

struct pb_client **pb_deliver_take_waiters(struct pb_client *d, size_t *n)
{
	struct pb_client **w = d->cl_waiters;

	*n = d->cl_nwaiters;
	d->cl_waiters = NULL;
	d->cl_nwaiters = d->cl_waiters_alloc = 0;
	return w;
}

void pb_deliver_wake_waiters(struct pb_client **w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		pb_wake_signal(&w[i]->cl_wake);
		pb_client_unref(w[i]);
	}
	free(w);
}

static void deliver_park(struct pb_client *s, uint32_t dest,
			 const struct iovec *iov, size_t n)
{
	if (pb_park_pushv(&s->cl_park, dest, iov, (int)n) < 0) {
		pb_stats_add(PB_STAT_DROP_NOMEM, n);
		log_warn("client %u: %zu frames to client %u dropped", s->cl_id,
			 n, dest);
	}
}

/*
 * Hands frames iov[0 .. n) to d, whose lock is held: straight to its socket
 * if nothing is queued before them, then into its outbox, and what does not
 * fit into the sender's waiting room. Returns true if d's outbox went from
 * empty to not empty (d must then be woken to write it).
 */
static bool deliver_locked(struct pb_client *s, struct pb_client *d,
			   const struct iovec *iov, size_t n)
{
	bool was_empty = pb_outbox_empty(&d->cl_outbox);
	size_t i = 0, j, fit = 0, room;

	if (was_empty) {
		ssize_t r = pb_net_sendv(d->cl_fd, iov, n);
		size_t sent = r > 0 ? (size_t)r : 0;

		while (i < n && sent >= iov[i].iov_len)
			sent -= iov[i++].iov_len;
		/* The rest of a frame cut by the socket must go next; an
		 * empty outbox always holds one frame. */
		if (sent > 0) {
			const char *rest = (const char *)iov[i].iov_base + sent;

			if (pb_outbox_append(&d->cl_outbox, rest,
					     iov[i].iov_len - sent) < 0) {
				/* Its stream is cut mid-frame: end it. */
				log_warn("client %u: frame cut", d->cl_id);
				shutdown(d->cl_fd, SHUT_RDWR);
				return false;
			}
			i++;
		}
	}
	room = pb_outbox_room(&d->cl_outbox);
	for (j = i; j < n && iov[j].iov_len <= room - fit; j++)
		fit += iov[j].iov_len;
	if (j > i &&
	    pb_outbox_appendv(&d->cl_outbox, iov + i, (int)(j - i)) < 0)
		j = i;
	if (j < n) {
		deliver_park(s, d->cl_id, iov + j, n - j);
		deliver_wait_on(d, s);
	}
	if (was_empty && !pb_outbox_empty(&d->cl_outbox)) {
		d->cl_progress_ms = pb_client_now_ms();
		return true;
	}
	return false;
}

/* Delivers frames iov[0 .. n), all for dest, in order. */
static void deliver_run(struct pb_client *s, uint32_t dest,
			const struct iovec *iov, size_t n)
{
	struct pb_client *d;
	bool wake;

	if (pb_park_find(&s->cl_park, dest) >= 0) {
		/* Earlier frames to dest are waiting: these go behind. */
		deliver_park(s, dest, iov, n);
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
		deliver_forget_dest(s);
		deliver_drop_unknown(s, dest, n);
		return;
	}
	wake = deliver_locked(s, d, iov, n);
	pthread_mutex_unlock(&d->cl_lock);
	pb_stats_add(PB_STAT_FORWARDED, n);
	if (wake)
		pb_wake_signal(&d->cl_wake);
}

static int deliver_item_cmp(const void *a, const void *b)
{
	const struct pb_deliver_item *x = a, *y = b;

	if (x->di_dest != y->di_dest)
		return x->di_dest < y->di_dest ? -1 : 1;
	return x->di_seq < y->di_seq ? -1 : x->di_seq > y->di_seq;
}

/* Delivers n frames, grouped by destination (one group when not mixed). */
static void deliver_batch(struct pb_client *s, struct pb_deliver_item *it,
			  size_t n, bool mixed)
{
	struct iovec *iov = s->cl_scratch->ds_iov;
	size_t i, start = 0;

	if (mixed)
		qsort(it, n, sizeof(*it), deliver_item_cmp);
	for (i = 0; i < n; i++) {
		iov[i].iov_base = (void *)(uintptr_t)it[i].di_payload;
		iov[i].iov_len = it[i].di_len;
		if (i + 1 == n || it[i + 1].di_dest != it[start].di_dest) {
			deliver_run(s, it[start].di_dest, iov + start,
				    i + 1 - start);
			start = i + 1;
		}
	}
}

int pb_deliver_input(struct pb_client *s)
{
	enum pb_frame_status st = PB_FRAME_OK;
	struct pb_deliver_item *it;
	size_t off = 0;

	if (s->cl_scratch == NULL) {
		s->cl_scratch = malloc(sizeof(*s->cl_scratch));
		if (s->cl_scratch == NULL)
			return 0; /* keep the bytes; retried on next read */
	}
	it = s->cl_scratch->ds_items;
	while (st == PB_FRAME_OK) {
		bool mixed = false;
		size_t n = 0, used;
		struct pb_frame f;

		for (; n < PB_BATCH; n++, off += used) {
			st = pb_frame_next(&s->cl_parser, s->cl_rbuf + off,
					   s->cl_rlen - off, &f, &used);
			if (st != PB_FRAME_OK)
				break;
			it[n].di_dest = f.fr_dest;
			it[n].di_seq = (uint32_t)n;
			it[n].di_payload = f.fr_payload;
			it[n].di_len = f.fr_len;
			mixed |= f.fr_dest != it[0].di_dest;
		}
		if (n > 0)
			deliver_batch(s, it, n, mixed);
	}
	s->cl_rlen -= off;
	memmove(s->cl_rbuf, s->cl_rbuf + off, s->cl_rlen);
	return st == PB_FRAME_TOO_LONG ? -1 : 0;
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
				deliver_forget_dest(s);
			}
			pb_stats_add(PB_STAT_DROP_LEFT, pb_park_drop(pk, i));
			continue;
		}
		was_empty = pb_outbox_empty(&d->cl_outbox);
		(void)pb_park_flush(pk, i, &d->cl_outbox);
		/* Dests are unique per lane: still there means still full. */
		if (i < pk->pk_nlanes && pk->pk_lanes[i].pl_dest == dest)
			deliver_wait_on(d, s);
		wake = was_empty && !pb_outbox_empty(&d->cl_outbox);
		if (wake)
			d->cl_progress_ms = pb_client_now_ms();
		pthread_mutex_unlock(&d->cl_lock);
		if (wake)
			pb_wake_signal(&d->cl_wake);
	}
}

void pb_deliver_release(struct pb_client *s)
{
	deliver_forget_dest(s);
	free(s->cl_scratch);
	s->cl_scratch = NULL;
}
