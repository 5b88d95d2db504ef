/* SPDX-License-Identifier: ISC */
/*
 * deliver.c: the daemon's operations for the delivery engine (see
 * deliver.h). Each runs in the thread that owns the client it is given
 * first, or under the lock of the destination it is given.
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "deliver.h"
#include "net.h"
#include "registry.h"
#include "remote.h"

/* A stand-in for another node's client, dropped when its link went
 * down. */
static bool deliver_went_with_link(const struct pb_client *c)
{
	return c->cl_remote != NULL && pb_conn_left(&c->cl_conn) &&
	       c->cl_conn.cn_why == PB_LEAVE_UNREACHABLE;
}

/* The destination for id, referenced by the sender. Recent destinations
 * are kept in a small direct-mapped cache, so that steady streams to a few
 * peers never touch the table's lock. */
static struct pb_conn *deliver_find(struct pb_conn *sc, uint32_t id)
{
	struct pb_client *s = pb_client_of(sc);
	struct pb_client **slot = &s->cl_dests[id % PB_DEST_CACHE];

	/* A stand-in that went with its link is looked up afresh: another
	 * node's client has a new one once the link is back up. Any other
	 * that left is kept: it says why (cn_why is set before the state's
	 * release store). */
	if (*slot == NULL || (*slot)->cl_conn.cn_id != id ||
	    deliver_went_with_link(*slot)) {
		const struct pb_remote_ops *ro = s->cl_reg->rg_remote;

		if (*slot != NULL)
			pb_client_unref(*slot);
		if (ro != NULL && !pb_registry_local(s->cl_reg, id))
			*slot = ro->ro_find(ro->ro_ctx, id);
		else
			*slot = pb_registry_get(s->cl_reg, id);
	}
	return *slot != NULL ? &(*slot)->cl_conn : NULL;
}

/* Drops the cached reference to id, a client that has left. */
static void deliver_forget(struct pb_conn *sc, uint32_t id)
{
	struct pb_client **slot =
		&pb_client_of(sc)->cl_dests[id % PB_DEST_CACHE];

	if (*slot != NULL)
		pb_client_unref(*slot);
	*slot = NULL;
}

void pb_deliver_release(struct pb_client *s)
{
	uint32_t i;

	for (i = 0; i < PB_DEST_CACHE; i++)
		deliver_forget(&s->cl_conn, i);
}

static void deliver_lock(struct pb_conn *c)
{
	pthread_mutex_lock(&pb_client_of(c)->cl_lock);
}

static void deliver_unlock(struct pb_conn *c)
{
	pthread_mutex_unlock(&pb_client_of(c)->cl_lock);
}

/* A TLS client's bytes go through its TLS state (tls.h), which has a
 * lock of its own: the owner reads while others write under c's lock. */
static ssize_t deliver_read(struct pb_conn *c, void *buf, size_t len)
{
	struct pb_client *cl = pb_client_of(c);

	if (cl->cl_tls != NULL)
		return pb_tls_read(cl->cl_tls, buf, len);
	return recv(cl->cl_fd, buf, len, 0);
}

static ssize_t deliver_write(struct pb_conn *c, const struct iovec *iov,
			     size_t n)
{
	struct pb_client *cl = pb_client_of(c);

	if (cl->cl_remote != NULL)
		return cl->cl_reg->rg_remote->ro_write(cl, iov, n);
	if (cl->cl_tls != NULL)
		return pb_tls_write(cl->cl_tls, iov, n);
	return pb_net_sendv(cl->cl_fd, iov, n);
}

/* The waiter list holds a reference to each sender. */
static int deliver_wait_on(struct pb_conn *d, struct pb_conn *sc)
{
	struct pb_client *s = pb_client_of(sc);
	int rc = pb_waiters_add(&d->cn_waiters, (uintptr_t)s);

	if (rc == 1)
		pb_client_ref(s);
	return rc;
}

/* Wakes c's thread: to retry its waiting room, write its outbox, or see
 * that it was cut; for a stand-in, its link. */
static void deliver_signal(struct pb_conn *c)
{
	struct pb_client *cl = pb_client_of(c);

	if (cl->cl_remote != NULL)
		cl->cl_reg->rg_remote->ro_wake(cl);
	else
		pb_wake_signal(&cl->cl_wake);
}

static void deliver_wake_waiters(struct pb_conn *d, struct pb_waiters *w)
{
	(void)d;
	pb_client_wake_waiters(w);
}

static void deliver_shutdown(struct pb_conn *d)
{
	struct pb_client *cl = pb_client_of(d);

	if (cl->cl_fd >= 0) /* a stand-in's link sees the cut when woken */
		shutdown(cl->cl_fd, SHUT_RDWR);
}

static void deliver_unpublish(struct pb_conn *c)
{
	struct pb_client *cl = pb_client_of(c);

	pb_registry_remove(cl->cl_reg, cl);
	pb_registry_client_gone(cl->cl_reg, cl);
}

static void deliver_close(struct pb_conn *c)
{
	struct pb_client *cl = pb_client_of(c);

	/* close_notify, if the socket takes it now; nobody writes to a
	 * client that left (its state says so under its lock). */
	if (cl->cl_tls != NULL)
		pb_tls_close(cl->cl_tls);
	close(cl->cl_fd);
	cl->cl_fd = -1;
}

static bool deliver_linger(struct pb_conn *c)
{
	return pb_registry_linger(pb_client_of(c)->cl_reg);
}

static void deliver_linger_end(struct pb_conn *c)
{
	pb_registry_linger_end(pb_client_of(c)->cl_reg);
}

const struct pb_engine_ops pb_deliver_ops = {
	.eo_find = deliver_find,
	.eo_forget = deliver_forget,
	.eo_lock = deliver_lock,
	.eo_unlock = deliver_unlock,
	.eo_read = deliver_read,
	.eo_write = deliver_write,
	.eo_wait_on = deliver_wait_on,
	.eo_wake_waiters = deliver_wake_waiters,
	.eo_retry_later = deliver_signal, /* at once: see engine.h */
	.eo_wake = deliver_signal,
	.eo_flush = deliver_signal,
	.eo_shutdown = deliver_shutdown,
	.eo_unpublish = deliver_unpublish,
	.eo_close = deliver_close,
	.eo_linger = deliver_linger,
	.eo_linger_end = deliver_linger_end,
	.eo_done = NULL, /* the thread sees DONE itself */
	.eo_now_ms = pb_now_ms,
};
