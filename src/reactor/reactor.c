/* SPDX-License-Identifier: ISC */
/*
 * reactor.c: patchbay-reactor, the single-threaded epoll server that the
 * daemon is benchmarked against.
 *
 * It is built on the same protocol core as patchbayd (frame parser, route
 * hand-off, outbox, waiting room, id table) and takes the same options, so
 * that the two differ only in how they do I/O: here one thread waits on
 * every socket with edge-triggered epoll instead of one thread per client.
 * Senders blocked on a full outbox are kept as waiters by id and, when the
 * outbox drains, put on a ready list that the loop serves after its events.
 * A connection that goes away is freed only at the end of a loop round, so
 * no pointer held during the round dangles. It is a benchmark reference,
 * built by make and not installed.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "account.h"
#include "budget.h"
#include "clock.h"
#include "conf.h"
#include "frame.h"
#include "leave.h"
#include "log.h"
#include "net.h"
#include "options.h"
#include "outbox.h"
#include "park.h"
#include "rbuf.h"
#include "route.h"
#include "stats.h"
#include "table.h"
#include "waiters.h"

#define RC_READS_PER_TURN 16  /* then others get a turn */
#define RC_TICK_MS	  100 /* slow consumer checks */
#define RC_GRACE_MS	  2000
#define RC_EVENTS	  256

struct rc_conn {
	uint32_t rc_id;
	int rc_fd;
	char rc_addr[PB_NET_ADDRLEN];
	bool rc_left;	   /* socket closed; lingers while rc_park holds */
	bool rc_dead;	   /* to be freed at the end of the round */
	bool rc_readable;  /* input may be waiting (edge seen, not drained) */
	bool rc_ready;	   /* on the ready list */
	bool rc_retry;	   /* parked frames to retry at the next tick */
	bool rc_cut;	   /* no memory to queue for it: must go */
	bool rc_lingering; /* left, holds a place to deliver rc_park */
	enum pb_leave rc_why; /* once left: why */
	uint64_t rc_moved_ms; /* lingering: rc_park last moved frames on */
	size_t rc_waiting;    /* frames for it in senders' waiting rooms */
	struct rc_conn *rc_next_ready;
	struct rc_conn *rc_next_dead;
	uint64_t rc_progress_ms;
	uint64_t rc_read_ms; /* last read: idle buffers go back */
	struct pb_outbox rc_outbox;
	struct pb_park rc_park;
	struct pb_waiters rc_waiters; /* ids of senders parked on rc_outbox */
	struct pb_rbuf rc_rbuf;
	struct pb_frame_parser rc_parser;
};

struct rc_server {
	const struct pb_options *sv_opts;
	int sv_epoll;
	int sv_listen; /* -1 once stopping */
	int sv_signal;
	struct pb_table sv_table; /* every conn, lingering ones too */
	unsigned long sv_connected;
	struct pb_budget sv_budget;	 /* and its shares, as in the daemon: */
	struct pb_budget sv_park_share;	 /* waiting rooms: a half */
	struct pb_budget sv_input_share; /* read buffers: a quarter */
	unsigned long sv_lingering;	 /* left, still delivering */
	struct pb_route sv_route;
	struct rc_conn *sv_ready;
	struct rc_conn *sv_dead;
	bool sv_stopping;
	uint64_t sv_deadline_ms;
};

static void rc_make_ready(struct rc_server *sv, struct rc_conn *c)
{
	if (c->rc_ready || c->rc_dead)
		return;
	c->rc_ready = true;
	c->rc_next_ready = sv->sv_ready;
	sv->sv_ready = c;
}

/* Puts the senders parked on c's outbox on the ready list. */
static void rc_wake_waiters(struct rc_server *sv, struct rc_conn *c)
{
	struct pb_waiters w;
	size_t i;

	pb_waiters_take(&c->rc_waiters, &w);
	for (i = 0; i < w.wt_n; i++) {
		struct rc_conn *s =
			pb_table_get(&sv->sv_table, (uint32_t)w.wt_list[i]);

		if (s != NULL)
			rc_make_ready(sv, s);
	}
	pb_waiters_free(&w);
}

