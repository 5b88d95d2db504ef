/* SPDX-License-Identifier: ISC */
/*
 * check_exposition.c: the text of the metrics (exposition.h), without
 * sockets.
 *
 * Prometheus and its linter read it by rules this checks line by line:
 * each family has one HELP and one TYPE line before its samples, which
 * follow together; a counter's name ends in _total. Then what the lines
 * say: every label value is there at 0 on a fresh process, each counter
 * moves by exactly what pb_stats_add added to its own counter of stat.h,
 * the gauges show the registry's values, and the process_* families count
 * what this process holds.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "exposition.h"
#include "options.h"
#include "registry.h"
#include "run.h"
#include "stats.h"

/* The sample each counter of stat.h must be: what operators' dashboards
 * will query, spelled out here rather than taken from the code. */
static const struct expo_want {
	enum pb_stat ew_stat;
	const char *ew_sample;
} expo_want[] = {
	{PB_STAT_ACCEPTED, "patchbay_connections_accepted_total"},
	{PB_STAT_REFUSED_MAX,
	 "patchbay_connections_refused_total{reason=\"max_clients\"}"},
	{PB_STAT_REFUSED_THREAD,
	 "patchbay_connections_refused_total{reason=\"no_thread\"}"},
	{PB_STAT_REFUSED_NOMEM,
	 "patchbay_connections_refused_total{reason=\"no_memory\"}"},
	{PB_STAT_REFUSED_GONE,
	 "patchbay_connections_refused_total{reason=\"gone_before_id\"}"},
	{PB_STAT_REFUSED_STATE,
	 "patchbay_connections_refused_total{reason=\"id_state\"}"},
	{PB_STAT_REFUSED_PER_ADDRESS,
	 "patchbay_connections_refused_total{reason=\"per_address\"}"},
	{PB_STAT_REFUSED_HANDSHAKES,
	 "patchbay_connections_refused_total{reason=\"handshakes\"}"},
	{PB_STAT_REFUSED_TLS,
	 "patchbay_connections_refused_total{reason=\"tls\"}"},
	{PB_STAT_REFUSED_TLS_TIMEOUT,
	 "patchbay_connections_refused_total{reason=\"tls_timeout\"}"},
	{PB_STAT_REFUSED_TLS_IDENTITY,
	 "patchbay_connections_refused_total{reason=\"tls_identity\"}"},
	{PB_STAT_DISC_NOMEM,
	 "patchbay_disconnects_total{reason=\"no_memory\"}"},
	{PB_STAT_DISC_CLOSED,
	 "patchbay_disconnects_total{reason=\"peer_closed\"}"},
	{PB_STAT_DISC_RESET, "patchbay_disconnects_total{reason=\"reset\"}"},
	{PB_STAT_DISC_PROTOCOL,
	 "patchbay_disconnects_total{reason=\"protocol_error\"}"},
	{PB_STAT_DISC_SLOW,
	 "patchbay_disconnects_total{reason=\"slow_consumer\"}"},
	{PB_STAT_DISC_SHUTDOWN,
	 "patchbay_disconnects_total{reason=\"shutdown\"}"},
	{PB_STAT_RECEIVED, "patchbay_frames_received_total"},
	{PB_STAT_FORWARDED, "patchbay_frames_forwarded_total"},
	{PB_STAT_BYTES_FORWARDED, "patchbay_bytes_forwarded_total"},
	{PB_STAT_DROP_UNKNOWN,
	 "patchbay_frames_dropped_total{reason=\"unknown_destination\"}"},
	{PB_STAT_DROP_LEFT,
	 "patchbay_frames_dropped_total{reason=\"destination_left\"}"},
	{PB_STAT_DROP_SLOW,
	 "patchbay_frames_dropped_total{reason=\"slow_consumer\"}"},
	{PB_STAT_DROP_NOMEM,
	 "patchbay_frames_dropped_total{reason=\"no_memory\"}"},
	{PB_STAT_DROP_SENDER_LEFT,
	 "patchbay_frames_dropped_total{reason=\"sender_left\"}"},
	{PB_STAT_DISC_FRAME_TIMEOUT,
	 "patchbay_disconnects_total{reason=\"frame_timeout\"}"},
	{PB_STAT_DROP_UNREACHABLE,
	 "patchbay_frames_dropped_total{reason=\"remote_unreachable\"}"},
	{PB_STAT_DROP_UNKNOWN_NODE,
	 "patchbay_frames_dropped_total{reason=\"unknown_node\"}"},
	{PB_STAT_RECEIVED_REMOTE, "patchbay_frames_received_remote_total"},
	{PB_STAT_SENT_REMOTE, "patchbay_frames_sent_remote_total"},
	{PB_STAT_NODE_MSG_BAD, "patchbay_node_messages_refused_total"},
	{PB_STAT_TLS_RELOAD_FAILED, "patchbay_tls_reload_failures_total"},
	{PB_STAT_DISC_TLS_NOT_ALLOWED,
	 "patchbay_disconnects_total{reason=\"tls_not_allowed\"}"},
	{PB_STAT_DISC_RESTART,
	 "patchbay_disconnects_total{reason=\"restart\"}"},
	{PB_STAT_HANDOVERS, "patchbay_handovers_total"},
	{PB_STAT_HANDOVERS_FAILED, "patchbay_handovers_failed_total"},
	{PB_STAT_HANDOVER_REFUSED, "patchbay_handover_states_refused_total"},
};
#define EXPO_NWANT (sizeof(expo_want) / sizeof(expo_want[0]))

