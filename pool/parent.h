/* SPDX-License-Identifier: MIT */
/*
 * parent.h — private: the parent side's own types, and what its files
 * share. pool.h is the contract; nothing here is installed.
 *
 * Shape (nginx's master cycle, git's run_processes_parallel):
 *   loop_once() (loop.c) is the only place that waits. It dispatches what it can,
 *   polls every worker's channel and pidfd plus a self-pipe written by
 *   pool_interrupt(), with the nearest deadline as the timeout, then reads results,
 *   reaps dead workers and kills the ones past their deadline. Every blocking call
 *   is loop_once() until its condition holds.
 *
 * Bookkeeping that makes crashes cheap and exact:
 *   - each worker holds a FIFO of the tasks sent to it (`held`), each with its
 *     sequence number at that worker; it answers them in order, so each result must
 *     match the head of that FIFO (anything else is a protocol violation);
 *   - the claim word in shared memory (worker.h) says which of them it has started,
 *     and the worker writes the id of the one it runs: when it dies, the parent
 *     charges exactly that one, counts a start for the ones finished but not yet
 *     answered (they run again), and puts them and the unstarted ones back at the
 *     front of the queue uncharged;
 *   - the same claim word lets the parent take back tasks that have not started,
 *     for an idle worker, without any chance that both run them.
 *
 * Speed: short tasks travel in batches both ways (about 64 per message), a worker
 * keeps several batches in flight so it never waits for the parent, and the parent
 * reads the clock once per wake-up, never per task.
 *
 * The files, each using only those listed before it (no file calls back up):
 *   state.c      the pool's state (pool_state) and the message a refusal gives
 *   jobs.c       tasks and jobs: the lists, producing tasks from a job's source,
 *                delivering each result to its sink (future, map array, iterator)
 *   interrupt.c  pool_interrupt(): a stop asked, and the tasks it cancels
 *   children.c   the worker processes: start, kill, take tasks back, the end of
 *                one and what it costs, breaking and terminating the pool
 *   channel.c    what crosses the channels: batches of tasks out (dispatch),
 *                results in
 *   deadlines.c  time: task and start timeouts, lingering workers, and the time
 *                the process was stopped (pool_continued())
 *   loop.c       loop_once(): one turn of waiting, reading and reaping
 *   submit.c     apply, map and imap: jobs in, results out (futures, iterators)
 *   pool.c       create, close, join, destroy; state and statistics
 * (worker.c is the child side, wire.c the framing, buf.c pool_buf, nofork.c the
 * fork gate.)
 *
 * Names: a function one of these files shares with another is given the project
 * prefix below (#define x imgpool_pool_x), as libjpeg's jpegint.h names its
 * modules' entry points. libimgpool-pool.map keeps them out of the shared
 * library; the static archive cannot hide them, and a program's own deliver()
 * or dispatch() must not meet them at link time.
 */
#ifndef POOL_PARENT_H
#define POOL_PARENT_H

#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pool.h"
#include "wire.h"
#include "worker.h"

/* kill_worker()'s task for a kill that is no task's doing (no task id is this). */
#define KILL_CHARGES_NONE UINT64_MAX
/* ... for one that is the doing of one of the tasks it started, not known which:
 * none is charged, and each started one runs again isolated (below), where a
 * second such loss is its own. */
#define KILL_ISOLATE (UINT64_MAX - 1)
/* A finished task whose result died with its worker runs again uncharged
 * (pool.h, Delivery). When the worker died running no task (between tasks, or
 * sending), the task is isolated: sent alone from then on, the worker sending
 * what it holds before it runs and its result right after, so a loss then is its
 * own. This many such: once more, and it is charged as if it was running. A task
 * whose result its worker cannot send (one that closes the channel's descriptor)
 * re-ran, with a fresh worker each time, for ever; counted without isolation, the
 * healthy tasks run after it in its batch were charged with it. One lost with a
 * worker that died in a later task is that task's doing, and never charged. */
#define LOST_RESULTS_MAX 3
/* A worker that closed its channel but lives on is killed after this long. */
#define LINGER_NS ((int64_t)2 * 1000 * 1000 * 1000)
/* After a stop was asked, or once let go by pool_join, how often to look whether
 * a worker was stopped from outside (it would hold the end of the run). */
