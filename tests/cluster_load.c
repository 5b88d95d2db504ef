/* SPDX-License-Identifier: ISC */
/*
 * cluster_load.c: the load generator and checker of the cluster tests
 * (tests/cluster_*.sh, through tests/cluster_lib.sh). Built with the tests,
 * not one of them.
 *
 * It connects N clients spread round-robin over the daemons named by
 * --ports (client i to the i-th entry modulo their count; an entry may
 * repeat, to put clients where a scenario wants them), reads their ids,
 * and sends numbered frames along the flows of a pattern:
 *
 *   pairs   client 2k <-> client 2k+1 (an odd last one sends to client 0)
 *   fanin   every client but 0 -> client 0
 *   fanout  client 0 -> every other client
 *   all     every client -> every other client
 *
 * A payload is printable text, "SSSSSSSS DDDDDDDD NNNNNNNNNN " (sender id,
 * destination id in hex, sequence in decimal) followed by filler that
 * depends on the sequence, up to --size bytes. Every receiver checks, per
 * sender: the destination is itself, the filler is intact, and the
 * sequence has no gap, no duplicate and no reordering.
 *
 * Flow control: each flow (sender, destination) has at most --window
 * frames sent and not yet received (0: no limit), so a slow destination
 * holds back only its own flows, never the sender's other ones. With
 * --allow-loss, a flow whose window stays full with nothing arriving for
 * --expire-ms writes off what it has in flight and goes on, so a sender
 * is not stopped for good by frames the cluster dropped.
 *
 * Gaps: the time a flow waits with frames in flight and none arriving,
 * from the later of its last arrival and the queueing of a frame while it
 * had none in flight, to the next arrival. The longest gap of any flow is
 * the pause its clients saw (a daemon frozen, say); the load's own pace
 * (--rate) is not in it, an idle flow having nothing in flight. Measured
 * in microseconds, kept in a histogram (3% buckets) for the 99th
 * percentile. The flows of --idle clients are not counted.
 *
 * --idle N connects N more clients (after the --clients ones, continuing
 * the round-robin over --ports) that send nothing and are not even polled
 * while the load runs: they stand for connected, silent clients. Once
 * every other flow has ended and arrived, each sends one frame to its
 * partner among them (pairs: 2k <-> 2k+1, an odd last one to the first),
 * so the run shows they are still connected and their ids still route.
 *
 * With --phases the run is driven by signals, for a script that does
 * something to the daemon meanwhile (bench/restart.sh): it prints
 * "connected clients=.. idle=.. connect_ms=.." once every client has its
 * id; SIGUSR1 prints "phase n=.. t_ms=.. arrivals=.. max_gap_ms=..
 * p99_gap_ms=.. stalled_ms=.. sent=.. received=.." for the gaps that ended
 * since the last one (stalled_ms: the longest wait still going on), and
 * starts a new phase; SIGUSR2 ends the sending, as the end of
 * --duration-ms would (--frames 0 then needs no --duration-ms).
 *
 * A client named by --no-read never reads: the flows to it are not
 * windowed, capped at --frames, excluded from the totals (counted as
 * noread_sent), and when the daemon cuts it (noread_cut=1) nothing more is
 * sent to it. A cut is seen by reading: the daemon's FIN waits behind the
 * unread bytes. So once every frame for it has been written whole (which,
 * when they are more than the buffers on the way hold, means the daemon
 * let its sender go), the client reads and discards what it has, and
 * noread_cut=1 once its connection ends. With --wait-cut the run ends only
 * then (and fails if it did not by --timeout-ms).
 *
 * With --duration-ms the flows send until then (--frames, when given, is
 * a cap), then stop and wait for everything sent to arrive. Without it each
 * flow sends --frames frames. With --stop-file the flows also stop
 * sending once that file exists (looked for every 100 ms), as SIGUSR2
 * makes them with --phases: a script ends the load when it is done with
 * it, however long that took, with no signal to get past timeout(1).
 * --rate limits each flow to so many frames a second, the flows' schedules
 * staggered over one period, so that they do not all send in the same
 * millisecond. --timeout-ms is a hard limit on the whole run.
 *
 * Output: with --progress-ms, a line "progress t_ms=.. sent=.. received=.."
 * now and then; at the end one line
 *   sent=.. received=.. lost=.. gaps=.. dups=.. reorders=.. corrupt=..
 *   misrouted=.. closed=.. noread_sent=.. noread_cut=.. flows=.. elapsed_ms=..
 *   idle=.. max_gap_ms=.. p99_gap_ms=.. timed_out=.. ok=..
 * (one line), and the exit status 0 only if everything sent was received
 * exactly once, in order (with --allow-loss: loss is counted but not a
 * failure; duplicates, reordering, corruption and misrouting still are).
 * Status 1: a check failed; 2: usage or set-up error. Details of failures
 * go to stderr, lines starting "FAIL:" (the first few of each kind).
 *
 * Single-threaded: one poll() loop over non-blocking sockets.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_LEN   29	  /* "%08x %08x %010u " */
