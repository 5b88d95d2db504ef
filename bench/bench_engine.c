/* SPDX-License-Identifier: ISC */
/*
 * bench_engine.c: the worker threads that move and check the messages of
 * the traffic scenarios (see bench_engine.h).
 *
 * Each worker owns an epoll instance, level-triggered, with the connections
 * of its groups. A readable connection is read 64 KiB at a time into the
 * worker's buffer and every message in it is checked at once; the window
 * slots they free mark their senders dirty. After each batch of events the
 * worker refills every dirty sender's window in one go (one frame build per
 * free slot, one send() for all). EPOLLOUT is asked for only while a
 * connection has unsent bytes. Nothing here blocks: every wait is an
 * epoll_wait() with a short timeout, and a sender whose window does not
 * move for --timeout seconds fails the run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench_payload.h"
#include "bench_worker.h"

#define BENCH_EVENTS  256
#define BENCH_TICK_NS (100 * 1000 * 1000ull) /* stall checks */

/* An incomplete stream that frees c's window slots, or NULL. */
static const struct bench_stream *bench_stuck_stream(const struct bench_topo *t,
						     const struct bench_conn *c)
{
	size_t i;

	for (i = 0; i < t->t_nstreams; i++) {
		const struct bench_stream *s = &t->t_streams[i];

		if (s->st_credit == c->c_index && s->st_rx != s->st_tx)
			return s;
	}
	return NULL;
}

/* Fails the run for sender c, whose window has not moved for too long. */
static void bench_stalled(struct bench_worker *w, const struct bench_conn *c)
{
	struct bench_engine *e = w->w_eng;
	const struct bench_stream *s = bench_stuck_stream(e->e_topo, c);
	char what[160] = "";

	if (s != NULL)
		snprintf(what, sizeof(what),
			 "; client %u (id %u) to client %u (id %u): %llu sent, "
			 "%llu received",
			 s->st_src, e->e_topo->t_conns[s->st_src].c_id,
			 s->st_dst, s->st_dst_id, (unsigned long long)s->st_tx,
			 (unsigned long long)s->st_rx);
	bench_fail("no progress for %.1f s: client %u (id %u) has %lu "
		   "messages in flight, %zu bytes not yet taken by the "
		   "server%s",
		   e->e_opts->o_timeout, c->c_index, c->c_id, c->c_inflight,
		   c->c_out_len, what);
}

/* Fails the run if a sender's window has not moved for --timeout. */
static void bench_stall_check(struct bench_worker *w)
{
	size_t i;

	for (i = 0; i < w->w_nsenders; i++) {
		struct bench_conn *c = w->w_senders[i];

		if (c->c_inflight > 0 &&
		    w->w_now - c->c_last_credit >= w->w_eng->e_timeout) {
			bench_stalled(w, c);
			return;
		}
	}
}

static int bench_wait_ms(const struct bench_worker *w)
{
	uint64_t left;

	if (!bench_running(w))
		return 100;
	if (w->w_ntricklers > 0)
		return 1;
	left = w->w_eng->e_end - w->w_now;
	return left >= BENCH_TICK_NS ? 100 : (int)(left / 1000000u) + 1;
}

