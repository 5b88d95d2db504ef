/* SPDX-License-Identifier: ISC */
/*
 * bench_rx.c: the receiving side of the traffic engine. A read takes up to
 * 64 KiB into the worker's buffer, behind the piece of a message the last
 * read cut; every complete message is then checked: its form (length,
 * fields, filler), that it was sent to this client, and that it is the
 * next one of its stream. Its receipt frees a window slot of its sender,
 * or, in pingpong, triggers the reply.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bench_io.h"
#include "bench_payload.h"
#include "bench_worker.h"

#define BENCH_SHOW 40 /* bytes of a bad message shown */

/* Prints a bad message, escaped, for an error line. */
static void bench_rx_show(char *dst, size_t dstlen, const char *p, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && i < BENCH_SHOW && o + 5 < dstlen; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			dst[o++] = (char)ch;
		else
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x",
					      ch);
	}
	snprintf(dst + o, dstlen - o, "%s", i < len ? "..." : "");
}

static void bench_rx_bad(const struct bench_conn *c, const char *p, size_t len,
			 const char *why)
{
	char shown[BENCH_SHOW * 4 + 8];

	bench_rx_show(shown, sizeof(shown), p, len);
	bench_fail("client %u (id %u) received %s (%zu bytes): \"%s\"",
		   c->c_index, c->c_id, why, len, shown);
}

static int bench_rx_echo(struct bench_worker *w, const struct bench_stream *s,
			 uint64_t time)
{
	struct bench_engine *e = w->w_eng;
	struct bench_conn *c =
		&e->e_topo->t_conns[e->e_topo->t_streams[s->st_echo].st_src];

	if (bench_tx_room(c, e->e_frame) < e->e_frame) {
		bench_fail("client %u: no room for a reply", c->c_index);
		return -1;
	}
	bench_tx_build(w, c, s->st_echo, time);
	bench_tx_dirty(w, c);
	return 0;
}

/* Accounts one well-formed message of stream s, received at w_now. */
static int bench_rx_receipt(struct bench_worker *w, struct bench_stream *s,
			    const struct bench_msg *m)
{
	struct bench_engine *e = w->w_eng;
	uint64_t sent = e->e_base + m->m_time;

	s->st_rx++;
	w->w_pending--;
	w->w_rx_total++;
	if (w->w_now >= e->e_warm && w->w_now < e->e_end &&
	    (s->st_flags & BENCH_ST_LATENCY)) {
		w->w_rx_measured++;
		bench_hist_record(&w->w_hist,
				  w->w_now > sent ? w->w_now - sent : 0);
	}
	if (s->st_echo != BENCH_NOBODY)
		return bench_rx_echo(w, s, m->m_time);
	if (s->st_credit != BENCH_NOBODY) {
		struct bench_conn *cc = &e->e_topo->t_conns[s->st_credit];

		cc->c_inflight--;
		cc->c_last_credit = w->w_now;
		bench_tx_dirty(w, cc);
	}
	return 0;
}

/* Checks one message (its 0x00 excluded) received by c. */
static int bench_rx_message(struct bench_worker *w, struct bench_conn *c,
			    const char *p, size_t len)
{
	struct bench_topo *t = w->w_eng->e_topo;
	struct bench_stream *s;
	struct bench_msg m;

	if (bench_payload_parse(p, len, &m) < 0) {
		bench_rx_bad(c, p, len, "a malformed message");
		return -1;
	}
	if (m.m_stream >= t->t_nstreams) {
		bench_rx_bad(c, p, len, "a message of no stream");
		return -1;
	}
	s = &t->t_streams[m.m_stream];
	if (s->st_dst != c->c_index || !(s->st_flags & BENCH_ST_CHECKED)) {
		bench_rx_bad(c, p, len, "a message meant for another client");
		return -1;
	}
	if (m.m_seq != s->st_rx || s->st_rx >= s->st_tx) {
		bench_fail("client %u (id %u): from client %u (id %u): got "
			   "message #%llu, expected #%llu (%llu sent): lost, "
			   "duplicated or reordered",
			   c->c_index, c->c_id, s->st_src,
			   t->t_conns[s->st_src].c_id,
			   (unsigned long long)m.m_seq,
			   (unsigned long long)s->st_rx,
			   (unsigned long long)s->st_tx);
		return -1;
	}
	return bench_rx_receipt(w, s, &m);
}

/* Splits len bytes at buf into messages; keeps a cut one in c_carry. */
static int bench_rx_parse(struct bench_worker *w, struct bench_conn *c,
			  char *buf, size_t len)
{
	size_t size = w->w_eng->e_topo->t_size;
	char *p = buf, *end = buf + len, *z;

	while ((z = memchr(p, '\0', (size_t)(end - p))) != NULL) {
		if (bench_rx_message(w, c, p, (size_t)(z - p)) < 0)
			return -1;
		p = z + 1;
	}
	if ((size_t)(end - p) >= size) {
		bench_rx_bad(c, p, (size_t)(end - p),
			     "a message longer than --size");
		return -1;
	}
	c->c_carry_len = (size_t)(end - p);
	memcpy(c->c_carry, p, c->c_carry_len);
	return 0;
}

static int bench_rx_read_once(struct bench_worker *w, struct bench_conn *c)
{
	size_t off = c->c_carry_len;
	ssize_t n;

	if (off > 0)
		memcpy(w->w_rbuf, c->c_carry, off);
	do
		n = bench_io_recv(c->c_fd, w->w_rbuf + off, BENCH_READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0) {
		bench_fail("client %u (id %u): receive: %s", c->c_index,
			   c->c_id, bench_io_strerror(errno));
		return -1;
	}
	if (n == 0) {
		bench_fail("client %u (id %u): the server closed the "
			   "connection",
			   c->c_index, c->c_id);
		return -1;
	}
	if (!c->c_reads) {
		bench_rx_bad(c, w->w_rbuf, (size_t)n,
			     "data though nobody sends to it");
		return -1;
	}
	return bench_rx_parse(w, c, w->w_rbuf, off + (size_t)n);
}

int bench_rx_read(struct bench_worker *w, struct bench_conn *c)
{
	int rc;

	/* What TLS took from the socket but did not hand over yet, epoll
	 * cannot see: read on while there is some. */
	do
		rc = bench_rx_read_once(w, c);
	while (rc == 0 && bench_io_pending(c->c_fd));
	return rc;
}
