/* SPDX-License-Identifier: ISC */
/*
 * conn.c: one client's state and life (see conn.h).
 */
#include "config.h"

#include <assert.h>
#include <string.h>

#include "conn.h"

void pb_conn_init(struct pb_conn *c, const struct pb_conn_env *env, uint32_t id,
		  const char *addr)
{
	const char *end = memchr(addr, '\0', sizeof(c->cn_addr) - 1);
	size_t len =
		end != NULL ? (size_t)(end - addr) : sizeof(c->cn_addr) - 1;

	memset(c, 0, sizeof(*c));
	c->cn_id = id;
	memcpy(c->cn_addr, addr, len); /* cut to fit, as snprintf would */
	atomic_init(&c->cn_state, PB_CONN_NEW);
	c->cn_why = PB_LEAVE_CLOSED;
	pb_outbox_init(&c->cn_outbox, env->ce_outbox, env->ce_budget);
	c->cn_outbox.ob_queued = env->ce_outbox_bytes;
	pb_waiters_init(&c->cn_waiters);
	atomic_init(&c->cn_pending, false);
	atomic_init(&c->cn_progress_ms, 0);
	atomic_init(&c->cn_waiting, 0);
	pb_park_init(&c->cn_park, env->ce_park, env->ce_park_budget);
	c->cn_park.pk_queued = env->ce_park_bytes;
	pb_rbuf_init(&c->cn_rbuf, env->ce_max_frame, env->ce_input_budget);
	pb_frame_parser_init(&c->cn_parser, env->ce_max_frame);
}

void pb_conn_free(struct pb_conn *c)
{
	pb_outbox_free(&c->cn_outbox);
	pb_park_free(&c->cn_park);
	pb_waiters_free(&c->cn_waiters);
	pb_rbuf_free(&c->cn_rbuf);
}

/* Whether from -> to is a step of a client's life (conn.h). */
static bool conn_may(enum pb_conn_state from, enum pb_conn_state to)
{
	switch (from) {
	case PB_CONN_NEW:
		return to == PB_CONN_OPEN || to == PB_CONN_DONE;
	case PB_CONN_OPEN:
		return to == PB_CONN_CUT || to == PB_CONN_LINGERING ||
		       to == PB_CONN_DONE;
	case PB_CONN_CUT:
		return to == PB_CONN_LINGERING || to == PB_CONN_DONE;
	case PB_CONN_LINGERING:
		return to == PB_CONN_DONE;
	case PB_CONN_DONE:
	case PB_CONN_STATES:
		break;
	}
	return false;
}

void pb_conn_set_state(struct pb_conn *c, enum pb_conn_state to)
{
	enum pb_conn_state from = pb_conn_state(c);

	assert(conn_may(from, to));
	(void)from;
	atomic_store_explicit(&c->cn_state, (int)to, memory_order_release);
}

bool pb_conn_cut(struct pb_conn *c)
{
	int open = PB_CONN_OPEN;

	return atomic_compare_exchange_strong(&c->cn_state, &open,
					      (int)PB_CONN_CUT);
}

const char *pb_conn_state_name(enum pb_conn_state s)
{
	static const char *const names[] = {
		[PB_CONN_NEW] = "new",	 [PB_CONN_OPEN] = "open",
		[PB_CONN_CUT] = "cut",	 [PB_CONN_LINGERING] = "lingering",
		[PB_CONN_DONE] = "done",
	};

	_Static_assert(sizeof(names) / sizeof(names[0]) == PB_CONN_STATES,
		       "a name for every state");
	return (unsigned)s < PB_CONN_STATES ? names[s] : "?";
}

void pb_conn_outbox_changed(struct pb_conn *c, bool progress, uint64_t now_ms)
{
	if (progress)
		atomic_store_explicit(&c->cn_progress_ms, now_ms,
				      memory_order_relaxed);
	atomic_store_explicit(&c->cn_pending, !pb_outbox_empty(&c->cn_outbox),
			      memory_order_release);
}

void pb_conn_waiting(struct pb_conn *c, size_t n, bool add)
{
	if (c == NULL || n == 0)
		return;
	if (add) {
		atomic_fetch_add_explicit(&c->cn_waiting, n,
					  memory_order_relaxed);
	} else {
		/* Never below 0: a lane's frames may have been counted for a
		 * former holder of its id (a stand-in for another node's
		 * client, replaced when its link came back up). */
		size_t cur = atomic_load_explicit(&c->cn_waiting,
						  memory_order_relaxed);

		while (!atomic_compare_exchange_weak_explicit(
			&c->cn_waiting, &cur, cur > n ? cur - n : 0,
			memory_order_relaxed, memory_order_relaxed))
			;
	}
}
