/* SPDX-License-Identifier: MIT */
/*
 * pool.c — the parent side of the pool: spawn, dispatch, collect, respawn, retry,
 * time out, take back, shut down. See pool.h for the contract.
 *
 * Shape (nginx's master cycle, git's run_processes_parallel):
 *   loop_once() is the only place that waits. It dispatches what it can, polls every
 *   worker's channel and pidfd plus a self-pipe written by pool_interrupt(), with the
 *   nearest deadline as the timeout, then reads results, reaps dead workers and
 *   kills the ones past their deadline. Every blocking call is loop_once() until its
 *   condition holds.
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
 */
/* pidfd_open, close_range, sigabbrev_np, pipe2: Linux and glibc extensions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nofork.h"
#include "pool.h"
#include "wire.h"
#include "worker.h"

#define DEFAULT_MAX_MESSAGE ((size_t)1 << 30)
/* kill_worker()'s task for a kill that is no task's doing (no task id is this). */
#define KILL_CHARGES_NONE UINT64_MAX
/* A worker that closed its channel but lives on is killed after this long. */
#define LINGER_NS ((int64_t)2 * 1000 * 1000 * 1000)
/* Without a pidfd, how often to look whether a worker whose channel closed has ended. */
#define REAP_POLL_NS ((int64_t)2 * 1000 * 1000)
/* A feed that said POOL_FEED_LATER with no descriptor to watch is asked again
 * after this long. */
#define FEED_RETRY_NS ((int64_t)10 * 1000 * 1000)
/* Failed starts in a row (no worker ready in between) that break the pool, and the
 * wait before trying again after the first, doubled after each up to a cap. A
 * start a signal from outside ended (SIGKILL, SIGTERM, ...: see killed_from_outside())
 * says nothing of whether workers can start, only that someone is killing them: it
 * counts towards its own, larger limit, about 15 s of tries. */
#define MAX_FAILED_STARTS 3
#define MAX_KILLED_STARTS 20
#define RESPAWN_BACKOFF_NS ((int64_t)10 * 1000 * 1000)
#define RESPAWN_BACKOFF_MAX_NS ((int64_t)1000 * 1000 * 1000)

/* Automatic prefetch (pool_options.prefetch == 0): keep about this much work in
 * flight per worker (more than a worker's 1 ms result flush, so it never runs dry
 * while its results travel), at least 2 tasks and at most AUTO_MAX_DEPTH; send
 * them in batches of a quarter of that, so several batches are in flight. */
#define AUTO_TARGET_NS ((int64_t)5 * 1000 * 1000)
#define AUTO_MAX_DEPTH 256
#define AUTO_MAX_BATCH 64
/* Whatever the depth, stop sending ahead once this many argument bytes are in
 * flight to one worker (it always gets at least one chunk). */
#define MAX_AHEAD_BYTES ((size_t)4 << 20)
/* A worker whose task has run this many times the mean task time (and at least
 * STUCK_MIN_NS) is sent nothing more, and what it holds unstarted may be taken back. */
#define STUCK_FACTOR 8
#define STUCK_MIN_NS ((int64_t)1000 * 1000)
/* The loop not running for this much longer than it meant to sleep (the process
 * was stopped: Ctrl-Z, SIGSTOP to its group, a debugger) is time no deadline
 * counts: see lost_time(). */
#define LOST_SLACK_NS ((int64_t)250 * 1000 * 1000)
/* After a stop was asked, how often to look whether a worker running a task was
 * stopped from outside (it would hold the end of the run until its timeout). */
#define STOPPED_POLL_NS ((int64_t)100 * 1000 * 1000)
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
	int term_signal;      /* the signal that ended its worker at the last charge */
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
	task_list held;       /* sent, result not back yet, in the order sent */
	uint64_t sent;        /* sequence number of the next task sent to this process */
	size_t held_bytes;    /* argument bytes of the held tasks */
	unsigned assigned;    /* tasks sent since this process started (for recycling) */
	pool_buf out;         /* message being sent */
	size_t out_off;
	int building;         /* out is being filled by this dispatch pass */
	wire_rx rx;
	int64_t linger_deadline; /* channel closed: kill if still alive by then */
	int64_t start_deadline;  /* starting: a failed start if not ready by then */
	int64_t respawn_at;      /* empty: start a worker here then (0: not waiting) */
	int64_t exit_deadline;   /* let go by pool_join: killed if still there then (0: none) */
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
	                         KILL_CHARGES_NONE: none) */
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
	char err[512];
	char cause[440];      /* why it broke */
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

static pool_shared *shared_of(const pool *p)
{
	return (pool_shared *)((char *)p + sizeof(pool));
}

#define CNT(p, f, n) atomic_fetch_add_explicit(&shared_of(p)->c.f, (n), memory_order_relaxed)
/* For done and failed: a reader that sees the count also sees the submission that
 * came before (pool_stats_get reads them first, submitted last). */
#define CNT_RELEASE(p, f, n) \
	atomic_fetch_add_explicit(&shared_of(p)->c.f, (n), memory_order_release)

/* ------------------------------------------------------------------------- */
/* Small helpers                                                              */

