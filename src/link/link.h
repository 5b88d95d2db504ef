/* SPDX-License-Identifier: ISC */
/*
 * link.h: this node's link to one other node of the cluster.
 *
 * Both directions of it, served by one thread of its own:
 *
 * Out. A frame for a client of that node goes into the outbox of a
 * stand-in for that client (remote.h), under the same bound and with the
 * same parking rules as a local outbox. The link's thread takes whole
 * frames from the stand-ins into a batch, numbers it (1, 2, ... per link
 * session) and publishes it to the node's data subject; it keeps a copy
 * until the node acknowledges it, and sends the copies again when no
 * acknowledgement comes or one says a batch is missing. What it takes is
 * limited by credit: per destination (the node's --outbox) and for the
 * whole link (the node's waiting room, --park), so that the node never
 * holds more of ours than it has room for.
 *
 * In. The node's batches are accepted in order only (a reconnect can lose
 * or reorder messages in NATS), and their frames delivered by the engine
 * with a sender of their own: frames that find a full outbox wait in that
 * sender's waiting room, and the credit they hold comes back to the node
 * only when they move on. Acknowledgements and credit go back on the
 * node's control subject, after each batch and once a second in full.
 *
 * A link is up while the node is heard (a heartbeat a second) and
 * acknowledges what it is sent within --link-timeout; then what waits for
 * the node is dropped, counted and logged, and its senders released.
 */
#ifndef PB_LINK_H
#define PB_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "blob.h"
#include "nats.h"
#include "registry.h"

/* What every link of a node shares. */
struct pb_link_env {
	struct pb_registry *le_reg;
	struct pb_nats *le_nats;
	uint16_t le_node;  /* this node's number */
	uint64_t le_epoch; /* this process's, random */
	unsigned long le_link_ms;
	size_t le_batch_max;			/* bytes in a batch, at most */
	char le_prefix[PB_OPTIONS_ADDRLEN + 8]; /* "pb.CLUSTER" */
};

struct pb_link;

/* The link to node, with its thread started; NULL with errno. */
struct pb_link *pb_link_new(const struct pb_link_env *env, uint16_t node);

/* A message from the node, checked (pb_env_get_header, pb_env_check),
 * handed to the link's thread (any thread). Dropped and counted when the
 * link has too much waiting already. */
void pb_link_post(struct pb_link *lk, const unsigned char *data, size_t len);

/* The stand-in for id, referenced (remote.h: ro_find), or NULL. */
struct pb_client *pb_link_find(struct pb_link *lk, uint32_t id);
/* remote.h: ro_write and ro_wake. */
ssize_t pb_link_write(struct pb_client *c, const struct iovec *iov, size_t n);
void pb_link_wake(struct pb_client *c);

/* Whether the node is heard. */
bool pb_link_up(struct pb_link *lk);

struct pb_link_stats {
	bool ls_up;
	uint64_t ls_frames_sent, ls_bytes_sent;		/* acknowledged */
	uint64_t ls_frames_received, ls_bytes_received; /* accepted */
	uint64_t ls_retransmits;			/* batches */
	uint64_t ls_unacked;	 /* bytes sent, not yet acknowledged */
	uint64_t ls_outstanding; /* credit in use: bytes not moved on */
	uint64_t ls_rtt_us;	 /* last round trip of a batch */
	uint64_t ls_downs;	 /* times it went down */
};
void pb_link_stats(struct pb_link *lk, struct pb_link_stats *st);

/* A hand-over (handover.h): the link's state as a LINK section, written
 * while its thread waits at its safe point. */
void pb_link_handover_write(struct pb_link *lk, struct pb_blob *b);

/* Whether LINK section sec reads whole; *node is its node. */
bool pb_link_handover_check(struct pb_blob_reader sec, uint16_t *node);

/* The link of LINK section sec, rebuilt (up, as it was) and its thread
 * started; NULL with errno. */
struct pb_link *pb_link_restore(const struct pb_link_env *env,
				struct pb_blob_reader sec);

/* Once the clients are rebuilt too: the frames of the node that wait in
 * the link's waiting room are counted by their destinations again. */
void pb_link_rewait(struct pb_link *lk);

/* Ends the link's thread; what still waits is dropped; frees it. */
void pb_link_free(struct pb_link *lk);

#endif
