/* SPDX-License-Identifier: ISC */
/*
 * client.c: one connected client, its references and its waiters (see
 * client.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "client.h"
#include "clock.h"

void pb_client_outbox_changed(struct pb_client *c, bool progress)
{
	if (progress)
		atomic_store_explicit(&c->cl_progress_ms, pb_now_ms(),
				      memory_order_relaxed);
	atomic_store_explicit(&c->cl_pending, !pb_outbox_empty(&c->cl_outbox),
			      memory_order_release);
}

struct pb_client *pb_client_new(struct pb_registry *reg,
				const struct pb_client_env *env, int fd,
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
	pb_outbox_init(&c->cl_outbox, env->ce_outbox, env->ce_budget);
	c->cl_outbox.ob_queued = env->ce_outbox_bytes;
	pb_waiters_init(&c->cl_waiters);
	pb_park_init(&c->cl_park, env->ce_park, env->ce_park_budget);
	c->cl_park.pk_queued = env->ce_park_bytes;
	pb_rbuf_init(&c->cl_rbuf, env->ce_max_frame, env->ce_input_budget);
	pb_frame_parser_init(&c->cl_parser, env->ce_max_frame);
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
	pb_waiters_free(&c->cl_waiters);
	pthread_mutex_destroy(&c->cl_lock);
	pb_wake_destroy(&c->cl_wake);
	free(c);
}

void pb_client_wait_on(struct pb_client *d, struct pb_client *s)
{
	switch (pb_waiters_add(&d->cl_waiters, (uintptr_t)s)) {
	case 1:
		pb_client_ref(s); /* held by d's waiter list */
		break;
	case 0:
		break;
	default:
		/* Cannot wait to be woken: retry on our own. */
		pb_wake_signal(&s->cl_wake);
		break;
	}
}

void pb_client_take_waiters(struct pb_client *d, struct pb_waiters *w)
{
	pb_waiters_take(&d->cl_waiters, w);
}

void pb_client_wake_waiters(struct pb_waiters *w)
{
	size_t i;

	for (i = 0; i < w->wt_n; i++) {
		struct pb_client *s = (struct pb_client *)w->wt_list[i];

		pb_wake_signal(&s->cl_wake);
		pb_client_unref(s);
	}
	pb_waiters_free(w);
}
