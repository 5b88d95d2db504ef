/* SPDX-License-Identifier: ISC */
/*
 * check_tls.c: end-to-end tests of tls: listeners. Certificates are made
 * at start with the openssl command (a CA; a server certificate for
 * localhost and 127.0.0.1; clients alice and bob; a rogue CA's alice; an
 * expired client and CRLs, by openssl ca), and the test clients speak TLS
 * with OpenSSL directly. A TLS client and a plain one exchange both ways;
 * a failed handshake spends no id and is counted; no certificate, a rogue
 * one, an expired one, a revoked one or a name off --tls-allow gets no id
 * (in TLS 1.3 that shows at the client's first read, not at connect); a
 * reload that no longer allows a connected client (a shrunk allow-list, a
 * new CRL) closes it, counted; the identity is in the connect line; a TLS
 * client that stops reading is cut as a slow consumer; KeyUpdate under traffic
 * loses nothing; configuration errors exit 2 naming the option; the
 * ciphertext waiting for a client's socket is charged to the memory budget
 * (tls.c itself, a connection accepted here). Skipped (77) where there is
 * no openssl command.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "budget.h"
#include "options.h"
#include "tls.h"

/* Where the certificates are, made once for every test. */
static char pki[64];

/* A file of the PKI: "ca.crt", "alice.key"... */
static const char *pki_file(const char *name)
{
	static char path[8][128];
	static int next;
	char *p = path[next++ % 8];

	snprintf(p, sizeof(path[0]), "%s/%s", pki, name);
	return p;
}

/* Makes the PKI with the openssl command; false when it failed. */
static bool pki_make(void)
{
	char cmd[4096];

	snprintf(pki, sizeof pki, "/tmp/pb-tls.XXXXXX");
	if (mkdtemp(pki) == NULL)
		return false;
	snprintf(
		cmd, sizeof cmd,
		"set -e; cd '%s'; exec 2>/dev/null >/dev/null\n"
		"key='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
		"openssl req -x509 $key -keyout ca.key -out ca.crt -days 2 "
		"-subj /CN=pbt-ca\n"
		"openssl req -x509 $key -keyout rogue-ca.key -out rogue-ca.crt "
		"-days 2 -subj /CN=pbt-rogue\n"
		"printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' "
		">srv.ext\n"
		"printf 'extendedKeyUsage=clientAuth\\n' >cli.ext\n"
		"openssl req $key -keyout srv.key -out srv.csr "
		"-subj /CN=localhost\n"
		"openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key "
		"-CAcreateserial -out srv.crt -days 2 -extfile srv.ext\n"
		"openssl req $key -keyout srv2.key -out srv2.csr "
		"-subj /CN=srv2\n"
		"openssl x509 -req -in srv2.csr -CA ca.crt -CAkey ca.key "
		"-CAcreateserial -out srv2.crt -days 2 -extfile srv.ext\n"
		"for n in alice bob; do\n"
		"  openssl req $key -keyout $n.key -out $n.csr -subj /CN=$n\n"
		"  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key "
		"-CAcreateserial -out $n.crt -days 2 -extfile cli.ext\n"
		"done\n"
		"cp alice.key rogue.key\n"
		"openssl x509 -req -in alice.csr -CA rogue-ca.crt "
		"-CAkey rogue-ca.key -CAcreateserial -out rogue.crt -days 2 "
		"-extfile cli.ext\n"
		/* openssl ca (OpenSSL 3.0 has no x509 -not_after): an
		 * expired client, and CRLs revoking nobody, and bob. */
		"printf '[ca]\\ndefault_ca=pbt\\n[pbt]\\ndatabase=index.txt\\n"
		"new_certs_dir=.\\nserial=serial\\ncrlnumber=crlnumber\\n"
		"default_md=sha256\\npolicy=any\\nunique_subject=no\\n"
		"default_crl_days=2\\n[any]\\ncommonName=supplied\\n"
		"[cli]\\nextendedKeyUsage=clientAuth\\n' >ca.cnf\n"
		": >index.txt; echo 1000 >serial; echo 1000 >crlnumber\n"
		"ca='openssl ca -batch -config ca.cnf -cert ca.crt "
		"-keyfile ca.key'\n"
		"openssl req $key -keyout expired.key -out expired.csr "
		"-subj /CN=expired\n"
		"$ca -in expired.csr -out expired.crt -notext -extensions cli "
		"-startdate 20200101000000Z -enddate 20200102000000Z\n"
		"$ca -gencrl -out none.crl\n"
		"$ca -revoke bob.crt\n"
		"$ca -gencrl -out bob.crl\n",
		pki);
	return system(cmd) == 0;
}

static void pki_remove(void)
{
	char cmd[128];

	if (pki[0] != '\0') {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki);
		(void)system(cmd);
	}
}

/* Starts patchbayd with a plain listener (pbt_port) and a tls: one, and
 * the certificates, and extra arguments (up to 8, NULL-terminated). */
static struct pbt_daemon *tls_start(const char *a1, const char *a2,
				    const char *a3, const char *a4)
{
	return pbt_start("-l", "tls:127.0.0.1:0", "--tls-cert",
			 pki_file("srv.crt"), "--tls-key", pki_file("srv.key"),
			 "--tls-ca", pki_file("ca.crt"), a1, a2, a3, a4,
			 (char *)NULL);
}

