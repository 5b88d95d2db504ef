/* SPDX-License-Identifier: ISC */
/*
 * cluster.c: this node in its cluster (see cluster.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "account.h"
#include "clock.h"
#include "cluster.h"
#include "envelope.h"
#include "handover.h"
#include "link.h"
#include "log.h"
#include "nats.h"
#include "stats.h"

#define PB_CLUSTER_HELLO_MS   1000
#define PB_CLUSTER_REFUSED_MS 10000

struct pb_cluster {
	struct pb_link_env cs_env;
	struct pb_registry *cs_reg;
	unsigned cs_bits;
	size_t cs_nnodes;
	char cs_hello_subject[PB_OPTIONS_ADDRLEN + 16];
	struct pb_remote_ops cs_remote;
	pthread_mutex_t cs_lock; /* making links; the ticker's sleep */
	pthread_cond_t cs_tick;
	bool cs_stop;
	pthread_t cs_ticker;
	bool cs_ticker_started;
	struct pb_link *_Atomic *cs_links; /* by node number */
};

/* For the data path's count of frames nobody here holds. */
static struct pb_cluster *cluster_self;

static unsigned cluster_node_of(const struct pb_cluster *cs, uint32_t id)
{
	return (unsigned)(id >> (32 - cs->cs_bits));
}

static struct pb_link *cluster_link(struct pb_cluster *cs, unsigned node)
{
	return atomic_load_explicit(&cs->cs_links[node], memory_order_acquire);
}

/* The link to node, made at its first message. */
static struct pb_link *cluster_link_make(struct pb_cluster *cs, unsigned node)
{
	struct pb_link *lk = cluster_link(cs, node);

	if (lk != NULL)
		return lk;
	pthread_mutex_lock(&cs->cs_lock);
	lk = cluster_link(cs, node);
	if (lk == NULL && !cs->cs_stop) {
		lk = pb_link_new(&cs->cs_env, (uint16_t)node);
		if (lk == NULL)
			log_warn("link %u: cannot start", node);
		else
			atomic_store_explicit(&cs->cs_links[node], lk,
					      memory_order_release);
	}
	pthread_mutex_unlock(&cs->cs_lock);
	return lk;
}

/* Counts a message refused, and says so at most every
 * PB_CLUSTER_REFUSED_MS (a flood of them must not flood the log). */
static void cluster_refused(size_t len, const char *why)
{
	static _Atomic uint64_t said_ms;
	uint64_t now = pb_now_ms(), last = atomic_load(&said_ms);

	pb_stats_add(PB_STAT_NODE_MSG_BAD, 1);
	if (now - last >= PB_CLUSTER_REFUSED_MS &&
	    atomic_compare_exchange_strong(&said_ms, &last, now))
		log_notice("a message of %zu bytes on the cluster's subjects "
			   "refused: %s (node_messages_refused counts them "
			   "all; said at most every %d s)",
			   len, why, PB_CLUSTER_REFUSED_MS / 1000);
}

/* A message on one of our subjects (one of NATS's threads): checked
 * whole, then handed to its node's link. */
static void cluster_message(void *arg, const unsigned char *data, size_t len)
{
	struct pb_cluster *cs = arg;
	struct pb_env_header h;
	enum pb_env_error e = pb_env_get_header(data, len, &h);
	struct pb_link *lk;

	if (e == PB_ENV_OK)
		e = pb_env_check(data, len, cs->cs_reg->rg_opts->op_max_frame);
	if (e != PB_ENV_OK) {
		cluster_refused(len, pb_env_error_text(e));
		return;
	}
	if (h.eh_src_node >= cs->cs_nnodes ||
	    h.eh_src_node == cs->cs_env.le_node) {
		cluster_refused(len, h.eh_src_node == cs->cs_env.le_node
					     ? "from this node's own number"
					     : "from a node number beyond "
					       "--node-bits");
		return;
	}
	lk = cluster_link_make(cs, h.eh_src_node);
	if (lk != NULL)
		pb_link_post(lk, data, len);
}

static void cluster_nats_state(void *arg, bool connected, const char *url)
{
	struct pb_cluster *cs = arg;

	if (connected) {
		size_t max;

		log_notice("nats: connected to %s", url);
		max = pb_nats_max_payload(cs->cs_env.le_nats);
		if (max > 0 && max < cs->cs_env.le_batch_max)
			log_warnx("nats: the servers take messages of %zu "
				  "bytes at most, less than a batch of %zu "
				  "(--max-frame): raise their max_payload",
				  max, cs->cs_env.le_batch_max);
	} else
		log_warnx("nats: disconnected; reconnecting (local clients "
			  "are served meanwhile)");
}

