/* SPDX-License-Identifier: ISC */
/*
 * handover.c: writing the clients' state for the next process, and
 * rebuilding them from it (see handover.h).
 *
 * GLOBAL: ids handed out (u64), when the pause began (u64, monotonic
 * ms), the counters (u32 n, then n u64 in stat.h's order, which only
 * grows at its end). CLIENT: id (u32), state (u32: NEW, OPEN or
 * LINGERING), why it left (u32), its socket's index (u32, none:
 * UINT32_MAX), address, read buffer and outbox (byte strings), lanes
 * (u32 n, then per lane the destination (u32) and its frames (a byte
 * string)). Fields a later format adds go at the end of a section.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "handover.h"
#include "log.h"
#include "session.h"
#include "stats.h"

#define HO_NO_FD UINT32_MAX

void pb_handover_out_init(struct pb_handover_out *out)
{
	memset(out, 0, sizeof(*out));
	pb_blob_init(&out->ho_blob);
}

void pb_handover_out_free(struct pb_handover_out *out)
{
	pb_blob_free(&out->ho_blob);
	free(out->ho_fds);
	memset(out, 0, sizeof(*out));
}

uint32_t pb_handover_add_fd(struct pb_handover_out *out, int fd)
{
	if (out->ho_nfds == out->ho_cap) {
		size_t cap = out->ho_cap ? out->ho_cap * 2 : 256;
		int *p = realloc(out->ho_fds, cap * sizeof(*p));

		if (p == NULL) {
			out->ho_failed = true;
			return HO_NO_FD;
		}
		out->ho_fds = p;
		out->ho_cap = cap;
	}
	out->ho_fds[out->ho_nfds] = fd;
	return (uint32_t)out->ho_nfds++;
}

size_t pb_handover_put_queue(struct pb_blob *b, const struct pb_outbox *ob)
{
	struct iovec iov[2] = {{0}};
	int n = pb_outbox_peek(ob, iov);

	pb_blob_bytes2(b, iov[0].iov_base, n > 0 ? iov[0].iov_len : 0,
		       iov[1].iov_base, n > 1 ? iov[1].iov_len : 0);
	return pb_outbox_len(ob);
}

static void handover_put_client(struct pb_client *c, void *arg)
{
	struct pb_handover_out *out = arg;
	struct pb_blob *b = &out->ho_blob;
	struct pb_conn *cn = &c->cl_conn;
	enum pb_conn_state st = pb_conn_state(cn);
	size_t at, i;

	if (c->cl_ingress || (st != PB_CONN_NEW && st != PB_CONN_OPEN &&
			      st != PB_CONN_LINGERING))
		return; /* its link's; cut and done ones left at their safe
			   point */
	at = pb_blob_begin(b, PB_HO_CLIENT);
	pb_blob_u32(b, cn->cn_id);
	pb_blob_u32(b, (uint32_t)st);
	pb_blob_u32(b, (uint32_t)cn->cn_why);
	pb_blob_u32(b, st != PB_CONN_LINGERING && c->cl_fd >= 0
			       ? pb_handover_add_fd(out, c->cl_fd)
			       : HO_NO_FD);
	pb_blob_bytes(b, cn->cn_addr, strlen(cn->cn_addr));
	pb_blob_bytes(b, cn->cn_rbuf.rb_data, cn->cn_rbuf.rb_len);
	pthread_mutex_lock(&c->cl_lock);
	out->ho_bytes += pb_handover_put_queue(b, &cn->cn_outbox);
	pthread_mutex_unlock(&c->cl_lock);
	out->ho_bytes += cn->cn_rbuf.rb_len;
	pb_blob_u32(b, (uint32_t)cn->cn_park.pk_nlanes);
	for (i = 0; i < cn->cn_park.pk_nlanes; i++) {
		const struct pb_park_lane *l = &cn->cn_park.pk_lanes[i];

		pb_blob_u32(b, l->pl_dest);
		out->ho_bytes += pb_handover_put_queue(b, &l->pl_frames);
	}
	pb_blob_end(b, at);
	out->ho_clients++;
}