static void set_err(pool *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(pool *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
}

/* The state that refuses new work, most serious first (see pool_get_state). */
static pool_state state_of(const pool *p)
{
	if (p->broken)
		return POOL_BROKEN;
	if (p->terminated)
		return POOL_TERMINATED;
	if (p->interrupted)
		return POOL_INTERRUPTED;
	if (p->closed)
		return POOL_CLOSED;
	return POOL_RUNNING;
}

/* Leave the message of the pool's state in pool_error(); for calls it refuses. */
static void set_state_err(pool *p)
{
	switch (state_of(p)) {
	case POOL_BROKEN:
		set_err(p, "broken: %s", p->cause);
		break;
	case POOL_TERMINATED:
		set_err(p, "terminated");
		break;
	case POOL_INTERRUPTED:
		set_err(p, "interrupted");
		break;
	case POOL_CLOSED:
		set_err(p, "closed");
		break;
	case POOL_RUNNING:
		break;
	}
}

static void list_push(task_list *l, task *t)
{
	t->next = NULL;
	t->prev = l->tail;
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
	l->n++;
	t->in = l;
}

static void list_unlink(task *t)
{
	task_list *l = t->in;
	if (!l)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		l->tail = t->prev;
	l->n--;
	t->next = t->prev = NULL;
	t->in = NULL;
}

static task *list_pop(task_list *l)
{
	task *t = l->head;
	if (t)
		list_unlink(t);
	return t;
}

/* Move every task of src to the front of dst, keeping their order. */
static void list_prepend(task_list *dst, task_list *src)
{
	for (task *t = src->tail, *prev; t; t = prev) {
		prev = t->prev;
		list_unlink(t);
		t->prev = NULL;
		t->next = dst->head;
		if (dst->head)
			dst->head->prev = t;
		else
			dst->tail = t;
		dst->head = t;
		dst->n++;
		t->in = dst;
	}
}

static const char *signame(int sig)
{
	static char buf[32];
	const char *ab = sigabbrev_np(sig);
	if (!ab)
		return "unknown";
	snprintf(buf, sizeof buf, "SIG%s", ab);
	return buf;
}

/* Tell the caller's tracer, if any. */
static void emit(pool *p, const pool_event *e)
{
	if (p->o.on_event)
		p->o.on_event(e, p->o.event_data);
}

static int online_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static int64_t secs_to_ns(double s)
{
	return (int64_t)(s * 1e9);
}

static int64_t deadline_after(double timeout)
{
	if (timeout < 0)
		return INT64_MAX;
	return pool_now_ns() + secs_to_ns(timeout);
}

/* ------------------------------------------------------------------------- */
/* Tasks and results                                                          */

/* Memory for a task, not yet one (task_made() makes it one; task_free() gives it
 * back unused). */
static task *task_alloc(pool *p)
{
	task *t = p->free_tasks;
	if (t)
		p->free_tasks = t->next;
	else if ((t = malloc(sizeof *t)))
		t->owned = NULL;
	return t;
}

static task *task_made(pool *p, task *t, job *j, uint64_t index)
{
	memset(t, 0, offsetof(task, small));
	t->id = ++p->next_id;
	t->index = index;
	t->job = j;
	CNT(p, submitted, 1);
	return t;
}

static task *task_new(pool *p, job *j, uint64_t index)
{
	task *t = task_alloc(p);
	return t ? task_made(p, t, j, index) : NULL;
}

/* Give t its own copy of arg[0..len): inside the task when small. */
static int task_copy_arg(task *t, const void *arg, size_t len)
{
	char *d = t->small;
	if (len > SMALL_ARG) {
		if (!(d = t->owned = malloc(len)))
			return -1;
	}
	if (len)
		memcpy(d, arg, len);
	t->arg = d;
	t->len = len;
	return 0;
}

static void task_free(pool *p, task *t)
{
	free(t->owned);
	t->owned = NULL;
	t->next = p->free_tasks;
	p->free_tasks = t;
}

static void job_unlink_and_free(pool *p, job *j);

/* A job is over when its source is exhausted and every task it produced finished. */
static int job_complete(const job *j)
{
	return j->source_done && j->finished == j->produced;
}

static void future_fire(pool_future *f)
{
	f->ready = 1;
	if (f->done)
		f->done(f, &f->r, f->data);
}

/* A job that is over either tells its map future (whose callback may free it: the
 * job is not touched afterwards) or, when nobody waits for it any more, is freed. */
static void job_settle(pool *p, job *j)
{
	if (!job_complete(j))
		return;
	if (j->kind == JOB_MAP && j->future) {
		if (!j->future->ready)
			future_fire(j->future);
		return;
	}
	if (!j->future && !j->iter)
		job_unlink_and_free(p, j);
}

/* Double an iterator's window: only pool_join lets a feed run past it (see
 * job_has_room), and what it delivers must be kept until it is read. */
static int iter_grow(pool_iter *it)
{
	size_t w = it->window * 2;
	pool_result *ring = calloc(w, sizeof *ring);
	if (!ring)
		return -1;
	if (it->ordered) {
		for (uint64_t i = it->returned; i < it->returned + it->window; i++)
			ring[i % w] = it->ring[i % it->window];
	} else {
		for (uint64_t i = 0; i < it->count; i++)
			ring[i] = it->ring[(it->head + i) % it->window];
		it->head = 0;
	}
	free(it->ring);
	it->ring = ring;
	it->window = w;
	return 0;
}

/* Store one finished task's outcome where its job wants it. data is malloc'd and
 * handed over (or freed when nobody wants it any more). The task is freed; its job
 * may be too (a callback may free its future). */
static void deliver(pool *p, task *t, pool_status st, char *data, size_t len,
		    int slot, int pid, int64_t start, int64_t end)
{
	job *j = t->job;
	pool_result r = {
		.status = st, .data = data, .len = len, .index = t->index, .id = t->id,
		.attempts = t->starts, .worker = slot, .pid = pid, .start_ns = start,
		.end_ns = end, .term_signal = st == POOL_CRASHED ? t->term_signal : 0,
	};
	if (st == POOL_OK)
		CNT_RELEASE(p, done, 1);
	else
		CNT_RELEASE(p, failed, 1);
	p->finished_now++;
	j->finished++;
	task_free(p, t);

	switch (j->kind) {
	case JOB_APPLY:
		if (j->future) {
			j->future->r = r;
			future_fire(j->future); /* its callback may free the future and job */
			return;
		}
		free(r.data);
		break;
	case JOB_MAP:
		if (j->results)
			j->results[r.index] = r;
		else
			free(r.data);
		break;
	case JOB_ITER: {
		pool_iter *it = j->iter;
		while (it && (it->ordered ? r.index - it->returned : it->count) >= it->window)
			if (iter_grow(it) < 0)
				it = NULL; /* out of memory: the result is lost, not the pool */
		if (!it) {
			free(r.data);
			break;
		}
		if (it->ordered) {
			it->ring[r.index % it->window] = r;
		} else {
			it->ring[(it->head + it->count) % it->window] = r;
			it->count++;
		}
		break;
	}
	}
	job_settle(p, j);
}

/* End a task with a message (a crash, a timeout, a cancellation). */
static void deliver_msg(pool *p, task *t, pool_status st, const char *msg, int slot,
			int pid, int64_t start, int64_t end)
{
	size_t len = strlen(msg);
	char *d = malloc(len + 1);
	if (d)
		memcpy(d, msg, len + 1);
	deliver(p, t, st, d, d ? len : 0, slot, pid, start, end);
}

/* End a task that will not run (again): POOL_CANCELLED with msg. */
static void cancel_task(pool *p, task *t, const char *msg)
{
	if (p->broken)
		t->job->cut = 1;
	deliver_msg(p, t, POOL_CANCELLED, msg, -1, 0, 0, 0);
}

void pool_result_release(pool_result *r)
{
	if (!r)
		return;
	free(r->data);
	r->data = NULL;
	r->len = 0;
}

/* ------------------------------------------------------------------------- */
/* Jobs: where tasks come from                                                */

static void job_add(pool *p, job *j)
{
	j->next = NULL;
	j->prev = p->jobs_tail;
	if (p->jobs_tail)
		p->jobs_tail->next = j;
	else
		p->jobs = j;
	p->jobs_tail = j;
	j->listed = 1;
}

/* Take j off the list in O(1). j->next is left as it was, so a walk that is
 * standing on j can still step on. */
static void job_unlist(pool *p, job *j)
{
	if (!j->listed)
		return;
	if (j->prev)
		j->prev->next = j->next;
	else
		p->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		p->jobs_tail = j->prev;
	j->listed = 0;
}

/* The job's source has run dry (or must stop): no more tasks from it. */
static void source_ended(pool *p, job *j)
{
	if (!j->source_done)
		p->sources_ended++;
	j->source_done = 1;
	job_unlist(p, j);
}

static void job_unlink_and_free(pool *p, job *j)
{
	job_unlist(p, j);
	free(j);
}

/* May this job produce another task now? An iterator's window bounds what sits in
 * memory, whatever the length of its feed (until pool_join drains it). */
static int job_has_room(const pool *p, const job *j)
{
	if (j->source_done || j->feed_later)
		return 0;
	if (j->kind == JOB_ITER && j->iter && !p->draining &&
	    j->produced - j->iter->returned >= j->iter->window)
		return 0;
	return 1;
}

/* Produce the next task of job j, or NULL (source exhausted or out of memory). */
static task *job_produce(pool *p, job *j)
{
	if (j->feed) {
		/* The memory first: an item the feed gives away is the caller's index
		 * j->produced and must come back as a result, out of memory or not
		 * (one dropped put every later result at the wrong index). */
		task *t = task_alloc(p);
		if (!t)
			return NULL;
		pool_task in = {0};
		int got = j->feed(j->feed_data, &in);
		if (got == POOL_FEED_LATER || !got) {
			task_free(p, t);
			if (got) {
				j->feed_later = 1;
				j->feed_later_at = p->now;
			} else
				source_ended(p, j);
			return NULL;
		}
		task_made(p, t, j, j->produced++);
		if (task_copy_arg(t, in.arg, in.len) < 0) {
			cancel_task(p, t, "out of memory: the task's argument could not be kept");
			return NULL;
		}
		return t;
	}
	if (j->produced >= j->n) {
		source_ended(p, j);
		return NULL;
	}
	task *t = task_new(p, j, j->produced);
	if (!t)
		return NULL;
	t->arg = j->tasks[j->produced].arg;
	t->len = j->tasks[j->produced].len;
	j->produced++;
	if (j->produced == j->n)
		source_ended(p, j);
	return t;
}

/* The chunk size of what comes next (1 for a queued task), or 0 when nothing can
 * be produced now. */
static size_t next_chunk(const pool *p)
{
	if (p->queue.n)
		return 1;
	for (job *j = p->jobs; j; j = j->next)
		if (job_has_room(p, j))
			return j->chunksize;
	return 0;
}

/* The next task to send: one in the queue first, then the oldest job with room. */
static task *next_task(pool *p)
{
	task *t = list_pop(&p->queue);
	if (t)
		return t;
	for (job *j = p->jobs; j; j = j->next) {
		if (!job_has_room(p, j))
			continue;
		if ((t = job_produce(p, j)))
			return t;
	}
	return NULL;
}

/* Is any task still to produce, queued or held by a worker? */
static int work_outstanding(const pool *p)
{
	if (p->queue.n || p->jobs)
		return 1;
	for (int i = 0; i < p->nworkers; i++)
		if (p->w[i].held.n)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------- */
/* Workers: spawn                                                             */

static void break_pool(pool *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void failed_start(pool *p, worker *w, const char *cause, int killed);

/*
 * Fork a worker into slot w. The fork gate first (no thread of the caller's is
 * between pool_nofork_begin and _end: nofork.h), then the stdio locks, held across
 * fork() after a flush so no buffered output is written twice (both processes
 * release them). Our own counters are lock-free. Returns 0, or -1 with the
 * cause in p->err.
 */
static int spawn(pool *p, worker *w)
{
	w->respawn_at = 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		set_err(p, "cannot create a worker channel: %s", strerror(errno));
		return -1;
	}
	/* Room for several packets each way, so a worker rarely waits on us. */
	int sz = 4 * (int)WIRE_PACKET;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);

	pool_slot_shm *shm = &p->shm[w->slot];
	atomic_store(&shm->claim, p->interrupted ? CLAIM_STOP : 0);
	atomic_store(&shm->running, 0);
	atomic_store(&shm->started_ns, 0);
	atomic_store(&shm->retiring, 0);

	worker_args a = {
		.fd = sv[1], .shm = shm, .parent = p->self, .init = p->o.init,
		.init_arg = p->o.init_arg, .fini = p->o.fini, .max_rss = p->o.max_worker_rss,
	};
	imgpool_nofork_hold();
	flockfile(stdin);
	flockfile(stdout);
	flockfile(stderr);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	int saved = errno;
	funlockfile(stderr);
	funlockfile(stdout);
	funlockfile(stdin);
	if (pid == 0)
		imgpool_worker_main(&a); /* the child's gate is a fresh one */
	imgpool_nofork_release();
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		set_err(p, "cannot start a worker: fork: %s", strerror(saved));
		return -1;
	}
	/* A pidfd tells the moment the process ends. Without one (Linux before 5.3,
	 * valgrind) the end is noticed by EOF on its channel and reaped by polling
	 * waitpid for the few milliseconds the exit takes. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	int64_t now = pool_now_ns();
	w->pid = pid;
	w->fd = sv[0];
	w->pidfd = pidfd;
	w->state = W_STARTING;
	w->was_ready = 0;
	w->seen_stopped = 0;
	w->sent = 0;
	w->held_bytes = 0;
	w->assigned = 0;
	w->out_off = 0;
	w->out.len = 0;
	w->building = 0;
	w->linger_deadline = 0;
	w->start_deadline = p->init_timeout_ns ? now + p->init_timeout_ns : 0;
	w->kill_status = POOL_PENDING;
	w->kill_task = 0;
	w->kill_msg[0] = '\0';
	w->idle_since = 0;
	w->exit_deadline = 0;
	imgpool_wire_rx_reset(&w->rx);
	atomic_store(&shared_of(p)->pid[w->slot], pid);
	CNT(p, alive, 1);
	emit(p, &(pool_event){.kind = POOL_EV_SPAWN, .worker = w->slot, .pid = (int)pid,
			      .at_ns = now});
	return 0;
}

/* Start a worker in an empty slot now; a fork that fails is a failed start. */
static void respawn(pool *p, worker *w)
{
	if (spawn(p, w) < 0) {
		char why[sizeof p->err];
		snprintf(why, sizeof why, "%s", p->err);
		failed_start(p, w, why, 0);
	}
}

/* Kill a worker for a reason of ours, recorded first (see worker.kill_msg). */
static void kill_worker(worker *w, pool_status st, uint64_t task_id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void kill_worker(worker *w, pool_status st, uint64_t task_id, const char *fmt, ...)
{
	if (w->state == W_EMPTY)
		return;
	if (w->kill_status == POOL_PENDING) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->kill_msg, sizeof w->kill_msg, fmt, ap);
		va_end(ap);
		w->kill_status = st;
		w->kill_task = task_id;
	}
	kill(w->pid, SIGKILL);
	w->state = W_DYING;
}

/* Process pid's state letter in /proc/PID/stat (after the command's closing
 * parenthesis: R, S, D, T stopped, t traced...), or 0 where it cannot be told. */
static char process_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Is process pid stopped (SIGSTOP, SIGTSTP, a debugger: T or t)? 0 where it cannot
 * be told: only a worker seen to be stopped is taken for one. */
static int process_stopped(pid_t pid)
{
	char st = process_state(pid);
	return st == 'T' || st == 't';
}

/* Stopped by job control (SIGSTOP, SIGTSTP: T), not in a debugger's trace stop (t)? */
static int process_job_stopped(pid_t pid)
{
	return process_state(pid) == 'T';
}

