/* SPDX-License-Identifier: ISC */
/*
 * fuzz_envelope.c: the checks of the messages between nodes
 * (envelope.h), pb_env_get_header then pb_env_check, over arbitrary bytes,
 * as a message from NATS reaches cluster.c: anyone on the NATS account can
 * publish on the cluster's subjects. The message is given in a buffer of
 * exactly its size, so that AddressSanitizer sees any read past it. The
 * verdict must agree with a plain reference checker written from
 * envelope.h's description; a message accepted is then walked with
 * pb_env_iter_init and pb_env_next, as the links do, and every entry
 * must lie inside the message, the entries must end exactly at its end,
 * each DATA entry must be whole frames none longer than max_frame (and
 * pb_env_frames must count them as the reference does), and the header
 * must encode back to the same bytes.
 *
 * Input: 2 bytes for max_frame, then the message.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "envelope.h"
#include "fuzz.h"

static uint32_t ref_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Frames in p[0 .. len), byte by byte; -1 if they are not whole frames of
 * at most max bytes (0x00 included), or there are none. */
static long ref_frames(const uint8_t *p, size_t len, size_t max)
{
	size_t i, run = 0;
	long n = 0;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		run++;
		if (p[i] == 0) {
			if (run > max)
				return -1;
			run = 0;
			n++;
		}
	}
	return run == 0 ? n : -1;
}

/* Whether m[0 .. len) is a message envelope.h allows, from its text. */
static bool ref_ok(const uint8_t *m, size_t len, size_t max)
{
	size_t off, head, i;
	uint32_t n;

	if (len < 28 || m[0] != 1 || m[1] < 1 || m[1] > 6)
		return false;
	if (m[1] == 4) /* HELLO: two u64 */
		return len == 28 + 16;
	if (len < 32)
		return false;
	n = ref_u32(m + 28);
	head = m[1] == 1 ? 8 : m[1] == 3 ? 4 : 12;
	off = 32;
	for (i = 0; i < n; i++) {
		if (len - off < head)
			return false;
		if (m[1] == 1) {
			size_t elen = ref_u32(m + off + 4);

			off += 8;
			if (len - off < elen)
				return false;
			if (ref_frames(m + off, elen, max) < 0)
				return false;
			off += elen;
		} else {
			off += head;
		}
	}
	return off == len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	const uint8_t *s;
	uint8_t *m;
	size_t max, n;
	uint16_t k;
	struct pb_env_header h;
	enum pb_env_error e;
	bool ok;

	fuzz_in_init(&in, data, size);
	k = fuzz_u16(&in);
	max = 1 + k % 512;
	s = fuzz_take(&in, in.fi_left, &n);
	m = malloc(n > 0 ? n : 1);
	if (m == NULL)
		abort();
	if (n > 0)
		memcpy(m, s, n);

	e = pb_env_get_header(m, n, &h);
	if (e == PB_ENV_OK)
		e = pb_env_check(m, n, max);
	FUZZ_CHECK(pb_env_error_text(e) != NULL);
	ok = ref_ok(m, n, max);
	FUZZ_CHECK(ok == (e == PB_ENV_OK));
	if (n < PB_ENV_HEADER)
		FUZZ_CHECK(e == PB_ENV_SHORT);

	if (ok) {
		unsigned char back[PB_ENV_HEADER];
		struct pb_env_iter it;
		struct pb_env_entry en;
		const unsigned char *at;
		uint32_t count = 0;

		pb_env_put_header(back, &h);
		FUZZ_CHECK(memcmp(back, m, PB_ENV_HEADER) == 0);
		if (h.eh_type == PB_ENV_HELLO) {
			FUZZ_CHECK(n == PB_ENV_HEADER + PB_ENV_HELLO_BODY);
			free(m);
			return 0;
		}
		at = m + PB_ENV_HEADER + 4;
		pb_env_iter_init(&it, m, n);
		while (pb_env_next(&it, (enum pb_env_type)h.eh_type, &en)) {
			count++;
			FUZZ_CHECK(at + 4 <= m + n);
			FUZZ_CHECK(en.ee_dest == ref_u32(at));
			switch (h.eh_type) {
			case PB_ENV_DATA:
				FUZZ_CHECK(en.ee_data == at + 8);
				FUZZ_CHECK(en.ee_len > 0);
				FUZZ_CHECK(en.ee_data + en.ee_len <= m + n);
				FUZZ_CHECK(en.ee_data[en.ee_len - 1] == 0);
				FUZZ_CHECK(
					pb_env_frames(en.ee_data, en.ee_len) ==
					(size_t)ref_frames(en.ee_data,
							   en.ee_len, max));
				at = en.ee_data + en.ee_len;
				break;
			case PB_ENV_GONE:
				at += PB_ENV_GONE_ENTRY;
				break;
			default:
				FUZZ_CHECK(en.ee_consumed ==
					   ((uint64_t)ref_u32(at + 4) << 32 |
					    ref_u32(at + 8)));
				at += PB_ENV_ACK_ENTRY;
				break;
			}
			FUZZ_CHECK(at <= m + n);
		}
		FUZZ_CHECK(count == ref_u32(m + PB_ENV_HEADER));
		FUZZ_CHECK(at == m + n);
	}
	free(m);
	return 0;
}