#define OUT_CAP	   65536  /* bytes queued per client, beyond one frame */
#define IN_CAP	   262144 /* bytes read per client per turn */
#define MAX_SIZE   1048576
#define FAIL_SHOWN 5 /* failures of one kind told on stderr */
#define CONNECT_MS 10000
#define GAP_SUB	   32 /* histogram buckets per power of two */
#define GAP_HIST   (GAP_SUB * 60)

struct flow {
	int src, dst;	      /* client indexes */
	bool noread;	      /* to the client that never reads */
	bool idle;	      /* of --idle clients: one frame, at the end */
	bool done;	      /* sends nothing more */
	uint64_t queued;      /* frames put in the sender's output */
	uint64_t sent;	      /* of those, written whole to the socket */
	uint64_t written_off; /* in flight, given up (--allow-loss) */
	/* receiving side */
	uint64_t received; /* distinct frames received */
	uint64_t highest;  /* highest sequence received + 1 */
	uint64_t missing;  /* below highest, not (yet) received */
	uint8_t *seen;	   /* bitmap of sequences received */
	uint64_t seen_bits;
	int64_t last_progress_ms; /* last arrival, or the window's last opening
				   */
	int64_t wait_us; /* since when it waits for an arrival (gaps) */
};

struct gaps { /* gaps of flows, in microseconds */
	uint64_t n;
	int64_t max_us;
	uint64_t bucket[GAP_HIST];
};

struct rec { /* a frame in a client's output: where it ends, its flow */
	size_t end;
	int flow;
};

struct client {
	int fd;
	const char *host;
	int port;
	uint32_t id;
	bool noread, closed, cut;
	bool idle;     /* one of --idle: not polled until the idle frames go */
	bool draining; /* the non-reader, reading now to see its end */
	/* output */
	char *out;
	size_t out_cap; /* OUT_CAP, or one frame for an idle client */
	size_t out_head, out_tail;
	struct rec *recs;
	size_t rec_head, rec_tail, rec_cap;
	int *flows; /* the flows it sends, round-robin from rr */
	int nflows, rr;
	/* input */
	char *in;
	size_t in_cap; /* IN_CAP, or one frame for an idle client */
	size_t in_len;
};

/* Options */
static const char *o_ports;
static int o_clients = 2;
static const char *o_pattern = "pairs";
static uint64_t o_frames;
static bool o_frames_set;
static size_t o_size = 64;
static uint64_t o_window = 64;
static int64_t o_timeout_ms = 60000;
static int o_noread = -1;
static int64_t o_duration_ms;
static bool o_allow_loss;
static bool o_wait_cut;
static int64_t o_expire_ms = 2000;
static int64_t o_quiet_ms = 5000;
static uint64_t o_rate;
static int64_t o_progress_ms;
static int o_idle;
static bool o_phases;
static const char *o_stop_file;

static struct client *clients;
static int nclients;
static struct flow *flows;
static int nflows;
static int nflows_active; /* the flows before the idle clients' ones */
static bool idle_go;	  /* the idle clients send their frames now */
static size_t frame_max;  /* header + payload + NUL */

/* Totals of checks */
static uint64_t n_dups, n_reorders, n_corrupt, n_misrouted, n_closed;
static uint64_t n_gap_events;
static struct gaps run_gaps, phase_gaps;

/* --phases: set by the signal handlers, acted on by the main loop. */
static volatile sig_atomic_t got_mark, got_stop;
static bool stopping;

static int64_t t0_ms;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Log-linear: exact below GAP_SUB us, then GAP_SUB buckets per power of
 * two. */
static int gap_bucket(uint64_t us)
{
	int e;

	if (us < GAP_SUB)
		return (int)us;
	e = 63 - __builtin_clzll(us); /* >= 5: GAP_SUB is 2^5 */
	return GAP_SUB + (e - 5) * GAP_SUB + (int)((us >> (e - 5)) - GAP_SUB);
}

/* The highest value of bucket b. */
static int64_t gap_bucket_top(int b)
{
	int e;

	if (b < GAP_SUB)
		return b;
	e = (b - GAP_SUB) / GAP_SUB + 5;
	return (int64_t)((((uint64_t)(b % GAP_SUB) + GAP_SUB + 1) << (e - 5)) -
			 1);
}

static void gap_add(struct gaps *g, int64_t us)
{
	if (us < 0)
		us = 0;
	g->n++;
	if (us > g->max_us)
		g->max_us = us;
	g->bucket[gap_bucket((uint64_t)us)]++;
}

