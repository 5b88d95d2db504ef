/* SPDX-License-Identifier: ISC */
/*
 * loop.c: a session of patchbay-cat, one poll() loop over standard input
 * and the connection (see cat.h).
 *
 * Its life is one state (enum loop_state), changed only by
 * loop_set_state: it waits for its id, then reads lines and sends them
 * while it prints what arrives; once input ends (or --count messages have
 * arrived) it sends what is left of the lines it read, lingers for what
 * is still arriving, shuts its sending side and waits for the daemon to
 * close. It stops reading input while LOOP_TX_HIGH bytes wait to be sent,
 * so a daemon that does not read holds input back instead of memory
 * growing, and it prints every batch of lines before it waits again.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cat.h"
#include "clock.h"
#include "input.h"
#include "out.h"
#include "recv.h"

#define LOOP_TX_HIGH  (64 * 1024) /* unsent bytes that stop input */
#define LOOP_READ     (64 * 1024) /* one read, of input or the connection */
#define LOOP_CLOSE_MS 5000	  /* the daemon's close after ours */
#define LOOP_ID_LEN   4		  /* the id, big-endian, before messages */

enum loop_state {
	LOOP_ID,      /* connected, waiting for the id */
	LOOP_RUN,     /* reading input and sending it, printing messages */
	LOOP_SEND,    /* input ended or --count reached: sending the rest */
	LOOP_LINGER,  /* all sent: --linger for messages still arriving */
	LOOP_CLOSING, /* our sending side shut: waiting for the daemon's */
	LOOP_DONE,
};

struct loop {
	const struct cat_conf *lp_cf;
	struct cat_transport *lp_t;
	enum loop_state lp_state;
	struct cat_input lp_in;
	struct cat_recv lp_rx;
	struct cat_buf lp_tx;  /* frames not yet sent */
	struct cat_buf lp_out; /* lines not yet printed */
	char *lp_chunk;	       /* LOOP_READ bytes for reading input */
	unsigned long lp_got;  /* messages printed */
	bool lp_full;	       /* --count reached: print no more */
	uint64_t lp_deadline;  /* of LOOP_LINGER and LOOP_CLOSING */
	int lp_status;	       /* the exit status */
};

static void loop_set_state(struct loop *lp, enum loop_state st)
{
	switch (st) {
	case LOOP_LINGER:
		lp->lp_deadline = pb_now_ms() + lp->lp_cf->cf_linger_ms;
		break;
	case LOOP_CLOSING:
		/* Closing with messages unread would reset the connection
		 * and could lose frames still in our send buffer: our FIN
		 * goes after them, and we read until the daemon's. */
		if (lp->lp_t->tr_ops->to_shutdown(lp->lp_t) < 0)
			st = LOOP_DONE;
		lp->lp_deadline = pb_now_ms() + LOOP_CLOSE_MS;
		break;
	default:
		break;
	}
	lp->lp_state = st;
}

