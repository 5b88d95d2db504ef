/* SPDX-License-Identifier: ISC */
/*
 * bench_io.h: a client connection's bytes. Plain, they are recv(2) and
 * send(2) on the socket, as they always were; with --tls-ca, a connection
 * to a HOST:PORT speaks TLS (OpenSSL, where patchbay-bench is built with
 * it) to a tls: listener, with --tls-cert and --tls-key as its client
 * certificate; a unix:PATH connection stays plain.
 *
 * A TLS connection's state is found by its descriptor. Each connection
 * is used by one thread at a time (set up by one, then handed to a
 * worker), which is what an OpenSSL SSL object needs. TLS leaves one
 * thing for the callers to do: plaintext that OpenSSL has already taken
 * from the socket is invisible to epoll, so a reader that filled its
 * buffer reads again while bench_io_pending says so.
 */
#ifndef BENCH_IO_H
#define BENCH_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "bench_net.h"

/* Whether --tls-ca was given: set once, before any connection. */
extern bool bench_io_tls;

/* Whether this build speaks TLS at all. */
bool bench_io_tls_available(void);

/* Loads --tls-ca (and --tls-cert, --tls-key: both or neither) for the
 * connections to come; maxfd: the descriptors there may be. 0, or -1
 * with err. */
int bench_io_tls_setup(const char *ca, const char *cert, const char *key,
		       size_t maxfd, char *err, size_t errlen);

/* Begins TLS on fd, just connecting (non-blocking) to a (nothing for a
 * plain one): 0, or -1 with err. */
int bench_io_attach(int fd, const struct bench_addr *a, char *err,
		    size_t errlen);

/* The epoll events a connection just made waits for first: EPOLLIN (its
 * id) for a plain one, EPOLLOUT (connected) for a TLS one. */
uint32_t bench_io_first_events(int fd);

/* Drives fd's TLS handshake: 1 once done (at once for a plain one), 0
 * not yet, *events then saying what to wait for; -1 with err. */
int bench_io_handshake(int fd, uint32_t *events, char *err, size_t errlen);

ssize_t bench_io_tls_recv(int fd, void *buf, size_t len);
ssize_t bench_io_tls_send(int fd, const void *buf, size_t len);
bool bench_io_tls_pending(int fd);

/* Why the calling thread's last TLS read or write failed with EPROTO. */
const char *bench_io_tls_why(void);

/* strerror(e), or what TLS said when e is its EPROTO. */
static inline const char *bench_io_strerror(int e)
{
	return bench_io_tls && e == EPROTO ? bench_io_tls_why() : strerror(e);
}

/* As recv(fd, buf, len, 0) on a non-blocking socket. */
static inline ssize_t bench_io_recv(int fd, void *buf, size_t len)
{
	if (bench_io_tls)
		return bench_io_tls_recv(fd, buf, len);
	return recv(fd, buf, len, 0);
}

/* As send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT). */
static inline ssize_t bench_io_send(int fd, const void *buf, size_t len)
{
	if (bench_io_tls)
		return bench_io_tls_send(fd, buf, len);
	return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Whether plaintext waits inside fd's TLS state (read it anyway). */
static inline bool bench_io_pending(int fd)
{
	return bench_io_tls && bench_io_tls_pending(fd);
}

/* Lets go of fd's TLS state, if any, and closes fd. */
void bench_io_close(int fd);

#endif
