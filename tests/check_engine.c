/* SPDX-License-Identifier: ISC */
/*
 * check_engine.c: the delivery engine (engine.h) and a client's life
 * (conn.h), driven through a fake table of operations: no socket, no
 * thread, no clock but one the tests advance.
 *
 * A fake client embeds a struct pb_conn as both servers do. Its "socket"
 * takes what eo_write offers up to a room each test sets (EAGAIN when
 * none, a short write when some), and gives eo_read a script of chunks
 * (data, an error, or the end). Every operation is recorded, and checked
 * against what engine.h promises about locks: a destination's socket is
 * written, shut down and waited on only under its lock, nothing wakes,
 * flushes, closes or counts under one, and no two are ever held at once.
 *
 * The engine is the one place where patchbay's delivery rules live, so
 * each test checks one of them as both servers rely on it: each
 * destination gets exactly its frames in order; a full outbox parks the
 * rest, which a drain and a retry move on, in order; frames for a
 * destination that left are dropped with its reason; a sender that leaves
 * lingers to deliver, or gives its frames up; a destination memory failed
 * is cut (shut down once) and leaves as PB_LEAVE_NOMEM_OUT; reading stops,
 * goes on or ends as it must; and every frame is counted somewhere.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "conn.h"
#include "engine.h"
#include "frame.h"
#include "leave.h"
#include "outbox.h"
#include "park.h"
#include "rbuf.h"
#include "route.h"
#include "run.h"
#include "stat.h"

#define NFAKE	   4
#define SINK	   2048 /* what a fake socket can have been written */
#define NCHUNK	   8	/* a fake socket's input script */
#define MAX_FRAME  64
#define NREASONS   (PB_LEAVE_FRAME_TIMEOUT + 1)
#define TEXT	   4096
#define BIG_BUDGET (1u << 22)

/* One step of a fake socket's input. */
struct chunk {
	const char *ch_p;
	size_t ch_len;
	size_t ch_off; /* how much was read of it */
	int ch_err;    /* read fails with this errno, or 0 */
	bool ch_end;   /* read returns 0: the peer closed */
};

struct fake {
	struct pb_conn fk_cn;
	bool fk_in_use; /* eo_find finds it (until it is freed) */

	/* Its socket, written by the engine. */
	char fk_sink[SINK];
	size_t fk_sink_len;
	size_t fk_room;	    /* bytes the socket takes now */
	int fk_write_errno; /* every write fails with it, or 0 */
	bool fk_shut;	    /* eo_shutdown: writes fail, reads end */
	bool fk_closed;	    /* eo_close: no I/O any more */

	/* Its socket, read by the engine. */
	struct chunk fk_script[NCHUNK];
	size_t fk_nscript, fk_next;
	unsigned fk_reads;

	bool fk_may_linger; /* what eo_linger answers */

	/* How often each operation was called for it. */
	unsigned fk_wake, fk_flush, fk_shutdown, fk_close, fk_unpublish;
	unsigned fk_retry_later, fk_linger, fk_linger_end, fk_done;
	unsigned fk_forget; /* as the sender */
	unsigned fk_waits;  /* registered as a waiter (as the sender) */
	unsigned fk_woken;  /* woken as a waiter */
};

/* What the fake tally was told. */
struct counts {
	size_t received, unknown, sent, lost, parked, forwarded, fwd_bytes;
	unsigned protocol, input_nomem;
	unsigned leaves, leave_by[NREASONS];
	enum pb_leave leave_why;
	size_t dropped, waiting; /* of the last leave */
	size_t dest_left, dest_left_by[NREASONS];
	enum pb_leave dest_left_why;
	size_t dest_missing;
	uint32_t dest_missing_id;
	size_t left;
	size_t gave_up;
	unsigned gave_up_calls;
	unsigned long gave_up_ms;
};

static struct world {
	struct fake w_fake[NFAKE];
	struct pb_engine w_en;
	struct pb_budget w_budget, w_park_share, w_input_share;
	uint64_t w_now;
	struct fake *w_locked; /* whose lock is held, or NULL */
	struct counts w_t;
	bool w_reactor_flush; /* eo_flush flushes at once, as the reactor's */
	bool w_wait_fails;    /* eo_wait_on finds no memory */
} w;

static struct fake *fk(struct pb_conn *c)
{
	return (struct fake *)(void *)((char *)c -
				       offsetof(struct fake, fk_cn));
}

static void no_lock_held(void)
{
	ck_assert_msg(w.w_locked == NULL, "called under the lock of %u",
		      w.w_locked != NULL ? w.w_locked->fk_cn.cn_id : 0);
}

static void lock_held(struct pb_conn *c)
{
	ck_assert_msg(w.w_locked == fk(c), "not under the lock of %u",
		      c->cn_id);
}

/* The operations. */

static struct pb_conn *fake_find(struct pb_conn *s, uint32_t id)
{
	size_t i;

	(void)s;
	no_lock_held();
	for (i = 0; i < NFAKE; i++)
		if (w.w_fake[i].fk_in_use && w.w_fake[i].fk_cn.cn_id == id)
			return &w.w_fake[i].fk_cn;
	return NULL;
}

static void fake_forget(struct pb_conn *s, uint32_t id)
{
	(void)id;
	no_lock_held();
	fk(s)->fk_forget++;
}

static void fake_lock(struct pb_conn *c)
{
	no_lock_held(); /* one lock at a time: no order to get wrong */
	w.w_locked = fk(c);
}

static void fake_unlock(struct pb_conn *c)
{
	lock_held(c);
	w.w_locked = NULL;
}

static ssize_t fake_read(struct pb_conn *c, void *buf, size_t len)
{
	struct fake *f = fk(c);
	struct chunk *ch;
	size_t n;

	no_lock_held();
	ck_assert(!f->fk_closed);
	ck_assert_uint_gt(len, 0);
	f->fk_reads++;
	if (f->fk_shut)
		return 0;
	if (f->fk_next == f->fk_nscript) {
		errno = EAGAIN;
		return -1;
	}
	ch = &f->fk_script[f->fk_next];
	if (ch->ch_end)
		return 0;
	if (ch->ch_err != 0) {
		f->fk_next++;
		errno = ch->ch_err;
		return -1;
	}
	n = ch->ch_len - ch->ch_off < len ? ch->ch_len - ch->ch_off : len;
	memcpy(buf, ch->ch_p + ch->ch_off, n);
	ch->ch_off += n;
	if (ch->ch_off == ch->ch_len)
		f->fk_next++;
	return (ssize_t)n;
}

static ssize_t fake_write(struct pb_conn *c, const struct iovec *iov, size_t n)
{
	struct fake *f = fk(c);
	size_t i, took = 0;

	lock_held(c);
	ck_assert(!f->fk_closed);
	if (f->fk_shut || f->fk_write_errno != 0) {
		errno = f->fk_shut ? EPIPE : f->fk_write_errno;
		return -1;
	}
	if (f->fk_room == 0) {
		errno = EAGAIN;
		return -1;
	}
	for (i = 0; i < n && f->fk_room > 0; i++) {
		size_t k = iov[i].iov_len < f->fk_room ? iov[i].iov_len
						       : f->fk_room;

		ck_assert_uint_le(f->fk_sink_len + k, SINK);
		memcpy(f->fk_sink + f->fk_sink_len, iov[i].iov_base, k);
		f->fk_sink_len += k;
		f->fk_room -= k;
		took += k;
	}
	return (ssize_t)took;
}

/* Waiters by id, as the reactor keeps them. */
static int fake_wait_on(struct pb_conn *d, struct pb_conn *s)
{
	lock_held(d);
	if (w.w_wait_fails)
		return -1;
	fk(s)->fk_waits++;
	return pb_waiters_add(&d->cn_waiters, s->cn_id);
}

static struct fake *fake_by_id(uint32_t id)
{
	size_t i;

