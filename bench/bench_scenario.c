/* SPDX-License-Identifier: ISC */
/*
 * bench_scenario.c: the scenarios as topologies. Each traffic scenario
 * (pingpong, pairs, fanin, fanout, slow, scale) only says which client
 * sends to which; connecting them and running the traffic is common, and
 * the engine (bench_engine.c) does the rest. The idle scenario, which sends
 * nothing, lives here too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_engine.h"

#define BENCH_MEASURED (BENCH_ST_CHECKED | BENCH_ST_LATENCY)

/* Client a sends to b and b to a; both in group g. */
static int bench_pair(struct bench_topo *t, uint32_t a, uint32_t b, uint32_t g)
{
	t->t_conns[a].c_group = g;
	t->t_conns[b].c_group = g;
	if (bench_topo_stream(t, a, b, BENCH_MEASURED) == BENCH_NOBODY ||
	    bench_topo_stream(t, b, a, BENCH_MEASURED) == BENCH_NOBODY)
		return -1;
	return 0;
}

/*
 * One message in flight: 0 sends to 1, which answers at once with the
 * same send time; 0's window slot comes back with the answer, so the
 * latency measured is the round trip.
 */
static int bench_build_pingpong(struct bench_topo *t, struct bench_result *r)
{
	uint32_t ping, pong;

	t->t_conns[0].c_group = 0;
	t->t_conns[1].c_group = 0;
	ping = bench_topo_stream(t, 0, 1, BENCH_ST_CHECKED);
	pong = bench_topo_stream(t, 1, 0, BENCH_MEASURED | BENCH_ST_REPLY);
	if (ping == BENCH_NOBODY || pong == BENCH_NOBODY)
		return -1;
	t->t_streams[ping].st_credit = BENCH_NOBODY;
	t->t_streams[ping].st_echo = pong;
	t->t_streams[pong].st_credit = 0;
	r->r_senders = 1;
	r->r_receivers = 1;
	return 0;
}

/*
 * Clients 2k and 2k+1 send to each other. With several servers, client i on
 * server i % naddr (bench_net.c), the two of a pair are always on
 * different servers, as are pingpong's 0 and 1.
 */
static int bench_build_pairs(struct bench_topo *t, size_t n,
			     struct bench_result *r)
{
	uint32_t k;

	for (k = 0; k < n / 2; k++)
		if (bench_pair(t, 2 * k, 2 * k + 1, k) < 0)
			return -1;
	r->r_senders = n;
	r->r_receivers = n;
	return 0;
}

/* Client 0 and n others: they send to it (in) or it to them (out). */
static int bench_build_fan(struct bench_topo *t, size_t n, bool in,
			   struct bench_result *r)
{
	uint32_t i;

	for (i = 0; i <= n; i++)
		t->t_conns[i].c_group = 0;
	for (i = 1; i <= n; i++)
		if (bench_topo_stream(t, in ? i : 0, in ? 0 : i,
				      BENCH_MEASURED) == BENCH_NOBODY)
			return -1;
	r->r_senders = in ? n : 1;
	r->r_receivers = in ? 1 : n;
	return 0;
}

/* Pairs of clients 0..n-1, and k more that never read, sent a trickle. */
static int bench_build_slow(struct bench_topo *t, size_t n, size_t k,
			    struct bench_result *r)
{
	uint32_t i, j;

	if (bench_build_pairs(t, n, r) < 0)
		return -1;
	for (j = 0; j < k; j++)
		t->t_conns[n + j].c_deaf = true;
	for (i = 0; i < n; i++)
		for (j = 0; j < k; j++)
			if (bench_topo_stream(t, i, (uint32_t)(n + j),
					      BENCH_ST_TRICKLE) == BENCH_NOBODY)
				return -1;
	return 0;
}

/*
 * n clients; 1% of them, spread out, in pairs; the others stay silent.
 * With several servers (naddr), client i on server i % naddr, a pair whose
 * two would be on the same server takes the client after the second
 * instead, so that every pair crosses servers.
 */
static int bench_build_scale(struct bench_topo *t, size_t n, size_t naddr,
			     struct bench_result *r)
{
	size_t active = n / 100 & ~(size_t)1, step, k, skew;

	if (active < 2)
		active = 2;
	step = n / active;
	skew = naddr > 1 && step % naddr == 0 ? 1 : 0;
	for (k = 0; k < active / 2; k++)
		if (bench_pair(t, (uint32_t)(2 * k * step),
			       (uint32_t)((2 * k + 1) * step + skew),
			       (uint32_t)k) < 0)
			return -1;
	r->r_senders = active;
	r->r_receivers = active;
	return 0;
}

static size_t bench_conns_needed(const struct bench_opts *o)
{
	switch (o->o_scenario) {
	case BENCH_PINGPONG:
		return 2;
	case BENCH_FANIN:
	case BENCH_FANOUT:
		return o->o_clients + 1;
	case BENCH_SLOW:
		return o->o_clients + o->o_slow;
	default:
		return o->o_clients;
	}
}

