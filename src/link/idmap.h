/* SPDX-License-Identifier: ISC */
/*
 * idmap.h: a map from ids to pointers, for the links: the stand-ins of a
 * remote node's clients, and the credit kept for each local destination
 * of a remote node. Open addressing with linear probing, grown at half
 * full, shrunk by nothing (a link's map is as big as its busiest moment).
 * Not locked: its owner guards it.
 */
#ifndef PB_IDMAP_H
#define PB_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct pb_idmap_slot {
	uint32_t is_id;
	void *is_val; /* NULL: free */
};

struct pb_idmap {
	struct pb_idmap_slot *im_slots;
	size_t im_cap; /* a power of two, or 0 */
	size_t im_n;
};

void pb_idmap_init(struct pb_idmap *m);
void pb_idmap_free(struct pb_idmap *m);
void *pb_idmap_get(const struct pb_idmap *m, uint32_t id);
/* Adds id (not there yet) with val (not NULL): 0, or -1 out of memory. */
int pb_idmap_put(struct pb_idmap *m, uint32_t id, void *val);
/* Removes id; returns what it held, or NULL. */
void *pb_idmap_del(struct pb_idmap *m, uint32_t id);

/* Calls fn on every entry; fn may not change the map. */
void pb_idmap_each(const struct pb_idmap *m,
		   void (*fn)(void *arg, uint32_t id, void *val), void *arg);

#endif
