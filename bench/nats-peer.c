/* SPDX-License-Identifier: ISC */
/*
 * nats-peer.c: the jobs of patchbay-bench done by NATS alone, for `make
 * bench-cluster` (bench/cluster.sh) to compare a patchbay cluster with the
 * NATS servers it runs on. Every client is a NATS client: subscribed to a
 * subject of its own, publishing to its peer's, on a libnats connection of
 * its own (or one of --connections shared round robin), with the payloads
 * of patchbay-bench (bench_payload.c) and its report (bench_report.c), so
 * that the two programs' figures read the same.
 *
 *   pairs     clients 2k and 2k+1 send to each other, at most --window
 *             messages in flight per sender: a receipt frees a slot of its
 *             sender, which sends the next one from the receiver's
 *             delivery thread (as patchbay-bench's worker does);
 *             latency is one way, from send to receipt.
 *   pingpong  client 0 sends, client 1 answers with the same send time;
 *             the latency is the round trip, the rate round trips/s.
 *
 * Client i connects to the (i mod n)th of the --nats URLs, so that the two
 * of a pair are on different servers of the cluster when several are
 * given. Before the measured run every sender sends probes until its peer
 * has seen one: a subscription's interest reaches the other servers over
 * the routes some time after it is made, and core NATS drops what is
 * published to nobody. Every message is checked (stream, sequence, form);
 * a loss stalls a window, which fails the run after --timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <nats/nats.h>

#include "bench.h"
#include "bench_payload.h"

#define NP_MAX_URLS	16
#define NP_MAX_CLIENTS	100000ul
#define NP_PROBE_NS	(50 * 1000 * 1000ull) /* between probe rounds */
#define NP_POLL_NS	(5 * 1000 * 1000ull)  /* the main thread's checks */
#define NP_SUBJECT_LEN	64
#define NP_DEFAULT_POOL 4  /* delivery threads past NP_OWN_THREADS */
#define NP_OWN_THREADS	64 /* clients with a delivery thread each */

struct np_client {
	uint32_t cl_index;
	uint32_t cl_peer;      /* whom it sends to */
	natsConnection *cl_nc; /* shared with other clients if --connections */
	natsSubscription *cl_sub;
	char cl_subject[NP_SUBJECT_LEN];
	/* As a sender, stream cl_index: under cl_lock. */
	pthread_mutex_t cl_lock;
	char *cl_buf; /* a frame: 4 unused bytes, then the payload */
	uint64_t cl_tx_seq;
	unsigned long cl_inflight;
	atomic_ullong cl_tx; /* messages published */
	/* As a receiver: only its subscription's callback writes these. */
	uint64_t cl_rx_seq; /* the next one expected */
	atomic_ullong cl_rx;
	atomic_bool cl_probed; /* a probe from its sender came */
};

/* A delivery thread's histogram, made on its first receipt. */
struct np_hist {
	struct np_hist *nh_next;
	struct bench_hist nh_hist;
	uint64_t nh_measured;
};

static struct {
	struct bench_opts o;
	const char *urls[NP_MAX_URLS];
	size_t nurls;
	const char *prefix;
	unsigned long conns; /* 0: one per client */
	long pool;	     /* -1: the default */
	bool asap;
	struct np_client *cl;
	size_t ncl;
	natsConnection **nc;
	size_t nnc;
	uint64_t base, warm, end;
	atomic_bool running; /* senders send again on a receipt */
	pthread_mutex_t hlock;
	struct np_hist *hists;
} np = {.prefix = "natspeer", .pool = -1};

static __thread struct np_hist *np_tl;

