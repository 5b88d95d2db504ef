/* SPDX-License-Identifier: ISC */
/*
 * clock.h: the one clock both servers read.
 *
 * Timeouts (slow consumers, idle buffers, the shutdown grace period) are
 * measured on the monotonic clock in milliseconds, so a change of the
 * wall clock moves none of them. The core never reads a clock: its callers
 * pass times in.
 */
#ifndef PB_CLOCK_H
#define PB_CLOCK_H

#include <stdint.h>

/* Milliseconds on the monotonic clock. */
uint64_t pb_now_ms(void);

#endif
