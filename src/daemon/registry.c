/* SPDX-License-Identifier: ISC */
/*
 * registry.c: the shared id table and thread accounting (see registry.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <time.h>

#include "account.h"
#include "client.h"
#include "ids.h"
#include "net.h"
#include "registry.h"

/* A thread per client: each reads a few times in a row, then polls
 * again, which also writes its own outbox (engine.h). */
#define PB_READS_PER_TURN 4

void pb_registry_init(struct pb_registry *reg, const struct pb_options *op,
		      const struct pb_engine_ops *ops)
{
	pthread_condattr_t ca;

	reg->rg_opts = op;
	pb_budget_init_clients(&reg->rg_budget, &reg->rg_park_share,
			       &reg->rg_input_share, op->op_max_memory);
	/* poll says each time whether more waits; each thread routes with
	 * scratch space of its own. */
	pb_engine_init(&reg->rg_engine, ops, &pb_account_tally,
		       PB_READS_PER_TURN, false, NULL);
	atomic_init(&reg->rg_engine.en_slow_ms, op->op_slow_ms);
	atomic_init(&reg->rg_engine.en_frame_ms, op->op_frame_ms);
	atomic_init(&reg->rg_max_clients, op->op_max_clients);
	atomic_init(&reg->rg_max_per_address, op->op_max_per_address);
	atomic_init(&reg->rg_max_handshakes, op->op_max_handshakes);
	atomic_init(&reg->rg_handshakes, 0);
	pthread_mutex_init(&reg->rg_addr_lock, NULL);
	pb_addrs_init(&reg->rg_addrs);
	atomic_init(&reg->rg_outbox, op->op_outbox);
	atomic_init(&reg->rg_park, op->op_park);
	atomic_init(&reg->rg_outbox_bytes, 0);
	atomic_init(&reg->rg_park_bytes, 0);
	reg->rg_start_s = (long long)time(NULL);
	atomic_init(&reg->rg_loaded_s, reg->rg_start_s);
	atomic_init(&reg->rg_reload_ok, true);
	pthread_mutex_init(&reg->rg_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&reg->rg_idle, &ca);
	pthread_cond_init(&reg->rg_frozen_cond, &ca);
	pthread_cond_init(&reg->rg_thaw_cond, NULL);
	reg->rg_serving = NULL;
	reg->rg_nserving = reg->rg_nfrozen = reg->rg_nstarting = 0;
	atomic_init(&reg->rg_freezing, false);
	pthread_condattr_destroy(&ca);
	pb_table_init(&reg->rg_table);
	reg->rg_ids_upto = UINT64_MAX; /* no --state-dir: nothing to save */
	reg->rg_threads = 0;
	atomic_init(&reg->rg_clients, 0);
	atomic_init(&reg->rg_lingering, 0);
	pb_spare_init(&reg->rg_spares, op->op_spare_threads);
	atomic_init(&reg->rg_deadline_ms, 0);
	pthread_mutex_init(&reg->rg_ids_lock, NULL);
	pthread_mutex_init(&reg->rg_tls_lock, NULL);
	reg->rg_tls = NULL;
	atomic_init(&reg->rg_tls_gen, 0);
	atomic_init(&reg->rg_tls_expiry_s, 0);
	atomic_init(&reg->rg_tls_handshake_ms, op->op_tls_handshake_ms);
}

static void registry_wake_tls(void *value, void *arg)
{
	struct pb_client *c = value;

	(void)arg;
	if (c->cl_tls != NULL && c->cl_remote == NULL)
		pb_wake_signal(&c->cl_wake);
}

void pb_registry_set_tls(struct pb_registry *reg, struct pb_tls_ctx *ctx)
{
	struct pb_tls_ctx *old;

	pthread_mutex_lock(&reg->rg_tls_lock);
	old = reg->rg_tls;
	reg->rg_tls = ctx;
	pthread_mutex_unlock(&reg->rg_tls_lock);
	atomic_store(&reg->rg_tls_expiry_s,
		     ctx != NULL ? pb_tls_ctx_expiry(ctx) : 0);
	pb_tls_ctx_unref(old);
	if (ctx == NULL)
		return;
	/* After the swap: a thread that sees the new generation finds the
	 * new context. Each client's own thread checks it (session.c). */
	atomic_fetch_add(&reg->rg_tls_gen, 1);
	pthread_mutex_lock(&reg->rg_lock);
	pb_table_foreach(&reg->rg_table, registry_wake_tls, NULL);
	pthread_mutex_unlock(&reg->rg_lock);
}

