/* SPDX-License-Identifier: ISC */
/*
 * nats.h: the node's one connection to NATS, as the links use it.
 *
 * A thin wrapper over libnats (Debian's libnats-dev) that sets the
 * connection up the way a cluster of patchbayd nodes needs it: every
 * server of --nats in the order given (this node's own first), reconnects
 * forever, a failed first connect retried in the background (the daemon
 * serves its local clients meanwhile), pings every 2 s so that a dead
 * server is found in seconds, no echo of our own messages, and
 * natsOptions_SetSendAsap: the links batch frames themselves, so
 * libnats's flusher would only add its wait. libnats calls back from its
 * own threads: messages on one thread per subscription, connection events
 * on one more.
 */
#ifndef PB_NATS_H
#define PB_NATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

struct pb_nats;

/* A message arrived on a subscription (one of libnats's threads). */
typedef void (*pb_nats_msg_fn)(void *arg, const unsigned char *data,
			       size_t len);
/* The connection came up (connected) or went (not), with the server's
 * URL ("" when none). */
typedef void (*pb_nats_state_fn)(void *arg, bool connected, const char *url);

/* Checks what --nats and its files say without connecting: 0, or -1 with
 * err naming the option and the file or URL. */
int pb_nats_check(const struct pb_options *op, char *err, size_t errlen);

/* Starts connecting; name is how servers see us. *out is set before
 * state can be called. 0, or -1 with err. */
int pb_nats_open(struct pb_nats **out, const struct pb_options *op,
		 const char *name, pb_nats_state_fn state, void *arg, char *err,
		 size_t errlen);
/* Subscribes to subject; fn gets its messages. 0, or -1 with err. */
int pb_nats_subscribe(struct pb_nats *n, const char *subject, pb_nats_msg_fn fn,
		      void *arg, char *err, size_t errlen);
/* Publishes without waiting for the server: 0, or -1 (not connected and
 * the reconnect buffer full: the links retransmit). */
int pb_nats_publish(struct pb_nats *n, const char *subject, const void *data,
		    size_t len);
/* The largest message the servers take (0 until connected). */
size_t pb_nats_max_payload(struct pb_nats *n);

struct pb_nats_stats {
	bool ns_connected;
	uint64_t ns_reconnects;
};
void pb_nats_stats(struct pb_nats *n, struct pb_nats_stats *s);

/* Closes the connection and waits for libnats's threads to end (as long
 * as a write or a connection attempt may take): 0; -1 if they did not,
 * and then a late callback may still run (what it uses is kept). */
int pb_nats_close(struct pb_nats *n);

#endif
