/* SPDX-License-Identifier: ISC */
/*
 * log.c: logging to stderr or syslog (see log.h). Each line is written
 * with one call, so lines from different client threads never mix.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static atomic_int log_verbosity = PB_LOG_NOTICE; /* a reload sets it */
static int log_syslog;

void log_init(int level)
{
	atomic_store_explicit(&log_verbosity, level, memory_order_relaxed);
}

void log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = 1;
}

static void log_vwrite(int level, const char *err, const char *fmt, va_list ap)
	PB_PRINTF(3, 0);

static void log_vwrite(int level, const char *err, const char *fmt, va_list ap)
{
	static const int prio[] = {LOG_WARNING, LOG_NOTICE, LOG_INFO,
				   LOG_DEBUG};
	char line[1024];
	size_t len;
	int n;

	if (level != PB_LOG_ALWAYS &&
	    level > atomic_load_explicit(&log_verbosity, memory_order_relaxed))
		return;
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	if (n >= 0 && err != NULL && (size_t)n < sizeof(line) - 1)
		snprintf(line + n, sizeof(line) - 1 - (size_t)n, ": %s", err);
	if (log_syslog) {
		syslog(level == PB_LOG_ALWAYS ? LOG_NOTICE : prio[level], "%s",
		       line);
		return;
	}
	/* One write(2), not stdio: unbuffered stderr would put a buffer of
	 * BUFSIZ on the small stack of a client thread. */
	len = strlen(line);
	line[len++] = '\n';
	while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
		;
}

#define LOG_BODY(level, err)                                                   \
	do {                                                                   \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vwrite(level, err, fmt, ap);                               \
		va_end(ap);                                                    \
	} while (0)

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(PB_LOG_WARN, err);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(PB_LOG_WARN, NULL);
}

void log_notice(const char *fmt, ...)
{
	LOG_BODY(PB_LOG_NOTICE, NULL);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(PB_LOG_INFO, NULL);
}

void log_always(const char *fmt, ...)
{
	LOG_BODY(PB_LOG_ALWAYS, NULL);
}

void log_debug(const char *fmt, ...)
{
	LOG_BODY(PB_LOG_DEBUG, NULL);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(PB_LOG_WARN, err);
	exit(1);
}