static void close_channel(worker *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

/* ------------------------------------------------------------------------- */
/* Taking back tasks a worker has not started                                 */

/*
 * Take back every task w holds that it has not started (see worker.h): the worker
 * will skip them. They go to the front of the queue, in order. Returns how many.
 */
static size_t take_back(pool *p, worker *w)
{
	pool_slot_shm *shm = &p->shm[w->slot];
	uint64_t c = atomic_load_explicit(&shm->claim, memory_order_acquire);
	for (;;) {
		if (c & CLAIM_STOP)
			return 0; /* interrupted: handle_interrupt ends them */
		if (c >= w->sent)
			return 0;
		if (atomic_compare_exchange_weak_explicit(&shm->claim, &c, w->sent,
							  memory_order_acq_rel,
							  memory_order_acquire))
			break;
	}
	/* Tasks numbered c and above are ours again: the tail of held. */
	task_list back = {0};
	task *t = w->held.tail;
	while (t && t->seq >= c)
		t = t->prev;
	t = t ? t->next : w->held.head;
	size_t n = 0;
	for (task *next; t; t = next) {
		next = t->next;
		list_unlink(t);
		w->held_bytes -= t->len;
		w->assigned--;
		list_push(&back, t);
		n++;
	}
	list_prepend(&p->queue, &back);
	CNT(p, taken_back, n);
	return n;
}

/* ------------------------------------------------------------------------- */
/* Workers: death                                                             */

/* A worker's status when waitpid() could not give it (ECHILD): neither
 * WIFEXITED nor WIFSIGNALED holds for it. */
#define STATUS_UNKNOWN (-1)

/* Describe how a worker process ended, for messages and events. */
static void describe_end(const worker *w, int status, int recycled, int starting,
			 const pool_slot_shm *shm, char *cause, size_t size)
{
	const char *when = starting ? " while starting" : "";
	if (w->kill_status != POOL_PENDING)
		snprintf(cause, size, "%s", w->kill_msg);
	else if (status == STATUS_UNKNOWN)
		snprintf(cause, size, "worker %d (pid %d) ended%s; how is not known (its exit "
			 "status was taken by another waitpid() of this process)", w->slot,
			 (int)w->pid, when);
	else if (WIFSIGNALED(status))
		snprintf(cause, size, "worker %d (pid %d) killed by signal %d (%s)%s", w->slot,
			 (int)w->pid, WTERMSIG(status), signame(WTERMSIG(status)), when);
	else if (recycled)
		snprintf(cause, size, "worker %d (pid %d) retired%s", w->slot, (int)w->pid,
			 atomic_load(&shm->retiring) ? " over the RSS limit" : "");
	else
		snprintf(cause, size, "worker %d (pid %d) exited with status %d%s", w->slot,
			 (int)w->pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1, when);
}

/* Did a signal from outside end the worker (status), rather than a fault of its own
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP, limits' SIGXCPU and
 * SIGXFSZ) or a kill of the pool's (a start timeout: kill_status set)? */
static int killed_from_outside(const worker *w, int status)
{
	if (w->kill_status != POOL_PENDING || !WIFSIGNALED(status))
		return 0;
	switch (WTERMSIG(status)) {
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGABRT: case SIGSYS:
	case SIGTRAP: case SIGXCPU: case SIGXFSZ:
		return 0;
	default:
		return 1;
	}
}

/* Is a worker ready to take tasks (started, not leaving)? */
static int any_ready(const pool *p)
{
	for (int i = 0; i < p->nworkers; i++)
		if (p->w[i].state == W_READY)
			return 1;
	return 0;
}

/*
 * A worker died before it was ready (or could not be forked); killed: by a signal
 * from outside. Try again after a backoff, unless that has now happened
 * MAX_FAILED_STARTS times in a row (MAX_KILLED_STARTS for kills from outside) and
 * no other worker is ready: then the workers cannot start, and the pool breaks
 * with the last cause. While one is ready the pool goes on with fewer workers
 * and tries the slot again every RESPAWN_BACKOFF_MAX_NS: a start that fails for
 * want of a resource others hold (descriptors under ulimit -n, processes under
 * ulimit -u) broke a pool whose first worker was thumbnailing, and killed it.
 */
static void failed_start(pool *p, worker *w, const char *cause, int killed)
{
	CNT(p, failed_starts, 1);
	w->state = W_EMPTY;
	if (p->terminated || p->broken)
		return;
	if ((killed ? ++p->killed_starts >= MAX_KILLED_STARTS
		    : ++p->failed_starts >= MAX_FAILED_STARTS) &&
	    !any_ready(p)) {
		break_pool(p, "%d workers in a row %s; the last: %s",
			   killed ? p->killed_starts : p->failed_starts,
			   killed ? "were killed while starting" : "failed to start", cause);
		return;
	}
	int tries = p->failed_starts + p->killed_starts;
	int64_t wait = tries > 8 ? RESPAWN_BACKOFF_MAX_NS : RESPAWN_BACKOFF_NS << (tries - 1);
	if (tries > 8 || p->failed_starts >= MAX_FAILED_STARTS ||
	    p->killed_starts >= MAX_KILLED_STARTS)
		wait = RESPAWN_BACKOFF_MAX_NS;
	w->respawn_at = pool_now_ns() + (wait < RESPAWN_BACKOFF_MAX_NS ? wait
								  : RESPAWN_BACKOFF_MAX_NS);
}

/*
 * The worker in w has ended with wait status `status`. Charge the task it was
 * running (retry it or report it with the cause), count a start for the ones it
 * finished without sending their results, put back the others uncharged, and start
 * a replacement when there is work left.
 */
static void worker_ended(pool *p, worker *w, int status)
{
	pool_slot_shm *shm = &p->shm[w->slot];
	uint64_t claimed = atomic_load(&shm->claim) & CLAIM_SEQ;
	uint64_t running = atomic_load(&shm->running);
	int64_t started = atomic_load(&shm->started_ns);
	uint64_t charged = w->kill_task ? w->kill_task : running;
	/* Died before it was ready, on its own or killed by a start timeout (not by
	 * terminate, nor let go by join): a failed start. */
	int starting = !w->was_ready && w->kill_status != POOL_CANCELLED &&
		       w->state != W_RETIRING && !p->joining;
	int clean_exit = w->kill_status == POOL_PENDING && WIFEXITED(status) &&
			 WEXITSTATUS(status) == 0;
	int recycled = clean_exit && !starting &&
		       (w->state == W_RETIRING || atomic_load(&shm->retiring));

	char cause[256];
	describe_end(w, status, recycled, starting, shm, cause, sizeof cause);
	pool_status st = w->kill_status != POOL_PENDING ? w->kill_status : POOL_CRASHED;
	emit(p, &(pool_event){.kind = POOL_EV_EXIT, .worker = w->slot, .pid = (int)w->pid,
			      .at_ns = pool_now_ns(), .cause = cause, .recycled = recycled,
			      .while_starting = starting});

	close_channel(w);
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
	imgpool_wire_rx_reset(&w->rx);
	w->out.len = w->out_off = 0;
	w->building = 0;
	atomic_store(&shared_of(p)->pid[w->slot], 0);
	atomic_store(&shm->running, 0);
	CNT(p, alive, -1);
	int slot = w->slot;
	pid_t pid = w->pid;
	w->state = W_EMPTY;
	w->held_bytes = 0;

	/* Take back what it held: started ones count a start; charge the culprit. */
	task_list back = {0};
	task *t;
	while ((t = list_pop(&w->held))) {
		if (t->seq >= claimed) {
			list_push(&back, t); /* never started */
			continue;
		}
		t->starts++;
		if (t->id != charged || st == POOL_CANCELLED) {
			if (st != POOL_CANCELLED)
				CNT(p, reruns, 1); /* finished, result lost: runs again */
			list_push(&back, t);
			continue;
		}
		t->charged++;
		t->term_signal = w->kill_status != POOL_PENDING ? 0
				 : status == STATUS_UNKNOWN    ? -1
				 : WIFSIGNALED(status)         ? WTERMSIG(status)
							       : 0;
		char msg[320];
		if (st == POOL_CRASHED && w->kill_status == POOL_PENDING)
			snprintf(msg, sizeof msg, "%s while running task %llu", cause,
				 (unsigned long long)t->id);
		else
			snprintf(msg, sizeof msg, "%s", cause);
		if (t->charged <= p->o.retries && (p->interrupted || p->terminated)) {
			/* It would run again, but a stop was asked: it is cancelled with the
			 * rest (below), not failed. A worker killed or crashing while a stop
			 * lets the running tasks finish says nothing of its task. */
			list_push(&back, t);
			continue;
		}
		if (t->charged <= p->o.retries) {
			CNT(p, retried, 1);
			t->retry = 1;
			emit(p, &(pool_event){.kind = POOL_EV_RETRY, .worker = slot, .pid = (int)pid,
					      .at_ns = pool_now_ns(), .cause = msg,
					      .index = t->index, .id = t->id, .status = st,
					      .start_ns = started, .end_ns = pool_now_ns(),
					      .attempt = t->charged});
			list_push(&back, t);
		} else {
			deliver_msg(p, t, st, msg, slot, (int)pid, started, pool_now_ns());
		}
	}
	if (recycled) {
		if (!p->joining) /* leaving at join is not a recycle */
			CNT(p, recycled, 1);
	} else if (w->kill_status != POOL_CANCELLED && !starting) {
		CNT(p, crashed, 1);
	}
	if (!p->broken && (p->terminated || p->interrupted)) {
		while ((t = list_pop(&back)))
			cancel_task(p, t, p->terminated ? "terminated" : "interrupted");
	} else {
		list_prepend(&p->queue, &back); /* broken: cancel_everything ends them */
	}

	if (starting) {
		failed_start(p, w, cause, killed_from_outside(w, status));
		return;
	}
	if (p->terminated || p->broken || p->interrupted || p->joining)
		return;
	if (work_outstanding(p) || !p->closed) {
		CNT(p, respawned, 1);
		respawn(p, w);
	}
}

/* Reap a worker whose pidfd became readable: read what it sent before dying first. */
static void drain_channel(pool *p, worker *w);

static void reap(pool *p, worker *w)
{
	if (w->state == W_EMPTY)
		return;
	int status = 0;
	pid_t r;
	do
		r = waitpid(w->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return; /* not ended yet (a stale poll event) */
	if (r < 0)
		status = STATUS_UNKNOWN; /* reaped by someone else (ECHILD): its pidfd said it ended */
	if (w->fd >= 0)
		drain_channel(p, w);
	worker_ended(p, w, status);
}

/* ------------------------------------------------------------------------- */
/* Breaking, terminating                                                      */

/* End every unfinished task with msg, including the ones not produced yet. */
static void cancel_everything(pool *p, const char *msg)
{
	task *t;
	while ((t = list_pop(&p->queue)))
		cancel_task(p, t, msg);
	for (int i = 0; i < p->nworkers; i++)
		while ((t = list_pop(&p->w[i].held)))
			cancel_task(p, t, msg);
	for (job *j = p->jobs, *next; j; j = next) {
		next = j->next;
		/* A map's unproduced tasks still need a result each. */
		while (!j->feed && !j->source_done && (t = job_produce(p, j)))
			cancel_task(p, t, msg);
		if (p->broken)
			j->cut = 1; /* a feed stopped before its end */
		source_ended(p, j);
		job_settle(p, j);
	}
}

static void kill_all_and_reap(pool *p)
{
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		w->respawn_at = 0;
		if (w->state == W_EMPTY)
			continue;
		kill_worker(w, POOL_CANCELLED, 0, "pool terminated");
		int status = 0;
		pid_t r;
		while ((r = waitpid(w->pid, &status, 0)) < 0 && errno == EINTR)
			;
		worker_ended(p, w, r < 0 ? STATUS_UNKNOWN : status);
	}
}

static void break_pool(pool *p, const char *fmt, ...)
{
	if (p->broken)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->cause, sizeof p->cause, fmt, ap);
	va_end(ap);
	p->broken = 1;
	p->closed = 1;
	set_state_err(p);
	char msg[sizeof p->err];
	snprintf(msg, sizeof msg, "%s", p->err);
	kill_all_and_reap(p);
	cancel_everything(p, msg);
}

