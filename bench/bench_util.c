/* SPDX-License-Identifier: ISC */
/*
 * bench_util.c: the small services every part of patchbay-bench uses: the
 * monotonic clock, the error list that turns a run into a failure, and the
 * sampling of the server's memory and thread count from /proc/PID/status.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define BENCH_ERRLEN	       256
#define BENCH_SETTLE_STEP_NS   (50 * 1000 * 1000ull)
#define BENCH_SETTLE_SAMPLES   4  /* equal thread counts in a row */
#define BENCH_SETTLE_MAX_STEPS 60 /* 3 s at most */

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

void bench_fail(const char *fmt, ...)
{
	char msg[BENCH_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&bench_err_lock);
	fprintf(stderr, "patchbay-bench: %s\n", msg);
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

/* The number after "Key:" on a status line, if the line has that key. */
static bool bench_proc_field(const char *line, const char *key,
			     unsigned long *out)
{
	size_t kl = strlen(key);

	if (strncmp(line, key, kl) != 0 || line[kl] != ':')
		return false;
	*out = strtoul(line + kl + 1, NULL, 10);
	return true;
}

void bench_proc_sample(pid_t pid, struct bench_proc *p)
{
	char path[64], line[256];
	FILE *f;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (f == NULL) {
		bench_fail("server pid %ld: cannot read %s: %s (has the "
			   "server died?)",
			   (long)pid, path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		(void)(bench_proc_field(line, "VmRSS", &p->p_rss_kib) ||
		       bench_proc_field(line, "VmHWM", &p->p_hwm_kib) ||
		       bench_proc_field(line, "Threads", &p->p_threads));
	}
	fclose(f);
	p->p_ok = p->p_threads > 0;
	if (!p->p_ok)
		bench_fail("server pid %ld: no thread count in %s (a zombie?)",
			   (long)pid, path);
}

void bench_proc_settle(pid_t pid, struct bench_proc *p)
{
	unsigned long last = 0;
	int same = 0, step;

	for (step = 0; step < BENCH_SETTLE_MAX_STEPS; step++) {
		bench_proc_sample(pid, p);
		if (!p->p_ok)
			return;
		same = p->p_threads == last ? same + 1 : 1;
		last = p->p_threads;
		if (same >= BENCH_SETTLE_SAMPLES)
			return;
		bench_sleep_ns(BENCH_SETTLE_STEP_NS);
	}
}
