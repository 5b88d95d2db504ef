/* SPDX-License-Identifier: ISC */
/*
 * out.c: standard output and the id file (see out.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "out.h"

int cat_out_write(int fd, const void *data, size_t n)
{
	const char *p = data;
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w >= 0) {
			p += w;
			n -= (size_t)w;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -1;
		} else if (errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

int cat_out_id_file(const char *path, uint32_t id)
{
	char line[16], *tmp;
	size_t plen = strlen(path);
	mode_t mask;
	int fd, e, n;

	tmp = malloc(plen + sizeof ".XXXXXX");
	if (tmp == NULL)
		return -1;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".XXXXXX", sizeof ".XXXXXX");
	fd = mkstemp(tmp);
	if (fd < 0) {
		e = errno;
		free(tmp);
		errno = e;
		return -1;
	}
	/* mkstemp makes it 0600; an id is no secret: what a new file gets. */
	mask = umask(0);
	umask(mask);
	n = snprintf(line, sizeof line, "%lu\n", (unsigned long)id);
	if (fchmod(fd, 0666 & ~mask) < 0 ||
	    cat_out_write(fd, line, (size_t)n) < 0) {
		e = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		e = errno;
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	errno = e;
	return -1;
}