static const char np_usage[] =
	"usage: nats-peer --nats URL[,URL...] [options]\n"
	"patchbay-bench's pairs and pingpong through NATS alone: each client\n"
	"a NATS client subscribed to its own subject.\n"
	"\n"
	"  --nats URL[,URL...]  the NATS servers; client i connects to the\n"
	"                       (i mod n)th\n"
	"  --scenario NAME      pairs (default) or pingpong\n"
	"  --clients N          clients, even (default 64; pingpong: 2)\n"
	"  --window W           messages in flight per sender (default 64)\n"
	"  --size S             payload bytes (default 64, at least 29)\n"
	"  --duration SECS      measured time (default 5)\n"
	"  --warmup SECS        traffic before measuring (default 0)\n"
	"  --timeout SECS       fail after this long without progress\n"
	"                       (default 10)\n"
	"  --connections K      NATS connections the clients share, round\n"
	"                       robin (default: one per client)\n"
	"  --delivery-threads T libnats's shared pool of T delivery threads\n"
	"                       (0: a thread per subscription; default 0 up\n"
	"                       to 64 clients, else 4)\n"
	"  --send-asap          natsOptions_SetSendAsap: every publish\n"
	"                       written at once, not coalesced by the flusher\n"
	"  --prefix P           subjects are P.<run>.<client> (default\n"
	"                       natspeer)\n"
	"  --json               one JSON object on stdout instead of a table\n"
	"  -h, --help           show this help and exit\n"
	"Exit status: 0 if the run passed every check, 1 if not, 2 on bad "
	"usage.\n";

enum {
	NP_OPT_NATS = 256,
	NP_OPT_SCENARIO,
	NP_OPT_CLIENTS,
	NP_OPT_WINDOW,
	NP_OPT_SIZE,
	NP_OPT_DURATION,
	NP_OPT_WARMUP,
	NP_OPT_TIMEOUT,
	NP_OPT_CONNS,
	NP_OPT_POOL,
	NP_OPT_ASAP,
	NP_OPT_PREFIX,
	NP_OPT_JSON,
};

static const struct option np_long_options[] = {
	{"nats", required_argument, NULL, NP_OPT_NATS},
	{"scenario", required_argument, NULL, NP_OPT_SCENARIO},
	{"clients", required_argument, NULL, NP_OPT_CLIENTS},
	{"window", required_argument, NULL, NP_OPT_WINDOW},
	{"size", required_argument, NULL, NP_OPT_SIZE},
	{"duration", required_argument, NULL, NP_OPT_DURATION},
	{"warmup", required_argument, NULL, NP_OPT_WARMUP},
	{"timeout", required_argument, NULL, NP_OPT_TIMEOUT},
	{"connections", required_argument, NULL, NP_OPT_CONNS},
	{"delivery-threads", required_argument, NULL, NP_OPT_POOL},
	{"send-asap", no_argument, NULL, NP_OPT_ASAP},
	{"prefix", required_argument, NULL, NP_OPT_PREFIX},
	{"json", no_argument, NULL, NP_OPT_JSON},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* --nats: URLs separated by commas; the string is kept, cut in place. */
static void np_add_urls(char *arg)
{
	char *p, *save = NULL;

	for (p = strtok_r(arg, ",", &save); p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		if (np.nurls == NP_MAX_URLS)
			bench_usage_error("--nats: at most %d servers",
					  NP_MAX_URLS);
		np.urls[np.nurls++] = p;
	}
}

static void np_option(int c, char *arg)
{
	struct bench_opts *o = &np.o;

	switch (c) {
	case NP_OPT_NATS:
		np_add_urls(arg);
		break;
	case NP_OPT_SCENARIO:
		if (strcmp(arg, "pairs") == 0)
			o->o_scenario = BENCH_PAIRS;
		else if (strcmp(arg, "pingpong") == 0)
			o->o_scenario = BENCH_PINGPONG;
		else
			bench_usage_error("--scenario: '%s' is not pairs or "
					  "pingpong",
					  arg);
		break;
	case NP_OPT_CLIENTS:
		o->o_clients =
			bench_parse_count("clients", arg, 2, NP_MAX_CLIENTS);
		break;
	case NP_OPT_WINDOW:
		o->o_window = bench_parse_count("window", arg, 1, 1ul << 16);
		break;
	case NP_OPT_SIZE:
		o->o_size = bench_parse_count("size", arg, BENCH_PL_MIN_SIZE,
					      BENCH_PL_MAX_SIZE);
		break;
	case NP_OPT_DURATION:
		o->o_duration = bench_parse_seconds("duration", arg, false);
		break;
	case NP_OPT_WARMUP:
		o->o_warmup = bench_parse_seconds("warmup", arg, true);
		break;
	case NP_OPT_TIMEOUT:
		o->o_timeout = bench_parse_seconds("timeout", arg, false);
		break;
	case NP_OPT_CONNS:
		np.conns = bench_parse_count("connections", arg, 1,
					     NP_MAX_CLIENTS);
		break;
	case NP_OPT_POOL:
		np.pool = (long)bench_parse_count("delivery-threads", arg, 0,
						  256);
		break;
	case NP_OPT_ASAP:
		np.asap = true;
		break;
	case NP_OPT_PREFIX:
		if (*arg == '\0' || strlen(arg) > 24 || strpbrk(arg, " \t*>"))
			bench_usage_error(
				"--prefix: '%s' is not a short subject "
				"token",
				arg);
		np.prefix = arg;
		break;
	case NP_OPT_JSON:
		o->o_json = true;
		break;
	}
}

static void np_parse(int argc, char **argv)
{
	struct bench_opts *o = &np.o;
	int c;

	memset(o, 0, sizeof(*o));
	o->o_scenario = BENCH_PAIRS;
	o->o_window = 64;
	o->o_size = 64;
	o->o_duration = 5;
	o->o_timeout = 10;
	o->o_threads = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", np_long_options, NULL)) !=
	       -1) {
		if (c == 'h') {
			fputs(np_usage, stdout);
			exit(0);
		}
		if (c == ':')
			bench_usage_error("option '%s' needs a value",
					  argv[optind - 1]);
		if (c == '?')
			bench_usage_error("unknown option '%s'",
					  argv[optind - 1]);
		np_option(c, optarg);
	}
	if (optind < argc)
		bench_usage_error("unexpected argument '%s'", argv[optind]);
	if (np.nurls == 0)
		bench_usage_error("--nats URL is required");
	if (o->o_scenario == BENCH_PINGPONG)
		o->o_clients = 2;
	else if (o->o_clients == 0)
		o->o_clients = 64;
	if (o->o_clients % 2 != 0)
		bench_usage_error("--clients: pairs needs an even number");
	if (np.pool < 0)
		np.pool = o->o_clients <= NP_OWN_THREADS ? 0 : NP_DEFAULT_POOL;
	o->o_threads = np.pool > 0 ? (unsigned)np.pool : (unsigned)o->o_clients;
}

