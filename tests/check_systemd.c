/* SPDX-License-Identifier: ISC */
/*
 * check_systemd.c: end-to-end tests of what patchbayd tells systemd and
 * takes from it, with the test in systemd's place: a datagram socket of
 * the test's as $NOTIFY_SOCKET (a path, and an abstract name) receives
 * READY=1, RELOADING=1 with MONOTONIC_USEC then READY=1 on SIGHUP, and
 * STOPPING=1, in that order; WATCHDOG=1 comes with $WATCHDOG_USEC; and a
 * listening socket handed over on descriptor 3 with $LISTEN_PID,
 * $LISTEN_FDS and $LISTEN_FDNAMES is served, while a descriptor that is
 * not a listening TCP socket is refused.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The test's end of $NOTIFY_SOCKET. */
struct sd_listener {
	int sl_fd;
	char sl_name[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Binds a datagram socket, at a path or (abstract) at "@name", and sets
 * $NOTIFY_SOCKET to it. */
static void sd_listen(struct sd_listener *l, bool abstract)
{
	static int seq;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len;

	snprintf(l->sl_name, sizeof l->sl_name, "%spbt-notify-%d-%d",
		 abstract ? "@" : "/tmp/", (int)getpid(), seq++);
	if (!abstract)
		unlink(l->sl_name);
	memcpy(sun.sun_path, l->sl_name, strlen(l->sl_name));
	if (abstract)
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(l->sl_name) + !abstract);
	l->sl_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	pbt_assert(l->sl_fd >= 0, "socket: %s", strerror(errno));
	pbt_assert(bind(l->sl_fd, (struct sockaddr *)&sun, len) == 0,
		   "bind %s: %s", l->sl_name, strerror(errno));
	setenv("NOTIFY_SOCKET", l->sl_name, 1);
}

static void sd_close(struct sd_listener *l)
{
	close(l->sl_fd);
	if (l->sl_name[0] == '/')
		unlink(l->sl_name);
	unsetenv("NOTIFY_SOCKET");
}

/* The next message that is not a mere STATUS= update, within timeout. */
static char *sd_next(struct sd_listener *l, int timeout_ms)
{
	static char msg[512];
	int64_t deadline = pbt_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = l->sl_fd, .events = POLLIN};
		int64_t left = deadline - pbt_now_ms();
		ssize_t n;

		pbt_assert(left > 0 && poll(&p, 1, (int)left) == 1,
			   "no message on NOTIFY_SOCKET within %d ms",
			   timeout_ms);
		n = recv(l->sl_fd, msg, sizeof msg - 1, 0);
		pbt_assert(n > 0, "recv: %s", strerror(errno));
		msg[n] = '\0';
		if (strncmp(msg, "STATUS=", 7) != 0 || strchr(msg, '\n'))
			return msg;
	}
}

/* READY=1, then on SIGHUP RELOADING=1 with MONOTONIC_USEC and READY=1,
 * then on SIGTERM STOPPING=1. */
static void sd_notify_sequence(bool abstract)
{
	char conf[] = "/tmp/pbt-sd-conf-XXXXXX";
	struct sd_listener l = {.sl_fd = -1};
	struct pbt_daemon *d;
	char *m;
	int fd, st;

	fd = mkstemp(conf);
	pbt_assert(fd >= 0 && write(fd, "max-clients = 50\n", 17) == 17,
		   "cannot write %s", conf);
	close(fd);
	sd_listen(&l, abstract);
	d = pbt_start("--config", conf, (char *)NULL);
	m = sd_next(&l, PBT_LOG_MS);
	pbt_assert(strstr(m, "READY=1") != NULL, "first message \"%s\"", m);

	pbt_assert(kill(pbt_pid(d), SIGHUP) == 0, "kill");
	m = sd_next(&l, PBT_LOG_MS);
	pbt_assert(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0 &&
			   strspn(m + 27, "0123456789") == strlen(m + 27) &&
			   strlen(m + 27) > 0,
		   "on SIGHUP, expected RELOADING=1 and MONOTONIC_USEC, got "
		   "\"%s\"",
		   m);
	m = sd_next(&l, PBT_LOG_MS);
	pbt_assert(strcmp(m, "READY=1") == 0, "after reload: \"%s\"", m);

	pbt_assert(kill(pbt_pid(d), SIGTERM) == 0, "kill");
	m = sd_next(&l, PBT_LOG_MS);
	pbt_assert(strcmp(m, "STOPPING=1") == 0, "on SIGTERM: \"%s\"", m);
	st = pbt_wait_exit(d, PBT_EXIT_MS);
	pbt_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "exit status");
	sd_close(&l);
	unlink(conf);
	pbt_free(d);
}

