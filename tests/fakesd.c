/* SPDX-License-Identifier: ISC */
/*
 * fakesd.c: a fake service manager for the restart tests
 * (tests/restart_*.sh). It plays systemd 252's part for one Type=notify
 * service with Restart=on-failure, FileDescriptorStoreMax= and
 * RestartKillSignal=SIGRTMIN+1, so that patchbayd's hand-over through the
 * fd store is tested without systemd as PID 1. Built with the tests, not
 * one of them.
 *
 *   fakesd [--store-max N] [--stop-timeout SECS] -- PATH [ARGS...]
 *
 * The service runs with $NOTIFY_SOCKET naming a datagram socket in a temp
 * dir (SO_PASSCRED on; messages from any pid but the main one are ignored,
 * as NotifyAccess=main does). Understood: READY=1, STOPPING=1, RELOADING=1,
 * STATUS=, WATCHDOG=1, MAINPID= (reported), FDSTORE=1 with FDNAME= and fds
 * (a name already stored adds entries; at most N, default 8), FDPOLL=0
 * (else the fd is watched and dropped on EPOLLHUP/EPOLLERR, and one that
 * cannot be polled is refused), FDSTOREREMOVE=1 with FDNAME=, BARRIER=1
 * with one fd (closed once the messages before it are handled). A start
 * passes the store from fd 3 on, newest first, with LISTEN_FDS,
 * LISTEN_FDNAMES and LISTEN_PID (the child's own, set after the fork).
 *
 * Commands on stdin, one a line, taken one at a time (while a process is
 * being stopped, the next waits): restart (SIGRTMIN+1, wait, start again
 * with the store), stop (SIGTERM, wait, drop the store), start, kill
 * (SIGKILL: a crash), killnext MS (SIGKILL the next process started, MS ms
 * after its start, if it has not said READY=1 by then), killthreads N (the
 * same, once it runs N threads: patchbayd has one a client, so it is in
 * the middle of taking them over), signal NAME,
 * corrupt MODE (at the next start, tamper with pb-state: truncate, flip,
 * version; or nobag: drop pb-bag), quit. A wait past --stop-timeout
 * (default 30 s) ends in SIGKILL. A crash (not after stop or restart)
 * restarts the service with the store kept, at most 5 times in 10 s; then
 * it fails and the store is dropped; a clean exit drops it too.
 *
 * Events on stdout, a line each: started pid=P fds=N names=a:b, ready
 * pid=P ms=T, exited pid=P status=S (or signal=N), store n=K names=...
 * after each change, barrier, notify pid=P fds=N: TEXT for each message,
 * and others (corrupted, killed, timeout, failed, error). The service's
 * stdout and stderr go to fakesd's stderr. Exits 0 after quit (or EOF).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FSD_STORE_CAP 768  /* NOTIFY_FD_MAX: a message's most fds, ours too */
#define FSD_MSG_MAX   4096 /* PIPE_BUF: systemd's longest message */
#define FSD_NAME_MAX  255
#define FSD_BURST     5 /* crash restarts allowed within FSD_BURST_MS */
#define FSD_BURST_MS  10000
#define FSD_EXEC_FAIL 203 /* systemd's EXIT_EXEC */
#define FSD_PIDENV    32  /* "LISTEN_PID=" and a pid */

struct fsd_entry {
	int fe_fd;
	char fe_name[FSD_NAME_MAX + 1];
};

/* What the exit of the main process is awaited for. */
enum fsd_want { FSD_NONE, FSD_RESTART, FSD_STOP, FSD_QUIT };

/* One notify message, parsed. */
struct fsd_msg {
	bool fm_ready, fm_stopping, fm_reloading, fm_store, fm_remove;
	bool fm_nopoll, fm_barrier;
	const char *fm_name, *fm_mainpid;
};

