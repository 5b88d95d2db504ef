/* SPDX-License-Identifier: ISC */
/*
 * activate.c: socket activation, by hand (see activate.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "activate.h"

#define PB_ACTIVATE_FIRST 3 /* SD_LISTEN_FDS_START */
#define PB_ACTIVATE_MOST  2 /* clients and metrics */

/* 0 if fd is a listening TCP socket (IPv4 or IPv6), made close-on-exec and
 * non-blocking; -1 with err otherwise. */
static int activate_check(int fd, const char *name, char *err, size_t errlen)
{
	int listening = 0, type = 0, domain = 0, fl;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    !listening || type != SOCK_STREAM ||
	    (domain != AF_INET && domain != AF_INET6)) {
		snprintf(err, errlen,
			 "socket activation: descriptor %d (%s) is not a "
			 "listening TCP socket",
			 fd, name);
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fl < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "socket activation: descriptor %d: %s",
			 fd, strerror(errno));
		return -1;
	}
	return 0;
}

/* The i-th name of $LISTEN_FDNAMES into out ("" when there is none). */
static void activate_name(const char *names, int i, char *out, size_t cap)
{
	const char *end;

	for (; names != NULL && i > 0; i--) {
		names = strchr(names, ':');
		if (names != NULL)
			names++;
	}
	*out = '\0';
	if (names == NULL)
		return;
	end = strchr(names, ':');
	if (end == NULL)
		end = names + strlen(names);
	if ((size_t)(end - names) < cap) {
		memcpy(out, names, (size_t)(end - names));
		out[end - names] = '\0';
	}
}

/* Puts fd in the slot its name says; 0, or -1 with err. */
static int activate_place(struct pb_activated *a, int fd, const char *name,
			  int nfds, char *err, size_t errlen)
{
	int *slot = NULL;

	if (strcmp(name, "clients") == 0 ||
	    (nfds == 1 && (*name == '\0' || strcmp(name, "unknown") == 0)))
		slot = &a->ac_clients;
	else if (strcmp(name, "metrics") == 0)
		slot = &a->ac_metrics;
	if (slot == NULL || *slot >= 0) {
		snprintf(err, errlen,
			 "socket activation: descriptor %d: %s name '%s' "
			 "(expected clients or metrics)",
			 fd, slot == NULL ? "unknown" : "second socket of",
			 name);
		return -1;
	}
	*slot = fd;
	return 0;
}

int pb_activate(struct pb_activated *a, char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char name[64];
	long n;
	int i, rc = 0;

	a->ac_clients = a->ac_metrics = -1;
	if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != getpid())
		return 0;
	n = strtol(fds, NULL, 10);
	if (n < 1 || n > PB_ACTIVATE_MOST) {
		snprintf(err, errlen,
			 "socket activation: LISTEN_FDS=%s (expected 1 or 2)",
			 fds);
		return -1;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		int fd = PB_ACTIVATE_FIRST + i;

		activate_name(names, i, name, sizeof(name));
		rc = activate_check(fd, name, err, errlen);
		if (rc == 0)
			rc = activate_place(a, fd, name, (int)n, err, errlen);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}
