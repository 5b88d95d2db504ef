/* SPDX-License-Identifier: ISC */
/*
 * harness.c: the end-to-end test harness (see harness.h). A daemon runs as
 * a child with PR_SET_PDEATHSIG so that a test that fails, times out or
 * crashes never leaves it behind; a reader thread drains its stderr and
 * stdout into buffers guarded by a mutex and a condition variable, so tests
 * wait for log lines with a deadline and the daemon never blocks on a full
 * pipe. Client I/O uses poll() with deadlines and fails the test instead of
 * hanging.
 */
#include "config.h"

#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PBT_MAX_DAEMONS 8
#define PBT_DUMP_BYTES	4000
#define PBT_CHUNK	(1u << 20)

/* Captured output of one stream of the daemon (its stderr or stdout). */
struct pbt_text {
	char *t_data; /* always NUL-terminated */
	size_t t_len;
	size_t t_cap;
};

struct pbt_daemon {
	pid_t d_pid;
	int d_port;
	int d_err_fd;  /* read end of the daemon's stderr */
	int d_out_fd;  /* read end of the daemon's stdout */
	int d_stop[2]; /* written to stop the reader thread */
	pthread_t d_reader;
	bool d_reader_running;
	pthread_mutex_t d_mu;
	pthread_cond_t d_cv;
	struct pbt_text d_log; /* stderr */
	struct pbt_text d_out; /* stdout */
	bool d_eof;	       /* both pipes reached end of file */
	bool d_reaped;
	int d_status;
	bool d_dumped;
};

/* Daemons still alive, for pbt_teardown and for the logs of a failure. */
static struct pbt_daemon *pbt_live[PBT_MAX_DAEMONS];

/* The test is failing: pbt_free must not fail it a second time. */
static bool pbt_failing;

/* --- small utilities ---------------------------------------------------- */

int64_t pbt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pbt_left_ms(int64_t deadline)
{
	int64_t left = deadline - pbt_now_ms();

	return left < 0 ? 0 : (int)left;
}

static void *pbt_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL) {
		fprintf(stderr, "harness: out of memory (%zu bytes)\n", n);
		abort();
	}
	return q;
}

/*
 * Prints a daemon's log for a failure. A daemon still running is asked to
 * stop first (SIGTERM, a few seconds at most), so that the log ends with
 * its counters, which often say where the missing bytes went.
 */
static void pbt_dump_one(struct pbt_daemon *d)
{
	size_t from;

	if (!d->d_reaped && kill(d->d_pid, SIGTERM) == 0)
		pbt_wait_exit(d, 3000);
	pthread_mutex_lock(&d->d_mu);
	from = d->d_log.t_len > PBT_DUMP_BYTES ? d->d_log.t_len - PBT_DUMP_BYTES
					       : 0;
	fprintf(stderr, "---- patchbayd pid %d stderr (%zu bytes%s) ----\n%s",
		(int)d->d_pid, d->d_log.t_len, from ? ", tail" : "",
		d->d_log.t_data + from);
	fprintf(stderr, "---- end of patchbayd pid %d stderr ----\n",
		(int)d->d_pid);
	pthread_mutex_unlock(&d->d_mu);
	d->d_dumped = true;
}

/* Prints the log of every live daemon not printed yet: for a failure. */
static void pbt_dump_logs(void)
{
	for (size_t i = 0; i < PBT_MAX_DAEMONS; i++)
		if (pbt_live[i] != NULL && !pbt_live[i]->d_dumped)
			pbt_dump_one(pbt_live[i]);
}

static void pbt_fail_msg(const char *file, int line, const char *msg)
	__attribute__((noreturn));

static void pbt_fail_msg(const char *file, int line, const char *msg)
{
	fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, msg);
	pbt_failing = true;
	pbt_dump_logs();
	pbt_teardown(); /* Check's _exit() would leave the reader threads */
	_ck_assert_failed(file, line, "Failed", "%s", msg);
}

void pbt_fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pbt_fail_msg(__FILE__, __LINE__, msg);
}

void pbt_fail_at(const char *file, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pbt_fail_msg(file, line, msg);
}

/* A printable excerpt of binary data, for failure messages. */
static const char *pbt_preview(const void *data, size_t len, char *out,
			       size_t cap)
{
	const unsigned char *p = data;
	size_t o = 0, i;

	for (i = 0; i < len && o + 8 < cap; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x",
					      p[i]);
	}
	if (i < len)
		memcpy(out + o, "...", 4);
	else
		out[o] = '\0';
	return out;
}