void pool_terminate(pool *p)
{
	if (!p || p->terminated || p->broken)
		return;
	p->terminated = 1;
	p->closed = 1;
	kill_all_and_reap(p);
	cancel_everything(p, "terminated");
}

/* ------------------------------------------------------------------------- */
/* Interrupt                                                                  */

/* No task of any worker starts after this (see worker.h). */
static void stop_claims(pool *p)
{
	for (int i = 0; i < p->nworkers; i++)
		atomic_fetch_or_explicit(&p->shm[i].claim, CLAIM_STOP, memory_order_acq_rel);
}

void pool_interrupt(pool *p)
{
	if (!p)
		return;
	int saved = errno;
	p->interrupted = 1;
	stop_claims(p);
	ssize_t ignored = write(p->intr_pipe[1], "!", 1);
	(void)ignored;
	errno = saved;
}

int pool_interrupted(const pool *p)
{
	return p && p->interrupted;
}

void pool_continued(pool *p)
{
	if (p)
		atomic_fetch_add(&p->continued, 1);
}

/* In the loop: stop producing, and end every task that has not started. */
static void handle_interrupt(pool *p)
{
	char buf[64];
	while (read(p->intr_pipe[0], buf, sizeof buf) > 0)
		;
	if (p->interrupt_handled)
		return;
	p->interrupt_handled = 1;
	/* Again, from this thread: a worker spawned while the signal handler ran may
	 * have had its claim word reset after the handler set it. */
	stop_claims(p);
	task *t;
	while ((t = list_pop(&p->queue)))
		cancel_task(p, t, "interrupted");
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		uint64_t claimed = atomic_load(&p->shm[i].claim) & CLAIM_SEQ;
		for (task *next, *u = w->held.head; u; u = next) {
			next = u->next;
			if (u->seq < claimed)
				continue;
			list_unlink(u);
			w->held_bytes -= u->len;
			cancel_task(p, u, "interrupted");
		}
	}
	for (job *j = p->jobs, *next; j; j = next) {
		next = j->next;
		while (!j->feed && !j->source_done && (t = job_produce(p, j)))
			cancel_task(p, t, "interrupted");
		source_ended(p, j);
		job_settle(p, j);
	}
}

/* ------------------------------------------------------------------------- */
/* Dispatch                                                                   */

static void send_pending(worker *w);

/* How many tasks a worker should hold (sent, not answered) for chunks of cs. */
static size_t depth(const pool *p, size_t cs)
{
	if (p->o.prefetch < 0)
		return cs;
	if (p->o.prefetch > 0)
		return cs * ((size_t)p->o.prefetch + 1);
	size_t d = 2; /* until a task time is known */
	if (p->task_ns >= 0) {
		int64_t per = p->task_ns > 0 ? p->task_ns : 1;
		d = 1 + (size_t)((AUTO_TARGET_NS + per - 1) / per);
		if (d > AUTO_MAX_DEPTH)
			d = AUTO_MAX_DEPTH;
	}
	return d > cs ? d : cs;
}

/* How far below its depth a worker must fall before it is sent more: batches. */
static size_t batch(const pool *p, size_t d)
{
	if (p->o.prefetch != 0)
		return 1;
	size_t b = d / 4;
	return b < 1 ? 1 : b > AUTO_MAX_BATCH ? AUTO_MAX_BATCH : b;
}

/* Has the task w runs now been running so long that nothing should queue behind
 * it? (An idle worker may then take what waits there.) */
static int stuck(const pool *p, int slot)
{
	if (!atomic_load_explicit(&p->shm[slot].running, memory_order_relaxed))
		return 0;
	int64_t ran = p->now - atomic_load_explicit(&p->shm[slot].started_ns,
						    memory_order_relaxed);
	int64_t limit = p->task_ns > 0 ? STUCK_FACTOR * p->task_ns : 0;
	return ran > (limit > STUCK_MIN_NS ? limit : STUCK_MIN_NS);
}

/* Add one chunk (tasks that go together) to the message being built for w.
 * Returns the number of tasks added; 0 when there is nothing to add. */
static size_t add_chunk(pool *p, worker *w, size_t cs)
{
	size_t take = cs;
	if (p->o.max_tasks_per_worker) {
		size_t left = p->o.max_tasks_per_worker - w->assigned;
		if (take > left)
			take = left;
	}
	size_t got = 0;
	for (size_t k = 0; k < take; k++) {
		task *t = next_task(p);
		if (!t)
			break;
		if (t->len > p->o.max_message) {
			deliver_msg(p, t, POOL_ERROR,
				    "task argument over the pool's message size limit", -1, 0, 0,
				    0);
			continue;
		}
		if (!w->building) {
			imgpool_wire_begin(&w->out, WIRE_TASKS);
			w->out_off = 0;
			w->building = 1;
		}
		if (imgpool_wire_add_task(&w->out, t->id, (uint64_t)(uintptr_t)t->job->fn,
					  t->retry ? WIRE_FLUSH_FIRST : 0, t->arg, t->len) < 0) {
			list_push(&p->queue, t); /* out of memory: try again later */
			break;
		}
		t->seq = w->sent++;
		list_push(&w->held, t);
		w->held_bytes += t->len;
		w->assigned++;
		got++;
		if (t->retry && cs != 1)
			break; /* a retried task goes in a chunk of its own */
	}
	return got;
}

/* Can w be sent more now, up to `want` tasks held? */
static int can_send(const pool *p, const worker *w, size_t want)
{
	if (w->state != W_READY || w->fd < 0 || w->held.n >= want)
		return 0;
	if (w->out_off < w->out.len && !w->building)
		return 0; /* the last message is still going out */
	if (p->o.max_tasks_per_worker && w->assigned >= p->o.max_tasks_per_worker)
		return 0;
	if (w->held.n && w->held_bytes >= MAX_AHEAD_BYTES)
		return 0;
	return 1;
}

/* Let a worker that reached its task limit go once it has answered everything. */
static void retire_if_done(pool *p, worker *w)
{
	if (w->state == W_READY && p->o.max_tasks_per_worker &&
	    w->assigned >= p->o.max_tasks_per_worker && w->held.n == 0 &&
	    w->out.len == 0) {
		w->state = W_RETIRING;
		close_channel(w); /* EOF: it runs the finalizer and exits 0 */
	}
}

/*
 * Give workers tasks: first every worker one chunk in turn, then more, each up to
 * its depth, all a worker gets in one pass in one message. Then, when a worker is
 * idle and nothing is left to give, take back what another holds unstarted.
 */
static void dispatch(pool *p)
{
	if (p->terminated || p->broken)
		return;
	if (p->interrupted) {
		handle_interrupt(p);
		return;
	}
	for (int round = 0; round < 2; round++) {
		size_t cs = next_chunk(p);
		size_t want[p->nworkers];
		for (int k = 0; k < p->nworkers; k++) {
			worker *w = &p->w[k];
			size_t d = depth(p, cs ? cs : 1);
			/* Refill in batches; never queue behind a task that seems stuck. */
			if (w->held.n && (w->held.n + batch(p, d) > d || stuck(p, k)))
				want[k] = 0;
			else
				want[k] = d;
		}
		int starved = 0;
		for (int added = 1; added;) {
			added = 0;
			for (int k = 0; k < p->nworkers; k++) {
				worker *w = &p->w[(p->rr + k) % p->nworkers];
				if (!can_send(p, w, want[w->slot]))
					continue;
				size_t c = next_chunk(p);
				if (!c) {
					starved = 1;
					break;
				}
				if (w->held.n && w->held.n + c > want[w->slot])
					continue; /* whole chunks only, beyond the first */
				added += add_chunk(p, w, c) > 0;
			}
		}
		/* A feed that said "nothing yet" while filling leaves nothing to give,
		 * as a dry one does: an idle worker may still take work back below. */
		if (!starved && !next_chunk(p))
			starved = 1;
		for (int k = 0; k < p->nworkers; k++)
			if (p->w[k].building) {
				p->w[k].building = 0;
				send_pending(&p->w[k]);
			}
		if (!starved || round)
			break;
		/* Nothing left to give: an idle worker takes what waits unstarted behind
		 * a running task elsewhere (the one with the most). */
		int idle = 0;
		worker *victim = NULL;
		uint64_t most = 0;
		for (int k = 0; k < p->nworkers; k++) {
			worker *w = &p->w[k];
			if (w->state != W_READY)
				continue;
			if (!w->held.n && can_send(p, w, 1))
				idle = 1;
			uint64_t c = atomic_load_explicit(&p->shm[k].claim, memory_order_relaxed) &
				     CLAIM_SEQ;
			uint64_t waiting = w->sent > c ? w->sent - c : 0;
			/* One task waiting behind a short running one is best left. */
			if ((waiting > 1 || (waiting == 1 && stuck(p, k))) && waiting > most) {
				most = waiting;
				victim = w;
			}
		}
		if (!idle || !victim || !take_back(p, victim))
			break;
	}
	p->rr++;
}

static void send_pending(worker *w)
{
	if (w->fd < 0 || w->out_off >= w->out.len)
		return;
	int k = imgpool_wire_send(w->fd, &w->out, &w->out_off, 1);
	if (k < 0) {
		/* EPIPE / ECONNRESET: it is dying; its pidfd will tell how. */
		w->out.len = w->out_off = 0;
	} else if (k == 1) {
		w->out.len = w->out_off = 0;
		if (w->out.cap > 1 << 20)
			pool_buf_release(&w->out);
	}
}

/* ------------------------------------------------------------------------- */
/* Receiving                                                                  */

static void protocol_error(pool *p, worker *w, const char *why)
{
	pool_slot_shm *shm = &p->shm[w->slot];
	uint64_t culprit = atomic_load(&shm->running);
	if (!culprit && w->held.head)
		culprit = w->held.head->id;
	kill_worker(w, POOL_CRASHED, culprit,
		    "worker %d (pid %d) sent a malformed message (%s) while running task %llu",
		    w->slot, (int)w->pid, why, (unsigned long long)culprit);
	close_channel(w);
}

/* Fold one task's run time into the mean that sets the automatic prefetch. */
static void learn_task_time(pool *p, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	if (p->task_ns < 0)
		p->task_ns = ns;
	else
		p->task_ns += (ns - p->task_ns) / 8;
}