#define STOPPED_POLL_NS ((int64_t)100 * 1000 * 1000)
/* Without a pidfd, how often to look whether a worker whose channel closed has ended. */
#define REAP_POLL_NS ((int64_t)2 * 1000 * 1000)
/* Without a pidfd, how often to look whether a worker whose channel is open has
 * ended: a child it forked can hold its end of the channel, which then never
 * closes (no pidfd: valgrind, Linux before 5.3, a seccomp profile refusing
 * pidfd_open). */
#define REAP_OPEN_POLL_NS ((int64_t)50 * 1000 * 1000)
/* A message begun on a channel and not ended for this long while the worker runs
 * no task (stray bytes that begin like a header: the parent waited for the rest
 * for good, no task running to time out) is a malformed one. A worker sends a
 * message in one go, so only a machine stalled that long is taken for one: not
 * a stop from outside, which is not held against it, nor a caller away from the
 * pool meanwhile (the bytes that wait to be read say so; lost_time() moves the
 * clock on by a stop of the whole group). */
#define RX_STALL_NS ((int64_t)10 * 1000 * 1000 * 1000)
/* A feed that said POOL_FEED_LATER with no descriptor to watch is asked again
 * after this long. */
#define FEED_RETRY_NS ((int64_t)10 * 1000 * 1000)
/* Automatic prefetch (pool_options.prefetch == 0) holds at most this many tasks
 * per worker (channel.c's depth()). */
#define AUTO_MAX_DEPTH 256
/* A worker whose task has run this many times the mean task time (and at least
 * STUCK_MIN_NS) is sent nothing more, and what it holds unstarted may be taken back. */
#define STUCK_FACTOR 8
/* The largest chunk an iterator takes (pool_imap's chunksize). */
#define MAX_CHUNK ((size_t)1 << 16)
#define STUCK_MIN_NS ((int64_t)1000 * 1000)
/* A worker holding tasks and running none this long is stuck too (stopped from
 * outside, SIGSTOP, between tasks): an idle worker takes them. Without a task
 * timeout nothing else moved them, and one waited there for ever. */
#define IDLE_STUCK_NS ((int64_t)100 * 1000 * 1000)
/* The loop not running for this much longer than it meant to sleep (the process
 * was stopped: Ctrl-Z, SIGSTOP to its group, a debugger) is time no deadline
 * counts: see lost_time() (deadlines.c). */
#define LOST_SLACK_NS ((int64_t)250 * 1000 * 1000)
/* A worker's status when waitpid() could not give it (ECHILD): neither
 * WIFEXITED nor WIFSIGNALED holds for it. */
#define STATUS_UNKNOWN (-1)
/* Task arguments up to this size live inside the task: no malloc per task. */
#define SMALL_ARG 24

/* ------------------------------------------------------------------------- */
/* Types                                                                      */

typedef struct job job;
typedef struct task_list task_list;

typedef struct task {
	uint64_t id;          /* pool-wide, 1-based */
	uint64_t index;       /* position in its job */
	job *job;
	const char *arg;      /* the bytes: borrowed from a map's array, or owned */
	size_t len;
	char *owned;          /* non-NULL when the pool copied the bytes to the heap */
	uint64_t seq;         /* while held: its sequence number at that worker */
	int starts;           /* times started: pool_result.attempts */
	int charged;          /* crashes and timeouts charged to it (vs retries) */
	int isolated;         /* its result was lost with a worker that died running
	                         none: sent alone, flushed before and after */
	int lost_alone;       /* ... and lost so again since */
	int term_signal;      /* the signal that ended its worker at the last charge */
	int last_slot, last_pid; /* the worker of its last attempt that ended unfinished */
	int64_t last_start, last_end; /* ... and when (pool_result's, when cancelled) */
	int retry;            /* it was charged: sent so its worker flushes first */
	struct task *next, *prev;
	task_list *in;        /* the list it is on, NULL if none */
	char small[SMALL_ARG];
} task;

