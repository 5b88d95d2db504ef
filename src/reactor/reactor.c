/* SPDX-License-Identifier: ISC */
/*
 * reactor.c: patchbay-reactor, the single-threaded epoll server that the
 * daemon is benchmarked against.
 *
 * It runs the same delivery engine as patchbayd (engine.h) on the same
 * core, takes the same options, and logs and counts the same way; what is
 * its own is how it does I/O: one thread waits on every socket with
 * edge-triggered epoll instead of one thread per client. Its operations
 * for the engine say where that makes it behave differently: no locks;
 * destinations found in its table by id; senders waiting for a full outbox
 * kept as waiters by id and, when the outbox drains, put on a ready list
 * that the loop serves after its events; a sender with frames no drain
 * will wake it for retries at its next tick, not at once; frames moved
 * into an empty outbox are flushed at once, since no event will come; 16
 * reads a turn, then the other ready clients. A connection that is done is
 * freed only at the end of a loop round, so no pointer held during the
 * round dangles. It is a benchmark reference, built by make and not
 * installed.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "account.h"
#include "budget.h"
#include "clock.h"
#include "conf.h"
#include "engine.h"
#include "frame.h"
#include "log.h"
#include "net.h"
#include "options.h"
#include "stats.h"
#include "table.h"

/* Reads a turn: then the other ready clients get theirs (engine.h). */
#define RC_READS_PER_TURN 16
#define RC_TICK_MS	  100 /* timeouts, retries, stalled input */
#define RC_GRACE_MS	  2000
#define RC_EVENTS	  256

struct rc_server;

struct rc_conn {
	struct pb_conn rc_cn; /* its id, address, queues and state */
	struct rc_server *rc_sv;
	int rc_fd;
	bool rc_readable; /* input may be waiting (edge seen, not drained) */
	bool rc_ready;	  /* on the ready list */
	bool rc_retry;	  /* parked frames to retry at the next tick */
	struct rc_conn *rc_next_ready;
	struct rc_conn *rc_next_dead;
};

struct rc_server {
	const struct pb_options *sv_opts;
	struct pb_engine sv_engine;
	int sv_epoll;
	int sv_listen; /* -1 once stopping */
	int sv_signal;
	struct pb_table sv_table; /* every conn until it is freed */
	unsigned long sv_connected;
	struct pb_budget sv_budget;	 /* and its shares, as in the daemon: */
	struct pb_budget sv_park_share;	 /* waiting rooms: a half */
	struct pb_budget sv_input_share; /* read buffers: a quarter */
	unsigned long sv_lingering;	 /* left, still delivering */
	struct pb_route sv_route;	 /* shared: one thread routes */
	struct rc_conn *sv_ready;
	struct rc_conn *sv_dead;
	uint64_t sv_deadline_ms;
};

static struct rc_conn *rc_of(struct pb_conn *c)
{
	return (struct rc_conn *)(void *)((char *)c -
					  offsetof(struct rc_conn, rc_cn));
}

static void rc_make_ready(struct rc_conn *c)
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
static void rc_flush(struct pb_conn *c)
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

static const struct pb_engine_ops rc_ops = {
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
	close(sv->sv_listen);
	sv->sv_listen = -1;
}

static void rc_loop(struct rc_server *sv)
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

static int rc_setup(struct rc_server *sv, const struct pb_options *op, int lfd)
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
	pb_budget_init(&sv->sv_budget, op->op_max_memory);
	pb_budget_init_share(&sv->sv_park_share, &sv->sv_budget, 2);
	pb_budget_init_share(&sv->sv_input_share, &sv->sv_budget, 4);
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

/* The options only the daemon has: one thread, in the foreground, no
 * metrics. */
static int reactor_refuse(const struct pb_options *op)
{
	static const char *const daemon_only[] = {
		"daemon", "pidfile", "stack-size", "metrics", "spare-threads"};
	size_t i;

	for (i = 0; i < sizeof(daemon_only) / sizeof(daemon_only[0]); i++) {
		if (!pb_options_given(op, daemon_only[i]))
			continue;
		fprintf(stderr,
			"patchbay-reactor: --%s: not supported by the reactor "
			"(patchbayd only)\n",
			daemon_only[i]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char err[256], addr[PB_NET_ADDRLEN];
	struct rc_server *sv;
	struct pb_options op;
	struct rlimit rl;
	int lfd;

	pb_options_defaults(&op);
	switch (pb_conf_read(&op, argc, argv, NULL, err, sizeof(err))) {
	case PB_OPTIONS_EXIT:
		return 0;
	case PB_OPTIONS_USAGE:
		fprintf(stderr, "patchbay-reactor: %s\n", err);
		return 2;
	case PB_OPTIONS_RUN:
		break;
	}
	if (reactor_refuse(&op) < 0)
		return 2;
	if (op.op_check_config) {
		pb_options_write(&op, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	log_init(op.op_verbosity);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (pb_net_listen(op.op_listen, &lfd, err, sizeof(err)) < 0) {
		fprintf(stderr, "patchbay-reactor: %s\n", err);
		return 1;
	}
	pb_net_local(lfd, addr);
	log_notice("listening on %s", addr);
	sv = malloc(sizeof(*sv)); /* the route scratch is large */
	if (sv == NULL || rc_setup(sv, &op, lfd) < 0)
		fatal("cannot set up the event loop");
	rc_loop(sv);
	pb_stats_log();
	pb_table_free(&sv->sv_table);
	close(sv->sv_epoll);
	close(sv->sv_signal);
	free(sv);
	return 0;
}
