/* SPDX-License-Identifier: ISC */
/*
 * exposition.c: the metrics as Prometheus text (see exposition.h).
 *
 * The counters of stat.h become families in one table, expo_counters; the
 * gauges and the process_* families follow, written out one by one. Names
 * follow Prometheus' conventions: a patchbay_ prefix, base units (bytes,
 * seconds), _total on counters, a reason label where one outcome has
 * several causes, and nothing per client.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "exposition.h"
#include "restart.h"
#include "stats.h"

/* A counter of stat.h as a sample. The rows of a family are adjacent; the
 * first has the family's help, the others NULL. */
struct expo_counter {
	enum pb_stat ec_stat;
	const char *ec_name;
	const char *ec_labels; /* NULL for none */
	const char *ec_help;
};

#define EXPO_REASON(r) "reason=\"" r "\""

static const struct expo_counter expo_counters[] = {
	{PB_STAT_ACCEPTED, "patchbay_connections_accepted_total", NULL,
	 "Connections accepted and given an id."},
	{PB_STAT_REFUSED_MAX, "patchbay_connections_refused_total",
	 EXPO_REASON("max_clients"),
	 "Connections closed before an id was given, by reason."},
	{PB_STAT_REFUSED_THREAD, "patchbay_connections_refused_total",
	 EXPO_REASON("no_thread"), NULL},
	{PB_STAT_REFUSED_NOMEM, "patchbay_connections_refused_total",
	 EXPO_REASON("no_memory"), NULL},
	{PB_STAT_REFUSED_GONE, "patchbay_connections_refused_total",
	 EXPO_REASON("gone_before_id"), NULL},
	{PB_STAT_REFUSED_STATE, "patchbay_connections_refused_total",
	 EXPO_REASON("id_state"), NULL},
	{PB_STAT_REFUSED_PER_ADDRESS, "patchbay_connections_refused_total",
	 EXPO_REASON("per_address"), NULL},
	{PB_STAT_REFUSED_HANDSHAKES, "patchbay_connections_refused_total",
	 EXPO_REASON("handshakes"), NULL},
	{PB_STAT_REFUSED_TLS, "patchbay_connections_refused_total",
	 EXPO_REASON("tls"), NULL},
	{PB_STAT_REFUSED_TLS_TIMEOUT, "patchbay_connections_refused_total",
	 EXPO_REASON("tls_timeout"), NULL},
	{PB_STAT_REFUSED_TLS_IDENTITY, "patchbay_connections_refused_total",
	 EXPO_REASON("tls_identity"), NULL},
	{PB_STAT_DISC_CLOSED, "patchbay_disconnects_total",
	 EXPO_REASON("peer_closed"), "Clients that left, by reason."},
	{PB_STAT_DISC_RESET, "patchbay_disconnects_total", EXPO_REASON("reset"),
	 NULL},
	{PB_STAT_DISC_PROTOCOL, "patchbay_disconnects_total",
	 EXPO_REASON("protocol_error"), NULL},
	{PB_STAT_DISC_SLOW, "patchbay_disconnects_total",
	 EXPO_REASON("slow_consumer"), NULL},
	{PB_STAT_DISC_SHUTDOWN, "patchbay_disconnects_total",
	 EXPO_REASON("shutdown"), NULL},
	{PB_STAT_DISC_FRAME_TIMEOUT, "patchbay_disconnects_total",
	 EXPO_REASON("frame_timeout"), NULL},
	{PB_STAT_DISC_NOMEM, "patchbay_disconnects_total",
	 EXPO_REASON("no_memory"), NULL},
	{PB_STAT_DISC_TLS_NOT_ALLOWED, "patchbay_disconnects_total",
	 EXPO_REASON("tls_not_allowed"), NULL},
	{PB_STAT_DISC_RESTART, "patchbay_disconnects_total",
	 EXPO_REASON("restart"), NULL},
	{PB_STAT_RECEIVED, "patchbay_frames_received_total", NULL,
	 "Complete frames read from clients."},
	{PB_STAT_FORWARDED, "patchbay_frames_forwarded_total", NULL,
	 "Frames written whole to their destination."},
	{PB_STAT_BYTES_FORWARDED, "patchbay_bytes_forwarded_total", NULL,
	 "Bytes written to destinations: payloads and their 0x00."},
	{PB_STAT_DROP_UNKNOWN, "patchbay_frames_dropped_total",
	 EXPO_REASON("unknown_destination"), "Frames dropped, by reason."},
	{PB_STAT_DROP_LEFT, "patchbay_frames_dropped_total",
	 EXPO_REASON("destination_left"), NULL},
	{PB_STAT_DROP_SLOW, "patchbay_frames_dropped_total",
	 EXPO_REASON("slow_consumer"), NULL},
	{PB_STAT_DROP_NOMEM, "patchbay_frames_dropped_total",
	 EXPO_REASON("no_memory"), NULL},
	{PB_STAT_DROP_SENDER_LEFT, "patchbay_frames_dropped_total",
	 EXPO_REASON("sender_left"), NULL},
	{PB_STAT_DROP_UNREACHABLE, "patchbay_frames_dropped_total",
	 EXPO_REASON("remote_unreachable"), NULL},
	{PB_STAT_DROP_UNKNOWN_NODE, "patchbay_frames_dropped_total",
	 EXPO_REASON("unknown_node"), NULL},
	{PB_STAT_RECEIVED_REMOTE, "patchbay_frames_received_remote_total", NULL,
	 "Frames other nodes of the cluster handed this one."},
	{PB_STAT_SENT_REMOTE, "patchbay_frames_sent_remote_total", NULL,
	 "Frames other nodes of the cluster took from this one."},
	{PB_STAT_NODE_MSG_BAD, "patchbay_node_messages_refused_total", NULL,
	 "Messages from other nodes refused: invalid, or out of turn."},
	{PB_STAT_TLS_RELOAD_FAILED, "patchbay_tls_reload_failures_total", NULL,
	 "Reloads that kept the old TLS files, a new one being bad."},
	{PB_STAT_HANDOVERS, "patchbay_handovers_total", NULL,
	 "Restarts that handed every client over to a new process."},
	{PB_STAT_HANDOVERS_FAILED, "patchbay_handovers_failed_total", NULL,
	 "Hand-overs that did not happen: the process served on."},
	{PB_STAT_HANDOVER_REFUSED, "patchbay_handover_states_refused_total",
	 NULL, "Hand-over states a new process refused, starting clean."},
};