	for (i = 0; i < NFAKE; i++)
		if (w.w_fake[i].fk_in_use && w.w_fake[i].fk_cn.cn_id == id)
			return &w.w_fake[i];
	return NULL;
}

static void fake_wake_waiters(struct pb_conn *d, struct pb_waiters *wl)
{
	size_t i;

	(void)d;
	no_lock_held();
	for (i = 0; i < wl->wt_n; i++) {
		struct fake *s = fake_by_id((uint32_t)wl->wt_list[i]);

		if (s != NULL)
			s->fk_woken++;
	}
	pb_waiters_free(wl);
}

static void fake_retry_later(struct pb_conn *s)
{
	fk(s)->fk_retry_later++;
}

static void fake_wake(struct pb_conn *d)
{
	no_lock_held();
	fk(d)->fk_wake++;
}

static void fake_flush(struct pb_conn *d)
{
	no_lock_held();
	fk(d)->fk_flush++;
	/* The reactor writes at once, and a failed socket leaves. */
	if (w.w_reactor_flush && pb_engine_flush(&w.w_en, d) < 0)
		pb_engine_leave(&w.w_en, d, PB_LEAVE_RESET);
}

static void fake_shutdown(struct pb_conn *d)
{
	lock_held(d);
	fk(d)->fk_shutdown++;
	fk(d)->fk_shut = true;
}

static void fake_unpublish(struct pb_conn *c)
{
	fk(c)->fk_unpublish++; /* found until freed, as in the reactor */
}

static void fake_close(struct pb_conn *c)
{
	no_lock_held();
	ck_assert(!fk(c)->fk_closed);
	ck_assert(pb_conn_state(c) != PB_CONN_OPEN);
	fk(c)->fk_close++;
	fk(c)->fk_closed = true;
}

static bool fake_linger(struct pb_conn *c)
{
	fk(c)->fk_linger++;
	return fk(c)->fk_may_linger;
}

static void fake_linger_end(struct pb_conn *c)
{
	fk(c)->fk_linger_end++;
	ck_assert_uint_le(fk(c)->fk_linger_end, fk(c)->fk_linger);
}

static void fake_done(struct pb_conn *c)
{
	ck_assert_int_eq(pb_conn_state(c), PB_CONN_DONE);
	fk(c)->fk_done++;
}

static uint64_t fake_now(void)
{
	return w.w_now;
}

static const struct pb_engine_ops fake_ops = {
	.eo_find = fake_find,
	.eo_forget = fake_forget,
	.eo_lock = fake_lock,
	.eo_unlock = fake_unlock,
	.eo_read = fake_read,
	.eo_write = fake_write,
	.eo_wait_on = fake_wait_on,
	.eo_wake_waiters = fake_wake_waiters,
	.eo_retry_later = fake_retry_later,
	.eo_wake = fake_wake,
	.eo_flush = fake_flush,
	.eo_shutdown = fake_shutdown,
	.eo_unpublish = fake_unpublish,
	.eo_close = fake_close,
	.eo_linger = fake_linger,
	.eo_linger_end = fake_linger_end,
	.eo_done = fake_done,
	.eo_now_ms = fake_now,
};

/* The tally: what is counted, never under a lock. */

static void t_received(size_t frames)
{
	no_lock_held();
	w.w_t.received += frames;
}

static void t_unknown(uint32_t sender, uint32_t dest, size_t frames)
{
	(void)sender;
	(void)dest;
	no_lock_held();
	w.w_t.unknown += frames;
}

static void t_delivered(uint32_t sender, uint32_t dest,
			const struct pb_route_result *r)
{
	(void)sender;
	(void)dest;
	no_lock_held();
	w.w_t.sent += r->rr_sent;
	w.w_t.lost += r->rr_lost;
	w.w_t.parked += r->rr_parked;
}

static void t_forwarded(size_t frames, size_t bytes)
{
	no_lock_held();
	w.w_t.forwarded += frames;
	w.w_t.fwd_bytes += bytes;
}

static void t_protocol_error(uint32_t id, size_t max_frame)
{
	(void)id;
	no_lock_held();
	ck_assert_uint_eq(max_frame, MAX_FRAME);
	w.w_t.protocol++;
}

static void t_input_nomem(uint32_t id)
{
	(void)id;
	no_lock_held();
	w.w_t.input_nomem++;
}

static void t_leave(uint32_t id, const char *addr, enum pb_leave why,
		    size_t dropped, size_t waiting, unsigned long slow_ms)
{
	(void)id;
	(void)slow_ms;
	no_lock_held();
	ck_assert_str_eq(addr, "fake");
	ck_assert_int_lt(why, NREASONS);
	w.w_t.leaves++;
	w.w_t.leave_by[why]++;
	w.w_t.leave_why = why;
	w.w_t.dropped = dropped;
	w.w_t.waiting = waiting;
}

static void t_dest_left(size_t frames, enum pb_leave why)
{
	no_lock_held();
	ck_assert_int_lt(why, NREASONS);
	w.w_t.dest_left += frames;
	w.w_t.dest_left_by[why] += frames;
	w.w_t.dest_left_why = why;
}

static void t_dest_missing(uint32_t dest, size_t frames)
{
	no_lock_held();
	w.w_t.dest_missing += frames;
	w.w_t.dest_missing_id = dest;
}

static void t_left(size_t frames)
{
	no_lock_held();
	w.w_t.left += frames;
}

static void t_sender_gave_up(uint32_t id, size_t frames, unsigned long ms)
{
	(void)id;
	no_lock_held();
	w.w_t.gave_up += frames;
	w.w_t.gave_up_calls++;
	w.w_t.gave_up_ms = ms;
}

static const struct pb_engine_tally fake_tally = {
	.et_received = t_received,
	.et_unknown = t_unknown,
	.et_delivered = t_delivered,
	.et_forwarded = t_forwarded,
	.et_protocol_error = t_protocol_error,
	.et_input_nomem = t_input_nomem,
	.et_leave = t_leave,
	.et_dest_left = t_dest_left,
	.et_dest_missing = t_dest_missing,
	.et_left = t_left,
	.et_sender_gave_up = t_sender_gave_up,
};

/* The world: a few fake clients around one engine. */

static void world_init(int reads_per_turn, bool until_eagain)
{
	memset(&w, 0, sizeof(w));
	pb_budget_init(&w.w_budget, BIG_BUDGET);
	pb_budget_init_share(&w.w_park_share, &w.w_budget, 2);
	pb_budget_init_share(&w.w_input_share, &w.w_budget, 4);
	/* Each client routes with scratch space of its own, as in the
	 * daemon: it comes and goes with its read buffer. */
	pb_engine_init(&w.w_en, &fake_ops, &fake_tally, reads_per_turn,
		       until_eagain, NULL);
	w.w_now = 100;
}

/* An OPEN client in slot i with this id and these limits. */
static struct fake *client(size_t i, uint32_t id, size_t outbox, size_t park)
{
	struct pb_conn_env env = {
		.ce_max_frame = MAX_FRAME,
		.ce_outbox = outbox,
		.ce_park = park,
		.ce_budget = &w.w_budget,
		.ce_park_budget = &w.w_park_share,
		.ce_input_budget = &w.w_input_share,
	};
	struct fake *f = &w.w_fake[i];

	ck_assert_uint_lt(i, NFAKE);
	pb_conn_init(&f->fk_cn, &env, id, "fake");
	ck_assert_int_eq(pb_conn_state(&f->fk_cn), PB_CONN_NEW);
	pb_conn_set_state(&f->fk_cn, PB_CONN_OPEN);
	f->fk_in_use = true;
	f->fk_room = SINK;
	f->fk_may_linger = true;
	return f;
}

/* Lets every client go as its owner would; then all memory is back. */
static void world_free(void)
{
	size_t i;

	no_lock_held();
	for (i = 0; i < NFAKE; i++) {
		struct fake *f = &w.w_fake[i];

		if (!f->fk_in_use)
			continue;
		pb_engine_release(&w.w_en, &f->fk_cn);
		pb_conn_free(&f->fk_cn);
		f->fk_in_use = false;
	}
	ck_assert_uint_eq(pb_budget_used(&w.w_budget), 0);
	ck_assert_uint_eq(pb_budget_used(&w.w_park_share), 0);
	ck_assert_uint_eq(pb_budget_used(&w.w_input_share), 0);
}

