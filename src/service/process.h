/* SPDX-License-Identifier: ISC */
/*
 * process.h: what this process uses, for the standard process_* metrics.
 *
 * Read from /proc (Linux) and getrlimit() at each scrape, in the metrics'
 * thread: a few small reads, and one readdir of /proc/self/fd, whose cost
 * grows with the clients connected but touches nothing they use.
 */
#ifndef PB_PROCESS_H
#define PB_PROCESS_H

struct pb_process {
	double pr_cpu_s;	       /* user and system CPU time */
	double pr_start_s;	       /* start, seconds since the epoch */
	unsigned long long pr_rss;     /* resident memory, bytes */
	unsigned long long pr_vsize;   /* virtual memory, bytes */
	unsigned long long pr_fds;     /* open file descriptors */
	unsigned long long pr_max_fds; /* RLIMIT_NOFILE, soft */
	unsigned long long pr_threads; /* threads, this one included */
};

/* Fills p: 0, or -1 with errno when /proc cannot be read. */
int pb_process_read(struct pb_process *p);

#endif
