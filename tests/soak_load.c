/* SPDX-License-Identifier: ISC */
/*
 * soak_load.c: the load generator of tests/soak.sh. It runs a mixed load
 * against a patchbayd for a while, checking what it can, so that the script
 * can watch the daemon's threads, descriptors and memory meanwhile:
 *
 *  - pairs of long-lived clients exchange numbered messages in batches and
 *    check that each arrives whole, once and in order;
 *  - churners connect, read their id, send a few frames (to live churners,
 *    to ids gone or never given, to the pairs, to the sink and to
 *    themselves, checking that the one to themselves comes back) and leave
 *    in one of several ways: close, half-close, reset, in the middle of a
 *    frame, with a frame longer than --max-frame (waiting for the daemon to
 *    drop them), or before reading their id;
 *  - a sink never reads what the churners and a feeder send it, until the
 *    daemon drops it as a slow consumer; it then connects again. The
 *    feeder sends it big frames as fast as the daemon takes them, so that
 *    its queues fill and the feeder itself meets back-pressure.
 *
 * Phases, told on stdout one line each: "ready" once the long-lived clients
 * are connected, a "tick" every second, "warm" after the warm-up, "pause"
 * once the churners have stopped and closed everything and the feeder has
 * stopped (the pairs, the sink and the feeder stay connected); after
 * SIGUSR1 (or a minute) they finish, and a "summary" line ends the run.
 * Every failure is a line on stderr starting with "FAIL:"; the exit status
 * is 1 after any.
 *
 * Everything is single-purpose threads with non-blocking sockets and
 * poll() deadlines, so that a broken daemon fails the run instead of
 * hanging it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_MS	      10000 /* one exchange: only matters when it fails */
#define PAUSE_MAX_S   60    /* longest wait for SIGUSR1 in the pause */
#define RING	      64    /* recent churners' ids, most of them gone */
#define PAIR_BATCH    8	    /* messages each side sends per round */
#define PAIR_MAXLEN   2000  /* filler bytes of a pair's message, at most */
#define CHURN_MAXLEN  1200  /* filler bytes of a churner's message */
#define CHURN_FRAMES  4	    /* frames per churn cycle, at most */
#define MSG_HEAD      48    /* "k a b n ", at most */
#define INBOX_CAP     65536
#define SINK_RCVBUF   4096	  /* so that the sink's window closes soon */
#define SINK_PROBE_MS 500	  /* the sink writes this often */
#define FEED_LEN      4000	  /* the feeder's payloads */
#define MSG_MAXLEN    FEED_LEN	  /* filler bytes of any message, at most */
#define NO_ID	      0xffffffffu /* never given out during a soak */
#define NEVER_ID      0xfffffff0u /* nor this one: a destination */

enum phase { PH_RUN, PH_PAUSE, PH_STOP };

/* How a churner leaves. */
enum leave {
	LV_CLOSE,
	LV_HALF_CLOSE,
	LV_RESET,
	LV_MID_CLOSE,
	LV_MID_RESET,
	LV_OVERSIZE,
	LV_NO_ID,
	LV_COUNT
};

static const char *const leave_names[LV_COUNT] = {
	"close",	   "half_close", "reset", "mid_frame_close",
	"mid_frame_reset", "oversize",	 "no_id",
};