struct pb_tls_ctx *pb_registry_tls(struct pb_registry *reg)
{
	struct pb_tls_ctx *ctx;

	pthread_mutex_lock(&reg->rg_tls_lock);
	ctx = reg->rg_tls;
	if (ctx != NULL)
		pb_tls_ctx_ref(ctx);
	pthread_mutex_unlock(&reg->rg_tls_lock);
	return ctx;
}

void pb_registry_destroy(struct pb_registry *reg)
{
	pb_table_free(&reg->rg_table);
	pb_addrs_free(&reg->rg_addrs);
	pthread_mutex_destroy(&reg->rg_addr_lock);
	pb_spare_destroy(&reg->rg_spares);
	pthread_cond_destroy(&reg->rg_idle);
	pthread_cond_destroy(&reg->rg_frozen_cond);
	pthread_cond_destroy(&reg->rg_thaw_cond);
	pthread_mutex_destroy(&reg->rg_lock);
	pb_registry_set_tls(reg, NULL);
	pthread_mutex_destroy(&reg->rg_tls_lock);
	pthread_mutex_destroy(&reg->rg_ids_lock);
}

void pb_registry_set_limits(struct pb_registry *reg,
			    const struct pb_options *op)
{
	atomic_store(&reg->rg_max_clients, op->op_max_clients);
	atomic_store(&reg->rg_max_per_address, op->op_max_per_address);
	atomic_store(&reg->rg_max_handshakes, op->op_max_handshakes);
	atomic_store(&reg->rg_engine.en_slow_ms, op->op_slow_ms);
	atomic_store(&reg->rg_engine.en_frame_ms, op->op_frame_ms);
	pb_spare_set_max(&reg->rg_spares, op->op_spare_threads);
	atomic_store(&reg->rg_outbox, op->op_outbox);
	atomic_store(&reg->rg_park, op->op_park);
	atomic_store(&reg->rg_tls_handshake_ms, op->op_tls_handshake_ms);
	pb_budget_set_limit(&reg->rg_budget, op->op_max_memory);
}

void pb_registry_gauges(struct pb_registry *reg, struct pb_registry_gauges *g)
{
	g->rgg_queued_outbox = atomic_load_explicit(&reg->rg_outbox_bytes,
						    memory_order_relaxed);
	g->rgg_queued_park =
		atomic_load_explicit(&reg->rg_park_bytes, memory_order_relaxed);
	g->rgg_memory_budget = pb_budget_limit(&reg->rg_budget);
	g->rgg_memory_used = pb_budget_used(&reg->rg_budget);
	g->rgg_start_s = reg->rg_start_s; /* set before any thread started */
	g->rgg_loaded_s = atomic_load(&reg->rg_loaded_s);
	g->rgg_reload_ok = atomic_load(&reg->rg_reload_ok);
	g->rgg_tls_expiry_s = atomic_load(&reg->rg_tls_expiry_s);
}

void pb_registry_reloaded(struct pb_registry *reg, bool ok)
{
	atomic_store(&reg->rg_reload_ok, ok);
	if (ok)
		atomic_store(&reg->rg_loaded_s, (long long)time(NULL));
}

void pb_registry_client_env(struct pb_registry *reg, struct pb_conn_env *env)
{
	env->ce_max_frame = reg->rg_opts->op_max_frame;
	env->ce_outbox = atomic_load(&reg->rg_outbox);
	env->ce_park = atomic_load(&reg->rg_park);
	env->ce_budget = &reg->rg_budget;
	env->ce_park_budget = &reg->rg_park_share;
	env->ce_input_budget = &reg->rg_input_share;
	env->ce_outbox_bytes = &reg->rg_outbox_bytes;
	env->ce_park_bytes = &reg->rg_park_bytes;
}

