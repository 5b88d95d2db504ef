/* SPDX-License-Identifier: ISC */
/*
 * bench_net.h: the socket side of patchbay-bench: parsing --addr, opening
 * non-blocking client connections, and connecting a whole population of
 * clients (reading the id the server gives each) under a deadline.
 */
#ifndef BENCH_NET_H
#define BENCH_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define BENCH_ID_LEN 4 /* the id the server sends first, big-endian */

#define BENCH_NET_HOSTLEN 256

struct bench_addr {
	struct sockaddr_storage a_ss;
	socklen_t a_len;
	char a_host[BENCH_NET_HOSTLEN]; /* as given: what TLS verifies */
};

/* Parses HOST:PORT, [V6]:PORT or unix:PATH; -1 with a message in err if
 * it cannot. */
int bench_addr_parse(const char *text, struct bench_addr *a, char *err,
		     size_t errlen);

/* A non-blocking socket with TCP_NODELAY (for TCP), connecting; -1
 * (errno) if not. With --tls-ca, a TCP one begins TLS (bench_io.h):
 * bench_net_connect_tls says why it could not. */
int bench_net_connect(const struct bench_addr *a);
const char *bench_net_connect_tls(void);

/* The id in 4 big-endian bytes. */
uint32_t bench_net_id(const unsigned char *b);

/*
 * Connects n clients, at most a few dozen attempts at once, and reads each
 * one's id: fds[i] and ids[i]; client i connects to a[i % na]. Fails
 * (bench_fail, -1, everything closed) when the server refuses or closes a
 * connection, or when nothing progresses for timeout_s seconds.
 */
int bench_net_connect_all(const struct bench_addr *a, size_t na, int *fds,
			  uint32_t *ids, size_t n, double timeout_s);

/* Checks that the n ids are all different (bench_fail if not); sorts ids. */
int bench_net_ids_distinct(uint32_t *ids, size_t n, const char *what);

void bench_net_close_all(int *fds, size_t n);

#endif