/* ---- traffic ---- */

/* Publishes the next message of client c's stream; under c->cl_lock. */
static void np_send(struct np_client *c, uint64_t time)
{
	struct bench_msg m = {.m_stream = c->cl_index,
			      .m_seq = c->cl_tx_seq++,
			      .m_time = time};
	natsStatus s;

	bench_payload_frame(c->cl_buf, 0, &m);
	s = natsConnection_Publish(c->cl_nc, np.cl[c->cl_peer].cl_subject,
				   c->cl_buf + BENCH_FRAME_HEADER,
				   (int)np.o.o_size);
	if (s != NATS_OK) {
		bench_fail("client %u: publishing: %s", c->cl_index,
			   natsStatus_GetText(s));
		return;
	}
	atomic_fetch_add_explicit(&c->cl_tx, 1, memory_order_relaxed);
}

static void np_record(uint64_t now, uint64_t sent)
{
	struct np_hist *h = np_tl;

	if (h == NULL) {
		h = calloc(1, sizeof(*h));
		if (h == NULL) {
			bench_fail("histogram: out of memory");
			return;
		}
		bench_hist_init(&h->nh_hist);
		pthread_mutex_lock(&np.hlock);
		h->nh_next = np.hists;
		np.hists = h;
		pthread_mutex_unlock(&np.hlock);
		np_tl = h;
	}
	h->nh_measured++;
	bench_hist_record(&h->nh_hist, now > sent ? now - sent : 0);
}

