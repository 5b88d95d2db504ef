/* SPDX-License-Identifier: ISC */
/*
 * link.c: the link to one other node (see link.h). Everything below runs
 * in the link's own thread unless it says otherwise: the senders' threads
 * only find stand-ins and wake the link (pb_link_find, pb_link_wake), and
 * NATS's threads only post messages (pb_link_post).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "deliver.h"
#include "envelope.h"
#include "handover.h"
#include "idmap.h"
#include "link.h"
#include "log.h"
#include "stats.h"

#define PB_LINK_SUBJECT	      (PB_OPTIONS_ADDRLEN + 32)
#define PB_LINK_GONE	      256   /* ids known gone, remembered per link */
#define PB_LINK_RESEND_MS     200   /* no acknowledgement: send again */
#define PB_LINK_RESEND_MAX_MS 3200  /* ... backing off to this at most */
#define PB_LINK_SILENT_MS     2500  /* not heard: send the first batch only */
#define PB_LINK_NAK_MS	      50    /* a gap reported: send again, at most so */
#define PB_LINK_ACK_MS	      1000  /* full credit, at least this often */
#define PB_LINK_LIMBO_MS      12000 /* heard again: an answer is due by then */
#define PB_LINK_ENDED_MAX     10    /* a session's last word, said so often */
#define PB_LINK_ACK_MAX	      4096  /* credit entries per message */
#define PB_LINK_DELIVER	      64    /* frames handed to the engine at once */

/* A message posted by NATS's threads. */
struct link_msg {
	struct link_msg *lm_next;
	size_t lm_len;
	unsigned char lm_data[];
};

/* A batch sent and not yet acknowledged. */
struct link_batch {
	struct link_batch *lb_next;
	uint64_t lb_seq;
	uint64_t lb_sent_ms;
	size_t lb_frames;
	size_t lb_len;
	bool lb_resent;
	unsigned char lb_data[];
};

/* Credit kept for one local destination of the node's frames. */
struct link_credit {
	uint64_t lc_recvd;    /* bytes received for it */
	uint64_t lc_consumed; /* of those, moved on (not waiting) */
	bool lc_dirty;	      /* changed since the last ACK */
	bool lc_parked;	      /* some wait in the waiting room */
};

struct pb_link {
	const struct pb_link_env *lk_env;
	uint16_t lk_node;
	char lk_data_subject[PB_LINK_SUBJECT];
	char lk_ctl_subject[PB_LINK_SUBJECT];
	pthread_t lk_thread;
	/* The sender of the node's frames; its wake-up is the thread's. */
	struct pb_client *lk_in;

	pthread_mutex_t lk_lock; /* guards what follows, to lk_up */
	struct link_msg *lk_inbox, **lk_inbox_tail;
	size_t lk_inbox_bytes;
	struct pb_idmap lk_proxies;  /* id -> stand-in, referenced */
	struct pb_client **lk_dirty; /* stand-ins to flush, referenced */
	size_t lk_ndirty, lk_dirty_cap;
	bool lk_dirty_lost; /* no memory to list one: flush them all */
	uint32_t lk_gone[PB_LINK_GONE];
	size_t lk_ngone, lk_gone_next;
	bool lk_stop;
	atomic_bool lk_up;

	/* The thread's alone. The node: */
	uint64_t lk_peer_epoch; /* its process's, from its heartbeats */
	uint64_t lk_heard_ms;
	size_t lk_credit_dest, lk_credit_link;
	/* Sending: */
	uint64_t lk_tx_epoch; /* this session of the link's */
	uint64_t lk_next_seq;
	struct link_batch *lk_unacked, **lk_unacked_tail;
	uint64_t lk_progress_ms, lk_resent_ms;
	uint64_t lk_rto_ms;    /* the wait before sending again, backing off */
	size_t lk_outstanding; /* bytes taken, not consumed by the node */
	unsigned char *lk_buf; /* the batch being filled */
	size_t lk_len, lk_frames;
	uint32_t lk_nentries;
	size_t lk_entry; /* offset of the last entry's head */
	uint32_t lk_entry_dest;
	bool lk_full; /* the batch stopped a write */
	/* The batches not acknowledged when the link last went down, which
	 * the node may have had: counted sent or dropped once it says, in
	 * an ACK for that session; dropped if it restarted, or says nothing
	 * for link_limbo_ms once heard again. */
	uint64_t lk_limbo_epoch; /* 0: none */
	uint64_t lk_limbo_first; /* the first one's number */
	uint64_t lk_limbo_cum;	 /* the last it acknowledged, so far */
	uint64_t lk_limbo_ms;
	size_t *lk_limbo_frames; /* frames in each */
	size_t lk_nlimbo;
	struct pb_client **lk_blocked; /* stand-ins waiting for credit */
	size_t lk_nblocked, lk_blocked_cap;
	uint64_t lk_round;
	/* Receiving: */
	uint64_t lk_rx_epoch; /* the node's session of this link */
	uint64_t lk_expect;   /* the next batch in order */
	/* The session before, and the last batch taken of it: said again
	 * (ENDED) with the full ACKs, PB_LINK_ENDED_MAX times, since a
	 * NATS message can be lost and the node counts by it. */
	uint64_t lk_ended_epoch, lk_ended_cum;
	unsigned lk_ended_left;
	struct pb_idmap lk_credits; /* local id -> struct link_credit */
	bool lk_ack_due;
	uint64_t lk_full_ms;   /* the last full ACK (and ENDED said again) */
	uint32_t *lk_gone_out; /* ids to report gone */
	size_t lk_ngone_out, lk_gone_out_cap;

	/* For the metrics, read by any thread. */
	_Atomic uint64_t st_frames_sent, st_bytes_sent, st_frames_received,
		st_bytes_received, st_retransmits, st_unacked, st_outstanding,
		st_rtt_us, st_downs;
};

/* The link whose thread this is (pb_link_write takes frames only there). */
static _Thread_local struct pb_link *link_self;

static struct pb_engine *link_engine(struct pb_link *lk)
{
	return &lk->lk_env->le_reg->rg_engine;
}

static uint64_t link_random(void)
{
	uint64_t v = 0;

	while (v == 0)
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			v = pb_now_ms() ^ (uint64_t)(uintptr_t)&v;
	return v;
}

static void link_stat_set(_Atomic uint64_t *s, uint64_t v)
{
	atomic_store_explicit(s, v, memory_order_relaxed);
}

static void link_stat_add(_Atomic uint64_t *s, uint64_t v)
{
	atomic_fetch_add_explicit(s, v, memory_order_relaxed);
}

static void link_header(struct pb_link *lk, unsigned char *p,
			enum pb_env_type type, uint64_t src_epoch,
			uint64_t dst_epoch, uint64_t seq)
{
	struct pb_env_header h = {
		.eh_type = (uint8_t)type,
		.eh_src_node = lk->lk_env->le_node,
		.eh_src_epoch = src_epoch,
		.eh_dst_epoch = dst_epoch,
		.eh_seq = seq,
	};

	pb_env_put_header(p, &h);
}

/* ---- stand-ins ---- */

struct pb_client *pb_link_find(struct pb_link *lk, uint32_t id)
{
	struct pb_registry *reg = lk->lk_env->le_reg;
	struct pb_client *c = NULL;
	struct pb_conn_env env;
	size_t i;

	if (!pb_link_up(lk))
		return NULL;
	pb_registry_client_env(reg, &env);
	pthread_mutex_lock(&lk->lk_lock);
	for (i = 0; i < lk->lk_ngone; i++)
		if (lk->lk_gone[i] == id)
			goto out;
	c = pb_idmap_get(&lk->lk_proxies, id);
	if (c == NULL) {
		char addr[32];

		snprintf(addr, sizeof(addr), "node %u", lk->lk_node);
		c = pb_client_new(reg, &env, id, -1, addr);
		if (c == NULL)
			goto out;
		c->cl_remote = lk;
		c->cl_conn.cn_relay = true;
		pb_conn_set_state(&c->cl_conn, PB_CONN_OPEN);
		if (pb_idmap_put(&lk->lk_proxies, id, c) < 0) {
			pb_conn_set_state(&c->cl_conn, PB_CONN_DONE);
			pb_client_unref(c);
			c = NULL;
			goto out;
		}
	}
	pb_client_ref(c); /* the caller's; the map keeps its own */
out:
	pthread_mutex_unlock(&lk->lk_lock);
	return c;
}

