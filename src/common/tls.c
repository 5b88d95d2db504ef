/* SPDX-License-Identifier: ISC */
/*
 * tls.c: TLS for tls: listeners, on OpenSSL (see tls.h for the locking
 * and the ciphertext tail).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* Plaintext encrypted at once: one record's worth. */
#define TLS_CHUNK 16384
/* Longest identity kept (a longer name is cut, and cannot match). */
#define TLS_IDENT_MAX 256

struct pb_tls_ctx {
	SSL_CTX *tc_ssl;
	char **tc_allow; /* "kind:value" lines of --tls-allow */
	size_t tc_nallow;
	bool tc_has_allow; /* --tls-allow given (maybe empty: nobody) */
	long long tc_expiry;
	atomic_int tc_refs;
};

struct pb_tls {
	pthread_mutex_t tl_lock; /* guards everything below */
	SSL *tl_ssl;
	struct pb_tls_ctx *tl_ctx;
	int tl_fd;
	/* The ciphertext tail: bytes [tl_off, tl_len) of tl_tail wait for
	 * the socket; freed once sent, so an idle client holds none. Its
	 * size, tl_cap, is charged to tl_budget. */
	char *tl_tail;
	size_t tl_off, tl_len, tl_cap;
	struct pb_budget *tl_budget;
	bool tl_owed; /* the last byte of plaintext taken was reported as
			 not written: its ciphertext is in the tail */
};

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_gather_key; /* a thread's TLS_CHUNK buffer */
static BIO_METHOD *tls_tail_method;

/* Adds ciphertext to t's tail (t's lock held); 0, or -1 (no memory). */
static int tls_tail_add(struct pb_tls *t, const char *data, size_t len)
{
	if (t->tl_off > 0) {
		memmove(t->tl_tail, t->tl_tail + t->tl_off,
			t->tl_len - t->tl_off);
		t->tl_len -= t->tl_off;
		t->tl_off = 0;
	}
	if (t->tl_len + len > t->tl_cap) {
		size_t cap = t->tl_len + len;
		char *p;

		if (cap < TLS_CHUNK + 1024 && t->tl_cap == 0 && len > 1024)
			cap = TLS_CHUNK + 1024; /* one record, grown once */
		p = realloc(t->tl_tail, cap);
		if (p == NULL)
			return -1;
		pb_budget_charge(t->tl_budget, cap - t->tl_cap);
		t->tl_tail = p;
		t->tl_cap = cap;
	}
	memcpy(t->tl_tail + t->tl_len, data, len);
	t->tl_len += len;
	return 0;
}

/* Frees the tail, and what it was charged. */
static void tls_tail_free(struct pb_tls *t)
{
	if (t->tl_cap == 0)
		return; /* nothing held: the shared counter left alone */
	pb_budget_release(t->tl_budget, t->tl_cap);
	free(t->tl_tail);
	t->tl_tail = NULL;
	t->tl_off = t->tl_len = t->tl_cap = 0;
}

/* Sends the tail, non-blocking (t's lock held): 0 when it is all out or
 * the socket is full, -1 with errno when the socket failed. */
static int tls_drain(struct pb_tls *t)
{
	while (t->tl_off < t->tl_len) {
		ssize_t r = send(t->tl_fd, t->tl_tail + t->tl_off,
				 t->tl_len - t->tl_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		t->tl_off += (size_t)r;
	}
	tls_tail_free(t);
	return 0;
}

static bool tls_tail_empty(const struct pb_tls *t)
{
	return t->tl_off == t->tl_len;
}

/* The tail as OpenSSL's write BIO: it takes everything (no WANT_WRITE,
 * ever), and the socket is written by whoever holds the lock. */
static int tls_bio_write(BIO *b, const char *data, int len)
{
	struct pb_tls *t = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	return tls_tail_add(t, data, (size_t)len) < 0 ? -1 : len;
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct pb_tls *t = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1; /* sent by the lock's holder, after the call */
	case BIO_CTRL_WPENDING:
		return t != NULL ? (long)(t->tl_len - t->tl_off) : 0;
	default:
		return 0;
	}
}

static void tls_init(void)
{
	BIO_METHOD *m;

	if (pthread_key_create(&tls_gather_key, free) != 0)
		return;
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
			 "patchbay ciphertext tail");
	if (m == NULL)
		return;
	if (!BIO_meth_set_write(m, tls_bio_write) ||
	    !BIO_meth_set_ctrl(m, tls_bio_ctrl)) {
		BIO_meth_free(m);
		return;
	}
	tls_tail_method = m;
}

