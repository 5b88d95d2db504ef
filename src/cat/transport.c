/* SPDX-License-Identifier: ISC */
/*
 * transport.c: the plain transport, TCP or a Unix socket (see
 * transport.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "transport.h"

static ssize_t plain_read(struct cat_transport *t, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(t->tr_fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n;
}

static ssize_t plain_write(struct cat_transport *t, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};

	return pb_net_sendv(t->tr_fd, &iov, 1);
}

static int plain_shutdown(struct cat_transport *t)
{
	return shutdown(t->tr_fd, SHUT_WR);
}

static void plain_close(struct cat_transport *t)
{
	close(t->tr_fd);
	t->tr_fd = -1;
}

static const struct cat_transport_ops plain_ops = {
	.to_read = plain_read,
	.to_write = plain_write,
	.to_shutdown = plain_shutdown,
	.to_close = plain_close,
};

static int transport_unix(const struct cat_addr *a, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, a->ad_path, strlen(a->ad_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		snprintf(err, errlen, "cannot connect to unix:%s: %s",
			 a->ad_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Tries every address the host resolves to, in order. */
static int transport_tcp(const struct cat_addr *a, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, e, saved = 0, one = 1;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	e = getaddrinfo(a->ad_host, a->ad_port, &hints, &res);
	if (e != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", a->ad_host,
			 e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s%s%s:%s: %s",
			 strchr(a->ad_host, ':') ? "[" : "", a->ad_host,
			 strchr(a->ad_host, ':') ? "]" : "", a->ad_port,
			 strerror(saved));
		return -1;
	}
	/* Lines go out as they are typed, not when a segment fills. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

int cat_transport_open(const struct cat_addr *a, struct cat_transport *t,
		       char *err, size_t errlen)
{
	int fd, fl;

	switch (a->ad_kind) {
	case CAT_ADDR_UNIX:
		fd = transport_unix(a, err, errlen);
		break;
	case CAT_ADDR_TCP:
		fd = transport_tcp(a, err, errlen);
		break;
	default:
		snprintf(err, errlen, "this transport is not built in");
		return -1;
	}
	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	t->tr_fd = fd;
	t->tr_ops = &plain_ops;
	t->tr_ctx = NULL;
	return 0;
}