static void cluster_hello(struct pb_cluster *cs)
{
	const struct pb_options *op = cs->cs_reg->rg_opts;
	unsigned char m[PB_ENV_HEADER + PB_ENV_HELLO_BODY];
	struct pb_env_header h = {
		.eh_type = PB_ENV_HELLO,
		.eh_src_node = cs->cs_env.le_node,
		.eh_src_epoch = cs->cs_env.le_epoch,
	};

	pb_env_put_header(m, &h);
	pb_env_put_u64(m + PB_ENV_HEADER, op->op_park);
	pb_env_put_u64(m + PB_ENV_HEADER + 8,
		       atomic_load(&cs->cs_reg->rg_outbox));
	(void)pb_nats_publish(cs->cs_env.le_nats, cs->cs_hello_subject, m,
			      sizeof(m));
}

/* Says this node is here, once a second, until stopped. */
static void *cluster_ticker(void *arg)
{
	struct pb_cluster *cs = arg;

	pthread_mutex_lock(&cs->cs_lock);
	while (!cs->cs_stop) {
		struct timespec ts;

		pthread_mutex_unlock(&cs->cs_lock);
		cluster_hello(cs);
		pthread_mutex_lock(&cs->cs_lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += PB_CLUSTER_HELLO_MS / 1000;
		while (!cs->cs_stop &&
		       pthread_cond_timedwait(&cs->cs_tick, &cs->cs_lock,
					      &ts) == EINTR)
			;
	}
	pthread_mutex_unlock(&cs->cs_lock);
	return NULL;
}

/* The id this thread last looked for, and whether it found nobody
 * because the link was down: the frames are counted for that, even if
 * the link is up again by the time they are (cluster_unknown_why). */
static _Thread_local uint32_t cluster_missed_id;
static _Thread_local bool cluster_missed_down;

/* remote.h */
static struct pb_client *cluster_find(void *ctx, uint32_t id)
{
	struct pb_cluster *cs = ctx;
	unsigned node = cluster_node_of(cs, id);
	struct pb_link *lk =
		node < cs->cs_nnodes ? cluster_link(cs, node) : NULL;
	struct pb_client *c;
	bool up;

	if (lk == NULL)
		return NULL;
	up = pb_link_up(lk);
	c = pb_link_find(lk, id);
	cluster_missed_id = id;
	cluster_missed_down = c == NULL && (!up || !pb_link_up(lk));
	return c;
}

/* Why frames to dest found nobody (account.h). */
static enum pb_stat cluster_unknown_why(uint32_t dest, bool waited)
{
	struct pb_cluster *cs = cluster_self;
	unsigned node = cluster_node_of(cs, dest);
	struct pb_link *lk;

	if (node == cs->cs_env.le_node)
		return waited ? PB_STAT_DROP_LEFT : PB_STAT_DROP_UNKNOWN;
	lk = cluster_link(cs, node);
	if (lk == NULL)
		return PB_STAT_DROP_UNKNOWN_NODE;
	if (dest == cluster_missed_id && cluster_missed_down)
		return PB_STAT_DROP_UNREACHABLE;
	return pb_link_up(lk) ? PB_STAT_DROP_UNKNOWN : PB_STAT_DROP_UNREACHABLE;
}

int pb_cluster_check(const struct pb_options *op, char *err, size_t errlen)
{
	return pb_nats_check(op, err, errlen);
}

static int cluster_subscribe(struct pb_cluster *cs, char *err, size_t errlen)
{
	char subject[PB_OPTIONS_ADDRLEN + 32];
	const char *kinds = "dc";
	int i;

	for (i = 0; kinds[i] != '\0'; i++) {
		snprintf(subject, sizeof(subject), "%s.%c.%u",
			 cs->cs_env.le_prefix, kinds[i], cs->cs_env.le_node);
		if (pb_nats_subscribe(cs->cs_env.le_nats, subject,
				      cluster_message, cs, err, errlen) < 0)
			return -1;
	}
	return pb_nats_subscribe(cs->cs_env.le_nats, cs->cs_hello_subject,
				 cluster_message, cs, err, errlen);
}

static void cluster_free(struct pb_cluster *cs)
{
	free(cs->cs_links);
	pthread_mutex_destroy(&cs->cs_lock);
	pthread_cond_destroy(&cs->cs_tick);
	free(cs);
}

static int cluster_init(struct pb_cluster *cs, struct pb_registry *reg)
{
	const struct pb_options *op = reg->rg_opts;
	pthread_condattr_t ca;
	size_t batch = 64 * 1024;

	cs->cs_reg = reg;
	cs->cs_bits = (unsigned)op->op_node_bits;
	cs->cs_nnodes = (size_t)1 << cs->cs_bits;
	cs->cs_links = calloc(cs->cs_nnodes, sizeof(*cs->cs_links));
	if (cs->cs_links == NULL)
		return -1;
	cs->cs_env.le_reg = reg;
	cs->cs_env.le_node = (uint16_t)op->op_node;
	if (getrandom(&cs->cs_env.le_epoch, sizeof(cs->cs_env.le_epoch), 0) !=
	    (ssize_t)sizeof(cs->cs_env.le_epoch))
		cs->cs_env.le_epoch = pb_now_ms();
	cs->cs_env.le_epoch |= 1; /* never 0, which means unknown */
	cs->cs_env.le_link_ms = op->op_link_ms;
	/* A batch takes at least one frame whole. */
	if (batch < op->op_max_frame + PB_ENV_HEADER + 4 + PB_ENV_DATA_ENTRY)
		batch = op->op_max_frame + PB_ENV_HEADER + 4 +
			PB_ENV_DATA_ENTRY;
	cs->cs_env.le_batch_max = batch;
	snprintf(cs->cs_env.le_prefix, sizeof(cs->cs_env.le_prefix), "pb.%s",
		 op->op_cluster);
	snprintf(cs->cs_hello_subject, sizeof(cs->cs_hello_subject), "%s.hb",
		 cs->cs_env.le_prefix);
	cs->cs_remote.ro_find = cluster_find;
	cs->cs_remote.ro_write = pb_link_write;
	cs->cs_remote.ro_wake = pb_link_wake;
	cs->cs_remote.ro_ctx = cs;
	pthread_mutex_init(&cs->cs_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cs->cs_tick, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

/* The epoch of a hand-over's CLUSTER section, or 0. */
static uint64_t cluster_carried_epoch(const struct pb_blob_reader *state)
{
	struct pb_blob_reader r = *state, sec;
	uint32_t tag;

	while (pb_blob_next(&r, &tag, &sec))
		if (tag == PB_HO_CLUSTER)
			return pb_blob_get_u64(&sec);
	return 0;
}

/* The links of a hand-over's LINK sections, rebuilt. */
static void cluster_restore_links(struct pb_cluster *cs,
				  const struct pb_blob_reader *state)
{
	struct pb_blob_reader r = *state, sec;
	uint32_t tag;

	while (pb_blob_next(&r, &tag, &sec)) {
		uint16_t node;
		struct pb_link *lk;

		if (tag != PB_HO_LINK || !pb_link_handover_check(sec, &node) ||
		    node >= cs->cs_nnodes || node == cs->cs_env.le_node ||
		    cluster_link(cs, node) != NULL)
			continue;
		lk = pb_link_restore(&cs->cs_env, sec);
		if (lk == NULL)
			log_warn("link %u: cannot start", node);
		else
			atomic_store(&cs->cs_links[node], lk);
	}
}

int pb_cluster_handover_check(const struct pb_blob_reader *state, char *err,
			      size_t errlen)
{
	struct pb_blob_reader r = *state, sec;
	uint32_t tag;

	while (pb_blob_next(&r, &tag, &sec)) {
		uint16_t node;

		if (tag == PB_HO_LINK && !pb_link_handover_check(sec, &node)) {
			snprintf(err, errlen,
				 "the record of the link to node %u is "
				 "malformed",
				 node);
			return -1;
		}
	}
	return 0;
}

void pb_cluster_handover_write(struct pb_cluster *cs, struct pb_blob *b)
{
	size_t at = pb_blob_begin(b, PB_HO_CLUSTER), i;

	pb_blob_u64(b, cs->cs_env.le_epoch);
	pb_blob_end(b, at);
	for (i = 0; i < cs->cs_nnodes; i++)
		if (cluster_link(cs, (unsigned)i) != NULL)
			pb_link_handover_write(cluster_link(cs, (unsigned)i),
					       b);
}

void pb_cluster_handover_done(struct pb_cluster *cs)
{
	size_t i;

	for (i = 0; i < cs->cs_nnodes; i++)
		if (cluster_link(cs, (unsigned)i) != NULL)
			pb_link_rewait(cluster_link(cs, (unsigned)i));
}

int pb_cluster_start(struct pb_cluster **out, struct pb_registry *reg,
		     const struct pb_blob_reader *state, char *err,
		     size_t errlen)
{
	const struct pb_options *op = reg->rg_opts;
	struct pb_cluster *cs = calloc(1, sizeof(*cs));
	char name[PB_OPTIONS_ADDRLEN + 64];
	int rc;

	if (cs == NULL || cluster_init(cs, reg) < 0) {
		free(cs);
		snprintf(err, errlen, "no memory for the cluster");
		return -1;
	}
	/* Carried over by a restart: the same process to the other nodes. */
	if (state != NULL && cluster_carried_epoch(state) != 0)
		cs->cs_env.le_epoch = cluster_carried_epoch(state);
	snprintf(name, sizeof(name), "patchbayd %s node %lu", op->op_cluster,
		 op->op_node);
	if (pb_nats_open(&cs->cs_env.le_nats, op, name, cluster_nats_state, cs,
			 err, errlen) < 0) {
		cluster_free(cs);
		return -1;
	}
	/* Before any message can make a link anew. */
	reg->rg_remote = &cs->cs_remote;
	if (state != NULL)
		cluster_restore_links(cs, state);
	if (cluster_subscribe(cs, err, errlen) < 0) {
		pb_cluster_stop(cs);
		return -1;
	}
	rc = pthread_create(&cs->cs_ticker, NULL, cluster_ticker, cs);
	cs->cs_ticker_started = rc == 0;
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the cluster's thread: %s",
			 strerror(rc));
		pb_cluster_stop(cs);
		return -1;
	}
	cluster_self = cs;
	pb_account_set_unknown(cluster_unknown_why);
	log_notice("node %lu of cluster %s (%lu node bits), epoch %016llx; "
		   "NATS: %s",
		   op->op_node, op->op_cluster, op->op_node_bits,
		   (unsigned long long)cs->cs_env.le_epoch, op->op_nats);
	*out = cs;
	return 0;
}

void pb_cluster_stop(struct pb_cluster *cs)
{
	size_t i;

	pthread_mutex_lock(&cs->cs_lock);
	cs->cs_stop = true;
	pthread_cond_signal(&cs->cs_tick);
	pthread_mutex_unlock(&cs->cs_lock);
	if (cs->cs_ticker_started)
		pthread_join(cs->cs_ticker, NULL);
	/* No message reaches a link once NATS is closed. */
	if (pb_nats_close(cs->cs_env.le_nats) < 0)
		log_warnx("nats: libnats's threads did not end in time after "
			  "closing (what they hold is left)");
	for (i = 0; i < cs->cs_nnodes; i++)
		if (cluster_link(cs, (unsigned)i) != NULL)
			pb_link_free(cluster_link(cs, (unsigned)i));
	cs->cs_reg->rg_remote = NULL;
	pb_account_set_unknown(NULL);
	cluster_self = NULL;
	cluster_free(cs);
}

void pb_cluster_stats(struct pb_cluster *cs, struct pb_cluster_stats *st)
{
	struct pb_nats_stats ns;
	size_t i, n = 0;

	pb_nats_stats(cs->cs_env.le_nats, &ns);
	st->cs_connected = ns.ns_connected;
	st->cs_reconnects = ns.ns_reconnects;
	for (i = 0; i < cs->cs_nnodes; i++)
		n += cluster_link(cs, (unsigned)i) != NULL;
	st->cs_links = calloc(n ? n : 1, sizeof(*st->cs_links));
	st->cs_nlinks = 0;
	for (i = 0;
	     st->cs_links != NULL && i < cs->cs_nnodes && st->cs_nlinks < n;
	     i++) {
		struct pb_link *lk = cluster_link(cs, (unsigned)i);

		if (lk == NULL)
			continue;
		st->cs_links[st->cs_nlinks].ck_node = (unsigned)i;
		pb_link_stats(lk, &st->cs_links[st->cs_nlinks].ck_stats);
		st->cs_nlinks++;
	}
}

void pb_cluster_log(struct pb_cluster *cs)
{
	struct pb_cluster_stats st;
	size_t i;

	pb_cluster_stats(cs, &st);
	log_always("nats: %s, %llu reconnects",
		   st.cs_connected ? "connected" : "disconnected",
		   st.cs_reconnects);
	for (i = 0; i < st.cs_nlinks; i++) {
		const struct pb_link_stats *l = &st.cs_links[i].ck_stats;

		log_always("link %u: %s frames_sent=%llu frames_received=%llu "
			   "bytes_sent=%llu bytes_received=%llu "
			   "retransmits=%llu unacked_bytes=%llu "
			   "credit_used_bytes=%llu rtt_us=%llu downs=%llu",
			   st.cs_links[i].ck_node, l->ls_up ? "up" : "down",
			   (unsigned long long)l->ls_frames_sent,
			   (unsigned long long)l->ls_frames_received,
			   (unsigned long long)l->ls_bytes_sent,
			   (unsigned long long)l->ls_bytes_received,
			   (unsigned long long)l->ls_retransmits,
			   (unsigned long long)l->ls_unacked,
			   (unsigned long long)l->ls_outstanding,
			   (unsigned long long)l->ls_rtt_us,
			   (unsigned long long)l->ls_downs);
	}
	free(st.cs_links);
}