void pbt_assert_mem_eq_at(const char *file, int line, const char *what,
			  const void *got, const void *want, size_t len)
{
	const unsigned char *g = got, *w = want;
	char a[120], b[120];
	size_t at = 0;

	if (memcmp(got, want, len) == 0)
		return;
	while (g[at] == w[at])
		at++;
	pbt_fail_at(
		file, line,
		"%s differs from what was expected at byte %zu of %zu: "
		"got \"%s\", expected \"%s\"",
		what, at, len,
		pbt_preview(g + at, len - at < 24 ? len - at : 24, a, sizeof a),
		pbt_preview(w + at, len - at < 24 ? len - at : 24, b,
			    sizeof b));
}

/* --- the daemon ----------------------------------------------------------- */

static void pbt_text_add(struct pbt_text *t, const char *data, size_t len)
{
	if (t->t_len + len + 1 > t->t_cap) {
		size_t cap = t->t_cap ? t->t_cap : 4096;

		while (cap < t->t_len + len + 1)
			cap *= 2;
		t->t_data = pbt_xrealloc(t->t_data, cap);
		t->t_cap = cap;
	}
	memcpy(t->t_data + t->t_len, data, len);
	t->t_len += len;
	t->t_data[t->t_len] = '\0';
}

/*
 * Reads one chunk of fd into t. Returns false at end of file (or error),
 * after closing fd.
 */
static bool pbt_drain(struct pbt_daemon *d, int *fd, struct pbt_text *t,
		      bool echo)
{
	char buf[8192];
	ssize_t n = read(*fd, buf, sizeof buf);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return false;
	}
	if (echo)
		fwrite(buf, 1, (size_t)n, stderr);
	pthread_mutex_lock(&d->d_mu);
	pbt_text_add(t, buf, (size_t)n);
	pthread_cond_broadcast(&d->d_cv);
	pthread_mutex_unlock(&d->d_mu);
	return true;
}

/* The reader thread: drains both pipes until they close or we are told. */
static void *pbt_reader(void *arg)
{
	struct pbt_daemon *d = arg;
	bool echo = getenv("PBT_ECHO") != NULL;

	while (d->d_err_fd >= 0 || d->d_out_fd >= 0) {
		struct pollfd p[3] = {
			{.fd = d->d_err_fd, .events = POLLIN},
			{.fd = d->d_out_fd, .events = POLLIN},
			{.fd = d->d_stop[0], .events = POLLIN},
		};

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents)
			break;
		if (p[0].revents)
			pbt_drain(d, &d->d_err_fd, &d->d_log, echo);
		if (p[1].revents)
			pbt_drain(d, &d->d_out_fd, &d->d_out, false);
	}
	pthread_mutex_lock(&d->d_mu);
	d->d_eof = true;
	pthread_cond_broadcast(&d->d_cv);
	pthread_mutex_unlock(&d->d_mu);
	return NULL;
}

static const char *pbt_binary(void)
{
	const char *path = getenv("PATCHBAYD");

	if (path == NULL || *path == '\0')
		pbt_fail("PATCHBAYD is not set: it must name the patchbayd "
			 "binary under test ('make check' sets it)");
	if (access(path, X_OK) != 0)
		pbt_fail("PATCHBAYD=%s is not an executable file: %s", path,
			 strerror(errno));
	return path;
}

static void pbt_track(struct pbt_daemon *d)
{
	for (size_t i = 0; i < PBT_MAX_DAEMONS; i++) {
		if (pbt_live[i] == NULL) {
			pbt_live[i] = d;
			return;
		}
	}
	pbt_fail("harness: more than %d daemons at once", PBT_MAX_DAEMONS);
}

static void pbt_untrack(struct pbt_daemon *d)
{
	for (size_t i = 0; i < PBT_MAX_DAEMONS; i++)
		if (pbt_live[i] == d)
			pbt_live[i] = NULL;
}

/*
 * In the child between fork and exec: only async-signal-safe calls. The
 * daemon dies with us (PR_SET_PDEATHSIG), and gets default signal
 * dispositions whatever the test process changed.
 */
static void pbt_child(const char *path, char *const argv[], int err_fd,
		      int out_fd, pid_t parent)
{
	static const char msg[] = "harness: cannot exec PATCHBAYD\n";
	sigset_t none;
	int null_fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
	    dup2(err_fd, 2) < 0)
		_exit(127);
	execv(path, argv);
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(127);
	_exit(127);
}

struct pbt_daemon *pbt_start_argv(const char *const *args)
{
	const char *path = pbt_binary();
	struct pbt_daemon *d;
	pthread_condattr_t ca;
	int err_pipe[2], out_pipe[2];
	size_t n = 0;
	char **argv;
	pid_t parent = getpid();

