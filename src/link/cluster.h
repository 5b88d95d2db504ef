/* SPDX-License-Identifier: ISC */
/*
 * cluster.h: this node in a cluster of patchbayd nodes over NATS
 * (doc/federation.md).
 *
 * NATS does membership, routing and transport; the cluster adds what
 * keeps patchbay's promises across nodes: a link per other node
 * (link.h) with sequence numbers, acknowledgements and credit. Here: the
 * one NATS connection and its subscriptions (this node's data and control
 * subjects, and everyone's heartbeats), a heartbeat a second, the links,
 * made when a node is first heard, and what the data path asks of them
 * (remote.h).
 *
 * Subjects, under --cluster NAME: pb.NAME.d.N (batches for node N),
 * pb.NAME.c.N (acknowledgements, credit and gone ids for node N) and
 * pb.NAME.hb (heartbeats).
 */
#ifndef PB_CLUSTER_H
#define PB_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "blob.h"
#include "link.h"
#include "registry.h"

struct pb_cluster;

/* Checks the options of --nats without connecting: 0, or -1 with err
 * (--check-config and start). */
int pb_cluster_check(const struct pb_options *op, char *err, size_t errlen);

/* Joins the cluster for reg (before any client comes): connects, or
 * goes on trying in the background. 0, or -1 with err. */
int pb_cluster_start(struct pb_cluster **out, struct pb_registry *reg,
		     const struct pb_blob_reader *state, char *err,
		     size_t errlen);

/* A hand-over (handover.h). Written: the node's epoch (a CLUSTER
 * section) and every link's state (LINK), the links' threads waiting at
 * their safe point. Read: state, given to pb_cluster_start, carries the
 * epoch over (the other nodes see the same process) and rebuilds the
 * links; pb_cluster_handover_check reads the links' sections first, and
 * pb_cluster_handover_done runs once the clients are rebuilt too. */
void pb_cluster_handover_write(struct pb_cluster *cs, struct pb_blob *b);
int pb_cluster_handover_check(const struct pb_blob_reader *state, char *err,
			      size_t errlen);
void pb_cluster_handover_done(struct pb_cluster *cs);

/* Leaves it: the links end, what waits for other nodes is dropped. */
void pb_cluster_stop(struct pb_cluster *cs);

/* What the metrics and the stats line show. */
struct pb_cluster_link {
	unsigned ck_node;
	struct pb_link_stats ck_stats;
};
struct pb_cluster_stats {
	bool cs_connected;
	unsigned long long cs_reconnects;
	size_t cs_nlinks;
	struct pb_cluster_link *cs_links; /* malloc'd; free it */
};
void pb_cluster_stats(struct pb_cluster *cs, struct pb_cluster_stats *st);

/* Logs a line per link (SIGUSR1). */
void pb_cluster_log(struct pb_cluster *cs);

#endif
