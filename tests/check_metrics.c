/* SPDX-License-Identifier: ISC */
/*
 * check_metrics.c: end-to-end tests of --metrics, as Prometheus and a
 * misbehaving client see it: a scrape shows exactly the traffic a test
 * made, GET /metrics is all that is served (404, 405, 413 otherwise), a
 * scrape keeps its connection open, at most 16 scrapers are served at
 * once and an idle one is cut off, clients are served while the metrics
 * are scraped, SIGTERM still exits 0 with a scraper connected, and a
 * socket from systemd is served and left listening at exit. The test is
 * the HTTP client, a small one over the harness's sockets. A
 * patchbayd built without libmicrohttpd must refuse --metrics (exit 2).
 * Each test starts its own patchbayd ($PATCHBAYD) through harness.c.
 */
#include "config.h"

#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef PB_HAVE_METRICS

#define MX_NOBODY      0x7fffffffu /* an id nobody is given */
#define MX_CONNECTIONS 16	   /* the server's connection limit */

static const char mx_get[] = "GET /metrics HTTP/1.0\r\n\r\n";

/* Starts patchbayd with metrics on a free port; that port in *port. */
static struct pbt_daemon *mx_start(int *port)
{
	struct pbt_daemon *d =
		pbt_start("--metrics", "127.0.0.1:0", (char *)NULL);
	const char *p;
	char *line;

	pbt_log_expect(d, "metrics on http://127.0.0.1:", PBT_LOG_MS);
	line = pbt_log_line(d, "metrics on http://127.0.0.1:");
	p = strstr(line, "127.0.0.1:") + strlen("127.0.0.1:");
	*port = atoi(p);
	pbt_assert(*port > 0 && strstr(p, "/metrics") != NULL,
		   "no port in \"%s\"", line);
	free(line);
	return d;
}

/* Everything the server sends on fd until it closes the connection (a
 * reset included: it can come after a refused body), NUL-terminated. */
static char *mx_read_all(int fd, int timeout_ms)
{
	int64_t deadline = pbt_now_ms() + timeout_ms;
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap);

	pbt_assert(buf != NULL, "out of memory");
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - pbt_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			pbt_fail("no end of the reply within %d ms; got "
				 "\"%.*s\"",
				 timeout_ms, (int)len, buf);
		if (len + 1 == cap) {
			char *more = realloc(buf, cap *= 2);

			pbt_assert(more != NULL, "out of memory");
			buf = more;
		}
		n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n > 0)
			len += (size_t)n;
		else if (n == 0 || errno == ECONNRESET)
			break;
		else if (errno != EAGAIN && errno != EINTR)
			pbt_fail("recv: %s", strerror(errno));
	}
	buf[len] = '\0';
	return buf;
}

/* One reply: the whole of it, its status and where its body starts. */
struct mx_reply {
	char *r_text;
	int r_status;
	const char *r_body;
};

/* Reads the reply on fd until the server closes the connection. */
static void mx_receive(int fd, struct mx_reply *r)
{
	const char *end;

	r->r_text = mx_read_all(fd, PBT_IO_MS);
	end = strstr(r->r_text, "\r\n\r\n");
	pbt_assert(strncmp(r->r_text, "HTTP/1.", 7) == 0 && end != NULL,
		   "not an HTTP reply: \"%s\"", r->r_text);
	r->r_status = atoi(r->r_text + 9);
	r->r_body = end + 4;
}

/* Sends request on a connection of its own; the reply. */
static void mx_exchange(int port, const char *request, size_t len,
			struct mx_reply *r)
{
	int fd = pbt_connect_port(port);

	pbt_send_all(fd, request, len, PBT_IO_MS);
	mx_receive(fd, r);
	close(fd);
}

static void mx_request(int port, const char *request, struct mx_reply *r)
{
	mx_exchange(port, request, strlen(request), r);
}

/* The value of header `name` in r, up to the end of its line, or "". */
static const char *mx_header(const struct mx_reply *r, const char *name,
			     char *buf, size_t cap)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof key, "\r\n%s: ", name);
	p = strcasestr(r->r_text, key);
	if (p == NULL || p > r->r_body)
		return "";
	p += strlen(key);
	snprintf(buf, cap, "%.*s", (int)strcspn(p, "\r"), p);
	return buf;
}

