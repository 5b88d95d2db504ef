/* SPDX-License-Identifier: ISC */
/*
 * bench_tx.c: the sending side of the traffic engine. Frames are built
 * straight into a connection's out buffer, one for each free window slot,
 * and written with a single send(); what the socket does not take stays
 * in the buffer and EPOLLOUT is asked for until it is gone. Trickle
 * frames (slow scenario) go into the same buffers at a fixed rate.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench_io.h"
#include "bench_payload.h"
#include "bench_worker.h"

#define BENCH_TRICKLE_FLUSH_NS (1000 * 1000ull) /* 1 ms */

void bench_tx_dirty(struct bench_worker *w, struct bench_conn *c)
{
	if (c->c_dirty)
		return;
	c->c_dirty = true;
	w->w_dirty[w->w_ndirty++] = c;
}

static int bench_tx_want_out(struct bench_worker *w, struct bench_conn *c,
			     bool want)
{
	struct epoll_event ev;

	if (c->c_want_out == want)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(w->w_ep, EPOLL_CTL_MOD, c->c_fd, &ev) < 0) {
		bench_fail("epoll_ctl: %s", strerror(errno));
		return -1;
	}
	c->c_want_out = want;
	return 0;
}

/* Room at the end of c's out buffer, compacting it first if need be. */
size_t bench_tx_room(struct bench_conn *c, size_t want)
{
	if (c->c_out_off + c->c_out_len + want > c->c_out_cap &&
	    c->c_out_off > 0) {
		memmove(c->c_out, c->c_out + c->c_out_off, c->c_out_len);
		c->c_out_off = 0;
	}
	return c->c_out_cap - c->c_out_off - c->c_out_len;
}

/* Builds the next frame of stream si at the end of c's out buffer. */
void bench_tx_build(struct bench_worker *w, struct bench_conn *c, uint32_t si,
		    uint64_t time)
{
	struct bench_stream *s = &w->w_eng->e_topo->t_streams[si];
	struct bench_msg m = {
		.m_stream = si, .m_seq = s->st_tx++, .m_time = time};

	bench_payload_frame(c->c_out + c->c_out_off + c->c_out_len,
			    s->st_dst_id, &m);
	c->c_out_len += w->w_eng->e_frame;
	if (s->st_flags & BENCH_ST_CHECKED) {
		w->w_pending++;
		w->w_tx_total++;
	}
}

/* Fills c's free window slots with frames, round robin over its streams. */
void bench_tx_refill(struct bench_worker *w, struct bench_conn *c)
{
	unsigned long win = w->w_eng->e_topo->t_window, k, n;
	size_t frame = w->w_eng->e_frame;
	uint64_t now = w->w_now - w->w_eng->e_base;

	if (c->c_ntx == 0 || c->c_inflight >= win || !bench_running(w))
		return;
	n = win - c->c_inflight;
	k = bench_tx_room(c, n * frame) / frame;
	if (k < n)
		n = k;
	for (k = 0; k < n; k++) {
		bench_tx_build(w, c, c->c_tx[c->c_txnext], now);
		if (++c->c_txnext == c->c_ntx)
			c->c_txnext = 0;
	}
	c->c_inflight += n;
}

/* Writes what c has unsent, in one send(); asks for EPOLLOUT if it must. */
int bench_tx_flush(struct bench_worker *w, struct bench_conn *c)
{
	while (c->c_out_len > 0) {
		ssize_t n = bench_io_send(c->c_fd, c->c_out + c->c_out_off,
					  c->c_out_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			bench_fail("client %u (id %u): send: %s", c->c_index,
				   c->c_id, bench_io_strerror(errno));
			return -1;
		}
		if (n > 0) {
			c->c_out_off += (size_t)n;
			c->c_out_len -= (size_t)n;
		}
		break;
	}
	if (c->c_out_len == 0)
		c->c_out_off = 0;
	return bench_tx_want_out(w, c, c->c_out_len > 0);
}

/*
 * Trickle frames ride along with the window refills of their connections;
 * only every BENCH_TRICKLE_FLUSH_NS are the ones still queued sent on their
 * own, so the trickle costs the load generator no syscalls of its own.
 */
static void bench_tx_trickle_flush(struct bench_worker *w)
{
	size_t i;

	if (w->w_now < w->w_trickle_flush)
		return;
	for (i = 0; i < w->w_ntricklers; i++)
		if (w->w_tricklers[i]->c_out_len > 0)
			bench_tx_dirty(w, w->w_tricklers[i]);
	w->w_trickle_flush = w->w_now + BENCH_TRICKLE_FLUSH_NS;
}

/* Hands out this worker's share of the trickle due by now. */
void bench_tx_trickle(struct bench_worker *w)
{
	struct bench_engine *e = w->w_eng;
	uint64_t due = (uint64_t)(w->w_trickle_rate *
				  bench_ns_to_s(w->w_now - e->e_base));
	size_t limit = BENCH_TRICKLE_MAX * e->e_frame, tries = 0;

	for (; w->w_trickle_due < due; w->w_trickle_due++) {
		if (tries++ >= BENCH_TRICKLE_MAX * w->w_ntricklers) {
			/* Every connection is backed up: skip the rest. */
			w->w_trickle_skipped += due - w->w_trickle_due;
			w->w_trickle_due = due;
			return;
		}
		struct bench_conn *c =
			w->w_tricklers[w->w_trnext++ % w->w_ntricklers];
		if (c->c_out_len > limit ||
		    bench_tx_room(c, e->e_frame) < e->e_frame) {
			w->w_trickle_skipped++;
			continue;
		}
		bench_tx_build(w, c,
			       c->c_trickle[c->c_trnext++ % c->c_ntrickle],
			       w->w_now - e->e_base);
		w->w_trickle_sent++;
	}
	bench_tx_trickle_flush(w);
}
