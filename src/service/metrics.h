/* SPDX-License-Identifier: ISC */
/*
 * metrics.h: live counters and gauges over HTTP, for Prometheus.
 *
 * With --metrics ADDR:PORT (or a socket named "metrics" from systemd),
 * GET /metrics answers in the Prometheus text exposition format, served
 * by libmicrohttpd in a thread of its own. A scrape reads the counters
 * and gauges (atomics) and takes no lock that senders take. A daemon
 * built without libmicrohttpd has no metrics and says so.
 */
#ifndef PB_METRICS_H
#define PB_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct pb_registry;
struct pb_metrics;

/* Whether this build can serve metrics. */
bool pb_metrics_available(void);

/* Serves metrics on fd, a listening socket (non-blocking, close-on-exec),
 * which it takes over. NULL with err on failure. */
struct pb_metrics *pb_metrics_start(int fd, struct pb_registry *reg, char *err,
				    size_t errlen);

/* Stops serving and frees m (NULL is fine). */
void pb_metrics_stop(struct pb_metrics *m);

#endif
