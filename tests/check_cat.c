/* SPDX-License-Identifier: ISC */
/*
 * check_cat.c: end-to-end tests of patchbay-cat ($PATCHBAY_CAT) against
 * the real daemon: two of them exchange over TCP and over a Unix socket;
 * --to; bad lines refused by number while the others are delivered (a
 * 0x00, odd hex, longer than --max-frame, at the daemon's own limit);
 * --count; --linger; bytes of every value but 0x00, newline included,
 * through --from-hex and --hex; many lines through the daemon's
 * back-pressure, none lost; --id-file; a daemon that goes away, a
 * connection that cannot be made and a standard output that is closed
 * (exit 1, saying why); bad usage (exit 2). Every wait is for something
 * to happen (a line on standard output, a log line, an exit), bounded by
 * the harness's deadlines.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CAT_MAX_PROCS 8
#define CAT_MAX_ARGS  16

/* A patchbay-cat process with pipes to its standard input, output and
 * error, what it wrote so far, and how much of its output was taken. */
struct cat_proc {
	pid_t cp_pid;
	int cp_in;  /* -1 once closed */
	int cp_out; /* -1 at end of file */
	int cp_err;
	struct pbt_buf cp_o;
	struct pbt_buf cp_e;
	size_t cp_taken; /* bytes of cp_o returned as lines */
	int cp_status;	 /* waitpid's, once cp_pid is 0 */
};

static struct cat_proc *cat_live[CAT_MAX_PROCS];

static void cat_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	pbt_assert(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0,
		   "fcntl: %s", strerror(errno));
}

/*
 * Starts $PATCHBAY_CAT with the given arguments (NULL-terminated). With
 * no_stdout, its standard output is a pipe whose reading end is already
 * closed.
 */
static struct cat_proc *cat_start_v(bool no_stdout, const char *arg, va_list ap)
{
	const char *bin = getenv("PATCHBAY_CAT");
	const char *argv[CAT_MAX_ARGS + 2];
	int in[2], out[2], err[2];
	struct cat_proc *p;
	size_t n = 0, i;

