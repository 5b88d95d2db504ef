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
#include "input.h"
#include "log.h"
#include "registry.h"
#include "session.h"

#define PB_BUDGET_RETRY_MS 50 /* recheck of a spent memory budget */

/*
 * A client left with frames in its waiting room: its thread stays to
 * deliver them if one of the --max-clients places for departed clients is
 * free (threads stay bounded by twice --max-clients, whatever clients do),
 * and gives them up otherwise.
 */
static void session_linger(struct pb_client *c)
{
	if (pb_registry_linger(c->cl_reg)) {
		c->cl_lingering = true;
		c->cl_moved_ms = pb_now_ms();
		return;
	}
	pb_account_sender_gave_up(c->cl_id, pb_deliver_drop_all(c), 0);
}

/* Whether a lingering client's waiting room has moved nothing on for
 * --slow-timeout: its destinations are draining, if at all, too slowly
 * to be waited for; then it is given up. */
static bool session_linger_stuck(struct pb_client *c)
{
	unsigned long slow_ms = pb_registry_slow_ms(c->cl_reg);

	if (pb_now_ms() - c->cl_moved_ms < slow_ms)
		return false;
	pb_account_sender_gave_up(c->cl_id, pb_deliver_drop_all(c), slow_ms);
	return true;
}

/* Retries the waiting room, noting progress for a lingering client. */
static void session_retry(struct pb_client *c)
{
	size_t before = pb_park_bytes(&c->cl_park);

	pb_deliver_retry(c);
	if (pb_park_bytes(&c->cl_park) < before)
		c->cl_moved_ms = pb_now_ms();
}

/*
 * Takes the client out of the daemon: out of the table so nobody finds it,
 * marked closed so nobody queues for it, its outbox dropped and its socket
 * closed, and whoever waited on it woken. Its own waiting room stays: the
 * thread lingers to deliver the frames the client completed before leaving.
 */
static void session_leave(struct pb_client *c, enum pb_leave why)
{
	struct pb_waiters waiters;
	size_t dropped;

	pb_registry_remove(c->cl_reg, c);
	atomic_fetch_sub(&c->cl_reg->rg_clients, 1);
	pthread_mutex_lock(&c->cl_lock);
	if (atomic_load(&c->cl_cut))
		why = PB_LEAVE_NOMEM_OUT; /* whatever its socket then said */
	c->cl_closed = true;
	c->cl_why = why;
	dropped = pb_outbox_count_frames(&c->cl_outbox);
	pb_outbox_free(&c->cl_outbox);
	pb_client_outbox_changed(c, false);
	pb_client_take_waiters(c, &waiters);
	pthread_mutex_unlock(&c->cl_lock);
	close(c->cl_fd);
	c->cl_fd = -1;
	c->cl_left = true;
	pb_client_wake_waiters(&waiters);
	pb_account_leave(c->cl_id, c->cl_addr, why, dropped,
			 atomic_load(&c->cl_waiting),
			 pb_registry_slow_ms(c->cl_reg));
	pb_input_free(c);
	if (pb_park_bytes(&c->cl_park) > 0 && why != PB_LEAVE_SHUTDOWN)
		session_linger(c);
}

/* Writes what the outbox holds, as much as the socket takes now. */
static int session_flush(struct pb_client *c)
{
	struct pb_waiters waiters = {.wt_list = NULL};
	struct iovec iov[2];
	size_t frames = 0;
	ssize_t r = 0;
	int n;

	pthread_mutex_lock(&c->cl_lock);
	n = pb_outbox_peek(&c->cl_outbox, iov);
	if (n > 0)
		r = pb_net_sendv(c->cl_fd, iov, (size_t)n);
	if (r > 0) {
		frames = pb_outbox_written(&c->cl_outbox, (size_t)r);
		pb_client_outbox_changed(c, true);
		/* Wake waiters once there is room worth moving into. */
		if (pb_outbox_has_room_for_waiters(&c->cl_outbox))
			pb_client_take_waiters(c, &waiters);
	}
	pthread_mutex_unlock(&c->cl_lock);
	pb_client_wake_waiters(&waiters);
	pb_account_forwarded(frames, r > 0 ? (size_t)r : 0);
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	return 0;
}

static bool session_want_read(struct pb_client *c)
{
	return !c->cl_left && !pb_registry_stopping(c->cl_reg) &&
	       pb_input_wanted(c);
}

static int session_min_timeout(int a, uint64_t at_ms, uint64_t now_ms)
{
	int b = at_ms > now_ms ? (int)(at_ms - now_ms) : 0;

	return a < 0 || b < a ? b : a;
}

