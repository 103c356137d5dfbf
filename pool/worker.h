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

#include "pool.h"

/*
 * One per worker slot, in a MAP_SHARED page made before the first fork. The worker
 * writes which task it is running, so the parent knows exactly which task a crash or
 * a timeout costs, even for a chunk of many tasks sent in one message. The parent
 * writes `stop` (from pool_interrupt, async-signal-safe) to keep queued tasks from
 * starting. Lock-free atomics only: nothing here can deadlock across processes.
 */
typedef struct pool_slot_shm {
	_Atomic uint64_t running;   /* id of the task being run; 0 between tasks */
	_Atomic int64_t started_ns; /* CLOCK_MONOTONIC when it started */
	_Atomic int stop;           /* 1: answer queued tasks "cancelled", run none */
	_Atomic int retiring;       /* set by the worker: leaving on purpose (RSS limit) */
	char pad[64 - 2 * sizeof(uint64_t) - 2 * sizeof(int)];
} pool_slot_shm;

typedef struct worker_args {
	int fd;                 /* this worker's channel */
	pool_slot_shm *shm;     /* this worker's slot */
	pid_t parent;
	pool_init_fn init;
	void *init_arg;
	pool_fini_fn fini;
	size_t max_message;
	size_t max_rss;         /* bytes; 0: no limit */
} worker_args;

/* Run the worker: reset the process, run the initializer, serve tasks until EOF.
 * Never returns: leaves through _exit(). */
void worker_main(const worker_args *a) __attribute__((noreturn));

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t pool_now_ns(void);

#endif