static struct fsd_entry fsd_store[FSD_STORE_CAP]; /* oldest first */
static int fsd_nstore, fsd_store_max = 8;
static int64_t fsd_stop_ms = 30000;
static char **fsd_argv;
static char fsd_dir[256], fsd_sock[300];
static int fsd_notify = -1, fsd_sigfd = -1, fsd_epoll = -1;
static pid_t fsd_pid; /* the main process, 0 when there is none */
static bool fsd_ready, fsd_done, fsd_eof;
static enum fsd_want fsd_want;
static int64_t fsd_started_ms, fsd_deadline_ms = -1, fsd_kill_ms = -1;
static int64_t fsd_killnext = -1;    /* ms, for the next start */
static int fsd_killthreads = -1;     /* threads, for the next start */
static int fsd_kill_threads = -1;    /* the main process's, if armed */
static const char *fsd_corrupt;	     /* a mode, for the next start */
static int64_t fsd_crash[FSD_BURST]; /* times of the last crash restarts */
static int fsd_ncrash;
static char fsd_cmd[4096];
static size_t fsd_cmdlen;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ev(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ev(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "fakesd: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- The store ---------------------------------------------------- */

static void store_event(void)
{
	int i;

	printf("store n=%d names=", fsd_nstore);
	for (i = fsd_nstore - 1; i >= 0; i--)
		printf("%s%s", fsd_store[i].fe_name, i ? ":" : "");
	ev("%s", "");
}

static void store_remove_at(int i)
{
	(void)epoll_ctl(fsd_epoll, EPOLL_CTL_DEL, fsd_store[i].fe_fd, NULL);
	close(fsd_store[i].fe_fd);
	memmove(&fsd_store[i], &fsd_store[i + 1],
		(size_t)(fsd_nstore - i - 1) * sizeof(fsd_store[0]));
	fsd_nstore--;
}

/* Takes fd into the store (closed if refused); true if stored. */
static bool store_add(const char *name, int fd, bool poll)
{
	struct epoll_event e = {.events = 0, .data.fd = fd};

	if (fsd_nstore >= fsd_store_max) {
		ev("store-full name=%s", name);
		close(fd);
		return false;
	}
	if (poll && epoll_ctl(fsd_epoll, EPOLL_CTL_ADD, fd, &e) < 0) {
		ev("store-refused name=%s: %s (FDPOLL=0 missing?)", name,
		   strerror(errno));
		close(fd);
		return false;
	}
	fsd_store[fsd_nstore].fe_fd = fd;
	snprintf(fsd_store[fsd_nstore].fe_name, sizeof(fsd_store[0].fe_name),
		 "%s", name);
	fsd_nstore++;
	return true;
}

static int store_remove(const char *name)
{
	int i, n = 0;

	for (i = fsd_nstore - 1; i >= 0; i--)
		if (strcmp(fsd_store[i].fe_name, name) == 0) {
			store_remove_at(i);
			n++;
		}
	return n;
}

static void store_drop(void)
{
	if (fsd_nstore == 0)
		return;
	while (fsd_nstore > 0)
		store_remove_at(fsd_nstore - 1);
	store_event();
}

/* Drops the entries whose fd reports EPOLLHUP or EPOLLERR. */
static void store_hangups(void)
{
	struct epoll_event e[16];
	int i, j, n = epoll_wait(fsd_epoll, e, 16, 0);

	for (i = 0; i < n; i++)
		for (j = 0; j < fsd_nstore; j++)
			if (fsd_store[j].fe_fd == e[i].data.fd) {
				ev("hangup name=%s", fsd_store[j].fe_name);
				store_remove_at(j);
				store_event();
				break;
			}
}

/* ---- corrupt: tampering with pb-state before a start ---------------- */

/* Applies mode to a copy of the state (size bytes in buf); false if the
 * state is too short for it. */
static bool corrupt_bytes(const char *mode, unsigned char *buf, size_t *size)
{
	if (strcmp(mode, "truncate") == 0) {
		*size /= 2;
	} else if (strcmp(mode, "flip") == 0) {
		if (*size <= 64)
			return false;
		buf[64 + (*size - 64) / 2] ^= 0x5a; /* inside the body */
	} else {				    /* version */
		if (*size < 12)
			return false;
		memcpy(buf + 8, "\xe7\x03\0\0", 4); /* 999, little-endian */
	}
	return true;
}

/* Replaces e's fd with a memfd holding a tampered copy, sealed as the
 * original was (a sealed memfd cannot be written in place). */
static bool corrupt_entry(struct fsd_entry *e, const char *mode)
{
	struct stat st;
	unsigned char *buf;
	size_t size;
	int fd = -1, seals = fcntl(e->fe_fd, F_GET_SEALS);
	bool ok = false;

	if (fstat(e->fe_fd, &st) < 0 || st.st_size < 0)
		return false;
	size = (size_t)st.st_size;
	buf = malloc(size + 1);
	if (buf != NULL && pread(e->fe_fd, buf, size, 0) == (ssize_t)size &&
	    corrupt_bytes(mode, buf, &size) &&
	    (fd = memfd_create("pb-state", MFD_CLOEXEC | MFD_ALLOW_SEALING)) >=
		    0 &&
	    write(fd, buf, size) == (ssize_t)size &&
	    (seals <= 0 || fcntl(fd, F_ADD_SEALS, seals) == 0)) {
		close(e->fe_fd);
		e->fe_fd = fd;
		ok = true;
	} else if (fd >= 0) {
		close(fd);
	}
	free(buf);
	return ok;
}

static void corrupt_apply(void)
{
	const char *mode = fsd_corrupt;
	int i, n = 0;

	fsd_corrupt = NULL;
	if (strcmp(mode, "nobag") == 0) {
		n = store_remove("pb-bag");
		ev("corrupted %s n=%d", mode, n);
		if (n)
			store_event();
		return;
	}
	for (i = 0; i < fsd_nstore; i++)
		if (strcmp(fsd_store[i].fe_name, "pb-state") == 0 &&
		    corrupt_entry(&fsd_store[i], mode))
			n++;
	ev("corrupted %s n=%d", mode, n);
}

/* ---- Starting the service ------------------------------------------- */

/* The environment: ours without NOTIFY_SOCKET and LISTEN_*, then those.
 * pid_env is filled in by the child. */
static char **start_env(char *fds_env, char *names_env, char *pid_env)
{
	extern char **environ;
	static char notify_env[sizeof(fsd_sock) + 16];
	char **env;
	size_t n = 0, i;

	while (environ[n] != NULL)
		n++;
	env = calloc(n + 5, sizeof(char *));
	if (env == NULL)
		return NULL;
	for (n = 0, i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0 &&
		    strncmp(environ[i], "LISTEN_", 7) != 0)
			env[n++] = environ[i];
	snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", fsd_sock);
	env[n++] = notify_env;
	if (fsd_nstore > 0) {
		env[n++] = fds_env;
		env[n++] = names_env;
		env[n++] = pid_env;
	}
	return env;
}

/* In the child: the store at fd 3 on, newest first, LISTEN_PID, exec. */
static void start_child(char **env, char *pid_env, pid_t parent)
{
	int i, n = fsd_nstore, null, tmp[FSD_STORE_CAP];
	sigset_t none;

	setsid();
	/* Dies with fakesd: a test killed midway leaves no daemon. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(FSD_EXEC_FAIL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0)
		_exit(FSD_EXEC_FAIL);
	/* Out of the way first: a store fd may sit where another goes. */
	for (i = 0; i < n; i++)
		tmp[i] = fcntl(fsd_store[n - 1 - i].fe_fd, F_DUPFD_CLOEXEC,
			       3 + n);
	for (i = 0; i < n; i++)
		if (tmp[i] < 0 || dup2(tmp[i], 3 + i) < 0)
			_exit(FSD_EXEC_FAIL);
#ifdef SYS_close_range /* else fakesd's own are close-on-exec anyway */
	(void)syscall(SYS_close_range, 3 + n, ~0U, 0);
#endif
	/* One thread in fakesd: the child may still call snprintf. */
	snprintf(pid_env, FSD_PIDENV, "LISTEN_PID=%d", (int)getpid());
	execve(fsd_argv[0], fsd_argv, env);
	fprintf(stderr, "fakesd: %s: %s\n", fsd_argv[0], strerror(errno));
	_exit(FSD_EXEC_FAIL);
}

static void service_start(void)
{
	char fds_env[32], pid_env[FSD_PIDENV], *names, **env;
	size_t len = 16;
	pid_t parent = getpid(), pid;
	int i;

	if (fsd_corrupt != NULL)
		corrupt_apply();
	for (i = 0; i < fsd_nstore; i++)
		len += strlen(fsd_store[i].fe_name) + 1;
	names = malloc(len);
	if (names == NULL)
		die("malloc");
	strcpy(names, "LISTEN_FDNAMES=");
	for (i = fsd_nstore - 1; i >= 0; i--) {
		strcat(names, fsd_store[i].fe_name);
		if (i)
			strcat(names, ":");
	}
	snprintf(fds_env, sizeof(fds_env), "LISTEN_FDS=%d", fsd_nstore);
	env = start_env(fds_env, names, pid_env);
	if (env == NULL)
		die("calloc");
	pid = fork();
	if (pid == 0)
		start_child(env, pid_env, parent);
	if (pid < 0) {
		ev("error fork: %s", strerror(errno));
	} else {
		fsd_pid = pid;
		fsd_ready = false;
		fsd_started_ms = now_ms();
		ev("started pid=%d fds=%d names=%s", (int)pid, fsd_nstore,
		   names + 15);
		if (fsd_killnext >= 0)
			fsd_kill_ms = fsd_started_ms + fsd_killnext;
		fsd_kill_threads = fsd_killthreads;
		fsd_killnext = fsd_killthreads = -1;
	}
	free(env);
	free(names);
}

/* ---- Notify messages ---------------------------------------------- */

static void msg_parse(char *text, struct fsd_msg *m)
{
	char *save = NULL, *l;

	memset(m, 0, sizeof(*m));
	for (l = strtok_r(text, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		m->fm_ready |= strcmp(l, "READY=1") == 0;
		m->fm_stopping |= strcmp(l, "STOPPING=1") == 0;
		m->fm_reloading |= strcmp(l, "RELOADING=1") == 0;
		m->fm_store |= strcmp(l, "FDSTORE=1") == 0;
		m->fm_remove |= strcmp(l, "FDSTOREREMOVE=1") == 0;
		m->fm_nopoll |= strcmp(l, "FDPOLL=0") == 0;
		m->fm_barrier |= strcmp(l, "BARRIER=1") == 0;
		if (strncmp(l, "FDNAME=", 7) == 0)
			m->fm_name = l + 7;
		if (strncmp(l, "MAINPID=", 8) == 0)
			m->fm_mainpid = l + 8;
	}
}

/* systemd's fdname_is_valid: printable ASCII but ':', 1 to 255. */
static bool name_valid(const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (s[i] < ' ' || s[i] > '~' || s[i] == ':')
			return false;
	return n > 0 && n <= FSD_NAME_MAX;
}

/* Acts on one message, in systemd's order; takes the fds it stores (sets
 * them to -1). */
static void msg_handle(struct fsd_msg *m, int *fds, int nfds, pid_t pid)
{
	int i, changed = 0;

	if (m->fm_barrier) { /* the caller closes its fd */
		if (nfds == 1)
			ev("barrier");
		else
			ev("error BARRIER=1 with %d fds", nfds);
		return;
	}
	if (pid == 0 || pid != fsd_pid) {
		ev("ignored pid=%d: not the main process", (int)pid);
		return;
	}
	if (m->fm_mainpid != NULL)
		ev("mainpid pid=%s", m->fm_mainpid);
	if (m->fm_ready && !fsd_ready) {
		fsd_ready = true;
		ev("ready pid=%d ms=%lld", (int)pid,
		   (long long)(now_ms() - fsd_started_ms));
	}
	if (m->fm_stopping)
		ev("stopping pid=%d", (int)pid);
	if (m->fm_reloading) {
		fsd_ready = false;
		ev("reloading pid=%d", (int)pid);
	}
	if (m->fm_name != NULL && !name_valid(m->fm_name)) {
		ev("error invalid FDNAME=%s", m->fm_name);
		m->fm_name = NULL;
	}
	if (m->fm_remove && m->fm_name == NULL)
		ev("error FDSTOREREMOVE=1 without FDNAME=");
	else if (m->fm_remove)
		changed += store_remove(m->fm_name);
	for (i = 0; m->fm_store && i < nfds; i++) {
		changed += store_add(m->fm_name ? m->fm_name : "stored", fds[i],
				     !m->fm_nopoll);
		fds[i] = -1;
	}
	if (changed)
		store_event();
}

/* Handles every message waiting on the notify socket. */
static void notify_read(void)
{
	/* Room for the credentials and FSD_STORE_CAP fds, no more. */
	static union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(sizeof(int) * FSD_STORE_CAP)];
	} cbuf;
	char text[FSD_MSG_MAX + 1];
	struct iovec iov = {.iov_base = text, .iov_len = FSD_MSG_MAX};
	struct msghdr mh;
	struct cmsghdr *c;
	struct fsd_msg m;
	int fds[FSD_STORE_CAP], nfds, i;
	pid_t pid;
	ssize_t n;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		n = recvmsg(fsd_notify, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		nfds = 0;
		pid = 0;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			else if (c->cmsg_type == SCM_RIGHTS) {
				int k = (int)((c->cmsg_len - CMSG_LEN(0)) /
					      sizeof(int));

				memcpy(fds + nfds, CMSG_DATA(c),
				       (size_t)k * sizeof(int));
				nfds += k;
			} else if (c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred u;

				memcpy(&u, CMSG_DATA(c), sizeof(u));
				pid = u.pid;
			}
		text[n] = '\0';
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			ev("error truncated message from pid=%d", (int)pid);
		} else {
			printf("notify pid=%d fds=%d: ", (int)pid, nfds);
			for (i = 0; i < n; i++)
				putchar(text[i] == '\n' ? ' ' : text[i]);
			ev("%s", "");
			msg_parse(text, &m);
			msg_handle(&m, fds, nfds, pid);
		}
		for (i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
}

/* ---- The main process's exit ---------------------------------------- */

/* True if one more crash restart stays within the start limit. */
static bool crash_allowed(int64_t now)
{
	if (fsd_ncrash == FSD_BURST && now - fsd_crash[0] < FSD_BURST_MS)
		return false;
	if (fsd_ncrash == FSD_BURST)
		memmove(fsd_crash, fsd_crash + 1, --fsd_ncrash * sizeof(now));
	fsd_crash[fsd_ncrash++] = now;
	return true;
}

static void service_exited(int status)
{
	enum fsd_want want = fsd_want;
	bool crash = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

	notify_read(); /* what it said before it went is its */
	if (WIFEXITED(status))
		ev("exited pid=%d status=%d", (int)fsd_pid,
		   WEXITSTATUS(status));
	else
		ev("exited pid=%d signal=%d", (int)fsd_pid, WTERMSIG(status));
	fsd_pid = 0;
	fsd_want = FSD_NONE;
	fsd_deadline_ms = fsd_kill_ms = -1;
	fsd_kill_threads = -1;
	if (want == FSD_RESTART) {
		service_start();
	} else if (want != FSD_NONE || !crash) {
		store_drop();
		fsd_done = want == FSD_QUIT;
	} else if (!crash_allowed(now_ms())) {
		ev("failed start-limit-hit");
		store_drop();
	} else {
		ev("restarting after a crash");
		service_start();
	}
}

static void reap(void)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(fsd_sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == fsd_pid)
			service_exited(status);
}

/* The number of threads pid runs (0 if unknown). */
static int proc_threads(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL &&
	       sscanf(line, "Threads: %d", &n) != 1)
		;
	fclose(f);
	return n;
}

