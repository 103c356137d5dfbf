/* SPDX-License-Identifier: MIT */
/*
 * pool.h — a crash-proof process pool: the multiprocessing.Pool of C.
 *
 * This header is the whole public contract of libpool. It knows nothing of images.
 *
 * Model
 *   A pool owns N pre-forked worker processes, each with its own channel (an
 *   AF_UNIX SOCK_SEQPACKET socketpair), so the parent always knows which tasks each
 *   worker holds. Tasks and results are byte buffers: the caller serialises. A task
 *   function runs in a worker; it returns a result, or an error message (a task
 *   error). A worker that dies (signal, exit, EOF) or runs past the timeout costs the
 *   task it was running, which is retried on a fresh worker up to `retries` times and
 *   then reported with its cause; the other tasks that worker held are re-queued
 *   uncharged, and a fresh worker takes its place.
 *
 * Threads
 *   A pool is driven by ONE thread (the one that created it): every call below except
 *   pool_stats() and pool_interrupt() must come from that thread. There is no
 *   background thread: work is dispatched and results collected inside the blocking
 *   calls (pool_wait, future wait/get, map, imap next, join), and completion
 *   callbacks run there, in the caller's thread.
 *   pool_stats() may be called from any thread at any time; it never blocks.
 *   pool_interrupt() may be called from a signal handler.
 *
 * Fork safety
 *   Workers are forked from the calling process when the pool is created and when one
 *   must be replaced. Task functions and the initializer run in that fresh child, so
 *   the child may use malloc and stdio (the pool holds the stdio locks of stdin,
 *   stdout and stderr across fork()) and its own state; it must not rely on a lock
 *   that another thread of the parent could hold at the time of the fork (register
 *   pthread_atfork handlers for locks of your own). Do not initialise libraries that
 *   start threads (libvips, glib) in the parent: do it in the initializer.
 *   A worker sees the parent's memory as it was at the moment it was forked; pass
 *   anything that changes later in the task argument.
 *
 * Signals
 *   The library installs no signal handler and reaps only its own children (waitpid
 *   on each worker's pid, never -1). Workers start with default dispositions, SIGINT
 *   and SIGPIPE ignored, an empty signal mask, no core dumps, PR_SET_PDEATHSIG(SIGKILL)
 *   and every inherited descriptor closed except 0, 1, 2 and their own channel. A
 *   worker exits when its channel reaches EOF.
 *
 * Errors
 *   Calls that can fail return -1 (or NULL) and leave a message in pool_error(), a
 *   string owned by the pool and valid until the next call on it. pool_create() gives
 *   its message through *err instead (malloc'd; the caller frees it).
 *   Destroying or freeing NULL is a harmless no-op.
 */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pool pool;
typedef struct pool_future pool_future;
typedef struct pool_iter pool_iter;

/* ------------------------------------------------------------------------- */
/* Byte buffers                                                               */

/* A growable byte buffer. A zeroed pool_buf is empty and valid. Its data is kept
 * NUL-terminated one past len, so text can be read with data directly. */
typedef struct pool_buf {
	char *data;
	size_t len;
	size_t cap;
} pool_buf;