	while (args[n] != NULL)
		n++;
	argv = calloc(n + 2, sizeof *argv);
	d = calloc(1, sizeof *d);
	if (argv == NULL || d == NULL)
		abort();
	argv[0] = (char *)path;
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];

	signal(SIGPIPE, SIG_IGN);
	if (pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) ||
	    pipe2(d->d_stop, O_CLOEXEC) != 0)
		pbt_fail("pipe: %s", strerror(errno));
	pthread_mutex_init(&d->d_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->d_cv, &ca);
	pthread_condattr_destroy(&ca);
	pbt_text_add(&d->d_log, "", 0);
	pbt_text_add(&d->d_out, "", 0);

	d->d_pid = fork();
	if (d->d_pid < 0)
		pbt_fail("fork: %s", strerror(errno));
	if (d->d_pid == 0)
		pbt_child(path, argv, err_pipe[1], out_pipe[1], parent);
	free(argv);
	close(err_pipe[1]);
	close(out_pipe[1]);
	d->d_err_fd = err_pipe[0];
	d->d_out_fd = out_pipe[0];
	pbt_track(d);
	if (pthread_create(&d->d_reader, NULL, pbt_reader, d) != 0)
		pbt_fail("pthread_create: %s", strerror(errno));
	d->d_reader_running = true;
	return d;
}

/* Parses the port from the "listening on ADDR:PORT" line. */
static int pbt_parse_port(struct pbt_daemon *d)
{
	char line[256];
	const char *p, *end, *colon;
	char *endp;
	long port;

	pthread_mutex_lock(&d->d_mu);
	p = strstr(d->d_log.t_data, "listening on ");
	if (p == NULL) {
		pthread_mutex_unlock(&d->d_mu);
		return -1;
	}
	p += strlen("listening on ");
	end = strchr(p, '\n');
	if (end == NULL)
		end = p + strlen(p);
	snprintf(line, sizeof line, "%.*s", (int)(end - p), p);
	pthread_mutex_unlock(&d->d_mu);

	colon = strrchr(line, ':');
	if (colon == NULL)
		return -1;
	errno = 0;
	port = strtol(colon + 1, &endp, 10);
	if (errno != 0 || endp == colon + 1 || *endp != '\0' || port <= 0 ||
	    port > 65535)
		return -1;
	return (int)port;
}

struct pbt_daemon *pbt_start(const char *arg, ...)
{
	const char *args[64] = {"-l", "127.0.0.1:0", "-v"};
	size_t n = 3;
	struct pbt_daemon *d;
	va_list ap;

	va_start(ap, arg);
	for (const char *a = arg; a != NULL; a = va_arg(ap, const char *))
		if (n + 1 < sizeof args / sizeof args[0])
			args[n++] = a;
	va_end(ap);
	if (n + 1 >= sizeof args / sizeof args[0])
		pbt_fail("harness: too many daemon arguments");
	args[n] = NULL;

	d = pbt_start_argv(args);
	if (!pbt_log_wait(d, "listening on ", PBT_START_MS)) {
		int st = pbt_wait_exit(d, 100);

		if (st != -1)
			pbt_fail("patchbayd exited (%s %d) without printing "
				 "\"listening on\"",
				 WIFEXITED(st) ? "status" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st)
					       : WTERMSIG(st));
		pbt_fail("patchbayd did not print \"listening on\" within "
			 "%d ms (pid %d)",
			 PBT_START_MS, (int)d->d_pid);
	}
	d->d_port = pbt_parse_port(d);
	if (d->d_port <= 0)
		pbt_fail(
			"cannot parse a port from patchbayd's \"listening on\" "
			"line");
	return d;
}

int pbt_port(const struct pbt_daemon *d)
{
	return d->d_port;
}

pid_t pbt_pid(const struct pbt_daemon *d)
{
	return d->d_pid;
}

/* Waits on the condvar until `at` (monotonic ms). Mutex held. */
static void pbt_cond_wait_until(struct pbt_daemon *d, int64_t at)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(at / 1000);
	ts.tv_nsec = (long)(at % 1000) * 1000000;
	pthread_cond_timedwait(&d->d_cv, &d->d_mu, &ts);
}

/* Whether the log holds a whole line (newline included) with `needle`. */
static bool pbt_has_line(struct pbt_daemon *d, const char *needle)
{
	const char *at = strstr(d->d_log.t_data, needle);

	return at != NULL && (strchr(at, '\n') != NULL || d->d_eof);
}

bool pbt_log_wait(struct pbt_daemon *d, const char *needle, int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;
	bool found;

	pthread_mutex_lock(&d->d_mu);
	for (;;) {
		found = pbt_has_line(d, needle);
		if (found || d->d_eof || pbt_now_ms() >= deadline)
			break;
		pbt_cond_wait_until(d, deadline);
	}
	pthread_mutex_unlock(&d->d_mu);
	return found;
}

void pbt_log_expect(struct pbt_daemon *d, const char *needle, int timeout_ms)
{
	if (!pbt_log_wait(d, needle, timeout_ms))
		pbt_fail("patchbayd's log did not show \"%s\" within %d ms",
			 needle, timeout_ms);
}

