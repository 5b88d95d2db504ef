/* SPDX-License-Identifier: ISC */
/*
 * check_faults.c: end-to-end tests of the edge cases of doc/protocol.md
 * ("Edge cases"), as clients and an operator see them: unknown and departed
 * destinations, oversized frames, garbage, disconnects mid-frame and by
 * reset, ids never reused, --max-clients, slow consumers, signals and the
 * command line's exit statuses. Each test starts its own patchbayd
 * ($PATCHBAYD) through harness.c.
 */
#include "config.h"

#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(test_unknown_destination_is_dropped_sender_stays)
{
	struct pbt_daemon *d = pbt_start(NULL);
	uint32_t ida, idb;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);

	pbt_send_frame(a, 4242, "into the void", PBT_IO_MS);
	pbt_send_frame(a, 0xffffffffu, "further into the void", PBT_IO_MS);
	pbt_send_frame(a, idb, "after the void", PBT_IO_MS);
	pbt_expect_msg(b, "after the void", PBT_IO_MS);
	pbt_send_frame(b, ida, "you are still here", PBT_IO_MS);
	pbt_expect_msg(a, "you are still here", PBT_IO_MS);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_oversized_frame_is_a_protocol_error)
{
	struct pbt_daemon *d = pbt_start("-f", "1024", (char *)NULL);
	unsigned char big[4 + 2000];
	char line[160], addr[64];
	uint32_t ids, idr, idx, idy;
	int s = pbt_connect(d, &ids);
	int r = pbt_connect(d, &idr);
	int x = pbt_connect(d, &idx);
	int y = pbt_connect(d, &idy);

	pbt_send_frame(s, idr, "completed before the bad frame", PBT_IO_MS);
	pbt_put_u32(big, idr);
	memset(big + 4, 'x', sizeof big - 4);
	/* The daemon may hang up before taking it all. */
	pbt_send_tolerant(s, big, sizeof big, PBT_IO_MS);

	snprintf(line, sizeof line,
		 "client %u protocol error: frame longer than 1024 bytes", ids);
	pbt_log_expect(d, line, PBT_LOG_MS);
	snprintf(line, sizeof line,
		 "client %u disconnected (%s): protocol error", ids,
		 pbt_local_addr(s, addr, sizeof addr));
	pbt_log_expect(d, line, PBT_LOG_MS);
	pbt_recv_end(s, PBT_IO_MS); /* EOF or reset, both are an end */

	pbt_expect_msg(r, "completed before the bad frame", PBT_IO_MS);
	/* Nothing of the bad frame reached r: x's message comes next. */
	pbt_send_frame(x, idr, "from x", PBT_IO_MS);
	pbt_expect_msg(r, "from x", PBT_IO_MS);
	pbt_send_frame(x, idy, "x to y", PBT_IO_MS);
	pbt_expect_msg(y, "x to y", PBT_IO_MS);
	pbt_send_frame(y, idx, "y to x", PBT_IO_MS);
	pbt_expect_msg(x, "y to x", PBT_IO_MS);
	close(s);
	close(r);
	close(x);
	close(y);
	pbt_free(d);
}
END_TEST

START_TEST(test_frame_one_byte_over_max_frame_is_a_protocol_error)
{
	/* -f 1024: 1024 payload bytes plus the 0x00 is one byte too many. */
	struct pbt_daemon *d = pbt_start("-f", "1024", (char *)NULL);
	unsigned char payload[1024];
	struct pbt_buf f = {0};
	char line[160];
	uint32_t ids, idr;
	int s = pbt_connect(d, &ids);
	int r = pbt_connect(d, &idr);

	memset(payload, 'y', sizeof payload);
	pbt_buf_frame(&f, idr, "just before", 11);
	pbt_buf_frame(&f, idr, payload, sizeof payload);
	pbt_send_tolerant(s, f.b_data, f.b_len, PBT_IO_MS);
	snprintf(line, sizeof line,
		 "client %u protocol error: frame longer than 1024 bytes", ids);
	pbt_log_expect(d, line, PBT_LOG_MS);
	pbt_recv_end(s, PBT_IO_MS);
	pbt_expect_msg(r, "just before", PBT_IO_MS);
	pbt_buf_free(&f);
	close(s);
	close(r);
	pbt_free(d);
}
END_TEST

/*
 * Random bytes, 0x00 among them, cut into frames the way the daemon will
 * parse them; a header that would name a live client (a small id) gets
 * its first byte changed so that garbage never reaches the pair. Ends at
 * a frame boundary. Returns the length.
 */
static size_t make_garbage(unsigned char *g, size_t cap, uint64_t *seed)
{
	size_t at = 0, end = 0;

	for (size_t i = 0; i < cap; i += 8) {
		uint64_t r = pbt_rand(seed);

		for (size_t k = 0; k < 8 && i + k < cap; k++, r >>= 8)
			g[i + k] = (unsigned char)r;
	}
	while (at + 4 < cap) {
		unsigned char *nul;

		if (pbt_get_u32(g + at) < 0x01000000u)
			g[at] = 0xff;
		nul = memchr(g + at + 4, 0, cap - at - 4);
		if (nul == NULL)
			break;
		pbt_assert(nul - (g + at + 4) < 65536,
			   "garbage frame longer than --max-frame");
		at = (size_t)(nul - g) + 1;
		end = at;
	}
	return end;
}