/* The tls: listener's port, from its "listening on tls:" line. */
static int tls_port(struct pbt_daemon *d)
{
	char *line, *colon;
	int port;

	pbt_log_expect(d, "listening on tls:", PBT_LOG_MS);
	line = pbt_log_line(d, "listening on tls:");
	colon = strrchr(line, ':');
	port = atoi(colon + 1);
	free(line);
	pbt_assert(port > 0, "no port in the tls: listener's line");
	return port;
}

/* Waits for the server to end a raw connection, whatever it sends
 * before (an alert); false if it did not within PBT_IO_MS. */
static bool tls_ended(int fd)
{
	struct timeval tv = {.tv_sec = PBT_IO_MS / 1000};
	char buf[512];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
		;
	return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A test client over TLS, blocking, its waits bounded by timeouts. */
struct tcl {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char rx[70000]; /* read, not yet taken as messages */
	size_t rx_len;
};

/* Connects to 127.0.0.1:port with SO_RCVBUF rcvbuf (0: the default). */
static int tcl_socket(int port, int rcvbuf)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = PBT_IO_MS / 1000};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	pbt_assert(fd >= 0, "socket: %s", strerror(errno));
	if (rcvbuf != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pbt_assert(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0,
		   "connect to %d: %s", port, strerror(errno));
	return fd;
}

/*
 * A TLS connection as 'who' ("alice": alice.crt and alice.key; NULL: no
 * certificate) trusting ca.crt, at most TLS 'max' (0: any). The
 * handshake's result in *ok (a TLS 1.3 server's refusal shows later).
 */
static struct tcl *tcl_open(int port, const char *who, int rcvbuf, int max,
			    bool *ok)
{
	static const unsigned char alpn[] = "\x08patchbay";
	struct tcl *c = calloc(1, sizeof(*c));
	char crt[64], key[64];

	pbt_assert(c != NULL, "no memory");
	c->fd = tcl_socket(port, rcvbuf);
	c->ctx = SSL_CTX_new(TLS_client_method());
	pbt_assert(c->ctx != NULL, "SSL_CTX_new");
	pbt_assert(SSL_CTX_load_verify_locations(c->ctx, pki_file("ca.crt"),
						 NULL) == 1,
		   "cannot load ca.crt");
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (max != 0)
		SSL_CTX_set_max_proto_version(c->ctx, max);
	if (who != NULL) {
		snprintf(crt, sizeof crt, "%s.crt", who);
		snprintf(key, sizeof key, "%s.key", who);
		pbt_assert(SSL_CTX_use_certificate_file(c->ctx, pki_file(crt),
							SSL_FILETYPE_PEM) ==
					   1 &&
				   SSL_CTX_use_PrivateKey_file(
					   c->ctx, pki_file(key),
					   SSL_FILETYPE_PEM) == 1,
			   "cannot load %s's certificate", who);
	}
	c->ssl = SSL_new(c->ctx);
	SSL_set_alpn_protos(c->ssl, alpn, sizeof alpn - 1);
	SSL_set_fd(c->ssl, c->fd);
	*ok = SSL_connect(c->ssl) == 1;
	ERR_clear_error();
	return c;
}

static void tcl_close(struct tcl *c)
{
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	close(c->fd);
	free(c);
}

/* Reads into c->rx; false at the end or on an error. */
static bool tcl_fill(struct tcl *c)
{
	int n;

	pbt_assert(c->rx_len < sizeof c->rx, "test client: rx full");
	n = SSL_read(c->ssl, c->rx + c->rx_len,
		     (int)(sizeof c->rx - c->rx_len));
	ERR_clear_error();
	if (n <= 0)
		return false;
	c->rx_len += (size_t)n;
	return true;
}

/* Takes len bytes from rx into out (NULL: drops them). */
static void tcl_take(struct tcl *c, void *out, size_t len)
{
	if (out != NULL)
		memcpy(out, c->rx, len);
	memmove(c->rx, c->rx + len, c->rx_len - len);
	c->rx_len -= len;
}

/* The id, or false when the server ended the connection first. */
static bool tcl_read_id(struct tcl *c, uint32_t *id)
{
	unsigned char b[4];

	while (c->rx_len < 4)
		if (!tcl_fill(c))
			return false;
	tcl_take(c, b, 4);
	*id = pbt_get_u32(b);
	return true;
}