bool pbt_log_has(struct pbt_daemon *d, const char *needle)
{
	bool found;

	pthread_mutex_lock(&d->d_mu);
	found = strstr(d->d_log.t_data, needle) != NULL;
	pthread_mutex_unlock(&d->d_mu);
	return found;
}

char *pbt_log_line(struct pbt_daemon *d, const char *needle)
{
	char *line = NULL;
	const char *at, *start, *end;

	pthread_mutex_lock(&d->d_mu);
	at = strstr(d->d_log.t_data, needle);
	if (at != NULL) {
		start = at;
		while (start > d->d_log.t_data && start[-1] != '\n')
			start--;
		end = strchr(at, '\n');
		if (end == NULL)
			end = at + strlen(at);
		line = strndup(start, (size_t)(end - start));
	}
	pthread_mutex_unlock(&d->d_mu);
	if (at != NULL && line == NULL)
		abort();
	return line;
}

/* How many times needle occurs in the log; d_mu held. */
static size_t pbt_count_locked(struct pbt_daemon *d, const char *needle)
{
	size_t n = 0;
	const char *at;

	for (at = d->d_log.t_data; (at = strstr(at, needle)) != NULL;
	     at += strlen(needle))
		n++;
	return n;
}

size_t pbt_log_count(struct pbt_daemon *d, const char *needle)
{
	size_t n;

	pthread_mutex_lock(&d->d_mu);
	n = pbt_count_locked(d, needle);
	pthread_mutex_unlock(&d->d_mu);
	return n;
}

bool pbt_log_wait_count(struct pbt_daemon *d, const char *needle, size_t n,
			int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;
	bool reached;

	pthread_mutex_lock(&d->d_mu);
	for (;;) {
		reached = pbt_count_locked(d, needle) >= n;
		if (reached || d->d_eof || pbt_now_ms() >= deadline)
			break;
		pbt_cond_wait_until(d, deadline);
	}
	pthread_mutex_unlock(&d->d_mu);
	return reached;
}

struct pbt_daemon *pbt_start_activated(int fd, const char *name,
				       const char *args)
{
	char script[256];
	const char *daemon = getenv("PATCHBAYD");
	const char *argv[] = {"-c", script, daemon, NULL};
	int high = fcntl(fd, F_DUPFD, 5); /* not close-on-exec */
	struct pbt_daemon *d;

	/* sh takes one-digit descriptors in redirections. */
	pbt_assert(daemon != NULL && high >= 0 && high <= 9,
		   "PATCHBAYD, F_DUPFD (got %d)", high);
	snprintf(script, sizeof script,
		 "LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=%s exec \"$0\" %s "
		 "3<&%d %d<&-",
		 name, args, high, high);
	setenv("PATCHBAYD", "/bin/sh", 1);
	d = pbt_start_argv(argv);
	setenv("PATCHBAYD", daemon, 1);
	close(high);
	return d;
}

static char *pbt_text_copy(struct pbt_daemon *d, struct pbt_text *t)
{
	char *copy;

	pthread_mutex_lock(&d->d_mu);
	copy = strdup(t->t_data);
	pthread_mutex_unlock(&d->d_mu);
	if (copy == NULL)
		abort();
	return copy;
}

char *pbt_log_copy(struct pbt_daemon *d)
{
	return pbt_text_copy(d, &d->d_log);
}

char *pbt_stdout_copy(struct pbt_daemon *d)
{
	return pbt_text_copy(d, &d->d_out);
}

/*
 * Reaps the daemon if it exited before `deadline`. A pidfd, when the kernel
 * has them, makes the wait a poll(); otherwise waitpid(WNOHANG) is retried
 * every few milliseconds until the deadline.
 */
