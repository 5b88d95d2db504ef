/* SPDX-License-Identifier: ISC */
/*
 * nats.c: the node's connection to NATS (see nats.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

#include "nats.h"

#define PB_NATS_URLS_MAX     16
#define PB_NATS_PING_MS	     2000
#define PB_NATS_RECONNECT_MS 250
#define PB_NATS_CONNECT_MS   2000 /* libnats's default connection timeout */
/* A publish that cannot be written within its deadline gives the server
 * up (libnats shuts the socket down and reconnects, to the next server):
 * a server that hangs, or stops reading us, must not hang the node with
 * it. A blocked write holds the connection's lock, which the pings need
 * too, so without a deadline nothing else would notice. The deadline
 * covers a whole message: two ping intervals, or the time the largest
 * message takes at PB_NATS_WRITE_RATE, whichever is longer, so that a
 * slow path to NATS with a large --max-frame is slow, not cut. */
#define PB_NATS_WRITE_MS   (2 * PB_NATS_PING_MS)
#define PB_NATS_WRITE_RATE (64 * 1024) /* bytes per second */
#define PB_NATS_BATCH	   (64 * 1024) /* the links' batches, at least */

struct pb_nats_sub {
	natsSubscription *su_sub;
	pb_nats_msg_fn su_fn;
	void *su_arg;
};

struct pb_nats {
	natsConnection *nt_conn;
	natsOptions *nt_opts;
	pb_nats_state_fn nt_state;
	void *nt_arg;
	struct pb_nats_sub nt_subs[4];
	int nt_nsubs;
	int64_t nt_close_ms; /* the wait for libnats's threads to end */
};

/* Splits "a,b,c" into urls (pointers into buf). */
static int nats_split(char *buf, const char **urls)
{
	int n = 0;
	char *save = NULL, *u;

	for (u = strtok_r(buf, ",", &save); u != NULL && n < PB_NATS_URLS_MAX;
	     u = strtok_r(NULL, ",", &save))
		urls[n++] = u;
	return u == NULL ? n : -1;
}

static int nats_readable(const char *file, const char *opt, char *err,
			 size_t errlen)
{
	if (file[0] == '\0' || access(file, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "--%s %s: cannot be read", opt, file);
	return -1;
}

int pb_nats_check(const struct pb_options *op, char *err, size_t errlen)
{
	char buf[PB_OPTIONS_PATHLEN];
	const char *urls[PB_NATS_URLS_MAX];

	snprintf(buf, sizeof(buf), "%s", op->op_nats);
	if (nats_split(buf, urls) < 0) {
		snprintf(err, errlen, "--nats: at most %d URLs",
			 PB_NATS_URLS_MAX);
		return -1;
	}
	if ((op->op_nats_cert[0] == '\0') != (op->op_nats_key[0] == '\0')) {
		snprintf(err, errlen, "--nats-cert and --nats-key go together");
		return -1;
	}
	return nats_readable(op->op_nats_creds, "nats-creds", err, errlen) |
	       nats_readable(op->op_nats_ca, "nats-ca", err, errlen) |
	       nats_readable(op->op_nats_cert, "nats-cert", err, errlen) |
	       nats_readable(op->op_nats_key, "nats-key", err, errlen);
}

static void nats_say(struct pb_nats *n, natsConnection *nc, bool up)
{
	char url[256] = "";

	if (up &&
	    natsConnection_GetConnectedUrl(nc, url, sizeof(url)) != NATS_OK)
		url[0] = '\0';
	n->nt_state(n->nt_arg, up, url);
}

static void nats_connected(natsConnection *nc, void *closure)
{
	nats_say(closure, nc, true);
}

static void nats_disconnected(natsConnection *nc, void *closure)
{
	nats_say(closure, nc, false);
}

static void nats_message(natsConnection *nc, natsSubscription *sub,
			 natsMsg *msg, void *closure)
{
	struct pb_nats_sub *su = closure;

	(void)nc;
	(void)sub;
	su->su_fn(su->su_arg, (const unsigned char *)natsMsg_GetData(msg),
		  (size_t)natsMsg_GetDataLength(msg));
	natsMsg_Destroy(msg);
}

/* Says why a libnats call failed: its own words and the stack's last. */
static int nats_fail(natsStatus s, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, natsStatus_GetText(s));
	return -1;
}

/* The write deadline, in ms (see PB_NATS_WRITE_MS). */
static int64_t nats_write_ms(const struct pb_options *op)
{
	size_t largest = op->op_max_frame > PB_NATS_BATCH ? op->op_max_frame
							  : PB_NATS_BATCH;
	int64_t ms = (int64_t)(largest / PB_NATS_WRITE_RATE) * 1000;

	return ms > PB_NATS_WRITE_MS ? ms : PB_NATS_WRITE_MS;
}

