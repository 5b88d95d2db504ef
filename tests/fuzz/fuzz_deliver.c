/* SPDX-License-Identifier: ISC */
/*
 * fuzz_deliver.c: one sender's stream, end to end through the core, the
 * way both servers drive it: reads as large as pb_rbuf_allowance permits,
 * pb_route_input, and per group pb_route_behind when frames to that
 * destination already wait, else pb_route_deliver into the destination's
 * outbox through a write that takes as many bytes as the input says
 * (none, some, a frame cut short, or all); destinations drain their
 * outboxes in pieces and the sender retries its lanes (pb_park_retry),
 * in an order the input chooses.
 *
 * What doc/protocol.md promises must hold after every step: for each
 * destination, what it was written, then its outbox, then the sender's
 * lane for it are exactly, in order, the payloads sent to it; no frame is
 * ever lost or cut for want of room (the read allowance sees to that), the
 * frames counted forwarded are the 0x00 bytes written, the frames counted
 * waiting for a destination (rr_parked in, pr_moved out) are those in its
 * lane, and the memory budget is charged for exactly what the queues hold
 * allocated. At the
 * end everything is drained: each destination must have received exactly
 * what the reference parser finds in the stream for it, and once freed the
 * budget is back to 0.
 *
 * Input: 2 bytes for max_frame, 2 for the outboxes' limit and 2 for the
 * waiting room's (both at least max_frame, as the options require), then
 * steps, 1 byte each and their arguments; a read's bytes come from the
 * input, and so does each write's length, when it happens.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "budget.h"
#include "frame.h"
#include "fuzz.h"
#include "outbox.h"
#include "park.h"
#include "rbuf.h"
#include "route.h"

#define FUZZ_NDESTS   4 /* destinations 0 .. 3 exist, others are unknown */
#define FUZZ_MAX_STEP 2048

/* A byte array that grows. */
struct bytes {
	uint8_t *b_p;
	size_t b_len;
	size_t b_cap;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->b_len + n > b->b_cap) {
		size_t cap = b->b_cap ? b->b_cap : 256;
		uint8_t *q;

		while (cap < b->b_len + n)
			cap *= 2;
		q = realloc(b->b_p, cap);
		if (q == NULL)
			abort();
		b->b_p = q;
		b->b_cap = cap;
	}
	if (n > 0)
		memcpy(b->b_p + b->b_len, p, n);
	b->b_len += n;
}

struct dest {
	struct pb_outbox d_ob;
	struct bytes d_sink;	 /* written to it so far */
	struct bytes d_sent;	 /* payloads routed to it so far */
	size_t d_forwarded;	 /* frames counted written whole */
	size_t d_waiting;	 /* frames counted waiting for it, as the
				    servers count them: rr_parked in,
				    pr_moved out */
	struct deliver *d_world; /* for its write function */
	uint32_t d_id;
};

struct deliver {
	struct fuzz_in *dv_in;
	struct pb_budget dv_budget;
	struct pb_park dv_pk;
	struct dest dv_dest[FUZZ_NDESTS];
	size_t dv_unknown; /* frames to a destination that does not exist */
};

/* The destination's socket: takes what the input says, from iov. */
static ssize_t deliver_write(void *ctx, const struct iovec *iov, size_t n)
{
	struct dest *d = ctx;
	uint8_t v = fuzz_u8(d->d_world->dv_in);
	size_t total = 0, take, left, i;

	/* Written straight through only when nothing is queued before. */
	FUZZ_CHECK(pb_outbox_empty(&d->d_ob));
	FUZZ_CHECK(n >= 1 && n <= PB_ROUTE_BATCH);
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (v == 255)
		return -1; /* EAGAIN */
	take = v < 128 && v < total ? v : total;
	for (i = 0, left = take; i < n && left > 0; i++) {
		size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;

		bytes_add(&d->d_sink, iov[i].iov_base, k);
		left -= k;
	}
	return (ssize_t)take;
}

/* The frames of iov for dest, as their bytes: what dest must get. */
static void deliver_note(struct dest *d, const struct iovec *iov, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		bytes_add(&d->d_sent, iov[i].iov_base, iov[i].iov_len);
}