/* The families that must be there, with their type. */
static const char *const expo_families[][2] = {
	{"patchbay_connections_accepted_total", "counter"},
	{"patchbay_connections_refused_total", "counter"},
	{"patchbay_disconnects_total", "counter"},
	{"patchbay_frames_received_total", "counter"},
	{"patchbay_frames_forwarded_total", "counter"},
	{"patchbay_bytes_forwarded_total", "counter"},
	{"patchbay_frames_dropped_total", "counter"},
	{"patchbay_tls_reload_failures_total", "counter"},
	{"patchbay_handovers_total", "counter"},
	{"patchbay_handover_pause_seconds", "gauge"},
	{"patchbay_clients", "gauge"},
	{"patchbay_clients_max", "gauge"},
	{"patchbay_queued_bytes", "gauge"},
	{"patchbay_memory_budget_bytes", "gauge"},
	{"patchbay_memory_used_bytes", "gauge"},
	{"patchbay_build_info", "gauge"},
	{"patchbay_start_time_seconds", "gauge"},
	{"patchbay_config_last_reload_successful", "gauge"},
	{"patchbay_config_last_reload_success_timestamp_seconds", "gauge"},
	{"process_cpu_seconds_total", "counter"},
	{"process_open_fds", "gauge"},
	{"process_max_fds", "gauge"},
	{"process_virtual_memory_bytes", "gauge"},
	{"process_resident_memory_bytes", "gauge"},
	{"process_start_time_seconds", "gauge"},
	{"process_threads", "gauge"},
};
#define EXPO_NFAMILIES (sizeof(expo_families) / sizeof(expo_families[0]))

static struct pb_options expo_opts;
static struct pb_registry expo_reg;

static void expo_setup(void)
{
	pb_options_defaults(&expo_opts);
	pb_registry_init(&expo_reg, &expo_opts, NULL);
}

static void expo_teardown(void)
{
	pb_registry_destroy(&expo_reg);
}

/* The text a scrape of expo_reg would get now, to free(). */
static char *expo_text(void)
{
	struct pb_expo_sample s;
	size_t len;
	char *text;

	pb_expo_take(&s, &expo_reg);
	ck_assert_msg(s.es_have_process, "/proc/self could not be read");
	text = pb_expo_format(&s, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), len);
	return text;
}

/* The value of the sample named exactly `sample` (name and labels), or
 * false if no line has it. */
static bool expo_find(const char *text, const char *sample, double *v,
		      unsigned long long *u)
{
	size_t n = strlen(sample);
	const char *p = text;

	for (; *p != '\0'; p = strchr(p, '\n') + 1) {
		char *end;

		if (strncmp(p, sample, n) != 0 || p[n] != ' ')
			continue;
		*v = strtod(p + n + 1, &end);
		ck_assert_msg(*end == '\n', "%s: bad value", sample);
		*u = strtoull(p + n + 1, &end, 10);
		return true;
	}
	return false;
}

static double expo_real(const char *text, const char *sample)
{
	unsigned long long u;
	double v;

	ck_assert_msg(expo_find(text, sample, &v, &u), "no sample %s in:\n%s",
		      sample, text);
	return v;
}

/* An integer sample, exact even above 2^53. */
static unsigned long long expo_uint(const char *text, const char *sample)
{
	unsigned long long u;
	double v;

	ck_assert_msg(expo_find(text, sample, &v, &u), "no sample %s in:\n%s",
		      sample, text);
	return u;
}

/* --- the format ---------------------------------------------------------- */

/* A family as the scan found it. */
struct expo_seen {
	char es_name[96];
	const char *es_type; /* "counter" or "gauge" */
	int es_help;
	int es_type_lines;
	int es_samples;
};

