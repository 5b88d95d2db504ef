/* SPDX-License-Identifier: ISC */
/*
 * outbox.c: a bounded byte ring that allocates as it fills (see outbox.h).
 *
 * Capacity doubles from PB_OUTBOX_MIN up to the limit; when the queue
 * empties its memory is given back, so a client that is idle now costs
 * nothing even if it was busy before.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "outbox.h"

#define PB_OUTBOX_MIN 4096

void pb_outbox_init(struct pb_outbox *ob, size_t limit,
		    struct pb_budget *budget)
{
	memset(ob, 0, sizeof(*ob));
	ob->ob_limit = limit;
	ob->ob_budget = budget;
}

/* Adds n bytes to the shared total of queued bytes, or takes them off. */
static void outbox_count(const struct pb_outbox *ob, size_t n, bool add)
{
	if (ob->ob_queued == NULL || n == 0)
		return;
	if (add)
		atomic_fetch_add_explicit(ob->ob_queued, n,
					  memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(ob->ob_queued, n,
					  memory_order_relaxed);
}

void pb_outbox_free(struct pb_outbox *ob)
{
	outbox_count(ob, ob->ob_len, false);
	free(ob->ob_buf);
	pb_budget_release(ob->ob_budget, ob->ob_cap);
	ob->ob_buf = NULL;
	ob->ob_cap = ob->ob_head = ob->ob_len = 0;
}

/* Makes room for 'need' queued bytes in all, unwrapping the ring into the
 * new storage so that it starts at offset 0. */
static int outbox_reserve(struct pb_outbox *ob, size_t need)
{
	struct iovec iov[2];
	size_t cap;
	char *buf;
	int n, i;
	size_t off = 0;

	if (need <= ob->ob_cap)
		return 0;
	cap = ob->ob_cap ? ob->ob_cap : PB_OUTBOX_MIN;
	while (cap < need)
		cap *= 2;
	if (cap > ob->ob_limit)
		cap = ob->ob_limit;
	buf = malloc(cap);
	if (buf == NULL)
		return -1;
	n = pb_outbox_peek(ob, iov);
	for (i = 0; i < n; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	free(ob->ob_buf);
	pb_budget_release(ob->ob_budget, ob->ob_cap);
	pb_budget_charge(ob->ob_budget, cap);
	ob->ob_buf = buf;
	ob->ob_cap = cap;
	ob->ob_head = 0;
	return 0;
}

/* Copies n bytes in at the tail; the caller made room. */
static void outbox_put(struct pb_outbox *ob, const char *p, size_t n)
{
	size_t tail = (ob->ob_head + ob->ob_len) % ob->ob_cap;
	size_t first = ob->ob_cap - tail;

	if (first > n)
		first = n;
	memcpy(ob->ob_buf + tail, p, first);
	memcpy(ob->ob_buf, p + first, n - first);
	ob->ob_len += n;
}

int pb_outbox_appendv(struct pb_outbox *ob, const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total > pb_outbox_room(ob)) {
		errno = ENOBUFS;
		return -1;
	}
	if (total == 0)
		return 0;
	if (outbox_reserve(ob, ob->ob_len + total) < 0)
		return -1;
	for (i = 0; i < iovcnt; i++)
		outbox_put(ob, iov[i].iov_base, iov[i].iov_len);
	outbox_count(ob, total, true);
	return 0;
}

int pb_outbox_append(struct pb_outbox *ob, const void *p, size_t n)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)p, .iov_len = n};

	return pb_outbox_appendv(ob, &iov, 1);
}

int pb_outbox_peek(const struct pb_outbox *ob, struct iovec iov[2])
{
	size_t first;

	if (ob->ob_len == 0)
		return 0;
	first = ob->ob_cap - ob->ob_head;
	iov[0].iov_base = ob->ob_buf + ob->ob_head;
	if (first >= ob->ob_len) {
		iov[0].iov_len = ob->ob_len;
		return 1;
	}
	iov[0].iov_len = first;
	iov[1].iov_base = ob->ob_buf;
	iov[1].iov_len = ob->ob_len - first;
	return 2;
}

void pb_outbox_consume(struct pb_outbox *ob, size_t n)
{
	outbox_count(ob, n, false);
	ob->ob_len -= n;
	if (ob->ob_len == 0) {
		pb_outbox_free(ob);
		return;
	}
	ob->ob_head = (ob->ob_head + n) % ob->ob_cap;
}

/* Length of the longest run of whole frames at the front of the queued
 * bytes that is at most 'room' long (0 if the first frame is longer). */
static size_t outbox_frames_within(const struct pb_outbox *ob, size_t room)
{
	struct iovec iov[2];
	size_t off = 0, best = 0;
	int n, i;

	n = pb_outbox_peek(ob, iov);
	for (i = 0; i < n && off < room; i++) {
		size_t len = iov[i].iov_len;
		const char *base = iov[i].iov_base;
		const char *nul;

		if (len > room - off)
			len = room - off;
		nul = memrchr(base, 0, len);
		if (nul != NULL)
			best = off + (size_t)(nul - base) + 1;
		off += iov[i].iov_len;
	}
	return best;
}

/* The 0x00 bytes among the first 'len' queued bytes. */
static size_t outbox_count_within(const struct pb_outbox *ob, size_t len)
{
	struct iovec iov[2];
	size_t frames = 0;
	int n, i;

	n = pb_outbox_peek(ob, iov);
	for (i = 0; i < n && len > 0; i++) {
		const char *p = iov[i].iov_base;
		size_t piece = iov[i].iov_len < len ? iov[i].iov_len : len;
		const char *end = p + piece;

		while ((p = memchr(p, 0, (size_t)(end - p))) != NULL) {
			frames++;
			p++;
		}
		len -= piece;
	}
	return frames;
}

long pb_outbox_move_frames(struct pb_outbox *to, struct pb_outbox *from,
			   size_t *frames)
{
	struct iovec iov[2];
	size_t n, left;
	int cnt, i;

	if (frames != NULL)
		*frames = 0;
	n = outbox_frames_within(from, pb_outbox_room(to));
	if (n == 0)
		return 0;
	cnt = pb_outbox_peek(from, iov);
	left = n;
	for (i = 0; i < cnt; i++) {
		if (iov[i].iov_len > left)
			iov[i].iov_len = left;
		left -= iov[i].iov_len;
	}
	if (pb_outbox_appendv(to, iov, cnt) < 0)
		return -1;
	if (frames != NULL)
		*frames = outbox_count_within(from, n);
	pb_outbox_consume(from, n);
	return (long)n;
}

size_t pb_outbox_count_frames(const struct pb_outbox *ob)
{
	return outbox_count_within(ob, ob->ob_len);
}

size_t pb_outbox_written(struct pb_outbox *ob, size_t n)
{
	size_t frames = outbox_count_within(ob, n);

	pb_outbox_consume(ob, n);
	return frames;
}

int pb_outbox_restore(struct pb_outbox *ob, const void *p, size_t n)
{
	if (n > ob->ob_limit)
		ob->ob_limit = n;
	return pb_outbox_append(ob, p, n);
}