/* The 99th percentile, at the top of its bucket, at most the maximum. */
static int64_t gap_p99(const struct gaps *g)
{
	uint64_t rank = (g->n * 99 + 99) / 100, seen = 0;
	int b;

	if (!g->n)
		return 0;
	for (b = 0; b < GAP_HIST; b++) {
		seen += g->bucket[b];
		if (seen >= rank)
			break;
	}
	return gap_bucket_top(b) < g->max_us ? gap_bucket_top(b) : g->max_us;
}

static void fail_msg(uint64_t count, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_msg(uint64_t count, const char *fmt, ...)
{
	va_list ap;

	if (count > FAIL_SHOWN)
		return;
	fputs("FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("cluster_load: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die("out of memory");
	return p;
}

static uint64_t num(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		die("%s: not a number: %s", opt, s);
	return v;
}

static void usage(void)
{
	fputs("usage: cluster_load --ports [HOST:]PORT[,...] [--clients N]\n"
	      "  [--pattern pairs|fanin|fanout|all] [--frames F] [--size "
	      "BYTES]\n"
	      "  [--window W] [--timeout-ms T] [--no-read INDEX]\n"
	      "  [--duration-ms D] [--rate FRAMES_PER_S] [--allow-loss]\n"
	      "  [--expire-ms E] [--quiet-ms Q] [--progress-ms P] "
	      "[--wait-cut]\n"
	      "  [--idle N] [--phases] [--stop-file PATH]\n",
	      stderr);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--allow-loss")) {
			o_allow_loss = true;
			continue;
		}
		if (!strcmp(a, "--wait-cut")) {
			o_wait_cut = true;
			continue;
		}
		if (!strcmp(a, "--phases")) {
			o_phases = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage();
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--ports"))
			o_ports = v;
		else if (!strcmp(a, "--clients"))
			o_clients = (int)num(a, v);
		else if (!strcmp(a, "--pattern"))
			o_pattern = v;
		else if (!strcmp(a, "--frames")) {
			o_frames = num(a, v);
			o_frames_set = true;
		} else if (!strcmp(a, "--size"))
			o_size = num(a, v);
		else if (!strcmp(a, "--window"))
			o_window = num(a, v);
		else if (!strcmp(a, "--timeout-ms"))
			o_timeout_ms = (int64_t)num(a, v);
		else if (!strcmp(a, "--no-read"))
			o_noread = (int)num(a, v);
		else if (!strcmp(a, "--duration-ms"))
			o_duration_ms = (int64_t)num(a, v);
		else if (!strcmp(a, "--rate"))
			o_rate = num(a, v);
		else if (!strcmp(a, "--expire-ms"))
			o_expire_ms = (int64_t)num(a, v);
		else if (!strcmp(a, "--quiet-ms"))
			o_quiet_ms = (int64_t)num(a, v);
		else if (!strcmp(a, "--progress-ms"))
			o_progress_ms = (int64_t)num(a, v);
		else if (!strcmp(a, "--idle"))
			o_idle = (int)num(a, v);
		else if (!strcmp(a, "--stop-file"))
			o_stop_file = v;
		else
			usage();
	}
	if (!o_ports)
		die("--ports is required");
	if (o_clients < 1 || o_clients > 20000)
		die("--clients: 1 to 20000");
	if (o_idle < 0 || o_idle > 20000 - o_clients)
		die("--idle: --clients and --idle together at most 20000");
	if (o_idle == 1)
		die("--idle 1: idle clients send to each other, at least 2");
	if (o_idle && o_allow_loss)
		die("--idle and --allow-loss: not together");
	if (o_size < HEAD_LEN)
		o_size = HEAD_LEN;
	if (o_size > MAX_SIZE)
		die("--size: at most %d", MAX_SIZE);
	if (!o_frames_set && !o_duration_ms)
		o_frames = 1000;
	if (!o_frames && !o_duration_ms && !o_phases && !o_stop_file)
		die("--frames 0 (no limit) needs --duration-ms, --phases or "
		    "--stop-file");
	if (o_noread >= o_clients)
		die("--no-read %d: there are %d clients", o_noread, o_clients);
	if (o_wait_cut && o_noread < 0)
		die("--wait-cut needs --no-read");
	frame_max = 4 + o_size + 1;
}

/* The ports list, parsed: hosts point into ports_list. */
static char *ports_list;
static const char **hosts;
static int *ports;

/* The ports list: entry i of the comma-separated list. */
static void client_addr(int i, const char **host, int *port)
{
	static int n;

	if (!hosts) {
		char *list = ports_list = strdup(o_ports), *save = NULL, *tok;

		if (!list)
			die("out of memory");
		hosts = xcalloc(strlen(o_ports) + 1, sizeof(*hosts));
		ports = xcalloc(strlen(o_ports) + 1, sizeof(*ports));
		for (tok = strtok_r(list, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *colon = strrchr(tok, ':');

			if (colon) {
				*colon = '\0';
				hosts[n] = tok;
				ports[n] = (int)num("--ports", colon + 1);
			} else {
				hosts[n] = "127.0.0.1";
				ports[n] = (int)num("--ports", tok);
			}
			if (ports[n] < 1 || ports[n] > 65535)
				die("--ports: bad port in %s", o_ports);
			n++;
		}
		if (!n)
			die("--ports: empty");
	}
	*host = hosts[i % n];
	*port = ports[i % n];
}

static void connect_client(struct client *c)
{
	struct sockaddr_in sa;
	unsigned char idb[4];
	size_t got = 0;
	int one = 1;
	int64_t deadline = now_ms() + CONNECT_MS;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)c->port);
	if (inet_pton(AF_INET, c->host, &sa.sin_addr) != 1)
		die("bad IPv4 address %s", c->host);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s:%d: %s", c->host, c->port, strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	while (got < 4) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			die("%s:%d: no id within %d ms", c->host, c->port,
			    CONNECT_MS);
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		n = recv(c->fd, idb + got, 4 - got, 0);
		if (n == 0)
			die("%s:%d: closed before the id", c->host, c->port);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("%s:%d: %s", c->host, c->port, strerror(errno));
		}
		got += (size_t)n;
	}
	c->id = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 |
		(uint32_t)idb[2] << 8 | idb[3];
}

