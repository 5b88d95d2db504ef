/* SPDX-License-Identifier: ISC */
/*
 * tls_none.c: tls.h where patchbayd is built without OpenSSL. No tls:
 * listener gets past the options (listener.c refuses it, exit 2), so
 * nothing here is reached but pb_tls_available and the context's
 * constructor, which say why.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "tls.h"

bool pb_tls_available(void)
{
	return false;
}

struct pb_tls_ctx *pb_tls_ctx_new(const struct pb_options *op, char *err,
				  size_t errlen)
{
	(void)op;
	snprintf(err, errlen,
		 "TLS needs a patchbayd built with OpenSSL (configure "
		 "--with-openssl, with libssl-dev)");
	return NULL;
}

void pb_tls_ctx_ref(struct pb_tls_ctx *ctx)
{
	(void)ctx;
}

void pb_tls_ctx_unref(struct pb_tls_ctx *ctx)
{
	(void)ctx;
}

long long pb_tls_ctx_expiry(const struct pb_tls_ctx *ctx)
{
	(void)ctx;
	return 0;
}

struct pb_tls *pb_tls_new(struct pb_tls_ctx *ctx, int fd,
			  struct pb_budget *budget)
{
	(void)ctx;
	(void)fd;
	(void)budget;
	errno = ENOTSUP;
	return NULL;
}

void pb_tls_free(struct pb_tls *t)
{
	(void)t;
}

enum pb_tls_step pb_tls_handshake(struct pb_tls *t, char *err, size_t errlen)
{
	(void)t;
	snprintf(err, errlen, "no TLS in this build");
	return PB_TLS_FAILED;
}

int pb_tls_identify(struct pb_tls *t, char *ident, size_t cap)
{
	(void)t;
	if (cap > 0)
		ident[0] = '\0';
	return -1;
}

int pb_tls_recheck(struct pb_tls *t, struct pb_tls_ctx *ctx, const char *ident,
		   char *err, size_t errlen)
{
	(void)t;
	(void)ctx;
	(void)ident;
	snprintf(err, errlen, "no TLS in this build");
	return -1;
}

ssize_t pb_tls_read(struct pb_tls *t, void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	errno = ENOTSUP;
	return -1;
}

ssize_t pb_tls_write(struct pb_tls *t, const struct iovec *iov, size_t n)
{
	(void)t;
	(void)iov;
	(void)n;
	errno = ENOTSUP;
	return -1;
}

int pb_tls_send(struct pb_tls *t, const void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	errno = ENOTSUP;
	return -1;
}

int pb_tls_flush(struct pb_tls *t)
{
	(void)t;
	return 0;
}

bool pb_tls_pending(struct pb_tls *t)
{
	(void)t;
	return false;
}

bool pb_tls_wants_write(struct pb_tls *t)
{
	(void)t;
	return false;
}

void pb_tls_close(struct pb_tls *t)
{
	(void)t;
}

void pb_tls_thread_end(void)
{
}
