/* SPDX-License-Identifier: ISC */
/*
 * table.h: the client id table.
 *
 * Maps a 32-bit client id to the caller's pointer in O(1), in memory
 * proportional to the ids alive now (an open-addressing hash that grows and
 * shrinks with them, so connection churn does not grow it). Ids are handed
 * out 0, 1, 2, ... and never reused until the 32-bit space wraps, after
 * which ids still alive are skipped. A node of a cluster has a part of the
 * space: the top bits of each of its ids are its number (--node-bits,
 * --node), and its count can go on from an earlier run's (--state-dir).
 * The table does no locking; the daemon wraps it in a mutex, the reactor
 * needs none.
 */
#ifndef PB_TABLE_H
#define PB_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct pb_table_slot {
	uint32_t ts_id;
	void *ts_value; /* NULL marks a free slot */
};

struct pb_table {
	struct pb_table_slot *t_slots;
	size_t t_cap;	   /* slots, a power of two, or 0 */
	size_t t_count;	   /* ids alive */
	uint64_t t_handed; /* ids handed out, ever: the next one's local part */
	uint32_t t_base;   /* the node's part of every id */
	uint32_t t_mask;   /* the bits of an id's local part */
};

void pb_table_init(struct pb_table *t);
void pb_table_free(struct pb_table *t);

/* Hands out ids node << (32 - bits) | local (bits 0 to 16, node below
 * 2^bits), the local parts going on from 'handed' ids handed out before. */
void pb_table_set_space(struct pb_table *t, unsigned bits, uint32_t node,
			uint64_t handed);

/* How many ids were handed out, ever (including before, as set). */
static inline uint64_t pb_table_handed(const struct pb_table *t)
{
	return t->t_handed;
}

/* Hands out the next id (not alive now), without inserting anything. */
uint32_t pb_table_next_id(struct pb_table *t);

/* Inserts value (not NULL) under an id from pb_table_next_id. 0, or -1
 * with errno ENOMEM or EEXIST. */
int pb_table_insert(struct pb_table *t, uint32_t id, void *value);

/* The value for id, or NULL. */
void *pb_table_get(const struct pb_table *t, uint32_t id);

/* Removes id; returns its value, or NULL if it was not there. */
void *pb_table_remove(struct pb_table *t, uint32_t id);

static inline size_t pb_table_count(const struct pb_table *t)
{
	return t->t_count;
}

/* Slots allocated: what memory the table holds, for tests and stats. */
static inline size_t pb_table_capacity(const struct pb_table *t)
{
	return t->t_cap;
}

/* Calls fn(value, arg) for every id alive, in no order. fn must not
 * change the table. */
void pb_table_foreach(const struct pb_table *t, void (*fn)(void *, void *),
		      void *arg);

#endif
