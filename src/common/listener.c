/* SPDX-License-Identifier: ISC */
/*
 * listener.c: TCP, TLS and Unix listeners (see listener.h). A tls:
 * listener's socket is a TCP one; the TLS is the daemon's (tls.h).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"
#include "net.h"

#define LISTENER_BACKLOG 1024

/* The part after a kind's prefix, or NULL if spec lacks it. */
static const char *listener_after(const char *spec, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(spec, prefix, n) == 0 ? spec + n : NULL;
}

const char *pb_listener_invalid(const char *spec)
{
	struct sockaddr_un sun;
	const char *rest;

	if ((rest = listener_after(spec, "unix:")) != NULL) {
		if (rest[0] != '/')
			return "a Unix socket's path must be absolute";
		if (strlen(rest) >= sizeof(sun.sun_path))
			return "a Unix socket's path must be shorter than "
			       "108 bytes";
		return NULL;
	}
	if ((rest = listener_after(spec, "tls:")) != NULL) {
#ifndef HAVE_OPENSSL
		return "TLS listeners need a patchbayd built with OpenSSL "
		       "(configure --with-openssl, with libssl-dev)";
#else
		return pb_net_valid(rest) ? NULL
					  : "not tls:ADDR:PORT or "
					    "tls:[V6ADDR]:PORT";
#endif
	}
	if ((rest = listener_after(spec, "tcp:")) != NULL)
		spec = rest;
	return pb_net_valid(spec) ? NULL
				  : "not [tcp:]ADDR:PORT, [tcp:][V6ADDR]:PORT "
				    "or unix:PATH";
}

/* What is at path now: 0 when nothing (or a stale socket, removed), or
 * -1 with err (a live socket, or not a socket). */
static int listener_clear(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot listen on unix:%s: not a socket",
			 path);
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
			 "cannot listen on unix:%s: another server listens "
			 "there",
			 path);
		return -1;
	}
	if (errno != ECONNREFUSED)
		return -1;
	return unlink(path); /* stale: nobody listens */
}

/* The group's id, by name or number. */
static int listener_gid(const char *group, gid_t *gid)
{
	struct group *gr = getgrnam(group);
	char *end;
	unsigned long n;

	if (gr != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	errno = 0;
	n = strtoul(group, &end, 10);
	if (errno != 0 || *end != '\0' || end == group) {
		errno = EINVAL;
		return -1;
	}
	*gid = (gid_t)n;
	return 0;
}

bool pb_listener_group_known(const char *group)
{
	gid_t gid;

	return listener_gid(group, &gid) == 0;
}

/* bind, then the mode and group, then listen: nobody connects before the
 * permissions are set. */
static int listener_unix(const char *path, unsigned long mode,
			 const char *group, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	gid_t gid = (gid_t)-1;
	int s;

	err[0] = '\0';
	if (listener_clear(path, err, errlen) < 0)
		goto fail;
	if (group[0] != '\0' && listener_gid(group, &gid) < 0) {
		snprintf(err, errlen, "--unix-group: no group '%s'", group);
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto fail;
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int saved = errno;

		close(s);
		errno = saved;
		goto fail;
	}
	if (chmod(path, (mode_t)mode) < 0 ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) ||
	    listen(s, LISTENER_BACKLOG) < 0) {
		int saved = errno;

		close(s);
		unlink(path);
		errno = saved;
		goto fail;
	}
	*fd = s;
	return 0;
fail:
	if (err[0] == '\0')
		snprintf(err, errlen, "cannot listen on unix:%s: %s", path,
			 strerror(errno));
	return -1;
}

int pb_listener_open(const char *spec, unsigned long mode, const char *group,
		     int *fd, char *err, size_t errlen)
{
	const char *rest;

	if ((rest = listener_after(spec, "unix:")) != NULL)
		return listener_unix(rest, mode, group, fd, err, errlen);
	if ((rest = listener_after(spec, "tcp:")) != NULL ||
	    (rest = listener_after(spec, "tls:")) != NULL)
		spec = rest;
	return pb_net_listen(spec, fd, err, errlen);
}

void pb_listener_close(int fd, bool made_here)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	memset(&sun, 0, sizeof(sun));
	if (made_here && getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
	    sun.sun_family == AF_UNIX && len > sizeof(sa_family_t) &&
	    sun.sun_path[0] == '/')
		unlink(sun.sun_path);
	close(fd);
}
