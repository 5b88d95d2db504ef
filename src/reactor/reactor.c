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

#include "budget.h"
#include "clock.h"
#include "frame.h"
#include "log.h"
#include "net.h"
#include "options.h"
#include "outbox.h"
#include "park.h"
#include "route.h"
#include "stats.h"
#include "table.h"

#define RC_READ_SIZE	  (64 * 1024)
#define RC_READS_PER_TURN 16  /* then others get a turn */
#define RC_TICK_MS	  100 /* slow consumer checks */
#define RC_GRACE_MS	  2000
#define RC_EVENTS	  256
#define RC_IDLE_MS	  1000 /* buffers of a client idle this long go back */

struct rc_conn {
	uint32_t rc_id;
	int rc_fd;
	char rc_addr[PB_NET_ADDRLEN];
	bool rc_left;	  /* socket closed; lingers while rc_park holds */
	bool rc_dead;	  /* to be freed at the end of the round */
	bool rc_readable; /* input may be waiting (edge seen, not drained) */
	bool rc_ready;	  /* on the ready list */
	struct rc_conn *rc_next_ready;
	struct rc_conn *rc_next_dead;
	uint64_t rc_progress_ms;
	uint64_t rc_read_ms; /* last read: idle buffers go back */
	struct pb_outbox rc_outbox;
	struct pb_park rc_park;
	uint32_t *rc_waiters; /* ids of senders parked on rc_outbox */
	size_t rc_nwaiters;
	size_t rc_waiters_alloc;
	char *rc_rbuf;
	size_t rc_rlen;
	size_t rc_rcap;
	struct pb_frame_parser rc_parser;
};

struct rc_server {
	const struct pb_options *sv_opts;
	int sv_epoll;
	int sv_listen; /* -1 once stopping */
	int sv_signal;
	struct pb_table sv_table; /* every conn, lingering ones too */
	unsigned long sv_connected;
	struct pb_budget sv_budget;
	struct pb_route sv_route;
	struct rc_conn *sv_ready;
	struct rc_conn *sv_dead;
	bool sv_stopping;
	uint64_t sv_deadline_ms;
};

enum rc_leave { RC_CLOSED, RC_RESET, RC_PROTOCOL, RC_SLOW, RC_SHUTDOWN };

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
	size_t i;

	for (i = 0; i < c->rc_nwaiters; i++) {
		struct rc_conn *w =
			pb_table_get(&sv->sv_table, c->rc_waiters[i]);

		if (w != NULL)
			rc_make_ready(sv, w);
	}
	c->rc_nwaiters = 0;
}

static void rc_wait_on(struct rc_conn *d, struct rc_conn *s)
{
	size_t i;

	for (i = 0; i < d->rc_nwaiters; i++)
		if (d->rc_waiters[i] == s->rc_id)
			return;
	if (d->rc_nwaiters == d->rc_waiters_alloc) {
		size_t n = d->rc_waiters_alloc ? d->rc_waiters_alloc * 2 : 4;
		uint32_t *w = reallocarray(d->rc_waiters, n, sizeof(*w));

		if (w == NULL)
			fatal("waiters");
		d->rc_waiters = w;
		d->rc_waiters_alloc = n;
	}
	d->rc_waiters[d->rc_nwaiters++] = s->rc_id;
}

static void rc_bury(struct rc_server *sv, struct rc_conn *c)
{
	if (c->rc_dead)
		return;
	c->rc_dead = true;
	c->rc_next_dead = sv->sv_dead;
	sv->sv_dead = c;
}

static void rc_free_rbuf(struct rc_server *sv, struct rc_conn *c)
{
	free(c->rc_rbuf);
	pb_budget_release(&sv->sv_budget, c->rc_rcap);
	c->rc_rbuf = NULL;
	c->rc_rlen = c->rc_rcap = 0;
}

