/* SPDX-License-Identifier: ISC */
/*
 * check_counters.c: end-to-end test of the counters that both servers log
 * on their "stats: " line at exit. One scripted session, in which every
 * frame and every client has a known fate (delivered, sent to an unknown or
 * departed id, cut off by a disconnect, too long, queued for a slow
 * consumer), is run once against patchbayd ($PATCHBAYD) and once against
 * patchbay-reactor ($PATCHBAY_REACTOR); each counter must then hold exactly
 * what the script caused, and the counters must add up: every client
 * accepted went away for one reason, every frame received was forwarded or
 * dropped for one reason. It lives apart from check_faults.c because it
 * checks the bookkeeping of those cases, not the cases themselves, and
 * runs against both servers.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The servers under test, by loop index. */
static const struct counters_server {
	const char *cs_name;
	const char *cs_env; /* names its binary */
} counters_servers[] = {
	{"patchbayd", "PATCHBAYD"},
	{"patchbay-reactor", "PATCHBAY_REACTOR"},
};

/* $PATCHBAYD as the test program found it, before a test changed it. */
static char *counters_daemon_path;

/* An id nobody is given in this test. */
#define COUNTERS_NOBODY 0x7fffffffu

/*
 * The slow consumer's share is frames of this many bytes, enough of them
 * to overflow what the kernel buffers for its connection (see
 * counters_slow_frames).
 */
#define COUNTERS_SLOW_PAYLOAD 4000

/* A payload longer than the default --max-frame (64K), without a 0x00. */
#define COUNTERS_TOO_LONG 70000

/* The counters that must be on the stats line, in the order checked. */
enum counters_name {
	CN_ACCEPTED,
	CN_RECEIVED,
	CN_FORWARDED,
	CN_DROP_UNKNOWN,
	CN_DROP_LEFT,
	CN_DROP_SLOW,
	CN_DROP_NOMEM,
	CN_DROP_SENDER_LEFT,
	CN_DISC_CLOSED,
	CN_DISC_RESET,
	CN_DISC_PROTOCOL,
	CN_DISC_SLOW,
	CN_DISC_SHUTDOWN,
	CN_DISC_NOMEM,
	CN_DISC_FRAME_TIMEOUT,
	CN_REFUSED_MAX,
	CN_REFUSED_THREAD,
	CN_COUNT,
};

static const char *const counters_names[CN_COUNT] = {
	[CN_ACCEPTED] = "accepted",
	[CN_RECEIVED] = "received",
	[CN_FORWARDED] = "forwarded",
	[CN_DROP_UNKNOWN] = "dropped_unknown_destination",
	[CN_DROP_LEFT] = "dropped_destination_left",
	[CN_DROP_SLOW] = "dropped_slow_consumer",
	[CN_DROP_NOMEM] = "dropped_no_memory",
	[CN_DROP_SENDER_LEFT] = "dropped_sender_left",
	[CN_DISC_CLOSED] = "disconnect_peer_closed",
	[CN_DISC_RESET] = "disconnect_reset",
	[CN_DISC_PROTOCOL] = "disconnect_protocol_error",
	[CN_DISC_SLOW] = "disconnect_slow_consumer",
	[CN_DISC_SHUTDOWN] = "disconnect_shutdown",
	[CN_DISC_NOMEM] = "disconnect_no_memory",
	[CN_DISC_FRAME_TIMEOUT] = "disconnect_frame_timeout",
	[CN_REFUSED_MAX] = "refused_max_clients",
	[CN_REFUSED_THREAD] = "refused_no_thread",
};

/*
 * The value of `name` in the space-separated name=value pairs at p, in any
 * order; false if the name is not there or its value is not a number.
 */
static bool counters_lookup(const char *p, const char *name,
			    unsigned long long *value)
{
	size_t len = strlen(name);

	while (*p != '\0') {
		size_t tok = strcspn(p, " ");

		if (tok > len && strncmp(p, name, len) == 0 && p[len] == '=') {
			char *end;

			errno = 0;
			*value = strtoull(p + len + 1, &end, 10);
			return errno == 0 && end == p + tok &&
			       end != p + len + 1;
		}
		p += tok;
		p += strspn(p, " ");
	}
	return false;
}