struct task_list {
	task *head, *tail;
	size_t n;
};

enum job_kind { JOB_APPLY, JOB_MAP, JOB_ITER };

struct job {
	enum job_kind kind;
	pool_fn fn;
	size_t chunksize;
	/* source: an array (apply, map) or a feed (imap) */
	const pool_task *tasks;
	size_t n;
	pool_feed_fn feed;
	void *feed_data;
	int feed_fd;          /* what the feed waits on after POOL_FEED_LATER; -1: none */
	int feed_later;       /* it said POOL_FEED_LATER: not asked again until feed_fd
	                         is readable (or feed_later_at + FEED_RETRY_NS) */
	int64_t feed_later_at;
	int feed_pfd;         /* feed_fd's entry in this turn's poll set; -1: not in it */
	int source_done;      /* no more tasks will be produced */
	int cut;              /* the pool broke before the job was over */
	uint64_t produced, finished;
	/* sink */
	pool_result *results; /* map */
	pool_future *future;  /* apply, map_async; NULL once the caller freed it */
	pool_iter *iter;      /* imap; NULL once freed */
	/* The pool's list of jobs that can still produce tasks: only those, so the
	 * dispatcher's walk does not grow with finished futures nobody freed yet. A job
	 * leaves it when its source runs dry; its owner or its last result frees it. */
	job *next, *prev;
	int listed;
};

struct pool_future {
	pool *p;
	job *job;
	pool_result r;
	int ready;
	pool_done_fn done;
	void *data;
};

struct pool_iter {
	pool *p;
	job *job;
	int ordered;
	size_t window;        /* results buffered at most: bounds memory for any feed */
	pool_result *ring;    /* ordered: slot index % window; unordered: FIFO */
	uint64_t head;        /* unordered: FIFO start */
	uint64_t count;       /* unordered: results waiting */
	uint64_t returned;
};

enum worker_state { W_EMPTY, W_STARTING, W_READY, W_RETIRING, W_DYING };

typedef struct worker {
	int slot;
	enum worker_state state;
	pid_t pid;
	int fd;               /* channel; -1 once closed */
	int pidfd;            /* readable when the process has ended */
	int was_ready;        /* it said it was ready: later deaths are not failed starts */
	int start_failed;     /* this slot failed a start since a worker was last ready */
	int stopped_starting; /* killed at its start deadline, stopped from outside */
	task_list held;       /* sent, result not back yet, in the order sent */
	uint64_t sent;        /* sequence number of the next task sent to this process */
	size_t held_bytes;    /* argument bytes of the held tasks */
	unsigned assigned;    /* tasks sent since this process started (for recycling) */
	pool_buf out;         /* message being sent */
	size_t out_off;
	int building;         /* out is being filled by this dispatch pass */
	wire_rx rx;
	int64_t linger_deadline; /* channel closed: kill if still alive by then */
	int64_t reap_look_at;    /* no pidfd, channel open: look whether it ended then */
	int64_t rx_begun;        /* a message half read: when its last bytes came (0: none) */
	int64_t start_deadline;  /* starting: a failed start if not ready by then */
	int64_t respawn_at;      /* empty: start a worker here then (0: not waiting) */
	int64_t exit_deadline;   /* let go by pool_join: killed if still there then (0: none) */
	int64_t finish_by;       /* let go: until then only a long job-control stop outside
	                            its finalizer gets it killed (check_deadlines) */
	int64_t let_go_stopped;  /* let go: seen stopped at every look since (0: not) */
	int let_go_traced;       /* one of those looks saw a trace stop ('t') */
	int64_t idle_since;      /* ready, holding tasks, running none since (0: not so) */
	int64_t idle_started;    /* its last task's start then: a later one is progress */
	uint64_t grace_task;     /* the attempt running while the pool's loop was stopped */
	int64_t grace_started;   /* (task id and start time) */
	int64_t grace_ns;        /* and how long: added to its deadline (lost_time()) */
	int64_t seen_stopped;    /* after a stop asked: first seen stopped then (0: not) */
	/* Why we killed it, if we did: set before kill() so the report names our reason
	 * ("timed out after 30 s") rather than "killed by signal 9". */
	pool_status kill_status;
	uint64_t kill_task;   /* the task charged for it (0: the one running, if any;
	                         KILL_CHARGES_NONE: none; KILL_ISOLATE: none, the
	                         started ones isolated) */
	char kill_msg[160];
} worker;