static void script(struct fake *f, const char *p, size_t len)
{
	ck_assert_uint_lt(f->fk_nscript, NCHUNK);
	f->fk_script[f->fk_nscript++] =
		(struct chunk){.ch_p = p, .ch_len = len};
}

static void script_err(struct fake *f, int err)
{
	ck_assert_uint_lt(f->fk_nscript, NCHUNK);
	f->fk_script[f->fk_nscript++] = (struct chunk){.ch_err = err};
}

static void script_end(struct fake *f)
{
	ck_assert_uint_lt(f->fk_nscript, NCHUNK);
	f->fk_script[f->fk_nscript++] = (struct chunk){.ch_end = true};
}

/* Appends the frame "payload" for dest to buf at off. */
static size_t put(char *buf, size_t off, uint32_t dest, const char *payload)
{
	size_t n = strlen(payload) + 1;

	pb_frame_put_id(buf + off, dest);
	memcpy(buf + off + PB_FRAME_HEADER, payload, n);
	return off + PB_FRAME_HEADER + n;
}

/* Bytes as text: each 0x00 (the end of a frame) as ','. */
static const char *text(const char *p, size_t n)
{
	static char buf[TEXT];
	size_t i;

	ck_assert_uint_lt(n, sizeof(buf));
	for (i = 0; i < n; i++)
		buf[i] = p[i] == '\0' ? ',' : p[i];
	buf[n] = '\0';
	return buf;
}

static const char *sink(const struct fake *f)
{
	return text(f->fk_sink, f->fk_sink_len);
}

