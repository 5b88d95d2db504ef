/* SPDX-License-Identifier: ISC */
/*
 * bench_churn.c: the churn scenario: connect, read the id, close, as fast
 * as possible, with --clients connections in flight spread over the worker
 * threads. Measures connections/s and the time from connect() to the id,
 * and checks that no id is ever given twice.
 *
 * Each worker keeps its slots busy on its own epoll instance; a slot
 * waits only for EPOLLIN, since the id is the first thing the server
 * sends, and a connection that gets no id within --timeout fails the run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_io.h"

#define BENCH_CHURN_EVENTS 64
#define BENCH_CHURN_WAIT   50 /* ms */

struct bench_slot {
	int sl_fd;
	unsigned sl_got;
	unsigned char sl_id[BENCH_ID_LEN];
	uint64_t sl_start;
};

struct bench_churner {
	pthread_t ch_thread;
	const struct bench_opts *ch_opts;
	uint64_t ch_warm;
	uint64_t ch_end;
	int ch_ep;
	struct bench_slot *ch_slots;
	size_t ch_nslots;
	size_t ch_busy;
	size_t ch_next;	  /* connections started: which --addr is next */
	uint32_t *ch_ids; /* every id received */
	size_t ch_nids;
	size_t ch_idcap;
	uint64_t ch_measured;
	struct bench_hist ch_hist;
};

static int bench_churn_start(struct bench_churner *ch, size_t i, uint64_t now)
{
	const struct bench_opts *o = ch->ch_opts;
	struct bench_slot *sl = &ch->ch_slots[i];
	struct epoll_event ev;

	sl->sl_fd = bench_net_connect(&o->o_addrs[ch->ch_next++ % o->o_naddrs]);
	if (sl->sl_fd < 0) {
		bench_fail("churn: connect: %s%s",
			   bench_net_connect_tls()[0] != '\0'
				   ? bench_net_connect_tls()
				   : strerror(errno),
			   errno == EADDRNOTAVAIL
				   ? " (out of local ports: TIME_WAIT?)"
				   : "");
		return -1;
	}
	sl->sl_got = 0;
	sl->sl_start = now;
	memset(&ev, 0, sizeof(ev));
	ev.events = bench_io_first_events(sl->sl_fd);
	ev.data.u64 = i;
	if (epoll_ctl(ch->ch_ep, EPOLL_CTL_ADD, sl->sl_fd, &ev) < 0) {
		bench_fail("epoll_ctl: %s", strerror(errno));
		return -1;
	}
	ch->ch_busy++;
	return 0;
}

static int bench_churn_keep_id(struct bench_churner *ch, uint32_t id)
{
	if (ch->ch_nids == ch->ch_idcap) {
		size_t cap = ch->ch_idcap ? ch->ch_idcap * 2 : 4096;
		uint32_t *v = realloc(ch->ch_ids, cap * sizeof(*v));

		if (v == NULL) {
			bench_fail("churn: out of memory");
			return -1;
		}
		ch->ch_ids = v;
		ch->ch_idcap = cap;
	}
	ch->ch_ids[ch->ch_nids++] = id;
	return 0;
}

static void bench_churn_close(struct bench_churner *ch, struct bench_slot *sl)
{
	bench_io_close(sl->sl_fd);
	sl->sl_fd = -1;
	ch->ch_busy--;
}

/* Reads what is there of slot i's id; closes the slot once complete. */
static int bench_churn_read(struct bench_churner *ch, size_t i, uint64_t now)
{
	struct bench_slot *sl = &ch->ch_slots[i];
	ssize_t n;

	if (bench_io_tls) {
		/* The handshake first: part of the time to the id. */
		struct epoll_event ev;
		uint32_t events = 0;
		char err[512];
		int hs = bench_io_handshake(sl->sl_fd, &events, err,
					    sizeof(err));

		if (hs < 0) {
			bench_fail("churn: %s", err);
			return -1;
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = events;
		ev.data.u64 = i;
		if (events != 0)
			(void)epoll_ctl(ch->ch_ep, EPOLL_CTL_MOD, sl->sl_fd,
					&ev);
		if (hs == 0)
			return 0;
	}
	n = bench_io_recv(sl->sl_fd, sl->sl_id + sl->sl_got,
			  BENCH_ID_LEN - sl->sl_got);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		bench_fail("churn: %s before the id came",
			   n == 0 ? "the server closed the connection"
				  : bench_io_strerror(errno));
		return -1;
	}
	sl->sl_got += (unsigned)n;
	if (sl->sl_got < BENCH_ID_LEN)
		return 0;
	if (bench_churn_keep_id(ch, bench_net_id(sl->sl_id)) < 0)
		return -1;
	if (now >= ch->ch_warm && now < ch->ch_end) {
		ch->ch_measured++;
		bench_hist_record(&ch->ch_hist, now - sl->sl_start);
	}
	bench_churn_close(ch, sl);
	return 0;
}

static int bench_churn_timeouts(struct bench_churner *ch, uint64_t now)
{
	uint64_t limit = bench_s_to_ns(ch->ch_opts->o_timeout);
	size_t i;

	for (i = 0; i < ch->ch_nslots; i++) {
		struct bench_slot *sl = &ch->ch_slots[i];

		if (sl->sl_fd >= 0 && now - sl->sl_start > limit) {
			bench_fail("churn: no id within %.1f s of connecting "
				   "(%u bytes of it came)",
				   ch->ch_opts->o_timeout, sl->sl_got);
			return -1;
		}
	}
	return 0;
}

