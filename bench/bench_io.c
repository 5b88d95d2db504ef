/* SPDX-License-Identifier: ISC */
/*
 * bench_io.c: plain or TLS connections (see bench_io.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench_io.h"

bool bench_io_tls;

#ifdef HAVE_OPENSSL

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static SSL_CTX *bench_tls_ctx;
/* Each descriptor's TLS state, or NULL (plain, or none). Atomic: a
 * descriptor closed by one thread may be reused by another. */
static _Atomic(SSL *) *bench_tls_map;
static size_t bench_tls_nmap;

bool bench_io_tls_available(void)
{
	return true;
}

/* OpenSSL's last error, as text; the queue cleared. */
static const char *bench_tls_reason(void)
{
	static _Thread_local char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, sizeof(buf), "%s",
			 errno != 0 ? strerror(errno) : "closed by the peer");
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

int bench_io_tls_setup(const char *ca, const char *cert, const char *key,
		       size_t maxfd, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	bench_tls_map = calloc(maxfd ? maxfd : 1, sizeof(*bench_tls_map));
	if (ctx == NULL || bench_tls_map == NULL) {
		snprintf(err, errlen, "TLS: no memory");
		SSL_CTX_free(ctx);
		return -1;
	}
	bench_tls_nmap = maxfd;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "--tls-ca %s: %s", ca,
			 bench_tls_reason());
		SSL_CTX_free(ctx);
		return -1;
	}
	if (cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(ctx) != 1)) {
		snprintf(err, errlen, "--tls-cert %s, --tls-key %s: %s", cert,
			 key, bench_tls_reason());
		SSL_CTX_free(ctx);
		return -1;
	}
	bench_tls_ctx = ctx;
	bench_io_tls = true;
	return 0;
}

static SSL *bench_tls_of(int fd)
{
	if (fd < 0 || (size_t)fd >= bench_tls_nmap)
		return NULL;
	return atomic_load_explicit(&bench_tls_map[fd], memory_order_acquire);
}

int bench_io_attach(int fd, const struct bench_addr *a, char *err,
		    size_t errlen)
{
	static const unsigned char alpn[] = "\x08patchbay";
	X509_VERIFY_PARAM *vp;
	SSL *ssl;

	if (!bench_io_tls || a->a_ss.ss_family == AF_UNIX)
		return 0;
	if (fd < 0 || (size_t)fd >= bench_tls_nmap) {
		snprintf(err, errlen, "TLS: descriptor %d beyond the limit",
			 fd);
		return -1;
	}
	ssl = SSL_new(bench_tls_ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		snprintf(err, errlen, "TLS: no memory");
		return -1;
	}
	/* The server's certificate must name the host of --addr. */
	vp = SSL_get0_param(ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, a->a_host) != 1) {
		X509_VERIFY_PARAM_set1_host(vp, a->a_host, 0);
		SSL_set_tlsext_host_name(ssl, a->a_host);
	}
	ERR_clear_error();
	SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1);
	SSL_set_connect_state(ssl);
	atomic_store_explicit(&bench_tls_map[fd], ssl, memory_order_release);
	return 0;
}

uint32_t bench_io_first_events(int fd)
{
	return bench_tls_of(fd) != NULL ? EPOLLOUT : EPOLLIN;
}

int bench_io_handshake(int fd, uint32_t *events, char *err, size_t errlen)
{
	SSL *ssl = bench_tls_of(fd);
	long v;
	int r;

	if (ssl == NULL || SSL_is_init_finished(ssl))
		return 1;
	errno = 0;
	r = SSL_connect(ssl);
	if (r == 1) {
		*events = EPOLLIN;
		return 1;
	}
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*events = EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*events = EPOLLOUT;
		return 0;
	default:
		v = SSL_get_verify_result(ssl);
		snprintf(err, errlen, "TLS handshake: %s",
			 v != X509_V_OK ? X509_verify_cert_error_string(v)
					: bench_tls_reason());
		ERR_clear_error();
		return -1;
	}
}