bool pb_tls_available(void)
{
	return true;
}

/* OpenSSL's reason for the last failure (and its error queue emptied). */
static const char *tls_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return why != NULL ? why : "failed";
}

/* Whether a file can be read; else err says why, naming the option. */
static bool tls_readable(const char *option, const char *path, char *err,
			 size_t errlen)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errlen, "--%s %s: %s", option, path,
			 strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

/* ALPN: "patchbay", or no ALPN at all; a client that offers others only
 * is refused (a client of another protocol, cross-protocol defence). */
static int tls_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x08patchbay";
	unsigned char *sel = NULL;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void tls_allow_free(struct pb_tls_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->tc_nallow; i++)
		free(ctx->tc_allow[i]);
	free(ctx->tc_allow);
	ctx->tc_allow = NULL;
	ctx->tc_nallow = 0;
}

/* Trims blanks at both ends, in place. */
static char *tls_trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static bool tls_allow_kind(const char *line)
{
	static const char *const kinds[] = {"uri:", "dns:", "email:", "cn:"};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(line, kinds[i], strlen(kinds[i])) == 0 &&
		    line[strlen(kinds[i])] != '\0')
			return true;
	return false;
}

/* Reads --tls-allow: one identity a line, blank lines and # comments
 * skipped. 0, or -1 with err naming the file and line. */
static int tls_allow_load(struct pb_tls_ctx *ctx, const char *path, char *err,
			  size_t errlen)
{
	char line[TLS_IDENT_MAX + 64];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errlen, "--tls-allow %s: %s", path,
			 strerror(errno));
		return -1;
	}
	ctx->tc_has_allow = true;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = tls_trim(line), **more;

		n++;
		if (*s == '\0' || *s == '#')
			continue;
		if (!tls_allow_kind(s) || strlen(s) >= TLS_IDENT_MAX) {
			snprintf(err, errlen,
				 "--tls-allow %s:%u: expected uri:, dns:, "
				 "email: or cn: and a name",
				 path, n);
			fclose(f);
			return -1;
		}
		more = realloc(ctx->tc_allow,
			       (ctx->tc_nallow + 1) * sizeof(*more));
		if (more == NULL ||
		    (more[ctx->tc_nallow] = strdup(s)) == NULL) {
			if (more != NULL)
				ctx->tc_allow = more;
			snprintf(err, errlen, "--tls-allow %s: no memory",
				 path);
			fclose(f);
			return -1;
		}
		ctx->tc_allow = more;
		ctx->tc_nallow++;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "--tls-allow %s: cannot read it", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* The certificate's notAfter, in seconds since the epoch. */
static long long tls_expiry(SSL_CTX *s)
{
	X509 *leaf = SSL_CTX_get0_certificate(s);
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (leaf == NULL || !ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm))
		return 0;
	return (long long)timegm(&tm);
}

