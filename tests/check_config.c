/* SPDX-License-Identifier: ISC */
/*
 * check_config.c: end-to-end tests of the configuration file: what
 * --check-config prints, how a bad file is reported (file, line, option,
 * exit 2), and SIGHUP reloads of a changed, an invalid, a refused and an
 * unchanged file while two clients exchange messages, none of which may be
 * lost. Each test starts its own patchbayd ($PATCHBAYD) through harness.c.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A configuration file of the test's, removed by the harness's teardown
 * of the test process (or by the test). */
struct conf_file {
	char cf_path[64];
};

static void conf_write(struct conf_file *cf, const char *text)
{
	char tmp[80];
	FILE *f;

	if (cf->cf_path[0] == '\0') {
		int fd;

		snprintf(cf->cf_path, sizeof cf->cf_path,
			 "/tmp/pbt-conf-XXXXXX");
		fd = mkstemp(cf->cf_path);
		pbt_assert(fd >= 0, "mkstemp failed");
		close(fd);
	}
	/* Replaced whole by a rename, as an editor or a package does. */
	snprintf(tmp, sizeof tmp, "%s.new", cf->cf_path);
	f = fopen(tmp, "w");
	pbt_assert(f != NULL, "cannot write %s", tmp);
	fputs(text, f);
	pbt_assert(fclose(f) == 0 && rename(tmp, cf->cf_path) == 0,
		   "cannot write %s", cf->cf_path);
}

static void conf_remove(struct conf_file *cf)
{
	unlink(cf->cf_path);
}

/* Runs patchbayd with args to its exit; its status, stdout and stderr. */
static int conf_run(const char *const *args, char **out, char **err)
{
	struct pbt_daemon *d = pbt_start_argv(args);
	int st = pbt_wait_exit(d, PBT_EXIT_MS);

	pbt_assert(st != -1, "patchbayd is still running after %d ms",
		   PBT_EXIT_MS);
	*out = pbt_stdout_copy(d);
	*err = pbt_log_copy(d);
	pbt_free(d);
	return st;
}

/* Exit status 2 and exactly "patchbayd: FILE" then 'after' on stderr. */
static void conf_expect_error(const char *text, const char *after)
{
	struct conf_file cf = {{0}};
	char want[256];
	char *out, *err;
	const char *args[] = {"--config", NULL, "--check-config", NULL};
	int st;

	conf_write(&cf, text);
	args[1] = cf.cf_path;
	snprintf(want, sizeof want, "patchbayd: %s%s", cf.cf_path, after);
	st = conf_run(args, &out, &err);
	conf_remove(&cf);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2,
		   "expected exit status 2 for \"%s\"", text);
	pbt_assert(strcmp(err, want) == 0,
		   "expected on stderr \"%s\", got \"%s\"", want, err);
	pbt_assert(out[0] == '\0', "expected nothing on stdout, got \"%s\"",
		   out);
	free(out);
	free(err);
}

START_TEST(test_check_config_prints_the_effective_configuration)
{
	/* The file, with comments and blanks, then the command line on top
	 * (-c 7 wins over the file's 500). */
	static const char text[] = "# a comment\n"
				   "\n"
				   "  max-clients = 500   # trailing comment\n"
				   "slow-timeout=2.5\n"
				   "outbox = 2M\n"
				   "verbose = 1\n"
				   "metrics =\n";
	struct conf_file cf = {{0}};
	const char *args[] = {"--config", NULL, "-c", "7", "-n", NULL};
	char *out, *err;
	int st;

	conf_write(&cf, text);
	args[1] = cf.cf_path;
	st = conf_run(args, &out, &err);
	conf_remove(&cf);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "--check-config: expected exit status 0; stderr \"%s\"",
		   err);
	pbt_assert(strcmp(out, "listen = 127.0.0.1:8080\n"
			       "unix-mode = 0660\n"
			       "unix-group = \n"
			       "metrics = \n"
			       "max-clients = 7\n"
			       "max-clients-per-address = 0\n"
			       "max-handshakes = 256\n"
			       "tls-cert = \n"
			       "tls-key = \n"
			       "tls-ca = \n"
			       "tls-crl = \n"
			       "tls-client-auth = require\n"
			       "tls-allow = \n"
			       "tls-min-version = 1.2\n"
			       "tls-ciphers = \n"
			       "tls-ciphersuites = \n"
			       "tls-handshake-timeout = 10\n"
			       "max-frame = 64K\n"
			       "outbox = 2M\n"
			       "park = 1M\n"
			       "max-memory = 1G\n"
			       "slow-timeout = 2.5\n"
			       "frame-timeout = 30\n"
			       "stack-size = 64\n"
			       "spare-threads = 64\n"
			       "node-bits = 0\n"
			       "node = 0\n"
			       "state-dir = \n"
			       "nats = \n"
			       "nats-creds = \n"
			       "nats-ca = \n"
			       "nats-cert = \n"
			       "nats-key = \n"
			       "cluster = patchbay\n"
			       "link-timeout = 10\n"
			       "daemon = no\n"
			       "pidfile = \n"
			       "verbose = 1\n"
			       "quiet = no\n") == 0,
		   "--check-config printed \"%s\"", out);
	pbt_assert(err[0] == '\0', "expected nothing on stderr, got \"%s\"",
		   err);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_bad_value_names_file_line_and_option)
{
	conf_expect_error("listen = 127.0.0.1:0\n\nmax-clients = lots\n",
			  ":3: max-clients: not a number: "
			  "'lots'\n");
	conf_expect_error("slow-timeout = soon\n",
			  ":1: slow-timeout: not a duration in "
			  "seconds (0.001 to a year): 'soon'\n");
	conf_expect_error("daemon = perhaps\n", ":1: daemon: not yes or no: "
						"'perhaps'\n");
}
END_TEST

