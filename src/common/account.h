/* SPDX-License-Identifier: ISC */
/*
 * account.h: what both servers count and log the same way.
 *
 * A connection admitted or refused, frames routed, dropped or lost, a
 * client leaving: each is one call here that bumps its counters (stats.h)
 * and writes its log line, so that the daemon and the reactor report the
 * same events in the same words. Never call these under a lock that
 * senders take: logging may block.
 */
#ifndef PB_ACCOUNT_H
#define PB_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "leave.h"
#include "route.h"

/* True (counted and logged) when a connection from peer must be refused
 * because 'connected' clients are already at --max-clients. */
bool pb_account_refuse_full(unsigned long connected, unsigned long max,
			    const char *peer);

/* A connection from peer was closed before it had an id: 'why' is
 * PB_STAT_REFUSED_GONE (it went away first), PB_STAT_REFUSED_NOMEM,
 * PB_STAT_REFUSED_STATE (no id state could be saved),
 * PB_STAT_REFUSED_PER_ADDRESS or PB_STAT_REFUSED_HANDSHAKES (limits). */
void pb_account_refused(const char *peer, enum pb_stat why);

/* A client was given its id. */
void pb_account_connected(uint32_t id, const char *addr);

/* A TLS client got its id: ident is its certificate's identity ("cn:..."),
 * "" for none. */
void pb_account_connected_tls(uint32_t id, const char *addr, const char *ident);

/* TLS client id (its identity ident) closed because a reload no longer
 * lets it in: detail says why. Logged; the disconnect itself is counted
 * as it leaves (PB_LEAVE_TLS_NOT_ALLOWED). */
void pb_account_tls_not_allowed(uint32_t id, const char *addr,
				const char *ident, const char *detail);

/* A TLS connection refused before its id: why is PB_STAT_REFUSED_TLS,
 * _TLS_TIMEOUT or _TLS_IDENTITY; detail says more. */
void pb_account_refused_tls(const char *peer, enum pb_stat why,
			    const char *detail);

/* A client left for 'why', 'dropped' frames still queued for it in its
 * outbox (counted here) and 'waiting' more in senders' waiting rooms
 * (counted as each sender drops them, by the same reason); slow_ms is the
 * --slow-timeout. The slow consumer's line gives both. */
void pb_account_leave(uint32_t id, const char *addr, enum pb_leave why,
		      size_t dropped, size_t waiting, unsigned long slow_ms);

/* A client sent a frame longer than max_frame. */
void pb_account_protocol_error(uint32_t id, size_t max_frame);

/* No memory for a client's input (errno says so too). */
void pb_account_input_nomem(uint32_t id);

/* n complete frames were read from a client. */
void pb_account_received(size_t n);

/* n frames from sender to dest, an id nobody holds, were dropped. */
/* Before any thread starts: how to tell why a destination nobody here
 * holds is unknown (the links tell ids of other nodes: an unknown node,
 * an unreachable one); waited: for frames that waited for dest, found
 * before (a client of this node that is found no more has left). */
void pb_account_set_unknown(enum pb_stat (*why)(uint32_t dest, bool waited));
void pb_account_unknown(uint32_t sender, uint32_t dest, size_t n);

/* Frames from sender were handed to dest: what was sent, what was lost. */
void pb_account_delivered(uint32_t sender, uint32_t dest,
			  const struct pb_route_result *r);

/* n frames were finished, in 'bytes' written from an outbox to its
 * client. */
void pb_account_forwarded(size_t n, size_t bytes);

/* n frames that waited for clients that left were dropped. */
void pb_account_left(size_t n);

/* n frames waiting in a sender's waiting room for dest were dropped,
 * because dest left for 'why' (its drop counter: a slow consumer's frames
 * are slow-consumer drops wherever they wait). */
void pb_account_dest_left(size_t n, enum pb_leave why);

/* n frames waiting for dest were dropped, because dest is found no more:
 * a client here that left, or one of another node whose link is down
 * (counted as the cluster says: pb_account_set_unknown). */
void pb_account_dest_missing(uint32_t dest, size_t n);

/* Client id left with n frames in its waiting room, which are given up:
 * because as many departed clients as --max-clients still deliver
 * (moved_ms 0), or because none of them moved on for moved_ms. */
void pb_account_sender_gave_up(uint32_t id, size_t n, unsigned long moved_ms);

/* All of the above that the delivery engine reports (engine.h), for
 * both servers. */
extern const struct pb_engine_tally pb_account_tally;

#endif
