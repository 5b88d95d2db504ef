/* SPDX-License-Identifier: ISC */
/*
 * check_listen.c: end-to-end tests of the listeners: --listen given
 * several times, TCP and Unix sockets sharing one id space and exchanging
 * both ways; a Unix socket's mode and group set before it listens, another
 * user refused by them, the peer's uid and pid in the connect line; a stale
 * socket replaced, a live one or a file that is not a socket refused; the
 * file removed at exit unless systemd handed the socket over; socket
 * activation of a Unix socket by the name clients-unix.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh folder for sockets, and the path of one in it. */
static void listen_dir(char *dir, size_t cap, char *path, size_t pcap)
{
	snprintf(dir, cap, "/tmp/pb-listen.XXXXXX");
	pbt_assert(mkdtemp(dir) != NULL, "mkdtemp failed");
	pbt_assert(chmod(dir, 0755) == 0, "chmod %s", dir);
	snprintf(path, pcap, "%s/s", dir);
}

static void listen_cleanup(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

/* Connects to the Unix socket at path: the fd, or -1 with errno. */
static int listen_unix_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	pbt_assert(fd >= 0, "socket: %s", strerror(errno));
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Connects to the daemon's Unix socket and reads the id. */
static int listen_unix_client(const char *path, uint32_t *id)
{
	unsigned char buf[4];
	int fd = listen_unix_connect(path);

	pbt_assert(fd >= 0, "cannot connect to %s: %s", path, strerror(errno));
	pbt_recv_exact(fd, buf, 4, PBT_IO_MS);
	*id = pbt_get_u32(buf);
	return fd;
}

/* Reads the 4 bytes of an id into buf (false), or sees the daemon close
 * first (true). */
static bool listen_id_or_end(int fd, unsigned char buf[4])
{
	size_t got = 0;

	while (got < 4) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		pbt_assert(poll(&p, 1, PBT_IO_MS) == 1, "no id and no end");
		n = recv(fd, buf + got, 4 - got, 0);
		if (n <= 0)
			return true;
		got += (size_t)n;
	}
	return false;
}

/* Binds a Unix socket at path and, if 'live', listens on it. */
static int listen_bind(const char *path, bool live)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	pbt_assert(fd >= 0 &&
			   bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0 &&
			   (!live || listen(fd, 16) == 0),
		   "cannot bind %s: %s", path, strerror(errno));
	return fd;
}

/*
 * A TCP listener and a Unix one, given on the command line: clients of
 * both get ids from one space and exchange both ways; the Unix client's
 * line names its uid and pid; the socket file goes at exit.
 */
START_TEST(test_tcp_and_unix_clients_exchange)
{
	char dir[64], path[96], spec[128], want[192];
	struct pbt_daemon *d;
	uint32_t idt, idu;
	int t, u;

	listen_dir(dir, sizeof dir, path, sizeof path);
	snprintf(spec, sizeof spec, "unix:%s", path);
	d = pbt_start("--listen", spec, (char *)NULL);
	snprintf(want, sizeof want, "listening on %s", spec);
	pbt_log_expect(d, want, PBT_LOG_MS);
	t = pbt_connect(d, &idt);
	u = listen_unix_client(path, &idu);
	ck_assert_uint_eq(idt, 0);
	ck_assert_uint_eq(idu, 1);
	snprintf(want, sizeof want,
		 "client 1 connected from unix (uid %u, pid %ld)",
		 (unsigned)getuid(), (long)getpid());
	pbt_log_expect(d, want, PBT_LOG_MS);
	pbt_send_frame(t, idu, "tcp to unix", PBT_IO_MS);
	pbt_expect_msg(u, "tcp to unix", PBT_IO_MS);
	pbt_send_frame(u, idt, "unix to tcp", PBT_IO_MS);
	pbt_expect_msg(t, "unix to tcp", PBT_IO_MS);
	close(t);
	close(u);
	free(pbt_stop_reconciled(d));
	pbt_assert(access(path, F_OK) != 0, "%s is still there after exit",
		   path);
	pbt_free(d);
	listen_cleanup(dir, path);
}
END_TEST

