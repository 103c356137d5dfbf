/* SPDX-License-Identifier: MIT */
/*
 * pool.c — the parent side of the pool: spawn, dispatch, collect, respawn, retry,
 * time out, shut down. See pool.h for the contract.
 *
 * Shape (nginx's master cycle, git's run_processes_parallel):
 *   loop_once() is the only place that waits. It dispatches what it can, polls every
 *   worker's channel and pidfd plus a self-pipe written by pool_interrupt(), with the
 *   nearest task deadline as the timeout, then reads results, reaps dead workers and
 *   kills the ones past their deadline. Every blocking call is loop_once() until its
 *   condition holds.
 *
 * Bookkeeping that makes crashes cheap:
 *   - each worker holds a FIFO of the tasks sent to it (`held`); it runs them in
 *     order, so each result must match the head of that FIFO (anything else is a
 *     protocol violation);
 *   - the worker writes the id of the task it is running into shared memory, so when
 *     it dies the parent charges exactly that task; the others it held go back to the
 *     front of the queue uncharged.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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

#include "pool.h"
#include "wire.h"
#include "worker.h"

#define DEFAULT_MAX_MESSAGE ((size_t)1 << 30)
/* A worker that closed its channel but lives on is killed after this long. */
#define LINGER_NS ((int64_t)2 * 1000 * 1000 * 1000)
/* Without a pidfd, how often to look whether a worker whose channel closed has ended. */
#define REAP_POLL_NS ((int64_t)2 * 1000 * 1000)

/* ------------------------------------------------------------------------- */
/* Types                                                                      */

typedef struct job job;

typedef struct task {
	uint64_t id;          /* pool-wide, 1-based */
	uint64_t index;       /* position in its job */
	job *job;
	const char *arg;      /* the bytes: borrowed from a map's array, or owned */
	size_t len;
	char *owned;          /* non-NULL when the pool copied the bytes */
	int attempts;         /* attempts charged (crash / timeout) */
	struct task *next;
} task;

typedef struct task_list {
	task *head, *tail;
	size_t n;
} task_list;

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
	int source_done;      /* no more tasks will be produced */
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
	uint64_t head;        /* ordered: next index to return; unordered: FIFO start */
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
	task_list held;       /* sent, result not back yet, in the order sent */
	unsigned assigned;    /* tasks sent since this process started (for recycling) */
	pool_buf out;         /* message being sent */
	size_t out_off;
	int building;         /* out is being filled by this dispatch pass */
	wire_rx rx;
	int64_t linger_deadline; /* channel closed: kill if still alive by then */
	/* Why we killed it, if we did: set before kill() so the report names our reason
	 * ("timed out after 30 s") rather than "killed by signal 9". */
	pool_status kill_status;
	uint64_t kill_task;   /* the task charged for it (0: the one running, if any) */
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
	volatile sig_atomic_t interrupted;
	int interrupt_handled;
	int closed, terminated, broken;
	int joining;          /* pool_join is letting the workers go */
	char err[512];

	job *jobs, *jobs_tail;
	task_list requeue;    /* tasks taken back from dead workers: sent first */
	task *free_tasks;
	uint64_t next_id;
	uint64_t finished_now; /* tasks finished (reset by pool_poll) */
	uint64_t sources_ended; /* feeds and arrays that ran dry */
	unsigned rr;          /* round-robin start for dispatch */

	struct pollfd *pfd;   /* scratch for poll() */
	int *pfd_who;
};

