/* SPDX-License-Identifier: MIT */
/*
 * stop.h — how a run is stopped from outside: INT, TERM and HUP (Ctrl-C,
 * timeout(1), systemd and Slurm, which send TERM or HUP to the whole group).
 *
 * The handler only records, and asks the pool to drain (nginx's rule): the first
 * signal lets the files running now finish, the rest are "interrupted"; a second
 * stops at once. Before the pool runs, the setup notices the first and ends with
 * its summary; a second there gives it SETUP_GRACE_S (stop.c) to do so before the
 * signal's own action ends imgpool. Every signal also makes the answers' pipes
 * non-blocking (sinks.h), so that no stalled reader can hold a stop. An alarm
 * from outside ends imgpool as it always did; SIGPIPE is ignored (a closed pipe
 * is a write error, said as such), and SIGXFSZ too (past RLIMIT_FSIZE a write
 * fails with EFBIG and is reported, rather than killing the run). CONT (fg after
 * Ctrl-Z) goes to the pool, so that the time stopped counts against no --timeout.
 *
 * For the main thread; the other threads block every signal (thread.h).
 */
#ifndef IMGPOOL_STOP_H
#define IMGPOOL_STOP_H

#include "pool.h"

/* Install the handlers: from the very start, so that a TERM in the first
 * milliseconds is a stop with a summary, not a kill. */
void stop_install(void);

/* The signal that asked the run to stop, or 0. */
int stop_signal(void);

/* A second signal came: stop now, wait for nothing (not even the disk). The shape
 * of outsync_wait()'s callback. */
int stop_now(void);

/* The pool runs: signals go to it (pool_interrupt()), one that came during the
 * setup at once, and the setup's grace is over. */
void stop_pool_started(pool *p);

/* The pool has run (the summary is being made): a later signal is only recorded,
 * and its number is the exit code's. */
void stop_pool_done(void);

/* No pool is coming (the setup failed, a dry run, the pool could not start):
 * the setup's grace is over. */
void stop_setup_over(void);

#endif
