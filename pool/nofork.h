/* SPDX-License-Identifier: MIT */
/*
 * nofork.h — the pool's own side of the fork gate (pool_nofork_begin/end are the
 * public side, in pool.h).
 *
 * spawn() holds the gate from before it takes the stdio locks until after fork():
 * a thread between pool_nofork_begin() and _end() may be waiting for one of those
 * locks, so the gate comes first. While this thread holds it, the gate's
 * pthread_atfork handlers leave it alone; in the child the gate is fresh.
 */
#ifndef POOL_NOFORK_H
#define POOL_NOFORK_H

/* Wait until no thread is inside, then keep every thread out. */
void imgpool_nofork_hold(void);
/* Let them in again (the parent, after fork()). */
void imgpool_nofork_release(void);

#endif
