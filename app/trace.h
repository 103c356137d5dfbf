/* SPDX-License-Identifier: MIT */
/*
 * trace.h — what each worker did when: a Chrome Trace Event Format file (--trace,
 * opens in Perfetto's UI and chrome://tracing) and an SVG Gantt chart (--timeline).
 *
 * The trace streams to "<path>.tmp" as events arrive and is renamed into place by
 * trace_close(), so a trace file is always whole JSON. The timeline keeps 24 bytes
 * per task attempt in memory and is drawn at trace_close(). Timestamps are
 * CLOCK_MONOTONIC nanoseconds (the pool's and the workers' clock) and are written
 * relative to the run's start.
 *
 * Thread-safety: every function may be called from any thread (the monitor adds
 * counters while the main thread adds attempts).
 */
#ifndef IMGPOOL_TRACE_H
#define IMGPOOL_TRACE_H

#include <stdint.h>

typedef struct trace trace;

typedef enum {
	TRACE_OK, TRACE_ERROR, TRACE_CRASHED, TRACE_TIMEOUT, TRACE_CANCELLED,
} trace_status;

/* json_path and/or svg_path (either may be NULL), written by sidefile.h's rules:
 * each whole, in place at trace_close(); never through a symlink; an existing
 * file only if it is an earlier trace or SVG (checked here for both). NULL with
 * msg on failure. */
trace *trace_open(const char *json_path, const char *svg_path, int64_t t0_ns, int workers,
		  char *msg, size_t msglen);

/* One task attempt on worker slot `worker`. args_json: extra members for the event's
 * "args" object, already JSON ("\"input\":\"a.jpg\",..."), or NULL. */
void trace_attempt(trace *t, int worker, int pid, int64_t start_ns, int64_t end_ns,
		   const char *name, trace_status st, const char *args_json);

/* A moment on a worker's track: "worker died", "respawn", "retry", "recycled". */
void trace_instant(trace *t, int worker, int64_t at_ns, const char *name, const char *cause);

/* A counter track sample ("busy workers", "queued tasks", "worker RSS MB"). */
void trace_counter(trace *t, const char *name, int64_t at_ns, double value);

/* Finish: close the JSON (rename into place) and draw the SVG. end_ns: the run's end.
 * 0, or -1 with msg when a file could not be written. NULL is a no-op. */
int trace_close(trace *t, int64_t end_ns, const char *title, char *msg, size_t msglen);

#endif
