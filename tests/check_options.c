/* SPDX-License-Identifier: ISC */
/*
 * check_options.c: the daemon's command line. Every bad value must be
 * refused with a message naming the option (the daemon then exits 2)
 * before anything is opened, and every good one must land in the options.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "run.h"

static char err[256];

/* Parses the NULL-terminated args after the program name; getopt wants
 * writable strings, so they are copied. */
static enum pb_options_result parse(struct pb_options *op,
				    const char *const *args)
{
	static char store[32][64];
	char *argv[33];
	int argc = 0;

	strcpy(store[0], "patchbayd");
	argv[argc++] = store[0];
	for (; *args != NULL && argc < 32; args++, argc++) {
		snprintf(store[argc], sizeof(store[argc]), "%s", *args);
		argv[argc] = store[argc];
	}
	argv[argc] = NULL;
	pb_options_defaults(op);
	err[0] = '\0';
	return pb_options_parse(op, argc, argv, err, sizeof(err));
}

START_TEST(test_defaults)
{
	struct pb_options op;
	const char *args[] = {NULL};

	ck_assert_int_eq(parse(&op, args), PB_OPTIONS_RUN);
	ck_assert_str_eq(op.op_listen, "127.0.0.1:8080");
	ck_assert_uint_eq(op.op_max_clients, 10000);
	ck_assert_uint_eq(op.op_max_frame, 65536);
	ck_assert_uint_eq(op.op_outbox, 1 << 20);
	ck_assert_uint_eq(op.op_park, 1 << 20);
	ck_assert_uint_eq(op.op_slow_ms, 10000);
	ck_assert_uint_eq(op.op_stack, 64 * 1024);
	ck_assert(!op.op_daemon);
}
END_TEST

START_TEST(test_long_and_short_forms)
{
	struct pb_options op;
	const char *args[] = {
		"--listen", "[::1]:0", "-c",	    "7",  "--max-frame", "1K",
		"-o",	    "2M",      "--park=3M", "-t", "0.5",	 "-s",
		"128",	    "-vv",     "-d",	    "-P", "/tmp/pid",	 NULL};

	ck_assert_int_eq(parse(&op, args), PB_OPTIONS_RUN);
	ck_assert_str_eq(op.op_listen, "[::1]:0");
	ck_assert_uint_eq(op.op_max_clients, 7);
	ck_assert_uint_eq(op.op_max_frame, 1024);
	ck_assert_uint_eq(op.op_outbox, 2u << 20);
	ck_assert_uint_eq(op.op_park, 3u << 20);
	ck_assert_uint_eq(op.op_slow_ms, 500);
	ck_assert_uint_eq(op.op_stack, 128 * 1024);
	ck_assert(op.op_daemon);
	ck_assert_str_eq(op.op_pidfile, "/tmp/pid");
}
END_TEST

START_TEST(test_given_says_which_options_were_given)
{
	struct pb_options op;
	const char *args[] = {"-d", "--stack-size", "64", "-v", NULL};
	const char *none[] = {NULL};

	ck_assert_int_eq(parse(&op, args), PB_OPTIONS_RUN);
	ck_assert(pb_options_given(&op, "daemon"));
	ck_assert(
		pb_options_given(&op, "stack-size")); /* even at its default */
	ck_assert(pb_options_given(&op, "verbose"));
	ck_assert(!pb_options_given(&op, "pidfile"));
	ck_assert(!pb_options_given(&op, "listen"));
	ck_assert(!pb_options_given(&op, "no-such-option"));
	ck_assert_int_eq(parse(&op, none), PB_OPTIONS_RUN);
	ck_assert(!pb_options_given(&op, "daemon"));
}
END_TEST

START_TEST(test_sizes)
{
	size_t v;

	ck_assert_int_eq(pb_options_size("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(pb_options_size("64k", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(pb_options_size("1G", &v), 0);
	ck_assert_uint_eq(v, 1u << 30);
	ck_assert_int_eq(pb_options_size("", &v), -1);
	ck_assert_int_eq(pb_options_size("-1", &v), -1);
	ck_assert_int_eq(pb_options_size("12KB", &v), -1);
	ck_assert_int_eq(pb_options_size("1X", &v), -1);
	ck_assert_int_eq(pb_options_size("99999999999999999999", &v), -1);
	ck_assert_int_eq(pb_options_size("18014398509481984K", &v), -1);
}
END_TEST

/* Each bad command line is refused, with a message naming the culprit. */
static const struct {
	const char *arg, *value, *says;
} bad[] = {
	{"--bogus", NULL, "--bogus"},
	{"-x", NULL, "-x"},
	{"--max-clients", "0", "--max-clients"},
	{"--max-clients", "ten", "--max-clients"},
	{"--max-frame", "0", "--max-frame"},
	{"--outbox", "100", "--outbox"},
	{"--park", "100", "--park"},
	{"--slow-timeout", "0", "--slow-timeout"},
	{"--slow-timeout", "-1", "--slow-timeout"},
	{"--slow-timeout", "nan", "--slow-timeout"},
	{"--stack-size", "8", "--stack-size"},
	{"--stack-size", "16", "--stack-size"},
	{"--stack-size", "1G", "--stack-size"},
	{"--slow-timeout", "1e-300", "--slow-timeout"},
	{"--listen", "nonsense", "--listen"},
	{"--listen", "localhost:8080", "--listen"},
	{"--listen", "127.0.0.1:99999", "--listen"},
	{"--metrics", "127.0.0.1", "--metrics"},
	{"--max-memory", "0", "--max-memory"},
	{"--listen", NULL, "--listen"},
	{"stray", NULL, "stray"},
};

START_TEST(test_bad_usage)
{
	struct pb_options op;
	const char *args[] = {bad[_i].arg, bad[_i].value, NULL};

	ck_assert_int_eq(parse(&op, args), PB_OPTIONS_USAGE);
	ck_assert_msg(strstr(err, bad[_i].says) != NULL,
		      "'%s' does not name %s", err, bad[_i].says);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

static Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_long_and_short_forms);
	tcase_add_test(tc, test_given_says_which_options_were_given);
	tcase_add_test(tc, test_sizes);
	tcase_add_loop_test(tc, test_bad_usage, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(options_suite());
}
