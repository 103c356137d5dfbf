/* SPDX-License-Identifier: MIT */
/*
 * children.c — the worker processes as the parent sees them: start one (spawn),
 * kill one for a reason of ours, take back the tasks it has not started, account
 * for its end (what a crash, a kill or a failed start costs which task), break and
 * terminate the pool. Part of the parent side: see parent.h.
 */
/* POSIX, Linux and glibc calls under -std=c11: clock_gettime (worker.h),
 * sigabbrev_np, pidfd_open, close_range. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nofork.h"
#include "parent.h"

/* Failed starts in a row (no worker ready in between) that break the pool, and the
 * wait before trying again after the first, doubled after each up to a cap. A
 * start a signal from outside ended (SIGKILL, SIGTERM, ...: see killed_from_outside())
 * says nothing of whether workers can start, only that someone is killing them: it
 * counts towards its own, larger limit, about 15 s of tries. */
#define MAX_FAILED_STARTS 3
#define MAX_KILLED_STARTS 20
#define RESPAWN_BACKOFF_NS ((int64_t)10 * 1000 * 1000)
#define RESPAWN_BACKOFF_MAX_NS ((int64_t)1000 * 1000 * 1000)

/* respawn() -> failed_start() -> break_pool() -> kill_all_and_reap() ->
 * worker_ended() -> respawn():
 * a start that fails may break the pool, which ends every worker. */
static void failed_start(pool *p, worker *w, const char *cause, int killed);

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
	if (!p->o.on_event)
		return;
	p->in_callback++; /* no pool call that waits from there: loop_once() */
	p->o.on_event(e, p->o.event_data);
	p->in_callback--;
}

/* See parent.h. A worker keeps 0, 1 and 2 as the caller's own standard streams
 * and closes the rest: a channel that landed there (stdin closed before a
 * respawn) stayed open in the worker, which then held the parent's end of its own
 * channel, never saw EOF, and pool_join waited for it for good. */
int fd_above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (moved < 0)
		return fd;
	close(fd);
	return moved;
}

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
	sv[0] = fd_above_stdio(sv[0]);
	sv[1] = fd_above_stdio(sv[1]);
	/* Room for several packets each way, so a worker rarely waits on us. */
	int sz = 4 * (int)WIRE_PACKET;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);

	pool_slot_shm *shm = &p->shm[w->slot];
	atomic_store(&shm->claim, p->interrupted ? CLAIM_STOP : 0);
	atomic_store(&shm->running, 0);
	atomic_store(&shm->started_ns, 0);
	atomic_store(&shm->retiring, 0);
	atomic_store(&shm->finishing, 0);

	worker_args a = {
		.fd = sv[1], .shm = shm, .parent = p->self, .init = p->o.init,
		.init_arg = p->o.init_arg, .fini = p->o.fini, .max_rss = p->o.max_worker_rss,
		.max_message = p->o.max_message,
	};
	/* Every signal blocked across fork: the child starts with none of the
	 * caller's handlers able to run until the worker has reset them (worker.c). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
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
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		set_err(p, "cannot start a worker: fork: %s", strerror(saved));
		return -1;
	}
	/* A pidfd tells the moment the process ends. Without one (Linux before 5.3,
	 * valgrind) the end is noticed by EOF on its channel and reaped by polling
	 * waitpid for the few milliseconds the exit takes. */
	int pidfd = fd_above_stdio((int)syscall(SYS_pidfd_open, pid, 0));
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	int64_t now = pool_now_ns();
	w->pid = pid;
	w->fd = sv[0];
	w->pidfd = pidfd;
	w->state = W_STARTING;
	w->was_ready = 0;
	w->stopped_starting = 0;
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
	w->finish_by = 0;
	w->let_go_stopped = 0;
	w->let_go_traced = 0;
	imgpool_wire_rx_reset(&w->rx);
	w->rx_begun = 0;
	atomic_store(&shared_of(p)->pid[w->slot], pid);
	CNT(p, alive, 1);
	emit(p, &(pool_event){.kind = POOL_EV_SPAWN, .worker = w->slot, .pid = (int)pid,
			      .at_ns = now});
	return 0;
}