static void add_flow(int src, int dst)
{
	struct flow *f = &flows[nflows];

	f->src = src;
	f->dst = dst;
	f->noread = clients[dst].noread;
	f->idle = clients[src].idle;
	nflows++;
}

/* The flows of the pattern among the first n clients. */
static void make_flows(int n)
{
	int i, j, max;

	if (!strcmp(o_pattern, "all"))
		max = n * (n - 1);
	else
		max = n;
	flows = xcalloc((size_t)(max + o_idle), sizeof(*flows));
	if (!strcmp(o_pattern, "pairs")) {
		for (i = 0; i + 1 < n; i += 2) {
			add_flow(i, i + 1);
			add_flow(i + 1, i);
		}
		if (n % 2 && n > 1)
			add_flow(n - 1, 0);
	} else if (!strcmp(o_pattern, "fanin")) {
		for (i = 1; i < n; i++)
			add_flow(i, 0);
	} else if (!strcmp(o_pattern, "fanout")) {
		for (i = 1; i < n; i++)
			add_flow(0, i);
	} else if (!strcmp(o_pattern, "all")) {
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				if (i != j)
					add_flow(i, j);
	} else {
		die("--pattern: pairs, fanin, fanout or all, not %s",
		    o_pattern);
	}
	if (!nflows)
		die("pattern %s with %d clients has no flow", o_pattern, n);
	nflows_active = nflows;
	/* The idle clients, in pairs among themselves. */
	for (i = n; i + 1 < nclients; i += 2) {
		add_flow(i, i + 1);
		add_flow(i + 1, i);
	}
	if ((nclients - n) % 2)
		add_flow(nclients - 1, n);
	/* Each sender's list as long as it needs: nclients each would be
	 * 480 MB for 11,000 clients. */
	for (i = 0; i < nflows; i++)
		clients[flows[i].src].nflows++;
	for (i = 0; i < nclients; i++) {
		if (clients[i].nflows)
			clients[i].flows =
				xcalloc((size_t)clients[i].nflows, sizeof(int));
		clients[i].nflows = 0;
	}
	for (i = 0; i < nflows; i++) {
		struct client *c = &clients[flows[i].src];

		c->flows[c->nflows++] = i;
	}
}

/* The flows by (sender id, destination id): an open-addressing table. */
static int *ftab;
static size_t ftab_mask;

static size_t fhash(uint32_t src, uint32_t dst)
{
	uint64_t k = (uint64_t)src << 32 | dst;

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k & ftab_mask;
}

static void index_flows(void)
{
	size_t cap = 16, h;
	int i;

	while (cap < (size_t)nflows * 2)
		cap <<= 1;
	ftab = xcalloc(cap, sizeof(int));
	ftab_mask = cap - 1;
	for (h = 0; h < cap; h++)
		ftab[h] = -1;
	for (i = 0; i < nflows; i++) {
		h = fhash(clients[flows[i].src].id, clients[flows[i].dst].id);
		while (ftab[h] >= 0)
			h = (h + 1) & ftab_mask;
		ftab[h] = i;
	}
}

static int find_flow(uint32_t src, uint32_t dst)
{
	size_t h = fhash(src, dst);

	while (ftab[h] >= 0) {
		const struct flow *f = &flows[ftab[h]];

		if (clients[f->src].id == src && clients[f->dst].id == dst)
			return ftab[h];
		h = (h + 1) & ftab_mask;
	}
	return -1;
}

static char filler(uint64_t seq, size_t i)
{
	return (char)('a' + (seq + i) % 26);
}