void pb_link_wake(struct pb_client *c)
{
	struct pb_link *lk = c->cl_remote;

	pthread_mutex_lock(&lk->lk_lock);
	if (!c->cl_queued) {
		if (lk->lk_ndirty == lk->lk_dirty_cap) {
			size_t cap =
				lk->lk_dirty_cap ? lk->lk_dirty_cap * 2 : 64;
			struct pb_client **d =
				realloc(lk->lk_dirty, cap * sizeof(*d));

			if (d != NULL) {
				lk->lk_dirty = d;
				lk->lk_dirty_cap = cap;
			}
		}
		if (lk->lk_ndirty < lk->lk_dirty_cap) {
			c->cl_queued = true;
			pb_client_ref(c);
			lk->lk_dirty[lk->lk_ndirty++] = c;
		} else {
			lk->lk_dirty_lost = true;
		}
	}
	pthread_mutex_unlock(&lk->lk_lock);
	pb_wake_signal(&lk->lk_in->cl_wake);
}

/* How many bytes of iov[0 .. n), at most avail, are whole frames. */
static size_t link_whole(const struct iovec *iov, size_t n, size_t avail)
{
	size_t done = 0, whole = 0, i;

	for (i = 0; i < n && done < avail; i++) {
		const unsigned char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len, j;

		if (len > avail - done)
			len = avail - done;
		for (j = len; j > 0; j--)
			if (p[j - 1] == 0) {
				whole = done + j;
				break;
			}
		done += len;
	}
	return whole;
}

/* Milliseconds from then to now; 0 if then is later (read after now). */
static uint64_t link_since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static size_t link_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Copies len bytes of iov into the batch. */
static void link_copy(struct pb_link *lk, const struct iovec *iov, size_t len)
{
	size_t i;

	for (i = 0; len > 0; i++) {
		size_t k = link_min(iov[i].iov_len, len);

		memcpy(lk->lk_buf + lk->lk_len, iov[i].iov_base, k);
		lk->lk_frames += pb_env_frames(lk->lk_buf + lk->lk_len, k);
		lk->lk_len += k;
		len -= k;
	}
}

ssize_t pb_link_write(struct pb_client *c, const struct iovec *iov, size_t n)
{
	struct pb_link *lk = c->cl_remote;
	uint32_t id = c->cl_conn.cn_id;
	bool fresh;
	size_t held, avail, room, take;

	/* Only the link's thread batches: a sender's frames wait in the
	 * outbox, and its wake-up brings the link. */
	if (link_self != lk || !pb_link_up(lk))
		return 0;
	fresh = lk->lk_nentries == 0 || lk->lk_entry_dest != id;
	held = (size_t)(c->cl_sent - c->cl_consumed);
	avail = lk->lk_credit_dest > held ? lk->lk_credit_dest - held : 0;
	avail = link_min(avail,
			 lk->lk_credit_link > lk->lk_outstanding
				 ? lk->lk_credit_link - lk->lk_outstanding
				 : 0);
	room = lk->lk_env->le_batch_max - lk->lk_len;
	room = fresh ? (room > PB_ENV_DATA_ENTRY ? room - PB_ENV_DATA_ENTRY : 0)
		     : room;
	if (room < avail) {
		avail = room;
		lk->lk_full = true;
	}
	take = link_whole(iov, n, avail);
	if (take == 0)
		return 0;
	if (fresh) {
		lk->lk_entry = lk->lk_len;
		lk->lk_entry_dest = id;
		pb_env_put_u32(lk->lk_buf + lk->lk_len, id);
		pb_env_put_u32(lk->lk_buf + lk->lk_len + 4, 0);
		lk->lk_len += PB_ENV_DATA_ENTRY;
		lk->lk_nentries++;
	}
	link_copy(lk, iov, take);
	pb_env_put_u32(lk->lk_buf + lk->lk_entry + 4,
		       pb_env_get_u32(lk->lk_buf + lk->lk_entry + 4) +
			       (uint32_t)take);
	c->cl_sent += take;
	lk->lk_outstanding += take;
	return (ssize_t)take;
}

/* Drops a stand-in taken out of the map (its reference comes with it):
 * what its outbox holds is counted for why, its waiters go free. */
static size_t link_proxy_drop(struct pb_link *lk, struct pb_client *c,
			      enum pb_leave why)
{
	size_t frames = pb_engine_drop_relay(link_engine(lk), &c->cl_conn, why);

	lk->lk_outstanding -= (size_t)(c->cl_sent - c->cl_consumed);
	pb_client_unref(c);
	return frames;
}

/* ---- sending ---- */

static void link_batch_reset(struct pb_link *lk)
{
	lk->lk_len = PB_ENV_HEADER + 4;
	lk->lk_frames = 0;
	lk->lk_nentries = 0;
	lk->lk_full = false;
}

static void link_send(struct pb_link *lk, struct link_batch *b)
{
	if (pb_nats_publish(lk->lk_env->le_nats, lk->lk_data_subject,
			    b->lb_data, b->lb_len) < 0)
		log_debug("link %u: batch %llu not published (NATS "
			  "disconnected): sent again later",
			  lk->lk_node, (unsigned long long)b->lb_seq);
}

/* Publishes the batch being filled, keeping a copy until acknowledged;
 * an empty one only if forced. */
static void link_publish_batch(struct pb_link *lk, bool force)
{
	struct link_batch *b;
	uint64_t now = pb_now_ms();

	if (lk->lk_nentries == 0 && !force)
		return;
	b = malloc(sizeof(*b) + lk->lk_len);
	if (b == NULL) {
		/* The frames were taken: they are lost, and counted so. */
		log_warnx("link %u: no memory for a batch: %zu frames dropped",
			  lk->lk_node, lk->lk_frames);
		pb_stats_add(PB_STAT_DROP_NOMEM, lk->lk_frames);
		link_batch_reset(lk);
		return;
	}
	link_header(lk, lk->lk_buf, PB_ENV_DATA, lk->lk_tx_epoch,
		    lk->lk_peer_epoch, lk->lk_next_seq);
	pb_env_put_u32(lk->lk_buf + PB_ENV_HEADER, lk->lk_nentries);
	b->lb_next = NULL;
	b->lb_seq = lk->lk_next_seq++;
	b->lb_sent_ms = now;
	b->lb_frames = lk->lk_frames;
	b->lb_len = lk->lk_len;
	b->lb_resent = false;
	memcpy(b->lb_data, lk->lk_buf, lk->lk_len);
	pb_budget_charge(&lk->lk_env->le_reg->rg_budget, b->lb_len);
	if (lk->lk_unacked == NULL)
		lk->lk_progress_ms = now;
	*lk->lk_unacked_tail = b;
	lk->lk_unacked_tail = &b->lb_next;
	link_stat_add(&lk->st_unacked, b->lb_len);
	link_batch_reset(lk);
	link_send(lk, b);
}

static void link_publish(struct pb_link *lk)
{
	link_publish_batch(lk, false);
}

/* Sends the unacknowledged batches again, in order: all of them, or
 * only the first (a node not heard from for a while is probed: sending
 * it everything again would only fill NATS's buffers towards a route
 * that is down, and stall this node's connection for every link). */
static void link_resend(struct pb_link *lk, uint64_t now, bool all)
{
	struct link_batch *b;

	for (b = lk->lk_unacked; b != NULL; b = all ? b->lb_next : NULL) {
		b->lb_resent = true;
		link_send(lk, b);
		link_stat_add(&lk->st_retransmits, 1);
	}
	lk->lk_resent_ms = now;
}

/* No acknowledgement for a while: sends again, and waits twice as long
 * before the next time (until something is acknowledged). */
static void link_resend_timeout(struct pb_link *lk, uint64_t now,
				uint64_t heard)
{
	link_resend(lk, now, heard < PB_LINK_SILENT_MS);
	lk->lk_rto_ms = 2 * lk->lk_rto_ms < PB_LINK_RESEND_MAX_MS
				? 2 * lk->lk_rto_ms
				: PB_LINK_RESEND_MAX_MS;
}