/* The mode and group are set before the socket listens. */
START_TEST(test_unix_socket_has_its_mode_and_group)
{
	/* Root may give any group; anyone else only one of its own. */
	gid_t gid = geteuid() == 0 ? 1 : getgid();
	char dir[64], path[96], spec[128], group[24];
	struct pbt_daemon *d;
	struct stat st;

	listen_dir(dir, sizeof dir, path, sizeof path);
	snprintf(spec, sizeof spec, "unix:%s", path);
	snprintf(group, sizeof group, "%u", (unsigned)gid);
	d = pbt_start("--listen", spec, "--unix-mode", "0640", "--unix-group",
		      group, (char *)NULL);
	pbt_assert(stat(path, &st) == 0, "stat %s", path);
	pbt_assert(S_ISSOCK(st.st_mode), "%s is not a socket", path);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_uint_eq(st.st_gid, gid);
	free(pbt_stop_reconciled(d));
	pbt_free(d);
	listen_cleanup(dir, path);
}
END_TEST

/* A user that the mode does not let in cannot connect (checked as root,
 * from a child that becomes nobody). */
START_TEST(test_other_user_is_refused_by_the_mode)
{
	const uid_t nobody = 65534; /* and its group, the same number */
	char dir[64], path[96], spec[128], *stats;
	struct pbt_daemon *d;
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		fprintf(stderr, "not root: another user cannot be tried\n");
		return;
	}
	listen_dir(dir, sizeof dir, path, sizeof path);
	snprintf(spec, sizeof spec, "unix:%s", path);
	d = pbt_start("--listen", spec, "--unix-mode", "0660", (char *)NULL);
	pid = fork();
	pbt_assert(pid >= 0, "fork");
	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) < 0 || setgid((gid_t)nobody) < 0 ||
		    setuid(nobody) < 0)
			_exit(3);
		fd = listen_unix_connect(path);
		_exit(fd < 0 && errno == EACCES ? 0 : 1);
	}
	pbt_assert(waitpid(pid, &st, 0) == pid, "waitpid");
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "nobody could connect, or was refused otherwise (%d)", st);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 0);
	free(stats);
	pbt_free(d);
	listen_cleanup(dir, path);
}
END_TEST

/* A socket file nobody listens on (a daemon that died) is replaced. */
START_TEST(test_stale_socket_is_replaced)
{
	char dir[64], path[96], spec[128];
	struct pbt_daemon *d;
	uint32_t id;
	int fd = -1;

	listen_dir(dir, sizeof dir, path, sizeof path);
	close(listen_bind(path, false));
	snprintf(spec, sizeof spec, "unix:%s", path);
	d = pbt_start("--listen", spec, (char *)NULL);
	fd = listen_unix_client(path, &id);
	close(fd);
	free(pbt_stop_reconciled(d));
	pbt_free(d);
	listen_cleanup(dir, path);
}
END_TEST

/* A socket another server listens on, or a file that is not a socket, is
 * refused (exit 1, naming it), and left as it was. */
START_TEST(test_live_socket_or_other_file_is_refused)
{
	char dir[64], path[96], spec[128], *log;
	struct pbt_daemon *d;
	struct stat st;
	int live, st_exit;
	FILE *f;

	listen_dir(dir, sizeof dir, path, sizeof path);
	snprintf(spec, sizeof spec, "unix:%s", path);
	live = listen_bind(path, true);
	d = pbt_start_argv((const char *const[]){"--listen", spec, NULL});
	st_exit = pbt_wait_exit(d, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st_exit) && WEXITSTATUS(st_exit) == 1,
		   "a live socket was not refused");
	log = pbt_log_copy(d);
	pbt_assert(strstr(log, "another server listens there") != NULL,
		   "no reason given: %s", log);
	free(log);
	pbt_free(d);
	pbt_assert(listen_unix_connect(path) >= 0,
		   "the live socket was taken away");
	close(live);
	unlink(path);

	f = fopen(path, "w");
	pbt_assert(f != NULL, "cannot make %s", path);
	fclose(f);
	d = pbt_start_argv((const char *const[]){"--listen", spec, NULL});
	st_exit = pbt_wait_exit(d, PBT_EXIT_MS);
	pbt_assert(WIFEXITED(st_exit) && WEXITSTATUS(st_exit) == 1,
		   "a file that is not a socket was not refused");
	pbt_assert(pbt_log_has(d, "not a socket"), "no reason given");
	pbt_assert(stat(path, &st) == 0 && S_ISREG(st.st_mode),
		   "the file was removed");
	pbt_free(d);
	listen_cleanup(dir, path);
}
END_TEST

