/* SPDX-License-Identifier: ISC */
/*
 * failalloc.c: an LD_PRELOAD library that makes malloc, calloc, realloc and
 * reallocarray fail (return NULL with errno ENOMEM) on demand, for
 * check_nomem.c, the end-to-end test of patchbayd running out of memory.
 * Real memory exhaustion cannot be produced on cue, and a daemon linked
 * with a test allocator would not be the daemon that ships: this library
 * is put in front of the unchanged binary instead. It is built as
 * tests/failalloc.so by a rule of its own in Makefile.am, and does not mix
 * with the sanitizers, which bring their own allocator.
 *
 * Knobs, environment variables read once, when the library is loaded:
 *
 *   PB_FAILALLOC_EVERY=K   fail every K-th candidate allocation (see
 *                          below); 0 or unset: none fails, the library
 *                          only counts
 *   PB_FAILALLOC_AFTER=N   the first N candidates succeed whatever EVERY
 *                          says, so that the daemon can start (default 0)
 *   PB_FAILALLOC_MIN=BYTES only requests of at least BYTES are candidates,
 *                          to spare libc's own small allocations
 *                          (default 1: every request but those of 0 bytes)
 *   PB_FAILALLOC_THREADS=1 only requests from threads other than the main
 *                          thread (the one that loaded the library) are
 *                          candidates: start-up and signal handling run
 *                          there (default 0: every thread)
 *   PB_FAILALLOC_FLAG=FILE only while FILE exists are requests candidates,
 *                          so that a test can open and close a window of
 *                          failures from outside (default: always)
 *   PB_FAILALLOC_REPORT=1  write "failalloc: active ..." to stderr when
 *                          loaded and "failalloc: N candidates, F failed"
 *                          at exit, so that a test can tell that failures
 *                          were really injected (default 0: silent)
 *   PB_FAILALLOC_TRACE=1   write a line to stderr for every candidate, its
 *                          number, size and fate: to tune a test
 *
 * Candidates are counted from 1 across all threads; candidate c fails when
 * c > N and (c - N) is a multiple of K. Freed memory and requests that are
 * not candidates are passed straight to the next allocator (libc's).
 *
 * The real functions are found with dlsym(RTLD_NEXT), which may itself
 * allocate (calloc for its error state): requests made while it runs are
 * served from a small static arena, whose blocks free() ignores.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The allocator the library is put in front of. */
static void *(*fa_next_malloc)(size_t);
static void *(*fa_next_calloc)(size_t, size_t);
static void *(*fa_next_realloc)(void *, size_t);
static void (*fa_next_free)(void *);

/* The knobs. */
static unsigned long fa_every, fa_after, fa_min = 1;
static bool fa_threads_only, fa_report, fa_trace;
static const char *fa_flag;
static pid_t fa_main_tid;

/* Counters, updated from any thread. */
static unsigned long fa_candidates, fa_failed;

/* Set while dlsym runs: what it allocates comes from the arena. */
static bool fa_resolving;
static bool fa_ready;

/* The arena for allocations made during dlsym. Each block is preceded
 * by its size, for realloc. */
#define FA_ARENA_SIZE 16384
static _Alignas(max_align_t) unsigned char fa_arena[FA_ARENA_SIZE];
static size_t fa_arena_used;

static void *fa_arena_alloc(size_t n)
{
	size_t align = _Alignof(max_align_t);
	size_t need = (n + align - 1) / align * align + align;
	unsigned char *p;

	if (n > FA_ARENA_SIZE || need > FA_ARENA_SIZE - fa_arena_used) {
		errno = ENOMEM;
		return NULL;
	}
	p = fa_arena + fa_arena_used;
	fa_arena_used += need;
	memcpy(p, &n, sizeof n);
	memset(p + align, 0, n);
	return p + align;
}

static bool fa_in_arena(const void *p)
{
	const unsigned char *q = p;

	return q >= fa_arena && q < fa_arena + FA_ARENA_SIZE;
}

static size_t fa_arena_size(const void *p)
{
	size_t n;

	memcpy(&n, (const unsigned char *)p - _Alignof(max_align_t), sizeof n);
	return n;
}

/* A number from the environment, or def if unset or not a number. */
static unsigned long fa_env_ulong(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return def;
	return v;
}

static void fa_say(const char *msg, size_t len)
{
	ssize_t r = write(2, msg, len);

	(void)r;
}

/* Finds the real functions and reads the knobs, once, before main (or at
 * the first allocation, if some other constructor allocates earlier). */