static natsStatus nats_options(struct pb_nats *n, const struct pb_options *op,
			       const char *name, char *urlbuf,
			       const char **what)
{
	const char *urls[PB_NATS_URLS_MAX];
	natsOptions *o = n->nt_opts;
	int nurls = nats_split(urlbuf, urls);
	natsStatus s;

	*what = "--nats";
	s = natsOptions_SetServers(o, urls, nurls);
	if (s == NATS_OK)
		s = natsOptions_SetNoRandomize(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, name);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, PB_NATS_RECONNECT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(o, PB_NATS_PING_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(o, 2);
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetWriteDeadline(o, nats_write_ms(op));
	if (s == NATS_OK)
		s = natsOptions_SetNoEcho(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(o, true, nats_connected,
							n);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, nats_disconnected, n);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, nats_connected, n);
	if (s != NATS_OK)
		return s;
	if (op->op_nats_creds[0] != '\0') {
		*what = "--nats-creds";
		s = natsOptions_SetUserCredentialsFromFiles(
			o, op->op_nats_creds, NULL);
	}
	if (s == NATS_OK && op->op_nats_ca[0] != '\0') {
		*what = "--nats-ca";
		s = natsOptions_LoadCATrustedCertificates(o, op->op_nats_ca);
		if (s == NATS_OK)
			s = natsOptions_SetSecure(o, true);
	}
	if (s == NATS_OK && op->op_nats_cert[0] != '\0') {
		*what = "--nats-cert";
		s = natsOptions_LoadCertificatesChain(o, op->op_nats_cert,
						      op->op_nats_key);
	}
	return s;
}

int pb_nats_open(struct pb_nats **out, const struct pb_options *op,
		 const char *name, pb_nats_state_fn state, void *arg, char *err,
		 size_t errlen)
{
	struct pb_nats *n = calloc(1, sizeof(*n));
	char urlbuf[PB_OPTIONS_PATHLEN];
	const char *what = "libnats";
	natsStatus s;

	if (n == NULL) {
		snprintf(err, errlen, "no memory for the NATS connection");
		return -1;
	}
	n->nt_state = state;
	/* A thread of libnats may be in a write (the write deadline) or in
	 * a connection attempt (libnats's 2 s) when the node closes. */
	n->nt_close_ms = nats_write_ms(op) + PB_NATS_CONNECT_MS + 1000;
	n->nt_arg = arg;
	snprintf(urlbuf, sizeof(urlbuf), "%s", op->op_nats);
	s = nats_Open(-1);
	if (s == NATS_OK)
		s = natsOptions_Create(&n->nt_opts);
	if (s == NATS_OK)
		s = nats_options(n, op, name, urlbuf, &what);
	if (s == NATS_OK) {
		what = "--nats";
		*out = n; /* before any callback can run */
		s = natsConnection_Connect(&n->nt_conn, n->nt_opts);
		if (s == NATS_OK)
			nats_say(n, n->nt_conn, true);
		else if (s == NATS_NOT_YET_CONNECTED) {
			s = NATS_OK; /* it goes on trying */
			state(arg, false, "");
		}
	}
	if (s != NATS_OK) {
		*out = NULL;
		(void)pb_nats_close(n);
		return nats_fail(s, what, err, errlen);
	}
	return 0;
}

int pb_nats_subscribe(struct pb_nats *n, const char *subject, pb_nats_msg_fn fn,
		      void *arg, char *err, size_t errlen)
{
	struct pb_nats_sub *su = &n->nt_subs[n->nt_nsubs];
	natsStatus s;

	if (n->nt_nsubs == (int)(sizeof(n->nt_subs) / sizeof(n->nt_subs[0])))
		return nats_fail(NATS_ERR, "too many subscriptions", err,
				 errlen);
	su->su_fn = fn;
	su->su_arg = arg;
	s = natsConnection_Subscribe(&su->su_sub, n->nt_conn, subject,
				     nats_message, su);
	/* The links bound what they queue themselves; libnats dropping
	 * messages as a slow consumer would only make them retransmit. */
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(su->su_sub, -1, -1);
	if (s != NATS_OK)
		return nats_fail(s, subject, err, errlen);
	n->nt_nsubs++;
	return 0;
}

int pb_nats_publish(struct pb_nats *n, const char *subject, const void *data,
		    size_t len)
{
	return natsConnection_Publish(n->nt_conn, subject, data, (int)len) ==
			       NATS_OK
		       ? 0
		       : -1;
}

size_t pb_nats_max_payload(struct pb_nats *n)
{
	int64_t m = natsConnection_GetMaxPayload(n->nt_conn);

	return m > 0 ? (size_t)m : 0;
}

void pb_nats_stats(struct pb_nats *n, struct pb_nats_stats *out)
{
	natsStatistics *st = NULL;
	uint64_t reconnects = 0;

	out->ns_connected =
		natsConnection_Status(n->nt_conn) == NATS_CONN_STATUS_CONNECTED;
	if (natsStatistics_Create(&st) == NATS_OK &&
	    natsConnection_GetStats(n->nt_conn, st) == NATS_OK)
		natsStatistics_GetCounts(st, NULL, NULL, NULL, NULL,
					 &reconnects);
	natsStatistics_Destroy(st);
	out->ns_reconnects = reconnects;
}

int pb_nats_close(struct pb_nats *n)
{
	int i;

	if (n->nt_conn != NULL)
		natsConnection_Close(n->nt_conn);
	for (i = 0; i < n->nt_nsubs; i++)
		natsSubscription_Destroy(n->nt_subs[i].su_sub);
	natsConnection_Destroy(n->nt_conn);
	natsOptions_Destroy(n->nt_opts);
	/* Callbacks (the disconnection that closing causes) may still run
	 * until libnats's threads are gone: n goes after them. */
	if (nats_CloseAndWait(n->nt_close_ms) != NATS_OK)
		return -1; /* n stays: a late callback may still use it */
	free(n);
	return 0;
}