static bool pbt_reap(struct pbt_daemon *d, int64_t deadline)
{
	int pidfd = -1;

	if (d->d_reaped)
		return true;
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, d->d_pid, 0);
#endif
	for (;;) {
		pid_t r = waitpid(d->d_pid, &d->d_status, WNOHANG);

		if (r == d->d_pid || (r < 0 && errno != EINTR)) {
			d->d_reaped = true;
			break;
		}
		if (pbt_now_ms() >= deadline)
			break;
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};

			poll(&p, 1, pbt_left_ms(deadline));
		} else {
			struct timespec ts = {0, 5 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return d->d_reaped;
}

int pbt_wait_exit(struct pbt_daemon *d, int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;

	if (!pbt_reap(d, deadline))
		return -1;
	/* Its output is complete once both pipes are at end of file. */
	pthread_mutex_lock(&d->d_mu);
	while (!d->d_eof && pbt_now_ms() < deadline)
		pbt_cond_wait_until(d, deadline);
	pthread_mutex_unlock(&d->d_mu);
	return d->d_status;
}

int pbt_stop(struct pbt_daemon *d, int sig, int timeout_ms)
{
	int status;

	if (!d->d_reaped && kill(d->d_pid, sig) != 0)
		pbt_fail("kill(%d, %d): %s", (int)d->d_pid, sig,
			 strerror(errno));
	status = pbt_wait_exit(d, timeout_ms);
	if (status == -1) {
		kill(d->d_pid, SIGKILL);
		pbt_fail("patchbayd did not exit within %d ms of signal %d",
			 timeout_ms, sig);
	}
	return status;
}

/*
 * The first report of a sanitizer in a daemon's log, or NULL: a daemon
 * built with --enable-sanitizers that reports an error is broken even if
 * every byte arrived, and its reports only show in its own stderr.
 */
static const char *pbt_sanitizer_report(const char *log)
{
	static const char *const marks[] = {
		"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
		"WARNING: ThreadSanitizer",
		"runtime error:", "ERROR: UndefinedBehaviorSanitizer"};
	const char *first = NULL;

	for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
		const char *at = strstr(log, marks[i]);

		if (at != NULL && (first == NULL || at < first))
			first = at;
	}
	return first;
}

void pbt_free(struct pbt_daemon *d)
{
	char report[512] = "";
	const char *rep;
	pid_t pid;

	if (d == NULL)
		return;
	pid = d->d_pid;
	if (!d->d_reaped) {
		kill(d->d_pid, SIGKILL);
		pbt_reap(d, pbt_now_ms() + PBT_EXIT_MS);
	}
	if (d->d_reader_running) {
		/* Let the reader take what the daemon wrote before dying. */
		int64_t deadline = pbt_now_ms() + 1000;

		pthread_mutex_lock(&d->d_mu);
		while (!d->d_eof && pbt_now_ms() < deadline)
			pbt_cond_wait_until(d, deadline);
		pthread_mutex_unlock(&d->d_mu);
		if (write(d->d_stop[1], "x", 1) < 0)
			abort();
		pthread_join(d->d_reader, NULL);
	}
	rep = pbt_sanitizer_report(d->d_log.t_data);
	if (rep != NULL && !pbt_failing) {
		size_t len = strcspn(rep, "\n");

		fprintf(stderr,
			"---- patchbayd pid %d stderr, from its first "
			"sanitizer report ----\n%.*s\n---- end ----\n",
			(int)pid, (int)strnlen(rep, 16000), rep);
		snprintf(report, sizeof report, "%.*s", (int)len, rep);
	}
	pbt_untrack(d);
	if (d->d_err_fd >= 0)
		close(d->d_err_fd);
	if (d->d_out_fd >= 0)
		close(d->d_out_fd);
	close(d->d_stop[0]);
	close(d->d_stop[1]);
	pthread_cond_destroy(&d->d_cv);
	pthread_mutex_destroy(&d->d_mu);
	free(d->d_log.t_data);
	free(d->d_out.t_data);
	free(d);
	if (report[0] != '\0')
		pbt_fail("patchbayd (pid %d) reported: %s", (int)pid, report);
}

void pbt_teardown(void)
{
	for (size_t i = 0; i < PBT_MAX_DAEMONS; i++)
		if (pbt_live[i] != NULL)
			pbt_free(pbt_live[i]);
	pbt_failing = false;
}

/* --- clients ------------------------------------------------------------ */

/*
 * Connects to 127.0.0.1:port with TCP_NODELAY and, if rcvbuf is not 0, that
 * SO_RCVBUF (set before connect() so that it limits the window). The
 * connect is bounded by a deadline; the socket is then left blocking, as
 * every helper bounds its waits with poll().
 */
static int pbt_connect_raw(int port, int rcvbuf)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd, one = 1, err = 0;
	socklen_t len = sizeof err;
	struct pollfd p;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		pbt_fail("socket: %s", strerror(errno));
	if (rcvbuf != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		if (errno != EINPROGRESS)
			pbt_fail("connect to 127.0.0.1:%d: %s", port,
				 strerror(errno));
		p.fd = fd;
		p.events = POLLOUT;
		if (poll(&p, 1, PBT_IO_MS) != 1)
			pbt_fail("connect to 127.0.0.1:%d: no answer in %d ms",
				 port, PBT_IO_MS);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0)
			pbt_fail("connect to 127.0.0.1:%d: %s", port,
				 strerror(err));
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int pbt_connect_port(int port)
{
	return pbt_connect_raw(port, 0);
}

int pbt_connect_rcvbuf(struct pbt_daemon *d, int rcvbuf, uint32_t *id)
{
	unsigned char b[4];
	int fd = pbt_connect_raw(d->d_port, rcvbuf);

	pbt_recv_exact(fd, b, sizeof b, PBT_IO_MS);
	if (id != NULL)
		*id = pbt_get_u32(b);
	return fd;
}

