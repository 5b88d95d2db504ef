/* SPDX-License-Identifier: ISC */
/*
 * check_nomem.c: end-to-end test of patchbayd when allocations fail. The
 * real daemon runs with tests/failalloc.so preloaded (LD_PRELOAD), which
 * makes every K-th large enough malloc, calloc or realloc return NULL
 * (see its top comment for the knobs), and must keep this contract:
 *
 *  a. No gap: a destination that stays connected and reads never misses
 *     a frame of a sender's stream while later frames of that sender
 *     reach it. The daemon may instead disconnect a destination it could
 *     not queue for (or a sender it could not read for).
 *  b. It does not crash and keeps serving: a fresh pair of clients can
 *     still connect and exchange, at the latest after a few tries while
 *     allocations keep failing, at once when they no longer do; a
 *     connection it cannot take is refused cleanly (closed before an id).
 *  c. At SIGTERM it prints its stats line, and the counters add up:
 *     accepted = the sum of disconnect_*, received = forwarded + the sum
 *     of dropped_*, and every kind of "no memory" event it logged has a
 *     non-zero counter (dropped_no_memory, disconnect_no_memory,
 *     refused_no_memory).
 *
 * A test collects every breach, each tagged with its letter, and fails
 * once at the end with all of them, so that one run says which parts of
 * the contract hold. It is skipped (exit status 77) when the daemon is
 * built with a sanitizer, whose allocator an LD_PRELOAD one cannot
 * replace. It lives apart from check_faults.c because it needs the
 * preloaded library and runs the daemon under conditions no other test
 * creates.
 */
#include "config.h"

#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The storm: every sender sends NM_FRAMES numbered frames to every
 * reader, payloads of NM_MIN_PAYLOAD to NM_MAX_PAYLOAD bytes, all at once:
 * far more than the readers, which read slowly, take in while it lasts,
 * so that the daemon's queues (-o and -p) fill up, and empty and grow
 * again as the readers drain them, allocating all along.
 */
#define NM_SENDERS	 4
#define NM_READERS	 2
#define NM_FRAMES	 600
#define NM_MIN_PAYLOAD	 1024
#define NM_MAX_PAYLOAD	 4096
#define NM_READER_RCVBUF 8192
#define NM_READER_MSS	 1024
#define NM_QUEUE	 "64K" /* -o and -p */

/* How allocations fail during the storm: every NM_STORM_EVERY-th of at
 * least NM_STORM_MIN bytes, in the daemon's client threads, while the
 * flag file exists. */
#define NM_STORM_EVERY "13"
#define NM_STORM_MIN   "1024"

/* The churn test: failures from the start, small requests included. */
#define NM_CHURN_EVERY "9"
#define NM_CHURN_MIN   "1"
#define NM_CHURN_PAIRS 40

/* A reader reads this much at a time and pauses NM_PAUSE_US every
 * NM_PAUSE_EVERY reads: pacing, so that queues build up in the daemon. */
#define NM_READ_CHUNK  16384
#define NM_PAUSE_EVERY 4
#define NM_PAUSE_US    10000

/* Deadlines, in milliseconds. */
#define NM_STORM_MS   60000  /* the senders write the whole storm */
#define NM_ATTEMPT_MS 2000   /* one fresh pair exchanges */
#define NM_ATTEMPTS   30     /* fresh pairs tried while failures go on */
#define NM_END_MS     15000  /* the end markers reach the readers */
#define NM_READER_MS  120000 /* a reader thread gives up */

/* --- what went wrong, tagged with the contract's letter ----------------- */

struct nm_tally {
	char t_msg[4000];
	size_t t_len;
	int t_bad;
};

