/* SPDX-License-Identifier: ISC */
/*
 * account.c: counting and logging the events both servers share (see
 * account.h).
 */
#include "config.h"

#include "account.h"
#include "log.h"
#include "stats.h"

bool pb_account_refuse_full(unsigned long connected, unsigned long max,
			    const char *peer)
{
	if (connected < max)
		return false;
	pb_stats_add(PB_STAT_REFUSED_MAX, 1);
	log_notice("connection from %s refused: %lu clients connected "
		   "(--max-clients)",
		   peer, connected);
	return true;
}

void pb_account_refused(const char *peer, enum pb_stat why)
{
	pb_stats_add(why, 1);
	if (why == PB_STAT_REFUSED_NOMEM)
		log_warnx("connection from %s refused: no memory", peer);
	else if (why == PB_STAT_REFUSED_STATE)
		log_warnx("connection from %s refused: no id state saved",
			  peer);
	else if (why == PB_STAT_REFUSED_PER_ADDRESS)
		log_notice("connection from %s refused: its address holds "
			   "--max-clients-per-address clients",
			   peer);
	else if (why == PB_STAT_REFUSED_HANDSHAKES)
		log_notice("connection from %s refused: --max-handshakes "
			   "connections wait for their id",
			   peer);
	else
		log_info("connection from %s gone before its id was sent",
			 peer);
}

void pb_account_connected(uint32_t id, const char *addr)
{
	pb_stats_add(PB_STAT_ACCEPTED, 1);
	log_info("client %u connected from %s", id, addr);
}

void pb_account_connected_tls(uint32_t id, const char *addr, const char *ident)
{
	pb_stats_add(PB_STAT_ACCEPTED, 1);
	log_info("client %u connected from %s (tls, %s)", id, addr,
		 ident[0] != '\0' ? ident : "no certificate");
}

void pb_account_refused_tls(const char *peer, enum pb_stat why,
			    const char *detail)
{
	pb_stats_add(why, 1);
	if (why == PB_STAT_REFUSED_TLS_IDENTITY)
		log_notice("connection from %s refused: TLS identity %s not "
			   "allowed (--tls-allow)",
			   peer, detail);
	else if (why == PB_STAT_REFUSED_TLS_TIMEOUT)
		log_info("connection from %s refused: TLS handshake %s "
			 "(--tls-handshake-timeout)",
			 peer, detail);
	else
		log_info("connection from %s refused: TLS handshake failed: "
			 "%s",
			 peer, detail);
}

void pb_account_tls_not_allowed(uint32_t id, const char *addr,
				const char *ident, const char *detail)
{
	log_notice("client %u (%s, %s) no longer allowed after the reload: %s",
		   id, addr, ident[0] != '\0' ? ident : "no certificate",
		   detail);
}

void pb_account_leave(uint32_t id, const char *addr, enum pb_leave why,
		      size_t dropped, size_t waiting, unsigned long slow_ms)
{
	pb_stats_add(pb_leave_stat(why), 1);
	pb_stats_add(pb_leave_drop_stat(why), dropped);
	if (why == PB_LEAVE_SLOW)
		log_notice("client %u disconnected as slow consumer (%s): "
			   "no write progress for %.1f s, %zu frames dropped "
			   "(%zu from its outbox, %zu from senders' waiting "
			   "rooms)",
			   id, addr, slow_ms / 1000.0, dropped + waiting,
			   dropped, waiting);
	else
		log_info("client %u disconnected (%s): %s", id, addr,
			 pb_leave_text(why));
}

void pb_account_protocol_error(uint32_t id, size_t max_frame)
{
	log_notice("client %u protocol error: frame longer than %zu bytes", id,
		   max_frame);
}

void pb_account_input_nomem(uint32_t id)
{
	log_warn("client %u: no memory for its input", id);
}

void pb_account_received(size_t n)
{
	pb_stats_add(PB_STAT_RECEIVED, n);
}

/* Why a destination nobody holds is unknown; NULL: none of our ids. */
static enum pb_stat (*account_unknown_why)(uint32_t dest, bool waited);

void pb_account_set_unknown(enum pb_stat (*why)(uint32_t dest, bool waited))
{
	account_unknown_why = why;
}

void pb_account_unknown(uint32_t sender, uint32_t dest, size_t n)
{
	pb_stats_add(account_unknown_why != NULL
			     ? account_unknown_why(dest, false)
			     : PB_STAT_DROP_UNKNOWN,
		     n);
	log_debug("client %u: %zu frames to unknown client %u dropped", sender,
		  n, dest);
}

void pb_account_delivered(uint32_t sender, uint32_t dest,
			  const struct pb_route_result *r)
{
	pb_account_forwarded(r->rr_sent, r->rr_bytes);
	if (r->rr_lost == 0)
		return;
	pb_stats_add(PB_STAT_DROP_NOMEM, r->rr_lost);
	log_warnx("client %u: out of memory, %zu frames to client %u dropped",
		  sender, r->rr_lost, dest);
}

void pb_account_forwarded(size_t n, size_t bytes)
{
	pb_stats_add(PB_STAT_FORWARDED, n);
	pb_stats_add(PB_STAT_BYTES_FORWARDED, bytes);
}

void pb_account_left(size_t n)
{
	pb_stats_add(PB_STAT_DROP_LEFT, n);
}

void pb_account_dest_left(size_t n, enum pb_leave why)
{
	pb_stats_add(pb_leave_drop_stat(why), n);
}

/* A client of this node that is found no more has left; one of another
 * node's may be out of reach (its link down) or gone: the cluster says
 * which. */
void pb_account_dest_missing(uint32_t dest, size_t n)
{
	pb_stats_add(account_unknown_why != NULL
			     ? account_unknown_why(dest, true)
			     : PB_STAT_DROP_LEFT,
		     n);
}

void pb_account_sender_gave_up(uint32_t id, size_t n, unsigned long moved_ms)
{
	pb_stats_add(PB_STAT_DROP_SENDER_LEFT, n);
	if (moved_ms == 0)
		log_notice("client %u left with %zu frames waiting, dropped: "
			   "as many departed clients as --max-clients are "
			   "still delivering",
			   id, n);
	else
		log_notice("client %u left with %zu frames waiting, dropped: "
			   "none moved on for %.1f s",
			   id, n, moved_ms / 1000.0);
}

const struct pb_engine_tally pb_account_tally = {
	.et_received = pb_account_received,
	.et_unknown = pb_account_unknown,
	.et_delivered = pb_account_delivered,
	.et_forwarded = pb_account_forwarded,
	.et_protocol_error = pb_account_protocol_error,
	.et_input_nomem = pb_account_input_nomem,
	.et_leave = pb_account_leave,
	.et_dest_left = pb_account_dest_left,
	.et_dest_missing = pb_account_dest_missing,
	.et_left = pb_account_left,
	.et_sender_gave_up = pb_account_sender_gave_up,
};