static void fa_init(void)
{
	char msg[256];
	int n;

	if (fa_ready || fa_resolving)
		return;
	fa_resolving = true;
	fa_next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	fa_next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	fa_next_realloc =
		(void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	fa_next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	fa_resolving = false;
	if (fa_next_malloc == NULL || fa_next_calloc == NULL ||
	    fa_next_realloc == NULL || fa_next_free == NULL) {
		static const char err[] =
			"failalloc: cannot find the real allocator\n";

		fa_say(err, sizeof err - 1);
		_exit(127);
	}
	fa_every = fa_env_ulong("PB_FAILALLOC_EVERY", 0);
	fa_after = fa_env_ulong("PB_FAILALLOC_AFTER", 0);
	fa_min = fa_env_ulong("PB_FAILALLOC_MIN", 1);
	if (fa_min == 0)
		fa_min = 1;
	fa_threads_only = fa_env_ulong("PB_FAILALLOC_THREADS", 0) != 0;
	fa_report = fa_env_ulong("PB_FAILALLOC_REPORT", 0) != 0;
	fa_trace = fa_env_ulong("PB_FAILALLOC_TRACE", 0) != 0;
	fa_flag = getenv("PB_FAILALLOC_FLAG");
	if (fa_flag != NULL && *fa_flag == '\0')
		fa_flag = NULL;
	fa_main_tid = (pid_t)syscall(SYS_gettid);
	fa_ready = true;
	if (fa_report) {
		n = snprintf(msg, sizeof msg,
			     "failalloc: active: every=%lu after=%lu min=%lu "
			     "threads_only=%d flag=%s\n",
			     fa_every, fa_after, fa_min, (int)fa_threads_only,
			     fa_flag != NULL ? fa_flag : "(none)");
		if (n > 0)
			fa_say(msg, (size_t)n < sizeof msg ? (size_t)n
							   : sizeof msg - 1);
	}
}

__attribute__((constructor)) static void fa_load(void)
{
	fa_init();
}

__attribute__((destructor)) static void fa_unload(void)
{
	char msg[128];
	int n;

	if (!fa_report)
		return;
	n = snprintf(msg, sizeof msg, "failalloc: %lu candidates, %lu failed\n",
		     __atomic_load_n(&fa_candidates, __ATOMIC_RELAXED),
		     __atomic_load_n(&fa_failed, __ATOMIC_RELAXED));
	if (n > 0)
		fa_say(msg,
		       (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* Whether a request for n bytes is to fail (errno is then set). */
static bool fa_fail(size_t n)
{
	unsigned long c;
	bool fail;
	int saved;

	if (!fa_ready || n < fa_min)
		return false;
	if (fa_threads_only && (pid_t)syscall(SYS_gettid) == fa_main_tid)
		return false;
	if (fa_flag != NULL) {
		saved = errno;
		if (access(fa_flag, F_OK) != 0) {
			errno = saved;
			return false;
		}
		errno = saved;
	}
	c = __atomic_add_fetch(&fa_candidates, 1, __ATOMIC_RELAXED);
	fail = fa_every != 0 && c > fa_after && (c - fa_after) % fa_every == 0;
	if (fa_trace) {
		char msg[96];
		int len;

		saved = errno;
		len = snprintf(msg, sizeof msg,
			       "failalloc: candidate %lu: %zu bytes%s\n", c, n,
			       fail ? ", failed" : "");
		if (len > 0)
			fa_say(msg, (size_t)len < sizeof msg ? (size_t)len
							     : sizeof msg - 1);
		errno = saved;
	}
	if (!fail)
		return false;
	__atomic_add_fetch(&fa_failed, 1, __ATOMIC_RELAXED);
	errno = ENOMEM;
	return true;
}

void *malloc(size_t n)
{
	if (fa_next_malloc == NULL) {
		if (fa_resolving)
			return fa_arena_alloc(n);
		fa_init();
	}
	if (fa_fail(n))
		return NULL;
	return fa_next_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	size_t total = 0;
	bool overflow = __builtin_mul_overflow(n, size, &total);

	if (fa_next_calloc == NULL) {
		if (fa_resolving) {
			if (overflow) {
				errno = ENOMEM;
				return NULL;
			}
			return fa_arena_alloc(total);
		}
		fa_init();
	}
	/* An overflowing request fails in libc, as it should. */
	if (!overflow && fa_fail(total))
		return NULL;
	return fa_next_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (p != NULL && fa_in_arena(p)) {
		size_t old = fa_arena_size(p);
		void *q = malloc(n);

		if (q != NULL)
			memcpy(q, p, old < n ? old : n);
		return q;
	}
	if (fa_next_realloc == NULL) {
		if (fa_resolving)
			return fa_arena_alloc(n);
		fa_init();
	}
	if (fa_fail(n))
		return NULL;
	return fa_next_realloc(p, n);
}

void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

void free(void *p)
{
	if (p == NULL || fa_in_arena(p))
		return;
	if (fa_next_free == NULL)
		fa_init();
	fa_next_free(p);
}
