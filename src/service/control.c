/* SPDX-License-Identifier: ISC */
/*
 * control.c: the main thread's loop: signals, systemd and the watchdog
 * (see control.h).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

#include "clock.h"
#include "control.h"
#include "federation.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "restart.h"
#include "stats.h"

#define PB_STATUS_MS 5000 /* how often systemd hears the client count */

void pb_control_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, PB_RESTART_SIGNAL);
}

static void control_status(struct pb_control *ct)
{
	(void)pb_notify("STATUS=%lu clients connected, %llu frames forwarded",
			pb_registry_clients(ct->ct_reg),
			pb_stats_get(PB_STAT_FORWARDED));
}

/* Feeds the watchdog if the acceptor answered the last ping and the
 * registry's lock can be taken (else this blocks: a stuck daemon goes
 * unfed, and systemd restarts it), then pings again. */
static void control_watchdog(struct pb_control *ct)
{
	if (pb_acceptor_alive(ct->ct_acceptor)) {
		pb_registry_touch(ct->ct_reg);
		(void)pb_notify("WATCHDOG=1");
	} else {
		log_warnx("watchdog: the acceptor has not answered");
	}
	pb_acceptor_ping(ct->ct_acceptor);
}

static void control_reload(struct pb_control *ct)
{
	struct timespec ts;
	struct pb_tls_ctx *tls = pb_registry_tls(ct->ct_reg);

	pb_tls_ctx_unref(tls);
	/* Without a file, only TLS has files to read again. */
	if (ct->ct_opts->op_config[0] == '\0' && tls == NULL) {
		log_notice("SIGHUP received: no --config, nothing to reload");
		return;
	}
	log_notice("SIGHUP received, reloading %s",
		   ct->ct_opts->op_config[0] != '\0' ? ct->ct_opts->op_config
						     : "the TLS files");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)pb_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
			(unsigned long long)ts.tv_sec * 1000000 +
				(unsigned long long)ts.tv_nsec / 1000);
	pb_registry_reloaded(ct->ct_reg, pb_reload(ct->ct_opts, ct->ct_argc,
						   ct->ct_argv, ct->ct_reg));
	(void)pb_notify("READY=1");
	control_status(ct);
}

/* Acts on one signal; false when it says stop. */
static bool control_signal(struct pb_control *ct, int sig)
{
	if (sig == PB_RESTART_SIGNAL) {
		pb_restart_store(ct->ct_restart); /* returns if it did not */
		return false;
	}
	switch (sig) {
	case SIGHUP:
		control_reload(ct);
		return true;
	case SIGUSR1:
		pb_stats_log();
		pb_federation_log();
		return true;
	case SIGUSR2:
		pb_restart_exec(ct->ct_restart); /* returns if it did not */
		control_status(ct);
		return true;
	default:
		log_notice("%s received, shutting down",
			   sig == SIGTERM  ? "SIGTERM"
			   : sig == SIGINT ? "SIGINT"
					   : "SIGQUIT");
		return false;
	}
}

void pb_control_run(struct pb_control *ct)
{
	uint64_t wd_ms = pb_notify_watchdog_usec() / 2000;
	uint64_t now = pb_now_ms(), next_status = now + PB_STATUS_MS;
	uint64_t next_wd = wd_ms ? now + wd_ms : UINT64_MAX;
	sigset_t set;

	pb_control_signals(&set);
	if (wd_ms)
		pb_acceptor_ping(ct->ct_acceptor);
	for (;;) {
		uint64_t next = next_status < next_wd ? next_status : next_wd;
		uint64_t wait = next > now ? next - now : 0;
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000),
				      .tv_nsec = (long)(wait % 1000) * 1000000};
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig > 0 && !control_signal(ct, sig))
			return;
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			log_warn("sigtimedwait");
		now = pb_now_ms();
		if (now >= next_wd) {
			control_watchdog(ct);
			next_wd = now + wd_ms;
		}
		if (now >= next_status) {
			control_status(ct);
			next_status = now + PB_STATUS_MS;
		}
	}
}