START_TEST(test_garbage_does_not_disturb_a_pair)
{
	enum { N = 2000, GARBAGE = 256 * 1024 };
	struct pbt_daemon *d = pbt_start(NULL);
	struct pbt_buf fa = {0}, fb = {0}, wa = {0}, wb = {0};
	unsigned char *g = malloc(GARBAGE);
	uint64_t seed = 7;
	uint32_t ida, idb, idg;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	int gfd = pbt_connect(d, &idg);
	struct pbt_stream s[3] = {{.s_fd = a}, {.s_fd = b}, {.s_fd = gfd}};
	int c;

	ck_assert_ptr_nonnull(g);
	for (int i = 0; i < N; i++) {
		char p[64];
		int n = snprintf(p, sizeof p, "a to b %d", i);

		pbt_buf_frame(&fa, idb, p, (size_t)n);
		pbt_buf_add(&wb, p, (size_t)n + 1);
		n = snprintf(p, sizeof p, "b to a %d", i);
		pbt_buf_frame(&fb, ida, p, (size_t)n);
		pbt_buf_add(&wa, p, (size_t)n + 1);
	}
	s[0].s_out = fa.b_data;
	s[0].s_out_len = fa.b_len;
	s[0].s_in = malloc(wa.b_len);
	s[0].s_in_len = wa.b_len;
	s[1].s_out = fb.b_data;
	s[1].s_out_len = fb.b_len;
	s[1].s_in = malloc(wb.b_len);
	s[1].s_in_len = wb.b_len;
	s[2].s_out = g;
	s[2].s_out_len = make_garbage(g, GARBAGE, &seed);
	ck_assert_ptr_nonnull(s[0].s_in);
	ck_assert_ptr_nonnull(s[1].s_in);
	pbt_pump(s, 3, 20000);
	pbt_assert_mem_eq(s[0].s_in, wa.b_data, wa.b_len);
	pbt_assert_mem_eq(s[1].s_in, wb.b_data, wb.b_len);

	/*
	 * The garbage was frames to unknown ids, no longer than --max-frame:
	 * its sender is still connected, and in step.
	 */
	pbt_send_frame(gfd, ida, "garbage sender, back in step", PBT_IO_MS);
	pbt_expect_msg(a, "garbage sender, back in step", PBT_IO_MS);
	c = pbt_connect(d, NULL);
	pbt_send_frame(c, idb, "a newcomer", PBT_IO_MS);
	pbt_expect_msg(b, "a newcomer", PBT_IO_MS);
	free(s[0].s_in);
	free(s[1].s_in);
	free(g);
	pbt_buf_free(&fa);
	pbt_buf_free(&fb);
	pbt_buf_free(&wa);
	pbt_buf_free(&wb);
	close(a);
	close(b);
	close(gfd);
	close(c);
	pbt_free(d);
}
END_TEST

/*
 * A client sends half a frame to r and leaves, cleanly or by reset: the
 * log says how, r receives nothing of it, and a new client is served.
 */
static void leave_mid_frame(bool reset)
{
	static const char partial[] = "\0\0\0\0this frame never ends";
	struct pbt_daemon *d = pbt_start(NULL);
	char line[160], addr[64];
	uint32_t idr, ida, idc;
	int r = pbt_connect(d, &idr);
	int a = pbt_connect(d, &ida);
	int c;

	pbt_assert(idr == 0, "first client got id %u, not 0", idr);
	pbt_send_all(a, partial, sizeof partial - 1, PBT_IO_MS);
	snprintf(line, sizeof line, "client %u disconnected (%s): %s", ida,
		 pbt_local_addr(a, addr, sizeof addr),
		 reset ? "connection reset" : "peer closed");
	if (reset)
		pbt_close_reset(a);
	else
		close(a);
	pbt_log_expect(d, line, PBT_LOG_MS);

	c = pbt_connect(d, &idc);
	pbt_assert(idc != ida, "the departed client's id %u was reused", ida);
	pbt_send_frame(c, idr, "a complete frame", PBT_IO_MS);
	pbt_expect_msg(r, "a complete frame", PBT_IO_MS);
	pbt_send_frame(r, idc, "and back", PBT_IO_MS);
	pbt_expect_msg(c, "and back", PBT_IO_MS);
	close(r);
	close(c);
	pbt_free(d);
}

START_TEST(test_disconnect_mid_frame_discards_partial)
{
	leave_mid_frame(false);
}
END_TEST

START_TEST(test_disconnect_by_reset_discards_partial)
{
	leave_mid_frame(true);
}
END_TEST

