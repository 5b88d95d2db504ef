/* SPDX-License-Identifier: ISC */
/*
 * restart.c: handing the clients over to the next process, and taking
 * them over (see restart.h).
 *
 * LISTENER sections (handover.h's tag PB_HO_LISTENER): the socket's index
 * in the bag (u32), whether it is tls: (u32), its --listen address (a
 * byte string, empty for one of systemd's).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bag.h"
#include "clock.h"
#include "federation.h"
#include "log.h"
#include "notify.h"
#include "restart.h"
#include "stats.h"

#define PB_FREEZE_MS	  5000	/* for every thread to reach its safe point */
#define PB_CHECK_MS	  10000 /* for the new binary's --check-config */
#define PB_BARRIER_MS	  10000 /* for the manager to take the state */
#define PB_HANDOVER_ENV	  "PATCHBAY_HANDOVER"
#define PB_STATE_MAX_SIZE ((size_t)1 << 34) /* 16 GiB: beyond any budget */

static char restart_exe[PATH_MAX];
static atomic_ullong restart_pause_ms;

void pb_restart_init(void)
{
	ssize_t n = readlink("/proc/self/exe", restart_exe,
			     sizeof(restart_exe) - 1);

	restart_exe[n > 0 ? n : 0] = '\0';
}

unsigned long long pb_restart_last_pause_ms(void)
{
	return atomic_load(&restart_pause_ms);
}

/* ---- The old process --------------------------------------------------- */

/* The state written and its descriptors, ready to go. */
struct restart_out {
	struct pb_handover_out ro_out;
	int ro_state; /* memfd */
	int ro_bag;
	uint64_t ro_start_ms;
};

static void restart_refused(const char *why)
{
	pb_stats_add(PB_STAT_HANDOVERS_FAILED, 1);
	log_warnx("hand-over: refused: %s; serving on", why);
}

/* The listening sockets, in the bag and in LISTENER sections: those
 * systemd made only for an in-place hand-over (for a restart it hands
 * them to the new process itself). */
static void restart_put_listeners(struct pb_restart *rs,
				  struct pb_handover_out *out, bool store)
{
	size_t i;

	for (i = 0; i < rs->rs_nlisten && !(store && rs->rs_specs == NULL);
	     i++) {
		size_t at = pb_blob_begin(&out->ho_blob, PB_HO_LISTENER);
		const char *spec = rs->rs_specs ? rs->rs_specs[i] : "";

		pb_blob_u32(&out->ho_blob,
			    pb_handover_add_fd(out, rs->rs_listen[i]));
		pb_blob_u32(&out->ho_blob, rs->rs_tls[i]);
		pb_blob_bytes(&out->ho_blob, spec, strlen(spec));
		pb_blob_end(&out->ho_blob, at);
	}
}

