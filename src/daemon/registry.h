/*
 * registry.h: what all client threads share.
 *
 * The id table behind its own mutex (held only for a lookup, an insert or
 * a removal, never across a call that can block), references taken on
 * lookup so a destination cannot be freed under its sender, the count of
 * client threads for shutdown, and the limits from the command line.
 */
#ifndef PB_REGISTRY_H
#define PB_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "budget.h"
#include "options.h"
#include "table.h"

struct pb_client;

struct pb_registry {
	const struct pb_options *rg_opts;
	struct pb_budget rg_budget;

	pthread_mutex_t rg_lock; /* guards the fields below */
	pthread_cond_t rg_idle;	 /* signalled when rg_threads drops to 0 */
	struct pb_table rg_table;
	unsigned long rg_threads; /* client threads running */

	atomic_ulong rg_clients;      /* clients connected, for --max-clients */
	atomic_bool rg_stopping;      /* shutting down */
	atomic_ullong rg_deadline_ms; /* when shutting down: give up then */
};

void pb_registry_init(struct pb_registry *reg, const struct pb_options *op);
void pb_registry_destroy(struct pb_registry *reg);

uint32_t pb_registry_next_id(struct pb_registry *reg);
int pb_registry_add(struct pb_registry *reg, struct pb_client *c);
void pb_registry_remove(struct pb_registry *reg, struct pb_client *c);

/* The client with this id, referenced, or NULL. */
struct pb_client *pb_registry_get(struct pb_registry *reg, uint32_t id);

static inline unsigned long pb_registry_clients(struct pb_registry *reg)
{
	return atomic_load(&reg->rg_clients);
}

static inline bool pb_registry_stopping(struct pb_registry *reg)
{
	return atomic_load_explicit(&reg->rg_stopping, memory_order_relaxed);
}

/* Client thread accounting, for a shutdown that waits for them. */
void pb_registry_thread_start(struct pb_registry *reg);
void pb_registry_thread_exit(struct pb_registry *reg);

/* Starts shutting down: every client thread is woken, stops reading, and
 * flushes until deadline_ms. */
void pb_registry_stop(struct pb_registry *reg, uint64_t deadline_ms);

/* Waits until no client thread runs or the deadline passes; true if none
 * runs. */
bool pb_registry_wait_idle(struct pb_registry *reg, uint64_t deadline_ms);

#endif