START_TEST(test_departed_ids_are_not_reused)
{
	struct pbt_daemon *d = pbt_start(NULL);
	uint32_t ida, idb, idc;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	int c;

	pbt_assert(ida == 0 && idb == 1, "ids %u and %u, not 0 and 1", ida,
		   idb);
	close(a);
	pbt_log_expect(d, "client 0 disconnected", PBT_LOG_MS);
	c = pbt_connect(d, &idc);
	pbt_assert(idc == 2, "the client after 0 and 1 got id %u, not 2", idc);

	/* For the departed 0: nobody gets it, c's next message is the 2nd. */
	pbt_send_frame(b, 0, "for the departed client 0", PBT_IO_MS);
	pbt_send_frame(b, idc, "for client 2", PBT_IO_MS);
	pbt_expect_msg(c, "for client 2", PBT_IO_MS);
	pbt_send_frame(c, idb, "b is still connected", PBT_IO_MS);
	pbt_expect_msg(b, "b is still connected", PBT_IO_MS);
	close(b);
	close(c);
	pbt_free(d);
}
END_TEST

START_TEST(test_max_clients_refuses_then_accepts_again)
{
	struct pbt_daemon *d = pbt_start("-c", "2", (char *)NULL);
	char line[160], addr[64];
	uint32_t ida, idb, idd;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	int third = pbt_connect_port(pbt_port(d));
	int late;

	/* Closed before any id: end of file with no byte at all. */
	pbt_assert(pbt_recv_end(third, PBT_IO_MS) == PBT_END_EOF,
		   "the refused connection was reset instead of closed");
	snprintf(line, sizeof line,
		 "connection from %s refused: 2 clients connected "
		 "(--max-clients)",
		 pbt_local_addr(third, addr, sizeof addr));
	pbt_log_expect(d, line, PBT_LOG_MS);
	close(third);

	close(a);
	snprintf(line, sizeof line, "client %u disconnected", ida);
	pbt_log_expect(d, line, PBT_LOG_MS);
	late = pbt_connect(d, &idd);
	pbt_assert(idd != ida && idd != idb, "id %u was reused", idd);
	pbt_send_frame(late, idb, "in at last", PBT_IO_MS);
	pbt_expect_msg(b, "in at last", PBT_IO_MS);
	pbt_send_frame(b, idd, "welcome", PBT_IO_MS);
	pbt_expect_msg(late, "welcome", PBT_IO_MS);
	close(b);
	close(late);
	pbt_free(d);
}
END_TEST