	pbt_assert(bin != NULL, "PATCHBAY_CAT is not set");
	argv[n++] = bin;
	for (; arg != NULL && n <= CAT_MAX_ARGS; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	argv[n] = NULL;
	p = calloc(1, sizeof *p);
	pbt_assert(p != NULL, "calloc");
	pbt_assert(pipe(in) == 0 && pipe(out) == 0 && pipe(err) == 0,
		   "pipe: %s", strerror(errno));
	p->cp_pid = fork();
	pbt_assert(p->cp_pid >= 0, "fork: %s", strerror(errno));
	if (p->cp_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		for (i = 3; i < 1024; i++)
			close((int)i);
		signal(SIGPIPE, SIG_DFL);
		execv(bin, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->cp_in = in[1];
	p->cp_out = out[0];
	p->cp_err = err[0];
	if (no_stdout) {
		close(p->cp_out);
		p->cp_out = -1;
	} else {
		cat_nonblock(p->cp_out);
	}
	cat_nonblock(p->cp_err);
	cat_nonblock(p->cp_in);
	for (i = 0; i < CAT_MAX_PROCS; i++)
		if (cat_live[i] == NULL) {
			cat_live[i] = p;
			return p;
		}
	pbt_fail("more than %d patchbay-cat processes", CAT_MAX_PROCS);
}

static struct cat_proc *cat_start(const char *arg, ...)
{
	struct cat_proc *p;
	va_list ap;

	va_start(ap, arg);
	p = cat_start_v(false, arg, ap);
	va_end(ap);
	return p;
}

static struct cat_proc *cat_start_no_stdout(const char *arg, ...)
{
	struct cat_proc *p;
	va_list ap;

	va_start(ap, arg);
	p = cat_start_v(true, arg, ap);
	va_end(ap);
	return p;
}

/* Reads what fd has into b; closes it (and sets *fd to -1) at its end. */
static void cat_drain(int *fd, struct pbt_buf *b)
{
	char chunk[65536];
	ssize_t n;

	while (*fd >= 0) {
		n = read(*fd, chunk, sizeof chunk);
		if (n > 0) {
			pbt_buf_add(b, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close(*fd);
		*fd = -1;
	}
}

/* Waits at most ms for output from any of the n processes, and reads it. */
static void cat_pump(struct cat_proc **ps, size_t n, int ms)
{
	struct pollfd pfd[2 * CAT_MAX_PROCS];
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		pfd[k].fd = ps[i]->cp_out;
		pfd[k++].events = POLLIN;
		pfd[k].fd = ps[i]->cp_err;
		pfd[k++].events = POLLIN;
	}
	if (poll(pfd, k, ms) < 0 && errno != EINTR)
		pbt_fail("poll: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		cat_drain(&ps[i]->cp_out, &ps[i]->cp_o);
		cat_drain(&ps[i]->cp_err, &ps[i]->cp_e);
	}
}

/* A copy of p's standard error so far, as a string, for messages. */
static const char *cat_errs(struct cat_proc *p)
{
	static char shown[4096];
	size_t n = p->cp_e.b_len < sizeof shown - 1 ? p->cp_e.b_len
						    : sizeof shown - 1;

	if (n > 0)
		memcpy(shown, p->cp_e.b_data, n);
	shown[n] = '\0';
	return shown;
}

/* The next line of p's output (to free), without its newline, waiting at
 * most PBT_IO_MS for it. */
static char *cat_line(struct cat_proc *p)
{
	int64_t end = pbt_now_ms() + PBT_IO_MS;
	const char *start, *nl;
	char *line;
	size_t len;

	for (;;) {
		if (p->cp_o.b_len > p->cp_taken) {
			start = (const char *)p->cp_o.b_data + p->cp_taken;
			nl = memchr(start, '\n', p->cp_o.b_len - p->cp_taken);
			if (nl != NULL)
				break;
		}
		pbt_assert(p->cp_out >= 0,
			   "patchbay-cat ended its output without the line "
			   "expected; its stderr: %s",
			   cat_errs(p));
		pbt_assert(pbt_now_ms() < end,
			   "no line from patchbay-cat within %d ms; its "
			   "stderr: %s",
			   PBT_IO_MS, cat_errs(p));
		cat_pump(&p, 1, 100);
	}
	len = (size_t)(nl - start);
	line = malloc(len + 1);
	pbt_assert(line != NULL, "malloc");
	memcpy(line, start, len);
	line[len] = '\0';
	p->cp_taken += len + 1;
	return line;
}

static void cat_expect_line(struct cat_proc *p, const char *want)
{
	char *got = cat_line(p);

	pbt_assert(strcmp(got, want) == 0,
		   "patchbay-cat printed '%.200s', expected '%.200s'", got,
		   want);
	free(got);
}

/* Its id: the first line it prints. */
static uint32_t cat_id(struct cat_proc *p)
{
	char *line = cat_line(p), *end;
	unsigned long v = strtoul(line, &end, 10);

	pbt_assert(*line != '\0' && *end == '\0' && v <= UINT32_MAX,
		   "the first line is not an id: '%s'", line);
	free(line);
	return (uint32_t)v;
}

/* Writes all of data to p's standard input, reading the outputs of every
 * process in ps meanwhile (so that none blocks on a full pipe). */
static void cat_write_pumping(struct cat_proc *p, const void *data, size_t len,
			      struct cat_proc **ps, size_t n)
{
	int64_t end = pbt_now_ms() + 6 * PBT_IO_MS;
	const char *s = data;
	struct pollfd pfd = {.fd = p->cp_in, .events = POLLOUT};
	ssize_t w;

	while (len > 0) {
		w = write(p->cp_in, s, len);
		if (w > 0) {
			s += w;
			len -= (size_t)w;
			continue;
		}
		pbt_assert(w < 0 && (errno == EAGAIN || errno == EINTR),
			   "writing to patchbay-cat: %s; its stderr: %s",
			   strerror(errno), cat_errs(p));
		pbt_assert(pbt_now_ms() < end,
			   "patchbay-cat took no input for too long");
		cat_pump(ps, n, 0);
		(void)poll(&pfd, 1, 20);
	}
}

static void cat_write(struct cat_proc *p, const char *text)
{
	cat_write_pumping(p, text, strlen(text), &p, 1);
}

static void cat_printf(struct cat_proc *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void cat_printf(struct cat_proc *p, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	cat_write(p, line);
}

static void cat_close_in(struct cat_proc *p)
{
	if (p->cp_in >= 0)
		close(p->cp_in);
	p->cp_in = -1;
}

/*
 * Waits at most ms for p to exit, reading its output to the end; returns
 * its exit status (a signal fails the test).
 */
static int cat_wait(struct cat_proc *p, int ms)
{
	int64_t end = pbt_now_ms() + ms;
	pid_t r;

	while (p->cp_pid != 0) {
		cat_pump(&p, 1, 10);
		r = waitpid(p->cp_pid, &p->cp_status, WNOHANG);
		if (r == p->cp_pid) {
			p->cp_pid = 0;
			break;
		}
		pbt_assert(pbt_now_ms() < end,
			   "patchbay-cat did not exit within %d ms; its "
			   "stderr: %s",
			   ms, cat_errs(p));
	}
	while (p->cp_out >= 0 || p->cp_err >= 0)
		cat_pump(&p, 1, 100);
	pbt_assert(WIFEXITED(p->cp_status),
		   "patchbay-cat died of signal %d; its stderr: %s",
		   WTERMSIG(p->cp_status), cat_errs(p));
	return WEXITSTATUS(p->cp_status);
}

/* Waits for the exit, expecting status and nothing on stderr if 0. */
static void cat_expect_exit(struct cat_proc *p, int status)
{
	int got = cat_wait(p, PBT_IO_MS);

	pbt_assert(got == status,
		   "patchbay-cat exited %d, expected %d; its stderr: %s", got,
		   status, cat_errs(p));
	if (status == 0)
		pbt_assert(p->cp_e.b_len == 0,
			   "patchbay-cat exited 0 but said: %s", cat_errs(p));
}

static bool cat_err_has(struct cat_proc *p, const char *needle)
{
	pbt_buf_add(&p->cp_e, "", 1); /* a NUL for strstr, taken back */
	p->cp_e.b_len--;
	return strstr((const char *)p->cp_e.b_data, needle) != NULL;
}

/* Output not yet taken as lines, e.g. after the lines expected. */
static size_t cat_rest(const struct cat_proc *p)
{
	return p->cp_o.b_len - p->cp_taken;
}

static void cat_free(struct cat_proc *p)
{
	size_t i;

	if (p->cp_pid > 0) {
		kill(p->cp_pid, SIGKILL);
		waitpid(p->cp_pid, NULL, 0);
	}
	if (p->cp_in >= 0)
		close(p->cp_in);
	if (p->cp_out >= 0)
		close(p->cp_out);
	if (p->cp_err >= 0)
		close(p->cp_err);
	pbt_buf_free(&p->cp_o);
	pbt_buf_free(&p->cp_e);
	for (i = 0; i < CAT_MAX_PROCS; i++)
		if (cat_live[i] == p)
			cat_live[i] = NULL;
	free(p);
}

static void cat_teardown(void)
{
	size_t i;

	for (i = 0; i < CAT_MAX_PROCS; i++)
		if (cat_live[i] != NULL)
			cat_free(cat_live[i]);
	pbt_teardown();
}

/* "127.0.0.1:PORT" of the daemon. */
static const char *cat_addr(struct pbt_daemon *d, char *buf, size_t cap)
{
	snprintf(buf, cap, "127.0.0.1:%d", pbt_port(d));
	return buf;
}

/* A fresh folder, for a Unix socket or an id file. */
static void cat_dir(char *dir, size_t cap)
{
	snprintf(dir, cap, "/tmp/pb-cat.XXXXXX");
	pbt_assert(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

/* A and B exchange both ways through the daemon at addr, then end. */
static void cat_exchange(const char *addr)
{
	struct cat_proc *a, *b;
	uint32_t ida, idb;
	char want[64];

	a = cat_start("--linger", "0", addr, (char *)NULL);
	b = cat_start("--linger", "0", addr, (char *)NULL);
	ida = cat_id(a);
	idb = cat_id(b);
	pbt_assert(ida != idb, "both got id %u", ida);
	cat_printf(a, "%u hello, number %u\n", idb, idb);
	snprintf(want, sizeof want, "hello, number %u", idb);
	cat_expect_line(b, want);
	cat_printf(b, "%u hello back\n", ida);
	cat_expect_line(a, "hello back");
	cat_close_in(a);
	cat_close_in(b);
	cat_expect_exit(a, 0);
	cat_expect_exit(b, 0);
	pbt_assert(cat_rest(a) == 0 && cat_rest(b) == 0,
		   "more output than expected");
	cat_free(a);
	cat_free(b);
}

START_TEST(test_cat_two_exchange_over_tcp)
{
	struct pbt_daemon *d = pbt_start(NULL);
	char addr[64];

	cat_exchange(cat_addr(d, addr, sizeof addr));
	pbt_log_expect(d, "client 1 connected from 127.0.0.1:", PBT_LOG_MS);
	pbt_free(d);
}
END_TEST

START_TEST(test_cat_two_exchange_over_unix_socket)
{
	char dir[64], spec[128];
	struct pbt_daemon *d;

	cat_dir(dir, sizeof dir);
	snprintf(spec, sizeof spec, "unix:%s/s", dir);
	d = pbt_start("--listen", spec, (char *)NULL);
	pbt_log_expect(d, "listening on unix:", PBT_LOG_MS);
	cat_exchange(spec);
	pbt_log_expect(d, "client 1 connected from unix", PBT_LOG_MS);
	pbt_free(d);
	rmdir(dir);
}
END_TEST

/* With --to every line goes, as it is, to one id: one that starts like
 * "ID TEXT" too, and an empty one. */
START_TEST(test_cat_to_sends_lines_as_they_are)
{
	struct pbt_daemon *d = pbt_start(NULL);
	struct cat_proc *a, *b;
	char addr[64], to[16];

	cat_addr(d, addr, sizeof addr);
	b = cat_start("--linger", "0", addr, (char *)NULL);
	snprintf(to, sizeof to, "%u", cat_id(b));
	a = cat_start("--to", to, "--linger", "0", addr, (char *)NULL);
	(void)cat_id(a);
	cat_write(a, "12 not an id here\n\nlast\n");
	cat_expect_line(b, "12 not an id here");
	cat_expect_line(b, "");
	cat_expect_line(b, "last");
	cat_close_in(a);
	cat_expect_exit(a, 0);
	cat_close_in(b);
	cat_expect_exit(b, 0);
	pbt_free(d);
}
END_TEST

/* Bad lines are refused, each named by its number, and the lines around
 * them are delivered, in order: a 0x00 (--from-hex "00"), odd hex, text
 * longer than --max-frame allows. */
START_TEST(test_cat_bad_lines_refused_by_number_rest_delivered)
{
	struct pbt_daemon *d = pbt_start(NULL);
	struct cat_proc *a, *b;
	char addr[64], to[16];

	cat_addr(d, addr, sizeof addr);
	b = cat_start("--linger", "0", addr, (char *)NULL);
	snprintf(to, sizeof to, "%u", cat_id(b));
	a = cat_start("--from-hex", "--max-frame", "8", "--to", to, "--linger",
		      "0", addr, (char *)NULL);
	(void)cat_id(a);
	cat_write(a, "6f6e65\n"		  /* one */
		     "00\n"		  /* refused: a 0x00 */
		     "7a7\n"		  /* refused: odd */
		     "74776f\n"		  /* two */
		     "4142434445464748\n" /* refused: 8 bytes, 7 allowed */
		     "41424344454647\n"); /* ABCDEFG */
	cat_close_in(a);
	cat_expect_line(b, "one");
	cat_expect_line(b, "two");
	cat_expect_line(b, "ABCDEFG");
	pbt_assert(cat_wait(a, PBT_IO_MS) == 0, "exit status");
	pbt_assert(cat_err_has(a, "line 2 refused: its text holds a 0x00"),
		   "stderr: %s", cat_errs(a));
	pbt_assert(cat_err_has(a, "line 3 refused: an odd number of hex"),
		   "stderr: %s", cat_errs(a));
	pbt_assert(cat_err_has(a, "line 5 refused: its text is 8 bytes, "
				  "--max-frame allows 7"),
		   "stderr: %s", cat_errs(a));
	pbt_assert(!cat_err_has(a, "line 1 ") && !cat_err_has(a, "line 4 ") &&
			   !cat_err_has(a, "line 6 "),
		   "stderr: %s", cat_errs(a));
	cat_close_in(b);
	cat_expect_exit(b, 0);
	pbt_assert(cat_rest(b) == 0, "more output than expected");
	pbt_free(d);
}
END_TEST

/* At the daemon's own limit (64K, its 0x00 included): 65535 bytes of
 * text go through, 65536 are refused, so the daemon never disconnects
 * the sender for a frame too long. */
START_TEST(test_cat_max_frame_is_the_daemons)
{
	struct pbt_daemon *d = pbt_start(NULL);
	size_t n = 65536, len;
	struct cat_proc *a, *b, *both[2];
	char addr[64], to[16], *text, *got;

	cat_addr(d, addr, sizeof addr);
	b = cat_start("--linger", "0", addr, (char *)NULL);
	snprintf(to, sizeof to, "%u", cat_id(b));
	a = cat_start("--to", to, "--linger", "0", addr, (char *)NULL);
	(void)cat_id(a);
	text = malloc(2 * n + 16);
	pbt_assert(text != NULL, "malloc");
	memset(text, 'L', n); /* line 1: 65536 bytes, refused */
	text[n] = '\n';
	memset(text + n + 1, 'k', n - 1); /* line 2: 65535 bytes */
	text[2 * n] = '\n';
	memcpy(text + 2 * n + 1, "after\n", 6);
	both[0] = a;
	both[1] = b;
	cat_write_pumping(a, text, 2 * n + 7, both, 2);
	got = cat_line(b);
	len = strlen(got);
	pbt_assert(len == n - 1 && strspn(got, "k") == len,
		   "received %zu bytes, expected 65535 'k'", len);
	free(got);
	cat_expect_line(b, "after");
	cat_close_in(a);
	pbt_assert(cat_wait(a, PBT_IO_MS) == 0, "exit status");
	pbt_assert(cat_err_has(a, "line 1 refused: its text is 65536 bytes, "
				  "--max-frame allows 65535"),
		   "stderr: %s", cat_errs(a));
	pbt_assert(!pbt_log_has(d, "protocol error"), "a frame too long");
	cat_close_in(b);
	cat_expect_exit(b, 0);
	free(text);
	pbt_free(d);
}
END_TEST

/* --count N: exits 0 after N messages, though its input is still open,
 * and prints no more than N. */
START_TEST(test_cat_count_exits_after_n_messages)
{
	struct pbt_daemon *d = pbt_start(NULL);
	struct cat_proc *a, *b;
	char addr[64];
	uint32_t idb;

	cat_addr(d, addr, sizeof addr);
	b = cat_start("--count", "2", addr, (char *)NULL);
	idb = cat_id(b);
	a = cat_start("--linger", "0", addr, (char *)NULL);
	(void)cat_id(a);
	cat_printf(a, "%u first\n%u second\n%u third\n", idb, idb, idb);
	cat_expect_line(b, "first");
	cat_expect_line(b, "second");
	cat_expect_exit(b, 0);
	pbt_assert(cat_rest(b) == 0, "printed more than --count: '%.*s'",
		   (int)cat_rest(b),
		   (const char *)b->cp_o.b_data + b->cp_taken);
	cat_close_in(a);
	cat_expect_exit(a, 0);
	pbt_free(d);
}
END_TEST

/* --linger: after the end of its input it still prints what arrives,
 * and exits once the time has passed, not before. */
START_TEST(test_cat_linger_prints_what_arrives_after_input_ends)
{
	struct pbt_daemon *d = pbt_start(NULL);
	struct cat_proc *a, *b;
	int64_t closed, exited;
	char addr[64];
	uint32_t idb;

	cat_addr(d, addr, sizeof addr);
	b = cat_start("--linger", "2", addr, (char *)NULL);
	idb = cat_id(b);
	a = cat_start("--linger", "0", addr, (char *)NULL);
	(void)cat_id(a);
	cat_close_in(b);
	closed = pbt_now_ms();
	cat_printf(a, "%u late\n", idb);
	cat_expect_line(b, "late");
	cat_expect_exit(b, 0);
	exited = pbt_now_ms();
	pbt_assert(exited - closed >= 1900,
		   "exited %lld ms after its input ended, --linger 2",
		   (long long)(exited - closed));
	cat_close_in(a);
	cat_expect_exit(a, 0);
	pbt_free(d);
}
END_TEST

/* Every byte but 0x00, newline included, goes through --from-hex and
 * comes out of --hex the same; without --hex a newline splits it. */
START_TEST(test_cat_hex_round_trip_of_every_byte)
{
	struct pbt_daemon *d = pbt_start(NULL);
	struct cat_proc *a, *b, *c;
	char addr[64], hex[2 * 255 + 1], line[600];
	uint32_t idb, idc;
	int i;

	cat_addr(d, addr, sizeof addr);
	b = cat_start("--hex", "--linger", "0", addr, (char *)NULL);
	idb = cat_id(b);
	c = cat_start("--linger", "0", addr, (char *)NULL);
	idc = cat_id(c);
	a = cat_start("--from-hex", "--linger", "0", addr, (char *)NULL);
	(void)cat_id(a);
	for (i = 1; i < 256; i++)
		snprintf(hex + 2 * (i - 1), 3, "%02x", i);
	snprintf(line, sizeof line, "%u %s\n%u 0A0D0a\n%u 68690A6a\n%u\n", idb,
		 hex, idb, idc, idb);
	cat_write(a, line);
	cat_expect_line(b, hex);
	cat_expect_line(b, "0a0d0a");
	cat_expect_line(b, ""); /* the empty message */
	cat_expect_line(c, "hi");
	cat_expect_line(c, "j");
	cat_close_in(a);
	cat_expect_exit(a, 0);
	cat_close_in(b);
	cat_expect_exit(b, 0);
	cat_close_in(c);
	cat_expect_exit(c, 0);
	pbt_free(d);
}
END_TEST

/* 20000 lines, 2.5 MB, through a daemon with small queues, so that its
 * back-pressure holds the sender: all arrive, in order. */
START_TEST(test_cat_many_lines_none_lost)
{
	struct pbt_daemon *d =
		pbt_start("--outbox", "64K", "--park", "64K", (char *)NULL);
	const size_t lines = 20000;
	struct pbt_buf in = {0}, want = {0};
	struct cat_proc *a, *b, *both[2];
	char addr[64], to[16], line[200];
	int64_t end;
	size_t i;

	cat_addr(d, addr, sizeof addr);
	b = cat_start("--linger", "0", addr, (char *)NULL);
	snprintf(to, sizeof to, "%u", cat_id(b));
	a = cat_start("--to", to, "--linger", "0", addr, (char *)NULL);
	(void)cat_id(a);
	for (i = 0; i < lines; i++) {
		int n = snprintf(
			line, sizeof line,
			"line %06zu ......................................"
			"................................................."
			"........\n",
			i);

		pbt_buf_add(&in, line, (size_t)n);
	}
	pbt_buf_add(&want, in.b_data, in.b_len);
	both[0] = a;
	both[1] = b;
	cat_write_pumping(a, in.b_data, in.b_len, both, 2);
	cat_close_in(a);
	end = pbt_now_ms() + 6 * PBT_IO_MS;
	while (b->cp_o.b_len - b->cp_taken < want.b_len) {
		pbt_assert(pbt_now_ms() < end && b->cp_out >= 0,
			   "received %zu of %zu bytes",
			   b->cp_o.b_len - b->cp_taken, want.b_len);
		cat_pump(both, 2, 100);
	}
	pbt_assert_mem_eq(b->cp_o.b_data + b->cp_taken, want.b_data,
			  want.b_len);
	cat_expect_exit(a, 0);
	cat_close_in(b);
	cat_expect_exit(b, 0);
	pbt_buf_free(&in);
	pbt_buf_free(&want);
	pbt_free(d);
}
END_TEST

/* --id-file: the id, whole, in the file, and no temporary file left. */
START_TEST(test_cat_id_file_holds_the_id)
{
	struct pbt_daemon *d = pbt_start(NULL);
	char addr[64], dir[64], path[128], buf[32];
	struct cat_proc *a;
	uint32_t id;
	FILE *f;

	cat_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/id", dir);
	cat_addr(d, addr, sizeof addr);
	a = cat_start("--id-file", path, "--linger", "0", addr, (char *)NULL);
	id = cat_id(a);
	f = fopen(path, "r");
	pbt_assert(f != NULL, "%s: %s", path, strerror(errno));
	pbt_assert(fgets(buf, sizeof buf, f) != NULL, "empty id file");
	fclose(f);
	snprintf(addr, sizeof addr, "%u\n", id);
	pbt_assert(strcmp(buf, addr) == 0, "id file '%s', stdout %u", buf, id);
	cat_close_in(a);
	cat_expect_exit(a, 0);
	pbt_assert(unlink(path) == 0 && rmdir(dir) == 0,
		   "%s holds more than the id file", dir);
	pbt_free(d);
}
END_TEST

/* The daemon goes away (SIGTERM): exit 1, saying the daemon closed the
 * connection, with its address. */
START_TEST(test_cat_daemon_gone_exits_1)
{
	struct pbt_daemon *d = pbt_start(NULL);
	char addr[64], want[128];
	struct cat_proc *a;

	cat_addr(d, addr, sizeof addr);
	a = cat_start(addr, (char *)NULL);
	(void)cat_id(a);
	pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	pbt_assert(cat_wait(a, PBT_IO_MS) == 1, "exit status %d",
		   WEXITSTATUS(a->cp_status));
	snprintf(want, sizeof want,
		 "patchbay-cat: %s: the daemon closed the "
		 "connection\n",
		 addr);
	pbt_assert(cat_err_has(a, want), "stderr: %s", cat_errs(a));
	pbt_free(d);
}
END_TEST

/* Nothing to connect to: exit 1, naming the address and why. */
START_TEST(test_cat_cannot_connect_exits_1)
{
	char dir[64], spec[128];
	struct cat_proc *a;

	cat_dir(dir, sizeof dir);
	snprintf(spec, sizeof spec, "unix:%s/none", dir);
	a = cat_start(spec, (char *)NULL);
	pbt_assert(cat_wait(a, PBT_IO_MS) == 1, "exit status");
	pbt_assert(cat_err_has(a, "cannot connect to unix:") &&
			   cat_err_has(a, "No such file or directory"),
		   "stderr: %s", cat_errs(a));
	pbt_assert(a->cp_o.b_len == 0, "printed an id");
	rmdir(dir);
}
END_TEST

/* Its reader gone, it says so and exits 1 (it ignores SIGPIPE). */
START_TEST(test_cat_stdout_closed_exits_1)
{
	struct pbt_daemon *d = pbt_start(NULL);
	char addr[64], dir[64], path[128];
	struct cat_proc *a;

	cat_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/id", dir);
	cat_addr(d, addr, sizeof addr);
	a = cat_start_no_stdout("--id-file", path, addr, (char *)NULL);
	pbt_assert(cat_wait(a, PBT_IO_MS) == 1, "exit status");
	pbt_assert(cat_err_has(a, "patchbay-cat: standard output: Broken pipe"),
		   "stderr: %s", cat_errs(a));
	unlink(path);
	rmdir(dir);
	pbt_free(d);
}
END_TEST

/* Bad usage: exit 2 with one line naming the problem; --help and
 * --version: exit 0. */
START_TEST(test_cat_bad_usage_exits_2)
{
	static const char *const bad[][3] = {
		{"--count", "0", NULL},
		{"--to", "x", NULL},
		{"--to", "4294967296", NULL},
		{"--bogus", NULL, NULL},
		{"--linger", "-1", NULL},
		{"--max-frame", "0", NULL},
		{"--max-frame", "1T", NULL},
		{"--id-file", "", NULL},
		{"tls:127.0.0.1:1", NULL, NULL},
		{"no-port", NULL, NULL},
		{"127.0.0.1:1", "127.0.0.1:2", NULL},
		{"--to", NULL, NULL},
	};
	struct cat_proc *p;
	size_t i;
	char *nl;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		p = cat_start(bad[i][0], bad[i][1], (char *)NULL);
		pbt_assert(cat_wait(p, PBT_IO_MS) == 2, "%s %s: exit status",
			   bad[i][0], bad[i][1] ? bad[i][1] : "");
		nl = p->cp_e.b_len > 0
			     ? memchr(p->cp_e.b_data, '\n', p->cp_e.b_len)
			     : NULL;
		pbt_assert(p->cp_e.b_len > 14 && nl != NULL &&
				   (size_t)(nl - (char *)p->cp_e.b_data) + 1 ==
					   p->cp_e.b_len &&
				   memcmp(p->cp_e.b_data,
					  "patchbay-cat: ", 14) == 0,
			   "%s: not one line: %s", bad[i][0], cat_errs(p));
		cat_free(p);
	}
	p = cat_start("--help", (char *)NULL);
	pbt_assert(cat_wait(p, PBT_IO_MS) == 0, "--help: exit status");
	pbt_assert(p->cp_o.b_len > 0 && memcmp(p->cp_o.b_data,
					       "usage: patchbay-cat", 19) == 0,
		   "--help printed no usage");
	cat_free(p);
	p = cat_start("--version", (char *)NULL);
	cat_expect_line(p, "patchbay-cat " PACKAGE_VERSION);
	cat_expect_exit(p, 0);
	cat_free(p);
}
END_TEST

static void cat_add_test(Suite *s, const TTest *t, double seconds)
{
	TCase *tc = tcase_create(t->name);

	tcase_add_checked_fixture(tc, NULL, cat_teardown);
	tcase_set_timeout(tc, seconds);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static Suite *cat_suite(void)
{
	Suite *s = suite_create("cat");

	cat_add_test(s, test_cat_two_exchange_over_tcp, 30);
	cat_add_test(s, test_cat_two_exchange_over_unix_socket, 30);
	cat_add_test(s, test_cat_to_sends_lines_as_they_are, 30);
	cat_add_test(s, test_cat_bad_lines_refused_by_number_rest_delivered,
		     30);
	cat_add_test(s, test_cat_max_frame_is_the_daemons, 30);
	cat_add_test(s, test_cat_count_exits_after_n_messages, 30);
	cat_add_test(s, test_cat_linger_prints_what_arrives_after_input_ends,
		     30);
	cat_add_test(s, test_cat_hex_round_trip_of_every_byte, 30);
	cat_add_test(s, test_cat_many_lines_none_lost, 120);
	cat_add_test(s, test_cat_id_file_holds_the_id, 30);
	cat_add_test(s, test_cat_daemon_gone_exits_1, 30);
	cat_add_test(s, test_cat_cannot_connect_exits_1, 30);
	cat_add_test(s, test_cat_stdout_closed_exits_1, 30);
	cat_add_test(s, test_cat_bad_usage_exits_2, 60);
	return s;
}

int main(void)
{
	return pbt_run(cat_suite());
}
