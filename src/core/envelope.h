/* SPDX-License-Identifier: ISC */
/*
 * envelope.h: the messages nodes of a cluster send each other over NATS.
 *
 * Binary, big-endian, one NATS message each, no NATS headers (a batch
 * holds many destinations; headers would add their own parsing per
 * message). Every message starts with the same header, which names the
 * sender (its node and the random epoch of its process) and the receiver's
 * epoch as the sender knows it (0 while unknown), so that a restarted
 * node is told from the one before it:
 *
 *   u8 version, u8 type, u16 src_node, u64 src_epoch, u64 dst_epoch,
 *   u64 seq
 *
 * DATA  seq is the batch's number on its link (1, 2, ...); then u32 n and
 *       n entries {u32 dest, u32 len, len bytes}: whole frames for dest,
 *       each a payload and its 0x00, as the destination will read them.
 * ACK   seq is the last batch accepted in order (cumulative); then u32 n
 *       and n entries {u32 dest, u64 consumed}: the bytes sent to dest on
 *       this link so far that have left the receiver's waiting room, a
 *       cumulative count, so that a lost or repeated ACK does no harm.
 * NAK   an ACK that also says the batch after seq is missing: send
 *       again from there.
 * ENDED an ACK that is the last for its session: a newer one began, so
 *       nothing after seq will be taken.
 * GONE  then u32 n and n entries {u32 dest}: ids that are no client of
 *       the receiver (never given, or left; ids never come back).
 * HELLO a heartbeat to every node, once a second; seq is 0; then u64 park
 *       and u64 outbox: the credit the sender grants each node in all
 *       (its waiting room for that node's frames) and per destination.
 *
 * The core only encodes and checks; sending is the links' (src/link).
 */
#ifndef PB_ENVELOPE_H
#define PB_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PB_ENV_VERSION	  1
#define PB_ENV_HEADER	  28 /* bytes before a message's body */
#define PB_ENV_DATA_ENTRY 8  /* an entry's head: dest and len */
#define PB_ENV_ACK_ENTRY  12 /* dest and consumed */
#define PB_ENV_GONE_ENTRY 4
#define PB_ENV_HELLO_BODY 16

enum pb_env_type {
	PB_ENV_DATA = 1,
	PB_ENV_ACK = 2,
	PB_ENV_GONE = 3,
	PB_ENV_HELLO = 4,
	PB_ENV_NAK = 5,
	PB_ENV_ENDED = 6,
};

struct pb_env_header {
	uint8_t eh_type; /* enum pb_env_type */
	uint16_t eh_src_node;
	uint64_t eh_src_epoch;
	uint64_t eh_dst_epoch;
	uint64_t eh_seq;
};

/* Why a message was refused. */
enum pb_env_error {
	PB_ENV_OK,
	PB_ENV_SHORT,	    /* shorter than its header or its entries say */
	PB_ENV_VERSION_BAD, /* another version */
	PB_ENV_TYPE_BAD,    /* no type of this version */
	PB_ENV_ENTRY_BAD,   /* an entry that is no whole frames */
	PB_ENV_LONG,	    /* bytes after the last entry */
};

/* Writes h at p (PB_ENV_HEADER bytes). */
void pb_env_put_header(unsigned char *p, const struct pb_env_header *h);

/* Reads the header of a message of len bytes; checks the version and the
 * type, not the body. */
enum pb_env_error pb_env_get_header(const unsigned char *p, size_t len,
				    struct pb_env_header *h);

/* Checks the body of a whole message of its type (after
 * pb_env_get_header): the entries it announces are there, no more, and
 * each DATA entry is one or more whole frames (non-empty, ending in 0x00,
 * none longer than max_frame). */
enum pb_env_error pb_env_check(const unsigned char *p, size_t len,
			       size_t max_frame);

/* A walk over a checked message's entries. */
struct pb_env_iter {
	const unsigned char *ei_p;
	const unsigned char *ei_end;
	uint32_t ei_left;
};

struct pb_env_entry {
	uint32_t ee_dest;
	const unsigned char *ee_data; /* DATA: the frames */
	uint32_t ee_len;
	uint64_t ee_consumed; /* ACK */
};

void pb_env_iter_init(struct pb_env_iter *it, const unsigned char *p,
		      size_t len);
/* The next entry of a message of this type; false after the last. */
bool pb_env_next(struct pb_env_iter *it, enum pb_env_type type,
		 struct pb_env_entry *e);

/* How many frames (0x00 bytes) len bytes of frames hold. */
size_t pb_env_frames(const unsigned char *p, size_t len);

/* The words for an error, for the log. */
const char *pb_env_error_text(enum pb_env_error e);

static inline void pb_env_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline void pb_env_put_u64(unsigned char *p, uint64_t v)
{
	pb_env_put_u32(p, (uint32_t)(v >> 32));
	pb_env_put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t pb_env_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t pb_env_get_u64(const unsigned char *p)
{
	return (uint64_t)pb_env_get_u32(p) << 32 | pb_env_get_u32(p + 4);
}

#endif
