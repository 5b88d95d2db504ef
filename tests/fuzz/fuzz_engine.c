/* SPDX-License-Identifier: ISC */
/*
 * fuzz_engine.c: the delivery engine (engine.h) with a few clients sending
 * to each other through it, on a fake table of operations, in an order the
 * input chooses: reads of any size (or EAGAIN, EINTR, the end, a reset),
 * sockets that take what the input allows (or fail), owners that flush
 * and retry when the engine asked them to, clients that leave for any
 * reason, time that passes (slow consumers, lingering senders stuck),
 * outboxes squeezed to what they hold (memory that runs out: a frame cut
 * short cannot be completed, and its destination is cut), waiters that
 * cannot be registered, a budget spent, and frames handed to
 * pb_engine_deliver past the waiting room (lost, and cut).
 *
 * Each client's input is generated as it is read: frames to the others,
 * to itself, to nobody, and now and then one too long. Every payload
 * says who sent it and its number in the sender's stream, so that each
 * destination can check what its socket got against a reference model.
 * After every step:
 *  - each destination got, from each sender, exactly a prefix of the
 *    frames that sender's stream routed to it, byte for byte, in order:
 *    nothing skipped, nothing twice, nothing that was not read;
 *  - the counts reconcile: frames received = frames forwarded (the 0x00
 *    bytes written to sockets) + every drop (unknown, no memory, dropped
 *    at a destination's leaving, destination left, sender left or gave
 *    up) + what outboxes and waiting rooms still hold;
 *  - each open destination's count of frames waiting for it is what the
 *    senders' waiting rooms hold for it;
 *  - the budget holds exactly what the clients have allocated;
 *  - the lock rules of engine.h hold, and no closed socket is touched.
 * At the end every socket takes all and the owners do only what the
 * engine asked of them (a flush, a wake, a retry): every queue must then
 * drain, with no wake-up lost, and every destination still open and never
 * cut must have got every frame sent to it by a sender that never gave
 * up. Then everyone leaves, everything is let go, the counts reconcile
 * with nothing queued, and the budget is back to 0.
 *
 * The owners are the strictest of both servers: eo_flush asks the owner
 * to write later, as patchbayd's does; eo_wake asks nothing, as the
 * reactor's, whose socket reports room after a short write, or its
 * shutdown. (The reactor's eo_flush writes at once, inside
 * pb_engine_retry: built with -DFUZZ_REACTOR_FLUSH, this does that too
 * when the input asks, which finds the bug that check_engine's
 * test_retry_survives_its_sender_leaving_in_a_flush shows.)
 *
 * Input: 1 byte for max_frame, 1 for the engine's reads a turn, whether
 * it reads until EAGAIN (and whether eo_flush writes at once, with
 * -DFUZZ_REACTOR_FLUSH), 2 a client for its outbox's and its waiting
 * room's limits, 2 for --slow-timeout and --frame-timeout; then steps, 1
 * byte each (the step, and the client it is for) and their arguments; the
 * fake sockets take further bytes when read.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "budget.h"
#include "conn.h"
#include "engine.h"
#include "frame.h"
#include "fuzz.h"
#include "leave.h"
#include "outbox.h"
#include "park.h"
#include "route.h"

#define FZ_N	      4		 /* clients, ids 1 .. FZ_N */
#define FZ_TAGS	      (2 * FZ_N) /* a stream read, and one handed in, each */
#define FZ_NOBODY     99	 /* an id nobody has */
#define FZ_MAX_STEP   3000
#define FZ_HEAD	      4 /* tag and a 3-digit number start each payload */
#define FZ_NREASONS   (PB_LEAVE_FRAME_TIMEOUT + 1)
#define FZ_BIG_BUDGET ((size_t)1 << 30)

/* -DFUZZ_TRACE: what happens, step by step, on stderr (to read a crash). */
#ifdef FUZZ_TRACE
#define FZ_TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define FZ_TRACE(...) ((void)0)
#endif

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

/* A frame a stream sent, as the model knows it. */
struct sent {
	uint32_t st_dest;
	uint32_t st_seq;
	size_t st_filler; /* payload bytes after the head, before 0x00 */
	size_t st_end;	  /* where it ends in its sender's input (read) */
};

/* What one tag (a client's read stream, or what it handed in) sent. */
struct stream {
	struct sent *sm_sent;
	size_t sm_n, sm_alloc;
	size_t sm_cursor[FZ_N]; /* per destination: frames of sm_sent up to
				   the last one it got */
};

struct fz_client {
	struct pb_conn fc_cn;
	struct fz *fc_z;
	bool fc_in_use; /* in the table: found, until freed */
	size_t fc_index;
	size_t fc_outbox_limit; /* as made: squeezes are undone at the end */

	/* Its socket, written. */
	struct bytes fc_sink;
	size_t fc_parsed; /* how far the sink was checked */
	size_t fc_room;
	bool fc_want_out; /* a write fell short: room will be reported */
	bool fc_broken;	  /* writes fail with ECONNRESET */
	bool fc_shut, fc_closed;