static void tcl_write(struct tcl *c, const void *buf, size_t len)
{
	while (len > 0) {
		int n = SSL_write(c->ssl, buf, (int)len);

		pbt_assert(n > 0, "test client: SSL_write failed (%d)",
			   SSL_get_error(c->ssl, n));
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
}

static void tcl_send_frame(struct tcl *c, uint32_t dst, const char *payload)
{
	struct pbt_buf b = {0};

	pbt_buf_frame(&b, dst, payload, strlen(payload));
	tcl_write(c, b.b_data, b.b_len);
	pbt_buf_free(&b);
}

static void tcl_expect_msg(struct tcl *c, const char *payload)
{
	size_t want = strlen(payload) + 1;
	char *nul;

	while ((nul = memchr(c->rx, '\0', c->rx_len)) == NULL)
		pbt_assert(tcl_fill(c), "TLS client: no message \"%s\"",
			   payload);
	pbt_assert((size_t)(nul - c->rx) + 1 == want &&
			   memcmp(c->rx, payload, want) == 0,
		   "TLS client: expected \"%s\", got \"%.*s\"", payload,
		   (int)(nul - c->rx), c->rx);
	tcl_take(c, NULL, want);
}

/* A connected TLS client as who, with its id. */
static struct tcl *tcl_client(int port, const char *who, uint32_t *id)
{
	bool ok;
	struct tcl *c = tcl_open(port, who, 0, 0, &ok);

	pbt_assert(ok, "TLS handshake as %s failed", who ? who : "nobody");
	pbt_assert(tcl_read_id(c, id), "no id for the TLS client %s",
		   who ? who : "nobody");
	return c;
}

START_TEST(test_tls_and_plain_clients_exchange)
{
	struct pbt_daemon *d = tls_start(NULL, NULL, NULL, NULL);
	int port = tls_port(d);
	uint32_t idp, idt, idt2;
	int p = pbt_connect(d, &idp);
	struct tcl *t = tcl_client(port, "alice", &idt);
	struct tcl *t2 = tcl_client(port, "bob", &idt2);
	char *stats;

	pbt_assert(idt != idp && idt2 != idt, "ids %u %u %u not distinct", idp,
		   idt, idt2);
	pbt_send_frame(p, idt, "plain to tls", PBT_IO_MS);
	tcl_expect_msg(t, "plain to tls");
	tcl_send_frame(t, idp, "tls to plain");
	pbt_expect_msg(p, "tls to plain", PBT_IO_MS);
	tcl_send_frame(t, idt2, "tls to tls");
	tcl_expect_msg(t2, "tls to tls");
	tcl_send_frame(t2, idt, "and back");
	tcl_expect_msg(t, "and back");
	tcl_close(t);
	tcl_close(t2);
	close(p);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 3);
	ck_assert_uint_eq(pbt_stat(stats, "forwarded"), 4);
	free(stats);
	pbt_free(d);
}
END_TEST

START_TEST(test_identity_is_in_the_connect_line)
{
	struct pbt_daemon *d = tls_start(NULL, NULL, NULL, NULL);
	uint32_t id;
	struct tcl *t = tcl_client(tls_port(d), "alice", &id);
	char line[128];

	snprintf(line, sizeof line, "client %u connected from ", id);
	pbt_log_expect(d, line, PBT_LOG_MS);
	snprintf(line, sizeof line, "(tls, cn:alice)");
	pbt_log_expect(d, line, PBT_LOG_MS);
	tcl_close(t);
	pbt_free(d);
}
END_TEST

/* Connects as who (NULL: no certificate), expecting no id. */
static void tcl_refused(int port, const char *who, int max)
{
	bool ok;
	uint32_t id;
	struct tcl *c = tcl_open(port, who, 0, max, &ok);

	pbt_assert(!ok || !tcl_read_id(c, &id), "%s got an id: %u",
		   who ? who
		       : "a client without "
			 "certificate",
		   id);
	tcl_close(c);
}

START_TEST(test_failed_handshakes_spend_no_id_and_are_counted)
{
	struct pbt_daemon *d = tls_start(NULL, NULL, NULL, NULL);
	int port = tls_port(d), raw;
	uint32_t a, b, t;
	int pa = pbt_connect(d, &a), pb;
	struct tcl *ok;
	char *stats;

	tcl_refused(port, NULL, 0);		 /* no certificate (1.3) */
	tcl_refused(port, NULL, TLS1_2_VERSION); /* no certificate (1.2) */
	tcl_refused(port, "rogue", 0);		 /* another CA's alice */
	/* Plain bytes on the TLS port. */
	raw = pbt_connect_port(port);
	pbt_send_all(raw, "\0\0\0\1hello\0", 10, PBT_IO_MS);
	pbt_assert(tls_ended(raw), "plain bytes on the TLS port: not closed");
	close(raw);
	pbt_assert(pbt_log_wait_count(d, "refused: TLS handshake failed", 4,
				      PBT_LOG_MS),
		   "4 refusals expected in the log");
	pbt_log_expect(d, "peer did not return a certificate", PBT_LOG_MS);
	pb = pbt_connect(d, &b);
	ck_assert_uint_eq(b, a + 1);
	ok = tcl_client(port, "alice", &t);
	ck_assert_uint_eq(t, b + 1);
	tcl_close(ok);
	close(pa);
	close(pb);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "refused_tls"), 4);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 3);
	free(stats);
	pbt_free(d);
}
END_TEST

START_TEST(test_handshake_that_never_finishes_times_out)
{
	struct pbt_daemon *d =
		tls_start("--tls-handshake-timeout", "0.3", NULL, NULL);
	int raw = pbt_connect_port(tls_port(d)), p;
	uint32_t a, b;
	char *stats;

	p = pbt_connect(d, &a);
	pbt_assert(tls_ended(raw), "a silent TLS connection was not closed");
	pbt_log_expect(d, "refused: TLS handshake unfinished after 0.3 s",
		       PBT_LOG_MS);
	close(raw);
	close(p);
	p = pbt_connect(d, &b);
	ck_assert_uint_eq(b, a + 1);
	close(p);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "refused_tls_timeout"), 1);
	free(stats);
	pbt_free(d);
}
END_TEST

START_TEST(test_allow_list_refuses_others)
{
	char allow[128];
	FILE *f;
	struct pbt_daemon *d;
	struct tcl *t;
	uint32_t id;
	char *stats;

	snprintf(allow, sizeof allow, "%s", pki_file("allow"));
	f = fopen(allow, "w");
	pbt_assert(f != NULL, "cannot write %s", allow);
	fputs("# who may connect\ncn:alice\n\nuri:spiffe://x/y\n", f);
	fclose(f);
	d = tls_start("--tls-allow", allow, NULL, NULL);
	tcl_refused(tls_port(d), "bob", 0);
	pbt_log_expect(d, "TLS identity cn:bob not allowed", PBT_LOG_MS);
	t = tcl_client(tls_port(d), "alice", &id);
	tcl_close(t);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "refused_tls_identity"), 1);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 1);
	free(stats);
	pbt_free(d);
}
END_TEST

