/* SPDX-License-Identifier: ISC */
/*
 * fuzz_frame.c: the frame parser, pb_frame_next, over arbitrary byte
 * streams. TCP keeps no write boundaries, so whatever the pieces a stream
 * arrives in, the parser must find the same frames, and the ones
 * doc/protocol.md defines: the stream is parsed whole, then again fed in
 * pieces the input chooses (each piece in a buffer of its exact size, so
 * that AddressSanitizer sees any read past what was given), and both must
 * agree with a plain byte-by-byte reference parser, frame by frame, down
 * to where a too-long frame is reported.
 *
 * Input: 2 bytes for max_frame, 1 byte for the number of cut lengths, the
 * cut lengths (1 byte each, used in turn), then the stream.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"

#define FUZZ_MAX_CUTS 32

/* Checks frame f, found at buf[0 .. used), against the reference frame r
 * at stream offset 'at'. */
static void frame_check(const struct pb_frame *f, const char *buf, size_t used,
			size_t max, const struct fuzz_ref_frame *r, size_t at)
{
	char id[PB_FRAME_HEADER];

	FUZZ_CHECK(r->rf_off == at);
	FUZZ_CHECK(f->fr_dest == r->rf_dest);
	FUZZ_CHECK(f->fr_len == r->rf_len);
	FUZZ_CHECK(f->fr_payload == buf + PB_FRAME_HEADER);
	FUZZ_CHECK(used == PB_FRAME_HEADER + f->fr_len);
	FUZZ_CHECK(f->fr_len >= 1 && f->fr_len <= max);
	FUZZ_CHECK(f->fr_payload[f->fr_len - 1] == 0);
	FUZZ_CHECK(memchr(f->fr_payload, 0, f->fr_len - 1) == NULL);
	pb_frame_put_id(id, f->fr_dest);
	FUZZ_CHECK(memcmp(id, buf, PB_FRAME_HEADER) == 0);
}

/* A copy of s[0 .. n) in a buffer of exactly n bytes (1 if n is 0). */
static char *frame_copy(const uint8_t *s, size_t n)
{
	char *b = malloc(n > 0 ? n : 1);

	if (b == NULL)
		abort();
	if (n > 0)
		memcpy(b, s, n);
	return b;
}

/* The whole stream in one buffer. */
static void frame_whole(const uint8_t *s, size_t n, size_t max,
			const struct fuzz_ref_frame *ref, size_t nref,
			enum fuzz_ref_status st, size_t ref_used)
{
	struct pb_frame_parser p;
	enum pb_frame_status r;
	char *buf = frame_copy(s, n);
	size_t off = 0, k = 0, used;
	struct pb_frame f;

	pb_frame_parser_init(&p, max);
	while ((r = pb_frame_next(&p, buf + off, n - off, &f, &used)) ==
	       PB_FRAME_OK) {
		FUZZ_CHECK(k < nref);
		frame_check(&f, buf + off, used, max, &ref[k], off);
		off += used;
		k++;
	}
	FUZZ_CHECK(k == nref);
	FUZZ_CHECK(off == ref_used);
	FUZZ_CHECK(r == (st == FUZZ_REF_TOO_LONG ? PB_FRAME_TOO_LONG
						 : PB_FRAME_MORE));
	free(buf);
}

/* The stream in pieces: cuts[i % ncuts] bytes at a time, one more once
 * the cuts have all been used (so that a run of zero cuts ends). */
static void frame_pieces(const uint8_t *s, size_t n, size_t max,
			 const uint8_t *cuts, size_t ncuts,
			 const struct fuzz_ref_frame *ref, size_t nref,
			 enum fuzz_ref_status st, size_t ref_used)
{
	struct pb_frame_parser p;
	size_t start = 0, fed = 0, k = 0, turn = 0;
	bool too_long = false;

	pb_frame_parser_init(&p, max);
	while (fed < n && !too_long) {
		size_t piece = ncuts > 0 ? cuts[turn % ncuts] : n;
		size_t off = 0, used;
		enum pb_frame_status r;
		struct pb_frame f;
		char *buf;

		if (turn++ >= ncuts)
			piece++;
		if (piece > n - fed)
			piece = n - fed;
		fed += piece;
		/* What is held: the start of a frame, and the new piece. */
		buf = frame_copy(s + start, fed - start);
		while ((r = pb_frame_next(&p, buf + off, fed - start - off, &f,
					  &used)) == PB_FRAME_OK) {
			FUZZ_CHECK(k < nref);
			frame_check(&f, buf + off, used, max, &ref[k],
				    start + off);
			off += used;
			k++;
		}
		start += off;
		if (r == PB_FRAME_TOO_LONG) {
			FUZZ_CHECK(st == FUZZ_REF_TOO_LONG);
			too_long = true;
		}
		free(buf);
	}
	FUZZ_CHECK(k == nref);
	FUZZ_CHECK(start == ref_used);
	FUZZ_CHECK(too_long == (st == FUZZ_REF_TOO_LONG));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ref_frame *ref;
	enum fuzz_ref_status st;
	const uint8_t *cuts, *s;
	size_t max, ncuts, n, nref, ref_used;
	struct fuzz_in in;
	uint16_t m;

	fuzz_in_init(&in, data, size);
	m = fuzz_u16(&in);
	max = m == 0xffff ? 65536 : 1 + m % 2048;
	cuts = fuzz_take(&in, fuzz_u8(&in) % FUZZ_MAX_CUTS, &ncuts);
	s = fuzz_take(&in, in.fi_left, &n);

	st = fuzz_ref_parse(s, n, max, &ref, &nref, &ref_used);
	frame_whole(s, n, max, ref, nref, st, ref_used);
	frame_pieces(s, n, max, cuts, ncuts, ref, nref, st, ref_used);
	free(ref);
	return 0;
}