/* killnext, killthreads: SIGKILL the main process once the time has come
 * or it runs so many threads, unless it has said READY=1 first. */
static void kill_before_ready(int64_t now)
{
	int threads;

	if (fsd_kill_ms < 0 && fsd_kill_threads <= 0)
		return;
	notify_read(); /* a READY=1 on its way counts */
	if (fsd_ready) {
		fsd_kill_ms = fsd_kill_threads = -1;
		ev("kill missed pid=%d: ready", (int)fsd_pid);
		return;
	}
	threads = proc_threads(fsd_pid);
	if (!(fsd_kill_ms >= 0 && now >= fsd_kill_ms) &&
	    !(fsd_kill_threads > 0 && threads >= fsd_kill_threads))
		return;
	fsd_kill_ms = fsd_kill_threads = -1;
	ev("killed pid=%d before-ready ms=%lld threads=%d", (int)fsd_pid,
	   (long long)(now - fsd_started_ms), threads);
	kill(fsd_pid, SIGKILL);
}

static void timers(void)
{
	int64_t now = now_ms();

	if (fsd_pid && fsd_deadline_ms >= 0 && now >= fsd_deadline_ms) {
		ev("timeout pid=%d", (int)fsd_pid);
		kill(fsd_pid, SIGKILL);
		fsd_deadline_ms = -1;
	}
	if (fsd_pid)
		kill_before_ready(now);
}

