/* SPDX-License-Identifier: ISC */
/*
 * registry.h: what all client threads share.
 *
 * The id table behind its own mutex (held only for a lookup, an insert or
 * a removal, never across a call that can block), references taken on
 * lookup so a destination cannot be freed under its sender, the count of
 * client threads for shutdown, the delivery engine with the daemon's
 * operations (deliver.h), and the limits from the command line.
 */
#ifndef PB_REGISTRY_H
#define PB_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addrs.h"
#include "budget.h"
#include "client.h"
#include "engine.h"
#include "options.h"
#include "remote.h"
#include "spare.h"
#include "table.h"
#include "tls.h"

struct pb_registry {
	const struct pb_options *rg_opts; /* as started; see the live limits */
	struct pb_budget rg_budget;	  /* --max-memory, and its shares: */
	struct pb_budget rg_park_share;	  /* waiting rooms: a half */
	struct pb_budget rg_input_share;  /* read buffers: a quarter */

	/* The delivery engine, with the daemon's operations (deliver.h);
	 * it holds the live slow-timeout and frame-timeout. */
	struct pb_engine rg_engine;

	/* The limits a reload may change, read without a lock. outbox and
	 * park apply to clients that connect after the change. */
	atomic_ulong rg_max_clients;
	atomic_ulong rg_max_per_address; /* 0: no limit */
	atomic_ulong rg_max_handshakes;
	atomic_size_t rg_outbox;
	atomic_size_t rg_park;

	/* Gauges: bytes queued in all outboxes and in all waiting rooms. */
	atomic_size_t rg_outbox_bytes;
	atomic_size_t rg_park_bytes;

	/* Wall clock, seconds since the epoch: when the daemon started, and
	 * when a configuration was last loaded whole (at start, or by a
	 * reload); whether the last reload succeeded. */
	long long rg_start_s;
	atomic_llong rg_loaded_s;
	atomic_bool rg_reload_ok;

	/* The ids' high-water mark saved in --state-dir: ids below it may be
	 * handed out (ids.h). Under rg_ids_lock. */
	uint64_t rg_ids_upto;

	pthread_mutex_t rg_lock; /* guards the fields below */
	pthread_cond_t rg_idle;	 /* signalled when rg_threads drops to 0 */
	struct pb_table rg_table;
	unsigned long rg_threads; /* client threads running */

	struct pb_spares rg_spares; /* client threads waiting for a client */

	/* A hand-over's safe point (handover.h). The clients whose thread
	 * serves them (from its start to its end, lingering included), how
	 * many of those threads wait at the safe point, and the conditions
	 * they and the freezer wait on. */
	struct pb_client *rg_serving;
	unsigned long rg_nserving;
	unsigned long rg_nstarting; /* handed to a thread not serving yet */
	unsigned long rg_nfrozen;
	atomic_bool rg_freezing;
	pthread_cond_t rg_frozen_cond; /* the freezer: one more waits */
	pthread_cond_t rg_thaw_cond;   /* the threads: thawed */

	atomic_ulong rg_clients;      /* clients connected, for --max-clients */
	atomic_ulong rg_handshakes;   /* admitted, waiting for their id */
	pthread_mutex_t rg_addr_lock; /* guards rg_addrs */
	struct pb_addrs rg_addrs;     /* clients per source address */
	atomic_ulong rg_lingering;    /* threads of clients that left, still
					 delivering: at most --max-clients */
	atomic_ullong rg_deadline_ms; /* when shutting down: give up then */

	/* Clients of other nodes (remote.h), set before any client comes
	 * when the daemon is in a cluster; NULL otherwise. */
	const struct pb_remote_ops *rg_remote;
	/* Ids are handed out by the acceptor, and by the threads of TLS
	 * clients once their handshake is over: one at a time. */
	pthread_mutex_t rg_ids_lock;

	/* TLS: the context in force (NULL without tls: listeners), swapped
	 * whole by a reload under rg_tls_lock; each connection holds a
	 * reference to the one it was made with. */
	pthread_mutex_t rg_tls_lock;
	struct pb_tls_ctx *rg_tls;
	/* Bumped after each new context is put in force: a TLS client's
	 * thread that sees it change checks its client against the new
	 * one (pb_tls_recheck), and ends it if no longer allowed. */
	atomic_uint rg_tls_gen;
	atomic_llong rg_tls_expiry_s;
	atomic_ulong rg_tls_handshake_ms; /* --tls-handshake-timeout */
};

