/* SPDX-License-Identifier: ISC */
/*
 * options.c: the table of options, their values and the command line (see
 * options.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "listener.h"
#include "net.h"
#include "options.h"

#define PB_SPARE_MAX 10000
/* Bits of an id for the node's number: at most 16, so that a node has at
 * least 65,536 ids, more than the descriptors a process may hold here. */
#define PB_NODE_BITS_MAX 16
/* The least stack a client thread is given. Measured with a stack painter
 * on every path of the end-to-end tests and a workload at -vvv: 10.4 KB at
 * most (syslog with -d is the deepest: vsnprintf and syslog() under
 * log_vwrite), 13.2 KB under ASan; a wake-up signal arriving in ppoll adds
 * 3.3 KB on a machine with AVX-512, about 11.5 KB where AMX tile state is
 * on. 32 leaves 12 KiB even then. */
#define PB_STACK_MIN_KIB 32
/* The most: glibc's default; more fails thread after thread for want of
 * address space. */
#define PB_STACK_MAX_KIB 8192

/* The least stack the C library takes for a thread here. */
static size_t options_stack_min(void)
{
	long min = sysconf(_SC_THREAD_STACK_MIN);

	return min > 0 ? (size_t)min : 0;
}

/* What an option's value is, which decides how it is parsed and written. */
enum options_kind {
	OK_ADDR,    /* ADDR:PORT, into a char array */
	OK_LISTEN,  /* a listener, added to op_listen (listener.h) */
	OK_MODE,    /* a file mode, in octal */
	OK_NAME,    /* a name, into a char array of PB_OPTIONS_ADDRLEN */
	OK_PATH,    /* a file name, into a char array */
	OK_COUNT,   /* a number */
	OK_SIZE,    /* bytes, with K, M or G */
	OK_SECONDS, /* seconds, decimals allowed, stored in ms */
	OK_KIB,	    /* KiB, stored in bytes */
	OK_FLAG,    /* no value on the command line; yes or no in the file */
	OK_VERBOSE, /* -v adds one; in the file, how many */
	OK_QUIET,   /* -q; in the file, yes or no */
	OK_ACTION,  /* command line only: --help, --version */
	OK_AUTH,    /* require, optional or none (pb_options_tls_auth) */
	OK_TLSVER,  /* 1.2 or 1.3 (TLSv1.2, TLSv1.3), stored as 12, 13 */
};

#define OPT_METRICS	  256 /* no short form */
#define OPT_FRAME_TIMEOUT 257
#define OPT_SPARE_THREADS 258
#define OPT_NODE_BITS	  259
#define OPT_NODE	  260
#define OPT_STATE_DIR	  261
#define OPT_UNIX_MODE	  262
#define OPT_UNIX_GROUP	  263
#define OPT_PER_ADDRESS	  264
#define OPT_HANDSHAKES	  265
#define OPT_NATS	  266
#define OPT_NATS_CREDS	  267
#define OPT_NATS_CA	  268
#define OPT_NATS_CERT	  269
#define OPT_NATS_KEY	  270
#define OPT_CLUSTER	  271
#define OPT_LINK_TIMEOUT  272
#define OPT_TLS_CERT	  273
#define OPT_TLS_KEY	  274
#define OPT_TLS_CA	  275
#define OPT_TLS_CRL	  276
#define OPT_TLS_AUTH	  277
#define OPT_TLS_ALLOW	  278
#define OPT_TLS_MIN	  279
#define OPT_TLS_CIPHERS	  280
#define OPT_TLS_SUITES	  281
#define OPT_TLS_HS_TIME	  282

struct options_def {
	const char *od_name;
	int od_val; /* its short form, or OPT_METRICS and above */
	enum options_kind od_kind;
	size_t od_offset;    /* of its field in struct pb_options */
	bool od_in_file;     /* the configuration file may set it */
	bool od_fixed;	     /* a running daemon cannot change it */
	unsigned od_servers; /* the servers that take it: PB_SERVER_* */
	const char *od_arg;  /* its value in --help, NULL for none */
	const char *od_help; /* --help's lines, '\n' between them */
};

#define OFF(f) offsetof(struct pb_options, f)
#define BOTH   (PB_SERVER_DAEMON | PB_SERVER_REACTOR)
/* One thread in the foreground, no metrics: what the reactor has not. */
#define DAEMON_ONLY PB_SERVER_DAEMON