/* systemd hands over a Unix socket as clients-unix: it is served, and
 * its file is systemd's, left at exit. */
START_TEST(test_activated_unix_socket)
{
	char dir[64], path[96];
	struct pbt_daemon *d;
	uint32_t id;
	int lfd, fd;

	listen_dir(dir, sizeof dir, path, sizeof path);
	lfd = listen_bind(path, true);
	d = pbt_start_activated(lfd, "clients-unix", "-v");
	pbt_log_expect(d, "clients' socket from systemd", PBT_START_MS);
	fd = listen_unix_client(path, &id);
	ck_assert_uint_eq(id, 0);
	pbt_send_frame(fd, id, "to myself", PBT_IO_MS);
	pbt_expect_msg(fd, "to myself", PBT_IO_MS);
	close(fd);
	close(lfd);
	free(pbt_stop_reconciled(d));
	pbt_assert(access(path, F_OK) == 0,
		   "systemd's socket file was removed");
	pbt_free(d);
	listen_cleanup(dir, path);
}
END_TEST

/* Connects from source address src to the daemon's TCP port: the fd, and
 * the id in *id, or -1 when the daemon closed without an id. */
static int listen_from(struct pbt_daemon *d, const char *src, uint32_t *id)
{
	struct sockaddr_in from = {.sin_family = AF_INET}, to = from;
	unsigned char buf[4];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, src, &from.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	to.sin_port = htons((uint16_t)pbt_port(d));
	pbt_assert(fd >= 0 &&
			   bind(fd, (struct sockaddr *)&from, sizeof from) ==
				   0 &&
			   connect(fd, (struct sockaddr *)&to, sizeof to) == 0,
		   "cannot connect from %s: %s", src, strerror(errno));
	if (listen_id_or_end(fd, buf)) {
		close(fd);
		return -1;
	}
	*id = pbt_get_u32(buf);
	return fd;
}

/*
 * --max-clients-per-address 2: a third client from 127.0.0.2 is closed
 * without an id and counted, while 127.0.0.3 still gets in; once one from
 * 127.0.0.2 leaves, the next one gets in.
 */
START_TEST(test_clients_per_address_are_limited)
{
	struct pbt_daemon *d =
		pbt_start("--max-clients-per-address", "2", (char *)NULL);
	uint32_t id;
	char *stats;
	int a, b, c, e;

	a = listen_from(d, "127.0.0.2", &id);
	b = listen_from(d, "127.0.0.2", &id);
	pbt_assert(a >= 0 && b >= 0, "the first two were refused");
	pbt_assert(listen_from(d, "127.0.0.2", &id) < 0,
		   "a third client from 127.0.0.2 got an id");
	pbt_log_expect(d, "connection from 127.0.0.2", PBT_LOG_MS);
	c = listen_from(d, "127.0.0.3", &id);
	pbt_assert(c >= 0, "127.0.0.3 was refused for 127.0.0.2's clients");
	close(a);
	pbt_log_expect(d, "disconnected (127.0.0.2", PBT_LOG_MS);
	e = listen_from(d, "127.0.0.2", &id);
	pbt_assert(e >= 0,
		   "127.0.0.2 was refused after one of its clients left");
	close(b);
	close(c);
	close(e);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "refused_per_address"), 1);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 4);
	free(stats);
	pbt_free(d);
}
END_TEST

static Suite *listen_suite(void)
{
	Suite *s = suite_create("listen");

	pbt_add_test(s, test_tcp_and_unix_clients_exchange, 30);
	pbt_add_test(s, test_unix_socket_has_its_mode_and_group, 30);
	pbt_add_test(s, test_other_user_is_refused_by_the_mode, 30);
	pbt_add_test(s, test_stale_socket_is_replaced, 30);
	pbt_add_test(s, test_live_socket_or_other_file_is_refused, 30);
	pbt_add_test(s, test_activated_unix_socket, 30);
	pbt_add_test(s, test_clients_per_address_are_limited, 30);
	return s;
}

int main(void)
{
	return pbt_run(listen_suite());
}
