/* SPDX-License-Identifier: ISC */
/*
 * detach.c: running in the background, and the pidfile (see detach.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "detach.h"

/* The parent's side: waits for the child's word, exits with it. */
static void detach_wait(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	_exit(n == 1 ? 0 : 1);
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

int pb_detach(int *ready)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		detach_wait(p[0]);
	}
	close(p[0]);
	if (setsid() < 0 || chdir("/") < 0) {
		close(p[1]);
		return -1;
	}
	detach_stdio();
	*ready = p[1];
	return 0;
}

void pb_detach_ready(int *ready)
{
	ssize_t n;

	if (*ready < 0)
		return;
	do
		n = write(*ready, "", 1);
	while (n < 0 && errno == EINTR);
	close(*ready);
	*ready = -1;
}

const char *pb_detach_abspath(const char *path)
{
	static char abs[PATH_MAX];
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL ||
	    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >=
		    sizeof(abs))
		return path;
	return abs;
}

int pb_pidfile_open(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

int pb_pidfile_write(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	ssize_t w;

	do
		w = write(fd, buf, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (close(fd) < 0 || w != n)
		return -1;
	return 0;
}