/* Start a worker in an empty slot now; a fork that fails is a failed start. */
void respawn(pool *p, worker *w)
{
	if (spawn(p, w) < 0) {
		char why[sizeof p->err];
		snprintf(why, sizeof why, "%s", p->err);
		failed_start(p, w, why, 0);
	}
}

void kill_worker(worker *w, pool_status st, uint64_t task_id, const char *fmt, ...)
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
	/* Through its pidfd where there is one: a worker's status another waitpid()
	 * of the caller's took (pool.h, Signals) frees its pid at once, and kill()
	 * could then reach whatever process took that number since. */
	int sent = w->pidfd >= 0 && syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0) == 0;
	if (!sent && (w->pidfd < 0 || errno != ESRCH)) /* ESRCH: it has ended already */
		kill(w->pid, SIGKILL);
	w->state = W_DYING;
}

/* See parent.h. */
char process_state(pid_t pid)
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
int process_stopped(pid_t pid)
{
	char st = process_state(pid);
	return st == 'T' || st == 't';
}

#ifndef P_PIDFD
#define P_PIDFD 3 /* Linux 5.4; glibc names it from 2.36 */
#endif

/* waitid() on worker w: through its pidfd where there is one. By pid, once a
 * SIGCHLD handler of the caller's had taken the worker's status (pool.h, Signals),
 * the number was free, and a child the caller forked since could have it: the pool
 * waited for that child (pool_terminate() blocked until it exited) and took its
 * status. A pidfd names the one process. Linux 5.3 has pidfds but not P_PIDFD
 * (EINVAL): by pid there. */
static int wait_worker(const worker *w, siginfo_t *si, int flags)
{
	int r;
	si->si_pid = 0;
	if (w->pidfd >= 0) {
		while ((r = waitid(P_PIDFD, (id_t)w->pidfd, si, flags)) < 0 && errno == EINTR)
			;
		if (r == 0 || errno != EINVAL)
			return r;
	}
	while ((r = waitid(P_PID, (id_t)w->pid, si, flags)) < 0 && errno == EINTR)
		;
	return r;
}

/* Has worker w ended, its status not read yet (a zombie)? Looked at without
 * reaping it (WNOWAIT): worker_ended() reads the status when its pidfd or channel
 * says so. */