/* Pids and counters readable from any thread (pool_stats_get, pool_worker_pids). */
typedef struct pool_counters {
	_Atomic uint64_t submitted, finished, done, failed, retried, respawned,
		crashed, recycled;
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

static void list_push(task_list *l, task *t)
{
	t->next = NULL;
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
	l->n++;
}

static task *list_pop(task_list *l)
{
	task *t = l->head;
	if (t) {
		l->head = t->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
		t->next = NULL;
	}
	return t;
}

/* Put a whole list in front of another, keeping its order. */
static void list_prepend(task_list *dst, task_list *src)
{
	if (!src->head)
		return;
	src->tail->next = dst->head;
	if (!dst->tail)
		dst->tail = src->tail;
	dst->head = src->head;
	dst->n += src->n;
	src->head = src->tail = NULL;
	src->n = 0;
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

/* ------------------------------------------------------------------------- */
/* Tasks and results                                                          */

static task *task_new(pool *p, job *j, uint64_t index)
{
	task *t = p->free_tasks;
	if (t)
		p->free_tasks = t->next;
	else if (!(t = malloc(sizeof *t)))
		return NULL;
	memset(t, 0, sizeof *t);
	t->id = ++p->next_id;
	t->index = index;
	t->job = j;
	CNT(p, submitted, 1);
	return t;
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

/* Store one finished task's outcome where its job wants it. data is malloc'd and
 * handed over (or freed when nobody wants it any more). */
static void deliver(pool *p, task *t, pool_status st, char *data, size_t len,
		    int slot, int pid, int64_t start, int64_t end)
{
	job *j = t->job;
	pool_result r = {
		.status = st, .data = data, .len = len, .index = t->index, .id = t->id,
		.attempts = t->attempts + (st == POOL_OK || st == POOL_ERROR),
		.worker = slot, .pid = pid, .start_ns = start, .end_ns = end,
	};
	if (st == POOL_CANCELLED && start == 0)
		r.attempts = t->attempts;
	CNT(p, finished, 1);
	if (st == POOL_OK)
		CNT(p, done, 1);
	else
		CNT(p, failed, 1);
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

static void deliver_msg(pool *p, task *t, pool_status st, const char *msg, int slot,
			int pid, int64_t start, int64_t end)
{
	size_t len = strlen(msg);
	char *d = malloc(len + 1);
	if (d)
		memcpy(d, msg, len + 1);
	deliver(p, t, st, d, d ? len : 0, slot, pid, start, end);
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
 * memory, whatever the length of its feed. */
static int job_has_room(const job *j)
{
	if (j->source_done)
		return 0;
	if (j->kind == JOB_ITER && j->iter &&
	    j->produced - j->iter->returned >= j->iter->window)
		return 0;
	return 1;
}

/* Produce the next task of job j, or NULL (source exhausted or out of memory). */
static task *job_produce(pool *p, job *j)
{
	if (j->feed) {
		pool_task in = {0};
		if (!j->feed(j->feed_data, &in)) {
			source_ended(p, j);
			return NULL;
		}
		task *t = task_new(p, j, j->produced);
		if (!t)
			return NULL;
		t->owned = malloc(in.len ? in.len : 1);
		if (!t->owned) {
			task_free(p, t);
			return NULL;
		}
		memcpy(t->owned, in.arg, in.len);
		t->arg = t->owned;
		t->len = in.len;
		j->produced++;
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

/* The next task to send: one taken back from a dead worker first, then the oldest
 * job with room. */
static task *next_task(pool *p, size_t *chunksize)
{
	task *t = list_pop(&p->requeue);
	if (t) {
		*chunksize = 1; /* a retried task goes alone: it may be the crashing one */
		return t;
	}
	for (job *j = p->jobs; j; j = j->next) {
		if (!job_has_room(j))
			continue;
		t = job_produce(p, j);
		if (t) {
			*chunksize = j->chunksize;
			return t;
		}
	}
	return NULL;
}

/* Is any task still to produce, queued or held by a worker? */
static int work_outstanding(const pool *p)
{
	if (p->requeue.n || p->jobs)
		return 1;
	for (int i = 0; i < p->nworkers; i++)
		if (p->w[i].held.n)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------- */
/* Workers: spawn                                                             */

/*
 * Fork a worker into slot s. The stdio locks are held across fork() (after a
 * flush, so no buffered output is written twice) so that a child forked while
 * another thread prints finds them free; the same for nothing else of ours: the
 * counters are lock-free.
 */
static int spawn(pool *p, worker *w)
{
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
	atomic_store(&shm->running, 0);
	atomic_store(&shm->started_ns, 0);
	atomic_store(&shm->stop, p->interrupted ? 1 : 0);
	atomic_store(&shm->retiring, 0);

	worker_args a = {
		.fd = sv[1], .shm = shm, .parent = p->self, .init = p->o.init,
		.init_arg = p->o.init_arg, .fini = p->o.fini, .max_message = p->o.max_message,
		.max_rss = p->o.max_worker_rss,
	};
	flockfile(stdin);
	flockfile(stdout);
	flockfile(stderr);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	funlockfile(stderr);
	funlockfile(stdout);
	funlockfile(stdin);
	if (pid == 0)
		worker_main(&a);
	int saved = errno;
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
	w->pid = pid;
	w->fd = sv[0];
	w->pidfd = pidfd;
	w->state = W_STARTING;
	w->assigned = 0;
	w->out_off = 0;
	w->out.len = 0;
	w->linger_deadline = 0;
	w->kill_status = POOL_PENDING;
	w->kill_task = 0;
	w->kill_msg[0] = '\0';
	wire_rx_reset(&w->rx);
	atomic_store(&shared_of(p)->pid[w->slot], pid);
	CNT(p, alive, 1);
	emit(p, &(pool_event){.kind = POOL_EV_SPAWN, .worker = w->slot, .pid = (int)pid,
			      .at_ns = pool_now_ns()});
	return 0;
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

static void close_channel(worker *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

/* ------------------------------------------------------------------------- */
/* Workers: death                                                             */

static void break_pool(pool *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The worker in w has ended with wait status `status`. Charge the task it was
 * running (retry it or report it with the cause), put back the others it held
 * uncharged, and start a replacement when there is work left.
 */
static void worker_ended(pool *p, worker *w, int status)
{
	pool_slot_shm *shm = &p->shm[w->slot];
	uint64_t running = atomic_load(&shm->running);
	int64_t started = atomic_load(&shm->started_ns);
	uint64_t charged = w->kill_task ? w->kill_task : running;
	int was_starting = w->state == W_STARTING;
	int clean_exit = w->kill_status == POOL_PENDING && WIFEXITED(status) &&
			 WEXITSTATUS(status) == 0;
	int recycled = clean_exit && (w->state == W_RETIRING || atomic_load(&shm->retiring));

	char cause[256];
	pool_status st = POOL_CRASHED;
	if (w->kill_status != POOL_PENDING) {
		st = w->kill_status;
		snprintf(cause, sizeof cause, "%s", w->kill_msg);
	} else if (WIFSIGNALED(status)) {
		snprintf(cause, sizeof cause, "worker %d (pid %d) killed by signal %d (%s)",
			 w->slot, (int)w->pid, WTERMSIG(status), signame(WTERMSIG(status)));
	} else if (recycled) {
		snprintf(cause, sizeof cause, "worker %d (pid %d) retired%s", w->slot,
			 (int)w->pid, atomic_load(&shm->retiring) ? " over the RSS limit" : "");
	} else {
		snprintf(cause, sizeof cause, "worker %d (pid %d) exited with status %d",
			 w->slot, (int)w->pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	emit(p, &(pool_event){.kind = POOL_EV_EXIT, .worker = w->slot, .pid = (int)w->pid,
			      .at_ns = pool_now_ns(), .cause = cause, .recycled = recycled});

	close_channel(w);
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
	wire_rx_reset(&w->rx);
	w->out.len = w->out_off = 0;
	atomic_store(&shared_of(p)->pid[w->slot], 0);
	atomic_store(&shm->running, 0);
	CNT(p, alive, -1);
	int slot = w->slot;
	pid_t pid = w->pid;
	w->state = W_EMPTY;

	/* Take back what it held; charge the culprit. */
	task_list back = {0};
	task *t;
	while ((t = list_pop(&w->held))) {
		if (t->id != charged || st == POOL_CANCELLED) {
			list_push(&back, t);
			continue;
		}
		t->attempts++;
		char msg[320];
		if (st == POOL_CRASHED && w->kill_status == POOL_PENDING)
			snprintf(msg, sizeof msg, "%s while running task %llu", cause,
				 (unsigned long long)t->id);
		else
			snprintf(msg, sizeof msg, "%s", cause);
		if (t->attempts <= p->o.retries && !p->interrupted && !p->terminated) {
			CNT(p, retried, 1);
			emit(p, &(pool_event){.kind = POOL_EV_RETRY, .worker = slot, .pid = (int)pid,
					      .at_ns = pool_now_ns(), .cause = msg,
					      .index = t->index, .id = t->id, .status = st,
					      .start_ns = started, .end_ns = pool_now_ns(),
					      .attempt = t->attempts});
			list_push(&back, t);
		} else {
			deliver_msg(p, t, st, msg, slot, (int)pid, started, pool_now_ns());
		}
	}
	if (recycled) {
		if (!p->joining) /* leaving at join is not a recycle */
			CNT(p, recycled, 1);
	} else if (w->kill_status != POOL_CANCELLED) {
		CNT(p, crashed, 1);
	}
	if (p->terminated || p->interrupted) {
		while ((t = list_pop(&back)))
			deliver_msg(p, t, POOL_CANCELLED,
				    p->terminated ? "pool terminated" : "interrupted", -1, 0, 0, 0);
	} else {
		list_prepend(&p->requeue, &back);
	}

	if (was_starting && w->kill_status == POOL_PENDING) {
		/* It died inside the initializer: respawning would only do it again. */
		break_pool(p, "worker initializer failed: %s", cause);
		return;
	}
	if (p->terminated || p->broken)
		return;
	if (work_outstanding(p) || !p->closed) {
		if (spawn(p, w) < 0) {
			char why[sizeof p->err];
			snprintf(why, sizeof why, "%s", p->err);
			break_pool(p, "%s", why);
			return;
		}
		CNT(p, respawned, 1);
	}
}

/* Reap a worker whose pidfd became readable: read what it sent before dying first. */
static void handle_result_message(pool *p, worker *w);
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
	if (w->fd >= 0)
		drain_channel(p, w);
	worker_ended(p, w, status);
}

/* ------------------------------------------------------------------------- */
/* Breaking, terminating                                                      */

/* End every unfinished task with msg, including the ones not produced yet. */
static void cancel_everything(pool *p, pool_status st, const char *msg)
{
	task *t;
	while ((t = list_pop(&p->requeue)))
		deliver_msg(p, t, st, msg, -1, 0, 0, 0);
	for (int i = 0; i < p->nworkers; i++)
		while ((t = list_pop(&p->w[i].held)))
			deliver_msg(p, t, st, msg, -1, 0, 0, 0);
	for (job *j = p->jobs, *next; j; j = next) {
		next = j->next;
		/* A map's unproduced tasks still need a result each. */
		while (!j->feed && !j->source_done && (t = job_produce(p, j)))
			deliver_msg(p, t, st, msg, -1, 0, 0, 0);
		source_ended(p, j);
		job_settle(p, j);
	}
}

static void kill_all_and_reap(pool *p)
{
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state == W_EMPTY)
			continue;
		kill_worker(w, POOL_CANCELLED, 0, "pool terminated");
		int status;
		while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
			;
		worker_ended(p, w, status);
	}
}

static void break_pool(pool *p, const char *fmt, ...)
{
	if (p->broken)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
	p->broken = 1;
	char msg[sizeof p->err + 32];
	snprintf(msg, sizeof msg, "pool stopped: %s", p->err);
	p->terminated = 1;
	kill_all_and_reap(p);
	cancel_everything(p, POOL_CANCELLED, msg);
}

void pool_terminate(pool *p)
{
	if (!p || p->terminated)
		return;
	p->terminated = 1;
	p->closed = 1;
	kill_all_and_reap(p);
	cancel_everything(p, POOL_CANCELLED, "pool terminated");
}

/* ------------------------------------------------------------------------- */
/* Interrupt                                                                  */

void pool_interrupt(pool *p)
{
	if (!p)
		return;
	int saved = errno;
	p->interrupted = 1;
	for (int i = 0; i < p->nworkers; i++)
		atomic_store_explicit(&p->shm[i].stop, 1, memory_order_relaxed);
	ssize_t ignored = write(p->intr_pipe[1], "!", 1);
	(void)ignored;
	errno = saved;
}

int pool_interrupted(const pool *p)
{
	return p && p->interrupted;
}

/* In the loop: stop producing, end what was not sent. Tasks a worker holds but has
 * not started come back from it as cancelled (it reads the stop flag). */
static void handle_interrupt(pool *p)
{
	char buf[64];
	while (read(p->intr_pipe[0], buf, sizeof buf) > 0)
		;
	if (p->interrupt_handled)
		return;
	p->interrupt_handled = 1;
	task *t;
	while ((t = list_pop(&p->requeue)))
		deliver_msg(p, t, POOL_CANCELLED, "interrupted", -1, 0, 0, 0);
	for (job *j = p->jobs, *next; j; j = next) {
		next = j->next;
		while (!j->feed && !j->source_done && (t = job_produce(p, j)))
			deliver_msg(p, t, POOL_CANCELLED, "interrupted", -1, 0, 0, 0);
		source_ended(p, j);
		job_settle(p, j);
	}
}

/* ------------------------------------------------------------------------- */
/* Dispatch                                                                   */

static void send_pending(pool *p, worker *w);

/*
 * Fill worker w up to `level` chunks in flight: one message carrying every task it
 * gets now (a chunk still answers one result per task).
 */
static void fill_worker(pool *p, worker *w, unsigned level)
{
	if (w->state != W_READY || w->fd < 0 || (w->out_off < w->out.len && !w->building))
		return;
	for (;;) {
		if (p->o.max_tasks_per_worker && w->assigned >= p->o.max_tasks_per_worker)
			break;
		/* Peek the chunk size of what comes next without taking it. */
		size_t cs = p->requeue.n ? 1 : 0;
		if (!cs) {
			for (job *j = p->jobs; j; j = j->next)
				if (job_has_room(j)) {
					cs = j->chunksize;
					break;
				}
		}
		if (!cs || w->held.n > (size_t)(level - 1) * cs)
			break;
		size_t take = cs;
		if (p->o.max_tasks_per_worker &&
		    take > p->o.max_tasks_per_worker - w->assigned)
			take = p->o.max_tasks_per_worker - w->assigned;
		int got = 0;
		size_t last = 0;
		for (size_t k = 0; k < take; k++) {
			size_t cs2;
			task *t = next_task(p, &cs2);
			if (!t)
				break;
			if (t->len > p->o.max_message) {
				deliver_msg(p, t, POOL_ERROR,
					    "task argument over the pool's message size limit", -1,
					    0, 0, 0);
				continue;
			}
			if (!w->building) {
				wire_begin(&w->out, WIRE_TASKS);
				w->out_off = 0;
				w->building = 1;
			}
			last = w->out.len;
			if (wire_add_task(&w->out, t->id, (uint64_t)(uintptr_t)t->job->fn,
					  t->arg, t->len) < 0) {
				list_push(&p->requeue, t);
				break;
			}
			list_push(&w->held, t);
			w->assigned++;
			got++;
			if (cs2 == 1 && cs != 1)
				break;
		}
		if (!got)
			break;
		wire_task_flags(&w->out, last, WIRE_CHUNK_END);
	}
}

static void send_pending(pool *p, worker *w)
{
	if (w->fd < 0 || w->out_off >= w->out.len)
		return;
	int k = wire_send(w->fd, &w->out, &w->out_off, 1);
	if (k < 0) {
		/* EPIPE / ECONNRESET: it is dying; its pidfd will tell how. */
		w->out.len = w->out_off = 0;
	} else if (k == 1) {
		w->out.len = w->out_off = 0;
		if (w->out.cap > 1 << 20)
			pool_buf_release(&w->out);
	}
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

static void dispatch(pool *p)
{
	if (p->terminated || p->broken)
		return;
	if (p->interrupted) {
		handle_interrupt(p);
		return;
	}
	/* Level 1 gives every idle worker a chunk before any gets a second; all a
	 * worker gets in one pass travels as one message. */
	for (unsigned level = 1; level <= p->o.prefetch + 1; level++)
		for (int k = 0; k < p->nworkers; k++)
			fill_worker(p, &p->w[(p->rr + k) % p->nworkers], level);
	for (int k = 0; k < p->nworkers; k++)
		if (p->w[k].building) {
			p->w[k].building = 0;
			send_pending(p, &p->w[k]);
		}
	p->rr++;
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

static void handle_result_message(pool *p, worker *w)
{
	const char *why = NULL;
	wire_cursor c;
	int type = wire_open(&w->rx.buf, &c, &why);
	if (type < 0) {
		protocol_error(p, w, why);
		return;
	}
	if (w->state == W_STARTING) {
		if (type == WIRE_READY) {
			w->state = W_READY;
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
	wire_record r;
	int k;
	while ((k = wire_next_result(&c, &r, &why)) == 1) {
		task *t = w->held.head;
		if (!t || t->id != r.id) {
			protocol_error(p, w, "a result for a task it does not hold");
			return;
		}
		list_pop(&w->held);
		char *d = malloc(r.len + 1);
		if (d) {
			memcpy(d, r.data, r.len);
			d[r.len] = '\0';
		}
		pool_status st = r.status == WIRE_OK ? POOL_OK
				 : r.status == WIRE_ERROR ? POOL_ERROR
							  : POOL_CANCELLED;
		if (st == POOL_CANCELLED) {
			r.start_ns = r.end_ns = 0;
		}
		deliver(p, t, st, d, d ? r.len : 0, w->slot, (int)w->pid, r.start_ns, r.end_ns);
	}
	if (k < 0)
		protocol_error(p, w, why);
}

/* Read what a worker sent, at most a bounded number of packets so one busy worker
 * cannot starve the others. */
static void read_channel(pool *p, worker *w, int budget)
{
	while (w->fd >= 0 && budget-- > 0) {
		const char *why = NULL;
		int k = wire_rx_packet(&w->rx, w->fd, p->o.max_message + 4096, 1, &why);
		if (k == WIRE_RX_MESSAGE) {
			handle_result_message(p, w);
			wire_rx_reset(&w->rx);
			if (w->rx.buf.cap > 1 << 20)
				wire_rx_release(&w->rx);
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

/* Kill workers whose running task is past its deadline; return the nearest
 * deadline still ahead (INT64_MAX for none). */
static int64_t check_deadlines(pool *p, int64_t now)
{
	int64_t nearest = INT64_MAX;
	int64_t limit = p->o.timeout > 0 ? secs_to_ns(p->o.timeout) : 0;
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
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
		if (!limit || w->state != W_READY)
			continue;
		uint64_t id = atomic_load_explicit(&p->shm[i].running, memory_order_acquire);
		if (!id) {
			/* It may start a held task the moment after we look: its deadline is
			 * then at most `limit` away, so look again by then. */
			if (w->held.n && now + limit < nearest)
				nearest = now + limit;
			continue;
		}
		int64_t deadline = atomic_load(&p->shm[i].started_ns) + limit;
		if (now >= deadline) {
			kill_worker(w, POOL_TIMEOUT, id, "timed out after %g s", p->o.timeout);
		} else if (deadline < nearest) {
			nearest = deadline;
		}
	}
	return nearest;
}

/*
 * One turn: dispatch, wait for an event or `until` (absolute ns; INT64_MAX: no
 * limit; 0: don't wait), handle what happened. Returns -1 if the pool is broken.
 */
static int loop_once(pool *p, int64_t until)
{
	if (p->broken)
		return -1;
	/* Dispatch can itself finish things (a feed that runs dry, a task refused):
	 * then the caller must look before we sleep. */
	uint64_t before = p->finished_now + p->sources_ended;
	dispatch(p);
	if (p->finished_now + p->sources_ended != before)
		until = 0;
	int64_t now = pool_now_ns();
	int64_t nearest = check_deadlines(p, now);
	if (until < nearest)
		nearest = until;

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
	int timeout_ms;
	if (nearest == INT64_MAX)
		timeout_ms = -1;
	else if (nearest <= now)
		timeout_ms = 0;
	else
		timeout_ms = (int)((nearest - now + 999999) / 1000000);
	int k = poll(p->pfd, (nfds_t)n, timeout_ms);
	if (k < 0 && errno != EINTR) {
		set_err(p, "poll: %s", strerror(errno));
		return -1;
	}
	if (k <= 0)
		goto deadlines;
	/* Channels first, so results sent just before a death are counted. */
	for (int i = 0; i < n; i++) {
		if (!p->pfd[i].revents)
			continue;
		int who = p->pfd_who[i];
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
			send_pending(p, w);
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
deadlines:
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state != W_EMPTY && w->pidfd < 0 && w->fd < 0)
			reap(p, w);
		if (p->broken)
			return -1;
		retire_if_done(p, w);
	}
	check_deadlines(p, pool_now_ns());
	return p->broken ? -1 : 0;
}

static int64_t deadline_after(double timeout)
{
	if (timeout < 0)
		return INT64_MAX;
	return pool_now_ns() + secs_to_ns(timeout);
}

/* ------------------------------------------------------------------------- */
/* Create, close, join, destroy                                               */

pool *pool_create(const pool_options *opt, char **err)
{
	pool_options o = opt ? *opt : (pool_options){0};
	if (o.workers <= 0)
		o.workers = online_cpus();
	if (o.retries == 0)
		o.retries = 1;
	else if (o.retries < 0)
		o.retries = 0;
	if (o.prefetch == 0)
		o.prefetch = 1;
	if (o.max_message == 0)
		o.max_message = DEFAULT_MAX_MESSAGE;
	*err = NULL;

	size_t extra = sizeof(pool_shared) + (size_t)o.workers * sizeof(_Atomic int);
	pool *p = calloc(1, sizeof *p + extra);
	if (!p) {
		*err = strdup("out of memory");
		return NULL;
	}
	p->o = o;
	p->nworkers = o.workers;
	p->self = getpid();
	p->intr_pipe[0] = p->intr_pipe[1] = -1;
	p->w = calloc((size_t)o.workers, sizeof *p->w);
	p->pfd = calloc((size_t)o.workers * 2 + 1, sizeof *p->pfd);
	p->pfd_who = calloc((size_t)o.workers * 2 + 1, sizeof *p->pfd_who);
	p->shm_len = (size_t)o.workers * sizeof(pool_slot_shm);
	p->shm = mmap(NULL, p->shm_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (p->shm == MAP_FAILED)
		p->shm = NULL;
	if (!p->w || !p->pfd || !p->pfd_who || !p->shm ||
	    pipe2(p->intr_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		*err = strdup("cannot set up the pool: out of memory or descriptors");
		pool_destroy(p);
		return NULL;
	}
	atomic_store(&shared_of(p)->c.alive, 0);
	for (int i = 0; i < o.workers; i++) {
		p->w[i].slot = i;
		p->w[i].fd = p->w[i].pidfd = -1;
		if (spawn(p, &p->w[i]) < 0) {
			*err = strdup(p->err);
			pool_destroy(p);
			return NULL;
		}
	}
	/* Wait for every initializer, so a failing one is an error here, not later. */
	for (;;) {
		int starting = 0;
		for (int i = 0; i < o.workers; i++)
			starting += p->w[i].state == W_STARTING;
		if (!starting)
			break;
		if (loop_once(p, INT64_MAX) < 0 || p->broken) {
			*err = strdup(p->err);
			pool_destroy(p);
			return NULL;
		}
	}
	return p;
}

void pool_close(pool *p)
{
	if (p)
		p->closed = 1;
}

int pool_join(pool *p)
{
	if (!p->closed) {
		set_err(p, "pool_join: the pool is not closed");
		return -1;
	}
	while (!p->terminated && work_outstanding(p))
		if (loop_once(p, INT64_MAX) < 0)
			return -1;
	/* Let every worker go: EOF on its channel makes it run the finalizer and exit. */
	p->joining = 1;
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state == W_EMPTY)
			continue;
		if (w->state != W_DYING)
			w->state = W_RETIRING;
		close_channel(w);
	}
	for (;;) {
		int alive = 0;
		for (int i = 0; i < p->nworkers; i++)
			alive += p->w[i].state != W_EMPTY;
		if (!alive)
			break;
		if (loop_once(p, INT64_MAX) < 0)
			return -1;
	}
	return p->broken ? -1 : 0;
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
			cancel_everything(p, POOL_CANCELLED, "pool destroyed");
		}
		for (int i = 0; i < p->nworkers; i++) {
			pool_buf_release(&p->w[i].out);
			wire_rx_release(&p->w[i].rx);
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
	free(p->w);
	free(p->pfd);
	free(p->pfd_who);
	free(p);
}

const char *pool_error(const pool *p)
{
	return p ? p->err : "no pool";
}

int pool_workers(const pool *p)
{
	return p->nworkers;
}

int pool_poll(pool *p, double timeout)
{
	int64_t until = timeout < 0 ? INT64_MAX : deadline_after(timeout);
	p->finished_now = 0;
	do {
		if (loop_once(p, until) < 0)
			return -1;
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
		if (!p->broken)
			set_err(p, p->interrupted ? "the pool was interrupted" : "the pool is closed");
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
	job *j = job_new(p, JOB_APPLY, fn);
	pool_future *f = j ? calloc(1, sizeof *f) : NULL;
	char *copy = f ? malloc(len ? len : 1) : NULL;
	if (!copy) {
		free(j);
		free(f);
		set_err(p, "out of memory");
		return NULL;
	}
	memcpy(copy, arg, len);
	f->p = p;
	f->job = j;
	f->done = done;
	f->data = data;
	f->r.worker = -1;
	j->future = f;
	j->n = 1;
	/* The job's one task owns the copy: produce it now. */
	task *t = task_new(p, j, 0);
	if (!t) {
		free(copy);
		free(j);
		free(f);
		set_err(p, "out of memory");
		return NULL;
	}
	t->owned = copy;
	t->arg = copy;
	t->len = len;
	j->produced = 1;
	j->source_done = 1; /* never listed: its one task is queued already */
	list_push(&p->requeue, t); /* sent ahead of other jobs' tasks, alone */
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
	int64_t until = deadline_after(timeout);
	while (!f->ready) {
		if (!f->job || pool_now_ns() >= until)
			return 0;
		if (loop_once(f->p, until) < 0)
			return f->ready ? 1 : -1;
	}
	return 1;
}

const pool_result *pool_future_get(pool_future *f, double timeout)
{
	return pool_future_wait(f, timeout) == 1 ? &f->r : NULL;
}

int pool_future_take(pool_future *f, pool_result *r)
{
	if (!f->ready)
		return -1;
	*r = f->r;
	f->r.data = NULL;
	f->r.len = 0;
	return 0;
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

int pool_apply(pool *p, pool_fn fn, const void *arg, size_t len, pool_result *r)
{
	pool_future *f = pool_apply_async(p, fn, arg, len, NULL, NULL);
	if (!f)
		return -1;
	int k = pool_future_wait(f, -1);
	if (k == 1)
		pool_future_take(f, r);
	pool_future_free(f);
	return k == 1 ? 0 : -1;
}

/* ------------------------------------------------------------------------- */
/* map                                                                        */

/* Python's rule: about four chunks per worker. */
static size_t auto_chunksize(const pool *p, size_t n)
{
	size_t per = (size_t)p->nworkers * 4;
	size_t cs = n / per + (n % per != 0);
	return cs ? cs : 1;
}

pool_future *pool_map_async(pool *p, pool_fn fn, const pool_task *tasks, size_t n,
			    size_t chunksize, pool_result *results)
{
	job *j = job_new(p, JOB_MAP, fn);
	pool_future *f = j ? calloc(1, sizeof *f) : NULL;
	if (!f) {
		free(j);
		set_err(p, "out of memory");
		return NULL;
	}
	j->tasks = tasks;
	j->n = n;
	j->results = results;
	j->chunksize = chunksize ? chunksize : auto_chunksize(p, n);
	j->future = f;
	j->source_done = n == 0;
	for (size_t i = 0; i < n; i++)
		results[i] = (pool_result){.worker = -1, .index = i};
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
	pool_future_free(f);
	return k == 1 ? 0 : -1;
}

/* ------------------------------------------------------------------------- */
/* imap                                                                       */

static pool_iter *iter_start(pool *p, pool_fn fn, pool_feed_fn feed, void *data,
			     size_t chunksize, int ordered)
{
	job *j = job_new(p, JOB_ITER, fn);
	pool_iter *it = j ? calloc(1, sizeof *it) : NULL;
	if (!it) {
		free(j);
		set_err(p, "out of memory");
		return NULL;
	}
	j->feed = feed;
	j->feed_data = data;
	j->chunksize = chunksize ? chunksize : 1;
	/* Room for every task in flight four times over, at least 256. */
	size_t w = (size_t)p->nworkers * (p->o.prefetch + 1) * j->chunksize * 4;
	it->window = w < 256 ? 256 : w;
	it->ring = calloc(it->window, sizeof *it->ring);
	if (!it->ring) {
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

int pool_iter_next_timed(pool_iter *it, pool_result *r, double timeout)
{
	int64_t until = deadline_after(timeout);
	for (;;) {
		int k = iter_take(it, r);
		if (k == 1)
			return 1;
		if (k == -2)
			return 0;
		if (pool_now_ns() >= until)
			return 2;
		if (loop_once(it->p, until) < 0) {
			/* Broken: what was already delivered can still be taken. */
			k = iter_take(it, r);
			return k == 1 ? 1 : k == -2 ? 0 : -1;
		}
	}
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
	const pool_shared *sh = shared_of(p);
	memset(s, 0, sizeof *s);
	s->workers = p->nworkers;
	s->alive = atomic_load_explicit(&sh->c.alive, memory_order_relaxed);
	for (int i = 0; i < p->nworkers; i++)
		s->busy += atomic_load_explicit(&p->shm[i].running, memory_order_relaxed) != 0;
	s->submitted = atomic_load_explicit(&sh->c.submitted, memory_order_relaxed);
	s->done = atomic_load_explicit(&sh->c.done, memory_order_relaxed);
	s->failed = atomic_load_explicit(&sh->c.failed, memory_order_relaxed);
	s->retried = atomic_load_explicit(&sh->c.retried, memory_order_relaxed);
	s->respawned = atomic_load_explicit(&sh->c.respawned, memory_order_relaxed);
	s->crashed = atomic_load_explicit(&sh->c.crashed, memory_order_relaxed);
	s->recycled = atomic_load_explicit(&sh->c.recycled, memory_order_relaxed);
	uint64_t fin = s->done + s->failed;
	s->running = (uint64_t)s->busy;
	s->queued = s->submitted > fin + s->running ? s->submitted - fin - s->running : 0;
}

int pool_worker_pids(const pool *p, int *pids, int n)
{
	const pool_shared *sh = shared_of(p);
	int k = 0;
	for (int i = 0; i < p->nworkers && k < n; i++) {
		int pid = atomic_load_explicit(&sh->pid[i], memory_order_relaxed);
		if (pid > 0)
			pids[k++] = pid;
	}
	return k;
}
