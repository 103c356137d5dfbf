/* SPDX-License-Identifier: MIT */
/*
 * worker.h — private: the child side of a pool worker, and the memory it shares
 * with the parent.
 */
#ifndef POOL_WORKER_H
#define POOL_WORKER_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pool.h"

/*
 * The claim word: who may start which task. Every task record sent to a worker
 * process has a sequence number, its position in what that process was sent (0, 1,
 * 2, ...). The low bits of `claim` hold the sequence number of the next task the
 * worker may start. The worker starts task s only by a compare-and-swap of claim
 * from s to s + 1; the parent takes back every task not started yet by a
 * compare-and-swap from s to the number of tasks it has sent, and pool_interrupt()
 * sets CLAIM_STOP, which makes every later compare-and-swap of the worker fail.
 * So a task is started at most once per sending, never by two workers at once, and
 * once the worker is dead `claim` says exactly which of the tasks it held it had
 * started (those below it), which is what `attempts` counts.
 */
#define CLAIM_STOP ((uint64_t)1 << 63)
#define CLAIM_SEQ (CLAIM_STOP - 1)

/*
 * One per worker slot, in a MAP_SHARED page made before the first fork. The worker
 * also writes which task it is running, so the parent knows which task a crash or
 * a timeout costs. Lock-free atomics only: nothing here can deadlock across
 * processes, and pool_interrupt() may write it from a signal handler.
 */
typedef struct pool_slot_shm {
	_Atomic uint64_t claim;     /* see above */
	_Atomic uint64_t running;   /* id of the task being run; 0 between tasks */
	_Atomic int64_t started_ns; /* CLOCK_MONOTONIC when it started */
	_Atomic int retiring;       /* set by the worker: leaving on purpose (RSS limit) */
	_Atomic int finishing;      /* set by the worker: its finalizer is about to run */
	char pad[64 - 3 * sizeof(uint64_t) - 2 * sizeof(int)];
} pool_slot_shm;

typedef struct worker_args {
	int fd;                 /* this worker's channel */
	pool_slot_shm *shm;     /* this worker's slot */
	pid_t parent;
	pool_init_fn init;
	void *init_arg;
	pool_fini_fn fini;
	size_t max_rss;         /* bytes; 0: no limit */
	size_t max_message;     /* the pool's max_message: no result message's body is
	                           larger (the parent reads no larger one) */
} worker_args;

/* Run the worker: reset the process, run the initializer, serve tasks until EOF.
 * Never returns: leaves through _exit(). */
void imgpool_worker_main(const worker_args *a) __attribute__((noreturn));

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t pool_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
