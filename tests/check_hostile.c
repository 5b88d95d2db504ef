/* SPDX-License-Identifier: ISC */
/*
 * check_hostile.c: end-to-end tests of what hostile clients must not be
 * able to do to patchbayd: make it run threads without bound, or make it
 * stop reading everybody by spending the memory budget, with unfinished
 * frames or with floods for a client that never reads. Each test runs the
 * attack, checks that the daemon stays within its bounds and keeps serving
 * a pair of clients that take no part, and that the counters at exit
 * reconcile. They live apart from check_faults.c because each needs many
 * connections and seconds of traffic.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Threads patchbayd runs besides client threads: main, acceptor, and
 * the metrics server when there is one (doc/patchbayd.8, LIMITS). */
#define HOSTILE_FIXED_THREADS 3

/* The daemon's thread count, from /proc. */
static long hostile_threads(pid_t pid)
{
	char path[64], line[256];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* A pair that takes no part in the attack exchanges n messages, each way,
 * each within the I/O deadline. */
static void hostile_pair_exchanges(struct pbt_daemon *d, int n)
{
	uint32_t ida, idb;
	int a = pbt_connect(d, &ida), b = pbt_connect(d, &idb);
	char msg[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(msg, sizeof msg, "ping %d", i);
		pbt_send_frame(a, idb, msg, PBT_IO_MS);
		pbt_expect_msg(b, msg, PBT_IO_MS);
		snprintf(msg, sizeof msg, "pong %d", i);
		pbt_send_frame(b, ida, msg, PBT_IO_MS);
		pbt_expect_msg(a, msg, PBT_IO_MS);
	}
	close(a);
	close(b);
}

/* A reader that takes what it can every HOSTILE_DRIBBLE_MS, as a client on
 * a slow link would: never a slow consumer, never fast. The pause paces
 * the load; nothing waits on it. */
#define HOSTILE_DRIBBLE_MS 50
struct hostile_dribbler {
	int hd_fd;
	atomic_bool hd_stop;
	pthread_t hd_thread;
};

static void *hostile_dribble(void *arg)
{
	struct hostile_dribbler *h = arg;
	static char buf[65536];
	struct timespec pause = {0, HOSTILE_DRIBBLE_MS * 1000000L};

	while (!atomic_load(&h->hd_stop)) {
		if (recv(h->hd_fd, buf, sizeof buf, MSG_DONTWAIT) == 0)
			break;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* Each departed sender's frame: big, so that few fill the reader's path. */
#define HOSTILE_DEPARTED_PAYLOAD 60000
#define HOSTILE_DEPARTURES	 2000

/*
 * Connect, send one frame to a reader that dribbles, close: thousands of
 * times, with -c 50. Frames that find the reader's outbox full wait in the
 * sender's waiting room, and its thread lingers to deliver them; at most
 * --max-clients may linger, so the daemon's threads stay within twice
 * --max-clients (plus its own), new clients are served throughout, and the
 * lingerers that cannot move on go within --slow-timeout.
 */
START_TEST(test_departed_senders_keep_threads_bounded)
{
	struct pbt_daemon *d = pbt_start("-c", "50", "-t", "5", (char *)NULL);
	long bound = 2 * 50 + HOSTILE_FIXED_THREADS, most = 0, n;
	struct hostile_dribbler h = {.hd_stop = false};
	struct pbt_buf frame = {0};
	unsigned char *payload = malloc(HOSTILE_DEPARTED_PAYLOAD);
	uint64_t rnd = 1;
	uint32_t rid, sid;
	int64_t deadline;
	char *stats;
	int i;

	pbt_assert(payload != NULL, "out of memory");
	pbt_fill_nonzero(payload, HOSTILE_DEPARTED_PAYLOAD, &rnd);
	h.hd_fd = pbt_connect(d, &rid);
	pbt_buf_frame(&frame, rid, payload, HOSTILE_DEPARTED_PAYLOAD);
	pbt_assert(pthread_create(&h.hd_thread, NULL, hostile_dribble, &h) == 0,
		   "pthread_create");
	for (i = 0; i < HOSTILE_DEPARTURES; i++) {
		int s = pbt_connect(d, &sid);

		pbt_send_all(s, frame.b_data, frame.b_len, PBT_IO_MS);
		close(s);
		n = hostile_threads(pbt_pid(d));
		most = n > most ? n : most;
		pbt_assert(n <= bound,
			   "after %d departures the daemon runs %ld threads, "
			   "more than 2 x --max-clients + %d = %ld",
			   i + 1, n, HOSTILE_FIXED_THREADS, bound);
	}
	hostile_pair_exchanges(d, 10);

	/* The lingerers go within --slow-timeout (5 s) once nothing moves:
	 * the reader's thread and the daemon's own are left. */
	deadline = pbt_now_ms() + 5000 + PBT_IO_MS;
	while ((n = hostile_threads(pbt_pid(d))) > 1 + HOSTILE_FIXED_THREADS &&
	       pbt_now_ms() < deadline)
		usleep(20000); /* polling /proc: nothing to wait on */
	pbt_assert(n <= 1 + HOSTILE_FIXED_THREADS,
		   "%ld threads still run %d ms after the last departure", n,
		   5000 + PBT_IO_MS);
	atomic_store(&h.hd_stop, true);
	pthread_join(h.hd_thread, NULL);

	stats = pbt_stop_reconciled(d);
	pbt_assert(pbt_stat(stats, "dropped_sender_left") > 0,
		   "no departed sender's frames were given up (most threads "
		   "seen: %ld): the test did not make senders linger",
		   most);
	pbt_assert(pbt_stat(stats, "disconnect_slow_consumer") == 0,
		   "the dribbling reader was cut as a slow consumer: %s",
		   stats);
	pbt_assert(pbt_log_has(d, "left with") &&
			   pbt_log_has(d, "frames waiting, dropped"),
		   "no log line for the given-up frames");
	free(stats);
	free(payload);
	pbt_buf_free(&frame);
	close(h.hd_fd);
	pbt_free(d);
}
END_TEST

#define HOSTILE_HOLDERS 1000

/*
 * With -m 64M, 1,000 clients each hold an unfinished frame of nearly
 * --max-frame bytes (about 64 MB in all, the whole budget): read buffers
 * may spend only their share of it, so a pair of other clients keeps
 * exchanging.
 */
START_TEST(test_unfinished_frames_do_not_stop_others)
{
	struct pbt_daemon *d;
	static int fds[HOSTILE_HOLDERS];
	struct pbt_buf partial = {0};
	unsigned char *payload = malloc(65535);
	unsigned char hdr[4];
	uint64_t rnd = 7;
	uint32_t id;
	char *stats;
	int i;

	pbt_need_fds(HOSTILE_HOLDERS + 64);
	d = pbt_start("-m", "64M", (char *)NULL);
	pbt_assert(payload != NULL, "out of memory");
	pbt_fill_nonzero(payload, 65535, &rnd);
	pbt_put_u32(hdr, 0);
	pbt_buf_add(&partial, hdr, sizeof hdr);
	pbt_buf_add(&partial, payload, 65535); /* no 0x00: unfinished */
	for (i = 0; i < HOSTILE_HOLDERS; i++) {
		fds[i] = pbt_connect(d, &id);
		pbt_send_all(fds[i], partial.b_data, partial.b_len, PBT_IO_MS);
	}
	hostile_pair_exchanges(d, 50);
	for (i = 0; i < HOSTILE_HOLDERS; i++)
		close(fds[i]);
	stats = pbt_stop_reconciled(d);
	free(stats);
	free(payload);
	pbt_buf_free(&partial);
	pbt_free(d);
}
END_TEST

/*
 * A frame left unfinished for --frame-timeout is a slowloris: its client
 * is disconnected, with a log line and a counter of its own. A client
 * whose frames complete stays.
 */
START_TEST(test_unfinished_frame_is_cut_after_frame_timeout)
{
	struct pbt_daemon *d =
		pbt_start("--frame-timeout", "0.3", (char *)NULL);
	unsigned char start[7] = {0, 0, 0, 0, 'a', 'b', 'c'};
	char addr[64], want[160], *stats;
	uint32_t slow, ok;
	int s = pbt_connect(d, &slow), c = pbt_connect(d, &ok);

	pbt_send_all(s, start, sizeof start, PBT_IO_MS);
	snprintf(want, sizeof want,
		 "client %u disconnected (%s): frame unfinished for too long "
		 "(--frame-timeout)",
		 slow, pbt_local_addr(s, addr, sizeof addr));
	pbt_log_expect(d, want, PBT_LOG_MS);
	pbt_recv_end(s, PBT_IO_MS);
	pbt_send_frame(c, ok, "still here", PBT_IO_MS);
	pbt_expect_msg(c, "still here", PBT_IO_MS);
	stats = pbt_stop_reconciled(d);
	pbt_assert(pbt_stat(stats, "disconnect_frame_timeout") == 1,
		   "expected disconnect_frame_timeout=1: %s", stats);
	free(stats);
	close(s);
	close(c);
	pbt_free(d);
}
END_TEST

#define HOSTILE_FLOODERS    1200
#define HOSTILE_FLOOD_BYTES (320 * 1024) /* per flooder */
#define HOSTILE_FLOOD_FRAME 4000

/*
 * With -m 256M, 1,200 senders flood one client that never reads (about
 * 375 MB in all, more than the budget): waiting rooms may spend only
 * their share, so a pair that sends nothing to it keeps exchanging long
 * before the non-reader is cut (-t 60).
 */
START_TEST(test_flood_for_one_non_reader_does_not_stall_others)
{
	struct pbt_daemon *d;
	static int fds[HOSTILE_FLOODERS];
	static size_t done[HOSTILE_FLOODERS];
	struct pbt_buf flood = {0};
	unsigned char *payload = malloc(HOSTILE_FLOOD_FRAME);
	uint64_t rnd = 3;
	uint32_t vid, id;
	int v, i, pass;
	char *stats;

	pbt_need_fds(HOSTILE_FLOODERS + 64);
	d = pbt_start("-m", "256M", "-t", "60", (char *)NULL);
	pbt_assert(payload != NULL, "out of memory");
	pbt_fill_nonzero(payload, HOSTILE_FLOOD_FRAME, &rnd);
	v = pbt_connect_rcvbuf(d, 4096, &vid);
	while (flood.b_len < HOSTILE_FLOOD_BYTES)
		pbt_buf_frame(&flood, vid, payload, HOSTILE_FLOOD_FRAME);
	for (i = 0; i < HOSTILE_FLOODERS; i++)
		fds[i] = pbt_connect(d, &id);
	/* Each flooder sends what the sockets take, a few times round. */
	for (pass = 0; pass < 4; pass++)
		for (i = 0; i < HOSTILE_FLOODERS; i++) {
			ssize_t n;

			if (done[i] == flood.b_len)
				continue;
			n = send(fds[i], flood.b_data + done[i],
				 flood.b_len - done[i],
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				done[i] += (size_t)n;
		}
	hostile_pair_exchanges(d, 50);
	for (i = 0; i < HOSTILE_FLOODERS; i++)
		close(fds[i]);
	close(v);
	stats = pbt_stop_reconciled(d);
	free(stats);
	free(payload);
	pbt_buf_free(&flood);
	pbt_free(d);
}
END_TEST

#define HOSTILE_SLOW_BYTES (12 * 1024 * 1024)

/*
 * A client that never reads is cut as a slow consumer (-t 1) while a
 * sender's frames for it wait in the sender's waiting room, behind its
 * full outbox (-o 64K): the log line counts them with those of the outbox,
 * and they are counted as slow-consumer drops, not as "destination left".
 */
START_TEST(test_slow_consumer_counts_what_waits_for_it_everywhere)
{
	struct pbt_daemon *d = pbt_start("-o", "64K", "-t", "1", (char *)NULL);
	unsigned char *payload = malloc(HOSTILE_FLOOD_FRAME);
	size_t sent = 0, total = 0, outbox = 0, waiting = 0;
	struct pbt_buf flood = {0};
	int64_t deadline = pbt_now_ms() + 2 * PBT_IO_MS;
	const char *cut = "disconnected as slow consumer";
	char *line, *stats, *p;
	uint64_t rnd = 5;
	uint32_t fid, aid;
	int f, a;

	pbt_assert(payload != NULL, "out of memory");
	pbt_fill_nonzero(payload, HOSTILE_FLOOD_FRAME, &rnd);
	f = pbt_connect_rcvbuf(d, 4096, &fid);
	a = pbt_connect(d, &aid);
	while (flood.b_len < HOSTILE_SLOW_BYTES)
		pbt_buf_frame(&flood, fid, payload, HOSTILE_FLOOD_FRAME);
	/* A sends until the cut, or until it cannot send more. */
	while (!pbt_log_has(d, cut) && sent < flood.b_len &&
	       pbt_now_ms() < deadline) {
		struct pollfd pfd = {.fd = a, .events = POLLOUT};
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = send(a, flood.b_data + sent, flood.b_len - sent,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
	}
	pbt_log_expect(d, cut, PBT_LOG_MS);
	line = pbt_log_line(d, cut);
	p = strstr(line, "frames dropped");
	pbt_assert(p != NULL &&
			   sscanf(strstr(line, "s, ") + 3, "%zu", &total) ==
				   1 &&
			   sscanf(p,
				  "frames dropped (%zu from its outbox, %zu "
				  "from senders' waiting rooms)",
				  &outbox, &waiting) == 2,
		   "cannot read the counts of \"%s\"", line);
	pbt_assert(total == outbox + waiting && waiting > 0,
		   "expected frames waiting in A's waiting room in \"%s\"",
		   line);
	stats = pbt_stop_reconciled(d);
	pbt_assert(pbt_stat(stats, "dropped_destination_left") == 0,
		   "frames for the slow consumer counted as destination_left: "
		   "%s",
		   stats);
	pbt_assert(pbt_stat(stats, "dropped_slow_consumer") >= total,
		   "the log line said %zu, the counter says less: %s", total,
		   stats);
	free(line);
	free(stats);
	free(payload);
	pbt_buf_free(&flood);
	close(a);
	close(f);
	pbt_free(d);
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");

	pbt_add_test(s, test_departed_senders_keep_threads_bounded, 90);
	pbt_add_test(s, test_unfinished_frames_do_not_stop_others, 90);
	pbt_add_test(s, test_unfinished_frame_is_cut_after_frame_timeout, 30);
	pbt_add_test(s, test_flood_for_one_non_reader_does_not_stall_others,
		     90);
	pbt_add_test(s, test_slow_consumer_counts_what_waits_for_it_everywhere,
		     60);
	return s;
}

int main(void)
{
	return pbt_run(hostile_suite());
}
