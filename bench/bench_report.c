/* SPDX-License-Identifier: ISC */
/*
 * bench_report.c: printing the result of a run, either as a small table
 * (a header line and a value line, only the columns that apply) or, with
 * --json, as one JSON object on one line. Both come from the same list of
 * fields, so they always agree: each field has a JSON key, an optional
 * table heading, and its value already formatted as JSON.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define BENCH_FIELDS	64
#define BENCH_VALUE_LEN 48

struct bench_field {
	const char *f_key;     /* JSON key */
	const char *f_heading; /* table column, NULL: JSON only */
	char f_value[BENCH_VALUE_LEN];
};

struct bench_fields {
	struct bench_field fs_f[BENCH_FIELDS];
	size_t fs_n;
};

static const char *const bench_names[] = {
	[BENCH_PINGPONG] = "pingpong", [BENCH_PAIRS] = "pairs",
	[BENCH_FANIN] = "fanin",       [BENCH_FANOUT] = "fanout",
	[BENCH_SLOW] = "slow",	       [BENCH_IDLE] = "idle",
	[BENCH_CHURN] = "churn",       [BENCH_SCALE] = "scale",
};

const char *bench_scenario_name(enum bench_scenario s)
{
	return bench_names[s];
}

__attribute__((format(printf, 4, 5))) static void
bench_add(struct bench_fields *fs, const char *key, const char *heading,
	  const char *fmt, ...)
{
	struct bench_field *f;
	va_list ap;

	if (fs->fs_n == BENCH_FIELDS)
		return;
	f = &fs->fs_f[fs->fs_n++];
	f->f_key = key;
	f->f_heading = heading;
	va_start(ap, fmt);
	vsnprintf(f->f_value, sizeof(f->f_value), fmt, ap);
	va_end(ap);
}

static void bench_add_ul(struct bench_fields *fs, const char *key,
			 const char *heading, unsigned long v)
{
	bench_add(fs, key, heading, "%lu", v);
}

static void bench_add_us(struct bench_fields *fs, const char *key,
			 const char *heading, uint64_t ns)
{
	bench_add(fs, key, heading, "%.1f", (double)ns / 1000.0);
}

static void bench_add_latency(struct bench_fields *fs,
			      const struct bench_hist *h)
{
	if (h == NULL || h->h_count == 0)
		return;
	bench_add_us(fs, "p50_us", "p50us", bench_hist_quantile(h, 0.50));
	bench_add_us(fs, "p99_us", "p99us", bench_hist_quantile(h, 0.99));
	bench_add_us(fs, "p999_us", "p99.9us", bench_hist_quantile(h, 0.999));
	bench_add_us(fs, "max_us", "maxus", h->h_max);
	bench_add_us(fs, "mean_us", NULL, h->h_sum / h->h_count);
	bench_add_us(fs, "min_us", NULL, h->h_min);
}

static void bench_add_traffic(struct bench_fields *fs,
			      const struct bench_opts *o,
			      const struct bench_result *r)
{
	double rate = (double)r->r_messages / o->o_duration;

	bench_add_ul(fs, "senders", NULL, r->r_senders);
	bench_add_ul(fs, "receivers", NULL, r->r_receivers);
	bench_add_ul(fs, "window", "window", r->r_window);
	bench_add(fs, "size", "size", "%zu", r->r_size);
	bench_add(fs, "messages", NULL, "%llu",
		  (unsigned long long)r->r_messages);
	bench_add(fs, "msgs_per_s",
		  o->o_scenario == BENCH_PINGPONG ? "rtt/s" : "msgs/s", "%.0f",
		  rate);
	bench_add(fs, "mib_per_s", "MiB/s", "%.2f",
		  rate * (double)r->r_size / (1024.0 * 1024.0));
	bench_add_latency(fs, r->r_hist);
	bench_add(fs, "sent_total", NULL, "%llu",
		  (unsigned long long)r->r_sent_total);
	bench_add(fs, "received_total", NULL, "%llu",
		  (unsigned long long)r->r_received_total);
	if (o->o_scenario != BENCH_SLOW)
		return;
	bench_add_ul(fs, "slow_clients", "slow", o->o_slow);
	bench_add(fs, "rate", NULL, "%.0f", o->o_rate);
	bench_add(fs, "trickle_sent", "trickle", "%llu",
		  (unsigned long long)r->r_trickle_sent);
	bench_add(fs, "trickle_skipped", NULL, "%llu",
		  (unsigned long long)r->r_trickle_skipped);
}