	/* Its socket, read: generated as it is read. */
	struct bytes fc_input;
	size_t fc_fed;	    /* bytes given to the engine */
	size_t fc_too_long; /* where a frame too long starts, or SIZE_MAX */
	bool fc_ended;	    /* the peer closed */

	/* What the engine asked of its owner. */
	bool fc_event; /* write: eo_flush, room after a short write, or
			  its shutdown */
	bool fc_retry; /* retry its waiting room: woken, or on its own */

	bool fc_gave_up; /* its waiting room was dropped (not delivered) */
	bool fc_was_cut;
};

struct fz {
	struct fuzz_in *z_in;
	struct fz_client z_c[FZ_N];
	struct stream z_streams[FZ_TAGS];
	struct pb_engine z_en;
	struct pb_budget z_budget, z_park_share, z_input_share;
	size_t z_max_frame;
	uint64_t z_now;
	struct fz_client *z_locked;
	bool z_wait_fails;
	bool z_reactor_flush;
	bool z_final; /* the last drain: only what the engine asked */

	/* The tally. */
	size_t z_received, z_injected, z_unknown, z_sent, z_lost, z_parked;
	size_t z_forwarded, z_dropped, z_dest_left, z_left, z_gave_up;
	size_t z_leaves;
};

/* One world at a time: the tally's callbacks have no argument. */
static struct fz *fz_world;

static struct fz_client *fz_of(struct pb_conn *c)
{
	return (struct fz_client *)(void *)((char *)c -
					    offsetof(struct fz_client, fc_cn));
}

static struct fz_client *fz_by_id(struct fz *z, uint32_t id)
{
	if (id < 1 || id > FZ_N || !z->z_c[id - 1].fc_in_use)
		return NULL;
	return &z->z_c[id - 1];
}

/* The payload of frame k of a tag's stream: tag, number, filler, 0x00. */
static void fz_payload(uint8_t *out, size_t tag, const struct sent *st)
{
	size_t i;

	out[0] = (uint8_t)(tag + 1);
	out[1] = (uint8_t)(st->st_seq / (255 * 255) % 255 + 1);
	out[2] = (uint8_t)(st->st_seq / 255 % 255 + 1);
	out[3] = (uint8_t)(st->st_seq % 255 + 1);
	for (i = 0; i < st->st_filler; i++)
		out[FZ_HEAD + i] = (uint8_t)((st->st_seq * 7 + i) % 255 + 1);
	out[FZ_HEAD + st->st_filler] = 0;
}

static struct sent *fz_new_sent(struct stream *sm)
{
	if (sm->sm_n == sm->sm_alloc) {
		size_t n = sm->sm_alloc ? 2 * sm->sm_alloc : 64;
		struct sent *p = realloc(sm->sm_sent, n * sizeof(*p));

		if (p == NULL)
			abort();
		sm->sm_sent = p;
		sm->sm_alloc = n;
	}
	return &sm->sm_sent[sm->sm_n++];
}

/* A destination id as the input chooses: a client, or nobody. */
static uint32_t fz_dest(uint8_t v)
{
	return v % 5 == 4 ? FZ_NOBODY : (uint32_t)(v % 5) + 1;
}

/* Appends a frame to c's input, as the input says. */
static void fz_generate(struct fz *z, struct fz_client *c)
{
	uint8_t v = fuzz_u8(z->z_in), head[PB_FRAME_HEADER];
	uint8_t payload[FZ_HEAD + 256 + 1];
	struct stream *sm = &z->z_streams[c->fc_index];
	struct sent *st;
	uint32_t dest = fz_dest(v);

	if (v >= 250 && c->fc_too_long == SIZE_MAX) {
		/* No 0x00 within max_frame bytes: a protocol error. */
		size_t i;

		c->fc_too_long = c->fc_input.b_len;
		pb_frame_put_id((char *)head, dest);
		bytes_add(&c->fc_input, head, sizeof(head));
		for (i = 0; i < z->z_max_frame + 1; i++)
			bytes_add(&c->fc_input, "x", 1);
		return;
	}
	st = fz_new_sent(sm);
	st->st_dest = dest;
	st->st_seq = (uint32_t)(sm->sm_n - 1);
	st->st_filler = fuzz_u8(z->z_in) % (z->z_max_frame - FZ_HEAD);
	fz_payload(payload, c->fc_index, st);
	pb_frame_put_id((char *)head, dest);
	bytes_add(&c->fc_input, head, sizeof(head));
	bytes_add(&c->fc_input, payload, FZ_HEAD + st->st_filler + 1);
	st->st_end = c->fc_input.b_len;
	FZ_TRACE("  %u generates #%u for %u (%zu bytes)\n", c->fc_cn.cn_id,
		 st->st_seq, dest, st->st_filler + FZ_HEAD + 1);
}

/* The operations. */

