/* SPDX-License-Identifier: ISC */
/*
 * reactor.c: patchbay-reactor, the single-threaded epoll server that the
 * daemon is benchmarked against.
 *
 * It runs the same delivery engine as patchbayd (engine.h) on the same
 * core, takes those of patchbayd's options that make sense for one thread
 * in the foreground (options.c says which), and logs and counts the same
 * way; what is its own is how it does I/O: one thread waits on every
 * socket with edge-triggered epoll instead of one thread per client. Its
 * operations for the engine (ops.c) say where that makes it behave
 * differently: no locks; destinations found in its table by id; senders
 * waiting for a full outbox kept as waiters by id and, when the outbox
 * drains, put on a ready list that the loop serves after its events; a
 * sender with frames no drain will wake it for retries at its next tick,
 * not at once; frames moved into an empty outbox are flushed at once,
 * since no event will come; reads go on until EAGAIN, 16 a turn, then the
 * other ready clients have theirs. A connection that is done is freed only
 * at the end of a loop round, so no pointer held during the round
 * dangles. It is a benchmark reference, built by make and not installed.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "account.h"
#include "clock.h"
#include "frame.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "reactor.h"

/* Reads and delivers until the socket is drained, the waiting room or
 * memory cannot take more, or this connection had its turn. */
static void rc_read(struct rc_server *sv, struct rc_conn *c)
{
	enum pb_leave why;

	switch (pb_engine_read(&sv->sv_engine, &c->rc_cn, &why)) {
	case PB_READ_DRAINED:
		c->rc_readable = false;
		break;
	case PB_READ_HELD:
		break; /* rc_readable stays: resumed when possible */
	case PB_READ_MORE:
		rc_make_ready(c); /* after the others */
		break;
	case PB_READ_LEAVE:
		pb_engine_leave(&sv->sv_engine, &c->rc_cn, why);
		break;
	}
}

/* Sends the new client its id; it is OPEN once that went whole. */
static enum pb_stat rc_send_id(struct rc_server *sv, struct rc_conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
					   EPOLLET,
				 .data.ptr = c};
	char idbuf[PB_FRAME_HEADER];
	struct iovec iov = {.iov_base = idbuf, .iov_len = sizeof(idbuf)};

	pb_frame_put_id(idbuf, c->rc_cn.cn_id);
	/* In the table before it has its id, as in the daemon. */
	if (pb_table_insert(&sv->sv_table, c->rc_cn.cn_id, c) < 0)
		return PB_STAT_REFUSED_NOMEM;
	if (epoll_ctl(sv->sv_epoll, EPOLL_CTL_ADD, c->rc_fd, &ev) == 0 &&
	    pb_net_sendv(c->rc_fd, &iov, 1) == (ssize_t)sizeof(idbuf)) {
		pb_conn_set_state(&c->rc_cn, PB_CONN_OPEN);
		return PB_STAT_COUNT; /* served */
	}
	pb_table_remove(&sv->sv_table, c->rc_cn.cn_id);
	return errno == ENOMEM || errno == ENOSPC ? PB_STAT_REFUSED_NOMEM
						  : PB_STAT_REFUSED_GONE;
}

static void rc_accept_one(struct rc_server *sv, int fd, const char *peer)
{
	struct pb_conn_env env = {
		.ce_max_frame = sv->sv_opts->op_max_frame,
		.ce_outbox = sv->sv_opts->op_outbox,
		.ce_park = sv->sv_opts->op_park,
		.ce_budget = &sv->sv_budget,
		.ce_park_budget = &sv->sv_park_share,
		.ce_input_budget = &sv->sv_input_share,
	};
	enum pb_stat why;
	struct rc_conn *c;

	if (pb_account_refuse_full(sv->sv_connected,
				   sv->sv_opts->op_max_clients, peer)) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		pb_account_refused(peer, PB_STAT_REFUSED_NOMEM);
		close(fd);
		return;
	}
	pb_conn_init(&c->rc_cn, &env, pb_table_next_id(&sv->sv_table), peer);
	c->rc_sv = sv;
	c->rc_fd = fd;
	why = rc_send_id(sv, c);
	if (why != PB_STAT_COUNT) {
		pb_account_refused(peer, why);
		close(fd); /* also takes it out of the epoll set */
		pb_conn_free(&c->rc_cn);
		free(c);
		return;
	}
	sv->sv_connected++;
	pb_account_connected(c->rc_cn.cn_id, peer);
}

static void rc_accept(struct rc_server *sv)
{
	char peer[PB_NET_ADDRLEN];

	while (sv->sv_listen >= 0) {
		int fd = pb_net_accept(sv->sv_listen, peer);
		if (fd >= 0) {
			rc_accept_one(sv, fd, peer);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("accept"); /* EMFILE: retried next tick */
		return;
	}
}

static void rc_conn_event(struct rc_server *sv, struct rc_conn *c,
			  uint32_t events)
{
	if (!pb_conn_open(&c->rc_cn))
		return;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		rc_flush(&c->rc_cn);
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
		c->rc_readable = true;
		if (pb_conn_open(&c->rc_cn))
			rc_read(sv, c);
	}
}

/* Serves the ready list: parked frames to retry, input to resume. */
static void rc_serve_ready(struct rc_server *sv)
{
	while (sv->sv_ready != NULL) {
		struct rc_conn *c = sv->sv_ready;

		sv->sv_ready = c->rc_next_ready;
		c->rc_ready = false;
		if (pb_park_bytes(&c->rc_cn.cn_park) > 0)
			pb_engine_retry(&sv->sv_engine, &c->rc_cn);
		if (pb_conn_open(&c->rc_cn) && c->rc_readable)
			rc_read(sv, c);
	}
}