static const char *queue_text(const struct pb_outbox *ob)
{
	static char flat[TEXT];
	struct iovec iov[2];
	size_t n = 0;
	int k, i;

	k = pb_outbox_peek(ob, iov);
	for (i = 0; i < k; i++) {
		ck_assert_uint_lt(n + iov[i].iov_len, sizeof(flat));
		memcpy(flat + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	return text(flat, n);
}

static const char *outbox(const struct fake *f)
{
	return queue_text(&f->fk_cn.cn_outbox);
}

/* What s's waiting room holds for dest ("" when no lane). */
static const char *lane(const struct fake *s, uint32_t dest)
{
	long i = pb_park_find(&s->fk_cn.cn_park, dest);

	if (i < 0)
		return "";
	ck_assert_uint_lt((size_t)i, s->fk_cn.cn_park.pk_nlanes);
	return queue_text(&s->fk_cn.cn_park.pk_lanes[i].pl_frames);
}

static size_t waiting_for(const struct fake *d)
{
	return atomic_load(&d->fk_cn.cn_waiting);
}

static enum pb_engine_read read_turn(struct fake *f, enum pb_leave *why)
{
	*why = (enum pb_leave) - 1;
	return pb_engine_read(&w.w_en, &f->fk_cn, why);
}

/* Frames of one read: each destination's socket gets its own, in order. */

START_TEST(test_read_delivers_each_destination_its_frames)
{
	struct fake *a, *b, *c;
	char in[256];
	size_t len = 0;
	enum pb_leave why;

	world_init(4, false);
	a = client(0, 1, 64, 256);
	b = client(1, 2, 64, 256);
	c = client(2, 3, 64, 256);
	len = put(in, len, 2, "b1");
	len = put(in, len, 3, "c1");
	len = put(in, len, 2, "b2");
	len = put(in, len, 9, "x"); /* nobody */
	len = put(in, len, 3, "c2");
	len = put(in, len, 2, "b3");
	script(a, in, len);

	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_uint_eq(a->fk_reads, 1); /* a short read: drained */
	ck_assert_str_eq(sink(b), "b1,b2,b3,");
	ck_assert_str_eq(sink(c), "c1,c2,");
	ck_assert_str_eq(sink(a), "");
	ck_assert_uint_eq(w.w_t.received, 6);
	ck_assert_uint_eq(w.w_t.unknown, 1);
	ck_assert_uint_eq(w.w_t.sent, 5);
	ck_assert_uint_eq(w.w_t.parked + w.w_t.lost, 0);
	/* Written straight through: nothing queued, nobody to wake. */
	ck_assert(pb_outbox_empty(&b->fk_cn.cn_outbox));
	ck_assert_uint_eq(b->fk_wake + c->fk_wake, 0);
	ck_assert_uint_eq(pb_park_bytes(&a->fk_cn.cn_park), 0);
	world_free();
}
END_TEST

START_TEST(test_short_write_queues_the_rest_and_flush_counts_it)
{
	struct fake *a, *b;
	char in[256];
	size_t len = 0;
	enum pb_leave why;

	world_init(4, false);
	a = client(0, 1, 64, 256);
	b = client(1, 2, 64, 256);
	b->fk_room = 4; /* "b1\0b": the second frame is cut short */
	len = put(in, len, 2, "b1");
	len = put(in, len, 2, "b2");
	len = put(in, len, 2, "b3");
	script(a, in, len);

	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_str_eq(sink(b), "b1,b");
	/* The rest of the cut frame first, then the next. */
	ck_assert_str_eq(outbox(b), "2,b3,");
	ck_assert_uint_eq(w.w_t.sent, 1);
	ck_assert_uint_eq(w.w_t.parked, 0);
	ck_assert_uint_eq(b->fk_wake, 1); /* its owner must write */
	ck_assert(atomic_load(&b->fk_cn.cn_pending));

	b->fk_room = 100;
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	ck_assert_str_eq(sink(b), "b1,b2,b3,");
	ck_assert(pb_outbox_empty(&b->fk_cn.cn_outbox));
	ck_assert(!atomic_load(&b->fk_cn.cn_pending));
	/* Forwarded: the frames a write finished, once each. */
	ck_assert_uint_eq(w.w_t.forwarded, 2);
	ck_assert_uint_eq(w.w_t.fwd_bytes, 5);
	ck_assert_uint_eq(w.w_t.sent + w.w_t.forwarded, w.w_t.received);
	world_free();
}
END_TEST

/* The outbox of b (id 2) holds 8 bytes and b's socket takes nothing: a
 * (id 1) sends b "aaa" "bbb" "ccc" "ddd", then "eee" and c (id 3) "x1". */
static char park_in[128];

static void park_three_for_b(struct fake **pa, struct fake **pb,
			     struct fake **pc)
{
	struct fake *a, *b, *c;
	size_t len = 0, second;
	enum pb_leave why;

	a = client(0, 1, 64, 256);
	b = client(1, 2, 8, 256);
	c = client(2, 3, 64, 256);
	b->fk_room = 0;
	len = put(park_in, len, 2, "aaa");
	len = put(park_in, len, 2, "bbb");
	len = put(park_in, len, 2, "ccc");
	len = put(park_in, len, 2, "ddd");
	script(a, park_in, len);
	second = len;
	len = put(park_in, len, 2, "eee");
	len = put(park_in, len, 3, "x1");
	script(a, park_in + second, len - second);

	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	/* What the outbox holds, and the rest in a's waiting room. */
	ck_assert_str_eq(outbox(b), "aaa,bbb,");
	ck_assert_str_eq(lane(a, 2), "ccc,ddd,");
	ck_assert_uint_eq(w.w_t.parked, 2);
	ck_assert_uint_eq(w.w_t.sent, 0);
	ck_assert_uint_eq(waiting_for(b), 2);
	/* a waits for b's outbox to drain; b's owner must write. */
	ck_assert_uint_eq(a->fk_waits, 1);
	ck_assert_uint_eq(b->fk_cn.cn_waiters.wt_n, 1);
	ck_assert_uint_eq(b->fk_cn.cn_waiters.wt_list[0], 1);
	ck_assert_uint_eq(a->fk_retry_later, 0);
	ck_assert_uint_eq(b->fk_wake, 1);
	ck_assert(atomic_load(&b->fk_cn.cn_pending));

	/* Later frames for b go behind, whatever its outbox holds. */
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_str_eq(lane(a, 2), "ccc,ddd,eee,");
	ck_assert_str_eq(outbox(b), "aaa,bbb,");
	ck_assert_str_eq(sink(c), "x1,");
	ck_assert_uint_eq(w.w_t.parked, 3);
	ck_assert_uint_eq(waiting_for(b), 3);
	ck_assert_uint_eq(a->fk_waits, 1); /* already waiting */
	ck_assert_uint_eq(b->fk_wake, 1);
	ck_assert_uint_eq(w.w_t.received, 6);
	*pa = a;
	*pb = b;
	*pc = c;
}

START_TEST(test_full_outbox_parks_the_rest_in_order)
{
	struct fake *a, *b, *c;

	world_init(4, false);
	park_three_for_b(&a, &b, &c);
	ck_assert_str_eq(sink(b), "");
	world_free();
	/* What still waited was dropped and counted as a's leaving. */
	ck_assert_uint_eq(w.w_t.left, 3);
}
END_TEST

START_TEST(test_retry_after_drain_moves_parked_frames_in_order)
{
	struct fake *a, *b, *c;

	world_init(4, false);
	park_three_for_b(&a, &b, &c);

	b->fk_room = 100;
	w.w_now = 200;
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	ck_assert_str_eq(sink(b), "aaa,bbb,");
	ck_assert_uint_eq(w.w_t.forwarded, 2);
	/* Drained: its waiters are woken, once, and forgotten. */
	ck_assert_uint_eq(a->fk_woken, 1);
	ck_assert_uint_eq(b->fk_cn.cn_waiters.wt_n, 0);

	pb_engine_retry(&w.w_en, &a->fk_cn);
	/* As much as fits, in order; the rest still waits, and a with it. */
	ck_assert_str_eq(outbox(b), "ccc,ddd,");
	ck_assert_str_eq(lane(a, 2), "eee,");
	ck_assert_uint_eq(waiting_for(b), 1);
	/* Moved into an empty outbox, with no write: someone must flush. */
	ck_assert_uint_eq(b->fk_flush, 1);
	ck_assert_uint_eq(a->fk_waits, 2);
	ck_assert_uint_eq(a->fk_cn.cn_moved_ms, 200);
	ck_assert_uint_eq(atomic_load(&b->fk_cn.cn_progress_ms), 200);

	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	ck_assert_uint_eq(a->fk_woken, 2);
	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_uint_eq(b->fk_flush, 2);
	ck_assert_str_eq(lane(a, 2), "");
	ck_assert_uint_eq(pb_park_bytes(&a->fk_cn.cn_park), 0);
	ck_assert_uint_eq(waiting_for(b), 0);
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	ck_assert_str_eq(sink(b), "aaa,bbb,ccc,ddd,eee,");
	ck_assert_uint_eq(w.w_t.forwarded, 5);
	ck_assert_uint_eq(w.w_t.forwarded + w.w_t.sent, w.w_t.received);
	ck_assert(pb_engine_drained(&w.w_en, &b->fk_cn));
	ck_assert(pb_engine_drained(&w.w_en, &a->fk_cn));
	world_free();
	ck_assert_uint_eq(w.w_t.left, 0);
}
END_TEST

START_TEST(test_retry_without_room_waits_again)
{
	struct fake *a, *b, *c;

	world_init(4, false);
	park_three_for_b(&a, &b, &c);
	/* Nothing drained: nothing moves, nobody is flushed. */
	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_str_eq(lane(a, 2), "ccc,ddd,eee,");
	ck_assert_uint_eq(b->fk_flush, 0);
	ck_assert_uint_eq(a->fk_cn.cn_moved_ms, 0);
	ck_assert_uint_eq(b->fk_cn.cn_waiters.wt_n, 1);
	world_free();
}
END_TEST

START_TEST(test_waiter_without_memory_retries_on_its_own)
{
	struct fake *a, *b;
	char in[64];
	size_t len = 0;
	enum pb_leave why;

	world_init(4, false);
	a = client(0, 1, 64, 256);
	b = client(1, 2, 4, 256);
	b->fk_room = 0;
	w.w_wait_fails = true;
	len = put(in, len, 2, "aaa");
	len = put(in, len, 2, "bbb");
	script(a, in, len);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_str_eq(lane(a, 2), "bbb,");
	/* No room in b's waiters: a must retry without being woken. */
	ck_assert_uint_eq(b->fk_cn.cn_waiters.wt_n, 0);
	ck_assert_uint_eq(a->fk_retry_later, 1);
	world_free();
}
END_TEST

/* A destination found no more (the daemon's stand-in for a client of
 * another node, whose link went down, once the sender's cache forgot it):
 * what waits for it is dropped and counted as missing, so that the
 * server can say why (not as a departure for no reason). */

START_TEST(test_destination_found_no_more_is_counted_missing)
{
	struct fake *a, *b, *c;

	world_init(4, false);
	park_three_for_b(&a, &b, &c);
	b->fk_in_use = false;
	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_uint_eq(w.w_t.dest_missing, 3);
	ck_assert_uint_eq(w.w_t.dest_missing_id, 2);
	ck_assert_uint_eq(w.w_t.dest_left, 0);
	ck_assert_uint_eq(pb_park_bytes(&a->fk_cn.cn_park), 0);
	b->fk_in_use = true; /* for world_free */
	world_free();
}
END_TEST

/* A destination that leaves: what waits for it is dropped, and counted
 * with its reason. */

START_TEST(test_slow_destination_leaves_and_parked_frames_are_dropped)
{
	struct fake *a, *b, *c;
	enum pb_leave why;
	char in[64];
	size_t len;

	world_init(4, false);
	atomic_store(&w.w_en.en_slow_ms, 500);
	park_three_for_b(&a, &b, &c);

	/* b's outbox has made no progress since it filled, at 100. */
	ck_assert(!pb_engine_timed_out(&w.w_en, &b->fk_cn, 599, &why));
	ck_assert(!pb_engine_timed_out(&w.w_en, &c->fk_cn, 600, &why));
	ck_assert(pb_engine_timed_out(&w.w_en, &b->fk_cn, 600, &why));
	ck_assert_int_eq(why, PB_LEAVE_SLOW);

	pb_engine_leave(&w.w_en, &b->fk_cn, why);
	ck_assert_int_eq(pb_conn_state(&b->fk_cn), PB_CONN_DONE);
	ck_assert_int_eq(b->fk_cn.cn_why, PB_LEAVE_SLOW);
	ck_assert_uint_eq(w.w_t.leaves, 1);
	ck_assert_int_eq(w.w_t.leave_why, PB_LEAVE_SLOW);
	ck_assert_uint_eq(w.w_t.dropped, 2); /* its outbox */
	ck_assert_uint_eq(w.w_t.waiting, 3); /* in a's waiting room */
	ck_assert_uint_eq(b->fk_unpublish, 1);
	ck_assert_uint_eq(b->fk_close, 1);
	ck_assert_uint_eq(b->fk_done, 1);
	ck_assert_uint_eq(b->fk_linger, 0);
	ck_assert(pb_outbox_empty(&b->fk_cn.cn_outbox));
	ck_assert(!atomic_load(&b->fk_cn.cn_pending));
	ck_assert_uint_eq(a->fk_woken, 1); /* its waiters, so they see it */
	/* Leaving twice does nothing. */
	pb_engine_leave(&w.w_en, &b->fk_cn, PB_LEAVE_CLOSED);
	ck_assert_uint_eq(w.w_t.leaves, 1);
	ck_assert_uint_eq(b->fk_close, 1);

	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_uint_eq(w.w_t.dest_left, 3);
	ck_assert_int_eq(w.w_t.dest_left_why, PB_LEAVE_SLOW);
	ck_assert_int_eq(pb_leave_drop_stat(w.w_t.dest_left_why),
			 PB_STAT_DROP_SLOW);
	ck_assert_uint_eq(pb_park_bytes(&a->fk_cn.cn_park), 0);
	ck_assert_uint_eq(a->fk_forget, 1);

	/* From now on, frames for b are for nobody. */
	len = put(in, 0, 2, "late");
	script(a, in, len);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_uint_eq(w.w_t.unknown, 1);
	/* Found closed, forgotten and looked up once more (a stand-in for
	 * another node's client would have a successor): closed again. */
	ck_assert_uint_eq(a->fk_forget, 3);
	ck_assert_str_eq(sink(b), "");
	/* Every frame read is accounted for. */
	ck_assert_uint_eq(w.w_t.received, w.w_t.sent + w.w_t.unknown +
						  w.w_t.dropped +
						  w.w_t.dest_left);
	world_free();
}
END_TEST

/* A sender that leaves with frames waiting. */

START_TEST(test_sender_leaving_lingers_until_delivered)
{
	struct fake *a, *b, *c;
	enum pb_leave why;

	world_init(4, false);
	park_three_for_b(&a, &b, &c);
	script_end(a);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_LEAVE);
	ck_assert_int_eq(why, PB_LEAVE_CLOSED);

	pb_engine_leave(&w.w_en, &a->fk_cn, why);
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_LINGERING);
	ck_assert_uint_eq(a->fk_linger, 1);
	ck_assert_uint_eq(a->fk_close, 1);
	ck_assert_uint_eq(a->fk_done, 0);
	ck_assert_int_eq(w.w_t.leave_why, PB_LEAVE_CLOSED);
	ck_assert_ptr_null(a->fk_cn.cn_rbuf.rb_data); /* input given back */
	ck_assert_ptr_null(a->fk_cn.cn_route);
	ck_assert_str_eq(lane(a, 2), "ccc,ddd,eee,");
	ck_assert_uint_eq(w.w_t.gave_up, 0);

	b->fk_room = 100;
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_LINGERING);
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	pb_engine_retry(&w.w_en, &a->fk_cn);
	/* All moved on: done, and its place given back. */
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_DONE);
	ck_assert_uint_eq(a->fk_linger_end, 1);
	ck_assert_uint_eq(a->fk_done, 1);
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	ck_assert_str_eq(sink(b), "aaa,bbb,ccc,ddd,eee,");
	ck_assert_uint_eq(w.w_t.gave_up, 0);
	world_free();
	ck_assert_uint_eq(a->fk_linger_end, 1); /* not twice */
	ck_assert_uint_eq(w.w_t.left, 0);
}
END_TEST

