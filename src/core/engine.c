/* SPDX-License-Identifier: ISC */
/*
 * engine.c: the delivery engine (see engine.h). Everything here runs in
 * the owner of the client it is given ('s', 'c'); a destination 'd' is
 * touched only under its lock, and only with calls that do not block.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "budget.h"
#include "engine.h"

void pb_engine_init(struct pb_engine *en, const struct pb_engine_ops *ops,
		    const struct pb_engine_tally *tally, int reads_per_turn,
		    bool until_eagain, struct pb_route *shared_route)
{
	en->en_ops = ops;
	en->en_tally = tally;
	en->en_reads_per_turn = reads_per_turn;
	en->en_until_eagain = until_eagain;
	en->en_route = shared_route;
	atomic_init(&en->en_slow_ms, 0);
	atomic_init(&en->en_frame_ms, 0);
	atomic_init(&en->en_stopping, false);
}

/* Does what a hand-off or retry asks of sender s about d (d's lock held):
 * wait for room in d's outbox, or retry on its own when nothing there can
 * drain or it cannot be registered. */
static void engine_wait(struct pb_engine *en, struct pb_conn *s,
			struct pb_conn *d, enum pb_park_wait w)
{
	if (w == PB_PARK_WAIT && en->en_ops->eo_wait_on(d, s) < 0)
		w = PB_PARK_RETRY;
	if (w == PB_PARK_RETRY)
		en->en_ops->eo_retry_later(s);
}

/* Cuts d's stream (d's lock held): a frame for it found no memory, so
 * what follows would reach it past a gap it could not see. Its owner ends
 * it as PB_LEAVE_NOMEM_OUT (doc/protocol.md, "Out of memory"). */
static void engine_cut(struct pb_engine *en, struct pb_conn *d)
{
	if (pb_conn_cut(d))
		en->en_ops->eo_shutdown(d);
}

/* A LINGERING c is done: its place goes back. */
static void engine_linger_done(struct pb_engine *en, struct pb_conn *c)
{
	en->en_ops->eo_linger_end(c);
	pb_conn_set_state(c, PB_CONN_DONE);
	if (en->en_ops->eo_done != NULL)
		en->en_ops->eo_done(c);
}

/* Drops everything in c's waiting room, and its destinations' counts of
 * frames waiting for them; returns how many frames. */
static size_t engine_drop_all(struct pb_engine *en, struct pb_conn *c)
{
	struct pb_park *pk = &c->cn_park;
	size_t frames = 0;

	while (pk->pk_nlanes > 0) {
		size_t i = pk->pk_nlanes - 1, n;
		struct pb_conn *d =
			en->en_ops->eo_find(c, pk->pk_lanes[i].pl_dest);

		n = pb_park_drop(pk, i);
		pb_conn_waiting(d, n, false);
		frames += n;
	}
	return frames;
}

/* Frames for dest go behind those already waiting for it. The
 * destination is looked up only when it must be told: frames parked for
 * it, or its stream cut for want of memory. */
static void engine_behind(struct pb_engine *en, struct pb_conn *s,
			  uint32_t dest, const struct iovec *iov, size_t n)
{
	const struct pb_engine_ops *ops = en->en_ops;
	struct pb_route_result r = pb_route_behind(&s->cn_park, dest, iov, n);
	struct pb_conn *d = NULL;

	if (r.rr_parked > 0 || r.rr_cut)
		d = ops->eo_find(s, dest);
	pb_conn_waiting(d, r.rr_parked, true);
	if (r.rr_cut && d != NULL) {
		ops->eo_lock(d);
		engine_cut(en, d);
		ops->eo_unlock(d);
		ops->eo_wake(d);
	}
	en->en_tally->et_delivered(s->cn_id, dest, &r);
}

struct engine_dest {
	struct pb_engine *ed_engine;
	struct pb_conn *ed_conn;
};

static ssize_t engine_write(void *ctx, const struct iovec *iov, size_t n)
{
	const struct engine_dest *ed = ctx;

	return ed->ed_engine->en_ops->eo_write(ed->ed_conn, iov, n);
}

/* dest's connection, open and locked, or NULL. One found closed (the
 * sender's cache had it) is forgotten and looked up once more: another
 * node's client has a new stand-in once the one cached went down with
 * its link, maybe while the sender was between finding and locking it. */
static struct pb_conn *engine_find_open(struct pb_engine *en, struct pb_conn *s,
					uint32_t dest)
{
	const struct pb_engine_ops *ops = en->en_ops;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		struct pb_conn *d = ops->eo_find(s, dest);

		if (d == NULL)
			return NULL;
		ops->eo_lock(d);
		if (pb_conn_open(d))
			return d;
		ops->eo_unlock(d);
		ops->eo_forget(s, dest);
	}
	return NULL;
}

