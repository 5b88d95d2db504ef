/* SPDX-License-Identifier: ISC */
/*
 * fuzz_outbox_park.c: outboxes and a waiting room driven by a sequence of
 * operations that the input decodes, each checked against a plain model
 * (one flat byte array per queue). Two outboxes and a waiting room with
 * four lanes, each with a limit the input chooses, go through appends (of
 * whole frames, in iovecs cut anywhere), peeks, partial writes and
 * consumes, moves of whole frames, pushes into lanes, flushes, retries and
 * drops. After every operation: the bytes queued, the frames counted (the
 * 0x00 bytes), the limits, the lanes (one per destination, none empty),
 * the gauges of queued bytes and the memory budget (charged for exactly
 * what is allocated, nothing kept once a queue empties) must match the
 * model; once everything is freed the budget and the gauges are back to 0.
 *
 * Input: 2 bytes for each outbox's limit and 2 for the waiting room's,
 * then operations, 1 byte each and their arguments.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "budget.h"
#include "fuzz.h"
#include "outbox.h"
#include "park.h"

#define FUZZ_MAX_OPS   4096
#define FUZZ_NDESTS    4 /* lanes: destinations 0 .. 3 */
#define FUZZ_MAX_BATCH 4 /* frames an append or a push carries at most */
#define FUZZ_MAX_IOV   4

/* The model of one queue: its bytes, oldest first. */
struct model {
	uint8_t *m_b;
	size_t m_len;
	size_t m_cap;
};

static void model_append(struct model *m, const uint8_t *p, size_t n)
{
	if (m->m_len + n > m->m_cap) {
		size_t cap = m->m_cap ? m->m_cap : 256;
		uint8_t *b;

		while (cap < m->m_len + n)
			cap *= 2;
		b = realloc(m->m_b, cap);
		if (b == NULL)
			abort();
		m->m_b = b;
		m->m_cap = cap;
	}
	if (n > 0)
		memcpy(m->m_b + m->m_len, p, n);
	m->m_len += n;
}

static void model_consume(struct model *m, size_t n)
{
	FUZZ_CHECK(n <= m->m_len);
	if (n == 0)
		return;
	memmove(m->m_b, m->m_b + n, m->m_len - n);
	m->m_len -= n;
}

/* The 0x00 bytes among the first n. */
static size_t model_zeros(const struct model *m, size_t n)
{
	const uint8_t *p, *end;
	size_t z = 0;

	if (n == 0)
		return 0;
	p = m->m_b;
	end = p + n;
	while (p < end && (p = memchr(p, 0, (size_t)(end - p))) != NULL) {
		z++;
		p++;
	}
	return z;
}

/* The longest run of whole frames at the front that is at most room
 * bytes: what pb_outbox_move_frames and pb_park_flush move. */
static size_t model_frames_within(const struct model *m, size_t room)
{
	size_t i = m->m_len < room ? m->m_len : room;

	while (i > 0 && m->m_b[i - 1] != 0)
		i--;
	return i;
}

struct state {
	struct pb_budget s_budget;
	atomic_size_t s_ob_gauge; /* bytes queued in both outboxes */
	atomic_size_t s_pk_gauge; /* bytes in the waiting room */
	struct pb_outbox s_ob[2];
	struct model s_obm[2];
	struct pb_park s_pk;
	struct model s_lane[FUZZ_NDESTS];
	size_t s_pk_limit;
	unsigned s_seq; /* frames made so far: their bytes differ */
	/* The batch of frames being appended or pushed, and its iovecs. */
	uint8_t s_batch[FUZZ_MAX_BATCH * 9000];
	size_t s_nbatch;
	struct iovec s_iov[FUZZ_MAX_IOV];
	int s_niov;
};

/* Makes 1 to FUZZ_MAX_BATCH whole frames (payload and 0x00, no header:
 * what queues hold), in 1 to FUZZ_MAX_IOV iovecs cut where the input
 * says, empty ones included. */
