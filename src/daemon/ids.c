/* SPDX-License-Identifier: ISC */
/*
 * ids.c: the high-water mark of ids in the state directory (see ids.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ids.h"

/* The one line of the file: a name, the format's version, the mark. */
#define IDS_FORMAT "patchbay-ids 1 %" SCNu64 "\n"

uint64_t pb_ids_block(unsigned node_bits)
{
	uint64_t space = (uint64_t)1 << (32 - node_bits);

	return space / 256 < 65536 ? space / 256 : 65536;
}

int pb_ids_load(const char *dir, uint64_t *handed, char *err, size_t errlen)
{
	char path[4200], buf[128], tail;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, PB_IDS_FILE);
	*handed = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0; /* a first start */
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	if (n == 0 || sscanf(buf, IDS_FORMAT "%c", handed, &tail) != 1 ||
	    buf[n - 1] != '\n') {
		snprintf(err, errlen,
			 "%s: not an id state (one line 'patchbay-ids 1 N' "
			 "expected); remove it only if no other node can still "
			 "send to this node's old ids",
			 path);
		return -1;
	}
	return 0;
}

/* Writes all of buf to fd. */
static int ids_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Makes the rename in dir durable. */
static int ids_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int pb_ids_save(const char *dir, uint64_t upto, char *err, size_t errlen)
{
	char path[4200], tmp[4200], line[64];
	int fd, len;

	snprintf(path, sizeof(path), "%s/%s", dir, PB_IDS_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, PB_IDS_FILE);
	len = snprintf(line, sizeof(line), "patchbay-ids 1 %" PRIu64 "\n",
		       upto);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (ids_write_all(fd, line, (size_t)len) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0 || ids_sync_dir(dir) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
