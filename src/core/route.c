/* SPDX-License-Identifier: ISC */
/*
 * route.c: grouping frames by destination and handing them off (see
 * route.h). No sockets here: writing goes through the caller's function.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "route.h"

static int route_item_cmp(const void *a, const void *b)
{
	const struct pb_route_item *x = a, *y = b;

	if (x->ri_dest != y->ri_dest)
		return x->ri_dest < y->ri_dest ? -1 : 1;
	return x->ri_seq < y->ri_seq ? -1 : x->ri_seq > y->ri_seq;
}

/* Calls fn with it[0 .. n), which must be sorted by destination, once per
 * destination. */
static void route_sorted(struct pb_route *rt, size_t n, pb_route_fn fn,
			 void *arg)
{
	struct pb_route_item *it = rt->rt_items;
	struct iovec *iov = rt->rt_iov;
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		iov[i].iov_base = (void *)(uintptr_t)it[i].ri_payload;
		iov[i].iov_len = it[i].ri_len;
		if (i + 1 == n || it[i + 1].ri_dest != it[start].ri_dest) {
			fn(arg, it[start].ri_dest, iov + start, i + 1 - start);
			start = i + 1;
		}
	}
}

/* Calls fn once per destination among it[0 .. n), for the few dests[]
 * there are: one pass each, which keeps order without sorting. */
static void route_few(struct pb_route *rt, size_t n, const uint32_t *dests,
		      size_t ndests, pb_route_fn fn, void *arg)
{
	const struct pb_route_item *it = rt->rt_items;
	struct iovec *iov = rt->rt_iov;
	size_t d, i, k;

	for (d = 0; d < ndests; d++) {
		for (i = k = 0; i < n; i++) {
			if (it[i].ri_dest != dests[d])
				continue;
			iov[k].iov_base = (void *)(uintptr_t)it[i].ri_payload;
			iov[k++].iov_len = it[i].ri_len;
		}
		fn(arg, dests[d], iov, k);
	}
}

/* Adds dest to the few distinct destinations seen; false when there are
 * too many to group without sorting. */
static bool route_note_dest(uint32_t *dests, size_t *ndests, uint32_t dest)
{
	size_t i;

	for (i = 0; i < *ndests; i++)
		if (dests[i] == dest)
			return true;
	if (*ndests == PB_ROUTE_FEW)
		return false;
	dests[(*ndests)++] = dest;
	return true;
}

int pb_route_input(struct pb_route *rt, struct pb_frame_parser *p, char *buf,
		   size_t *len, pb_route_fn fn, void *arg)
{
	struct pb_route_item *it = rt->rt_items;
	enum pb_frame_status st = PB_FRAME_OK;
	size_t off = 0;

	rt->rt_frames = 0;
	while (st == PB_FRAME_OK) {
		uint32_t dests[PB_ROUTE_FEW];
		size_t n = 0, ndests = 0, used;
		bool few = true;
		struct pb_frame f;

		for (; n < PB_ROUTE_BATCH; n++, off += used) {
			st = pb_frame_next(p, buf + off, *len - off, &f, &used);
			if (st != PB_FRAME_OK)
				break;
			it[n].ri_dest = f.fr_dest;
			it[n].ri_seq = (uint32_t)n;
			it[n].ri_payload = f.fr_payload;
			it[n].ri_len = f.fr_len;
			few = few && route_note_dest(dests, &ndests, f.fr_dest);
		}
		rt->rt_frames += n;
		if (n > 0 && few) {
			route_few(rt, n, dests, ndests, fn, arg);
		} else if (n > 0) {
			qsort(it, n, sizeof(*it), route_item_cmp);
			route_sorted(rt, n, fn, arg);
		}
	}
	*len -= off;
	memmove(buf, buf + off, *len);
	return st == PB_FRAME_TOO_LONG ? -1 : 0;
}

struct pb_route_handoff pb_route_handoff(struct pb_outbox *ob,
					 const struct iovec *iov, size_t n,
					 pb_route_write_fn write, void *ctx)
{
	struct pb_route_handoff h = {.rh_taken = 0};
	bool was_empty = pb_outbox_empty(ob);
	size_t i = 0, j, fit = 0, room;

	if (was_empty && write != NULL) {
		ssize_t r = write(ctx, iov, n);
		size_t sent = r > 0 ? (size_t)r : 0;

		h.rh_bytes = sent;

		while (i < n && sent >= iov[i].iov_len)
			sent -= iov[i++].iov_len;
		h.rh_sent = i;
		if (sent > 0) {
			const char *rest = (const char *)iov[i].iov_base + sent;

			if (pb_outbox_append(ob, rest, iov[i].iov_len - sent) <
			    0) {
				h.rh_cut = true;
				h.rh_taken = i;
				return h;
			}
			i++;
		}
	}
	room = pb_outbox_room(ob);
	for (j = i; j < n && iov[j].iov_len <= room - fit; j++)
		fit += iov[j].iov_len;
	if (j > i && pb_outbox_appendv(ob, iov + i, (int)(j - i)) < 0)
		j = i;
	h.rh_taken = j;
	h.rh_started = was_empty && !pb_outbox_empty(ob);
	return h;
}

/* Parks iov[0 .. n) for dest. On failure they are lost, and so that no
 * later frame can reach dest past the gap, dest's stream is cut. */
static void route_park(struct pb_park *pk, uint32_t dest,
		       const struct iovec *iov, size_t n,
		       struct pb_route_result *r)
{
	if (n > 0 && pb_park_pushv(pk, dest, iov, (int)n) < 0) {
		r->rr_lost += n;
		r->rr_cut = true;
	} else {
		r->rr_parked += n;
	}
}

struct pb_route_result pb_route_deliver(struct pb_outbox *ob,
					struct pb_park *pk, uint32_t dest,
					const struct iovec *iov, size_t n,
					pb_route_write_fn write, void *ctx)
{
	struct pb_route_result r = {.rr_wait = PB_PARK_GO};
	struct pb_route_handoff h = pb_route_handoff(ob, iov, n, write, ctx);

	r.rr_sent = h.rh_sent;
	r.rr_bytes = h.rh_bytes;
	r.rr_started = h.rh_started;
	if (h.rh_cut) {
		r.rr_cut = true;
		r.rr_lost = n - h.rh_taken;
		return r;
	}
	route_park(pk, dest, iov + h.rh_taken, n - h.rh_taken, &r);
	r.rr_wait = pb_park_wait_for(pk, dest, ob);
	return r;
}

struct pb_route_result pb_route_behind(struct pb_park *pk, uint32_t dest,
				       const struct iovec *iov, size_t n)
{
	struct pb_route_result r = {.rr_wait = PB_PARK_GO};

	route_park(pk, dest, iov, n, &r);
	return r;
}
