/* SPDX-License-Identifier: ISC */
/*
 * tls.h: TLS for tls: listeners, on OpenSSL (tls.c; tls_none.c where
 * patchbayd is built without it).
 *
 * A context (struct pb_tls_ctx) is what the options say: the certificate
 * and key, the clients' CAs and CRLs, whether a client must show a
 * certificate, the identities allowed (--tls-allow), the least version,
 * the ciphers; ALPN "patchbay", no renegotiation, no compression, no
 * session tickets. It is built whole or not at all, and never changed:
 * a reload builds another and swaps it in; a connection keeps the one it
 * was made with (a reference).
 *
 * A connection (struct pb_tls) is used from several threads: its owner
 * reads (pb_tls_read), other clients' threads write into it under the
 * destination's lock (pb_tls_write), and an OpenSSL SSL object must never
 * be used by two threads at once, not even one reading and one writing
 * (a TLS 1.3 read writes too: KeyUpdate, alerts). So each connection has
 * its own lock around every use of its SSL, held only for non-blocking
 * work (decryption, encryption, a non-blocking recv or send), never
 * across a wait. Lock order: the destination's outbox lock, then this one.
 *
 * OpenSSL reads the socket itself; it writes into a ciphertext tail of
 * ours, which is sent, non-blocking, by whoever holds the lock; what the
 * socket does not take stays in the tail and goes first next time. New
 * plaintext is encrypted only while the tail is empty, at most 16 KiB at
 * a time, so the tail holds at most one record of data (16 KiB and 22
 * bytes) plus a few bytes of handshake, KeyUpdate or alert; what it holds
 * is charged to the budget given (--max-memory) while it waits. OpenSSL's
 * own buffers, one record each way while one is in flight, given back
 * when idle, come on top.
 * The last byte of plaintext whose ciphertext is still in the tail is
 * reported as not yet written, so that it stays in the outbox: the outbox
 * then says, as for a plain client, that the socket is behind (the owner
 * polls for room, the slow-consumer timeout runs), and the byte is
 * reported written once its ciphertext has gone.
 *
 * Errors are returned (-1 with errno, or an err buffer), never logged
 * here.
 */
#ifndef PB_TLS_H
#define PB_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "budget.h"
#include "options.h"

struct pb_tls_ctx;
struct pb_tls;

/* Whether this build has TLS. */
bool pb_tls_available(void);

/* A context from op's --tls-* options (the files read now), with one
 * reference; NULL with err saying which file or option failed and why. */
struct pb_tls_ctx *pb_tls_ctx_new(const struct pb_options *op, char *err,
				  size_t errlen);
void pb_tls_ctx_ref(struct pb_tls_ctx *ctx);
void pb_tls_ctx_unref(struct pb_tls_ctx *ctx);

/* The certificate's expiry time, in seconds since the epoch. */
long long pb_tls_ctx_expiry(const struct pb_tls_ctx *ctx);

/* A server connection on socket fd (non-blocking), referencing ctx,
 * whose ciphertext waiting for the socket is charged to budget (NULL:
 * none); NULL when there is no memory. */
struct pb_tls *pb_tls_new(struct pb_tls_ctx *ctx, int fd,
			  struct pb_budget *budget);
/* Frees t (nobody else may use it any more); the socket is the caller's. */
void pb_tls_free(struct pb_tls *t);

/* What a handshake step says. */
enum pb_tls_step {
	PB_TLS_DONE,	   /* the handshake is over */
	PB_TLS_WANT_READ,  /* wait until the socket is readable */
	PB_TLS_WANT_WRITE, /* wait until the socket takes more */
	PB_TLS_FAILED,	   /* failed: err says why */
};

/* One step of the server handshake (the owner's thread). */
enum pb_tls_step pb_tls_handshake(struct pb_tls *t, char *err, size_t errlen);

/* After the handshake: the client's identity, "uri:...", "dns:...",
 * "email:..." (its certificate's first such subject alternative name)
 * or "cn:..." (else its common name), "" without a certificate, into
 * ident; 0 when the context's --tls-allow lets it in (or there is none),
 * -1 when it does not. */
int pb_tls_identify(struct pb_tls *t, char *ident, size_t cap);

/* Whether ctx (a reload's) would let in t's client, whose handshake is
 * over and whose identity was ident then: when ctx asks for client
 * certificates, its certificate must chain to ctx's CAs, unrevoked by its
 * CRLs and unexpired, now; and ctx's --tls-allow must name ident. 0, or
 * -1 with err saying why not. Any thread; takes t's lock briefly. */
int pb_tls_recheck(struct pb_tls *t, struct pb_tls_ctx *ctx, const char *ident,
		   char *err, size_t errlen);

/* Plaintext read, as recv(2) on a non-blocking socket: bytes, 0 at the
 * end (close_notify, or the peer closed), -1 with errno (EAGAIN: nothing
 * now; EPROTO: TLS failed). */
ssize_t pb_tls_read(struct pb_tls *t, void *buf, size_t len);

/* Plaintext written from iov[0 .. n), as sendmsg(2) on a non-blocking
 * socket: bytes taken (fewer than offered when the socket is full), -1
 * with errno (EAGAIN: the tail is not out yet). */
ssize_t pb_tls_write(struct pb_tls *t, const struct iovec *iov, size_t n);

/* Encrypts all of buf (the client's id, before anyone else writes) and
 * sends what the socket takes; 0, or -1 with errno. */
int pb_tls_send(struct pb_tls *t, const void *buf, size_t len);

/* Sends what the tail holds, as far as the socket takes it; 0, or -1
 * with errno when the socket failed. */
int pb_tls_flush(struct pb_tls *t);

/* Whether plaintext is waiting inside t, already read from the socket
 * (poll cannot see it: read it anyway). */
bool pb_tls_pending(struct pb_tls *t);

/* Whether ciphertext waits in the tail for the socket to take it. */
bool pb_tls_wants_write(struct pb_tls *t);

/* Sends close_notify if the socket takes it now; t stays to be freed. */
void pb_tls_close(struct pb_tls *t);

/* Frees what OpenSSL keeps for the calling thread (its random generators,
 * its error queue), as a thread that used TLS ends: before it counts
 * itself out, so that a daemon that exits once no client thread runs
 * leaves nothing of theirs behind. */
void pb_tls_thread_end(void);

#endif
