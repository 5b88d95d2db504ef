/* SPDX-License-Identifier: ISC */
/*
 * notify.h: telling systemd how the daemon is doing, without libsystemd.
 *
 * The protocol is one datagram of "KEY=VALUE" lines to the unix socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for an abstract socket),
 * documented as stable by systemd (sd_notify(3)); OpenSSH speaks it the
 * same way. Without $NOTIFY_SOCKET every call does nothing. The watchdog
 * interval comes from $WATCHDOG_USEC when $WATCHDOG_PID, if set, is ours.
 * A restart stores the clients' state and sockets with the manager
 * (FDSTORE=1, sd_notify(3)); the descriptor goes as SCM_RIGHTS.
 */
#ifndef PB_NOTIFY_H
#define PB_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* Reads and unsets the variables, and opens the socket. 0, or -1 with err
 * (the address is malformed, or no socket could be had). */
int pb_notify_init(char *err, size_t errlen);

/* Sends one message, e.g. "READY=1" or "STATUS=12 clients"; 0, or -1 with
 * errno (also when nothing was asked of us: ENOTCONN). */
int pb_notify(const char *fmt, ...) PB_PRINTF(1, 2);

/* The watchdog interval in microseconds, 0 when there is none. */
uint64_t pb_notify_watchdog_usec(void);

/* Whether a service manager listens. */
bool pb_notify_on(void);

/* Sends msg with descriptor fd (-1: none), for the file descriptor store
 * (FDSTORE=1): 0, or -1 with errno. */
int pb_notify_fd(const char *msg, int fd);

/* BARRIER=1: waits up to timeout_ms until the manager has handled every
 * message sent before. 0, or -1 with errno. */
int pb_notify_barrier(int timeout_ms);

/* Puts $NOTIFY_SOCKET (and the watchdog's variables, for this pid) back
 * in the environment, for the image an in-place hand-over executes. */
void pb_notify_export(void);

#endif
