/* SPDX-License-Identifier: ISC */
/*
 * check_options.c: the servers' command line and options. Every bad
 * value must be refused with a message naming the option (the server then
 * exits 2) before anything is opened, and every good one must land in the
 * options; an option a server does not take is refused by that server,
 * from the command line or the file, and a reload sees a change to any
 * option that cannot change while running.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "run.h"

static char err[256];

/* Parses the NULL-terminated args after the program name for server;
 * getopt wants writable strings, so they are copied. */
static enum pb_options_result
parse_for(struct pb_options *op, enum pb_server server, const char *const *args)
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
	return pb_options_parse(op, server, argc, argv, err, sizeof(err));
}

static enum pb_options_result parse(struct pb_options *op,
				    const char *const *args)
{
	return parse_for(op, PB_SERVER_DAEMON, args);
}

START_TEST(test_defaults)
{
	struct pb_options op;
	const char *args[] = {NULL};

	ck_assert_int_eq(parse(&op, args), PB_OPTIONS_RUN);
	ck_assert_uint_eq(op.op_nlisten, 1);
	ck_assert_str_eq(op.op_listen[0], "127.0.0.1:8080");
	ck_assert_uint_eq(op.op_unix_mode, 0660);
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
	ck_assert_uint_eq(op.op_nlisten, 1);
	ck_assert_str_eq(op.op_listen[0], "[::1]:0");
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

/* --listen adds a listener each time it is given; the file's are
 * replaced by the command line's, the default by either. */
START_TEST(test_listen_repeats_and_sources_replace)
{
	struct pb_options op;
	const char *args[] = {"-l",
			      "127.0.0.1:1",
			      "--listen",
			      "unix:/run/pb.sock",
			      "--listen=tcp:[::1]:2",
			      "--unix-mode",
			      "0600",
			      NULL};
	const char *why;

	ck_assert_int_eq(parse(&op, args), PB_OPTIONS_RUN);
	ck_assert_uint_eq(op.op_nlisten, 3);
	ck_assert_str_eq(op.op_listen[0], "127.0.0.1:1");
	ck_assert_str_eq(op.op_listen[1], "unix:/run/pb.sock");
	ck_assert_str_eq(op.op_listen[2], "tcp:[::1]:2");
	ck_assert_uint_eq(op.op_unix_mode, 0600);

	pb_options_defaults(&op);
	ck_assert_int_eq(pb_options_set(&op, PB_SERVER_DAEMON, "listen",
					"127.0.0.1:3", 1, &why),
			 0);
	ck_assert_int_eq(pb_options_set(&op, PB_SERVER_DAEMON, "listen",
					"127.0.0.1:4", 2, &why),
			 0);
	ck_assert_uint_eq(op.op_nlisten, 2);
	ck_assert_str_eq(op.op_listen[0], "127.0.0.1:3");
	ck_assert_str_eq(op.op_listen[1], "127.0.0.1:4");
}
END_TEST

/* More than eight listeners are refused. */
START_TEST(test_listen_at_most_eight)
{
	struct pb_options op;
	const char *args[] = {"-l", "127.0.0.1:1", "-l", "127.0.0.1:2",
			      "-l", "127.0.0.1:3", "-l", "127.0.0.1:4",
			      "-l", "127.0.0.1:5", "-l", "127.0.0.1:6",
			      "-l", "127.0.0.1:7", "-l", "127.0.0.1:8",
			      "-l", "127.0.0.1:9", NULL};

	ck_assert_int_eq(parse(&op, args), PB_OPTIONS_USAGE);
	ck_assert_ptr_nonnull(strstr(err, "--listen"));
	ck_assert_ptr_nonnull(strstr(err, "at most 8"));
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
	{"--listen", "tls:nonsense", "--listen"},
	{"--tls-client-auth", "maybe", "--tls-client-auth"},
	{"--tls-min-version", "1.1", "--tls-min-version"},
	{"--tls-handshake-timeout", "0", "--tls-handshake-timeout"},
	{"--listen", "unix:relative", "--listen"},
	{"--listen", "udp:1.2.3.4:5", "--listen"},
	{"--unix-mode", "0999", "--unix-mode"},
	{"--unix-mode", "01000", "--unix-mode"},
	{"--unix-group", "no-such-group-here", "--unix-group"},
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

/* The options only patchbayd takes, as the reactor refuses them. */
static const struct {
	const char *arg, *value, *says;
} daemon_only[] = {
	{"-d", NULL, "--daemon: not supported by the reactor (patchbayd only)"},
	{"--pidfile", "/tmp/pid",
	 "--pidfile: not supported by the reactor (patchbayd only)"},
	{"-s", "64",
	 "--stack-size: not supported by the reactor (patchbayd only)"},
	{"--metrics", "127.0.0.1:0",
	 "--metrics: not supported by the reactor (patchbayd only)"},
	{"--spare-threads", "4",
	 "--spare-threads: not supported by the reactor (patchbayd only)"},
};

START_TEST(test_reactor_refuses_daemon_only_options)
{
	struct pb_options op;
	const char *args[] = {daemon_only[_i].arg, daemon_only[_i].value, NULL};

	ck_assert_int_eq(parse_for(&op, PB_SERVER_REACTOR, args),
			 PB_OPTIONS_USAGE);
	ck_assert_str_eq(err, daemon_only[_i].says);
	/* patchbayd takes it. */
	ck_assert_int_eq(parse(&op, args), PB_OPTIONS_RUN);
}
END_TEST

START_TEST(test_reactor_takes_the_shared_options)
{
	struct pb_options op;
	const char *args[] = {
		"-l", "127.0.0.1:0", "-c", "7",	 "-f",
		"1K", "-o",	     "2M", "-p", "3M",
		"-m", "1G",	     "-t", "2",	 "--frame-timeout",
		"3",  "-v",	     NULL};

	ck_assert_int_eq(parse_for(&op, PB_SERVER_REACTOR, args),
			 PB_OPTIONS_RUN);
	ck_assert_uint_eq(op.op_max_clients, 7);
	ck_assert_uint_eq(op.op_frame_ms, 3000);
}
END_TEST

START_TEST(test_file_option_refused_by_the_server_that_lacks_it)
{
	struct pb_options op;
	const char *why = NULL;

	pb_options_defaults(&op);
	ck_assert_int_eq(pb_options_set(&op, PB_SERVER_REACTOR, "metrics",
					"127.0.0.1:0", 3, &why),
			 -2);
	ck_assert_str_eq(why, "not supported by the reactor (patchbayd only)");
	ck_assert_str_eq(op.op_metrics, "");
	ck_assert_int_eq(pb_options_set(&op, PB_SERVER_DAEMON, "metrics",
					"127.0.0.1:0", 3, &why),
			 0);
	ck_assert_str_eq(op.op_metrics, "127.0.0.1:0");
	ck_assert_int_eq(pb_options_set(&op, PB_SERVER_REACTOR, "listen",
					"127.0.0.1:0", 4, &why),
			 0);
	/* Unknown to all: no reason, as before. */
	ck_assert_int_eq(
		pb_options_set(&op, PB_SERVER_REACTOR, "bogus", "1", 5, &why),
		-1);
	ck_assert_ptr_null(why);
}
END_TEST

/* What --check-config writes for server, in buf. */
static void write_for(const struct pb_options *op, enum pb_server server,
		      char *buf, size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");

	ck_assert_ptr_nonnull(f);
	pb_options_write(op, server, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_write_gives_only_the_servers_options)
{
	static char buf[4096];
	struct pb_options op;

	pb_options_defaults(&op);
	write_for(&op, PB_SERVER_DAEMON, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "\ndaemon = no\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nmetrics = \n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nstack-size = 64\n"));
	write_for(&op, PB_SERVER_REACTOR, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "listen = 127.0.0.1:8080\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nmax-clients = 10000\n"));
	ck_assert_ptr_null(strstr(buf, "daemon"));
	ck_assert_ptr_null(strstr(buf, "metrics"));
	ck_assert_ptr_null(strstr(buf, "pidfile"));
	ck_assert_ptr_null(strstr(buf, "stack-size"));
	ck_assert_ptr_null(strstr(buf, "spare-threads"));
}
END_TEST

/* Every option of the file and a value other than its default; fixed:
 * whether a running daemon must refuse a reload that changes it. */
static const struct {
	const char *name, *value;
	bool fixed;
} changes[] = {
	{"listen", "127.0.0.1:9", true},
	{"metrics", "127.0.0.1:9", true},
	{"max-clients", "5", false},
	{"max-frame", "1K", true},
	{"outbox", "2M", false},
	{"park", "2M", false},
	{"max-memory", "2G", false},
	{"slow-timeout", "3", false},
	{"frame-timeout", "4", false},
	{"stack-size", "128", true},
	{"spare-threads", "5", false},
	{"daemon", "yes", true},
	{"pidfile", "/tmp/pid", true},
	{"verbose", "2", false},
	{"quiet", "yes", false},
	{"node-bits", "4", true},
	{"node", "1", true},
	{"state-dir", "/tmp", true},
	{"unix-mode", "0600", true},
	{"unix-group", "0", true},
};

START_TEST(test_fixed_change_compares_each_kind)
{
	struct pb_options a, b;
	const char *why, *got;

	pb_options_defaults(&a);
	pb_options_defaults(&b);
	ck_assert_int_eq(pb_options_set(&b, PB_SERVER_DAEMON, changes[_i].name,
					changes[_i].value, 1, &why),
			 0);
	got = pb_options_fixed_change(&a, &b);
	if (changes[_i].fixed) {
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, changes[_i].name);
	} else {
		ck_assert_ptr_null(got);
	}
}
END_TEST