/* Counts c's address against --max-clients-per-address. */
static enum pb_stat registry_admit_address(struct pb_registry *reg,
					   struct pb_client *c, int fd)
{
	unsigned long max = atomic_load(&reg->rg_max_per_address);
	int rc;

	if (max == 0 || pb_net_peer_key(fd, c->cl_addr_key) < 0)
		return PB_STAT_COUNT; /* no limit, or no address */
	pthread_mutex_lock(&reg->rg_addr_lock);
	rc = pb_addrs_add(&reg->rg_addrs, c->cl_addr_key, max);
	pthread_mutex_unlock(&reg->rg_addr_lock);
	if (rc != 0)
		return rc > 0 ? PB_STAT_REFUSED_PER_ADDRESS
			      : PB_STAT_REFUSED_NOMEM;
	c->cl_addr_counted = true;
	return PB_STAT_COUNT;
}

enum pb_stat pb_registry_admit(struct pb_registry *reg, struct pb_client *c,
			       int fd)
{
	enum pb_stat why;

	if (atomic_fetch_add(&reg->rg_handshakes, 1) >=
	    atomic_load(&reg->rg_max_handshakes)) {
		atomic_fetch_sub(&reg->rg_handshakes, 1);
		return PB_STAT_REFUSED_HANDSHAKES;
	}
	why = registry_admit_address(reg, c, fd);
	if (why != PB_STAT_COUNT) {
		atomic_fetch_sub(&reg->rg_handshakes, 1);
		return why;
	}
	atomic_fetch_add(&reg->rg_clients, 1);
	return PB_STAT_COUNT;
}

void pb_registry_readmit(struct pb_registry *reg, struct pb_client *c,
			 bool handshake)
{
	if (handshake)
		atomic_fetch_add(&reg->rg_handshakes, 1);
	atomic_fetch_add(&reg->rg_clients, 1);
	if (atomic_load(&reg->rg_max_per_address) == 0 ||
	    pb_net_peer_key(c->cl_fd, c->cl_addr_key) < 0)
		return;
	pthread_mutex_lock(&reg->rg_addr_lock);
	/* Over the limit if it was lowered: counted all the same. */
	c->cl_addr_counted =
		pb_addrs_add(&reg->rg_addrs, c->cl_addr_key, ULONG_MAX) == 0;
	pthread_mutex_unlock(&reg->rg_addr_lock);
}

void pb_registry_handshake_done(struct pb_registry *reg)
{
	atomic_fetch_sub(&reg->rg_handshakes, 1);
}

void pb_registry_client_gone(struct pb_registry *reg, struct pb_client *c)
{
	atomic_fetch_sub(&reg->rg_clients, 1);
	if (!c->cl_addr_counted)
		return;
	pthread_mutex_lock(&reg->rg_addr_lock);
	pb_addrs_remove(&reg->rg_addrs, c->cl_addr_key);
	pthread_mutex_unlock(&reg->rg_addr_lock);
	c->cl_addr_counted = false;
}

bool pb_registry_linger(struct pb_registry *reg)
{
	unsigned long n = atomic_load(&reg->rg_lingering);

	do
		if (n >= pb_registry_max_clients(reg))
			return false;
	while (!atomic_compare_exchange_weak(&reg->rg_lingering, &n, n + 1));
	return true;
}

void pb_registry_linger_end(struct pb_registry *reg)
{
	atomic_fetch_sub(&reg->rg_lingering, 1);
}

void pb_registry_touch(struct pb_registry *reg)
{
	pthread_mutex_lock(&reg->rg_lock);
	pthread_mutex_unlock(&reg->rg_lock);
}

void pb_registry_set_ids(struct pb_registry *reg, uint64_t handed,
			 uint64_t upto)
{
	const struct pb_options *op = reg->rg_opts;

	pthread_mutex_lock(&reg->rg_lock);
	pb_table_set_space(&reg->rg_table, (unsigned)op->op_node_bits,
			   (uint32_t)op->op_node, handed);
	pthread_mutex_unlock(&reg->rg_lock);
	reg->rg_ids_upto = upto;
}