/* A daemon with a connected client exits 0, soon, on `sig`. */
static void exits_0_on(int sig)
{
	struct pbt_daemon *d = pbt_start(NULL);
	uint32_t ida;
	int a = pbt_connect(d, &ida);
	int64_t t0;
	int st;

	pbt_send_frame(a, ida, "before the signal", PBT_IO_MS);
	pbt_expect_msg(a, "before the signal", PBT_IO_MS);
	t0 = pbt_now_ms();
	st = pbt_stop(d, sig, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "after signal %d patchbayd ended with %s %d, not exit "
		   "status 0",
		   sig, WIFEXITED(st) ? "exit status" : "signal",
		   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	pbt_assert(pbt_now_ms() - t0 < 4000,
		   "patchbayd took %lld ms to exit (grace is about 2 s)",
		   (long long)(pbt_now_ms() - t0));
	pbt_assert(pbt_log_has(d, sig == SIGTERM ? "SIGTERM received, shutting "
						   "down"
						 : "SIGINT received, shutting "
						   "down"),
		   "no \"SIG... received, shutting down\" line");
	pbt_recv_end(a, PBT_IO_MS);
	close(a);
	pbt_free(d);
}

/*
 * Clients holding a partial frame hold only a small buffer, so a few of
 * them cannot spend a small memory budget and stop everyone's reading.
 */
START_TEST(test_partial_frames_do_not_spend_the_memory_budget)
{
	struct pbt_daemon *d = pbt_start("-m", "256K", (char *)NULL);
	uint32_t ida, idb, idx;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	int x[8];
	size_t i;

	/* Each x is known to have been read once its frame reaches b. */
	for (i = 0; i < 8; i++) {
		x[i] = pbt_connect(d, &idx);
		pbt_send_frame(x[i], idb, "x", PBT_IO_MS);
		pbt_send_all(x[i], "\0", 1, PBT_IO_MS); /* a header begun */
		pbt_expect_msg(b, "x", PBT_IO_MS);
	}
	/* a's thread goes back to sleep after each of these. */
	pbt_send_frame(a, idb, "still flowing", PBT_IO_MS);
	pbt_expect_msg(b, "still flowing", PBT_IO_MS);
	pbt_send_frame(a, idb, "and again", PBT_IO_MS);
	pbt_expect_msg(b, "and again", PBT_IO_MS);
	for (i = 0; i < 8; i++)
		close(x[i]);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

/*
 * --daemon returns once the daemon serves and its pidfile names it; the
 * pidfile goes as soon as the daemon is told to stop, before it lets its
 * clients go.
 */
START_TEST(test_daemon_mode_writes_and_removes_its_pidfile)
{
	char path[] = "/tmp/pbt-pidfile-XXXXXX";
	int tmp = mkstemp(path), a, b, st;
	struct pbt_daemon *d;
	uint32_t ida, idb;
	long pid = 0;
	FILE *f;

	ck_assert_int_ge(tmp, 0);
	close(tmp);
	d = pbt_start("-d", "-P", path, (char *)NULL);
	st = pbt_wait_exit(d, PBT_EXIT_MS);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "patchbayd -d: the foreground process did not exit 0");
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	ck_assert_int_gt(pid, 1);
	ck_assert_int_ne(pid, pbt_pid(d));
	a = pbt_connect(d, &ida);
	b = pbt_connect(d, &idb);
	pbt_send_frame(a, idb, "from the background", PBT_IO_MS);
	pbt_expect_msg(b, "from the background", PBT_IO_MS);
	ck_assert_int_eq(kill((pid_t)pid, SIGTERM), 0);
	pbt_recv_end(a, PBT_EXIT_MS);
	ck_assert_msg(access(path, F_OK) != 0, "%s is still there", path);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

/* The lowest descriptor number that process pid does not use. */
static int lowest_free_fd(pid_t pid)
{
	char dir[64], used[4096] = {0};
	struct dirent *e;
	DIR *dp;
	int n;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	dp = opendir(dir);
	ck_assert_ptr_nonnull(dp);
	while ((e = readdir(dp)) != NULL) {
		n = atoi(e->d_name);
		if (e->d_name[0] != '.' && n >= 0 && n < (int)sizeof(used))
			used[n] = 1;
	}
	closedir(dp);
	for (n = 0; n < (int)sizeof(used) && used[n]; n++)
		;
	return n;
}

/*
 * When accept() runs out of descriptors, the daemon says so once, keeps
 * serving its clients, retries, and takes the waiting connection once
 * descriptors are back.
 */
START_TEST(test_out_of_descriptors_pauses_accepting_only)
{
	struct pbt_daemon *d = pbt_start(NULL);
	pid_t pid = pbt_pid(d);
	struct rlimit low, old;
	uint32_t ida, idb;
	unsigned char id[4];
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	int c;

	ck_assert_int_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)lowest_free_fd(pid);
	ck_assert_int_eq(prlimit(pid, RLIMIT_NOFILE, &low, NULL), 0);
	c = pbt_connect_port(pbt_port(d));
	pbt_log_expect(d, "accept: retrying every", PBT_IO_MS);
	pbt_send_frame(a, idb, "still served", PBT_IO_MS);
	pbt_expect_msg(b, "still served", PBT_IO_MS);
	ck_assert_int_eq(prlimit(pid, RLIMIT_NOFILE, &old, NULL), 0);
	pbt_recv_exact(c, id, sizeof(id), PBT_IO_MS);
	ck_assert_uint_eq(pbt_get_u32(id), 2);
	pbt_log_expect(d, "accepting connections again", PBT_IO_MS);
	close(a);
	close(b);
	close(c);
	pbt_free(d);
}
END_TEST

START_TEST(test_sigterm_exits_0)
{
	exits_0_on(SIGTERM);
}
END_TEST

START_TEST(test_sigint_exits_0)
{
	exits_0_on(SIGINT);
}
END_TEST

/* Runs patchbayd with args; it must exit on its own within a deadline. */
static int run_to_exit(const char *const *args, char **err, char **out)
{
	struct pbt_daemon *d = pbt_start_argv(args);
	int st = pbt_wait_exit(d, PBT_EXIT_MS);

	if (st == -1)
		pbt_fail("patchbayd %s %s ... is still running after %d ms",
			 args[0] ? args[0] : "",
			 args[0] && args[1] ? args[1] : "", PBT_EXIT_MS);
	*err = pbt_log_copy(d);
	if (out != NULL)
		*out = pbt_stdout_copy(d);
	pbt_free(d);
	return st;
}

/* Exit status 2 and exactly one non-empty line on stderr. */
static void expect_usage_error(const char *const *args, const char *what)
{
	char *err;
	int st = run_to_exit(args, &err, NULL);
	size_t len = strlen(err);
	char *nl = strchr(err, '\n');

	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2,
		   "%s: expected exit status 2, got %s %d", what,
		   WIFEXITED(st) ? "exit status" : "signal",
		   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	pbt_assert(len > 1 && nl == err + len - 1,
		   "%s: expected exactly one line on stderr, got \"%s\"", what,
		   err);
	free(err);
}

START_TEST(test_bad_option_exits_2_with_one_line)
{
	static const char *const unknown_long[] = {"-l", "127.0.0.1:0",
						   "--no-such-option", NULL};
	static const char *const unknown_short[] = {"-l", "127.0.0.1:0", "-Z",
						    NULL};
	static const char *const missing_value[] = {"-l", "127.0.0.1:0", "-c",
						    NULL};

	expect_usage_error(unknown_long, "--no-such-option");
	expect_usage_error(unknown_short, "-Z");
	expect_usage_error(missing_value, "-c without its value");
}
END_TEST

START_TEST(test_bad_value_exits_2_with_one_line)
{
	static const char *const cases[][2] = {
		{"-c", "banana"}, {"--max-clients", "12abc"},
		{"-f", "12Q"},	  {"-o", "lots"},
		{"-p", "-5"},	  {"-m", "1X"},
		{"-t", "soon"},	  {"--slow-timeout", "-1"},
		{"-s", "big"},	  {"-s", "1G"},
		{"-t", "1e-300"}, {"-l", "nowhere"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *args[] = {"-l", "127.0.0.1:0", cases[i][0],
				      cases[i][1], NULL};
		char what[64];

		snprintf(what, sizeof what, "%s %s", cases[i][0], cases[i][1]);
		expect_usage_error(args, what);
	}
}
END_TEST

START_TEST(test_version_exits_0)
{
	static const char *const args[] = {"-V", NULL};
	char *err, *out;
	int st = run_to_exit(args, &err, &out);

	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "-V: expected exit status 0");
	pbt_assert(strlen(out) + strlen(err) > 0, "-V printed nothing");
	pbt_assert(strcmp(out, "patchbayd " PACKAGE_VERSION "\n") == 0,
		   "-V: expected \"patchbayd %s\" on stdout, got \"%s\"",
		   PACKAGE_VERSION, out);
	pbt_assert(err[0] == '\0', "-V: expected nothing on stderr, got \"%s\"",
		   err);
	free(err);
	free(out);
}
END_TEST

/* Runs $PATCHBAY_REACTOR (instead of $PATCHBAYD) with args to its exit. */
static int run_reactor_to_exit(const char *const *args, char **err, char **out)
{
	const char *reactor = getenv("PATCHBAY_REACTOR");
	char *daemon = strdup(getenv("PATCHBAYD"));
	int st;

	pbt_assert(reactor != NULL, "PATCHBAY_REACTOR is not set");
	setenv("PATCHBAYD", reactor, 1);
	st = run_to_exit(args, err, out);
	setenv("PATCHBAYD", daemon, 1);
	free(daemon);
	return st;
}

START_TEST(test_reactor_refuses_the_daemon_only_options)
{
	/* The reactor has one thread in the foreground and no metrics: -d,
	 * -P, -s, --spare-threads and --metrics would be silently ignored,
	 * so they are refused, by their long names. */
	static const char *const cases[][3] = {
		{"-d", NULL, "daemon"},
		{"--pidfile", "/nonexistent/reactor.pid", "pidfile"},
		{"-s", "64", "stack-size"},
		{"--spare-threads", "4", "spare-threads"},
		{"--metrics", "127.0.0.1:0", "metrics"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *args[] = {"-l", "127.0.0.1:0", cases[i][0],
				      cases[i][1], NULL};
		char want[128];
		char *err;
		int st = run_reactor_to_exit(args, &err, NULL);

		snprintf(want, sizeof want,
			 "patchbay-reactor: --%s: not supported by the reactor "
			 "(patchbayd only)\n",
			 cases[i][2]);
		pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2,
			   "%s: expected exit status 2", cases[i][0]);
		pbt_assert(strcmp(err, want) == 0,
			   "%s: expected on stderr \"%s\", got \"%s\"",
			   cases[i][0], want, err);
		free(err);
	}
}
END_TEST

START_TEST(test_reactor_refuses_daemon_only_options_in_its_file)
{
	char path[] = "/tmp/pbt-reactor-conf-XXXXXX", want[128];
	const char *args[] = {"--config", path, "--check-config", NULL};
	int fd = mkstemp(path), st;
	char *err, *out;
	FILE *f;

	pbt_assert(fd >= 0 && (f = fdopen(fd, "w")) != NULL, "cannot write %s",
		   path);
	fputs("listen = 127.0.0.1:0\nmetrics = 127.0.0.1:0\n", f);
	pbt_assert(fclose(f) == 0, "cannot write %s", path);
	st = run_reactor_to_exit(args, &err, &out);
	unlink(path);
	snprintf(want, sizeof want,
		 "patchbay-reactor: %s:2: metrics: not supported by the "
		 "reactor (patchbayd only)\n",
		 path);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2,
		   "expected exit status 2");
	pbt_assert(strcmp(err, want) == 0,
		   "expected on stderr \"%s\", got \"%s\"", want, err);
	pbt_assert(out[0] == '\0', "expected nothing on stdout, got \"%s\"",
		   out);
	free(err);
	free(out);
}
END_TEST

