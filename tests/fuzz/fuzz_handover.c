/* SPDX-License-Identifier: ISC */
/*
 * fuzz_handover.c: the new process's first look at a hand-over state,
 * pb_blob_open then pb_handover_check (blob.h, handover.h), over
 * arbitrary bytes. The state comes from the process before, through a
 * pipe or systemd's descriptor store, so it is trusted no more than any
 * input: whatever it holds must be refused or accepted without a read
 * outside it.
 *
 * Input: byte 0 is the number of descriptors handed over (nfds); the
 * whole input is opened as a blob, and then, since a fuzzer rarely gets
 * a CRC right, the input from byte 1 on is taken as a body and opened
 * inside a header made for it (its length, its CRC32C), which must open.
 * Each body is given in a buffer of exactly its blob's size, so that
 * AddressSanitizer sees any read past it. Every section, and every
 * section inside one, must lie inside the body, and so must every byte
 * string read from one; pb_handover_check's verdict must agree with a
 * plain reference checker written from the format at the top of
 * handover.c, and what it counts (clients, bytes, descriptors, the
 * pause) with the reference's when it accepts.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "blob.h"
#include "conn.h"
#include "fuzz.h"
#include "handover.h"
#include "leave.h"

#define NO_FD UINT32_MAX

/* A cursor over bytes, the reference's own reading. */
struct ref_cur {
	const uint8_t *rc_p;
	size_t rc_len;
	size_t rc_off;
	bool rc_bad;
};

/* n bytes, or NULL (and rc_bad, for good) when fewer are left. */
static const uint8_t *ref_take(struct ref_cur *c, uint64_t n)
{
	const uint8_t *p;

	if (c->rc_bad || n > c->rc_len - c->rc_off) {
		c->rc_bad = true;
		return NULL;
	}
	p = c->rc_p + c->rc_off;
	c->rc_off += (size_t)n;
	return p;
}