static void handle_results(pool *p, worker *w, wire_cursor *c)
{
	const char *why = NULL;
	wire_record r;
	int k;
	while ((k = imgpool_wire_next_result(c, &r, &why)) == 1) {
		task *t = w->held.head;
		if (!t || t->id != r.id) {
			protocol_error(p, w, "a result for a task it does not hold");
			return;
		}
		list_unlink(t);
		w->held_bytes -= t->len;
		t->starts++;
		char *d = malloc(r.len + 1);
		if (d) {
			if (r.len)
				memcpy(d, r.data, r.len);
			d[r.len] = '\0';
		}
		learn_task_time(p, r.end_ns - r.start_ns);
		deliver(p, t, r.status == WIRE_OK ? POOL_OK : POOL_ERROR, d, d ? r.len : 0,
			w->slot, (int)w->pid, r.start_ns, r.end_ns);
	}
	if (k < 0)
		protocol_error(p, w, why);
}

static void handle_message(pool *p, worker *w)
{
	const char *why = NULL;
	wire_cursor c;
	int type = imgpool_wire_open(&w->rx.buf, &c, &why);
	if (type < 0) {
		protocol_error(p, w, why);
		return;
	}
	if (w->state == W_STARTING) {
		if (type == WIRE_READY) {
			w->state = W_READY;
			w->was_ready = 1;
			w->start_deadline = 0;
			p->failed_starts = p->killed_starts = 0;
			return;
		}
		if (type == WIRE_INIT_FAILED) {
			size_t n = (size_t)(c.end - c.p);
			char msg[400];
			snprintf(msg, sizeof msg, "worker initializer failed: %.*s",
				 (int)(n > 300 ? 300 : n), c.p);
			/* Stop here rather than respawn a worker that cannot start. */
			kill_worker(w, POOL_CANCELLED, 0, "initializer failed");
			break_pool(p, "%s", msg);
			return;
		}
	}
	if (type != WIRE_RESULTS) {
		protocol_error(p, w, "a message of the wrong type");
		return;
	}
	handle_results(p, w, &c);
}

/* Read what a worker sent, at most a bounded number of packets so one busy worker
 * cannot starve the others. */
static void read_channel(pool *p, worker *w, int budget)
{
	while (w->fd >= 0 && budget-- > 0) {
		const char *why = NULL;
		int k = imgpool_wire_rx_packet(&w->rx, w->fd, p->o.max_message + 4096, 1, &why);
		if (k == WIRE_RX_MESSAGE) {
			handle_message(p, w);
			imgpool_wire_rx_reset(&w->rx);
			if (w->rx.buf.cap > 1 << 20)
				imgpool_wire_rx_release(&w->rx);
			if (p->broken)
				return;
		} else if (k == WIRE_RX_PARTIAL) {
			continue;
		} else if (k == WIRE_RX_AGAIN) {
			return;
		} else if (k == WIRE_RX_BAD) {
			protocol_error(p, w, why);
			return;
		} else {
			/* EOF or error: if it ended mid-message the data is not trusted. */
			close_channel(w);
			if (w->state != W_DYING && w->state != W_RETIRING)
				w->linger_deadline = pool_now_ns() + LINGER_NS;
			return;
		}
	}
}

static void drain_channel(pool *p, worker *w)
{
	read_channel(p, w, INT_MAX);
}

/* ------------------------------------------------------------------------- */
/* The loop                                                                   */

/*
 * The loop's poll() came back `lost` ns later than it asked: the process was
 * stopped (Ctrl-Z, SIGSTOP to its process group, a debugger) or not run. The
 * workers most likely were stopped too (a stop goes to the group), so that time
 * counts against no deadline: those the pool keeps move on by it, and the attempt
 * each worker is running gets it as grace. Without this, the first turn after a
 * Ctrl-Z longer than the timeout killed every running worker as timed out, before
 * reading the results they sent as they resumed. Only poll()'s oversleep counts
 * (a caller that calls in rarely gives its tasks no grace: their workers ran), and
 * while a task's deadline is pending poll() sleeps LOST_SLACK_NS at most, so a stop
 * there is credited to within that. A worker that truly hangs through a stop is
 * killed that much later.
 */
static void lost_time(pool *p, int64_t lost)
{
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state == W_EMPTY)
			continue;
		int64_t *moved[] = {&w->linger_deadline, &w->start_deadline, &w->exit_deadline,
				    &w->idle_since};
		for (size_t k = 0; k < sizeof moved / sizeof *moved; k++)
			if (*moved[k])
				*moved[k] += lost;
		uint64_t id = atomic_load_explicit(&p->shm[i].running, memory_order_acquire);
		int64_t started = atomic_load_explicit(&p->shm[i].started_ns, memory_order_acquire);
		if (!id)
			continue;
		/* Keyed by the attempt (a retry on this slot keeps the task's id). */
		if (w->grace_task != id || w->grace_started != started) {
			w->grace_task = id;
			w->grace_started = started;
			w->grace_ns = 0;
		}
		w->grace_ns += lost;
	}
}

/* Does any worker hold a task (sent, not answered: it may be running it)? */
static int holding_any(const pool *p)
{
	for (int i = 0; i < p->nworkers; i++)
		if (p->w[i].state != W_EMPTY &&
		    (p->w[i].held.n ||
		     atomic_load_explicit(&p->shm[i].running, memory_order_relaxed)))
			return 1;
	return 0;
}

/*
 * The loop ran until now: last_turn, from which pool_continued() counts, moves on
 * to a clock read known to come before any stop not yet credited. A SIGCONT
 * handler runs as soon as the process is continued, so a stop before the read
 * shows as a count that changed; then last_turn stays where it was (before the
 * stop) for note_continued(). Moving it on regardless, at the end of a turn that a
 * stop cut in two (a result's callback, the reading of the workers' channels),
 * credited nothing: every task running through the stop timed out.
 */
static void mark_turn(pool *p)
{
	unsigned before = atomic_load(&p->continued);
	int64_t t = pool_now_ns();
	if (before == p->continued_seen && atomic_load(&p->continued) == before)
		p->last_turn = t;
}

/* poll() is back: did it sleep longer than asked (lost_time())? A stop there also
 * counted a continue when the caller counts them: credited here, not again by
 * note_continued(). */
static void note_awake(pool *p)
{
	unsigned continued = atomic_load(&p->continued); /* before the clock: see mark_turn() */
	int64_t t = pool_now_ns();
	if (p->awake_until && t - p->awake_until > LOST_SLACK_NS) {
		lost_time(p, t - p->awake_until);
		p->continued_seen = continued;
		p->last_turn = t;
	} else {
		mark_turn(p);
	}
	p->awake_until = 0;
}

/* Continued after a stop (pool_continued()): the time since the loop last ran is
 * lost time, wherever the stop found the process. */
static void note_continued(pool *p)
{
	unsigned now_seen = atomic_load(&p->continued);
	if (now_seen == p->continued_seen)
		return;
	p->continued_seen = now_seen;
	if (!p->last_turn)
		return;
	int64_t t = pool_now_ns();
	if (t - p->last_turn > LOST_SLACK_NS)
		lost_time(p, t - p->last_turn);
	p->last_turn = t;
}

/* Kill workers past a deadline (a task's timeout, a start that takes too long, a
 * closed channel), start the ones whose backoff is over; return the nearest
 * deadline still ahead (INT64_MAX for none). */
static int64_t check_deadlines(pool *p, int64_t now)
{
	int64_t nearest = INT64_MAX;
	int64_t limit = p->o.timeout > 0 ? secs_to_ns(p->o.timeout) : 0;
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state == W_EMPTY && w->respawn_at) {
			if (now < w->respawn_at) {
				if (w->respawn_at < nearest)
					nearest = w->respawn_at;
			} else if (!p->terminated && !p->broken && !p->interrupted &&
				   !p->joining && (work_outstanding(p) || !p->closed)) {
				respawn(p, w); /* then its start deadline counts, below */
				if (p->broken)
					return nearest;
			} else {
				w->respawn_at = 0;
			}
		}
		if (w->state == W_EMPTY)
			continue;
		if (w->linger_deadline) {
			if (now >= w->linger_deadline) {
				w->linger_deadline = 0;
				kill_worker(w, POOL_CRASHED, 0,
					    "worker %d (pid %d) closed its channel", w->slot,
					    (int)w->pid);
			} else if (w->linger_deadline < nearest) {
				nearest = w->linger_deadline;
			}
		}
		if (w->exit_deadline) {
			/* Let go by pool_join: a finalizer may take its time, but a worker
			 * stopped from outside never ends, nor one past a stop asked. */
			if (now < w->exit_deadline) {
				if (w->exit_deadline < nearest)
					nearest = w->exit_deadline;
			} else if (p->interrupted || process_stopped(w->pid)) {
				w->exit_deadline = 0;
				kill_worker(w, POOL_CANCELLED, KILL_CHARGES_NONE, "worker %d (pid %d) "
					    "did not exit when let go (%s)", w->slot, (int)w->pid,
					    p->interrupted ? "a stop was asked" : "stopped from outside");
			} else {
				w->exit_deadline = now + LINGER_NS; /* alive: look again */
				if (w->exit_deadline < nearest)
					nearest = w->exit_deadline;
			}
		}
		if (w->state == W_STARTING && w->start_deadline) {
			if (now >= w->start_deadline)
				kill_worker(w, POOL_CRASHED, 0,
					    "worker %d (pid %d) not ready after %g s (initializer "
					    "timeout)", w->slot, (int)w->pid,
					    (double)p->init_timeout_ns / 1e9);
			else if (w->start_deadline < nearest)
				nearest = w->start_deadline;
		}
		if (p->interrupted && w->state == W_READY &&
		    (w->held.n || atomic_load_explicit(&p->shm[i].running, memory_order_acquire))) {
			/* The running tasks may finish after a stop (what a worker holds then
			 * it has started), but not on a worker stopped from outside: it would
			 * hold the run until its timeout, or for ever without one. Seen in a
			 * job-control stop (not a debugger's trace stop) at two looks
			 * STOPPED_POLL_NS apart (a Ctrl-Z or fg reaches each process at its
			 * own moment), it is killed and its tasks cancelled (worker_ended()). */
			if (!process_job_stopped(w->pid)) {
				w->seen_stopped = 0;
			} else if (!w->seen_stopped) {
				w->seen_stopped = now;
			} else if (now - w->seen_stopped >= STOPPED_POLL_NS) {
				kill_worker(w, POOL_CANCELLED, KILL_CHARGES_NONE, "worker %d (pid %d) "
					    "was stopped from outside after a stop was asked",
					    w->slot, (int)w->pid);
				continue;
			}
			if (now + STOPPED_POLL_NS < nearest)
				nearest = now + STOPPED_POLL_NS;
		}
		if (!limit || w->state != W_READY)
			continue;
		uint64_t id = atomic_load_explicit(&p->shm[i].running, memory_order_acquire);
		if (!id) {
			/* Holding tasks and running none, a worker takes the next at once,
			 * unless something outside stopped it (SIGSTOP, a debugger): then no
			 * task's deadline ever starts, and the caller would wait for ever.
			 * After `limit` with no task started, and seen stopped in /proc (not
			 * merely waiting for the rest of a message, or for us to read its
			 * results while the caller was away), it is replaced; what it held
			 * goes to the others, charged to no task. A worker retiring (over the
			 * RSS limit) runs its finalizer with tasks still held: not this case.
			 * (It may start one the moment after we look: look again by then.) */
			int64_t started = atomic_load(&p->shm[i].started_ns);
			if (!w->held.n || atomic_load(&p->shm[i].retiring)) {
				w->idle_since = 0;
				continue;
			}
			if (!w->idle_since || started != w->idle_started) {
				w->idle_since = now;
				w->idle_started = started;
			}
			if (now - w->idle_since < limit) {
				if (w->idle_since + limit < nearest)
					nearest = w->idle_since + limit;
			} else if (process_stopped(w->pid)) {
				kill_worker(w, POOL_CRASHED, KILL_CHARGES_NONE, "worker %d (pid %d) "
					    "was stopped from outside, holding %zu tasks it did not "
					    "start for %g s", w->slot, (int)w->pid, w->held.n,
					    p->o.timeout);
			} else {
				w->idle_since = now; /* alive: look again a timeout from now */
				if (now + limit < nearest)
					nearest = now + limit;
			}
			continue;
		}
		w->idle_since = 0;
		int64_t started = atomic_load(&p->shm[i].started_ns);
		int64_t deadline = started + limit +
				   (w->grace_task == id && w->grace_started == started ? w->grace_ns
										 : 0);
		if (now >= deadline) {
			kill_worker(w, POOL_TIMEOUT, id, "timed out after %g s", p->o.timeout);
		} else if (deadline < nearest) {
			nearest = deadline;
		}
	}
	return nearest;
}

