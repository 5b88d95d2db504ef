/* SPDX-License-Identifier: ISC */
/*
 * client.h: one connected client of patchbayd, as every thread sees it.
 *
 * What the delivery engine decides on (outbox, waiters, waiting room, read
 * buffer, the client's life) is the core's struct pb_conn (conn.h),
 * embedded here; around it the daemon keeps what its threads need: the
 * socket, the lock that guards the outbox, the wake-up of the client's own
 * thread (session.h), a reference count that keeps the structure alive
 * while anyone holds a pointer to it, and the thread's cache of recent
 * destinations. Other threads touch a client only through its lock. The
 * registry (registry.h) makes clients findable by id.
 */
#ifndef PB_CLIENT_H
#define PB_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "tls.h"
#include "waiters.h"
#include "wake.h"

/* The longest identity logged for a TLS client ("cn:alice"). */
#define PB_CLIENT_IDENTLEN 256

/* Recent destinations kept per sender. */
#define PB_DEST_CACHE 8

struct pb_registry;

struct pb_client {
	struct pb_conn cl_conn; /* its id, address, queues and state */

	/* Set before the client is published, read-only afterwards (but
	 * cl_fd, which its thread closes and clears once it has left). */
	int cl_fd;
	struct pb_wake cl_wake;
	struct pb_registry *cl_reg;
	atomic_int cl_refs;
	/* Handed to a spare thread (spare.h). */
	struct pb_client *cl_next_spare;
	/* In the registry's list of clients whose thread serves them, for
	 * a hand-over (under the registry's lock). */
	struct pb_client *cl_serve_prev;
	struct pb_client *cl_serve_next;
	/* Carried over by a restart (handover.h): published already, its
	 * thread goes straight to serving it. */
	bool cl_restored;
	/* The sender of another node's frames (src/link): its link's
	 * thread serves it, and carries it over in a hand-over. */
	bool cl_ingress;
	/* Its source address, counted for --max-clients-per-address while
	 * it is admitted (a Unix client has none). */
	uint8_t cl_addr_key[16];
	bool cl_addr_counted;
	/* A stand-in for a client of another node (remote.h): its link;
	 * NULL for a client with a socket. */
	void *cl_remote;
	/* A stand-in's credit on its node, its link thread's alone: bytes
	 * taken into batches, and of those, bytes the node has moved on
	 * (cumulative); whether it waits in the link's list to be flushed
	 * (under the link's lock), and the link's round that last listed
	 * it as blocked. */
	uint64_t cl_sent;
	uint64_t cl_consumed;
	bool cl_queued;
	uint64_t cl_blocked_round;
	/* A tls: listener's client: its TLS state (tls.h, which has its own
	 * lock), and its certificate's identity once the handshake is
	 * over; NULL for a plain or Unix client. */
	struct pb_tls *cl_tls;
	char cl_ident[PB_CLIENT_IDENTLEN];
	/* The registry's TLS generation (registry.h) its context was taken
	 * at, or it was last checked against; its thread's alone. */
	unsigned cl_tls_gen;

	/* Guards cl_conn's outbox and waiters; cl_fd is written to only
	 * under it. */
	pthread_mutex_t cl_lock;

	/* Owned by the client's thread alone: recent destinations,
	 * referenced. */
	struct pb_client *cl_dests[PB_DEST_CACHE];
};

/* The client whose engine state c is. */
static inline struct pb_client *pb_client_of(struct pb_conn *c)
{
	return (struct pb_client *)(void *)((char *)c -
					    offsetof(struct pb_client,
						     cl_conn));
}

/* A new client for an accepted socket, with one reference (the thread's).
 * reg is only kept, for the client's thread. */
struct pb_client *pb_client_new(struct pb_registry *reg,
				const struct pb_conn_env *env, uint32_t id,
				int fd, const char *addr);
void pb_client_ref(struct pb_client *c);
void pb_client_unref(struct pb_client *c);

/* Wakes the senders in w (taken from an outbox's waiters, each holding a
 * reference) and frees w. */
void pb_client_wake_waiters(struct pb_waiters *w);

#endif
