/* SPDX-License-Identifier: ISC */
/*
 * idmap.c: ids to pointers (see idmap.h).
 */
#include "config.h"

#include <stdlib.h>

#include "idmap.h"

void pb_idmap_init(struct pb_idmap *m)
{
	m->im_slots = NULL;
	m->im_cap = 0;
	m->im_n = 0;
}

void pb_idmap_free(struct pb_idmap *m)
{
	free(m->im_slots);
	pb_idmap_init(m);
}

static size_t idmap_home(const struct pb_idmap *m, uint32_t id)
{
	return (size_t)((id * 2654435761u) & (m->im_cap - 1));
}

static struct pb_idmap_slot *idmap_find(const struct pb_idmap *m, uint32_t id)
{
	size_t i;

	if (m->im_cap == 0)
		return NULL;
	for (i = idmap_home(m, id);; i = (i + 1) & (m->im_cap - 1)) {
		struct pb_idmap_slot *s = &m->im_slots[i];

		if (s->is_val == NULL)
			return NULL;
		if (s->is_id == id)
			return s;
	}
}

void *pb_idmap_get(const struct pb_idmap *m, uint32_t id)
{
	const struct pb_idmap_slot *s = idmap_find(m, id);

	return s != NULL ? s->is_val : NULL;
}

static void idmap_place(struct pb_idmap *m, uint32_t id, void *val)
{
	size_t i = idmap_home(m, id);

	while (m->im_slots[i].is_val != NULL)
		i = (i + 1) & (m->im_cap - 1);
	m->im_slots[i].is_id = id;
	m->im_slots[i].is_val = val;
}

static int idmap_grow(struct pb_idmap *m)
{
	struct pb_idmap old = *m;
	size_t cap = old.im_cap != 0 ? old.im_cap * 2 : 16, i;

	m->im_slots = calloc(cap, sizeof(*m->im_slots));
	if (m->im_slots == NULL) {
		*m = old;
		return -1;
	}
	m->im_cap = cap;
	for (i = 0; i < old.im_cap; i++)
		if (old.im_slots[i].is_val != NULL)
			idmap_place(m, old.im_slots[i].is_id,
				    old.im_slots[i].is_val);
	free(old.im_slots);
	return 0;
}

int pb_idmap_put(struct pb_idmap *m, uint32_t id, void *val)
{
	if ((m->im_n + 1) * 2 > m->im_cap && idmap_grow(m) < 0)
		return -1;
	idmap_place(m, id, val);
	m->im_n++;
	return 0;
}

void *pb_idmap_del(struct pb_idmap *m, uint32_t id)
{
	struct pb_idmap_slot *s = idmap_find(m, id);
	size_t i, j;
	void *val;

	if (s == NULL)
		return NULL;
	val = s->is_val;
	i = (size_t)(s - m->im_slots);
	m->im_slots[i].is_val = NULL;
	m->im_n--;
	/* Moves the entries after it that probed past it back into reach. */
	for (j = (i + 1) & (m->im_cap - 1); m->im_slots[j].is_val != NULL;
	     j = (j + 1) & (m->im_cap - 1)) {
		struct pb_idmap_slot e = m->im_slots[j];

		m->im_slots[j].is_val = NULL;
		idmap_place(m, e.is_id, e.is_val);
	}
	return val;
}

void pb_idmap_each(const struct pb_idmap *m,
		   void (*fn)(void *arg, uint32_t id, void *val), void *arg)
{
	size_t i;

	for (i = 0; i < m->im_cap; i++)
		if (m->im_slots[i].is_val != NULL)
			fn(arg, m->im_slots[i].is_id, m->im_slots[i].is_val);
}