/*
 * Does what a hand-off or retry asks of sender s about d. Where the daemon
 * retries at once when nothing can drain d's outbox (no memory), the
 * reactor retries at the next tick: its one thread would spin otherwise.
 */
static void rc_wait(struct rc_conn *d, struct rc_conn *s, enum pb_park_wait w)
{
	if (w == PB_PARK_WAIT &&
	    pb_waiters_add(&d->rc_waiters, (uintptr_t)s->rc_id) < 0)
		w = PB_PARK_RETRY; /* cannot be woken: retry on our own */
	if (w == PB_PARK_RETRY)
		s->rc_retry = true;
}

static void rc_bury(struct rc_server *sv, struct rc_conn *c)
{
	if (c->rc_dead)
		return;
	c->rc_dead = true;
	c->rc_next_dead = sv->sv_dead;
	sv->sv_dead = c;
}

/* Drops everything in c's waiting room, and the counts of frames waiting
 * kept by its destinations; returns how many frames. */
static size_t rc_drop_all(struct rc_server *sv, struct rc_conn *c)
{
	struct pb_park *pk = &c->rc_park;
	size_t frames = 0;

	while (pk->pk_nlanes > 0) {
		size_t i = pk->pk_nlanes - 1, n;
		struct rc_conn *d =
			pb_table_get(&sv->sv_table, pk->pk_lanes[i].pl_dest);

		n = pb_park_drop(pk, i);
		if (d != NULL)
			d->rc_waiting -= n;
		frames += n;
	}
	return frames;
}

/* A connection that left with frames waiting lingers to deliver them if
 * fewer than --max-clients do, as the daemon's threads do. */
static void rc_linger(struct rc_server *sv, struct rc_conn *c)
{
	if (sv->sv_lingering < sv->sv_opts->op_max_clients) {
		sv->sv_lingering++;
		c->rc_lingering = true;
		c->rc_moved_ms = pb_now_ms();
		return;
	}
	pb_account_sender_gave_up(c->rc_id, rc_drop_all(sv, c), 0);
}

static void rc_leave(struct rc_server *sv, struct rc_conn *c, enum pb_leave why)
{
	size_t dropped = pb_outbox_count_frames(&c->rc_outbox);

	if (c->rc_left)
		return;
	if (c->rc_cut)
		why = PB_LEAVE_NOMEM_OUT;
	c->rc_left = true;
	c->rc_why = why;
	sv->sv_connected--;
	close(c->rc_fd); /* also takes it out of the epoll set */
	pb_outbox_free(&c->rc_outbox);
	pb_rbuf_free(&c->rc_rbuf);
	rc_wake_waiters(sv, c);
	pb_account_leave(c->rc_id, c->rc_addr, why, dropped, c->rc_waiting,
			 sv->sv_opts->op_slow_ms);
	if (pb_park_bytes(&c->rc_park) > 0 && why != PB_LEAVE_SHUTDOWN)
		rc_linger(sv, c);
	if (pb_park_bytes(&c->rc_park) == 0 || why == PB_LEAVE_SHUTDOWN)
		rc_bury(sv, c);
}

/* Writes c's outbox until it is empty or the socket is full. */
static void rc_flush(struct rc_server *sv, struct rc_conn *c)
{
	struct iovec iov[2];
	int n;

	while (!c->rc_left && (n = pb_outbox_peek(&c->rc_outbox, iov)) > 0) {
		ssize_t r = pb_net_sendv(c->rc_fd, iov, (size_t)n);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				rc_leave(sv, c, PB_LEAVE_RESET);
			break;
		}
		pb_account_forwarded(
			pb_outbox_written(&c->rc_outbox, (size_t)r), (size_t)r);
		c->rc_progress_ms = pb_now_ms();
	}
	if (c->rc_waiters.wt_n > 0 &&
	    pb_outbox_has_room_for_waiters(&c->rc_outbox))
		rc_wake_waiters(sv, c);
}

