/*
 * options.c: command line parsing and validation (see options.h).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"

#define PB_STACK_MIN_KIB 16

static const char usage_text[] =
	"usage: patchbayd [options]\n"
	"Routes NUL-terminated messages between TCP clients by id.\n"
	"\n"
	"  -l, --listen ADDR:PORT     listen address (default 127.0.0.1:8080;\n"
	"                             IPv6 as [::1]:8080; port 0 picks one)\n"
	"  -c, --max-clients N        most clients connected (default 10000)\n"
	"  -f, --max-frame BYTES      longest payload, its 0x00 included\n"
	"                             (default 64K)\n"
	"  -o, --outbox BYTES         bytes queued per destination (default "
	"1M)\n"
	"  -p, --park BYTES           bytes waiting per sender (default 1M)\n"
	"  -m, --max-memory BYTES     global budget for client data (default "
	"1G)\n"
	"  -t, --slow-timeout SECS    disconnect a destination that makes no\n"
	"                             write progress this long (default 10)\n"
	"  -s, --stack-size KIB       stack of each client thread (default "
	"64)\n"
	"  -d, --daemon               detach and log to syslog\n"
	"  -P, --pidfile FILE         write the process id to FILE\n"
	"  -v, --verbose              log more (repeat for more still)\n"
	"  -q, --quiet                log warnings only\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n"
	"Sizes take a K, M or G suffix.\n";

static const struct option long_options[] = {
	{"listen", required_argument, NULL, 'l'},
	{"max-clients", required_argument, NULL, 'c'},
	{"max-frame", required_argument, NULL, 'f'},
	{"outbox", required_argument, NULL, 'o'},
	{"park", required_argument, NULL, 'p'},
	{"max-memory", required_argument, NULL, 'm'},
	{"slow-timeout", required_argument, NULL, 't'},
	{"stack-size", required_argument, NULL, 's'},
	{"daemon", no_argument, NULL, 'd'},
	{"pidfile", required_argument, NULL, 'P'},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

void pb_options_defaults(struct pb_options *op)
{
	memset(op, 0, sizeof(*op));
	op->op_listen = "127.0.0.1:8080";
	op->op_max_clients = 10000;
	op->op_max_frame = 64 * 1024;
	op->op_outbox = 1024 * 1024;
	op->op_park = 1024 * 1024;
	op->op_max_memory = 1024 * 1024 * 1024;
	op->op_slow_ms = 10 * 1000;
	op->op_stack = 64 * 1024;
	op->op_verbosity = PB_LOG_NOTICE;
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
	if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0 ||
	    v > 86400.0 * 365)
		return -1;
	*ms = (unsigned long)(v * 1000 + 0.999); /* round up */
	return 0;
}

/* Parses one option's value into op; -1 if the value is not acceptable. */
static int options_value(struct pb_options *op, int c, const char *arg)
{
	size_t kib;

	switch (c) {
	case 'l':
		op->op_listen = arg;
		return 0;
	case 'c':
		return options_count(arg, &op->op_max_clients);
	case 'f':
		return pb_options_size(arg, &op->op_max_frame);
	case 'o':
		return pb_options_size(arg, &op->op_outbox);
	case 'p':
		return pb_options_size(arg, &op->op_park);
	case 'm':
		return pb_options_size(arg, &op->op_max_memory);
	case 't':
		return options_seconds(arg, &op->op_slow_ms);
	case 's':
		if (pb_options_size(arg, &kib) < 0 || kib > SIZE_MAX / 1024)
			return -1;
		op->op_stack = kib * 1024;
		return 0;
	case 'P':
		op->op_pidfile = arg;
		return 0;
	default:
		return -1;
	}
}

/* Checks the values against each other; fills err on failure. */
static int options_check(const struct pb_options *op, char *err, size_t errlen)
{
	const char *what = NULL;

	if (op->op_max_clients == 0)
		what = "--max-clients must be at least 1";
	else if (op->op_max_frame == 0 || op->op_max_frame > 1u << 30)
		what = "--max-frame must be between 1 and 1G";
	else if (op->op_outbox < op->op_max_frame)
		what = "--outbox must be at least --max-frame";
	else if (op->op_park < op->op_max_frame)
		what = "--park must be at least --max-frame";
	else if (op->op_max_memory == 0)
		what = "--max-memory must be more than 0";
	else if (op->op_stack < PB_STACK_MIN_KIB * 1024)
		what = "--stack-size must be at least 16 KiB";
	if (what == NULL)
		return 0;
	snprintf(err, errlen, "%s", what);
	return -1;
}

/* The bit of op_given for the option whose short form is c. */
static unsigned long options_bit(int c)
{
	size_t i;

	for (i = 0; long_options[i].name != NULL; i++)
		if (long_options[i].val == c)
			return 1ul << i;
	return 0;
}

bool pb_options_given(const struct pb_options *op, const char *name)
{
	size_t i;

	for (i = 0; long_options[i].name != NULL; i++)
		if (strcmp(long_options[i].name, name) == 0)
			return (op->op_given & (1ul << i)) != 0;
	return false;
}

static const char *options_name(int c)
{
	const struct option *o;

	for (o = long_options; o->name != NULL; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

enum pb_options_result pb_options_parse(struct pb_options *op, int argc,
					char **argv, char *err, size_t errlen)
{
	int c;

	opterr = 0;
	optind = 0; /* glibc: also reset internal state, so tests can reparse */
	while ((c = getopt_long(argc, argv, ":l:c:f:o:p:m:t:s:dP:vqhV",
				long_options, NULL)) != -1) {
		op->op_given |= options_bit(c);
		switch (c) {
		case 'd':
			op->op_daemon = true;
			break;
		case 'v':
			if (op->op_verbosity < PB_LOG_DEBUG)
				op->op_verbosity++;
			break;
		case 'q':
			op->op_verbosity = PB_LOG_WARN;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return PB_OPTIONS_EXIT;
		case 'V':
			printf("patchbayd %s\n", PACKAGE_VERSION);
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
			if (options_value(op, c, optarg) < 0) {
				snprintf(err, errlen, "--%s: bad value '%s'",
					 options_name(c), optarg);
				return PB_OPTIONS_USAGE;
			}
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try --help)",
			 argv[optind]);
		return PB_OPTIONS_USAGE;
	}
	if (options_check(op, err, errlen) < 0)
		return PB_OPTIONS_USAGE;
	return PB_OPTIONS_RUN;
}
