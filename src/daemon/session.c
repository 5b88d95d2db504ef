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

/* Fills pfd (the socket) for this round; returns the poll timeout.
 * *tls_in: a TLS client has plaintext already read from its socket,
 * which poll cannot see (read it anyway). */
static int session_poll_setup(struct pb_client *c, struct pollfd *pfd,
			      bool *pending, bool *tls_in)
{
	struct pb_registry *reg = c->cl_reg;
	struct pb_engine *en = &reg->rg_engine;
	struct pb_conn *cn = &c->cl_conn;
	bool left = pb_conn_left(cn);
	bool reading = !left && pb_engine_wants_input(en, cn);
	uint64_t now = pb_now_ms(), progress;
	int timeout = -1;
	bool tls_out = false;

	*pending = atomic_load_explicit(&cn->cn_pending, memory_order_acquire);
	progress =
		atomic_load_explicit(&cn->cn_progress_ms, memory_order_relaxed);
	*tls_in = false;
	if (c->cl_tls != NULL && !left) {
		/* Ciphertext its own reads left (a KeyUpdate's answer)
		 * waits for room too; a sender's leaves a byte in the
		 * outbox, so *pending says so (tls.h). */
		tls_out = pb_tls_wants_write(c->cl_tls);
		*tls_in = reading && pb_tls_pending(c->cl_tls);
	}

	pfd->events = (short)((reading ? POLLIN : 0) |
			      (*pending || tls_out ? POLLOUT : 0));
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
	if (*tls_in)
		timeout = 0;
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
		       bool pending, bool tls_in, enum pb_leave *why)
{
	struct pb_engine *en = &c->cl_reg->rg_engine;

	if ((pfd->revents & (POLLOUT | POLLERR | POLLHUP)) &&
	    c->cl_tls != NULL && pb_tls_flush(c->cl_tls) < 0) {
		*why = PB_LEAVE_RESET;
		return false;
	}
	if ((pfd->revents & (POLLOUT | POLLERR | POLLHUP)) && pending &&
	    pb_engine_flush(en, &c->cl_conn) < 0) {
		*why = PB_LEAVE_RESET;
		return false;
	}
	if (((pfd->revents & (POLLIN | POLLERR | POLLHUP)) || tls_in) &&
	    (pfd->events & POLLIN) &&
	    pb_engine_read(en, &c->cl_conn, why) == PB_READ_LEAVE)
		return false;
	return !pb_engine_timed_out(en, &c->cl_conn, pb_now_ms(), why);
}

/*
 * Whether TLS client c is still let in: when a reload put a new context in
 * force since c's was taken (or c last checked), c's certificate and
 * identity are checked against it (tls.h): true if they pass, or if
 * nothing changed; false with err saying why. Only c's own thread calls
 * this, so that only it ever closes c's socket.
 */
static bool session_tls_allowed(struct pb_client *c, char *err, size_t errlen)
{
	struct pb_registry *reg = c->cl_reg;
	unsigned gen = pb_registry_tls_gen(reg);
	struct pb_tls_ctx *ctx;
	int rc = 0;

	if (gen == c->cl_tls_gen)
		return true;
	c->cl_tls_gen = gen;
	ctx = pb_registry_tls(reg);
	if (ctx != NULL)
		rc = pb_tls_recheck(c->cl_tls, ctx, c->cl_ident, err, errlen);
	pb_tls_ctx_unref(ctx);
	return rc == 0;
}

/*
 * The thread's safe point for a hand-over (handover.h): between two rounds
 * nothing is half done (a read's whole frames are delivered or parked, and
 * only the start of one stays in the read buffer). While the daemon
 * freezes, the thread waits here, its client's state carried as it is. A
 * cut client leaves first, as it would have this round; a TLS client,
 * whose TLS state cannot be carried, leaves (close_notify) and is counted,
 * and waits with the rest while it lingers.
 */
static void session_safe_point(struct pb_client *c)
{
	struct pb_registry *reg = c->cl_reg;
	struct pb_engine *en = &reg->rg_engine;
	struct pb_conn *cn = &c->cl_conn;

	if (!pb_registry_freezing(reg))
		return;
	if (pb_conn_state(cn) == PB_CONN_CUT)
		pb_engine_leave(en, cn, PB_LEAVE_NOMEM_OUT);
	if (c->cl_tls != NULL && pb_conn_state(cn) == PB_CONN_OPEN)
		pb_engine_leave(en, cn, PB_LEAVE_RESTART);
	if (pb_conn_state(cn) != PB_CONN_DONE)
		pb_registry_frozen(reg);
}

/* One round of the thread's loop; false when the thread should end. */
static bool session_round(struct pb_client *c)
{
	struct pb_engine *en = &c->cl_reg->rg_engine;
	struct pb_conn *cn = &c->cl_conn;
	struct pollfd pfd[1];
	enum pb_leave why;
	bool pending, tls_in;
	int timeout;

	session_safe_point(c);
	if (pb_conn_state(cn) == PB_CONN_DONE)
		return false;
	timeout = session_poll_setup(c, &pfd[0], &pending, &tls_in);
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
	if (c->cl_tls != NULL) {
		char err[PB_CLIENT_IDENTLEN + 128];

		if (!session_tls_allowed(c, err, sizeof(err))) {
			/* close_notify, then closed, as any leave. */
			pb_account_tls_not_allowed(cn->cn_id, cn->cn_addr,
						   c->cl_ident, err);
			pb_engine_leave(en, cn, PB_LEAVE_TLS_NOT_ALLOWED);
			return true;
		}
	}
	if (!session_io(c, &pfd[0], pending, tls_in, &why))
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
	if (c->cl_tls != NULL)
		return pb_tls_send(c->cl_tls, buf, sizeof(buf));
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
	if (c->cl_tls != NULL)
		pb_account_connected_tls(c->cl_conn.cn_id, c->cl_conn.cn_addr,
					 c->cl_ident);
	else
		pb_account_connected(c->cl_conn.cn_id, c->cl_conn.cn_addr);
	return 0;
}