/* The blob into a new memfd; its descriptor, or -1. */
static int restart_memfd(const struct pb_blob *b)
{
	int fd = memfd_create("pb-state", MFD_CLOEXEC);
	size_t off = 0;

	while (fd >= 0 && off < b->b_len) {
		ssize_t n = write(fd, b->b_data + off, b->b_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

/* Serving again after a hand-over that did not happen. */
static void restart_undo(struct pb_restart *rs, struct restart_out *ro)
{
	if (ro->ro_state >= 0)
		close(ro->ro_state);
	if (ro->ro_bag >= 0)
		close(ro->ro_bag);
	pb_handover_out_free(&ro->ro_out);
	pb_registry_thaw(rs->rs_reg);
	if (pb_acceptor_start(rs->rs_acceptor, rs->rs_listen, rs->rs_tls,
			      rs->rs_nlisten, rs->rs_reg) < 0)
		log_warn("hand-over: cannot start accepting again");
}

/* Stops accepting, freezes the clients and writes their state: 0, or -1
 * serving again (refused, logged). */
static int restart_prepare(struct pb_restart *rs, struct restart_out *ro,
			   bool store)
{
	memset(ro, 0, sizeof(*ro));
	ro->ro_state = ro->ro_bag = -1;
	ro->ro_start_ms = pb_now_ms();
	log_notice("hand-over: starting (%lu clients)",
		   pb_registry_clients(rs->rs_reg));
	pb_acceptor_stop(rs->rs_acceptor);
	pb_handover_out_init(&ro->ro_out);
	if (!pb_registry_freeze(rs->rs_reg, ro->ro_start_ms + PB_FREEZE_MS)) {
		restart_undo(rs, ro);
		restart_refused("the clients' threads did not stop within "
				"5 s");
		return -1;
	}
	/* The links first: what they count as they write goes into the
	 * counters written next. */
	pb_federation_handover_write(&ro->ro_out.ho_blob);
	pb_handover_write(rs->rs_reg, &ro->ro_out, ro->ro_start_ms);
	restart_put_listeners(rs, &ro->ro_out, store);
	if (pb_blob_finish(&ro->ro_out.ho_blob, PACKAGE_VERSION) < 0 ||
	    ro->ro_out.ho_failed) {
		restart_undo(rs, ro);
		restart_refused("no memory for the state");
		return -1;
	}
	ro->ro_state = restart_memfd(&ro->ro_out.ho_blob);
	ro->ro_bag = pb_bag_new();
	if (ro->ro_state < 0 || ro->ro_bag < 0 ||
	    pb_bag_put(ro->ro_bag, ro->ro_out.ho_fds, ro->ro_out.ho_nfds) < 0) {
		char why[128];

		snprintf(why, sizeof(why), "cannot keep the state: %s",
			 strerror(errno));
		restart_undo(rs, ro);
		restart_refused(why);
		return -1;
	}
	return 0;
}

/* Runs the binary at our path with --check-config and our arguments:
 * 0 if it exits 0 within PB_CHECK_MS, else -1 with why. */
static int restart_check(struct pb_restart *rs, char *why, size_t len)
{
	uint64_t end = pb_now_ms() + PB_CHECK_MS;
	size_t n = 0, i;
	int st = 0;
	char **argv;
	pid_t pid, r;

	while (rs->rs_argv[n] != NULL)
		n++;
	argv = calloc(n + 2, sizeof(*argv));
	if (argv == NULL) {
		snprintf(why, len, "no memory");
		return -1;
	}
	argv[0] = restart_exe;
	argv[1] = (char *)(uintptr_t) "--check-config";
	for (i = 1; i < n; i++)
		argv[i + 1] = rs->rs_argv[i];
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execv(restart_exe, argv);
		_exit(127);
	}
	free(argv);
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && pb_now_ms() < end)
		poll(NULL, 0, 10);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		snprintf(why, len, "%s --check-config did not end in %d s",
			 restart_exe, PB_CHECK_MS / 1000);
		return -1;
	}
	if (r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	snprintf(why, len, "%s --check-config failed (%s %d)", restart_exe,
		 r == pid && WIFEXITED(st) ? "exit status" : "signal",
		 r == pid && WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -1;
}

/* Marks every descriptor above the standard ones close-on-exec: what the
 * new image is to have is opened, or unmarked, after this. A library's
 * descriptor would otherwise live on in it, unknown: libnats opens its
 * connection without FD_CLOEXEC, so the NATS server went on sending this
 * node's messages to the former image's connection too, unread, until
 * its write deadline (10 s) cut it as a slow consumer, and one more
 * descriptor stayed open at every hand-over. */
static int restart_cloexec_all(void)
{
	DIR *d = opendir("/proc/self/fd");
	const struct dirent *e;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), fl;

		if (e->d_name[0] == '.' || fd <= STDERR_FILENO ||
		    fd == dirfd(d))
			continue;
		fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	closedir(d);
	return 0;
}

static void restart_log_carried(const struct restart_out *ro, const char *to)
{
	log_notice("hand-over: %zu clients, %zu bytes carried, to %s",
		   ro->ro_out.ho_clients, ro->ro_out.ho_bytes, to);
}

void pb_restart_exec(struct pb_restart *rs)
{
	struct restart_out ro;
	char why[PATH_MAX + 128], env[64];
	struct timespec ts;
	int back;

	log_notice("SIGUSR2 received: handing over to %s", restart_exe);
	if (restart_exe[0] == '\0' || restart_check(rs, why, sizeof(why)) < 0) {
		restart_refused(restart_exe[0] == '\0' ? "no path to the binary"
						       : why);
		return;
	}
	if (restart_prepare(rs, &ro, false) < 0)
		return;
	if (restart_cloexec_all() < 0)
		log_warn("hand-over: cannot list the open descriptors: those "
			 "of libraries may stay open in the new image");
	/* This image, for the new one to hand back to if it cannot read the
	 * state (execveat: the file at the path may be another by now). */
	back = open("/proc/self/exe", O_RDONLY);
	snprintf(env, sizeof(env), "%d,%d,%d", ro.ro_state, ro.ro_bag, back);
	if (fcntl(ro.ro_state, F_SETFD, 0) < 0 ||
	    fcntl(ro.ro_bag, F_SETFD, 0) < 0 ||
	    setenv(PB_HANDOVER_ENV, env, 1) < 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
	} else {
		restart_log_carried(&ro, restart_exe);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		(void)pb_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
				(unsigned long long)ts.tv_sec * 1000000 +
					(unsigned long long)ts.tv_nsec / 1000);
		pb_notify_export();
		execv(restart_exe, rs->rs_argv);
		snprintf(why, sizeof(why), "cannot execute %s: %s", restart_exe,
			 strerror(errno));
		(void)pb_notify("READY=1");
	}
	if (back >= 0)
		close(back);
	unsetenv(PB_HANDOVER_ENV);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	restart_undo(rs, &ro);
	restart_refused(why);
}