static void make_batch(struct state *s, struct fuzz_in *in)
{
	size_t frames = 1 + fuzz_u8(in) % FUZZ_MAX_BATCH, f, j, off;
	int i;

	s->s_nbatch = 0;
	for (f = 0; f < frames; f++) {
		size_t len = fuzz_u8(in);

		if (len >= 200)
			len = (len - 199) * 160; /* past the first 4 KiB */
		for (j = 0; j < len; j++)
			s->s_batch[s->s_nbatch++] =
				(uint8_t)(1 + (s->s_seq * 7 + j) % 255);
		s->s_batch[s->s_nbatch++] = 0;
		s->s_seq++;
	}
	s->s_niov = 1 + fuzz_u8(in) % FUZZ_MAX_IOV;
	off = 0;
	for (i = 0; i < s->s_niov; i++) {
		size_t len = i + 1 == s->s_niov
				     ? s->s_nbatch - off
				     : fuzz_u16(in) % (s->s_nbatch - off + 1);

		s->s_iov[i].iov_base = s->s_batch + off;
		s->s_iov[i].iov_len = len;
		off += len;
	}
}

/* The queued bytes of ob, through pb_outbox_peek, equal m. */
static void check_outbox(const struct pb_outbox *ob, const struct model *m)
{
	struct iovec iov[2];
	size_t off = 0;
	int n, i;

	FUZZ_CHECK(pb_outbox_len(ob) == m->m_len);
	FUZZ_CHECK(pb_outbox_empty(ob) == (m->m_len == 0));
	FUZZ_CHECK(ob->ob_len <= ob->ob_limit);
	FUZZ_CHECK(ob->ob_cap <= ob->ob_limit);
	FUZZ_CHECK(ob->ob_len <= ob->ob_cap);
	FUZZ_CHECK(pb_outbox_room(ob) == ob->ob_limit - m->m_len);
	FUZZ_CHECK(pb_outbox_has_room_for_waiters(ob) ==
		   (m->m_len <= ob->ob_limit / 2));
	/* Memory is given back when the queue empties. */
	if (m->m_len == 0)
		FUZZ_CHECK(ob->ob_buf == NULL && ob->ob_cap == 0);
	else
		FUZZ_CHECK(ob->ob_buf != NULL && ob->ob_head < ob->ob_cap);
	n = pb_outbox_peek(ob, iov);
	FUZZ_CHECK(n >= 0 && n <= 2);
	FUZZ_CHECK((n == 0) == (m->m_len == 0));
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(iov[i].iov_len > 0);
		FUZZ_CHECK(off + iov[i].iov_len <= m->m_len);
		FUZZ_CHECK(memcmp(iov[i].iov_base, m->m_b + off,
				  iov[i].iov_len) == 0);
		off += iov[i].iov_len;
	}
	FUZZ_CHECK(off == m->m_len);
	FUZZ_CHECK(pb_outbox_count_frames(ob) == model_zeros(m, m->m_len));
}

/* Everything against the model. */
static void check_state(struct state *s)
{
	size_t used = 0, bytes = 0, lanes = 0, d, i;

	for (i = 0; i < 2; i++) {
		check_outbox(&s->s_ob[i], &s->s_obm[i]);
		used += s->s_ob[i].ob_cap;
	}
	FUZZ_CHECK(atomic_load(&s->s_ob_gauge) ==
		   s->s_obm[0].m_len + s->s_obm[1].m_len);
	for (d = 0; d < FUZZ_NDESTS; d++) {
		long k = pb_park_find(&s->s_pk, (uint32_t)d);

		bytes += s->s_lane[d].m_len;
		/* A lane exactly for each destination with frames waiting. */
		FUZZ_CHECK((k >= 0) == (s->s_lane[d].m_len > 0));
		if (k < 0)
			continue;
		lanes++;
		FUZZ_CHECK((size_t)k < s->s_pk.pk_nlanes);
		FUZZ_CHECK(s->s_pk.pk_lanes[k].pl_dest == d);
		check_outbox(&s->s_pk.pk_lanes[k].pl_frames, &s->s_lane[d]);
		/* A lane holds whole frames only. */
		FUZZ_CHECK(s->s_lane[d].m_b[s->s_lane[d].m_len - 1] == 0);
	}
	FUZZ_CHECK(s->s_pk.pk_nlanes == lanes);
	FUZZ_CHECK(s->s_pk.pk_nlanes <= s->s_pk.pk_alloc);
	for (i = 0; i < s->s_pk.pk_nlanes; i++)
		used += s->s_pk.pk_lanes[i].pl_frames.ob_cap;
	FUZZ_CHECK(pb_park_bytes(&s->s_pk) == bytes);
	FUZZ_CHECK(bytes <= s->s_pk_limit);
	FUZZ_CHECK(pb_park_room(&s->s_pk) == s->s_pk_limit - bytes);
	FUZZ_CHECK(atomic_load(&s->s_pk_gauge) == bytes);
	FUZZ_CHECK(pb_budget_used(&s->s_budget) == used);
}

