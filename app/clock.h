/* SPDX-License-Identifier: MIT */
/*
 * clock.h — the monotonic clock, in one place: durations, rates and deadlines in
 * the parent never go backwards when the wall clock is set.
 */
#ifndef IMGPOOL_CLOCK_H
#define IMGPOOL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in seconds. */
double clock_now_s(void);

/* CLOCK_MONOTONIC in nanoseconds (the pool's timestamps use this clock). */
int64_t clock_now_ns(void);

#endif
