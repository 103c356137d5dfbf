/* SPDX-License-Identifier: MIT */
/*
 * deadlines.c — time: task timeouts, start timeouts, workers lingering after
 * their channel closed or let go by pool_join, workers stopped from outside after
 * a stop was asked, and the time the pool's own process was stopped, which counts
 * against no deadline (pool_continued()). Part of the parent side: see
 * parent.h.
 */
/* POSIX, Linux and glibc calls (clock_gettime in worker.h) under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <sys/ioctl.h>

#include "parent.h"

/* Are bytes waiting to be read in the channel fd (FIONREAD: a socket's or a
 * pipe's)? */
static int channel_waiting(int fd)
{
	int n = 0;
	return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

void pool_continued(pool *p)
{
	if (p)
		atomic_fetch_add(&p->continued, 1);
}

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
				    &w->finish_by, &w->let_go_stopped, &w->idle_since,
				    &w->rx_begun};
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
int holding_any(const pool *p)
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
void mark_turn(pool *p)
{
	unsigned before = atomic_load(&p->continued);
	int64_t t = pool_now_ns();
	if (before == p->continued_seen && atomic_load(&p->continued) == before)
		p->last_turn = t;
}

/* poll() is back: did it sleep longer than asked (lost_time())? A stop there also
 * counted a continue when the caller counts them: credited here, not again by
 * note_continued(). */
void note_awake(pool *p)
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
void note_continued(pool *p)
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

/* Does a worker let go by pool_join (every worker, once it joins), not in its
 * finalizer, hold the join (one look, every STOPPED_POLL_NS)? Yes once seen
 * stopped at every look for LINGER_NS in a job-control stop ('T'); for the task
 * timeout (none: never) where a look saw it in a trace stop ('t', a debugger's). A tracer's stops at each system
 * call (strace) and a throttle's short ones (cpulimit) break the run of looks:
 * a worker at work there is no hold. */
static int join_holder(const pool *p, worker *w, int64_t now)
{
	char st = process_state(w->pid);
	if (st != 'T' && st != 't') {
		w->let_go_stopped = 0;
		w->let_go_traced = 0;
		return 0;
	}
	if (st == 't')
		w->let_go_traced = 1;
	if (!w->let_go_stopped)
		w->let_go_stopped = now;
	int64_t held = now - w->let_go_stopped;
	return (!w->let_go_traced && held >= LINGER_NS) ||
	       (p->o.timeout > 0 && held >= secs_to_ns(p->o.timeout) && held >= LINGER_NS);
}

/* Kill workers past a deadline (a task's timeout, a start that takes too long, a
 * closed channel), start the ones whose backoff is over; return the nearest
 * deadline still ahead (INT64_MAX for none). */