static void loop_fail(struct loop *lp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Says why on standard error, prefixed by the address when it is about
 * the connection, and ends the session with status 1. */
static void loop_fail(struct loop *lp, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "patchbay-cat: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	lp->lp_status = 1;
	lp->lp_state = LOOP_DONE;
}

static void loop_flush_out(struct loop *lp)
{
	if (cat_buf_size(&lp->lp_out) == 0)
		return;
	if (cat_out_write(STDOUT_FILENO, cat_buf_head(&lp->lp_out),
			  cat_buf_size(&lp->lp_out)) < 0) {
		loop_fail(lp, "standard output: %s", strerror(errno));
		return;
	}
	cat_buf_consume(&lp->lp_out, cat_buf_size(&lp->lp_out));
}

static void loop_take_id(struct loop *lp)
{
	const unsigned char *b =
		(const unsigned char *)cat_buf_head(&lp->lp_rx.rv_buf);
	uint32_t id = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		      (uint32_t)b[2] << 8 | b[3];
	char line[16];
	int n;

	cat_buf_consume(&lp->lp_rx.rv_buf, LOOP_ID_LEN);
	if (lp->lp_cf->cf_id_file != NULL &&
	    cat_out_id_file(lp->lp_cf->cf_id_file, id) < 0) {
		loop_fail(lp, "cannot write the id to %s: %s",
			  lp->lp_cf->cf_id_file, strerror(errno));
		return;
	}
	n = snprintf(line, sizeof line, "%lu\n", (unsigned long)id);
	if (cat_buf_add(&lp->lp_out, line, (size_t)n) < 0) {
		loop_fail(lp, "out of memory");
		return;
	}
	loop_set_state(lp, LOOP_RUN);
}

static void loop_print(struct loop *lp)
{
	const struct cat_conf *cf = lp->lp_cf;
	unsigned long max =
		cf->cf_count ? cf->cf_count - lp->lp_got : ULONG_MAX;
	long n = cat_recv_lines(&lp->lp_rx, &lp->lp_out, max);

	if (n < 0) {
		loop_fail(lp, "out of memory");
		return;
	}
	lp->lp_got += (unsigned long)n;
	if (cf->cf_count && lp->lp_got == cf->cf_count) {
		lp->lp_full = true;
		if (lp->lp_state == LOOP_RUN)
			loop_set_state(lp, LOOP_SEND);
	}
}

/* The connection ended (err 0) or failed (errno err). */
static void loop_conn_ended(struct loop *lp, int err)
{
	const char *addr = lp->lp_cf->cf_addr_text;
	size_t partial = cat_recv_partial(&lp->lp_rx);
	char why[128];

	if (lp->lp_state == LOOP_CLOSING) {
		lp->lp_state = LOOP_DONE; /* as it should */
		return;
	}
	if (lp->lp_state == LOOP_ID) {
		loop_fail(lp,
			  "%s: the daemon closed the connection before giving "
			  "an id (it refuses clients beyond its limits, and "
			  "all while it shuts down)",
			  addr);
		return;
	}
	if (err != 0)
		snprintf(why, sizeof why, "connection lost: %s", strerror(err));
	else
		snprintf(why, sizeof why, "the daemon closed the connection");
	if (partial > 0 && !lp->lp_full)
		loop_fail(lp,
			  "%s: %s, in the middle of a message (%zu bytes of "
			  "it not printed)",
			  addr, why, partial);
	else
		loop_fail(lp, "%s: %s", addr, why);
}

static void loop_read_conn(struct loop *lp)
{
	struct cat_buf *rb = &lp->lp_rx.rv_buf;
	ssize_t n;

	if (cat_buf_reserve(rb, LOOP_READ) < 0) {
		loop_fail(lp, "out of memory");
		return;
	}
	n = lp->lp_t->tr_ops->to_read(lp->lp_t, rb->b_data + rb->b_len,
				      LOOP_READ);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		loop_conn_ended(lp, n < 0 ? errno : 0);
		return;
	}
	/* Past --count, or closing: what arrives is not ours to print. */
	if (lp->lp_full || lp->lp_state == LOOP_CLOSING)
		return;
	rb->b_len += (size_t)n;
	if (lp->lp_state == LOOP_ID) {
		if (cat_buf_size(rb) < LOOP_ID_LEN)
			return;
		loop_take_id(lp);
		if (lp->lp_state == LOOP_DONE)
			return;
	}
	loop_print(lp);
	if (lp->lp_state != LOOP_DONE)
		loop_flush_out(lp);
}

static void loop_write_conn(struct loop *lp)
{
	struct cat_buf *tx = &lp->lp_tx;

	while (cat_buf_size(tx) > 0) {
		ssize_t n = lp->lp_t->tr_ops->to_write(
			lp->lp_t, cat_buf_head(tx), cat_buf_size(tx));
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			loop_conn_ended(lp, errno);
			return;
		}
		cat_buf_consume(tx, (size_t)n);
	}
}

