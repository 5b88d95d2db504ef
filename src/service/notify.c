/* SPDX-License-Identifier: ISC */
/*
 * notify.c: the sd_notify protocol, by hand (see notify.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static int notify_fd = -1;
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

uint64_t pb_notify_watchdog_usec(void)
{
	return notify_watchdog_usec;
}