START_TEST(test_help_lists_only_the_servers_own_options)
{
	static const char *const args[] = {"--help", NULL};
	static const char *const daemon_only[] = {"--daemon", "--pidfile",
						  "--stack-size", "--metrics",
						  "--spare-threads"};
	char *err, *out;
	int st = run_reactor_to_exit(args, &err, &out);

	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "reactor --help: expected exit status 0");
	pbt_assert(strncmp(out, "usage: patchbay-reactor ", 24) == 0,
		   "reactor --help: \"%s\"", out);
	pbt_assert(strstr(out, "--listen") != NULL &&
			   strstr(out, "--max-clients") != NULL,
		   "reactor --help lacks its own options: \"%s\"", out);
	for (size_t i = 0; i < sizeof daemon_only / sizeof daemon_only[0]; i++)
		pbt_assert(strstr(out, daemon_only[i]) == NULL,
			   "reactor --help lists %s: \"%s\"", daemon_only[i],
			   out);
	free(err);
	free(out);

	/* patchbayd's still lists them all. */
	st = run_to_exit(args, &err, &out);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "patchbayd --help: expected exit status 0");
	for (size_t i = 0; i < sizeof daemon_only / sizeof daemon_only[0]; i++)
		pbt_assert(strstr(out, daemon_only[i]) != NULL,
			   "patchbayd --help lacks %s: \"%s\"", daemon_only[i],
			   out);
	free(err);
	free(out);
}
END_TEST