static int bench_events(struct bench_worker *w, struct epoll_event *evs, int n)
{
	int k;

	for (k = 0; k < n; k++) {
		struct bench_conn *c = evs[k].data.ptr;

		if ((evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
		    bench_rx_read(w, c) < 0)
			return -1;
		if ((evs[k].events & EPOLLOUT) && c->c_out != NULL)
			bench_tx_dirty(w, c);
	}
	return 0;
}

static int bench_send_dirty(struct bench_worker *w)
{
	size_t i;

	for (i = 0; i < w->w_ndirty; i++) {
		struct bench_conn *c = w->w_dirty[i];

		c->c_dirty = false;
		bench_tx_refill(w, c);
		if (bench_tx_flush(w, c) < 0)
			return -1;
	}
	w->w_ndirty = 0;
	return 0;
}

static void *bench_worker_main(void *arg)
{
	struct bench_worker *w = arg;
	struct epoll_event evs[BENCH_EVENTS];
	uint64_t next_tick = 0;

	while (!bench_failed()) {
		w->w_now = bench_now_ns();
		if (!bench_running(w) && w->w_pending == 0)
			break;
		if (w->w_ntricklers > 0 && bench_running(w))
			bench_tx_trickle(w);
		if (bench_send_dirty(w) < 0)
			break;
		if (w->w_now >= next_tick) {
			bench_stall_check(w);
			next_tick = w->w_now + BENCH_TICK_NS;
		}
		int n = epoll_wait(w->w_ep, evs, BENCH_EVENTS,
				   bench_wait_ms(w));
		if (n < 0 && errno != EINTR) {
			bench_fail("epoll_wait: %s", strerror(errno));
			break;
		}
		w->w_now = bench_now_ns();
		if (n > 0 && bench_events(w, evs, n) < 0)
			break;
	}
	return NULL;
}

/* Gives c to worker w: epoll registration, buffers, sender lists. */
static int bench_worker_adopt(struct bench_worker *w, struct bench_conn *c)
{
	struct bench_engine *e = w->w_eng;
	struct epoll_event ev;

	if (c->c_deaf)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(w->w_ep, EPOLL_CTL_ADD, c->c_fd, &ev) < 0) {
		bench_fail("epoll_ctl: %s", strerror(errno));
		return -1;
	}
	if (c->c_reads) {
		c->c_carry = malloc(e->e_topo->t_size);
		if (c->c_carry == NULL)
			goto nomem;
	}
	if (c->c_ntx == 0 && c->c_ntrickle == 0 && !c->c_replies)
		return 0;
	c->c_out_cap = (e->e_topo->t_window + BENCH_TRICKLE_ROOM) * e->e_frame;
	c->c_out = malloc(c->c_out_cap);
	if (c->c_out == NULL)
		goto nomem;
	w->w_senders[w->w_nsenders++] = c;
	bench_tx_dirty(w, c);
	if (c->c_ntrickle > 0)
		w->w_tricklers[w->w_ntricklers++] = c;
	return 0;
nomem:
	bench_fail("client buffers: out of memory");
	return -1;
}

static int bench_worker_init(struct bench_engine *e, unsigned i)
{
	struct bench_worker *w = &e->e_workers[i];
	struct bench_topo *t = e->e_topo;
	size_t n = t->t_nconns, k;

	w->w_index = i;
	w->w_eng = e;
	bench_hist_init(&w->w_hist);
	w->w_ep = epoll_create1(EPOLL_CLOEXEC);
	w->w_senders = calloc(n, sizeof(*w->w_senders));
	w->w_dirty = calloc(n, sizeof(*w->w_dirty));
	w->w_tricklers = calloc(n, sizeof(*w->w_tricklers));
	w->w_rbuf = malloc(BENCH_READ_CHUNK + t->t_size);
	if (w->w_ep < 0 || !w->w_senders || !w->w_dirty || !w->w_tricklers ||
	    !w->w_rbuf) {
		bench_fail("worker %u: %s", i, strerror(errno));
		return -1;
	}
	for (k = 0; k < n; k++)
		if (t->t_conns[k].c_group % e->e_nworkers == i &&
		    bench_worker_adopt(w, &t->t_conns[k]) < 0)
			return -1;
	return 0;
}

static void bench_worker_free(struct bench_worker *w)
{
	if (w->w_ep >= 0)
		close(w->w_ep);
	free(w->w_senders);
	free(w->w_dirty);
	free(w->w_tricklers);
	free(w->w_rbuf);
}

/* Splits --rate between workers in proportion to their tricklers. */
static void bench_share_rate(struct bench_engine *e)
{
	size_t total = 0;
	unsigned i;

	for (i = 0; i < e->e_nworkers; i++)
		total += e->e_workers[i].w_ntricklers;
	for (i = 0; i < e->e_nworkers && total > 0; i++)
		e->e_workers[i].w_trickle_rate =
			e->e_opts->o_rate *
			(double)e->e_workers[i].w_ntricklers / (double)total;
}