START_TEST(test_unknown_or_malformed_line_names_file_and_line)
{
	conf_expect_error("# fine\ncolour = blue\n",
			  ":2: colour: unknown option\n");
	conf_expect_error("config = /etc/other.conf\n",
			  ":1: config: unknown option\n");
	conf_expect_error("max-clients 500\n",
			  ":1: expected 'name = value', got "
			  "'max-clients 500'\n");
}
END_TEST

START_TEST(test_values_that_disagree_name_the_line)
{
	conf_expect_error("max-frame = 128K\noutbox = 64K\n",
			  ":2: outbox must be at least "
			  "--max-frame\n");
}
END_TEST

START_TEST(test_missing_config_file_exits_2)
{
	static const char *const args[] = {
		"--config", "/nonexistent/patchbayd.conf", "-n", NULL};
	char *out, *err;
	int st = conf_run(args, &out, &err);

	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2,
		   "expected exit status 2");
	pbt_assert(strcmp(err, "patchbayd: cannot read "
			       "/nonexistent/patchbayd.conf: No such file or "
			       "directory\n") == 0,
		   "stderr is \"%s\"", err);
	free(out);
	free(err);
}
END_TEST

/* Traffic that runs while the test reloads: a and b exchange numbered
 * messages both ways, every one checked. */
struct conf_traffic {
	struct pbt_stream ct_s[2];
	struct pbt_buf ct_out[2];
	struct pbt_buf ct_want[2];
};

static void conf_traffic_init(struct conf_traffic *t, int a, uint32_t ida,
			      int b, uint32_t idb)
{
	enum { MSGS = 300000 };

	memset(t, 0, sizeof(*t));
	for (int i = 0; i < MSGS; i++) {
		char m[64];
		int n = snprintf(m, sizeof m, "message %d", i);

		pbt_buf_frame(&t->ct_out[0], idb, m, (size_t)n);
		pbt_buf_add(&t->ct_want[1], m, (size_t)n + 1);
		pbt_buf_frame(&t->ct_out[1], ida, m, (size_t)n);
		pbt_buf_add(&t->ct_want[0], m, (size_t)n + 1);
	}
	for (int k = 0; k < 2; k++) {
		t->ct_s[k].s_fd = k == 0 ? a : b;
		t->ct_s[k].s_out = t->ct_out[k].b_data;
		t->ct_s[k].s_out_len = t->ct_out[k].b_len;
		t->ct_s[k].s_in = malloc(t->ct_want[k].b_len);
		t->ct_s[k].s_in_len = t->ct_want[k].b_len;
		ck_assert_ptr_nonnull(t->ct_s[k].s_in);
	}
}

static void *conf_traffic_run(void *arg)
{
	struct conf_traffic *t = arg;

	pbt_pump(t->ct_s, 2, 60000);
	return NULL;
}

/* Sends SIGHUP and waits for the n-th occurrence of a log line. */
static void conf_hup(struct pbt_daemon *d, const char *needle)
{
	size_t before = pbt_log_count(d, needle);

	pbt_assert(kill(pbt_pid(d), SIGHUP) == 0, "kill SIGHUP");
	pbt_assert(pbt_log_wait_count(d, needle, before + 1, PBT_LOG_MS),
		   "no log line \"%s\" after SIGHUP", needle);
}