/* The files and settings of op into s; 0, or -1 with err. */
static int tls_configure(SSL_CTX *s, const struct pb_options *op, char *err,
			 size_t errlen)
{
	int mode = SSL_VERIFY_NONE;

	if (!SSL_CTX_set_min_proto_version(s, op->op_tls_min_version == 13
						      ? TLS1_3_VERSION
						      : TLS1_2_VERSION)) {
		snprintf(err, errlen, "--tls-min-version: %s", tls_reason());
		return -1;
	}
	if (op->op_tls_ciphers[0] != '\0' &&
	    !SSL_CTX_set_cipher_list(s, op->op_tls_ciphers)) {
		snprintf(err, errlen, "--tls-ciphers '%s': %s",
			 op->op_tls_ciphers, tls_reason());
		return -1;
	}
	if (op->op_tls_ciphersuites[0] != '\0' &&
	    !SSL_CTX_set_ciphersuites(s, op->op_tls_ciphersuites)) {
		snprintf(err, errlen, "--tls-ciphersuites '%s': %s",
			 op->op_tls_ciphersuites, tls_reason());
		return -1;
	}
	if (!tls_readable("tls-cert", op->op_tls_cert, err, errlen) ||
	    !tls_readable("tls-key", op->op_tls_key, err, errlen))
		return -1;
	if (!SSL_CTX_use_certificate_chain_file(s, op->op_tls_cert)) {
		snprintf(err, errlen, "--tls-cert %s: %s", op->op_tls_cert,
			 tls_reason());
		return -1;
	}
	if (!SSL_CTX_use_PrivateKey_file(s, op->op_tls_key, SSL_FILETYPE_PEM) &&
	    ERR_GET_REASON(ERR_peek_last_error()) !=
		    X509_R_KEY_VALUES_MISMATCH) {
		snprintf(err, errlen, "--tls-key %s: %s", op->op_tls_key,
			 tls_reason());
		return -1;
	}
	if (ERR_peek_last_error() != 0 || !SSL_CTX_check_private_key(s)) {
		snprintf(err, errlen,
			 "--tls-key %s does not match --tls-cert %s",
			 op->op_tls_key, op->op_tls_cert);
		ERR_clear_error();
		return -1;
	}
	if (op->op_tls_ca[0] != '\0') {
		STACK_OF(X509_NAME) * names;

		if (!tls_readable("tls-ca", op->op_tls_ca, err, errlen))
			return -1;
		if (!SSL_CTX_load_verify_locations(s, op->op_tls_ca, NULL)) {
			snprintf(err, errlen, "--tls-ca %s: %s", op->op_tls_ca,
				 tls_reason());
			return -1;
		}
		names = SSL_load_client_CA_file(op->op_tls_ca);
		if (names != NULL)
			SSL_CTX_set_client_CA_list(s, names);
		ERR_clear_error();
	}
	if (op->op_tls_crl[0] != '\0') {
		X509_STORE *st = SSL_CTX_get_cert_store(s);
		X509_LOOKUP *lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());

		if (!tls_readable("tls-crl", op->op_tls_crl, err, errlen))
			return -1;
		if (lu == NULL || X509_load_crl_file(lu, op->op_tls_crl,
						     X509_FILETYPE_PEM) <= 0) {
			snprintf(err, errlen, "--tls-crl %s: %s",
				 op->op_tls_crl, tls_reason());
			return -1;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	if (op->op_tls_client_auth == PB_TLS_AUTH_REQUIRE)
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	else if (op->op_tls_client_auth == PB_TLS_AUTH_OPTIONAL)
		mode = SSL_VERIFY_PEER;
	SSL_CTX_set_verify(s, mode, NULL);
	return 0;
}

struct pb_tls_ctx *pb_tls_ctx_new(const struct pb_options *op, char *err,
				  size_t errlen)
{
	struct pb_tls_ctx *ctx;
	SSL_CTX *s;
	uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
			SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE;

	pthread_once(&tls_once, tls_init);
	if (tls_tail_method == NULL) {
		snprintf(err, errlen, "TLS: cannot set up OpenSSL");
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	s = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || s == NULL) {
		snprintf(err, errlen, "TLS: no memory");
		free(ctx);
		SSL_CTX_free(s);
		return NULL;
	}
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A client that closes without close_notify has merely left: its
	 * frames are NUL-terminated, an unfinished one is dropped anyway. */
	opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
	SSL_CTX_set_options(s, opts);
	SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE |
				    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				    SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(s, 0);
	SSL_CTX_set_alpn_select_cb(s, tls_alpn, NULL);
	ctx->tc_ssl = s;
	atomic_init(&ctx->tc_refs, 1);
	if (tls_configure(s, op, err, errlen) < 0 ||
	    (op->op_tls_allow[0] != '\0' &&
	     tls_allow_load(ctx, op->op_tls_allow, err, errlen) < 0)) {
		pb_tls_ctx_unref(ctx);
		return NULL;
	}
	ctx->tc_expiry = tls_expiry(s);
	return ctx;
}

void pb_tls_ctx_ref(struct pb_tls_ctx *ctx)
{
	atomic_fetch_add_explicit(&ctx->tc_refs, 1, memory_order_relaxed);
}

void pb_tls_ctx_unref(struct pb_tls_ctx *ctx)
{
	if (ctx == NULL || atomic_fetch_sub_explicit(&ctx->tc_refs, 1,
						     memory_order_acq_rel) != 1)
		return;
	SSL_CTX_free(ctx->tc_ssl);
	tls_allow_free(ctx);
	free(ctx);
}

long long pb_tls_ctx_expiry(const struct pb_tls_ctx *ctx)
{
	return ctx->tc_expiry;
}

struct pb_tls *pb_tls_new(struct pb_tls_ctx *ctx, int fd,
			  struct pb_budget *budget)
{
	struct pb_tls *t = calloc(1, sizeof(*t));
	BIO *rbio = NULL, *wbio = NULL;

	if (t == NULL)
		return NULL;
	t->tl_ssl = SSL_new(ctx->tc_ssl);
	rbio = BIO_new_socket(fd, BIO_NOCLOSE);
	wbio = BIO_new(tls_tail_method);
	if (t->tl_ssl == NULL || rbio == NULL || wbio == NULL) {
		BIO_free(rbio);
		BIO_free(wbio);
		SSL_free(t->tl_ssl);
		free(t);
		ERR_clear_error();
		return NULL;
	}
	BIO_set_data(wbio, t);
	BIO_set_init(wbio, 1);
	SSL_set_bio(t->tl_ssl, rbio, wbio);
	SSL_set_accept_state(t->tl_ssl);
	pthread_mutex_init(&t->tl_lock, NULL);
	t->tl_fd = fd;
	t->tl_budget = budget;
	t->tl_ctx = ctx;
	pb_tls_ctx_ref(ctx);
	return t;
}

void pb_tls_free(struct pb_tls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->tl_ssl);
	tls_tail_free(t);
	pb_tls_ctx_unref(t->tl_ctx);
	pthread_mutex_destroy(&t->tl_lock);
	free(t);
}