static void fz_no_lock(struct fz *z)
{
	FUZZ_CHECK(z->z_locked == NULL);
}

static struct pb_conn *fz_find(struct pb_conn *s, uint32_t id)
{
	struct fz_client *d;

	fz_no_lock(fz_of(s)->fc_z);
	d = fz_by_id(fz_of(s)->fc_z, id);
	return d != NULL ? &d->fc_cn : NULL;
}

static void fz_forget(struct pb_conn *s, uint32_t id)
{
	(void)id;
	fz_no_lock(fz_of(s)->fc_z);
}

static void fz_lock(struct pb_conn *c)
{
	struct fz *z = fz_of(c)->fc_z;

	fz_no_lock(z);
	z->z_locked = fz_of(c);
}

static void fz_unlock(struct pb_conn *c)
{
	struct fz *z = fz_of(c)->fc_z;

	FUZZ_CHECK(z->z_locked == fz_of(c));
	z->z_locked = NULL;
}

static ssize_t fz_read(struct pb_conn *cn, void *buf, size_t len)
{
	struct fz_client *c = fz_of(cn);
	struct fz *z = c->fc_z;
	uint8_t v;
	size_t n;

	fz_no_lock(z);
	FUZZ_CHECK(!c->fc_closed);
	FUZZ_CHECK(len > 0);
	if (c->fc_shut || c->fc_ended)
		return 0;
	v = fuzz_u8(z->z_in);
	if (v < 40) {
		errno = EAGAIN;
		return -1;
	}
	if (v == 40 || v == 41) {
		errno = v == 40 ? EINTR : ECONNRESET;
		return -1;
	}
	if (v == 42) {
		c->fc_ended = true;
		return 0;
	}
	/* A full read now and then, so that buffers grow and turns end. */
	n = v >= 224 ? len : 1 + (size_t)(fuzz_u8(z->z_in) % 64) * (v % 8 + 1);
	if (n > len)
		n = len;
	while (c->fc_input.b_len < c->fc_fed + n)
		fz_generate(z, c);
	memcpy(buf, c->fc_input.b_p + c->fc_fed, n);
	c->fc_fed += n;
	FZ_TRACE("  %u reads %zu of %zu\n", c->fc_cn.cn_id, n, len);
	return (ssize_t)n;
}

static ssize_t fz_write(struct pb_conn *cn, const struct iovec *iov, size_t n)
{
	struct fz_client *c = fz_of(cn);
	size_t i, took = 0, offered = 0;

	FUZZ_CHECK(c->fc_z->z_locked == c);
	FUZZ_CHECK(!c->fc_closed);
	FUZZ_CHECK(n >= 1);
	if (c->fc_shut || c->fc_broken) {
		c->fc_want_out = true; /* an error is reported too */
		errno = c->fc_shut ? EPIPE : ECONNRESET;
		return -1;
	}
	for (i = 0; i < n; i++) {
		size_t k = iov[i].iov_len < c->fc_room ? iov[i].iov_len
						       : c->fc_room;

		bytes_add(&c->fc_sink, iov[i].iov_base, k);
		c->fc_room -= k;
		took += k;
		offered += iov[i].iov_len;
	}
	if (took < offered)
		c->fc_want_out = true; /* short: room will be told */
	FZ_TRACE("  %u written %zu of %zu\n", c->fc_cn.cn_id, took, offered);
	if (took == 0) {
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)took;
}

static int fz_wait_on(struct pb_conn *d, struct pb_conn *s)
{
	struct fz *z = fz_of(d)->fc_z;

	FUZZ_CHECK(z->z_locked == fz_of(d));
	FZ_TRACE("  %u waits on %u%s\n", s->cn_id, d->cn_id,
		 z->z_wait_fails ? ": no memory" : "");
	if (z->z_wait_fails)
		return -1;
	return pb_waiters_add(&d->cn_waiters, s->cn_id);
}

static void fz_wake_waiters(struct pb_conn *d, struct pb_waiters *w)
{
	struct fz *z = fz_of(d)->fc_z;
	size_t i;

	fz_no_lock(z);
	for (i = 0; i < w->wt_n; i++) {
		struct fz_client *s = fz_by_id(z, (uint32_t)w->wt_list[i]);

		FZ_TRACE("  %u wakes %u\n", d->cn_id, (unsigned)w->wt_list[i]);
		if (s != NULL)
			s->fc_retry = true;
	}
	pb_waiters_free(w);
}

static void fz_retry_later(struct pb_conn *s)
{
	FZ_TRACE("  %u retries later\n", s->cn_id);
	fz_of(s)->fc_retry = true;
}

/* As the reactor: the socket will say (a short write, or its shutdown). */
static void fz_wake(struct pb_conn *d)
{
	fz_no_lock(fz_of(d)->fc_z);
}