/* May flow f queue one more frame now? */
static bool flow_may_send(struct flow *f, int64_t t)
{
	uint64_t in_flight;

	if (f->done || clients[f->src].closed)
		return false;
	if (f->noread) {
		if (clients[f->dst].cut) {
			f->done = true;
			return false;
		}
	} else if (clients[f->dst].closed) {
		f->done = true;
		return false;
	}
	if (f->idle) {
		if (!idle_go)
			return false;
		if (f->queued >= 1) {
			f->done = true;
			return false;
		}
		return true;
	}
	if (stopping || (o_duration_ms && t - t0_ms >= o_duration_ms)) {
		f->done = true;
		return false;
	}
	if (o_frames && f->queued >= o_frames) {
		f->done = true;
		return false;
	}
	if (o_rate) {
		/* Flow k's frames are due k/nflows_active of a period early. */
		uint64_t lead = (uint64_t)(f - flows) * 1000 / nflows_active;

		if (f->queued >=
		    (o_rate * (uint64_t)(t - t0_ms) + lead) / 1000 + 1)
			return false;
	}
	if (o_window && !f->noread) {
		in_flight = f->queued - f->received - f->written_off;
		if (f->received + f->written_off > f->queued)
			in_flight = 0;
		if (in_flight >= o_window) {
			if (o_allow_loss && o_expire_ms &&
			    t - f->last_progress_ms >= o_expire_ms) {
				f->written_off += in_flight;
				f->last_progress_ms = t;
				return true;
			}
			return false;
		}
	}
	return true;
}

/* Looks for --stop-file, at most every 100 ms: there, the sending stops. */
static void stop_check(int64_t t)
{
	static int64_t next;

	if (!o_stop_file || stopping || t < next)
		return;
	stopping = access(o_stop_file, F_OK) == 0;
	next = t + 100;
}

/* Queues frames of c's flows, round-robin, while there is room. */
static void fill(struct client *c, int64_t t)
{
	int idle = 0;

	if (c->closed || !c->nflows)
		return;
	while (idle < c->nflows) {
		struct flow *f;
		char *p;
		size_t i;
		uint64_t seq;
		int fi;

		if (c->out_tail + frame_max > c->out_cap + frame_max ||
		    c->rec_tail - c->rec_head >= c->rec_cap)
			break;
		fi = c->flows[c->rr];
		f = &flows[fi];
		c->rr = (c->rr + 1) % c->nflows;
		if (!flow_may_send(f, t)) {
			idle++;
			continue;
		}
		idle = 0;
		if (f->queued == 0 || !o_window)
			f->last_progress_ms = t;
		if (f->queued <= f->received + f->written_off)
			f->wait_us = now_us(); /* none in flight until now */
		seq = f->queued++;
		p = c->out + c->out_tail;
		p[0] = (char)(clients[f->dst].id >> 24);
		p[1] = (char)(clients[f->dst].id >> 16);
		p[2] = (char)(clients[f->dst].id >> 8);
		p[3] = (char)clients[f->dst].id;
		snprintf(p + 4, HEAD_LEN + 1,
			 "%08" PRIx32 " %08" PRIx32 " %010" PRIu64 " ", c->id,
			 clients[f->dst].id, (uint64_t)(seq % 10000000000ULL));
		for (i = HEAD_LEN; i < o_size; i++)
			p[4 + i] = filler(seq, i);
		p[4 + o_size] = '\0';
		c->out_tail += frame_max;
		c->recs[c->rec_tail % c->rec_cap] =
			(struct rec){.end = c->out_tail, .flow = fi};
		c->rec_tail++;
	}
}

static void mark_closed(struct client *c, const char *why)
{
	if (c->closed)
		return;
	c->closed = true;
	if (c->noread) {
		c->cut = true;
		return;
	}
	n_closed++;
	fail_msg(n_closed, "client %08" PRIx32 " (%s:%d) %s", c->id, c->host,
		 c->port, why);
}

static void flush_out(struct client *c)
{
	while (c->out_head < c->out_tail) {
		ssize_t n = send(c->fd, c->out + c->out_head,
				 c->out_tail - c->out_head, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			mark_closed(c, strerror(errno));
			return;
		}
		c->out_head += (size_t)n;
	}
	while (c->rec_head < c->rec_tail &&
	       c->recs[c->rec_head % c->rec_cap].end <= c->out_head) {
		flows[c->recs[c->rec_head % c->rec_cap].flow].sent++;
		c->rec_head++;
	}
	if (c->out_head == c->out_tail) {
		c->out_head = c->out_tail = 0;
		c->rec_head = c->rec_tail = 0;
	} else if (c->out_head > c->out_cap / 2) {
		size_t k;

		memmove(c->out, c->out + c->out_head,
			c->out_tail - c->out_head);
		for (k = c->rec_head; k < c->rec_tail; k++)
			c->recs[k % c->rec_cap].end -= c->out_head;
		c->out_tail -= c->out_head;
		c->out_head = 0;
	}
}

