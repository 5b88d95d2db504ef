/*
 * stats.h: the daemon's counters.
 *
 * Every frame dropped and every disconnect is counted here by reason, so
 * nothing is lost silently. Relaxed atomics: counters, not synchronisation.
 * The totals are logged at exit; a later interface will expose them live.
 */
#ifndef PB_STATS_H
#define PB_STATS_H

#include <stdatomic.h>

enum pb_stat {
	PB_STAT_ACCEPTED,	/* connections given an id */
	PB_STAT_FORWARDED,	/* frames accepted for a live destination */
	PB_STAT_DROP_UNKNOWN,	/* frames for an id nobody holds */
	PB_STAT_DROP_LEFT,	/* frames waiting for a client that left */
	PB_STAT_DROP_SLOW,	/* frames queued for a slow consumer */
	PB_STAT_DROP_NOMEM,	/* frames the daemon had no memory for */
	PB_STAT_DISC_CLOSED,	/* disconnects: peer closed */
	PB_STAT_DISC_RESET,	/* disconnects: connection reset or error */
	PB_STAT_DISC_PROTOCOL,	/* disconnects: protocol error */
	PB_STAT_DISC_SLOW,	/* disconnects: slow consumer */
	PB_STAT_DISC_SHUTDOWN,	/* disconnects: daemon shutting down */
	PB_STAT_REFUSED_MAX,	/* connections refused: --max-clients */
	PB_STAT_REFUSED_THREAD, /* connections refused: no thread */
	PB_STAT_COUNT,
};

void pb_stats_add(enum pb_stat s, unsigned long long n);

/* Logs every counter on one line. */
void pb_stats_log(void);

#endif
