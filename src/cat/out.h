/* SPDX-License-Identifier: ISC */
/*
 * out.h: what patchbay-cat writes besides the connection: its output, a
 * whole batch of lines at a time before it waits for anything else (so
 * that a program reading it through a pipe gets each line at once), and
 * the id file, whole or not at all.
 */
#ifndef CAT_OUT_H
#define CAT_OUT_H

#include <stddef.h>
#include <stdint.h>

/* Writes all n bytes to fd, through EINTR, short writes and EAGAIN (a
 * non-blocking descriptor inherited from the shell): 0, or -1 with
 * errno (EPIPE once the reader has gone, SIGPIPE being ignored). */
int cat_out_write(int fd, const void *data, size_t n);

/* Writes "ID\n" to path through a temporary file in its folder renamed
 * over it, so that a reader sees no file or the whole id: 0, or -1 with
 * errno. */
int cat_out_id_file(const char *path, uint32_t id);

#endif