/* Frees the batches up to cum, which the node accepted. */
static void link_acked(struct pb_link *lk, uint64_t cum, uint64_t now)
{
	struct link_batch *b;

	while ((b = lk->lk_unacked) != NULL && b->lb_seq <= cum) {
		lk->lk_unacked = b->lb_next;
		if (!b->lb_resent)
			link_stat_set(&lk->st_rtt_us,
				      (now - b->lb_sent_ms) * 1000);
		pb_stats_add(PB_STAT_SENT_REMOTE, b->lb_frames);
		link_stat_add(&lk->st_frames_sent, b->lb_frames);
		link_stat_add(&lk->st_bytes_sent, b->lb_len);
		atomic_fetch_sub(&lk->st_unacked, b->lb_len);
		pb_budget_release(&lk->lk_env->le_reg->rg_budget, b->lb_len);
		free(b);
		lk->lk_progress_ms = now;
		lk->lk_rto_ms = PB_LINK_RESEND_MS;
	}
	if (lk->lk_unacked == NULL)
		lk->lk_unacked_tail = &lk->lk_unacked;
}

/* Keeps c, still holding frames, for the next round (once a round). */
static void link_block(struct pb_link *lk, struct pb_client *c,
		       struct pb_client ***list, size_t *n, size_t *cap)
{
	if (c->cl_blocked_round == lk->lk_round) {
		pb_client_unref(c);
		return;
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct pb_client **l = realloc(*list, ncap * sizeof(*l));

		if (l == NULL) { /* it waits for its next wake-up */
			pb_client_unref(c);
			return;
		}
		*list = l;
		*cap = ncap;
	}
	c->cl_blocked_round = lk->lk_round;
	(*list)[(*n)++] = c;
}

/* Flushes one stand-in into batches while there is credit. */
static void link_flush_one(struct pb_link *lk, struct pb_client *c)
{
	struct pb_conn *cn = &c->cl_conn;

	if (pb_conn_state(cn) == PB_CONN_CUT) {
		struct pb_client *mine;

		pthread_mutex_lock(&lk->lk_lock);
		mine = pb_idmap_get(&lk->lk_proxies, cn->cn_id) == c
			       ? pb_idmap_del(&lk->lk_proxies, cn->cn_id)
			       : NULL;
		pthread_mutex_unlock(&lk->lk_lock);
		if (mine != NULL)
			(void)link_proxy_drop(lk, mine, PB_LEAVE_NOMEM_OUT);
		return;
	}
	for (;;) {
		lk->lk_full = false;
		(void)pb_engine_flush(link_engine(lk), cn);
		if (!lk->lk_full || !atomic_load(&cn->cn_pending))
			return;
		link_publish(lk); /* the batch is full: on with the next */
	}
}

/* Takes the list of stand-ins woken since the last round. */
static struct pb_client **link_take_dirty(struct pb_link *lk, size_t *n,
					  bool *all)
{
	struct pb_client **d;
	size_t i;

	pthread_mutex_lock(&lk->lk_lock);
	d = lk->lk_dirty;
	*n = lk->lk_ndirty;
	*all = lk->lk_dirty_lost;
	lk->lk_dirty = NULL;
	lk->lk_ndirty = lk->lk_dirty_cap = 0;
	lk->lk_dirty_lost = false;
	for (i = 0; i < *n; i++)
		d[i]->cl_queued = false;
	pthread_mutex_unlock(&lk->lk_lock);
	return d;
}

static void link_list_proxy(void *arg, uint32_t id, void *val)
{
	struct pb_link *lk = arg;
	struct pb_client *c = val;

	(void)id;
	pb_client_ref(c);
	link_block(lk, c, &lk->lk_dirty, &lk->lk_ndirty, &lk->lk_dirty_cap);
}

/* Every stand-in, referenced: when one could not be listed. */
static struct pb_client **link_all_proxies(struct pb_link *lk, size_t *n)
{
	struct pb_client **all;

	pthread_mutex_lock(&lk->lk_lock);
	lk->lk_round++;
	pb_idmap_each(&lk->lk_proxies, link_list_proxy, lk);
	all = lk->lk_dirty;
	*n = lk->lk_ndirty;
	lk->lk_dirty = NULL;
	lk->lk_ndirty = lk->lk_dirty_cap = 0;
	pthread_mutex_unlock(&lk->lk_lock);
	return all;
}

/* The round's flushing: the stand-ins woken, and those that waited for
 * credit; then whatever the batch holds goes. */
static void link_flush(struct pb_link *lk)
{
	struct pb_client **dirty, **blocked = lk->lk_blocked, **more = NULL;
	size_t ndirty, nblocked = lk->lk_nblocked, nmore = 0, i;
	bool all;

	dirty = link_take_dirty(lk, &ndirty, &all);
	if (all) {
		for (i = 0; i < ndirty; i++)
			pb_client_unref(dirty[i]);
		free(dirty);
		dirty = link_all_proxies(lk, &ndirty);
	}
	lk->lk_blocked = NULL;
	lk->lk_nblocked = lk->lk_blocked_cap = 0;
	lk->lk_round++;
	for (i = 0; i < nblocked + ndirty; i++) {
		struct pb_client *c =
			i < nblocked ? blocked[i] : dirty[i - nblocked];

		if (pb_link_up(lk) && !pb_conn_left(&c->cl_conn))
			link_flush_one(lk, c);
		if (pb_link_up(lk) && pb_conn_open(&c->cl_conn) &&
		    atomic_load(&c->cl_conn.cn_pending))
			link_block(lk, c, &more, &nmore, &lk->lk_blocked_cap);
		else
			pb_client_unref(c);
	}
	free(blocked);
	free(dirty);
	lk->lk_blocked = more;
	lk->lk_nblocked = nmore;
	link_publish(lk);
}

/* ---- the link going down, or the node restarting ---- */

static void link_take_proxy(void *arg, uint32_t id, void *val)
{
	struct pb_client ***at = arg;

	(void)id;
	*(*at)++ = val;
}

/* Counts the batches in limbo: those up to cum (which the node says it
 * had) as sent, the others as dropped. Without its last word (cum 0),
 * those it acknowledged since count as sent: they did arrive. */
static void link_limbo_end(struct pb_link *lk, uint64_t cum)
{
	size_t sent = 0, lost = 0, i;

	if (cum < lk->lk_limbo_cum)
		cum = lk->lk_limbo_cum;
	for (i = 0; i < lk->lk_nlimbo; i++) {
		if (lk->lk_limbo_first + i <= cum)
			sent += lk->lk_limbo_frames[i];
		else
			lost += lk->lk_limbo_frames[i];
	}
	pb_stats_add(PB_STAT_SENT_REMOTE, sent);
	link_stat_add(&lk->st_frames_sent, sent);
	pb_stats_add(PB_STAT_DROP_UNREACHABLE, lost);
	if (lk->lk_nlimbo > 0)
		log_notice("link %u: of %zu frames unacknowledged when it went "
			   "down, %zu had arrived, %zu dropped "
			   "(remote_unreachable)",
			   lk->lk_node, sent + lost, sent, lost);
	free(lk->lk_limbo_frames);
	lk->lk_limbo_frames = NULL;
	lk->lk_nlimbo = 0;
	lk->lk_limbo_epoch = 0;
	lk->lk_limbo_cum = 0;
}

/* Keeps what the unacknowledged batches hold in limbo (frames only: the
 * bytes go). */
static size_t link_limbo_begin(struct pb_link *lk, uint64_t now)
{
	struct link_batch *b;
	size_t n = 0, frames = 0;

	link_limbo_end(lk, 0);
	for (b = lk->lk_unacked; b != NULL; b = b->lb_next)
		n++;
	lk->lk_limbo_frames = calloc(n ? n : 1, sizeof(size_t));
	if (lk->lk_limbo_frames == NULL || n == 0)
		return 0; /* counted dropped at once, by link_reset_tx */
	lk->lk_limbo_epoch = lk->lk_tx_epoch;
	lk->lk_limbo_first = lk->lk_unacked->lb_seq;
	lk->lk_limbo_cum = lk->lk_limbo_first - 1;
	lk->lk_limbo_ms = now;
	while ((b = lk->lk_unacked) != NULL) {
		lk->lk_unacked = b->lb_next;
		lk->lk_limbo_frames[lk->lk_nlimbo++] = b->lb_frames;
		frames += b->lb_frames;
		atomic_fetch_sub(&lk->st_unacked, b->lb_len);
		pb_budget_release(&lk->lk_env->le_reg->rg_budget, b->lb_len);
		free(b);
	}
	return frames;
}