/* The run: set by main before the threads start, counters after. */
static struct {
	int port;
	int seconds, warmup;
	int npairs, nchurners;
	size_t max_frame;
	uint32_t *pair_ids;	  /* 2 * npairs, read-only once set */
	_Atomic uint32_t *live;	  /* each churner's current id, or NO_ID */
	_Atomic uint32_t sink_id; /* the sink's current id, or NO_ID */
	pthread_mutex_t sink_mu;  /* with sink_cv: new sink, or new phase */
	pthread_cond_t sink_cv;
	atomic_int phase;	 /* enum phase */
	atomic_bool failed;	 /* any check failed: everyone stops */
	pthread_mutex_t ring_mu; /* guards ring, ring_n, ring_next */
	uint32_t ring[RING];
	size_t ring_n, ring_next;
	atomic_ulong cycles; /* churn cycles done */
	atomic_ulong ids;    /* ids received, by every client */
	atomic_ulong frames; /* whole frames sent */
	atomic_ulong leaves[LV_COUNT];
	atomic_ulong self_back;	 /* churners' frames to self, back */
	atomic_ulong pair_msgs;	 /* pair messages checked */
	atomic_ulong churn_seen; /* churners' messages received, checked */
	atomic_ulong sink_conns; /* sink connections */
	atomic_ulong sink_drops; /* sink connections the daemon ended */
	atomic_ulong fed;	 /* the feeder's frames, sent whole */
} S = {
	.ring_mu = PTHREAD_MUTEX_INITIALIZER,
	.sink_mu = PTHREAD_MUTEX_INITIALIZER,
	.sink_cv = PTHREAD_COND_INITIALIZER,
};

/* --- small utilities ---------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left < 0 ? 0 : (int)left;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	static atomic_int told;
	char msg[512];
	va_list ap;

	atomic_store(&S.failed, true);
	if (atomic_fetch_add(&told, 1) >= 10)
		return; /* the first ones say it all */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "FAIL: %s\n", msg);
}

static bool stopping(void)
{
	return atomic_load(&S.failed) || atomic_load(&S.phase) == PH_STOP;
}

static bool churning(void)
{
	return !atomic_load(&S.failed) && atomic_load(&S.phase) == PH_RUN;
}

/* xorshift64*: each thread has its own state. */
static uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1du;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* --- sockets ------------------------------------------------------------ */

/* A non-blocking connection to the daemon, or -1 after a failure. */
static int conn_open(int rcvbuf)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct pollfd pfd;
	int fd, one = 1, err = 0;
	socklen_t len = sizeof err;

	sin.sin_port = htons((uint16_t)S.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		fail("socket: %s", strerror(errno));
		return -1;
	}
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, IO_MS) != 1)
			err = ETIMEDOUT;
		else
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err == 0)
			return fd;
	} else {
		err = errno;
	}
	fail("connect to 127.0.0.1:%d: %s (is patchbayd still there?)", S.port,
	     strerror(err));
	close(fd);
	return -1;
}

/* Closes with SO_LINGER {1, 0}: the daemon sees a reset. */
static void close_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

/* Sends all of buf by the deadline: 0, or an errno value. */
static int send_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const unsigned char *p = buf;

	while (len > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return errno;
		} else if (poll(&pfd, 1, left_ms(deadline)) == 0) {
			return ETIMEDOUT;
		}
	}
	return 0;
}

/* Receives some bytes by the deadline: how many, 0 at the end of the
 * stream, -1 with errno (ETIMEDOUT at the deadline). */