static bool bit_test_set(struct flow *f, uint64_t seq)
{
	bool was;

	if (seq >= f->seen_bits) {
		uint64_t bits = f->seen_bits ? f->seen_bits : 1024;
		uint8_t *p;

		while (bits <= seq)
			bits *= 2;
		p = realloc(f->seen, (size_t)(bits / 8));
		if (!p)
			die("out of memory");
		memset(p + f->seen_bits / 8, 0,
		       (size_t)((bits - f->seen_bits) / 8));
		f->seen = p;
		f->seen_bits = bits;
	}
	was = f->seen[seq / 8] & (1u << (seq % 8));
	f->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	return was;
}

static void check_frame(struct client *c, const char *s, size_t len, int64_t t,
			int64_t t_us)
{
	unsigned int src, dst;
	unsigned long long seq;
	int fi, used = 0;
	struct flow *f;
	size_t i;

	if (len < HEAD_LEN ||
	    sscanf(s, "%8x %8x %10llu %n", &src, &dst, &seq, &used) != 3 ||
	    used != HEAD_LEN) {
		n_corrupt++;
		fail_msg(n_corrupt,
			 "client %08" PRIx32 ": bad frame (%zu "
			 "bytes) \"%.40s\"",
			 c->id, len, s);
		return;
	}
	if (dst != c->id) {
		n_misrouted++;
		fail_msg(n_misrouted,
			 "client %08" PRIx32 " got a frame for "
			 "%08x from %08x, seq %llu",
			 c->id, dst, src, seq);
		return;
	}
	fi = find_flow(src, dst);
	if (fi < 0) {
		n_misrouted++;
		fail_msg(n_misrouted,
			 "client %08" PRIx32 " got a frame from "
			 "%08x, which does not send to it",
			 c->id, src);
		return;
	}
	f = &flows[fi];
	if (len != o_size) {
		n_corrupt++;
		fail_msg(n_corrupt,
			 "flow %08x->%08x seq %llu: %zu bytes, not "
			 "%zu",
			 src, dst, seq, len, o_size);
		return;
	}
	for (i = HEAD_LEN; i < len; i++)
		if (s[i] != filler(seq, i)) {
			n_corrupt++;
			fail_msg(n_corrupt,
				 "flow %08x->%08x seq %llu: byte "
				 "%zu corrupt",
				 src, dst, seq, i);
			return;
		}
	if (bit_test_set(f, seq)) {
		n_dups++;
		fail_msg(n_dups, "flow %08x->%08x: seq %llu again", src, dst,
			 seq);
		return;
	}
	f->received++;
	f->last_progress_ms = t;
	if (!f->idle) {
		gap_add(&run_gaps, t_us - f->wait_us);
		gap_add(&phase_gaps, t_us - f->wait_us);
	}
	f->wait_us = t_us;
	if (seq >= f->highest) {
		if (seq > f->highest && !o_allow_loss)
			fail_msg(++n_gap_events,
				 "flow %08x->%08x: seq %llu "
				 "after %" PRIu64 " (gap)",
				 src, dst, seq, f->highest - 1);
		f->missing += seq - f->highest;
		f->highest = seq + 1;
	} else {
		/* A sequence skipped before: arrived late, out of order. */
		f->missing--;
		n_reorders++;
		fail_msg(n_reorders,
			 "flow %08x->%08x: seq %llu after %" PRIu64
			 " (reordered)",
			 src, dst, seq, f->highest - 1);
	}
}

static void read_in(struct client *c, int64_t t)
{
	for (;;) {
		ssize_t n;
		size_t start = 0, k;
		int64_t t_us;

		if (c->in_len == c->in_cap)
			die("client %08" PRIx32 ": a frame longer than %zu "
			    "bytes",
			    c->id, c->in_cap);
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n == 0) {
			mark_closed(c, "closed by the daemon");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				mark_closed(c, strerror(errno));
			return;
		}
		t_us = now_us();
		for (k = c->in_len; k < c->in_len + (size_t)n; k++)
			if (c->in[k] == '\0') {
				check_frame(c, c->in + start, k - start, t,
					    t_us);
				start = k + 1;
			}
		c->in_len += (size_t)n;
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
		if ((size_t)n < c->in_cap / 2)
			return; /* one read a turn, unless it was big */
	}
}

/* The non-reader, once everything for it is written: discard, see EOF. */
static void drain(struct client *c)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n == 0) {
			mark_closed(c, "cut");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				mark_closed(c, "cut");
			return;
		}
	}
}

struct totals {
	uint64_t sent, received, lost, gaps, noread_sent;
	bool all_sent, all_received, noread_done;
	bool active_done; /* before idle_go: all but the idle ones' flows */
};