static const struct options_def options_defs[] = {
	/* name, short form, kind, field, in the file, fixed, servers,
	 * value in --help, help */
	{"config", 'C', OK_PATH, OFF(op_config), false, true, BOTH, "FILE",
	 "read options from FILE first (the\n"
	 "command line overrides it)"},
	{"check-config", 'n', OK_FLAG, OFF(op_check_config), false, true, BOTH,
	 NULL, "print the configuration and exit"},
	{"listen", 'l', OK_LISTEN, OFF(op_listen), true, true, BOTH,
	 "ADDR:PORT",
	 "listen address (default 127.0.0.1:8080;\n"
	 "IPv6 as [::1]:8080; port 0 picks one;\n"
	 "unix:PATH a Unix socket; tls:ADDR:PORT\n"
	 "TLS); repeatable"},
	{"unix-mode", OPT_UNIX_MODE, OK_MODE, OFF(op_unix_mode), true, true,
	 BOTH, "MODE", "mode of Unix sockets (default 0660)"},
	{"unix-group", OPT_UNIX_GROUP, OK_NAME, OFF(op_unix_group), true, true,
	 BOTH, "GROUP", "group of Unix sockets (default: ours)"},
	{"metrics", OPT_METRICS, OK_ADDR, OFF(op_metrics), true, true,
	 DAEMON_ONLY, "ADDR:PORT", "serve Prometheus metrics at /metrics"},
	{"max-clients", 'c', OK_COUNT, OFF(op_max_clients), true, false, BOTH,
	 "N", "most clients connected (default 10000)"},
	{"max-clients-per-address", OPT_PER_ADDRESS, OK_COUNT,
	 OFF(op_max_per_address), true, false, DAEMON_ONLY, "N",
	 "most clients from one address (an IPv6\n"
	 "/64); 0, the default: no limit"},
	{"max-handshakes", OPT_HANDSHAKES, OK_COUNT, OFF(op_max_handshakes),
	 true, false, DAEMON_ONLY, "N",
	 "most connections waiting for their id\n"
	 "(default 256)"},
	{"tls-cert", OPT_TLS_CERT, OK_PATH, OFF(op_tls_cert), true, false,
	 DAEMON_ONLY, "FILE",
	 "tls: listeners' certificate chain (PEM,\n"
	 "leaf first)"},
	{"tls-key", OPT_TLS_KEY, OK_PATH, OFF(op_tls_key), true, false,
	 DAEMON_ONLY, "FILE", "its private key (PEM)"},
	{"tls-ca", OPT_TLS_CA, OK_PATH, OFF(op_tls_ca), true, false,
	 DAEMON_ONLY, "FILE", "CAs that sign clients' certificates"},
	{"tls-crl", OPT_TLS_CRL, OK_PATH, OFF(op_tls_crl), true, false,
	 DAEMON_ONLY, "FILE", "revoked clients' certificates (PEM CRLs)"},
	{"tls-client-auth", OPT_TLS_AUTH, OK_AUTH, OFF(op_tls_client_auth),
	 true, false, DAEMON_ONLY, "MODE",
	 "require (default), optional or none:\n"
	 "whether clients show a certificate"},
	{"tls-allow", OPT_TLS_ALLOW, OK_PATH, OFF(op_tls_allow), true, false,
	 DAEMON_ONLY, "FILE",
	 "identities allowed, one a line (uri:,\n"
	 "dns:, email:, cn:); default: any"},
	{"tls-min-version", OPT_TLS_MIN, OK_TLSVER, OFF(op_tls_min_version),
	 true, false, DAEMON_ONLY, "VER", "1.2 (default) or 1.3"},
	{"tls-ciphers", OPT_TLS_CIPHERS, OK_NAME, OFF(op_tls_ciphers), true,
	 false, DAEMON_ONLY, "LIST", "TLS 1.2 ciphers (OpenSSL's list)"},
	{"tls-ciphersuites", OPT_TLS_SUITES, OK_NAME, OFF(op_tls_ciphersuites),
	 true, false, DAEMON_ONLY, "LIST", "TLS 1.3 cipher suites"},
	{"tls-handshake-timeout", OPT_TLS_HS_TIME, OK_SECONDS,
	 OFF(op_tls_handshake_ms), true, false, DAEMON_ONLY, "SECS",
	 "close a TLS handshake unfinished this\n"
	 "long (default 10)"},
	{"max-frame", 'f', OK_SIZE, OFF(op_max_frame), true, true, BOTH,
	 "BYTES",
	 "longest payload, its 0x00 included\n"
	 "(default 64K)"},
	{"outbox", 'o', OK_SIZE, OFF(op_outbox), true, false, BOTH, "BYTES",
	 "bytes queued per destination (default 1M)"},
	{"park", 'p', OK_SIZE, OFF(op_park), true, false, BOTH, "BYTES",
	 "bytes waiting per sender (default 1M)"},
	{"max-memory", 'm', OK_SIZE, OFF(op_max_memory), true, false, BOTH,
	 "BYTES", "global budget for client data (default 1G)"},
	{"slow-timeout", 't', OK_SECONDS, OFF(op_slow_ms), true, false, BOTH,
	 "SECS",
	 "disconnect a destination that makes no\n"
	 "write progress this long (default 10)"},
	{"frame-timeout", OPT_FRAME_TIMEOUT, OK_SECONDS, OFF(op_frame_ms), true,
	 false, BOTH, "SECS",
	 "disconnect a client whose frame stays\n"
	 "unfinished this long (default 30)"},
	{"stack-size", 's', OK_KIB, OFF(op_stack), true, true, DAEMON_ONLY,
	 "KIB", "stack of each client thread (default 64)"},
	{"spare-threads", OPT_SPARE_THREADS, OK_COUNT, OFF(op_spare_threads),
	 true, false, DAEMON_ONLY, "N",
	 "client threads kept for the next\n"
	 "clients (default 64)"},
	{"node-bits", OPT_NODE_BITS, OK_COUNT, OFF(op_node_bits), true, true,
	 DAEMON_ONLY, "K",
	 "the top K bits of every id are the\n"
	 "node's number (0 to 16, default 0)"},
	{"node", OPT_NODE, OK_COUNT, OFF(op_node), true, true, DAEMON_ONLY, "N",
	 "this node's number, below 2^K (default 0)"},
	{"state-dir", OPT_STATE_DIR, OK_PATH, OFF(op_state_dir), true, true,
	 DAEMON_ONLY, "DIR",
	 "keep the ids' high-water mark in DIR,\n"
	 "so ids are never given twice"},
	{"nats", OPT_NATS, OK_PATH, OFF(op_nats), true, true, DAEMON_ONLY,
	 "URL[,URL...]",
	 "join a cluster over these NATS servers\n"
	 "(nats:// or tls://; needs --state-dir)"},
	{"nats-creds", OPT_NATS_CREDS, OK_PATH, OFF(op_nats_creds), true, true,
	 DAEMON_ONLY, "FILE", "NATS user credentials (JWT and NKey seed)"},
	{"nats-ca", OPT_NATS_CA, OK_PATH, OFF(op_nats_ca), true, true,
	 DAEMON_ONLY, "FILE", "CA certificates for TLS to NATS"},
	{"nats-cert", OPT_NATS_CERT, OK_PATH, OFF(op_nats_cert), true, true,
	 DAEMON_ONLY, "FILE", "certificate for TLS to NATS"},
	{"nats-key", OPT_NATS_KEY, OK_PATH, OFF(op_nats_key), true, true,
	 DAEMON_ONLY, "FILE", "its private key"},
	{"cluster", OPT_CLUSTER, OK_NAME, OFF(op_cluster), true, true,
	 DAEMON_ONLY, "NAME",
	 "the cluster's name, in every NATS subject\n"
	 "(default patchbay)"},
	{"link-timeout", OPT_LINK_TIMEOUT, OK_SECONDS, OFF(op_link_ms), true,
	 true, DAEMON_ONLY, "SECS",
	 "give up on a node not heard this long,\n"
	 "dropping what waits for it (default 10)"},
	{"daemon", 'd', OK_FLAG, OFF(op_daemon), true, true, DAEMON_ONLY, NULL,
	 "detach and log to syslog"},
	{"pidfile", 'P', OK_PATH, OFF(op_pidfile), true, true, DAEMON_ONLY,
	 "FILE", "write the process id to FILE"},
	{"verbose", 'v', OK_VERBOSE, OFF(op_verbosity), true, false, BOTH, NULL,
	 "log more (repeat for more still)"},
	{"quiet", 'q', OK_QUIET, OFF(op_verbosity), true, false, BOTH, NULL,
	 "log warnings only"},
	{"help", 'h', OK_ACTION, 0, false, false, BOTH, NULL,
	 "show this help and exit"},
	{"version", 'V', OK_ACTION, 0, false, false, BOTH, NULL,
	 "show the version and exit"},
};

