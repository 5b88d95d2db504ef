/* SPDX-License-Identifier: ISC */
/*
 * route.h: turning bytes read from a sender into hand-offs to destinations.
 *
 * The delivery engine (engine.h) uses these for both servers; how the
 * servers differ is said there. pb_route_input parses the complete frames in a
 * read buffer and groups them by destination (order per destination kept),
 * calling back once per group, so that one write can carry many frames.
 * pb_route_handoff gives one group to a destination's outbox: written
 * straight through when nothing is queued before it, queued as far as the
 * outbox has room, and the rest left for the caller to park.
 */
#ifndef PB_ROUTE_H
#define PB_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "frame.h"
#include "outbox.h"
#include "park.h"

/* Frames grouped at a time: bounds the scratch space (10 KiB), and is
 * below Linux's IOV_MAX, so one group always fits in one writev. */
#define PB_ROUTE_BATCH 256

/* Up to this many destinations in a batch are grouped without sorting. */
#define PB_ROUTE_FEW 8

struct pb_route_item {
	uint32_t ri_dest;
	uint32_t ri_seq; /* position in the read: keeps order when sorting */
	const char *ri_payload;
	size_t ri_len;
};

/* Scratch space for one sender, allocated while it is active. */
struct pb_route {
	struct pb_route_item rt_items[PB_ROUTE_BATCH];
	struct iovec rt_iov[PB_ROUTE_BATCH];
	size_t rt_frames; /* complete frames the last pb_route_input routed */
};

/* Called with the frames iov[0 .. n) for dest, in the order sent. The
 * payloads live in the read buffer: copy what must outlive the call. */
typedef void (*pb_route_fn)(void *arg, uint32_t dest, const struct iovec *iov,
			    size_t n);

/*
 * Routes every complete frame in buf[0 .. *len) and moves what is left (the
 * start of a frame) to the front of buf, updating *len. Returns -1 when a
 * frame is too long (a protocol error; the frames before it were routed).
 */
int pb_route_input(struct pb_route *rt, struct pb_frame_parser *p, char *buf,
		   size_t *len, pb_route_fn fn, void *arg);

/* Writes without blocking; bytes written, or -1 (treated as 0). */
typedef ssize_t (*pb_route_write_fn)(void *ctx, const struct iovec *iov,
				     size_t n);

struct pb_route_handoff {
	size_t rh_taken; /* frames written or queued: iov[0 .. taken) */
	size_t rh_sent;	 /* of those, frames written whole by write */
	size_t rh_bytes; /* bytes write took */
	bool rh_started; /* the outbox went from empty to not empty */
	bool rh_cut;	 /* a frame was cut and its rest not queued */
};

/*
 * Hands frames iov[0 .. n) to a destination with outbox ob: through write
 * (with ctx) when ob is empty, then into ob as far as whole frames fit. The
 * rest of a frame cut short by write is always queued first (an empty
 * outbox has room for a frame) unless memory runs out, which rh_cut
 * reports: the destination's stream is then broken, and iov[taken .. n)
 * cannot follow.
 */
struct pb_route_handoff pb_route_handoff(struct pb_outbox *ob,
					 const struct iovec *iov, size_t n,
					 pb_route_write_fn write, void *ctx);

/* What became of frames a sender handed to one destination. */
struct pb_route_result {
	size_t rr_sent;		   /* frames written whole: forwarded */
	size_t rr_bytes;	   /* bytes written */
	size_t rr_lost;		   /* frames dropped: no memory for them */
	size_t rr_parked;	   /* frames now waiting in the waiting room */
	bool rr_started;	   /* the outbox went from empty to not */
	bool rr_cut;		   /* the stream was cut or has a gap:
				      disconnect the destination */
	enum pb_park_wait rr_wait; /* what the sender must do now */
};

/*
 * Delivers frames iov[0 .. n), from a sender whose waiting room is pk, to
 * dest, whose outbox is ob: pb_route_handoff, then what the outbox has no
 * room for goes into the waiting room. Frames that find no memory there
 * are lost (rr_lost), and the destination's stream is cut (rr_cut), as
 * when a frame was cut short: the rest of its stream cannot follow without
 * a gap it would not see, so the caller disconnects it (doc/protocol.md,
 * "Out of memory").
 */
struct pb_route_result pb_route_deliver(struct pb_outbox *ob,
					struct pb_park *pk, uint32_t dest,
					const struct iovec *iov, size_t n,
					pb_route_write_fn write, void *ctx);

/* Frames for a dest that earlier frames already wait for go behind them,
 * in the waiting room, whatever its outbox holds now: order per
 * destination is kept. rr_wait is PB_PARK_GO: the sender already waits
 * for dest (or retries on its own), nothing new to do. Frames that find no
 * memory are lost and the stream is cut, as in pb_route_deliver. */
struct pb_route_result pb_route_behind(struct pb_park *pk, uint32_t dest,
				       const struct iovec *iov, size_t n);

#endif