/* An expired client certificate (made by openssl ca with dates in 2020):
 * no id, counted and logged; alice is served. */
START_TEST(test_expired_certificate_refused)
{
	struct pbt_daemon *d = tls_start(NULL, NULL, NULL, NULL);
	int port = tls_port(d);
	struct tcl *t;
	uint32_t id;
	char *stats;

	tcl_refused(port, "expired", 0);
	pbt_log_expect(d, "certificate: certificate has expired", PBT_LOG_MS);
	t = tcl_client(port, "alice", &id);
	tcl_close(t);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "refused_tls"), 1);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 1);
	free(stats);
	pbt_free(d);
}
END_TEST

/* --tls-crl with a CRL that revokes bob: bob refused, alice served. */
START_TEST(test_crl_refuses_revoked)
{
	struct pbt_daemon *d =
		tls_start("--tls-crl", pki_file("bob.crl"), NULL, NULL);
	int port = tls_port(d);
	struct tcl *t;
	uint32_t id;
	char *stats;

	tcl_refused(port, "bob", 0);
	pbt_log_expect(d, "certificate: certificate revoked", PBT_LOG_MS);
	t = tcl_client(port, "alice", &id);
	tcl_close(t);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "refused_tls"), 1);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 1);
	free(stats);
	pbt_free(d);
}
END_TEST

/* A TLS client that stops reading: cut as a slow consumer, while its
 * sender carries on. */
START_TEST(test_tls_client_that_stops_reading_is_cut)
{
	enum { PAYLOAD = 32000 };
	struct pbt_daemon *d = tls_start("-t", "1", "-o", "64K");
	struct pbt_buf f = {0};
	unsigned char *payload = malloc(PAYLOAD);
	uint64_t seed = 7;
	uint32_t ids, idc, idh;
	bool ok;
	int s = pbt_connect(d, &ids), h = pbt_connect(d, &idh);
	struct tcl *c = tcl_open(tls_port(d), "alice", 4096, 0, &ok);
	char line[128];

	pbt_assert(ok && tcl_read_id(c, &idc), "the TLS client got no id");
	ck_assert_ptr_nonnull(payload);
	while (f.b_len < 8 * 1024 * 1024) {
		pbt_fill_nonzero(payload, PAYLOAD, &seed);
		pbt_buf_frame(&f, idc, payload, PAYLOAD);
	}
	pbt_send_tolerant(s, f.b_data, f.b_len, 20000);
	snprintf(line, sizeof line, "client %u disconnected as slow consumer",
		 idc);
	pbt_log_expect(d, line, PBT_LOG_MS);
	pbt_send_frame(s, idh, "the sender carries on", PBT_IO_MS);
	pbt_expect_msg(h, "the sender carries on", PBT_IO_MS);
	tcl_close(c);
	close(s);
	close(h);
	free(payload);
	pbt_buf_free(&f);
	pbt_free(d);
}
END_TEST

/* KeyUpdate (asking the server to update its keys too) again and again
 * while messages flow both ways: none lost, none out of order. */
START_TEST(test_key_update_under_traffic)
{
	enum { ROUNDS = 40, BATCH = 50 };
	struct pbt_daemon *d = tls_start(NULL, NULL, NULL, NULL);
	uint32_t idp, idt;
	int p = pbt_connect(d, &idp);
	struct tcl *t = tcl_client(tls_port(d), "alice", &idt);
	struct pbt_buf b = {0};
	char msg[64];
	char *stats;

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < BATCH; i++) {
			snprintf(msg, sizeof msg, "round %d message %d", r, i);
			pbt_buf_frame(&b, idt, msg, strlen(msg));
		}
		pbt_send_all(p, b.b_data, b.b_len, PBT_IO_MS);
		b.b_len = 0;
		pbt_assert(SSL_key_update(t->ssl, SSL_KEY_UPDATE_REQUESTED) ==
				   1,
			   "SSL_key_update");
		snprintf(msg, sizeof msg, "back %d", r);
		tcl_send_frame(t, idp, msg); /* sends the KeyUpdate first */
		for (int i = 0; i < BATCH; i++) {
			snprintf(msg, sizeof msg, "round %d message %d", r, i);
			tcl_expect_msg(t, msg);
		}
		snprintf(msg, sizeof msg, "back %d", r);
		pbt_expect_msg(p, msg, PBT_IO_MS);
	}
	pbt_buf_free(&b);
	tcl_close(t);
	close(p);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "forwarded"), ROUNDS * (BATCH + 1));
	free(stats);
	pbt_free(d);
}
END_TEST

/* Copies the PKI's file 'from' to path 'to'. */
static void tls_copy(const char *from, const char *to)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", pki_file(from), to);
	pbt_assert(system(cmd) == 0, "%s failed", cmd);
}

/* The common name of the server's certificate that c saw. */
static bool tcl_server_is(struct tcl *c, const char *cn)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	char name[256] = "";

	if (x != NULL)
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					  NID_commonName, name, sizeof name);
	X509_free(x);
	return strcmp(name, cn) == 0;
}

/* SIGHUP reads the TLS files again: new connections get the new
 * certificate, old ones keep exchanging; a key that does not match keeps
 * the files in force, logged and counted. */