int pb_registry_next_id(struct pb_registry *reg, uint32_t *id, char *err,
			size_t errlen)
{
	const struct pb_options *op = reg->rg_opts;
	uint64_t handed;
	int rc = 0;

	/* Held across the save, so that no id of a new block is given
	 * before its mark is saved; only id seekers wait for it. */
	pthread_mutex_lock(&reg->rg_ids_lock);
	pthread_mutex_lock(&reg->rg_lock);
	*id = pb_table_next_id(&reg->rg_table);
	handed = pb_table_handed(&reg->rg_table);
	pthread_mutex_unlock(&reg->rg_lock);
	if (handed > reg->rg_ids_upto) {
		/* A new block: its mark is saved before any id of it is
		 * given, outside the table's lock (this blocks). */
		uint64_t upto =
			handed + pb_ids_block((unsigned)op->op_node_bits);

		rc = pb_ids_save(op->op_state_dir, upto, err, errlen);
		if (rc == 0)
			reg->rg_ids_upto = upto;
	}
	pthread_mutex_unlock(&reg->rg_ids_lock);
	return rc < 0 ? -1 : 0;
}

int pb_registry_add(struct pb_registry *reg, struct pb_client *c)
{
	int rc;

	pthread_mutex_lock(&reg->rg_lock);
	rc = pb_table_insert(&reg->rg_table, c->cl_conn.cn_id, c);
	pthread_mutex_unlock(&reg->rg_lock);
	return rc;
}

void pb_registry_remove(struct pb_registry *reg, struct pb_client *c)
{
	pthread_mutex_lock(&reg->rg_lock);
	pb_table_remove(&reg->rg_table, c->cl_conn.cn_id);
	pthread_mutex_unlock(&reg->rg_lock);
}

struct pb_client *pb_registry_get(struct pb_registry *reg, uint32_t id)
{
	struct pb_client *c;

	pthread_mutex_lock(&reg->rg_lock);
	c = pb_table_get(&reg->rg_table, id);
	if (c != NULL)
		pb_client_ref(c);
	pthread_mutex_unlock(&reg->rg_lock);
	return c;
}

bool pb_registry_given(struct pb_registry *reg, uint32_t id)
{
	uint64_t handed;

	pthread_mutex_lock(&reg->rg_lock);
	handed = pb_table_handed(&reg->rg_table);
	pthread_mutex_unlock(&reg->rg_lock);
	return (id & reg->rg_table.t_mask) < handed;
}

void pb_registry_thread_start(struct pb_registry *reg)
{
	pthread_mutex_lock(&reg->rg_lock);
	reg->rg_threads++;
	pthread_mutex_unlock(&reg->rg_lock);
}

void pb_registry_thread_exit(struct pb_registry *reg)
{
	pthread_mutex_lock(&reg->rg_lock);
	if (--reg->rg_threads == 0)
		pthread_cond_broadcast(&reg->rg_idle);
	pthread_mutex_unlock(&reg->rg_lock);
}

void pb_registry_starting(struct pb_registry *reg, bool add)
{
	pthread_mutex_lock(&reg->rg_lock);
	if (add)
		reg->rg_nstarting++;
	else
		reg->rg_nstarting--;
	pthread_mutex_unlock(&reg->rg_lock);
}

void pb_registry_serve_begin(struct pb_registry *reg, struct pb_client *c)
{
	pthread_mutex_lock(&reg->rg_lock);
	reg->rg_nstarting--;
	c->cl_serve_prev = NULL;
	c->cl_serve_next = reg->rg_serving;
	if (reg->rg_serving != NULL)
		reg->rg_serving->cl_serve_prev = c;
	reg->rg_serving = c;
	reg->rg_nserving++;
	pthread_mutex_unlock(&reg->rg_lock);
}