/*
 * While a worker idles, tasks waiting behind a running one elsewhere are taken back
 * once that one counts as stuck: when is the next such moment? INT64_MAX: none.
 */
static int64_t idle_wakeup(const pool *p)
{
	int idle = 0;
	for (int i = 0; i < p->nworkers; i++)
		idle |= p->w[i].state == W_READY && p->w[i].held.n == 0;
	if (!idle)
		return INT64_MAX;
	int64_t limit = p->task_ns > 0 ? STUCK_FACTOR * p->task_ns : 0;
	if (limit < STUCK_MIN_NS)
		limit = STUCK_MIN_NS;
	int64_t nearest = INT64_MAX;
	for (int i = 0; i < p->nworkers; i++) {
		const worker *w = &p->w[i];
		uint64_t c = atomic_load_explicit(&p->shm[i].claim, memory_order_relaxed);
		if (w->state != W_READY || (c & CLAIM_STOP) || c >= w->sent ||
		    !atomic_load_explicit(&p->shm[i].running, memory_order_relaxed))
			continue;
		int64_t at = atomic_load_explicit(&p->shm[i].started_ns,
						  memory_order_relaxed) + limit + 1;
		if (at > p->now && at < nearest)
			nearest = at;
	}
	return nearest;
}

/* Feeds that said POOL_FEED_LATER and whose descriptor was not watched (none, or
 * no room in the poll set): ask again once due. */
static void feeds_due(pool *p)
{
	for (job *j = p->jobs; j; j = j->next)
		if (j->feed_later && j->feed_pfd < 0 && p->now >= j->feed_later_at + FEED_RETRY_NS)
			j->feed_later = 0;
}

/* Room for n entries in the poll scratch arrays. */
static int pfd_reserve(pool *p, size_t n)
{
	if (n <= p->pfd_cap)
		return 0;
	struct pollfd *f = realloc(p->pfd, n * sizeof *f);
	if (f)
		p->pfd = f;
	int *who = f ? realloc(p->pfd_who, n * sizeof *who) : NULL;
	if (who)
		p->pfd_who = who;
	if (!f || !who)
		return -1;
	p->pfd_cap = n;
	return 0;
}

/* Append the descriptors of the feeds waiting for one to the poll set of n
 * entries, each job noting its entry; bring *nearest forward for those with none,
 * or where the set cannot grow (they are asked again in a while). Returns the new n. */
static int add_feed_fds(pool *p, int n, int64_t *nearest)
{
	for (job *j = p->jobs; j; j = j->next) {
		j->feed_pfd = -1;
		if (!j->feed_later)
			continue;
		if (j->feed_fd >= 0 && pfd_reserve(p, (size_t)n + 1) == 0) {
			p->pfd[n] = (struct pollfd){j->feed_fd, POLLIN, 0};
			p->pfd_who[n] = -2;
			j->feed_pfd = n++;
		} else if (j->feed_later_at + FEED_RETRY_NS < *nearest) {
			*nearest = j->feed_later_at + FEED_RETRY_NS;
		}
	}
	return n;
}

/* Feeds whose descriptor poll found readable (or hung up, or in error) are asked
 * again. Nothing ran since add_feed_fds() but poll(): the jobs and their entries
 * are as it left them. A descriptor the caller closed (POLLNVAL) is no longer
 * watched: the feed is asked again in a while instead. */
static void feeds_readable(pool *p)
{
	for (job *j = p->jobs; j; j = j->next) {
		if (!j->feed_later || j->feed_pfd < 0)
			continue;
		short ev = p->pfd[j->feed_pfd].revents;
		if (ev & POLLNVAL) {
			j->feed_fd = -1;
			j->feed_pfd = -1;
		} else if (ev) {
			j->feed_later = 0;
		}
	}
}

/*
 * One turn: dispatch, wait for an event or `until` (absolute ns; INT64_MAX: no
 * limit; 0: don't wait), handle what happened. Returns -1 if the pool is broken.
 */
static int loop_once(pool *p, int64_t until)
{
	if (p->broken)
		return -1;
	/* The clock first: a stop before the read has counted a continue by then (its
	 * time credited here), one after it leaves `now` from before the stop. */
	p->now = pool_now_ns();
	note_continued(p);
	/* A stop that lands in this turn is credited from here, not from the last
	 * turn's end: the caller's time away from the pool in between was the
	 * workers' time, which counts. */
	mark_turn(p);
	feeds_due(p);
	/* Dispatch can itself finish things (a feed that runs dry, a task refused):
	 * then the caller must look before we sleep. */
	uint64_t before = p->finished_now + p->sources_ended;
	dispatch(p);
	if (p->broken)
		return -1;
	if (p->finished_now + p->sources_ended != before)
		until = 0;
	int64_t now = p->now;
	int64_t nearest = check_deadlines(p, now);
	if (p->broken)
		return -1;
	if (until < nearest)
		nearest = until;
	int64_t unstick = idle_wakeup(p);
	if (unstick < nearest)
		nearest = unstick;

	int n = 0;
	p->pfd[n] = (struct pollfd){p->intr_pipe[0], POLLIN, 0};
	p->pfd_who[n++] = -1;
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state == W_EMPTY)
			continue;
		if (w->fd >= 0) {
			short ev = POLLIN;
			if (w->out_off < w->out.len)
				ev |= POLLOUT;
			p->pfd[n] = (struct pollfd){w->fd, ev, 0};
			p->pfd_who[n++] = i;
		}
		if (w->pidfd >= 0) {
			p->pfd[n] = (struct pollfd){w->pidfd, POLLIN, 0};
			p->pfd_who[n++] = i + p->nworkers;
		} else if (w->fd < 0 && now + REAP_POLL_NS < nearest) {
			nearest = now + REAP_POLL_NS; /* no pidfd: look again soon */
		}
	}
	int feeds_from = n;
	n = add_feed_fds(p, n, &nearest);
	/* While a task may time out, look at least every LOST_SLACK_NS: a stop of the
	 * whole group inside poll() is then credited (lost_time()) to within that. */
	if (p->o.timeout > 0 && holding_any(p) && now + LOST_SLACK_NS < nearest)
		nearest = now + LOST_SLACK_NS;
	int timeout_ms;
	if (nearest == INT64_MAX)
		timeout_ms = -1;
	else if (nearest <= now)
		timeout_ms = 0;
	else if (nearest - now > (int64_t)INT_MAX * 1000000)
		timeout_ms = INT_MAX;
	else
		timeout_ms = (int)((nearest - now + 999999) / 1000000);
	p->awake_until = timeout_ms < 0 ? 0 : pool_now_ns() + (int64_t)timeout_ms * 1000000;
	int k = poll(p->pfd, (nfds_t)n, timeout_ms);
	int poll_errno = errno;
	note_awake(p);
	errno = poll_errno;
	if (k < 0 && errno != EINTR) {
		set_err(p, "poll: %s", strerror(errno));
		return -1;
	}
	if (k > 0 && n > feeds_from)
		feeds_readable(p); /* first: the job list is as polled */
	if (k > 0) {
		/* Channels first, so results sent just before a death are counted. */
		for (int i = 0; i < n; i++) {
			if (!p->pfd[i].revents)
				continue;
			int who = p->pfd_who[i];
			if (who == -2)
				continue; /* a feed's descriptor */
			if (who == -1) {
				handle_interrupt(p);
				continue;
			}
			if (who >= p->nworkers)
				continue;
			worker *w = &p->w[who];
			if (w->fd != p->pfd[i].fd)
				continue;
			if (p->pfd[i].revents & POLLOUT)
				send_pending(w);
			if (p->pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				read_channel(p, w, 64);
			if (p->broken)
				return -1;
		}
		for (int i = 0; i < n; i++) {
			int who = p->pfd_who[i];
			if (who < p->nworkers || !p->pfd[i].revents)
				continue;
			worker *w = &p->w[who - p->nworkers];
			if (w->state != W_EMPTY && w->pidfd == p->pfd[i].fd)
				reap(p, w);
			if (p->broken)
				return -1;
		}
	}
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state != W_EMPTY && w->pidfd < 0 && w->fd < 0)
			reap(p, w);
		if (p->broken)
			return -1;
		retire_if_done(p, w);
	}
	mark_turn(p);
	return p->broken ? -1 : 0;
}

/* ------------------------------------------------------------------------- */
/* Create, close, join, destroy                                               */

int pool_version(void)
{
	return POOL_VERSION;
}

/* Count the workers in a given state. */
static int count_state(const pool *p, enum worker_state st)
{
	int n = 0;
	for (int i = 0; i < p->nworkers; i++)
		n += p->w[i].state == st;
	return n;
}

static void give_err(char **err, const char *msg)
{
	if (err)
		*err = strdup(msg);
}

/* The workers' exit statuses are how a crash is told from a kill from outside and
 * a clean exit. With SIGCHLD ignored (SIG_IGN or SA_NOCLDWAIT, inherited through
 * exec from a parent that set it: Python's signal.signal(SIGCHLD, SIG_IGN), Perl's
 * $SIG{CHLD} = 'IGNORE', some daemons) the kernel reaps children itself and
 * waitpid() says ECHILD: a worker killed by the OOM killer looked like one that
 * exited with status 0. SIG_DFL ignores the signal as well, and keeps them. The
 * disposition found is given back when the last pool is destroyed (a host that
 * ignores SIGCHLD to have its own children reaped gets that back). */