static int bench_build(struct bench_topo *t, const struct bench_opts *o,
		       struct bench_result *r)
{
	switch (o->o_scenario) {
	case BENCH_PINGPONG:
		return bench_build_pingpong(t, r);
	case BENCH_PAIRS:
		return bench_build_pairs(t, o->o_clients, r);
	case BENCH_FANIN:
		return bench_build_fan(t, o->o_clients, true, r);
	case BENCH_FANOUT:
		return bench_build_fan(t, o->o_clients, false, r);
	case BENCH_SLOW:
		return bench_build_slow(t, o->o_clients, o->o_slow, r);
	case BENCH_SCALE:
		return bench_build_scale(t, o->o_clients, o->o_naddrs, r);
	default:
		bench_fail("not a traffic scenario");
		return -1;
	}
}

/* Connects every client of t and gives each stream its destination id. */
static int bench_connect_topo(struct bench_topo *t, const struct bench_opts *o,
			      struct bench_result *r)
{
	size_t n = t->t_nconns, i;
	int *fds = calloc(n, sizeof(*fds));
	uint32_t *ids = calloc(n, sizeof(*ids));
	uint64_t t0 = bench_now_ns();
	int rc = -1;

	if (fds == NULL || ids == NULL) {
		bench_fail("%zu clients: out of memory", n);
		goto out;
	}
	if (bench_net_connect_all(o->o_addrs, o->o_naddrs, fds, ids, n,
				  o->o_timeout) < 0)
		goto out;
	r->r_setup_s = bench_ns_to_s(bench_now_ns() - t0);
	for (i = 0; i < n; i++) {
		t->t_conns[i].c_fd = fds[i];
		t->t_conns[i].c_id = ids[i];
	}
	for (i = 0; i < t->t_nstreams; i++)
		t->t_streams[i].st_dst_id =
			t->t_conns[t->t_streams[i].st_dst].c_id;
	rc = bench_net_ids_distinct(ids, n, "connecting");
out:
	free(fds);
	free(ids);
	return rc;
}

int bench_scenario_traffic(const struct bench_opts *o, struct bench_result *r)
{
	struct bench_topo t;
	size_t n = bench_conns_needed(o);
	int rc = -1;

	r->r_clients = n;
	r->r_window = o->o_scenario == BENCH_PINGPONG ? 1 : o->o_window;
	r->r_size = o->o_size;
	if (bench_topo_init(&t, n, r->r_window, o->o_size) < 0)
		return -1;
	if (bench_build(&t, o, r) < 0 || bench_connect_topo(&t, o, r) < 0)
		goto out;
	if (o->o_server_pid > 0)
		bench_proc_sample(o->o_server_pid, &r->r_srv_start);
	if (!bench_failed())
		rc = bench_engine_run(&t, o, r);
out:
	bench_topo_free(&t);
	return rc;
}

/* Each idle client must still be connected, with nothing to read. */
static int bench_idle_check(const int *fds, size_t n)
{
	size_t i;
	char b;

	for (i = 0; i < n; i++) {
		ssize_t got = recv(fds[i], &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got > 0)
			bench_fail("idle client %zu received data", i);
		else if (got == 0)
			bench_fail("idle client %zu: the server closed the "
				   "connection",
				   i);
		else
			bench_fail("idle client %zu: %s", i, strerror(errno));
		return -1;
	}
	return 0;
}

int bench_scenario_idle(const struct bench_opts *o, struct bench_result *r)
{
	size_t n = o->o_clients;
	int *fds = calloc(n, sizeof(*fds));
	uint32_t *ids = calloc(n, sizeof(*ids));
	uint64_t t0;
	int rc = -1;

	r->r_clients = n;
	if (fds == NULL || ids == NULL) {
		bench_fail("%zu clients: out of memory", n);
		goto out;
	}
	if (o->o_server_pid > 0)
		bench_proc_settle(o->o_server_pid, &r->r_srv_start);
	t0 = bench_now_ns();
	if (bench_failed() ||
	    bench_net_connect_all(o->o_addrs, o->o_naddrs, fds, ids, n,
				  o->o_timeout) < 0)
		goto out;
	r->r_setup_s = bench_ns_to_s(bench_now_ns() - t0);
	r->r_connects_per_s = r->r_setup_s > 0 ? (double)n / r->r_setup_s : 0;
	if (o->o_server_pid > 0)
		bench_proc_settle(o->o_server_pid, &r->r_srv_end);
	rc = bench_net_ids_distinct(ids, n, "idle clients");
	if (rc == 0)
		rc = bench_idle_check(fds, n);
	bench_net_close_all(fds, n);
	if (o->o_server_pid > 0 && !bench_failed())
		bench_proc_settle(o->o_server_pid, &r->r_srv_closed);
	r->r_elapsed_s = bench_ns_to_s(bench_now_ns() - t0);
out:
	free(fds);
	free(ids);
	return rc;
}