static ssize_t rc_write(void *ctx, const struct iovec *iov, size_t n)
{
	const struct rc_conn *d = ctx;

	return pb_net_sendv(d->rc_fd, iov, n);
}

struct rc_sender {
	struct rc_server *rs_sv;
	struct rc_conn *rs_conn;
};

/* Cuts d's stream: a frame for it found no memory (see the daemon's
 * deliver_cut). It leaves when its socket reports the shutdown. */
static void rc_cut(struct rc_conn *d)
{
	if (d == NULL || d->rc_left)
		return;
	d->rc_cut = true;
	shutdown(d->rc_fd, SHUT_RDWR);
}

/* Delivers frames iov[0 .. n) for dest, in order (a pb_route_fn). */
static void rc_deliver(void *arg, uint32_t dest, const struct iovec *iov,
		       size_t n)
{
	struct rc_sender *rs = arg;
	struct rc_conn *s = rs->rs_conn, *d;
	struct pb_route_result r;

	if (pb_park_find(&s->rc_park, dest) >= 0) {
		r = pb_route_behind(&s->rc_park, dest, iov, n);
		d = pb_table_get(&rs->rs_sv->sv_table, dest);
		if (d != NULL)
			d->rc_waiting += r.rr_parked;
		if (r.rr_cut)
			rc_cut(d);
		pb_account_delivered(s->rc_id, dest, &r);
		return;
	}
	d = pb_table_get(&rs->rs_sv->sv_table, dest);
	if (d == NULL || d->rc_left) {
		pb_account_unknown(s->rc_id, dest, n);
		return;
	}
	r = pb_route_deliver(&d->rc_outbox, &s->rc_park, dest, iov, n, rc_write,
			     d);
	d->rc_waiting += r.rr_parked;
	pb_account_delivered(s->rc_id, dest, &r);
	if (r.rr_cut)
		rc_cut(d);
	else
		rc_wait(d, s, r.rr_wait);
	/* The socket took less than offered: an EPOLLOUT edge will follow. */
	if (r.rr_started)
		d->rc_progress_ms = pb_now_ms();
}

/* Moves s's parked frames into outboxes with room again. */
static void rc_retry(struct rc_server *sv, struct rc_conn *s)
{
	struct pb_park *pk = &s->rc_park;
	size_t i = pk->pk_nlanes, before = pb_park_bytes(pk);

	while (i-- > 0) {
		uint32_t dest = pk->pk_lanes[i].pl_dest;
		struct rc_conn *d = pb_table_get(&sv->sv_table, dest);
		struct pb_park_retry r;

		if (d == NULL || d->rc_left) {
			pb_account_dest_left(pb_park_drop(pk, i),
					     d != NULL ? d->rc_why
						       : PB_LEAVE_CLOSED);
			continue;
		}
		r = pb_park_retry(pk, i, &d->rc_outbox);
		d->rc_waiting -= r.pr_moved;
		rc_wait(d, s, r.pr_wait);
		if (r.pr_started) {
			d->rc_progress_ms = pb_now_ms();
			rc_flush(sv, d); /* no edge may be coming */
		}
	}
	if (pb_park_bytes(pk) < before)
		s->rc_moved_ms = pb_now_ms();
	if (s->rc_left && pb_park_bytes(pk) == 0)
		rc_bury(sv, s);
}

/* Reads and routes until the socket is drained, the waiting room could
 * not take more, or this connection had its turn. */