struct expo_scan {
	struct expo_seen sc_fam[64];
	size_t sc_n;
	struct expo_seen *sc_open; /* the family whose samples may follow */
};

static struct expo_seen *expo_seen(struct expo_scan *sc, const char *name)
{
	size_t i;

	for (i = 0; i < sc->sc_n; i++)
		if (strcmp(sc->sc_fam[i].es_name, name) == 0)
			return &sc->sc_fam[i];
	return NULL;
}

/* "# HELP name text" or "# TYPE name type". */
static void expo_scan_comment(struct expo_scan *sc, const char *line)
{
	char kind[8], name[96], rest[256];
	struct expo_seen *f;

	ck_assert_msg(sscanf(line, "# %7s %95s %255[^\n]", kind, name, rest) ==
			      3,
		      "bad comment line: %s", line);
	f = expo_seen(sc, name);
	if (strcmp(kind, "HELP") == 0) {
		ck_assert_msg(f == NULL,
			      "second HELP, or HELP after TYPE or "
			      "samples, for %s",
			      name);
		ck_assert_uint_lt(sc->sc_n, 64);
		f = &sc->sc_fam[sc->sc_n++];
		snprintf(f->es_name, sizeof(f->es_name), "%s", name);
		f->es_help = 1;
		sc->sc_open = NULL;
		return;
	}
	ck_assert_msg(strcmp(kind, "TYPE") == 0, "bad comment line: %s", line);
	ck_assert_msg(f != NULL && f == &sc->sc_fam[sc->sc_n - 1] &&
			      f->es_type_lines == 0 && f->es_samples == 0,
		      "TYPE of %s not right after its HELP", name);
	ck_assert_msg(strcmp(rest, "counter") == 0 ||
			      strcmp(rest, "gauge") == 0,
		      "%s: type %s", name, rest);
	f->es_type = strcmp(rest, "counter") == 0 ? "counter" : "gauge";
	f->es_type_lines = 1;
	sc->sc_open = f;
}

/* "name value" or "name{label="value",...} value". */
static void expo_scan_sample(struct expo_scan *sc, const char *line)
{
	size_t n = strcspn(line, "{ ");
	const char *value = line + n;
	char *end;

	ck_assert_msg(sc->sc_open != NULL &&
			      strlen(sc->sc_open->es_name) == n &&
			      strncmp(line, sc->sc_open->es_name, n) == 0,
		      "sample outside its family, or before its HELP and "
		      "TYPE: %s",
		      line);
	if (*value == '{') {
		value = strstr(value, "\"} ");
		ck_assert_msg(value != NULL, "bad labels: %s", line);
		value += 2;
	}
	ck_assert_msg(*value == ' ', "bad sample: %s", line);
	strtod(value + 1, &end);
	ck_assert_msg(end != value + 1 && *end == '\n', "bad value: %s", line);
	sc->sc_open->es_samples++;
}

static void expo_scan(struct expo_scan *sc, const char *text)
{
	const char *p;
	size_t i;

	memset(sc, 0, sizeof(*sc));
	ck_assert_msg(text[0] != '\0' && text[strlen(text) - 1] == '\n',
		      "the text must end with a newline");
	for (p = text; *p != '\0'; p = strchr(p, '\n') + 1) {
		ck_assert_msg(*p != '\n', "empty line");
		if (*p == '#')
			expo_scan_comment(sc, p);
		else
			expo_scan_sample(sc, p);
	}
	for (i = 0; i < sc->sc_n; i++) {
		const struct expo_seen *f = &sc->sc_fam[i];
		size_t len = strlen(f->es_name);

		ck_assert_msg(f->es_help == 1 && f->es_type_lines == 1 &&
				      f->es_samples > 0,
			      "%s: %d HELP, %d TYPE, %d samples", f->es_name,
			      f->es_help, f->es_type_lines, f->es_samples);
		if (strcmp(f->es_type, "counter") == 0)
			ck_assert_msg(len > 6 && strcmp(f->es_name + len - 6,
							"_total") == 0,
				      "counter %s does not end in _total",
				      f->es_name);
	}
}

START_TEST(test_every_family_has_help_and_type_before_its_samples)
{
	struct expo_scan sc;
	char *text = expo_text();
	size_t i;

	expo_scan(&sc, text);
	for (i = 0; i < EXPO_NFAMILIES; i++) {
		const struct expo_seen *f = expo_seen(&sc, expo_families[i][0]);

		ck_assert_msg(f != NULL, "no family %s", expo_families[i][0]);
		ck_assert_str_eq(f->es_type, expo_families[i][1]);
	}
	free(text);
}
END_TEST