START_TEST(test_fixed_change_ignores_what_is_not_a_value)
{
	struct pb_options a, b;

	pb_options_defaults(&a);
	pb_options_defaults(&b);
	/* Where options were given differs between reloads; the values
	 * alone count. */
	b.op_given = ~0ul;
	b.op_line[0] = 7;
	ck_assert_ptr_null(pb_options_fixed_change(&a, &b));
	/* Bytes past the end of a string are not its value. */
	b.op_listen[0][sizeof(b.op_listen[0]) - 1] = 'x';
	b.op_listen[1][0] = 'x'; /* past op_nlisten */
	ck_assert_ptr_null(pb_options_fixed_change(&a, &b));
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
	tcase_add_test(tc, test_listen_repeats_and_sources_replace);
	tcase_add_test(tc, test_listen_at_most_eight);
	tcase_add_loop_test(tc, test_bad_usage, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("servers");
	tcase_add_loop_test(
		tc, test_reactor_refuses_daemon_only_options, 0,
		(int)(sizeof(daemon_only) / sizeof(daemon_only[0])));
	tcase_add_test(tc, test_reactor_takes_the_shared_options);
	tcase_add_test(tc,
		       test_file_option_refused_by_the_server_that_lacks_it);
	tcase_add_test(tc, test_write_gives_only_the_servers_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_loop_test(tc, test_fixed_change_compares_each_kind, 0,
			    (int)(sizeof(changes) / sizeof(changes[0])));
	tcase_add_test(tc, test_fixed_change_ignores_what_is_not_a_value);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(options_suite());
}