START_TEST(test_address_in_use_exits_1)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof sin;
	char addr[32], want[128];
	const char *args[] = {"-l", addr, NULL};
	int st, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *err;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) != 0)
		pbt_fail("cannot hold a listening port: %s", strerror(errno));
	snprintf(addr, sizeof addr, "127.0.0.1:%u",
		 (unsigned)ntohs(sin.sin_port));
	snprintf(want, sizeof want,
		 "patchbayd: cannot listen on %s: Address already in use\n",
		 addr);

	st = run_to_exit(args, &err, NULL);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		   "expected exit status 1, got %s %d; stderr: %s",
		   WIFEXITED(st) ? "exit status" : "signal",
		   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), err);
	pbt_assert(strstr(err, want) != NULL,
		   "stderr lacks \"%s\": it is \"%s\"", want, err);
	free(err);
	close(l);
}
END_TEST

/*
 * Reads what a disconnected slow consumer had buffered until the end of
 * its connection: it must be a prefix of the payloads sent to it.
 */
static size_t drain_prefix(int fd, const unsigned char *want, size_t len)
{
	unsigned char buf[65536];
	int64_t deadline = pbt_now_ms() + PBT_IO_MS;
	size_t got = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		int64_t left = deadline - pbt_now_ms();

		pbt_assert(poll(&p, 1, left > 0 ? (int)left : 0) == 1,
			   "the slow consumer's connection did not end "
			   "(%zu bytes read)",
			   got);
		n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return got;
		if (n < 0)
			continue;
		pbt_assert(got + (size_t)n <= len &&
				   memcmp(buf, want + got, (size_t)n) == 0,
			   "the slow consumer received bytes it was not "
			   "sent, at offset %zu",
			   got);
		got += (size_t)n;
	}
}

START_TEST(test_slow_consumer_is_disconnected_sender_carries_on)
{
	enum { FRAMES = 256, PAYLOAD = 32000 };
	struct pbt_daemon *d = pbt_start("-t", "1", "-o", "64K", (char *)NULL);
	unsigned char *payload = malloc(PAYLOAD);
	struct pbt_buf f = {0}, want = {0};
	char line[200], addr[64], *full;
	uint64_t seed = 99;
	uint32_t ids, idc, idh;
	int s = pbt_connect(d, &ids);
	int c = pbt_connect_rcvbuf(d, 4096, &idc); /* never reads */
	int h = pbt_connect(d, &idh);
	struct pbt_stream st[2] = {{.s_fd = s}, {.s_fd = h}};
	unsigned char in[64];

	ck_assert_ptr_nonnull(payload);
	for (int i = 0; i < FRAMES; i++) {
		pbt_fill_nonzero(payload, PAYLOAD, &seed);
		pbt_buf_frame(&f, idc, payload, PAYLOAD);
		pbt_buf_add(&want, payload, PAYLOAD);
		pbt_buf_add(&want, "", 1);
	}
	pbt_buf_frame(&f, idh, "the sender carries on", 21);
	st[0].s_out = f.b_data;
	st[0].s_out_len = f.b_len;
	st[1].s_in = in;
	st[1].s_in_len = sizeof "the sender carries on";
	pbt_pump(st, 2, 20000);
	pbt_assert_mem_eq(in, "the sender carries on", st[1].s_in_len);

	snprintf(line, sizeof line,
		 "client %u disconnected as slow consumer (%s): no write "
		 "progress for ",
		 idc, pbt_local_addr(c, addr, sizeof addr));
	pbt_log_expect(d, line, PBT_LOG_MS);
	full = pbt_log_line(d, line);
	pbt_assert(strstr(full, " frames dropped") != NULL,
		   "log line \"%s\" lacks \"N frames dropped\"", full);
	free(full);
	drain_prefix(c, want.b_data, want.b_len);

	pbt_send_frame(h, ids, "and is still connected", PBT_IO_MS);
	pbt_expect_msg(s, "and is still connected", PBT_IO_MS);
	free(payload);
	pbt_buf_free(&f);
	pbt_buf_free(&want);
	close(s);
	close(c);
	close(h);
	pbt_free(d);
}
END_TEST

