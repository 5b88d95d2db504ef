/* SPDX-License-Identifier: ISC */
/*
 * frame.c: the wire frame parser (see frame.h). It never copies: a frame is
 * reported as a pointer into the caller's buffer.
 */
#include "config.h"

#include <string.h>

#include "frame.h"

void pb_frame_parser_init(struct pb_frame_parser *p, size_t max_frame)
{
	p->fp_max = max_frame;
	p->fp_scanned = 0;
}

static uint32_t frame_get_id(const char *b)
{
	const unsigned char *u = (const unsigned char *)b;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	       (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

void pb_frame_put_id(char out[PB_FRAME_HEADER], uint32_t id)
{
	out[0] = (char)(id >> 24);
	out[1] = (char)(id >> 16);
	out[2] = (char)(id >> 8);
	out[3] = (char)id;
}

enum pb_frame_status pb_frame_next(struct pb_frame_parser *p, const char *buf,
				   size_t len, struct pb_frame *f, size_t *used)
{
	const char *payload = buf + PB_FRAME_HEADER;
	const char *nul;
	size_t have, limit;

	if (len <= PB_FRAME_HEADER)
		return PB_FRAME_MORE;
	have = len - PB_FRAME_HEADER;
	limit = have < p->fp_max ? have : p->fp_max;
	nul = NULL;
	if (limit > p->fp_scanned)
		nul = memchr(payload + p->fp_scanned, 0, limit - p->fp_scanned);
	if (nul == NULL) {
		if (limit >= p->fp_max)
			return PB_FRAME_TOO_LONG;
		p->fp_scanned = limit;
		return PB_FRAME_MORE;
	}
	p->fp_scanned = 0;
	f->fr_dest = frame_get_id(buf);
	f->fr_payload = payload;
	f->fr_len = (size_t)(nul - payload) + 1;
	*used = PB_FRAME_HEADER + f->fr_len;
	return PB_FRAME_OK;
}