START_TEST(test_sender_leaving_without_a_place_gives_up)
{
	struct fake *a, *b, *c;

	world_init(4, false);
	park_three_for_b(&a, &b, &c);
	a->fk_may_linger = false;

	pb_engine_leave(&w.w_en, &a->fk_cn, PB_LEAVE_RESET);
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_DONE);
	ck_assert_uint_eq(a->fk_linger, 1);
	ck_assert_uint_eq(a->fk_linger_end, 0);
	ck_assert_uint_eq(a->fk_done, 1);
	ck_assert_uint_eq(w.w_t.gave_up, 3);
	ck_assert_uint_eq(w.w_t.gave_up_calls, 1);
	ck_assert_uint_eq(w.w_t.gave_up_ms, 0);
	ck_assert_uint_eq(pb_park_bytes(&a->fk_cn.cn_park), 0);
	ck_assert_uint_eq(waiting_for(b), 0);

	b->fk_room = 100;
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	ck_assert_str_eq(sink(b), "aaa,bbb,");
	world_free();
	ck_assert_uint_eq(w.w_t.left, 0);
}
END_TEST

START_TEST(test_sender_leaving_at_shutdown_does_not_linger)
{
	struct fake *a, *b, *c;

	world_init(4, false);
	park_three_for_b(&a, &b, &c);
	pb_engine_leave(&w.w_en, &a->fk_cn, PB_LEAVE_SHUTDOWN);
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_DONE);
	ck_assert_uint_eq(a->fk_linger, 0);
	ck_assert_uint_eq(a->fk_done, 1);
	/* Left for its owner to drop when it lets a go. */
	world_free();
	ck_assert_uint_eq(w.w_t.gave_up + w.w_t.left, 3);
}
END_TEST

START_TEST(test_lingering_sender_stuck_for_slow_timeout_gives_up)
{
	struct fake *a, *b, *c;

	world_init(4, false);
	atomic_store(&w.w_en.en_slow_ms, 1000);
	park_three_for_b(&a, &b, &c);
	w.w_now = 300;
	pb_engine_leave(&w.w_en, &a->fk_cn, PB_LEAVE_CLOSED);
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_LINGERING);

	ck_assert(!pb_engine_linger_stuck(&w.w_en, &a->fk_cn, 1299));
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_LINGERING);
	ck_assert_uint_eq(w.w_t.gave_up, 0);
	ck_assert(pb_engine_linger_stuck(&w.w_en, &a->fk_cn, 1300));
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_DONE);
	ck_assert_uint_eq(w.w_t.gave_up, 3);
	ck_assert_uint_eq(w.w_t.gave_up_ms, 1000);
	ck_assert_uint_eq(a->fk_linger_end, 1);
	ck_assert_uint_eq(a->fk_done, 1);
	ck_assert_uint_eq(waiting_for(b), 0);
	world_free();
	ck_assert_uint_eq(a->fk_linger_end, 1);
}
END_TEST

START_TEST(test_lingering_sender_that_moves_frames_is_not_stuck)
{
	struct fake *a, *b, *c;

	world_init(4, false);
	atomic_store(&w.w_en.en_slow_ms, 1000);
	park_three_for_b(&a, &b, &c);
	pb_engine_leave(&w.w_en, &a->fk_cn, PB_LEAVE_CLOSED);
	/* At 900 two frames move on: the clock starts again. */
	w.w_now = 900;
	b->fk_room = 100;
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_str_eq(lane(a, 2), "eee,");
	ck_assert(!pb_engine_linger_stuck(&w.w_en, &a->fk_cn, 1899));
	ck_assert(pb_engine_linger_stuck(&w.w_en, &a->fk_cn, 1900));
	ck_assert_uint_eq(w.w_t.gave_up, 1);
	world_free();
}
END_TEST

/* Out of memory: a destination whose stream would have a gap is cut. */

START_TEST(test_no_memory_for_a_cut_frame_cuts_the_destination)
{
	struct fake *a, *b;
	char in[128];
	size_t len = 0, second;
	enum pb_leave why;

	world_init(4, false);
	a = client(0, 1, 64, 256);
	/* An outbox of 4 bytes cannot take the rest of a frame cut after
	 * 3, as when memory runs out. */
	b = client(1, 2, 4, 256);
	b->fk_room = 3;
	len = put(in, len, 2, "abcdefgh");
	len = put(in, len, 2, "ij");
	script(a, in, len);
	second = len;
	len = put(in, len, 2, "kl");
	script(a, in + second, len - second);

	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_str_eq(sink(b), "abc");
	ck_assert_uint_eq(w.w_t.lost, 2);
	ck_assert_int_eq(pb_conn_state(&b->fk_cn), PB_CONN_CUT);
	ck_assert_uint_eq(b->fk_shutdown, 1);
	ck_assert_uint_eq(b->fk_wake, 1); /* its owner must see it */
	ck_assert_uint_eq(pb_park_bytes(&a->fk_cn.cn_park), 0);
	ck_assert(pb_conn_open(&b->fk_cn));
	ck_assert(!pb_conn_left(&b->fk_cn));

	/* Nothing reaches it past the gap. */
	b->fk_room = 100;
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_str_eq(sink(b), "abc");
	ck_assert_uint_eq(b->fk_shutdown, 1);

	/* Its owner sees the end, and it leaves for want of memory. */
	ck_assert_int_eq(read_turn(b, &why), PB_READ_LEAVE);
	ck_assert_int_eq(why, PB_LEAVE_CLOSED);
	pb_engine_leave(&w.w_en, &b->fk_cn, why);
	ck_assert_int_eq(b->fk_cn.cn_why, PB_LEAVE_NOMEM_OUT);
	ck_assert_int_eq(w.w_t.leave_why, PB_LEAVE_NOMEM_OUT);
	ck_assert_int_eq(pb_conn_state(&b->fk_cn), PB_CONN_DONE);
	ck_assert_uint_eq(w.w_t.received,
			  w.w_t.sent + w.w_t.lost + w.w_t.dropped);
	world_free();
}
END_TEST