void pb_restart_store(struct pb_restart *rs)
{
	struct restart_out ro;

	if (!pb_notify_on()) {
		log_notice("restart signal received without a service manager "
			   "to keep the clients: shutting down");
		return;
	}
	log_notice("restart signal received: handing over to the service "
		   "manager's store");
	if (restart_prepare(rs, &ro, true) < 0)
		return;
	/* Entries a failed take-over left go first: one name, one entry. */
	if (pb_notify_fd("FDSTOREREMOVE=1\nFDNAME=pb-state", -1) < 0 ||
	    pb_notify_fd("FDSTOREREMOVE=1\nFDNAME=pb-bag", -1) < 0 ||
	    pb_notify_fd("FDSTORE=1\nFDNAME=pb-state\nFDPOLL=0", ro.ro_state) <
		    0 ||
	    pb_notify_fd("FDSTORE=1\nFDNAME=pb-bag\nFDPOLL=0", ro.ro_bag) < 0 ||
	    pb_notify_barrier(PB_BARRIER_MS) < 0) {
		char why[128];

		snprintf(why, sizeof(why),
			 "the service manager did not take the state (%s); "
			 "shutting down instead",
			 strerror(errno));
		(void)pb_notify_fd("FDSTOREREMOVE=1\nFDNAME=pb-state", -1);
		(void)pb_notify_fd("FDSTOREREMOVE=1\nFDNAME=pb-bag", -1);
		restart_undo(rs, &ro);
		restart_refused(why);
		return;
	}
	restart_log_carried(&ro, "the service manager's store");
	/* No exit handlers: the clients' threads wait at their safe point,
	 * and their sockets are the next process's now. */
	_exit(0);
}

/* ---- The new process --------------------------------------------------- */

