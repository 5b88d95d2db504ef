/* SPDX-License-Identifier: ISC */
/*
 * detach.h: running in the background (--daemon), and the pidfile.
 *
 * Detaching forks; the parent stays until the child says it is ready (or
 * dies trying) and exits 0 or 1 accordingly, so that `patchbayd -d && ...`
 * in a script only goes on once the daemon serves and its pidfile exists.
 */
#ifndef PB_DETACH_H
#define PB_DETACH_H

/* In the child, returns 0 with *ready to be passed to pb_detach_ready;
 * -1 with errno if it could not fork. The parent never returns. */
int pb_detach(int *ready);

/* Lets the waiting parent exit 0; does nothing when ready is -1. */
void pb_detach_ready(int *ready);

/* path made absolute, for the files named before detaching changes to
 * "/" (the pidfile, the configuration file); a static buffer. */
const char *pb_detach_abspath(const char *path);

/* The pidfile is opened before detaching, so that a bad path is reported
 * on the terminal, and written (and closed) once the pid is final. */
int pb_pidfile_open(const char *path);
int pb_pidfile_write(int fd);

#endif
