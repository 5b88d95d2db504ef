/* SPDX-License-Identifier: ISC */
/*
 * check_ids.c: end-to-end tests of the id space: --node-bits and --node
 * put the node's number in the top bits of every id, and --state-dir keeps
 * ids from being given twice across restarts (a restart goes on above
 * every id it gave, skipping at most one block), stops the start when its
 * file is not an id state or cannot be written, and refuses a connection,
 * counted, rather than give an id whose mark it could not save.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh state directory, made for the test. */
static void ids_state_dir(char *dir, size_t cap)
{
	snprintf(dir, cap, "/tmp/pb-ids.XXXXXX");
	pbt_assert(mkdtemp(dir) != NULL, "mkdtemp failed");
}

static void ids_remove_dir(const char *dir)
{
	char path[256];

	snprintf(path, sizeof path, "%s/ids", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/ids.tmp", dir);
	unlink(path);
	rmdir(dir);
}

/* The mark in dir/ids. */
static unsigned long long ids_mark(const char *dir)
{
	unsigned long long mark = 0;
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/ids", dir);
	f = fopen(path, "r");
	pbt_assert(f != NULL, "%s is missing", path);
	pbt_assert(fscanf(f, "patchbay-ids 1 %llu", &mark) == 1,
		   "%s is not 'patchbay-ids 1 N'", path);
	fclose(f);
	return mark;
}

/* The id a new client gets, the client closed at once. */
static uint32_t ids_one(struct pbt_daemon *d)
{
	uint32_t id;
	int fd = pbt_connect(d, &id);

	close(fd);
	return id;
}

START_TEST(test_node_bits_put_the_node_in_every_id)
{
	struct pbt_daemon *d =
		pbt_start("--node-bits", "4", "--node", "11", (char *)NULL);
	uint32_t a = ids_one(d), b = ids_one(d);

	ck_assert_uint_eq(a, 11u << 28);
	ck_assert_uint_eq(b, (11u << 28) | 1);
	free(pbt_stop_reconciled(d));
	pbt_free(d);
}
END_TEST

/* Without --node-bits, ids are today's: 0, 1, 2... */
START_TEST(test_no_node_bits_counts_from_zero)
{
	struct pbt_daemon *d = pbt_start((char *)NULL);

	ck_assert_uint_eq(ids_one(d), 0);
	ck_assert_uint_eq(ids_one(d), 1);
	free(pbt_stop_reconciled(d));
	pbt_free(d);
}
END_TEST

/*
 * A daemon restarted with its state directory gives ids above all it gave
 * before: the first run saved a mark above its ids before giving any, and
 * the second starts at that mark (here --node-bits 16: blocks of 256).
 */
START_TEST(test_restart_goes_on_above_old_ids)
{
	char dir[64];
	struct pbt_daemon *d;
	unsigned long long mark;
	uint32_t id = 0;
	int i;

	ids_state_dir(dir, sizeof dir);
	d = pbt_start("--state-dir", dir, "--node-bits", "16", "--node", "2",
		      (char *)NULL);
	for (i = 0; i < 300; i++) /* past the first block */
		id = ids_one(d);
	ck_assert_uint_eq(id, (2u << 16) | 299);
	mark = ids_mark(dir);
	pbt_assert(mark > 299, "mark %llu is not above the ids given", mark);
	free(pbt_stop_reconciled(d));
	pbt_free(d);

	d = pbt_start("--state-dir", dir, "--node-bits", "16", "--node", "2",
		      (char *)NULL);
	id = ids_one(d);
	ck_assert_uint_eq(id, (2u << 16) | (uint32_t)mark);
	pbt_assert(ids_mark(dir) > mark, "the restart saved no new mark");
	free(pbt_stop_reconciled(d));
	pbt_free(d);
	ids_remove_dir(dir);
}
END_TEST

/* A file that is not an id state stops the start, naming the file. */
START_TEST(test_bad_state_file_stops_the_start)
{
	char dir[64], path[128], *log;
	struct pbt_daemon *d;
	FILE *f;
	int st;

	ids_state_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/ids", dir);
	f = fopen(path, "w");
	pbt_assert(f != NULL, "cannot write %s", path);
	fputs("patchbay-ids 1 12x\n", f);
	fclose(f);
	d = pbt_start_argv((const char *const[]){"-l", "127.0.0.1:0",
						 "--state-dir", dir, NULL});
	st = pbt_wait_exit(d, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		   "wait status %d, not exit 1", st);
	log = pbt_log_copy(d);
	pbt_assert(strstr(log, path) != NULL &&
			   strstr(log, "not an id state") != NULL,
		   "no line names %s: %s", path, log);
	pbt_assert(strstr(log, "listening on") == NULL,
		   "it listened before checking its state: %s", log);
	free(log);
	pbt_free(d);
	ids_remove_dir(dir);
}
END_TEST

/* A state directory that cannot be written stops the start too. */
START_TEST(test_missing_state_dir_stops_the_start)
{
	struct pbt_daemon *d = pbt_start_argv((const char *const[]){
		"-l", "127.0.0.1:0", "--state-dir", "/nonexistent/pb", NULL});
	char *log;
	int st;

	st = pbt_wait_exit(d, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		   "wait status %d, not exit 1", st);
	log = pbt_log_copy(d);
	pbt_assert(strstr(log, "/nonexistent/pb/ids") != NULL,
		   "no line names the state file: %s", log);
	free(log);
	pbt_free(d);
}
END_TEST

/*
 * When the next block's mark cannot be saved (the directory is gone), the
 * connection is refused and counted, not given an id that a restart could
 * give again; once the directory is back, clients get ids again.
 */
START_TEST(test_unsaved_mark_refuses_the_connection)
{
	char dir[64], *stats;
	struct pbt_daemon *d;
	uint32_t id;
	int i, fd;

	ids_state_dir(dir, sizeof dir);
	d = pbt_start("--state-dir", dir, "--node-bits", "16", (char *)NULL);
	ids_remove_dir(dir);
	for (i = 0; i < 256; i++) /* the first block, saved at start */
		ck_assert_uint_eq(ids_one(d), (uint32_t)i);
	fd = pbt_connect_port(pbt_port(d));
	pbt_assert(pbt_recv_end(fd, PBT_IO_MS) == PBT_END_EOF,
		   "the connection got an id with no mark saved");
	close(fd);
	pbt_log_expect(d, "cannot save the id state", PBT_LOG_MS);
	pbt_assert(mkdir(dir, 0700) == 0, "cannot make %s again", dir);
	fd = pbt_connect(d, &id);
	close(fd);
	pbt_assert(ids_mark(dir) > id, "no mark above id %u", id);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "refused_id_state"), 1);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 257);
	free(stats);
	pbt_free(d);
	ids_remove_dir(dir);
}
END_TEST

static Suite *ids_suite(void)
{
	Suite *s = suite_create("ids");

	pbt_add_test(s, test_node_bits_put_the_node_in_every_id, 30);
	pbt_add_test(s, test_no_node_bits_counts_from_zero, 30);
	pbt_add_test(s, test_restart_goes_on_above_old_ids, 60);
	pbt_add_test(s, test_bad_state_file_stops_the_start, 30);
	pbt_add_test(s, test_missing_state_dir_stops_the_start, 30);
	pbt_add_test(s, test_unsaved_mark_refuses_the_connection, 60);
	return s;
}

int main(void)
{
	return pbt_run(ids_suite());
}
