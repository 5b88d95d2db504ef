/* SPDX-License-Identifier: ISC */
/*
 * listener.h: where clients connect.
 *
 * A listener is "[tcp:]ADDR:PORT" (IPv6 in brackets) or "unix:PATH", a
 * Unix stream socket created with a mode and a group set before it
 * listens, so that file permissions say who may connect. A stale socket
 * left by a daemon that died is replaced; a live one (another daemon
 * answers) or a path that is not a socket is refused. Every listener of a
 * daemon hands out ids from the same space.
 */
#ifndef PB_LISTENER_H
#define PB_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

/* NULL when spec is a listener, else why not (for a message). */
const char *pb_listener_invalid(const char *spec);

/* Whether group (a name or a number) exists, for --unix-group. */
bool pb_listener_group_known(const char *group);

/* Opens the listener spec, non-blocking; a Unix socket gets mode (and
 * group, unless ""). 0 with *fd, or -1 with err saying what failed. */
int pb_listener_open(const char *spec, unsigned long mode, const char *group,
		     int *fd, char *err, size_t errlen);

/* Closes the listener fd; a Unix socket's file, made by
 * pb_listener_open, is removed too. */
void pb_listener_close(int fd, bool made_here);

#endif