/* Reads the whole of fd (a memfd) into tk; 0 or -1 with why. */
static int takeover_read(struct pb_takeover *tk, char *why, size_t len)
{
	struct stat st;
	size_t off = 0;

	if (fstat(tk->tk_state, &st) < 0 || st.st_size <= 0 ||
	    (size_t)st.st_size > PB_STATE_MAX_SIZE) {
		snprintf(why, len, "the state's descriptor: %s",
			 errno ? strerror(errno) : "no size");
		return -1;
	}
	tk->tk_len = (size_t)st.st_size;
	tk->tk_data = malloc(tk->tk_len);
	if (tk->tk_data == NULL) {
		snprintf(why, len, "no memory for %zu bytes", tk->tk_len);
		return -1;
	}
	while (off < tk->tk_len) {
		ssize_t n = pread(tk->tk_state, tk->tk_data + off,
				  tk->tk_len - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, len, "reading the state: %s",
				 n < 0 ? strerror(errno) : "short");
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* The LISTENER sections: their sockets taken out of tk_fds. */
static int takeover_listeners(struct pb_takeover *tk, char *why, size_t len)
{
	struct pb_blob_reader r = tk->tk_body, sec;
	uint32_t tag;

	while (pb_blob_next(&r, &tag, &sec)) {
		struct pb_taken_listener *tl = &tk->tk_listen[tk->tk_nlisten];
		uint32_t idx, tls;
		const char *spec;
		size_t n;

		if (tag != PB_HO_LISTENER)
			continue;
		idx = pb_blob_get_u32(&sec);
		tls = pb_blob_get_u32(&sec);
		pb_blob_get_bytes(&sec, &spec, &n);
		if (pb_blob_bad(&sec) || idx >= tk->tk_nfds ||
		    tk->tk_fds[idx] < 0 || n >= sizeof(tl->tl_spec) ||
		    tk->tk_nlisten == PB_ACTIVATE_CLIENTS) {
			snprintf(why, len,
				 "a listening socket's record is "
				 "malformed");
			return -1;
		}
		tl->tl_fd = tk->tk_fds[idx];
		tk->tk_fds[idx] = -1;
		tl->tl_tls = tls != 0;
		memcpy(tl->tl_spec, spec, n);
		tl->tl_spec[n] = '\0';
		tk->tk_nlisten++;
	}
	return 0;
}

/* Reads and checks the state and the bag: 0, or -1 with why. */
static int takeover_load(struct pb_takeover *tk, char *why, size_t len)
{
	static const char *const text[] = {
		[PB_BLOB_NOT_STATE] = "not a hand-over state",
		[PB_BLOB_TOO_NEW] = "too new",
		[PB_BLOB_TRUNCATED] = "truncated",
		[PB_BLOB_CHECKSUM] = "checksum mismatch",
	};
	struct pb_blob_header h;
	enum pb_blob_status st;
	char err[256];

	if (tk->tk_state < 0 || tk->tk_bag < 0) {
		snprintf(why, len, "the %s is missing",
			 tk->tk_state < 0 ? "state" : "bag of sockets");
		return -1;
	}
	if (pb_bag_take(tk->tk_bag, &tk->tk_fds, &tk->tk_nfds) < 0) {
		snprintf(why, len, "the bag of sockets: %s", strerror(errno));
		return -1;
	}
	if (takeover_read(tk, why, len) < 0)
		return -1;
	st = pb_blob_open(&tk->tk_body, tk->tk_data, tk->tk_len, &h);
	if (st != PB_BLOB_OK) {
		snprintf(why, len,
			 "%s (%zu bytes, format %u from patchbayd %s, read by "
			 "format %u and later; this one reads %u)",
			 text[st], tk->tk_len, (unsigned)h.bh_format,
			 h.bh_producer, (unsigned)h.bh_oldest,
			 (unsigned)PB_BLOB_FORMAT);
		return -1;
	}
	if (pb_handover_check(&tk->tk_body, tk->tk_nfds, &tk->tk_info, err,
			      sizeof(err)) < 0 ||
	    pb_federation_handover_check(&tk->tk_body, err, sizeof(err)) < 0) {
		snprintf(why, len, "%s", err);
		return -1;
	}
	if (takeover_listeners(tk, why, len) < 0)
		return -1;
	log_info("hand-over: a state of %zu clients from patchbayd %s",
		 tk->tk_info.hi_clients, h.bh_producer);
	return 0;
}

/* Closes the descriptors still in tk_fds: the connections of a refused
 * state, or those no client took; returns how many were connections. */
static size_t takeover_close_rest(struct pb_takeover *tk)
{
	size_t i, n = 0;

	for (i = 0; i < tk->tk_nfds; i++) {
		int listening = 0;
		socklen_t len = sizeof(listening);

		if (tk->tk_fds[i] < 0)
			continue;
		if (getsockopt(tk->tk_fds[i], SOL_SOCKET, SO_ACCEPTCONN,
			       &listening, &len) < 0 ||
		    !listening)
			n++;
		close(tk->tk_fds[i]);
		tk->tk_fds[i] = -1;
	}
	pb_stats_add(PB_STAT_DISC_RESTART, n);
	return n;
}

/* Where the state is: $PATCHBAY_HANDOVER, or the store's entries. */
static void takeover_find(struct pb_takeover *tk,
			  const struct pb_activated *act)
{
	const char *env = getenv(PB_HANDOVER_ENV);
	int s, b, back = -1;

	if (act->ac_stored) {
		tk->tk_found = tk->tk_stored = true;
		tk->tk_state = act->ac_state;
		tk->tk_bag = act->ac_bag;
	} else if (env != NULL) {
		tk->tk_found = true;
		if (sscanf(env, "%d,%d,%d", &s, &b, &back) >= 2 &&
		    s > STDERR_FILENO && b > STDERR_FILENO &&
		    fcntl(s, F_SETFD, FD_CLOEXEC) == 0 &&
		    fcntl(b, F_SETFD, FD_CLOEXEC) == 0) {
			tk->tk_state = s;
			tk->tk_bag = b;
		}
		if (back > STDERR_FILENO &&
		    fcntl(back, F_SETFD, FD_CLOEXEC) == 0)
			tk->tk_back = back;
	}
	unsetenv(PB_HANDOVER_ENV);
}

/* Lets go of the state: out of the manager's store (waited for), and
 * closed here, which also closes what the bag held and nobody took. */
static void takeover_drop(struct pb_takeover *tk)
{
	if (tk->tk_stored) {
		(void)pb_notify_fd("FDSTOREREMOVE=1\nFDNAME=pb-state", -1);
		(void)pb_notify_fd("FDSTOREREMOVE=1\nFDNAME=pb-bag", -1);
		if (pb_notify_barrier(PB_BARRIER_MS) < 0)
			log_warn("hand-over: the service manager did not "
				 "confirm the store's entries removed");
		tk->tk_stored = false;
	}
	if (tk->tk_state >= 0)
		close(tk->tk_state);
	if (tk->tk_bag >= 0)
		close(tk->tk_bag);
	tk->tk_state = tk->tk_bag = -1;
	free(tk->tk_fds);
	free(tk->tk_data);
	tk->tk_fds = NULL;
	tk->tk_data = NULL;
}

/* An in-place hand-over this image cannot read: executes the image
 * that wrote it (the same pid again), which reads its own format. Returns
 * only if it cannot. */
static void takeover_hand_back(struct pb_takeover *tk, char **argv,
			       const char *why)
{
	char env[64];

	log_warnx("hand-over: state refused: %s; handing back to the binary "
		  "that wrote it",
		  why);
	snprintf(env, sizeof(env), "%d,%d", tk->tk_state, tk->tk_bag);
	if (fcntl(tk->tk_state, F_SETFD, 0) == 0 &&
	    fcntl(tk->tk_bag, F_SETFD, 0) == 0 &&
	    setenv(PB_HANDOVER_ENV, env, 1) == 0) {
		pb_notify_export();
		(void)syscall(SYS_execveat, tk->tk_back, "", argv, environ,
			      AT_EMPTY_PATH);
	}
	log_warn("hand-over: cannot execute the binary that wrote the state");
	unsetenv(PB_HANDOVER_ENV);
	(void)fcntl(tk->tk_state, F_SETFD, FD_CLOEXEC);
	(void)fcntl(tk->tk_bag, F_SETFD, FD_CLOEXEC);
}

void pb_takeover_begin(struct pb_takeover *tk, const struct pb_activated *act,
		       char **argv)
{
	char why[512];
	size_t i;

	memset(tk, 0, sizeof(*tk));
	tk->tk_state = tk->tk_bag = tk->tk_back = -1;
	takeover_find(tk, act);
	if (!tk->tk_found)
		return;
	tk->tk_ok = takeover_load(tk, why, sizeof(why)) == 0;
	if (tk->tk_back >= 0 && !tk->tk_ok && tk->tk_state >= 0 &&
	    tk->tk_bag >= 0)
		takeover_hand_back(tk, argv, why);
	if (tk->tk_back >= 0)
		close(tk->tk_back);
	tk->tk_back = -1;
	if (tk->tk_ok)
		return;
	for (i = 0; i < tk->tk_nlisten; i++)
		close(tk->tk_listen[i].tl_fd);
	tk->tk_nlisten = 0;
	pb_stats_add(PB_STAT_HANDOVER_REFUSED, 1);
	log_warnx("hand-over: state refused: %s; starting clean, closing %zu "
		  "connections",
		  why, takeover_close_rest(tk));
	/* At once: the listening sockets in the bag must be closed before
	 * the same addresses are bound again, and a state refused once is
	 * not tried again after a crash. */
	takeover_drop(tk);
}

int pb_takeover_listener(struct pb_takeover *tk, const char *spec, bool *tls)
{
	size_t i;

	for (i = 0; i < tk->tk_nlisten; i++) {
		struct pb_taken_listener *tl = &tk->tk_listen[i];

		if (tl->tl_fd >= 0 && strcmp(tl->tl_spec, spec) == 0) {
			int fd = tl->tl_fd;

			tl->tl_fd = -1;
			*tls = tl->tl_tls;
			return fd;
		}
	}
	return -1;
}

const struct pb_blob_reader *pb_takeover_state(const struct pb_takeover *tk)
{
	return tk->tk_ok ? &tk->tk_body : NULL;
}

void pb_takeover_restore(struct pb_takeover *tk, struct pb_registry *reg)
{
	size_t i, lost;

	for (i = 0; i < tk->tk_nlisten; i++)
		if (tk->tk_listen[i].tl_fd >= 0) {
			log_notice("hand-over: listening socket %s%s no "
				   "longer configured: closed",
				   tk->tk_listen[i].tl_spec,
				   tk->tk_listen[i].tl_spec[0] ? ""
							       : "(systemd's)");
			close(tk->tk_listen[i].tl_fd);
			tk->tk_listen[i].tl_fd = -1;
		}
	if (!tk->tk_ok)
		return;
	tk->tk_clients =
		pb_handover_restore(reg, &tk->tk_body, tk->tk_fds, tk->tk_nfds);
	lost = takeover_close_rest(tk);
	if (lost > 0)
		log_warnx("hand-over: %zu connections could not be rebuilt: "
			  "closed",
			  lost);
	pb_stats_add(PB_STAT_HANDOVERS, 1);
}

void pb_takeover_end(struct pb_takeover *tk)
{
	uint64_t now = pb_now_ms(), paused = tk->tk_info.hi_paused_ms;

	if (!tk->tk_found)
		return;
	/* Ready, and no client served yet (their threads are held): a crash
	 * from now on must not replay this state, whose sockets are about
	 * to be read and written. */
	takeover_drop(tk);
	if (!tk->tk_ok)
		return;
	atomic_store(&restart_pause_ms,
		     now > paused ? (unsigned long long)(now - paused) : 0);
	log_notice("hand-over: took over %zu clients, %zu bytes, paused %llu "
		   "ms",
		   tk->tk_clients, tk->tk_info.hi_bytes,
		   pb_restart_last_pause_ms());
}