#define OPTIONS_N (sizeof(options_defs) / sizeof(options_defs[0]))

_Static_assert(OPTIONS_N <= sizeof(unsigned long) * CHAR_BIT,
	       "op_given has a bit per option");
_Static_assert(OPTIONS_N <= sizeof(((struct pb_options *)0)->op_line) /
				    sizeof(unsigned),
	       "op_line has a line per option");

/* Each server: its name, and the words it refuses an option with that
 * only the other takes (two servers: an option one lacks is the other's
 * alone). */
static const struct options_server {
	enum pb_server os_server;
	const char *os_prog;
	const char *os_refusal;
} options_servers[] = {
	{PB_SERVER_DAEMON, "patchbayd",
	 "not supported by patchbayd (patchbay-reactor only)"},
	{PB_SERVER_REACTOR, "patchbay-reactor",
	 "not supported by the reactor (patchbayd only)"},
};

static const struct options_server *options_server(enum pb_server server)
{
	size_t i;

	for (i = 0; i < sizeof(options_servers) / sizeof(options_servers[0]);
	     i++)
		if (options_servers[i].os_server == server)
			return &options_servers[i];
	return &options_servers[0];
}

void pb_options_defaults(struct pb_options *op)
{
	memset(op, 0, sizeof(*op));
	snprintf(op->op_listen[0], sizeof(op->op_listen[0]), "127.0.0.1:8080");
	op->op_nlisten = 1;
	op->op_unix_mode = 0660;
	op->op_max_clients = 10000;
	op->op_max_handshakes = 256;
	op->op_max_frame = 64 * 1024;
	op->op_outbox = 1024 * 1024;
	op->op_park = 1024 * 1024;
	op->op_max_memory = 1024 * 1024 * 1024;
	op->op_slow_ms = 10 * 1000;
	op->op_frame_ms = 30 * 1000;
	op->op_spare_threads = 64;
	op->op_stack = 64 * 1024;
	op->op_verbosity = PB_LOG_NOTICE;
	snprintf(op->op_cluster, sizeof(op->op_cluster), "patchbay");
	op->op_link_ms = 10 * 1000;
	op->op_tls_client_auth = PB_TLS_AUTH_REQUIRE;
	op->op_tls_min_version = 12;
	op->op_tls_handshake_ms = 10 * 1000;
}