/* Why the thread's last TLS call failed (EPROTO). */
static _Thread_local char bench_tls_why[256];

const char *bench_io_tls_why(void)
{
	return bench_tls_why;
}

/* -1 with errno for what SSL_get_error says of a failed call. */
static ssize_t bench_tls_error(SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_last_error() == 0 && errno == 0)
			return 0; /* closed without close_notify */
		if (errno == 0) {
			snprintf(bench_tls_why, sizeof(bench_tls_why),
				 "TLS: %s", bench_tls_reason());
			errno = EPROTO;
		}
		ERR_clear_error();
		return -1;
	default:
		snprintf(bench_tls_why, sizeof(bench_tls_why), "TLS: %s",
			 bench_tls_reason());
		errno = EPROTO;
		return -1;
	}
}

ssize_t bench_io_tls_recv(int fd, void *buf, size_t len)
{
	SSL *ssl = bench_tls_of(fd);
	size_t got = 0;

	if (ssl == NULL)
		return recv(fd, buf, len, 0);
	/* As much as there is, up to len: a record at a time. */
	while (got < len) {
		int want = len - got > INT_MAX ? INT_MAX : (int)(len - got);
		int r;

		errno = 0;
		r = SSL_read(ssl, (char *)buf + got, want);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (got > 0) {
			ERR_clear_error();
			break; /* what came first; the rest next time */
		}
		return bench_tls_error(ssl, r);
	}
	return (ssize_t)got;
}

ssize_t bench_io_tls_send(int fd, const void *buf, size_t len)
{
	SSL *ssl = bench_tls_of(fd);
	size_t put = 0;

	if (ssl == NULL)
		return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* Partial writes: a record at a time, until the socket is full.
	 * What was not taken is offered again from its first byte, as
	 * OpenSSL needs after SSL_ERROR_WANT_WRITE. */
	while (put < len) {
		int want = len - put > INT_MAX ? INT_MAX : (int)(len - put);
		int r;

		errno = 0;
		r = SSL_write(ssl, (const char *)buf + put, want);
		if (r > 0) {
			put += (size_t)r;
			continue;
		}
		if (put > 0) {
			ERR_clear_error();
			break;
		}
		r = (int)bench_tls_error(ssl, r);
		if (r == 0)
			errno = EPIPE;
		return -1;
	}
	return (ssize_t)put;
}

bool bench_io_tls_pending(int fd)
{
	SSL *ssl = bench_tls_of(fd);

	return ssl != NULL && SSL_pending(ssl) > 0;
}

void bench_io_close(int fd)
{
	SSL *ssl = bench_tls_of(fd);

	if (ssl != NULL) {
		atomic_store_explicit(&bench_tls_map[fd], NULL,
				      memory_order_release);
		SSL_free(ssl);
	}
	close(fd);
}

#else /* no OpenSSL */

const char *bench_io_tls_why(void)
{
	return "no TLS in this build";
}

bool bench_io_tls_available(void)
{
	return false;
}

int bench_io_tls_setup(const char *ca, const char *cert, const char *key,
		       size_t maxfd, char *err, size_t errlen)
{
	(void)ca;
	(void)cert;
	(void)key;
	(void)maxfd;
	snprintf(err, errlen,
		 "--tls-ca: patchbay-bench was built without OpenSSL");
	return -1;
}

int bench_io_attach(int fd, const struct bench_addr *a, char *err,
		    size_t errlen)
{
	(void)fd;
	(void)a;
	(void)err;
	(void)errlen;
	return 0;
}

uint32_t bench_io_first_events(int fd)
{
	(void)fd;
	return EPOLLIN;
}

int bench_io_handshake(int fd, uint32_t *events, char *err, size_t errlen)
{
	(void)fd;
	(void)events;
	(void)err;
	(void)errlen;
	return 1;
}

ssize_t bench_io_tls_recv(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, 0);
}

ssize_t bench_io_tls_send(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool bench_io_tls_pending(int fd)
{
	(void)fd;
	return false;
}

void bench_io_close(int fd)
{
	close(fd);
}

#endif