/* ---- Commands ------------------------------------------------------- */

static int signal_number(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},	  {"QUIT", SIGQUIT},
		    {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
		    {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}};
	size_t i;

	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	if (strncmp(s, "RTMIN+", 6) == 0)
		return SIGRTMIN + atoi(s + 6);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcmp(s, sigs[i].name) == 0)
			return sigs[i].sig;
	return atoi(s);
}

/* Signals the main process; want: what its exit is then awaited for. */
static void service_signal(int sig, enum fsd_want want)
{
	if (fsd_pid == 0) {
		ev("error not running");
		return;
	}
	kill(fsd_pid, sig);
	fsd_want = want;
	if (want != FSD_NONE)
		fsd_deadline_ms = now_ms() + fsd_stop_ms;
}

/* corrupt MODE: kept for the next start. */
static void command_corrupt(const char *mode)
{
	static const char *const modes[] = {"truncate", "flip", "version",
					    "nobag"};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(mode, modes[i]) == 0) {
			fsd_corrupt = modes[i];
			return;
		}
	ev("error corrupt: no mode %s", mode);
}

static void command(char *line)
{
	char *arg = strchr(line, ' ');
	bool running = fsd_pid != 0;

	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(line, "restart") == 0 && running)
		service_signal(SIGRTMIN + 1, FSD_RESTART);
	else if ((strcmp(line, "restart") == 0 || strcmp(line, "start") == 0) &&
		 !running)
		service_start();
	else if (strcmp(line, "start") == 0)
		ev("error start: running");
	else if (strcmp(line, "stop") == 0 && running)
		service_signal(SIGTERM, FSD_STOP);
	else if (strcmp(line, "stop") == 0)
		store_drop();
	else if (strcmp(line, "quit") == 0 && running)
		service_signal(SIGTERM, FSD_QUIT);
	else if (strcmp(line, "quit") == 0)
		fsd_done = true;
	else if (strcmp(line, "kill") == 0)
		service_signal(SIGKILL, FSD_NONE);
	else if (strcmp(line, "killnext") == 0 && arg != NULL)
		fsd_killnext = atoll(arg);
	else if (strcmp(line, "killthreads") == 0 && arg != NULL)
		fsd_killthreads = atoi(arg);
	else if (strcmp(line, "signal") == 0 && arg != NULL &&
		 signal_number(arg) > 0)
		service_signal(signal_number(arg), FSD_NONE);
	else if (strcmp(line, "corrupt") == 0 && arg != NULL)
		command_corrupt(arg);
	else if (line[0] != '\0')
		ev("error unknown command: %s%s%s", line, arg ? " " : "",
		   arg ? arg : "");
}

