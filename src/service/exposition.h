/* SPDX-License-Identifier: ISC */
/*
 * exposition.h: the daemon's counters and gauges as text, in the
 * Prometheus text exposition format 0.0.4.
 *
 * Apart from the HTTP server (metrics.c) so that a unit test checks the
 * text without sockets, and so that it builds without libmicrohttpd. A
 * sample is taken first, from atomics only (the counters of stats.h and
 * the registry's gauges: no lock that a sender takes), then formatted.
 */
#ifndef PB_EXPOSITION_H
#define PB_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>

#include "federation.h"
#include "process.h"
#include "registry.h"
#include "stat.h"

/* What a scrape answers with, as its Content-Type. */
#define PB_EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One scrape's values. */
struct pb_expo_sample {
	unsigned long long es_stat[PB_STAT_COUNT];
	unsigned long es_clients;
	unsigned long es_max_clients;
	size_t es_queued_outbox; /* bytes, all outboxes */
	size_t es_queued_park;	 /* bytes, all waiting rooms */
	size_t es_memory_budget; /* --max-memory */
	size_t es_memory_used;
	long long es_start_s;  /* seconds since the epoch */
	long long es_loaded_s; /* the configuration, last loaded whole */
	bool es_reload_ok;
	long long es_tls_expiry_s;	/* the certificate's; 0 without TLS */
	unsigned long long es_pause_ms; /* the last hand-over's; 0: none */
	bool es_have_process; /* /proc could be read: es_process is set */
	struct pb_process es_process;
	struct pb_federation_sample es_cluster; /* free with pb_expo_free */
};

/* Reads every value of a scrape, without a lock. */
void pb_expo_take(struct pb_expo_sample *s, struct pb_registry *reg);

/* Frees what a sample holds. */
void pb_expo_free(struct pb_expo_sample *s);

/* Formats s: every family with its HELP and TYPE, every label value even
 * at 0, the process_* families only when s has them. A buffer to free(),
 * its length in *len; NULL with errno when out of memory. */
char *pb_expo_format(const struct pb_expo_sample *s, size_t *len);

#endif
