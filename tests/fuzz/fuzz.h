/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h: what the fuzz targets share. Each target is one libFuzzer entry
 * point, LLVMFuzzerTestOneInput, built either with clang's libFuzzer
 * (`make fuzz`, tests/fuzz/run.sh) or with replay.c's main, which runs it
 * over a corpus in `make check`. An input is read as a little stream of
 * choices (fuzz_u8 and friends; past its end every choice is 0), and a
 * broken invariant stops the process with abort(), which both count as a
 * crash.
 */
#ifndef PB_FUZZ_H
#define PB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run on a broken invariant, saying which. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail(__FILE__, __LINE__, #cond);                  \
	} while (0)

static inline void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

/* The input, read from the front. */
struct fuzz_in {
	const uint8_t *fi_p;
	size_t fi_left;
};

static inline void fuzz_in_init(struct fuzz_in *in, const uint8_t *data,
				size_t size)
{
	in->fi_p = data;
	in->fi_left = size;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (in->fi_left == 0)
		return 0;
	in->fi_left--;
	return *in->fi_p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t hi = fuzz_u8(in);

	return (uint16_t)(hi << 8 | fuzz_u8(in));
}

/* Up to n bytes from the input: *got says how many there were. */
static inline const uint8_t *fuzz_take(struct fuzz_in *in, size_t n,
				       size_t *got)
{
	const uint8_t *p = in->fi_p;

	if (n > in->fi_left)
		n = in->fi_left;
	in->fi_p += n;
	in->fi_left -= n;
	*got = n;
	return p;
}

/* A frame found by the reference parser: fuzz_ref_next. */
struct fuzz_ref_frame {
	uint32_t rf_dest;
	size_t rf_off; /* where its header starts in the stream */
	size_t rf_len; /* payload length, its final 0x00 included */
};

enum fuzz_ref_status { FUZZ_REF_OK, FUZZ_REF_MORE, FUZZ_REF_TOO_LONG };

/*
 * The frame at s[0 .. n), found the plain way, byte by byte, from what
 * doc/protocol.md says: a 4-byte big-endian id, then a payload ending at
 * its first 0x00, at most max bytes long (0x00 included). The parsers in
 * src/core are checked against this one.
 */
static inline enum fuzz_ref_status
fuzz_ref_next(const uint8_t *s, size_t n, size_t max, struct fuzz_ref_frame *f)
{
	size_t i;

	for (i = 4; i < n && i - 4 < max; i++) {
		if (s[i] == 0) {
			f->rf_dest = (uint32_t)s[0] << 24 |
				     (uint32_t)s[1] << 16 |
				     (uint32_t)s[2] << 8 | (uint32_t)s[3];
			f->rf_len = i - 4 + 1;
			return FUZZ_REF_OK;
		}
	}
	return n > 4 && n - 4 >= max ? FUZZ_REF_TOO_LONG : FUZZ_REF_MORE;
}

/*
 * Every frame of s[0 .. n) by the reference parser, into *frames (a
 * malloc'd array, count in *nframes); returns the final status, and the
 * bytes the frames take in *used.
 */
static inline enum fuzz_ref_status
fuzz_ref_parse(const uint8_t *s, size_t n, size_t max,
	       struct fuzz_ref_frame **frames, size_t *nframes, size_t *used)
{
	struct fuzz_ref_frame *all = malloc((n / 5 + 1) * sizeof(*all));
	enum fuzz_ref_status st = FUZZ_REF_MORE;
	size_t off = 0, k = 0;

	if (all == NULL)
		abort();
	while (off < n && (st = fuzz_ref_next(s + off, n - off, max,
					      &all[k])) == FUZZ_REF_OK) {
		all[k].rf_off = off;
		off += 4 + all[k].rf_len;
		k++;
	}
	*frames = all;
	*nframes = k;
	*used = off;
	return st;
}

#endif