struct pool {
	pool_options o;
	int nworkers;
	worker *w;
	pool_slot_shm *shm;
	size_t shm_len;
	pid_t self;
	int intr_pipe[2];
	_Atomic int interrupted; /* written by pool_interrupt: any thread, signal handlers */
	_Atomic unsigned continued; /* counted by pool_continued: a SIGCONT handler */
	unsigned continued_seen; /* the count the loop has credited (note_continued()) */
	int interrupt_handled;
	int closed, terminated, broken;
	int joining;          /* pool_join is letting the workers go */
	int holds_sigchld;    /* counted in sigchld_pools (keep_exit_statuses()) */
	int draining;         /* pool_join: iterators' windows no longer bound feeds */
	int in_callback;      /* a caller's callback (done, on_event) is running */
	int reentered;        /* loop_once() refused a call from such a callback */
	char err[512];
	char cause[440];      /* why it broke */
	char start_err[440];  /* why the last worker start failed */
	int failed_starts;    /* in a row, pool-wide: reset when a worker is ready */
	int killed_starts;    /* the same, ended by a signal from outside */
	int64_t init_timeout_ns; /* 0: none */
	int64_t task_ns;      /* mean task run time (EWMA); -1 before the first */

	job *jobs, *jobs_tail;
	task_list queue;      /* produced, not sent: taken back / retried first */
	task *free_tasks;
	uint64_t next_id;
	uint64_t finished_now; /* tasks finished (reset by pool_poll) */
	uint64_t sources_ended; /* feeds and arrays that ran dry */
	unsigned rr;          /* round-robin start for dispatch */
	int64_t now;          /* the clock, as read once per turn of the loop */
	int64_t awake_until;  /* when poll() was to return at the latest (0: no limit) */
	int64_t last_turn;    /* when the loop last ran (pool_continued()) */

	struct pollfd *pfd;   /* scratch for poll() */
	int *pfd_who;
	size_t pfd_cap;       /* entries of both */
};

/* Pids and counters readable from any thread (pool_stats_get, pool_worker_pids). */
typedef struct pool_counters {
	_Atomic uint64_t submitted, done, failed, retried, respawned,
		crashed, recycled, failed_starts, reruns, taken_back;
	_Atomic int alive;
} pool_counters;

/* The counters and pids live beside the pool in one allocation, so another thread
 * reads them without touching the parts the driving thread changes. */
typedef struct pool_shared {
	pool_counters c;
	_Atomic int pid[];
} pool_shared;

static inline pool_shared *shared_of(const pool *p)
{
	return (pool_shared *)((char *)p + sizeof(pool));
}

#define CNT(p, f, n) atomic_fetch_add_explicit(&shared_of(p)->c.f, (n), memory_order_relaxed)
/* For done and failed: a reader that sees the count also sees the submission that
 * came before (pool_stats_get reads them first, submitted last). */
#define CNT_RELEASE(p, f, n) \
	atomic_fetch_add_explicit(&shared_of(p)->c.f, (n), memory_order_release)

/* Seconds as ns, at most FOREVER_NS: a timeout of 1e10 s or INFINITY overflowed
 * int64_t (undefined; INT64_MIN here: a wait that ended at once, a start timeout of
 * -9e9 s). FOREVER_NS (31 years) still leaves room to add it to a clock reading. */
#define FOREVER_S 1e9
#define FOREVER_NS ((int64_t)1000000000 * 1000000000)
static inline int64_t secs_to_ns(double s)
{
	if (!(s < FOREVER_S)) /* NaN too */
		return FOREVER_NS;
	return s > -FOREVER_S ? (int64_t)(s * 1e9) : -FOREVER_NS;
}

/* How long a worker let go (by pool_join, or retiring) has before it is looked at
 * as perhaps stopped from outside: the task timeout, or LINGER_NS without one. */
