/* SPDX-License-Identifier: ISC */
/*
 * ops.c: patchbay-reactor's operations for the delivery engine (see
 * engine.h, and reactor.c for how they differ from the daemon's).
 */
#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"
#include "reactor.h"

void rc_make_ready(struct rc_conn *c)
{
	struct rc_server *sv = c->rc_sv;

	if (c->rc_ready || pb_conn_state(&c->rc_cn) == PB_CONN_DONE)
		return;
	c->rc_ready = true;
	c->rc_next_ready = sv->sv_ready;
	sv->sv_ready = c;
}

static struct pb_conn *rc_find(struct pb_conn *s, uint32_t id)
{
	struct rc_conn *d = pb_table_get(&rc_of(s)->rc_sv->sv_table, id);

	return d != NULL ? &d->rc_cn : NULL;
}

/* Nothing to let go of, nothing to lock: one thread does everything. */
static void rc_nothing(struct pb_conn *c)
{
	(void)c;
}

static void rc_forget(struct pb_conn *s, uint32_t id)
{
	(void)s;
	(void)id;
}

static ssize_t rc_read_op(struct pb_conn *c, void *buf, size_t len)
{
	return recv(rc_of(c)->rc_fd, buf, len, 0);
}

static ssize_t rc_write_op(struct pb_conn *c, const struct iovec *iov, size_t n)
{
	return pb_net_sendv(rc_of(c)->rc_fd, iov, n);
}

/* Waiters are kept by id: a sender may be freed before d drains. */
static int rc_wait_on(struct pb_conn *d, struct pb_conn *s)
{
	return pb_waiters_add(&d->cn_waiters, (uintptr_t)s->cn_id);
}

/* Puts the senders that waited on d's outbox on the ready list. */
static void rc_wake_waiters(struct pb_conn *d, struct pb_waiters *w)
{
	struct rc_server *sv = rc_of(d)->rc_sv;
	size_t i;

	for (i = 0; i < w->wt_n; i++) {
		struct rc_conn *s =
			pb_table_get(&sv->sv_table, (uint32_t)w->wt_list[i]);

		if (s != NULL)
			rc_make_ready(s);
	}
	pb_waiters_free(w);
}

static void rc_retry_later(struct pb_conn *s)
{
	rc_of(s)->rc_retry = true;
}

/* Writes c's outbox until it is empty or the socket is full. */
void rc_flush(struct pb_conn *c)
{
	struct pb_engine *en = &rc_of(c)->rc_sv->sv_engine;

	if (pb_engine_flush(en, c) < 0)
		pb_engine_leave(en, c, PB_LEAVE_RESET);
}

static void rc_shutdown(struct pb_conn *d)
{
	shutdown(rc_of(d)->rc_fd, SHUT_RDWR);
}

/* A client that left stays in the table until it is freed, so that its
 * id is never found to be someone else's meanwhile. */
static void rc_unpublish(struct pb_conn *c)
{
	rc_of(c)->rc_sv->sv_connected--;
}

static void rc_close(struct pb_conn *c)
{
	close(rc_of(c)->rc_fd); /* also takes it out of the epoll set */
}

static bool rc_linger(struct pb_conn *c)
{
	struct rc_server *sv = rc_of(c)->rc_sv;

	if (sv->sv_lingering >= sv->sv_opts->op_max_clients)
		return false;
	sv->sv_lingering++;
	return true;
}

static void rc_linger_end(struct pb_conn *c)
{
	rc_of(c)->rc_sv->sv_lingering--;
}

/* Freed at the end of the round (rc_free_dead). */
static void rc_bury(struct pb_conn *cn)
{
	struct rc_conn *c = rc_of(cn);

	c->rc_next_dead = c->rc_sv->sv_dead;
	c->rc_sv->sv_dead = c;
}

const struct pb_engine_ops rc_ops = {
	.eo_find = rc_find,
	.eo_forget = rc_forget,
	.eo_lock = rc_nothing,
	.eo_unlock = rc_nothing,
	.eo_read = rc_read_op,
	.eo_write = rc_write_op,
	.eo_wait_on = rc_wait_on,
	.eo_wake_waiters = rc_wake_waiters,
	.eo_retry_later = rc_retry_later, /* at the next tick: engine.h */
	.eo_wake = rc_nothing,		  /* epoll will report the socket */
	.eo_flush = rc_flush,
	.eo_shutdown = rc_shutdown,
	.eo_unpublish = rc_unpublish,
	.eo_close = rc_close,
	.eo_linger = rc_linger,
	.eo_linger_end = rc_linger_end,
	.eo_done = rc_bury,
	.eo_now_ms = pb_now_ms,
};