int pbt_connect(struct pbt_daemon *d, uint32_t *id)
{
	return pbt_connect_rcvbuf(d, 0, id);
}

const char *pbt_local_addr(int fd, char *buf, size_t cap)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	char ip[INET_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0 ||
	    sin.sin_family != AF_INET)
		pbt_fail("getsockname: %s", strerror(errno));
	inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof ip);
	snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(sin.sin_port));
	return buf;
}

void pbt_close_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0)
		pbt_fail("SO_LINGER: %s", strerror(errno));
	close(fd);
}

/* Sends within the deadline; *err gets errno on failure, 0 otherwise. */
static size_t pbt_send_until(int fd, const void *buf, size_t len,
			     int64_t deadline, int *err)
{
	const unsigned char *p = buf;
	size_t done = 0;

	*err = 0;
	while (done < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		ssize_t n;

		if (poll(&pfd, 1, pbt_left_ms(deadline)) == 0) {
			*err = ETIMEDOUT;
			break;
		}
		n = send(fd, p + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			*err = errno;
			break;
		}
	}
	return done;
}

void pbt_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	int err;
	size_t done =
		pbt_send_until(fd, buf, len, pbt_now_ms() + timeout_ms, &err);

	if (err == ETIMEDOUT)
		pbt_fail("send: only %zu of %zu bytes accepted in %d ms", done,
			 len, timeout_ms);
	if (err != 0)
		pbt_fail("send: %s after %zu of %zu bytes", strerror(err), done,
			 len);
}

size_t pbt_send_tolerant(int fd, const void *buf, size_t len, int timeout_ms)
{
	int err;
	size_t done =
		pbt_send_until(fd, buf, len, pbt_now_ms() + timeout_ms, &err);

	if (err != 0 && err != ETIMEDOUT && err != EPIPE && err != ECONNRESET)
		pbt_fail("send: %s after %zu of %zu bytes", strerror(err), done,
			 len);
	return done;
}

/*
 * Waits for data; returns what recv() returned, with errno. Flags may hold
 * MSG_PEEK. Fails the test at the deadline.
 */
static ssize_t pbt_recv_some(int fd, void *buf, size_t len, int flags,
			     int64_t deadline, const char *what)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, pbt_left_ms(deadline)) == 0)
			pbt_fail("timed out waiting for %s", what);
		n = recv(fd, buf, len, flags | MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			return n;
	}
}

void pbt_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;
	unsigned char *p = buf;
	size_t done = 0;
	char what[128];

	while (done < len) {
		ssize_t n;

		snprintf(what, sizeof what,
			 "%zu bytes (got %zu in %d ms) on fd %d", len, done,
			 timeout_ms, fd);
		n = pbt_recv_some(fd, p + done, len - done, 0, deadline, what);
		if (n == 0)
			pbt_fail("connection closed after %zu of %zu expected "
				 "bytes",
				 done, len);
		if (n < 0)
			pbt_fail("recv after %zu of %zu bytes: %s", done, len,
				 strerror(errno));
		done += (size_t)n;
	}
}

char *pbt_recv_msgs(int fd, size_t n, size_t *len, int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;
	size_t have = 0, cap = 0, got = 0;
	unsigned char *buf = NULL;
	char what[128];

	while (got < n) {
		size_t take = 0;
		ssize_t r;

		if (cap - have < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = pbt_xrealloc(buf, cap);
		}
		snprintf(what, sizeof what,
			 "%zu messages (got %zu in %d ms) on fd %d", n, got,
			 timeout_ms, fd);
		/* Peek, then consume up to the n-th 0x00 and no further. */
		r = pbt_recv_some(fd, buf + have, cap - have, MSG_PEEK,
				  deadline, what);
		if (r == 0)
			pbt_fail("connection closed after %zu of %zu expected "
				 "messages",
				 got, n);
		if (r < 0)
			pbt_fail("recv after %zu of %zu messages: %s", got, n,
				 strerror(errno));
		while (take < (size_t)r && got < n)
			if (buf[have + take++] == 0)
				got++;
		if (recv(fd, buf + have, take, MSG_DONTWAIT) != (ssize_t)take)
			pbt_fail("recv of %zu peeked bytes failed", take);
		have += take;
	}
	*len = have;
	return (char *)buf;
}

void pbt_expect_msg(int fd, const char *payload, int timeout_ms)
{
	size_t len, want = strlen(payload) + 1;
	char *got = pbt_recv_msgs(fd, 1, &len, timeout_ms);
	char a[200], b[200];

	if (len != want || memcmp(got, payload, want) != 0)
		pbt_fail("expected message \"%s\" (%zu bytes with its 0x00), "
			 "got \"%s\" (%zu bytes)",
			 pbt_preview(payload, want - 1, a, sizeof a), want,
			 pbt_preview(got, len, b, sizeof b), len);
	free(got);
}