START_TEST(test_reload_swaps_the_certificate)
{
	char crt[128], key[128];
	struct pbt_daemon *d;
	struct tcl *old, *new, *after;
	uint32_t ido, idn, ida;
	char *stats;

	snprintf(crt, sizeof crt, "%s", pki_file("live.crt"));
	snprintf(key, sizeof key, "%s", pki_file("live.key"));
	tls_copy("srv.crt", crt);
	tls_copy("srv.key", key);
	d = pbt_start("-l", "tls:127.0.0.1:0", "--tls-cert", crt, "--tls-key",
		      key, "--tls-ca", pki_file("ca.crt"), (char *)NULL);
	old = tcl_client(tls_port(d), "alice", &ido);
	pbt_assert(tcl_server_is(old, "localhost"), "not the first cert");

	tls_copy("srv2.crt", crt);
	tls_copy("srv2.key", key);
	kill(pbt_pid(d), SIGHUP);
	pbt_log_expect(d, "reloaded", PBT_LOG_MS);
	new = tcl_client(tls_port(d), "bob", &idn);
	pbt_assert(tcl_server_is(new, "srv2"), "the new cert is not served");
	tcl_send_frame(old, idn, "from before the reload");
	tcl_expect_msg(new, "from before the reload");
	tcl_send_frame(new, ido, "to before the reload");
	tcl_expect_msg(old, "to before the reload");

	tls_copy("bob.key", key); /* matches no certificate here */
	kill(pbt_pid(d), SIGHUP);
	pbt_log_expect(d, "configuration and TLS files kept", PBT_LOG_MS);
	after = tcl_client(tls_port(d), "alice", &ida);
	pbt_assert(tcl_server_is(after, "srv2"), "the kept cert is not served");
	tcl_send_frame(after, idn, "still served");
	tcl_expect_msg(new, "still served");
	tcl_close(old);
	tcl_close(new);
	tcl_close(after);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "tls_reload_failed"), 1);
	free(stats);
	pbt_free(d);
}
END_TEST

/* Writes text into the PKI's file name; its path. */
static const char *tls_write_file(const char *name, const char *text)
{
	const char *path = pki_file(name);
	FILE *f = fopen(path, "w");

	pbt_assert(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Whether the server ended c's connection (close_notify, or closed)
 * before any message came; false too when nothing came within
 * PBT_IO_MS (the socket's timeout). */
static bool tcl_ended(struct tcl *c)
{
	for (;;) {
		int n, e;

		pbt_assert(c->rx_len < sizeof c->rx, "test client: rx full");
		errno = 0;
		n = SSL_read(c->ssl, c->rx + c->rx_len,
			     (int)(sizeof c->rx - c->rx_len));
		if (n > 0) {
			c->rx_len += (size_t)n;
			if (memchr(c->rx, '\0', c->rx_len) != NULL)
				return false;
			continue;
		}
		e = SSL_get_error(c->ssl, n);
		ERR_clear_error();
		return e == SSL_ERROR_ZERO_RETURN ||
		       (e == SSL_ERROR_SYSCALL && errno != EAGAIN &&
			errno != EWOULDBLOCK);
	}
}

/* A reload that shrinks --tls-allow: the client it no longer names is
 * closed by its own thread (close_notify), counted and logged; the others
 * carry on, with plain clients too. */
START_TEST(test_reload_closes_clients_no_longer_allowed)
{
	char allow[128], line[160];
	struct pbt_daemon *d;
	struct tcl *alice, *bob;
	uint32_t ida, idb, idp;
	int p;
	char *stats;

	snprintf(allow, sizeof allow, "%s",
		 tls_write_file("allow-both", "cn:alice\ncn:bob\n"));
	d = tls_start("--tls-allow", allow, NULL, NULL);
	p = pbt_connect(d, &idp);
	alice = tcl_client(tls_port(d), "alice", &ida);
	bob = tcl_client(tls_port(d), "bob", &idb);
	tcl_send_frame(bob, ida, "bob before");
	tcl_expect_msg(alice, "bob before");

	tls_write_file("allow-both", "cn:alice\n");
	kill(pbt_pid(d), SIGHUP);
	pbt_log_expect(d, "reloaded", PBT_LOG_MS);
	pbt_assert(tcl_ended(bob), "bob was not closed by the reload");
	pbt_assert(SSL_get_shutdown(bob->ssl) & SSL_RECEIVED_SHUTDOWN,
		   "bob got no close_notify");
	snprintf(line, sizeof line, "client %u (", idb);
	pbt_log_expect(d, line, PBT_LOG_MS);
	pbt_log_expect(d,
		       "cn:bob) no longer allowed after the reload: cn:bob "
		       "not on --tls-allow",
		       PBT_LOG_MS);
	snprintf(line, sizeof line, "client %u disconnected", idb);
	pbt_log_expect(d, line, PBT_LOG_MS);

	tcl_send_frame(alice, idp, "alice after");
	pbt_expect_msg(p, "alice after", PBT_IO_MS);
	pbt_send_frame(p, ida, "to alice after", PBT_IO_MS);
	tcl_expect_msg(alice, "to alice after");
	tcl_refused(tls_port(d), "bob", 0);
	tcl_close(alice);
	tcl_close(bob);
	close(p);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "disconnect_tls_not_allowed"), 1);
	ck_assert_uint_eq(pbt_stat(stats, "refused_tls_identity"), 1);
	ck_assert_uint_eq(pbt_stat(stats, "accepted"), 3);
	free(stats);
	pbt_free(d);
}
END_TEST

/* A reload that brings a CRL revoking bob: connected bob is closed,
 * counted and logged; alice carries on. */
START_TEST(test_reload_with_new_crl_closes_revoked)
{
	char crl[128], line[160];
	struct pbt_daemon *d;
	struct tcl *alice, *bob;
	uint32_t ida, idb;
	char *stats;

	snprintf(crl, sizeof crl, "%s", pki_file("live.crl"));
	tls_copy("none.crl", crl);
	d = tls_start("--tls-crl", crl, NULL, NULL);
	alice = tcl_client(tls_port(d), "alice", &ida);
	bob = tcl_client(tls_port(d), "bob", &idb);
	tcl_send_frame(bob, ida, "bob before");
	tcl_expect_msg(alice, "bob before");
	tls_copy("bob.crl", crl);
	kill(pbt_pid(d), SIGHUP);
	pbt_assert(tcl_ended(bob), "revoked bob was not closed by the reload");
	pbt_log_expect(
		d,
		"cn:bob) no longer allowed after the reload: certificate: "
		"certificate revoked",
		PBT_LOG_MS);
	snprintf(line, sizeof line, "client %u disconnected", idb);
	pbt_log_expect(d, line, PBT_LOG_MS);
	tcl_send_frame(alice, ida, "alice to herself");
	tcl_expect_msg(alice, "alice to herself");
	tcl_close(alice);
	tcl_close(bob);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "disconnect_tls_not_allowed"), 1);
	free(stats);
	pbt_free(d);
}
END_TEST

