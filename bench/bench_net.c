/* SPDX-License-Identifier: ISC */
/*
 * bench_net.c: address parsing, non-blocking connects and the bounded
 * setup of a population of clients (see bench_net.h).
 *
 * bench_net_connect_all() keeps BENCH_NET_PARALLEL connects in flight on one
 * epoll instance; a connection counts as set up once its 4-byte id has been
 * read, and exactly those 4 bytes are read, so nothing sent afterwards is
 * consumed here.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "bench_io.h"
#include "bench_net.h"

#define BENCH_NET_PARALLEL 64  /* connects in flight during setup */
#define BENCH_NET_TICK_MS  100 /* epoll_wait bound while setting up */

int bench_addr_parse(const char *text, struct bench_addr *a, char *err,
		     size_t errlen)
{
	char host[BENCH_NET_HOSTLEN];
	const char *colon, *port, *h = text;
	struct addrinfo hints, *res;
	size_t hl;
	int rc;

	if (strncmp(text, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->a_ss;
		size_t len = strlen(text + 5);

		if (len == 0 || len >= sizeof(sun->sun_path)) {
			snprintf(err, errlen,
				 "--addr %s: expected unix:PATH, the path "
				 "at most %zu bytes",
				 text, sizeof(sun->sun_path) - 1);
			return -1;
		}
		memset(a, 0, sizeof(*a));
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, text + 5, len + 1);
		a->a_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				       len + 1);
		return 0;
	}
	if (*text == '[') {
		colon = strchr(text, ']');
		if (colon == NULL || colon[1] != ':')
			goto bad;
		h = text + 1;
		hl = (size_t)(colon - h);
		port = colon + 2;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - text);
		port = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host) || *port == '\0')
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(a->a_host, host, hl + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "--addr %s: %s", text, gai_strerror(rc));
		return -1;
	}
	memcpy(&a->a_ss, res->ai_addr, res->ai_addrlen);
	a->a_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(err, errlen,
		 "--addr %s: expected HOST:PORT, [V6]:PORT or unix:PATH", text);
	return -1;
}

static _Thread_local char bench_net_tls_err[512];

const char *bench_net_connect_tls(void)
{
	return bench_net_tls_err;
}