/* The frames waiting in the lane for id. */
static size_t deliver_lane_frames(const struct deliver *dv, uint32_t id)
{
	long k = pb_park_find(&dv->dv_pk, id);

	if (k < 0)
		return 0;
	return pb_outbox_count_frames(&dv->dv_pk.pk_lanes[k].pl_frames);
}

/* What a server does with a group (a pb_route_fn): deliver_run. */
static void deliver_group(void *arg, uint32_t id, const struct iovec *iov,
			  size_t n)
{
	struct deliver *dv = arg;
	struct pb_route_result r;
	struct dest *d;
	size_t sink_before;
	bool was_empty;

	if (pb_park_find(&dv->dv_pk, id) >= 0) {
		FUZZ_CHECK(id < FUZZ_NDESTS);
		r = pb_route_behind(&dv->dv_pk, id, iov, n);
		FUZZ_CHECK(r.rr_lost == 0 && !r.rr_cut);
		FUZZ_CHECK(r.rr_parked == n);
		dv->dv_dest[id].d_waiting += r.rr_parked;
		FUZZ_CHECK(r.rr_sent == 0 && r.rr_bytes == 0);
		FUZZ_CHECK(r.rr_wait == PB_PARK_GO);
		deliver_note(&dv->dv_dest[id], iov, n);
		return;
	}
	if (id >= FUZZ_NDESTS) {
		dv->dv_unknown += n;
		return;
	}
	d = &dv->dv_dest[id];
	was_empty = pb_outbox_empty(&d->d_ob);
	sink_before = d->d_sink.b_len;
	r = pb_route_deliver(&d->d_ob, &dv->dv_pk, id, iov, n, deliver_write,
			     d);
	/* Nothing lost or cut: the outbox has room for a frame when empty,
	 * the waiting room for whatever was read. */
	FUZZ_CHECK(r.rr_lost == 0);
	FUZZ_CHECK(!r.rr_cut);
	FUZZ_CHECK(r.rr_sent <= n);
	FUZZ_CHECK(r.rr_bytes == d->d_sink.b_len - sink_before);
	FUZZ_CHECK(r.rr_started == (was_empty && !pb_outbox_empty(&d->d_ob)));
	FUZZ_CHECK(r.rr_wait == pb_park_wait_for(&dv->dv_pk, id, &d->d_ob));
	/* What could not be written went to the outbox first. */
	FUZZ_CHECK(r.rr_wait != PB_PARK_RETRY);
	/* The rest is parked, and counted: lane id is new. */
	FUZZ_CHECK(r.rr_parked == deliver_lane_frames(dv, id));
	FUZZ_CHECK(r.rr_sent + r.rr_parked <= n);
	d->d_waiting += r.rr_parked;
	d->d_forwarded += r.rr_sent;
	deliver_note(d, iov, n);
}

/* Destination d takes n bytes of its outbox. */
static void deliver_drain(struct dest *d, size_t n)
{
	struct iovec iov[2];
	size_t left = n;
	int cnt, i;

	cnt = pb_outbox_peek(&d->d_ob, iov);
	for (i = 0; i < cnt && left > 0; i++) {
		size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;

		bytes_add(&d->d_sink, iov[i].iov_base, k);
		left -= k;
	}
	FUZZ_CHECK(left == 0);
	d->d_forwarded += pb_outbox_written(&d->d_ob, n);
}

/* The sender retries its lanes, last first, as pb_deliver_retry does. */
static void deliver_retry(struct deliver *dv, long only)
{
	size_t i = dv->dv_pk.pk_nlanes;

	while (i-- > 0) {
		uint32_t id = dv->dv_pk.pk_lanes[i].pl_dest;
		struct dest *d;
		struct pb_park_retry r;
		size_t before;
		bool was_empty;

		if (only >= 0 && (long)id != only)
			continue;
		FUZZ_CHECK(id < FUZZ_NDESTS);
		d = &dv->dv_dest[id];
		was_empty = pb_outbox_empty(&d->d_ob);
		before = pb_outbox_count_frames(&d->d_ob);
		r = pb_park_retry(&dv->dv_pk, i, &d->d_ob);
		FUZZ_CHECK(r.pr_moved ==
			   pb_outbox_count_frames(&d->d_ob) - before);
		FUZZ_CHECK(r.pr_moved <= d->d_waiting);
		d->d_waiting -= r.pr_moved;
		FUZZ_CHECK(r.pr_started ==
			   (was_empty && !pb_outbox_empty(&d->d_ob)));
		FUZZ_CHECK(r.pr_wait ==
			   pb_park_wait_for(&dv->dv_pk, id, &d->d_ob));
		/* An empty outbox takes at least one frame. */
		FUZZ_CHECK(!was_empty || r.pr_wait != PB_PARK_RETRY);
	}
}

