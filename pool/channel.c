/* SPDX-License-Identifier: MIT */
/*
 * channel.c — what crosses each worker's channel: batches of tasks out
 * (dispatch(), as deep as keeps the worker busy), results in (each matched to the
 * head of what that worker holds; anything else is a protocol violation). Part of
 * the parent side: see parent.h.
 */
/* POSIX, Linux and glibc calls (clock_gettime in worker.h) under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parent.h"

/* Automatic prefetch (pool_options.prefetch == 0): keep about this much work in
 * flight per worker (more than a worker's 1 ms result flush, so it never runs dry
 * while its results travel), at least 2 tasks and at most AUTO_MAX_DEPTH; send
 * them in batches of a quarter of that, so several batches are in flight. */
#define AUTO_TARGET_NS ((int64_t)5 * 1000 * 1000)
#define AUTO_MAX_BATCH 64
/* Whatever the depth, stop sending ahead once this many argument bytes are in
 * flight to one worker (it always gets at least one chunk). */
#define MAX_AHEAD_BYTES ((size_t)4 << 20)

/* How many tasks a worker should hold (sent, not answered) for chunks of cs. */
size_t depth(const pool *p, size_t cs)
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
 * it, or has it held tasks without starting one for IDLE_STUCK_NS (idle_since:
 * check_deadlines())? (An idle worker may then take what waits there.) */
