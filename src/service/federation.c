/* SPDX-License-Identifier: ISC */
/*
 * federation.c: the cluster, started and shown by the service (see
 * federation.h), with libnats.
 */
#include "config.h"

#include <stdlib.h>

#include "cluster.h"
#include "federation.h"

/* The node's cluster, while in one: started and stopped by the main
 * thread, read by the metrics' and control's threads in between. */
static struct pb_cluster *federation;

int pb_federation_check(const struct pb_options *op, char *err, size_t errlen)
{
	if (op->op_nats[0] == '\0')
		return 0;
	return pb_cluster_check(op, err, errlen);
}

int pb_federation_start(struct pb_registry *reg,
			const struct pb_blob_reader *state, char *err,
			size_t errlen)
{
	if (reg->rg_opts->op_nats[0] == '\0')
		return 0;
	return pb_cluster_start(&federation, reg, state, err, errlen);
}

void pb_federation_handover_write(struct pb_blob *b)
{
	if (federation != NULL)
		pb_cluster_handover_write(federation, b);
}

int pb_federation_handover_check(const struct pb_blob_reader *state, char *err,
				 size_t errlen)
{
	return pb_cluster_handover_check(state, err, errlen);
}

void pb_federation_handover_done(void)
{
	if (federation != NULL)
		pb_cluster_handover_done(federation);
}

void pb_federation_stop(void)
{
	if (federation == NULL)
		return;
	pb_cluster_stop(federation);
	federation = NULL;
}

void pb_federation_log(void)
{
	if (federation != NULL)
		pb_cluster_log(federation);
}

void pb_federation_sample(struct pb_federation_sample *s)
{
	struct pb_cluster_stats st;
	size_t i;

	s->fs_on = federation != NULL;
	s->fs_nlinks = 0;
	s->fs_links = NULL;
	if (!s->fs_on)
		return;
	pb_cluster_stats(federation, &st);
	s->fs_connected = st.cs_connected;
	s->fs_reconnects = st.cs_reconnects;
	s->fs_links =
		calloc(st.cs_nlinks ? st.cs_nlinks : 1, sizeof(*s->fs_links));
	for (i = 0; s->fs_links != NULL && i < st.cs_nlinks; i++) {
		const struct pb_link_stats *l = &st.cs_links[i].ck_stats;
		struct pb_federation_link *f = &s->fs_links[i];

		f->fl_node = st.cs_links[i].ck_node;
		f->fl_up = l->ls_up;
		f->fl_frames_sent = l->ls_frames_sent;
		f->fl_bytes_sent = l->ls_bytes_sent;
		f->fl_frames_received = l->ls_frames_received;
		f->fl_bytes_received = l->ls_bytes_received;
		f->fl_retransmits = l->ls_retransmits;
		f->fl_unacked = l->ls_unacked;
		f->fl_outstanding = l->ls_outstanding;
		f->fl_rtt_us = l->ls_rtt_us;
		f->fl_downs = l->ls_downs;
		s->fs_nlinks++;
	}
	free(st.cs_links);
}

void pb_federation_sample_free(struct pb_federation_sample *s)
{
	free(s->fs_links);
	s->fs_links = NULL;
	s->fs_nlinks = 0;
}