static void nm_vadd(struct nm_tally *t, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void nm_vadd(struct nm_tally *t, const char *fmt, va_list ap)
{
	int n;

	if (t->t_len + 2 >= sizeof t->t_msg)
		return;
	t->t_msg[t->t_len++] = '\n';
	n = vsnprintf(t->t_msg + t->t_len, sizeof t->t_msg - t->t_len, fmt, ap);
	if (n > 0)
		t->t_len += (size_t)n;
	if (t->t_len >= sizeof t->t_msg)
		t->t_len = sizeof t->t_msg - 1;
}

/* A breach of the contract (or a test that proves nothing). */
static void nm_complain(struct nm_tally *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void nm_complain(struct nm_tally *t, const char *fmt, ...)
{
	va_list ap;

	t->t_bad++;
	va_start(ap, fmt);
	nm_vadd(t, fmt, ap);
	va_end(ap);
}

/* Context for the failure message. */
static void nm_note(struct nm_tally *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void nm_note(struct nm_tally *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nm_vadd(t, fmt, ap);
	va_end(ap);
}

/* Fails the test with every breach, or says what happened (in the test's
 * log) when there was none. */
static void nm_finish(struct nm_tally *t, const char *name)
{
	if (t->t_bad == 0)
		printf("%s: the contract held:%s\n", name, t->t_msg);
	pbt_assert(t->t_bad == 0, "%d breach(es) of the no-memory contract:%s",
		   t->t_bad, t->t_msg);
}

/* --- starting the daemon with the library preloaded --------------------- */

/* The absolute path of tests/failalloc.so, built by 'make check'. */
static const char *nm_library(char *buf, size_t cap)
{
	const char *top = getenv("abs_top_builddir");

	if (top == NULL || *top == '\0')
		pbt_fail("abs_top_builddir is not set ('make check' sets it): "
			 "cannot find tests/failalloc.so");
	snprintf(buf, cap, "%s/tests/failalloc.so", top);
	if (access(buf, R_OK) != 0)
		pbt_fail("%s: %s (it is built by 'make check')", buf,
			 strerror(errno));
	return buf;
}

/*
 * Puts the preload and its knobs into the environment that pbt_start
 * passes on to the daemon (flag may be NULL); nm_unset_env takes them out
 * again once it runs.
 */
static void nm_set_env(const char *every, const char *min, const char *flag)
{
	char lib[4096];

	setenv("LD_PRELOAD", nm_library(lib, sizeof lib), 1);
	setenv("PB_FAILALLOC_EVERY", every, 1);
	setenv("PB_FAILALLOC_AFTER", "0", 1);
	setenv("PB_FAILALLOC_MIN", min, 1);
	setenv("PB_FAILALLOC_THREADS", "1", 1);
	setenv("PB_FAILALLOC_REPORT", "1", 1);
	if (flag != NULL)
		setenv("PB_FAILALLOC_FLAG", flag, 1);
	else
		unsetenv("PB_FAILALLOC_FLAG");
}

static void nm_unset_env(void)
{
	static const char *const names[] = {
		"LD_PRELOAD",		"PB_FAILALLOC_EVERY",
		"PB_FAILALLOC_AFTER",	"PB_FAILALLOC_MIN",
		"PB_FAILALLOC_THREADS", "PB_FAILALLOC_REPORT",
		"PB_FAILALLOC_FLAG"};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		unsetenv(names[i]);
}

/* Fails the test unless the daemon loaded the library. */
static void nm_expect_preloaded(struct pbt_daemon *d)
{
	pbt_assert(pbt_log_wait(d, "failalloc: active", PBT_LOG_MS),
		   "the daemon did not load tests/failalloc.so (no "
		   "\"failalloc: active\" line): LD_PRELOAD was not passed "
		   "on or not honoured, the test would prove nothing");
}

/* The flag file that opens the window of failures while it exists. */
struct nm_flag {
	char f_dir[256];
	char f_path[300];
};

static void nm_flag_init(struct nm_flag *f)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(f->f_dir, sizeof f->f_dir, "%s/pbt-nomem-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->f_dir) == NULL)
		pbt_fail("mkdtemp %s: %s", f->f_dir, strerror(errno));
	snprintf(f->f_path, sizeof f->f_path, "%s/failing", f->f_dir);
}

static void nm_flag_set(struct nm_flag *f, bool on)
{
	if (on) {
		int fd = open(f->f_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			pbt_fail("create %s: %s", f->f_path, strerror(errno));
		close(fd);
	} else if (unlink(f->f_path) != 0 && errno != ENOENT) {
		pbt_fail("unlink %s: %s", f->f_path, strerror(errno));
	}
}

static void nm_flag_free(struct nm_flag *f)
{
	unlink(f->f_path);
	rmdir(f->f_dir);
}

/* --- fresh clients ------------------------------------------------------- */

/* What became of one try at a connection or an exchange. */
enum nm_outcome {
	NM_OK,	    /* done */
	NM_REFUSED, /* closed before its id: refused */
	NM_CUT,	    /* a connection ended after its id */
	NM_SILENT,  /* nothing at all within the deadline */
	NM_BAD,	    /* bytes that should not be there */
};

static const char *const nm_outcome_names[] = {
	[NM_OK] = "ok",		[NM_REFUSED] = "refused", [NM_CUT] = "cut",
	[NM_SILENT] = "silent", [NM_BAD] = "bad",
};

/*
 * Opens a connection to the daemon, within PBT_IO_MS. A reader's socket
 * gets a small SO_RCVBUF and, more to the point, a small TCP_MAXSEG
 * before it connects: on loopback a segment is 64 KiB, and the kernel
 * lets the daemon's socket buffer several MiB for a peer that reads
 * slowly, which would hold the whole storm and leave the daemon's queues
 * empty; the segment size the reader announces limits that.
 */
static int nm_socket(struct pbt_daemon *d, bool reader)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd, one = 1, err = 0, rcvbuf = NM_READER_RCVBUF,
		mss = NM_READER_MSS;
	socklen_t len = sizeof err;
	struct pollfd p;

	sin.sin_port = htons((uint16_t)pbt_port(d));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		pbt_fail("socket: %s", strerror(errno));
	if (reader &&
	    (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) ||
	     setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss)))
		pbt_fail("setsockopt: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		if (errno != EINPROGRESS)
			pbt_fail("connect: %s", strerror(errno));
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, PBT_IO_MS) != 1)
			pbt_fail("connect: no answer in %d ms", PBT_IO_MS);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0)
			pbt_fail("connect: %s", strerror(err));
	}
	return fd;
}

/*
 * Connects and reads the 4-byte id within timeout_ms. A connection the
 * daemon closes before the id is NM_REFUSED; *fd is then -1.
 */
static enum nm_outcome nm_connect(struct pbt_daemon *d, bool reader, int *fd,
				  uint32_t *id, int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;
	unsigned char b[4];
	size_t got = 0;
	int s = nm_socket(d, reader);

	*fd = -1;
	while (got < sizeof b) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		int64_t left = deadline - pbt_now_ms();
		ssize_t n;

		if (poll(&p, 1, left > 0 ? (int)left : 0) == 0) {
			close(s);
			return NM_SILENT;
		}
		n = recv(s, b + got, sizeof b - got, 0);
		if (n > 0) {
			got += (size_t)n;
		} else if (n == 0 || errno == ECONNRESET) {
			close(s);
			return got == 0 ? NM_REFUSED : NM_BAD;
		} else if (errno != EAGAIN && errno != EINTR) {
			close(s);
			return NM_BAD;
		}
	}
	*fd = s;
	*id = pbt_get_u32(b);
	return NM_OK;
}

