/* SPDX-License-Identifier: ISC */
/*
 * table.c: the client id table (see table.h): open addressing with linear
 * probing and backward-shift deletion, so no tombstones pile up under
 * churn. It grows at 3/4 full and shrinks at 1/8 full.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define PB_TABLE_MIN 16

void pb_table_init(struct pb_table *t)
{
	memset(t, 0, sizeof(*t));
	t->t_mask = UINT32_MAX;
}

void pb_table_free(struct pb_table *t)
{
	free(t->t_slots);
	t->t_slots = NULL;
	t->t_cap = t->t_count = 0;
}

void pb_table_set_space(struct pb_table *t, unsigned bits, uint32_t node,
			uint64_t handed)
{
	t->t_base = bits == 0 ? 0 : node << (32 - bits);
	t->t_mask = UINT32_MAX >> bits;
	t->t_handed = handed;
}

static size_t table_home(const struct pb_table *t, uint32_t id)
{
	/* Fibonacci hashing spreads consecutive ids over the slots. */
	return (size_t)((id * 2654435769u) & (uint32_t)(t->t_cap - 1));
}

/* The slot holding id, or the free slot where it would go. */
static struct pb_table_slot *table_probe(const struct pb_table *t, uint32_t id)
{
	size_t i = table_home(t, id);

	while (t->t_slots[i].ts_value != NULL && t->t_slots[i].ts_id != id)
		i = (i + 1) & (t->t_cap - 1);
	return &t->t_slots[i];
}

static int table_resize(struct pb_table *t, size_t cap)
{
	struct pb_table_slot *old = t->t_slots;
	size_t oldcap = t->t_cap, i;

	t->t_slots = calloc(cap, sizeof(*t->t_slots));
	if (t->t_slots == NULL) {
		t->t_slots = old;
		return -1;
	}
	t->t_cap = cap;
	for (i = 0; i < oldcap; i++)
		if (old[i].ts_value != NULL)
			*table_probe(t, old[i].ts_id) = old[i];
	free(old);
	return 0;
}

void *pb_table_get(const struct pb_table *t, uint32_t id)
{
	if (t->t_cap == 0)
		return NULL;
	return table_probe(t, id)->ts_value;
}

uint32_t pb_table_next_id(struct pb_table *t)
{
	uint32_t id;

	/* After the space wraps, skip ids that are still alive. */
	do
		id = t->t_base | ((uint32_t)t->t_handed++ & t->t_mask);
	while (pb_table_get(t, id) != NULL);
	return id;
}

int pb_table_insert(struct pb_table *t, uint32_t id, void *value)
{
	struct pb_table_slot *s;

	if ((t->t_count + 1) * 4 > t->t_cap * 3) {
		size_t cap = t->t_cap ? t->t_cap * 2 : PB_TABLE_MIN;

		if (table_resize(t, cap) < 0)
			return -1;
	}
	s = table_probe(t, id);
	if (s->ts_value != NULL) {
		errno = EEXIST;
		return -1;
	}
	s->ts_id = id;
	s->ts_value = value;
	t->t_count++;
	return 0;
}

/* Empties slot i and pulls later entries of its probe run back into the
 * gap, so that every entry stays reachable from its home slot. */
static void table_delete_slot(struct pb_table *t, size_t i)
{
	size_t mask = t->t_cap - 1, j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (t->t_slots[j].ts_value == NULL)
			break;
		home = table_home(t, t->t_slots[j].ts_id);
		/* Move j into the gap unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->t_slots[i] = t->t_slots[j];
			i = j;
		}
	}
	t->t_slots[i].ts_value = NULL;
}

void *pb_table_remove(struct pb_table *t, uint32_t id)
{
	struct pb_table_slot *s;
	void *value;

	if (t->t_cap == 0)
		return NULL;
	s = table_probe(t, id);
	value = s->ts_value;
	if (value == NULL)
		return NULL;
	table_delete_slot(t, (size_t)(s - t->t_slots));
	t->t_count--;
	if (t->t_cap > PB_TABLE_MIN && t->t_count * 8 < t->t_cap)
		(void)table_resize(t, t->t_cap / 2); /* keeping it is fine */
	return value;
}

void pb_table_foreach(const struct pb_table *t, void (*fn)(void *, void *),
		      void *arg)
{
	size_t i;

	for (i = 0; i < t->t_cap; i++)
		if (t->t_slots[i].ts_value != NULL)
			fn(t->t_slots[i].ts_value, arg);
}