/* Why the handshake failed, into err (t's lock held). */
static void tls_why(struct pb_tls *t, int e, int saved, char *err,
		    size_t errlen)
{
	long v = SSL_get_verify_result(t->tl_ssl);

	if (v != X509_V_OK)
		snprintf(err, errlen, "certificate: %s",
			 X509_verify_cert_error_string(v));
	else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
		snprintf(err, errlen, "%s",
			 saved != 0 ? strerror(saved) : "closed by the peer");
	else if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(err, errlen, "closed by the peer");
	else
		snprintf(err, errlen, "%s", tls_reason());
	ERR_clear_error();
}

enum pb_tls_step pb_tls_handshake(struct pb_tls *t, char *err, size_t errlen)
{
	enum pb_tls_step step;
	int r, e, saved;

	pthread_mutex_lock(&t->tl_lock);
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(t->tl_ssl);
	saved = errno;
	e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->tl_ssl, r);
	if (tls_drain(t) < 0 && e != SSL_ERROR_SSL) {
		snprintf(err, errlen, "%s", strerror(errno));
		pthread_mutex_unlock(&t->tl_lock);
		return PB_TLS_FAILED;
	}
	switch (e) {
	case SSL_ERROR_NONE:
		step = PB_TLS_DONE;
		break;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		/* Ours first: the peer may wait for it before it speaks. */
		step = tls_tail_empty(t) ? PB_TLS_WANT_READ : PB_TLS_WANT_WRITE;
		break;
	default:
		tls_why(t, e, saved, err, errlen);
		step = PB_TLS_FAILED;
	}
	pthread_mutex_unlock(&t->tl_lock);
	return step;
}

/* Copies an ASN.1 string as "kind:value" into out, if it is printable
 * text (a name with control bytes could forge log lines): true if so. */
static bool tls_name(const char *kind, const ASN1_STRING *s, char *out,
		     size_t cap)
{
	const unsigned char *p = ASN1_STRING_get0_data(s);
	int i, len = ASN1_STRING_length(s);

	if (p == NULL || len <= 0 || (size_t)len + strlen(kind) >= cap)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	snprintf(out, cap, "%s%.*s", kind, len, (const char *)p);
	return true;
}

/* The first SAN URI, DNS name or e-mail of cert, else its CN. */
static void tls_cert_identity(X509 *cert, char *out, size_t cap)
{
	GENERAL_NAMES *names =
		X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(cert);
	bool found = false;
	int i;

	for (i = 0; names != NULL && !found && i < sk_GENERAL_NAME_num(names);
	     i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

		if (g->type == GEN_URI)
			found = tls_name("uri:", g->d.uniformResourceIdentifier,
					 out, cap);
		else if (g->type == GEN_DNS)
			found = tls_name("dns:", g->d.dNSName, out, cap);
		else if (g->type == GEN_EMAIL)
			found = tls_name("email:", g->d.rfc822Name, out, cap);
	}
	GENERAL_NAMES_free(names);
	if (!found && subj != NULL) {
		int at = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
		X509_NAME_ENTRY *ne =
			at >= 0 ? X509_NAME_get_entry(subj, at) : NULL;

		if (ne != NULL)
			found = tls_name("cn:", X509_NAME_ENTRY_get_data(ne),
					 out, cap);
	}
	if (!found)
		out[0] = '\0';
}