static void loop_read_input(struct loop *lp)
{
	ssize_t n = read(STDIN_FILENO, lp->lp_chunk, LOOP_READ);
	int r;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0 && errno != EBADF) { /* EBADF: started with it closed */
		/* Said, and taken as its end: what was read still goes. */
		fprintf(stderr, "patchbay-cat: standard input: %s\n",
			strerror(errno));
		lp->lp_status = 1;
	}
	if (n <= 0) {
		r = cat_input_end(&lp->lp_in, &lp->lp_tx, stderr);
		loop_set_state(lp, LOOP_SEND);
	} else {
		r = cat_input_feed(&lp->lp_in, lp->lp_chunk, (size_t)n,
				   &lp->lp_tx, stderr);
	}
	if (r < 0) {
		loop_fail(lp, "out of memory");
		return;
	}
	loop_write_conn(lp);
}

/* The changes of state that follow from time and from what was sent. */
static void loop_settle(struct loop *lp)
{
	if (lp->lp_state == LOOP_SEND && cat_buf_size(&lp->lp_tx) == 0)
		loop_set_state(lp, lp->lp_full ? LOOP_CLOSING : LOOP_LINGER);
	if (lp->lp_state == LOOP_LINGER &&
	    (lp->lp_full || pb_now_ms() >= lp->lp_deadline))
		loop_set_state(lp, LOOP_CLOSING);
	if (lp->lp_state == LOOP_CLOSING && pb_now_ms() >= lp->lp_deadline)
		lp->lp_state = LOOP_DONE;
}

static int loop_timeout(const struct loop *lp)
{
	uint64_t now;

	if (lp->lp_state != LOOP_LINGER && lp->lp_state != LOOP_CLOSING)
		return -1;
	now = pb_now_ms();
	if (now >= lp->lp_deadline)
		return 0;
	return lp->lp_deadline - now > INT_MAX ? INT_MAX
					       : (int)(lp->lp_deadline - now);
}

/* One wait and what it brought. */
static void loop_once(struct loop *lp)
{
	struct pollfd p[2];
	nfds_t n = 1;
	bool pending = lp->lp_t->tr_ops->to_pending != NULL &&
		       lp->lp_t->tr_ops->to_pending(lp->lp_t);

	p[0].fd = lp->lp_t->tr_fd;
	p[0].events = POLLIN;
	if (cat_buf_size(&lp->lp_tx) > 0)
		p[0].events |= POLLOUT;
	if (lp->lp_state == LOOP_RUN &&
	    cat_buf_size(&lp->lp_tx) < LOOP_TX_HIGH) {
		p[1].fd = STDIN_FILENO;
		p[1].events = POLLIN;
		n = 2;
	}
	/* Bytes decrypted already: read them without waiting. */
	if (poll(p, n, pending ? 0 : loop_timeout(lp)) < 0) {
		if (errno != EINTR)
			loop_fail(lp, "poll: %s", strerror(errno));
		return;
	}
	if (p[0].revents & POLLOUT)
		loop_write_conn(lp);
	if (lp->lp_state != LOOP_DONE &&
	    ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) || pending))
		loop_read_conn(lp);
	if (lp->lp_state == LOOP_RUN && n == 2 && p[1].revents != 0)
		loop_read_input(lp);
	if (lp->lp_state != LOOP_DONE)
		loop_settle(lp);
}

int cat_run(const struct cat_conf *cf, struct cat_transport *t)
{
	struct loop lp;

	memset(&lp, 0, sizeof lp);
	lp.lp_cf = cf;
	lp.lp_t = t;
	lp.lp_state = LOOP_ID;
	lp.lp_rx.rv_hex = cf->cf_hex;
	cat_input_init(&lp.lp_in, cf->cf_has_to, cf->cf_to, cf->cf_from_hex,
		       cf->cf_max_frame);
	lp.lp_chunk = malloc(LOOP_READ);
	if (lp.lp_chunk == NULL)
		loop_fail(&lp, "out of memory");
	while (lp.lp_state != LOOP_DONE)
		loop_once(&lp);
	t->tr_ops->to_close(t);
	free(lp.lp_chunk);
	cat_input_free(&lp.lp_in);
	cat_recv_free(&lp.lp_rx);
	cat_buf_free(&lp.lp_tx);
	cat_buf_free(&lp.lp_out);
	return lp.lp_status;
}