static void fz_flush(struct pb_conn *d)
{
	struct fz *z = fz_of(d)->fc_z;

	fz_no_lock(z);
	FZ_TRACE("  %u to flush\n", d->cn_id);
	if (!z->z_reactor_flush) {
		fz_of(d)->fc_event = true;
		return;
	}
	if (pb_engine_flush(&z->z_en, d) < 0)
		pb_engine_leave(&z->z_en, d, PB_LEAVE_RESET);
}

static void fz_shutdown(struct pb_conn *d)
{
	struct fz_client *c = fz_of(d);

	FUZZ_CHECK(c->fc_z->z_locked == c);
	FUZZ_CHECK(!c->fc_shut);
	FUZZ_CHECK(pb_conn_state(d) == PB_CONN_CUT);
	FZ_TRACE("  %u cut\n", d->cn_id);
	c->fc_shut = true;
	c->fc_was_cut = true;
	c->fc_event = true; /* its owner sees the end */
}

static void fz_unpublish(struct pb_conn *c)
{
	fz_no_lock(fz_of(c)->fc_z);
}

static void fz_close(struct pb_conn *c)
{
	fz_no_lock(fz_of(c)->fc_z);
	FUZZ_CHECK(!fz_of(c)->fc_closed);
	FUZZ_CHECK(pb_conn_left(c));
	fz_of(c)->fc_closed = true;
}

static bool fz_linger(struct pb_conn *c)
{
	/* Two places for the four, if the input leaves one free. */
	struct fz *z = fz_of(c)->fc_z;
	size_t i, lingering = 0;

	for (i = 0; i < FZ_N; i++)
		lingering +=
			z->z_c[i].fc_in_use &&
			pb_conn_state(&z->z_c[i].fc_cn) == PB_CONN_LINGERING;
	return lingering < 2 && fuzz_u8(z->z_in) < 192;
}

static void fz_linger_end(struct pb_conn *c)
{
	FUZZ_CHECK(pb_conn_state(c) == PB_CONN_LINGERING);
}

static void fz_done(struct pb_conn *c)
{
	FUZZ_CHECK(pb_conn_state(c) == PB_CONN_DONE);
}

static uint64_t fz_now(void)
{
	return fz_world->z_now;
}

static const struct pb_engine_ops fz_ops = {
	.eo_find = fz_find,
	.eo_forget = fz_forget,
	.eo_lock = fz_lock,
	.eo_unlock = fz_unlock,
	.eo_read = fz_read,
	.eo_write = fz_write,
	.eo_wait_on = fz_wait_on,
	.eo_wake_waiters = fz_wake_waiters,
	.eo_retry_later = fz_retry_later,
	.eo_wake = fz_wake,
	.eo_flush = fz_flush,
	.eo_shutdown = fz_shutdown,
	.eo_unpublish = fz_unpublish,
	.eo_close = fz_close,
	.eo_linger = fz_linger,
	.eo_linger_end = fz_linger_end,
	.eo_done = fz_done,
	.eo_now_ms = fz_now,
};

/* The tally. */

static void t_received(size_t n)
{
	fz_no_lock(fz_world);
	fz_world->z_received += n;
}

static void t_unknown(uint32_t s, uint32_t d, size_t n)
{
	(void)s;
	FZ_TRACE("  %u -> %u: %zu unknown\n", s, d, n);
	fz_no_lock(fz_world);
	/* Only where nobody open has the id. */
	FUZZ_CHECK(fz_by_id(fz_world, d) == NULL ||
		   !pb_conn_open(&fz_by_id(fz_world, d)->fc_cn));
	fz_world->z_unknown += n;
}

static void t_delivered(uint32_t s, uint32_t d, const struct pb_route_result *r)
{
	(void)s;
	(void)d;
	fz_no_lock(fz_world);
	FZ_TRACE("  %u -> %u: sent %zu lost %zu parked %zu\n", s, d, r->rr_sent,
		 r->rr_lost, r->rr_parked);
	fz_world->z_sent += r->rr_sent;
	fz_world->z_lost += r->rr_lost;
	fz_world->z_parked += r->rr_parked;
}

static void t_forwarded(size_t n, size_t bytes)
{
	(void)bytes;
	fz_no_lock(fz_world);
	fz_world->z_forwarded += n;
}

static void t_protocol_error(uint32_t id, size_t max)
{
	(void)id;
	fz_no_lock(fz_world);
	FUZZ_CHECK(max == fz_world->z_max_frame);
}

static void t_input_nomem(uint32_t id)
{
	(void)id;
	fuzz_fail(__FILE__, __LINE__, "no allocation fails here");
}

static void t_leave(uint32_t id, const char *addr, enum pb_leave why,
		    size_t dropped, size_t waiting, unsigned long slow_ms)
{
	(void)addr;
	(void)waiting;
	(void)slow_ms;
	fz_no_lock(fz_world);
	FUZZ_CHECK((int)why >= 0 && why < FZ_NREASONS);
	/* A client that was cut leaves as one. */
	FUZZ_CHECK(!fz_world->z_c[id - 1].fc_was_cut ||
		   why == PB_LEAVE_NOMEM_OUT);
	FZ_TRACE("  %u leaves: %s, %zu dropped\n", id, pb_leave_text(why),
		 dropped);
	fz_world->z_dropped += dropped;
	fz_world->z_leaves++;
}