static pthread_mutex_t sigchld_lock = PTHREAD_MUTEX_INITIALIZER;
static int sigchld_pools;            /* pools alive that hold SIGCHLD at SIG_DFL */
static int sigchld_changed;          /* ... and it was changed for them: */
static struct sigaction sigchld_found; /* what it was */

static void keep_exit_statuses(pool *p)
{
	struct sigaction sa;
	pthread_mutex_lock(&sigchld_lock);
	if (sigaction(SIGCHLD, NULL, &sa) == 0) {
		int ignored = !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN;
		if (ignored || (sa.sa_flags & SA_NOCLDWAIT)) {
			if (!sigchld_changed) {
				sigchld_found = sa;
				sigchld_changed = 1;
			}
			if (ignored)
				sa.sa_handler = SIG_DFL;
			sa.sa_flags &= ~SA_NOCLDWAIT;
			sigaction(SIGCHLD, &sa, NULL);
		}
	}
	sigchld_pools++;
	p->holds_sigchld = 1;
	pthread_mutex_unlock(&sigchld_lock);
}

static void give_back_sigchld(pool *p)
{
	if (!p->holds_sigchld)
		return;
	pthread_mutex_lock(&sigchld_lock);
	if (--sigchld_pools == 0 && sigchld_changed) {
		sigaction(SIGCHLD, &sigchld_found, NULL);
		sigchld_changed = 0;
	}
	pthread_mutex_unlock(&sigchld_lock);
}

pool *pool_create_sized(const pool_options *opt, size_t opt_size, char **err)
{
	if (err)
		*err = NULL;
	/* The caller's options may be older (shorter: the rest takes defaults) or newer
	 * than ours (longer: fine as long as what we do not know of is left 0). */
	pool_options o = {0};
	if (opt) {
		memcpy(&o, opt, opt_size < sizeof o ? opt_size : sizeof o);
		for (size_t i = sizeof o; i < opt_size; i++)
			if (((const unsigned char *)opt)[i]) {
				give_err(err, "pool_options has fields this library does not know "
					      "(built with a newer pool.h)");
				return NULL;
			}
	}
	if (o.workers <= 0)
		o.workers = online_cpus();
	if (o.retries == 0)
		o.retries = 1;
	else if (o.retries < 0)
		o.retries = 0;
	if (o.max_message == 0)
		o.max_message = DEFAULT_MAX_MESSAGE;
	if (o.timeout < 0)
		o.timeout = 0;
	if (o.min_ready <= 0 || o.min_ready > o.workers)
		o.min_ready = o.workers;

	size_t extra = sizeof(pool_shared) + (size_t)o.workers * sizeof(_Atomic int);
	pool *p = calloc(1, sizeof *p + extra);
	if (!p) {
		give_err(err, "out of memory");
		return NULL;
	}
	p->o = o;
	p->nworkers = o.workers;
	p->self = getpid();
	p->task_ns = -1;
	double it = o.init_timeout == 0 ? o.timeout : o.init_timeout;
	p->init_timeout_ns = it > 0 ? secs_to_ns(it) : 0;
	p->intr_pipe[0] = p->intr_pipe[1] = -1;
	keep_exit_statuses(p);
	p->w = calloc((size_t)o.workers, sizeof *p->w);
	p->pfd_cap = (size_t)o.workers * 2 + 1;
	p->pfd = calloc(p->pfd_cap, sizeof *p->pfd);
	p->pfd_who = calloc(p->pfd_cap, sizeof *p->pfd_who);
	p->shm_len = (size_t)o.workers * sizeof(pool_slot_shm);
	p->shm = mmap(NULL, p->shm_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (p->shm == MAP_FAILED)
		p->shm = NULL;
	if (!p->w || !p->pfd || !p->pfd_who || !p->shm ||
	    pipe2(p->intr_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		give_err(err, "cannot set up the pool: out of memory or descriptors");
		pool_destroy(p);
		return NULL;
	}
	atomic_store(&shared_of(p)->c.alive, 0);
	for (int i = 0; i < o.workers; i++) {
		p->w[i].slot = i;
		p->w[i].fd = p->w[i].pidfd = -1;
	}
	for (int i = 0; i < o.workers && !p->broken; i++)
		respawn(p, &p->w[i]);
	/* Wait for min_ready initializers, so a failing one is an error here, not later. */
	while (!p->broken && count_state(p, W_READY) < o.min_ready)
		if (loop_once(p, INT64_MAX) < 0 && !p->broken)
			break_pool(p, "%s", p->err);
	if (p->broken) {
		give_err(err, p->cause);
		pool_destroy(p);
		return NULL;
	}
	return p;
}

#undef pool_create
pool *pool_create(const pool_options *opt, char **err)
{
	return pool_create_sized(opt, sizeof(pool_options), err);
}

void pool_close(pool *p)
{
	if (p)
		p->closed = 1;
}

int pool_join(pool *p)
{
	if (!p)
		return -1;
	if (p->broken) {
		set_state_err(p);
		return -1;
	}
	if (!p->closed) {
		set_err(p, "pool_join: the pool is not closed");
		return -1;
	}
	p->draining = 1;
	while (!p->terminated && work_outstanding(p))
		if (loop_once(p, INT64_MAX) < 0) {
			set_state_err(p);
			return -1;
		}
	/* Let every worker go: EOF on its channel makes it run the finalizer and exit.
	 * One that does not is killed once it is seen stopped from outside (after the
	 * task timeout, or LINGER_NS without one), or LINGER_NS after a stop was asked
	 * (check_deadlines): a stopped worker held the join, and the run with it, for
	 * ever, a second Ctrl-C included. A finalizer at work is waited for. */
	p->joining = 1;
	int64_t grace = p->o.timeout > 0 ? secs_to_ns(p->o.timeout) : LINGER_NS;
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		w->respawn_at = 0;
		if (w->state == W_EMPTY)
			continue;
		if (w->state != W_DYING)
			w->state = W_RETIRING;
		close_channel(w);
		w->exit_deadline = pool_now_ns() + grace;
	}
	while (count_state(p, W_EMPTY) < p->nworkers) {
		int64_t soon = pool_now_ns() + LINGER_NS;
		for (int i = 0; p->interrupted && i < p->nworkers; i++) {
			worker *w = &p->w[i];
			if (w->state != W_EMPTY && (!w->exit_deadline || w->exit_deadline > soon))
				w->exit_deadline = soon;
		}
		if (loop_once(p, INT64_MAX) < 0) {
			set_state_err(p);
			return -1;
		}
	}
	return 0;
}

void pool_destroy(pool *p)
{
	if (!p)
		return;
	if (p->w) {
		int any = 0;
		for (int i = 0; i < p->nworkers; i++)
			any |= p->w[i].state != W_EMPTY;
		if (any || work_outstanding(p)) {
			p->terminated = 1;
			kill_all_and_reap(p);
			cancel_everything(p, "terminated");
		}
		for (int i = 0; i < p->nworkers; i++) {
			pool_buf_release(&p->w[i].out);
			imgpool_wire_rx_release(&p->w[i].rx);
		}
	}
	while (p->jobs) {
		job *j = p->jobs;
		p->jobs = j->next;
		if (j->future)
			j->future->job = NULL;
		if (j->iter)
			j->iter->job = NULL;
		free(j);
	}
	for (task *t = p->free_tasks, *n; t; t = n) {
		n = t->next;
		free(t);
	}
	if (p->shm)
		munmap(p->shm, p->shm_len);
	if (p->intr_pipe[0] >= 0)
		close(p->intr_pipe[0]);
	if (p->intr_pipe[1] >= 0)
		close(p->intr_pipe[1]);
	give_back_sigchld(p); /* every worker reaped */
	free(p->w);
	free(p->pfd);
	free(p->pfd_who);
	free(p);
}

const char *pool_error(const pool *p)
{
	return p ? p->err : "no pool";
}

pool_state pool_get_state(const pool *p)
{
	return p ? state_of(p) : POOL_BROKEN;
}

int pool_workers(const pool *p)
{
	return p ? p->nworkers : 0;
}

int pool_poll(pool *p, double timeout)
{
	if (!p)
		return -1;
	if (p->broken) {
		set_state_err(p);
		return -1;
	}
	int64_t until = timeout < 0 ? INT64_MAX : deadline_after(timeout);
	p->finished_now = 0;
	do {
		if (loop_once(p, until) < 0) {
			set_state_err(p);
			return -1;
		}
		if (timeout < 0 && !work_outstanding(p))
			break;
	} while (!p->finished_now && pool_now_ns() < until);
	return (int)p->finished_now;
}

/* ------------------------------------------------------------------------- */
/* apply / futures                                                            */

static job *job_new(pool *p, enum job_kind kind, pool_fn fn)
{
	if (p->closed || p->terminated || p->broken || p->interrupted) {
		set_state_err(p);
		return NULL;
	}
	job *j = calloc(1, sizeof *j);
	if (!j) {
		set_err(p, "out of memory");
		return NULL;
	}
	j->kind = kind;
	j->fn = fn;
	j->chunksize = 1;
	return j;
}

pool_future *pool_apply_async(pool *p, pool_fn fn, const void *arg, size_t len,
			      pool_done_fn done, void *data)
{
	if (!p)
		return NULL;
	job *j = job_new(p, JOB_APPLY, fn);
	if (!j)
		return NULL;
	pool_future *f = calloc(1, sizeof *f);
	task *t = f ? task_new(p, j, 0) : NULL;
	if (!t || task_copy_arg(t, arg, len) < 0) {
		if (t)
			task_free(p, t);
		free(j);
		free(f);
		set_err(p, "out of memory");
		return NULL;
	}
	f->p = p;
	f->job = j;
	f->done = done;
	f->data = data;
	f->r.worker = -1;
	j->future = f;
	j->n = 1;
	j->produced = 1;
	j->source_done = 1; /* never listed: its one task is queued already */
	list_push(&p->queue, t);
	return f;
}

int pool_future_ready(const pool_future *f)
{
	return f && f->ready;
}

int pool_future_successful(const pool_future *f)
{
	return f && f->ready && f->r.status == POOL_OK;
}

int pool_future_wait(pool_future *f, double timeout)
{
	if (!f)
		return -1;
	int64_t until = deadline_after(timeout);
	while (!f->ready) {
		if (!f->job)
			return -1; /* its pool is gone */
		if (pool_now_ns() >= until)
			return 0;
		if (loop_once(f->p, until) < 0) {
			if (f->ready)
				return 1;
			set_state_err(f->p);
			return -1;
		}
	}
	return 1;
}

const pool_result *pool_future_get(pool_future *f, double timeout)
{
	return pool_future_wait(f, timeout) == 1 ? &f->r : NULL;
}

int pool_future_take(pool_future *f, pool_result *r)
{
	if (!f || !r || !f->ready)
		return -1;
	*r = f->r;
	f->r.data = NULL;
	f->r.len = 0;
	return 0;
}

/* Has any task of job j started (or finished)? */
static int job_started(pool *p, const job *j)
{
	if (j->finished)
		return 1;
	for (int i = 0; i < p->nworkers; i++) {
		uint64_t claimed = atomic_load(&p->shm[i].claim) & CLAIM_SEQ;
		for (task *t = p->w[i].held.head; t && t->seq < claimed; t = t->next)
			if (t->job == j)
				return 1;
	}
	return 0;
}

int pool_future_cancel(pool_future *f)
{
	if (!f)
		return -1;
	pool *p = f->p;
	job *j = f->job;
	if (f->ready || !j || job_started(p, j))
		return 0;
	/* Take its tasks back from the workers that hold them; one may have started
	 * in the meantime. */
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		for (task *t = w->held.head; t; t = t->next)
			if (t->job == j) {
				take_back(p, w);
				break;
			}
	}
	if (job_started(p, j))
		return 0;
	/* Every task of it produced is queued now (or held by a worker that died and
	 * is not reaped yet: that cannot start it either). */
	task_list mine = {0};
	for (int i = -1; i < p->nworkers; i++) {
		task_list *l = i < 0 ? &p->queue : &p->w[i].held;
		for (task *t = l->head, *next; t; t = next) {
			next = t->next;
			if (t->job != j)
				continue;
			if (i >= 0)
				p->w[i].held_bytes -= t->len;
			list_unlink(t);
			list_push(&mine, t);
		}
	}
	while (!j->feed && !j->source_done) {
		task *t = job_produce(p, j);
		if (!t)
			break;
		list_push(&mine, t);
	}
	source_ended(p, j);
	if (!mine.n) {
		job_settle(p, j);
		return 1;
	}
	/* The last delivery may complete the job and free it (with its future, in a
	 * callback): touch neither after it. */
	task *t;
	while ((t = list_pop(&mine)))
		deliver_msg(p, t, POOL_CANCELLED, "cancelled", -1, 0, 0, 0);
	return 1;
}

