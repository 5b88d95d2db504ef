/* SPDX-License-Identifier: ISC */
/*
 * handover.h: the clients' state that a restart hands to the next process.
 *
 * Writing (the old process): the registry is frozen (registry.h: every
 * client thread waits at its safe point), then pb_handover_write puts in a
 * blob (blob.h) the next id, the counters, and for each client its id,
 * address, where it is in its life, the unread start of a frame, its
 * outbox from the byte the next write starts with, and its waiting room
 * lane by lane; its socket goes in a list of descriptors, the record
 * naming its place there. A client that left with frames still waiting
 * is carried without a socket. The service adds its own sections (the
 * listening sockets) before it finishes the blob.
 *
 * Reading (the new process): pb_handover_check reads the whole blob and
 * changes nothing, so that a bad one (truncated, from a format this
 * release cannot read, naming descriptors that are not there) is refused
 * before anything is built; pb_handover_restore then rebuilds every client
 * in the registry (outbox, waiting room, who waits on whom, the memory
 * charged) and starts its thread. Sections it does not know are skipped.
 */
#ifndef PB_HANDOVER_H
#define PB_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "registry.h"

/* Section tags. */
enum pb_handover_tag {
	PB_HO_GLOBAL = 1,   /* next id, counters, when the pause began */
	PB_HO_CLIENT = 2,   /* one client */
	PB_HO_LISTENER = 3, /* a listening socket (the service's) */
	PB_HO_CLUSTER = 4,  /* the node's process epoch (src/link) */
	PB_HO_LINK = 5,	    /* a link to another node (src/link) */
};

/* A state being written: the blob, and the descriptors it names. */
struct pb_handover_out {
	struct pb_blob ho_blob;
	int *ho_fds;
	size_t ho_nfds;
	size_t ho_cap;
	size_t ho_clients; /* clients written */
	size_t ho_bytes;   /* their queued bytes */
	bool ho_failed;	   /* no memory for the list */
};

void pb_handover_out_init(struct pb_handover_out *out);
void pb_handover_out_free(struct pb_handover_out *out);

/* Puts fd in the list; its index, for a record to name. */
uint32_t pb_handover_add_fd(struct pb_handover_out *out, int fd);

/* Writes the registry's state (frozen; paused_ms: when the freeze began,
 * on the monotonic clock every process shares). */
void pb_handover_write(struct pb_registry *reg, struct pb_handover_out *out,
		       uint64_t paused_ms);

/* What a state holds, once checked. */
struct pb_handover_info {
	size_t hi_clients;
	size_t hi_bytes;
	size_t hi_fds; /* the descriptors it names: indexes below this */
	uint64_t hi_paused_ms;
};

/* Checks the body r (pb_blob_open) against nfds descriptors handed over:
 * 0 with *info, or -1 with err. */
int pb_handover_check(const struct pb_blob_reader *r, size_t nfds,
		      struct pb_handover_info *info, char *err, size_t errlen);

/* The queued bytes of ob, from its head, as one byte string; returns
 * how many. */
size_t pb_handover_put_queue(struct pb_blob *b, const struct pb_outbox *ob);

/* The frames waiting in waiting room pk, rebuilt, counted again by their
 * destinations (for their slow consumer's line), as they were before. */
void pb_handover_rewait(struct pb_registry *reg, const struct pb_park *pk);

/* Rebuilds the clients of a checked state in reg (set up, no thread
 * serving yet) and starts their threads. fds[i] is the descriptor of
 * index i; each one a client takes is set to -1 (the rest are the
 * caller's). Returns how many clients serve on; those that could not be
 * rebuilt (no memory, no thread) are closed and counted. */
size_t pb_handover_restore(struct pb_registry *reg,
			   const struct pb_blob_reader *r, int *fds,
			   size_t nfds);

#endif
