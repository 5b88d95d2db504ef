/* SPDX-License-Identifier: ISC */
/*
 * main.c: patchbay-reactor's start: its options (those of patchbayd that
 * make sense for one thread in the foreground), its listening socket, and
 * the counters at exit.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "options.h"
#include "reactor.h"
#include "stats.h"

int main(int argc, char **argv)
{
	char err[256], addr[PB_NET_ADDRLEN];
	struct rc_server *sv;
	struct pb_options op;
	struct rlimit rl;
	int lfd;

	pb_options_defaults(&op);
	switch (pb_conf_read(&op, PB_SERVER_REACTOR, argc, argv, NULL, err,
			     sizeof(err))) {
	case PB_OPTIONS_EXIT:
		return 0;
	case PB_OPTIONS_USAGE:
		fprintf(stderr, "patchbay-reactor: %s\n", err);
		return 2;
	case PB_OPTIONS_RUN:
		break;
	}
	if (op.op_check_config) {
		pb_options_write(&op, PB_SERVER_REACTOR, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	log_init(op.op_verbosity);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (op.op_nlisten != 1) {
		fprintf(stderr, "patchbay-reactor: --listen: the reactor "
				"listens on one address\n");
		return 2;
	}
	if (pb_listener_open(op.op_listen[0], op.op_unix_mode, op.op_unix_group,
			     &lfd, err, sizeof(err)) < 0) {
		fprintf(stderr, "patchbay-reactor: %s\n", err);
		return 1;
	}
	pb_net_local(lfd, addr);
	log_notice("listening on %s", addr);
	sv = malloc(sizeof(*sv)); /* the route scratch is large */
	if (sv == NULL || rc_setup(sv, &op, lfd) < 0)
		fatal("cannot set up the event loop");
	rc_loop(sv);
	pb_stats_log();
	pb_table_free(&sv->sv_table);
	close(sv->sv_epoll);
	close(sv->sv_signal);
	free(sv);
	return 0;
}