START_TEST(test_full_waiting_room_cuts_the_destination_once)
{
	struct fake *a, *b;
	struct pb_engine_turn turn;
	struct iovec iov[4];
	static const char *const p[] = {"aaa", "bbb", "ccc", "ddd"};
	int i;

	world_init(4, false);
	/* A server hands pb_engine_deliver more than the waiting room
	 * takes: what no queue has memory for is lost, and the
	 * destination cut. */
	a = client(0, 1, 64, 8);
	b = client(1, 2, 8, 256);
	b->fk_room = 0;
	for (i = 0; i < 4; i++) {
		iov[i].iov_base = (void *)(uintptr_t)p[i];
		iov[i].iov_len = 4;
	}
	turn.et_engine = &w.w_en;
	turn.et_sender = &a->fk_cn;
	pb_engine_deliver(&turn, 2, iov, 4);
	ck_assert_str_eq(outbox(b), "aaa,bbb,");
	ck_assert_str_eq(lane(a, 2), "ccc,ddd,");
	ck_assert_int_eq(pb_conn_state(&b->fk_cn), PB_CONN_OPEN);

	pb_engine_deliver(&turn, 2, iov, 1);
	ck_assert_uint_eq(w.w_t.lost, 1);
	ck_assert_int_eq(pb_conn_state(&b->fk_cn), PB_CONN_CUT);
	ck_assert_uint_eq(b->fk_shutdown, 1);
	ck_assert_uint_eq(b->fk_wake, 2);
	ck_assert_str_eq(lane(a, 2), "ccc,ddd,");
	pb_engine_deliver(&turn, 2, iov, 2);
	ck_assert_uint_eq(w.w_t.lost, 3);
	ck_assert_uint_eq(b->fk_shutdown, 1); /* cut once */

	/* b's socket fails at its owner's next write: it leaves, for want
	 * of memory, and so do the frames waiting for it. */
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), -1);
	ck_assert_int_eq(errno, EPIPE);
	pb_engine_leave(&w.w_en, &b->fk_cn, PB_LEAVE_RESET);
	ck_assert_int_eq(w.w_t.leave_why, PB_LEAVE_NOMEM_OUT);
	ck_assert_uint_eq(w.w_t.dropped, 2);
	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_uint_eq(w.w_t.dest_left, 2);
	ck_assert_int_eq(w.w_t.dest_left_why, PB_LEAVE_NOMEM_OUT);
	ck_assert_int_eq(pb_leave_drop_stat(w.w_t.dest_left_why),
			 PB_STAT_DROP_NOMEM);
	world_free();
}
END_TEST

/* A client's life. */

START_TEST(test_conn_life_through_every_state)
{
	struct pb_conn_env env = {
		.ce_max_frame = MAX_FRAME, .ce_outbox = 64, .ce_park = 64};
	struct pb_conn c;

	pb_conn_init(&c, &env, 7, "fake");
	ck_assert_int_eq(pb_conn_state(&c), PB_CONN_NEW);
	ck_assert(!pb_conn_open(&c));
	ck_assert(!pb_conn_left(&c));
	ck_assert(!pb_conn_cut(&c)); /* only an OPEN client is cut */
	ck_assert_int_eq(pb_conn_state(&c), PB_CONN_NEW);
	pb_conn_set_state(&c, PB_CONN_OPEN);
	ck_assert(pb_conn_open(&c));
	ck_assert(pb_conn_cut(&c));
	ck_assert_int_eq(pb_conn_state(&c), PB_CONN_CUT);
	ck_assert(!pb_conn_cut(&c)); /* once */
	ck_assert(pb_conn_open(&c)); /* still queued for, until it leaves */
	ck_assert(!pb_conn_left(&c));
	pb_conn_set_state(&c, PB_CONN_LINGERING);
	ck_assert(!pb_conn_open(&c));
	ck_assert(pb_conn_left(&c));
	ck_assert(!pb_conn_cut(&c));
	ck_assert_int_eq(pb_conn_state(&c), PB_CONN_LINGERING);
	pb_conn_set_state(&c, PB_CONN_DONE);
	ck_assert(pb_conn_left(&c));
	ck_assert(!pb_conn_cut(&c));
	pb_conn_free(&c);

	/* The shortcuts: refused, left at once, cut and gone. */
	pb_conn_init(&c, &env, 8, "fake");
	pb_conn_set_state(&c, PB_CONN_DONE);
	ck_assert_int_eq(pb_conn_state(&c), PB_CONN_DONE);
	pb_conn_init(&c, &env, 9, "fake");
	pb_conn_set_state(&c, PB_CONN_OPEN);
	pb_conn_set_state(&c, PB_CONN_LINGERING);
	pb_conn_init(&c, &env, 10, "fake");
	pb_conn_set_state(&c, PB_CONN_OPEN);
	pb_conn_set_state(&c, PB_CONN_DONE);
	pb_conn_init(&c, &env, 11, "fake");
	pb_conn_set_state(&c, PB_CONN_OPEN);
	ck_assert(pb_conn_cut(&c));
	pb_conn_set_state(&c, PB_CONN_DONE);
	ck_assert_int_eq(pb_conn_state(&c), PB_CONN_DONE);
}
END_TEST

START_TEST(test_conn_state_names)
{
	ck_assert_str_eq(pb_conn_state_name(PB_CONN_NEW), "new");
	ck_assert_str_eq(pb_conn_state_name(PB_CONN_OPEN), "open");
	ck_assert_str_eq(pb_conn_state_name(PB_CONN_CUT), "cut");
	ck_assert_str_eq(pb_conn_state_name(PB_CONN_LINGERING), "lingering");
	ck_assert_str_eq(pb_conn_state_name(PB_CONN_DONE), "done");
	ck_assert_str_eq(pb_conn_state_name(PB_CONN_STATES), "?");
	ck_assert_str_eq(pb_conn_state_name((enum pb_conn_state) - 1), "?");
}
END_TEST