/* patchbay-cat over TLS, with alice's certificate, sends to a plain
 * client; without a certificate it gets no id (exit 1). */
START_TEST(test_cat_speaks_tls)
{
	struct pbt_daemon *d = tls_start(NULL, NULL, NULL, NULL);
	const char *cat = getenv("PATCHBAY_CAT");
	uint32_t idp;
	int p = pbt_connect(d, &idp), port = tls_port(d), st;
	char cmd[1024];

	pbt_assert(cat != NULL, "PATCHBAY_CAT is not set");
	snprintf(cmd, sizeof cmd,
		 "echo '%u via patchbay-cat' | '%s' --linger 0 --tls-ca '%s' "
		 "--tls-cert '%s' --tls-key '%s' tls:127.0.0.1:%d >/dev/null",
		 idp, cat, pki_file("ca.crt"), pki_file("alice.crt"),
		 pki_file("alice.key"), port);
	st = system(cmd);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %d", cmd,
		   st);
	pbt_expect_msg(p, "via patchbay-cat", PBT_IO_MS);
	snprintf(cmd, sizeof cmd,
		 "'%s' --linger 0 --tls-ca '%s' tls:127.0.0.1:%d "
		 "</dev/null >/dev/null 2>&1",
		 cat, pki_file("ca.crt"), port);
	st = system(cmd);
	pbt_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: status %d", cmd,
		   st);
	close(p);
	pbt_free(d);
}
END_TEST

/* Many plain senders to one TLS destination that is itself sending to
 * them (and updating its keys): every frame arrives, in order per sender.
 * The senders' threads write into the TLS client while its own thread
 * reads it: run under ThreadSanitizer, this is the locking's test. */
START_TEST(test_many_senders_to_a_sending_tls_client)
{
	enum { SENDERS = 8, FRAMES = 400, BACK = 50 };
	struct pbt_daemon *d = tls_start(NULL, NULL, NULL, NULL);
	uint32_t ids[SENDERS], idt;
	int fds[SENDERS], next[SENDERS] = {0};
	struct tcl *t = tcl_client(tls_port(d), "alice", &idt);
	struct pbt_buf b = {0};
	char msg[64];
	char *stats;

	for (int s = 0; s < SENDERS; s++)
		fds[s] = pbt_connect(d, &ids[s]);
	for (int i = 0; i < BACK; i++)
		for (int s = 0; s < SENDERS; s++) {
			snprintf(msg, sizeof msg, "back %d", i);
			pbt_buf_frame(&b, ids[s], msg, strlen(msg));
		}
	tcl_write(t, b.b_data, b.b_len);
	pbt_buf_free(&b);
	for (int s = 0; s < SENDERS; s++) {
		for (int i = 0; i < FRAMES; i++) {
			snprintf(msg, sizeof msg, "s%d n%d", s, i);
			pbt_buf_frame(&b, idt, msg, strlen(msg));
		}
		pbt_send_all(fds[s], b.b_data, b.b_len, PBT_IO_MS);
		b.b_len = 0;
	}
	pbt_buf_free(&b);
	for (int got = 0; got < SENDERS * FRAMES; got++) {
		char *nul;
		int s, n;

		while ((nul = memchr(t->rx, '\0', t->rx_len)) == NULL)
			pbt_assert(tcl_fill(t), "TLS client: %d of %d frames",
				   got, SENDERS * FRAMES);
		pbt_assert(sscanf(t->rx, "s%d n%d", &s, &n) == 2 && s >= 0 &&
				   s < SENDERS && n == next[s],
			   "frame \"%s\" out of order", t->rx);
		next[s]++;
		tcl_take(t, NULL, (size_t)(nul - t->rx) + 1);
		if (got == SENDERS * FRAMES / 2)
			SSL_key_update(t->ssl, SSL_KEY_UPDATE_REQUESTED);
	}
	for (int s = 0; s < SENDERS; s++)
		for (int i = 0; i < BACK; i++) {
			snprintf(msg, sizeof msg, "back %d", i);
			pbt_expect_msg(fds[s], msg, PBT_IO_MS);
		}
	tcl_close(t);
	for (int s = 0; s < SENDERS; s++)
		close(fds[s]);
	stats = pbt_stop_reconciled(d);
	ck_assert_uint_eq(pbt_stat(stats, "forwarded"),
			  SENDERS * (FRAMES + BACK));
	free(stats);
	pbt_free(d);
}
END_TEST