void pb_handover_write(struct pb_registry *reg, struct pb_handover_out *out,
		       uint64_t paused_ms)
{
	struct pb_blob *b = &out->ho_blob;
	size_t at = pb_blob_begin(b, PB_HO_GLOBAL);
	uint64_t handed;
	int i;

	pthread_mutex_lock(&reg->rg_lock);
	handed = pb_table_handed(&reg->rg_table);
	pthread_mutex_unlock(&reg->rg_lock);
	pb_blob_u64(b, handed);
	pb_blob_u64(b, paused_ms);
	pb_blob_u32(b, PB_STAT_COUNT);
	for (i = 0; i < PB_STAT_COUNT; i++)
		pb_blob_u64(b, pb_stats_get((enum pb_stat)i));
	pb_blob_end(b, at);
	pb_registry_foreach_serving(reg, handover_put_client, out);
}

/* One client's record, read (pointing into the blob). */
struct handover_client {
	uint32_t hc_id;
	uint32_t hc_state;
	uint32_t hc_why;
	uint32_t hc_fd;
	const char *hc_addr, *hc_rbuf, *hc_outbox;
	size_t hc_addr_len, hc_rbuf_len, hc_outbox_len;
	uint32_t hc_nlanes;
	struct pb_blob_reader hc_lanes; /* positioned on the first lane */
};

/* Reads a CLIENT section; false if it is malformed. */
static bool handover_get_client(struct pb_blob_reader r,
				struct handover_client *hc)
{
	hc->hc_id = pb_blob_get_u32(&r);
	hc->hc_state = pb_blob_get_u32(&r);
	hc->hc_why = pb_blob_get_u32(&r);
	hc->hc_fd = pb_blob_get_u32(&r);
	pb_blob_get_bytes(&r, &hc->hc_addr, &hc->hc_addr_len);
	pb_blob_get_bytes(&r, &hc->hc_rbuf, &hc->hc_rbuf_len);
	pb_blob_get_bytes(&r, &hc->hc_outbox, &hc->hc_outbox_len);
	hc->hc_nlanes = pb_blob_get_u32(&r);
	hc->hc_lanes = r;
	if (pb_blob_bad(&r) || hc->hc_why >= PB_LEAVE_COUNT ||
	    (hc->hc_state != PB_CONN_NEW && hc->hc_state != PB_CONN_OPEN &&
	     hc->hc_state != PB_CONN_LINGERING))
		return false;
	/* A lingering client has no socket; the others have one. */
	return (hc->hc_state == PB_CONN_LINGERING) == (hc->hc_fd == HO_NO_FD);
}

/* The next lane of hc: false at the end or if it is malformed. */
static bool handover_get_lane(struct handover_client *hc, uint32_t *dest,
			      const char **p, size_t *n)
{
	*dest = pb_blob_get_u32(&hc->hc_lanes);
	pb_blob_get_bytes(&hc->hc_lanes, p, n);
	return !pb_blob_bad(&hc->hc_lanes);
}

static bool handover_check_client(struct pb_blob_reader sec, size_t nfds,
				  uint8_t *used, struct pb_handover_info *info)
{
	struct handover_client hc;
	uint32_t i, dest;
	const char *p;
	size_t n;

	if (!handover_get_client(sec, &hc))
		return false;
	if (hc.hc_fd != HO_NO_FD && (hc.hc_fd >= nfds || used[hc.hc_fd]++))
		return false; /* not handed over, or named twice */
	if (hc.hc_fd != HO_NO_FD && hc.hc_fd + 1 > info->hi_fds)
		info->hi_fds = hc.hc_fd + 1;
	info->hi_bytes += hc.hc_rbuf_len + hc.hc_outbox_len;
	for (i = 0; i < hc.hc_nlanes; i++) {
		if (!handover_get_lane(&hc, &dest, &p, &n))
			return false;
		info->hi_bytes += n;
	}
	info->hi_clients++;
	return true;
}

int pb_handover_check(const struct pb_blob_reader *body, size_t nfds,
		      struct pb_handover_info *info, char *err, size_t errlen)
{
	struct pb_blob_reader r = *body, sec;
	uint8_t *used = calloc(nfds ? nfds : 1, 1);
	bool global = false;
	uint32_t tag;

