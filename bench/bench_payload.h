/* SPDX-License-Identifier: ISC */
/*
 * bench_payload.h: the content of a benchmark message. The payload is text,
 * since it may not contain 0x00: fixed-width lowercase hex fields
 *
 *   SSSSSS QQQQQQQQQQ TTTTTTTTTTTT filler... 0x00
 *   stream seq        send time
 *
 * without the spaces: the stream (which sender, which destination), its
 * sequence number, the send time in ns since the run began (monotonic
 * clock), then filler up to --size bytes, the 0x00 included. The receiver
 * checks the length and the filler, and the stream and sequence number
 * against what it expects.
 */
#ifndef BENCH_PAYLOAD_H
#define BENCH_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_PL_STREAM_DIGITS 6
#define BENCH_PL_SEQ_DIGITS    10
#define BENCH_PL_TIME_DIGITS   12
#define BENCH_PL_HEADER                                                        \
	(BENCH_PL_STREAM_DIGITS + BENCH_PL_SEQ_DIGITS + BENCH_PL_TIME_DIGITS)
#define BENCH_PL_MIN_SIZE    (BENCH_PL_HEADER + 1) /* with the 0x00 */
#define BENCH_PL_MAX_SIZE    (1024 * 1024)
#define BENCH_PL_MAX_STREAMS (1u << (4 * BENCH_PL_STREAM_DIGITS))
#define BENCH_FRAME_HEADER   4 /* destination id in front of the payload */

struct bench_msg {
	uint32_t m_stream;
	uint64_t m_seq;
	uint64_t m_time;
};

/* Prepares the template for payloads of size bytes (0x00 included). */
int bench_payload_init(size_t size);

/*
 * Writes a whole frame (destination id, payload, 0x00) at dst: size + 4
 * bytes. time is in ns since the run began.
 */
void bench_payload_frame(char *dst, uint32_t dest_id,
			 const struct bench_msg *m);

/*
 * Parses one received message of len bytes (its 0x00 excluded); 0 if it is
 * well formed, -1 if not.
 */
int bench_payload_parse(const char *msg, size_t len, struct bench_msg *m);

#endif