START_TEST(test_conn_init_cuts_a_long_address)
{
	struct pb_conn_env env = {.ce_max_frame = MAX_FRAME};
	char addr[PB_CONN_ADDRLEN + 10];
	struct pb_conn c;

	memset(addr, 'x', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	pb_conn_init(&c, &env, 1, addr);
	ck_assert_uint_eq(strlen(c.cn_addr), PB_CONN_ADDRLEN - 1);
	ck_assert_int_eq(c.cn_why, PB_LEAVE_CLOSED);
}
END_TEST

/* Each of these must abort: a step that is not in conn.h's diagram. */
static const enum pb_conn_state bad_steps[][2] = {
	{PB_CONN_NEW, PB_CONN_CUT},	   {PB_CONN_NEW, PB_CONN_LINGERING},
	{PB_CONN_OPEN, PB_CONN_NEW},	   {PB_CONN_OPEN, PB_CONN_OPEN},
	{PB_CONN_CUT, PB_CONN_OPEN},	   {PB_CONN_LINGERING, PB_CONN_OPEN},
	{PB_CONN_LINGERING, PB_CONN_CUT},  {PB_CONN_DONE, PB_CONN_OPEN},
	{PB_CONN_DONE, PB_CONN_LINGERING},
};

START_TEST(test_conn_step_outside_the_diagram_aborts)
{
	struct pb_conn_env env = {.ce_max_frame = MAX_FRAME};
	struct pb_conn c;
	enum pb_conn_state from = bad_steps[_i][0];

	pb_conn_init(&c, &env, 1, "fake");
	/* Reach 'from' by allowed steps. */
	if (from != PB_CONN_NEW && from != PB_CONN_DONE)
		pb_conn_set_state(&c, PB_CONN_OPEN);
	if (from == PB_CONN_CUT)
		ck_assert(pb_conn_cut(&c));
	if (from == PB_CONN_LINGERING || from == PB_CONN_DONE)
		pb_conn_set_state(&c, from);
	ck_assert_int_eq(pb_conn_state(&c), from);
	/* The assertion's message is expected: not in the test's log. */
	ck_assert_int_ge(dup2(open("/dev/null", O_WRONLY), 2), 0);
	pb_conn_set_state(&c, bad_steps[_i][1]);
}
END_TEST

/* How a turn of reading ends. */

START_TEST(test_read_held_while_the_waiting_room_is_full)
{
	struct fake *a, *b;
	char in[128];
	size_t len = 0;
	enum pb_leave why;

	world_init(16, false);
	a = client(0, 1, 64, 8); /* a waiting room of 8 bytes */
	b = client(1, 2, 4, 256);
	b->fk_room = 0;
	len = put(in, len, 2, "aaa");
	len = put(in, len, 2, "bbb");
	len = put(in, len, 2, "ccc");
	len = put(in, len, 2, "ddd");
	script(a, in, len);

	/* Each read takes no more than the waiting room could hold: once
	 * it is full, only a header, which cannot make a frame. */
	ck_assert_int_eq(read_turn(a, &why), PB_READ_HELD);
	ck_assert_str_eq(outbox(b), "aaa,");
	ck_assert_str_eq(lane(a, 2), "bbb,ccc,");
	ck_assert_uint_eq(pb_park_room(&a->fk_cn.cn_park), 0);
	ck_assert_uint_eq(a->fk_cn.cn_rbuf.rb_len, PB_FRAME_HEADER);
	ck_assert_uint_eq(w.w_t.received, 3);
	ck_assert(!pb_engine_wants_input(&w.w_en, &a->fk_cn));
	ck_assert_uint_eq(a->fk_reads, 4);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_HELD);
	ck_assert_uint_eq(a->fk_reads, 4); /* not even tried */

	/* Room again: the frame is read whole and waits behind. */
	b->fk_room = 100;
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &b->fk_cn), 0);
	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_str_eq(lane(a, 2), "ccc,");
	ck_assert(pb_engine_wants_input(&w.w_en, &a->fk_cn));
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_uint_eq(w.w_t.received, 4);
	ck_assert_str_eq(lane(a, 2), "ccc,ddd,");
	world_free();
}
END_TEST

START_TEST(test_read_held_while_memory_is_spent_or_stopping)
{
	struct fake *a;
	char in[32];
	enum pb_leave why;

	world_init(4, false);
	a = client(0, 1, 64, 256);
	script(a, in, put(in, 0, 9, "x"));
	pb_budget_set_limit(&w.w_budget, 0);
	ck_assert(!pb_engine_wants_input(&w.w_en, &a->fk_cn));
	ck_assert_int_eq(read_turn(a, &why), PB_READ_HELD);
	ck_assert_uint_eq(a->fk_reads, 0);
	pb_budget_set_limit(&w.w_budget, BIG_BUDGET);
	atomic_store(&w.w_en.en_stopping, true);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_HELD);
	ck_assert_uint_eq(a->fk_reads, 0);
	atomic_store(&w.w_en.en_stopping, false);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_uint_eq(w.w_t.unknown, 1);
	world_free();
}
END_TEST

START_TEST(test_read_drained_on_eagain)
{
	struct fake *a;
	enum pb_leave why;

	world_init(4, true);
	a = client(0, 1, 64, 256);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_uint_eq(a->fk_reads, 1);
	ck_assert_uint_eq(w.w_t.received, 0);
	world_free();
}
END_TEST

START_TEST(test_read_short_read_drains_only_without_until_eagain)
{
	struct fake *a;
	char in[32];
	size_t len = put(in, 0, 9, "x");
	enum pb_leave why;

	/* Asked for each time (poll): a short read is taken as drained. */
	world_init(4, false);
	a = client(0, 1, 64, 256);
	script(a, in, len);
	script(a, in, len);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_uint_eq(a->fk_reads, 1);
	ck_assert_uint_eq(w.w_t.unknown, 1);
	world_free();

	/* Edge-triggered: only EAGAIN says so. */
	world_init(4, true);
	a = client(0, 1, 64, 256);
	script(a, in, len);
	script(a, in, len);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_uint_eq(a->fk_reads, 3);
	ck_assert_uint_eq(w.w_t.unknown, 2);
	world_free();
}
END_TEST

START_TEST(test_read_more_after_a_turn_of_full_reads)
{
	static char in[40000];
	struct fake *a;
	size_t len = 0;
	enum pb_leave why;

	world_init(2, false);
	a = client(0, 1, 64, 1 << 16);
	while (len + 16 < sizeof(in))
		len = put(in, len, 99, "0123456789");
	script(a, in, len);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_MORE);
	ck_assert_uint_eq(a->fk_reads, 2);
	/* Full reads grow the buffer: 4 KiB, then 8. */
	ck_assert_uint_eq(a->fk_cn.cn_rbuf.rb_cap, 2 * PB_RBUF_MIN);
	ck_assert_uint_eq(w.w_t.received, (3 * PB_RBUF_MIN) / 15);
	ck_assert_uint_eq(w.w_t.unknown, w.w_t.received);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_MORE);
	ck_assert_uint_eq(a->fk_reads, 4);
	world_free();
}
END_TEST

START_TEST(test_read_retries_after_eintr)
{
	struct fake *a;
	char in[32];
	enum pb_leave why;

	world_init(4, false);
	a = client(0, 1, 64, 256);
	script_err(a, EINTR);
	script(a, in, put(in, 0, 9, "x"));
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_uint_eq(a->fk_reads, 2);
	ck_assert_uint_eq(w.w_t.unknown, 1);
	world_free();
}
END_TEST

START_TEST(test_read_leave_when_closed_or_reset)
{
	struct fake *a;
	char in[32];
	enum pb_leave why;

	world_init(4, true);
	a = client(0, 1, 64, 256);
	script(a, in, put(in, 0, 9, "x"));
	script_end(a);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_LEAVE);
	ck_assert_int_eq(why, PB_LEAVE_CLOSED);
	ck_assert_uint_eq(w.w_t.unknown, 1); /* what came before: routed */
	world_free();

	world_init(4, true);
	a = client(0, 1, 64, 256);
	script_err(a, ECONNRESET);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_LEAVE);
	ck_assert_int_eq(why, PB_LEAVE_RESET);
	world_free();
}
END_TEST

START_TEST(test_read_leave_on_a_frame_too_long)
{
	struct fake *a, *b;
	char in[256];
	size_t len = 0;
	enum pb_leave why;

	world_init(4, false);
	a = client(0, 1, 64, 256);
	b = client(1, 2, 64, 256);
	len = put(in, len, 2, "ok");
	pb_frame_put_id(in + len, 2);
	memset(in + len + PB_FRAME_HEADER, 'x', MAX_FRAME + 10);
	len += PB_FRAME_HEADER + MAX_FRAME + 10;
	script(a, in, len);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_LEAVE);
	ck_assert_int_eq(why, PB_LEAVE_PROTOCOL);
	ck_assert_uint_eq(w.w_t.protocol, 1);
	ck_assert_str_eq(sink(b), "ok,"); /* the frames before it go */
	ck_assert_uint_eq(w.w_t.received, 1);
	world_free();
}
END_TEST