static int bench_churn_round(struct bench_churner *ch)
{
	struct epoll_event evs[BENCH_CHURN_EVENTS];
	uint64_t now = bench_now_ns();
	size_t i;
	int n, k;

	for (i = 0; i < ch->ch_nslots && now < ch->ch_end; i++)
		if (ch->ch_slots[i].sl_fd < 0 &&
		    bench_churn_start(ch, i, now) < 0)
			return -1;
	n = epoll_wait(ch->ch_ep, evs, BENCH_CHURN_EVENTS, BENCH_CHURN_WAIT);
	if (n < 0 && errno != EINTR) {
		bench_fail("epoll_wait: %s", strerror(errno));
		return -1;
	}
	now = bench_now_ns();
	for (k = 0; k < n; k++)
		if (bench_churn_read(ch, (size_t)evs[k].data.u64, now) < 0)
			return -1;
	return bench_churn_timeouts(ch, now);
}

static void *bench_churn_main(void *arg)
{
	struct bench_churner *ch = arg;

	while (!bench_failed()) {
		if (bench_churn_round(ch) < 0)
			break;
		if (bench_now_ns() >= ch->ch_end && ch->ch_busy == 0)
			break;
	}
	return NULL;
}

static int bench_churn_init(struct bench_churner *ch, size_t nslots)
{
	size_t i;

	bench_hist_init(&ch->ch_hist);
	ch->ch_nslots = nslots;
	ch->ch_slots = calloc(nslots, sizeof(*ch->ch_slots));
	ch->ch_ep = epoll_create1(EPOLL_CLOEXEC);
	if (ch->ch_slots == NULL || ch->ch_ep < 0) {
		bench_fail("churn: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < nslots; i++)
		ch->ch_slots[i].sl_fd = -1;
	return 0;
}

static void bench_churn_free(struct bench_churner *ch)
{
	size_t i;

	for (i = 0; ch->ch_slots != NULL && i < ch->ch_nslots; i++)
		if (ch->ch_slots[i].sl_fd >= 0)
			bench_io_close(ch->ch_slots[i].sl_fd);
	if (ch->ch_ep >= 0)
		close(ch->ch_ep);
	free(ch->ch_slots);
	free(ch->ch_ids);
}

/* Merges the workers' ids and histograms into r and checks the ids. */
static int bench_churn_collect(struct bench_churner *chs, unsigned n,
			       struct bench_result *r)
{
	size_t total = 0, at = 0;
	uint32_t *all;
	unsigned i;
	int rc;

	r->r_traffic = true;
	r->r_hist = malloc(sizeof(*r->r_hist));
	if (r->r_hist != NULL)
		bench_hist_init(r->r_hist);
	for (i = 0; i < n; i++) {
		total += chs[i].ch_nids;
		r->r_messages += chs[i].ch_measured;
		if (r->r_hist != NULL)
			bench_hist_merge(r->r_hist, &chs[i].ch_hist);
	}
	r->r_connections = total;
	all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL) {
		bench_fail("churn: out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (chs[i].ch_nids > 0)
			memcpy(all + at, chs[i].ch_ids,
			       chs[i].ch_nids * sizeof(*all));
		at += chs[i].ch_nids;
	}
	rc = bench_net_ids_distinct(all, total, "churn");
	free(all);
	return rc;
}

int bench_scenario_churn(const struct bench_opts *o, struct bench_result *r)
{
	unsigned n = o->o_threads, i, started = 0;
	struct bench_churner *chs = calloc(n, sizeof(*chs));
	uint64_t t0;
	int rc = -1;

	r->r_clients = o->o_clients;
	if (chs == NULL) {
		bench_fail("churn: out of memory");
		return -1;
	}
	if (o->o_server_pid > 0)
		bench_proc_settle(o->o_server_pid, &r->r_srv_start);
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		chs[i].ch_ep = -1;
		chs[i].ch_opts = o;
		chs[i].ch_warm = t0 + bench_s_to_ns(o->o_warmup);
		chs[i].ch_end = chs[i].ch_warm + bench_s_to_ns(o->o_duration);
		if (bench_churn_init(&chs[i], o->o_clients / n +
						      (i < o->o_clients % n)) <
		    0)
			goto out;
	}
	for (; started < n; started++)
		if (pthread_create(&chs[started].ch_thread, NULL,
				   bench_churn_main, &chs[started]) != 0) {
			bench_fail("cannot start a worker thread");
			break;
		}
	if (started == n)
		bench_cost_window(o->o_server_pid, chs[0].ch_warm,
				  chs[0].ch_end, &r->r_cost_start,
				  &r->r_cost_end);
	for (i = 0; i < started; i++)
		pthread_join(chs[i].ch_thread, NULL);
	r->r_elapsed_s = bench_ns_to_s(bench_now_ns() - t0);
	if (started == n && bench_churn_collect(chs, n, r) == 0 &&
	    !bench_failed())
		rc = 0;
	if (o->o_server_pid > 0 && rc == 0)
		bench_proc_settle(o->o_server_pid, &r->r_srv_end);
out:
	for (i = 0; i < n; i++)
		bench_churn_free(&chs[i]);
	free(chs);
	return rc;
}
