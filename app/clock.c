/* SPDX-License-Identifier: MIT */
/*
 * clock.c — see clock.h.
 */
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

double clock_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t clock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void clock_iso_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	/* strftime's %z is "+0100" (ISO 8601's basic form), which with the extended
	 * date is neither ISO 8601 nor RFC 3339; JSON Schema's date-time and parsers
	 * such as Python's fromisoformat before 3.11 want "+01:00", so the offset is
	 * written out by hand. */
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n)
		snprintf(buf + n, len - n, "%c%02ld:%02ld", sign, off / 60, off % 60);
}