/* nm_connect for a client that must get its id: fails the test if not. */
static int nm_connect_sure(struct pbt_daemon *d, bool reader, uint32_t *id)
{
	int fd;
	enum nm_outcome o = nm_connect(d, reader, &fd, id, PBT_IO_MS);

	if (o != NM_OK)
		pbt_fail("a client connecting before any failure got no id: "
			 "%s",
			 o == NM_REFUSED ? "refused"
					 : "no answer or bad bytes");
	return fd;
}

/*
 * Waits for exactly the message `want` on fd, while watching `other`, the
 * peer that sent it, which nobody writes to: data or an end there, or an
 * end of fd, is NM_CUT.
 */
static enum nm_outcome nm_await(int fd, int other, const char *want,
				int64_t deadline)
{
	size_t len = strlen(want) + 1, got = 0;
	char buf[256];

	while (got < len) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = other, .events = POLLIN}};
		int64_t left = deadline - pbt_now_ms();
		ssize_t n;

		if (poll(p, 2, left > 0 ? (int)left : 0) == 0)
			return NM_SILENT;
		if (p[0].revents != 0) {
			n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
			if (n > 0) {
				if (memcmp(buf + got, want + got, (size_t)n))
					return NM_BAD;
				got += (size_t)n;
				continue;
			}
			if (n == 0 || errno == ECONNRESET)
				return NM_CUT;
			if (errno != EAGAIN && errno != EINTR)
				return NM_BAD;
		}
		if (p[1].revents != 0)
			return NM_CUT;
	}
	return NM_OK;
}

/* Ids of the clients a test was given, to check none comes twice. */
struct nm_ids {
	uint32_t i_last;
	size_t i_n;
	bool i_reused;
};

static void nm_ids_add(struct nm_ids *ids, uint32_t id)
{
	if (ids->i_n > 0 && id <= ids->i_last)
		ids->i_reused = true;
	ids->i_last = id;
	ids->i_n++;
}

/* What nm_exchange did, for the tallies. */
struct nm_pair_log {
	size_t pl_refused; /* connections closed before their id */
	struct nm_ids pl_ids;
};

/*
 * A fresh pair A, B: A sends B a message and B answers, each within
 * timeout_ms. What went wrong first is the outcome; `tag` makes the
 * messages unique.
 */
static enum nm_outcome nm_exchange(struct pbt_daemon *d, const char *tag,
				   int timeout_ms, struct nm_pair_log *pl)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;
	enum nm_outcome o;
	uint32_t ida = 0, idb = 0;
	int a, b = -1;
	char ab[96], ba[96];

	o = nm_connect(d, false, &a, &ida, timeout_ms);
	if (o == NM_OK) {
		nm_ids_add(&pl->pl_ids, ida);
		o = nm_connect(d, false, &b, &idb, timeout_ms);
		if (o == NM_OK)
			nm_ids_add(&pl->pl_ids, idb);
	}
	if (o == NM_REFUSED)
		pl->pl_refused++;
	if (o == NM_OK) {
		struct pbt_buf f = {NULL, 0, 0};

		snprintf(ab, sizeof ab, "%s: %u to %u", tag, ida, idb);
		snprintf(ba, sizeof ba, "%s: %u back to %u", tag, idb, ida);
		pbt_buf_frame(&f, idb, ab, strlen(ab));
		pbt_send_tolerant(a, f.b_data, f.b_len, timeout_ms);
		o = nm_await(b, a, ab, deadline);
		if (o == NM_OK) {
			f.b_len = 0;
			pbt_buf_frame(&f, ida, ba, strlen(ba));
			pbt_send_tolerant(b, f.b_data, f.b_len, timeout_ms);
			o = nm_await(a, b, ba, deadline);
		}
		pbt_buf_free(&f);
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return o;
}

/* --- the storm's readers ------------------------------------------------- */

/* How a reader's connection ended. */
enum nm_end {
	NM_END_NONE,	/* still reading */
	NM_END_EOF,	/* orderly close */
	NM_END_RESET,	/* ECONNRESET */
	NM_END_ERROR,	/* another recv error */
	NM_END_TIMEOUT, /* the reader gave up at its deadline */
};

static const char *const nm_end_names[] = {
	[NM_END_NONE] = "still connected", [NM_END_EOF] = "end of file",
	[NM_END_RESET] = "reset",	   [NM_END_ERROR] = "recv error",
	[NM_END_TIMEOUT] = "timed out",
};

struct nm_storm;

/* One reader, served by a thread of its own that records and never fails
 * the test (only the main thread may). */
struct nm_reader {
	struct nm_storm *r_storm;
	int r_index;
	int r_fd;
	uint32_t r_id;
	pthread_t r_thread;
	bool r_started;
	/* The message being received. */
	char r_msg[NM_MAX_PAYLOAD + 1];
	size_t r_msg_len;
	bool r_overlong;
	/* Under the storm's lock: */
	unsigned long long r_next[NM_SENDERS]; /* next seq expected */
	bool r_got_end[NM_SENDERS];
	size_t r_frames;
	size_t r_breaches;
	char r_first[800]; /* the first breaches, in words */
	size_t r_first_len;
	enum nm_end r_end;
	int r_errno;
};

struct nm_storm {
	pthread_mutex_t st_mu;
	int st_notify[2]; /* a reader writes a byte for each end marker */
	struct nm_reader st_readers[NM_READERS];
	/* The senders, driven from the test's thread. */
	uint32_t st_sender_id[NM_SENDERS];
	int st_sender_fd[NM_SENDERS];
	bool st_sender_dead[NM_SENDERS]; /* the daemon disconnected it */
	struct pbt_buf st_out[NM_SENDERS];
	struct pbt_stream st_streams[NM_SENDERS];
};

/* The payload length of frame seq from sender s to reader r. */
static size_t nm_payload_len(int s, int r, unsigned long long seq)
{
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ull ^
		     ((uint64_t)s << 32 | (uint64_t)r << 16);

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return NM_MIN_PAYLOAD +
	       (size_t)(x % (NM_MAX_PAYLOAD - NM_MIN_PAYLOAD + 1));
}