bool pb_options_has_tls(const struct pb_options *op)
{
	unsigned i;

	for (i = 0; i < op->op_nlisten; i++)
		if (strncmp(op->op_listen[i], "tls:", 4) == 0)
			return true;
	return false;
}

static const char *const options_auths[] = {
	[PB_TLS_AUTH_REQUIRE] = "require",
	[PB_TLS_AUTH_OPTIONAL] = "optional",
	[PB_TLS_AUTH_NONE] = "none",
};

static int options_auth(const char *s, unsigned long *out)
{
	unsigned long i;

	for (i = 0; i < sizeof(options_auths) / sizeof(options_auths[0]); i++)
		if (strcmp(s, options_auths[i]) == 0)
			return *out = i, 0;
	return -1;
}

static int options_tls_version(const char *s, unsigned long *out)
{
	if (strncmp(s, "TLSv", 4) == 0)
		s += 4;
	if (strcmp(s, "1.2") == 0)
		return *out = 12, 0;
	if (strcmp(s, "1.3") == 0)
		return *out = 13, 0;
	return -1;
}

int pb_options_size(const char *s, size_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)v << shift;
	return 0;
}

static int options_count(const char *s, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int options_seconds(const char *s, unsigned long *ms)
{
	double v;
	char *end;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	/* From a millisecond (less would be 0: no timeout at all) to a year. */
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0.001 ||
	    v > 86400.0 * 365)
		return -1;
	*ms = (unsigned long)(v * 1000 + 0.999); /* round up */
	return 0;
}

static int options_yes_no(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

static int options_copy(char *to, size_t cap, const char *s)
{
	if (strlen(s) >= cap)
		return -1;
	memcpy(to, s, strlen(s) + 1);
	return 0;
}

/* Adds a listener from source 'from' (1 the file, 2 the command line):
 * the first from a source replaces those of the sources before it. */
static int options_listen(struct pb_options *op, const char *arg, unsigned from,
			  const char **why)
{
	if (op->op_listen_from != from) {
		op->op_nlisten = 0;
		op->op_listen_from = from;
	}
	*why = pb_listener_invalid(arg);
	if (*why != NULL)
		return -1;
	*why = "given too often (at most 8 listeners)";
	if (op->op_nlisten == PB_OPTIONS_LISTEN)
		return -1;
	*why = "too long";
	return options_copy(op->op_listen[op->op_nlisten++], PB_OPTIONS_ADDRLEN,
			    arg);
}

static int options_mode(const char *s, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '7')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || *end != '\0' || v > 0777)
		return -1;
	*out = v;
	return 0;
}

