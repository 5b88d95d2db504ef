/* SPDX-License-Identifier: ISC */
/*
 * bag.c: descriptors in flight in a self-connected socket (see bag.h).
 *
 * Each datagram is the index of its first descriptor (u32, host order:
 * the bag never leaves the machine) and its descriptors. A peek at offset
 * SO_PEEK_OFF moves the offset past the datagram it read, so the next
 * peek reads the next one.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bag.h"

union bag_cmsg {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * PB_BAG_BATCH)];
};

int pb_bag_new(void)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	/* An abstract name of the kernel's choosing (autobind), then
	 * connected to itself, by that name's exact length. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, len) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int pb_bag_put(int bag, const int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += PB_BAG_BATCH) {
		size_t k = n - i < PB_BAG_BATCH ? n - i : PB_BAG_BATCH;
		uint32_t first = (uint32_t)i;
		struct iovec iov = {.iov_base = &first,
				    .iov_len = sizeof(first)};
		union bag_cmsg u;
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = u.buf,
				   .msg_controllen =
					   CMSG_SPACE(sizeof(int) * k)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

		memset(u.buf, 0, sizeof(u.buf));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * k);
		memcpy(CMSG_DATA(cm), fds + i, sizeof(int) * k);
		while (sendmsg(bag, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			if (errno != EINTR)
				return -1;
	}
	return 0;
}

/* Peeks at the next datagram: its descriptors appended to *fds at the
 * index it names. 1 read, 0 at the end, -1 with errno. */
static int bag_peek(int bag, int **fds, size_t *n, size_t *cap)
{
	uint32_t first;
	struct iovec iov = {.iov_base = &first, .iov_len = sizeof(first)};
	union bag_cmsg u;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	size_t n0 = *n;
	ssize_t r;

	do
		r = recvmsg(bag, &m,
			    MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	for (cm = CMSG_FIRSTHDR(&m); cm != NULL; cm = CMSG_NXTHDR(&m, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (*n + k > *cap) {
			size_t c = *cap ? *cap : 256;
			int *p;

			while (c < *n + k)
				c *= 2;
			p = realloc(*fds, c * sizeof(int));
			if (p == NULL) {
				size_t j;

				for (j = 0; j < k; j++) {
					int fd;

					memcpy(&fd,
					       CMSG_DATA(cm) + j * sizeof(int),
					       sizeof(int));
					close(fd);
				}
				errno = ENOMEM;
				return -1;
			}
			*fds = p;
			*cap = c;
		}
		memcpy(*fds + *n, CMSG_DATA(cm), k * sizeof(int));
		*n += k;
	}
	/* Out of order or cut (MSG_CTRUNC): the bag is not ours. */
	if ((size_t)r != sizeof(first) || first != n0 ||
	    (m.msg_flags & MSG_CTRUNC)) {
		errno = EBADMSG;
		return -1;
	}
	return 1;
}

int pb_bag_take(int bag, int **fds, size_t *n)
{
	size_t cap = 0, i;
	int off = 0, rc;

	*fds = NULL;
	*n = 0;
	if (setsockopt(bag, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return -1;
	while ((rc = bag_peek(bag, fds, n, &cap)) > 0)
		;
	if (rc == 0)
		return 0;
	for (i = 0; i < *n; i++)
		close((*fds)[i]);
	free(*fds);
	*fds = NULL;
	*n = 0;
	return -1;
}