void pb_registry_serve_end(struct pb_registry *reg, struct pb_client *c)
{
	pthread_mutex_lock(&reg->rg_lock);
	if (c->cl_serve_prev != NULL)
		c->cl_serve_prev->cl_serve_next = c->cl_serve_next;
	else
		reg->rg_serving = c->cl_serve_next;
	if (c->cl_serve_next != NULL)
		c->cl_serve_next->cl_serve_prev = c->cl_serve_prev;
	reg->rg_nserving--;
	pthread_cond_signal(&reg->rg_frozen_cond);
	pthread_mutex_unlock(&reg->rg_lock);
}

void pb_registry_frozen(struct pb_registry *reg)
{
	pthread_mutex_lock(&reg->rg_lock);
	reg->rg_nfrozen++;
	pthread_cond_signal(&reg->rg_frozen_cond);
	while (atomic_load(&reg->rg_freezing))
		pthread_cond_wait(&reg->rg_thaw_cond, &reg->rg_lock);
	reg->rg_nfrozen--;
	pthread_mutex_unlock(&reg->rg_lock);
}

bool pb_registry_freeze(struct pb_registry *reg, uint64_t deadline_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ms / 1000),
		.tv_nsec = (long)(deadline_ms % 1000 * 1000000),
	};
	struct pb_client *c;
	bool all;

	pthread_mutex_lock(&reg->rg_lock);
	atomic_store(&reg->rg_freezing, true);
	for (c = reg->rg_serving; c != NULL; c = c->cl_serve_next)
		pb_wake_signal(&c->cl_wake);
	/* Clients handed to a thread that has not begun serving them are
	 * waited for too: the acceptor is stopped, so they only get fewer. */
	while (reg->rg_nfrozen < reg->rg_nserving || reg->rg_nstarting > 0)
		if (pthread_cond_timedwait(&reg->rg_frozen_cond, &reg->rg_lock,
					   &ts) == ETIMEDOUT)
			break;
	all = reg->rg_nfrozen == reg->rg_nserving && reg->rg_nstarting == 0;
	pthread_mutex_unlock(&reg->rg_lock);
	if (!all)
		pb_registry_thaw(reg);
	return all;
}

void pb_registry_hold(struct pb_registry *reg)
{
	atomic_store(&reg->rg_freezing, true);
}

void pb_registry_thaw(struct pb_registry *reg)
{
	pthread_mutex_lock(&reg->rg_lock);
	atomic_store(&reg->rg_freezing, false);
	pthread_cond_broadcast(&reg->rg_thaw_cond);
	pthread_mutex_unlock(&reg->rg_lock);
}

void pb_registry_foreach_serving(struct pb_registry *reg,
				 void (*fn)(struct pb_client *c, void *arg),
				 void *arg)
{
	struct pb_client *c;

	/* The threads wait at their safe point: nobody joins or leaves. */
	pthread_mutex_lock(&reg->rg_lock);
	c = reg->rg_serving;
	pthread_mutex_unlock(&reg->rg_lock);
	for (; c != NULL; c = c->cl_serve_next)
		fn(c, arg);
}

static void registry_wake_one(void *value, void *arg)
{
	struct pb_client *c = value;

	(void)arg;
	pb_wake_signal(&c->cl_wake);
}

void pb_registry_stop(struct pb_registry *reg, uint64_t deadline_ms)
{
	atomic_store(&reg->rg_deadline_ms, deadline_ms);
	atomic_store(&reg->rg_engine.en_stopping, true);
	pthread_mutex_lock(&reg->rg_lock);
	pb_table_foreach(&reg->rg_table, registry_wake_one, NULL);
	pthread_mutex_unlock(&reg->rg_lock);
	pb_spare_stop(&reg->rg_spares);
}

bool pb_registry_wait_idle(struct pb_registry *reg, uint64_t deadline_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ms / 1000),
		.tv_nsec = (long)(deadline_ms % 1000 * 1000000),
	};
	bool idle;

	pthread_mutex_lock(&reg->rg_lock);
	while (reg->rg_threads > 0)
		if (pthread_cond_timedwait(&reg->rg_idle, &reg->rg_lock, &ts) ==
		    ETIMEDOUT)
			break;
	idle = reg->rg_threads == 0;
	pthread_mutex_unlock(&reg->rg_lock);
	return idle;
}