/* Parses a value of d's kind into op (arg is NULL for a flag on the
 * command line), from source 'from' (1 the file, 2 the command line); 0,
 * or -1 with *why. */
static int options_value(struct pb_options *op, const struct options_def *d,
			 const char *arg, unsigned from, const char **why)
{
	char *field = (char *)op + d->od_offset;
	bool flag;

	switch (d->od_kind) {
	case OK_LISTEN:
		return options_listen(op, arg, from, why);
	case OK_MODE:
		*why = "not a file mode in octal (0 to 0777)";
		return options_mode(arg, (unsigned long *)(void *)field);
	case OK_NAME:
		*why = "name too long";
		return options_copy(field, PB_OPTIONS_ADDRLEN, arg);
	case OK_ADDR:
		/* --metrics may be empty: none. */
		*why = "not a numeric ADDR:PORT or [V6ADDR]:PORT";
		if (!(*arg == '\0' && d->od_val == OPT_METRICS) &&
		    !pb_net_valid(arg))
			return -1;
		return options_copy(field, PB_OPTIONS_ADDRLEN, arg);
	case OK_PATH:
		*why = "file name too long";
		return options_copy(field, PB_OPTIONS_PATHLEN, arg);
	case OK_COUNT:
		*why = "not a number";
		return options_count(arg, (unsigned long *)(void *)field);
	case OK_SIZE:
		*why = "not a size (a number, then K, M or G)";
		return pb_options_size(arg, (size_t *)(void *)field);
	case OK_SECONDS:
		*why = "not a duration in seconds (0.001 to a year)";
		return options_seconds(arg, (unsigned long *)(void *)field);
	case OK_KIB: {
		size_t kib;

		*why = "not a size in KiB";
		if (pb_options_size(arg, &kib) < 0 || kib > SIZE_MAX / 1024)
			return -1;
		op->op_stack = kib * 1024;
		return 0;
	}
	case OK_FLAG:
		*why = "not yes or no";
		if (arg == NULL)
			flag = true;
		else if (options_yes_no(arg, &flag) < 0)
			return -1;
		*(bool *)(void *)field = flag;
		return 0;
	case OK_VERBOSE: {
		unsigned long n;

		if (arg == NULL) {
			if (op->op_verbosity < PB_LOG_DEBUG)
				op->op_verbosity++;
			return 0;
		}
		*why = "not 0, 1 or 2";
		if (options_count(arg, &n) < 0 || n > 2)
			return -1;
		op->op_verbosity = PB_LOG_NOTICE + (int)n;
		return 0;
	}
	case OK_QUIET:
		*why = "not yes or no";
		if (arg == NULL)
			flag = true;
		else if (options_yes_no(arg, &flag) < 0)
			return -1;
		if (flag)
			op->op_verbosity = PB_LOG_WARN;
		else if (op->op_verbosity == PB_LOG_WARN)
			op->op_verbosity = PB_LOG_NOTICE;
		return 0;
	case OK_AUTH:
		*why = "not require, optional or none";
		return options_auth(arg, (unsigned long *)(void *)field);
	case OK_TLSVER:
		*why = "not 1.2 or 1.3";
		return options_tls_version(arg, (unsigned long *)(void *)field);
	case OK_ACTION:
		break;
	}
	*why = "not an option of the file";
	return -1;
}

static const struct options_def *options_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < OPTIONS_N; i++)
		if (strcmp(options_defs[i].od_name, name) == 0)
			return &options_defs[i];
	return NULL;
}

static const struct options_def *options_by_val(int val)
{
	size_t i;

	for (i = 0; i < OPTIONS_N; i++)
		if (options_defs[i].od_val == val)
			return &options_defs[i];
	return NULL;
}

static size_t options_index(const struct options_def *d)
{
	return (size_t)(d - options_defs);
}

int pb_options_set(struct pb_options *op, enum pb_server server,
		   const char *name, const char *value, unsigned line,
		   const char **why)
{
	const struct options_def *d = options_by_name(name);

	if (d == NULL || !d->od_in_file) {
		*why = NULL;
		return -1;
	}
	if (!(d->od_servers & server)) {
		*why = options_server(server)->os_refusal;
		return -2;
	}
	op->op_line[options_index(d)] = line;
	return options_value(op, d, value, 1, why);
}

bool pb_options_given(const struct pb_options *op, const char *name)
{
	const struct options_def *d = options_by_name(name);

	return d != NULL && (op->op_given & (1ul << options_index(d))) != 0;
}