static void rc_leave(struct rc_server *sv, struct rc_conn *c, enum rc_leave why)
{
	static const char *const text[] = {"peer closed", "connection reset",
					   "protocol error", "slow consumer",
					   "shutdown"};
	static const enum pb_stat stat[] = {
		PB_STAT_DISC_CLOSED, PB_STAT_DISC_RESET, PB_STAT_DISC_PROTOCOL,
		PB_STAT_DISC_SLOW, PB_STAT_DISC_SHUTDOWN};
	size_t dropped = pb_outbox_count_frames(&c->rc_outbox);

	if (c->rc_left)
		return;
	c->rc_left = true;
	sv->sv_connected--;
	close(c->rc_fd); /* also takes it out of the epoll set */
	pb_outbox_free(&c->rc_outbox);
	rc_free_rbuf(sv, c);
	rc_wake_waiters(sv, c);
	pb_stats_add(stat[why], 1);
	pb_stats_add(why == RC_SLOW ? PB_STAT_DROP_SLOW : PB_STAT_DROP_LEFT,
		     dropped);
	if (why == RC_SLOW)
		log_notice("client %u disconnected as slow consumer (%s): "
			   "no write progress for %.1f s, %zu frames dropped",
			   c->rc_id, c->rc_addr,
			   sv->sv_opts->op_slow_ms / 1000.0, dropped);
	else
		log_info("client %u disconnected (%s): %s", c->rc_id,
			 c->rc_addr, text[why]);
	if (pb_park_bytes(&c->rc_park) == 0 || why == RC_SHUTDOWN)
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
				rc_leave(sv, c, RC_RESET);
			break;
		}
		pb_outbox_consume(&c->rc_outbox, (size_t)r);
		c->rc_progress_ms = pb_now_ms();
	}
	if (c->rc_nwaiters > 0 &&
	    pb_outbox_len(&c->rc_outbox) <= c->rc_outbox.ob_limit / 2)
		rc_wake_waiters(sv, c);
}

static ssize_t rc_write(void *ctx, const struct iovec *iov, size_t n)
{
	const struct rc_conn *d = ctx;

	return pb_net_sendv(d->rc_fd, iov, n);
}

static void rc_park(struct rc_conn *s, uint32_t dest, const struct iovec *iov,
		    size_t n)
{
	if (pb_park_pushv(&s->rc_park, dest, iov, (int)n) < 0) {
		pb_stats_add(PB_STAT_DROP_NOMEM, n);
		log_warn("client %u: %zu frames to client %u dropped", s->rc_id,
			 n, dest);
	}
}

struct rc_sender {
	struct rc_server *rs_sv;
	struct rc_conn *rs_conn;
};

/* Delivers frames iov[0 .. n) for dest, in order (a pb_route_fn). */
static void rc_deliver(void *arg, uint32_t dest, const struct iovec *iov,
		       size_t n)
{
	struct rc_sender *rs = arg;
	struct rc_conn *s = rs->rs_conn, *d;
	struct pb_route_handoff h;

	if (pb_park_find(&s->rc_park, dest) >= 0) {
		rc_park(s, dest, iov, n);
		return;
	}
	d = pb_table_get(&rs->rs_sv->sv_table, dest);
	if (d == NULL || d->rc_left) {
		pb_stats_add(PB_STAT_DROP_UNKNOWN, n);
		return;
	}
	h = pb_route_handoff(&d->rc_outbox, iov, n, rc_write, d);
	pb_stats_add(PB_STAT_FORWARDED, n);
	if (h.rh_cut) {
		pb_stats_add(PB_STAT_DROP_NOMEM, n - h.rh_taken);
		shutdown(d->rc_fd, SHUT_RDWR);
		return;
	}
	if (h.rh_taken < n) {
		rc_park(s, dest, iov + h.rh_taken, n - h.rh_taken);
		rc_wait_on(d, s);
	}
	/* The socket took less than offered: an EPOLLOUT edge will follow. */
	if (h.rh_started)
		d->rc_progress_ms = pb_now_ms();
}

/* Moves s's parked frames into outboxes with room again. */
static void rc_retry(struct rc_server *sv, struct rc_conn *s)
{
	struct pb_park *pk = &s->rc_park;
	size_t i = pk->pk_nlanes;

	while (i-- > 0) {
		uint32_t dest = pk->pk_lanes[i].pl_dest;
		struct rc_conn *d = pb_table_get(&sv->sv_table, dest);
		bool was_empty;

		if (d == NULL || d->rc_left) {
			pb_stats_add(PB_STAT_DROP_LEFT, pb_park_drop(pk, i));
			continue;
		}
		was_empty = pb_outbox_empty(&d->rc_outbox);
		(void)pb_park_flush(pk, i, &d->rc_outbox);
		if (i < pk->pk_nlanes && pk->pk_lanes[i].pl_dest == dest)
			rc_wait_on(d, s);
		if (was_empty && !pb_outbox_empty(&d->rc_outbox)) {
			d->rc_progress_ms = pb_now_ms();
			rc_flush(sv, d); /* no edge may be coming */
		}
	}
	if (s->rc_left && pb_park_bytes(pk) == 0)
		rc_bury(sv, s);
}

static size_t rc_read_allowance(const struct rc_conn *c)
{
	size_t park = pb_park_room(&c->rc_park) + PB_FRAME_HEADER;
	size_t limit = c->rc_rcap < park ? c->rc_rcap : park;

	return limit > c->rc_rlen ? limit - c->rc_rlen : 0;
}

/* Reads and routes until the socket is drained, the waiting room could
 * not take more, or this connection had its turn. */
