/* SPDX-License-Identifier: ISC */
/*
 * federation.h: patchbayd in a cluster of nodes (--nats), as the service
 * sees it: started before the first client and stopped after the last,
 * its links in the stats line and the metrics. The links (src/link) are
 * built only with libnats; without it, federation_none.c stands in and
 * --nats is refused when the options are read.
 */
#ifndef PB_FEDERATION_H
#define PB_FEDERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "options.h"
#include "registry.h"

/* Checks what the options of --nats name (files, URLs) without
 * connecting: 0, or -1 with err naming the option. */
int pb_federation_check(const struct pb_options *op, char *err, size_t errlen);

/* Joins the cluster if --nats is given (reg's options): 0, or -1 with
 * err. A NATS that cannot be reached yet is no error: the node keeps
 * trying, and serves its own clients meanwhile. */
int pb_federation_start(struct pb_registry *reg,
			const struct pb_blob_reader *state, char *err,
			size_t errlen);

/* A restart's hand-over (restart.h, cluster.h): the cluster's state
 * written (nothing when not in one); a state's links checked before
 * anything is built (0, or -1 with err); given to pb_federation_start
 * as state, then done once the clients are rebuilt. */
void pb_federation_handover_write(struct pb_blob *b);
int pb_federation_handover_check(const struct pb_blob_reader *state, char *err,
				 size_t errlen);
void pb_federation_handover_done(void);

/* Leaves the cluster, if in one. */
void pb_federation_stop(void);

/* The links' lines of the stats (SIGUSR1). */
void pb_federation_log(void);

/* One scrape's values. */
struct pb_federation_link {
	unsigned fl_node;
	uint64_t fl_up; /* 1 or 0, a gauge like the rest */
	uint64_t fl_frames_sent, fl_bytes_sent;
	uint64_t fl_frames_received, fl_bytes_received;
	uint64_t fl_retransmits, fl_unacked, fl_outstanding, fl_rtt_us;
	uint64_t fl_downs;
};
struct pb_federation_sample {
	bool fs_on; /* in a cluster: the rest is set */
	bool fs_connected;
	unsigned long long fs_reconnects;
	size_t fs_nlinks;
	struct pb_federation_link *fs_links; /* malloc'd */
};
void pb_federation_sample(struct pb_federation_sample *s);
void pb_federation_sample_free(struct pb_federation_sample *s);

#endif