_Static_assert(sizeof(expo_counters) / sizeof(expo_counters[0]) ==
		       PB_STAT_COUNT,
	       "every counter of stat.h has its row in expo_counters");

void pb_expo_take(struct pb_expo_sample *s, struct pb_registry *reg)
{
	struct pb_registry_gauges g;
	int i;

	for (i = 0; i < PB_STAT_COUNT; i++)
		s->es_stat[i] = pb_stats_get((enum pb_stat)i);
	s->es_clients = pb_registry_clients(reg);
	s->es_max_clients = pb_registry_max_clients(reg);
	pb_registry_gauges(reg, &g);
	s->es_queued_outbox = g.rgg_queued_outbox;
	s->es_queued_park = g.rgg_queued_park;
	s->es_memory_budget = g.rgg_memory_budget;
	s->es_memory_used = g.rgg_memory_used;
	s->es_start_s = g.rgg_start_s;
	s->es_loaded_s = g.rgg_loaded_s;
	s->es_reload_ok = g.rgg_reload_ok;
	s->es_tls_expiry_s = g.rgg_tls_expiry_s;
	s->es_pause_ms = pb_restart_last_pause_ms();
	s->es_have_process = pb_process_read(&s->es_process) == 0;
	pb_federation_sample(&s->es_cluster);
}

void pb_expo_free(struct pb_expo_sample *s)
{
	pb_federation_sample_free(&s->es_cluster);
}