static struct totals totals(void)
{
	struct totals s = {
		.all_sent = true, .all_received = true, .noread_done = true};
	int i;

	/* Until the idle clients send, their flows need no look. */
	for (i = 0; i < (idle_go ? nflows : nflows_active); i++) {

		const struct flow *f = &flows[i];

		/* A sender the daemon closed sends nothing more. */
		bool stuck = clients[f->src].closed;

		if (f->noread) {
			s.noread_sent += f->sent;
			if (!stuck && (!f->done || f->sent < f->queued))
				s.all_sent = s.noread_done = false;
			continue;
		}
		s.sent += f->sent;
		s.received += f->received;
		s.gaps += f->missing;
		if (f->sent > f->received)
			s.lost += f->sent - f->received;
		if (!stuck && (!f->done || f->sent < f->queued))
			s.all_sent = false;
		if (f->received < f->sent)
			s.all_received = false;
	}
	if (!idle_go) {
		s.active_done = s.all_sent && s.all_received;
		if (o_idle)
			s.all_sent = false;
	}
	return s;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_mark = 1;
	else
		got_stop = 1;
}

/* --phases: the signals interrupt poll(), not restart it. */
static void phase_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

/* The gaps of the phase that ends now, and the longest wait going on. */
static void phase_line(int n, int64_t t, const struct totals *s)
{
	int64_t now = now_us(), stalled = 0;
	int i;

	for (i = 0; i < nflows_active; i++) {
		const struct flow *f = &flows[i];

		if (f->noread || f->queued <= f->received + f->written_off)
			continue;
		if (now - f->wait_us > stalled)
			stalled = now - f->wait_us;
	}
	printf("phase n=%d t_ms=%" PRId64 " arrivals=%" PRIu64
	       " max_gap_ms=%.1f p99_gap_ms=%.1f stalled_ms=%.1f sent=%" PRIu64
	       " received=%" PRIu64 "\n",
	       n, t - t0_ms, phase_gaps.n, (double)phase_gaps.max_us / 1000,
	       (double)gap_p99(&phase_gaps) / 1000, (double)stalled / 1000,
	       s->sent, s->received);
	memset(&phase_gaps, 0, sizeof(phase_gaps));
}