/* A GET /metrics that must succeed, with the exposition's type. */
static void mx_scrape(int port, struct mx_reply *r)
{
	char type[128];

	mx_request(port, mx_get, r);
	pbt_assert(r->r_status == 200, "GET /metrics: \"%s\"", r->r_text);
	pbt_assert(strcmp(mx_header(r, "Content-Type", type, sizeof type),
			  "text/plain; version=0.0.4; charset=utf-8") == 0,
		   "Content-Type: \"%s\"", type);
}

/* The value of the sample named exactly `sample`, or fails. */
static unsigned long long mx_value(const char *body, const char *sample)
{
	size_t n = strlen(sample);
	const char *p;

	for (p = body; *p != '\0'; p = strchr(p, '\n') + 1)
		if (strncmp(p, sample, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	pbt_fail("no sample %s in:\n%s", sample, body);
}

struct mx_expect {
	const char *e_sample;
	unsigned long long e_want;
};

/*
 * Scrapes until every sample holds exactly what e says, or fails after
 * PBT_IO_MS with what they held: the daemon bumps a counter just after
 * the deed that the test saw (a frame received, an id read), so the
 * first scrape may come too early. A counter past its mark never
 * comes back to it, and fails the test.
 */
static void mx_expect_values(int port, const struct mx_expect *e, size_t n)
{
	int64_t deadline = pbt_now_ms() + PBT_IO_MS;

	for (;;) {
		struct mx_reply r;
		char got[1024] = "";
		size_t i, off = 0, wrong = 0;

		mx_scrape(port, &r);
		for (i = 0; i < n; i++) {
			unsigned long long v =
				mx_value(r.r_body, e[i].e_sample);

			if (v == e[i].e_want)
				continue;
			wrong++;
			off += (size_t)snprintf(got + off, sizeof got - off,
						"\n  %s: %llu, want %llu",
						e[i].e_sample, v, e[i].e_want);
			if (off >= sizeof got)
				off = sizeof got - 1;
		}
		free(r.r_text);
		if (wrong == 0)
			return;
		if (pbt_now_ms() > deadline)
			pbt_fail("after %d ms:%s", PBT_IO_MS, got);
		poll(NULL, 0, 5); /* let the daemon's threads run */
	}
}

START_TEST(test_scrape_shows_exactly_the_traffic)
{
	static const char *const counters[] = {
		"patchbay_connections_accepted_total",
		"patchbay_frames_received_total",
		"patchbay_frames_forwarded_total",
		"patchbay_frames_dropped_total{reason=\"unknown_destination\"}",
		"patchbay_disconnects_total{reason=\"peer_closed\"}",
		"patchbay_bytes_forwarded_total",
	};
	unsigned long long base[6];
	struct pbt_daemon *d;
	struct mx_reply r;
	uint32_t ida, idb;
	char *got;
	size_t i, len;
	int port, a, b;

	d = mx_start(&port);
	mx_scrape(port, &r);
	for (i = 0; i < 6; i++)
		base[i] = mx_value(r.r_body, counters[i]);
	pbt_assert(mx_value(r.r_body, "patchbay_clients") == 0,
		   "clients before any connected");
	free(r.r_text);

	a = pbt_connect(d, &ida);
	b = pbt_connect(d, &idb);
	/* The lost frames first: once B has its five, A's thread has
	 * handled all eight. */
	for (i = 0; i < 3; i++)
		pbt_send_frame(a, MX_NOBODY, "lost", PBT_IO_MS);
	for (i = 0; i < 5; i++)
		pbt_send_frame(a, idb, "found", PBT_IO_MS);
	free(pbt_recv_msgs(b, 5, &len, PBT_IO_MS));
	{
		const struct mx_expect e[] = {
			{counters[0], base[0] + 2},
			{counters[1], base[1] + 8},
			{counters[2], base[2] + 5},
			{counters[3], base[3] + 3},
			{counters[4], base[4]},
			{counters[5], base[5] + 5 * sizeof "found"},
			{"patchbay_clients", 2},
		};

		mx_expect_values(port, e, sizeof e / sizeof e[0]);
	}

	close(a);
	close(b);
	{
		const struct mx_expect e[] = {
			{counters[4], base[4] + 2},
			{"patchbay_clients", 0},
			{"patchbay_queued_bytes{queue=\"outbox\"}", 0},
			{"patchbay_queued_bytes{queue=\"park\"}", 0},
		};

		mx_expect_values(port, e, sizeof e / sizeof e[0]);
	}
	/* Scrapes are no news for the log. */
	got = pbt_log_copy(d);
	pbt_assert(strstr(got, "metrics: ") == NULL,
		   "libmicrohttpd complained:\n%s", got);
	free(got);
	pbt_free(d);
}
END_TEST

/* request, on a connection of its own, gets status. */
static void mx_expect_status(int port, const char *request, int status)
{
	struct mx_reply r;

	mx_request(port, request, &r);
	pbt_assert(r.r_status == status, "%s: want %d, got \"%s\"", request,
		   status, r.r_text);
	free(r.r_text);
}

START_TEST(test_only_get_and_head_of_metrics_are_served)
{
	struct pbt_daemon *d;
	struct mx_reply r;
	char allow[64], type[128], *big;
	size_t n;
	int port;

	d = mx_start(&port);
	mx_expect_status(port, "GET /other HTTP/1.0\r\n\r\n", 404);
	mx_expect_status(port, "GET / HTTP/1.0\r\n\r\n", 404);
	mx_expect_status(port, "GET /metrics/x HTTP/1.0\r\n\r\n", 404);
	mx_expect_status(port, "DELETE /metrics HTTP/1.0\r\n\r\n", 405);
	mx_request(port,
		   "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
		   &r);
	pbt_assert(r.r_status == 405, "POST: \"%s\"", r.r_text);
	pbt_assert(strcmp(mx_header(&r, "Allow", allow, sizeof allow),
			  "GET, HEAD") == 0,
		   "405 without Allow: GET, HEAD: \"%s\"", r.r_text);
	free(r.r_text);

	/* A body is refused before it is read. */
	mx_expect_status(port,
			 "GET /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\n"
			 "hello",
			 413);
	mx_expect_status(
		port,
		"GET /metrics HTTP/1.1\r\nHost: x\r\n"
		"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		413);

	/* Headers beyond the memory limit (32 KiB) are refused. */
	n = 40 * 1024;
	big = malloc(n + 64);
	pbt_assert(big != NULL, "out of memory");
	strcpy(big, "GET /metrics HTTP/1.0\r\nX-Big: ");
	memset(big + strlen(big), 'x', n);
	strcpy(big + n + strlen("GET /metrics HTTP/1.0\r\nX-Big: "),
	       "\r\n\r\n");
	mx_exchange(port, big, strlen(big), &r);
	pbt_assert(r.r_status >= 400 && r.r_status < 500,
		   "40 KiB of headers: \"%.200s\"", r.r_text);
	free(r.r_text);
	free(big);

	/* HEAD: the headers of a scrape, no body. */
	mx_request(port, "HEAD /metrics HTTP/1.0\r\n\r\n", &r);
	pbt_assert(r.r_status == 200 && *r.r_body == '\0', "HEAD: \"%s\"",
		   r.r_text);
	pbt_assert(strcmp(mx_header(&r, "Content-Type", type, sizeof type),
			  "text/plain; version=0.0.4; charset=utf-8") == 0,
		   "HEAD: Content-Type \"%s\"", type);
	free(r.r_text);

	/* And after all that, scrapes still work. */
	mx_scrape(port, &r);
	free(r.r_text);
	pbt_free(d);
}
END_TEST

START_TEST(test_scrapes_share_a_kept_alive_connection)
{
	static const char two[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
				  "GET /metrics HTTP/1.1\r\nHost: x\r\n"
				  "Connection: close\r\n\r\n";
	struct pbt_daemon *d;
	struct mx_reply r;
	const char *p;
	int port, replies = 0;

	d = mx_start(&port);
	mx_exchange(port, two, sizeof two - 1, &r);
	for (p = r.r_text; (p = strstr(p, "HTTP/1.1 200 OK\r\n")) != NULL; p++)
		replies++;
	pbt_assert(replies == 2,
		   "two requests on one connection, %d replies: "
		   "\"%.300s\"",
		   replies, r.r_text);
	free(r.r_text);
	pbt_free(d);
}
END_TEST

START_TEST(test_a_seventeenth_scraper_waits_clients_are_served)
{
	struct pollfd p = {.events = POLLIN};
	int held[MX_CONNECTIONS];
	struct pbt_daemon *d;
	struct mx_reply r;
	uint32_t ida, idb;
	int port, a, b, i;

	d = mx_start(&port);
	for (i = 0; i < MX_CONNECTIONS; i++)
		held[i] = pbt_connect_port(port);
	p.fd = pbt_connect_port(port);
	pbt_send_all(p.fd, mx_get, strlen(mx_get), PBT_IO_MS);

	/* The metrics' limit is theirs alone: clients are served. */
	a = pbt_connect(d, &ida);
	b = pbt_connect(d, &idb);
	pbt_send_frame(a, idb, "still here", PBT_IO_MS);
	pbt_expect_msg(b, "still here", PBT_IO_MS);
	pbt_assert(poll(&p, 1, 200) == 0,
		   "a seventeenth connection was answered");

	/* One leaves: the one waiting is served. */
	close(held[0]);
	mx_receive(p.fd, &r);
	pbt_assert(r.r_status == 200, "the waiting scrape: \"%s\"", r.r_text);
	free(r.r_text);
	close(p.fd);
	for (i = 1; i < MX_CONNECTIONS; i++)
		close(held[i]);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_a_scraper_that_stalls_is_cut_off)
{
	static const char part[] = "GET /metrics HTTP/1.0\r\nHost: x\r\n";
	struct pbt_daemon *d;
	int64_t t0, waited;
	int port, fd;

	d = mx_start(&port);
	fd = pbt_connect_port(port);
	t0 = pbt_now_ms();
	pbt_send_all(fd, part, sizeof part - 1, PBT_IO_MS);
	/* The timeout is 10 s, counted from the last bytes received. */
	pbt_recv_end(fd, 20000);
	waited = pbt_now_ms() - t0;
	pbt_assert(waited >= 9000, "cut off after %lld ms, before the timeout",
		   (long long)waited);
	close(fd);
	pbt_free(d);
}
END_TEST

/* A thread that scrapes until told to stop, counting its scrapes and
 * those that went wrong. */
struct mx_scraper {
	int s_port;
	atomic_bool s_stop;
	atomic_uint s_done;
	atomic_uint s_bad;
};

/* One scrape with plain calls (Check's asserts belong to the main
 * thread): whether it got a 200 with the counters in it. */
static bool mx_scrape_once(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 10};
	char buf[16384];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    send(fd, mx_get, strlen(mx_get), MSG_NOSIGNAL) < 0) {
		close(fd);
		return false;
	}
	while (len + 1 < sizeof buf &&
	       (n = recv(fd, buf + len, sizeof buf - len - 1, 0)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return strncmp(buf, "HTTP/1.", 7) == 0 &&
	       strncmp(buf + 8, " 200 ", 5) == 0 &&
	       strstr(buf, "\npatchbay_frames_forwarded_total ") != NULL;
}

static void *mx_scraper_run(void *arg)
{
	struct mx_scraper *s = arg;

	while (!atomic_load(&s->s_stop)) {
		if (!mx_scrape_once(s->s_port))
			atomic_fetch_add(&s->s_bad, 1);
		atomic_fetch_add(&s->s_done, 1);
	}
	return NULL;
}

START_TEST(test_clients_are_served_while_scraped)
{
	struct mx_scraper s = {.s_stop = false, .s_done = 0, .s_bad = 0};
	int64_t deadline;
	struct pbt_daemon *d;
	struct pbt_buf f = {0};
	uint32_t ida, idb;
	pthread_t t;
	char *got;
	size_t len;
	int a, b, i;

	d = mx_start(&s.s_port);
	a = pbt_connect(d, &ida);
	b = pbt_connect(d, &idb);
	for (i = 0; i < 1000; i++)
		pbt_buf_frame(&f, idb, "routed while scraped", 20);
	pbt_assert(pthread_create(&t, NULL, mx_scraper_run, &s) == 0,
		   "pthread_create");
	/* In rounds, each after one more scrape, so that scrapes are made
	 * all along while frames are routed. */
	deadline = pbt_now_ms() + PBT_IO_MS;
	for (i = 0; i < 10; i++) {
		while (atomic_load(&s.s_done) <= (unsigned)i) {
			pbt_assert(pbt_now_ms() < deadline,
				   "only %u scrapes done in %d ms",
				   atomic_load(&s.s_done), PBT_IO_MS);
			poll(NULL, 0, 1);
		}
		pbt_send_all(a, f.b_data + f.b_len / 10 * (size_t)i,
			     f.b_len / 10, PBT_IO_MS);
		got = pbt_recv_msgs(b, 100, &len, PBT_IO_MS);
		pbt_assert(len == 100 * 21, "round %d: %zu bytes", i, len);
		free(got);
	}
	atomic_store(&s.s_stop, true);
	pthread_join(t, NULL);
	pbt_assert(atomic_load(&s.s_bad) == 0, "%u scrapes, %u failed",
		   atomic_load(&s.s_done), atomic_load(&s.s_bad));
	{
		const struct mx_expect e[] = {
			{"patchbay_frames_forwarded_total", 1000},
		};

		mx_expect_values(s.s_port, e, 1);
	}
	pbt_buf_free(&f);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_sigterm_with_a_scraper_connected_exits_0)
{
	static const char part[] = "GET /metrics HTTP/1.0\r\n";
	struct pbt_daemon *d;
	int port, fd, st;

	d = mx_start(&port);
	fd = pbt_connect_port(port);
	pbt_send_all(fd, part, sizeof part - 1, PBT_IO_MS);
	st = pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "SIGTERM: status 0x%x", (unsigned)st);
	pbt_recv_end(fd, PBT_IO_MS);
	close(fd);
	pbt_free(d);
}
END_TEST

START_TEST(test_socket_from_systemd_is_served_and_left_listening)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pbt_daemon *d;
	struct mx_reply r;
	char want[80];
	int port, st, fd;

	pbt_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sin, len) == 0 &&
			   listen(lfd, 16) == 0 &&
			   getsockname(lfd, (struct sockaddr *)&sin, &len) == 0,
		   "cannot make a listening socket: %s", strerror(errno));
	port = ntohs(sin.sin_port);
	d = pbt_start_activated(lfd, "metrics", "-l 127.0.0.1:0 -v");
	pbt_log_expect(d, "metrics' socket from systemd", PBT_START_MS);
	snprintf(want, sizeof want, "metrics on http://127.0.0.1:%d/metrics",
		 port);
	pbt_log_expect(d, want, PBT_LOG_MS);
	mx_scrape(port, &r);
	free(r.r_text);
	st = pbt_stop(d, SIGTERM, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "SIGTERM: status 0x%x", (unsigned)st);
	/* systemd's socket still listens, for the next start: stopping
	 * closed the daemon's descriptor, and did not shut the socket
	 * down. */
	fd = pbt_connect_port(port);
	close(fd);
	close(lfd);
	pbt_free(d);
}
END_TEST

