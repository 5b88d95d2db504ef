/* SPDX-License-Identifier: ISC */
/*
 * bench_payload.c: building and parsing benchmark payloads (see
 * bench_payload.h). Frames are stamped from a template, so building one is
 * a memcpy and 28 digit stores; parsing is a table lookup per digit and a
 * memcmp of the filler.
 */
#include <stdlib.h>
#include <string.h>

#include "bench_payload.h"

static char *bench_pl_template; /* a whole payload, 0x00 included */
static size_t bench_pl_size;
static unsigned char bench_pl_unhex[256];

int bench_payload_init(size_t size)
{
	size_t i;

	if (size < BENCH_PL_MIN_SIZE || size > BENCH_PL_MAX_SIZE)
		return -1;
	free(bench_pl_template);
	bench_pl_template = malloc(size);
	if (bench_pl_template == NULL)
		return -1;
	bench_pl_size = size;
	for (i = 0; i < size - 1; i++)
		bench_pl_template[i] = (char)('A' + i % 26);
	bench_pl_template[size - 1] = '\0';
	memset(bench_pl_unhex, 0xff, sizeof(bench_pl_unhex));
	for (i = 0; i < 10; i++)
		bench_pl_unhex['0' + i] = (unsigned char)i;
	for (i = 0; i < 6; i++)
		bench_pl_unhex['a' + i] = (unsigned char)(10 + i);
	return 0;
}

static void bench_pl_hex(char *dst, uint64_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";

	while (digits-- > 0) {
		dst[digits] = hex[v & 15];
		v >>= 4;
	}
}

/* Reads a hex field; -1 if a character is not a lowercase hex digit. */
static int bench_pl_unhex_field(const char *src, int digits, uint64_t *out)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < digits; i++) {
		unsigned char d = bench_pl_unhex[(unsigned char)src[i]];

		if (d > 15)
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

void bench_payload_frame(char *dst, uint32_t dest_id, const struct bench_msg *m)
{
	char *p = dst + BENCH_FRAME_HEADER;

	dst[0] = (char)(dest_id >> 24);
	dst[1] = (char)(dest_id >> 16);
	dst[2] = (char)(dest_id >> 8);
	dst[3] = (char)dest_id;
	memcpy(p, bench_pl_template, bench_pl_size);
	bench_pl_hex(p, m->m_stream, BENCH_PL_STREAM_DIGITS);
	p += BENCH_PL_STREAM_DIGITS;
	bench_pl_hex(p, m->m_seq, BENCH_PL_SEQ_DIGITS);
	p += BENCH_PL_SEQ_DIGITS;
	bench_pl_hex(p, m->m_time, BENCH_PL_TIME_DIGITS);
}

int bench_payload_parse(const char *msg, size_t len, struct bench_msg *m)
{
	uint64_t stream;

	if (len != bench_pl_size - 1)
		return -1;
	if (bench_pl_unhex_field(msg, BENCH_PL_STREAM_DIGITS, &stream) < 0)
		return -1;
	msg += BENCH_PL_STREAM_DIGITS;
	if (bench_pl_unhex_field(msg, BENCH_PL_SEQ_DIGITS, &m->m_seq) < 0)
		return -1;
	msg += BENCH_PL_SEQ_DIGITS;
	if (bench_pl_unhex_field(msg, BENCH_PL_TIME_DIGITS, &m->m_time) < 0)
		return -1;
	msg += BENCH_PL_TIME_DIGITS;
	if (memcmp(msg, bench_pl_template + BENCH_PL_HEADER,
		   len - BENCH_PL_HEADER) != 0)
		return -1;
	m->m_stream = (uint32_t)stream;
	return 0;
}
