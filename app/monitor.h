/* SPDX-License-Identifier: MIT */
/*
 * monitor.h — the progress thread: counts, rate, ETA, failures, busy workers.
 *
 * On a terminal (PROGRESS_BAR) it redraws one live line about five times a second;
 * otherwise (PROGRESS_LINES, for cron and logs) it prints a whole plain line every
 * `interval` seconds. It only reads: the run's counters (atomics written by the
 * driving thread) and pool_stats_get(), which never blocks dispatch. It is started
 * with every signal blocked, so SIGINT/SIGTERM land in the main thread.
 */
#ifndef IMGPOOL_MONITOR_H
#define IMGPOOL_MONITOR_H

#include <stdatomic.h>
#include <stdint.h>

#include "options.h"
#include "pool.h"
#include "report.h"
#include "trace.h"

/* What the driving thread counts, for the monitor to read. */
typedef struct run_counters {
	_Atomic uint64_t found;     /* files discovered so far */
	_Atomic uint64_t done;      /* thumbnails made */
	_Atomic uint64_t failed;
	_Atomic uint64_t skipped;   /* up to date */
	_Atomic int walk_done;      /* discovery finished: found is the total */
	_Atomic uint64_t total;     /* files the counting walk has seen (count.h) */
	_Atomic int total_known;    /* ... and it has finished: total is this run's */
	_Atomic int stopping;       /* a signal stops the run: no ETA, "stopping" */
} run_counters;

typedef struct monitor monitor;

/* What the workers used, sampled from /proc once a second. */
typedef struct monitor_sample {
	double cpu_pct;        /* pool CPU use over the last second, % of one core; < 0
	                          before the first second (shown "CPU ?") */
	uint64_t rss_total;    /* bytes, all workers now */
	uint64_t rss_peak;     /* bytes, the largest one worker was seen at */
	int cores;             /* CPUs given to this process */
} monitor_sample;

/* mode: PROGRESS_BAR, PROGRESS_LINES or PROGRESS_NONE (resolve AUTO before; NONE
 * still samples, for the summary and the trace). tr may be NULL. NULL on failure to
 * start the thread (the run goes on without progress). */
monitor *monitor_start(progress_mode mode, double interval, const pool *p,
		       const run_counters *c, report *r, trace *tr);

/* Stop and join the thread, fill *last (may be NULL) with the final sample; NULL is
 * a no-op. Prints nothing more. */
void monitor_stop(monitor *m, monitor_sample *last);

/* Format one progress line (exposed for tests). elapsed in seconds. */
void monitor_format(char *buf, size_t len, int bar, const run_counters *c,
		    const pool_stats *s, const monitor_sample *ms, double elapsed);

#endif
