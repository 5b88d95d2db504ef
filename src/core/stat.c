/* SPDX-License-Identifier: ISC */
/*
 * stat.c: the names of the counters (see stat.h). Operators' scripts read
 * them: a name, once given, is never changed; new counters come after.
 */
#include "config.h"

#include "stat.h"

static const char *const stat_names[PB_STAT_COUNT] = {
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
	[PB_STAT_RECEIVED] = "received",
	[PB_STAT_BYTES_FORWARDED] = "forwarded_bytes",
	[PB_STAT_REFUSED_GONE] = "refused_gone_before_id",
	[PB_STAT_REFUSED_NOMEM] = "refused_no_memory",
	[PB_STAT_DISC_NOMEM] = "disconnect_no_memory",
	[PB_STAT_DROP_SENDER_LEFT] = "dropped_sender_left",
	[PB_STAT_REFUSED_STATE] = "refused_id_state",
	[PB_STAT_REFUSED_PER_ADDRESS] = "refused_per_address",
	[PB_STAT_REFUSED_HANDSHAKES] = "refused_handshakes",
	[PB_STAT_DISC_FRAME_TIMEOUT] = "disconnect_frame_timeout",
	[PB_STAT_DROP_UNREACHABLE] = "dropped_remote_unreachable",
	[PB_STAT_DROP_UNKNOWN_NODE] = "dropped_unknown_node",
	[PB_STAT_RECEIVED_REMOTE] = "received_remote",
	[PB_STAT_SENT_REMOTE] = "sent_remote",
	[PB_STAT_NODE_MSG_BAD] = "node_messages_refused",
	[PB_STAT_REFUSED_TLS] = "refused_tls",
	[PB_STAT_REFUSED_TLS_TIMEOUT] = "refused_tls_timeout",
	[PB_STAT_REFUSED_TLS_IDENTITY] = "refused_tls_identity",
	[PB_STAT_TLS_RELOAD_FAILED] = "tls_reload_failed",
	[PB_STAT_DISC_TLS_NOT_ALLOWED] = "disconnect_tls_not_allowed",
	[PB_STAT_DISC_RESTART] = "disconnect_restart",
	[PB_STAT_HANDOVERS] = "handovers",
	[PB_STAT_HANDOVERS_FAILED] = "handovers_failed",
	[PB_STAT_HANDOVER_REFUSED] = "handover_state_refused",
};

const char *pb_stat_name(enum pb_stat s)
{
	return stat_names[s];
}
