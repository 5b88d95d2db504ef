/* SPDX-License-Identifier: ISC */
/*
 * transport.h: the connection to the daemon, as the loop sees it: a
 * descriptor to poll and four operations. The plain transport (TCP or a
 * Unix socket) is the only one today; a TLS transport will fill in the
 * same operations over a TLS session, so the loop need not change, save
 * for what TLS adds: a read that needs the socket writable (and the
 * reverse) during a handshake, and bytes already decrypted that poll()
 * cannot see.
 */
#ifndef CAT_TRANSPORT_H
#define CAT_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "addr.h"

struct cat_transport;

struct cat_transport_ops {
	/* Like read(2) on a non-blocking socket: bytes read, 0 at the end,
	 * or -1 with errno (EAGAIN when there is nothing yet). */
	ssize_t (*to_read)(struct cat_transport *t, void *buf, size_t len);
	/* Like send(2) on a non-blocking socket, never raising SIGPIPE and
	 * retrying on EINTR: bytes written, or -1 with errno (EAGAIN). */
	ssize_t (*to_write)(struct cat_transport *t, const void *buf,
			    size_t len);
	/* Ends the sending side, after what was written. */
	int (*to_shutdown)(struct cat_transport *t);
	void (*to_close)(struct cat_transport *t);
};

struct cat_transport {
	int tr_fd; /* to poll */
	const struct cat_transport_ops *tr_ops;
	void *tr_ctx; /* the transport's own state (none for plain) */
};

/* Connects to a (TCP or Unix, blocking until connected) and makes *t the
 * non-blocking transport over it: 0, or -1 with err saying what failed. */
int cat_transport_open(const struct cat_addr *a, struct cat_transport *t,
		       char *err, size_t errlen);

#endif