/* Runs the whole lines read, one at a time, while nothing is awaited. */
static void commands_run(void)
{
	char *nl;

	while (fsd_want == FSD_NONE && !fsd_done &&
	       (nl = memchr(fsd_cmd, '\n', fsd_cmdlen)) != NULL) {
		size_t len = (size_t)(nl - fsd_cmd) + 1;

		*nl = '\0';
		command(fsd_cmd);
		memmove(fsd_cmd, fsd_cmd + len, fsd_cmdlen - len);
		fsd_cmdlen -= len;
	}
	if (fsd_eof && fsd_want == FSD_NONE && !fsd_done) {
		char quit[] = "quit";

		command(quit);
	}
}

static void commands_read(void)
{
	ssize_t n = read(0, fsd_cmd + fsd_cmdlen, sizeof(fsd_cmd) - fsd_cmdlen);

	if (n > 0)
		fsd_cmdlen += (size_t)n;
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		fsd_eof = true;
	if (fsd_cmdlen == sizeof(fsd_cmd)) /* a line that long: none of ours */
		fsd_cmdlen = 0;
}

/* ---- Main ----------------------------------------------------------- */

static void setup(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	const char *tmp = getenv("TMPDIR");
	sigset_t set;
	int one = 1;

	snprintf(fsd_dir, sizeof(fsd_dir), "%s/fakesd.XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(fsd_dir) == NULL)
		die("mkdtemp");
	snprintf(fsd_sock, sizeof(fsd_sock), "%s/notify", fsd_dir);
	if (strlen(fsd_sock) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		die(fsd_sock);
	}
	strcpy(a.sun_path, fsd_sock);
	fsd_notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fsd_notify < 0 ||
	    bind(fsd_notify, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    setsockopt(fsd_notify, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) <
		    0)
		die("notify socket");
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	fsd_sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	fsd_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (fsd_sigfd < 0 || fsd_epoll < 0)
		die("signalfd/epoll");
}

static void usage(void)
{
	fputs("usage: fakesd [--store-max N] [--stop-timeout SECS] -- PATH "
	      "[ARGS...]\n",
	      stderr);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2)
		if (strcmp(argv[i], "--store-max") == 0)
			fsd_store_max = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--stop-timeout") == 0)
			fsd_stop_ms = atoll(argv[i + 1]) * 1000;
		else
			usage();
	if (i + 1 >= argc || strcmp(argv[i], "--") != 0 || fsd_store_max < 1 ||
	    fsd_store_max > FSD_STORE_CAP || fsd_stop_ms <= 0)
		usage();
	fsd_argv = argv + i + 1;
}