static void park_setup(struct state *s)
{
	pb_park_init(&s->s_pk, s->s_pk_limit, &s->s_budget);
	s->s_pk.pk_queued = &s->s_pk_gauge;
}

static void op_append(struct state *s, struct fuzz_in *in, int w)
{
	struct pb_outbox *ob = &s->s_ob[w];
	bool fits;
	int rc;

	make_batch(s, in);
	fits = s->s_nbatch <= pb_outbox_room(ob);
	errno = 0;
	rc = pb_outbox_appendv(ob, s->s_iov, s->s_niov);
	if (rc == 0) {
		FUZZ_CHECK(fits);
		model_append(&s->s_obm[w], s->s_batch, s->s_nbatch);
	} else {
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(fits ? errno == ENOMEM : errno == ENOBUFS);
	}
}

static void op_written(struct state *s, struct fuzz_in *in, int w, bool count)
{
	struct model *m = &s->s_obm[w];
	size_t n = fuzz_u16(in) % (m->m_len + 1);

	if (count)
		FUZZ_CHECK(pb_outbox_written(&s->s_ob[w], n) ==
			   model_zeros(m, n));
	else
		pb_outbox_consume(&s->s_ob[w], n);
	model_consume(m, n);
}

static void op_push(struct state *s, struct fuzz_in *in, uint32_t d)
{
	bool fits;
	int rc;

	make_batch(s, in);
	fits = s->s_nbatch <= pb_park_room(&s->s_pk);
	errno = 0;
	rc = pb_park_pushv(&s->s_pk, d, s->s_iov, s->s_niov);
	if (rc == 0) {
		FUZZ_CHECK(fits);
		model_append(&s->s_lane[d], s->s_batch, s->s_nbatch);
	} else {
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(fits ? errno == ENOMEM : errno == ENOBUFS);
	}
}

/* What the sender must do about a destination, from the model: nothing
 * when nothing waits for it, else wait for its outbox to drain, or retry
 * on its own when that outbox is empty. */
static enum pb_park_wait model_wait(const struct model *lane,
				    const struct pb_outbox *ob)
{
	if (lane->m_len == 0)
		return PB_PARK_GO;
	return pb_outbox_empty(ob) ? PB_PARK_RETRY : PB_PARK_WAIT;
}

/* Moves whole frames of lane d into outbox w: with pb_park_flush, or
 * pb_park_retry, which must then also say what the sender is to do. */
static void op_flush(struct state *s, uint32_t d, int w, bool retry)
{
	struct pb_outbox *ob = &s->s_ob[w];
	struct model *lane = &s->s_lane[d];
	long i = pb_park_find(&s->s_pk, d), moved;
	struct pb_park_retry r = {.pr_wait = PB_PARK_GO};
	size_t want, frames = 0;
	bool was_empty = pb_outbox_empty(ob);

	if (i < 0)
		return;
	want = model_frames_within(lane, pb_outbox_room(ob));
	if (retry) {
		r = pb_park_retry(&s->s_pk, (size_t)i, ob);
		/* The bytes moved: what the outbox gained. */
		moved = (long)(pb_outbox_len(ob) - s->s_obm[w].m_len);
		frames = r.pr_moved;
	} else {
		moved = pb_park_flush(&s->s_pk, (size_t)i, ob, &frames);
	}
	if (moved < 0)
		return; /* no memory: nothing moved */
	FUZZ_CHECK((size_t)moved == want);
	FUZZ_CHECK(frames == model_zeros(lane, want));
	model_append(&s->s_obm[w], lane->m_b, want);
	model_consume(lane, want);
	if (retry) {
		FUZZ_CHECK(r.pr_started == (was_empty && moved > 0));
		FUZZ_CHECK(r.pr_wait == model_wait(lane, ob));
	}
	FUZZ_CHECK(pb_park_wait_for(&s->s_pk, d, ob) == model_wait(lane, ob));
}

