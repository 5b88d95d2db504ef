/* SPDX-License-Identifier: ISC */
/*
 * main.c: patchbayd, the thread-per-client message router.
 *
 * Reads the options (the command line, and the file named by --config),
 * opens the listening sockets or takes those systemd hands over, starts
 * the acceptor and the metrics server, says it is ready, and gives the
 * main thread to control.c until a signal says stop. Then it stops
 * accepting, gives the clients a short grace period to flush, logs the
 * counters and exits 0.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "activate.h"
#include "clock.h"
#include "conf.h"
#include "control.h"
#include "deliver.h"
#include "detach.h"
#include "federation.h"
#include "ids.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "notify.h"
#include "options.h"
#include "registry.h"
#include "reload.h"
#include "restart.h"
#include "stats.h"
#include "tls.h"
#include "wake.h"

#define PB_GRACE_MS    2000	      /* flushing time at shutdown */
#define PB_CERT_WARN_S (14 * 86400LL) /* a certificate expiring sooner */

/* What main sets up, for main_run. */
struct main_run {
	struct pb_options *mr_opts;
	int mr_argc;
	char **mr_argv;
	int mr_listen[PB_ACCEPTOR_MAX]; /* clients' listening sockets */
	bool mr_tls[PB_ACCEPTOR_MAX];	/* which are tls: */
	size_t mr_nlisten;
	bool mr_made;	/* opened here, not handed over: Unix socket files
			   are removed at exit */
	int mr_metrics; /* metrics' listening socket, or -1 */
	int mr_ready;	/* for pb_detach_ready */
	uint64_t mr_ids_handed; /* ids handed out before (--state-dir) */
	uint64_t mr_ids_upto;	/* and the mark saved for the first block */
	struct pb_tls_ctx *mr_tls_ctx;	/* for tls: listeners, or NULL */
	struct pb_takeover mr_takeover; /* a restart's state (restart.h) */
};

/* Signals that would kill the daemon by default and mean nothing to it. */
static void main_ignore_signals(void)
{
	static const int ignored[] = {SIGPIPE, SIGALRM, SIGVTALRM, SIGPROF,
				      SIGXFSZ};
	size_t i;

	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
}

/* Closes the clients' listening sockets. */
static void main_unlisten(struct main_run *mr)
{
	size_t i;

	for (i = 0; i < mr->mr_nlisten; i++)
		pb_listener_close(mr->mr_listen[i], mr->mr_made);
	mr->mr_nlisten = 0;
}

/* Stops serving: the acceptor first, then every client gets the grace
 * period to flush. */
static void main_stop(struct main_run *mr, struct pb_registry *reg,
		      struct pb_acceptor *ac, struct pb_metrics *m)
{
	(void)pb_notify("STOPPING=1");
	/* Gone from the pidfile first: it names a daemon that serves. */
	if (mr->mr_opts->op_pidfile[0] != '\0')
		unlink(mr->mr_opts->op_pidfile);
	pb_acceptor_stop(ac);
	main_unlisten(mr);
	pb_metrics_stop(m);
	log_notice("%lu clients connected, flushing for up to %d ms",
		   pb_registry_clients(reg), PB_GRACE_MS);
	pb_registry_stop(reg, pb_now_ms() + PB_GRACE_MS);
	/* Threads still running past the grace period are left to exit(). */
	if (pb_registry_wait_idle(reg, pb_now_ms() + PB_GRACE_MS +
					       PB_GRACE_MS / 2)) {
		pb_federation_stop();
		pb_registry_destroy(reg);
	} else {
		log_notice("grace period over, exiting anyway");
	}
}