START_TEST(test_frame_unfinished_past_frame_timeout)
{
	struct fake *a;
	char in[32];
	size_t len = put(in, 0, 9, "abcdef");
	enum pb_leave why;

	world_init(4, false);
	atomic_store(&w.w_en.en_slow_ms, 100000);
	atomic_store(&w.w_en.en_frame_ms, 500);
	a = client(0, 1, 64, 256);
	w.w_now = 1000;
	script(a, in, len - 3); /* the frame's first bytes only */
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert(!pb_engine_timed_out(&w.w_en, &a->fk_cn, 1499, &why));
	ck_assert(pb_engine_timed_out(&w.w_en, &a->fk_cn, 1500, &why));
	ck_assert_int_eq(why, PB_LEAVE_FRAME_TIMEOUT);
	world_free();
}
END_TEST

START_TEST(test_idle_read_buffer_goes_back)
{
	struct fake *a;
	char in[32];
	enum pb_leave why;

	world_init(4, false);
	atomic_store(&w.w_en.en_slow_ms, 100000);
	atomic_store(&w.w_en.en_frame_ms, 100000);
	a = client(0, 1, 64, 256);
	w.w_now = 1000;
	script(a, in, put(in, 0, 9, "x"));
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_ptr_nonnull(a->fk_cn.cn_rbuf.rb_data);
	ck_assert_ptr_nonnull(a->fk_cn.cn_route);
	ck_assert_uint_gt(pb_budget_used(&w.w_input_share), 0);
	ck_assert(!pb_engine_timed_out(&w.w_en, &a->fk_cn,
				       1000 + PB_RBUF_IDLE_MS - 1, &why));
	ck_assert_ptr_nonnull(a->fk_cn.cn_rbuf.rb_data);
	ck_assert(!pb_engine_timed_out(&w.w_en, &a->fk_cn,
				       1000 + PB_RBUF_IDLE_MS, &why));
	ck_assert_ptr_null(a->fk_cn.cn_rbuf.rb_data);
	ck_assert_ptr_null(a->fk_cn.cn_route);
	ck_assert_uint_eq(pb_budget_used(&w.w_input_share), 0);
	world_free();
}
END_TEST

/*
 * The reactor's eo_flush writes at once, and a socket that fails there
 * leaves (rc_flush). A client that sends to itself (doc/protocol.md,
 * "Sending to yourself") retries its own lane, its flush fails, and with
 * no place to linger it gives up its waiting room, all inside
 * pb_engine_retry, which must then not touch the lanes it was walking.
 *
 * It fails today (a crash, or pk_nlanes wrapped to SIZE_MAX): after
 * ops->eo_flush(d) (engine.c, pb_engine_retry) the loop goes on to lane
 * i - 1 of a waiting room that pb_engine_leave -> engine_drop_all has
 * emptied, and pb_park_retry removes that lane a second time
 * (park_remove_lane: --pk_nlanes from 0).
 */
START_TEST(test_retry_survives_its_sender_leaving_in_a_flush)
{
	struct fake *a, *b;
	char in[128];
	size_t len = 0;
	enum pb_leave why;

	world_init(4, false);
	w.w_reactor_flush = true;
	a = client(0, 1, 8, 256);
	b = client(1, 2, 8, 256);
	a->fk_room = 0;
	b->fk_room = 0;
	a->fk_may_linger = false;
	len = put(in, len, 2, "aaa");
	len = put(in, len, 2, "bbb");
	len = put(in, len, 2, "ccc");
	len = put(in, len, 1, "sss");
	len = put(in, len, 1, "ttt");
	len = put(in, len, 1, "uuu");
	script(a, in, len);
	ck_assert_int_eq(read_turn(a, &why), PB_READ_DRAINED);
	ck_assert_str_eq(lane(a, 2), "ccc,");
	ck_assert_str_eq(lane(a, 1), "uuu,");
	ck_assert_uint_eq(a->fk_cn.cn_park.pk_nlanes, 2);

	/* a's own outbox drains; then its socket fails. */
	a->fk_room = 100;
	ck_assert_int_eq(pb_engine_flush(&w.w_en, &a->fk_cn), 0);
	ck_assert_str_eq(sink(a), "sss,ttt,");
	a->fk_write_errno = ECONNRESET;

	pb_engine_retry(&w.w_en, &a->fk_cn);
	ck_assert_uint_eq(a->fk_flush, 1);
	ck_assert_int_eq(pb_conn_state(&a->fk_cn), PB_CONN_DONE);
	ck_assert_int_eq(w.w_t.leave_why, PB_LEAVE_RESET);
	ck_assert_uint_eq(w.w_t.dropped, 1); /* "uuu", moved, unwritten */
	ck_assert_uint_eq(w.w_t.gave_up, 1); /* "ccc" */
	ck_assert_uint_eq(a->fk_cn.cn_park.pk_nlanes, 0);
	ck_assert_uint_eq(pb_park_bytes(&a->fk_cn.cn_park), 0);
	ck_assert_str_eq(outbox(b), "aaa,bbb,");
	world_free();
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("deliver");

	tcase_add_test(tc, test_read_delivers_each_destination_its_frames);
	tcase_add_test(tc,
		       test_short_write_queues_the_rest_and_flush_counts_it);
	tcase_add_test(tc, test_full_outbox_parks_the_rest_in_order);
	tcase_add_test(tc, test_retry_after_drain_moves_parked_frames_in_order);
	tcase_add_test(tc, test_retry_without_room_waits_again);
	tcase_add_test(tc, test_waiter_without_memory_retries_on_its_own);
	suite_add_tcase(s, tc);

	tc = tcase_create("leave");
	tcase_add_test(
		tc, test_slow_destination_leaves_and_parked_frames_are_dropped);
	tcase_add_test(tc, test_destination_found_no_more_is_counted_missing);
	tcase_add_test(tc, test_sender_leaving_lingers_until_delivered);
	tcase_add_test(tc, test_sender_leaving_without_a_place_gives_up);
	tcase_add_test(tc, test_sender_leaving_at_shutdown_does_not_linger);
	tcase_add_test(tc,
		       test_lingering_sender_stuck_for_slow_timeout_gives_up);
	tcase_add_test(tc,
		       test_lingering_sender_that_moves_frames_is_not_stuck);
	suite_add_tcase(s, tc);

	tc = tcase_create("nomem");
	tcase_add_test(tc, test_no_memory_for_a_cut_frame_cuts_the_destination);
	tcase_add_test(tc, test_full_waiting_room_cuts_the_destination_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("life");
	tcase_add_test(tc, test_conn_life_through_every_state);
	tcase_add_test(tc, test_conn_state_names);
	tcase_add_test(tc, test_conn_init_cuts_a_long_address);
#ifndef NDEBUG
	tcase_add_loop_test_raise_signal(
		tc, test_conn_step_outside_the_diagram_aborts, SIGABRT, 0,
		(int)(sizeof(bad_steps) / sizeof(bad_steps[0])));
#endif
	suite_add_tcase(s, tc);

	tc = tcase_create("read");
	tcase_add_test(tc, test_read_held_while_the_waiting_room_is_full);
	tcase_add_test(tc, test_read_held_while_memory_is_spent_or_stopping);
	tcase_add_test(tc, test_read_drained_on_eagain);
	tcase_add_test(tc,
		       test_read_short_read_drains_only_without_until_eagain);
	tcase_add_test(tc, test_read_more_after_a_turn_of_full_reads);
	tcase_add_test(tc, test_read_retries_after_eintr);
	tcase_add_test(tc, test_read_leave_when_closed_or_reset);
	tcase_add_test(tc, test_read_leave_on_a_frame_too_long);
	tcase_add_test(tc, test_frame_unfinished_past_frame_timeout);
	tcase_add_test(tc, test_idle_read_buffer_goes_back);
	suite_add_tcase(s, tc);

	tc = tcase_create("reentry");
	tcase_add_test(tc, test_retry_survives_its_sender_leaving_in_a_flush);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(engine_suite());
}