static void bench_add_churn(struct bench_fields *fs, const struct bench_opts *o,
			    const struct bench_result *r)
{
	bench_add(fs, "connections", "conns", "%llu",
		  (unsigned long long)r->r_connections);
	bench_add(fs, "conns_per_s", "conn/s", "%.0f",
		  (double)r->r_messages / o->o_duration);
	bench_add_latency(fs, r->r_hist);
}

/* A server sample as three fields, if it was taken. */
static void bench_add_proc(struct bench_fields *fs, const struct bench_proc *p,
			   const char *rss_key, const char *rss_heading,
			   const char *thr_key, const char *thr_heading)
{
	if (!p->p_ok)
		return;
	bench_add_ul(fs, rss_key, rss_heading, p->p_rss_kib);
	bench_add_ul(fs, thr_key, thr_heading, p->p_threads);
}

/*
 * What the server spent in the measured time, and per message counted in
 * "messages" (round trips for pingpong, connections for churn): CPU
 * microseconds per message (which are also CPU seconds per million
 * messages) and context switches per 1,000 messages.
 */
static void bench_add_cost(struct bench_fields *fs,
			   const struct bench_result *r)
{
	struct bench_spent sp;
	double msgs = (double)r->r_messages;

	bench_cost_diff(&r->r_cost_start, &r->r_cost_end, &sp);
	if (!sp.sp_ok)
		return;
	bench_add(fs, "server_window_s", NULL, "%.3f", sp.sp_wall_s);
	bench_add(fs, "server_cpu_s", "srvCPUs", "%.3f", sp.sp_cpu_s);
	if (sp.sp_wall_s > 0)
		bench_add(fs, "server_cpu_util", NULL, "%.3f",
			  sp.sp_cpu_s / sp.sp_wall_s);
	bench_add(fs, "server_vcsw", "vcsw", "%llu",
		  (unsigned long long)sp.sp_vcsw);
	bench_add(fs, "server_nvcsw", "nvcsw", "%llu",
		  (unsigned long long)sp.sp_nvcsw);
	bench_add_ul(fs, "server_tasks", NULL, r->r_cost_end.co_tasks);
	if (sp.sp_io) {
		bench_add(fs, "server_syscr", "syscr", "%llu",
			  (unsigned long long)sp.sp_syscr);
		bench_add(fs, "server_syscw", "syscw", "%llu",
			  (unsigned long long)sp.sp_syscw);
	}
	if (msgs <= 0)
		return;
	bench_add(fs, "server_cpu_us_per_msg", "CPUus/msg", "%.4f",
		  sp.sp_cpu_s * 1e6 / msgs);
	bench_add(fs, "server_csw_per_kmsg", "csw/kmsg", "%.3f",
		  (double)(sp.sp_vcsw + sp.sp_nvcsw) * 1000.0 / msgs);
}

static void bench_add_server(struct bench_fields *fs,
			     const struct bench_opts *o,
			     const struct bench_result *r)
{
	const struct bench_proc *a = &r->r_srv_start, *b = &r->r_srv_end;

	if (o->o_server_pid <= 0)
		return;
	bench_add(fs, "server_pid", NULL, "%ld", (long)o->o_server_pid);
	bench_add_proc(fs, a, "rss_start_kib",
		       o->o_scenario == BENCH_IDLE ? "rss0KiB" : NULL,
		       "threads_start",
		       o->o_scenario == BENCH_IDLE ? "thr0" : NULL);
	bench_add_proc(fs, b, "rss_end_kib", "rssKiB", "threads_end", "thr");
	if (b->p_ok)
		bench_add_ul(fs, "rss_peak_kib", NULL, b->p_hwm_kib);
	bench_add_cost(fs, r);
	if (o->o_scenario != BENCH_IDLE || !a->p_ok || !b->p_ok)
		return;
	bench_add(fs, "bytes_per_conn", "B/conn", "%.0f",
		  ((double)b->p_rss_kib - (double)a->p_rss_kib) * 1024.0 /
			  (double)r->r_clients);
	bench_add_proc(fs, &r->r_srv_closed, "rss_closed_kib", "rssKiB_closed",
		       "threads_closed", "thr_closed");
}