/* The filler byte of frame seq. */
static char nm_filler(unsigned long long seq)
{
	return (char)('a' + seq % 26);
}

/* Builds the payload of frame seq from s to r: "s:seq:" and filler, or
 * "s:NM_FRAMES:end" for the end marker. Returns its length. */
static size_t nm_payload(char *buf, int s, int r, unsigned long long seq)
{
	int n;
	size_t len;

	if (seq == NM_FRAMES)
		return (size_t)snprintf(buf, NM_MAX_PAYLOAD + 1, "%d:%llu:end",
					s, seq);
	n = snprintf(buf, NM_MAX_PAYLOAD + 1, "%d:%llu:", s, seq);
	len = nm_payload_len(s, r, seq);
	memset(buf + n, nm_filler(seq), len - (size_t)n);
	buf[len] = '\0';
	return len;
}

/* A breach seen by a reader (lock held). */
static void nm_reader_breach(struct nm_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void nm_reader_breach(struct nm_reader *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	r->r_breaches++;
	if (r->r_breaches > 4 || r->r_first_len + 2 >= sizeof r->r_first)
		return;
	if (r->r_first_len > 0)
		r->r_first[r->r_first_len++] = ';';
	va_start(ap, fmt);
	n = vsnprintf(r->r_first + r->r_first_len,
		      sizeof r->r_first - r->r_first_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->r_first_len += (size_t)n;
	if (r->r_first_len >= sizeof r->r_first)
		r->r_first_len = sizeof r->r_first - 1;
}

/* Checks one whole message (lock held): from which sender, whether its
 * number is the next one of that sender's stream, whether it is intact.
 * True for an end marker. */
static bool nm_reader_check(struct nm_reader *r, const char *msg, size_t len)
{
	char want[NM_MAX_PAYLOAD + 1];
	unsigned long long seq;
	int s, used = 0;
	uint32_t id;

	r->r_frames++;
	if (sscanf(msg, "%d:%llu:%n", &s, &seq, &used) != 2 || used == 0 ||
	    s < 0 || s >= NM_SENDERS || seq > NM_FRAMES) {
		nm_reader_breach(r,
				 " a message not sent by the test: "
				 "\"%.40s\" (%zu bytes)",
				 msg, len);
		return false;
	}
	id = r->r_storm->st_sender_id[s];
	if (seq == r->r_next[s] + 1)
		nm_reader_breach(r,
				 " from sender %u: frame %llu arrived, frame "
				 "%llu never did (a gap)",
				 id, seq, seq - 1);
	else if (seq > r->r_next[s])
		nm_reader_breach(r,
				 " from sender %u: frame %llu arrived, frames "
				 "%llu to %llu never did (a gap)",
				 id, seq, r->r_next[s], seq - 1);
	else if (seq < r->r_next[s])
		nm_reader_breach(r,
				 " from sender %u: frame %llu after frame %llu "
				 "(out of order, or twice)",
				 id, seq, r->r_next[s] - 1);
	if (len != nm_payload(want, s, r->r_index, seq) ||
	    memcmp(msg, want, len) != 0)
		nm_reader_breach(r,
				 " from sender %u: frame %llu damaged (%zu "
				 "bytes, %zu sent)",
				 id, seq, len, strlen(want));
	if (seq >= r->r_next[s])
		r->r_next[s] = seq + 1;
	if (seq == NM_FRAMES)
		r->r_got_end[s] = true;
	return seq == NM_FRAMES;
}

static void nm_reader_notify(struct nm_reader *r)
{
	ssize_t n = write(r->r_storm->st_notify[1], "x", 1);

	(void)n; /* a full pipe has a wake-up in it already */
}

/* Splits what arrived into messages and checks each. */
static void nm_reader_take(struct nm_reader *r, const char *buf, size_t n)
{
	bool ended = false;

	pthread_mutex_lock(&r->r_storm->st_mu);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\0') {
			if (r->r_msg_len < NM_MAX_PAYLOAD)
				r->r_msg[r->r_msg_len++] = buf[i];
			else
				r->r_overlong = true;
			continue;
		}
		r->r_msg[r->r_msg_len] = '\0';
		if (r->r_overlong)
			nm_reader_breach(r,
					 " a message longer than any "
					 "sent (%zu bytes kept)",
					 r->r_msg_len);
		else if (nm_reader_check(r, r->r_msg, r->r_msg_len))
			ended = true;
		r->r_msg_len = 0;
		r->r_overlong = false;
	}
	pthread_mutex_unlock(&r->r_storm->st_mu);
	if (ended)
		nm_reader_notify(r);
}

/* A reader's thread: reads, with a pause every few reads, until its
 * connection ends or its (generous) deadline passes. */
static void *nm_reader_run(void *arg)
{
	struct nm_reader *r = arg;
	int64_t deadline = pbt_now_ms() + NM_READER_MS;
	static char bufs[NM_READERS][NM_READ_CHUNK];
	char *buf = bufs[r->r_index];
	enum nm_end end = NM_END_NONE;
	unsigned reads = 0;
	int err = 0;

	while (end == NM_END_NONE) {
		struct pollfd p = {.fd = r->r_fd, .events = POLLIN};
		int64_t left = deadline - pbt_now_ms();
		ssize_t n;

		if (poll(&p, 1, left > 0 ? (int)left : 0) == 0) {
			end = NM_END_TIMEOUT;
			break;
		}
		n = recv(r->r_fd, buf, NM_READ_CHUNK, MSG_DONTWAIT);
		if (n > 0) {
			nm_reader_take(r, buf, (size_t)n);
		} else if (n == 0) {
			end = NM_END_EOF;
		} else if (errno == ECONNRESET) {
			end = NM_END_RESET;
		} else if (errno != EAGAIN && errno != EINTR) {
			end = NM_END_ERROR;
			err = errno;
		}
		if (n > 0 && ++reads % NM_PAUSE_EVERY == 0) {
			/* Pacing, not synchronisation: lets queues build. */
			struct timespec ts = {0, NM_PAUSE_US * 1000L};

			nanosleep(&ts, NULL);
		}
	}
	pthread_mutex_lock(&r->r_storm->st_mu);
	r->r_end = end;
	r->r_errno = err;
	pthread_mutex_unlock(&r->r_storm->st_mu);
	nm_reader_notify(r);
	return NULL;
}