/* Checks one message received by client d; -1 (bench_fail) if bad. */
static int np_check(struct np_client *d, const char *data, int len,
		    struct bench_msg *m)
{
	if (len < 1 || data[len - 1] != '\0' ||
	    bench_payload_parse(data, (size_t)len - 1, m) < 0) {
		bench_fail("client %u received a malformed message (%d bytes)",
			   d->cl_index, len);
		return -1;
	}
	if (m->m_stream >= np.ncl ||
	    np.cl[m->m_stream].cl_peer != d->cl_index) {
		bench_fail("client %u received a message of stream %u, meant "
			   "for another client",
			   d->cl_index, m->m_stream);
		return -1;
	}
	if (m->m_seq != d->cl_rx_seq) {
		bench_fail("client %u: stream %u: message %llu where %llu was "
			   "due: lost, duplicated or reordered",
			   d->cl_index, m->m_stream,
			   (unsigned long long)m->m_seq,
			   (unsigned long long)d->cl_rx_seq);
		return -1;
	}
	d->cl_rx_seq++;
	return 0;
}

static void np_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
		      void *closure)
{
	struct np_client *d = closure, *s;
	const char *data = natsMsg_GetData(msg);
	int len = natsMsg_GetDataLength(msg);
	struct bench_msg m;
	uint64_t now;
	bool pong;

	(void)nc;
	(void)sub;
	if (len == 1 && data[0] == 'P') { /* a probe */
		atomic_store(&d->cl_probed, true);
		goto out;
	}
	if (bench_failed() || np_check(d, data, len, &m) < 0)
		goto out;
	now = bench_now_ns();
	atomic_fetch_add_explicit(&d->cl_rx, 1, memory_order_relaxed);
	/*
	 * pingpong: client 1 answers, client 0's receipt of the answer is a
	 * round trip, and gives client 0 its one slot back. pairs: the
	 * receipt gives a slot back to the stream's sender.
	 */
	pong = np.o.o_scenario == BENCH_PINGPONG && d->cl_index == 1;
	if (!pong && now >= np.warm && now < np.end)
		np_record(now, np.base + m.m_time);
	s = np.o.o_scenario == BENCH_PINGPONG ? d : &np.cl[m.m_stream];
	pthread_mutex_lock(&s->cl_lock);
	if (pong) {
		np_send(s, m.m_time);
	} else {
		s->cl_inflight--;
		if (atomic_load_explicit(&np.running, memory_order_relaxed)) {
			s->cl_inflight++;
			np_send(s, now - np.base);
		}
	}
	pthread_mutex_unlock(&s->cl_lock);
out:
	natsMsg_Destroy(msg);
}

static void np_on_error(natsConnection *nc, natsSubscription *sub,
			natsStatus err, void *closure)
{
	(void)nc;
	(void)sub;
	(void)closure;
	bench_fail("NATS: %s (messages dropped: the run cannot pass)",
		   natsStatus_GetText(err));
}

/* ---- setting up ---- */

static natsOptions *np_options(const char *url)
{
	natsOptions *opts = NULL;
	natsStatus s = natsOptions_Create(&opts);

	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, &url, 1);
	if (s == NATS_OK)
		s = natsOptions_SetNoRandomize(opts, true);
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(opts, np.asap);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(opts, np_on_error, NULL);
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(opts, false);
	if (s == NATS_OK && np.pool > 0)
		s = natsOptions_UseGlobalMessageDelivery(opts, true);
	if (s != NATS_OK) {
		bench_fail("NATS options: %s", natsStatus_GetText(s));
		natsOptions_Destroy(opts);
		return NULL;
	}
	return opts;
}

static int np_connect_all(void)
{
	size_t i;

	np.nnc = np.conns && np.conns < np.ncl ? np.conns : np.ncl;
	np.nc = calloc(np.nnc, sizeof(*np.nc));
	if (np.nc == NULL) {
		bench_fail("%zu connections: out of memory", np.nnc);
		return -1;
	}
	for (i = 0; i < np.nnc; i++) {
		natsOptions *opts = np_options(np.urls[i % np.nurls]);
		natsStatus s;

		if (opts == NULL)
			return -1;
		s = natsConnection_Connect(&np.nc[i], opts);
		natsOptions_Destroy(opts);
		if (s != NATS_OK) {
			bench_fail("connection %zu to %s: %s", i,
				   np.urls[i % np.nurls],
				   natsStatus_GetText(s));
			return -1;
		}
	}
	return 0;
}