START_TEST(test_notify_socket_path_gets_ready_reloading_stopping)
{
	sd_notify_sequence(false);
}
END_TEST

START_TEST(test_notify_abstract_socket_gets_ready_reloading_stopping)
{
	sd_notify_sequence(true);
}
END_TEST

START_TEST(test_watchdog_is_fed_at_half_the_interval)
{
	struct sd_listener l = {.sl_fd = -1};
	struct pbt_daemon *d;
	int fed = 0;

	sd_listen(&l, true);
	setenv("WATCHDOG_USEC", "200000", 1); /* fed every 100 ms */
	d = pbt_start(NULL);
	unsetenv("WATCHDOG_USEC");
	while (fed < 3) {
		char *m = sd_next(&l, 2000);

		if (strcmp(m, "WATCHDOG=1") == 0)
			fed++;
	}
	sd_close(&l);
	pbt_free(d);
}
END_TEST

START_TEST(test_socket_activation_serves_the_socket_handed_over)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char want[64];
	struct pbt_daemon *d;
	uint32_t ida, idb;
	int a, b;

	pbt_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sin, len) == 0 &&
			   listen(lfd, 16) == 0 &&
			   getsockname(lfd, (struct sockaddr *)&sin, &len) == 0,
		   "cannot make a listening socket: %s", strerror(errno));
	d = pbt_start_activated(lfd, "clients", "-v");
	pbt_log_expect(d, "clients' socket from systemd", PBT_START_MS);
	snprintf(want, sizeof want, "listening on 127.0.0.1:%d",
		 ntohs(sin.sin_port));
	pbt_log_expect(d, want, PBT_START_MS);
	/* Clients that connected to systemd's socket are served. */
	a = pbt_connect_port(ntohs(sin.sin_port));
	pbt_recv_exact(a, &ida, 4, PBT_IO_MS);
	b = pbt_connect_port(ntohs(sin.sin_port));
	pbt_recv_exact(b, &idb, 4, PBT_IO_MS);
	pbt_send_frame(a, pbt_get_u32((unsigned char *)&idb), "activated",
		       PBT_IO_MS);
	pbt_expect_msg(b, "activated", PBT_IO_MS);
	close(lfd);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_socket_activation_refuses_what_is_not_a_listening_socket)
{
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct pbt_daemon *d;
	int st;

	pbt_assert(udp >= 0, "socket");
	d = pbt_start_activated(udp, "clients", "-v");
	st = pbt_wait_exit(d, PBT_EXIT_MS);
	pbt_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
		   "expected exit status 1");
	pbt_assert(pbt_log_has(d, "socket activation: descriptor 3 (clients) "
				  "is not a listening TCP socket"),
		   "no log line naming descriptor 3");
	close(udp);
	pbt_free(d);
}
END_TEST

static Suite *systemd_suite(void)
{
	Suite *s = suite_create("systemd");

	pbt_add_test(s, test_notify_socket_path_gets_ready_reloading_stopping,
		     30);
	pbt_add_test(s,
		     test_notify_abstract_socket_gets_ready_reloading_stopping,
		     30);
	pbt_add_test(s, test_watchdog_is_fed_at_half_the_interval, 30);
	pbt_add_test(s, test_socket_activation_serves_the_socket_handed_over,
		     30);
	pbt_add_test(
		s,
		test_socket_activation_refuses_what_is_not_a_listening_socket,
		30);
	return s;
}

int main(void)
{
	return pbt_run(systemd_suite());
}
