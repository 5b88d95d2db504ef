/* SPDX-License-Identifier: ISC */
/*
 * addrs.h: how many clients each source address holds, for
 * --max-clients-per-address.
 *
 * An address is 16 bytes: an IPv4 address mapped into IPv6
 * (::ffff:a.b.c.d), or an IPv6 address cut to its /64, since one host
 * commonly has a whole /64 to pick from. Open addressing, like table.h;
 * memory follows the addresses connected now. No locking: the daemon
 * holds a mutex around it.
 */
#ifndef PB_ADDRS_H
#define PB_ADDRS_H

#include <stddef.h>
#include <stdint.h>

#define PB_ADDRS_KEY 16

struct pb_addrs_slot {
	uint8_t as_key[PB_ADDRS_KEY];
	unsigned long as_count; /* 0 marks a free slot */
};

struct pb_addrs {
	struct pb_addrs_slot *ad_slots;
	size_t ad_cap; /* a power of two, or 0 */
	size_t ad_used;
};

void pb_addrs_init(struct pb_addrs *a);
void pb_addrs_free(struct pb_addrs *a);

/* The key of an IPv4 address (4 bytes) or an IPv6 one (16, cut to its
 * /64). */
void pb_addrs_key_v4(uint8_t key[PB_ADDRS_KEY], const uint8_t addr[4]);
void pb_addrs_key_v6(uint8_t key[PB_ADDRS_KEY], const uint8_t addr[16]);

/* Counts one more client for key unless it already holds max: 0, 1 when
 * it holds max (nothing counted), or -1 with no memory. */
int pb_addrs_add(struct pb_addrs *a, const uint8_t key[PB_ADDRS_KEY],
		 unsigned long max);

/* One client of key is gone. */
void pb_addrs_remove(struct pb_addrs *a, const uint8_t key[PB_ADDRS_KEY]);

/* Clients key holds now. */
unsigned long pb_addrs_count(const struct pb_addrs *a,
			     const uint8_t key[PB_ADDRS_KEY]);

#endif