static uint64_t ref_le(struct ref_cur *c, size_t n)
{
	const uint8_t *p = ref_take(c, n);
	uint64_t v = 0;
	size_t i;

	for (i = 0; p != NULL && i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A byte string's length, its bytes skipped. */
static uint64_t ref_bytes(struct ref_cur *c)
{
	uint64_t n = ref_le(c, 8);

	(void)ref_take(c, n);
	return n;
}

struct ref_info {
	size_t ri_clients, ri_bytes, ri_fds;
	uint64_t ri_paused;
	uint8_t ri_used[256]; /* descriptor indexes named (nfds < 256) */
};

/* One CLIENT section; false if the record is refused. */
static bool ref_client(struct ref_cur c, size_t nfds, struct ref_info *ri)
{
	uint32_t state, why, fd, nlanes, i;
	uint64_t bytes;

	(void)ref_le(&c, 4); /* id */
	state = (uint32_t)ref_le(&c, 4);
	why = (uint32_t)ref_le(&c, 4);
	fd = (uint32_t)ref_le(&c, 4);
	(void)ref_bytes(&c);	/* address */
	bytes = ref_bytes(&c);	/* read buffer */
	bytes += ref_bytes(&c); /* outbox */
	nlanes = (uint32_t)ref_le(&c, 4);
	if (c.rc_bad || why >= PB_LEAVE_COUNT)
		return false;
	if (state != PB_CONN_NEW && state != PB_CONN_OPEN &&
	    state != PB_CONN_LINGERING)
		return false;
	if ((state == PB_CONN_LINGERING) != (fd == NO_FD))
		return false;
	if (fd != NO_FD && fd >= nfds)
		return false;
	if (fd != NO_FD && ri->ri_used[fd]++)
		return false; /* named twice */
	for (i = 0; i < nlanes; i++) {
		(void)ref_le(&c, 4); /* destination */
		bytes += ref_bytes(&c);
		if (c.rc_bad)
			return false;
	}
	if (fd != NO_FD && fd + 1 > ri->ri_fds)
		ri->ri_fds = fd + 1;
	ri->ri_bytes += (size_t)bytes;
	ri->ri_clients++;
	return true;
}

/* The verdict on body[0 .. len): 0, or -1 with *bad_client the refused
 * record (from 1), 0 if the state was refused as a whole. */
static int ref_check(const uint8_t *body, size_t len, size_t nfds,
		     struct ref_info *ri, size_t *bad_client)
{
	struct ref_cur c = {body, len, 0, false};
	bool global = false;

	memset(ri, 0, sizeof(*ri));
	*bad_client = 0;
	while (c.rc_off < c.rc_len) {
		uint32_t tag = (uint32_t)ref_le(&c, 4);
		uint64_t n = ref_le(&c, 8);
		const uint8_t *p = ref_take(&c, n);
		struct ref_cur sec = {p, (size_t)n, 0, false};

		if (c.rc_bad)
			return -1;
		if (tag == PB_HO_GLOBAL) {
			global = n >= 16;
			(void)ref_le(&sec, 8);
			ri->ri_paused = ref_le(&sec, 8);
		} else if (tag == PB_HO_CLIENT && !ref_client(sec, nfds, ri)) {
			*bad_client = ri->ri_clients + 1;
			return -1;
		}
	}
	return global ? 0 : -1;
}

/* Every section of r, and of the sections in them to a depth, lies in
 * [lo, hi); so does every byte string read from one. */
static void walk(struct pb_blob_reader r, const char *lo, const char *hi,
		 int depth)
{
	struct pb_blob_reader sec;
	uint32_t tag;

	while (pb_blob_next(&r, &tag, &sec)) {
		struct pb_blob_reader s = sec;
		const char *p;
		size_t n;

		FUZZ_CHECK(!pb_blob_bad(&r));
		FUZZ_CHECK(sec.r_data >= lo && sec.r_data <= hi);
		FUZZ_CHECK(sec.r_len <= (size_t)(hi - sec.r_data));
		FUZZ_CHECK(r.r_off <= r.r_len);
		/* Read as a record: a number, then byte strings to its end
		 * or to the first that does not fit. */
		(void)pb_blob_get_u32(&s);
		while (pb_blob_more(&s) && !pb_blob_bad(&s)) {
			pb_blob_get_bytes(&s, &p, &n);
			if (pb_blob_bad(&s)) {
				FUZZ_CHECK(p == NULL && n == 0);
				FUZZ_CHECK(pb_blob_get_u64(&s) == 0);
			} else {
				FUZZ_CHECK(p >= sec.r_data &&
					   n <= (size_t)(sec.r_data +
							 sec.r_len - p));
			}
		}
		FUZZ_CHECK(s.r_off <= s.r_len);
		if (depth > 0)
			walk(sec, sec.r_data, sec.r_data + sec.r_len,
			     depth - 1);
	}
	FUZZ_CHECK(r.r_off <= r.r_len);
}

/* pb_handover_check on r, against the reference. */
static void check_state(const struct pb_blob_reader *r, size_t nfds)
{
	struct pb_handover_info info;
	struct ref_info ri;
	char err[128], want[64];
	size_t bad_client;
	int rc, ref;

	walk(*r, r->r_data, r->r_data + r->r_len, 2);
	memset(err, 'x', sizeof(err));
	rc = pb_handover_check(r, nfds, &info, err, sizeof(err));
	ref = ref_check((const uint8_t *)r->r_data, r->r_len, nfds, &ri,
			&bad_client);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(rc == ref);
	if (rc == 0) {
		FUZZ_CHECK(info.hi_clients == ri.ri_clients);
		FUZZ_CHECK(info.hi_bytes == ri.ri_bytes);
		FUZZ_CHECK(info.hi_fds == ri.ri_fds);
		FUZZ_CHECK(info.hi_paused_ms == ri.ri_paused);
		FUZZ_CHECK(info.hi_fds <= nfds);
		FUZZ_CHECK(info.hi_bytes <= r->r_len);
		return;
	}
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	FUZZ_CHECK(err[0] != '\0');
	if (bad_client > 0) {
		snprintf(want, sizeof(want), "client record %zu ", bad_client);
		FUZZ_CHECK(strstr(err, want) != NULL);
	} else {
		FUZZ_CHECK(strstr(err, "client record") == NULL);
	}
}

static void put_le(char *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pb_blob_reader r;
	struct pb_blob_header h;
	enum pb_blob_status st;
	size_t nfds = size > 0 ? data[0] : 0;
	size_t body = size > 0 ? size - 1 : 0;
	char *m;

	/* The input as a whole blob. */
	m = malloc(size > 0 ? size : 1);
	if (m == NULL)
		abort();
	if (size > 0)
		memcpy(m, data, size);
	st = pb_blob_open(&r, m, size, &h);
	FUZZ_CHECK(st <= PB_BLOB_CHECKSUM);
	FUZZ_CHECK(memchr(h.bh_producer, '\0', sizeof(h.bh_producer)));
	if (size < PB_BLOB_HEADER)
		FUZZ_CHECK(st == PB_BLOB_NOT_STATE);
	if (st == PB_BLOB_OK) {
		FUZZ_CHECK(r.r_data == m + PB_BLOB_HEADER);
		FUZZ_CHECK(r.r_len == size - PB_BLOB_HEADER);
		check_state(&r, nfds);
	} else {
		FUZZ_CHECK(r.r_data == NULL && r.r_len == 0);
	}
	free(m);
	if (size == 0)
		return 0;

	/* The input after its first byte as a body, in a header that is
	 * right for it. */
	m = malloc(PB_BLOB_HEADER + body);
	if (m == NULL)
		abort();
	memset(m, 0, PB_BLOB_HEADER);
	memcpy(m, "PBHO", 4);
	put_le(m + 4, PB_BLOB_FORMAT, 4);
	put_le(m + 8, PB_BLOB_FORMAT, 4);
	put_le(m + 12, pb_blob_crc32c(data + 1, body), 4);
	put_le(m + 16, body, 8);
	memcpy(m + 24, "fuzz_handover", 13);
	if (body > 0)
		memcpy(m + PB_BLOB_HEADER, data + 1, body);
	st = pb_blob_open(&r, m, PB_BLOB_HEADER + body, &h);
	FUZZ_CHECK(st == PB_BLOB_OK);
	FUZZ_CHECK(h.bh_body == body);
	FUZZ_CHECK(strcmp(h.bh_producer, "fuzz_handover") == 0);
	FUZZ_CHECK(r.r_data == m + PB_BLOB_HEADER && r.r_len == body);
	check_state(&r, nfds);
	free(m);
	return 0;
}