/* Compares a piece of d's queues with its expected bytes at *off. */
static void deliver_match(const struct dest *d, const void *p, size_t n,
			  size_t *off)
{
	FUZZ_CHECK(*off + n <= d->d_sent.b_len);
	FUZZ_CHECK(n == 0 || memcmp(p, d->d_sent.b_p + *off, n) == 0);
	*off += n;
}

static void deliver_check_queue(const struct dest *d,
				const struct pb_outbox *ob, size_t *off)
{
	struct iovec iov[2];
	int cnt = pb_outbox_peek(ob, iov), i;

	for (i = 0; i < cnt; i++)
		deliver_match(d, iov[i].iov_base, iov[i].iov_len, off);
}

static size_t deliver_zeros(const struct bytes *b)
{
	size_t i, z = 0;

	for (i = 0; i < b->b_len; i++)
		z += b->b_p[i] == 0;
	return z;
}

/* Written, then queued, then waiting: the payloads sent, in order. */
static void deliver_check(struct deliver *dv)
{
	size_t used = 0, i, parked = 0;
	uint32_t id;

	for (id = 0; id < FUZZ_NDESTS; id++) {
		const struct dest *d = &dv->dv_dest[id];
		long k = pb_park_find(&dv->dv_pk, id);
		size_t off = 0;

		deliver_match(d, d->d_sink.b_p, d->d_sink.b_len, &off);
		deliver_check_queue(d, &d->d_ob, &off);
		if (k >= 0) {
			const struct pb_outbox *lane =
				&dv->dv_pk.pk_lanes[k].pl_frames;

			FUZZ_CHECK(!pb_outbox_empty(lane));
			deliver_check_queue(d, lane, &off);
			parked += pb_outbox_len(lane);
		}
		FUZZ_CHECK(off == d->d_sent.b_len);
		FUZZ_CHECK(d->d_waiting == deliver_lane_frames(dv, id));
		FUZZ_CHECK(d->d_forwarded == deliver_zeros(&d->d_sink));
		used += d->d_ob.ob_cap;
	}
	FUZZ_CHECK(pb_park_bytes(&dv->dv_pk) == parked);
	FUZZ_CHECK(parked <= dv->dv_pk.pk_limit);
	for (i = 0; i < dv->dv_pk.pk_nlanes; i++)
		used += dv->dv_pk.pk_lanes[i].pl_frames.ob_cap;
	FUZZ_CHECK(pb_budget_used(&dv->dv_budget) == used);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deliver *dv = calloc(1, sizeof(*dv));
	struct pb_route *rt = malloc(sizeof(*rt));
	struct pb_frame_parser p;
	struct fuzz_ref_frame *ref;
	struct bytes fed = {.b_len = 0}, held = {.b_len = 0};
	struct pb_rbuf rb;
	struct fuzz_in in;
	size_t max, limit, pk_limit, steps, nref, used, k, unknown = 0;
	bool broken = false;
	uint32_t id;
	uint16_t m;

	if (dv == NULL || rt == NULL)
		abort();
	fuzz_in_init(&in, data, size);
	dv->dv_in = &in;
	m = fuzz_u16(&in);
	max = m == 0xffff ? 65536 : 1 + m % 2048;
	limit = max + fuzz_u16(&in) % 8192;
	pk_limit = max + fuzz_u16(&in) % 8192;
	pb_budget_init(&dv->dv_budget, SIZE_MAX);
	pb_park_init(&dv->dv_pk, pk_limit, &dv->dv_budget);
	for (id = 0; id < FUZZ_NDESTS; id++) {
		pb_outbox_init(&dv->dv_dest[id].d_ob, limit, &dv->dv_budget);
		dv->dv_dest[id].d_world = dv;
		dv->dv_dest[id].d_id = id;
	}
	pb_frame_parser_init(&p, max);
	pb_rbuf_init(&rb, max, NULL);

	for (steps = 0; in.fi_left > 0 && steps < FUZZ_MAX_STEP; steps++) {
		uint8_t op = fuzz_u8(&in);
		struct dest *d = &dv->dv_dest[(op >> 2) % FUZZ_NDESTS];

		switch (op % 4) {
		case 0: {
			/* A read: no more than the allowance. */
			size_t want = fuzz_u8(&in), got, allow;
			const uint8_t *s;

			if (want >= 128)
				want = (want - 127) * 64;
			rb.rb_len = held.b_len;
			allow = pb_rbuf_allowance(&rb, &dv->dv_pk);
			if (broken || want > allow)
				want = broken ? 0 : allow;
			s = fuzz_take(&in, want, &got);
			if (got == 0)
				break;
			bytes_add(&fed, s, got);
			bytes_add(&held, s, got);
			if (pb_route_input(rt, &p, (char *)held.b_p,
					   &held.b_len, deliver_group, dv) < 0)
				broken = true; /* protocol error: no more */
			break;
		}
		case 1: {
			size_t n = fuzz_u16(&in);

			deliver_drain(d, n % (pb_outbox_len(&d->d_ob) + 1));
			break;
		}
		case 2:
			deliver_retry(dv, -1);
			break;
		default:
			deliver_retry(dv, (long)d->d_id);
			break;
		}
		deliver_check(dv);
	}

	/* Everything drained: every destination reads all, the sender
	 * retries all; each round moves a frame of every lane at least. */
	for (k = 0; dv->dv_pk.pk_nlanes > 0 || k == 0; k++) {
		FUZZ_CHECK(k <= fed.b_len + 1);
		for (id = 0; id < FUZZ_NDESTS; id++)
			deliver_drain(&dv->dv_dest[id],
				      pb_outbox_len(&dv->dv_dest[id].d_ob));
		deliver_retry(dv, -1);
		deliver_check(dv);
	}
	for (id = 0; id < FUZZ_NDESTS; id++)
		deliver_drain(&dv->dv_dest[id],
			      pb_outbox_len(&dv->dv_dest[id].d_ob));
	deliver_check(dv);

	/* Each destination got exactly its frames of the stream. */
	(void)fuzz_ref_parse(fed.b_p, fed.b_len, max, &ref, &nref, &used);
	for (k = 0; k < nref; k++) {
		struct dest *d;

		if (ref[k].rf_dest >= FUZZ_NDESTS) {
			unknown++;
			continue;
		}
		d = &dv->dv_dest[ref[k].rf_dest];
		FUZZ_CHECK(d->d_sink.b_len >= ref[k].rf_len);
		/* Consumed from the front of the sink, frame by frame. */
		FUZZ_CHECK(memcmp(d->d_sink.b_p,
				  fed.b_p + ref[k].rf_off + PB_FRAME_HEADER,
				  ref[k].rf_len) == 0);
		memmove(d->d_sink.b_p, d->d_sink.b_p + ref[k].rf_len,
			d->d_sink.b_len - ref[k].rf_len);
		d->d_sink.b_len -= ref[k].rf_len;
	}
	FUZZ_CHECK(unknown == dv->dv_unknown);
	for (id = 0; id < FUZZ_NDESTS; id++) {
		FUZZ_CHECK(dv->dv_dest[id].d_sink.b_len == 0);
		pb_outbox_free(&dv->dv_dest[id].d_ob);
		free(dv->dv_dest[id].d_sink.b_p);
		free(dv->dv_dest[id].d_sent.b_p);
	}
	pb_park_free(&dv->dv_pk);
	FUZZ_CHECK(pb_budget_used(&dv->dv_budget) == 0);
	free(ref);
	free(fed.b_p);
	free(held.b_p);
	free(rt);
	free(dv);
	return 0;
}