/* The poll timeout: until the nearest deadline, -1 if none. */
static int next_timeout(void)
{
	int64_t next = -1, now = now_ms();

	if (fsd_deadline_ms >= 0)
		next = fsd_deadline_ms;
	if (fsd_kill_ms >= 0 && (next < 0 || fsd_kill_ms < next))
		next = fsd_kill_ms;
	if (fsd_kill_threads > 0 && (next < 0 || now + 1 < next))
		next = now + 1; /* its threads, looked at every ms */
	return next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
}

int main(int argc, char **argv)
{
	struct pollfd p[4];

	parse_args(argc, argv);
	setup();
	service_start();
	for (;;) {
		commands_run();
		if (fsd_done)
			break;
		p[0] = (struct pollfd){.fd = fsd_notify, .events = POLLIN};
		p[1] = (struct pollfd){.fd = fsd_sigfd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = fsd_epoll, .events = POLLIN};
		p[3] = (struct pollfd){.fd = 0, .events = POLLIN};
		if (poll(p, fsd_want == FSD_NONE && !fsd_eof ? 4 : 3,
			 next_timeout()) < 0 &&
		    errno != EINTR)
			die("poll");
		if (p[0].revents)
			notify_read();
		if (p[2].revents)
			store_hangups();
		if (p[1].revents)
			reap();
		timers();
		if (p[3].revents)
			commands_read();
	}
	store_drop();
	unlink(fsd_sock);
	rmdir(fsd_dir);
	return 0;
}