/* What the stats line said, and every way it was off, for one message. */
struct counters_tally {
	const char *ct_server;
	unsigned long long ct_value[CN_COUNT];
	bool ct_have[CN_COUNT];
	char ct_msg[1800];
	size_t ct_len;
	int ct_bad;
};

/* Adds a line to the message. */
static void counters_vnote(struct counters_tally *t, const char *fmt,
			   va_list ap) __attribute__((format(printf, 2, 0)));

static void counters_vnote(struct counters_tally *t, const char *fmt,
			   va_list ap)
{
	int n;

	if (t->ct_len + 2 >= sizeof t->ct_msg)
		return;
	t->ct_msg[t->ct_len++] = '\n';
	n = vsnprintf(t->ct_msg + t->ct_len, sizeof t->ct_msg - t->ct_len, fmt,
		      ap);
	if (n > 0)
		t->ct_len += (size_t)n;
	if (t->ct_len >= sizeof t->ct_msg)
		t->ct_len = sizeof t->ct_msg - 1;
}

static void counters_note(struct counters_tally *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void counters_note(struct counters_tally *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	counters_vnote(t, fmt, ap);
	va_end(ap);
}

/* A check that failed, added to the message. */
static void counters_complain(struct counters_tally *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void counters_complain(struct counters_tally *t, const char *fmt, ...)
{
	va_list ap;

	t->ct_bad++;
	va_start(ap, fmt);
	counters_vnote(t, fmt, ap);
	va_end(ap);
}

/* Reads every counter from the line; a missing one is a complaint. */
static void counters_read(struct counters_tally *t, const char *line)
{
	const char *pairs = strstr(line, "stats: ");

	pairs += strlen("stats: ");
	for (int i = 0; i < CN_COUNT; i++) {
		t->ct_have[i] = counters_lookup(pairs, counters_names[i],
						&t->ct_value[i]);
		if (!t->ct_have[i])
			counters_complain(t,
					  "%s: counter %s: missing from the "
					  "stats line (or not a number)",
					  t->ct_server, counters_names[i]);
	}
}

static void counters_expect(struct counters_tally *t, enum counters_name n,
			    unsigned long long want, const char *how)
{
	if (t->ct_have[n] && t->ct_value[n] != want)
		counters_complain(t,
				  "%s: counter %s: expected %llu%s, got %llu",
				  t->ct_server, counters_names[n], want, how,
				  t->ct_value[n]);
}

/* The sum of counters [from, to], or false if one of them is missing. */
static bool counters_sum(const struct counters_tally *t,
			 enum counters_name from, enum counters_name to,
			 unsigned long long *sum)
{
	*sum = 0;
	for (int i = from; i <= (int)to; i++) {
		if (!t->ct_have[i])
			return false;
		*sum += t->ct_value[i];
	}
	return true;
}

/* "client ID disconnected (ADDR): WHY", as the servers log it at -v. */
static void counters_leave_line(char *line, size_t cap, uint32_t id, int fd,
				const char *why)
{
	char addr[64];

	snprintf(line, cap, "client %u disconnected (%s): %s", id,
		 pbt_local_addr(fd, addr, sizeof addr), why);
}

/*
 * Reads what the disconnected slow consumer can still read, until its
 * connection ends; it must be a prefix of what was sent to it. Returns how
 * many whole frames (0x00 bytes) it got.
 */
static size_t counters_drain(int fd, const unsigned char *want, size_t len)
{
	unsigned char buf[65536];
	int64_t deadline = pbt_now_ms() + PBT_IO_MS;
	size_t got = 0, frames = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - pbt_now_ms();
		ssize_t n;

		pbt_assert(poll(&p, 1, left > 0 ? (int)left : 0) == 1,
			   "the slow consumer's connection did not end "
			   "(%zu bytes, %zu frames read)",
			   got, frames);
		n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return frames;
		if (n < 0)
			continue;
		pbt_assert(got + (size_t)n <= len &&
				   memcmp(buf, want + got, (size_t)n) == 0,
			   "the slow consumer received bytes it was not "
			   "sent, at offset %zu",
			   got);
		for (ssize_t i = 0; i < n; i++)
			frames += buf[i] == 0;
		got += (size_t)n;
	}
}

/*
 * How many frames of COUNTERS_SLOW_PAYLOAD bytes it takes to overflow what
 * the kernel buffers for a client that never reads, so that the rest has
 * to wait in the server's outbox and the client times out as a slow
 * consumer. The server's send buffer grows by itself up to the largest of
 * net.ipv4.tcp_wmem (4 MiB by default, and a new loopback connection gets
 * most of that at once: about 2.8 MB go into the kernel before anything
 * waits), which it cannot pass by more than a segment; the client's own
 * buffer was made small. A MiB more is sure to overflow them, and no more
 * than that, as all of it has to reach the outbox before the slow timeout
 * runs out.
 */
static size_t counters_slow_frames(void)
{
	unsigned long lo, def, max = 4ul << 20;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");

	if (f != NULL) {
		if (fscanf(f, "%lu %lu %lu", &lo, &def, &max) != 3)
			max = 4ul << 20;
		fclose(f);
	}
	return ((size_t)max + (1u << 20)) / (COUNTERS_SLOW_PAYLOAD + 1) + 1;
}

/* The binary of server i; fails the test if its variable is unset. */
static const char *counters_binary(int i)
{
	const struct counters_server *cs = &counters_servers[i];
	const char *path = i == 0 ? counters_daemon_path : getenv(cs->cs_env);

	if (path == NULL || *path == '\0')
		pbt_fail_at(__FILE__, __LINE__,
			    "%s is not set: it must name the %s binary under "
			    "test ('make check' sets it)",
			    cs->cs_env, cs->cs_name);
	return path;
}

START_TEST(test_counters_reconcile_with_known_outcomes)
{
	const char *server = counters_servers[_i].cs_name;
	struct counters_tally t = {.ct_server = server};
	struct pbt_buf slow = {0}, want = {0};
	unsigned char *payload = malloc(COUNTERS_TOO_LONG);
	unsigned long long sum;
	uint32_t ida, idb, idc, idd, ide, idf;
	uint64_t seed = 2024;
	size_t slow_n = counters_slow_frames(), k;
	char line[200], outbox[32], *stats;
	int a, b, c, dfd, e, f, st;
	struct pbt_daemon *d;

	ck_assert_ptr_nonnull(payload);
	setenv("PATCHBAYD", counters_binary(_i), 1);
	/* An outbox that holds all of the slow consumer's share (see 6.). */
	snprintf(outbox, sizeof outbox, "%zu",
		 slow_n * (COUNTERS_SLOW_PAYLOAD + 1) + (1u << 20));
	d = pbt_start("-t", "1", "-o", outbox, (char *)NULL);

	/* 1. A sends B 5 frames, all delivered. */
	a = pbt_connect(d, &ida);
	b = pbt_connect(d, &idb);
	for (int i = 0; i < 5; i++) {
		char p[32];

		snprintf(p, sizeof p, "a to b %d", i);
		pbt_send_frame(a, idb, p, PBT_IO_MS);
		pbt_expect_msg(b, p, PBT_IO_MS);
	}

	/*
	 * 2. 3 frames to an id never given; the next one to B proves them
	 * handled, as frames from one sender are handled in order.
	 */
	for (int i = 0; i < 3; i++)
		pbt_send_frame(a, COUNTERS_NOBODY, "to nobody", PBT_IO_MS);
	pbt_send_frame(a, idb, "after nobody", PBT_IO_MS);
	pbt_expect_msg(b, "after nobody", PBT_IO_MS);

	/* 3. C comes and goes; 2 frames to its id are for nobody now. */
	c = pbt_connect(d, &idc);
	counters_leave_line(line, sizeof line, idc, c, "peer closed");
	close(c);
	pbt_log_expect(d, line, PBT_LOG_MS);
	pbt_send_frame(a, idc, "to the departed c", PBT_IO_MS);
	pbt_send_frame(a, idc, "to the departed c again", PBT_IO_MS);
	pbt_send_frame(a, idb, "after the departed c", PBT_IO_MS);
	pbt_expect_msg(b, "after the departed c", PBT_IO_MS);

	/* 4. D sends 2 good frames, then one longer than --max-frame. */
	dfd = pbt_connect(d, &idd);
	counters_leave_line(line, sizeof line, idd, dfd, "protocol error");
	pbt_send_frame(dfd, idb, "d before its bad frame 1", PBT_IO_MS);
	pbt_send_frame(dfd, idb, "d before its bad frame 2", PBT_IO_MS);
	pbt_put_u32(payload, idb);
	memset(payload + 4, 'd', COUNTERS_TOO_LONG - 4);
	/* The server may hang up before taking it all. */
	pbt_send_tolerant(dfd, payload, COUNTERS_TOO_LONG, PBT_IO_MS);
	pbt_expect_msg(b, "d before its bad frame 1", PBT_IO_MS);
	pbt_expect_msg(b, "d before its bad frame 2", PBT_IO_MS);
	{
		char err[64];

		snprintf(err, sizeof err, "client %u protocol error", idd);
		pbt_log_expect(d, err, PBT_LOG_MS);
	}
	pbt_log_expect(d, line, PBT_LOG_MS);
	pbt_recv_end(dfd, PBT_IO_MS); /* EOF or reset, both are an end */
	close(dfd);

	/* 5. E leaves by reset in the middle of a frame. */
	e = pbt_connect(d, &ide);
	counters_leave_line(line, sizeof line, ide, e, "connection reset");
	pbt_put_u32(payload, idb);
	memcpy(payload + 4, "half a frame", 12);
	pbt_send_all(e, payload, 4 + 12, PBT_IO_MS);
	pbt_close_reset(e);
	pbt_log_expect(d, line, PBT_LOG_MS);

	/*
	 * 6. F never reads. A sends it slow_n frames, more than the kernel
	 * buffers for F's connection; the rest waits in F's outbox, which was
	 * made large enough for all of them, so that none waits in A's
	 * waiting room and A is never held up. Nothing more can be written to
	 * F, which is disconnected as a slow consumer. F can still read what
	 * the server wrote to its socket before: k whole frames.
	 */
	f = pbt_connect_rcvbuf(d, 4096, &idf);
	for (size_t i = 0; i < slow_n; i++) {
		pbt_fill_nonzero(payload, COUNTERS_SLOW_PAYLOAD, &seed);
		pbt_buf_frame(&slow, idf, payload, COUNTERS_SLOW_PAYLOAD);
		pbt_buf_add(&want, payload, COUNTERS_SLOW_PAYLOAD);
		pbt_buf_add(&want, "", 1);
	}
	pbt_send_all(a, slow.b_data, slow.b_len, PBT_IO_MS);
	snprintf(line, sizeof line, "client %u disconnected as slow consumer",
		 idf);
	pbt_log_expect(d, line, PBT_LOG_MS);
	k = counters_drain(f, want.b_data, want.b_len);
	close(f);
	pbt_assert(k < slow_n,
		   "%s: the slow consumer received all %zu frames: it was not "
		   "slow, the test proves nothing",
		   server, slow_n);
	pbt_send_frame(a, idb, "after the slow consumer", PBT_IO_MS);
	pbt_expect_msg(b, "after the slow consumer", PBT_IO_MS);

	/* 7. A and B are still connected when the server stops. */
	st = pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "%s: after SIGTERM it ended with %s %d, not exit status 0",
		   server, WIFEXITED(st) ? "exit status" : "signal",
		   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	stats = pbt_log_line(d, "stats: ");
	pbt_assert(stats != NULL, "%s: no \"stats: \" line in its log", server);

	counters_read(&t, stats);
	counters_expect(&t, CN_ACCEPTED, 6, "");
	counters_expect(&t, CN_DISC_CLOSED, 1, "");
	counters_expect(&t, CN_DISC_RESET, 1, "");
	counters_expect(&t, CN_DISC_PROTOCOL, 1, "");
	counters_expect(&t, CN_DISC_SLOW, 1, "");
	counters_expect(&t, CN_DISC_SHUTDOWN, 2, " (A and B)");
	counters_expect(&t, CN_REFUSED_MAX, 0, "");
	counters_expect(&t, CN_REFUSED_THREAD, 0, "");
	{
		char how[80];

		snprintf(how, sizeof how, " (5+1 + 3 + 2+1 + 2 + N+1, N = %zu)",
			 slow_n);
		counters_expect(&t, CN_RECEIVED, 15 + slow_n, how);
		snprintf(how, sizeof how,
			 " (10 + k, k = %zu frames the slow consumer got)", k);
		counters_expect(&t, CN_FORWARDED, 10 + k, how);
		snprintf(how, sizeof how, " (N - k, N = %zu, k = %zu)", slow_n,
			 k);
		counters_expect(&t, CN_DROP_SLOW, slow_n - k, how);
	}
	counters_expect(&t, CN_DROP_UNKNOWN, 3 + 2, " (3 + 2)");
	counters_expect(&t, CN_DROP_LEFT, 0, "");
	counters_expect(&t, CN_DROP_NOMEM, 0, "");
	counters_expect(&t, CN_DROP_SENDER_LEFT, 0, "");
	counters_expect(&t, CN_DISC_NOMEM, 0, "");
	counters_expect(&t, CN_DISC_FRAME_TIMEOUT, 0, "");

	if (t.ct_have[CN_ACCEPTED] &&
	    counters_sum(&t, CN_DISC_CLOSED, CN_DISC_FRAME_TIMEOUT, &sum) &&
	    sum != t.ct_value[CN_ACCEPTED])
		counters_complain(&t,
				  "%s: invariant accepted == sum of "
				  "disconnect_*: accepted=%llu, sum=%llu",
				  server, t.ct_value[CN_ACCEPTED], sum);
	if (t.ct_have[CN_RECEIVED] && t.ct_have[CN_FORWARDED] &&
	    counters_sum(&t, CN_DROP_UNKNOWN, CN_DROP_SENDER_LEFT, &sum) &&
	    t.ct_value[CN_FORWARDED] + sum != t.ct_value[CN_RECEIVED])
		counters_complain(&t,
				  "%s: invariant received == forwarded + sum "
				  "of dropped_*: received=%llu, "
				  "forwarded=%llu, dropped=%llu",
				  server, t.ct_value[CN_RECEIVED],
				  t.ct_value[CN_FORWARDED], sum);
	if (t.ct_bad > 0 && t.ct_have[CN_DROP_UNKNOWN] &&
	    t.ct_have[CN_DROP_SLOW] && t.ct_value[CN_DROP_UNKNOWN] > 5 &&
	    t.ct_value[CN_DROP_UNKNOWN] - 5 + t.ct_value[CN_DROP_SLOW] ==
		    slow_n - k)
		counters_note(&t, "(hint: F's missing frames are among the "
				  "unknown destinations: it may have been "
				  "disconnected before the server had read "
				  "all of A's frames for it, on a machine "
				  "too slow for -t 1)");
	pbt_assert(t.ct_bad == 0, "%s: %d counter check(s) failed:%s", server,
		   t.ct_bad, t.ct_msg);

	free(stats);
	free(payload);
	pbt_buf_free(&slow);
	pbt_buf_free(&want);
	close(a);
	close(b);
	pbt_free(d);
	if (counters_daemon_path != NULL)
		setenv("PATCHBAYD", counters_daemon_path, 1);
}
END_TEST

static Suite *counters_suite(void)
{
	Suite *s = suite_create("counters");
	TCase *tc = tcase_create("test_counters_reconcile_with_known_outcomes");
	const char *path = getenv("PATCHBAYD");

	/* A test sets $PATCHBAYD to the server it runs against. */
	if (path != NULL)
		counters_daemon_path = strdup(path);
	tcase_add_checked_fixture(tc, NULL, pbt_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(
		tc, test_counters_reconcile_with_known_outcomes, 0,
		(int)(sizeof counters_servers / sizeof counters_servers[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(counters_suite());
}