#else /* !PB_HAVE_METRICS */

START_TEST(test_metrics_refused_when_built_without_libmicrohttpd)
{
	static const char *const args[] = {"--metrics", "127.0.0.1:0", NULL};
	struct pbt_daemon *d = pbt_start_argv(args);
	int st = pbt_wait_exit(d, PBT_EXIT_MS);

	pbt_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2,
		   "--metrics without libmicrohttpd: status 0x%x, want exit 2",
		   (unsigned)st);
	pbt_assert(pbt_log_has(d, "built without metrics"),
		   "no reason given for refusing --metrics");
	pbt_free(d);
}
END_TEST

#endif

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");

#ifdef PB_HAVE_METRICS
	pbt_add_test(s, test_scrape_shows_exactly_the_traffic, 30);
	pbt_add_test(s, test_only_get_and_head_of_metrics_are_served, 30);
	pbt_add_test(s, test_scrapes_share_a_kept_alive_connection, 30);
	pbt_add_test(s, test_a_seventeenth_scraper_waits_clients_are_served,
		     30);
	pbt_add_test(s, test_a_scraper_that_stalls_is_cut_off, 40);
	pbt_add_test(s, test_clients_are_served_while_scraped, 60);
	pbt_add_test(s, test_sigterm_with_a_scraper_connected_exits_0, 30);
	pbt_add_test(s, test_socket_from_systemd_is_served_and_left_listening,
		     30);
#else
	pbt_add_test(s, test_metrics_refused_when_built_without_libmicrohttpd,
		     30);
#endif
	return s;
}

int main(void)
{
	return pbt_run(metrics_suite());
}