/* Whether id is one this node gives (its node part is ours). */
static inline bool pb_registry_local(const struct pb_registry *reg, uint32_t id)
{
	unsigned bits = (unsigned)reg->rg_opts->op_node_bits;

	return bits == 0 || id >> (32 - bits) == reg->rg_opts->op_node;
}

/* ops: how the engine reaches clients (pb_deliver_ops). */
void pb_registry_init(struct pb_registry *reg, const struct pb_options *op,
		      const struct pb_engine_ops *ops);
void pb_registry_destroy(struct pb_registry *reg);

/* Applies the limits a reload may change (max-clients, slow-timeout,
 * frame-timeout, spare-threads, max-memory, outbox, park) from op. */
void pb_registry_set_limits(struct pb_registry *reg,
			    const struct pb_options *op);

/* What the registry's gauges say now, read without its lock. */
struct pb_registry_gauges {
	size_t rgg_queued_outbox; /* bytes in all outboxes */
	size_t rgg_queued_park;	  /* bytes in all waiting rooms */
	size_t rgg_memory_budget; /* --max-memory */
	size_t rgg_memory_used;
	long long rgg_start_s;	    /* wall clock: when it started */
	long long rgg_loaded_s;	    /* when a configuration last loaded */
	bool rgg_reload_ok;	    /* whether the last reload succeeded */
	long long rgg_tls_expiry_s; /* the TLS certificate's, 0 for none */
};

void pb_registry_gauges(struct pb_registry *reg, struct pb_registry_gauges *g);

/* Puts ctx (a reference the registry takes over; NULL: none) in force
 * for the TLS connections to come; the one before is let go. Then the
 * generation is bumped and every TLS client's thread woken, to check its
 * client against ctx (a reload that shrank --tls-allow, or brought new
 * CAs or CRLs): the registry never closes a client itself. */
void pb_registry_set_tls(struct pb_registry *reg, struct pb_tls_ctx *ctx);

/* The TLS context in force, referenced, or NULL. */
struct pb_tls_ctx *pb_registry_tls(struct pb_registry *reg);

/* The generation of the TLS context in force (read before taking the
 * context, it is never newer than the context). */
static inline unsigned pb_registry_tls_gen(struct pb_registry *reg)
{
	return atomic_load(&reg->rg_tls_gen);
}

static inline unsigned long
pb_registry_tls_handshake_ms(struct pb_registry *reg)
{
	return atomic_load_explicit(&reg->rg_tls_handshake_ms,
				    memory_order_relaxed);
}

/* Records how a reload went. */
void pb_registry_reloaded(struct pb_registry *reg, bool ok);

/* What a client connecting now is made with. */
void pb_registry_client_env(struct pb_registry *reg, struct pb_conn_env *env);

/* Takes and releases the registry's lock: for the watchdog, which must
 * not be fed by a daemon whose threads are stuck on it (this then blocks,
 * and the watchdog goes hungry). */
void pb_registry_touch(struct pb_registry *reg);

/* Ids from now on: this node's part of the space (--node-bits, --node),
 * going on from 'handed' ids handed out before, of which those below
 * 'upto' are covered by the mark saved in --state-dir (ids.h). */
void pb_registry_set_ids(struct pb_registry *reg, uint64_t handed,
			 uint64_t upto);

/* The next id, into *id (the acceptor's, or a TLS client's thread): 0, or
 * -1 with err saying why when a new mark had to be saved in --state-dir
 * and could not be. */
int pb_registry_next_id(struct pb_registry *reg, uint32_t *id, char *err,
			size_t errlen);
int pb_registry_add(struct pb_registry *reg, struct pb_client *c);
void pb_registry_remove(struct pb_registry *reg, struct pb_client *c);

/* The client with this id, referenced, or NULL. */
struct pb_client *pb_registry_get(struct pb_registry *reg, uint32_t id);