/* Ends the link's sending session: every stand-in and every batch not
 * acknowledged is dropped for why (counted); returns the frames. */
static size_t link_reset_tx(struct pb_link *lk, enum pb_leave why)
{
	struct pb_client **all, **at;
	struct link_batch *b;
	size_t n, i, frames = 0;

	pthread_mutex_lock(&lk->lk_lock);
	n = lk->lk_proxies.im_n;
	all = calloc(n ? n : 1, sizeof(*all));
	at = all;
	if (all != NULL) {
		pb_idmap_each(&lk->lk_proxies, link_take_proxy, &at);
		pb_idmap_free(&lk->lk_proxies);
	}
	lk->lk_ngone = 0;
	pthread_mutex_unlock(&lk->lk_lock);
	for (i = 0; all != NULL && i < n; i++)
		frames += link_proxy_drop(lk, all[i], why);
	free(all);
	while ((b = lk->lk_unacked) != NULL) {
		lk->lk_unacked = b->lb_next;
		frames += b->lb_frames;
		pb_stats_add(pb_leave_drop_stat(why), b->lb_frames);
		atomic_fetch_sub(&lk->st_unacked, b->lb_len);
		pb_budget_release(&lk->lk_env->le_reg->rg_budget, b->lb_len);
		free(b);
	}
	lk->lk_unacked_tail = &lk->lk_unacked;
	frames += lk->lk_frames;
	pb_stats_add(pb_leave_drop_stat(why), lk->lk_frames);
	link_batch_reset(lk);
	for (i = 0; i < lk->lk_nblocked; i++)
		pb_client_unref(lk->lk_blocked[i]);
	lk->lk_nblocked = 0;
	lk->lk_outstanding = 0;
	lk->lk_tx_epoch = link_random();
	lk->lk_next_seq = 1;
	lk->lk_rto_ms = PB_LINK_RESEND_MS;
	return frames;
}

static void link_down(struct pb_link *lk, const char *why, uint64_t ms,
		      uint64_t now)
{
	size_t frames, maybe;

	atomic_store(&lk->lk_up, false);
	maybe = link_limbo_begin(lk, now);
	frames = link_reset_tx(lk, PB_LEAVE_UNREACHABLE);
	link_stat_add(&lk->st_downs, 1);
	log_warnx("link %u: down: %s for %.1f s (--link-timeout); %zu frames "
		  "for it dropped (remote_unreachable), %zu more it may have "
		  "had (counted when it answers)",
		  lk->lk_node, why, ms / 1000.0, frames, maybe);
}

/* ---- receiving ---- */

/* The node is heard. After a silence the wait for sending again starts
 * over, and everything not acknowledged goes again in this round: it
 * backed off while nobody answered, and must not keep the link waiting
 * (or let it go down) now that the node answers. */
static void link_heard(struct pb_link *lk, uint64_t now)
{
	if (link_since(now, lk->lk_heard_ms) >= PB_LINK_SILENT_MS &&
	    lk->lk_unacked != NULL) {
		lk->lk_rto_ms = PB_LINK_RESEND_MS;
		lk->lk_resent_ms = 0;
	}
	lk->lk_heard_ms = now;
}

static void link_hello(struct pb_link *lk, const struct pb_env_header *h,
		       const unsigned char *body, uint64_t now)
{
	const struct pb_options *op = lk->lk_env->le_reg->rg_opts;
	uint64_t park = pb_env_get_u64(body), outbox = pb_env_get_u64(body + 8);

	link_heard(lk, now);
	if (lk->lk_peer_epoch != h->eh_src_epoch) {
		if (lk->lk_peer_epoch != 0) {
			size_t frames = link_reset_tx(lk, PB_LEAVE_CLOSED);

			link_limbo_end(lk, 0);
			log_notice("link %u: up again: the node restarted; %zu "
				   "frames for its former clients dropped",
				   lk->lk_node, frames);
			atomic_store(&lk->lk_up, true);
		}
		lk->lk_peer_epoch = h->eh_src_epoch;
	}
	lk->lk_credit_link = link_min(op->op_park, (size_t)park);
	lk->lk_credit_dest = link_min(op->op_outbox, (size_t)outbox);
	if (lk->lk_credit_dest < op->op_max_frame)
		lk->lk_credit_dest = op->op_max_frame;
	if (lk->lk_credit_link < lk->lk_credit_dest)
		lk->lk_credit_link = lk->lk_credit_dest;
	if (!atomic_load(&lk->lk_up)) {
		atomic_store(&lk->lk_up, true);
		/* An empty batch begins our new session at once, after what
		 * the former one sent: the node then says what it had. */
		if (lk->lk_nlimbo > 0) {
			lk->lk_limbo_ms = now;
			link_publish_batch(lk, true);
		}
		log_notice("link %u: up", lk->lk_node);
	}
}

/* Sends the node the ids it asked for that are no client here. */
static void link_send_gone(struct pb_link *lk)
{
	size_t i = 0;

	while (i < lk->lk_ngone_out) {
		size_t n = link_min(lk->lk_ngone_out - i, PB_LINK_ACK_MAX), k;
		size_t len = PB_ENV_HEADER + 4 + n * PB_ENV_GONE_ENTRY;
		unsigned char *m = malloc(len);

		if (m == NULL)
			break; /* asked again by its next frames */
		link_header(lk, m, PB_ENV_GONE, lk->lk_env->le_epoch,
			    lk->lk_rx_epoch, 0);
		pb_env_put_u32(m + PB_ENV_HEADER, (uint32_t)n);
		for (k = 0; k < n; k++)
			pb_env_put_u32(m + PB_ENV_HEADER + 4 +
					       k * PB_ENV_GONE_ENTRY,
				       lk->lk_gone_out[i + k]);
		(void)pb_nats_publish(lk->lk_env->le_nats, lk->lk_ctl_subject,
				      m, len);
		free(m);
		i += n;
	}
	lk->lk_ngone_out = 0;
}

static void link_note_gone(struct pb_link *lk, uint32_t id)
{
	size_t i;

	for (i = 0; i < lk->lk_ngone_out; i++)
		if (lk->lk_gone_out[i] == id)
			return;
	if (lk->lk_ngone_out == lk->lk_gone_out_cap) {
		size_t cap = lk->lk_gone_out_cap ? lk->lk_gone_out_cap * 2 : 16;
		uint32_t *g = realloc(lk->lk_gone_out, cap * sizeof(*g));

		if (g == NULL)
			return;
		lk->lk_gone_out = g;
		lk->lk_gone_out_cap = cap;
	}
	lk->lk_gone_out[lk->lk_ngone_out++] = id;
}

/* Bytes of the node's frames for dest that wait in the waiting room. */
static size_t link_parked(struct pb_link *lk, uint32_t dest)
{
	struct pb_park *pk = &lk->lk_in->cl_conn.cn_park;
	long i = pb_park_find(pk, dest);

	return i >= 0 ? pb_outbox_len(&pk->pk_lanes[i].pl_frames) : 0;
}

/* Recomputes what the node's frames for dest have consumed. */
static void link_recredit(struct pb_link *lk, uint32_t dest,
			  struct link_credit *lc)
{
	size_t parked = link_parked(lk, dest);
	/* Frames of a former session may still wait: never below 0, and
	 * never back. */
	uint64_t consumed = lc->lc_recvd > parked ? lc->lc_recvd - parked : 0;

	lc->lc_parked = parked > 0;
	if (consumed > lc->lc_consumed) {
		lc->lc_consumed = consumed;
		lc->lc_dirty = true;
		lk->lk_ack_due = true;
	}
}

static struct link_credit *link_credit(struct pb_link *lk, uint32_t dest)
{
	struct link_credit *lc = pb_idmap_get(&lk->lk_credits, dest);