int64_t check_deadlines(pool *p, int64_t now)
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
				/* a start that failed at once (no descriptor, no fork) set
				 * the next try: poll() must wake for it, or it slept for
				 * good with the slot empty */
				if (w->state == W_EMPTY && w->respawn_at && w->respawn_at < nearest)
					nearest = w->respawn_at;
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
		/* A message begun and not ended while it runs no task: stray bytes that
		 * began like a header, the task's own result swallowed as their body.
		 * Not while bytes wait in the channel: then the parent was behind (a
		 * caller away in its own work), and the worker waited in its send for
		 * it to read on. */
		if (w->rx_begun && w->fd >= 0 && w->state != W_DYING) {
			if (now - w->rx_begun < RX_STALL_NS) {
				if (w->rx_begun + RX_STALL_NS < nearest)
					nearest = w->rx_begun + RX_STALL_NS;
			} else if (atomic_load(&p->shm[i].running) || process_stopped(w->pid) ||
				   channel_waiting(w->fd)) {
				w->rx_begun = now; /* at work, or stopped: look again later */
				if (now + RX_STALL_NS < nearest)
					nearest = now + RX_STALL_NS;
			} else {
				w->rx_begun = 0;
				protocol_error(p, w, "a message begun and not ended for 10 s");
				continue;
			}
		}
		/* Leaving over the RSS limit (worker.c), it runs its finalizer with tasks
		 * still held, which go to another worker once it is gone: it is let go,
		 * as below (stopped there from outside, it held them for good). */
		if (!w->exit_deadline && w->state == W_READY &&
		    atomic_load_explicit(&p->shm[i].retiring, memory_order_acquire))
			w->exit_deadline = w->finish_by = now + let_go_ns(p);
		if (w->exit_deadline) {
			/* Let go by pool_join or retiring: a finalizer may take its time, but
			 * a worker stopped from outside never ends, nor one past a stop
			 * asked. Let go by pool_join and not yet in its finalizer, it is
			 * looked at every STOPPED_POLL_NS (join_holder()): with every task
			 * answered, one stopped between tasks or as it started held the run
			 * for the task timeout. In its finalizer, or retiring, it goes when
			 * seen stopped at finish_by (the task timeout). */
			int finishing = atomic_load_explicit(&p->shm[i].finishing,
							     memory_order_acquire);
			if (now < w->exit_deadline) {
				if (w->exit_deadline < nearest)
					nearest = w->exit_deadline;
			} else if (!p->interrupted && p->joining && !finishing) {
				if (join_holder(p, w, now)) {
					w->exit_deadline = 0;
					kill_worker(w, POOL_CANCELLED, KILL_CHARGES_NONE,
						    "worker %d (pid %d) did not exit when let go "
						    "(stopped from outside)", w->slot, (int)w->pid);
					continue;
				}
				w->exit_deadline = now + STOPPED_POLL_NS;
				if (w->exit_deadline < nearest)
					nearest = w->exit_deadline;
			} else if (!p->interrupted && now < w->finish_by) {
				w->exit_deadline = w->finish_by;
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
		/* Also one let go (pool_join) while it started: its initializer keeps
		 * its timeout (it hung there, and pool_join waited for good). That kill
		 * is no failed start, and no crash. */
		int let_go_starting = w->state == W_RETIRING && !w->was_ready;
		if ((w->state == W_STARTING || let_go_starting) && w->start_deadline) {
			/* One stopped from outside (SIGSTOP, a debugger's Ctrl-Z) is no
			 * fault of its start: it counts as killed from outside, which
			 * breaks the pool only after many (three short stops did). */
			if (now >= w->start_deadline && !let_go_starting && process_stopped(w->pid)) {
				w->stopped_starting = 1;
				kill_worker(w, POOL_CRASHED, 0, "worker %d (pid %d) stopped from outside "
					    "while starting", w->slot, (int)w->pid);
			} else if (now >= w->start_deadline)
				kill_worker(w, let_go_starting ? POOL_CANCELLED : POOL_CRASHED,
					    let_go_starting ? KILL_CHARGES_NONE : 0,
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
		if (w->state != W_READY)
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
			/* Without a timeout nothing is killed; an idle worker takes
			 * what it holds after IDLE_STUCK_NS (stuck(); idle_wakeup()). */
			if (!limit)
				continue;
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
		if (!limit)
			continue;
		int64_t started = atomic_load(&p->shm[i].started_ns);
		int64_t deadline = started + limit +
				   (w->grace_task == id && w->grace_started == started ? w->grace_ns
										 : 0);
		if (now >= deadline && process_ended(w)) {
			/* died running it while the caller was away past its deadline: a
			 * crash, which poll() reads next (its pidfd, or the reaping by
			 * polling without one), not a timeout */
			int64_t soon = w->pidfd >= 0 ? now : now + REAP_POLL_NS;
			if (soon < nearest)
				nearest = soon;
		} else if (now >= deadline) {
			kill_worker(w, POOL_TIMEOUT, id, "timed out after %g s", p->o.timeout);
		} else if (deadline < nearest) {
			nearest = deadline;
		}
	}
	return nearest;
}

/*
 * While a worker idles, tasks waiting unstarted on another are taken back once
 * that one counts as stuck (stuck(), channel.c): its running task has run too
 * long, or it has held them IDLE_STUCK_NS without starting one (stopped from
 * outside between tasks; idle_since, check_deadlines()). When is the next such
 * moment? INT64_MAX: none.
 */
int64_t idle_wakeup(const pool *p)
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
		if (w->state != W_READY || (c & CLAIM_STOP) || c >= w->sent)
			continue;
		int64_t at;
		if (atomic_load_explicit(&p->shm[i].running, memory_order_relaxed))
			at = atomic_load_explicit(&p->shm[i].started_ns,
						  memory_order_relaxed) + limit + 1;
		else if (w->idle_since)
			at = w->idle_since + IDLE_STUCK_NS + 1;
		else
			continue;
		/* Stuck already, and nothing taken back: the idle ones are stopped
		 * from outside (dispatch() gives them nothing). Look again soon: once
		 * one is continued it takes it, where no later wake-up came. */
		if (at <= p->now)
			at = p->now + IDLE_STUCK_NS;
		if (at < nearest)
			nearest = at;
	}
	return nearest;
}