START_TEST(test_every_label_value_present_at_zero_on_a_fresh_process)
{
	char *text = expo_text();
	size_t i;

	/* One sample per counter of stat.h: a new counter needs its name
	 * here and its row in exposition.c. */
	ck_assert_uint_eq(EXPO_NWANT, PB_STAT_COUNT);
	for (i = 0; i < EXPO_NWANT; i++)
		ck_assert_msg(expo_uint(text, expo_want[i].ew_sample) == 0,
			      "%s is not 0 on a fresh process",
			      expo_want[i].ew_sample);
	ck_assert_uint_eq(
		expo_uint(text, "patchbay_queued_bytes{queue=\"outbox\"}"), 0);
	ck_assert_uint_eq(
		expo_uint(text, "patchbay_queued_bytes{queue=\"park\"}"), 0);
	ck_assert_uint_eq(expo_uint(text, "patchbay_clients"), 0);
	free(text);
}
END_TEST

START_TEST(test_each_counter_moves_by_what_pb_stats_add_added)
{
	unsigned long long before[EXPO_NWANT];
	char *text = expo_text();
	size_t i;

	for (i = 0; i < EXPO_NWANT; i++)
		before[i] = expo_uint(text, expo_want[i].ew_sample);
	free(text);
	/* A different amount for each, one of them past 2^32. */
	for (i = 0; i < EXPO_NWANT; i++)
		pb_stats_add(expo_want[i].ew_stat, 1000 * (i + 1) + i);
	pb_stats_add(PB_STAT_FORWARDED, 1ULL << 33);
	text = expo_text();
	for (i = 0; i < EXPO_NWANT; i++) {
		unsigned long long want = before[i] + 1000 * (i + 1) + i;

		if (expo_want[i].ew_stat == PB_STAT_FORWARDED)
			want += 1ULL << 33;
		ck_assert_msg(expo_uint(text, expo_want[i].ew_sample) == want,
			      "%s: %llu, want %llu", expo_want[i].ew_sample,
			      expo_uint(text, expo_want[i].ew_sample), want);
	}
	free(text);
}
END_TEST

START_TEST(test_gauges_show_the_registry)
{
	char *text = expo_text();

	/* As started: the limits of the options, the reload fine. */
	ck_assert_uint_eq(expo_uint(text, "patchbay_clients_max"),
			  expo_opts.op_max_clients);
	ck_assert_uint_eq(expo_uint(text, "patchbay_memory_budget_bytes"),
			  expo_opts.op_max_memory);
	ck_assert_uint_eq(
		expo_uint(text, "patchbay_config_last_reload_successful"), 1);
	ck_assert_uint_eq(expo_uint(text, "patchbay_start_time_seconds"),
			  (unsigned long long)expo_reg.rg_start_s);
	ck_assert_uint_eq(expo_uint(text, "patchbay_config_last_reload_success_"
					  "timestamp_seconds"),
			  (unsigned long long)expo_reg.rg_start_s);
	ck_assert_uint_eq(
		expo_uint(text, "patchbay_build_info{version=\"" PACKAGE_VERSION
				"\"}"),
		1);
	free(text);

	atomic_store(&expo_reg.rg_clients, 7);
	pb_options_defaults(&expo_opts);
	expo_opts.op_max_clients = 250;
	expo_opts.op_max_memory = 1 << 20;
	pb_registry_set_limits(&expo_reg, &expo_opts);
	atomic_store(&expo_reg.rg_outbox_bytes, 12345);
	atomic_store(&expo_reg.rg_park_bytes, 678);
	pb_budget_charge(&expo_reg.rg_budget, 4096);
	expo_reg.rg_start_s = 1700000000;
	atomic_store(&expo_reg.rg_loaded_s, 1700000100);
	pb_registry_reloaded(&expo_reg, false);
	text = expo_text();
	ck_assert_uint_eq(expo_uint(text, "patchbay_clients"), 7);
	ck_assert_uint_eq(expo_uint(text, "patchbay_clients_max"), 250);
	ck_assert_uint_eq(
		expo_uint(text, "patchbay_queued_bytes{queue=\"outbox\"}"),
		12345);
	ck_assert_uint_eq(
		expo_uint(text, "patchbay_queued_bytes{queue=\"park\"}"), 678);
	ck_assert_uint_eq(expo_uint(text, "patchbay_memory_budget_bytes"),
			  1 << 20);
	ck_assert_uint_eq(expo_uint(text, "patchbay_memory_used_bytes"), 4096);
	ck_assert_uint_eq(expo_uint(text, "patchbay_start_time_seconds"),
			  1700000000);
	/* A failed reload leaves the time of the last one that worked. */
	ck_assert_uint_eq(
		expo_uint(text, "patchbay_config_last_reload_successful"), 0);
	ck_assert_uint_eq(expo_uint(text, "patchbay_config_last_reload_success_"
					  "timestamp_seconds"),
			  1700000100);
	free(text);
}
END_TEST

