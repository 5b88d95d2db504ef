/* SPDX-License-Identifier: ISC */
/*
 * bench_hist.c: the log-linear histogram (see bench_hist.h). A bucket index
 * is (group << 7) | sub-bucket: group 0 holds 0..127 exactly, group g >= 1
 * holds [2^(g+6), 2^(g+7)) in 128 equal steps.
 */
#include <string.h>

#include "bench_hist.h"

#define BENCH_HIST_MAXV ((UINT64_C(1) << (BENCH_HIST_GROUPS + 6)) - 1)

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->h_min = UINT64_MAX;
}

static unsigned bench_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < BENCH_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - BENCH_HIST_SUB_BITS;
	return ((shift + 1) << BENCH_HIST_SUB_BITS) |
	       (unsigned)((v >> shift) - BENCH_HIST_SUB);
}

/* The highest value that falls into bucket i. */
static uint64_t bench_hist_top(unsigned i)
{
	unsigned group = i >> BENCH_HIST_SUB_BITS;
	uint64_t sub = i & (BENCH_HIST_SUB - 1);

	if (group == 0)
		return sub;
	return ((BENCH_HIST_SUB + sub + 1) << (group - 1)) - 1;
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
	if (v > BENCH_HIST_MAXV)
		v = BENCH_HIST_MAXV;
	h->h_bucket[bench_hist_index(v)]++;
	h->h_count++;
	h->h_sum += v;
	if (v < h->h_min)
		h->h_min = v;
	if (v > h->h_max)
		h->h_max = v;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	unsigned i;

	for (i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->h_bucket[i] += src->h_bucket[i];
	dst->h_count += src->h_count;
	dst->h_sum += src->h_sum;
	if (src->h_min < dst->h_min)
		dst->h_min = src->h_min;
	if (src->h_max > dst->h_max)
		dst->h_max = src->h_max;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0;
	double want;
	unsigned i;

	if (h->h_count == 0)
		return 0;
	want = q * (double)h->h_count;
	rank = (uint64_t)want;
	if ((double)rank < want)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->h_bucket[i];
		if (seen >= rank) {
			uint64_t top = bench_hist_top(i);

			return top < h->h_max ? top : h->h_max;
		}
	}
	return h->h_max;
}
