/* SPDX-License-Identifier: ISC */
/*
 * stats.h: the live counters of a server.
 *
 * Every frame dropped and every disconnect is counted here by reason, so
 * nothing is lost silently; what each counter means is in stat.h (core).
 * Relaxed atomics: counters, not synchronisation. The totals are logged
 * on one line at exit.
 */
#ifndef PB_STATS_H
#define PB_STATS_H

#include "stat.h"

void pb_stats_add(enum pb_stat s, unsigned long long n);
unsigned long long pb_stats_get(enum pb_stat s);

/* Logs every counter on one line. */
void pb_stats_log(void);

#endif