	if (lc != NULL)
		return lc;
	lc = calloc(1, sizeof(*lc));
	if (lc != NULL && pb_idmap_put(&lk->lk_credits, dest, lc) < 0) {
		free(lc);
		lc = NULL;
	}
	return lc;
}

/* Hands one entry's frames to the engine, as the node's sender. */
static void link_deliver(struct pb_link *lk, uint32_t dest,
			 const unsigned char *p, size_t len)
{
	struct pb_registry *reg = lk->lk_env->le_reg;
	struct pb_engine_turn t = {.et_engine = link_engine(lk),
				   .et_sender = &lk->lk_in->cl_conn};
	struct iovec iov[PB_LINK_DELIVER];
	const unsigned char *end = p + len;
	struct link_credit *lc;

	if (!pb_registry_local(reg, dest)) {
		/* Not ours to route on: counted, never relayed. */
		link_note_gone(lk, dest);
		pb_stats_add(PB_STAT_DROP_UNKNOWN, pb_env_frames(p, len));
		goto credit;
	}
	/* Found through the sender's cache, which the engine's delivery
	 * below then finds it in; nobody: the engine counts the frames, and
	 * the node is told if the id is gone for good (not if it is only
	 * not given yet). */
	if (t.et_engine->en_ops->eo_find(t.et_sender, dest) == NULL &&
	    pb_registry_given(reg, dest))
		link_note_gone(lk, dest);
	while (p < end) {
		size_t n = 0;

		while (p < end && n < PB_LINK_DELIVER) {
			const unsigned char *z =
				memchr(p, 0, (size_t)(end - p));

			iov[n].iov_base = (void *)(uintptr_t)p;
			iov[n].iov_len = (size_t)(z - p) + 1;
			p = z + 1;
			n++;
		}
		pb_engine_deliver(&t, dest, iov, n);
	}
credit:
	lc = link_credit(lk, dest);
	if (lc != NULL) {
		lc->lc_recvd += len;
		link_recredit(lk, dest, lc);
	}
}

static void link_free_credit(void *arg, uint32_t id, void *val)
{
	(void)arg;
	(void)id;
	free(val);
}

/* Forgets the credit of a receiving session that ended. */
static void link_clear_credits(struct pb_link *lk)
{
	pb_idmap_each(&lk->lk_credits, link_free_credit, NULL);
	pb_idmap_free(&lk->lk_credits);
}

/* A control message without entries for the node's session 'epoch':
 * a NAK (what follows cum is missing) or ENDED (nothing after cum will
 * be taken). */
static void link_send_mark(struct pb_link *lk, enum pb_env_type type,
			   uint64_t epoch, uint64_t cum)
{
	unsigned char m[PB_ENV_HEADER + 4];

	link_header(lk, m, type, lk->lk_env->le_epoch, epoch, cum);
	pb_env_put_u32(m + PB_ENV_HEADER, 0);
	(void)pb_nats_publish(lk->lk_env->le_nats, lk->lk_ctl_subject, m,
			      sizeof(m));
}

static void link_send_nak(struct pb_link *lk, uint64_t epoch, uint64_t cum)
{
	link_send_mark(lk, PB_ENV_NAK, epoch, cum);
}

/* The former receiving session's last word, if it is still to be said. */
static void link_send_ended(struct pb_link *lk)
{
	if (lk->lk_ended_left == 0)
		return;
	lk->lk_ended_left--;
	link_send_mark(lk, PB_ENV_ENDED, lk->lk_ended_epoch, lk->lk_ended_cum);
}

/* A batch of the node's, in order or not. */
static void link_data(struct pb_link *lk, const struct pb_env_header *h,
		      const unsigned char *m, size_t len)
{
	struct pb_env_iter it;
	struct pb_env_entry e;
	size_t frames = 0;

	if (h->eh_dst_epoch != lk->lk_env->le_epoch) {
		/* Meant for this node's former process. */
		pb_stats_add(PB_STAT_NODE_MSG_BAD, 1);
		return;
	}
	if (h->eh_src_epoch != lk->lk_rx_epoch) {
		/* A new session of the node's starts at batch 1 (and only
		 * then: a late batch of a former one must not end it). */
		if (h->eh_seq != 1) {
			pb_stats_add(PB_STAT_NODE_MSG_BAD, 1);
			link_send_nak(lk, h->eh_src_epoch, 0);
			return;
		}
		/* The former session's last word, so that the node counts
		 * what it sent before going down (link_limbo_end). */
		if (lk->lk_rx_epoch != 0) {
			lk->lk_ended_epoch = lk->lk_rx_epoch;
			lk->lk_ended_cum = lk->lk_expect - 1;
			lk->lk_ended_left = PB_LINK_ENDED_MAX;
			link_send_ended(lk);
		}
		lk->lk_rx_epoch = h->eh_src_epoch;
		lk->lk_expect = 1;
		link_clear_credits(lk);
	}
	lk->lk_ack_due = true;
	if (h->eh_seq != lk->lk_expect) {
		/* A repeat (harmless: acknowledged again) or a gap. */
		if (h->eh_seq > lk->lk_expect) {
			pb_stats_add(PB_STAT_NODE_MSG_BAD, 1);
			link_send_nak(lk, lk->lk_rx_epoch, lk->lk_expect - 1);
		}
		return;
	}
	lk->lk_expect++;
	pb_env_iter_init(&it, m, len);
	while (pb_env_next(&it, PB_ENV_DATA, &e)) {
		size_t n = pb_env_frames(e.ee_data, e.ee_len);

		frames += n;
		pb_stats_add(PB_STAT_RECEIVED_REMOTE, n);
		link_deliver(lk, e.ee_dest, e.ee_data, e.ee_len);
	}
	link_stat_add(&lk->st_frames_received, frames);
	link_stat_add(&lk->st_bytes_received, len);
}

/* An acknowledgement and credit, for this session of ours. */
static void link_ack(struct pb_link *lk, const struct pb_env_header *h,
		     const unsigned char *m, size_t len, uint64_t now)
{
	struct pb_env_iter it;
	struct pb_env_entry e;

	if (h->eh_dst_epoch == lk->lk_limbo_epoch && lk->lk_nlimbo > 0) {
		/* The session that went down: its last word counts; until
		 * then, what it says it had (acknowledgements late, or said
		 * before it learns of the new session) surely arrived. */
		if (h->eh_type == PB_ENV_ENDED)
			link_limbo_end(lk, h->eh_seq);
		else if (h->eh_seq > lk->lk_limbo_cum)
			lk->lk_limbo_cum = h->eh_seq;
		return;
	}
	if (h->eh_dst_epoch != lk->lk_tx_epoch)
		return; /* for a session that ended */
	link_acked(lk, h->eh_seq, now);
	if (h->eh_type == PB_ENV_NAK && lk->lk_unacked != NULL &&
	    now - lk->lk_resent_ms >= PB_LINK_NAK_MS)
		link_resend(lk, now, true); /* it lacks the first we hold */
	pb_env_iter_init(&it, m, len);
	while (pb_env_next(&it, PB_ENV_ACK, &e)) {
		struct pb_client *c;

		pthread_mutex_lock(&lk->lk_lock);
		c = pb_idmap_get(&lk->lk_proxies, e.ee_dest);
		pthread_mutex_unlock(&lk->lk_lock);
		if (c == NULL || e.ee_consumed <= c->cl_consumed ||
		    e.ee_consumed > c->cl_sent)
			continue;
		lk->lk_outstanding -= (size_t)(e.ee_consumed - c->cl_consumed);
		c->cl_consumed = e.ee_consumed;
	}
}

/* Ids the node says are no client of its: their stand-ins go. */
static void link_gone(struct pb_link *lk, const struct pb_env_header *h,
		      const unsigned char *m, size_t len)
{
	struct pb_env_iter it;
	struct pb_env_entry e;

	if (h->eh_src_epoch != lk->lk_peer_epoch)
		return;
	pb_env_iter_init(&it, m, len);
	while (pb_env_next(&it, PB_ENV_GONE, &e)) {
		struct pb_client *c;

		pthread_mutex_lock(&lk->lk_lock);
		lk->lk_gone[lk->lk_gone_next] = e.ee_dest;
		lk->lk_gone_next = (lk->lk_gone_next + 1) % PB_LINK_GONE;
		if (lk->lk_ngone < PB_LINK_GONE)
			lk->lk_ngone++;
		c = pb_idmap_del(&lk->lk_proxies, e.ee_dest);
		pthread_mutex_unlock(&lk->lk_lock);
		log_info("link %u: client %u is gone, says its node: frames "
			 "for it dropped (unknown destination)",
			 lk->lk_node, e.ee_dest);
		if (c != NULL)
			(void)link_proxy_drop(lk, c, PB_LEAVE_GONE);
	}
}

