/* SPDX-License-Identifier: ISC */
/*
 * client.c: one connected client and its references (see client.h).
 */
#include "config.h"

#include <stdlib.h>

#include "client.h"

struct pb_client *pb_client_new(struct pb_registry *reg,
				const struct pb_conn_env *env, uint32_t id,
				int fd, const char *addr)
{
	struct pb_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pb_conn_init(&c->cl_conn, env, id, addr);
	pb_wake_init(&c->cl_wake);
	c->cl_fd = fd;
	c->cl_reg = reg;
	atomic_init(&c->cl_refs, 1);
	pthread_mutex_init(&c->cl_lock, NULL);
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
	pb_conn_free(&c->cl_conn);
	pb_tls_free(c->cl_tls);
	pthread_mutex_destroy(&c->cl_lock);
	pb_wake_destroy(&c->cl_wake);
	free(c);
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