static void *expo_blocked(void *arg)
{
	char c;

	(void)!read(*(int *)arg, &c, 1);
	return NULL;
}

START_TEST(test_process_families_count_what_this_process_holds)
{
	double now = (double)time(NULL);
	unsigned long long fds, threads;
	char *text, *more;
	struct rlimit rl;
	pthread_t t[2];
	int p[2], fd;

	/* A first thread, so that whatever a runtime (a sanitizer's) starts
	 * along with it runs before the counting. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pthread_create(&t[0], NULL, expo_blocked, &p[0]), 0);
	text = expo_text();
	fds = expo_uint(text, "process_open_fds");
	threads = expo_uint(text, "process_threads");
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_uint_eq(expo_uint(text, "process_max_fds"), rl.rlim_cur);
	ck_assert_uint_gt(expo_uint(text, "process_resident_memory_bytes"), 0);
	ck_assert_uint_ge(expo_uint(text, "process_virtual_memory_bytes"),
			  expo_uint(text, "process_resident_memory_bytes"));
	ck_assert(expo_real(text, "process_cpu_seconds_total") >= 0);
	ck_assert(expo_real(text, "process_start_time_seconds") <= now + 1);
	ck_assert(expo_real(text, "process_start_time_seconds") > now - 3600);
	free(text);

	/* One more descriptor and one more thread, exactly. */
	fd = dup(p[0]);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pthread_create(&t[1], NULL, expo_blocked, &p[0]), 0);
	more = expo_text();
	ck_assert_uint_eq(expo_uint(more, "process_open_fds"), fds + 1);
	ck_assert_uint_eq(expo_uint(more, "process_threads"), threads + 1);
	free(more);
	ck_assert_int_eq(write(p[1], "xy", 2), 2);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	close(fd);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_no_process_families_when_proc_is_unreadable)
{
	struct pb_expo_sample s;
	struct expo_scan sc;
	size_t len;
	char *text;

	pb_expo_take(&s, &expo_reg);
	s.es_have_process = false;
	text = pb_expo_format(&s, &len);
	ck_assert_ptr_nonnull(text);
	expo_scan(&sc, text);
	ck_assert_ptr_null(strstr(text, "process_"));
	ck_assert_ptr_nonnull(expo_seen(&sc, "patchbay_clients"));
	free(text);
}
END_TEST

/* The TLS certificate's expiry: a gauge where TLS serves, none else. */
START_TEST(test_tls_cert_expiry_only_with_tls)
{
	struct pb_expo_sample s;
	unsigned long long u;
	size_t len;
	double v;
	char *text;

	pb_expo_take(&s, &expo_reg);
	ck_assert_int_eq(s.es_tls_expiry_s, 0);
	text = pb_expo_format(&s, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert(!expo_find(text, "patchbay_tls_cert_expiry_seconds", &v, &u));
	free(text);
	s.es_tls_expiry_s = 1893456000; /* 2030-01-01 */
	text = pb_expo_format(&s, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert(expo_find(text, "patchbay_tls_cert_expiry_seconds", &v, &u));
	ck_assert_uint_eq(u, 1893456000);
	ck_assert_ptr_nonnull(strstr(
		text, "# TYPE patchbay_tls_cert_expiry_seconds gauge\n"));
	free(text);
}
END_TEST

static Suite *exposition_suite(void)
{
	Suite *s = suite_create("exposition");
	TCase *tc = tcase_create("exposition");

	tcase_add_checked_fixture(tc, expo_setup, expo_teardown);
	tcase_add_test(
		tc, test_every_label_value_present_at_zero_on_a_fresh_process);
	tcase_add_test(tc,
		       test_every_family_has_help_and_type_before_its_samples);
	tcase_add_test(tc, test_each_counter_moves_by_what_pb_stats_add_added);
	tcase_add_test(tc, test_gauges_show_the_registry);
	tcase_add_test(tc, test_tls_cert_expiry_only_with_tls);
	tcase_add_test(tc, test_process_families_count_what_this_process_holds);
	tcase_add_test(tc, test_no_process_families_when_proc_is_unreadable);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pbt_run(exposition_suite());
}