void pb_engine_deliver(void *arg, uint32_t dest, const struct iovec *iov,
		       size_t n)
{
	struct pb_engine_turn *t = arg;
	struct pb_engine *en = t->et_engine;
	const struct pb_engine_ops *ops = en->en_ops;
	struct pb_conn *s = t->et_sender, *d;
	struct engine_dest ed;
	struct pb_route_result r;

	if (pb_park_find(&s->cn_park, dest) >= 0) {
		/* Earlier frames to dest are waiting: these go behind. */
		engine_behind(en, s, dest, iov, n);
		return;
	}
	d = engine_find_open(en, s, dest);
	if (d == NULL) {
		en->en_tally->et_unknown(s->cn_id, dest, n);
		return;
	}
	ed.ed_engine = en;
	ed.ed_conn = d;
	r = pb_route_deliver(&d->cn_outbox, &s->cn_park, dest, iov, n,
			     engine_write, &ed);
	pb_conn_waiting(d, r.rr_parked, true);
	if (r.rr_cut)
		engine_cut(en, d);
	else
		engine_wait(en, s, d, r.rr_wait);
	if (r.rr_started)
		pb_conn_outbox_changed(d, true, ops->eo_now_ms());
	ops->eo_unlock(d);
	if (d->cn_relay) /* not forwarded yet: see conn.h */
		r.rr_sent = r.rr_bytes = 0;
	en->en_tally->et_delivered(s->cn_id, dest, &r);
	if (r.rr_started || r.rr_cut)
		ops->eo_wake(d);
}

void pb_engine_retry(struct pb_engine *en, struct pb_conn *s)
{
	const struct pb_engine_ops *ops = en->en_ops;
	struct pb_park *pk = &s->cn_park;
	size_t i = pk->pk_nlanes, before = pb_park_bytes(pk);

	while (i-- > 0) {
		uint32_t dest;
		struct pb_conn *d;
		struct pb_park_retry r;

		/* A flush below may have made s itself leave and give its
		 * lanes up (the reactor flushes at once: s sending to
		 * itself, its socket failing): skip lanes that are gone. */
		if (i >= pk->pk_nlanes)
			continue;
		dest = pk->pk_lanes[i].pl_dest;
		d = ops->eo_find(s, dest);

		if (d == NULL) {
			en->en_tally->et_dest_missing(dest,
						      pb_park_drop(pk, i));
			continue;
		}
		ops->eo_lock(d);
		if (!pb_conn_open(d)) {
			enum pb_leave why = d->cn_why;

			ops->eo_unlock(d);
			ops->eo_forget(s, dest);
			en->en_tally->et_dest_left(pb_park_drop(pk, i), why);
			continue;
		}
		r = pb_park_retry(pk, i, &d->cn_outbox);
		pb_conn_waiting(d, r.pr_moved, false);
		engine_wait(en, s, d, r.pr_wait);
		if (r.pr_started)
			pb_conn_outbox_changed(d, true, ops->eo_now_ms());
		ops->eo_unlock(d);
		if (r.pr_started)
			ops->eo_flush(d);
	}
	if (pb_park_bytes(pk) < before)
		s->cn_moved_ms = ops->eo_now_ms();
	if (pb_conn_state(s) == PB_CONN_LINGERING && pb_park_bytes(pk) == 0)
		engine_linger_done(en, s);
}

/* Writes c's outbox (c's lock held) while the socket takes all it is
 * offered; adds what was written to *frames and *bytes. 0, or the errno
 * of a failed write. */
static int engine_write_out(struct pb_engine *en, struct pb_conn *c,
			    size_t *frames, size_t *bytes)
{
	struct iovec iov[2];
	int n;

	while ((n = pb_outbox_peek(&c->cn_outbox, iov)) > 0) {
		size_t offered = iov[0].iov_len + (n > 1 ? iov[1].iov_len : 0);
		ssize_t r = en->en_ops->eo_write(c, iov, (size_t)n);

		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0
								       : errno;
		*frames += pb_outbox_written(&c->cn_outbox, (size_t)r);
		*bytes += (size_t)r;
		if ((size_t)r < offered)
			break; /* full: the socket will say when it has room */
	}
	return 0;
}