/* --- the stats line ------------------------------------------------------ */

/* The value of `name` on the stats line, or false if it is not there. */
static bool nm_counter(const char *line, const char *name,
		       unsigned long long *value)
{
	const char *p = strstr(line, "stats: ");
	size_t len = strlen(name);

	if (p == NULL)
		return false;
	p += strlen("stats: ");
	while (*p != '\0') {
		size_t tok = strcspn(p, " ");

		if (tok > len && strncmp(p, name, len) == 0 && p[len] == '=') {
			char *end;

			errno = 0;
			*value = strtoull(p + len + 1, &end, 10);
			return errno == 0 && end == p + tok &&
			       end != p + len + 1;
		}
		p += tok;
		p += strspn(p, " ");
	}
	return false;
}

/* The sum of every counter whose name starts with prefix; false if one is
 * not a number or there is none. */
static bool nm_counter_sum(const char *line, const char *prefix,
			   unsigned long long *sum)
{
	const char *p = strstr(line, "stats: ");
	size_t plen = strlen(prefix);
	size_t found = 0;

	*sum = 0;
	if (p == NULL)
		return false;
	p += strlen("stats: ");
	while (*p != '\0') {
		size_t tok = strcspn(p, " ");
		const char *eq = memchr(p, '=', tok);

		if (eq != NULL && tok > plen && strncmp(p, prefix, plen) == 0) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(eq + 1, &end, 10);
			if (errno != 0 || end != p + tok || end == eq + 1)
				return false;
			*sum += v;
			found++;
		}
		p += tok;
		p += strspn(p, " ");
	}
	return found > 0;
}

/* Counts the log lines that contain w1, and w2 unless NULL; the
 * library's own lines are left out. */
static size_t nm_log_lines(const char *log, const char *w1, const char *w2)
{
	size_t n = 0;

	for (const char *p = log; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		char line[1024];

		snprintf(line, sizeof line, "%.*s", (int)len, p);
		if (strncmp(line, "failalloc:", 10) != 0 &&
		    strstr(line, w1) != NULL &&
		    (w2 == NULL || strstr(line, w2) != NULL))
			n++;
		p += len;
		p += *p == '\n';
	}
	return n;
}

/*
 * Stops the daemon with SIGTERM and checks contract (b)'s "no crash" and
 * (c) on its log, and that the library did make allocations fail.
 */
static void nm_stop_and_reconcile(struct pbt_daemon *d, struct nm_tally *t)
{
	unsigned long long accepted = 0, received = 0, forwarded = 0;
	unsigned long long disc = 0, drop = 0, v, nomem = 0;
	unsigned long cand = 0, failed = 0;
	int st = pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	char *stats = pbt_log_line(d, "stats: ");
	char *last = NULL, *log;
	bool have;
	static const struct {
		const char *w1, *w2;
		const char *counter;
	} kinds[] = {
		{"refused", "no memory", "refused_no_memory"},
		{"disconnected", "no memory", "disconnect_no_memory"},
		{"dropped", "no memory", "dropped_no_memory"},
		{"dropped", "out of memory", "dropped_no_memory"},
	};

	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		nm_complain(t,
			    "[b] after SIGTERM the daemon ended with %s %d, "
			    "not exit status 0",
			    WIFEXITED(st) ? "exit status" : "signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	/* The shim's report at exit is its last "failalloc: " line. */
	log = pbt_log_copy(d);
	for (char *p = strstr(log, "failalloc: "); p != NULL;
	     p = strstr(p + 1, "failalloc: "))
		last = p;
	if (last != NULL &&
	    sscanf(last, "failalloc: %lu candidates, %lu failed", &cand,
		   &failed) == 2) {
		nm_note(t,
			"(the library made %lu of %lu candidate "
			"allocations fail)",
			failed, cand);
		if (failed == 0)
			nm_complain(t,
				    "no allocation failed: the test proves "
				    "nothing (%lu candidates)",
				    cand);
	} else if (WIFEXITED(st)) {
		nm_complain(t, "the daemon exited without the library's "
			       "\"failalloc: N candidates, F failed\" line");
	}
	if (stats == NULL) {
		nm_complain(t, "[c] no \"stats: \" line in the daemon's log");
		goto out;
	}
	have = nm_counter(stats, "accepted", &accepted) &&
	       nm_counter(stats, "received", &received) &&
	       nm_counter(stats, "forwarded", &forwarded) &&
	       nm_counter_sum(stats, "disconnect_", &disc) &&
	       nm_counter_sum(stats, "dropped_", &drop);
	if (!have) {
		nm_complain(t, "[c] the stats line lacks a counter: %s", stats);
		goto out;
	}
	if (accepted != disc)
		nm_complain(t,
			    "[c] accepted=%llu but the disconnect_* "
			    "counters add up to %llu",
			    accepted, disc);
	if (received != forwarded + drop)
		nm_complain(t,
			    "[c] received=%llu but forwarded=%llu + the "
			    "dropped_* counters (%llu) = %llu",
			    received, forwarded, drop, forwarded + drop);
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		size_t lines = nm_log_lines(log, kinds[i].w1, kinds[i].w2);

		if (!nm_counter(stats, kinds[i].counter, &v)) {
			nm_complain(t, "[c] no counter %s on the stats line",
				    kinds[i].counter);
			continue;
		}
		nomem += v;
		if (lines > 0 && v == 0)
			nm_complain(t,
				    "[c] %zu log line(s) with \"%s\" and "
				    "\"%s\", but %s=0",
				    lines, kinds[i].w1, kinds[i].w2,
				    kinds[i].counter);
	}
	if ((nm_log_lines(log, "no memory", NULL) > 0 ||
	     nm_log_lines(log, "out of memory", NULL) > 0) &&
	    nomem == 0)
		nm_complain(t, "[c] the daemon logged running out of memory, "
			       "but every *_no_memory counter is 0");
	nm_note(t, "(%s)", stats);
out:
	free(log);
	free(stats);
}

