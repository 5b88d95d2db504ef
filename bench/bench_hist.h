/* SPDX-License-Identifier: ISC */
/*
 * bench_hist.h: a log-linear latency histogram in the spirit of
 * HdrHistogram: values below 2^7 have a bucket each, every power of two
 * above is cut into 128 buckets, so any value is kept within 1/128 (0.8%)
 * of its true value in constant memory, whatever the number of samples.
 * One histogram per thread, merged at the end: no locking.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB	    (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_GROUPS   42 /* values up to 2^48 ns, 78 hours */
#define BENCH_HIST_BUCKETS  (BENCH_HIST_GROUPS * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t h_count;
	uint64_t h_sum;
	uint64_t h_min;
	uint64_t h_max;
	uint64_t h_bucket[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_record(struct bench_hist *h, uint64_t v);
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The value at quantile q (0 < q <= 1), rounded up to its bucket's top. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

#endif