/* The last log line containing needle, to free(), or NULL. */
static char *last_log_line(struct pbt_daemon *d, const char *needle)
{
	char *log = pbt_log_copy(d), *p = log, *last = NULL, *line;

	while ((p = strstr(p, needle)) != NULL)
		last = p++;
	if (last == NULL) {
		free(log);
		return NULL;
	}
	while (last > log && last[-1] != '\n')
		last--;
	line = strndup(last, strcspn(last, "\n"));
	free(log);
	return line;
}

START_TEST(test_sigusr1_logs_the_counters_and_goes_on)
{
	/* Counters are bumped just after the deed (a frame may arrive before
	 * its sender's thread counts it), so SIGUSR1 is sent until a line
	 * shows them, within a deadline. */
	static const char *const want[] = {"accepted=2 ", " forwarded=1 ",
					   " received=1"};
	struct pbt_daemon *d = pbt_start(NULL);
	int64_t deadline = pbt_now_ms() + PBT_LOG_MS;
	uint32_t ida, idb;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	bool seen = false;

	pbt_send_frame(a, idb, "counted", PBT_IO_MS);
	pbt_expect_msg(b, "counted", PBT_IO_MS);
	while (!seen) {
		size_t lines = pbt_log_count(d, "stats: ");
		char *line;

		pbt_assert(pbt_now_ms() < deadline,
			   "no stats line after SIGUSR1 showed %s%s%s", want[0],
			   want[1], want[2]);
		pbt_assert(kill(pbt_pid(d), SIGUSR1) == 0, "kill");
		pbt_assert(
			pbt_log_wait_count(d, "stats: ", lines + 1, PBT_LOG_MS),
			"SIGUSR1 wrote no stats line");
		line = last_log_line(d, "stats: ");
		seen = line != NULL;
		for (size_t i = 0; seen && i < 3; i++)
			seen = strstr(line, want[i]) != NULL;
		free(line);
	}
	pbt_send_frame(b, ida, "and on", PBT_IO_MS);
	pbt_expect_msg(a, "and on", PBT_IO_MS);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_common_signals_do_not_kill_it)
{
	/* Each is handled or ignored; SIGQUIT then stops it cleanly. */
	const int sigs[] = {SIGHUP,  SIGUSR1,	SIGRTMIN, SIGPIPE,
			    SIGALRM, SIGVTALRM, SIGPROF,  SIGXFSZ,
			    SIGURG,  SIGCHLD,	SIGWINCH};
	struct pbt_daemon *d = pbt_start(NULL);
	uint32_t ida, idb;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	int st;

	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		char m[64];

		pbt_assert(kill(pbt_pid(d), sigs[i]) == 0, "kill");
		/* Those the main thread acts on are awaited: signals pending
		 * together are taken lowest first, and SIGQUIT would win. */
		if (sigs[i] == SIGHUP)
			pbt_log_expect(d, "nothing to reload", PBT_LOG_MS);
		if (sigs[i] == SIGUSR1)
			pbt_log_expect(d, "stats: ", PBT_LOG_MS);
		snprintf(m, sizeof m, "after %s", strsignal(sigs[i]));
		pbt_send_frame(a, idb, m, PBT_IO_MS);
		pbt_expect_msg(b, m, PBT_IO_MS);
	}
	st = pbt_stop(d, SIGQUIT, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "SIGQUIT: expected exit status 0");
	pbt_assert(pbt_log_count(d, "stats: ") >= 2,
		   "no stats line at exit after SIGQUIT");
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

/*
 * At the least stack it accepts (-s 32), at -vv (the deepest logging), the
 * daemon goes through every path a client thread takes: delivery, an
 * unknown id, a frame too long, a reset mid-frame, a slow consumer cut,
 * wake-ups, SIGUSR1 and SIGHUP; it must still serve and stop cleanly. A
 * stack too small for any of them crashes it, or fails it under ASan.
 */
START_TEST(test_minimum_stack_survives_every_path)
{
	struct pbt_daemon *d = pbt_start("-s", "32", "-v", "-t", "1", "-f",
					 "1024", (char *)NULL);
	unsigned char big[4 + 2000], half[6] = {0, 0, 0, 0, 'h', 'a'};
	struct pbt_buf slow = {0};
	uint32_t ida, idb, idc, ide, ids;
	int a = pbt_connect(d, &ida), b = pbt_connect(d, &idb);
	int c = pbt_connect(d, &idc), e = pbt_connect(d, &ide);
	int s = pbt_connect_rcvbuf(d, 4096, &ids);
	char payload[1000];
	int st;

	pbt_send_frame(a, idb, "hello at the least stack", PBT_IO_MS);
	pbt_expect_msg(b, "hello at the least stack", PBT_IO_MS);
	pbt_send_frame(a, 0x7fffffffu, "nobody", PBT_IO_MS);
	pbt_put_u32(big, idb);
	memset(big + 4, 'x', sizeof big - 4);
	pbt_send_tolerant(c, big, sizeof big, PBT_IO_MS);
	pbt_log_expect(d, "protocol error", PBT_LOG_MS);
	pbt_send_all(e, half, sizeof half, PBT_IO_MS);
	pbt_close_reset(e);
	memset(payload, 'p', sizeof payload - 1);
	payload[sizeof payload - 1] = '\0';
	while (slow.b_len < 8 * 1024 * 1024)
		pbt_buf_frame(&slow, ids, payload, sizeof payload - 1);
	pbt_send_tolerant(b, slow.b_data, slow.b_len, PBT_IO_MS);
	pbt_log_expect(d, "disconnected as slow consumer", PBT_LOG_MS);
	pbt_assert(kill(pbt_pid(d), SIGRTMIN) == 0, "kill");
	pbt_assert(kill(pbt_pid(d), SIGUSR1) == 0, "kill");
	pbt_log_expect(d, "stats: ", PBT_LOG_MS);
	pbt_assert(kill(pbt_pid(d), SIGHUP) == 0, "kill");
	pbt_log_expect(d, "nothing to reload", PBT_LOG_MS);
	pbt_send_frame(a, ida, "still here", PBT_IO_MS);
	pbt_expect_msg(a, "still here", PBT_IO_MS);
	st = pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "after SIGTERM: expected exit status 0");
	pbt_buf_free(&slow);
	close(a);
	close(b);
	close(c);
	close(s);
	pbt_free(d);
}
END_TEST