/* --- the tests ----------------------------------------------------------- */

/* --- the storm, from the test's thread ----------------------------------- */

/*
 * Connects the readers and the senders (before any failure), builds each
 * sender's frames, and starts the readers.
 */
static void nm_storm_open(struct nm_storm *st, struct pbt_daemon *d)
{
	char payload[NM_MAX_PAYLOAD + 1];

	pthread_mutex_init(&st->st_mu, NULL);
	if (pipe2(st->st_notify, O_CLOEXEC | O_NONBLOCK) != 0)
		pbt_fail("pipe: %s", strerror(errno));
	for (int r = 0; r < NM_READERS; r++) {
		struct nm_reader *rd = &st->st_readers[r];

		rd->r_storm = st;
		rd->r_index = r;
		rd->r_fd = nm_connect_sure(d, true, &rd->r_id);
	}
	for (int s = 0; s < NM_SENDERS; s++) {
		struct pbt_buf *b = &st->st_out[s];

		st->st_sender_fd[s] =
			nm_connect_sure(d, false, &st->st_sender_id[s]);
		*b = (struct pbt_buf){NULL, 0, 0};
		for (unsigned long long q = 0; q < NM_FRAMES; q++)
			for (int r = 0; r < NM_READERS; r++)
				pbt_buf_frame(b, st->st_readers[r].r_id,
					      payload,
					      nm_payload(payload, s, r, q));
		st->st_streams[s] =
			(struct pbt_stream){.s_fd = st->st_sender_fd[s],
					    .s_out = b->b_data,
					    .s_out_len = b->b_len,
					    .s_send_errors_ok = true};
	}
	for (int r = 0; r < NM_READERS; r++) {
		struct nm_reader *rd = &st->st_readers[r];

		if (pthread_create(&rd->r_thread, NULL, nm_reader_run, rd) != 0)
			pbt_fail("pthread_create: %s", strerror(errno));
		rd->r_started = true;
	}
}

/* Whether every reader still connected has, from every sender still
 * connected, frames up to next - 1 (lock held). */
static bool nm_storm_has(const struct nm_storm *st, unsigned long long next)
{
	for (int r = 0; r < NM_READERS; r++) {
		const struct nm_reader *rd = &st->st_readers[r];

		for (int s = 0; s < NM_SENDERS; s++)
			if (rd->r_end == NM_END_NONE &&
			    !st->st_sender_dead[s] && rd->r_next[s] < next)
				return false;
	}
	return true;
}

/*
 * Waits, at most timeout_ms, until nm_storm_has(next). Meanwhile it
 * watches the senders' sockets, which nobody writes to: one that ends
 * was disconnected by the daemon, and excused. True if it got there.
 */
static bool nm_storm_wait(struct nm_storm *st, unsigned long long next,
			  int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p[1 + NM_SENDERS];
		int64_t left = deadline - pbt_now_ms();
		char junk[64];
		bool done;

		for (int s = 0; s < NM_SENDERS; s++)
			if (st->st_streams[s].s_send_failed)
				st->st_sender_dead[s] = true;
		pthread_mutex_lock(&st->st_mu);
		done = nm_storm_has(st, next);
		pthread_mutex_unlock(&st->st_mu);
		if (done)
			return true;
		if (left <= 0)
			return false;
		p[0] = (struct pollfd){.fd = st->st_notify[0],
				       .events = POLLIN};
		for (int s = 0; s < NM_SENDERS; s++)
			p[1 + s] = (struct pollfd){
				.fd = st->st_sender_dead[s]
					      ? -1
					      : st->st_sender_fd[s],
				.events = POLLIN};
		if (poll(p, 1 + NM_SENDERS, (int)left) <= 0)
			continue;
		while (read(st->st_notify[0], junk, sizeof junk) > 0)
			;
		for (int s = 0; s < NM_SENDERS; s++) {
			ssize_t n;

			if (p[1 + s].revents == 0)
				continue;
			n = recv(st->st_sender_fd[s], junk, sizeof junk,
				 MSG_DONTWAIT);
			if (n >= 0 || (errno != EAGAIN && errno != EINTR))
				st->st_sender_dead[s] = true;
		}
	}
}

/* Sends every sender's end marker (frame NM_FRAMES) to every reader. */
static void nm_storm_end_markers(struct nm_storm *st)
{
	char payload[NM_MAX_PAYLOAD + 1];

	for (int s = 0; s < NM_SENDERS; s++) {
		struct pbt_stream *ps = &st->st_streams[s];
		struct pbt_buf *b = &st->st_out[s];

		b->b_len = 0;
		ps->s_out_done = ps->s_out_len = 0;
		if (ps->s_send_failed || st->st_sender_dead[s])
			continue;
		for (int r = 0; r < NM_READERS; r++)
			pbt_buf_frame(b, st->st_readers[r].r_id, payload,
				      nm_payload(payload, s, r, NM_FRAMES));
		ps->s_out = b->b_data;
		ps->s_out_len = b->b_len;
	}
	pbt_pump(st->st_streams, NM_SENDERS, PBT_IO_MS);
}