#ifdef HAVE_NATS
/* Whether s is a list of nats:// or tls:// URLs, comma-separated. */
static bool options_nats_urls(const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, ",");

		if (!((n > 7 && strncmp(s, "nats://", 7) == 0) ||
		      (n > 6 && strncmp(s, "tls://", 6) == 0)))
			return false;
		s += n;
		if (*s == ',')
			s++;
	}
	return true;
}
#endif

/* A name that fits in one token of a NATS subject. */
static bool options_subject_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

/* The federation options, checked against each other. */
static void options_check_nats(const struct pb_options *op, const char **name,
			       const char **what)
{
	if (!options_subject_token(op->op_cluster))
		*name = "cluster", *what = "must be letters, digits, - or _";
	else if (op->op_link_ms == 0)
		*name = "link-timeout", *what = "must be more than 0";
	else if (op->op_nats[0] == '\0')
		return;
#ifndef HAVE_NATS
	else
		*name = "nats",
		*what = "needs patchbayd built with libnats (configure "
			"--with-nats)";
#else
	else if (!options_nats_urls(op->op_nats))
		*name = "nats", *what = "must be nats:// or tls:// URLs, "
					"comma-separated";
	else if (op->op_state_dir[0] == '\0')
		*name = "nats",
		*what = "needs --state-dir, so that ids are never given twice";
	else if (op->op_node_bits == 0)
		*name = "nats", *what = "needs --node-bits of at least 1";
#endif
}

/* Formats the place an option was set: "FILE:LINE: name" when the file
 * set it last and the command line did not, "--name" otherwise. */
static void options_where(const struct pb_options *op, const char *file,
			  const char *name, char *out, size_t cap)
{
	const struct options_def *d = options_by_name(name);
	size_t i = options_index(d);

	if (file != NULL && op->op_line[i] > 0 && !(op->op_given & (1ul << i)))
		snprintf(out, cap, "%s:%u: %s", file, op->op_line[i], name);
	else
		snprintf(out, cap, "--%s", name);
}

int pb_options_check(const struct pb_options *op, const char *file, char *err,
		     size_t errlen)
{
	const char *name = NULL, *what = NULL;
	char where[PB_OPTIONS_PATHLEN + 64];

	if (op->op_max_clients == 0)
		name = "max-clients", what = "must be at least 1";
	else if (op->op_max_handshakes == 0)
		name = "max-handshakes", what = "must be at least 1";
	else if (op->op_max_frame == 0 || op->op_max_frame > 1u << 30)
		name = "max-frame", what = "must be between 1 and 1G";
	else if (op->op_outbox < op->op_max_frame)
		name = "outbox", what = "must be at least --max-frame";
	else if (op->op_park < op->op_max_frame)
		name = "park", what = "must be at least --max-frame";
	else if (op->op_max_memory == 0)
		name = "max-memory", what = "must be more than 0";
	else if (op->op_stack < PB_STACK_MIN_KIB * 1024 ||
		 op->op_stack > PB_STACK_MAX_KIB * 1024)
		name = "stack-size", what = "must be between 32 and 8192 KiB";
	else if (op->op_stack < options_stack_min())
		name = "stack-size", what = "is below this system's minimum";
	else if (op->op_spare_threads > PB_SPARE_MAX)
		name = "spare-threads", what = "must be at most 10000";
	else if (op->op_unix_group[0] != '\0' &&
		 !pb_listener_group_known(op->op_unix_group))
		name = "unix-group", what = "is no group of this system";
	else if (op->op_node_bits > PB_NODE_BITS_MAX)
		name = "node-bits", what = "must be between 0 and 16";
	else if (op->op_node >> op->op_node_bits != 0)
		name = "node",
		what = "must be below 2 to the power --node-bits";
	else if (pb_options_has_tls(op) && op->op_tls_cert[0] == '\0')
		name = "tls-cert", what = "must be given for a tls: listener";
	else if (pb_options_has_tls(op) && op->op_tls_key[0] == '\0')
		name = "tls-key", what = "must be given for a tls: listener";
	else if (pb_options_has_tls(op) && op->op_tls_ca[0] == '\0' &&
		 op->op_tls_client_auth != PB_TLS_AUTH_NONE)
		name = "tls-ca",
		what = "must be given for a tls: listener (unless "
		       "--tls-client-auth none)";
	else if (op->op_tls_allow[0] != '\0' &&
		 op->op_tls_client_auth == PB_TLS_AUTH_NONE)
		name = "tls-allow",
		what = "needs client certificates (--tls-client-auth "
		       "require or optional)";
	else
		options_check_nats(op, &name, &what);
	if (name == NULL)
		return 0;
	options_where(op, file, name, where, sizeof(where));
	snprintf(err, errlen, "%s %s", where, what);
	return -1;
}