int bench_net_connect(const struct bench_addr *a)
{
	int one = 1, fd;

	fd = socket(a->a_ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (a->a_ss.ss_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	if (connect(fd, (const struct sockaddr *)&a->a_ss, a->a_len) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	bench_net_tls_err[0] = '\0';
	if (bench_io_attach(fd, a, bench_net_tls_err,
			    sizeof(bench_net_tls_err)) < 0) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}

uint32_t bench_net_id(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

void bench_net_close_all(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			bench_io_close(fds[i]);
		fds[i] = -1;
	}
}

/* Setup state shared by the helpers of bench_net_connect_all(). */
struct bench_setup {
	const struct bench_addr *s_addr;
	size_t s_naddr;
	int s_ep;
	int *s_fds;
	uint32_t *s_ids;
	unsigned char (*s_got)[BENCH_ID_LEN + 1]; /* [4] counts bytes read */
	size_t s_n;
	size_t s_started;
	size_t s_done;
};

static int bench_net_start_one(struct bench_setup *s)
{
	struct epoll_event ev;
	size_t i = s->s_started;
	int fd = bench_net_connect(&s->s_addr[i % s->s_naddr]);

	if (fd < 0) {
		bench_fail("connecting client %zu of %zu: %s", i, s->s_n,
			   bench_net_tls_err[0] != '\0' ? bench_net_tls_err
							: strerror(errno));
		return -1;
	}
	s->s_fds[i] = fd;
	memset(&ev, 0, sizeof(ev));
	ev.events = bench_io_first_events(fd);
	ev.data.u64 = i;
	if (epoll_ctl(s->s_ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		bench_fail("epoll_ctl: %s", strerror(errno));
		return -1;
	}
	s->s_started++;
	return 0;
}

/* Reads what is there of client i's id; 1 once complete, -1 on failure. */
static int bench_net_read_id(struct bench_setup *s, size_t i)
{
	unsigned char *got = s->s_got[i];
	ssize_t r;
	int e = 0;
	socklen_t el = sizeof(e);

	if (bench_io_tls) {
		struct epoll_event ev;
		uint32_t events = 0;
		char err[512];
		int hs = bench_io_handshake(s->s_fds[i], &events, err,
					    sizeof(err));

		if (hs < 0) {
			bench_fail("client %zu: %s", i, err);
			return -1;
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = events;
		ev.data.u64 = i;
		if (events != 0)
			(void)epoll_ctl(s->s_ep, EPOLL_CTL_MOD, s->s_fds[i],
					&ev);
		if (hs == 0)
			return 0;
	}
	r = bench_io_recv(s->s_fds[i], got + got[BENCH_ID_LEN],
			  BENCH_ID_LEN - got[BENCH_ID_LEN]);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r == 0) {
		bench_fail("client %zu: the server closed the connection "
			   "before sending an id (its --max-clients reached?)",
			   i);
		return -1;
	}
	if (r < 0) {
		e = errno;
		if (e == 0)
			(void)getsockopt(s->s_fds[i], SOL_SOCKET, SO_ERROR, &e,
					 &el);
		bench_fail("client %zu: connecting: %s", i,
			   bench_io_strerror(e));
		return -1;
	}
	got[BENCH_ID_LEN] += (unsigned char)r;
	if (got[BENCH_ID_LEN] < BENCH_ID_LEN)
		return 0;
	s->s_ids[i] = bench_net_id(got);
	(void)epoll_ctl(s->s_ep, EPOLL_CTL_DEL, s->s_fds[i], NULL);
	s->s_done++;
	return 1;
}

static int bench_net_setup_loop(struct bench_setup *s, double timeout_s)
{
	struct epoll_event evs[BENCH_NET_PARALLEL];
	uint64_t last = bench_now_ns(), limit = bench_s_to_ns(timeout_s);
	int k;

	while (s->s_done < s->s_n) {
		int n;

		while (s->s_started < s->s_n &&
		       s->s_started - s->s_done < BENCH_NET_PARALLEL)
			if (bench_net_start_one(s) < 0)
				return -1;
		n = epoll_wait(s->s_ep, evs, BENCH_NET_PARALLEL,
			       BENCH_NET_TICK_MS);
		if (n < 0 && errno != EINTR) {
			bench_fail("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (k = 0; k < n; k++) {
			int rc = bench_net_read_id(s, (size_t)evs[k].data.u64);

			if (rc < 0)
				return -1;
			if (rc > 0)
				last = bench_now_ns();
		}
		if (bench_failed())
			return -1;
		if (bench_now_ns() - last > limit) {
			bench_fail(
				"connecting: no client got its id for %.1f s "
				"(%zu of %zu connected)",
				timeout_s, s->s_done, s->s_n);
			return -1;
		}
	}
	return 0;
}

int bench_net_connect_all(const struct bench_addr *a, size_t na, int *fds,
			  uint32_t *ids, size_t n, double timeout_s)
{
	struct bench_setup s;
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	s.s_addr = a;
	s.s_naddr = na;
	s.s_fds = fds;
	s.s_ids = ids;
	s.s_n = n;
	for (i = 0; i < n; i++)
		fds[i] = -1;
	s.s_got = calloc(n ? n : 1, sizeof(*s.s_got));
	s.s_ep = epoll_create1(EPOLL_CLOEXEC);
	if (s.s_got == NULL || s.s_ep < 0) {
		bench_fail("setting up %zu clients: %s", n, strerror(errno));
		free(s.s_got);
		if (s.s_ep >= 0)
			close(s.s_ep);
		return -1;
	}
	rc = bench_net_setup_loop(&s, timeout_s);
	close(s.s_ep);
	free(s.s_got);
	if (rc < 0)
		bench_net_close_all(fds, n);
	return rc;
}

static int bench_net_cmp_id(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int bench_net_ids_distinct(uint32_t *ids, size_t n, const char *what)
{
	size_t i;

	qsort(ids, n, sizeof(*ids), bench_net_cmp_id);
	for (i = 1; i < n; i++) {
		if (ids[i] == ids[i - 1]) {
			bench_fail("%s: the server gave id %u to two clients",
				   what, ids[i]);
			return -1;
		}
	}
	return 0;
}