/* Runs patchbayd with args; its exit status, and its log in *log. */
static int tls_run(const char *const *args, char **log)
{
	struct pbt_daemon *d = pbt_start_argv(args);
	int st = pbt_wait_exit(d, PBT_EXIT_MS);

	*log = pbt_log_copy(d);
	pbt_free(d);
	pbt_assert(st != -1 && WIFEXITED(st), "patchbayd did not exit");
	return WEXITSTATUS(st);
}

START_TEST(test_configuration_errors_exit_2)
{
	const char *crt = pki_file("srv.crt"), *key = pki_file("srv.key");
	const char *ca = pki_file("ca.crt"), *bob = pki_file("bob.key");
	const char *no_ca[] = {"-l", "tls:127.0.0.1:0", "--tls-cert",
			       crt,  "--tls-key",	key,
			       NULL};
	const char *no_cert[] = {"-l", "tls:127.0.0.1:0", "--tls-ca", ca, NULL};
	const char *mismatch[] = {
		"-l", "tls:127.0.0.1:0", "--tls-cert", crt, "--tls-key",
		bob,  "--tls-ca",	 ca,	       NULL};
	const char *missing[] = {"-l",	       "tls:127.0.0.1:0",
				 "--tls-cert", "/nonexistent.crt",
				 "--tls-key",  key,
				 "--tls-ca",   ca,
				 NULL};
	const char *bad_auth[] = {"--tls-client-auth", "maybe", NULL};
	const char *check[] = {
		"-l", "tls:127.0.0.1:0", "--tls-cert", crt,  "--tls-key",
		key,  "--tls-ca",	 ca,	       "-n", NULL};
	const char *check_bad[] = {
		"-l", "tls:127.0.0.1:0", "--tls-cert", crt,  "--tls-key",
		bob,  "--tls-ca",	 ca,	       "-n", NULL};
	char conf[128], *log;
	const char *from_file[] = {"-C", conf, NULL};
	FILE *f;

	ck_assert_int_eq(tls_run(no_ca, &log), 2);
	pbt_assert(strstr(log, "--tls-ca") != NULL, "log: %s", log);
	free(log);
	ck_assert_int_eq(tls_run(no_cert, &log), 2);
	pbt_assert(strstr(log, "--tls-cert") != NULL, "log: %s", log);
	free(log);
	ck_assert_int_eq(tls_run(mismatch, &log), 2);
	pbt_assert(strstr(log, "does not match") != NULL, "log: %s", log);
	free(log);
	ck_assert_int_eq(tls_run(missing, &log), 2);
	pbt_assert(strstr(log, "--tls-cert /nonexistent.crt") != NULL,
		   "log: %s", log);
	free(log);
	ck_assert_int_eq(tls_run(bad_auth, &log), 2);
	pbt_assert(strstr(log, "--tls-client-auth") != NULL, "log: %s", log);
	free(log);
	/* --check-config loads the files, and warns of the expiry (the
	 * test's certificates live 2 days). */
	ck_assert_int_eq(tls_run(check, &log), 0);
	pbt_assert(strstr(log, "expires in") != NULL, "log: %s", log);
	free(log);
	ck_assert_int_eq(tls_run(check_bad, &log), 2);
	pbt_assert(strstr(log, "does not match") != NULL, "log: %s", log);
	free(log);
	snprintf(conf, sizeof conf, "%s", pki_file("bad.conf"));
	f = fopen(conf, "w");
	pbt_assert(f != NULL, "cannot write %s", conf);
	fputs("verbose = 1\ntls-min-version = 1.1\n", f);
	fclose(f);
	ck_assert_int_eq(tls_run(from_file, &log), 2);
	pbt_assert(strstr(log, ":2: tls-min-version") != NULL, "log: %s", log);
	free(log);
}
END_TEST

/* A connection of tls.c's own, accepted here from a test client that
 * connects in a thread of its own (its handshake blocks). */
struct tls_own {
	struct pb_tls_ctx *ctx;
	struct pb_tls *t;
	int fd;
	int port;
	struct tcl *c;
	bool ok;
};

static void *tls_own_client(void *arg)
{
	struct tls_own *o = arg;

	o->c = tcl_open(o->port, "alice", 4096, 0, &o->ok);
	return NULL;
}