static bool options_same_listeners(const struct pb_options *a,
				   const struct pb_options *b)
{
	unsigned i;

	if (a->op_nlisten != b->op_nlisten)
		return false;
	for (i = 0; i < a->op_nlisten; i++)
		if (strcmp(a->op_listen[i], b->op_listen[i]) != 0)
			return false;
	return true;
}

/* Whether a and b hold the same value of d, each kind compared as what
 * it is. */
static bool options_same(const struct options_def *d,
			 const struct pb_options *a, const struct pb_options *b)
{
	const void *x = (const char *)a + d->od_offset;
	const void *y = (const char *)b + d->od_offset;

	switch (d->od_kind) {
	case OK_LISTEN:
		return options_same_listeners(a, b);
	case OK_ADDR:
	case OK_PATH:
	case OK_NAME:
		return strcmp(x, y) == 0;
	case OK_COUNT:
	case OK_SECONDS:
	case OK_MODE:
	case OK_AUTH:
	case OK_TLSVER:
		return *(const unsigned long *)x == *(const unsigned long *)y;
	case OK_SIZE:
	case OK_KIB:
		return *(const size_t *)x == *(const size_t *)y;
	case OK_FLAG:
		return *(const bool *)x == *(const bool *)y;
	case OK_VERBOSE:
	case OK_QUIET:
		return a->op_verbosity == b->op_verbosity;
	case OK_ACTION:
		break;
	}
	return true;
}

const char *pb_options_fixed_change(const struct pb_options *a,
				    const struct pb_options *b)
{
	size_t i;

	for (i = 0; i < OPTIONS_N; i++) {
		const struct options_def *d = &options_defs[i];

		if (d->od_fixed && d->od_in_file && !options_same(d, a, b))
			return d->od_name;
	}
	return NULL;
}

/* A size in the largest unit that holds it exactly: 64K, 1M, 1000. */
static void options_put_size(FILE *f, size_t v)
{
	static const char units[] = "GMK";
	int shift;

	for (shift = 30; shift > 0; shift -= 10)
		if (v != 0 && v % ((size_t)1 << shift) == 0) {
			fprintf(f, "%zu%c", v >> shift,
				units[2 - shift / 10 + 1]);
			return;
		}
	fprintf(f, "%zu", v);
}

/* One "listen = " line per listener. */
static void options_write_listeners(const struct pb_options *op, FILE *f)
{
	unsigned i;

	for (i = 0; i < op->op_nlisten; i++)
		fprintf(f, "listen = %s\n", op->op_listen[i]);
}

void pb_options_write(const struct pb_options *op, enum pb_server server,
		      FILE *f)
{
	size_t i;

	for (i = 0; i < OPTIONS_N; i++) {
		const struct options_def *d = &options_defs[i];
		const char *field = (const char *)op + d->od_offset;

		if (!d->od_in_file || !(d->od_servers & server))
			continue;
		if (d->od_kind == OK_LISTEN) {
			options_write_listeners(op, f);
			continue;
		}
		fprintf(f, "%s = ", d->od_name);
		switch (d->od_kind) {
		case OK_LISTEN:
			break;
		case OK_ADDR:
		case OK_PATH:
		case OK_NAME:
			fputs(field, f);
			break;
		case OK_MODE:
			fprintf(f, "%04lo",
				*(const unsigned long *)(const void *)field);
			break;
		case OK_COUNT:
			fprintf(f, "%lu",
				*(const unsigned long *)(const void *)field);
			break;
		case OK_SIZE:
			options_put_size(f,
					 *(const size_t *)(const void *)field);
			break;
		case OK_SECONDS:
			fprintf(f, "%g",
				*(const unsigned long *)(const void *)field /
					1000.0);
			break;
		case OK_KIB:
			fprintf(f, "%zu", op->op_stack / 1024);
			break;
		case OK_FLAG:
			fputs(*(const bool *)(const void *)field ? "yes" : "no",
			      f);
			break;
		case OK_VERBOSE:
			fprintf(f, "%d",
				op->op_verbosity > PB_LOG_NOTICE
					? op->op_verbosity - PB_LOG_NOTICE
					: 0);
			break;
		case OK_QUIET:
			fputs(op->op_verbosity == PB_LOG_WARN ? "yes" : "no",
			      f);
			break;
		case OK_AUTH:
			fputs(options_auths[op->op_tls_client_auth], f);
			break;
		case OK_TLSVER:
			fputs(op->op_tls_min_version == 13 ? "1.3" : "1.2", f);
			break;
		case OK_ACTION:
			break;
		}
		fputc('\n', f);
	}
}

