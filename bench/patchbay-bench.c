/* SPDX-License-Identifier: ISC */
/*
 * patchbay-bench.c: the load generator of patchbay, its command line and
 * its main(). Parses and checks the options (usage errors exit 2), fills
 * in the scenario's defaults, raises the descriptor limit, runs the
 * scenario and prints the result; any error seen during the run makes the
 * exit status 1. The scenarios themselves live in bench_scenario.c,
 * bench_churn.c and bench_engine.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "bench_io.h"
#include "bench_payload.h"

#define BENCH_VERSION	     "0.1.0"
#define BENCH_SPARE_FDS	     64
#define BENCH_MAX_THREADS    64
#define BENCH_MAX_WINDOW     (1ul << 20)
#define BENCH_MAX_CLIENTS    1000000ul
#define BENCH_MAX_SENDBUF    (256ul << 20) /* window * frame, per sender */
#define BENCH_SMOKE_DURATION 0.2

static const char bench_usage[] =
	"usage: patchbay-bench --addr ADDR[,ADDR...] [options]\n"
	"Generates load on a patchbay server and checks every message.\n"
	"\n"
	"  --addr ADDR          the server: HOST:PORT ([V6]:PORT for IPv6)\n"
	"                       or unix:PATH; required;\n"
	"                       several (repeated, or separated by commas):\n"
	"                       client i connects to the (i mod n)th, so\n"
	"                       the two of a pair are on different servers\n"
	"  --scenario NAME      pingpong, pairs (default), fanin, fanout,\n"
	"                       slow, idle, churn or scale\n"
	"  --clients N          clients (see the manual for each scenario)\n"
	"  --window W           messages in flight per sender (default 64)\n"
	"  --size S             payload bytes, terminating 0x00 included\n"
	"                       (default 64, at least 29)\n"
	"  --duration SECS      measured time (default 5)\n"
	"  --warmup SECS        traffic before measuring (default 0)\n"
	"  --threads T          worker threads (default 1)\n"
	"  --rate R             slow: trickle messages/s to the non-readers,\n"
	"                       all senders together (default 2000)\n"
	"  --slow-clients K     slow: clients that never read (default 1)\n"
	"  --server-pid PID     sample the server's RSS, threads, CPU time,\n"
	"                       context switches and calls\n"
	"  --timeout SECS       fail after this long without progress\n"
	"                       (default 10)\n"
	"  --tls-ca FILE        speak TLS to HOST:PORT servers (tls:\n"
	"                       listeners), trusting the CAs in FILE\n"
	"  --tls-cert FILE      with --tls-key: the clients' certificate\n"
	"  --tls-key FILE       and its key\n"
	"  --json               one JSON object on stdout instead of a table\n"
	"  --smoke              a short run for correctness only\n"
	"  -h, --help           show this help and exit\n"
	"  -V, --version        show the version and exit\n"
	"Exit status: 0 if the run passed every check, 1 if not, 2 on bad "
	"usage.\n";

enum {
	BENCH_OPT_ADDR = 256,
	BENCH_OPT_SCENARIO,
	BENCH_OPT_CLIENTS,
	BENCH_OPT_WINDOW,
	BENCH_OPT_SIZE,
	BENCH_OPT_DURATION,
	BENCH_OPT_WARMUP,
	BENCH_OPT_THREADS,
	BENCH_OPT_RATE,
	BENCH_OPT_SLOW,
	BENCH_OPT_PID,
	BENCH_OPT_TIMEOUT,
	BENCH_OPT_JSON,
	BENCH_OPT_SMOKE,
	BENCH_OPT_TLS_CA,
	BENCH_OPT_TLS_CERT,
	BENCH_OPT_TLS_KEY,
};