enum pbt_end pbt_recv_end(int fd, int timeout_ms)
{
	unsigned char buf[4096];
	char pv[200];
	ssize_t n =
		pbt_recv_some(fd, buf, sizeof buf, 0, pbt_now_ms() + timeout_ms,
			      "the end of the connection");

	if (n == 0)
		return PBT_END_EOF;
	if (n < 0 && errno == ECONNRESET)
		return PBT_END_RESET;
	if (n < 0)
		pbt_fail("recv: %s while waiting for the end of the "
			 "connection",
			 strerror(errno));
	pbt_fail("expected the connection to end, received %zd bytes: \"%s\"",
		 n, pbt_preview(buf, (size_t)n, pv, sizeof pv));
}

/* --- frames ------------------------------------------------------------- */

void pbt_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

uint32_t pbt_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void pbt_buf_add(struct pbt_buf *b, const void *data, size_t len)
{
	if (b->b_len + len > b->b_cap) {
		size_t cap = b->b_cap ? b->b_cap : 256;

		while (cap < b->b_len + len)
			cap *= 2;
		b->b_data = pbt_xrealloc(b->b_data, cap);
		b->b_cap = cap;
	}
	if (len > 0)
		memcpy(b->b_data + b->b_len, data, len);
	b->b_len += len;
}

void pbt_buf_frame(struct pbt_buf *b, uint32_t dst, const void *payload,
		   size_t len)
{
	unsigned char hdr[4];

	if (len > 0 && memchr(payload, 0, len) != NULL)
		pbt_fail("harness: a payload must not contain 0x00");
	pbt_put_u32(hdr, dst);
	pbt_buf_add(b, hdr, sizeof hdr);
	pbt_buf_add(b, payload, len);
	pbt_buf_add(b, "", 1);
}

void pbt_buf_free(struct pbt_buf *b)
{
	free(b->b_data);
	b->b_data = NULL;
	b->b_len = b->b_cap = 0;
}

void pbt_send_frame(int fd, uint32_t dst, const char *payload, int timeout_ms)
{
	struct pbt_buf b = {0};

	pbt_buf_frame(&b, dst, payload, strlen(payload));
	pbt_send_all(fd, b.b_data, b.b_len, timeout_ms);
	pbt_buf_free(&b);
}

uint64_t pbt_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15u;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1du;
}

void pbt_fill_nonzero(unsigned char *buf, size_t len, uint64_t *state)
{
	size_t i = 0;

	while (i < len) {
		uint64_t r = pbt_rand(state);

		for (int k = 0; k < 7 && i < len; k++, r >>= 8)
			buf[i++] = (unsigned char)(r % 255 + 1);
	}
}

/* --- many connections at once ------------------------------------------ */

static void pbt_pump_report(struct pbt_stream *s, size_t n, const char *why)
{
	char msg[1800];
	size_t o;

	o = (size_t)snprintf(msg, sizeof msg, "%s; unfinished streams:", why);
	for (size_t i = 0; i < n && o + 100 < sizeof msg; i++) {
		bool out_left =
			s[i].s_out_done < s[i].s_out_len && !s[i].s_send_failed;

		if (!out_left && s[i].s_in_done == s[i].s_in_len)
			continue;
		o += (size_t)snprintf(msg + o, sizeof msg - o,
				      " [%zu: sent %zu/%zu, received %zu/%zu]",
				      i, s[i].s_out_done, s[i].s_out_len,
				      s[i].s_in_done, s[i].s_in_len);
	}
	pbt_fail("%s", msg);
}

/* Does the I/O poll() announced for one stream. */
static void pbt_pump_one(struct pbt_stream *s, size_t i, size_t n,
			 struct pbt_stream *all, short revents)
{
	char why[200];

	if ((revents & (POLLIN | POLLHUP | POLLERR)) &&
	    s->s_in_done < s->s_in_len) {
		size_t want = s->s_in_len - s->s_in_done;
		ssize_t r =
			recv(s->s_fd, s->s_in + s->s_in_done,
			     want > PBT_CHUNK ? PBT_CHUNK : want, MSG_DONTWAIT);

		if (r > 0) {
			s->s_in_done += (size_t)r;
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			snprintf(why, sizeof why,
				 "stream %zu: %s after receiving %zu of %zu "
				 "bytes",
				 i, r == 0 ? "end of file" : strerror(errno),
				 s->s_in_done, s->s_in_len);
			pbt_pump_report(all, n, why);
		}
	}
	if ((revents & (POLLOUT | POLLHUP | POLLERR)) &&
	    s->s_out_done < s->s_out_len && !s->s_send_failed) {
		size_t want = s->s_out_len - s->s_out_done;
		ssize_t r = send(s->s_fd, s->s_out + s->s_out_done,
				 want > PBT_CHUNK ? PBT_CHUNK : want,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			s->s_out_done += (size_t)r;
		} else if (r < 0 && errno != EAGAIN && errno != EINTR) {
			if (s->s_send_errors_ok &&
			    (errno == EPIPE || errno == ECONNRESET)) {
				s->s_send_failed = true;
				return;
			}
			snprintf(why, sizeof why,
				 "stream %zu: send: %s after %zu of %zu bytes",
				 i, strerror(errno), s->s_out_done,
				 s->s_out_len);
			pbt_pump_report(all, n, why);
		}
	}
}

