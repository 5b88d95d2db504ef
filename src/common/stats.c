/* SPDX-License-Identifier: ISC */
/*
 * stats.c: the live counters (see stats.h).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>

#include "log.h"
#include "stats.h"

static atomic_ullong pb_stats[PB_STAT_COUNT];

void pb_stats_add(enum pb_stat s, unsigned long long n)
{
	if (n > 0)
		atomic_fetch_add_explicit(&pb_stats[s], n,
					  memory_order_relaxed);
}

unsigned long long pb_stats_get(enum pb_stat s)
{
	return atomic_load_explicit(&pb_stats[s], memory_order_relaxed);
}

void pb_stats_log(void)
{
	char line[1024];
	size_t off = 0;
	int i;

	for (i = 0; i < PB_STAT_COUNT && off < sizeof(line); i++) {
		int n = snprintf(line + off, sizeof(line) - off, "%s%s=%llu",
				 i ? " " : "", pb_stat_name((enum pb_stat)i),
				 pb_stats_get((enum pb_stat)i));
		if (n < 0)
			break;
		off += (size_t)n;
	}
	log_always("stats: %s", line);
}
