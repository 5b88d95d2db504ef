/* SPDX-License-Identifier: ISC */
/*
 * process.c: what this process uses, from /proc (see process.h), the way
 * Prometheus' own client libraries read it, so that the process_* families
 * mean the same for patchbayd as for any other target.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "process.h"

/* CPU time, threads, start (ticks since boot) and memory, from fields 14,
 * 15, 20, 22, 23 and 24 of /proc/self/stat (proc(5)). The name, field 2,
 * may hold spaces and parentheses: fields are counted from its last ')'. */
static int process_stat(struct pb_process *p, double *since_boot_s)
{
	unsigned long utime, stime, vsize;
	unsigned long long start;
	long threads, rss;
	double tick = (double)sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/self/stat", "re");
	const char *rest;
	char buf[1024];
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rest = strrchr(buf, ')');
	if (rest == NULL ||
	    sscanf(rest + 1,
		   " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %lu"
		   " %*s %*s %*s %*s %ld %*s %llu %lu %ld",
		   &utime, &stime, &threads, &start, &vsize, &rss) != 6) {
		errno = EINVAL;
		return -1;
	}
	p->pr_cpu_s = (double)(utime + stime) / tick;
	p->pr_threads = (unsigned long long)threads;
	p->pr_vsize = vsize;
	p->pr_rss = (unsigned long long)rss *
		    (unsigned long long)sysconf(_SC_PAGESIZE);
	*since_boot_s = (double)start / tick;
	return 0;
}

/* When the system booted, seconds since the epoch: the "btime" line of
 * /proc/stat. Other lines can be longer than buf (the interrupt counts):
 * only the start of a line is matched. */
static int process_boot(double *boot_s)
{
	FILE *f = fopen("/proc/stat", "re");
	bool line_start = true;
	long long btime;
	char buf[256];
	int rc = -1;

	if (f == NULL)
		return -1;
	while (rc < 0 && fgets(buf, sizeof(buf), f) != NULL) {
		if (line_start && sscanf(buf, "btime %lld", &btime) == 1)
			rc = 0;
		line_start = strchr(buf, '\n') != NULL;
	}
	fclose(f);
	if (rc < 0)
		errno = EINVAL;
	else
		*boot_s = (double)btime;
	return rc;
}

/* The descriptors open, less the one that reads them. */
static int process_fds(unsigned long long *fds)
{
	DIR *d = opendir("/proc/self/fd");
	const struct dirent *e;

	if (d == NULL)
		return -1;
	*fds = 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			(*fds)++;
	closedir(d);
	return 0;
}

int pb_process_read(struct pb_process *p)
{
	double since_boot_s, boot_s;
	struct rlimit rl;

	if (process_stat(p, &since_boot_s) < 0 || process_boot(&boot_s) < 0 ||
	    process_fds(&p->pr_fds) < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	p->pr_start_s = boot_s + since_boot_s;
	p->pr_max_fds = rl.rlim_cur;
	return 0;
}