	memset(info, 0, sizeof(*info));
	if (used == NULL) {
		snprintf(err, errlen, "no memory");
		return -1;
	}
	while (pb_blob_next(&r, &tag, &sec)) {
		if (tag == PB_HO_GLOBAL) {
			(void)pb_blob_get_u64(&sec);
			info->hi_paused_ms = pb_blob_get_u64(&sec);
			global = !pb_blob_bad(&sec);
		} else if (tag == PB_HO_CLIENT &&
			   !handover_check_client(sec, nfds, used, info)) {
			snprintf(err, errlen,
				 "client record %zu is malformed or names a "
				 "descriptor of %zu not handed over",
				 info->hi_clients + 1, nfds);
			free(used);
			return -1;
		}
	}
	free(used);
	if (pb_blob_bad(&r) || !global) {
		snprintf(err, errlen, "%s",
			 global ? "a section runs past the end"
				: "no global section");
		return -1;
	}
	return 0;
}

/* The counters and the ids of GLOBAL section r. */
static void handover_restore_global(struct pb_registry *reg,
				    struct pb_blob_reader r)
{
	uint64_t handed = pb_blob_get_u64(&r);
	uint32_t n, i;

	(void)pb_blob_get_u64(&r);
	n = pb_blob_get_u32(&r);
	for (i = 0; i < n && !pb_blob_bad(&r); i++) {
		uint64_t v = pb_blob_get_u64(&r);

		if (i < PB_STAT_COUNT && !pb_blob_bad(&r))
			pb_stats_add((enum pb_stat)i, v);
	}
	pthread_mutex_lock(&reg->rg_lock);
	if (handed > pb_table_handed(&reg->rg_table))
		pb_table_set_space(&reg->rg_table,
				   (unsigned)reg->rg_opts->op_node_bits,
				   (uint32_t)reg->rg_opts->op_node, handed);
	pthread_mutex_unlock(&reg->rg_lock);
}

/* Fills c's queues from hc; 0, or -1 without memory. */
static int handover_fill(struct pb_client *c, struct handover_client *hc)
{
	struct pb_conn *cn = &c->cl_conn;
	uint32_t i, dest;
	const char *p;
	size_t n;

	if (pb_rbuf_restore(&cn->cn_rbuf, hc->hc_rbuf, hc->hc_rbuf_len) < 0 ||
	    (hc->hc_outbox_len > 0 &&
	     pb_outbox_restore(&cn->cn_outbox, hc->hc_outbox,
			       hc->hc_outbox_len) < 0))
		return -1;
	if (hc->hc_rbuf_len > 0)
		cn->cn_rbuf.rb_frame_ms = pb_now_ms();
	for (i = 0; i < hc->hc_nlanes; i++)
		if (!handover_get_lane(hc, &dest, &p, &n) ||
		    pb_park_restore(&cn->cn_park, dest, p, n) < 0)
			return -1;
	cn->cn_why = (enum pb_leave)hc->hc_why;
	cn->cn_read_ms = cn->cn_moved_ms = pb_now_ms();
	pb_conn_outbox_changed(cn, true, pb_now_ms());
	return 0;
}

/* Makes c findable and counted, in the state it had; 0 or -1. */
static int handover_place(struct pb_registry *reg, struct pb_client *c,
			  enum pb_conn_state st)
{
	if (st == PB_CONN_LINGERING) {
		if (!pb_registry_linger(reg))
			return -1;
		pb_conn_set_state(&c->cl_conn, PB_CONN_OPEN);
		pb_conn_set_state(&c->cl_conn, PB_CONN_LINGERING);
		c->cl_restored = true;
		return 0;
	}
	pb_registry_readmit(reg, c, st == PB_CONN_NEW);
	if (st == PB_CONN_NEW)
		return 0; /* its thread publishes it, as for any new one */
	if (pb_registry_add(reg, c) < 0) {
		pb_registry_client_gone(reg, c);
		return -1;
	}
	pb_conn_set_state(&c->cl_conn, PB_CONN_OPEN);
	c->cl_restored = true;
	return 0;
}

/* One client rebuilt, not yet started; NULL (its socket closed, counted)
 * if it could not be. */
static struct pb_client *handover_client(struct pb_registry *reg,
					 struct handover_client *hc, int *fds)
{
	char addr[PB_CONN_ADDRLEN];
	struct pb_conn_env env;
	struct pb_client *c = NULL;
	int fd = hc->hc_fd != HO_NO_FD ? fds[hc->hc_fd] : -1;