static bool tls_allowed(const struct pb_tls_ctx *ctx, const char *ident)
{
	size_t i;

	if (!ctx->tc_has_allow)
		return true;
	for (i = 0; ident[0] != '\0' && i < ctx->tc_nallow; i++)
		if (strcmp(ctx->tc_allow[i], ident) == 0)
			return true;
	return false;
}

int pb_tls_identify(struct pb_tls *t, char *ident, size_t cap)
{
	X509 *cert;

	pthread_mutex_lock(&t->tl_lock);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	cert = SSL_get1_peer_certificate(t->tl_ssl);
#else
	cert = SSL_get_peer_certificate(t->tl_ssl);
#endif
	ident[0] = '\0';
	/* Only a verified certificate names anyone. */
	if (cert != NULL && SSL_get_verify_result(t->tl_ssl) == X509_V_OK)
		tls_cert_identity(cert, ident, cap);
	X509_free(cert);
	pthread_mutex_unlock(&t->tl_lock);
	return tls_allowed(t->tl_ctx, ident) ? 0 : -1;
}

int pb_tls_recheck(struct pb_tls *t, struct pb_tls_ctx *ctx, const char *ident,
		   char *err, size_t errlen)
{
	int mode = SSL_CTX_get_verify_mode(ctx->tc_ssl);
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *sc = NULL;
	X509 *cert;
	int rc = 0;

	/* The certificates are taken (referenced) under t's lock; the
	 * verification, against ctx's store, needs nothing of t's. */
	pthread_mutex_lock(&t->tl_lock);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	cert = SSL_get1_peer_certificate(t->tl_ssl);
#else
	cert = SSL_get_peer_certificate(t->tl_ssl);
#endif
	if (cert != NULL && SSL_get_peer_cert_chain(t->tl_ssl) != NULL)
		chain = X509_chain_up_ref(SSL_get_peer_cert_chain(t->tl_ssl));
	pthread_mutex_unlock(&t->tl_lock);
	if (cert == NULL) {
		if (mode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) {
			snprintf(err, errlen, "no certificate");
			rc = -1;
		}
	} else if (mode & SSL_VERIFY_PEER) {
		sc = X509_STORE_CTX_new();
		if (sc == NULL ||
		    !X509_STORE_CTX_init(sc,
					 SSL_CTX_get_cert_store(ctx->tc_ssl),
					 cert, chain)) {
			snprintf(err, errlen, "no memory to check it");
			rc = -1;
		} else {
			/* As OpenSSL checks a client's during a handshake. */
			X509_STORE_CTX_set_default(sc, "ssl_client");
			X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(sc),
					       SSL_CTX_get0_param(ctx->tc_ssl));
			if (X509_verify_cert(sc) != 1) {
				snprintf(err, errlen, "certificate: %s",
					 X509_verify_cert_error_string(
						 X509_STORE_CTX_get_error(sc)));
				rc = -1;
			}
		}
	}
	X509_STORE_CTX_free(sc);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	ERR_clear_error();
	if (rc == 0 && !tls_allowed(ctx, ident)) {
		snprintf(err, errlen, "%s not on --tls-allow",
			 ident[0] != '\0' ? ident : "no certificate");
		rc = -1;
	}
	return rc;
}