static const struct option bench_long_options[] = {
	{"addr", required_argument, NULL, BENCH_OPT_ADDR},
	{"scenario", required_argument, NULL, BENCH_OPT_SCENARIO},
	{"clients", required_argument, NULL, BENCH_OPT_CLIENTS},
	{"window", required_argument, NULL, BENCH_OPT_WINDOW},
	{"size", required_argument, NULL, BENCH_OPT_SIZE},
	{"duration", required_argument, NULL, BENCH_OPT_DURATION},
	{"warmup", required_argument, NULL, BENCH_OPT_WARMUP},
	{"threads", required_argument, NULL, BENCH_OPT_THREADS},
	{"rate", required_argument, NULL, BENCH_OPT_RATE},
	{"slow-clients", required_argument, NULL, BENCH_OPT_SLOW},
	{"server-pid", required_argument, NULL, BENCH_OPT_PID},
	{"timeout", required_argument, NULL, BENCH_OPT_TIMEOUT},
	{"json", no_argument, NULL, BENCH_OPT_JSON},
	{"smoke", no_argument, NULL, BENCH_OPT_SMOKE},
	{"tls-ca", required_argument, NULL, BENCH_OPT_TLS_CA},
	{"tls-cert", required_argument, NULL, BENCH_OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, BENCH_OPT_TLS_KEY},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static enum bench_scenario bench_parse_scenario(const char *s)
{
	int i;

	for (i = BENCH_PINGPONG; i <= BENCH_SCALE; i++)
		if (strcmp(s, bench_scenario_name((enum bench_scenario)i)) == 0)
			return (enum bench_scenario)i;
	bench_usage_error("--scenario: unknown scenario '%s'", s);
}

static void bench_defaults(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->o_scenario = BENCH_PAIRS;
	o->o_window = 64;
	o->o_size = 64;
	o->o_duration = -1; /* not given */
	o->o_warmup = 0;
	o->o_timeout = 10;
	o->o_rate = 2000;
	o->o_slow = 1;
	o->o_threads = 1;
}

/* Parses one --addr: one address, or several separated by commas. */
static void bench_add_addrs(struct bench_opts *o, const char *arg)
{
	char err[256], one[512];
	const char *p = arg, *comma;

	for (;;) {
		size_t len;

		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= sizeof(one))
			bench_usage_error("--addr %s: expected HOST:PORT or "
					  "[V6]:PORT, separated by commas",
					  arg);
		if (o->o_naddrs == BENCH_MAX_ADDRS)
			bench_usage_error("--addr: at most %d servers",
					  BENCH_MAX_ADDRS);
		memcpy(one, p, len);
		one[len] = '\0';
		if (bench_addr_parse(one, &o->o_addrs[o->o_naddrs], err,
				     sizeof(err)) < 0)
			bench_usage_error("%s", err);
		o->o_naddrs++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
}

static void bench_option(struct bench_opts *o, int c, const char *arg)
{
	switch (c) {
	case BENCH_OPT_ADDR:
		bench_add_addrs(o, arg);
		break;
	case BENCH_OPT_SCENARIO:
		o->o_scenario = bench_parse_scenario(arg);
		break;
	case BENCH_OPT_CLIENTS:
		o->o_clients =
			bench_parse_count("clients", arg, 1, BENCH_MAX_CLIENTS);
		break;
	case BENCH_OPT_WINDOW:
		o->o_window =
			bench_parse_count("window", arg, 1, BENCH_MAX_WINDOW);
		break;
	case BENCH_OPT_SIZE:
		o->o_size = bench_parse_count("size", arg, BENCH_PL_MIN_SIZE,
					      BENCH_PL_MAX_SIZE);
		break;
	case BENCH_OPT_DURATION:
		o->o_duration = bench_parse_seconds("duration", arg, false);
		break;
	case BENCH_OPT_WARMUP:
		o->o_warmup = bench_parse_seconds("warmup", arg, true);
		break;
	case BENCH_OPT_THREADS:
		o->o_threads = (unsigned)bench_parse_count("threads", arg, 1,
							   BENCH_MAX_THREADS);
		break;
	case BENCH_OPT_RATE:
		o->o_rate =
			(double)bench_parse_count("rate", arg, 0, 100000000ul);
		break;
	case BENCH_OPT_SLOW:
		o->o_slow = bench_parse_count("slow-clients", arg, 0, 100000);
		break;
	case BENCH_OPT_PID:
		o->o_server_pid = (pid_t)bench_parse_count("server-pid", arg, 1,
							   1u << 30);
		break;
	case BENCH_OPT_TIMEOUT:
		o->o_timeout = bench_parse_seconds("timeout", arg, false);
		break;
	case BENCH_OPT_JSON:
		o->o_json = true;
		break;
	case BENCH_OPT_SMOKE:
		o->o_smoke = true;
		break;
	case BENCH_OPT_TLS_CA:
		o->o_tls_ca = arg;
		break;
	case BENCH_OPT_TLS_CERT:
		o->o_tls_cert = arg;
		break;
	case BENCH_OPT_TLS_KEY:
		o->o_tls_key = arg;
		break;
	}
}

static unsigned long bench_default_clients(const struct bench_opts *o)
{
	switch (o->o_scenario) {
	case BENCH_PINGPONG:
		return 2;
	case BENCH_FANIN:
	case BENCH_FANOUT:
		return 16;
	case BENCH_IDLE:
		return o->o_smoke ? 100 : 1000;
	case BENCH_CHURN:
		return 8;
	case BENCH_SCALE:
		return o->o_smoke ? 200 : 10000;
	default:
		return 64;
	}
}

/* Fills in what was not given and checks the options against each other. */
static void bench_complete(struct bench_opts *o)
{
	if (o->o_naddrs == 0)
		bench_usage_error("--addr HOST:PORT is required");
	if ((o->o_tls_cert == NULL) != (o->o_tls_key == NULL))
		bench_usage_error("--tls-cert and --tls-key go together");
	if (o->o_tls_cert != NULL && o->o_tls_ca == NULL)
		bench_usage_error("--tls-cert needs --tls-ca");
	if (o->o_tls_ca != NULL && !bench_io_tls_available())
		bench_usage_error("--tls-ca: patchbay-bench was built without "
				  "OpenSSL");
	if (o->o_duration < 0)
		o->o_duration = o->o_smoke ? BENCH_SMOKE_DURATION : 5;
	if (o->o_smoke)
		o->o_warmup = 0;
	if (o->o_scenario == BENCH_PINGPONG)
		o->o_clients = 2;
	else if (o->o_clients == 0)
		o->o_clients = bench_default_clients(o);
	if ((o->o_scenario == BENCH_PAIRS || o->o_scenario == BENCH_SLOW) &&
	    o->o_clients % 2 != 0)
		bench_usage_error("--clients: %s needs an even number",
				  bench_scenario_name(o->o_scenario));
	if (o->o_scenario == BENCH_SCALE && o->o_clients < 2)
		bench_usage_error("--clients: scale needs at least 2");
	if (o->o_window * (o->o_size + BENCH_FRAME_HEADER) > BENCH_MAX_SENDBUF)
		bench_usage_error("--window %lu of --size %zu: more than %lu "
				  "MiB per sender",
				  o->o_window, o->o_size,
				  BENCH_MAX_SENDBUF >> 20);
}

static void bench_parse(struct bench_opts *o, int argc, char **argv)
{
	int c;

	bench_defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", bench_long_options, NULL)) !=
	       -1) {
		if (c == 'h') {
			fputs(bench_usage, stdout);
			exit(0);
		}
		if (c == 'V') {
			printf("patchbay-bench %s\n", BENCH_VERSION);
			exit(0);
		}
		if (c == ':')
			bench_usage_error("option '%s' needs a value",
					  argv[optind - 1]);
		if (c == '?')
			bench_usage_error("unknown option '%s'",
					  argv[optind - 1]);
		bench_option(o, c, optarg);
	}
	if (optind < argc)
		bench_usage_error("unexpected argument '%s'", argv[optind]);
	bench_complete(o);
}

