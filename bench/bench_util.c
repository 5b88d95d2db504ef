/* SPDX-License-Identifier: ISC */
/*
 * bench_util.c: the small services every part of patchbay-bench uses: the
 * monotonic clock and the error list that turns a run into a failure.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define BENCH_ERRLEN 256
#define BENCH_NAP_NS (50 * 1000 * 1000ull) /* failure checks */

const char *bench_prog = "patchbay-bench";

static pthread_mutex_t bench_err_lock = PTHREAD_MUTEX_INITIALIZER;
static char bench_err_text[BENCH_MAX_ERRORS][BENCH_ERRLEN];
static const char *bench_err_list[BENCH_MAX_ERRORS];
static size_t bench_err_count;
static atomic_bool bench_err_flag;

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_ns_to_s(uint64_t ns)
{
	return (double)ns / 1e9;
}

uint64_t bench_s_to_ns(double s)
{
	return s <= 0 ? 0 : (uint64_t)(s * 1e9);
}

void bench_sleep_ns(uint64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void bench_sleep_until(uint64_t deadline)
{
	uint64_t now;

	while (!bench_failed() && (now = bench_now_ns()) < deadline) {
		uint64_t left = deadline - now;

		bench_sleep_ns(left < BENCH_NAP_NS ? left : BENCH_NAP_NS);
	}
}

void bench_fail(const char *fmt, ...)
{
	char msg[BENCH_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&bench_err_lock);
	fprintf(stderr, "%s: %s\n", bench_prog, msg);
	if (bench_err_count < BENCH_MAX_ERRORS) {
		memcpy(bench_err_text[bench_err_count], msg, sizeof(msg));
		bench_err_list[bench_err_count] =
			bench_err_text[bench_err_count];
	}
	bench_err_count++;
	atomic_store(&bench_err_flag, true);
	pthread_mutex_unlock(&bench_err_lock);
}

bool bench_failed(void)
{
	return atomic_load_explicit(&bench_err_flag, memory_order_relaxed);
}

const char *const *bench_errors(size_t *kept, size_t *total)
{
	pthread_mutex_lock(&bench_err_lock);
	*total = bench_err_count;
	*kept = bench_err_count < BENCH_MAX_ERRORS ? bench_err_count
						   : BENCH_MAX_ERRORS;
	pthread_mutex_unlock(&bench_err_lock);
	return bench_err_list;
}

void bench_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bench_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	exit(2);
}

unsigned long bench_parse_count(const char *name, const char *s,
				unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < min ||
	    v > max)
		bench_usage_error("--%s: '%s' is not a number from %lu to %lu",
				  name, s, min, max);
	return v;
}

double bench_parse_seconds(const char *name, const char *s, bool zero_ok)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < 0 ||
	    (v == 0 && !zero_ok) || v > 86400)
		bench_usage_error("--%s: '%s' is not a %s number of seconds",
				  name, s,
				  zero_ok ? "non-negative" : "positive");
	return v;
}