int pb_engine_flush(struct pb_engine *en, struct pb_conn *c)
{
	const struct pb_engine_ops *ops = en->en_ops;
	struct pb_waiters waiters = {.wt_list = NULL};
	size_t frames = 0, bytes = 0;
	int err;

	ops->eo_lock(c);
	err = engine_write_out(en, c, &frames, &bytes);
	if (bytes > 0) {
		pb_conn_outbox_changed(c, true, ops->eo_now_ms());
		/* Wake waiters once there is room worth moving into. */
		if (pb_outbox_has_room_for_waiters(&c->cn_outbox))
			pb_waiters_take(&c->cn_waiters, &waiters);
	}
	ops->eo_unlock(c);
	if (waiters.wt_n > 0)
		ops->eo_wake_waiters(c, &waiters);
	if (bytes > 0 && !c->cn_relay)
		en->en_tally->et_forwarded(frames, bytes);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* c's lock held: c leaves for why (it is then `to`): what its outbox
 * holds is dropped (returned: how many frames), its waiters taken into w
 * to be woken outside the lock. */
static size_t engine_empty(struct pb_conn *c, enum pb_leave why,
			   enum pb_conn_state to, struct pb_waiters *w)
{
	size_t dropped = pb_outbox_count_frames(&c->cn_outbox);

	c->cn_why = why;
	pb_outbox_free(&c->cn_outbox);
	pb_conn_outbox_changed(c, false, 0);
	pb_waiters_take(&c->cn_waiters, w);
	pb_conn_set_state(c, to);
	return dropped;
}

size_t pb_engine_drop_relay(struct pb_engine *en, struct pb_conn *c,
			    enum pb_leave why)
{
	const struct pb_engine_ops *ops = en->en_ops;
	struct pb_waiters waiters = {.wt_list = NULL};
	size_t dropped = 0;

	ops->eo_lock(c);
	if (!pb_conn_left(c))
		dropped = engine_empty(c, why, PB_CONN_DONE, &waiters);
	ops->eo_unlock(c);
	ops->eo_wake_waiters(c, &waiters);
	en->en_tally->et_dest_left(dropped, why);
	return dropped;
}

void pb_engine_leave(struct pb_engine *en, struct pb_conn *c, enum pb_leave why)
{
	const struct pb_engine_ops *ops = en->en_ops;
	struct pb_waiters waiters;
	bool parked, linger;
	size_t dropped;

	if (pb_conn_left(c))
		return;
	if (pb_conn_state(c) == PB_CONN_CUT)
		why = PB_LEAVE_NOMEM_OUT; /* whatever its socket then said */
	/* Frames it completed before leaving are delivered while it lingers
	 * in one of the --max-clients places for departed clients (so that
	 * threads stay bounded whatever clients do), or given up. */
	parked = pb_park_bytes(&c->cn_park) > 0 && why != PB_LEAVE_SHUTDOWN;
	linger = parked && ops->eo_linger(c);
	ops->eo_unpublish(c);
	ops->eo_lock(c);
	if (pb_conn_state(c) == PB_CONN_CUT)
		why = PB_LEAVE_NOMEM_OUT;
	dropped = engine_empty(
		c, why, linger ? PB_CONN_LINGERING : PB_CONN_DONE, &waiters);
	ops->eo_unlock(c);
	ops->eo_close(c);
	ops->eo_wake_waiters(c, &waiters);
	en->en_tally->et_leave(c->cn_id, c->cn_addr, why, dropped,
			       atomic_load(&c->cn_waiting),
			       pb_engine_slow_ms(en));
	pb_engine_free_input(en, c);
	if (linger) {
		c->cn_moved_ms = ops->eo_now_ms();
		return;
	}
	if (parked)
		en->en_tally->et_sender_gave_up(c->cn_id,
						engine_drop_all(en, c), 0);
	if (ops->eo_done != NULL)
		ops->eo_done(c);
}

bool pb_engine_timed_out(struct pb_engine *en, struct pb_conn *c,
			 uint64_t now_ms, enum pb_leave *why)
{
	uint64_t progress =
		atomic_load_explicit(&c->cn_progress_ms, memory_order_relaxed);

	if (atomic_load_explicit(&c->cn_pending, memory_order_acquire) &&
	    now_ms - progress >= pb_engine_slow_ms(en)) {
		*why = PB_LEAVE_SLOW;
		return true;
	}
	if (pb_rbuf_late(&c->cn_rbuf, pb_engine_frame_ms(en), now_ms)) {
		*why = PB_LEAVE_FRAME_TIMEOUT;
		return true;
	}
	if (pb_rbuf_idle(&c->cn_rbuf, c->cn_read_ms, now_ms))
		pb_engine_free_input(en, c); /* idle: its memory goes back */
	return false;
}

bool pb_engine_linger_stuck(struct pb_engine *en, struct pb_conn *c,
			    uint64_t now_ms)
{
	unsigned long slow_ms = pb_engine_slow_ms(en);

	if (now_ms - c->cn_moved_ms < slow_ms)
		return false;
	en->en_tally->et_sender_gave_up(c->cn_id, engine_drop_all(en, c),
					slow_ms);
	engine_linger_done(en, c);
	return true;
}

bool pb_engine_drained(struct pb_engine *en, struct pb_conn *c)
{
	bool waited_on;

	en->en_ops->eo_lock(c);
	waited_on = c->cn_waiters.wt_n > 0;
	en->en_ops->eo_unlock(c);
	return !atomic_load_explicit(&c->cn_pending, memory_order_acquire) &&
	       !waited_on && pb_park_bytes(&c->cn_park) == 0;
}

void pb_engine_free_input(struct pb_engine *en, struct pb_conn *c)
{
	(void)en;
	pb_rbuf_free(&c->cn_rbuf);
	if (c->cn_route == NULL)
		return;
	free(c->cn_route);
	pb_budget_release(c->cn_rbuf.rb_budget, sizeof(*c->cn_route));
	c->cn_route = NULL;
}

void pb_engine_release(struct pb_engine *en, struct pb_conn *c)
{
	if (pb_conn_state(c) == PB_CONN_LINGERING) {
		en->en_ops->eo_linger_end(c);
		pb_conn_set_state(c, PB_CONN_DONE);
	}
	pb_engine_free_input(en, c);
	/* What still waits in the waiting room has nowhere to go. */
	en->en_tally->et_left(engine_drop_all(en, c));
}

bool pb_engine_wants_input(struct pb_engine *en, const struct pb_conn *c)
{
	return !pb_engine_stopping(en) &&
	       pb_rbuf_allowance(&c->cn_rbuf, &c->cn_park) > 0 &&
	       pb_rbuf_may_read(&c->cn_rbuf, &c->cn_park);
}

/* Makes room to read into; a client's own routing scratch space comes
 * with its first buffer. */
static int engine_reserve(struct pb_engine *en, struct pb_conn *c, bool grow)
{
	if (en->en_route == NULL && c->cn_route == NULL) {
		c->cn_route = malloc(sizeof(*c->cn_route));
		if (c->cn_route == NULL)
			return -1;
		pb_budget_charge(c->cn_rbuf.rb_budget, sizeof(*c->cn_route));
	}
	return pb_rbuf_reserve(&c->cn_rbuf, grow);
}

/* Routes the complete frames in c's read buffer: -1 on a frame too long
 * (those before it were delivered). */
static int engine_route(struct pb_engine *en, struct pb_conn *c)
{
	struct pb_engine_turn t = {.et_engine = en, .et_sender = c};
	struct pb_route *rt = en->en_route != NULL ? en->en_route : c->cn_route;
	struct pb_rbuf *rb = &c->cn_rbuf;
	int rc = pb_route_input(rt, &c->cn_parser, rb->rb_data, &rb->rb_len,
				pb_engine_deliver, &t);

	en->en_tally->et_received(rt->rt_frames);
	if (rc == 0)
		pb_rbuf_note_read(rb, rt->rt_frames, c->cn_read_ms);
	return rc;
}

enum pb_engine_read pb_engine_read(struct pb_engine *en, struct pb_conn *c,
				   enum pb_leave *why)
{
	struct pb_rbuf *rb = &c->cn_rbuf;
	bool grow = false;
	int turn;

	c->cn_read_ms = en->en_ops->eo_now_ms();
	for (turn = 0; turn < en->en_reads_per_turn; turn++) {
		size_t want = pb_rbuf_allowance(rb, &c->cn_park);
		ssize_t n;

		if (want == 0 || pb_engine_stopping(en) ||
		    !pb_rbuf_may_read(rb, &c->cn_park))
			return PB_READ_HELD;
		if (engine_reserve(en, c, grow) < 0) {
			en->en_tally->et_input_nomem(c->cn_id);
			*why = PB_LEAVE_NOMEM;
			return PB_READ_LEAVE;
		}
		if (want > rb->rb_cap - rb->rb_len)
			want = rb->rb_cap - rb->rb_len;
		do
			n = en->en_ops->eo_read(c, rb->rb_data + rb->rb_len,
						want);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return PB_READ_DRAINED;
		if (n <= 0) {
			*why = n == 0 ? PB_LEAVE_CLOSED : PB_LEAVE_RESET;
			return PB_READ_LEAVE;
		}
		rb->rb_len += (size_t)n;
		if (engine_route(en, c) < 0) {
			en->en_tally->et_protocol_error(c->cn_id,
							c->cn_parser.fp_max);
			*why = PB_LEAVE_PROTOCOL;
			return PB_READ_LEAVE;
		}
		grow = (size_t)n == want; /* filled: more is likely waiting */
		if (!grow && !en->en_until_eagain)
			return PB_READ_DRAINED;
	}
	return PB_READ_MORE;
}
