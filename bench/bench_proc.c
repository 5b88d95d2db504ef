/* SPDX-License-Identifier: ISC */
/*
 * bench_proc.c: what patchbay-bench reads about the server from /proc
 * (see bench_proc.h): memory and threads from /proc/PID/status; CPU time
 * from /proc/PID/stat; context switches from every
 * /proc/PID/task/TID/status; read and write calls from /proc/PID/io.
 *
 * What each figure covers:
 * - CPU time (utime + stime of /proc/PID/stat) is the whole process's,
 *   threads that have exited included: the kernel keeps their share.
 * - Context switches are per thread only (the main thread's
 *   /proc/PID/status counts its own, not the process's), so they are
 *   summed over the threads alive at the sample. A thread that exits
 *   during the measured time takes its switches with it: the difference
 *   then undercounts (and is clamped at 0). For patchbayd, which runs a
 *   thread per client, that is every client that leaves during the
 *   window: churn's figure for it is a floor, not a measure. A thread
 *   born during the window started at 0, so it is counted whole.
 * - syscr and syscw count the read- and write-family calls (read, readv,
 *   pread, write, writev, sendfile...) of every thread, the dead too,
 *   but not recv, send, sendmsg, poll or epoll_wait: for servers that
 *   use send and recv on their sockets they count little of the traffic.
 *   strace -c counts every call (bench/run.sh, BENCH_STRACE=1).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_SETTLE_STEP_NS   (50 * 1000 * 1000ull)
#define BENCH_SETTLE_SAMPLES   4  /* equal thread counts in a row */
#define BENCH_SETTLE_MAX_STEPS 60 /* 3 s at most */
#define BENCH_STAT_UTIME       14 /* field of /proc/PID/stat, from 1 */
#define BENCH_STAT_LEN	       1024

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

/* utime + stime from /proc/PID/stat; false if it cannot be read. */
static bool bench_cost_cpu(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[BENCH_STAT_LEN];
	unsigned long long utime;
	char *s;
	size_t n;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name, field 2, is in parentheses and may hold anything. */
	s = strrchr(buf, ')');
	if (s == NULL)
		return false;
	s++;
	for (field = 3; field < BENCH_STAT_UTIME && s != NULL; field++)
		s = strchr(s + 1, ' ');
	if (s == NULL)
		return false;
	utime = strtoull(s, &s, 10);
	*ticks = utime + strtoull(s, NULL, 10);
	return true;
}

/* Adds one thread's context switches; false if it has gone. */
static bool bench_cost_task(pid_t pid, long tid, struct bench_cost *c)
{
	unsigned long vol = 0, invol = 0;
	char path[96], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/status", (long)pid,
		 tid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		(void)(bench_proc_field(line, "voluntary_ctxt_switches",
					&vol) ||
		       bench_proc_field(line, "nonvoluntary_ctxt_switches",
					&invol));
	fclose(f);
	c->co_vcsw += vol;
	c->co_nvcsw += invol;
	return true;
}

/* Context switches summed over /proc/PID/task/ (see the top comment). */
static bool bench_cost_switches(pid_t pid, struct bench_cost *c)
{
	const struct dirent *d;
	char path[64];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	dir = opendir(path);
	if (dir == NULL)
		return false;
	while ((d = readdir(dir)) != NULL)
		if (isdigit((unsigned char)d->d_name[0]) &&
		    bench_cost_task(pid, strtol(d->d_name, NULL, 10), c))
			c->co_tasks++;
	closedir(dir);
	return c->co_tasks > 0;
}

/* syscr and syscw from /proc/PID/io, which may be unreadable. */
static bool bench_cost_io(pid_t pid, struct bench_cost *c)
{
	unsigned long r = 0, w = 0;
	char path[64], line[128];
	int got = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/io", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		got += bench_proc_field(line, "syscr", &r) ||
		       bench_proc_field(line, "syscw", &w);
	fclose(f);
	c->co_syscr = r;
	c->co_syscw = w;
	return got == 2;
}

void bench_cost_sample(pid_t pid, struct bench_cost *c)
{
	memset(c, 0, sizeof(*c));
	c->co_at_ns = bench_now_ns();
	c->co_ok = bench_cost_cpu(pid, &c->co_ticks) &&
		   bench_cost_switches(pid, c);
	c->co_io = c->co_ok && bench_cost_io(pid, c);
}

void bench_cost_window(pid_t pid, uint64_t warm, uint64_t end,
		       struct bench_cost *a, struct bench_cost *b)
{
	bench_sleep_until(warm);
	if (pid > 0 && !bench_failed())
		bench_cost_sample(pid, a);
	bench_sleep_until(end);
	if (pid > 0 && !bench_failed())
		bench_cost_sample(pid, b);
}

/* b - a, or 0 where a counter went down (threads gone, see the top). */
static uint64_t bench_cost_sub(uint64_t a, uint64_t b)
{
	return b > a ? b - a : 0;
}

void bench_cost_diff(const struct bench_cost *a, const struct bench_cost *b,
		     struct bench_spent *s)
{
	long hz = sysconf(_SC_CLK_TCK);

	memset(s, 0, sizeof(*s));
	s->sp_ok = a->co_ok && b->co_ok && hz > 0;
	if (!s->sp_ok)
		return;
	s->sp_wall_s = bench_ns_to_s(b->co_at_ns - a->co_at_ns);
	s->sp_cpu_s =
		(double)bench_cost_sub(a->co_ticks, b->co_ticks) / (double)hz;
	s->sp_vcsw = bench_cost_sub(a->co_vcsw, b->co_vcsw);
	s->sp_nvcsw = bench_cost_sub(a->co_nvcsw, b->co_nvcsw);
	s->sp_io = a->co_io && b->co_io;
	if (!s->sp_io)
		return;
	s->sp_syscr = bench_cost_sub(a->co_syscr, b->co_syscr);
	s->sp_syscw = bench_cost_sub(a->co_syscw, b->co_syscw);
}