static void link_message(struct pb_link *lk, const unsigned char *m, size_t len,
			 uint64_t now)
{
	struct pb_env_header h;

	/* Checked whole by pb_link_post's caller. */
	(void)pb_env_get_header(m, len, &h);
	if (h.eh_type == PB_ENV_HELLO) {
		link_hello(lk, &h, m + PB_ENV_HEADER, now);
		return;
	}
	if (h.eh_src_epoch != lk->lk_peer_epoch && h.eh_type != PB_ENV_DATA) {
		pb_stats_add(PB_STAT_NODE_MSG_BAD, 1);
		return;
	}
	link_heard(lk, now);
	if (h.eh_type == PB_ENV_DATA)
		link_data(lk, &h, m, len);
	else if (h.eh_type == PB_ENV_ACK || h.eh_type == PB_ENV_NAK ||
		 h.eh_type == PB_ENV_ENDED)
		link_ack(lk, &h, m, len, now);
	else
		link_gone(lk, &h, m, len);
}

/* ---- acknowledging ---- */

struct link_ack_build {
	struct pb_link *ab_lk;
	unsigned char *ab_msg;
	size_t ab_n;
	bool ab_all;
};

static void link_ack_flush(struct link_ack_build *ab)
{
	struct pb_link *lk = ab->ab_lk;
	size_t len = PB_ENV_HEADER + 4 + ab->ab_n * PB_ENV_ACK_ENTRY;

	link_header(lk, ab->ab_msg, PB_ENV_ACK, lk->lk_env->le_epoch,
		    lk->lk_rx_epoch, lk->lk_expect - 1);
	pb_env_put_u32(ab->ab_msg + PB_ENV_HEADER, (uint32_t)ab->ab_n);
	(void)pb_nats_publish(lk->lk_env->le_nats, lk->lk_ctl_subject,
			      ab->ab_msg, len);
	ab->ab_n = 0;
}

static void link_ack_entry(void *arg, uint32_t id, void *val)
{
	struct link_ack_build *ab = arg;
	struct link_credit *lc = val;
	unsigned char *p;

	if (!lc->lc_dirty && !ab->ab_all)
		return;
	lc->lc_dirty = false;
	p = ab->ab_msg + PB_ENV_HEADER + 4 + ab->ab_n * PB_ENV_ACK_ENTRY;
	pb_env_put_u32(p, id);
	pb_env_put_u64(p + 4, lc->lc_consumed);
	if (++ab->ab_n == PB_LINK_ACK_MAX)
		link_ack_flush(ab);
}

/* Acknowledges what came in order, with the credit that changed (or all
 * of it: a lost ACK is made good within a second). */
static void link_send_ack(struct pb_link *lk, bool all, uint64_t now)
{
	struct link_ack_build ab = {.ab_lk = lk, .ab_all = all};

	ab.ab_msg =
		malloc(PB_ENV_HEADER + 4 + PB_LINK_ACK_MAX * PB_ENV_ACK_ENTRY);
	if (ab.ab_msg == NULL)
		return; /* the next round tries again */
	pb_idmap_each(&lk->lk_credits, link_ack_entry, &ab);
	link_ack_flush(&ab);
	free(ab.ab_msg);
	lk->lk_ack_due = false;
	if (all)
		lk->lk_full_ms = now;
}

static void link_recredit_one(void *arg, uint32_t id, void *val)
{
	struct link_credit *lc = val;

	if (lc->lc_parked)
		link_recredit(arg, id, lc);
}

/* ---- the thread ---- */

static struct link_msg *link_take_inbox(struct pb_link *lk, bool *stop)
{
	struct link_msg *m;

	pthread_mutex_lock(&lk->lk_lock);
	m = lk->lk_inbox;
	lk->lk_inbox = NULL;
	lk->lk_inbox_tail = &lk->lk_inbox;
	lk->lk_inbox_bytes = 0;
	*stop = lk->lk_stop;
	pthread_mutex_unlock(&lk->lk_lock);
	return m;
}

/* How long batches in limbo wait, once the node is heard again, for its
 * word on them: its ENDED is said once a second, ten times (one of them
 * comes through, however many NATS loses), and a loaded node may take
 * its time. Only the counting waits. */
static uint64_t link_limbo_ms(const struct pb_link *lk)
{
	return lk->lk_env->le_link_ms > PB_LINK_LIMBO_MS
		       ? lk->lk_env->le_link_ms
		       : PB_LINK_LIMBO_MS;
}

/* The link's timers: down, send again, acknowledge in full. */
static void link_timers(struct pb_link *lk, uint64_t now)
{
	unsigned long limit = lk->lk_env->le_link_ms;
	uint64_t heard = link_since(now, lk->lk_heard_ms);
	uint64_t stuck = link_since(now, lk->lk_progress_ms);

	if (pb_link_up(lk) && heard >= limit)
		link_down(lk, "not heard", heard, now);
	else if (pb_link_up(lk) && lk->lk_unacked != NULL && stuck >= limit)
		link_down(lk, "nothing acknowledged", stuck, now);
	else if (lk->lk_unacked != NULL && stuck >= PB_LINK_RESEND_MS &&
		 link_since(now, lk->lk_resent_ms) >= lk->lk_rto_ms)
		link_resend_timeout(lk, now, heard);
	/* Heard again, and no answer about them: they are lost. */
	if (lk->lk_nlimbo > 0 && pb_link_up(lk) &&
	    link_since(now, lk->lk_limbo_ms) >= link_limbo_ms(lk))
		link_limbo_end(lk, 0);
	/* Once a second, whatever the partial ACKs between: one of those
	 * lost is made good here, and so is a lost ENDED. */
	if (lk->lk_rx_epoch != 0 &&
	    link_since(now, lk->lk_full_ms) >= PB_LINK_ACK_MS) {
		link_send_ack(lk, true, now);
		link_send_ended(lk);
	}
}

static int link_poll_ms(struct pb_link *lk)
{
	return lk->lk_unacked != NULL || lk->lk_nblocked > 0 ? 50 : 250;
}

/* One round: what came in, what the waiting room can move, what the
 * stand-ins hold, the timers. False when the link must end. */
static bool link_round(struct pb_link *lk)
{
	struct pb_engine *en = link_engine(lk);
	struct pb_conn *in = &lk->lk_in->cl_conn;
	struct link_msg *m;
	uint64_t now;
	bool stop, woken;

	/* A hand-over's safe point (handover.h): between two rounds, the
	 * batch being filled is published, and nothing is half delivered. */
	if (pb_registry_freezing(lk->lk_env->le_reg))
		pb_registry_frozen(lk->lk_env->le_reg);
	(void)pb_wake_poll(&lk->lk_in->cl_wake, NULL, 0, link_poll_ms(lk));
	/* Consumed before looking: a wake-up after this is for the next
	 * round, never lost. */
	woken = pb_wake_consume(&lk->lk_in->cl_wake);
	now = pb_now_ms();
	m = link_take_inbox(lk, &stop);
	if (stop) {
		while (m != NULL) {
			struct link_msg *next = m->lm_next;

			free(m);
			m = next;
		}
		return false;
	}
	while (m != NULL) {
		struct link_msg *next = m->lm_next;

		link_message(lk, m->lm_data, m->lm_len, now);
		free(m);
		m = next;
	}
	if (woken && pb_park_bytes(&in->cn_park) > 0) {
		pb_engine_retry(en, in);
		pb_idmap_each(&lk->lk_credits, link_recredit_one, lk);
	}
	if (pb_link_up(lk))
		link_flush(lk);
	/* The flush stamps the batches it publishes with a later clock than
	 * the round's start; the timers subtract those stamps from now. */
	now = pb_now_ms();
	link_timers(lk, now);
	if (lk->lk_ack_due)
		link_send_ack(lk, false, now);
	if (lk->lk_ngone_out > 0)
		link_send_gone(lk);
	link_stat_set(&lk->st_outstanding, lk->lk_outstanding);
	return true;
}

