/*
 * stats.c: the daemon's counters (see stats.h).
 */
#include "config.h"

#include <stdio.h>

#include "log.h"
#include "stats.h"

static atomic_ullong pb_stats[PB_STAT_COUNT];

static const char *const pb_stat_names[PB_STAT_COUNT] = {
	[PB_STAT_ACCEPTED] = "accepted",
	[PB_STAT_FORWARDED] = "forwarded",
	[PB_STAT_DROP_UNKNOWN] = "dropped_unknown_destination",
	[PB_STAT_DROP_LEFT] = "dropped_destination_left",
	[PB_STAT_DROP_SLOW] = "dropped_slow_consumer",
	[PB_STAT_DROP_NOMEM] = "dropped_no_memory",
	[PB_STAT_DISC_CLOSED] = "disconnect_peer_closed",
	[PB_STAT_DISC_RESET] = "disconnect_reset",
	[PB_STAT_DISC_PROTOCOL] = "disconnect_protocol_error",
	[PB_STAT_DISC_SLOW] = "disconnect_slow_consumer",
	[PB_STAT_DISC_SHUTDOWN] = "disconnect_shutdown",
	[PB_STAT_REFUSED_MAX] = "refused_max_clients",
	[PB_STAT_REFUSED_THREAD] = "refused_no_thread",
};

void pb_stats_add(enum pb_stat s, unsigned long long n)
{
	atomic_fetch_add_explicit(&pb_stats[s], n, memory_order_relaxed);
}

static unsigned long long stats_get(enum pb_stat s)
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
				 i ? " " : "", pb_stat_names[i],
				 stats_get((enum pb_stat)i));
		if (n < 0)
			break;
		off += (size_t)n;
	}
	log_notice("stats: %s", line);
}