static ssize_t recv_some(int fd, void *buf, size_t cap, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n = recv(fd, buf, cap, 0);

		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			return n;
		if (poll(&pfd, 1, left_ms(deadline)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* Reads the 4-byte id the daemon writes first: 0, or -1 after a failure
 * (a client is never refused in a soak: --max-clients is far). */
static int read_id(int fd, uint32_t *id, const char *who)
{
	int64_t deadline = now_ms() + IO_MS;
	unsigned char b[4];
	size_t got = 0;

	while (got < sizeof b) {
		ssize_t n = recv_some(fd, b + got, sizeof b - got, deadline);

		if (n <= 0) {
			fail("%s: no id from the daemon (%zu of 4 bytes): %s",
			     who, got,
			     n == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	*id = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	      (uint32_t)b[2] << 8 | (uint32_t)b[3];
	atomic_fetch_add(&S.ids, 1);
	return 0;
}

/* --- messages ----------------------------------------------------------- */

/*
 * A payload is "<kind> <a> <b> <n> " and n letters that depend on a, b and
 * their place, so that a message cut, merged with another or changed does
 * not read back. Kinds: 'p' a pair's (a: pair * 2 + side, b: its number),
 * 'c' a churner's (a: its id, b: a counter), 's' a churner's to itself.
 */
static char filler(uint32_t a, uint32_t b, unsigned i)
{
	return (char)('a' + (a * 7u + b * 13u + i) % 26u);
}

/* Writes a payload at p (MSG_HEAD + n bytes of room); returns its length. */
static size_t msg_make(char *p, char kind, uint32_t a, uint32_t b, unsigned n)
{
	int h = snprintf(p, MSG_HEAD, "%c %" PRIu32 " %" PRIu32 " %u ", kind, a,
			 b, n);

	for (unsigned i = 0; i < n; i++)
		p[h + i] = filler(a, b, i);
	return (size_t)h + n;
}

/* Appends a whole frame for dst to buf at *len. */
static void frame_add(unsigned char *buf, size_t *len, uint32_t dst, char kind,
		      uint32_t a, uint32_t b, unsigned n)
{
	put_u32(buf + *len, dst);
	*len += 4;
	*len += msg_make((char *)buf + *len, kind, a, b, n);
	buf[(*len)++] = 0;
}

/* Whether m (len bytes, then its 0x00) is a payload msg_make writes; its
 * kind, a and b if it is. */
static bool msg_parse(const char *m, size_t len, char *kind, uint32_t *a,
		      uint32_t *b)
{
	char want[MSG_HEAD + MSG_MAXLEN];
	unsigned n;

	if (sscanf(m, "%c %" SCNu32 " %" SCNu32 " %u", kind, a, b, &n) != 4 ||
	    n > MSG_MAXLEN)
		return false;
	return msg_make(want, *kind, *a, *b, n) == len &&
	       memcmp(want, m, len) == 0;
}

/* What a connection received and has not been taken yet. */
struct inbox {
	int fd;
	size_t off, len;
	char buf[INBOX_CAP];
};

/* The next message by the deadline: 1 with its payload (a C string, as
 * its 0x00 ends it) and length, 0 at the end of the stream, -1 with errno
 * (ETIMEDOUT at the deadline). */
static int inbox_next(struct inbox *ib, int64_t deadline, const char **msg,
		      size_t *mlen)
{
	for (;;) {
		char *start = ib->buf + ib->off;
		char *z = memchr(start, 0, ib->len - ib->off);
		ssize_t n;

		if (z != NULL) {
			*msg = start;
			*mlen = (size_t)(z - start);
			ib->off += *mlen + 1;
			return 1;
		}
		memmove(ib->buf, start, ib->len - ib->off);
		ib->len -= ib->off;
		ib->off = 0;
		if (ib->len == sizeof ib->buf) {
			errno = EMSGSIZE;
			return -1;
		}
		n = recv_some(ib->fd, ib->buf + ib->len,
			      sizeof ib->buf - ib->len, deadline);
		if (n <= 0)
			return (int)n;
		ib->len += (size_t)n;
	}
}

/*
 * Takes a churner's message off a pair's or a churner's connection; false
 * (after a failure) if m is not one. Those are never checked for arrival:
 * the churner may be gone before the daemon reads them.
 */
static bool churn_msg_ok(const char *who, const char *m, size_t len)
{
	uint32_t a, b;
	char kind;

	if (msg_parse(m, len, &kind, &a, &b) && kind == 'c') {
		atomic_fetch_add(&S.churn_seen, 1);
		return true;
	}
	fail("%s: received a message that no client sent (%zu bytes): "
	     "\"%.60s\"",
	     who, len, m);
	return false;
}

/* --- pairs -------------------------------------------------------------- */

struct pair {
	int idx;
	int fd[2];
	uint32_t id[2];
	uint32_t sent[2]; /* messages side s sent to the other */
	uint32_t got[2];  /* messages side s received from the other */
	unsigned char *out;
	struct inbox in[2];
};

static unsigned pair_len(uint32_t seq)
{
	return seq * 37u % PAIR_MAXLEN;
}

/* Side s sends a batch of numbered messages to the other side. */
static bool pair_send(struct pair *p, int s)
{
	size_t len = 0;
	int err;

	for (int k = 0; k < PAIR_BATCH; k++) {
		uint32_t seq = p->sent[s]++;

		frame_add(p->out, &len, p->id[!s], 'p',
			  (uint32_t)(p->idx * 2 + s), seq, pair_len(seq));
	}
	err = send_all(p->fd[s], p->out, len, now_ms() + IO_MS);
	if (err != 0) {
		fail("pair %d: id %" PRIu32 " could not send: %s", p->idx,
		     p->id[s], strerror(err));
		return false;
	}
	atomic_fetch_add(&S.frames, PAIR_BATCH);
	return true;
}

/* Side s receives what the other side sent it, checking each message is
 * the next one; churners' messages may come in between. */
static bool pair_recv(struct pair *p, int s)
{
	uint32_t from = (uint32_t)(p->idx * 2 + !s), a, b;
	int64_t deadline = now_ms() + IO_MS;
	char who[64], kind;
	const char *m;
	size_t len;

	snprintf(who, sizeof who, "pair %d, id %" PRIu32, p->idx, p->id[s]);
	while (p->got[s] < p->sent[!s]) {
		int r = inbox_next(&p->in[s], deadline, &m, &len);

		if (r <= 0) {
			fail("%s: message %" PRIu32 " of %" PRIu32
			     " from id %" PRIu32 " did not come: %s",
			     who, p->got[s], p->sent[!s], p->id[!s],
			     r == 0 ? "connection closed" : strerror(errno));
			return false;
		}
		if (m[0] == 'c') {
			if (!churn_msg_ok(who, m, len))
				return false;
			continue;
		}
		if (!msg_parse(m, len, &kind, &a, &b) || kind != 'p' ||
		    a != from || b != p->got[s]) {
			fail("%s: expected message %" PRIu32 " from id %" PRIu32
			     ", got \"%.60s\" (%zu bytes): lost, reordered "
			     "or corrupted",
			     who, p->got[s], p->id[!s], m, len);
			return false;
		}
		p->got[s]++;
		atomic_fetch_add(&S.pair_msgs, 1);
	}
	return true;
}

static void *pair_thread(void *arg)
{
	struct pair *p = arg;

	while (!stopping() && pair_send(p, 0) && pair_send(p, 1) &&
	       pair_recv(p, 1) && pair_recv(p, 0))
		;
	close(p->fd[0]);
	close(p->fd[1]);
	return NULL;
}

/* --- churners ----------------------------------------------------------- */

struct churner {
	int idx;
	uint64_t rs;
	struct inbox in;
};

static void ring_add(uint32_t id)
{
	pthread_mutex_lock(&S.ring_mu);
	S.ring[S.ring_next++ % RING] = id;
	if (S.ring_n < RING)
		S.ring_n++;
	pthread_mutex_unlock(&S.ring_mu);
}

/* A recent churner's id, most likely one that has left. */
static uint32_t ring_pick(uint64_t *rs)
{
	uint32_t id = NEVER_ID;

	pthread_mutex_lock(&S.ring_mu);
	if (S.ring_n > 0)
		id = S.ring[rnd(rs) % S.ring_n];
	pthread_mutex_unlock(&S.ring_mu);
	return id;
}

/* Where a churner's frame goes. */
static uint32_t churn_dest(struct churner *c)
{
	uint32_t id;

	switch (rnd(&c->rs) % 8) {
	case 0:
	case 1: /* a churner connected now, or just gone */
		id = atomic_load(&S.live[rnd(&c->rs) % (unsigned)S.nchurners]);
		return id != NO_ID ? id : ring_pick(&c->rs);
	case 2: /* the sink, whose outbox is full most of the time */
		id = atomic_load(&S.sink_id);
		return id != NO_ID ? id : NEVER_ID;
	case 3: /* a pair, which must take it among its own messages */
		return S.pair_ids[rnd(&c->rs) % (unsigned)(2 * S.npairs)];
	case 4: /* an id never given */
		return NEVER_ID;
	default: /* a recent churner, most likely gone */
		return ring_pick(&c->rs);
	}
}

/* Receives until the message a churner sent itself, checking the others;
 * false after a failure. */
static bool churn_self_back(struct churner *c, uint32_t id)
{
	int64_t deadline = now_ms() + IO_MS;
	char who[48];
	const char *m;
	size_t len;

	snprintf(who, sizeof who, "churner id %" PRIu32, id);
	for (;;) {
		int r = inbox_next(&c->in, deadline, &m, &len);

		if (r <= 0) {
			fail("%s: its frame to itself did not come back: %s",
			     who,
			     r == 0 ? "connection closed" : strerror(errno));
			return false;
		}
		if (m[0] == 's') {
			char want[MSG_HEAD];
			size_t n = msg_make(want, 's', id, 0, 0);

			if (len != n || memcmp(m, want, n) != 0) {
				fail("%s: got \"%.60s\" for its frame to "
				     "itself",
				     who, m);
				return false;
			}
			atomic_fetch_add(&S.self_back, 1);
			return true;
		}
		if (!churn_msg_ok(who, m, len))
			return false;
	}
}

/* Waits for the daemon to end the connection, taking what still comes;
 * false (after a failure) if it does not by the deadline. */
static bool churn_wait_end(struct churner *c, uint32_t id, const char *after)
{
	int64_t deadline = now_ms() + IO_MS;
	char who[48];
	const char *m;
	size_t len;
	int r;

	snprintf(who, sizeof who, "churner id %" PRIu32, id);
	while ((r = inbox_next(&c->in, deadline, &m, &len)) == 1)
		if (!churn_msg_ok(who, m, len))
			return false;
	if (r == 0 || errno == ECONNRESET)
		return true;
	fail("%s: still connected %d ms after %s: %s", who, IO_MS, after,
	     strerror(errno));
	return false;
}

/* One connection of a churner, from connect to leave. */
static void churn_cycle(struct churner *c)
{
	enum leave how = (enum leave)(rnd(&c->rs) % LV_COUNT);
	unsigned char buf[CHURN_FRAMES * (4 + MSG_HEAD + CHURN_MAXLEN + 1) + 4 +
			  MSG_HEAD + 1];
	int nframes = 1 + (int)(rnd(&c->rs) % CHURN_FRAMES);
	bool to_self = rnd(&c->rs) % 2 == 0;
	size_t len = 0, cut;
	uint32_t id;
	int fd, err;

	fd = conn_open(0);
	if (fd < 0)
		return;
	if (how == LV_NO_ID) {
		close_reset(fd);
		goto done;
	}
	if (read_id(fd, &id, "churner") < 0) {
		close(fd);
		return;
	}
	c->in.fd = fd;
	c->in.off = c->in.len = 0;
	atomic_store(&S.live[c->idx], id);
	ring_add(id);
	for (int k = 0; k < nframes; k++)
		frame_add(buf, &len, churn_dest(c), 'c', id, (uint32_t)k,
			  (unsigned)(rnd(&c->rs) % CHURN_MAXLEN));
	if (to_self)
		frame_add(buf, &len, id, 's', id, 0, 0);
	err = send_all(fd, buf, len, now_ms() + IO_MS);
	if (err != 0) {
		fail("churner id %" PRIu32 ": send: %s", id, strerror(err));
		goto leave;
	}
	atomic_fetch_add(&S.frames, (unsigned long)(nframes + to_self));
	if (to_self && !churn_self_back(c, id))
		goto leave;
	switch (how) {
	case LV_CLOSE:
		close(fd);
		break;
	case LV_HALF_CLOSE:
		shutdown(fd, SHUT_WR);
		churn_wait_end(c, id, "a half-close");
		close(fd);
		break;
	case LV_RESET:
		close_reset(fd);
		break;
	case LV_MID_CLOSE:
	case LV_MID_RESET:
		/* The first 1 .. all but the 0x00 of a frame: header or not. */
		len = 0;
		frame_add(buf, &len, churn_dest(c), 'c', id, 99,
			  (unsigned)(rnd(&c->rs) % CHURN_MAXLEN));
		cut = 1 + rnd(&c->rs) % (len - 1);
		send_all(fd, buf, cut, now_ms() + IO_MS);
		if (how == LV_MID_CLOSE)
			close(fd);
		else
			close_reset(fd);
		break;
	case LV_OVERSIZE: {
		/* --max-frame bytes with no 0x00: the daemon must drop us. */
		unsigned char *big = malloc(4 + S.max_frame);

		if (big == NULL)
			abort();
		put_u32(big, churn_dest(c));
		memset(big + 4, 'x', S.max_frame);
		err = send_all(fd, big, 4 + S.max_frame, now_ms() + IO_MS);
		free(big);
		if (err != 0 && err != EPIPE && err != ECONNRESET)
			fail("churner id %" PRIu32 ": sending %zu bytes: %s",
			     id, S.max_frame, strerror(err));
		else
			churn_wait_end(c, id, "a frame over --max-frame");
		close(fd);
		break;
	}
	default:
		abort();
	}
	atomic_store(&S.live[c->idx], NO_ID);
done:
	atomic_fetch_add(&S.leaves[how], 1);
	atomic_fetch_add(&S.cycles, 1);
	return;
leave:
	atomic_store(&S.live[c->idx], NO_ID);
	close(fd);
}

static void *churn_thread(void *arg)
{
	struct churner *c = arg;

	while (churning())
		churn_cycle(c);
	return NULL;
}

/* --- the sink ----------------------------------------------------------- */

/* Connects the sink, with a small receive buffer; -1 after a failure. */
static int sink_open(void)
{
	int fd = conn_open(SINK_RCVBUF);
	uint32_t id;

	if (fd < 0)
		return -1;
	if (read_id(fd, &id, "sink") < 0) {
		close(fd);
		return -1;
	}
	pthread_mutex_lock(&S.sink_mu);
	atomic_store(&S.sink_id, id);
	pthread_cond_broadcast(&S.sink_cv);
	pthread_mutex_unlock(&S.sink_mu);
	atomic_fetch_add(&S.sink_conns, 1);
	return fd;
}

/*
 * Never reads. It writes a frame to a never-given id now and then, so that
 * once the daemon has closed it as a slow consumer (which no FIN announces:
 * it waits behind the unread data) the daemon's side answers with a reset.
 */
static void *sink_thread(void *arg)
{
	int fd = *(int *)arg;
	unsigned char probe[4 + MSG_HEAD + 1];
	size_t len = 0;

	frame_add(probe, &len, NEVER_ID, 'c', 0, 0, 0);
	while (fd >= 0 && !stopping()) {
		struct pollfd pfd = {.fd = fd, .events = 0};

		if (poll(&pfd, 1, SINK_PROBE_MS) > 0 &&
		    (pfd.revents & (POLLERR | POLLHUP))) {
			atomic_store(&S.sink_id, NO_ID);
			atomic_fetch_add(&S.sink_drops, 1);
			close(fd);
			fd = sink_open();
			continue;
		}
		if (send(fd, probe, len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)len)
			atomic_fetch_add(&S.frames, 1);
	}
	if (fd >= 0)
		close_reset(fd);
	return NULL;
}

/* Wakes whoever waits on sink_cv: the phase has changed. */
static void set_phase(enum phase ph)
{
	pthread_mutex_lock(&S.sink_mu);
	atomic_store(&S.phase, ph);
	pthread_cond_broadcast(&S.sink_cv);
	pthread_mutex_unlock(&S.sink_mu);
}

/* The sink's id, once it has one; NO_ID once the churn is over. */
static uint32_t sink_wait(void)
{
	uint32_t id;

	pthread_mutex_lock(&S.sink_mu);
	while ((id = atomic_load(&S.sink_id)) == NO_ID && churning())
		pthread_cond_wait(&S.sink_cv, &S.sink_mu);
	pthread_mutex_unlock(&S.sink_mu);
	return churning() ? id : NO_ID;
}

/*
 * Sends the sink frames as fast as the daemon reads them, which it stops
 * doing once the sink's outbox and the feeder's waiting room are full, and
 * does again when the sink is dropped. Stops with the churn, after the
 * frame under way; main closes the connection at the end.
 */
static void *feed_thread(void *arg)
{
	int fd = *(int *)arg;
	unsigned char frame[4 + MSG_HEAD + FEED_LEN + 1];
	uint32_t n = 0, sink;

	while ((sink = sink_wait()) != NO_ID) {
		size_t len = 0;
		int err;

		frame_add(frame, &len, sink, 'c', 0, n++, FEED_LEN);
		/* Held up until the sink is dropped: a slow-timeout. */
		err = send_all(fd, frame, len, now_ms() + 3 * IO_MS);
		if (err != 0) {
			fail("feeder: %s with %zu bytes for the sink",
			     strerror(err), len);
			break;
		}
		atomic_fetch_add(&S.fed, 1);
		atomic_fetch_add(&S.frames, 1);
	}
	return NULL;
}

/* --- main --------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: soak_load --port PORT --seconds N "
			"[--warmup N] [--pairs N] [--churners N] "
			"[--max-frame BYTES]\n");
	exit(2);
}

static void tick(int t, const char *phase)
{
	printf("tick t=%d phase=%s cycles=%lu pair_msgs=%lu sink_drops=%lu\n",
	       t, phase, atomic_load(&S.cycles), atomic_load(&S.pair_msgs),
	       atomic_load(&S.sink_drops));
}

static void summary(void)
{
	unsigned long cycles = atomic_load(&S.cycles);

	printf("summary seconds=%d cycles=%lu cycles_per_s=%lu ids=%lu "
	       "frames=%lu self_back=%lu pair_msgs=%lu churn_seen=%lu "
	       "sink_conns=%lu sink_drops=%lu fed=%lu",
	       S.seconds, cycles, cycles / (unsigned long)S.seconds,
	       atomic_load(&S.ids), atomic_load(&S.frames),
	       atomic_load(&S.self_back), atomic_load(&S.pair_msgs),
	       atomic_load(&S.churn_seen), atomic_load(&S.sink_conns),
	       atomic_load(&S.sink_drops), atomic_load(&S.fed));
	for (int i = 0; i < LV_COUNT; i++)
		printf(" %s=%lu", leave_names[i], atomic_load(&S.leaves[i]));
	printf("\n");
}

static int int_arg(const char *s, int min)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end != '\0' || v < min || v > 1000000)
		usage();
	return (int)v;
}

int main(int argc, char **argv)
{
	struct timespec next;
	pthread_t *pt, *ct, st, ft;
	struct pair *pairs;
	struct churner *ch;
	sigset_t usr1;
	int sink_fd, feed_fd, t;
	uint32_t feed_id;

	S.npairs = 4;
	S.nchurners = 4;
	S.max_frame = 65536;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			S.port = int_arg(argv[i + 1], 1);
		else if (strcmp(argv[i], "--seconds") == 0)
			S.seconds = int_arg(argv[i + 1], 1);
		else if (strcmp(argv[i], "--warmup") == 0)
			S.warmup = int_arg(argv[i + 1], 0);
		else if (strcmp(argv[i], "--pairs") == 0)
			S.npairs = int_arg(argv[i + 1], 1);
		else if (strcmp(argv[i], "--churners") == 0)
			S.nchurners = int_arg(argv[i + 1], 1);
		else if (strcmp(argv[i], "--max-frame") == 0)
			S.max_frame = (size_t)int_arg(argv[i + 1], 1);
		else
			usage();
	}
	if (argc % 2 != 1 || S.port == 0 || S.seconds == 0)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* SIGUSR1 ends the pause; only main waits for it. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	signal(SIGPIPE, SIG_IGN);

	pairs = calloc((size_t)S.npairs, sizeof *pairs);
	ch = calloc((size_t)S.nchurners, sizeof *ch);
	pt = calloc((size_t)S.npairs, sizeof *pt);
	ct = calloc((size_t)S.nchurners, sizeof *ct);
	S.pair_ids = calloc((size_t)S.npairs * 2, sizeof *S.pair_ids);
	S.live = calloc((size_t)S.nchurners, sizeof *S.live);
	if (!pairs || !ch || !pt || !ct || !S.pair_ids || !S.live)
		abort();
	atomic_store(&S.sink_id, NO_ID);
	for (int i = 0; i < S.nchurners; i++)
		atomic_store(&S.live[i], NO_ID);

	/* The long-lived clients, connected before anything starts. */
	for (int i = 0; i < S.npairs; i++) {
		struct pair *p = &pairs[i];

		p->idx = i;
		p->out = malloc(PAIR_BATCH * (4 + MSG_HEAD + PAIR_MAXLEN + 1));
		if (p->out == NULL)
			abort();
		for (int s = 0; s < 2; s++) {
			p->fd[s] = p->in[s].fd = conn_open(0);
			if (p->fd[s] < 0 ||
			    read_id(p->fd[s], &p->id[s], "pair") < 0)
				return 1;
			S.pair_ids[2 * i + s] = p->id[s];
		}
	}
	sink_fd = sink_open();
	if (sink_fd < 0)
		return 1;
	feed_fd = conn_open(0);
	if (feed_fd < 0 || read_id(feed_fd, &feed_id, "feeder") < 0)
		return 1;
	printf("ready long_lived=%d\n", 2 * S.npairs + 2);

	for (int i = 0; i < S.npairs; i++)
		pthread_create(&pt[i], NULL, pair_thread, &pairs[i]);
	pthread_create(&st, NULL, sink_thread, &sink_fd);
	pthread_create(&ft, NULL, feed_thread, &feed_fd);
	for (int i = 0; i < S.nchurners; i++) {
		ch[i].idx = i;
		ch[i].rs = 0x9e3779b97f4a7c15u * (uint64_t)(i + 1);
		pthread_create(&ct[i], NULL, churn_thread, &ch[i]);
	}

	/* The load, paced by the clock (a tick a second). */
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (t = 1; t <= S.seconds && !atomic_load(&S.failed); t++) {
		next.tv_sec++;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
		tick(t, "load");
		if (t == S.warmup)
			printf("warm t=%d\n", t);
	}

	/* The pause: churners gone, the feeder stopped, pairs, sink and
	 * feeder still connected, until the script has seen what it waits for
	 * and sends SIGUSR1. */
	set_phase(PH_PAUSE);
	for (int i = 0; i < S.nchurners; i++)
		pthread_join(ct[i], NULL);
	pthread_join(ft, NULL);
	printf("pause cycles=%lu\n", atomic_load(&S.cycles));
	for (int w = 0; w < PAUSE_MAX_S && !atomic_load(&S.failed); w++) {
		struct timespec one = {.tv_sec = 1};

		if (sigtimedwait(&usr1, NULL, &one) == SIGUSR1)
			break;
		tick(t + w, "pause");
	}

	set_phase(PH_STOP);
	for (int i = 0; i < S.npairs; i++)
		pthread_join(pt[i], NULL);
	pthread_join(st, NULL);
	close(feed_fd);
	summary();
	for (int i = 0; i < S.npairs; i++)
		free(pairs[i].out);
	free(pairs);
	free(ch);
	free(pt);
	free(ct);
	free(S.pair_ids);
	free((void *)S.live);
	return atomic_load(&S.failed) ? 1 : 0;
}