/* Whether id, one of this node's, was ever given to a client (so that,
 * nobody holding it now, it is gone for good). */
bool pb_registry_given(struct pb_registry *reg, uint32_t id);

static inline unsigned long pb_registry_clients(struct pb_registry *reg)
{
	return atomic_load(&reg->rg_clients);
}

/* Admits client c, fd its socket, counting it against --max-handshakes,
 * --max-clients and --max-clients-per-address: PB_STAT_COUNT, or the
 * refusal's counter (nothing counted then). */
enum pb_stat pb_registry_admit(struct pb_registry *reg, struct pb_client *c,
			       int fd);

/* Counts client c, carried over by a restart, as admitted (and, for one
 * that has no id yet, as a handshake), whatever the limits say now: it
 * was let in before. */
void pb_registry_readmit(struct pb_registry *reg, struct pb_client *c,
			 bool handshake);

/* c got its id (or failed to): no longer a handshake. */
void pb_registry_handshake_done(struct pb_registry *reg);

/* Admitted client c is gone. */
void pb_registry_client_gone(struct pb_registry *reg, struct pb_client *c);

static inline unsigned long pb_registry_max_clients(struct pb_registry *reg)
{
	return atomic_load_explicit(&reg->rg_max_clients, memory_order_relaxed);
}

static inline unsigned long pb_registry_slow_ms(struct pb_registry *reg)
{
	return pb_engine_slow_ms(&reg->rg_engine);
}

static inline unsigned long pb_registry_frame_ms(struct pb_registry *reg)
{
	return pb_engine_frame_ms(&reg->rg_engine);
}

/* Takes one of the --max-clients places for the thread of a client that
 * left with frames still waiting; false when they are all taken. */
bool pb_registry_linger(struct pb_registry *reg);
void pb_registry_linger_end(struct pb_registry *reg);

static inline bool pb_registry_stopping(struct pb_registry *reg)
{
	return pb_engine_stopping(&reg->rg_engine);
}

/* When shutting down: when to give up flushing. */
static inline uint64_t pb_registry_deadline_ms(struct pb_registry *reg)
{
	return atomic_load(&reg->rg_deadline_ms);
}

/* Client thread accounting, for a shutdown that waits for them. */
void pb_registry_thread_start(struct pb_registry *reg);
void pb_registry_thread_exit(struct pb_registry *reg);

/* A client is handed to a thread (a new one, or a spare), which will
 * start serving it; or the thread could not start. */
void pb_registry_starting(struct pb_registry *reg, bool add);

/* A client's thread starts and ends serving it (see rg_serving). */
void pb_registry_serve_begin(struct pb_registry *reg, struct pb_client *c);
void pb_registry_serve_end(struct pb_registry *reg, struct pb_client *c);

static inline bool pb_registry_freezing(struct pb_registry *reg)
{
	return atomic_load_explicit(&reg->rg_freezing, memory_order_acquire);
}

/* A client's thread at its safe point while the daemon freezes: waits
 * until it thaws (or the process is replaced). */
void pb_registry_frozen(struct pb_registry *reg);

/* Freezes: every serving thread is woken and must come to its safe
 * point; true once all wait there, false (thawed again) if they did not
 * by deadline_ms. */
bool pb_registry_freeze(struct pb_registry *reg, uint64_t deadline_ms);
void pb_registry_thaw(struct pb_registry *reg);

/* Frozen from the start, without waiting for anyone: a new process that
 * takes a hand-over over holds every thread it starts at its safe point
 * until all is rebuilt, then thaws. */
void pb_registry_hold(struct pb_registry *reg);

/* Calls fn on each serving client, while frozen. */
void pb_registry_foreach_serving(struct pb_registry *reg,
				 void (*fn)(struct pb_client *c, void *arg),
				 void *arg);

/* Starts shutting down: every client thread is woken, stops reading, and
 * flushes until deadline_ms. */
void pb_registry_stop(struct pb_registry *reg, uint64_t deadline_ms);

/* Waits until no client thread runs or the deadline passes; true if none
 * runs. */
bool pb_registry_wait_idle(struct pb_registry *reg, uint64_t deadline_ms);

#endif