/* Raises the soft descriptor limit to the hard one; checks it suffices. */
static int bench_fit_fds(const struct bench_opts *o)
{
	unsigned long need = o->o_clients + 1 + BENCH_SPARE_FDS;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		bench_fail("%lu clients need %lu descriptors, the limit is "
			   "%llu (raise it with ulimit -n)",
			   o->o_clients, need, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

/* With --tls-ca: the TLS client context, for descriptors up to the
 * limit (no descriptor above it comes). */
static int bench_tls(const struct bench_opts *o)
{
	size_t maxfd = BENCH_MAX_CLIENTS + 1 + BENCH_SPARE_FDS;
	struct rlimit rl;
	char err[1024];

	if (o->o_tls_ca == NULL)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < maxfd)
		maxfd = (size_t)rl.rlim_cur;
	if (bench_io_tls_setup(o->o_tls_ca, o->o_tls_cert, o->o_tls_key, maxfd,
			       err, sizeof(err)) < 0) {
		bench_fail("%s", err);
		return -1;
	}
	return 0;
}

static void bench_run(const struct bench_opts *o, struct bench_result *r)
{
	memset(r, 0, sizeof(*r));
	r->r_scenario = bench_scenario_name(o->o_scenario);
	if (bench_fit_fds(o) < 0 || bench_tls(o) < 0)
		return;
	if (bench_payload_init(o->o_size) < 0) {
		bench_fail("payload template: out of memory");
		return;
	}
	switch (o->o_scenario) {
	case BENCH_IDLE:
		(void)bench_scenario_idle(o, r);
		break;
	case BENCH_CHURN:
		(void)bench_scenario_churn(o, r);
		break;
	default:
		(void)bench_scenario_traffic(o, r);
		break;
	}
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_result r;

	bench_parse(&o, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	bench_run(&o, &r);
	bench_report(&o, &r);
	free(r.r_hist);
	return bench_failed() ? 1 : 0;
}