static int np_subscribe_all(void)
{
	unsigned run = (unsigned)getpid();
	size_t i;

	for (i = 0; i < np.ncl; i++) {
		struct np_client *c = &np.cl[i];
		natsStatus s;

		c->cl_index = (uint32_t)i;
		c->cl_peer = (uint32_t)(i ^ 1);
		c->cl_nc = np.nc[i % np.nnc];
		pthread_mutex_init(&c->cl_lock, NULL);
		c->cl_buf = malloc(np.o.o_size + BENCH_FRAME_HEADER);
		if (c->cl_buf == NULL) {
			bench_fail("out of memory");
			return -1;
		}
		snprintf(c->cl_subject, sizeof(c->cl_subject), "%s.%u.%zu",
			 np.prefix, run, i);
		s = natsConnection_Subscribe(&c->cl_sub, c->cl_nc,
					     c->cl_subject, np_on_msg, c);
		if (s == NATS_OK)
			s = natsSubscription_SetPendingLimits(c->cl_sub, -1,
							      -1);
		if (s != NATS_OK) {
			bench_fail("client %zu: subscribing: %s", i,
				   natsStatus_GetText(s));
			return -1;
		}
	}
	for (i = 0; i < np.nnc; i++)
		if (natsConnection_FlushTimeout(np.nc[i], 10000) != NATS_OK) {
			bench_fail("connection %zu: no answer to a flush", i);
			return -1;
		}
	return 0;
}

/*
 * Probes every sender's path until each client has had one from its
 * sender: the subscriptions' interest has then reached every server.
 */
static int np_probe_all(void)
{
	uint64_t t0 = bench_now_ns(), limit = bench_s_to_ns(np.o.o_timeout);
	size_t i;

	for (;;) {
		size_t missing = 0;

		for (i = 0; i < np.ncl; i++) {
			struct np_client *c = &np.cl[i];

			if (atomic_load(&np.cl[c->cl_peer].cl_probed))
				continue;
			missing++;
			(void)natsConnection_Publish(
				c->cl_nc, np.cl[c->cl_peer].cl_subject, "P", 1);
		}
		if (missing == 0)
			break;
		if (bench_failed())
			return -1;
		if (bench_now_ns() - t0 > limit) {
			bench_fail("%zu of %zu clients had no probe from their "
				   "sender in %.1f s: the servers' interest "
				   "did not spread",
				   missing, np.ncl, np.o.o_timeout);
			return -1;
		}
		bench_sleep_ns(NP_PROBE_NS);
	}
	bench_sleep_ns(NP_PROBE_NS); /* probes still under way arrive */
	return 0;
}

/* ---- the run ---- */

static void np_totals(uint64_t *tx, uint64_t *rx)
{
	size_t i;

	*tx = *rx = 0;
	for (i = 0; i < np.ncl; i++) {
		*tx += atomic_load_explicit(&np.cl[i].cl_tx,
					    memory_order_relaxed);
		*rx += atomic_load_explicit(&np.cl[i].cl_rx,
					    memory_order_relaxed);
	}
}

/* Every sender's first window (pingpong: client 0's one ping). */
static void np_start(void)
{
	unsigned long w = np.o.o_scenario == BENCH_PINGPONG ? 1 : np.o.o_window;
	size_t i, n = np.o.o_scenario == BENCH_PINGPONG ? 1 : np.ncl;
	unsigned long k;

	atomic_store(&np.running, true);
	for (k = 0; k < w; k++)
		for (i = 0; i < n; i++) {
			struct np_client *c = &np.cl[i];

			pthread_mutex_lock(&c->cl_lock);
			c->cl_inflight++;
			np_send(c, bench_now_ns() - np.base);
			pthread_mutex_unlock(&c->cl_lock);
		}
}

