/* SPDX-License-Identifier: ISC */
/*
 * control.h: what the main thread does while the daemon serves.
 *
 * Every signal an operator sends is blocked in every thread and taken
 * here with sigtimedwait(), so no handler runs anywhere: SIGTERM, SIGINT
 * and SIGQUIT stop the daemon, SIGHUP reloads the configuration file,
 * SIGUSR1 logs the counters. In between it tells systemd how many clients
 * are connected and feeds its watchdog, but only after the acceptor
 * thread and the registry's lock have shown they respond.
 */
#ifndef PB_CONTROL_H
#define PB_CONTROL_H

#include <signal.h>

#include "acceptor.h"
#include "options.h"
#include "registry.h"

struct pb_restart;

struct pb_control {
	struct pb_options *ct_opts; /* in force; reloads update it */
	int ct_argc;		    /* the command line, for reloads */
	char **ct_argv;
	struct pb_registry *ct_reg;
	struct pb_acceptor *ct_acceptor;
	struct pb_restart *ct_restart; /* for the hand-overs (restart.h) */
};

/* The signals pb_control_run takes: to be blocked in every thread. */
void pb_control_signals(sigset_t *set);

/* Serves signals until one says stop; logs which. */
void pb_control_run(struct pb_control *ct);

#endif