/* Complains of every stream that stalled: a reader still connected that
 * lacks the end marker of a sender still connected. */
static void nm_storm_stalls(struct nm_storm *st, struct nm_tally *t)
{
	pthread_mutex_lock(&st->st_mu);
	for (int r = 0; r < NM_READERS; r++) {
		const struct nm_reader *rd = &st->st_readers[r];

		for (int s = 0; s < NM_SENDERS; s++)
			if (rd->r_end == NM_END_NONE &&
			    !st->st_sender_dead[s] && !rd->r_got_end[s])
				nm_complain(t,
					    "[a] reader %u is still connected, "
					    "but sender %u's end marker (sent "
					    "after the failures stopped) did "
					    "not reach it in %d ms: its stream "
					    "stalled after frame %llu of %d",
					    rd->r_id, st->st_sender_id[s],
					    NM_END_MS,
					    rd->r_next[s] == 0
						    ? 0
						    : rd->r_next[s] - 1,
					    NM_FRAMES);
	}
	pthread_mutex_unlock(&st->st_mu);
}

/* After the daemon has gone: waits for the readers, judges what each
 * received (a), and closes everything. */
static void nm_storm_close(struct nm_storm *st, struct nm_tally *t)
{
	for (int r = 0; r < NM_READERS; r++) {
		struct nm_reader *rd = &st->st_readers[r];
		char got[200];
		size_t o = 0;

		if (rd->r_started)
			pthread_join(rd->r_thread, NULL);
		for (int s = 0; s < NM_SENDERS && o + 24 < sizeof got; s++)
			o += (size_t)snprintf(got + o, sizeof got - o,
					      " %u:%llu", st->st_sender_id[s],
					      rd->r_next[s]);
		nm_note(t,
			"(reader %u: %zu frames, ended by %s%s%s; frames per "
			"sender:%s)",
			rd->r_id, rd->r_frames, nm_end_names[rd->r_end],
			rd->r_errno != 0 ? ": " : "",
			rd->r_errno != 0 ? strerror(rd->r_errno) : "", got);
		if (rd->r_breaches > 0)
			nm_complain(t,
				    "[a] reader %u: %zu breach(es) of its "
				    "senders' streams:%.*s",
				    rd->r_id, rd->r_breaches,
				    (int)rd->r_first_len, rd->r_first);
		if (rd->r_end == NM_END_ERROR || rd->r_end == NM_END_TIMEOUT)
			nm_complain(t,
				    "reader %u: its connection did not end "
				    "cleanly when the daemon stopped (%s)",
				    rd->r_id, nm_end_names[rd->r_end]);
		close(rd->r_fd);
	}
	for (int s = 0; s < NM_SENDERS; s++) {
		if (st->st_sender_dead[s])
			nm_note(t, "(sender %u was disconnected)",
				st->st_sender_id[s]);
		close(st->st_sender_fd[s]);
		pbt_buf_free(&st->st_out[s]);
	}
	close(st->st_notify[0]);
	close(st->st_notify[1]);
	pthread_mutex_destroy(&st->st_mu);
}

/*
 * The storm: senders and readers connect while nothing fails; then the
 * flag opens the window of failures and the senders send their numbered
 * frames; a fresh pair must exchange within a few
 * tries while failures go on (b). The window closes, every sender still
 * connected sends an end marker, which must reach every reader still
 * connected (no stream may stall), and a fresh pair must exchange at the
 * first try (b). Until its connection ends, each reader must have
 * received every sender's frames as a prefix of what was sent, in order
 * and intact (a). Then SIGTERM, and the counters (c).
 */
START_TEST(test_nomem_storm_no_gap_keeps_serving_counts_add_up)
{
	static struct nm_storm storm;
	struct nm_tally t = {.t_len = 0};
	struct nm_pair_log pl = {.pl_refused = 0};
	struct nm_flag flag = {.f_dir = ""};
	struct pbt_daemon *d;
	enum nm_outcome o = NM_SILENT;
	char tag[64], tries[400] = "";
	size_t tries_len = 0;
	int attempt;

	nm_flag_init(&flag);
	nm_set_env(NM_STORM_EVERY, NM_STORM_MIN, flag.f_path);
	d = pbt_start("-o", NM_QUEUE, "-p", NM_QUEUE, (char *)NULL);
	nm_unset_env();
	nm_expect_preloaded(d);
	nm_storm_open(&storm, d);

	/* The storm, with failures. */
	nm_flag_set(&flag, true);
	pbt_pump(storm.st_streams, NM_SENDERS, NM_STORM_MS);

	/* (b) While failures go on, a fresh pair gets through at last. */
	for (attempt = 0; attempt < NM_ATTEMPTS; attempt++) {
		snprintf(tag, sizeof tag, "fresh pair %d", attempt);
		o = nm_exchange(d, tag, NM_ATTEMPT_MS, &pl);
		if (tries_len + 16 < sizeof tries)
			tries_len += (size_t)snprintf(
				tries + tries_len, sizeof tries - tries_len,
				" %s", nm_outcome_names[o]);
		if (o == NM_OK || o == NM_BAD)
			break;
	}
	if (o != NM_OK)
		nm_complain(&t,
			    "[b] while allocations failed, no fresh pair "
			    "exchanged in %d tries:%s",
			    attempt + (o == NM_BAD), tries);
	else
		nm_note(&t, "(fresh pairs while failing:%s)", tries);

	/* The window closes: the end markers must get through. */
	nm_flag_set(&flag, false);
	nm_storm_end_markers(&storm);
	if (!nm_storm_wait(&storm, NM_FRAMES + 1, NM_END_MS))
		nm_storm_stalls(&storm, &t);

	/* (b) Failures over: a fresh pair exchanges at once. */
	o = nm_exchange(d, "fresh pair after the failures", PBT_IO_MS, &pl);
	if (o != NM_OK)
		nm_complain(&t,
			    "[b] after the failures stopped, a fresh pair "
			    "did not exchange: %s",
			    nm_outcome_names[o]);
	if (pl.pl_ids.i_reused)
		nm_complain(&t, "[b] a fresh client got an id given before");

	/* (c), and (b)'s "no crash"; then (a), once the readers are done. */
	nm_stop_and_reconcile(d, &t);
	nm_storm_close(&storm, &t);
	nm_flag_free(&flag);
	nm_finish(&t, "storm");
	pbt_free(d);
}
END_TEST

