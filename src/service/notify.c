/* SPDX-License-Identifier: ISC */
/*
 * notify.c: the sd_notify protocol, by hand (see notify.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static int notify_fd = -1;
static char notify_name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static uint64_t notify_watchdog_usec;

/* Fills notify_addr from a path or an "@abstract" name. */
static int notify_address(const char *name)
{
	size_t n = strlen(name);

	if ((name[0] != '/' && name[0] != '@') || n < 2 ||
	    n > sizeof(notify_addr.sun_path))
		return -1;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, name, n);
	if (name[0] == '@')
		notify_addr.sun_path[0] = '\0'; /* abstract: no NUL after */
	else if (n == sizeof(notify_addr.sun_path))
		return -1; /* a path needs its NUL */
	/* The exact length: an abstract name is not NUL-terminated. */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				 (name[0] == '/'));
	return 0;
}

static void notify_read_watchdog(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (usec == NULL)
		return;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno == 0 && *end == '\0' && v > 0)
		notify_watchdog_usec = v;
}

int pb_notify_init(char *err, size_t errlen)
{
	const char *name = getenv("NOTIFY_SOCKET");

	notify_read_watchdog();
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (name == NULL)
		return 0;
	if (notify_address(name) < 0) {
		snprintf(err, errlen,
			 "NOTIFY_SOCKET: not a socket address: '%s'", name);
		return -1;
	}
	snprintf(notify_name, sizeof(notify_name), "%s", name);
	unsetenv("NOTIFY_SOCKET");
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0) {
		snprintf(err, errlen, "NOTIFY_SOCKET: socket: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

int pb_notify(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	if (notify_fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg)) {
		errno = EMSGSIZE;
		return -1;
	}
	while (sendto(notify_fd, msg, (size_t)n, MSG_NOSIGNAL,
		      (const struct sockaddr *)&notify_addr, notify_len) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

bool pb_notify_on(void)
{
	return notify_fd >= 0;
}

int pb_notify_fd(const char *msg, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)msg,
			    .iov_len = strlen(msg)};
	struct msghdr m = {.msg_name = &notify_addr,
			   .msg_namelen = notify_len,
			   .msg_iov = &iov,
			   .msg_iovlen = 1};

	if (notify_fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(u.buf, 0, sizeof(u.buf));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (sendmsg(notify_fd, &m, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int pb_notify_barrier(int timeout_ms)
{
	struct pollfd pfd = {.events = POLLIN};
	int p[2], r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	r = pb_notify_fd("BARRIER=1", p[1]);
	close(p[1]);
	pfd.fd = p[0];
	/* The manager closes its copy once it has handled every message
	 * sent before: the read end then sees the end. */
	while (r == 0 && (r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		r = 0;
	close(p[0]);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

void pb_notify_export(void)
{
	char v[32];

	if (notify_fd < 0)
		return;
	setenv("NOTIFY_SOCKET", notify_name, 1);
	if (notify_watchdog_usec == 0)
		return;
	snprintf(v, sizeof(v), "%llu",
		 (unsigned long long)notify_watchdog_usec);
	setenv("WATCHDOG_USEC", v, 1);
	snprintf(v, sizeof(v), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", v, 1);
}

uint64_t pb_notify_watchdog_usec(void)
{
	return notify_watchdog_usec;
}