/* Moves whole frames from outbox w to the other, counting them or not. */
static void op_move(struct state *s, int w, bool count)
{
	struct model *from = &s->s_obm[w], *to = &s->s_obm[!w];
	size_t want = model_frames_within(from, pb_outbox_room(&s->s_ob[!w]));
	size_t frames = 0;
	long moved = pb_outbox_move_frames(&s->s_ob[!w], &s->s_ob[w],
					   count ? &frames : NULL);

	if (moved < 0)
		return;
	FUZZ_CHECK((size_t)moved == want);
	FUZZ_CHECK(!count || frames == model_zeros(from, want));
	model_append(to, from->m_b, want);
	model_consume(from, want);
}

static void op_drop(struct state *s, uint32_t d)
{
	long i = pb_park_find(&s->s_pk, d);

	if (i < 0)
		return;
	FUZZ_CHECK(pb_park_drop(&s->s_pk, (size_t)i) ==
		   model_zeros(&s->s_lane[d], s->s_lane[d].m_len));
	s->s_lane[d].m_len = 0;
}

static void op_drop_all(struct state *s, bool free_it)
{
	size_t frames = 0, d;

	for (d = 0; d < FUZZ_NDESTS; d++) {
		frames += model_zeros(&s->s_lane[d], s->s_lane[d].m_len);
		s->s_lane[d].m_len = 0;
	}
	if (free_it) {
		pb_park_free(&s->s_pk);
		park_setup(s);
	} else {
		FUZZ_CHECK(pb_park_drop_all(&s->s_pk) == frames);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *s = calloc(1, sizeof(*s));
	struct fuzz_in in;
	size_t ops, d;
	int w;

	if (s == NULL)
		abort();
	fuzz_in_init(&in, data, size);
	pb_budget_init(&s->s_budget, SIZE_MAX);
	atomic_init(&s->s_ob_gauge, 0);
	atomic_init(&s->s_pk_gauge, 0);
	for (w = 0; w < 2; w++) {
		pb_outbox_init(&s->s_ob[w], fuzz_u16(&in), &s->s_budget);
		s->s_ob[w].ob_queued = &s->s_ob_gauge;
	}
	s->s_pk_limit = fuzz_u16(&in);
	park_setup(s);
	check_state(s);

	for (ops = 0; in.fi_left > 0 && ops < FUZZ_MAX_OPS; ops++) {
		uint8_t op = fuzz_u8(&in);
		uint32_t dest = (op >> 4) % FUZZ_NDESTS;

		w = op >> 7;
		switch (op % 13) {
		case 0:
			op_append(s, &in, w);
			break;
		case 1:
			op_written(s, &in, w, true);
			break;
		case 2:
			op_written(s, &in, w, false);
			break;
		case 3:
		case 4:
			op_push(s, &in, dest);
			break;
		case 5:
			op_flush(s, dest, w, false);
			break;
		case 6:
			op_flush(s, dest, w, true);
			break;
		case 7:
			op_move(s, w, dest & 1);
			break;
		case 8:
			op_drop(s, dest);
			break;
		case 9:
			op_drop_all(s, false);
			break;
		case 10:
			op_drop_all(s, true);
			break;
		case 11:
			pb_outbox_free(&s->s_ob[w]);
			s->s_obm[w].m_len = 0;
			break;
		default:
			break; /* only the checks */
		}
		check_state(s);
	}

	for (w = 0; w < 2; w++)
		pb_outbox_free(&s->s_ob[w]);
	pb_park_free(&s->s_pk);
	FUZZ_CHECK(pb_budget_used(&s->s_budget) == 0);
	FUZZ_CHECK(atomic_load(&s->s_ob_gauge) == 0);
	FUZZ_CHECK(atomic_load(&s->s_pk_gauge) == 0);
	for (w = 0; w < 2; w++)
		free(s->s_obm[w].m_b);
	for (d = 0; d < FUZZ_NDESTS; d++)
		free(s->s_lane[d].m_b);
	free(s);
	return 0;
}