/*
 * Churn: allocations fail from the start, small ones included, while
 * fresh pairs connect and exchange one after another. Each connection must
 * be refused cleanly (closed before any byte of an id) or get a new id;
 * some pairs must get through (b); every refusal the clients saw is
 * counted, and the counters add up (c).
 */
START_TEST(test_nomem_churn_refuses_cleanly_keeps_serving)
{
	struct nm_tally t = {.t_len = 0};
	struct nm_pair_log pl = {.pl_refused = 0};
	size_t outcomes[NM_BAD + 1] = {0};
	struct pbt_daemon *d;
	unsigned long long accepted, refused = 0;
	char *stats;
	char tag[64];

	nm_set_env(NM_CHURN_EVERY, NM_CHURN_MIN, NULL);
	d = pbt_start(NULL);
	nm_unset_env();
	nm_expect_preloaded(d);

	for (int i = 0; i < NM_CHURN_PAIRS; i++) {
		snprintf(tag, sizeof tag, "churn %d", i);
		outcomes[nm_exchange(d, tag, NM_ATTEMPT_MS, &pl)]++;
	}
	nm_note(&t,
		"(%d pairs: %zu ok, %zu refused, %zu cut, %zu silent, "
		"%zu bad)",
		NM_CHURN_PAIRS, outcomes[NM_OK], outcomes[NM_REFUSED],
		outcomes[NM_CUT], outcomes[NM_SILENT], outcomes[NM_BAD]);
	if (outcomes[NM_OK] == 0)
		nm_complain(&t, "[b] no pair exchanged while allocations "
				"failed");
	if (outcomes[NM_BAD] > 0)
		nm_complain(&t,
			    "[b] %zu pair(s) saw bytes that were not "
			    "sent to them, or half an id",
			    outcomes[NM_BAD]);
	if (pl.pl_ids.i_reused)
		nm_complain(&t, "[b] a client got an id given before");

	/* Failures stopped or not, the daemon stops cleanly and counts. */
	nm_stop_and_reconcile(d, &t);
	stats = pbt_log_line(d, "stats: ");
	if (stats != NULL && nm_counter(stats, "accepted", &accepted) &&
	    nm_counter_sum(stats, "refused_", &refused)) {
		if (accepted != pl.pl_ids.i_n)
			nm_complain(&t,
				    "[c] accepted=%llu, but the clients "
				    "were given %zu ids",
				    accepted, pl.pl_ids.i_n);
		if (refused != pl.pl_refused)
			nm_complain(&t,
				    "[c] the refused_* counters add up "
				    "to %llu, but %zu connections were "
				    "closed before their id",
				    refused, pl.pl_refused);
	}
	free(stats);
	nm_finish(&t, "churn");
	pbt_free(d);
}
END_TEST

/* --- skipping under sanitizers ------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||     \
	__has_feature(memory_sanitizer)
#define NM_SANITIZED 1
#endif
#endif

/*
 * Why the test cannot run, or NULL: the build uses a sanitizer (this
 * program is built with the daemon's flags), or the daemon binary carries
 * a sanitizer's runtime (PATCHBAYD may name another build).
 */
static const char *nm_skip_reason(void)
{
	static const char *const marks[] = {"__asan_init", "__tsan_init",
					    "__msan_init", "__hwasan_init",
					    "__lsan_init"};
	static char why[160];
	const char *path = getenv("PATCHBAYD");
	static char buf[1 << 16];
	size_t keep = 0, n;
	FILE *f;

#ifdef NM_SANITIZED
	return "built with a sanitizer, whose allocator an LD_PRELOAD one "
	       "cannot stand in front of";
#endif
	if (path == NULL || (f = fopen(path, "rb")) == NULL)
		return NULL; /* the test itself says what is wrong */
	while ((n = fread(buf + keep, 1, sizeof buf - keep, f)) > 0) {
		n += keep;
		for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
			if (memmem(buf, n, marks[i], strlen(marks[i])) !=
			    NULL) {
				snprintf(why, sizeof why,
					 "%s has %s: built with a sanitizer",
					 path, marks[i]);
				fclose(f);
				return why;
			}
		}
		/* Keep a tail so that a mark across two reads is found. */
		keep = n < 32 ? n : 32;
		memmove(buf, buf + n - keep, keep);
	}
	fclose(f);
	return NULL;
}

static Suite *nomem_suite(void)
{
	Suite *s = suite_create("nomem");

	pbt_add_test(s, test_nomem_storm_no_gap_keeps_serving_counts_add_up,
		     180);
	pbt_add_test(s, test_nomem_churn_refuses_cleanly_keeps_serving, 180);
	return s;
}

int main(void)
{
	const char *skip = nm_skip_reason();

	if (skip != NULL) {
		printf("check_nomem: skipped: %s\n", skip);
		return 77;
	}
	return pbt_run(nomem_suite());
}
