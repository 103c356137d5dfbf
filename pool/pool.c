/* SPDX-License-Identifier: MIT */
/*
 * pool.c — a pool's life: create (the shared memory, the first workers), close,
 * join, destroy; its state, error and statistics. See pool.h for the contract and
 * parent.h for how the parent side is laid out.
 */
/* POSIX, Linux and glibc calls under -std=c11: clock_gettime (worker.h),
 * sched_getaffinity, pipe2. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "parent.h"

#define DEFAULT_MAX_MESSAGE ((size_t)1 << 30)

static int online_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

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

/* Run the loop until n workers are ready (0), or the pool broke or was
 * interrupted (-1). A loop that fails breaks the pool, as everywhere. */
static int wait_ready(pool *p, int n)
{
	/* Given up on only after a start failed during this wait (one that came
	 * back once the caller raised its limits never did, called again and again),
	 * and while no worker is still starting: under ulimit -u with room for one,
	 * the other slots' forks failed before that one's initializer was done, and
	 * a run whose pool worked was refused as one that could not start. */
	uint64_t failed_before = atomic_load(&shared_of(p)->c.failed_starts);
	while (!p->broken && !p->interrupted && count_state(p, W_READY) < n &&
	       !(starts_failing(p) && !any_starting(p) &&
		 atomic_load(&shared_of(p)->c.failed_starts) != failed_before))
		if (loop_once(p, INT64_MAX) < 0) {
			if (p->reentered)
				return -1; /* from a callback: refused, nothing broke */
			if (!p->broken)
				break_pool(p, "%s", p->err);
		}
	return p->broken || count_state(p, W_READY) < n ? -1 : 0;
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
static struct sigaction sigchld_set;   /* what it was made */

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
			sigchld_set = sa;
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
		/* Only over what the pool set: a handler the host installed since
		 * is its own (it was replaced by the SIG_IGN found before). */
		struct sigaction now;
		if (sigaction(SIGCHLD, NULL, &now) == 0 &&
		    now.sa_handler == sigchld_set.sa_handler &&
		    (now.sa_flags & (SA_SIGINFO | SA_NOCLDWAIT)) ==
			    (sigchld_set.sa_flags & (SA_SIGINFO | SA_NOCLDWAIT)))
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
	if (o.min_ready == 0 || o.min_ready > o.workers)
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
	p->intr_pipe[0] = fd_above_stdio(p->intr_pipe[0]);
	p->intr_pipe[1] = fd_above_stdio(p->intr_pipe[1]);
	atomic_store(&shared_of(p)->c.alive, 0);
	for (int i = 0; i < o.workers; i++) {
		p->w[i].slot = i;
		p->w[i].fd = p->w[i].pidfd = -1;
	}
	for (int i = 0; i < o.workers && !p->broken; i++)
		respawn(p, &p->w[i]);
	/* Wait for min_ready initializers, so a failing one is an error here, not later. */
	wait_ready(p, o.min_ready);
	if (p->broken) {
		give_err(err, p->cause);
		pool_destroy(p);
		return NULL;
	}
	return p;
}

int pool_wait_ready(pool *p, int n)
{
	if (!p)
		return -1;
	if (refuse_in_callback(p))
		return -1;
	if (n <= 0 || n > p->nworkers)
		n = p->nworkers;
	if (wait_ready(p, n) == 0)
		return 0;
	if (!p->broken && !p->interrupted && starts_failing(p))
		set_err(p, "only %d of %d workers ready; starting more fails: %s",
			count_state(p, W_READY), n, p->start_err);
	else
		set_state_err(p);
	return -1;
}

/* The function behind pool.h's macro, for bindings that cannot use the macro. */
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
	if (refuse_in_callback(p))
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
	 * One that does not is killed once seen stopped from outside: before its
	 * finalizer, in a job-control stop at every look for LINGER_NS; else at the
	 * task timeout (LINGER_NS without one); or LINGER_NS after a stop was asked
	 * (check_deadlines). A stopped worker held the join, and the run with it, for
	 * ever, a second Ctrl-C included; and with every task answered, one stopped
	 * between tasks or as it started held it for the task timeout: 120 s of
	 * imgpool's, its files all done in 3. A finalizer at work is waited for. */
	p->joining = 1;
	int64_t now = pool_now_ns(), grace = let_go_ns(p);
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		w->respawn_at = 0;
		if (w->state == W_EMPTY)
			continue;
		if (w->state != W_DYING)
			w->state = W_RETIRING;
		close_channel(w);
		w->exit_deadline = now + STOPPED_POLL_NS;
		w->finish_by = now + grace;
		w->let_go_stopped = 0;
		w->let_go_traced = 0;
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
	if (refuse_in_callback(p))
		return -1;
	if (p->broken) {
		set_state_err(p);
		return -1;
	}
	int64_t until = timeout < 0 ? INT64_MAX : deadline_after(timeout);
	if (timeout < 0 && !work_outstanding(p) && !count_state(p, W_STARTING))
		until = pool_now_ns(); /* nothing left to run: one turn, no wait for ever */
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