int process_ended(const worker *w)
{
	siginfo_t si;
	return wait_worker(w, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0;
}

int reap_worker(const worker *w, int flags, int *status)
{
	siginfo_t si;
	if (wait_worker(w, &si, WEXITED | flags) < 0) {
		*status = STATUS_UNKNOWN; /* ECHILD: another waitpid() of the caller's took it */
		return 1;
	}
	if (si.si_pid == 0)
		return 0;
	/* as waitpid() encodes it (WIFEXITED, WTERMSIG, WCOREDUMP read it) */
	*status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
		  : si.si_code == CLD_DUMPED ? (si.si_status & 0x7f) | 0x80
					     : si.si_status & 0x7f;
	return 1;
}

/* Stopped by job control (SIGSTOP, SIGTSTP: T), not in a debugger's trace stop (t)? */
int process_job_stopped(pid_t pid)
{
	return process_state(pid) == 'T';
}

/* shutdown() first: it ends the socket itself, not only this descriptor, so the
 * worker reads EOF (and a write of its fails) even where a copy of our end lives
 * on in a child the caller fork()ed without exec. With close() alone such a child
 * kept the channel open: pool_join() and every recycle waited for it to exit. */
void close_channel(worker *w)
{
	if (w->fd >= 0) {
		shutdown(w->fd, SHUT_RDWR);
		close(w->fd);
		w->fd = -1;
	}
}

/*
 * Take back every task w holds that it has not started (see worker.h): the worker
 * will skip them. They go to the front of the queue, in order. Returns how many.
 */
size_t take_back(pool *p, worker *w)
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
/* A worker ready, or one still starting that may be ready yet: failed starts of
 * other slots do not break the pool meanwhile. (Under a process limit with room
 * for one worker, -j4's first forks of three other slots failed at once, while
 * the one forked was still starting libvips: the pool broke with a worker about
 * to be ready.) Only a slot that has not failed a start since a worker was last
 * ready: slots out of step, each failing slowly (a start timeout), would
 * otherwise each see another starting, and the pool would never break. */
int any_starting(const pool *p)
{
	for (int i = 0; i < p->nworkers; i++)
		if (p->w[i].state == W_STARTING && !p->w[i].start_failed)
			return 1;
	return 0;
}

static int any_ready_or_starting(const pool *p)
{
	for (int i = 0; i < p->nworkers; i++)
		if (p->w[i].state == W_READY)
			return 1;
	return any_starting(p);
}

int starts_failing(const pool *p)
{
	return p->failed_starts >= MAX_FAILED_STARTS || p->killed_starts >= MAX_KILLED_STARTS;
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
	/* cut to fit, as gcc -O3 asks to be told */
	snprintf(p->start_err, sizeof p->start_err, "%.*s", (int)sizeof p->start_err - 1, cause);
	w->state = W_EMPTY;
	w->start_failed = 1;
	if (p->terminated || p->broken)
		return;
	if ((killed ? ++p->killed_starts >= MAX_KILLED_STARTS
		    : ++p->failed_starts >= MAX_FAILED_STARTS) &&
	    !any_ready_or_starting(p)) {
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
void worker_ended(pool *p, worker *w, int status)
{
	pool_slot_shm *shm = &p->shm[w->slot];
	uint64_t claimed = atomic_load(&shm->claim) & CLAIM_SEQ;
	uint64_t running = atomic_load(&shm->running);
	int64_t started = atomic_load(&shm->started_ns);
	/* KILL_ISOLATE: as for a worker that died running none (charged 0) */
	uint64_t charged = w->kill_task == KILL_ISOLATE ? 0
			   : w->kill_task		? w->kill_task
							: running;
	/* Died before it was ready, on its own or killed by a start timeout (not by
	 * terminate, nor let go by join): a failed start. */
	int starting = !w->was_ready && w->kill_status != POOL_CANCELLED &&
		       w->state != W_RETIRING && !p->joining;
	/* A worker let go (retiring, or by pool_join) and inside no task, whose status
	 * another waitpid() of the caller's took (a SIGCHLD handler reaping with -1):
	 * the exit we asked for, not a crash. */
	int let_go_idle = status == STATUS_UNKNOWN && running == 0 &&
			  (w->state == W_RETIRING || atomic_load(&shm->retiring) || p->joining);
	int clean_exit = w->kill_status == POOL_PENDING &&
			 ((WIFEXITED(status) && WEXITSTATUS(status) == 0) || let_go_idle);
	int recycled = clean_exit && !starting &&
		       (w->state == W_RETIRING || atomic_load(&shm->retiring));

	char cause[256];
	describe_end(w, status, recycled, starting, shm, cause, sizeof cause);
	pool_status st = w->kill_status != POOL_PENDING ? w->kill_status : POOL_CRASHED;
	/* Told once the slot is empty and its tasks are back (below): a caller's
	 * on_event that terminated the pool from here killed this pid again, long
	 * reaped, and ended the worker a second time. */
	pool_event exit_ev = {.kind = POOL_EV_EXIT, .worker = w->slot, .pid = (int)w->pid,
			      .at_ns = pool_now_ns(), .cause = cause, .recycled = recycled,
			      .while_starting = starting};

	close_channel(w);
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
	imgpool_wire_rx_reset(&w->rx);
	w->rx_begun = 0;
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
		t->last_slot = slot;
		t->last_pid = (int)pid;
		t->last_start = started;
		t->last_end = pool_now_ns();
		if (st == POOL_CANCELLED) { /* the pool's own kill: nothing is charged */
			list_push(&back, t);
			continue;
		}
		/* Finished, its result lost with the worker: it runs again, uncharged
		 * (LOST_RESULTS_MAX). */
		int lost = t->id != charged;
		int first_alone = lost && !charged && !t->isolated;
		if (first_alone)
			t->isolated = 1; /* no count yet: it may have shared the batch */
		if (lost && (charged || first_alone || ++t->lost_alone <= LOST_RESULTS_MAX)) {
			CNT(p, reruns, 1);
			list_push(&back, t);
			continue;
		}
		t->charged++;
		pool_status tst = lost ? POOL_CRASHED : st; /* not the running one's timeout */
		t->term_signal = w->kill_status != POOL_PENDING ? 0
				 : status == STATUS_UNKNOWN    ? -1
				 : WIFSIGNALED(status)         ? WTERMSIG(status)
							       : 0;
		char msg[sizeof cause + 96];
		if (lost)
			snprintf(msg, sizeof msg, "%s after running task %llu, before its result "
				 "was sent (%d times)", cause, (unsigned long long)t->id, t->starts);
		else if (st == POOL_CRASHED && w->kill_status == POOL_PENDING)
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
					      .index = t->index, .id = t->id, .status = tst,
					      .start_ns = started, .end_ns = pool_now_ns(),
					      .attempt = t->charged});
			list_push(&back, t);
		} else {
			deliver_msg(p, t, tst, msg, slot, (int)pid, started, pool_now_ns());
		}
	}
	if (recycled) {
		if (!p->joining) /* leaving at join is not a recycle */
			CNT(p, recycled, 1);
	} else if (w->kill_status != POOL_CANCELLED && w->kill_status != POOL_TIMEOUT && !starting) {
		CNT(p, crashed, 1); /* not our own timeout kill: it did not die on its own */
	}
	if (!p->broken && (p->terminated || p->interrupted)) {
		while ((t = list_pop(&back)))
			cancel_task(p, t, p->terminated ? "terminated" : "interrupted");
	} else {
		list_prepend(&p->queue, &back); /* broken: cancel_everything ends them */
	}
	emit(p, &exit_ev);

	/* An end whose status a SIGCHLD handler of the caller's took (pool.h: Signals)
	 * may have been a kill from outside: counted so. As a failure of its own, 3
	 * such kills broke the pool, where without that handler 20 do. */
	if (starting) {
		failed_start(p, w, cause, killed_from_outside(w, status) || w->stopped_starting ||
						  status == STATUS_UNKNOWN);
		return;
	}
	if (p->terminated || p->broken || p->interrupted || p->joining)
		return;
	if (work_outstanding(p) || !p->closed) {
		CNT(p, respawned, 1);
		respawn(p, w);
	}
}

/* End every unfinished task with msg, including the ones not produced yet. */
void cancel_everything(pool *p, const char *msg)
{
	task *t;
	while ((t = list_pop(&p->queue)))
		cancel_task(p, t, msg);
	for (int i = 0; i < p->nworkers; i++)
		while ((t = list_pop(&p->w[i].held)))
			cancel_task(p, t, msg);
	for (job *j = p->jobs, *next; j; j = next) {
		next = j->next;
		job_cancel_rest(p, j, msg); /* a map's unproduced tasks need a result each */
	}
}

void kill_all_and_reap(pool *p)
{
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		w->respawn_at = 0;
		if (w->state == W_EMPTY)
			continue;
		kill_worker(w, POOL_CANCELLED, 0, "pool terminated");
		int status = STATUS_UNKNOWN; /* a blocking wait sets it; gcc -O3 cannot tell */
		reap_worker(w, 0, &status);
		worker_ended(p, w, status);
	}
}

void break_pool(pool *p, const char *fmt, ...)
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