void pbt_pump(struct pbt_stream *s, size_t n, int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;
	struct pollfd *p = calloc(n ? n : 1, sizeof *p);
	size_t *which = calloc(n ? n : 1, sizeof *which);
	char why[100];

	if (p == NULL || which == NULL)
		abort();
	for (;;) {
		size_t np = 0;
		int r;

		for (size_t i = 0; i < n; i++) {
			short ev = 0;

			if (s[i].s_out_done < s[i].s_out_len &&
			    !s[i].s_send_failed)
				ev |= POLLOUT;
			if (s[i].s_in_done < s[i].s_in_len)
				ev |= POLLIN;
			if (ev == 0)
				continue;
			p[np].fd = s[i].s_fd;
			p[np].events = ev;
			p[np].revents = 0;
			which[np++] = i;
		}
		if (np == 0)
			break;
		if (pbt_now_ms() >= deadline) {
			snprintf(why, sizeof why, "timed out after %d ms",
				 timeout_ms);
			pbt_pump_report(s, n, why);
		}
		r = poll(p, (nfds_t)np, pbt_left_ms(deadline));
		if (r < 0 && errno != EINTR)
			pbt_fail("poll: %s", strerror(errno));
		for (size_t k = 0; r > 0 && k < np; k++)
			if (p[k].revents)
				pbt_pump_one(&s[which[k]], which[k], n, s,
					     p[k].revents);
	}
	free(p);
	free(which);
}

/* --- suites -------------------------------------------------------------- */

void pbt_add_test(Suite *s, const TTest *t, double seconds)
{
	TCase *tc = tcase_create(t->name);

	tcase_add_checked_fixture(tc, NULL, pbt_teardown);
	tcase_set_timeout(tc, seconds);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

/* --- misc --------------------------------------------------------------- */

void pbt_need_fds(size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		pbt_fail("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= n)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
		pbt_fail("this test needs %zu open files, the hard limit is "
			 "%llu",
			 n, (unsigned long long)rl.rlim_max);
	rl.rlim_cur = n;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		pbt_fail("setrlimit(RLIMIT_NOFILE, %zu): %s", n,
			 strerror(errno));
}

unsigned long long pbt_stat(const char *line, const char *name)
{
	size_t len = strlen(name);
	const char *p = strstr(line, "stats: ");

	pbt_assert(p != NULL, "no stats line in \"%s\"", line);
	for (p += 7; p != NULL && *p != '\0'; p = strchr(p, ' ')) {
		p += *p == ' ';
		if (strncmp(p, name, len) == 0 && p[len] == '=')
			return strtoull(p + len + 1, NULL, 10);
	}
	pbt_fail("counter %s missing from \"%s\"", name, line);
}

unsigned long long pbt_stat_sum(const char *line, const char *prefix)
{
	unsigned long long sum = 0;
	size_t len = strlen(prefix);
	const char *p = strstr(line, "stats: ");

	pbt_assert(p != NULL, "no stats line in \"%s\"", line);
	for (p += 7; p != NULL && *p != '\0'; p = strchr(p, ' ')) {
		const char *eq;

		p += *p == ' ';
		eq = strchr(p, '=');
		if (eq != NULL && strncmp(p, prefix, len) == 0)
			sum += strtoull(eq + 1, NULL, 10);
	}
	return sum;
}

char *pbt_stop_reconciled(struct pbt_daemon *d)
{
	unsigned long long acc, disc, rec, fwd, drop;
	int st = pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	char *line;

	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "after SIGTERM: status %d, not exit status 0", st);
	line = pbt_log_line(d, "stats: ");
	pbt_assert(line != NULL, "no stats line at exit");
	acc = pbt_stat(line, "accepted");
	disc = pbt_stat_sum(line, "disconnect_");
	rec = pbt_stat(line, "received");
	fwd = pbt_stat(line, "forwarded");
	drop = pbt_stat_sum(line, "dropped_");
	pbt_assert(acc == disc, "accepted=%llu but disconnects add up to %llu",
		   acc, disc);
	pbt_assert(rec == fwd + drop,
		   "received=%llu but forwarded=%llu + dropped=%llu", rec, fwd,
		   drop);
	return line;
}
