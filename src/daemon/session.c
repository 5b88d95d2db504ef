/* SPDX-License-Identifier: ISC */
/*
 * session.c: the thread that serves one client (see session.h).
 *
 * The thread polls its client's socket (for reading while its waiting room
 * has room, for writing while its outbox holds data) and can be woken from
 * that sleep (wake.h) when another thread queued data for it, a destination
 * it waits on drained or left, or the daemon is stopping. Whatever it
 * waits for, it keeps draining its own outbox, so two clients that fill
 * each other's outboxes never deadlock.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "client.h"
#include "clock.h"
#include "deliver.h"
#include "log.h"
#include "net.h"
#include "registry.h"
#include "session.h"

#define PB_BUDGET_RETRY_MS 50 /* recheck of a spent memory budget */

static int session_min_timeout(int a, uint64_t at_ms, uint64_t now_ms)
{
	int b = at_ms > now_ms ? (int)(at_ms - now_ms) : 0;

	return a < 0 || b < a ? b : a;
}

/* Fills pfd (the socket) for this round; returns the poll timeout. */
static int session_poll_setup(struct pb_client *c, struct pollfd *pfd,
			      bool *pending)
{
	struct pb_registry *reg = c->cl_reg;
	struct pb_engine *en = &reg->rg_engine;
	struct pb_conn *cn = &c->cl_conn;
	bool left = pb_conn_left(cn);
	bool reading = !left && pb_engine_wants_input(en, cn);
	uint64_t now = pb_now_ms(), progress;
	int timeout = -1;

	*pending = atomic_load_explicit(&cn->cn_pending, memory_order_acquire);
	progress =
		atomic_load_explicit(&cn->cn_progress_ms, memory_order_relaxed);

	pfd->events =
		(short)((reading ? POLLIN : 0) | (*pending ? POLLOUT : 0));
	/* A socket we ask nothing of is left out, or a hang-up would spin. */
	pfd->fd = pfd->events != 0 ? c->cl_fd : -1;
	pfd->revents = 0;
	if (*pending)
		timeout = session_min_timeout(
			timeout, progress + pb_registry_slow_ms(reg), now);
	if (left)
		timeout = session_min_timeout(
			timeout, cn->cn_moved_ms + pb_registry_slow_ms(reg),
			now);
	if (reading && cn->cn_rbuf.rb_frame_ms != 0)
		timeout = session_min_timeout(
			timeout,
			pb_rbuf_deadline(&cn->cn_rbuf,
					 pb_registry_frame_ms(reg)),
			now);
	if (!reading && !left) {
		pb_rbuf_pause(&cn->cn_rbuf, now); /* not its fault */
		if (!pb_rbuf_may_read(&cn->cn_rbuf, &cn->cn_park))
			timeout = session_min_timeout(
				timeout, now + PB_BUDGET_RETRY_MS, now);
	}
	if (cn->cn_rbuf.rb_data != NULL && cn->cn_rbuf.rb_len == 0)
		timeout = session_min_timeout(
			timeout, cn->cn_read_ms + PB_RBUF_IDLE_MS, now);
	if (pb_registry_stopping(reg))
		timeout = session_min_timeout(
			timeout, pb_registry_deadline_ms(reg), now);
	return timeout;
}

/* True when, during shutdown, there is nothing left worth waiting for. */
static bool session_stop_done(struct pb_client *c)
{
	struct pb_registry *reg = c->cl_reg;

	return pb_now_ms() >= pb_registry_deadline_ms(reg) ||
	       pb_engine_drained(&reg->rg_engine, &c->cl_conn);
}

/* Does what the socket is ready for, and checks the timeouts: true to go
 * on, false with *why when the client must leave. */
static bool session_io(struct pb_client *c, const struct pollfd *pfd,
		       bool pending, enum pb_leave *why)
{
	struct pb_engine *en = &c->cl_reg->rg_engine;

	if ((pfd->revents & (POLLOUT | POLLERR | POLLHUP)) && pending &&
	    pb_engine_flush(en, &c->cl_conn) < 0) {
		*why = PB_LEAVE_RESET;
		return false;
	}
	if ((pfd->revents & (POLLIN | POLLERR | POLLHUP)) &&
	    (pfd->events & POLLIN) &&
	    pb_engine_read(en, &c->cl_conn, why) == PB_READ_LEAVE)
		return false;
	return !pb_engine_timed_out(en, &c->cl_conn, pb_now_ms(), why);
}