/* Runs until the end, then waits for everything sent to arrive. */
static void np_wait(struct bench_result *r)
{
	uint64_t tx, rx, last_rx = 0, last = bench_now_ns();
	uint64_t limit = bench_s_to_ns(np.o.o_timeout);

	while (!bench_failed()) {
		uint64_t now = bench_now_ns();

		if (now >= np.end)
			atomic_store(&np.running, false);
		np_totals(&tx, &rx);
		if (rx != last_rx) {
			last_rx = rx;
			last = now;
		}
		if (now >= np.end && tx == rx)
			break;
		if (now - last > limit) {
			bench_fail("no progress for %.1f s: %llu sent, %llu "
				   "received",
				   np.o.o_timeout, (unsigned long long)tx,
				   (unsigned long long)rx);
			break;
		}
		bench_sleep_ns(NP_POLL_NS);
	}
	atomic_store(&np.running, false);
	np_totals(&r->r_sent_total, &r->r_received_total);
}

static void np_collect(struct bench_result *r)
{
	struct np_hist *h;

	r->r_hist = malloc(sizeof(*r->r_hist));
	if (r->r_hist == NULL)
		return;
	bench_hist_init(r->r_hist);
	pthread_mutex_lock(&np.hlock);
	for (h = np.hists; h != NULL; h = h->nh_next) {
		bench_hist_merge(r->r_hist, &h->nh_hist);
		r->r_messages += h->nh_measured;
	}
	pthread_mutex_unlock(&np.hlock);
}

static void np_run(struct bench_result *r)
{
	uint64_t t0 = bench_now_ns();

	r->r_scenario = bench_scenario_name(np.o.o_scenario);
	r->r_clients = np.ncl;
	r->r_traffic = true;
	r->r_window = np.o.o_scenario == BENCH_PINGPONG ? 1 : np.o.o_window;
	r->r_size = np.o.o_size;
	r->r_senders = np.o.o_scenario == BENCH_PINGPONG ? 1 : np.ncl;
	r->r_receivers = r->r_senders;
	if (np_connect_all() < 0 || np_subscribe_all() < 0 ||
	    np_probe_all() < 0)
		return;
	r->r_setup_s = bench_ns_to_s(bench_now_ns() - t0);
	np.base = bench_now_ns();
	np.warm = np.base + bench_s_to_ns(np.o.o_warmup);
	np.end = np.warm + bench_s_to_ns(np.o.o_duration);
	np_start();
	np_wait(r);
	r->r_elapsed_s = bench_ns_to_s(bench_now_ns() - np.base);
	np_collect(r);
	if (!bench_failed() && r->r_sent_total != r->r_received_total)
		bench_fail("%llu sent, %llu received",
			   (unsigned long long)r->r_sent_total,
			   (unsigned long long)r->r_received_total);
}

static void np_close_all(void)
{
	size_t i;

	for (i = 0; i < np.ncl && np.cl != NULL; i++)
		if (np.cl[i].cl_sub != NULL)
			natsSubscription_Unsubscribe(np.cl[i].cl_sub);
	for (i = 0; i < np.nnc && np.nc != NULL; i++)
		if (np.nc[i] != NULL)
			natsConnection_Close(np.nc[i]);
	for (i = 0; i < np.ncl && np.cl != NULL; i++) {
		natsSubscription_Destroy(np.cl[i].cl_sub);
		free(np.cl[i].cl_buf);
	}
	for (i = 0; i < np.nnc && np.nc != NULL; i++)
		natsConnection_Destroy(np.nc[i]);
	free(np.cl);
	free(np.nc);
}

/* Raises the soft descriptor limit to the hard one: a socket per client. */
static void np_fit_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct bench_result r;
	natsStatus s;

	bench_prog = "nats-peer";
	np_parse(argc, argv);
	np_fit_fds();
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&np.hlock, NULL);
	s = nats_Open(-1);
	if (s == NATS_OK && np.pool > 0)
		s = nats_SetMessageDeliveryPoolSize((int)np.pool);
	if (s != NATS_OK) {
		fprintf(stderr, "nats-peer: libnats: %s\n",
			natsStatus_GetText(s));
		return 1;
	}
	np.ncl = np.o.o_clients;
	np.cl = calloc(np.ncl, sizeof(*np.cl));
	if (np.cl == NULL || bench_payload_init(np.o.o_size) < 0)
		bench_fail("out of memory");
	else
		np_run(&r);
	bench_report(&np.o, &r);
	np_close_all();
	free(r.r_hist);
	nats_Close();
	return bench_failed() ? 1 : 0;
}
