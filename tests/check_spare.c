/* SPDX-License-Identifier: ISC */
/*
 * check_spare.c: end-to-end tests of thread reuse (--spare-threads): a
 * client thread whose client left waits for the next client, and a client
 * it then serves behaves exactly like one served by a new thread: its id,
 * the order of its frames, the limits, the counters.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPARE_WAITS "a client thread waits for the next client"

/* The daemon's thread ids, sorted, as one string ("12 13 15"). */
static void spare_tids(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	long tids[64];
	size_t n = 0, i, len = 0;
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
	dir = opendir(path);
	pbt_assert(dir != NULL, "cannot list %s", path);
	while ((e = readdir(dir)) != NULL && n < 64)
		if (e->d_name[0] != '.')
			tids[n++] = strtol(e->d_name, NULL, 10);
	closedir(dir);
	for (i = 1; i < n; i++) /* insertion sort: a handful */
		for (size_t j = i; j > 0 && tids[j - 1] > tids[j]; j--) {
			long t = tids[j];

			tids[j] = tids[j - 1];
			tids[j - 1] = t;
		}
	buf[0] = '\0';
	for (i = 0; i < n && len + 24 < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%ld",
					i ? " " : "", tids[i]);
}

/*
 * With one spare allowed, A's thread, once A has left, serves B: no thread
 * is started for B. B then gets the next id, its frames reach C in order,
 * -c still counts it, and the counters reconcile.
 */
START_TEST(test_reused_thread_serves_like_a_fresh_one)
{
	struct pbt_daemon *d = pbt_start("-v", "--spare-threads", "1", "-c",
					 "3", (char *)NULL);
	char before[512], after[512], msg[32], *stats;
	uint32_t ida, idb, idc, idd;
	int a, b, c, dd, e, i;

	a = pbt_connect(d, &ida);
	spare_tids(pbt_pid(d), before, sizeof before);
	close(a);
	pbt_log_expect(d, SPARE_WAITS, PBT_LOG_MS);
	b = pbt_connect(d, &idb);
	spare_tids(pbt_pid(d), after, sizeof after);
	pbt_assert(strcmp(before, after) == 0,
		   "B was served by a new thread: threads %s with A, %s with B",
		   before, after);
	c = pbt_connect(d, &idc);
	pbt_assert(ida == 0 && idb == 1 && idc == 2,
		   "ids %u, %u, %u: expected 0, 1, 2", ida, idb, idc);
	for (i = 0; i < 100; i++) {
		snprintf(msg, sizeof msg, "b%d", i);
		pbt_send_frame(b, idc, msg, PBT_IO_MS);
	}
	for (i = 0; i < 100; i++) {
		snprintf(msg, sizeof msg, "b%d", i);
		pbt_expect_msg(c, msg, PBT_IO_MS);
	}
	pbt_send_frame(c, idb, "back", PBT_IO_MS);
	pbt_expect_msg(b, "back", PBT_IO_MS);
	/* B, C and D fill -c 3: E is refused, B counted like any client. */
	dd = pbt_connect(d, &idd);
	e = pbt_connect_port(pbt_port(d));
	pbt_recv_end(e, PBT_IO_MS);
	pbt_log_expect(d, "refused: 3 clients connected", PBT_LOG_MS);
	close(e);
	stats = pbt_stop_reconciled(d);
	pbt_assert(pbt_stat(stats, "accepted") == 4 &&
			   pbt_stat(stats, "refused_max_clients") == 1 &&
			   pbt_stat(stats, "forwarded") == 101,
		   "expected accepted=4 refused_max_clients=1 forwarded=101: "
		   "%s",
		   stats);
	free(stats);
	close(b);
	close(c);
	close(dd);
	pbt_free(d);
}
END_TEST

/* With --spare-threads 0, no thread waits: every client gets a new one. */
START_TEST(test_no_spares_no_reuse)
{
	struct pbt_daemon *d =
		pbt_start("-v", "--spare-threads", "0", (char *)NULL);
	uint32_t id;
	int a = pbt_connect(d, &id);

	close(a);
	pbt_log_expect(d, "disconnected", PBT_LOG_MS);
	a = pbt_connect(d, &id);
	pbt_send_frame(a, id, "self", PBT_IO_MS);
	pbt_expect_msg(a, "self", PBT_IO_MS);
	close(a);
	free(pbt_stop_reconciled(d));
	pbt_assert(!pbt_log_has(d, SPARE_WAITS),
		   "a thread waited as a spare with --spare-threads 0");
	pbt_free(d);
}
END_TEST

static Suite *spare_suite(void)
{
	Suite *s = suite_create("spare");

	pbt_add_test(s, test_reused_thread_serves_like_a_fresh_one, 30);
	pbt_add_test(s, test_no_spares_no_reuse, 30);
	return s;
}

int main(void)
{
	return pbt_run(spare_suite());
}