/* One round of the thread's loop; false when the thread should end. */
static bool session_round(struct pb_client *c)
{
	struct pb_engine *en = &c->cl_reg->rg_engine;
	struct pb_conn *cn = &c->cl_conn;
	struct pollfd pfd[1];
	enum pb_leave why;
	bool pending;
	int timeout;

	if (pb_conn_state(cn) == PB_CONN_DONE)
		return false;
	timeout = session_poll_setup(c, &pfd[0], &pending);
	if (pb_registry_stopping(c->cl_reg) && session_stop_done(c)) {
		pb_engine_leave(en, cn, PB_LEAVE_SHUTDOWN);
		return false;
	}
	if (pb_conn_state(cn) == PB_CONN_LINGERING &&
	    pb_engine_linger_stuck(en, cn, pb_now_ms()))
		return false;
	if (pb_wake_poll(&c->cl_wake, pfd, 1, timeout) < 0) {
		log_warn("client %u: poll", cn->cn_id);
		pb_engine_leave(en, cn, PB_LEAVE_RESET);
		return false;
	}
	if (pb_wake_consume(&c->cl_wake))
		pb_engine_retry(en, cn);
	switch (pb_conn_state(cn)) {
	case PB_CONN_CUT:
		pb_engine_leave(en, cn, PB_LEAVE_NOMEM_OUT);
		return true;
	case PB_CONN_OPEN:
		break;
	default:
		return true; /* left: lingering, or done */
	}
	if (!session_io(c, &pfd[0], pending, &why))
		pb_engine_leave(en, cn, why);
	return true;
}

/* Sends the new client its id. A new socket's send buffer is empty, so the
 * 4 bytes go at once unless the peer is already gone. */
static int session_send_id(struct pb_client *c)
{
	char buf[PB_FRAME_HEADER];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};

	pb_frame_put_id(buf, c->cl_conn.cn_id);
	return pb_net_sendv(c->cl_fd, &iov, 1) == (ssize_t)sizeof(buf) ? 0 : -1;
}

/*
 * Makes the client findable and sends it its id, both under its lock, which
 * every sender takes before writing to it: no frame can reach the client
 * before its id, and none is dropped for want of it in the table once the
 * client knows its id.
 */
static int session_publish(struct pb_client *c)
{
	struct pb_registry *reg = c->cl_reg;
	enum pb_stat why = PB_STAT_REFUSED_NOMEM;
	int rc;

	pthread_mutex_lock(&c->cl_lock);
	rc = pb_registry_add(reg, c);
	if (rc == 0 && session_send_id(c) < 0) {
		pb_registry_remove(reg, c);
		why = PB_STAT_REFUSED_GONE;
		rc = -1;
	}
	pb_conn_set_state(&c->cl_conn, rc == 0 ? PB_CONN_OPEN : PB_CONN_DONE);
	pthread_mutex_unlock(&c->cl_lock);
	pb_registry_handshake_done(reg);
	if (rc < 0) {
		pb_account_refused(c->cl_conn.cn_addr, why);
		pb_registry_client_gone(reg, c);
		close(c->cl_fd);
		c->cl_fd = -1;
		return -1;
	}
	pb_account_connected(c->cl_conn.cn_id, c->cl_conn.cn_addr);
	return 0;
}

/* Serves client c from its id to its end, and lets go of it. */
static void session_serve(struct pb_client *c)
{
	struct pb_registry *reg = c->cl_reg;

	pb_wake_attach(&c->cl_wake);
	if (session_publish(c) == 0)
		while (session_round(c))
			;
	pb_wake_detach(&c->cl_wake);
	pb_engine_release(&reg->rg_engine, &c->cl_conn);
	pb_deliver_release(c);
	pb_client_unref(c);
}

/* A client thread: serves its client, then, as a spare, the next ones
 * the acceptor hands it (spare.h), until none comes. */
static void *session_thread(void *arg)
{
	struct pb_client *c = arg;
	struct pb_registry *reg = c->cl_reg;

	do
		session_serve(c);
	while ((c = pb_spare_wait(&reg->rg_spares)) != NULL);
	pb_registry_thread_exit(reg);
	return NULL;
}

int pb_session_start(struct pb_client *c, size_t stack)
{
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	if (pb_spare_hand(&c->cl_reg->rg_spares, c))
		return 0;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_attr_setstacksize(&attr, stack);
	if (rc == 0) {
		pb_registry_thread_start(c->cl_reg);
		rc = pthread_create(&tid, &attr, session_thread, c);
		if (rc != 0)
			pb_registry_thread_exit(c->cl_reg);
	}
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}
