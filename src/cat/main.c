/* SPDX-License-Identifier: ISC */
/*
 * main.c: patchbay-cat's command line, and its start: the options are
 * checked (exit 2 naming the first bad one) before anything connects.
 * patchbay-cat(1) says what it does; the session is loop.c's.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cat.h"
#include "options.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: patchbay-cat [options] [ADDR]\n"
		"Connects to a patchbay daemon at ADDR (HOST:PORT, [V6]:PORT, "
		"unix:PATH or\n"
		"tls:HOST:PORT; default " CAT_ADDR_DEFAULT "), prints its id, "
		"sends each line of\n"
		"standard input (ID TEXT) and prints each message received on "
		"a line.\n"
		"\n"
		"  -t, --to ID          send every line, as it is, to ID\n"
		"  -x, --hex            print received payloads in hex\n"
		"  -X, --from-hex       read the text of lines as hex\n"
		"  -f, --max-frame BYTES  longest payload the daemon accepts, "
		"its 0x00\n"
		"                       included (default 64K); longer lines "
		"are refused\n"
		"  -l, --linger SECS    at the end of input, wait this long "
		"for messages\n"
		"                       (default 1)\n"
		"  -n, --count N        exit after N messages received\n"
		"  -i, --id-file FILE   write the id to FILE\n"
		"      --tls-ca FILE    CAs to check the daemon's certificate "
		"with (tls:)\n"
		"      --tls-cert FILE  our certificate, for a daemon that "
		"asks for one\n"
		"      --tls-key FILE   its private key\n"
		"  -h, --help           show this help and exit\n"
		"  -V, --version        show the version and exit\n"
		"\n"
		"Exit status: 0, 1 if the connection failed or the daemon "
		"closed it, 2 on\n"
		"bad usage. See patchbay-cat(1).\n");
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Says what is wrong with the command line: exit status 2. */
static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "patchbay-cat: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	return 2;
}

/* A decimal number of at most max, digits only. */
static int number(const char *s, unsigned long long max,
		  unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' || *out > max ? -1 : 0;
}

/* Seconds, decimals allowed, 0 included, up to a year. */
static int seconds(const char *s, unsigned long *ms)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v > 86400.0 * 365)
		return -1;
	*ms = (unsigned long)(v * 1000 + 0.999);
	return 0;
}

#define CAT_OPT_TLS_CA	 256 /* long options only */
#define CAT_OPT_TLS_CERT 257
#define CAT_OPT_TLS_KEY	 258

/* The TLS options against the address: -1 when they fit, else 2. */
static int check_tls(const struct cat_conf *cf)
{
	const struct cat_tls *t = &cf->cf_tls;
	bool tls = cf->cf_addr.ad_kind == CAT_ADDR_TLS;

	if (tls && !cat_transport_has_tls()) {
		fprintf(stderr,
			"patchbay-cat: %s: TLS needs a patchbay-cat built "
			"with OpenSSL (configure --with-openssl)\n",
			cf->cf_addr_text);
		return 2;
	}
	if (!tls && (t->ct_ca || t->ct_cert || t->ct_key))
		return bad("--tls-ca, --tls-cert and --tls-key are for a "
			   "tls: address");
	if (tls && t->ct_ca == NULL)
		return bad("%s: a tls: address needs --tls-ca",
			   cf->cf_addr_text);
	if ((t->ct_cert == NULL) != (t->ct_key == NULL))
		return bad("--tls-cert and --tls-key go together");
	return -1;
}

/* Parses the command line onto cf: -1 to run, else the exit status. */
static int parse(int argc, char **argv, struct cat_conf *cf)
{
	static const struct option lo[] = {
		{"to", required_argument, NULL, 't'},
		{"hex", no_argument, NULL, 'x'},
		{"from-hex", no_argument, NULL, 'X'},
		{"max-frame", required_argument, NULL, 'f'},
		{"linger", required_argument, NULL, 'l'},
		{"count", required_argument, NULL, 'n'},
		{"id-file", required_argument, NULL, 'i'},
		{"tls-ca", required_argument, NULL, CAT_OPT_TLS_CA},
		{"tls-cert", required_argument, NULL, CAT_OPT_TLS_CERT},
		{"tls-key", required_argument, NULL, CAT_OPT_TLS_KEY},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	unsigned long long v;
	char err[512];
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:xXf:l:n:i:hV", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 't':
			if (number(optarg, UINT32_MAX, &v) < 0)
				return bad("--to: not an id (0 to "
					   "4294967295): '%s'",
					   optarg);
			cf->cf_has_to = true;
			cf->cf_to = (uint32_t)v;
			break;
		case 'x':
			cf->cf_hex = true;
			break;
		case 'X':
			cf->cf_from_hex = true;
			break;
		case 'f':
			if (pb_options_size(optarg, &cf->cf_max_frame) < 0 ||
			    cf->cf_max_frame < 1 ||
			    cf->cf_max_frame > (size_t)1 << 30)
				return bad("--max-frame: not a size from 1 to "
					   "1G: '%s'",
					   optarg);
			break;
		case 'l':
			if (seconds(optarg, &cf->cf_linger_ms) < 0)
				return bad("--linger: not a number of seconds: "
					   "'%s'",
					   optarg);
			break;
		case 'n':
			if (number(optarg, ULONG_MAX, &v) < 0 || v == 0)
				return bad("--count: not a number from 1: '%s'",
					   optarg);
			cf->cf_count = (unsigned long)v;
			break;
		case 'i':
			if (*optarg == '\0')
				return bad("--id-file: no file name");
			cf->cf_id_file = optarg;
			break;
		case CAT_OPT_TLS_CA:
		case CAT_OPT_TLS_CERT:
		case CAT_OPT_TLS_KEY:
			if (*optarg == '\0')
				return bad("%s: no file name",
					   argv[optind - 1]);
			if (c == CAT_OPT_TLS_CA)
				cf->cf_tls.ct_ca = optarg;
			else if (c == CAT_OPT_TLS_CERT)
				cf->cf_tls.ct_cert = optarg;
			else
				cf->cf_tls.ct_key = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("patchbay-cat %s\n", PACKAGE_VERSION);
			return 0;
		case ':':
			return bad("option '%s' needs a value",
				   argv[optind - 1]);
		default:
			return bad("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return bad("one address at most, '%s' is a second",
			   argv[optind + 1]);
	cf->cf_addr_text = optind < argc ? argv[optind] : CAT_ADDR_DEFAULT;
	if (cat_addr_parse(cf->cf_addr_text, &cf->cf_addr, err, sizeof err) < 0)
		return bad("%s", err);
	return check_tls(cf);
}

int main(int argc, char **argv)
{
	struct cat_transport t;
	struct cat_conf cf;
	char err[512];
	int r;

	memset(&cf, 0, sizeof cf);
	cf.cf_max_frame = CAT_MAX_FRAME;
	cf.cf_linger_ms = CAT_LINGER_MS;
	r = parse(argc, argv, &cf);
	if (r >= 0)
		return r;
	/* A reader of standard output that leaves is an error to report,
	 * not a signal to die of; the connection never raises it. */
	signal(SIGPIPE, SIG_IGN);
	if (cat_transport_open(&cf.cf_addr, &cf.cf_tls, &t, err, sizeof err) <
	    0) {
		fprintf(stderr, "patchbay-cat: %s\n", err);
		return 1;
	}
	return cat_run(&cf, &t);
}
