/* SPDX-License-Identifier: ISC */
/*
 * envelope.c: encoding and checking the messages between nodes (see
 * envelope.h). Everything a message says is checked before anything in it
 * is used: a message from the network is never trusted.
 */
#include "config.h"

#include <string.h>

#include "envelope.h"

void pb_env_put_header(unsigned char *p, const struct pb_env_header *h)
{
	p[0] = PB_ENV_VERSION;
	p[1] = h->eh_type;
	p[2] = (unsigned char)(h->eh_src_node >> 8);
	p[3] = (unsigned char)h->eh_src_node;
	pb_env_put_u64(p + 4, h->eh_src_epoch);
	pb_env_put_u64(p + 12, h->eh_dst_epoch);
	pb_env_put_u64(p + 20, h->eh_seq);
}

enum pb_env_error pb_env_get_header(const unsigned char *p, size_t len,
				    struct pb_env_header *h)
{
	if (len < PB_ENV_HEADER)
		return PB_ENV_SHORT;
	if (p[0] != PB_ENV_VERSION)
		return PB_ENV_VERSION_BAD;
	if (p[1] < PB_ENV_DATA || p[1] > PB_ENV_ENDED)
		return PB_ENV_TYPE_BAD;
	h->eh_type = p[1];
	h->eh_src_node = (uint16_t)(p[2] << 8 | p[3]);
	h->eh_src_epoch = pb_env_get_u64(p + 4);
	h->eh_dst_epoch = pb_env_get_u64(p + 12);
	h->eh_seq = pb_env_get_u64(p + 20);
	return PB_ENV_OK;
}

/* Whether len bytes are whole frames: some, the last ending the bytes,
 * none longer than max_frame. */
static bool env_whole_frames(const unsigned char *p, size_t len,
			     size_t max_frame)
{
	size_t start = 0, i;

	if (len == 0 || p[len - 1] != 0)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] == 0) {
			if (i + 1 - start > max_frame)
				return false;
			start = i + 1;
		}
	return true;
}

static size_t env_entry_head(enum pb_env_type type)
{
	switch (type) {
	case PB_ENV_DATA:
		return PB_ENV_DATA_ENTRY;
	case PB_ENV_ACK:
	case PB_ENV_NAK:
	case PB_ENV_ENDED:
		return PB_ENV_ACK_ENTRY;
	case PB_ENV_GONE:
		return PB_ENV_GONE_ENTRY;
	default:
		return 0;
	}
}

enum pb_env_error pb_env_check(const unsigned char *p, size_t len,
			       size_t max_frame)
{
	enum pb_env_type type = p[1];
	size_t head = env_entry_head(type), off = PB_ENV_HEADER + 4;
	uint32_t n, i;

	if (type == PB_ENV_HELLO)
		return len < PB_ENV_HEADER + PB_ENV_HELLO_BODY	 ? PB_ENV_SHORT
		       : len > PB_ENV_HEADER + PB_ENV_HELLO_BODY ? PB_ENV_LONG
								 : PB_ENV_OK;
	if (len < off)
		return PB_ENV_SHORT;
	n = pb_env_get_u32(p + PB_ENV_HEADER);
	for (i = 0; i < n; i++) {
		if (len - off < head)
			return PB_ENV_SHORT;
		if (type == PB_ENV_DATA) {
			uint32_t elen = pb_env_get_u32(p + off + 4);

			off += head;
			if (len - off < elen)
				return PB_ENV_SHORT;
			if (!env_whole_frames(p + off, elen, max_frame))
				return PB_ENV_ENTRY_BAD;
			off += elen;
		} else {
			off += head;
		}
	}
	return off == len ? PB_ENV_OK : PB_ENV_LONG;
}

void pb_env_iter_init(struct pb_env_iter *it, const unsigned char *p,
		      size_t len)
{
	it->ei_p = p + PB_ENV_HEADER + 4;
	it->ei_end = p + len;
	it->ei_left = pb_env_get_u32(p + PB_ENV_HEADER);
}

bool pb_env_next(struct pb_env_iter *it, enum pb_env_type type,
		 struct pb_env_entry *e)
{
	if (it->ei_left == 0)
		return false;
	it->ei_left--;
	memset(e, 0, sizeof(*e));
	e->ee_dest = pb_env_get_u32(it->ei_p);
	switch (type) {
	case PB_ENV_DATA:
		e->ee_len = pb_env_get_u32(it->ei_p + 4);
		e->ee_data = it->ei_p + PB_ENV_DATA_ENTRY;
		it->ei_p += PB_ENV_DATA_ENTRY + e->ee_len;
		break;
	case PB_ENV_ACK:
	case PB_ENV_NAK:
	case PB_ENV_ENDED:
		e->ee_consumed = pb_env_get_u64(it->ei_p + 4);
		it->ei_p += PB_ENV_ACK_ENTRY;
		break;
	default:
		it->ei_p += PB_ENV_GONE_ENTRY;
		break;
	}
	return true;
}

size_t pb_env_frames(const unsigned char *p, size_t len)
{
	size_t n = 0;
	const unsigned char *end = p + len, *z;

	while (p < end && (z = memchr(p, 0, (size_t)(end - p))) != NULL) {
		n++;
		p = z + 1;
	}
	return n;
}

const char *pb_env_error_text(enum pb_env_error e)
{
	switch (e) {
	case PB_ENV_OK:
		return "ok";
	case PB_ENV_SHORT:
		return "truncated";
	case PB_ENV_VERSION_BAD:
		return "wrong version";
	case PB_ENV_TYPE_BAD:
		return "unknown type";
	case PB_ENV_ENTRY_BAD:
		return "an entry that is not whole frames";
	case PB_ENV_LONG:
		return "bytes after its end";
	}
	return "?";
}