static void *link_thread(void *arg)
{
	struct pb_link *lk = arg;

	link_self = lk;
	pb_wake_attach(&lk->lk_in->cl_wake);
	pb_registry_serve_begin(lk->lk_env->le_reg, lk->lk_in);
	while (link_round(lk))
		;
	pb_registry_serve_end(lk->lk_env->le_reg, lk->lk_in);
	pb_wake_detach(&lk->lk_in->cl_wake);
	(void)link_reset_tx(lk, PB_LEAVE_SHUTDOWN);
	link_limbo_end(lk, 0);
	pb_engine_release(link_engine(lk), &lk->lk_in->cl_conn);
	pb_deliver_release(lk->lk_in);
	return NULL;
}

/* ---- life ---- */

/* A link to node with nothing sent or received yet, its thread not
 * started; NULL with errno. */
static struct pb_link *link_alloc(const struct pb_link_env *env, uint16_t node)
{
	struct pb_link *lk = calloc(1, sizeof(*lk));
	struct pb_conn_env cenv;

	if (lk == NULL)
		return NULL;
	lk->lk_env = env;
	lk->lk_node = node;
	snprintf(lk->lk_data_subject, sizeof(lk->lk_data_subject), "%s.d.%u",
		 env->le_prefix, node);
	snprintf(lk->lk_ctl_subject, sizeof(lk->lk_ctl_subject), "%s.c.%u",
		 env->le_prefix, node);
	lk->lk_buf = malloc(env->le_batch_max);
	pb_registry_client_env(env->le_reg, &cenv);
	lk->lk_in = pb_client_new(env->le_reg, &cenv, UINT32_MAX, -1, "");
	if (lk->lk_buf == NULL || lk->lk_in == NULL) {
		free(lk->lk_buf);
		if (lk->lk_in != NULL)
			pb_client_unref(lk->lk_in);
		free(lk);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(lk->lk_in->cl_conn.cn_addr, sizeof(lk->lk_in->cl_conn.cn_addr),
		 "node %u", node);
	lk->lk_in->cl_ingress = true;
	pb_conn_set_state(&lk->lk_in->cl_conn, PB_CONN_OPEN);
	pthread_mutex_init(&lk->lk_lock, NULL);
	lk->lk_inbox_tail = &lk->lk_inbox;
	lk->lk_unacked_tail = &lk->lk_unacked;
	pb_idmap_init(&lk->lk_proxies);
	pb_idmap_init(&lk->lk_credits);
	atomic_init(&lk->lk_up, false);
	lk->lk_tx_epoch = link_random();
	lk->lk_next_seq = 1;
	lk->lk_rto_ms = PB_LINK_RESEND_MS;
	lk->lk_heard_ms = pb_now_ms();
	link_batch_reset(lk);
	return lk;
}

static void link_free_state(struct pb_link *lk);

/* Starts lk's thread: lk, or NULL with errno (lk freed). */
static struct pb_link *link_start(struct pb_link *lk)
{
	int rc;

	pb_registry_starting(lk->lk_env->le_reg, true);
	rc = pthread_create(&lk->lk_thread, NULL, link_thread, lk);
	if (rc == 0)
		return lk;
	pb_registry_starting(lk->lk_env->le_reg, false);
	lk->lk_stop = true;
	link_free_state(lk);
	errno = rc;
	return NULL;
}

struct pb_link *pb_link_new(const struct pb_link_env *env, uint16_t node)
{
	struct pb_link *lk = link_alloc(env, node);