ssize_t pb_tls_read(struct pb_tls *t, void *buf, size_t len)
{
	int r, e, saved;

	if (len > INT_MAX)
		len = INT_MAX;
	pthread_mutex_lock(&t->tl_lock);
	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->tl_ssl, buf, (int)len);
	saved = errno;
	e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(t->tl_ssl, r);
	/* A read may have written (a KeyUpdate's answer, an alert): out
	 * with it now; a socket that fails shows at the next write. */
	(void)tls_drain(t);
	if (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL)
		ERR_clear_error();
	pthread_mutex_unlock(&t->tl_lock);
	switch (e) {
	case SSL_ERROR_NONE:
		return r;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: /* never: the tail takes everything */
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (saved == 0)
			return 0; /* the peer closed */
		errno = saved;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

/* This thread's buffer for gathering iovecs into one record, or NULL. */
static char *tls_gather_buf(void)
{
	char *b = pthread_getspecific(tls_gather_key);

	if (b == NULL) {
		b = malloc(TLS_CHUNK);
		if (b != NULL && pthread_setspecific(tls_gather_key, b) != 0) {
			free(b);
			b = NULL;
		}
	}
	return b;
}

/* Encrypts up to TLS_CHUNK bytes of iov[0 .. n), past its first skip
 * bytes, into the tail (t's lock held): how many, or -1 with errno. */
static ssize_t tls_encrypt(struct pb_tls *t, const struct iovec *iov, size_t n,
			   size_t skip)
{
	char *buf = tls_gather_buf();
	const char *from = NULL;
	size_t len = 0, i;
	int r;

	for (i = 0; i < n && len < TLS_CHUNK; i++) {
		const char *p = iov[i].iov_base;
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l -= skip;
		skip = 0;
		if (l > TLS_CHUNK - len)
			l = TLS_CHUNK - len;
		if (buf == NULL || (len == 0 && l == TLS_CHUNK)) {
			/* No buffer, or one full record: straight from it. */
			from = p;
			len = l;
			break;
		}
		memcpy(buf + len, p, l);
		len += l;
		from = buf;
	}
	if (len == 0)
		return 0;
	ERR_clear_error();
	r = SSL_write(t->tl_ssl, from, (int)len);
	if (r <= 0) {
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
	return r;
}

ssize_t pb_tls_write(struct pb_tls *t, const struct iovec *iov, size_t n)
{
	size_t skip;
	ssize_t r;

	pthread_mutex_lock(&t->tl_lock);
	if (tls_drain(t) < 0)
		goto fail;
	if (!tls_tail_empty(t)) {
		pthread_mutex_unlock(&t->tl_lock);
		errno = EAGAIN;
		return -1;
	}
	/* The byte owed is the first offered: its ciphertext has gone. */
	skip = t->tl_owed ? 1 : 0;
	t->tl_owed = false;
	r = tls_encrypt(t, iov, n, skip);
	if (r < 0 || tls_drain(t) < 0)
		goto fail;
	if (r > 0 && !tls_tail_empty(t)) {
		t->tl_owed = true;
		r--;
	}
	pthread_mutex_unlock(&t->tl_lock);
	return r + (ssize_t)skip;
fail:
	pthread_mutex_unlock(&t->tl_lock);
	return -1;
}

int pb_tls_send(struct pb_tls *t, const void *buf, size_t len)
{
	int r, rc = 0;

	pthread_mutex_lock(&t->tl_lock);
	ERR_clear_error();
	r = SSL_write(t->tl_ssl, buf, (int)len);
	if (r != (int)len) {
		ERR_clear_error();
		errno = EPROTO;
		rc = -1;
	} else if (tls_drain(t) < 0) {
		rc = -1;
	}
	pthread_mutex_unlock(&t->tl_lock);
	return rc;
}

int pb_tls_flush(struct pb_tls *t)
{
	int rc;

	pthread_mutex_lock(&t->tl_lock);
	rc = tls_drain(t);
	pthread_mutex_unlock(&t->tl_lock);
	return rc;
}

bool pb_tls_pending(struct pb_tls *t)
{
	bool p;

	pthread_mutex_lock(&t->tl_lock);
	p = SSL_has_pending(t->tl_ssl) != 0;
	pthread_mutex_unlock(&t->tl_lock);
	return p;
}

bool pb_tls_wants_write(struct pb_tls *t)
{
	bool w;

	pthread_mutex_lock(&t->tl_lock);
	w = !tls_tail_empty(t);
	pthread_mutex_unlock(&t->tl_lock);
	return w;
}

void pb_tls_close(struct pb_tls *t)
{
	pthread_mutex_lock(&t->tl_lock);
	if (SSL_is_init_finished(t->tl_ssl)) {
		ERR_clear_error();
		(void)SSL_shutdown(t->tl_ssl);
		ERR_clear_error();
		(void)tls_drain(t);
	}
	pthread_mutex_unlock(&t->tl_lock);
}

void pb_tls_thread_end(void)
{
	OPENSSL_thread_stop();
}