static int stuck(const pool *p, int slot)
{
	if (!atomic_load_explicit(&p->shm[slot].running, memory_order_relaxed)) {
		int64_t since = p->w[slot].idle_since;
		return since && p->now - since > IDLE_STUCK_NS;
	}
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
		uint32_t flags = (t->retry || t->isolated ? WIRE_FLUSH_FIRST : 0) |
				 (t->isolated ? WIRE_FLUSH_AFTER : 0);
		if (imgpool_wire_add_task(&w->out, t->id, (uint64_t)(uintptr_t)t->job->fn,
					  flags, t->arg, t->len) < 0) {
			list_push(&p->queue, t); /* out of memory: try again later */
			break;
		}
		t->seq = w->sent++;
		list_push(&w->held, t);
		w->held_bytes += t->len;
		w->assigned++;
		got++;
		if ((t->retry || t->isolated) && cs != 1)
			break; /* a retried or isolated task goes in a chunk of its own */
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
void retire_if_done(pool *p, worker *w)
{
	if (w->state == W_READY && p->o.max_tasks_per_worker &&
	    w->assigned >= p->o.max_tasks_per_worker && w->held.n == 0 &&
	    w->out.len == 0) {
		w->state = W_RETIRING;
		close_channel(w); /* EOF: it runs the finalizer and exits 0 */
		/* as a worker let go by pool_join: one stopped from outside in its
		 * finalizer never ends, and held the slot for good */
		w->exit_deadline = w->finish_by = pool_now_ns() + let_go_ns(p);
	}
}

/*
 * Give workers tasks: first every worker one chunk in turn, then more, each up to
 * its depth, all a worker gets in one pass in one message. Then, when a worker is
 * idle and nothing is left to give, take back what another holds unstarted.
 */
void dispatch(pool *p)
{
	if (p->terminated || p->broken)
		return;
	if (p->interrupted) {
		handle_interrupt(p);
		return;
	}
	worker *taken_from = NULL;
	char stopped[p->nworkers]; /* idle, and seen stopped from outside (below) */
	memset(stopped, 0, sizeof stopped);
	for (int round = 0; round < 2; round++) {
		size_t cs = next_chunk(p);
		size_t want[p->nworkers];
		for (int k = 0; k < p->nworkers; k++) {
			worker *w = &p->w[k];
			size_t d = depth(p, cs ? cs : 1);
			/* Refill in batches; never queue behind a task that seems stuck,
			 * nor give back what was just taken (to a worker stopped between
			 * tasks: no wake-up was left to take it again), nor give it to
			 * one stopped too. */
			if (w == taken_from || stopped[k] ||
			    (w->held.n && (w->held.n + batch(p, d) > d || stuck(p, k))))
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
		 * a running task elsewhere (the one with the most). Not one stopped
		 * from outside (/proc, looked at only here): with every worker stopped,
		 * the tasks went from one to the other every IDLE_STUCK_NS, none held
		 * them for a timeout, and none was ever replaced: a wait for ever. */
		int idle = 0;
		worker *victim = NULL;
		uint64_t most = 0;
		for (int k = 0; k < p->nworkers; k++) {
			worker *w = &p->w[k];
			if (w->state != W_READY)
				continue;
			uint64_t c = atomic_load_explicit(&p->shm[k].claim, memory_order_relaxed) &
				     CLAIM_SEQ;
			uint64_t waiting = w->sent > c ? w->sent - c : 0;
			/* One task waiting behind a short running one is best left. */
			if ((waiting > 1 || (waiting == 1 && stuck(p, k))) && waiting > most) {
				most = waiting;
				victim = w;
			}
		}
		/* /proc only where there is something to take: -j64 idle at a list's
		 * pace read it 800 times a second. */
		for (int k = 0; victim && k < p->nworkers; k++) {
			worker *w = &p->w[k];
			if (w->state == W_READY && !w->held.n && can_send(p, w, 1) &&
			    !(stopped[k] = (char)process_stopped(w->pid)))
				idle = 1;
		}
		if (!idle || !victim || !take_back(p, victim))
			break;
		taken_from = victim;
	}
	p->rr++;
}

void send_pending(worker *w)
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

/*
 * Bytes on the channel that are no message: written by a task (into the worker's
 * descriptor, by mistake or a library's stale one). They come before the result
 * of the task that wrote them and after every result sent before it ran; but a
 * worker keeps the results of short tasks a moment (FLUSH_NS), so the writer is
 * one of the tasks from the first unanswered (head) to the one running. Where
 * that is one task, or head ran isolated (results sent before and after it), it
 * is charged. Otherwise none is: each started one runs again isolated
 * (KILL_ISOLATE), where a second time is its own. (The running one was charged,
 * and a task writing its garbage then returning had the healthy task after it
 * charged for it, every time, with retries too.)
 */
void protocol_error(pool *p, worker *w, const char *why)
{
	pool_slot_shm *shm = &p->shm[w->slot];
	uint64_t running = atomic_load(&shm->running);
	uint64_t claimed = atomic_load(&shm->claim) & CLAIM_SEQ;
	const task *head = w->held.head;
	uint64_t culprit = running ? running : KILL_CHARGES_NONE;
	if (head && head->seq < claimed) {
		int more = head->next && head->next->seq < claimed; /* started after it */
		culprit = head->isolated || running == head->id || (!running && !more)
				  ? head->id
				  : KILL_ISOLATE;
	}
	if (culprit == KILL_ISOLATE || culprit == KILL_CHARGES_NONE)
		kill_worker(w, POOL_CRASHED, culprit,
			    "worker %d (pid %d) sent a malformed message (%s)", w->slot,
			    (int)w->pid, why);
	else
		kill_worker(w, POOL_CRASHED, culprit,
			    "worker %d (pid %d) sent a malformed message (%s) while running "
			    "task %llu", w->slot, (int)w->pid, why, (unsigned long long)culprit);
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
			for (int i = 0; i < p->nworkers; i++)
				p->w[i].start_failed = 0;
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
void read_channel(pool *p, worker *w, int budget)
{
	size_t had = w->rx.buf.len;
	while (w->fd >= 0 && budget-- > 0) {
		const char *why = NULL;
		/* the records' headers on top, without wrapping past SIZE_MAX */
		size_t limit = p->o.max_message > SIZE_MAX - 4096 ? SIZE_MAX : p->o.max_message + 4096;
		int k = imgpool_wire_rx_packet(&w->rx, w->fd, limit, 1, &why);
		if (k == WIRE_RX_MESSAGE || k == WIRE_RX_PARTIAL)
			had = SIZE_MAX; /* bytes came: a half message now is new */
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
			/* a message half read: when its bytes last came (check_deadlines()) */
			if (!w->rx.buf.len)
				w->rx_begun = 0;
			else if (w->rx.buf.len != had || !w->rx_begun)
				w->rx_begun = pool_now_ns();
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

void drain_channel(pool *p, worker *w)
{
	read_channel(p, w, INT_MAX);
}
