/* SPDX-License-Identifier: ISC */
/*
 * fuzz_route.c: pb_route_input, which finds the frames of each read and
 * hands them to its callback grouped by destination, over arbitrary byte
 * streams read in pieces the input chooses. Both ways of grouping (a few
 * destinations in a batch, or many, which are sorted) must deliver what
 * doc/protocol.md promises, checked against the reference parser: every
 * payload handed over ends with its one 0x00 and holds no other, each
 * complete frame is handed over exactly once, in order per destination,
 * with the destination it was sent to; a batch calls back once per
 * destination; the counts (rt_frames, bytes routed) match; what is left
 * in the buffer is exactly the start of the next frame; and -1 comes
 * exactly when a frame is too long.
 *
 * Input: 2 bytes for max_frame, 1 byte for the number of read lengths,
 * the read lengths (1 byte each, used in turn: v < 128 is v bytes, more is
 * (v - 127) * 64 bytes, so that one read may hold many batches), then the
 * stream.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "route.h"

#define FUZZ_MAX_READS 32

/* One call of the callback: which batch of its pb_route_input, and dest. */
struct route_call {
	size_t rc_batch;
	uint32_t rc_dest;
};

struct route_ctx {
	const char *rx_buf; /* the read buffer of this pb_route_input */
	size_t rx_base;	    /* the stream offset of rx_buf[0] */
	size_t rx_first;    /* the first frame this call may route */
	const struct fuzz_ref_frame *rx_ref;
	size_t rx_nref;
	size_t *rx_prev;  /* the frame before each to the same dest */
	bool *rx_done;	  /* frames handed over so far */
	size_t rx_frames; /* frames handed over in this call */
	size_t rx_bytes;  /* payload bytes handed over in this call */
	struct route_call *rx_calls; /* the calls of this pb_route_input */
	size_t rx_ncalls;
};

/* The reference frame whose header starts at stream offset 'at', or
 * rx_nref if none does. */
static size_t route_find(const struct route_ctx *x, size_t at)
{
	size_t lo = 0, hi = x->rx_nref;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->rx_ref[mid].rf_off < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->rx_nref && x->rx_ref[lo].rf_off == at ? lo : x->rx_nref;
}

static void route_cb(void *arg, uint32_t dest, const struct iovec *iov,
		     size_t n)
{
	struct route_ctx *x = arg;
	size_t i, batch = 0;

	FUZZ_CHECK(n >= 1 && n <= PB_ROUTE_BATCH);
	for (i = 0; i < n; i++) {
		const char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len, k;

		/* A payload: one 0x00, at its end. */
		FUZZ_CHECK(len >= 1);
		FUZZ_CHECK(p[len - 1] == 0);
		FUZZ_CHECK(memchr(p, 0, len - 1) == NULL);
		/* Right where the reference found a frame to dest, in the
		 * read buffer. */
		FUZZ_CHECK(p >= x->rx_buf + PB_FRAME_HEADER);
		k = route_find(x, x->rx_base + (size_t)(p - x->rx_buf) -
					  PB_FRAME_HEADER);
		FUZZ_CHECK(k < x->rx_nref && k >= x->rx_first);
		FUZZ_CHECK(x->rx_ref[k].rf_len == len);
		FUZZ_CHECK(x->rx_ref[k].rf_dest == dest);
		/* Once, and after the frame before it to dest. */
		FUZZ_CHECK(!x->rx_done[k]);
		FUZZ_CHECK(x->rx_prev[k] == x->rx_nref ||
			   x->rx_done[x->rx_prev[k]]);
		x->rx_done[k] = true;
		/* All of a call from one batch. */
		if (i == 0)
			batch = (k - x->rx_first) / PB_ROUTE_BATCH;
		FUZZ_CHECK((k - x->rx_first) / PB_ROUTE_BATCH == batch);
		x->rx_frames++;
		x->rx_bytes += len;
	}
	FUZZ_CHECK(x->rx_ncalls < x->rx_nref);
	x->rx_calls[x->rx_ncalls].rc_batch = batch;
	x->rx_calls[x->rx_ncalls].rc_dest = dest;
	x->rx_ncalls++;
}

static int route_call_cmp(const void *a, const void *b)
{
	const struct route_call *x = a, *y = b;

	if (x->rc_batch != y->rc_batch)
		return x->rc_batch < y->rc_batch ? -1 : 1;
	return x->rc_dest < y->rc_dest ? -1 : x->rc_dest > y->rc_dest;
}

/* Frame k's index sorted by (dest, k): to link frames to the same dest. */
struct route_order {
	uint32_t ro_dest;
	size_t ro_k;
};

static int route_order_cmp(const void *a, const void *b)
{
	const struct route_order *x = a, *y = b;

	if (x->ro_dest != y->ro_dest)
		return x->ro_dest < y->ro_dest ? -1 : 1;
	return x->ro_k < y->ro_k ? -1 : x->ro_k > y->ro_k;
}

