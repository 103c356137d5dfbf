/* SPDX-License-Identifier: MIT */
/*
 * thread.h — starting a thread of the parent (the counting walk, the monitor, the
 * fsync threads) beside a pool that forks workers.
 *
 * Two things every such thread needs, in one place:
 * - Every signal blocked: signals go to the main thread, which turns them into a
 *   drain (run.c).
 * - No fork while it starts. A worker forked while a thread of the parent is being
 *   made or is starting inherits the locks that start takes as they were held at
 *   that moment: under ASan (GCC 12's runtime does not guard fork()) its
 *   allocator's, and the worker hung for good at its first allocation or its own
 *   first pthread_create, killed by the task timeout 120 s later (a CI run; 1 in 3
 *   forks in a test that starts two threads and forks at once). So it starts
 *   through pool_thread_start(), which holds the fork gate (pool.h, "Fork
 *   safety") from before pthread_create() until the new thread runs fn.
 *
 * A thread's end is not covered (the runtime's bookkeeping after fn returns): a
 * thread returns only when asked to stop, at the end of the run, once the pool
 * forks no more; one whose work is over before that waits to be asked (count.c).
 */
#ifndef IMGPOOL_THREAD_H
#define IMGPOOL_THREAD_H

#include <pthread.h>
#include <time.h>

/* pthread_create(t, NULL, fn, arg) with the above: 0, or its error number. Not
 * from a thread between pool_nofork_begin() and _end() (a fork waiting then would
 * wait for that thread, which waits for the fork). */
int thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* pthread_cond_init() of a condition variable whose timed waits count on
 * CLOCK_MONOTONIC (a clock set back or forward does not stretch or cut them). */
void thread_cond_init_monotonic(pthread_cond_t *c);

/* CLOCK_MONOTONIC's now plus seconds (>= 0): the deadline of a timed wait on such
 * a condition variable. */
struct timespec thread_deadline(double seconds);

#endif
