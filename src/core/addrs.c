/* SPDX-License-Identifier: ISC */
/*
 * addrs.c: clients per source address (see addrs.h): linear probing with
 * backward-shift deletion; grows at 3/4 full, shrinks at 1/8.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "addrs.h"

#define ADDRS_MIN 16

void pb_addrs_init(struct pb_addrs *a)
{
	memset(a, 0, sizeof(*a));
}

void pb_addrs_free(struct pb_addrs *a)
{
	free(a->ad_slots);
	memset(a, 0, sizeof(*a));
}

void pb_addrs_key_v4(uint8_t key[PB_ADDRS_KEY], const uint8_t addr[4])
{
	memset(key, 0, PB_ADDRS_KEY);
	key[10] = key[11] = 0xff;
	memcpy(key + 12, addr, 4);
}

void pb_addrs_key_v6(uint8_t key[PB_ADDRS_KEY], const uint8_t addr[16])
{
	memset(key, 0, PB_ADDRS_KEY);
	memcpy(key, addr, 8); /* the /64 */
}

static size_t addrs_home(const struct pb_addrs *a, const uint8_t *key)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	size_t i;

	for (i = 0; i < PB_ADDRS_KEY; i++)
		h = (h ^ key[i]) * 1099511628211u;
	return (size_t)h & (a->ad_cap - 1);
}

/* The slot holding key, or the free slot where it would go. */
static struct pb_addrs_slot *addrs_probe(const struct pb_addrs *a,
					 const uint8_t *key)
{
	size_t i = addrs_home(a, key);

	while (a->ad_slots[i].as_count != 0 &&
	       memcmp(a->ad_slots[i].as_key, key, PB_ADDRS_KEY) != 0)
		i = (i + 1) & (a->ad_cap - 1);
	return &a->ad_slots[i];
}

static int addrs_resize(struct pb_addrs *a, size_t cap)
{
	struct pb_addrs_slot *old = a->ad_slots;
	size_t oldcap = a->ad_cap, i;

	a->ad_slots = calloc(cap, sizeof(*a->ad_slots));
	if (a->ad_slots == NULL) {
		a->ad_slots = old;
		return -1;
	}
	a->ad_cap = cap;
	for (i = 0; i < oldcap; i++)
		if (old[i].as_count != 0)
			*addrs_probe(a, old[i].as_key) = old[i];
	free(old);
	return 0;
}

unsigned long pb_addrs_count(const struct pb_addrs *a,
			     const uint8_t key[PB_ADDRS_KEY])
{
	return a->ad_cap == 0 ? 0 : addrs_probe(a, key)->as_count;
}

int pb_addrs_add(struct pb_addrs *a, const uint8_t key[PB_ADDRS_KEY],
		 unsigned long max)
{
	struct pb_addrs_slot *s;

	if ((a->ad_used + 1) * 4 > a->ad_cap * 3 &&
	    addrs_resize(a, a->ad_cap == 0 ? ADDRS_MIN : a->ad_cap * 2) < 0)
		return -1;
	s = addrs_probe(a, key);
	if (s->as_count >= max)
		return 1;
	if (s->as_count == 0) {
		memcpy(s->as_key, key, PB_ADDRS_KEY);
		a->ad_used++;
	}
	s->as_count++;
	return 0;
}

/* Empties slot i, shifting back the entries that probed past it. */
static void addrs_delete(struct pb_addrs *a, size_t i)
{
	size_t j = i, mask = a->ad_cap - 1;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (a->ad_slots[j].as_count == 0)
			break;
		home = addrs_home(a, a->ad_slots[j].as_key);
		/* j may move to i only if its home is not in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			a->ad_slots[i] = a->ad_slots[j];
			i = j;
		}
	}
	a->ad_slots[i].as_count = 0;
	a->ad_used--;
}

void pb_addrs_remove(struct pb_addrs *a, const uint8_t key[PB_ADDRS_KEY])
{
	struct pb_addrs_slot *s;

	if (a->ad_cap == 0)
		return;
	s = addrs_probe(a, key);
	if (s->as_count == 0 || --s->as_count > 0)
		return;
	addrs_delete(a, (size_t)(s - a->ad_slots));
	if (a->ad_cap > ADDRS_MIN && a->ad_used * 8 < a->ad_cap)
		(void)addrs_resize(a, a->ad_cap / 2);
}