int main(int argc, char **argv)
{
	struct pollfd *pfd;
	int64_t deadline, last_arrival, next_progress;
	bool timed_out = false, ok, cut_ok = true;
	struct totals s;
	uint64_t prev_received = 0;
	int i, phase = 0;
	int64_t c0;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	if (o_phases)
		phase_signals();
	nclients = o_clients + o_idle;
	clients = xcalloc((size_t)nclients, sizeof(*clients));
	c0 = now_ms();
	for (i = 0; i < nclients; i++) {
		struct client *c = &clients[i];

		client_addr(i, &c->host, &c->port);
		c->noread = i == o_noread;
		c->idle = i >= o_clients;
		connect_client(c);
	}
	if (o_phases)
		printf("connected clients=%d idle=%d connect_ms=%" PRId64 "\n",
		       o_clients, o_idle, now_ms() - c0);
	make_flows(o_clients);
	index_flows();
	for (i = 0; i < nclients; i++) {
		struct client *c = &clients[i];

		if (c->nflows) {
			/* An idle client sends one frame, gets one: 11,000
			 * clients are 1.2 GB with the whole buffers. */
			c->out_cap = c->idle ? frame_max : OUT_CAP;
			c->out = xcalloc(c->out_cap + 2 * frame_max, 1);
			c->rec_cap = c->out_cap / frame_max + 2;
			c->recs = xcalloc(c->rec_cap, sizeof(*c->recs));
		}
		if (!c->noread) {
			c->in_cap = c->idle ? frame_max : IN_CAP;
			c->in = xcalloc(c->in_cap, 1);
		}
	}
	pfd = xcalloc((size_t)nclients, sizeof(*pfd));

	t0_ms = now_ms();
	deadline = t0_ms + o_timeout_ms;
	last_arrival = t0_ms;
	next_progress = o_progress_ms ? t0_ms + o_progress_ms : INT64_MAX;
	for (i = 0; i < nflows; i++)
		flows[i].last_progress_ms = t0_ms;
	for (;;) {
		int64_t t = now_ms(), wait;
		bool pending_rate = false;
		/* The idle clients are left alone until their turn. */
		int live = idle_go ? nclients : o_clients;

		if (got_stop)
			stopping = true;
		stop_check(t);
		for (i = 0; i < live; i++) {
			fill(&clients[i], t);
			if (clients[i].out_tail > clients[i].out_head)
				flush_out(&clients[i]);
			fill(&clients[i], t);
		}
		s = totals();
		if (o_noread >= 0 && s.noread_done)
			clients[o_noread].draining = true;
		if (s.received != prev_received) {
			last_arrival = t;
			prev_received = s.received;
		}
		if (got_mark) {
			got_mark = 0;
			phase_line(++phase, t, &s);
		}
		if (!idle_go && o_idle && s.active_done) {
			idle_go = true;
			continue;
		}
		if (t >= next_progress) {
			printf("progress t_ms=%" PRId64 " sent=%" PRIu64
			       " received=%" PRIu64 " noread_sent=%" PRIu64
			       "\n",
			       t - t0_ms, s.sent, s.received, s.noread_sent);
			next_progress += o_progress_ms;
		}
		cut_ok = !o_wait_cut || clients[o_noread].cut;
		if (s.all_sent && s.all_received && cut_ok)
			break;
		if (s.all_sent && o_allow_loss && cut_ok &&
		    t - last_arrival >= o_quiet_ms)
			break;
		if (t >= deadline) {
			timed_out = true;
			break;
		}
		for (i = 0; i < nflows_active; i++)
			if (o_rate && !flows[i].done)
				pending_rate = true;
		for (i = 0; i < live; i++) {
			struct client *c = &clients[i];

			pfd[i].fd = c->closed ? -1 : c->fd;
			pfd[i].events = c->noread && !c->draining ? 0 : POLLIN;
			if (c->out_tail > c->out_head)
				pfd[i].events |= POLLOUT;
			pfd[i].revents = 0;
		}
		wait = deadline - t;
		if (wait > 100)
			wait = 100;
		if (pending_rate && wait > 5)
			wait = 5;
		if (o_progress_ms && next_progress - t < wait)
			wait = next_progress - t < 0 ? 0 : next_progress - t;
		if (poll(pfd, (nfds_t)live, (int)wait) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		t = now_ms();
		for (i = 0; i < live; i++) {
			struct client *c = &clients[i];

			if (c->closed || !pfd[i].revents)
				continue;
			if (c->noread) {
				if (pfd[i].revents &
				    (POLLIN | POLLHUP | POLLERR))
					drain(c);
				if (!c->closed && (pfd[i].revents & POLLOUT))
					flush_out(c);
				continue;
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				read_in(c, t);
			if (!c->closed && (pfd[i].revents & POLLOUT))
				flush_out(c);
		}
	}

	s = totals();
	ok = !n_dups && !n_reorders && !n_corrupt && !n_misrouted && cut_ok;
	if (!cut_ok)
		fprintf(stderr,
			"FAIL: the client that never reads was not "
			"cut within %" PRId64 " ms\n",
			o_timeout_ms);
	if (!o_allow_loss)
		ok = ok && !timed_out && !s.lost && !n_closed && s.all_sent;
	if (timed_out)
		fprintf(stderr,
			"%s: timed out after %" PRId64 " ms: %" PRIu64
			" frames sent, %" PRIu64 " received%s\n",
			o_allow_loss ? "note" : "FAIL", o_timeout_ms, s.sent,
			s.received, s.all_sent ? "" : ", not all sent");
	if (s.lost && !o_allow_loss) {
		int shown = 0;

		for (i = 0; i < nflows && shown < FAIL_SHOWN; i++) {
			const struct flow *f = &flows[i];

			if (f->noread || f->received >= f->sent)
				continue;
			fprintf(stderr,
				"FAIL: flow %08" PRIx32 "->%08" PRIx32
				": %" PRIu64 " sent, %" PRIu64 " received\n",
				clients[f->src].id, clients[f->dst].id, f->sent,
				f->received);
			shown++;
		}
	}
	printf("sent=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64
	       " gaps=%" PRIu64 " dups=%" PRIu64 " reorders=%" PRIu64
	       " corrupt=%" PRIu64 " misrouted=%" PRIu64 " closed=%" PRIu64
	       " noread_sent=%" PRIu64 " noread_cut=%d flows=%d"
	       " elapsed_ms=%" PRId64 " idle=%d max_gap_ms=%.1f"
	       " p99_gap_ms=%.1f timed_out=%d ok=%d\n",
	       s.sent, s.received, s.lost, s.gaps, n_dups, n_reorders,
	       n_corrupt, n_misrouted, n_closed, s.noread_sent,
	       o_noread >= 0 && clients[o_noread].cut, nflows, now_ms() - t0_ms,
	       o_idle, (double)run_gaps.max_us / 1000,
	       (double)gap_p99(&run_gaps) / 1000, timed_out, ok);
	for (i = 0; i < nclients; i++) {
		close(clients[i].fd);
		free(clients[i].out);
		free(clients[i].recs);
		free(clients[i].flows);
		free(clients[i].in);
	}
	for (i = 0; i < nflows; i++)
		free(flows[i].seen);
	free(flows);
	free(ftab);
	free(clients);
	free(pfd);
	free(hosts);
	free(ports);
	free(ports_list);
	return ok ? 0 : 1;
}
