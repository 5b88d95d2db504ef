/* SPDX-License-Identifier: ISC */
/*
 * transport.c: the plain transport, TCP or a Unix socket, and TLS over
 * TCP with OpenSSL (see transport.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef HAVE_OPENSSL
#include <limits.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include "net.h"
#include "transport.h"

static ssize_t plain_read(struct cat_transport *t, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(t->tr_fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n;
}

static ssize_t plain_write(struct cat_transport *t, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};

	return pb_net_sendv(t->tr_fd, &iov, 1);
}

static int plain_shutdown(struct cat_transport *t)
{
	return shutdown(t->tr_fd, SHUT_WR);
}

static void plain_close(struct cat_transport *t)
{
	close(t->tr_fd);
	t->tr_fd = -1;
}

static const struct cat_transport_ops plain_ops = {
	.to_read = plain_read,
	.to_write = plain_write,
	.to_shutdown = plain_shutdown,
	.to_close = plain_close,
	.to_pending = NULL,
};

#ifdef HAVE_OPENSSL
struct tls_state {
	SSL_CTX *ts_ctx;
	SSL *ts_ssl;
};

bool cat_transport_has_tls(void)
{
	return true;
}

/* What an SSL call that returned n means, as a socket call would say. */
static ssize_t tls_result(SSL *ssl, int n)
{
	const char *why;
	int e;

	if (n > 0)
		return n;
	e = SSL_get_error(ssl, n);
	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;
		return -1;
	default:
		/* Why, in OpenSSL's words (the daemon's alert: a certificate
		 * required or refused), before the loop's own line. */
		why = ERR_reason_error_string(ERR_peek_last_error());
		fprintf(stderr, "patchbay-cat: TLS: %s\n",
			why != NULL ? why : "failed");
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

static ssize_t tls_read(struct cat_transport *t, void *buf, size_t len)
{
	struct tls_state *ts = t->tr_ctx;

	int n = len > INT_MAX ? INT_MAX : (int)len;

	ERR_clear_error();
	errno = 0;
	return tls_result(ts->ts_ssl, SSL_read(ts->ts_ssl, buf, n));
}

static ssize_t tls_write(struct cat_transport *t, const void *buf, size_t len)
{
	struct tls_state *ts = t->tr_ctx;

	int n = len > INT_MAX ? INT_MAX : (int)len;

	if (len == 0)
		return 0;
	ERR_clear_error();
	errno = 0;
	return tls_result(ts->ts_ssl, SSL_write(ts->ts_ssl, buf, n));
}

/* close_notify: the daemon reads it as the end, as it reads a plain
 * socket's FIN; reading goes on. */
static int tls_shutdown(struct cat_transport *t)
{
	struct tls_state *ts = t->tr_ctx;

	ERR_clear_error();
	if (SSL_shutdown(ts->ts_ssl) < 0) {
		ERR_clear_error();
		return shutdown(t->tr_fd, SHUT_WR);
	}
	return 0;
}

static void tls_close(struct cat_transport *t)
{
	struct tls_state *ts = t->tr_ctx;

	SSL_free(ts->ts_ssl);
	SSL_CTX_free(ts->ts_ctx);
	free(ts);
	t->tr_ctx = NULL;
	close(t->tr_fd);
	t->tr_fd = -1;
}

static bool tls_pending(struct cat_transport *t)
{
	struct tls_state *ts = t->tr_ctx;

	return SSL_has_pending(ts->ts_ssl) != 0;
}

static const struct cat_transport_ops tls_ops = {
	.to_read = tls_read,
	.to_write = tls_write,
	.to_shutdown = tls_shutdown,
	.to_close = tls_close,
	.to_pending = tls_pending,
};

/* OpenSSL's reason for the last failure, for a message. */
static const char *tls_why(void)
{
	const char *why = ERR_reason_error_string(ERR_peek_last_error());

	return why != NULL ? why : "failed";
}

/* The context: the daemon's certificate checked against tls->ct_ca, ours
 * shown if given, ALPN "patchbay". NULL with err. */
static SSL_CTX *tls_context(const struct cat_tls *tls, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "TLS: %s", tls_why());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, tls->ct_ca, NULL) != 1) {
		snprintf(err, errlen, "--tls-ca %s: %s", tls->ct_ca, tls_why());
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (tls->ct_cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, tls->ct_cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, tls->ct_key, SSL_FILETYPE_PEM) !=
		     1 ||
	     SSL_CTX_check_private_key(ctx) != 1)) {
		snprintf(err, errlen, "--tls-cert %s, --tls-key %s: %s",
			 tls->ct_cert, tls->ct_key, tls_why());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* TLS over the connected (blocking) socket fd to host: 0 with *t filled
 * in, or -1 with err (fd is closed then). */
static int transport_tls(const struct cat_addr *a, const struct cat_tls *tls,
			 int fd, struct cat_transport *t, char *err,
			 size_t errlen)
{
	static const unsigned char alpn[] = "\x08patchbay";
	struct tls_state *ts = calloc(1, sizeof(*ts));
	X509_VERIFY_PARAM *vp;
	long v;

	if (ts == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	ts->ts_ctx = tls_context(tls, err, errlen);
	ts->ts_ssl = ts->ts_ctx != NULL ? SSL_new(ts->ts_ctx) : NULL;
	if (ts->ts_ssl == NULL) {
		if (ts->ts_ctx != NULL)
			snprintf(err, errlen, "TLS: %s", tls_why());
		goto fail;
	}
	/* The daemon's certificate must name the host: an address, or a
	 * name (then also sent as SNI). */
	vp = SSL_get0_param(ts->ts_ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, a->ad_host) != 1) {
		X509_VERIFY_PARAM_set1_host(vp, a->ad_host, 0);
		SSL_set_tlsext_host_name(ts->ts_ssl, a->ad_host);
	}
	SSL_set_alpn_protos(ts->ts_ssl, alpn, sizeof alpn - 1);
	SSL_set_fd(ts->ts_ssl, fd);
	ERR_clear_error();
	if (SSL_connect(ts->ts_ssl) != 1) {
		v = SSL_get_verify_result(ts->ts_ssl);
		snprintf(err, errlen, "TLS handshake with %s:%s: %s",
			 a->ad_host, a->ad_port,
			 v != X509_V_OK ? X509_verify_cert_error_string(v)
					: tls_why());
		goto fail;
	}
	t->tr_ops = &tls_ops;
	t->tr_ctx = ts;
	return 0;
fail:
	ERR_clear_error();
	SSL_free(ts->ts_ssl);
	SSL_CTX_free(ts->ts_ctx);
	free(ts);
	close(fd);
	return -1;
}
#else
bool cat_transport_has_tls(void)
{
	return false;
}
#endif

static int transport_unix(const struct cat_addr *a, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, a->ad_path, strlen(a->ad_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		snprintf(err, errlen, "cannot connect to unix:%s: %s",
			 a->ad_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Tries every address the host resolves to, in order. */
static int transport_tcp(const struct cat_addr *a, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, e, saved = 0, one = 1;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	e = getaddrinfo(a->ad_host, a->ad_port, &hints, &res);
	if (e != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", a->ad_host,
			 e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s%s%s:%s: %s",
			 strchr(a->ad_host, ':') ? "[" : "", a->ad_host,
			 strchr(a->ad_host, ':') ? "]" : "", a->ad_port,
			 strerror(saved));
		return -1;
	}
	/* Lines go out as they are typed, not when a segment fills. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

int cat_transport_open(const struct cat_addr *a, const struct cat_tls *tls,
		       struct cat_transport *t, char *err, size_t errlen)
{
	int fd, fl;

#ifndef HAVE_OPENSSL
	(void)tls;
#endif
	t->tr_ops = &plain_ops;
	t->tr_ctx = NULL;
	switch (a->ad_kind) {
	case CAT_ADDR_UNIX:
		fd = transport_unix(a, err, errlen);
		break;
	case CAT_ADDR_TCP:
		fd = transport_tcp(a, err, errlen);
		break;
#ifdef HAVE_OPENSSL
	case CAT_ADDR_TLS:
		fd = transport_tcp(a, err, errlen);
		if (fd >= 0 && transport_tls(a, tls, fd, t, err, errlen) < 0)
			return -1;
		break;
#endif
	default:
		snprintf(err, errlen, "this transport is not built in");
		return -1;
	}
	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		t->tr_fd = fd;
		t->tr_ops->to_close(t);
		return -1;
	}
	t->tr_fd = fd;
	return 0;
}