	snprintf(addr, sizeof(addr), "%.*s",
		 (int)(hc->hc_addr_len < sizeof(addr) ? hc->hc_addr_len
						      : sizeof(addr) - 1),
		 hc->hc_addr);
	pb_registry_client_env(reg, &env);
	/* A socket taken already (a listener's index) is none. */
	if (hc->hc_fd == HO_NO_FD || fd >= 0)
		c = pb_client_new(reg, &env, hc->hc_id, fd, addr);
	if (c != NULL && handover_fill(c, hc) == 0 &&
	    handover_place(reg, c, (enum pb_conn_state)hc->hc_state) == 0) {
		if (fd >= 0)
			fds[hc->hc_fd] = -1;
		return c;
	}
	log_warnx("hand-over: client %u (%s) could not be rebuilt: closed",
		  hc->hc_id, addr);
	pb_stats_add(PB_STAT_DISC_RESTART, 1);
	if (c != NULL) {
		c->cl_fd = -1; /* the caller closes it */
		pb_client_unref(c);
	}
	return NULL;
}

void pb_handover_rewait(struct pb_registry *reg, const struct pb_park *pk)
{
	size_t i;

	for (i = 0; i < pk->pk_nlanes; i++) {
		uint32_t id = pk->pk_lanes[i].pl_dest;
		const struct pb_remote_ops *ro = reg->rg_remote;
		struct pb_client *d = ro != NULL && !pb_registry_local(reg, id)
					      ? ro->ro_find(ro->ro_ctx, id)
					      : pb_registry_get(reg, id);

		if (d == NULL)
			continue;
		pb_conn_waiting(
			&d->cl_conn,
			pb_outbox_count_frames(&pk->pk_lanes[i].pl_frames),
			true);
		pb_client_unref(d);
	}
}

/* c's waiting room counted by its destinations again, and retried by c's
 * thread first thing (which puts c back on their waiters). */
static void handover_rewait(struct pb_registry *reg, struct pb_client *c)
{
	pb_handover_rewait(reg, &c->cl_conn.cn_park);
	pb_wake_signal(&c->cl_wake);
}

/* Starts c's thread; false (c closed and counted) if none could start. */
static bool handover_start(struct pb_registry *reg, struct pb_client *c)
{
	if (pb_session_start(c, reg->rg_opts->op_stack) == 0)
		return true;
	log_warn("hand-over: client %u: cannot start a thread",
		 c->cl_conn.cn_id);
	pb_stats_add(PB_STAT_DISC_RESTART, 1);
	if (pb_conn_state(&c->cl_conn) == PB_CONN_LINGERING) {
		pb_registry_linger_end(reg);
	} else {
		if (c->cl_restored)
			pb_registry_remove(reg, c);
		else
			pb_registry_handshake_done(reg);
		pb_registry_client_gone(reg, c);
	}
	if (c->cl_fd >= 0)
		close(c->cl_fd);
	c->cl_fd = -1;
	pb_client_unref(c);
	return false;
}

size_t pb_handover_restore(struct pb_registry *reg,
			   const struct pb_blob_reader *body, int *fds,
			   size_t nfds)
{
	struct pb_blob_reader r = *body, sec;
	struct pb_client **all = NULL;
	size_t n = 0, cap = 0, i, started = 0;
	uint32_t tag;

	(void)nfds; /* checked by pb_handover_check */
	while (pb_blob_next(&r, &tag, &sec)) {
		struct handover_client hc;
		struct pb_client *c, **p;

		if (tag == PB_HO_GLOBAL)
			handover_restore_global(reg, sec);
		if (tag != PB_HO_CLIENT || !handover_get_client(sec, &hc))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			p = realloc(all, cap * sizeof(*p));
			if (p == NULL) {
				cap = n;
				continue; /* its socket stays the caller's */
			}
			all = p;
		}
		c = handover_client(reg, &hc, fds);
		if (c != NULL)
			all[n++] = c;
	}
	/* Every client is findable before any lane looks for its
	 * destination, and before any thread runs. */
	for (i = 0; i < n; i++)
		handover_rewait(reg, all[i]);
	for (i = 0; i < n; i++)
		started += handover_start(reg, all[i]);
	free(all);
	return started;
}