static inline int64_t let_go_ns(const pool *p)
{
	return p->o.timeout > 0 ? secs_to_ns(p->o.timeout) : LINGER_NS;
}

/* CLOCK_MONOTONIC ns `timeout` seconds from now; INT64_MAX for a negative one,
 * and for one of FOREVER_S or more (INFINITY). */
static inline int64_t deadline_after(double timeout)
{
	if (timeout < 0 || !(timeout < FOREVER_S))
		return INT64_MAX;
	return pool_now_ns() + secs_to_ns(timeout);
}

/* ------------------------------------------------------------------------- */
/* state.c                                                                    */

#define set_err imgpool_pool_set_err
#define state_of imgpool_pool_state_of
#define set_state_err imgpool_pool_set_state_err
/* Set p->err (what the next refusal says). */
void set_err(pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
pool_state state_of(const pool *p);
/* p->err for a call the pool's state refuses: "closed", "broken: <cause>", ... */
void set_state_err(pool *p);
/* Called from one of the caller's callbacks (done, on_event, feed)? Then the
 * message below is in pool_error() and 1: a call that waits refuses at once,
 * before it changes anything (a pool_map() refused later left its job reading
 * the caller's freed tasks). loop_once() refuses too, for the waits on futures
 * and iterators, which change nothing first. */
#define refuse_in_callback imgpool_pool_refuse_in_callback
#define CALLBACK_REFUSAL "a pool call that waits was made from one of the pool's own callbacks"
int refuse_in_callback(pool *p);

/* ------------------------------------------------------------------------- */
/* jobs.c                                                                     */

#define list_push imgpool_pool_list_push
#define list_unlink imgpool_pool_list_unlink
#define list_pop imgpool_pool_list_pop
#define list_prepend imgpool_pool_list_prepend
void list_push(task_list *l, task *t);
void list_unlink(task *t);
task *list_pop(task_list *l);
/* Move all of src, in order, to the front of dst. */
void list_prepend(task_list *dst, task_list *src);

#define task_new imgpool_pool_task_new
#define task_copy_arg imgpool_pool_task_copy_arg
#define task_free imgpool_pool_task_free
task *task_new(pool *p, job *j, uint64_t index);
int task_copy_arg(task *t, const void *arg, size_t len);
void task_free(pool *p, task *t);

#define job_complete imgpool_pool_job_complete
#define job_settle imgpool_pool_job_settle
#define job_add imgpool_pool_job_add
#define source_ended imgpool_pool_source_ended
#define job_unlink_and_free imgpool_pool_job_unlink_and_free
#define job_produce imgpool_pool_job_produce
int job_complete(const job *j);
void job_settle(pool *p, job *j);
void job_add(pool *p, job *j);
void source_ended(pool *p, job *j);
void job_unlink_and_free(pool *p, job *j);
task *job_produce(pool *p, job *j);

#define deliver imgpool_pool_deliver
#define deliver_msg imgpool_pool_deliver_msg
#define cancel_task imgpool_pool_cancel_task
void deliver(pool *p, task *t, pool_status st, char *data, size_t len, int slot, int pid,
	     int64_t start, int64_t end);
void deliver_msg(pool *p, task *t, pool_status st, const char *msg, int slot, int pid,
		 int64_t start, int64_t end);
void cancel_task(pool *p, task *t, const char *msg);
#define job_cancel_rest imgpool_pool_job_cancel_rest
/* End the job: each task of a map's array not produced yet gets POOL_CANCELLED
 * with msg, and its source ends. The job may be freed before this returns (its
 * last result settles it, and a future's callback may free it): the caller must
 * not touch j again. */
void job_cancel_rest(pool *p, job *j, const char *msg);

#define next_chunk imgpool_pool_next_chunk
#define next_task imgpool_pool_next_task
#define work_outstanding imgpool_pool_work_outstanding
size_t next_chunk(const pool *p);
task *next_task(pool *p);
int work_outstanding(const pool *p);

/* ------------------------------------------------------------------------- */
/* interrupt.c                                                                */

#define handle_interrupt imgpool_pool_handle_interrupt
void handle_interrupt(pool *p);

/* ------------------------------------------------------------------------- */
/* children.c                                                                 */

#define respawn imgpool_pool_respawn
#define kill_worker imgpool_pool_kill_worker
#define process_state imgpool_pool_process_state
#define process_stopped imgpool_pool_process_stopped
#define process_job_stopped imgpool_pool_process_job_stopped
#define close_channel imgpool_pool_close_channel
#define take_back imgpool_pool_take_back
#define worker_ended imgpool_pool_worker_ended
#define cancel_everything imgpool_pool_cancel_everything
#define kill_all_and_reap imgpool_pool_kill_all_and_reap
#define break_pool imgpool_pool_break_pool
#define fd_above_stdio imgpool_pool_fd_above_stdio
/* fd itself, or (when it is 0, 1 or 2: the caller had closed its standard
 * descriptors) a close-on-exec copy at 3 or above, fd closed; -1 stays -1, and a
 * copy that cannot be made leaves fd as it is. */
int fd_above_stdio(int fd);
void respawn(pool *p, worker *w);
void kill_worker(worker *w, pool_status st, uint64_t task_id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Process pid's state letter in /proc/PID/stat (after the command's closing
 * parenthesis: R, S, D, T stopped, t traced...), or 0 where it cannot be told. */
char process_state(pid_t pid);
int process_stopped(pid_t pid);
#define process_ended imgpool_pool_process_ended
int process_ended(const worker *w);
/* Reap worker w (flags: WNOHANG, or 0 to wait): 1 with *status as waitpid() gives
 * it, or STATUS_UNKNOWN where another waitpid() of the caller's took it (ECHILD);
 * 0 when it has not ended (WNOHANG). Through its pidfd where there is one. */
#define reap_worker imgpool_pool_reap_worker
int reap_worker(const worker *w, int flags, int *status);
int process_job_stopped(pid_t pid);
void close_channel(worker *w);
size_t take_back(pool *p, worker *w);
void worker_ended(pool *p, worker *w, int status);
void cancel_everything(pool *p, const char *msg);
void kill_all_and_reap(pool *p);
void break_pool(pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Have worker starts failed often enough in a row that the pool would break had
 * no worker been ready (it goes on with those, trying again now and then)? */
#define starts_failing imgpool_pool_starts_failing
int starts_failing(const pool *p);
/* Is a worker starting now (forked, its initializer not done), not one waiting
 * to be started again after a failed start? */
#define any_starting imgpool_pool_any_starting
int any_starting(const pool *p);

/* ------------------------------------------------------------------------- */
/* channel.c                                                                  */

#define depth imgpool_pool_depth
#define dispatch imgpool_pool_dispatch
#define send_pending imgpool_pool_send_pending
#define retire_if_done imgpool_pool_retire_if_done
#define read_channel imgpool_pool_read_channel
#define drain_channel imgpool_pool_drain_channel
size_t depth(const pool *p, size_t cs);
void dispatch(pool *p);
void send_pending(worker *w);
void retire_if_done(pool *p, worker *w);
void read_channel(pool *p, worker *w, int budget);
void drain_channel(pool *p, worker *w);
/* Bytes that are no message on w's channel (why): the worker is killed and the task
 * that wrote them charged, where that can be told. */
#define protocol_error imgpool_pool_protocol_error
void protocol_error(pool *p, worker *w, const char *why);

/* ------------------------------------------------------------------------- */
/* deadlines.c                                                                */

#define holding_any imgpool_pool_holding_any
#define mark_turn imgpool_pool_mark_turn
#define note_awake imgpool_pool_note_awake
#define note_continued imgpool_pool_note_continued
#define check_deadlines imgpool_pool_check_deadlines
#define idle_wakeup imgpool_pool_idle_wakeup
int holding_any(const pool *p);
void mark_turn(pool *p);
void note_awake(pool *p);
void note_continued(pool *p);
int64_t check_deadlines(pool *p, int64_t now);
int64_t idle_wakeup(const pool *p);

/* ------------------------------------------------------------------------- */
/* loop.c                                                                     */

#define loop_once imgpool_pool_loop_once
int loop_once(pool *p, int64_t until);

#endif
