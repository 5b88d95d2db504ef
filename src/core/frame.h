/* SPDX-License-Identifier: ISC */
/*
 * frame.h: the wire frame parser.
 *
 * A frame is a 4-byte big-endian destination id followed by a payload of
 * non-zero bytes and a terminating 0x00. The parser works in place over
 * the caller's buffer (no copy): it reports one frame at a time as a
 * pointer to the payload, which includes the terminating 0x00 because that
 * is exactly what gets forwarded.
 */
#ifndef PB_FRAME_H
#define PB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define PB_FRAME_HEADER 4 /* bytes of destination id before the payload */

enum pb_frame_status {
	PB_FRAME_OK,	   /* a whole frame was found */
	PB_FRAME_MORE,	   /* the buffer ends inside a frame: read more */
	PB_FRAME_TOO_LONG, /* no 0x00 within max_frame payload bytes */
};

struct pb_frame {
	uint32_t fr_dest;	/* destination id */
	const char *fr_payload; /* payload, points into the caller's buffer */
	size_t fr_len;		/* payload length including the final 0x00 */
};

/*
 * Parser state for the frame that begins at the start of the caller's
 * buffer: how many payload bytes are already known to hold no 0x00, so that
 * a large frame arriving in small pieces is scanned once, not once a piece.
 */
struct pb_frame_parser {
	size_t fp_max;	   /* longest payload accepted, 0x00 included */
	size_t fp_scanned; /* payload bytes of the current frame seen so far */
};

void pb_frame_parser_init(struct pb_frame_parser *p, size_t max_frame);

/*
 * Looks for one frame at buf[0 .. len). On PB_FRAME_OK fills *f and sets
 * *used to the bytes the frame takes (header + payload); the caller then
 * passes the rest of the buffer, starting right after it. On PB_FRAME_MORE
 * the caller must keep buf[0 .. len) and call again with the same start and
 * more bytes appended. PB_FRAME_TOO_LONG is final for the connection.
 */
enum pb_frame_status pb_frame_next(struct pb_frame_parser *p, const char *buf,
				   size_t len, struct pb_frame *f,
				   size_t *used);

/* Writes the 4-byte big-endian form of id to out. */
void pb_frame_put_id(char out[PB_FRAME_HEADER], uint32_t id);

#endif
