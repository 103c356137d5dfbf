/* SPDX-License-Identifier: MIT */
/*
 * clock.h — the monotonic clock, in one place: durations, rates and deadlines in
 * the parent never go backwards when the wall clock is set. The wall clock only
 * where it is shown or compared with file times.
 */
#ifndef IMGPOOL_CLOCK_H
#define IMGPOOL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in seconds. */
double clock_now_s(void);

/* CLOCK_MONOTONIC in nanoseconds (the pool's timestamps use this clock). */
int64_t clock_now_ns(void);

/* CLOCK_REALTIME in nanoseconds: the wall clock that file times are stamped with
 * (the journal's racy rows, plan_racy()). */
int64_t clock_wall_ns(void);

/* The local time now in RFC 3339 (ISO 8601 with its offset), e.g.
 * "2026-12-02T22:01:54+01:00" (reports and the journal's runs: a cron log read in
 * another zone stays right). Earlier builds wrote the offset without its colon
 * ("+0100"); the journal still reads runs written so (JOURNAL_SQL_STARTED_EPOCH). */
void clock_iso_now(char *buf, size_t len);

#endif