/* Fills pfd[0] (socket) for this round; returns the poll timeout. */
static int session_poll_setup(struct pb_client *c, struct pollfd *pfd,
			      bool *pending)
{
	struct pb_registry *reg = c->cl_reg;
	uint64_t now = pb_now_ms(), progress;
	bool reading = session_want_read(c);
	int timeout = -1;

	*pending = atomic_load_explicit(&c->cl_pending, memory_order_acquire);
	progress =
		atomic_load_explicit(&c->cl_progress_ms, memory_order_relaxed);

	pfd->events =
		(short)((reading ? POLLIN : 0) | (*pending ? POLLOUT : 0));
	/* A socket we ask nothing of is left out, or a hang-up would spin. */
	pfd->fd = pfd->events != 0 ? c->cl_fd : -1;
	pfd->revents = 0;
	if (*pending)
		timeout = session_min_timeout(
			timeout, progress + pb_registry_slow_ms(reg), now);
	if (c->cl_left)
		timeout = session_min_timeout(
			timeout, c->cl_moved_ms + pb_registry_slow_ms(reg),
			now);
	if (reading && c->cl_rbuf.rb_frame_ms != 0)
		timeout = session_min_timeout(
			timeout,
			pb_rbuf_deadline(&c->cl_rbuf,
					 pb_registry_frame_ms(reg)),
			now);
	if (!reading && !c->cl_left) {
		pb_rbuf_pause(&c->cl_rbuf, now); /* not its fault */
		if (!pb_rbuf_may_read(&c->cl_rbuf, &c->cl_park))
			timeout = session_min_timeout(
				timeout, now + PB_BUDGET_RETRY_MS, now);
	}
	if (c->cl_rbuf.rb_data != NULL && c->cl_rbuf.rb_len == 0)
		timeout = session_min_timeout(
			timeout, c->cl_read_ms + PB_RBUF_IDLE_MS, now);
	if (pb_registry_stopping(reg))
		timeout = session_min_timeout(
			timeout, atomic_load(&reg->rg_deadline_ms), now);
	return timeout;
}

/* True when, during shutdown, there is nothing left worth waiting for. */
static bool session_stop_done(struct pb_client *c, bool pending)
{
	struct pb_registry *reg = c->cl_reg;
	bool waited_on;

	if (pb_now_ms() >= atomic_load(&reg->rg_deadline_ms))
		return true;
	pthread_mutex_lock(&c->cl_lock);
	waited_on = c->cl_waiters.wt_n > 0;
	pthread_mutex_unlock(&c->cl_lock);
	return !pending && !waited_on && pb_park_bytes(&c->cl_park) == 0;
}

static bool session_is_slow(struct pb_client *c)
{
	uint64_t progress =
		atomic_load_explicit(&c->cl_progress_ms, memory_order_relaxed);

	return atomic_load_explicit(&c->cl_pending, memory_order_acquire) &&
	       pb_now_ms() - progress >= pb_registry_slow_ms(c->cl_reg);
}

/* One round of the thread's loop; false when the thread should end. */
static bool session_round(struct pb_client *c)
{
	struct pollfd pfd[1];
	enum pb_leave why;
	bool pending;
	int timeout;

	timeout = session_poll_setup(c, &pfd[0], &pending);
	if (pb_registry_stopping(c->cl_reg) && session_stop_done(c, pending)) {
		if (!c->cl_left)
			session_leave(c, PB_LEAVE_SHUTDOWN);
		return false;
	}
	if (c->cl_left &&
	    (pb_park_bytes(&c->cl_park) == 0 || session_linger_stuck(c)))
		return false;
	if (pb_wake_poll(&c->cl_wake, pfd, 1, timeout) < 0) {
		log_warn("client %u: poll", c->cl_id);
		if (!c->cl_left)
			session_leave(c, PB_LEAVE_RESET);
		return false;
	}
	if (pb_wake_consume(&c->cl_wake))
		session_retry(c);
	if (c->cl_left)
		return true;
	if (atomic_load_explicit(&c->cl_cut, memory_order_relaxed)) {
		session_leave(c, PB_LEAVE_NOMEM_OUT);
		return true;
	}
	if ((pfd[0].revents & (POLLOUT | POLLERR | POLLHUP)) && pending &&
	    session_flush(c) < 0) {
		session_leave(c, PB_LEAVE_RESET);
		return true;
	}
	if ((pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) &&
	    (pfd[0].events & POLLIN) && pb_input_read(c, &why) < 0) {
		session_leave(c, why);
		return true;
	}
	if (session_is_slow(c))
		session_leave(c, PB_LEAVE_SLOW);
	else if ((pfd[0].events & POLLIN) &&
		 pb_rbuf_late(&c->cl_rbuf, pb_registry_frame_ms(c->cl_reg),
			      pb_now_ms()))
		session_leave(c, PB_LEAVE_FRAME_TIMEOUT);
	else if (pb_rbuf_idle(&c->cl_rbuf, c->cl_read_ms, pb_now_ms()))
		pb_input_free(c); /* idle: its memory goes back */
	return true;
}

/* Sends the new client its id. A new socket's send buffer is empty, so the
 * 4 bytes go at once unless the peer is already gone. */
static int session_send_id(struct pb_client *c)
{
	char buf[PB_FRAME_HEADER];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};

	pb_frame_put_id(buf, c->cl_id);
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
	if (rc < 0)
		c->cl_closed = true;
	pthread_mutex_unlock(&c->cl_lock);
	if (rc < 0) {
		pb_account_refused(c->cl_addr, why);
		atomic_fetch_sub(&reg->rg_clients, 1);
		close(c->cl_fd);
		c->cl_fd = -1;
		return -1;
	}
	pb_account_connected(c->cl_id, c->cl_addr);
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
	pb_input_free(c);
	/* What still waits in the waiting room has nowhere to go. */
	pb_account_left(pb_deliver_drop_all(c));
	pb_deliver_release(c);
	if (c->cl_lingering)
		pb_registry_linger_end(reg);
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