/* Append bytes / formatted text. Return 0, or -1 when out of memory. */
int pool_buf_append(pool_buf *b, const void *data, size_t len);
int pool_buf_printf(pool_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Make room for n more bytes (data + len is then writable for n bytes). */
int pool_buf_reserve(pool_buf *b, size_t n);
/* Free the data and zero the buffer. */
void pool_buf_release(pool_buf *b);

/* ------------------------------------------------------------------------- */
/* Tasks                                                                      */

/*
 * A task function, run in a worker. arg/len are the task's bytes (read-only, valid
 * for the call). state is what the initializer stored (NULL without one). Write the
 * result into *out (empty on entry) and return 0; or write a one-line error message
 * into *out and return non-zero: the task then ends as POOL_ERROR with that message.
 * Function pointers travel to the worker as addresses: pass only functions of this
 * program (workers are forks of it, so the address is valid there).
 */
typedef int (*pool_fn)(const void *arg, size_t len, pool_buf *out, void *state);

/*
 * Initializer, run once in each new worker before its first task. Store anything in
 * *state. Return 0, or non-zero with a message in *err: the pool then stops (see
 * pool_create) instead of respawning workers that cannot start.
 */
typedef int (*pool_init_fn)(void *arg, void **state, pool_buf *err);
/* Finalizer, run in a worker that leaves normally (recycled, closed). */
typedef void (*pool_fini_fn)(void *state);

/* One task's input. arg must stay valid as described by the call that takes it. */
typedef struct pool_task {
	const void *arg;
	size_t len;
} pool_task;

/* How a task ended. */
typedef enum pool_status {
	POOL_PENDING = 0,  /* not finished yet (futures only) */
	POOL_OK,           /* the function returned 0; data holds its result */
	POOL_ERROR,        /* the function returned non-zero; data holds its message */
	POOL_CRASHED,      /* its worker died on every attempt; data holds the cause */
	POOL_TIMEOUT,      /* it ran past the timeout on every attempt */
	POOL_CANCELLED,    /* never ran to the end: pool terminated or interrupted */
} pool_status;

/* The outcome of one task. data is malloc'd and owned by whoever holds the result
 * (release it with pool_result_release); it is NUL-terminated one past len. For
 * every status but POOL_OK, data is a one-line message such as
 * "worker 1 (pid 4242) killed by signal 11 (SIGSEGV) while running task 17" or
 * "timed out after 30 s". */
typedef struct pool_result {
	pool_status status;
	char *data;
	size_t len;
	uint64_t index;     /* the task's position in its map / imap / feed (0-based) */
	uint64_t id;        /* pool-wide task id (1-based), as named in messages */
	int attempts;       /* how many times it was started */
	int worker;         /* slot (0..workers-1) of the last attempt; -1 if never run */
	int pid;            /* pid of the worker of the last attempt; 0 if never run */
	int64_t start_ns;   /* CLOCK_MONOTONIC when the last attempt started; 0 if never */
	int64_t end_ns;     /* ... and when it ended */
} pool_result;

void pool_result_release(pool_result *r);

/* ------------------------------------------------------------------------- */
/* Creation and shutdown                                                      */

/* Things that happen to workers and attempts, for tracing (see pool_options.on_event).
 * Final outcomes are not events: they are the results. */
typedef enum pool_event_kind {
	POOL_EV_SPAWN,     /* a worker process started (initial, replacement or recycle) */
	POOL_EV_EXIT,      /* a worker process ended; cause says how */
	POOL_EV_RETRY,     /* an attempt died (crash, timeout) and the task will run again */
} pool_event_kind;

typedef struct pool_event {
	pool_event_kind kind;
	int worker;          /* slot */
	int pid;
	int64_t at_ns;       /* CLOCK_MONOTONIC */
	const char *cause;   /* EXIT, RETRY: one line; valid during the call */
	int recycled;        /* EXIT: it left as planned (task limit, RSS limit, close) */
	/* RETRY only: the task and its failed attempt */
	uint64_t index, id;
	pool_status status;  /* POOL_CRASHED or POOL_TIMEOUT */
	int64_t start_ns, end_ns;
	int attempt;         /* 1 for the first */
} pool_event;

typedef void (*pool_event_fn)(const pool_event *e, void *data);

typedef struct pool_options {
	int workers;              /* 0: the CPUs this process may run on */
	pool_init_fn init;        /* optional; see pool_init_fn */
	void *init_arg;
	pool_fini_fn fini;        /* optional */
	unsigned max_tasks_per_worker; /* 0: unlimited; else recycle a worker after that many */
	double timeout;           /* seconds per task attempt; 0: none */
	int retries;              /* re-runs after a crash or timeout: 0 -> 1; <0 -> none */
	unsigned prefetch;        /* chunks sent ahead to a worker beyond the running one; 0 -> 1 */
	size_t max_message;       /* largest task or result accepted, bytes; 0 -> 1 GiB */
	size_t max_worker_rss;    /* bytes; 0: none. A worker above it after a task is
	                             recycled before it starts another (nothing is lost) */
	pool_event_fn on_event;   /* optional; called in the driving thread */
	void *event_data;
} pool_options;

/*
 * Start the workers and wait until every one has run its initializer. Returns the
 * pool, or NULL with *err set (malloc'd) when fork fails or an initializer fails
 * ("worker initializer failed: <its message>"). opt may be NULL for all defaults.
 */
pool *pool_create(const pool_options *opt, char **err);

/* No more submissions; work already submitted (and feeds already given) still runs. */
void pool_close(pool *p);

/*
 * Wait until every submitted task has finished (the pool must be closed), then let
 * the workers exit and reap them. Returns 0, or -1 if the pool broke (pool_error).
 */
int pool_join(pool *p);

/*
 * Stop now: kill the workers (SIGKILL), reap them, and end every unfinished task as
 * POOL_CANCELLED (futures become ready, iterators drain with cancelled results).
 * Returns promptly whatever the workers are doing.
 */
void pool_terminate(pool *p);

/*
 * Ask for a drain, from anywhere including a signal handler (async-signal-safe):
 * no new task is started (feeds are no longer read; tasks not yet started end as
 * POOL_CANCELLED "interrupted"), tasks already running finish normally.
 */
void pool_interrupt(pool *p);

/* 1 once pool_interrupt() was called. */
int pool_interrupted(const pool *p);

/* Terminate if still running, then free everything. Outstanding futures and
 * iterators must be freed first. NULL is a no-op. */
void pool_destroy(pool *p);

/* The last error message; never NULL. */
const char *pool_error(const pool *p);

/* Number of worker slots. */
int pool_workers(const pool *p);

/*
 * Run the pool's loop for up to timeout seconds (<0: until something finishes; 0:
 * just poll) so that apply_async callbacks fire without waiting on a future.
 * Returns the number of tasks that finished, or -1 if the pool broke.
 */
int pool_poll(pool *p, double timeout);

/* ------------------------------------------------------------------------- */
/* apply / apply_async                                                        */

typedef void (*pool_done_fn)(pool_future *f, const pool_result *r, void *data);

/*
 * Submit one task. The pool copies arg. done (optional) is called once, from inside a
 * later pool call in the driving thread, when the task has finished; the future is
 * still owned by the caller, who frees it with pool_future_free (also allowed inside
 * done). Returns NULL with pool_error() set when the pool is closed or broken.
 */
pool_future *pool_apply_async(pool *p, pool_fn fn, const void *arg, size_t len,
			      pool_done_fn done, void *data);

/* Blocking apply: run one task and fill *r (caller releases it). Returns 0 when the
 * task finished (whatever its status), -1 with pool_error() when it could not run. */
int pool_apply(pool *p, pool_fn fn, const void *arg, size_t len, pool_result *r);

int pool_future_ready(const pool_future *f);
/* Ready and POOL_OK. */
int pool_future_successful(const pool_future *f);
/* Wait up to timeout seconds (<0: forever). Returns 1 when ready, 0 on timeout,
 * -1 if the pool broke. */
int pool_future_wait(pool_future *f, double timeout);
/* Wait as above; returns the result (owned by the future, valid until it is freed) or
 * NULL on timeout / broken pool. */
const pool_result *pool_future_get(pool_future *f, double timeout);
/* Take the result's data out of the future (the caller owns r->data afterwards). */
int pool_future_take(pool_future *f, pool_result *r);
/* Free the future. An unfinished task still runs; its result is dropped. */
void pool_future_free(pool_future *f);

/* ------------------------------------------------------------------------- */
/* map / map_async                                                            */

/*
 * Run fn over tasks[0..n) and fill results[0..n) in order (caller releases each).
 * chunksize: tasks handed to a worker at once (0: automatic, about n / (4 x workers),
 * as Python chooses). A chunk still answers one result per task, so a crash costs
 * one task. tasks[i].arg must stay valid until the call returns.
 * Returns 0 when every task finished (whatever its status), -1 with pool_error().
 */
int pool_map(pool *p, pool_fn fn, const pool_task *tasks, size_t n, size_t chunksize,
	     pool_result *results);

/* The same without blocking: returns a future that is ready when results[] is full.
 * tasks and results must stay valid until then. Its own pool_result carries status
 * POOL_OK and no data. */
pool_future *pool_map_async(pool *p, pool_fn fn, const pool_task *tasks, size_t n,
			    size_t chunksize, pool_result *results);

/* ------------------------------------------------------------------------- */
/* imap / imap_unordered with a lazy feed                                     */

/*
 * A feed, in the manner of git's run_processes_parallel get_next_task: called when the
 * pool has room for another task. Fill *task and return 1; return 0 when there are no
 * more. The bytes task->arg points to need only stay valid until the next call of the
 * feed (the pool copies them). The pool keeps a bounded number of tasks in memory, so a
 * feed of ten million tasks costs what a few hundred do.
 */
typedef int (*pool_feed_fn)(void *data, pool_task *task);

/* Start an iteration. ordered: results come back in feed order (imap); otherwise in
 * completion order (imap_unordered). */
pool_iter *pool_imap(pool *p, pool_fn fn, pool_feed_fn feed, void *data,
		     size_t chunksize);
pool_iter *pool_imap_unordered(pool *p, pool_fn fn, pool_feed_fn feed, void *data,
			       size_t chunksize);

/* Next result: 1 with *r filled (caller releases it), 0 when the feed is exhausted and
 * every result was returned, -1 if the pool broke (pool_error). */
int pool_iter_next(pool_iter *it, pool_result *r);
/* As pool_iter_next, waiting at most timeout seconds (<0: forever); returns 2 on
 * timeout, so a caller can do other work between results. */
int pool_iter_next_timed(pool_iter *it, pool_result *r, double timeout);

/* Free the iterator; unfinished tasks of it still run and their results are dropped. */
void pool_iter_free(pool_iter *it);

/* ------------------------------------------------------------------------- */
/* Statistics                                                                 */

typedef struct pool_stats {
	int workers;          /* slots */
	int alive;            /* workers running now */
	int busy;             /* workers inside a task now */
	uint64_t submitted;   /* tasks accepted (from calls and feeds) */
	uint64_t queued;      /* accepted, not yet started */
	uint64_t running;     /* started, not finished */
	uint64_t done;        /* finished POOL_OK */
	uint64_t failed;      /* finished otherwise (error, crash, timeout, cancelled) */
	uint64_t retried;     /* attempts re-run after a crash or timeout */
	uint64_t respawned;   /* workers started to replace one (crash, timeout, recycle) */
	uint64_t crashed;     /* workers that died on their own */
	uint64_t recycled;    /* workers retired by max_tasks_per_worker or max_worker_rss */
} pool_stats;

/* A snapshot, from any thread, without blocking dispatch (atomic counters). The
 * fields are read one by one, so they may be a few events apart. */
void pool_stats_get(const pool *p, pool_stats *s);

/* Pids of the workers alive now (for monitoring CPU and memory from /proc). Fills up
 * to n entries, returns how many; any thread. */
int pool_worker_pids(const pool *p, int *pids, int n);

#ifdef __cplusplus
}
#endif

#endif
