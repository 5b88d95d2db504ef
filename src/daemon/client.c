/*
 * client.c: one connected client, its references and its waiters (see
 * client.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "client.h"
#include "clock.h"
#include "options.h"

void pb_client_outbox_changed(struct pb_client *c, bool progress)
{
	if (progress)
		atomic_store_explicit(&c->cl_progress_ms, pb_now_ms(),
				      memory_order_relaxed);
	atomic_store_explicit(&c->cl_pending, !pb_outbox_empty(&c->cl_outbox),
			      memory_order_release);
}

struct pb_client *pb_client_new(struct pb_registry *reg,
				const struct pb_options *op,
				struct pb_budget *budget, int fd,
				const char *addr)
{
	struct pb_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pb_wake_init(&c->cl_wake);
	c->cl_fd = fd;
	snprintf(c->cl_addr, sizeof(c->cl_addr), "%s", addr);
	c->cl_reg = reg;
	atomic_init(&c->cl_refs, 1);
	pthread_mutex_init(&c->cl_lock, NULL);
	pb_outbox_init(&c->cl_outbox, op->op_outbox, budget);
	pb_park_init(&c->cl_park, op->op_park, budget);
	pb_frame_parser_init(&c->cl_parser, op->op_max_frame);
	return c;
}

void pb_client_ref(struct pb_client *c)
{
	atomic_fetch_add_explicit(&c->cl_refs, 1, memory_order_relaxed);
}

void pb_client_unref(struct pb_client *c)
{
	if (atomic_fetch_sub_explicit(&c->cl_refs, 1, memory_order_acq_rel) !=
	    1)
		return;
	pb_outbox_free(&c->cl_outbox);
	pb_park_free(&c->cl_park);
	free(c->cl_waiters);
	pthread_mutex_destroy(&c->cl_lock);
	pb_wake_destroy(&c->cl_wake);
	free(c);
}

/* Registers s as waiting for room in d's outbox; d's lock is held. */
void pb_client_wait_on(struct pb_client *d, struct pb_client *s)
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

struct pb_client **pb_client_take_waiters(struct pb_client *d, size_t *n)
{
	struct pb_client **w = d->cl_waiters;

	*n = d->cl_nwaiters;
	d->cl_waiters = NULL;
	d->cl_nwaiters = d->cl_waiters_alloc = 0;
	return w;
}

void pb_client_wake_waiters(struct pb_client **w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		pb_wake_signal(&w[i]->cl_wake);
		pb_client_unref(w[i]);
	}
	free(w);
}
