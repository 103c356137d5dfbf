/* SPDX-License-Identifier: MIT */
/*
 * pool_testlib.h — what the pool's test programs share: a page of memory the
 * workers see (they are forks, so a MAP_SHARED page made before any pool is common
 * to all), one task function whose behaviour is in its argument, an initializer
 * driven the same way, and checks on what a pool leaves behind.
 */
#ifndef POOL_TESTLIB_H
#define POOL_TESTLIB_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include <pthread.h>

#include "pool.h"

#define TL_NTASKS 20000 /* task indexes the per-task counters cover */

typedef struct test_shared {
	_Atomic int starts[32];      /* per behaviour: attempts started */
	_Atomic int victim_pid;      /* set by the task waiting to be killed from outside */
	_Atomic int release;         /* B_WAIT tasks return once this is non-zero */
	_Atomic uint64_t hold_above; /* B_SQUARE of a larger value waits as B_WAIT does
	                                (0: none); a refusing initializer releases it */
	_Atomic int running_now;     /* B_WAIT / B_ONCE tasks running at this moment */
	_Atomic int overlap;         /* a task index was running twice at once */
	_Atomic int running_pid;     /* the last worker that started a task */
	_Atomic int between_pid;     /* a worker that ended a task and started no other */
	_Atomic int waiting_pid;     /* a worker inside a B_WAIT task now (0: none) */
	_Atomic int returning_pid;   /* a worker whose task has made its result (0: none) */
	/* the initializer (tl_init) */
	_Atomic int inits;           /* runs started */
	_Atomic int init_gen_seen;   /* highest tl_gen of a worker that ran a task */
	_Atomic int init_fail_after; /* returns an error once inits exceeds this (0: never) */
	_Atomic int init_crash_first; /* the first this many runs crash (SIGSEGV) */
	_Atomic int init_crash_after; /* runs past this many crash (SIGSEGV) while it is
	                                 set (0: never) */
	_Atomic int init_hang_first; /* the first this many runs hang */
	_Atomic int init_slow_first_ms; /* the first run takes this long to start */
	_Atomic int init_hold;       /* runs after the first wait while this is set
	                                (before they fail, if they are to fail) */
	_Atomic int init_pid;        /* the pid inside the initializer, when held */
	_Atomic int begun[TL_NTASKS]; /* per task index: times started */
	_Atomic int runs[TL_NTASKS];  /* per task index: times run to the end */
	_Atomic int now[TL_NTASKS];   /* per task index: running at this moment */
} test_shared;

extern test_shared *sh;

enum behaviour {
	B_SQUARE = 0, /* value * value, 8 bytes */
	B_SEGV, B_ABORT, B_EXIT3, B_HANG, B_VICTIM, B_ERROR, B_GARBAGE, B_TRUNCATED,
	B_PID,        /* its worker's pid */
	B_BIG,        /* value bytes of a known pattern */
	B_EMPTY,      /* an empty result */
	B_SLEEP_MS,   /* sleeps param ms, returns value */
	B_PRINT,      /* stdio and malloc in the worker, returns value */
	B_ECHO,       /* returns value */
	B_HOG,        /* grows by 200 MB and keeps it; returns its pid */
	B_WAIT,       /* waits for sh->release, then returns value */
	B_CRASH_ONCE, /* crashes (the way param says: 0 SIGSEGV, 1 abort, 2 _exit(3))
		       * on its first start, then returns value * value */
	B_SPIN_MS,    /* spins for param ms of its own CPU time (a stop pauses that, as
		       * it pauses real work), returns value */
	B_COUNT
};

/* A task's argument: what to do, a parameter, and the task's index (value). */
typedef struct job_arg {
	uint32_t behaviour;
	uint32_t param;
	uint64_t value;
} job_arg;

/* The one task function of the tests. Every behaviour counts its start in
 * sh->starts and, for value < TL_NTASKS, sh->begun[value] first thing, and
 * sh->runs[value] when it returns. */
int tl_task(const void *arg, size_t len, pool_buf *out, void *state);
/* The initializer: its argument says nothing; sh->init_* drive it (see above). It
 * stores (void *)0x1234 as the state. */
int tl_init(void *arg, void **state, pool_buf *err);
/* Returns the state the initializer stored. */
int tl_state_task(const void *arg, size_t len, pool_buf *out, void *state);

static inline job_arg J(int behaviour, uint64_t value)
{
	return (job_arg){(uint32_t)behaviour, 0, value};
}

/* Spin for ms of the calling thread's CPU time (a stop pauses it, as it pauses
 * real work). */
void tl_spin_ms(long ms);
pool *tl_make_pool(int workers, double timeout, int retries, unsigned max_tasks);
void tl_reset_shared(void);
int64_t tl_now_ns(void);
int tl_count_fds(void);
/* No child of ours is left, zombie or alive. */
void tl_assert_no_children(void);
/* The 8-byte result of B_SQUARE / B_CRASH_ONCE for index i. */
void tl_check_square(const pool_result *r, uint64_t i);
/* n B_SQUARE tasks of 0..n-1: args[i] and t[i] pointing at it. */
void tl_square_tasks(job_arg *args, pool_task *t, int n);
/* pool_apply() of one B_SQUARE task of value i on p: it must return 0 with the
 * square right; the result is released. */
void tl_apply_square(pool *p, uint64_t i);
/* pool_map() of n B_SQUARE tasks (values 0..n-1, chunks of 1) on p: it must
 * return 0 with every square right; the results are released. */
void tl_map_squares(pool *p, int n);
/* pool_thread_start(t, fn, arg), failing the test when it fails. */
void tl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Map the shared page and run the tests whose name matches argv[1] (a glob; all by
 * default). */
int tl_run(const char *group, int argc, char **argv, const struct CMUnitTest *tests,
	   size_t n);

#endif