static void t_dest_left(size_t n, enum pb_leave why)
{
	fz_no_lock(fz_world);
	FUZZ_CHECK((int)why >= 0 && why < FZ_NREASONS);
	FZ_TRACE("  %zu dropped: destination left\n", n);
	fz_world->z_dest_left += n;
}

static void t_dest_missing(uint32_t dest, size_t n)
{
	(void)dest; /* when FZ_TRACE is nothing */
	fz_no_lock(fz_world);
	FZ_TRACE("  %zu dropped: destination %u found no more\n", n, dest);
	fz_world->z_dest_left += n;
}

static void t_left(size_t n)
{
	fz_no_lock(fz_world);
	FZ_TRACE("  %zu dropped: sender let go\n", n);
	fz_world->z_left += n;
}

static void t_sender_gave_up(uint32_t id, size_t n, unsigned long ms)
{
	(void)ms;
	fz_no_lock(fz_world);
	FZ_TRACE("  %u gives up %zu\n", id, n);
	if (n > 0)
		fz_world->z_c[id - 1].fc_gave_up = true;
	fz_world->z_gave_up += n;
}

static const struct pb_engine_tally fz_tally = {
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

/* The model's checks. */

/* The frames of d's sink not yet checked: each is the next frame its tag
 * sent to d, and was read (or handed in). */
static void fz_check_sink(struct fz *z, struct fz_client *d)
{
	uint8_t want[FZ_HEAD + 256 + 1];

	while (d->fc_parsed < d->fc_sink.b_len) {
		const uint8_t *p = d->fc_sink.b_p + d->fc_parsed;
		size_t len, tag;
		const uint8_t *nul =
			memchr(p, 0, d->fc_sink.b_len - d->fc_parsed);
		struct stream *sm;
		struct sent *st;

		if (nul == NULL)
			return; /* the start of a frame */
		len = (size_t)(nul - p) + 1;
		FUZZ_CHECK(len > FZ_HEAD);
		tag = (size_t)p[0] - 1;
		FUZZ_CHECK(tag < FZ_TAGS);
		sm = &z->z_streams[tag];
		/* The next frame tag sent to d, none skipped. */
		while (sm->sm_cursor[d->fc_index] < sm->sm_n &&
		       sm->sm_sent[sm->sm_cursor[d->fc_index]].st_dest !=
			       d->fc_cn.cn_id)
			sm->sm_cursor[d->fc_index]++;
		FUZZ_CHECK(sm->sm_cursor[d->fc_index] < sm->sm_n);
		st = &sm->sm_sent[sm->sm_cursor[d->fc_index]++];
		FUZZ_CHECK(len == FZ_HEAD + st->st_filler + 1);
		fz_payload(want, tag, st);
		FUZZ_CHECK(memcmp(p, want, len) == 0);
		/* Read by its sender's owner (or handed in). */
		if (tag < FZ_N)
			FUZZ_CHECK(st->st_end <= z->z_c[tag].fc_fed &&
				   st->st_end <= z->z_c[tag].fc_too_long);
		d->fc_parsed += len;
	}
}

static size_t fz_zeros(const struct bytes *b)
{
	size_t i, n = 0;

	for (i = 0; i < b->b_len; i++)
		n += b->b_p[i] == 0;
	return n;
}

static size_t fz_lane_frames(const struct fz_client *s, uint32_t dest)
{
	long k = pb_park_find(&s->fc_cn.cn_park, dest);

	if (k < 0)
		return 0;
	return pb_outbox_count_frames(&s->fc_cn.cn_park.pk_lanes[k].pl_frames);
}

static void fz_check(struct fz *z)
{
	size_t queued = 0, zeros = 0, used = 0, i, j, k;

	fz_no_lock(z);
	for (i = 0; i < FZ_N; i++) {
		struct fz_client *c = &z->z_c[i];
		const struct pb_park *pk = &c->fc_cn.cn_park;
		size_t bytes = 0;

		fz_check_sink(z, c);
		zeros += fz_zeros(&c->fc_sink);
		if (!c->fc_in_use)
			continue;
		FUZZ_CHECK(!pb_conn_left(&c->fc_cn) ||
			   pb_outbox_empty(&c->fc_cn.cn_outbox));
		FUZZ_CHECK(pb_conn_state(&c->fc_cn) != PB_CONN_DONE ||
			   pb_park_bytes(pk) == 0 ||
			   c->fc_cn.cn_why == PB_LEAVE_SHUTDOWN);
		queued += pb_outbox_count_frames(&c->fc_cn.cn_outbox);
		used += c->fc_cn.cn_outbox.ob_cap + c->fc_cn.cn_rbuf.rb_cap;
		if (c->fc_cn.cn_route != NULL)
			used += sizeof(*c->fc_cn.cn_route);
		FUZZ_CHECK(pk->pk_nlanes <= pk->pk_alloc);
		for (k = 0; k < pk->pk_nlanes; k++) {
			const struct pb_outbox *ob = &pk->pk_lanes[k].pl_frames;

			FUZZ_CHECK(!pb_outbox_empty(ob));
			queued += pb_outbox_count_frames(ob);
			used += ob->ob_cap;
			bytes += pb_outbox_len(ob);
		}
		FUZZ_CHECK(bytes == pb_park_bytes(pk));
		FUZZ_CHECK(bytes <= pk->pk_limit);
		/* Frames waiting for an open client, as it counts them. */
		if (pb_conn_open(&c->fc_cn)) {
			size_t waiting = 0;

			for (j = 0; j < FZ_N; j++)
				if (z->z_c[j].fc_in_use)
					waiting += fz_lane_frames(
						&z->z_c[j], c->fc_cn.cn_id);
			FUZZ_CHECK(waiting ==
				   atomic_load(&c->fc_cn.cn_waiting));
		}
	}
	FUZZ_CHECK(z->z_sent + z->z_forwarded == zeros);
	FUZZ_CHECK(z->z_received + z->z_injected ==
		   zeros + z->z_unknown + z->z_lost + z->z_dropped +
			   z->z_dest_left + z->z_left + z->z_gave_up + queued);
	FUZZ_CHECK(pb_budget_used(&z->z_budget) == used);
}

/* The owners. */

static void fz_leave(struct fz *z, struct fz_client *c, enum pb_leave why)
{
	pb_engine_leave(&z->z_en, &c->fc_cn, why);
	FUZZ_CHECK(pb_conn_left(&c->fc_cn));
}

static void fz_read_turn(struct fz *z, struct fz_client *c)
{
	enum pb_leave why = PB_LEAVE_CLOSED;

	if (!c->fc_in_use || !pb_conn_open(&c->fc_cn))
		return;
	switch (pb_engine_read(&z->z_en, &c->fc_cn, &why)) {
	case PB_READ_DRAINED:
	case PB_READ_HELD:
	case PB_READ_MORE:
		break;
	case PB_READ_LEAVE:
		FUZZ_CHECK(why != PB_LEAVE_PROTOCOL ||
			   c->fc_too_long != SIZE_MAX);
		fz_leave(z, c, why);
		break;
	}
}

/* What the engine asked of c's owner; whether there was anything. */
static bool fz_owner(struct fz *z, struct fz_client *c)
{
	bool busy = false;

	if (!c->fc_in_use)
		return false;
	if (c->fc_event) {
		c->fc_event = false;
		busy = true;
		if (pb_conn_open(&c->fc_cn) &&
		    pb_engine_flush(&z->z_en, &c->fc_cn) < 0)
			fz_leave(z, c, PB_LEAVE_RESET);
		/* Shut down: the end is read (as the reactor's epoll reports
		 * it, and the daemon's poll), and it leaves. */
		if (c->fc_shut)
			fz_read_turn(z, c);
	}
	if (c->fc_retry) {
		c->fc_retry = false;
		busy = true;
		if (pb_conn_state(&c->fc_cn) != PB_CONN_DONE)
			pb_engine_retry(&z->z_en, &c->fc_cn);
	}
	return busy;
}

static void fz_room(struct fz_client *c, size_t n)
{
	c->fc_room = n;
	if (n > 0 && c->fc_want_out) {
		c->fc_want_out = false;
		c->fc_event = true; /* the socket reports room */
	}
}

/* The owner lets c go (the reactor's end of a round). */
static void fz_free(struct fz *z, struct fz_client *c)
{
	size_t before = z->z_left;

	pb_engine_release(&z->z_en, &c->fc_cn);
	if (z->z_left > before)
		c->fc_gave_up = true;
	pb_conn_free(&c->fc_cn);
	c->fc_in_use = false;
}

/* Frames handed to pb_engine_deliver directly, past the read allowance. */
static void fz_inject(struct fz *z, struct fz_client *s)
{
	uint8_t buf[4][FZ_HEAD + 256 + 1];
	struct stream *sm = &z->z_streams[FZ_N + s->fc_index];
	struct pb_engine_turn turn = {.et_engine = &z->z_en,
				      .et_sender = &s->fc_cn};
	struct iovec iov[4];
	uint8_t v = fuzz_u8(z->z_in);
	uint32_t dest = fz_dest(v);
	size_t n = (size_t)(v >> 6) + 1, i;

	if (!s->fc_in_use || !pb_conn_open(&s->fc_cn))
		return;
	for (i = 0; i < n; i++) {
		struct sent *st = fz_new_sent(sm);

		st->st_dest = dest;
		st->st_seq = (uint32_t)(sm->sm_n - 1);
		st->st_filler = fuzz_u8(z->z_in) % (z->z_max_frame - FZ_HEAD);
		st->st_end = 0;
		fz_payload(buf[i], FZ_N + s->fc_index, st);
		iov[i].iov_base = buf[i];
		iov[i].iov_len = FZ_HEAD + st->st_filler + 1;
	}
	z->z_injected += n;
	pb_engine_deliver(&turn, dest, iov, n);
}

static void fz_timeouts(struct fz *z)
{
	size_t i;

	for (i = 0; i < FZ_N; i++) {
		struct fz_client *c = &z->z_c[i];
		enum pb_leave why;

		if (!c->fc_in_use)
			continue;
		if (pb_conn_state(&c->fc_cn) == PB_CONN_LINGERING)
			(void)pb_engine_linger_stuck(&z->z_en, &c->fc_cn,
						     z->z_now);
		else if (pb_conn_open(&c->fc_cn) &&
			 pb_engine_timed_out(&z->z_en, &c->fc_cn, z->z_now,
					     &why))
			fz_leave(z, c, why);
	}
}

static void fz_step(struct fz *z, uint8_t op)
{
	struct fz_client *c = &z->z_c[(op >> 4) % FZ_N];
	uint8_t v;

	FZ_TRACE("step %d for %u (%s)\n", op % 13, c->fc_cn.cn_id,
		 pb_conn_state_name(pb_conn_state(&c->fc_cn)));
	switch (op % 13) {
	case 0:
	case 1:
	case 2:
		fz_read_turn(z, c);
		break;
	case 3:
		fz_room(c, (size_t)fuzz_u8(z->z_in) * 4);
		break;
	case 4:
		(void)fz_owner(z, c);
		break;
	case 5:
		/* A retry nobody asked for changes nothing it should not. */
		if (c->fc_in_use && pb_conn_state(&c->fc_cn) != PB_CONN_DONE)
			pb_engine_retry(&z->z_en, &c->fc_cn);
		if (c->fc_in_use && pb_conn_open(&c->fc_cn))
			FUZZ_CHECK(pb_engine_drained(&z->z_en, &c->fc_cn) ==
				   (pb_outbox_empty(&c->fc_cn.cn_outbox) &&
				    c->fc_cn.cn_waiters.wt_n == 0 &&
				    pb_park_bytes(&c->fc_cn.cn_park) == 0));
		break;
	case 6:
		v = fuzz_u8(z->z_in);
		if (c->fc_in_use && pb_conn_open(&c->fc_cn) && v < 64)
			fz_leave(z, c, (enum pb_leave)(v % FZ_NREASONS));
		break;
	case 7:
		z->z_now += (uint64_t)fuzz_u8(z->z_in) * 8;
		fz_timeouts(z);
		break;
	case 8:
		/* No memory to grow c's outbox beyond what it holds now. */
		v = fuzz_u8(z->z_in);
		if (v < 128) {
			size_t lim = pb_outbox_len(&c->fc_cn.cn_outbox) + v % 8;

			if (lim < c->fc_outbox_limit)
				c->fc_cn.cn_outbox.ob_limit = lim;
		} else {
			c->fc_cn.cn_outbox.ob_limit = c->fc_outbox_limit;
		}
		break;
	case 9:
		c->fc_broken = !c->fc_broken;
		break;
	case 10:
		v = fuzz_u8(z->z_in);
		if (v < 128)
			z->z_wait_fails = !z->z_wait_fails;
		else
			pb_budget_set_limit(&z->z_budget,
					    v < 192 ? 1 : FZ_BIG_BUDGET);
		break;
	case 11:
		/* Its owner lets it go: done, or lingering (at a stop). */
		if (c->fc_in_use && pb_conn_left(&c->fc_cn))
			fz_free(z, c);
		break;
	default:
		fz_inject(z, c);
		break;
	}
}

/* Every socket takes all; the owners do what they were asked, until
 * nobody is asked anything. */
static void fz_drain(struct fz *z)
{
	size_t i, rounds;
	bool busy = true;

	z->z_final = true;
	z->z_wait_fails = false;
	pb_budget_set_limit(&z->z_budget, FZ_BIG_BUDGET);
	for (i = 0; i < FZ_N; i++) {
		struct fz_client *c = &z->z_c[i];

		c->fc_broken = false;
		c->fc_cn.cn_outbox.ob_limit = c->fc_outbox_limit;
		fz_room(c, SIZE_MAX);
	}
	for (rounds = 0; busy; rounds++) {
		FUZZ_CHECK(rounds < 100000);
		busy = false;
		for (i = 0; i < FZ_N; i++) {
			fz_room(&z->z_c[i], SIZE_MAX);
			busy = fz_owner(z, &z->z_c[i]) || busy;
		}
		fz_check(z);
	}
}

/* After the drain: no wake-up was lost, and whoever could get all did. */
static void fz_check_drained(struct fz *z)
{
	size_t i, tag;

	for (i = 0; i < FZ_N; i++) {
		struct fz_client *d = &z->z_c[i];

		if (!d->fc_in_use)
			continue;
		FUZZ_CHECK(pb_park_bytes(&d->fc_cn.cn_park) == 0 ||
			   pb_conn_state(&d->fc_cn) == PB_CONN_DONE);
		if (!pb_conn_open(&d->fc_cn))
			continue;
		FUZZ_CHECK(pb_outbox_empty(&d->fc_cn.cn_outbox));
		if (d->fc_was_cut)
			continue;
		/* Open, never cut: all it was sent, by every sender that
		 * did not give its frames up, and no frame half written. */
		FUZZ_CHECK(d->fc_parsed == d->fc_sink.b_len);
		for (tag = 0; tag < FZ_TAGS; tag++) {
			const struct stream *sm = &z->z_streams[tag];
			const struct fz_client *s = &z->z_c[tag % FZ_N];
			size_t k;

			/* Gave up, or left at shutdown, its frames kept for
			 * its owner to drop. */
			if (s->fc_gave_up ||
			    (s->fc_in_use &&
			     pb_conn_state(&s->fc_cn) == PB_CONN_DONE &&
			     pb_park_bytes(&s->fc_cn.cn_park) > 0))
				continue;
			for (k = sm->sm_cursor[i]; k < sm->sm_n; k++) {
				const struct sent *st = &sm->sm_sent[k];

				/* Read streams: only what was read. */
				if (tag < FZ_N && (st->st_end > s->fc_fed ||
						   st->st_end > s->fc_too_long))
					break;
				FUZZ_CHECK(st->st_dest != d->fc_cn.cn_id);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *z = calloc(1, sizeof(*z));
	struct fuzz_in in;
	size_t i, steps;
	uint8_t v;

	if (z == NULL)
		abort();
	fz_world = z;
	fuzz_in_init(&in, data, size);
	z->z_in = &in;
	z->z_max_frame = FZ_HEAD + 4 + fuzz_u8(&in) % 120;
	v = fuzz_u8(&in);
	pb_budget_init(&z->z_budget, FZ_BIG_BUDGET);
	pb_budget_init_share(&z->z_park_share, &z->z_budget, 2);
	pb_budget_init_share(&z->z_input_share, &z->z_budget, 4);
	pb_engine_init(&z->z_en, &fz_ops, &fz_tally,
		       (v & 3) == 3 ? 16 : v % 4 + 1, (v & 4) != 0, NULL);
#ifdef FUZZ_REACTOR_FLUSH
	z->z_reactor_flush = (v & 8) != 0;
#endif
	for (i = 0; i < FZ_N; i++) {
		struct fz_client *c = &z->z_c[i];
		struct pb_conn_env env = {
			.ce_max_frame = z->z_max_frame,
			.ce_outbox = z->z_max_frame + fuzz_u8(&in),
			.ce_park = z->z_max_frame + (size_t)fuzz_u8(&in) * 32,
			.ce_budget = &z->z_budget,
			.ce_park_budget = &z->z_park_share,
			.ce_input_budget = &z->z_input_share,
		};

		pb_conn_init(&c->fc_cn, &env, (uint32_t)i + 1, "fuzz");
		pb_conn_set_state(&c->fc_cn, PB_CONN_OPEN);
		c->fc_z = z;
		c->fc_index = i;
		c->fc_in_use = true;
		c->fc_outbox_limit = env.ce_outbox;
		c->fc_room = 4096; /* until the input says otherwise */
		c->fc_too_long = SIZE_MAX;
	}
	atomic_store(&z->z_en.en_slow_ms, 50 + (unsigned long)fuzz_u8(&in) * 8);
	atomic_store(&z->z_en.en_frame_ms,
		     50 + (unsigned long)fuzz_u8(&in) * 8);
	z->z_now = 1000;

	for (steps = 0; in.fi_left > 0 && steps < FZ_MAX_STEP; steps++) {
		fz_step(z, fuzz_u8(&in));
		fz_check(z);
	}

	/* Everything that can be delivered is. */
	fz_drain(z);
	fz_check_drained(z);

	/* Everyone leaves; the lingering deliver what they can. */
	for (i = 0; i < FZ_N; i++)
		if (z->z_c[i].fc_in_use && pb_conn_open(&z->z_c[i].fc_cn))
			fz_leave(z, &z->z_c[i], PB_LEAVE_CLOSED);
	fz_drain(z);
	for (i = 0; i < FZ_N; i++)
		if (z->z_c[i].fc_in_use)
			fz_free(z, &z->z_c[i]);
	fz_check(z);
	FUZZ_CHECK(pb_budget_used(&z->z_budget) == 0);

	for (i = 0; i < FZ_N; i++) {
		free(z->z_c[i].fc_sink.b_p);
		free(z->z_c[i].fc_input.b_p);
	}
	for (i = 0; i < FZ_TAGS; i++)
		free(z->z_streams[i].sm_sent);
	fz_world = NULL;
	free(z);
	return 0;
}
