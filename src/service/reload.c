/* SPDX-License-Identifier: ISC */
/*
 * reload.c: a new configuration, applied whole or not at all (see
 * reload.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "conf.h"
#include "log.h"
#include "reload.h"
#include "stats.h"
#include "tls.h"

/* Descriptors kept out of the clients' share: the listener, logs... */
#define PB_RESERVED_FDS	  32
#define PB_FDS_PER_CLIENT 1

void pb_fit_max_clients_to_fds(struct pb_options *op)
{
	rlim_t need = (rlim_t)op->op_max_clients * PB_FDS_PER_CLIENT +
		      PB_RESERVED_FDS;
	struct rlimit rl;
	unsigned long most;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		struct rlimit more = {.rlim_cur = need, .rlim_max = need};

		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need
			      ? rl.rlim_max
			      : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= need)
		return;
	most = rl.rlim_cur > PB_RESERVED_FDS
		       ? (unsigned long)(rl.rlim_cur - PB_RESERVED_FDS) /
				 PB_FDS_PER_CLIENT
		       : 1;
	log_warnx("--max-clients %lu lowered to %lu: the descriptor limit is "
		  "%llu",
		  op->op_max_clients, most, (unsigned long long)rl.rlim_cur);
	op->op_max_clients = most;
}

/* Appends ", NAME OLD -> NEW" to what changed, when it did. */
static void reload_note(char *buf, size_t cap, const char *name,
			unsigned long long was, unsigned long long now)
{
	size_t len = strlen(buf);

	if (was != now && len < cap)
		snprintf(buf + len, cap - len, "%s%s %llu -> %llu",
			 len ? ", " : "", name, was, now);
}

static void reload_log_changes(const struct pb_options *a,
			       const struct pb_options *b)
{
	char what[512] = "";

	reload_note(what, sizeof(what), "max-clients", a->op_max_clients,
		    b->op_max_clients);
	reload_note(what, sizeof(what), "slow-timeout (ms)", a->op_slow_ms,
		    b->op_slow_ms);
	reload_note(what, sizeof(what), "frame-timeout (ms)", a->op_frame_ms,
		    b->op_frame_ms);
	reload_note(what, sizeof(what), "spare-threads", a->op_spare_threads,
		    b->op_spare_threads);
	reload_note(what, sizeof(what), "max-memory", a->op_max_memory,
		    b->op_max_memory);
	reload_note(what, sizeof(what), "outbox", a->op_outbox, b->op_outbox);
	reload_note(what, sizeof(what), "park", a->op_park, b->op_park);
	reload_note(what, sizeof(what), "verbosity",
		    (unsigned long long)a->op_verbosity,
		    (unsigned long long)b->op_verbosity);
	log_notice("reloaded %s: %s",
		   b->op_config[0] != '\0' ? b->op_config : "the command line",
		   what[0] ? what : "nothing changed");
}

/* Where TLS serves: a new context from next's files, into *ctx; false
 * (logged, counted) when one is bad. */
static bool reload_tls(struct pb_registry *reg, const struct pb_options *next,
		       struct pb_tls_ctx **ctx)
{
	struct pb_tls_ctx *now = pb_registry_tls(reg);
	char err[PB_OPTIONS_PATHLEN * 2 + 256];

	*ctx = NULL;
	if (now == NULL)
		return true; /* no tls: listener */
	pb_tls_ctx_unref(now);
	*ctx = pb_tls_ctx_new(next, err, sizeof(err));
	if (*ctx != NULL)
		return true;
	pb_stats_add(PB_STAT_TLS_RELOAD_FAILED, 1);
	log_warnx("reload refused, configuration and TLS files kept: %s", err);
	return false;
}

bool pb_reload(struct pb_options *running, int argc, char **argv,
	       struct pb_registry *reg)
{
	struct pb_options *next = malloc(sizeof(*next));
	char err[PB_OPTIONS_PATHLEN + 256];
	struct pb_tls_ctx *tls = NULL;
	const char *fixed;
	bool ok = false;

	if (next == NULL) {
		log_warnx("SIGHUP: no memory to reload, configuration kept");
		return false;
	}
	if (pb_conf_read(next, PB_SERVER_DAEMON, argc, argv, running->op_config,
			 err, sizeof(err)) != PB_OPTIONS_RUN) {
		log_warnx("reload failed, configuration kept: %s", err);
	} else if ((fixed = pb_options_fixed_change(running, next)) != NULL) {
		log_warnx("reload of %s refused, configuration kept: %s cannot "
			  "change while running (restart for that)",
			  next->op_config, fixed);
	} else if (reload_tls(reg, next, &tls)) {
		/* Connections made before keep the context they have. */
		if (tls != NULL) {
			pb_registry_set_tls(reg, tls);
			log_notice("TLS files read again: %s, %s",
				   next->op_tls_cert, next->op_tls_key);
		}
		pb_fit_max_clients_to_fds(next);
		log_init(next->op_verbosity);
		pb_registry_set_limits(reg, next);
		reload_log_changes(running, next);
		*running = *next;
		ok = true;
	}
	free(next);
	return ok;
}
