/* SPDX-License-Identifier: ISC */
/*
 * net.c: socket helpers (see net.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "addrs.h"
#include "net.h"

#define PB_NET_BACKLOG 1024

/* Splits spec into a host and a port; fills host (NUL-terminated). */
static int net_split(const char *spec, char *host, size_t hostlen,
		     unsigned long *port)
{
	const char *colon, *h = spec;
	size_t n;
	char *end;

	if (*spec == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = spec + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - spec);
	}
	if (n == 0 || n >= hostlen || colon[1] < '0' || colon[1] > '9')
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	errno = 0;
	*port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || *port > 65535)
		return -1;
	return 0;
}

/* Parses "HOST:PORT" or "[V6HOST]:PORT" (numeric host) into ss. */
static int net_parse(const char *spec, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[PB_NET_ADDRLEN];
	unsigned long port;

	if (net_split(spec, host, sizeof(host), &port) < 0) {
		errno = EINVAL;
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

bool pb_net_valid(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return net_parse(spec, &ss, &len) == 0;
}

int pb_net_listen(const char *spec, int *fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int s, one = 1;

	if (net_parse(spec, &ss, &len) < 0) {
		snprintf(err, errlen, "bad listen address '%s'", spec);
		return -1;
	}
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto fail;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&ss, len) < 0 ||
	    listen(s, PB_NET_BACKLOG) < 0) {
		int saved = errno;

		close(s);
		errno = saved;
		goto fail;
	}
	*fd = s;
	return 0;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", spec, strerror(errno));
	return -1;
}

/* Formats an address as "1.2.3.4:80" or "[::1]:80". */
static void net_format(const struct sockaddr *sa, char out[PB_NET_ADDRLEN])
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	/* Copied out: sa may be less aligned than the specific types. */
	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host));
		snprintf(out, PB_NET_ADDRLEN, "%s:%u", host,
			 ntohs(sin.sin_port));
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof(host));
		snprintf(out, PB_NET_ADDRLEN, "[%s]:%u", host,
			 ntohs(sin6.sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;

		snprintf(out, PB_NET_ADDRLEN, "unix:%.*s",
			 (int)(PB_NET_ADDRLEN - 6), sun->sun_path);
	} else {
		snprintf(out, PB_NET_ADDRLEN, "(unknown)");
	}
}

/* A Unix peer: who it is, as the kernel says (SO_PEERCRED). */
static void net_format_cred(int fd, char out[PB_NET_ADDRLEN])
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
		snprintf(out, PB_NET_ADDRLEN, "unix (uid %u, pid %ld)",
			 (unsigned)cr.uid, (long)cr.pid);
	else
		snprintf(out, PB_NET_ADDRLEN, "unix");
}

void pb_net_local(int fd, char out[PB_NET_ADDRLEN])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		snprintf(out, PB_NET_ADDRLEN, "(unknown)");
	else
		net_format((struct sockaddr *)&ss, out);
}

int pb_net_accept(int lfd, char peer[PB_NET_ADDRLEN])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, one = 1;

#ifdef HAVE_ACCEPT4
	fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
	fd = accept(lfd, (struct sockaddr *)&ss, &len);
	if (fd >= 0 && (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
			fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)) {
		close(fd);
		return -1;
	}
#endif
	if (fd < 0)
		return -1;
	if (ss.ss_family == AF_UNIX) {
		net_format_cred(fd, peer);
		return fd;
	}
	/* Frames are batched by the daemon already; Nagle only adds delay. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	net_format((struct sockaddr *)&ss, peer);
	return fd;
}

int pb_net_peer_key(int fd, uint8_t key[16])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		memcpy(&sin, &ss, sizeof(sin));
		pb_addrs_key_v4(key, (const uint8_t *)&sin.sin_addr);
		return 0;
	}
	if (ss.ss_family == AF_INET6) {
		memcpy(&sin6, &ss, sizeof(sin6));
		if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr))
			pb_addrs_key_v4(key, sin6.sin6_addr.s6_addr + 12);
		else
			pb_addrs_key_v6(key, sin6.sin6_addr.s6_addr);
		return 0;
	}
	return -1;
}

ssize_t pb_net_sendv(int fd, const struct iovec *iov, size_t n)
{
	struct msghdr mh = {
		.msg_iov = (struct iovec *)(uintptr_t)iov,
		.msg_iovlen = n,
	};
	ssize_t r;

	do
		r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r;
}