static void rc_read(struct rc_server *sv, struct rc_conn *c)
{
	struct rc_sender rs = {.rs_sv = sv, .rs_conn = c};
	int turn;

	if (c->rc_rbuf == NULL) {
		size_t cap = sv->sv_opts->op_max_frame + PB_FRAME_HEADER;

		c->rc_rcap = cap < RC_READ_SIZE ? RC_READ_SIZE : cap;
		c->rc_rbuf = malloc(c->rc_rcap);
		if (c->rc_rbuf == NULL)
			fatal("read buffer");
		pb_budget_charge(&sv->sv_budget, c->rc_rcap);
	}
	for (turn = 0; turn < RC_READS_PER_TURN; turn++) {
		size_t want = rc_read_allowance(c);
		ssize_t n;

		if (want == 0 || sv->sv_stopping ||
		    pb_budget_over(&sv->sv_budget))
			return; /* rc_readable stays: resumed when possible */
		n = recv(c->rc_fd, c->rc_rbuf + c->rc_rlen, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->rc_readable = false;
			return;
		}
		if (n <= 0) {
			rc_leave(sv, c, n == 0 ? RC_CLOSED : RC_RESET);
			return;
		}
		c->rc_rlen += (size_t)n;
		c->rc_read_ms = pb_now_ms();
		if (pb_route_input(&sv->sv_route, &c->rc_parser, c->rc_rbuf,
				   &c->rc_rlen, rc_deliver, &rs) < 0) {
			log_notice("client %u protocol error: frame longer "
				   "than %zu bytes",
				   c->rc_id, sv->sv_opts->op_max_frame);
			rc_leave(sv, c, RC_PROTOCOL);
			return;
		}
	}
	rc_make_ready(sv, c); /* more may wait: after the others */
}

static void rc_accept_one(struct rc_server *sv, int fd, const char *peer)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
					   EPOLLET};
	char idbuf[PB_FRAME_HEADER];
	struct iovec iov = {.iov_base = idbuf, .iov_len = sizeof(idbuf)};
	struct rc_conn *c;

	if (sv->sv_connected >= sv->sv_opts->op_max_clients) {
		pb_stats_add(PB_STAT_REFUSED_MAX, 1);
		log_notice("connection from %s refused: %lu clients connected "
			   "(--max-clients)",
			   peer, sv->sv_connected);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->rc_fd = fd;
	snprintf(c->rc_addr, sizeof(c->rc_addr), "%s", peer);
	c->rc_id = pb_table_next_id(&sv->sv_table);
	pb_outbox_init(&c->rc_outbox, sv->sv_opts->op_outbox, &sv->sv_budget);
	pb_park_init(&c->rc_park, sv->sv_opts->op_park, &sv->sv_budget);
	pb_frame_parser_init(&c->rc_parser, sv->sv_opts->op_max_frame);
	pb_frame_put_id(idbuf, c->rc_id);
	ev.data.ptr = c;
	if (pb_net_sendv(fd, &iov, 1) != (ssize_t)sizeof(idbuf) ||
	    pb_table_insert(&sv->sv_table, c->rc_id, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	if (epoll_ctl(sv->sv_epoll, EPOLL_CTL_ADD, fd, &ev) < 0) {
		pb_table_remove(&sv->sv_table, c->rc_id);
		close(fd);
		free(c);
		return;
	}
	sv->sv_connected++;
	pb_stats_add(PB_STAT_ACCEPTED, 1);
	log_info("client %u connected from %s", c->rc_id, peer);
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

	if (c->rc_left)
		return;
	if (!pb_outbox_empty(&c->rc_outbox) &&
	    pb_now_ms() - c->rc_progress_ms >= sv->sv_opts->op_slow_ms)
		rc_leave(sv, c, RC_SLOW); /* leaves the table as it is */
	else if (c->rc_readable)
		rc_make_ready(sv, c); /* input stalled by the budget */
	else if (c->rc_rbuf != NULL && c->rc_rlen == 0 &&
		 pb_now_ms() - c->rc_read_ms >= RC_IDLE_MS)
		rc_free_rbuf(sv, c); /* idle: its memory goes back */
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
		while (c->rc_park.pk_nlanes > 0)
			pb_stats_add(PB_STAT_DROP_LEFT,
				     pb_park_drop(&c->rc_park,
						  c->rc_park.pk_nlanes - 1));
		pb_park_free(&c->rc_park);
		free(c->rc_waiters);
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
	    pb_park_bytes(&c->rc_park) == 0 && c->rc_nwaiters == 0)
		rc_leave(arg, c, RC_SHUTDOWN);
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
	switch (pb_options_parse(&op, argc, argv, err, sizeof(err))) {
	case PB_OPTIONS_EXIT:
		return 0;
	case PB_OPTIONS_USAGE:
		fprintf(stderr, "patchbay-reactor: %s\n", err);
		return 2;
	case PB_OPTIONS_RUN:
		break;
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
	return 0;
}