/* A port nobody listens on now (the daemon binds it next). */
static int unused_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	pbt_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sin, len) == 0 &&
			   getsockname(fd, (struct sockaddr *)&sin, &len) == 0,
		   "cannot find a free port");
	close(fd);
	return ntohs(sin.sin_port);
}

START_TEST(test_quiet_still_writes_the_stats_line_at_exit)
{
	/* With -q not even "listening on" is logged: the test knows the
	 * port, and the daemon serves once a client gets its id. */
	int64_t deadline = pbt_now_ms() + PBT_START_MS;
	int port = unused_port();
	char addr[32];
	const char *args[] = {"-q", "-l", addr, NULL};
	struct pbt_daemon *d;
	uint32_t id;
	int c = -1, st;

	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	d = pbt_start_argv(args);
	while (c < 0) {
		pbt_assert(pbt_now_ms() < deadline &&
				   pbt_wait_exit(d, 20) == -1,
			   "patchbayd -q did not serve on %s", addr);
		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sin = {.sin_family = AF_INET,
					  .sin_port = htons((uint16_t)port),
					  .sin_addr.s_addr =
						  htonl(INADDR_LOOPBACK)};
		if (connect(c, (struct sockaddr *)&sin, sizeof sin) < 0) {
			close(c);
			c = -1;
		}
	}
	pbt_recv_exact(c, &id, sizeof id, PBT_IO_MS);
	st = pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status");
	pbt_assert(pbt_log_has(d, "stats: accepted=1 "),
		   "-q: no stats line at exit");
	pbt_assert(!pbt_log_has(d, "listening on"),
		   "-q logged a notice: the test shows nothing");
	close(c);
	pbt_free(d);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");

	pbt_add_test(s, test_unknown_destination_is_dropped_sender_stays, 30);
	pbt_add_test(s, test_oversized_frame_is_a_protocol_error, 30);
	pbt_add_test(s, test_frame_one_byte_over_max_frame_is_a_protocol_error,
		     30);
	pbt_add_test(s, test_garbage_does_not_disturb_a_pair, 30);
	pbt_add_test(s, test_disconnect_mid_frame_discards_partial, 30);
	pbt_add_test(s, test_disconnect_by_reset_discards_partial, 30);
	pbt_add_test(s, test_departed_ids_are_not_reused, 30);
	pbt_add_test(s, test_max_clients_refuses_then_accepts_again, 30);
	pbt_add_test(s, test_slow_consumer_is_disconnected_sender_carries_on,
		     30);
	pbt_add_test(s, test_partial_frames_do_not_spend_the_memory_budget, 30);
	pbt_add_test(s, test_daemon_mode_writes_and_removes_its_pidfile, 30);
	pbt_add_test(s, test_out_of_descriptors_pauses_accepting_only, 30);
	pbt_add_test(s, test_sigterm_exits_0, 30);
	pbt_add_test(s, test_sigint_exits_0, 30);
	pbt_add_test(s, test_bad_option_exits_2_with_one_line, 30);
	pbt_add_test(s, test_bad_value_exits_2_with_one_line, 30);
	pbt_add_test(s, test_sigusr1_logs_the_counters_and_goes_on, 30);
	pbt_add_test(s, test_common_signals_do_not_kill_it, 30);
	pbt_add_test(s, test_minimum_stack_survives_every_path, 60);
	pbt_add_test(s, test_quiet_still_writes_the_stats_line_at_exit, 30);
	pbt_add_test(s, test_version_exits_0, 30);
	pbt_add_test(s, test_reactor_refuses_the_daemon_only_options, 30);
	pbt_add_test(s, test_reactor_refuses_daemon_only_options_in_its_file,
		     30);
	pbt_add_test(s, test_help_lists_only_the_servers_own_options, 30);
	pbt_add_test(s, test_address_in_use_exits_1, 30);
	return s;
}

int main(void)
{
	return pbt_run(faults_suite());
}