/* Starts the clock: the run begins now, every window is fresh. */
static void bench_engine_clock(struct bench_engine *e)
{
	unsigned i;
	size_t k;

	e->e_base = bench_now_ns();
	e->e_warm = e->e_base + bench_s_to_ns(e->e_opts->o_warmup);
	e->e_end = e->e_warm + bench_s_to_ns(e->e_opts->o_duration);
	for (i = 0; i < e->e_nworkers; i++)
		for (k = 0; k < e->e_workers[i].w_nsenders; k++)
			e->e_workers[i].w_senders[k]->c_last_credit = e->e_base;
}

/*
 * Waits for the end of the measured time, sampling the server's costs at
 * both of its ends, then samples its memory.
 */
static void bench_engine_watch(struct bench_engine *e, struct bench_result *r)
{
	pid_t pid = e->e_opts->o_server_pid;

	bench_cost_window(pid, e->e_warm, e->e_end, &r->r_cost_start,
			  &r->r_cost_end);
	if (pid > 0 && !bench_failed())
		bench_proc_sample(pid, &r->r_srv_end);
}

static void bench_engine_collect(struct bench_engine *e, struct bench_result *r)
{
	unsigned i;

	r->r_traffic = true;
	r->r_hist = malloc(sizeof(*r->r_hist));
	if (r->r_hist != NULL)
		bench_hist_init(r->r_hist);
	for (i = 0; i < e->e_nworkers; i++) {
		struct bench_worker *w = &e->e_workers[i];

		r->r_messages += w->w_rx_measured;
		r->r_sent_total += w->w_tx_total;
		r->r_received_total += w->w_rx_total;
		r->r_trickle_sent += w->w_trickle_sent;
		r->r_trickle_skipped += w->w_trickle_skipped;
		if (r->r_hist != NULL)
			bench_hist_merge(r->r_hist, &w->w_hist);
	}
	r->r_elapsed_s = bench_ns_to_s(bench_now_ns() - e->e_base);
}

/* After a clean run, every checked stream must be complete. */
static int bench_engine_verify(const struct bench_topo *t,
			       const struct bench_result *r)
{
	size_t i;

	if (r->r_sent_total != r->r_received_total) {
		bench_fail("%llu messages sent, %llu received",
			   (unsigned long long)r->r_sent_total,
			   (unsigned long long)r->r_received_total);
		return -1;
	}
	for (i = 0; i < t->t_nstreams; i++) {
		const struct bench_stream *s = &t->t_streams[i];

		if ((s->st_flags & BENCH_ST_CHECKED) && s->st_rx != s->st_tx) {
			bench_fail("client %u to client %u: %llu sent, %llu "
				   "received",
				   s->st_src, s->st_dst,
				   (unsigned long long)s->st_tx,
				   (unsigned long long)s->st_rx);
			return -1;
		}
	}
	return 0;
}

int bench_engine_run(struct bench_topo *t, const struct bench_opts *o,
		     struct bench_result *r)
{
	struct bench_engine e;
	unsigned i, started = 0;
	int rc = -1;

	memset(&e, 0, sizeof(e));
	e.e_topo = t;
	e.e_opts = o;
	e.e_frame = t->t_size + BENCH_FRAME_HEADER;
	e.e_nworkers = o->o_threads;
	e.e_timeout = bench_s_to_ns(o->o_timeout);
	e.e_workers = calloc(e.e_nworkers, sizeof(*e.e_workers));
	if (e.e_workers == NULL) {
		bench_fail("workers: out of memory");
		return -1;
	}
	for (i = 0; i < e.e_nworkers; i++)
		e.e_workers[i].w_ep = -1;
	for (i = 0; i < e.e_nworkers; i++)
		if (bench_worker_init(&e, i) < 0)
			goto out;
	bench_share_rate(&e);
	bench_engine_clock(&e);
	for (; started < e.e_nworkers; started++) {
		if (pthread_create(&e.e_workers[started].w_thread, NULL,
				   bench_worker_main,
				   &e.e_workers[started]) != 0) {
			bench_fail("cannot start a worker thread");
			break;
		}
	}
	bench_engine_watch(&e, r);
	for (i = 0; i < started; i++)
		pthread_join(e.e_workers[i].w_thread, NULL);
	bench_engine_collect(&e, r);
	if (!bench_failed())
		rc = bench_engine_verify(t, r);
out:
	for (i = 0; i < e.e_nworkers; i++)
		bench_worker_free(&e.e_workers[i]);
	free(e.e_workers);
	return rc;
}