void pool_future_free(pool_future *f)
{
	if (!f)
		return;
	if (f->job) {
		job *j = f->job;
		j->future = NULL;
		if (j->kind == JOB_MAP && !job_complete(j))
			j->results = NULL; /* the caller's array may go away now */
		if (job_complete(j) && !j->iter)
			job_unlink_and_free(f->p, j);
	}
	free(f->r.data);
	free(f);
}

int pool_wait_any(pool_future *const *fs, size_t n, double timeout, size_t *index)
{
	pool *p = NULL;
	for (size_t i = 0; i < n && !p; i++)
		if (fs[i] && fs[i]->job)
			p = fs[i]->p;
	int64_t until = deadline_after(timeout);
	for (;;) {
		for (size_t i = 0; i < n; i++)
			if (fs[i] && fs[i]->ready) {
				if (index)
					*index = i;
				return 1;
			}
		if (!p)
			return -1; /* nothing to wait for */
		if (pool_now_ns() >= until)
			return 0;
		uint64_t before = p->finished_now;
		if (loop_once(p, until) < 0 && p->finished_now == before) {
			set_state_err(p);
			return -1;
		}
	}
}

int pool_apply(pool *p, pool_fn fn, const void *arg, size_t len, pool_result *r)
{
	if (r)
		memset(r, 0, sizeof *r);
	if (!p || !r)
		return -1;
	pool_future *f = pool_apply_async(p, fn, arg, len, NULL, NULL);
	if (!f)
		return -1;
	int k = pool_future_wait(f, -1);
	int cut = f->job && f->job->cut;
	if (k == 1 && !cut)
		pool_future_take(f, r);
	pool_future_free(f);
	if (cut)
		set_state_err(p);
	return k == 1 && !cut ? 0 : -1;
}

/* ------------------------------------------------------------------------- */
/* map                                                                        */

pool_future *pool_map_async(pool *p, pool_fn fn, const pool_task *tasks, size_t n,
			    size_t chunksize, pool_result *results)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < n; i++)
		results[i] = (pool_result){.worker = -1, .index = i};
	job *j = job_new(p, JOB_MAP, fn);
	pool_future *f = j ? calloc(1, sizeof *f) : NULL;
	if (!f) {
		if (j)
			set_err(p, "out of memory");
		free(j);
		return NULL;
	}
	j->tasks = tasks;
	j->n = n;
	j->results = results;
	j->chunksize = chunksize ? chunksize : 1;
	j->future = f;
	j->source_done = n == 0;
	f->p = p;
	f->job = j;
	f->r.status = POOL_OK;
	f->r.worker = -1;
	f->ready = n == 0;
	if (n)
		job_add(p, j);
	return f;
}

int pool_map(pool *p, pool_fn fn, const pool_task *tasks, size_t n, size_t chunksize,
	     pool_result *results)
{
	pool_future *f = pool_map_async(p, fn, tasks, n, chunksize, results);
	if (!f)
		return -1;
	int k = pool_future_wait(f, -1);
	int cut = f->job && f->job->cut;
	pool_future_free(f);
	if (cut)
		set_state_err(p);
	return k == 1 && !cut ? 0 : -1;
}

/* ------------------------------------------------------------------------- */
/* imap                                                                       */

static pool_iter *iter_start(pool *p, pool_fn fn, pool_feed_fn feed, void *data,
			     size_t chunksize, int ordered)
{
	if (!p)
		return NULL;
	job *j = job_new(p, JOB_ITER, fn);
	if (!j)
		return NULL;
	pool_iter *it = calloc(1, sizeof *it);
	j->feed = feed;
	j->feed_data = data;
	j->feed_fd = -1;
	j->feed_pfd = -1;
	j->chunksize = chunksize ? chunksize : 1;
	/* Room for every task in flight twice over, and some. */
	size_t cap = p->o.prefetch == 0 && j->chunksize < AUTO_MAX_DEPTH ? AUTO_MAX_DEPTH
									   : depth(p, j->chunksize);
	size_t w = 2 * (size_t)p->nworkers * cap + 256;
	if (it) {
		it->window = w;
		it->ring = calloc(it->window, sizeof *it->ring);
	}
	if (!it || !it->ring) {
		free(it);
		free(j);
		set_err(p, "out of memory");
		return NULL;
	}
	it->p = p;
	it->job = j;
	it->ordered = ordered;
	j->iter = it;
	job_add(p, j);
	return it;
}

pool_iter *pool_imap(pool *p, pool_fn fn, pool_feed_fn feed, void *data, size_t chunksize)
{
	return iter_start(p, fn, feed, data, chunksize, 1);
}

pool_iter *pool_imap_unordered(pool *p, pool_fn fn, pool_feed_fn feed, void *data,
			       size_t chunksize)
{
	return iter_start(p, fn, feed, data, chunksize, 0);
}

/* Take the next result if one is ready: 1 taken, 0 none yet, -2 all done. */
static int iter_take(pool_iter *it, pool_result *r)
{
	if (it->ordered) {
		pool_result *slot = &it->ring[it->returned % it->window];
		if (it->job && it->returned < it->job->produced &&
		    slot->status != POOL_PENDING) {
			*r = *slot;
			memset(slot, 0, sizeof *slot);
			it->returned++;
			return 1;
		}
	} else if (it->count) {
		*r = it->ring[it->head % it->window];
		memset(&it->ring[it->head % it->window], 0, sizeof *r);
		it->head++;
		it->count--;
		it->returned++;
		return 1;
	}
	if (!it->job || (it->job->source_done && it->returned == it->job->produced))
		return -2;
	return 0;
}

/* The end of an iteration: 0, or -1 when the pool broke before it was over. */
static int iter_end(pool_iter *it)
{
	if (it->job && !it->job->cut)
		return 0;
	if (!it->job)
		set_err(it->p, "the pool was destroyed");
	else
		set_state_err(it->p);
	return -1;
}

int pool_iter_next_timed(pool_iter *it, pool_result *r, double timeout)
{
	if (!it || !r)
		return -1;
	int64_t until = deadline_after(timeout);
	for (;;) {
		int k = iter_take(it, r);
		if (k == 1)
			return 1;
		if (k == -2)
			return iter_end(it);
		if (pool_now_ns() >= until)
			return 2;
		if (loop_once(it->p, until) < 0) {
			/* Broken: what was delivered (and cancelled) can still be taken. */
			k = iter_take(it, r);
			if (k == 1)
				return 1;
			set_state_err(it->p);
			return -1;
		}
	}
}

void pool_iter_wait_fd(pool_iter *it, int fd)
{
	if (it && it->job)
		it->job->feed_fd = fd;
}

int pool_iter_next(pool_iter *it, pool_result *r)
{
	return pool_iter_next_timed(it, r, -1);
}

void pool_iter_free(pool_iter *it)
{
	if (!it)
		return;
	for (size_t i = 0; i < it->window; i++)
		free(it->ring[i].data);
	free(it->ring);
	if (it->job) {
		job *j = it->job;
		j->iter = NULL;
		source_ended(it->p, j); /* read no more of its feed */
		if (job_complete(j))
			job_unlink_and_free(it->p, j);
	}
	free(it);
}

/* ------------------------------------------------------------------------- */
/* Statistics                                                                 */

void pool_stats_get(const pool *p, pool_stats *s)
{
	if (!s)
		return;
	memset(s, 0, sizeof *s);
	if (!p)
		return;
	const pool_shared *sh = shared_of(p);
#define LOAD(f) atomic_load_explicit(&sh->c.f, memory_order_relaxed)
	/* Finished first, submitted last: done + failed <= submitted in any snapshot. */
	s->done = atomic_load_explicit(&sh->c.done, memory_order_acquire);
	s->failed = atomic_load_explicit(&sh->c.failed, memory_order_acquire);
	s->workers = p->nworkers;
	s->alive = LOAD(alive);
	for (int i = 0; i < p->nworkers; i++)
		s->busy += atomic_load_explicit(&p->shm[i].running, memory_order_relaxed) != 0;
	s->submitted = LOAD(submitted);
	s->retried = LOAD(retried);
	s->respawned = LOAD(respawned);
	s->crashed = LOAD(crashed);
	s->recycled = LOAD(recycled);
	s->failed_starts = LOAD(failed_starts);
	s->reruns = LOAD(reruns);
	s->taken_back = LOAD(taken_back);
#undef LOAD
	uint64_t fin = s->done + s->failed;
	s->running = (uint64_t)s->busy;
	s->queued = s->submitted > fin + s->running ? s->submitted - fin - s->running : 0;
}

int pool_worker_pids(const pool *p, int *pids, int n)
{
	if (!p || !pids)
		return 0;
	const pool_shared *sh = shared_of(p);
	int k = 0;
	for (int i = 0; i < p->nworkers && k < n; i++) {
		int pid = atomic_load_explicit(&sh->pid[i], memory_order_relaxed);
		if (pid > 0)
			pids[k++] = pid;
	}
	return k;
}