	return lk != NULL ? link_start(lk) : NULL;
}

void pb_link_post(struct pb_link *lk, const unsigned char *data, size_t len)
{
	struct link_msg *m = malloc(sizeof(*m) + len);
	bool over;

	if (m == NULL) {
		pb_stats_add(PB_STAT_NODE_MSG_BAD, 1);
		return;
	}
	m->lm_next = NULL;
	m->lm_len = len;
	memcpy(m->lm_data, data, len);
	pthread_mutex_lock(&lk->lk_lock);
	/* The node sends at most the credit we grant; more is not ours. */
	over = lk->lk_inbox_bytes > 2 * lk->lk_env->le_reg->rg_opts->op_park +
					    4 * lk->lk_env->le_batch_max;
	if (!over) {
		*lk->lk_inbox_tail = m;
		lk->lk_inbox_tail = &m->lm_next;
		lk->lk_inbox_bytes += len;
	}
	pthread_mutex_unlock(&lk->lk_lock);
	if (over) {
		free(m);
		pb_stats_add(PB_STAT_NODE_MSG_BAD, 1);
		return;
	}
	pb_wake_signal(&lk->lk_in->cl_wake);
}

bool pb_link_up(struct pb_link *lk)
{
	return atomic_load_explicit(&lk->lk_up, memory_order_acquire);
}

void pb_link_stats(struct pb_link *lk, struct pb_link_stats *st)
{
	st->ls_up = pb_link_up(lk);
	st->ls_frames_sent = atomic_load(&lk->st_frames_sent);
	st->ls_bytes_sent = atomic_load(&lk->st_bytes_sent);
	st->ls_frames_received = atomic_load(&lk->st_frames_received);
	st->ls_bytes_received = atomic_load(&lk->st_bytes_received);
	st->ls_retransmits = atomic_load(&lk->st_retransmits);
	st->ls_unacked = atomic_load(&lk->st_unacked);
	st->ls_outstanding = atomic_load(&lk->st_outstanding);
	st->ls_rtt_us = atomic_load(&lk->st_rtt_us);
	st->ls_downs = atomic_load(&lk->st_downs);
}

void pb_link_free(struct pb_link *lk)
{
	pthread_mutex_lock(&lk->lk_lock);
	lk->lk_stop = true;
	pthread_mutex_unlock(&lk->lk_lock);
	pb_wake_signal(&lk->lk_in->cl_wake);
	pthread_join(lk->lk_thread, NULL);
	link_free_state(lk);
}

/* Frees what lk holds, its thread ended or never started. */
static void link_free_state(struct pb_link *lk)
{
	while (lk->lk_ndirty > 0)
		pb_client_unref(lk->lk_dirty[--lk->lk_ndirty]);
	link_clear_credits(lk);
	pb_idmap_free(&lk->lk_proxies);
	free(lk->lk_dirty);
	free(lk->lk_blocked);
	free(lk->lk_gone_out);
	free(lk->lk_buf);
	pthread_mutex_destroy(&lk->lk_lock);
	pb_client_unref(lk->lk_in);
	free(lk);
}

/* ---- hand-over ----
 *
 * A LINK section (handover.h): the node (u32), its process's epoch
 * (u64); sending: the session (u64), the next batch's number (u64), the
 * credit in use (u64), the batches not acknowledged (u32 n; each its
 * number and frames (u64) and bytes), the stand-ins (u32 n; each its id
 * (u32), bytes taken and moved on (u64) and outbox); receiving: the
 * node's session and the next batch expected (u64), the credit kept
 * (u32 n; each the destination (u32), bytes received and moved on
 * (u64)), and the waiting room of the node's frames (u32 n; each the
 * destination (u32) and frames). Appended since (a reader without them
 * skips them; one that finds them missing does without): the credit the
 * node's heartbeats gave, per destination and in all (u64, u64), so that
 * sending goes on before its next heartbeat.
 */

static void link_put_proxy(void *arg, uint32_t id, void *val)
{
	struct pb_blob *b = arg;
	struct pb_client *c = val;

	pb_blob_u32(b, id);
	pb_blob_u64(b, c->cl_sent);
	pb_blob_u64(b, c->cl_consumed);
	pthread_mutex_lock(&c->cl_lock);
	(void)pb_handover_put_queue(b, &c->cl_conn.cn_outbox);
	pthread_mutex_unlock(&c->cl_lock);
}

static void link_put_credit(void *arg, uint32_t id, void *val)
{
	struct pb_blob *b = arg;
	const struct link_credit *lc = val;

	pb_blob_u32(b, id);
	pb_blob_u64(b, lc->lc_recvd);
	pb_blob_u64(b, lc->lc_consumed);
}

void pb_link_handover_write(struct pb_link *lk, struct pb_blob *b)
{
	const struct pb_park *pk = &lk->lk_in->cl_conn.cn_park;
	size_t at = pb_blob_begin(b, PB_HO_LINK), i;
	struct link_batch *lb;
	uint32_t n = 0;

	/* What a session that went down may have delivered is not known
	 * by the next process: counted now, as when it goes unanswered. */
	link_limbo_end(lk, 0);
	pb_blob_u32(b, lk->lk_node);
	pb_blob_u64(b, lk->lk_peer_epoch);
	pb_blob_u64(b, lk->lk_tx_epoch);
	pb_blob_u64(b, lk->lk_next_seq);
	pb_blob_u64(b, lk->lk_outstanding);
	for (lb = lk->lk_unacked; lb != NULL; lb = lb->lb_next)
		n++;
	pb_blob_u32(b, n);
	for (lb = lk->lk_unacked; lb != NULL; lb = lb->lb_next) {
		pb_blob_u64(b, lb->lb_seq);
		pb_blob_u64(b, lb->lb_frames);
		pb_blob_bytes(b, lb->lb_data, lb->lb_len);
	}
	pthread_mutex_lock(&lk->lk_lock);
	pb_blob_u32(b, (uint32_t)lk->lk_proxies.im_n);
	pb_idmap_each(&lk->lk_proxies, link_put_proxy, b);
	pthread_mutex_unlock(&lk->lk_lock);
	pb_blob_u64(b, lk->lk_rx_epoch);
	pb_blob_u64(b, lk->lk_expect);
	pb_blob_u32(b, (uint32_t)lk->lk_credits.im_n);
	pb_idmap_each(&lk->lk_credits, link_put_credit, b);
	pb_blob_u32(b, (uint32_t)pk->pk_nlanes);
	for (i = 0; i < pk->pk_nlanes; i++) {
		pb_blob_u32(b, pk->pk_lanes[i].pl_dest);
		(void)pb_handover_put_queue(b, &pk->pk_lanes[i].pl_frames);
	}
	pb_blob_u64(b, lk->lk_credit_dest);
	pb_blob_u64(b, lk->lk_credit_link);
	pb_blob_end(b, at);
}

/* Reads a LINK section after its node; with lk, rebuilds it as well.
 * False if the section is malformed (lk may then hold part of it). */
static bool link_take(struct pb_blob_reader *r, struct pb_link *lk)
{
	struct pb_registry *reg = lk != NULL ? lk->lk_env->le_reg : NULL;
	uint64_t peer = pb_blob_get_u64(r), tx = pb_blob_get_u64(r);
	uint64_t next = pb_blob_get_u64(r), out = pb_blob_get_u64(r);
	uint32_t n, i;

	if (lk != NULL) {
		lk->lk_peer_epoch = peer;
		lk->lk_tx_epoch = tx;
		lk->lk_next_seq = next;
		lk->lk_outstanding = (size_t)out;
	}
	n = pb_blob_get_u32(r);
	for (i = 0; i < n && !pb_blob_bad(r); i++) {
		uint64_t seq = pb_blob_get_u64(r), frames = pb_blob_get_u64(r);
		const char *p;
		size_t len;
		struct link_batch *lb;

		pb_blob_get_bytes(r, &p, &len);
		if (lk == NULL || pb_blob_bad(r))
			continue;
		lb = malloc(sizeof(*lb) + len);
		if (lb == NULL)
			return false;
		*lb = (struct link_batch){.lb_seq = seq,
					  .lb_frames = (size_t)frames,
					  .lb_len = len};
		memcpy(lb->lb_data, p, len);
		pb_budget_charge(&reg->rg_budget, len);
		link_stat_add(&lk->st_unacked, len);
		*lk->lk_unacked_tail = lb;
		lk->lk_unacked_tail = &lb->lb_next;
	}
	n = pb_blob_get_u32(r);
	for (i = 0; i < n && !pb_blob_bad(r); i++) {
		uint32_t id = pb_blob_get_u32(r);
		uint64_t sent = pb_blob_get_u64(r), moved = pb_blob_get_u64(r);
		const char *p;
		size_t len;
		struct pb_client *c;

		pb_blob_get_bytes(r, &p, &len);
		if (lk == NULL || pb_blob_bad(r))
			continue;
		c = pb_link_find(lk, id); /* the link is up */
		if (c == NULL ||
		    (len > 0 &&
		     pb_outbox_restore(&c->cl_conn.cn_outbox, p, len) < 0)) {
			if (c != NULL)
				pb_client_unref(c);
			return false;
		}
		c->cl_sent = sent;
		c->cl_consumed = moved;
		pb_conn_outbox_changed(&c->cl_conn, true, pb_now_ms());
		pb_client_unref(c);
	}
	tx = pb_blob_get_u64(r);
	next = pb_blob_get_u64(r);
	if (lk != NULL) {
		lk->lk_rx_epoch = tx;
		lk->lk_expect = next;
	}
	n = pb_blob_get_u32(r);
	for (i = 0; i < n && !pb_blob_bad(r); i++) {
		uint32_t dest = pb_blob_get_u32(r);
		uint64_t recvd = pb_blob_get_u64(r), moved = pb_blob_get_u64(r);
		struct link_credit *lc;

		if (lk == NULL || pb_blob_bad(r))
			continue;
		lc = link_credit(lk, dest);
		if (lc == NULL)
			return false;
		lc->lc_recvd = recvd;
		lc->lc_consumed = moved;
		lc->lc_dirty = true;
	}
	n = pb_blob_get_u32(r);
	for (i = 0; i < n && !pb_blob_bad(r); i++) {
		uint32_t dest = pb_blob_get_u32(r);
		const char *p;
		size_t len;

		pb_blob_get_bytes(r, &p, &len);
		if (lk != NULL && !pb_blob_bad(r) &&
		    pb_park_restore(&lk->lk_in->cl_conn.cn_park, dest, p, len) <
			    0)
			return false;
	}
	if (pb_blob_more(r)) {
		uint64_t dest = pb_blob_get_u64(r), all = pb_blob_get_u64(r);

		/* Never above what this node's own options allow, as from
		 * a heartbeat (link_hello): a state is not trusted further. */
		if (lk != NULL && !pb_blob_bad(r)) {
			const struct pb_options *op =
				lk->lk_env->le_reg->rg_opts;

			lk->lk_credit_dest = dest < op->op_outbox
						     ? (size_t)dest
						     : op->op_outbox;
			lk->lk_credit_link =
				all < op->op_park ? (size_t)all : op->op_park;
		}
	}
	return !pb_blob_bad(r);
}

bool pb_link_handover_check(struct pb_blob_reader sec, uint16_t *node)
{
	*node = (uint16_t)pb_blob_get_u32(&sec);
	return link_take(&sec, NULL);
}

struct pb_link *pb_link_restore(const struct pb_link_env *env,
				struct pb_blob_reader sec)
{
	uint16_t node = (uint16_t)pb_blob_get_u32(&sec);
	struct pb_link *lk = link_alloc(env, node);
	uint64_t now = pb_now_ms();

	if (lk == NULL)
		return NULL;
	/* Up, as it was: the node hears from us within a heartbeat. */
	atomic_store(&lk->lk_up, true);
	if (!link_take(&sec, lk))
		log_warnx("link %u: its state could not all be rebuilt", node);
	lk->lk_dirty_lost = true; /* every stand-in flushed */
	lk->lk_ack_due = true;
	lk->lk_heard_ms = lk->lk_progress_ms = now;
	lk->lk_resent_ms = 0; /* what is unacknowledged goes again now */
	if (lk->lk_unacked != NULL)
		lk->lk_progress_ms = now - PB_LINK_RESEND_MS;
	pb_wake_signal(&lk->lk_in->cl_wake); /* its waiting room retried */
	return link_start(lk);
}

void pb_link_rewait(struct pb_link *lk)
{
	pb_handover_rewait(lk->lk_env->le_reg, &lk->lk_in->cl_conn.cn_park);
}
