/* SPDX-License-Identifier: ISC */
/*
 * bench_topo.c: building the topology a traffic scenario runs (see
 * bench_engine.h): the connections and the streams between them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_engine.h"
#include "bench_io.h"
#include "bench_payload.h"

int bench_topo_init(struct bench_topo *t, size_t nconns, unsigned long window,
		    size_t size)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->t_conns = calloc(nconns, sizeof(*t->t_conns));
	if (t->t_conns == NULL) {
		bench_fail("%zu clients: out of memory", nconns);
		return -1;
	}
	t->t_nconns = nconns;
	t->t_window = window;
	t->t_size = size;
	for (i = 0; i < nconns; i++) {
		t->t_conns[i].c_fd = -1;
		t->t_conns[i].c_index = (uint32_t)i;
		t->t_conns[i].c_group = (uint32_t)i;
	}
	return 0;
}

/* Appends v to a growing array of stream indexes. */
static int bench_topo_push(uint32_t **v, size_t *n, uint32_t x)
{
	uint32_t *nv;

	if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4...: grow to 2n */
		nv = realloc(*v, (*n ? *n * 2 : 1) * sizeof(**v));
		if (nv == NULL)
			return -1;
		*v = nv;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static int bench_topo_grow(struct bench_topo *t)
{
	size_t cap = t->t_scap ? t->t_scap * 2 : 64;
	struct bench_stream *ns;

	if (t->t_nstreams < t->t_scap)
		return 0;
	ns = realloc(t->t_streams, cap * sizeof(*ns));
	if (ns == NULL)
		return -1;
	t->t_streams = ns;
	t->t_scap = cap;
	return 0;
}

uint32_t bench_topo_stream(struct bench_topo *t, uint32_t src, uint32_t dst,
			   unsigned flags)
{
	struct bench_conn *sc = &t->t_conns[src];
	struct bench_stream *s;
	uint32_t idx = (uint32_t)t->t_nstreams;
	int rc;

	if (t->t_nstreams >= BENCH_PL_MAX_STREAMS || bench_topo_grow(t) < 0) {
		bench_fail("too many streams (%zu)", t->t_nstreams);
		return BENCH_NOBODY;
	}
	s = &t->t_streams[t->t_nstreams];
	memset(s, 0, sizeof(*s));
	s->st_src = src;
	s->st_dst = dst;
	s->st_echo = BENCH_NOBODY;
	s->st_credit = BENCH_NOBODY;
	s->st_flags = flags;
	if (flags & BENCH_ST_REPLY) {
		sc->c_replies = true;
		rc = 0;
	} else if (flags & BENCH_ST_TRICKLE) {
		rc = bench_topo_push(&sc->c_trickle, &sc->c_ntrickle, idx);
	} else {
		s->st_credit = src;
		rc = bench_topo_push(&sc->c_tx, &sc->c_ntx, idx);
	}
	if (rc < 0) {
		bench_fail("streams: out of memory");
		return BENCH_NOBODY;
	}
	if (flags & BENCH_ST_CHECKED)
		t->t_conns[dst].c_reads = true;
	t->t_nstreams++;
	return idx;
}

void bench_topo_free(struct bench_topo *t)
{
	size_t i;

	for (i = 0; i < t->t_nconns; i++) {
		struct bench_conn *c = &t->t_conns[i];

		if (c->c_fd >= 0)
			bench_io_close(c->c_fd);
		free(c->c_tx);
		free(c->c_trickle);
		free(c->c_out);
		free(c->c_carry);
	}
	free(t->t_conns);
	free(t->t_streams);
	memset(t, 0, sizeof(*t));
}