static void rc_tick_one(void *value, void *arg)
{
	struct rc_server *sv = arg;
	struct rc_conn *c = value;
	uint64_t now = pb_now_ms();
	enum pb_leave why;

	if (c->rc_retry) {
		c->rc_retry = false;
		rc_make_ready(c); /* parked frames to retry */
	}
	if (pb_conn_state(&c->rc_cn) == PB_CONN_LINGERING)
		(void)pb_engine_linger_stuck(&sv->sv_engine, &c->rc_cn, now);
	if (!pb_conn_open(&c->rc_cn))
		return;
	if (c->rc_readable)
		pb_rbuf_pause(&c->rc_cn.cn_rbuf, now); /* not its fault */
	if (pb_engine_timed_out(&sv->sv_engine, &c->rc_cn, now, &why))
		pb_engine_leave(&sv->sv_engine, &c->rc_cn, why);
	else if (c->rc_readable)
		rc_make_ready(c); /* input stalled by the budget */
}

/* Every tick: timeouts, retries, and input stalled by the budget. */
static void rc_tick(struct rc_server *sv)
{
	pb_table_foreach(&sv->sv_table, rc_tick_one, sv);
}

static void rc_free_dead(struct rc_server *sv)
{
	while (sv->sv_dead != NULL) {
		struct rc_conn *c = sv->sv_dead;

		sv->sv_dead = c->rc_next_dead;
		pb_table_remove(&sv->sv_table, c->rc_cn.cn_id);
		pb_engine_release(&sv->sv_engine, &c->rc_cn);
		pb_conn_free(&c->rc_cn);
		free(c);
	}
}

/* True once, while stopping, nothing is left to flush. */
static bool rc_flushed(struct rc_server *sv)
{
	return sv->sv_connected == 0 || pb_now_ms() >= sv->sv_deadline_ms;
}

static void rc_stop_one(void *value, void *arg)
{
	struct rc_conn *c = value;
	struct rc_server *sv = arg;

	if (pb_conn_open(&c->rc_cn) &&
	    pb_engine_drained(&sv->sv_engine, &c->rc_cn))
		pb_engine_leave(&sv->sv_engine, &c->rc_cn, PB_LEAVE_SHUTDOWN);
}

static void rc_stop(struct rc_server *sv)
{
	log_notice("%lu clients connected, flushing for up to %d ms",
		   sv->sv_connected, RC_GRACE_MS);
	atomic_store(&sv->sv_engine.en_stopping, true);
	sv->sv_deadline_ms = pb_now_ms() + RC_GRACE_MS;
	pb_listener_close(sv->sv_listen, true);
	sv->sv_listen = -1;
}

void rc_loop(struct rc_server *sv)
{
	struct epoll_event ev[RC_EVENTS];
	uint64_t next_tick = pb_now_ms() + RC_TICK_MS;
	while (!pb_engine_stopping(&sv->sv_engine) || !rc_flushed(sv)) {
		uint64_t now = pb_now_ms();
		int timeout = next_tick > now ? (int)(next_tick - now) : 0;
		int i, n;

		n = epoll_wait(sv->sv_epoll, ev, RC_EVENTS,
			       sv->sv_ready != NULL ? 0 : timeout);
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &sv->sv_listen)
				rc_accept(sv);
			else if (ev[i].data.ptr == &sv->sv_signal)
				rc_stop(sv);
			else
				rc_conn_event(sv, ev[i].data.ptr, ev[i].events);
		}
		rc_serve_ready(sv);
		if (pb_now_ms() >= next_tick) {
			rc_tick(sv);
			rc_accept(sv); /* after EMFILE, no new edge comes */
			rc_serve_ready(sv);
			next_tick = pb_now_ms() + RC_TICK_MS;
		}
		if (pb_engine_stopping(&sv->sv_engine))
			pb_table_foreach(&sv->sv_table, rc_stop_one, sv);
		rc_free_dead(sv);
	}
}

int rc_setup(struct rc_server *sv, const struct pb_options *op, int lfd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t set;

	memset(sv, 0, sizeof(*sv));
	sv->sv_opts = op;
	sv->sv_listen = lfd;
	/* Edge-triggered: read until EAGAIN; one thread, one scratch. */
	pb_engine_init(&sv->sv_engine, &rc_ops, &pb_account_tally,
		       RC_READS_PER_TURN, true, &sv->sv_route);
	atomic_store(&sv->sv_engine.en_slow_ms, op->op_slow_ms);
	atomic_store(&sv->sv_engine.en_frame_ms, op->op_frame_ms);
	pb_table_init(&sv->sv_table);
	pb_budget_init_clients(&sv->sv_budget, &sv->sv_park_share,
			       &sv->sv_input_share, op->op_max_memory);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sv->sv_signal = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	sv->sv_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (sv->sv_signal < 0 || sv->sv_epoll < 0)
		return -1;
	ev.data.ptr = &sv->sv_listen;
	if (epoll_ctl(sv->sv_epoll, EPOLL_CTL_ADD, lfd, &ev) < 0)
		return -1;
	ev.data.ptr = &sv->sv_signal;
	return epoll_ctl(sv->sv_epoll, EPOLL_CTL_ADD, sv->sv_signal, &ev);
}
