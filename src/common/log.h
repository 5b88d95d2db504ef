/* SPDX-License-Identifier: ISC */
/*
 * log.h: logging, in the style of OpenBSD daemons.
 *
 * One line per event, to stderr in the foreground and to syslog once the
 * daemon detaches. log_warn appends strerror(errno), log_warnx does not.
 * Verbosity: -q shows warnings only, the default adds notices (startup,
 * shutdown, protocol errors, slow consumers), -v adds info (connects and
 * disconnects), -vv adds debug (every dropped frame).
 */
#ifndef PB_LOG_H
#define PB_LOG_H

enum pb_log_level {
	PB_LOG_ALWAYS = -1, /* whatever the verbosity: the stats line */
	PB_LOG_WARN,
	PB_LOG_NOTICE,
	PB_LOG_INFO,
	PB_LOG_DEBUG,
};

#define PB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PB_NORETURN	__attribute__((noreturn))

/* Sets the verbosity, a pb_log_level: at start, and at each reload. */
void log_init(int level);
void log_to_syslog(const char *ident);
void log_warn(const char *fmt, ...) PB_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) PB_PRINTF(1, 2);
void log_notice(const char *fmt, ...) PB_PRINTF(1, 2);
void log_info(const char *fmt, ...) PB_PRINTF(1, 2);
void log_debug(const char *fmt, ...) PB_PRINTF(1, 2);
/* Logged whatever the verbosity, even with -q: the counters. */
void log_always(const char *fmt, ...) PB_PRINTF(1, 2);
void fatal(const char *fmt, ...) PB_PRINTF(1, 2) PB_NORETURN;

#endif
