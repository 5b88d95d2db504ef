/* SPDX-License-Identifier: ISC */
/*
 * clock.c: the monotonic clock in milliseconds (see clock.h).
 */
#include "config.h"

#include <time.h>

#include "clock.h"

uint64_t pb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
