/* SPDX-License-Identifier: ISC */
/*
 * bench.h: what every part of patchbay-bench shares: the parsed options,
 * the result of a run (filled by the scenarios, printed by bench_report.c),
 * error collection and the clock. The server's /proc sampling is in
 * bench_proc.h.
 *
 * patchbay-bench is a standalone client of the patchbay protocol: it needs
 * nothing from src/, only libc and POSIX threads, and OpenSSL for --tls-ca
 * where it is built with it (bench_io.h).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_hist.h"
#include "bench_net.h"
#include "bench_proc.h"

#define BENCH_MAX_ERRORS 16 /* errors kept for the report; more are counted */
#define BENCH_MAX_ADDRS	 16 /* --addr given several times, or with commas */

enum bench_scenario {
	BENCH_PINGPONG,
	BENCH_PAIRS,
	BENCH_FANIN,
	BENCH_FANOUT,
	BENCH_SLOW,
	BENCH_IDLE,
	BENCH_CHURN,
	BENCH_SCALE,
};

struct bench_opts {
	/*
	 * The servers: client i connects to o_addrs[i % o_naddrs], so with
	 * several (the nodes of a cluster) consecutive clients, and so the
	 * two of every pair, are on different servers.
	 */
	struct bench_addr o_addrs[BENCH_MAX_ADDRS];
	size_t o_naddrs;
	enum bench_scenario o_scenario;
	unsigned long o_clients; /* 0: the scenario's default */
	unsigned long o_window;
	size_t o_size;	      /* payload bytes, terminating 0x00 included */
	double o_duration;    /* seconds measured */
	double o_warmup;      /* seconds of traffic before measuring */
	double o_timeout;     /* seconds without progress that mean failure */
	double o_rate;	      /* slow: trickle messages/s, all senders */
	unsigned long o_slow; /* slow: clients that never read */
	unsigned o_threads;   /* worker threads */
	pid_t o_server_pid;   /* 0: not given */
	bool o_json;
	bool o_smoke;
	const char *o_tls_ca;	/* NULL: plain; else TLS to HOST:PORT servers */
	const char *o_tls_cert; /* and the clients' certificate, or NULL */
	const char *o_tls_key;
};

/* Everything a run measured; fields a scenario does not set stay zero. */
struct bench_result {
	const char *r_scenario;
	unsigned long r_clients; /* connections opened (at once) */
	unsigned long r_senders;
	unsigned long r_receivers;
	unsigned long r_window;
	size_t r_size;
	double r_setup_s; /* connecting every client */
	double r_elapsed_s;

	/* Traffic scenarios: messages received inside the measured window. */
	bool r_traffic;
	uint64_t r_messages;
	uint64_t r_sent_total;
	uint64_t r_received_total;
	uint64_t r_trickle_sent;
	uint64_t r_trickle_skipped;
	struct bench_hist *r_hist; /* latency in ns, or connect time (churn) */

	/* Server samples (--server-pid). */
	struct bench_proc r_srv_start;
	struct bench_proc r_srv_end;
	struct bench_proc r_srv_closed; /* idle: after closing everything */
	struct bench_cost r_cost_start; /* at the start of the measured time */
	struct bench_cost r_cost_end;	/* at its end */

	/* churn */
	uint64_t r_connections;
	/* idle */
	double r_connects_per_s;
};

/* The monotonic clock, in nanoseconds. */
uint64_t bench_now_ns(void);
double bench_ns_to_s(uint64_t ns);
uint64_t bench_s_to_ns(double s);
/* Sleeps ns nanoseconds. */
void bench_sleep_ns(uint64_t ns);
/* Sleeps until the clock reads deadline, or the run has failed. */
void bench_sleep_until(uint64_t deadline);

/* The name bench_fail() puts in front of an error ("patchbay-bench"). */
extern const char *bench_prog;

/* Command-line parsing shared by patchbay-bench and nats-peer: a usage
 * error (printed after bench_prog, exit 2), a whole number of --name from
 * min to max, a number of seconds (0 allowed if zero_ok). */
void bench_usage_error(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
unsigned long bench_parse_count(const char *name, const char *s,
				unsigned long min, unsigned long max);
double bench_parse_seconds(const char *name, const char *s, bool zero_ok);

/*
 * Records an error: prints it on stderr at once, keeps it for the report
 * and makes bench_failed() true, which stops every thread soon.
 */
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool bench_failed(void);
/* The errors kept (at most BENCH_MAX_ERRORS) and how many there were. */
const char *const *bench_errors(size_t *kept, size_t *total);

/* Scenarios (bench_scenario.c, bench_churn.c); 0 once run, even failed. */
int bench_scenario_traffic(const struct bench_opts *o, struct bench_result *r);
int bench_scenario_idle(const struct bench_opts *o, struct bench_result *r);
int bench_scenario_churn(const struct bench_opts *o, struct bench_result *r);

/* Output (bench_report.c). */
const char *bench_scenario_name(enum bench_scenario s);
void bench_report(const struct bench_opts *o, const struct bench_result *r);

#endif