/* A family's HELP and TYPE lines, before its samples. */
static void expo_family(FILE *f, const char *name, const char *type,
			const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void expo_uint(FILE *f, const char *name, const char *labels,
		      unsigned long long v)
{
	if (labels != NULL)
		fprintf(f, "%s{%s} %llu\n", name, labels, v);
	else
		fprintf(f, "%s %llu\n", name, v);
}

/* Seconds, to the clock tick (1/100 s) at which the kernel counts them. */
static void expo_seconds(FILE *f, const char *name, double v)
{
	fprintf(f, "%s %.2f\n", name, v);
}

/* A family of one gauge, without labels. */
static void expo_gauge(FILE *f, const char *name, const char *help,
		       unsigned long long v)
{
	expo_family(f, name, "gauge", help);
	expo_uint(f, name, NULL, v);
}

static void expo_write_counters(FILE *f, const struct pb_expo_sample *s)
{
	size_t i;

	for (i = 0; i < PB_STAT_COUNT; i++) {
		const struct expo_counter *c = &expo_counters[i];

		if (c->ec_help != NULL)
			expo_family(f, c->ec_name, "counter", c->ec_help);
		expo_uint(f, c->ec_name, c->ec_labels, s->es_stat[c->ec_stat]);
	}
}

static void expo_write_gauges(FILE *f, const struct pb_expo_sample *s)
{
	expo_gauge(f, "patchbay_clients", "Clients connected.", s->es_clients);
	expo_gauge(f, "patchbay_clients_max",
		   "Most clients at once (--max-clients).", s->es_max_clients);
	expo_family(f, "patchbay_queued_bytes", "gauge",
		    "Bytes waiting for their destination: in its outbox, "
		    "or in the sender's waiting room (park).");
	expo_uint(f, "patchbay_queued_bytes", "queue=\"outbox\"",
		  s->es_queued_outbox);
	expo_uint(f, "patchbay_queued_bytes", "queue=\"park\"",
		  s->es_queued_park);
	expo_gauge(f, "patchbay_memory_budget_bytes",
		   "Budget for buffered client data (--max-memory).",
		   s->es_memory_budget);
	expo_gauge(f, "patchbay_memory_used_bytes",
		   "Buffered client data charged to the budget.",
		   s->es_memory_used);
	expo_family(f, "patchbay_build_info", "gauge",
		    "The version of patchbayd, as a label; always 1.");
	expo_uint(f, "patchbay_build_info", "version=\"" PACKAGE_VERSION "\"",
		  1);
	expo_gauge(f, "patchbay_start_time_seconds",
		   "When the daemon started, in seconds since the epoch.",
		   (unsigned long long)s->es_start_s);
	expo_gauge(f, "patchbay_config_last_reload_successful",
		   "Whether the last reload of the configuration succeeded.",
		   s->es_reload_ok);
	expo_gauge(f, "patchbay_config_last_reload_success_timestamp_seconds",
		   "When the configuration was last loaded whole, in seconds "
		   "since the epoch.",
		   (unsigned long long)s->es_loaded_s);
	expo_family(f, "patchbay_handover_pause_seconds", "gauge",
		    "How long the clients waited during the hand-over this "
		    "process took over; 0 if it took over none.");
	fprintf(f, "patchbay_handover_pause_seconds %.3f\n",
		s->es_pause_ms / 1000.0);
	/* Only where tls: listeners serve with a certificate. */
	if (s->es_tls_expiry_s > 0)
		expo_gauge(f, "patchbay_tls_cert_expiry_seconds",
			   "When the TLS certificate in force expires, in "
			   "seconds since the epoch.",
			   (unsigned long long)s->es_tls_expiry_s);
}

/* A family with a sample per link, labelled with its node. */
static void expo_links(FILE *f, const struct pb_federation_sample *c,
		       const char *name, const char *type, const char *help,
		       size_t field, double scale)
{
	size_t i;

	expo_family(f, name, type, help);
	for (i = 0; i < c->fs_nlinks; i++) {
		const struct pb_federation_link *l = &c->fs_links[i];
		uint64_t v = *(const uint64_t *)(const void *)((const char *)l +
							       field);

		if (scale != 1.0)
			fprintf(f, "%s{node=\"%u\"} %.6f\n", name, l->fl_node,
				(double)v * scale);
		else
			fprintf(f, "%s{node=\"%u\"} %llu\n", name, l->fl_node,
				(unsigned long long)v);
	}
}

#define EXPO_LINK(f) offsetof(struct pb_federation_link, f)

static void expo_write_cluster(FILE *f, const struct pb_federation_sample *c)
{
	expo_gauge(f, "patchbay_nats_connected",
		   "Whether the node's NATS connection is up.",
		   c->fs_connected);
	expo_family(f, "patchbay_nats_reconnects_total", "counter",
		    "Times the NATS connection was made again.");
	expo_uint(f, "patchbay_nats_reconnects_total", NULL, c->fs_reconnects);
	expo_links(f, c, "patchbay_link_up", "gauge",
		   "Whether the other node is heard (--link-timeout).",
		   EXPO_LINK(fl_up), 1.0);
	expo_links(f, c, "patchbay_link_frames_sent_total", "counter",
		   "Frames the other node took from this one.",
		   EXPO_LINK(fl_frames_sent), 1.0);
	expo_links(f, c, "patchbay_link_bytes_sent_total", "counter",
		   "Bytes of batches the other node took from this one.",
		   EXPO_LINK(fl_bytes_sent), 1.0);
	expo_links(f, c, "patchbay_link_frames_received_total", "counter",
		   "Frames this node took from the other.",
		   EXPO_LINK(fl_frames_received), 1.0);
	expo_links(f, c, "patchbay_link_bytes_received_total", "counter",
		   "Bytes of batches this node took from the other.",
		   EXPO_LINK(fl_bytes_received), 1.0);
	expo_links(f, c, "patchbay_link_retransmits_total", "counter",
		   "Batches sent again.", EXPO_LINK(fl_retransmits), 1.0);
	expo_links(f, c, "patchbay_link_unacked_bytes", "gauge",
		   "Bytes of batches sent and not acknowledged yet.",
		   EXPO_LINK(fl_unacked), 1.0);
	expo_links(f, c, "patchbay_link_credit_used_bytes", "gauge",
		   "Bytes sent that the other node has not moved on yet.",
		   EXPO_LINK(fl_outstanding), 1.0);
	expo_links(f, c, "patchbay_link_rtt_seconds", "gauge",
		   "The last round trip of a batch and its acknowledgement.",
		   EXPO_LINK(fl_rtt_us), 1e-6);
	expo_links(f, c, "patchbay_link_downs_total", "counter",
		   "Times the link went down (--link-timeout).",
		   EXPO_LINK(fl_downs), 1.0);
}

/* The families every Prometheus client library exports, in its words. */
static void expo_write_process(FILE *f, const struct pb_process *p)
{
	expo_family(f, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
	expo_seconds(f, "process_cpu_seconds_total", p->pr_cpu_s);
	expo_gauge(f, "process_open_fds", "Number of open file descriptors.",
		   p->pr_fds);
	expo_gauge(f, "process_max_fds",
		   "Maximum number of open file descriptors.", p->pr_max_fds);
	expo_gauge(f, "process_virtual_memory_bytes",
		   "Virtual memory size in bytes.", p->pr_vsize);
	expo_gauge(f, "process_resident_memory_bytes",
		   "Resident memory size in bytes.", p->pr_rss);
	expo_family(f, "process_start_time_seconds", "gauge",
		    "Start time of the process since unix epoch in seconds.");
	expo_seconds(f, "process_start_time_seconds", p->pr_start_s);
	expo_gauge(f, "process_threads", "Number of OS threads in the process.",
		   p->pr_threads);
}

char *pb_expo_format(const struct pb_expo_sample *s, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	bool failed;

	if (f == NULL)
		return NULL;
	expo_write_counters(f, s);
	expo_write_gauges(f, s);
	if (s->es_cluster.fs_on)
		expo_write_cluster(f, &s->es_cluster);
	if (s->es_have_process)
		expo_write_process(f, &s->es_process);
	failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed) {
		free(text);
		errno = ENOMEM;
		return NULL;
	}
	return text;
}