static void bench_fields_fill(struct bench_fields *fs,
			      const struct bench_opts *o,
			      const struct bench_result *r)
{
	bench_add(fs, "scenario", "scenario", "\"%s\"",
		  bench_scenario_name(o->o_scenario));
	bench_add(fs, "ok", NULL, "%s", bench_failed() ? "false" : "true");
	bench_add_ul(fs, "clients", "clients", r->r_clients);
	bench_add(fs, "threads", NULL, "%u", o->o_threads);
	bench_add(fs, "duration_s", NULL, "%.3f", o->o_duration);
	bench_add(fs, "warmup_s", NULL, "%.3f", o->o_warmup);
	bench_add(fs, "setup_s", NULL, "%.3f", r->r_setup_s);
	bench_add(fs, "elapsed_s", NULL, "%.3f", r->r_elapsed_s);
	if (o->o_scenario == BENCH_CHURN)
		bench_add_churn(fs, o, r);
	else if (o->o_scenario == BENCH_IDLE)
		bench_add(fs, "connects_per_s", "conn/s", "%.0f",
			  r->r_connects_per_s);
	else
		bench_add_traffic(fs, o, r);
	bench_add_server(fs, o, r);
}

/* A table value: JSON strings lose their quotes. */
static const char *bench_cell(const struct bench_field *f, char *buf,
			      size_t len)
{
	size_t n = strlen(f->f_value);

	if (n >= 2 && f->f_value[0] == '"') {
		snprintf(buf, len, "%.*s", (int)(n - 2), f->f_value + 1);
		return buf;
	}
	return f->f_value;
}

static void bench_print_table(const struct bench_fields *fs)
{
	char buf[BENCH_VALUE_LEN];
	int width[BENCH_FIELDS];
	size_t i;

	for (i = 0; i < fs->fs_n; i++) {
		const struct bench_field *f = &fs->fs_f[i];
		size_t h = f->f_heading ? strlen(f->f_heading) : 0;
		size_t v = strlen(bench_cell(f, buf, sizeof(buf)));

		width[i] = (int)(h > v ? h : v);
	}
	for (i = 0; i < fs->fs_n; i++)
		if (fs->fs_f[i].f_heading != NULL)
			printf("%*s ", width[i], fs->fs_f[i].f_heading);
	printf("%6s\n", "result");
	for (i = 0; i < fs->fs_n; i++)
		if (fs->fs_f[i].f_heading != NULL)
			printf("%*s ", width[i],
			       bench_cell(&fs->fs_f[i], buf, sizeof(buf)));
	printf("%6s\n", bench_failed() ? "FAIL" : "ok");
}

static void bench_json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void bench_print_json(const struct bench_fields *fs)
{
	const char *const *errs;
	size_t kept, total, i;

	putchar('{');
	for (i = 0; i < fs->fs_n; i++)
		printf("%s\"%s\":%s", i ? "," : "", fs->fs_f[i].f_key,
		       fs->fs_f[i].f_value);
	errs = bench_errors(&kept, &total);
	printf(",\"error_count\":%zu,\"errors\":[", total);
	for (i = 0; i < kept; i++) {
		if (i > 0)
			putchar(',');
		bench_json_string(errs[i]);
	}
	printf("]}\n");
}

void bench_report(const struct bench_opts *o, const struct bench_result *r)
{
	struct bench_fields fs;

	memset(&fs, 0, sizeof(fs));
	bench_fields_fill(&fs, o, r);
	if (o->o_json)
		bench_print_json(&fs);
	else
		bench_print_table(&fs);
	fflush(stdout);
}
