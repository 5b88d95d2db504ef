/* SPDX-License-Identifier: ISC */
/*
 * bench_proc.h: sampling the server process from /proc (--server-pid):
 * its memory and thread count at one instant (bench_proc), and what it has
 * spent so far (bench_cost: CPU time, context switches, read and write
 * calls), sampled at both ends of the measured time and subtracted into
 * what the run cost it (bench_spent).
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A sample of the server's /proc/PID/status. */
struct bench_proc {
	bool p_ok;
	unsigned long p_rss_kib;
	unsigned long p_hwm_kib;
	unsigned long p_threads;
};

/* What the server has spent since it started, at one instant. */
struct bench_cost {
	bool co_ok;		/* CPU time and context switches were read */
	bool co_io;		/* and /proc/PID/io too */
	uint64_t co_at_ns;	/* when (bench_now_ns) */
	uint64_t co_ticks;	/* utime + stime, every thread, the dead too */
	uint64_t co_vcsw;	/* summed over the threads alive now */
	uint64_t co_nvcsw;	/* likewise */
	uint64_t co_syscr;	/* read-family calls (see bench_proc.c) */
	uint64_t co_syscw;	/* write-family calls */
	unsigned long co_tasks; /* threads whose switches were summed */
};

/* The difference between two cost samples. */
struct bench_spent {
	bool sp_ok;
	bool sp_io;
	double sp_wall_s; /* time between the samples */
	double sp_cpu_s;
	uint64_t sp_vcsw;
	uint64_t sp_nvcsw;
	uint64_t sp_syscr;
	uint64_t sp_syscw;
};

/* Samples /proc/PID/status; p_ok false (and an error) if it cannot. */
void bench_proc_sample(pid_t pid, struct bench_proc *p);
/* Samples until the thread count holds still (bounded), then returns it. */
void bench_proc_settle(pid_t pid, struct bench_proc *p);

/* Samples the server's costs; co_ok false if it cannot (not an error). */
void bench_cost_sample(pid_t pid, struct bench_cost *c);
/*
 * Sleeps until warm and samples a, then until end and samples b: the
 * measured time of a run that started the clock. Samples nothing once the
 * run has failed.
 */
void bench_cost_window(pid_t pid, uint64_t warm, uint64_t end,
		       struct bench_cost *a, struct bench_cost *b);
/* What was spent from a to b; sp_ok false unless both were read. */
void bench_cost_diff(const struct bench_cost *a, const struct bench_cost *b,
		     struct bench_spent *s);

#endif