static void rc_read(struct rc_server *sv, struct rc_conn *c)
{
	struct rc_sender rs = {.rs_sv = sv, .rs_conn = c};
	struct pb_rbuf *rb = &c->rc_rbuf;
	bool grow = false;
	int rc, turn;

	for (turn = 0; turn < RC_READS_PER_TURN; turn++) {
		size_t want = pb_rbuf_allowance(rb, &c->rc_park);
		ssize_t n;

		if (want == 0 || sv->sv_stopping ||
		    !pb_rbuf_may_read(rb, &c->rc_park))
			return; /* rc_readable stays: resumed when possible */
		if (pb_rbuf_reserve(rb, grow) < 0) {
			log_warn("client %u: no memory for its input",
				 c->rc_id);
			rc_leave(sv, c, PB_LEAVE_NOMEM);
			return;
		}
		if (want > rb->rb_cap - rb->rb_len)
			want = rb->rb_cap - rb->rb_len;
		n = recv(c->rc_fd, rb->rb_data + rb->rb_len, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->rc_readable = false;
			return;
		}
		if (n <= 0) {
			rc_leave(sv, c,
				 n == 0 ? PB_LEAVE_CLOSED : PB_LEAVE_RESET);
			return;
		}
		rb->rb_len += (size_t)n;
		c->rc_read_ms = pb_now_ms();
		rc = pb_route_input(&sv->sv_route, &c->rc_parser, rb->rb_data,
				    &rb->rb_len, rc_deliver, &rs);
		pb_account_received(sv->sv_route.rt_frames);
		if (rc < 0) {
			pb_account_protocol_error(c->rc_id,
						  sv->sv_opts->op_max_frame);
			rc_leave(sv, c, PB_LEAVE_PROTOCOL);
			return;
		}
		pb_rbuf_note_read(rb, sv->sv_route.rt_frames, c->rc_read_ms);
		grow = (size_t)n == want; /* filled: more is likely waiting */
	}
	rc_make_ready(sv, c); /* more may wait: after the others */
}

static void rc_accept_one(struct rc_server *sv, int fd, const char *peer)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
					   EPOLLET};
	char idbuf[PB_FRAME_HEADER];
	struct iovec iov = {.iov_base = idbuf, .iov_len = sizeof(idbuf)};
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
	c->rc_fd = fd;
	snprintf(c->rc_addr, sizeof(c->rc_addr), "%s", peer);
	c->rc_id = pb_table_next_id(&sv->sv_table);
	pb_outbox_init(&c->rc_outbox, sv->sv_opts->op_outbox, &sv->sv_budget);
	pb_park_init(&c->rc_park, sv->sv_opts->op_park, &sv->sv_park_share);
	pb_waiters_init(&c->rc_waiters);
	pb_rbuf_init(&c->rc_rbuf, sv->sv_opts->op_max_frame,
		     &sv->sv_input_share);
	pb_frame_parser_init(&c->rc_parser, sv->sv_opts->op_max_frame);
	pb_frame_put_id(idbuf, c->rc_id);
	ev.data.ptr = c;
	/* In the table before it has its id, as in the daemon. */
	why = PB_STAT_REFUSED_NOMEM;
	if (pb_table_insert(&sv->sv_table, c->rc_id, c) == 0) {
		if (epoll_ctl(sv->sv_epoll, EPOLL_CTL_ADD, fd, &ev) == 0 &&
		    pb_net_sendv(fd, &iov, 1) == (ssize_t)sizeof(idbuf))
			why = PB_STAT_COUNT; /* served */
		else if (errno != ENOMEM && errno != ENOSPC)
			why = PB_STAT_REFUSED_GONE;
		if (why != PB_STAT_COUNT)
			pb_table_remove(&sv->sv_table, c->rc_id);
	}
	if (why != PB_STAT_COUNT) {
		pb_account_refused(peer, why);
		close(fd); /* also takes it out of the epoll set */
		free(c);
		return;
	}
	sv->sv_connected++;
	pb_account_connected(c->rc_id, peer);
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
	if (c->rc_left)
		return;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		rc_flush(sv, c);
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
		c->rc_readable = true;
		if (!c->rc_left)
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
		if (pb_park_bytes(&c->rc_park) > 0)
			rc_retry(sv, c);
		if (!c->rc_left && c->rc_readable)
			rc_read(sv, c);
	}
}