/* --help: the options that server takes, each as "  -C, --config FILE"
 * padded to OPTIONS_HELP_COL, then its help, one line at a time. */
#define OPTIONS_HELP_COL 29

static void options_usage(enum pb_server server)
{
	size_t i;

	printf("usage: %s [options]\n"
	       "Routes NUL-terminated messages between TCP clients by id.\n\n",
	       options_server(server)->os_prog);
	for (i = 0; i < OPTIONS_N; i++) {
		const struct options_def *d = &options_defs[i];
		const char *help = d->od_help;
		int col;

		if (!(d->od_servers & server))
			continue;
		if (d->od_val < OPT_METRICS)
			col = printf("  -%c, --%s", d->od_val, d->od_name);
		else
			col = printf("      --%s", d->od_name);
		if (d->od_arg != NULL)
			col += printf(" %s", d->od_arg);
		for (;;) {
			const char *nl = strchr(help, '\n');
			int len = nl != NULL ? (int)(nl - help)
					     : (int)strlen(help);
			int pad = col >= 0 && col < OPTIONS_HELP_COL
					  ? OPTIONS_HELP_COL - col
					  : 1;

			printf("%*s%.*s\n", pad, "", len, help);
			if (nl == NULL)
				break;
			help = nl + 1;
			col = 0;
		}
	}
	fputs("Sizes take a K, M or G suffix.\n", stdout);
}

/* getopt_long's table and short options, built from options_defs. */
static void options_getopt(struct option *lo, char *so)
{
	size_t i;

	*so++ = ':';
	for (i = 0; i < OPTIONS_N; i++) {
		const struct options_def *d = &options_defs[i];
		bool arg = d->od_kind != OK_FLAG && d->od_kind != OK_VERBOSE &&
			   d->od_kind != OK_QUIET && d->od_kind != OK_ACTION;

		lo[i].name = d->od_name;
		lo[i].has_arg = arg ? required_argument : no_argument;
		lo[i].flag = NULL;
		lo[i].val = d->od_val;
		if (d->od_val < OPT_METRICS) {
			*so++ = (char)d->od_val;
			if (arg)
				*so++ = ':';
		}
	}
	lo[OPTIONS_N] = (struct option){.name = NULL};
	*so = '\0';
}

enum pb_options_result pb_options_args(struct pb_options *op,
				       enum pb_server server, int argc,
				       char **argv, char *err, size_t errlen)
{
	struct option lo[OPTIONS_N + 1];
	char so[OPTIONS_N * 2 + 2];
	const struct options_def *d;
	const char *why;
	int c;

	options_getopt(lo, so);
	opterr = 0;
	optind = 0; /* glibc: also reset internal state, so tests can reparse */
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			options_usage(server);
			return PB_OPTIONS_EXIT;
		case 'V':
			printf("%s %s\n", options_server(server)->os_prog,
			       PACKAGE_VERSION);
			return PB_OPTIONS_EXIT;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value",
				 argv[optind - 1]);
			return PB_OPTIONS_USAGE;
		case '?':
			snprintf(err, errlen,
				 "unknown option '%s' (try --help)",
				 argv[optind - 1]);
			return PB_OPTIONS_USAGE;
		default:
			d = options_by_val(c);
			if (d == NULL)
				continue;
			if (!(d->od_servers & server)) {
				snprintf(err, errlen, "--%s: %s", d->od_name,
					 options_server(server)->os_refusal);
				return PB_OPTIONS_USAGE;
			}
			op->op_given |= 1ul << options_index(d);
			if (options_value(op, d, optarg, 2, &why) < 0) {
				snprintf(err, errlen, "--%s: %s: '%s'",
					 d->od_name, why, optarg);
				return PB_OPTIONS_USAGE;
			}
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try --help)",
			 argv[optind]);
		return PB_OPTIONS_USAGE;
	}
	return PB_OPTIONS_RUN;
}

enum pb_options_result pb_options_parse(struct pb_options *op,
					enum pb_server server, int argc,
					char **argv, char *err, size_t errlen)
{
	enum pb_options_result r =
		pb_options_args(op, server, argc, argv, err, errlen);

	if (r == PB_OPTIONS_RUN && pb_options_check(op, NULL, err, errlen) < 0)
		return PB_OPTIONS_USAGE;
	return r;
}
