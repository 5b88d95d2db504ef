/* SPDX-License-Identifier: ISC */
/*
 * activate.c: socket activation, by hand (see activate.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "activate.h"

#define PB_ACTIVATE_FIRST 3 /* SD_LISTEN_FDS_START */
/* The clients' sockets, metrics, and the store's entries (restart.h). */
#define PB_ACTIVATE_MOST (PB_ACTIVATE_CLIENTS + 1 + PB_ACTIVATE_STORED)

/* 0 if fd is a listening stream socket, TCP (IPv4 or IPv6) or Unix as
 * 'unix' says, made close-on-exec and non-blocking; -1 with err
 * otherwise. */
static int activate_check(int fd, const char *name, bool is_unix, char *err,
			  size_t errlen)
{
	int listening = 0, type = 0, domain = 0, fl;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    !listening || type != SOCK_STREAM ||
	    (is_unix ? domain != AF_UNIX
		     : domain != AF_INET && domain != AF_INET6)) {
		snprintf(err, errlen,
			 "socket activation: descriptor %d (%s) is not a "
			 "listening %s socket",
			 fd, name, is_unix ? "Unix stream" : "TCP");
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

/* An entry of systemd's file descriptor store that a restart left
 * (restart.h): kept if it is the first of its name (the newest: systemd
 * 252 passes them newest first), else closed. True if name is one. */
static bool activate_stored(struct pb_activated *a, int fd, const char *name)
{
	int *slot = strcmp(name, "pb-state") == 0 ? &a->ac_state
		    : strcmp(name, "pb-bag") == 0 ? &a->ac_bag
						  : NULL;

	if (strncmp(name, "pb-", 3) != 0)
		return false;
	a->ac_stored = true;
	if (slot == NULL || *slot >= 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		close(fd); /* an older one, or a name of a later release */
	else
		*slot = fd;
	return true;
}

/* Checks fd and puts it where its name says; 0, or -1 with err. */
static int activate_place(struct pb_activated *a, int fd, const char *name,
			  int nfds, char *err, size_t errlen)
{
	bool clients =
		strcmp(name, "clients") == 0 ||
		(nfds == 1 && (*name == '\0' || strcmp(name, "unknown") == 0));
	bool is_unix = strcmp(name, "clients-unix") == 0;
	bool tls = strcmp(name, "clients-tls") == 0;

	if (activate_stored(a, fd, name))
		return 0;
	if (clients || is_unix || tls) {
		if (a->ac_nclients == PB_ACTIVATE_CLIENTS) {
			snprintf(err, errlen,
				 "socket activation: descriptor %d: more than "
				 "%d clients' sockets",
				 fd, PB_ACTIVATE_CLIENTS);
			return -1;
		}
		if (activate_check(fd, name, is_unix, err, errlen) < 0)
			return -1;
		a->ac_tls[a->ac_nclients] = tls;
		a->ac_clients[a->ac_nclients++] = fd;
		return 0;
	}
	if (strcmp(name, "metrics") != 0 || a->ac_metrics >= 0) {
		snprintf(err, errlen,
			 "socket activation: descriptor %d: %s name '%s' "
			 "(expected clients, clients-tls, clients-unix or "
			 "metrics)",
			 fd,
			 strcmp(name, "metrics") != 0 ? "unknown"
						      : "second socket of",
			 name);
		return -1;
	}
	if (activate_check(fd, name, false, err, errlen) < 0)
		return -1;
	a->ac_metrics = fd;
	return 0;
}

int pb_activate(struct pb_activated *a, char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char name[64];
	long n;
	int i, rc = 0;

	a->ac_nclients = 0;
	a->ac_metrics = -1;
	a->ac_state = a->ac_bag = -1;
	a->ac_stored = false;
	if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != getpid())
		return 0;
	n = strtol(fds, NULL, 10);
	if (n < 1 || n > PB_ACTIVATE_MOST) {
		snprintf(err, errlen,
			 "socket activation: LISTEN_FDS=%s (expected 1 to %d)",
			 fds, PB_ACTIVATE_MOST);
		return -1;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		int fd = PB_ACTIVATE_FIRST + i;

		activate_name(names, i, name, sizeof(name));
		rc = activate_place(a, fd, name, (int)n, err, errlen);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}