/* A connection that gets no id: out of the handshakes and the clients,
 * closed. */
static void session_refuse(struct pb_client *c)
{
	struct pb_registry *reg = c->cl_reg;

	pthread_mutex_lock(&c->cl_lock);
	pb_conn_set_state(&c->cl_conn, PB_CONN_DONE);
	pthread_mutex_unlock(&c->cl_lock);
	pb_registry_handshake_done(reg);
	pb_registry_client_gone(reg, c);
	close(c->cl_fd);
	c->cl_fd = -1;
}

/* The TLS handshake, until done or --tls-handshake-timeout (the server
 * stopping cuts it short): 0, or PB_STAT_REFUSED_TLS or _TLS_TIMEOUT
 * with err saying why. */
static enum pb_stat session_handshake(struct pb_client *c, char *err,
				      size_t errlen)
{
	struct pb_registry *reg = c->cl_reg;
	uint64_t deadline = pb_now_ms() + pb_registry_tls_handshake_ms(reg);

	for (;;) {
		enum pb_tls_step st = pb_tls_handshake(c->cl_tls, err, errlen);
		struct pollfd pfd;
		uint64_t now;

		if (st == PB_TLS_DONE)
			return PB_STAT_COUNT;
		if (st == PB_TLS_FAILED)
			return PB_STAT_REFUSED_TLS;
		now = pb_now_ms();
		if (pb_registry_freezing(reg)) {
			snprintf(err, errlen, "cut short by a hand-over");
			return PB_STAT_REFUSED_TLS_TIMEOUT;
		}
		if (now >= deadline || pb_registry_stopping(reg)) {
			snprintf(err, errlen, "unfinished after %.1f s",
				 pb_registry_tls_handshake_ms(reg) / 1000.0);
			return PB_STAT_REFUSED_TLS_TIMEOUT;
		}
		pfd.fd = c->cl_fd;
		pfd.events = st == PB_TLS_WANT_READ ? POLLIN : POLLOUT;
		pfd.revents = 0;
		if (pb_wake_poll(&c->cl_wake, &pfd, 1, (int)(deadline - now)) <
			    0 &&
		    errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return PB_STAT_REFUSED_TLS;
		}
		(void)pb_wake_consume(&c->cl_wake);
	}
}

/*
 * A TLS client, before its id: the handshake, its identity checked
 * against --tls-allow, and only then its id, so that a connection that
 * fails spends none. 0, or -1 when it was refused (counted, logged,
 * closed).
 */
static int session_tls_start(struct pb_client *c)
{
	struct pb_registry *reg = c->cl_reg;
	char err[PB_OPTIONS_PATHLEN + 128];
	enum pb_stat why = session_handshake(c, err, sizeof(err));

	if (why == PB_STAT_COUNT &&
	    pb_tls_identify(c->cl_tls, c->cl_ident, sizeof(c->cl_ident)) < 0) {
		snprintf(err, sizeof(err), "%s",
			 c->cl_ident[0] != '\0' ? c->cl_ident
						: "no certificate");
		why = PB_STAT_REFUSED_TLS_IDENTITY;
	}
	/* A reload during the handshake: its new context decides. */
	if (why == PB_STAT_COUNT && !session_tls_allowed(c, err, sizeof(err))) {
		snprintf(err, sizeof(err), "%s",
			 c->cl_ident[0] != '\0' ? c->cl_ident
						: "no certificate");
		why = PB_STAT_REFUSED_TLS_IDENTITY;
	}
	if (why == PB_STAT_COUNT &&
	    pb_registry_next_id(reg, &c->cl_conn.cn_id, err, sizeof(err)) < 0) {
		log_warnx("cannot save the id state: %s", err);
		pb_account_refused(c->cl_conn.cn_addr, PB_STAT_REFUSED_STATE);
		session_refuse(c);
		return -1;
	}
	if (why == PB_STAT_COUNT)
		return 0;
	pb_account_refused_tls(c->cl_conn.cn_addr, why, err);
	session_refuse(c);
	return -1;
}

/* Serves client c from its id to its end, and lets go of it. A plain
 * client waits for a hand-over before it gets its id (it is carried over
 * without it); one carried over already has it. */
static void session_serve(struct pb_client *c)
{
	struct pb_registry *reg = c->cl_reg;

	pb_wake_attach(&c->cl_wake);
	pb_registry_serve_begin(reg, c);
	if (c->cl_tls == NULL && !c->cl_restored && pb_registry_freezing(reg))
		pb_registry_frozen(reg);
	if (c->cl_restored ||
	    ((c->cl_tls == NULL || session_tls_start(c) == 0) &&
	     session_publish(c) == 0))
		while (session_round(c))
			;
	pb_registry_serve_end(reg, c);
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
	/* OpenSSL's state of this thread is freed at its exit, which may
	 * come after the daemon's: freed now, while it is counted. */
	pb_tls_thread_end();
	pb_registry_thread_exit(reg);
	return NULL;
}

int pb_session_start(struct pb_client *c, size_t stack)
{
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	pb_registry_starting(c->cl_reg, true);
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
		pb_registry_starting(c->cl_reg, false);
		errno = rc;
		return -1;
	}
	return 0;
}