static void rc_tick_one(void *value, void *arg)
{
	struct rc_server *sv = arg;
	struct rc_conn *c = value;
	uint64_t now = pb_now_ms();

	if (c->rc_retry) {
		c->rc_retry = false;
		rc_make_ready(sv, c); /* parked frames to retry */
	}
	if (c->rc_left) {
		if (c->rc_lingering && !c->rc_dead &&
		    now - c->rc_moved_ms >= sv->sv_opts->op_slow_ms) {
			pb_account_sender_gave_up(c->rc_id, rc_drop_all(sv, c),
						  sv->sv_opts->op_slow_ms);
			rc_bury(sv, c);
		}
		return;
	}
	if (c->rc_readable)
		pb_rbuf_pause(&c->rc_rbuf, now); /* not read: not its fault */
	if (!pb_outbox_empty(&c->rc_outbox) &&
	    now - c->rc_progress_ms >= sv->sv_opts->op_slow_ms)
		rc_leave(sv, c, PB_LEAVE_SLOW); /* leaves the table as it is */
	else if (pb_rbuf_late(&c->rc_rbuf, sv->sv_opts->op_frame_ms, now))
		rc_leave(sv, c, PB_LEAVE_FRAME_TIMEOUT);
	else if (c->rc_readable)
		rc_make_ready(sv, c); /* input stalled by the budget */
	else if (pb_rbuf_idle(&c->rc_rbuf, c->rc_read_ms, now))
		pb_rbuf_free(&c->rc_rbuf); /* idle: its memory goes back */
}

/* Every tick: slow consumers go, input stalled by the budget resumes,
 * idle buffers go back. */
static void rc_tick(struct rc_server *sv)
{
	pb_table_foreach(&sv->sv_table, rc_tick_one, sv);
}

static void rc_free_dead(struct rc_server *sv)
{
	while (sv->sv_dead != NULL) {
		struct rc_conn *c = sv->sv_dead;

		sv->sv_dead = c->rc_next_dead;
		pb_table_remove(&sv->sv_table, c->rc_id);
		pb_account_left(rc_drop_all(sv, c));
		if (c->rc_lingering)
			sv->sv_lingering--;
		pb_park_free(&c->rc_park);
		pb_waiters_free(&c->rc_waiters);
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

	if (!c->rc_left && pb_outbox_empty(&c->rc_outbox) &&
	    pb_park_bytes(&c->rc_park) == 0 && c->rc_waiters.wt_n == 0)
		rc_leave(arg, c, PB_LEAVE_SHUTDOWN);
}

static void rc_stop(struct rc_server *sv)
{
	log_notice("%lu clients connected, flushing for up to %d ms",
		   sv->sv_connected, RC_GRACE_MS);
	sv->sv_stopping = true;
	sv->sv_deadline_ms = pb_now_ms() + RC_GRACE_MS;
	close(sv->sv_listen);
	sv->sv_listen = -1;
}

static void rc_loop(struct rc_server *sv)
{
	struct epoll_event ev[RC_EVENTS];
	uint64_t next_tick = pb_now_ms() + RC_TICK_MS;
	while (!sv->sv_stopping || !rc_flushed(sv)) {
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
		if (sv->sv_stopping)
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

int main(int argc, char **argv)
{
	char err[256], addr[PB_NET_ADDRLEN];
	struct rc_server *sv;
	struct pb_options op;
	struct rlimit rl;
	int lfd;

	pb_options_defaults(&op);
	switch (pb_conf_read(&op, PB_SERVER_REACTOR, argc, argv, NULL, err,
			     sizeof(err))) {
	case PB_OPTIONS_EXIT:
		return 0;
	case PB_OPTIONS_USAGE:
		fprintf(stderr, "patchbay-reactor: %s\n", err);
		return 2;
	case PB_OPTIONS_RUN:
		break;
	}
	if (op.op_check_config) {
		pb_options_write(&op, PB_SERVER_REACTOR, stdout);
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