START_TEST(test_reload_under_traffic_applies_changed_keeps_bad_loses_nothing)
{
	struct conf_file cf = {{0}};
	struct conf_traffic t;
	struct pbt_daemon *d;
	pthread_t pump;
	char line[512];
	uint32_t ida, idb, idc;
	int a, b, c, st;

	conf_write(&cf, "max-clients = 100\nslow-timeout = 10\n");
	d = pbt_start("--config", cf.cf_path, (char *)NULL);
	a = pbt_connect(d, &ida);
	b = pbt_connect(d, &idb);
	conf_traffic_init(&t, a, ida, b, idb);
	pbt_assert(pthread_create(&pump, NULL, conf_traffic_run, &t) == 0,
		   "pthread_create");

	/* Changed: applied at once, and said so. */
	conf_write(&cf, "max-clients = 2\nslow-timeout = 2.5\n");
	snprintf(line, sizeof line,
		 "reloaded %s: max-clients 100 -> 2, slow-timeout (ms) 10000 "
		 "-> 2500",
		 cf.cf_path);
	conf_hup(d, line);
	/* Invalid: the running configuration stays. */
	conf_write(&cf, "max-clients = 2\nmax-clients = lots\n");
	snprintf(line, sizeof line,
		 "reload failed, configuration kept: %s:2: max-clients: not a "
		 "number: 'lots'",
		 cf.cf_path);
	conf_hup(d, line);
	/* Not reloadable: the whole reload is refused. */
	conf_write(&cf, "max-clients = 50\nstack-size = 128\n");
	snprintf(line, sizeof line,
		 "reload of %s refused, configuration kept: stack-size cannot "
		 "change while running",
		 cf.cf_path);
	conf_hup(d, line);
	/* Unchanged: nothing to do. */
	conf_write(&cf, "max-clients = 2\nslow-timeout = 2.5\n");
	snprintf(line, sizeof line, "reloaded %s: nothing changed", cf.cf_path);
	conf_hup(d, line);

	pbt_assert(pthread_join(pump, NULL) == 0, "pthread_join");
	for (int k = 0; k < 2; k++)
		pbt_assert(memcmp(t.ct_s[k].s_in, t.ct_want[k].b_data,
				  t.ct_want[k].b_len) == 0,
			   "client %d did not receive every message in order",
			   k);
	pbt_assert(!pbt_log_has(d, " disconnected"),
		   "a client was disconnected by a reload");

	/* max-clients 2 is in force (the refused reload said 50): a third
	 * client is turned away, the two connected stay. */
	c = pbt_connect_port(pbt_port(d));
	pbt_log_expect(d, "refused: 2 clients connected", PBT_LOG_MS);
	close(c);
	(void)idc;
	pbt_send_frame(a, idb, "still here", PBT_IO_MS);
	pbt_expect_msg(b, "still here", PBT_IO_MS);
	st = pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status");
	for (int k = 0; k < 2; k++) {
		free(t.ct_s[k].s_in);
		pbt_buf_free(&t.ct_out[k]);
		pbt_buf_free(&t.ct_want[k]);
	}
	close(a);
	close(b);
	conf_remove(&cf);
	pbt_free(d);
}
END_TEST

START_TEST(test_sighup_without_config_reloads_nothing)
{
	struct pbt_daemon *d = pbt_start(NULL);
	uint32_t ida, idb;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);

	conf_hup(d, "SIGHUP received: no --config, nothing to reload");
	pbt_send_frame(a, idb, "after SIGHUP", PBT_IO_MS);
	pbt_expect_msg(b, "after SIGHUP", PBT_IO_MS);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");

	pbt_add_test(s, test_check_config_prints_the_effective_configuration,
		     30);
	pbt_add_test(s, test_bad_value_names_file_line_and_option, 30);
	pbt_add_test(s, test_unknown_or_malformed_line_names_file_and_line, 30);
	pbt_add_test(s, test_values_that_disagree_name_the_line, 30);
	pbt_add_test(s, test_missing_config_file_exits_2, 30);
	pbt_add_test(
		s,
		test_reload_under_traffic_applies_changed_keeps_bad_loses_nothing,
		90);
	pbt_add_test(s, test_sighup_without_config_reloads_nothing, 30);
	return s;
}

int main(void)
{
	return pbt_run(config_suite());
}