/* prev[k]: the frame before k to the same destination, or nref. */
static size_t *route_link(const struct fuzz_ref_frame *ref, size_t nref)
{
	struct route_order *o = malloc((nref + 1) * sizeof(*o));
	size_t *prev = malloc((nref + 1) * sizeof(*prev));
	size_t k;

	if (o == NULL || prev == NULL)
		abort();
	for (k = 0; k < nref; k++) {
		o[k].ro_dest = ref[k].rf_dest;
		o[k].ro_k = k;
	}
	qsort(o, nref, sizeof(*o), route_order_cmp);
	for (k = 0; k < nref; k++)
		prev[o[k].ro_k] = k > 0 && o[k - 1].ro_dest == o[k].ro_dest
					  ? o[k - 1].ro_k
					  : nref;
	free(o);
	return prev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pb_frame_parser p;
	struct route_ctx x = {.rx_base = 0};
	struct fuzz_ref_frame *ref;
	enum fuzz_ref_status st;
	const uint8_t *reads, *s;
	size_t max, nreads, n, nref, ref_used, fed = 0, held = 0, turn = 0;
	size_t total = 0, k;
	struct pb_route *rt;
	struct fuzz_in in;
	char *buf = NULL;
	int rc = 0;
	uint16_t m;

	fuzz_in_init(&in, data, size);
	m = fuzz_u16(&in);
	max = m == 0xffff ? 65536 : 1 + m % 2048;
	reads = fuzz_take(&in, fuzz_u8(&in) % FUZZ_MAX_READS, &nreads);
	s = fuzz_take(&in, in.fi_left, &n);

	st = fuzz_ref_parse(s, n, max, &ref, &nref, &ref_used);
	x.rx_ref = ref;
	x.rx_nref = nref;
	x.rx_prev = route_link(ref, nref);
	x.rx_done = calloc(nref + 1, sizeof(*x.rx_done));
	x.rx_calls = malloc((nref + 1) * sizeof(*x.rx_calls));
	rt = malloc(sizeof(*rt));
	if (x.rx_done == NULL || x.rx_calls == NULL || rt == NULL)
		abort();
	pb_frame_parser_init(&p, max);

	while (fed < n && rc == 0) {
		size_t piece = n, before, consumed, i;
		char *b;

		if (nreads > 0) {
			piece = reads[turn % nreads];
			if (piece >= 128)
				piece = (piece - 127) * 64;
		}
		if (turn++ >= nreads)
			piece++;
		if (piece > n - fed)
			piece = n - fed;
		/* The read buffer, of exactly what it holds: what was left
		 * and the new piece. */
		b = malloc(held + piece > 0 ? held + piece : 1);
		if (b == NULL)
			abort();
		if (held > 0)
			memcpy(b, buf, held);
		memcpy(b + held, s + fed, piece);
		free(buf);
		buf = b;
		fed += piece;
		held += piece;

		x.rx_buf = buf;
		x.rx_base = fed - held;
		x.rx_first = route_find(&x, x.rx_base);
		x.rx_frames = x.rx_bytes = x.rx_ncalls = 0;
		before = held;
		rc = pb_route_input(rt, &p, buf, &held, route_cb, &x);
		FUZZ_CHECK(rc == 0 || rc == -1);
		FUZZ_CHECK(held <= before);
		consumed = before - held;
		FUZZ_CHECK(rt->rt_frames == x.rx_frames);
		FUZZ_CHECK(consumed ==
			   x.rx_bytes + PB_FRAME_HEADER * x.rx_frames);
		/* What is left: the stream from where the frames routed end. */
		FUZZ_CHECK(held == 0 ||
			   memcmp(buf, s + x.rx_base + consumed, held) == 0);
		/* Every complete frame routed: what is left is not one. */
		if (rc == 0) {
			struct fuzz_ref_frame f;

			FUZZ_CHECK(fuzz_ref_next((const uint8_t *)buf, held,
						 max, &f) == FUZZ_REF_MORE);
		}
		/* One call per destination and batch. */
		qsort(x.rx_calls, x.rx_ncalls, sizeof(*x.rx_calls),
		      route_call_cmp);
		for (i = 1; i < x.rx_ncalls; i++)
			FUZZ_CHECK(route_call_cmp(&x.rx_calls[i - 1],
						  &x.rx_calls[i]) != 0);
		total += x.rx_frames;
	}
	/* Every complete frame handed over, and -1 exactly when the
	 * reference finds a frame too long. */
	FUZZ_CHECK(total == nref);
	for (k = 0; k < nref; k++)
		FUZZ_CHECK(x.rx_done[k]);
	FUZZ_CHECK((rc == -1) == (st == FUZZ_REF_TOO_LONG));
	FUZZ_CHECK(rc == -1 || held == n - ref_used);

	free(buf);
	free(rt);
	free(x.rx_calls);
	free(x.rx_done);
	free(x.rx_prev);
	free(ref);
	return 0;
}