static int main_run(struct main_run *mr)
{
	/* Static: threads still running after the grace period use them. */
	static struct pb_options running;
	static struct pb_registry reg;
	static struct pb_restart rs;
	const struct pb_blob_reader *state;
	bool held;
	struct pb_control ct;
	struct pb_acceptor ac;
	struct pb_metrics *m = NULL;
	char err[256];

	if (pb_wake_setup() < 0) {
		log_warn("cannot set up wake-ups");
		return 1;
	}
	running = *mr->mr_opts;
	pb_registry_init(&reg, mr->mr_opts, &pb_deliver_ops);
	pb_registry_set_ids(&reg, mr->mr_ids_handed, mr->mr_ids_upto);
	/*
	 * A hand-over: every thread started while the links and the clients
	 * are rebuilt waits at its safe point, so that the frames of other
	 * nodes find every client (the links are rebuilt first), and so
	 * that no socket is read or written before the service manager has
	 * let go of the state (pb_takeover_end): a crash before then takes
	 * the same state over again, and must find the sockets as they were.
	 * An in-place hand-over has nothing stored: alone, each client's
	 * thread goes on as soon as it starts.
	 */
	state = pb_takeover_state(&mr->mr_takeover);
	held = state != NULL &&
	       (mr->mr_opts->op_nats[0] != '\0' || mr->mr_takeover.tk_stored);
	if (held)
		pb_registry_hold(&reg);
	if (pb_federation_start(&reg, state, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return 1;
	}
	pb_takeover_restore(&mr->mr_takeover, &reg);
	if (state != NULL)
		pb_federation_handover_done();
	pb_registry_set_tls(&reg, mr->mr_tls_ctx);
	mr->mr_tls_ctx = NULL; /* the registry's now */
	if (mr->mr_metrics >= 0 &&
	    (m = pb_metrics_start(mr->mr_metrics, &reg, err, sizeof(err))) ==
		    NULL) {
		log_warnx("%s", err);
		return 1;
	}
	/* Ready: the listening sockets are open (what connects waits in
	 * their backlog). Then, before any client is served (its thread
	 * held) or accepted (a TLS handshake would find the daemon still
	 * frozen), the state is let go, and everyone goes on: a crash until
	 * then takes the same state over again. */
	pb_detach_ready(&mr->mr_ready);
	(void)pb_notify("READY=1\nSTATUS=serving");
	pb_takeover_end(&mr->mr_takeover);
	if (held)
		pb_registry_thaw(&reg);
	if (pb_acceptor_start(&ac, mr->mr_listen, mr->mr_tls, mr->mr_nlisten,
			      &reg) < 0) {
		log_warn("cannot start the acceptor");
		return 1;
	}
	rs = (struct pb_restart){
		.rs_reg = &reg,
		.rs_acceptor = &ac,
		.rs_listen = mr->mr_listen,
		.rs_tls = mr->mr_tls,
		.rs_nlisten = mr->mr_nlisten,
		.rs_specs = mr->mr_made ? (const char(*)[PB_OPTIONS_ADDRLEN])
						  mr->mr_opts->op_listen
					: NULL,
		.rs_argv = mr->mr_argv,
	};
	ct = (struct pb_control){.ct_opts = &running,
				 .ct_argc = mr->mr_argc,
				 .ct_argv = mr->mr_argv,
				 .ct_reg = &reg,
				 .ct_acceptor = &ac,
				 .ct_restart = &rs};
	pb_control_run(&ct);
	main_stop(mr, &reg, &ac, m);
	pb_stats_log();
	pb_federation_log();
	return 0;
}

/* The listening sockets: handed over by systemd, or opened here. */
static int main_listen(struct main_run *mr, char *err, size_t errlen)
{
	const struct pb_options *op = mr->mr_opts;
	struct pb_activated act;
	char addr[PB_NET_ADDRLEN];

	size_t i;

	if (pb_activate(&act, err, errlen) < 0)
		return -1;
	pb_takeover_begin(&mr->mr_takeover, &act, mr->mr_argv);
	mr->mr_metrics = act.ac_metrics;
	/* systemd's sockets, which an in-place hand-over carried too. */
	while (act.ac_nclients < PB_ACTIVATE_CLIENTS &&
	       (act.ac_clients[act.ac_nclients] = pb_takeover_listener(
			&mr->mr_takeover, "", &act.ac_tls[act.ac_nclients])) >=
		       0)
		act.ac_nclients++;
	mr->mr_made = act.ac_nclients == 0;
	if (!mr->mr_made) {
		log_notice("clients' socket from systemd (socket activation)");
		memcpy(mr->mr_listen, act.ac_clients,
		       act.ac_nclients * sizeof(int));
		memcpy(mr->mr_tls, act.ac_tls, act.ac_nclients * sizeof(bool));
		mr->mr_nlisten = act.ac_nclients;
	}
	for (i = 0; mr->mr_made && i < op->op_nlisten; i++) {
		mr->mr_listen[i] = pb_takeover_listener(
			&mr->mr_takeover, op->op_listen[i], &mr->mr_tls[i]);
		if (mr->mr_listen[i] < 0 &&
		    pb_listener_open(op->op_listen[i], op->op_unix_mode,
				     op->op_unix_group, &mr->mr_listen[i], err,
				     errlen) < 0) {
			main_unlisten(mr);
			return -1;
		}
		mr->mr_tls[i] = strncmp(op->op_listen[i], "tls:", 4) == 0;
		mr->mr_nlisten = i + 1;
	}
	for (i = 0; i < mr->mr_nlisten; i++) {
		pb_net_local(mr->mr_listen[i], addr);
		log_notice("listening on %s%s", mr->mr_tls[i] ? "tls:" : "",
			   addr);
	}
	if (mr->mr_metrics < 0 && op->op_metrics[0] != '\0' &&
	    pb_net_listen(op->op_metrics, &mr->mr_metrics, err, errlen) < 0)
		return -1;
	if (act.ac_metrics >= 0)
		log_notice("metrics' socket from systemd (socket activation)");
	if (mr->mr_metrics >= 0) {
		pb_net_local(mr->mr_metrics, addr);
		log_notice("metrics on http://%s/metrics", addr);
	}
	return 0;
}

/* The ids' high-water mark (ids.h): read from --state-dir, and the first
 * block's saved at once, so that a state directory that cannot be written
 * stops the start rather than the first client. */
static int main_ids(struct main_run *mr, char *err, size_t errlen)
{
	const struct pb_options *op = mr->mr_opts;
	uint64_t handed, upto;

	mr->mr_ids_handed = 0;
	mr->mr_ids_upto = UINT64_MAX; /* nothing to save */
	if (op->op_state_dir[0] == '\0')
		return 0;
	if (pb_ids_load(op->op_state_dir, &handed, err, errlen) < 0)
		return -1;
	upto = handed + pb_ids_block((unsigned)op->op_node_bits);
	if (pb_ids_save(op->op_state_dir, upto, err, errlen) < 0)
		return -1;
	mr->mr_ids_handed = handed;
	mr->mr_ids_upto = upto;
	return 0;
}

/* The TLS context, when a listener needs one (or --check-config was
 * given certificates to check): 0, or -1 with err. Warns of a
 * certificate that expires within 14 days. */
static int main_tls(struct main_run *mr, bool needed, char *err, size_t errlen)
{
	const struct pb_options *op = mr->mr_opts;
	long long left;

	if (!needed && op->op_tls_cert[0] == '\0')
		return 0;
	mr->mr_tls_ctx = pb_tls_ctx_new(op, err, errlen);
	if (mr->mr_tls_ctx == NULL)
		return -1;
	left = pb_tls_ctx_expiry(mr->mr_tls_ctx) - (long long)time(NULL);
	if (left < 0)
		log_warnx("--tls-cert %s has expired", op->op_tls_cert);
	else if (left < PB_CERT_WARN_S)
		log_warnx("--tls-cert %s expires in %.1f days", op->op_tls_cert,
			  left / 86400.0);
	return 0;
}

/* Whether a listener handed over is tls: (the options say only those
 * opened here). */
static bool main_any_tls(const struct main_run *mr)
{
	size_t i;

	for (i = 0; i < mr->mr_nlisten; i++)
		if (mr->mr_tls[i])
			return true;
	return false;
}

/* Makes a relative file name absolute: --daemon changes to "/". */
static void main_absolute(char *path, size_t cap)
{
	const char *abs;

	if (path[0] == '\0' || path[0] == '/')
		return;
	abs = pb_detach_abspath(path);
	if (abs != path)
		snprintf(path, cap, "%s", abs);
}

int main(int argc, char **argv)
{
	static struct pb_options op;
	char err[PB_OPTIONS_PATHLEN + 256];
	struct main_run mr = {.mr_opts = &op,
			      .mr_argc = argc,
			      .mr_argv = argv,
			      .mr_ready = -1};
	int pidfd = -1;
	sigset_t set;

	switch (pb_conf_read(&op, PB_SERVER_DAEMON, argc, argv, NULL, err,
			     sizeof(err))) {
	case PB_OPTIONS_EXIT:
		return 0;
	case PB_OPTIONS_USAGE:
		fprintf(stderr, "patchbayd: %s\n", err);
		return 2;
	case PB_OPTIONS_RUN:
		break;
	}
	if (op.op_metrics[0] != '\0' && !pb_metrics_available()) {
		fprintf(stderr,
			"patchbayd: --metrics: this patchbayd was built "
			"without metrics (configure --with-metrics, "
			"with libmicrohttpd)\n");
		return 2;
	}
	if (pb_federation_check(&op, err, sizeof(err)) < 0) {
		fprintf(stderr, "patchbayd: %s\n", err);
		return 2;
	}
	if (op.op_check_config) {
		/* The TLS files are loaded and checked too (exit 2). */
		if (main_tls(&mr, pb_options_has_tls(&op), err, sizeof(err)) <
		    0) {
			fprintf(stderr, "patchbayd: %s\n", err);
			return 2;
		}
		pb_tls_ctx_unref(mr.mr_tls_ctx);
		pb_options_write(&op, PB_SERVER_DAEMON, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	log_init(op.op_verbosity);
	pb_restart_init();
	main_ignore_signals();
	/* Blocked from here on, in every thread to come: a SIGTERM that
	 * comes while starting waits for control.c, and stops cleanly. */
	pb_control_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pb_fit_max_clients_to_fds(&op);
	main_absolute(op.op_state_dir, sizeof(op.op_state_dir));
	/* The TLS files before any socket: a bad one is a usage error. */
	if (main_tls(&mr, pb_options_has_tls(&op), err, sizeof(err)) < 0) {
		fprintf(stderr, "patchbayd: %s\n", err);
		return 2;
	}
	if (main_ids(&mr, err, sizeof(err)) < 0 ||
	    pb_notify_init(err, sizeof(err)) < 0 ||
	    main_listen(&mr, err, sizeof(err)) < 0) {
		fprintf(stderr, "patchbayd: %s\n", err);
		return 1;
	}
	/* Sockets systemd named clients-tls need it too. */
	if (mr.mr_tls_ctx == NULL && main_any_tls(&mr) &&
	    main_tls(&mr, true, err, sizeof(err)) < 0) {
		fprintf(stderr, "patchbayd: %s\n", err);
		main_unlisten(&mr);
		return 2;
	}
	main_absolute(op.op_config, sizeof(op.op_config));
	if (op.op_pidfile[0] != '\0') {
		main_absolute(op.op_pidfile, sizeof(op.op_pidfile));
		pidfd = pb_pidfile_open(op.op_pidfile);
		if (pidfd < 0) {
			fprintf(stderr, "patchbayd: cannot write %s: %s\n",
				op.op_pidfile, strerror(errno));
			return 1;
		}
	}
	if (op.op_daemon) {
		/* Executed in its own place by a hand-over: detached
		 * already. */
		if (!(mr.mr_takeover.tk_found && !mr.mr_takeover.tk_stored) &&
		    pb_detach(&mr.mr_ready) < 0)
			fatal("cannot detach");
		log_to_syslog("patchbayd");
	}
	if (pidfd >= 0 && pb_pidfile_write(pidfd) < 0)
		fatal("cannot write %s", op.op_pidfile);
	return main_run(&mr);
}
