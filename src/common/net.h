/* SPDX-License-Identifier: ISC */
/*
 * net.h: socket helpers.
 *
 * Like Redis's anet.c: each returns 0 or -1 with errno, and fills an error
 * buffer where a person needs more context; nothing here logs or exits.
 */
#ifndef PB_NET_H
#define PB_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#define PB_NET_ADDRLEN 64 /* "[ipv6]:port" and a NUL */

/* Whether spec is an address pb_net_listen takes: "HOST:PORT" or
 * "[V6HOST]:PORT", the host numeric. */
bool pb_net_valid(const char *spec);

/* Opens a non-blocking listening socket on spec; on failure err says
 * what ("cannot listen on X: reason"). */
int pb_net_listen(const char *spec, int *fd, char *err, size_t errlen);

/* Formats the address a socket is bound to. */
void pb_net_local(int fd, char out[PB_NET_ADDRLEN]);

/* Accepts one connection, non-blocking and close-on-exec. */
int pb_net_accept(int lfd, char peer[PB_NET_ADDRLEN]);

/* The key of fd's peer for counting clients per address (addrs.h): 0,
 * or -1 when the peer has no IP address (a Unix socket). */
int pb_net_peer_key(int fd, uint8_t key[16]);

/* One non-blocking sendmsg of iov[0 .. n), never raising SIGPIPE and
 * retrying on EINTR: bytes sent, or -1 with errno (EAGAIN when full). */
ssize_t pb_net_sendv(int fd, const struct iovec *iov, size_t n);

#endif
