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
 *   then reported with its cause; the other tasks that worker held go back to the
 *   queue uncharged, and a fresh worker takes its place. A worker that holds tasks
 *   but starts none of them within the timeout, and is seen stopped from outside
 *   (SIGSTOP, in /proc), is replaced the same way, charging no task. Time the
 *   process was stopped while it waited in the pool (Ctrl-Z stops the whole group)
 *   counts against no timeout, to within a quarter of a second a stop (a throttle
 *   that stops and continues the group many times a second, as cpulimit does, is
 *   not told from the machine's own delays: those stops count), and wherever the
 *   stop found it (the caller's own code, a result's callback, the pool's turn)
 *   when the caller's SIGCONT handler calls pool_continued(); time
 *   the caller spends away from the pool does count (the workers run meanwhile).
 *
 * Delivery: every task is answered exactly once, run at least once
 *   Every task submitted gets exactly one pool_result, whatever happens to workers:
 *   killed from outside, crashing, hanging, recycled, or killed while they start.
 *   A task may RUN more than once: besides retries after a crash or timeout, a
 *   worker sends its results in batches, so when it dies, the tasks it had finished
 *   but whose results it had not sent yet (at most about a millisecond of work, and
 *   only tasks sent to it with the one that died) run again on another worker. They
 *   are not charged: only the task that was running when the worker died counts
 *   against `retries`. Where the worker died running none (between tasks, or
 *   sending: a task that closed its channel's descriptor), each of those runs
 *   again alone, its result sent as soon as it is made; one lost so 3 more times
 *   is charged as a crash of its own (1.7.1). So do the tasks a worker held when
 *   it sent bytes that are no message (a task that wrote into its channel's
 *   descriptor), where which of them wrote them cannot be told: one that does it
 *   again alone is charged (1.7.5; the running one was, often the healthy task
 *   after the one that wrote them). Bytes that begin like a message and never
 *   end are such bytes once the worker has run no task for 10 s since the last
 *   came (1.7.5; the pool waited for the rest for good), and none waits to be
 *   read (1.7.6: a large result a caller away in its own work for 10 s had not
 *   read on was taken for them, a healthy task crashed). pool_result.attempts counts every start of the task, those
 *   re-runs included, so attempts > 1 on a POOL_OK result says it ran more than
 *   once. Make a task idempotent (write to a temporary name and rename, as imgpool
 *   does) when running twice would matter. A task is never run by two workers at
 *   the same time, and never started after pool_interrupt() returned.
 *
 * Dispatch
 *   Each worker is sent tasks ahead of the one it runs, in batches, so that it never
 *   waits for the parent: how many adapts to how long tasks take (see
 *   pool_options.prefetch). A task sent ahead is not tied to its worker: when
 *   another worker is idle and nothing else is queued, tasks that have not started
 *   are taken back and run there (a lone one as soon as the task ahead of it has
 *   run 8 times the mean task time, and at least a millisecond), so no task waits
 *   behind a slow or hung one while a worker idles. A worker whose task has run
 *   that long is sent nothing more until it finishes.
 *
 * Threads
 *   A pool is driven by ONE thread (the one that created it): every call below except
 *   pool_stats_get(), pool_worker_pids() and pool_interrupt() must come from that
 *   thread. There is no background thread: work is dispatched and results collected
 *   inside the blocking calls (pool_poll, pool_future_wait / get, pool_wait_any,
 *   pool_apply, pool_map, pool_iter_next, pool_join), and completion callbacks run
 *   there, in the caller's thread. Each of them runs the loop at least once, also
 *   with a timeout of 0: a caller may poll that way between its own work.
 *   The pool's callbacks (completion callbacks, on_event, feeds) run inside pool
 *   calls: from them, a call that waits (any of the blocking calls above, a
 *   pool_future_get() of an unfinished future) fails at once with -1 (or NULL),
 *   pool_error() "a pool call that waits was made from one of the pool's own
 *   callbacks", having changed nothing, and the pool goes on (1.7.1). Submitting
 *   (the _async calls), pool_close(), pool_interrupt() and pool_terminate() may
 *   be called from them; pool_destroy() may not. A worker's EXIT event comes
 *   after the RETRY events and results of the tasks its end cost.
 *   pool_stats_get() and pool_worker_pids() may be called from any thread at any
 *   time; they never block. pool_interrupt() may be called from a signal handler.
 *
 * Fork safety
 *   Workers are forked from the calling process when the pool is created and when one
 *   must be replaced. Task functions and the initializer run in that fresh child, so
 *   the child may use stdio (the pool holds the stdio locks of stdin, stdout and
 *   stderr across fork()) and its own state. A child inherits every other lock as the
 *   parent's threads held it at the moment of the fork, the allocator's among them
 *   (glibc's malloc guards its own, ASan's and others do not): a parent that runs
 *   other threads brackets their work, every stretch that allocates or takes a lock,
 *   with pool_nofork_begin() / pool_nofork_end(), and no fork happens in between
 *   (below). A thread's start and end are such stretches too (the runtime sets it
 *   up and tears it down, allocating): start such threads with pool_thread_start(),
 *   and let them end only once the pool forks no more. Do not initialise libraries
 *   that start threads (libvips, glib) in the parent: do it in the initializer.
 *   A worker sees the parent's memory as it was at the moment it was forked; pass
 *   anything that changes later in the task argument.
 *
 * Signals
 *   The library installs no signal handler and reaps only its own children (waitpid
 *   on each worker's pid, never -1). It needs their exit statuses: pool_create()
 *   sets SIGCHLD back to SIG_DFL when it is ignored (SIG_IGN, or SA_NOCLDWAIT,
 *   which make the kernel reap children itself; SIG_DFL ignores it too), as a
 *   parent may leave it through exec, and gives back what it found when the last
 *   pool is destroyed (1.5). Workers start with default dispositions, SIGINT
 *   and SIGPIPE ignored, an empty signal mask, no core dumps, PR_SET_PDEATHSIG(SIGKILL)
 *   and every inherited descriptor closed except 0, 1, 2 and their own channel (the
 *   pool's own descriptors are never 0, 1 or 2, also in a caller that closed
 *   them). A worker exits when its channel reaches EOF, which the pool gives by
 *   shutting the socket down, so a child the caller forks without exec (it holds
 *   copies of the pool's descriptors) keeps no worker alive (1.7.1).
 *   A caller's own SIGCHLD handler that reaps with waitpid(-1) takes workers'
 *   exit statuses: a worker that then ends inside a task is POOL_CRASHED with
 *   term_signal -1, and one the pool let go with no task ends as a planned exit
 *   (recycled, or let go by pool_join), not a crash (1.7.1). The pool signals and
 *   waits for a worker through its pidfd (Linux 5.4; by pid without one, as
 *   under valgrind), so a child the caller forks after such a reaping, given the
 *   worker's number, is neither signalled, waited for nor reaped by the pool
 *   (1.7.7).
 *
 * Errors
 *   Calls that can fail return -1 (or NULL) and leave a message in pool_error(), a
 *   string owned by the pool and valid until the next call on it. A call refused
 *   because of the pool's state leaves exactly "closed", "interrupted",
 *   "terminated" or "broken: <cause>", and pool_get_state() gives the same as an
 *   enum. pool_create() gives its message through *err instead (malloc'd; the caller
 *   frees it).
 *   A pool breaks when it cannot keep workers alive: an initializer returned an
 *   error, or 3 workers in a row failed to start on their own (a fault signal such
 *   as SIGSEGV or SIGABRT, an exit, the start timeout), or fork failed as often;
 *   or 20 workers in a row were killed while starting by a signal from outside
 *   (SIGKILL, SIGTERM, any but those faults; also one stopped from outside, SIGSTOP,
 *   past the start timeout: 1.7.1; also one whose end a SIGCHLD handler of the caller's
 *   took, which cannot be told from those: 1.7.7), which says only that someone is
 *   killing them. (The kernel's OOM killer and a cgroup's memory limit kill with
 *   SIGKILL too: an initializer that runs out of memory every time is tried those
 *   20 times.) No worker is ready or starting in between; the tries are apart by a backoff
 *   of 10 ms doubled each time, at most 1 s (the 20 kills: about 15 s of tries).
 *   While another worker is ready, or still starting (1.7.2: -j4 under a process
 *   limit with room for one worker broke as the three other first forks failed at
 *   once, that one about to be ready), failed starts never break the pool: it goes on
 *   with the workers it has and tries the empty slot again every second (a
 *   descriptor or process limit that others' use reaches: ulimit -n, -u); the
 *   count in a row goes on, so that once no worker is ready or starting the next
 *   failure breaks it.
 *   Then every unfinished task ends POOL_CANCELLED with "broken: <cause>", and every
 *   later call returns -1 / NULL (pool_iter_next: -1 once the results already
 *   delivered are taken; never 0).
 *   Every function accepts NULL for the pool, future, iterator or buffer it works
 *   on: it then does nothing and returns -1, NULL or 0 (pool_error(NULL) says
 *   "no pool"). Destroying or freeing NULL is a harmless no-op.
 *
 * ABI
 *   POOL_VERSION below is the version of this header; pool_version() that of the
 *   library running. Within one major version, structures only grow, and old
 *   callers keep working:
 *   - pool_options, which the caller fills, is versioned by its size: pool_create()
 *     is a macro that passes sizeof(pool_options) as the caller compiled it to
 *     pool_create_sized(). Fields are only added at the end, and a field the caller
 *     did not know of takes its default (0 always means the default).
 *   - pool_result and pool_stats, which the library fills in the caller's memory,
 *     keep their size: new fields take their reserved space, which an older library
 *     leaves 0.
 *   - pool_event, which the library lends to a callback, only grows at its end.
 *   - enums only gain values at their end.
 */
#ifndef POOL_H
#define POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version has its home here: cmake/install.cmake reads these three
 * lines for the SONAME (libimgpool-pool.so.MAJOR; the Debian package
 * libimgpool-pool<MAJOR> follows) and the Version of imgpool-pool.pc. */
#define POOL_VERSION_MAJOR 1
#define POOL_VERSION_MINOR 7
#define POOL_VERSION_PATCH 9
/* One number that grows: 10200 for 1.2.0 (1.2: POOL_FEED_LATER, pool_thread_start). */
#define POOL_VERSION (POOL_VERSION_MAJOR * 10000 + POOL_VERSION_MINOR * 100 + \
		      POOL_VERSION_PATCH)

/* The library's POOL_VERSION (it may be newer than the header a program was built
 * with; the same major version is compatible). */
int pool_version(void);

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

/* Append bytes / formatted text. Return 0, or -1 when out of memory (or b is
 * NULL). data may be NULL when len is 0. */
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
 * *state. Return 0, or non-zero with a message in *err: the pool then breaks at once
 * ("broken: worker initializer failed: <message>") instead of respawning workers
 * that cannot start. A worker that dies or times out in its initializer is replaced
 * (see Errors above).
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
	POOL_CANCELLED,    /* did not run to the end: data says "interrupted",
	                      "terminated", "cancelled" or "broken: <cause>" */
} pool_status;

/* The outcome of one task. data is malloc'd and owned by whoever holds the result
 * (release it with pool_result_release); it is NUL-terminated one past len. For
 * POOL_ERROR it holds what the task wrote, as it wrote it ("(no message)" where it
 * wrote nothing); for every other status but POOL_OK, a one-line message such as
 * "worker 1 (pid 4242) killed by signal 11 (SIGSEGV) while running task 17" or
 * "timed out after 30 s". */
typedef struct pool_result {
	pool_status status;
	char *data;
	size_t len;
	uint64_t index;     /* the task's position in its map / imap / feed (0-based) */
	uint64_t id;        /* pool-wide task id (1-based), as named in messages */
	int attempts;       /* how many times it was started, re-runs included (see
	                       Delivery above); 0 if it never started */
	int worker;         /* slot (0..workers-1) of the last attempt; -1 if never run */
	int pid;            /* pid of the worker of the last attempt; 0 if never run */
	int64_t start_ns;   /* CLOCK_MONOTONIC when the last attempt started; 0 if never */
	int64_t end_ns;     /* ... and when it ended */
	int term_signal;    /* POOL_CRASHED: the signal that ended the worker of the last
	                       attempt (9 from an OOM killer or an operator, 11 from a
	                       crash ...), 0 when it exited, -1 when how is not known
	                       (another waitpid() of the process took its status: 1.5);
	                       always 0 otherwise */
	int reserved_int;   /* for a field of a later version; 0 */
	uint64_t reserved[2]; /* for fields of later versions; 0 */
} pool_result;

/* Free r->data and zero it. NULL is a no-op. */
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
	/* EXIT only (since 1.1): 1 when it ended before it was ready (in fork, in
	 * its initializer, or killed then); such a start is retried after a backoff */
	int while_starting;
} pool_event;

typedef void (*pool_event_fn)(const pool_event *e, void *data);

/* Options. Zero every field you do not set (a designated initializer does): 0 is
 * the default everywhere. */
typedef struct pool_options {
	int workers;              /* 0: the CPUs this process may run on */
	pool_init_fn init;        /* optional; see pool_init_fn */
	void *init_arg;
	pool_fini_fn fini;        /* optional */
	unsigned max_tasks_per_worker; /* 0: unlimited; else recycle a worker after that many */
	double timeout;           /* seconds per task attempt; 0: none */
	int retries;              /* re-runs after a crash or timeout: 0 -> 1; <0 -> none */
	/* Tasks sent to a worker ahead of the one it runs.
	 *   0 (default): automatic, from the measured task time: about 5 ms of work
	 *     ahead, at least one task and at most 256, sent in batches of up to 64
	 *     (no-op tasks: 256 ahead; 1 ms tasks: 5; 100 ms tasks: 1). With tasks
	 *     that have not started taken back for idle workers (see Dispatch), this
	 *     is right for nearly every use.
	 *   n > 0: n chunks ahead (Python's Pool sends ahead without bound).
	 *   < 0: none: a worker is sent its next chunk only when it has answered the
	 *     last. */
	int prefetch;
	size_t max_message;       /* largest task or result accepted, bytes; 0 -> 1 GiB.
	                             A larger task or result ends its task POOL_ERROR
	                             ("task argument/result over the pool's message
	                             size limit"); results within it always pass */
	size_t max_worker_rss;    /* bytes; 0: none. A worker above it after a task is
	                             recycled before it starts another (nothing is lost).
	                             Its own memory is counted: resident pages no other
	                             process maps (1.7.3; before, also the pages it still
	                             shares with the parent it was forked from) */
	pool_event_fn on_event;   /* optional; called in the driving thread */
	void *event_data;
	/* --- since 1.1 --- */
	double init_timeout;      /* seconds for a new worker to become ready (fork and
	                             initializer); 0: the task timeout; <0: none. One
	                             that takes longer is killed: a failed start */
	int min_ready;            /* pool_create returns once this many workers are
	                             ready, the others finish starting while tasks run
	                             (0: all of them; < 0, since 1.7: none, it returns
	                             once they are forked: see pool_wait_ready()) */
} pool_options;

/*
 * Start the workers and wait until min_ready of them (default: all) have run their
 * initializer, or until starting more has failed 3 times in a row while some are
 * ready (no descriptor or process left under the caller's limits, say: the pool
 * then runs with those and tries the others again now and then; 1.7.1).
 * Returns the pool, or NULL with *err set (malloc'd) when the pool
 * broke while starting ("worker initializer failed: <its message>", or the cause of
 * the last of 3 failed starts). opt may be NULL for all defaults; err may be NULL.
 * pool_create is a macro (see ABI above); the function of that name, for bindings
 * that cannot use it, assumes this header's pool_options.
 */
pool *pool_create_sized(const pool_options *opt, size_t opt_size, char **err);
pool *pool_create(const pool_options *opt, char **err);
#define pool_create(opt, err) pool_create_sized((opt), sizeof(pool_options), (err))

/*
 * Wait until n workers are ready (n <= 0, or more than the pool has: all of them),
 * the pool broke, or pool_interrupt() was called: pool_create's own wait, for a
 * pool created with min_ready < 0. Unlike that wait, a signal handler can end this
 * one (pool_interrupt() needs the pool, which pool_create had not returned yet):
 * workers that take long to start, or are stopped from outside as they start,
 * keep no stop waiting. Returns 0 when n are ready, else -1 (pool_error: "broken:
 * <cause>", the cause pool_create would have given, "interrupted", or, when
 * starting more has failed 3 times in a row and none is still starting, "only K
 * of N workers ready; starting more fails: <cause>" (1.7.1; since 1.7.5 it waits
 * for one still starting, as under a process limit with room for one)). Since 1.7.
 */
int pool_wait_ready(pool *p, int n);

/* No more submissions; work already submitted (and feeds already given) still runs. */
void pool_close(pool *p);

/*
 * Wait until every submitted task has finished (the pool must be closed), then let
 * the workers exit and reap them. A worker that does not exit is killed where it is
 * seen stopped from outside: before its finalizer, in a job-control stop (SIGSTOP)
 * at every look (10 a second) for 2 s, or in a trace stop (a debugger's) at every
 * look for the task timeout (none: never) (1.7.8: a tracer's and a throttle's short
 * stops are no hold; it was one look after the task timeout, or 2 s without one:
 * a worker stopped between tasks or as it started held the join that long with
 * every task answered); in its finalizer, at the task timeout (2 s without one);
 * or 2 s after pool_interrupt(). A finalizer at work is waited for, an initializer
 * only for its init_timeout (1.7.1). Returns 0, or -1 if
 * the pool broke or was not closed (pool_error). After pool_terminate it returns 0 at once (as Python's
 * terminate() then join(): the workers are already reaped). The feed of an iterator still open is
 * read to its end, its results kept (beyond the usual bound) until they are taken
 * or the iterator is freed.
 */
int pool_join(pool *p);

/*
 * Stop now: kill the workers (SIGKILL), reap them, and end every unfinished task as
 * POOL_CANCELLED "terminated" (futures become ready, iterators drain with cancelled
 * results). Returns promptly whatever the workers are doing.
 */
void pool_terminate(pool *p);

/*
 * Ask for a drain, from anywhere including a signal handler (async-signal-safe): no
 * task starts after it returns (feeds are no longer read; tasks not started end as
 * POOL_CANCELLED "interrupted"), tasks already running finish normally. A running
 * task whose worker then dies with a retry left, or is seen stopped from outside by
 * job control (twice, 0.1 s apart; not a debugger's trace stop), ends
 * POOL_CANCELLED "interrupted" too (it would run again, or hold the drain).
 */
void pool_interrupt(pool *p);

/* 1 once pool_interrupt() was called. */
int pool_interrupted(const pool *p);

/*
 * Say that the process was continued after a stop: call it from a SIGCONT handler
 * (async-signal-safe). The time since the pool's loop last ran then counts against
 * no deadline, as a stop inside the pool's own wait never does: a Ctrl-Z (it stops
 * the whole group, workers too) that finds the caller busy elsewhere would
 * otherwise time out the tasks then running once the process goes on. Since 1.6.
 */
void pool_continued(pool *p);

/* Terminate if still running, then free everything. Outstanding futures and
 * iterators must be freed first. NULL is a no-op. */
void pool_destroy(pool *p);

/* The last error message; never NULL. */
const char *pool_error(const pool *p);

/* What the pool can still do, most serious first: a broken pool is also closed. */
typedef enum pool_state {
	POOL_RUNNING = 0,    /* takes submissions */
	POOL_CLOSED,         /* pool_close(): runs what it has, takes nothing new */
	POOL_INTERRUPTED,    /* pool_interrupt(): starts nothing new */
	POOL_TERMINATED,     /* pool_terminate() or pool_destroy() */
	POOL_BROKEN,         /* see Errors; pool_error() gives the cause */
} pool_state;

/* The pool's state (POOL_BROKEN for NULL). */
pool_state pool_get_state(const pool *p);

/* Number of worker slots. */
int pool_workers(const pool *p);

/*
 * Run the pool's loop for up to timeout seconds (<0: until something finishes or
 * nothing is left to run; 0: just poll) so that apply_async callbacks fire without
 * waiting on a future. Returns the number of tasks that finished, or -1 if the pool
 * broke.
 */
int pool_poll(pool *p, double timeout);

/* ------------------------------------------------------------------------- */
/* apply / apply_async                                                        */

typedef void (*pool_done_fn)(pool_future *f, const pool_result *r, void *data);

/*
 * Submit one task. The pool copies arg (which may be NULL when len is 0). done
 * (optional) is called once, from inside a later pool call in the driving thread,
 * when the task has finished; the future is still owned by the caller, who frees it
 * with pool_future_free (also allowed inside done). Returns NULL with pool_error()
 * set when the pool is closed, interrupted, terminated or broken.
 */
pool_future *pool_apply_async(pool *p, pool_fn fn, const void *arg, size_t len,
			      pool_done_fn done, void *data);

/* Blocking apply: run one task and fill *r (caller releases it). Returns 0 when the
 * task finished (whatever its status), -1 with pool_error() when it could not run
 * or the pool broke before it finished (*r is then empty). */
int pool_apply(pool *p, pool_fn fn, const void *arg, size_t len, pool_result *r);

int pool_future_ready(const pool_future *f);
/* Ready and POOL_OK. */
int pool_future_successful(const pool_future *f);
/* Wait up to timeout seconds (<0 or INFINITY: forever). Returns 1 when ready (also when the
 * task was cancelled: its result says why), 0 on timeout, -1 if the pool broke
 * before the future was ready or f is NULL. */
int pool_future_wait(pool_future *f, double timeout);
/* Wait as above; returns the result (owned by the future, valid until it is freed) or
 * NULL on timeout / broken pool. */
const pool_result *pool_future_get(pool_future *f, double timeout);
/* Take the result's data out of the future (the caller owns r->data afterwards).
 * Returns 0, or -1 when the future is not ready. */
int pool_future_take(pool_future *f, pool_result *r);
/*
 * Cancel what has not started, as concurrent.futures' Future.cancel(): when no task
 * of the future has started yet, none will; the future becomes ready with
 * POOL_CANCELLED "cancelled" (a map_async future: every result so) and its callback
 * runs. Returns 1 then, 0 when a task of it has started or finished (nothing
 * changes), -1 for NULL.
 */
int pool_future_cancel(pool_future *f);
/* Free the future. An unfinished task still runs; its result is dropped. */
void pool_future_free(pool_future *f);

/*
 * Wait until one of the futures fs[0..n) is ready, as concurrent.futures.wait(...,
 * FIRST_COMPLETED): returns 1 with *index set to the lowest ready one, 0 on timeout
 * (<0: wait forever), -1 if the pool broke first or there is no future to wait for.
 * NULL entries are skipped, so setting fs[i] = NULL after taking future i makes a
 * loop over it an as_completed(). All futures must belong to the same pool.
 */
int pool_wait_any(pool_future *const *fs, size_t n, double timeout, size_t *index);

/* ------------------------------------------------------------------------- */
/* map / map_async                                                            */

/*
 * Run fn over tasks[0..n) and fill results[0..n) in order (caller releases each).
 * chunksize: tasks always handed to a worker together (0: 1; the pool batches short
 * tasks by itself, so a larger chunk is only for tasks that belong together). A
 * chunk still answers one result per task, so a crash costs one task.
 * tasks[i].arg must stay valid until the call returns.
 * Returns 0 when every task finished (whatever its status); -1 with pool_error()
 * when it could not start (results all empty) or the pool broke (every result is
 * filled, the unfinished ones POOL_CANCELLED "broken: <cause>"). Release each
 * result in either case.
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
 * pool has room for another task. Fill *task and return POOL_FEED_TASK (1); return
 * POOL_FEED_END (0) when there are no more. The bytes task->arg points to need only
 * stay valid until the next call of the feed (the pool copies them). The pool keeps a
 * bounded number of tasks in memory, so a feed of ten million tasks costs what a few
 * thousand do.
 *
 * A feed whose next task depends on input that has not come yet (a list read from a
 * pipe, one line per task) returns POOL_FEED_LATER (2) rather than blocking: the pool
 * sends the tasks it has, goes on with their results, and asks again once the
 * descriptor given to pool_iter_wait_fd() is readable (or hung up), or, with none, in
 * about 10 ms. Such a feed must take what is readable each time it is asked (or the
 * pool asks again at once, in a loop). A feed may also block, but then the tasks of
 * the dispatch pass that called it go out only once it returns: a feed that waits long
 * holds back what it gave just before.
 */
enum { POOL_FEED_END = 0, POOL_FEED_TASK = 1, POOL_FEED_LATER = 2 };
typedef int (*pool_feed_fn)(void *data, pool_task *task);

/* Start an iteration. ordered: results come back in feed order (imap); otherwise in
 * completion order (imap_unordered). chunksize as for pool_map, at most 65536 (a
 * larger one is taken as that). NULL with pool_error() set when fn or feed is NULL,
 * as every submission refuses a NULL fn. */
pool_iter *pool_imap(pool *p, pool_fn fn, pool_feed_fn feed, void *data,
		     size_t chunksize);
pool_iter *pool_imap_unordered(pool *p, pool_fn fn, pool_feed_fn feed, void *data,
			       size_t chunksize);

/* Next result: 1 with *r filled (caller releases it), 0 when the feed is exhausted and
 * every result was returned, -1 if the pool broke (pool_error), once every result
 * delivered before (and the "broken" cancellations) was returned. */
int pool_iter_next(pool_iter *it, pool_result *r);
/* As pool_iter_next, waiting at most timeout seconds (<0 or INFINITY: forever); returns 2 on
 * timeout, so a caller can do other work between results. */
int pool_iter_next_timed(pool_iter *it, pool_result *r, double timeout);

/* The descriptor its feed waits on when it returns POOL_FEED_LATER (-1: none, the
 * default). The caller keeps it open while the iterator can still call its feed (one
 * closed meanwhile is dropped: the feed is then asked again every ~10 ms). */
void pool_iter_wait_fd(pool_iter *it, int fd);

/* Free the iterator; unfinished tasks of it still run and their results are dropped. */
void pool_iter_free(pool_iter *it);

/* ------------------------------------------------------------------------- */
/* Statistics                                                                 */

typedef struct pool_stats {
	int workers;          /* slots */
	int alive;            /* worker processes running now (ready or starting) */
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
	/* since 1.1 */
	uint64_t failed_starts; /* workers that died or timed out before they were ready */
	uint64_t reruns;      /* finished tasks run again because their worker died
	                         before sending the result (see Delivery) */
	uint64_t taken_back;  /* tasks sent ahead and taken back unstarted, to run on an
	                         idle worker */
	uint64_t reserved[5]; /* for fields of later versions; 0 */
} pool_stats;

/* The fork gate (see "Fork safety"). Between begin and end, no fork() happens in
 * this process: a fork that comes waits for every thread to reach end, and a begin
 * while a fork waits or runs waits for it (forks come first, so a thread that
 * begins again at once cannot keep a respawn waiting). From any thread but never
 * around a fork of its own or a call on a pool (both would wait for themselves);
 * keep blocking waits (sleeps, poll, condition waits) outside. Not nested (a fork
 * waiting between the two begins would wait for the thread that waits for it).
 * Any fork in the process is gated (pthread_atfork), not only the pool's.
 * Since 1.1. */
void pool_nofork_begin(void);
void pool_nofork_end(void);

/* pthread_create(t, NULL, fn, arg) inside the fork gate: begun here, ended by the
 * new thread before it calls fn, so that no fork catches the runtime setting the
 * thread up (under ASan a worker forked then hung at its first allocation). 0, or
 * pthread_create()'s error number (ENOMEM when the gate's note cannot be made).
 * The new thread's signal mask is the caller's. Not from a thread inside the gate
 * (a waiting fork would wait for it). Since 1.2. */
int pool_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* A snapshot, from any thread, without blocking dispatch (atomic counters). The
 * fields are read one by one, so they may be a few events apart; but done + failed
 * never exceeds submitted. */
void pool_stats_get(const pool *p, pool_stats *s);

/* Pids of the workers alive now (for monitoring CPU and memory from /proc). Fills up
 * to n entries, returns how many; any thread. */
int pool_worker_pids(const pool *p, int *pids, int n);

#ifdef __cplusplus
}
#endif

#endif
