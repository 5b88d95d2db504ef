/*
 * main.c: patchbayd, the thread-per-client message router.
 *
 * Parses the command line, opens the listening socket, starts the acceptor
 * and then waits for SIGTERM or SIGINT with sigwait(): the signals are
 * blocked in every thread, so no handler runs anywhere. On a signal it
 * stops accepting, gives the clients a short grace period to flush, logs
 * the counters and exits 0.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "acceptor.h"
#include "client.h"
#include "clock.h"
#include "detach.h"
#include "log.h"
#include "net.h"
#include "options.h"
#include "registry.h"
#include "stats.h"
#include "wake.h"

#define PB_GRACE_MS	  2000 /* flushing time at shutdown */
#define PB_SPARE_FDS	  32   /* descriptors kept for the listener, logs... */
#define PB_FDS_PER_CLIENT 1

/* Raises the descriptor limit to what --max-clients needs (the hard limit
 * too, where we are allowed to), or caps --max-clients to what it allows. */
static void main_fit_clients(struct pb_options *op)
{
	rlim_t need =
		(rlim_t)op->op_max_clients * PB_FDS_PER_CLIENT + PB_SPARE_FDS;
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
	most = rl.rlim_cur > PB_SPARE_FDS
		       ? (unsigned long)(rl.rlim_cur - PB_SPARE_FDS) /
				 PB_FDS_PER_CLIENT
		       : 1;
	log_warnx("--max-clients %lu lowered to %lu: the descriptor limit is "
		  "%llu",
		  op->op_max_clients, most, (unsigned long long)rl.rlim_cur);
	op->op_max_clients = most;
}

/* Waits for SIGTERM or SIGINT; other blocked signals are ignored. */
static void main_wait_signal(const sigset_t *set)
{
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT) {
			log_notice("%s received, shutting down",
				   sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
	}
}

static int main_run(struct pb_options *op, int lfd, int *ready)
{
	/* Static: threads still running after the grace period use it. */
	static struct pb_registry reg;
	struct pb_acceptor ac;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pb_wake_setup() < 0) {
		log_warn("cannot set up wake-ups");
		return 1;
	}
	pb_registry_init(&reg, op);
	if (pb_acceptor_start(&ac, lfd, &reg) < 0) {
		log_warn("cannot start the acceptor");
		return 1;
	}
	pb_detach_ready(ready);
	main_wait_signal(&set);
	/* Gone from the pidfile first: it names a daemon that serves. */
	if (op->op_pidfile != NULL)
		unlink(op->op_pidfile);
	pb_acceptor_stop(&ac);
	log_notice("%lu clients connected, flushing for up to %d ms",
		   pb_registry_clients(&reg), PB_GRACE_MS);
	pb_registry_stop(&reg, pb_now_ms() + PB_GRACE_MS);
	/* Threads still running past the grace period are left to exit(). */
	if (pb_registry_wait_idle(&reg,
				  pb_now_ms() + PB_GRACE_MS + PB_GRACE_MS / 2))
		pb_registry_destroy(&reg);
	else
		log_notice("grace period over, exiting anyway");
	pb_stats_log();
	return 0;
}

int main(int argc, char **argv)
{
	char err[256], addr[PB_NET_ADDRLEN];
	struct pb_options op;
	int lfd, ready = -1, pidfd = -1;

	pb_options_defaults(&op);
	switch (pb_options_parse(&op, argc, argv, err, sizeof(err))) {
	case PB_OPTIONS_EXIT:
		return 0;
	case PB_OPTIONS_USAGE:
		fprintf(stderr, "patchbayd: %s\n", err);
		return 2;
	case PB_OPTIONS_RUN:
		break;
	}
	log_init(op.op_verbosity);
	signal(SIGPIPE, SIG_IGN);
	main_fit_clients(&op);
	if (pb_net_listen(op.op_listen, &lfd, err, sizeof(err)) < 0) {
		fprintf(stderr, "patchbayd: %s\n", err);
		return 1;
	}
	pb_net_local(lfd, addr);
	log_notice("listening on %s", addr);
	if (op.op_pidfile != NULL) {
		op.op_pidfile = pb_pidfile_path(op.op_pidfile);
		pidfd = pb_pidfile_open(op.op_pidfile);
		if (pidfd < 0) {
			fprintf(stderr, "patchbayd: cannot write %s: %s\n",
				op.op_pidfile, strerror(errno));
			return 1;
		}
	}
	if (op.op_daemon) {
		if (pb_detach(&ready) < 0)
			fatal("cannot detach");
		log_to_syslog("patchbayd");
	}
	if (pidfd >= 0 && pb_pidfile_write(pidfd) < 0)
		fatal("cannot write %s", op.op_pidfile);
	return main_run(&op, lfd, &ready);
}