static void tls_own_open(struct tls_own *o, struct pb_budget *budget)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof sin;
	struct pb_options op;
	enum pb_tls_step step;
	char err[256] = "";
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), sndbuf = 4096;
	pthread_t th;

	pb_options_defaults(&op);
	snprintf(op.op_tls_cert, sizeof op.op_tls_cert, "%s",
		 pki_file("srv.crt"));
	snprintf(op.op_tls_key, sizeof op.op_tls_key, "%s",
		 pki_file("srv.key"));
	snprintf(op.op_tls_ca, sizeof op.op_tls_ca, "%s", pki_file("ca.crt"));
	o->ctx = pb_tls_ctx_new(&op, err, sizeof err);
	pbt_assert(o->ctx != NULL, "context: %s", err);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pbt_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sin, len) == 0 &&
			   listen(lfd, 1) == 0 &&
			   getsockname(lfd, (struct sockaddr *)&sin, &len) == 0,
		   "listen: %s", strerror(errno));
	o->port = ntohs(sin.sin_port);
	pbt_assert(pthread_create(&th, NULL, tls_own_client, o) == 0,
		   "pthread_create");
	o->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	pbt_assert(o->fd >= 0, "accept: %s", strerror(errno));
	close(lfd);
	setsockopt(o->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	o->t = pb_tls_new(o->ctx, o->fd, budget);
	pbt_assert(o->t != NULL, "pb_tls_new");
	while ((step = pb_tls_handshake(o->t, err, sizeof err)) ==
		       PB_TLS_WANT_READ ||
	       step == PB_TLS_WANT_WRITE) {
		struct pollfd pfd = {
			.fd = o->fd,
			.events = step == PB_TLS_WANT_READ ? POLLIN : POLLOUT};

		pbt_assert(poll(&pfd, 1, PBT_IO_MS) == 1, "handshake stalled");
	}
	pbt_assert(step == PB_TLS_DONE, "handshake: %s", err);
	pthread_join(th, NULL);
	pbt_assert(o->ok, "the test client's handshake failed");
}

/* Writes 16 KiB blocks into o's connection until it takes no more (the
 * test client reads nothing): the socket is full and ciphertext waits in
 * the tail. */
static void tls_own_fill(struct tls_own *o)
{
	static char plain[16384];
	struct iovec iov = {.iov_base = plain, .iov_len = sizeof plain};
	int i;

	memset(plain, 'x', sizeof plain);
	for (i = 0; i < 10000 && pb_tls_write(o->t, &iov, 1) > 0; i++)
		;
	pbt_assert(i < 10000 && errno == EAGAIN,
		   "the connection took everything: %s", strerror(errno));
	pbt_assert(pb_tls_wants_write(o->t), "no ciphertext waits");
}

/* The ciphertext waiting for a TLS client's socket (the tail) is charged
 * to the budget given, and given back once sent, or when the connection
 * goes with some still waiting. */
START_TEST(test_ciphertext_waiting_is_charged_to_the_budget)
{
	struct pb_budget budget;
	struct tls_own o = {0};
	int i;

	pb_budget_init(&budget, (size_t)1 << 30);
	tls_own_open(&o, &budget);
	tls_own_fill(&o);
	pbt_assert(pb_budget_used(&budget) >= 16384,
		   "%zu bytes charged for a full record waiting",
		   pb_budget_used(&budget));
	/* The client reads (without blocking: the rest of a record may
	 * still be in the tail, which this thread sends): the tail goes out,
	 * and its memory is given back. */
	pbt_assert(fcntl(o.c->fd, F_SETFL, O_NONBLOCK) == 0, "fcntl");
	for (i = 0; i < 100000 && pb_tls_wants_write(o.t); i++) {
		struct pollfd pfd[2] = {{.fd = o.c->fd, .events = POLLIN},
					{.fd = o.fd, .events = POLLOUT}};
		char buf[65536];

		pbt_assert(pb_tls_flush(o.t) == 0, "flush: %s",
			   strerror(errno));
		pbt_assert(poll(pfd, 2, PBT_IO_MS) > 0,
			   "neither can the client read nor the server write");
		while (SSL_read(o.c->ssl, buf, sizeof buf) > 0)
			;
		ERR_clear_error();
	}
	pbt_assert(!pb_tls_wants_write(o.t), "the tail never went out");
	ck_assert_uint_eq(pb_budget_used(&budget), 0);
	/* Full again, and the connection freed with ciphertext waiting. */
	tls_own_fill(&o);
	pbt_assert(pb_budget_used(&budget) > 0, "nothing charged");
	pb_tls_free(o.t);
	ck_assert_uint_eq(pb_budget_used(&budget), 0);
	tcl_close(o.c);
	close(o.fd);
	pb_tls_ctx_unref(o.ctx);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");

	pbt_add_test(s, test_tls_and_plain_clients_exchange, 30);
	pbt_add_test(s, test_identity_is_in_the_connect_line, 30);
	pbt_add_test(s, test_failed_handshakes_spend_no_id_and_are_counted, 30);
	pbt_add_test(s, test_handshake_that_never_finishes_times_out, 30);
	pbt_add_test(s, test_allow_list_refuses_others, 30);
	pbt_add_test(s, test_tls_client_that_stops_reading_is_cut, 60);
	pbt_add_test(s, test_key_update_under_traffic, 60);
	pbt_add_test(s, test_many_senders_to_a_sending_tls_client, 60);
	pbt_add_test(s, test_configuration_errors_exit_2, 60);
	pbt_add_test(s, test_reload_swaps_the_certificate, 30);
	pbt_add_test(s, test_cat_speaks_tls, 30);
	pbt_add_test(s, test_reload_closes_clients_no_longer_allowed, 30);
	pbt_add_test(s, test_reload_with_new_crl_closes_revoked, 30);
	pbt_add_test(s, test_expired_certificate_refused, 30);
	pbt_add_test(s, test_crl_refuses_revoked, 30);
	pbt_add_test(s, test_ciphertext_waiting_is_charged_to_the_budget, 30);
	return s;
}

int main(void)
{
	int rc;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		puts("SKIP: no openssl command");
		return 77;
	}
	if (!pki_make()) {
		pki_remove();
		fprintf(stderr, "cannot make the test certificates\n");
		return 1;
	}
	rc = pbt_run(tls_suite());
	pki_remove();
	return rc;
}
