/* SPDX-License-Identifier: ISC */
/*
 * transport.h: the connection to the daemon, as the loop sees it: a
 * descriptor to poll and a few operations. The plain transport (TCP or a
 * Unix socket), and TLS over TCP (with OpenSSL, where built with it: the
 * handshake is done, blocking, before the loop starts; bytes already
 * decrypted, which poll() cannot see, are what to_pending says).
 */
#ifndef CAT_TRANSPORT_H
#define CAT_TRANSPORT_H

#include <stdbool.h>
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
	/* Whether bytes wait that poll() cannot see (NULL: never). */
	bool (*to_pending)(struct cat_transport *t);
};

/* TLS: the CAs to check the daemon's certificate with, and our own
 * certificate and key (NULL: none). */
struct cat_tls {
	const char *ct_ca;
	const char *ct_cert;
	const char *ct_key;
};

/* Whether this patchbay-cat was built with TLS. */
bool cat_transport_has_tls(void);

struct cat_transport {
	int tr_fd; /* to poll */
	const struct cat_transport_ops *tr_ops;
	void *tr_ctx; /* the transport's own state (none for plain) */
};

/* Connects to a (TCP, Unix or TLS with tls, blocking until connected and,
 * for TLS, the handshake done) and makes *t the non-blocking transport
 * over it: 0, or -1 with err saying what failed. */
int cat_transport_open(const struct cat_addr *a, const struct cat_tls *tls,
		       struct cat_transport *t, char *err, size_t errlen);

#endif
