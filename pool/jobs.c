/* SPDX-License-Identifier: MIT */
/*
 * jobs.c — tasks and jobs: the task lists, producing tasks from a job's source
 * (an array or a feed), and delivering each result to its sink (a future, a map's
 * array, an iterator's window). Part of the parent side: see parent.h.
 */
/* POSIX, Linux and glibc calls (clock_gettime in worker.h) under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include "parent.h"

void list_push(task_list *l, task *t)
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

void list_unlink(task *t)
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

task *list_pop(task_list *l)
{
	task *t = l->head;
	if (t)
		list_unlink(t);
	return t;
}

/* Move every task of src to the front of dst, keeping their order. */
void list_prepend(task_list *dst, task_list *src)
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

task *task_new(pool *p, job *j, uint64_t index)
{
	task *t = task_alloc(p);
	return t ? task_made(p, t, j, index) : NULL;
}

/* Give t its own copy of arg[0..len): inside the task when small. */
int task_copy_arg(task *t, const void *arg, size_t len)
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

void task_free(pool *p, task *t)
{
	free(t->owned);
	t->owned = NULL;
	t->next = p->free_tasks;
	p->free_tasks = t;
}

/* A job is over when its source is exhausted and every task it produced finished. */
int job_complete(const job *j)
{
	return j->source_done && j->finished == j->produced;
}

static void future_fire(pool_future *f)
{
	f->ready = 1;
	if (!f->done)
		return;
	pool *p = f->p; /* the callback may free f */
	p->in_callback++; /* no pool call that waits from there: loop_once() */
	f->done(f, &f->r, f->data);
	p->in_callback--;
}

/* A job that is over either tells its map future (whose callback may free it: the
 * job is not touched afterwards) or, when nobody waits for it any more, is freed. */
void job_settle(pool *p, job *j)
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
void deliver(pool *p, task *t, pool_status st, char *data, size_t len,
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
void deliver_msg(pool *p, task *t, pool_status st, const char *msg, int slot,
			int pid, int64_t start, int64_t end)
{
	size_t len = strlen(msg);
	char *d = malloc(len + 1);
	if (d)
		memcpy(d, msg, len + 1);
	deliver(p, t, st, d, d ? len : 0, slot, pid, start, end);
}

/* End a task that will not run (again): POOL_CANCELLED with msg. One that was
 * started names its last attempt's worker, as pool_result says. */
void cancel_task(pool *p, task *t, const char *msg)
{
	if (p->broken)
		t->job->cut = 1;
	if (t->starts)
		deliver_msg(p, t, POOL_CANCELLED, msg, t->last_slot, t->last_pid,
			    t->last_start, t->last_end);
	else
		deliver_msg(p, t, POOL_CANCELLED, msg, -1, 0, 0, 0);
}

/* See parent.h. The tasks are all produced first and the source ended, then
 * cancelled: cancelling one as it was produced let the last one's result
 * settle, and free, the job the loop went on to read. */
void job_cancel_rest(pool *p, job *j, const char *msg)
{
	task_list rest = {0};
	task *t;
	while (!j->feed && !j->source_done && (t = job_produce(p, j)))
		list_push(&rest, t);
	if (p->broken)
		j->cut = 1; /* a feed stopped before its end */
	source_ended(p, j);
	if (!rest.n) {
		job_settle(p, j);
		return;
	}
	while ((t = list_pop(&rest)))
		cancel_task(p, t, msg);
}

void pool_result_release(pool_result *r)
{
	if (!r)
		return;
	free(r->data);
	r->data = NULL;
	r->len = 0;
}

void job_add(pool *p, job *j)
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
void source_ended(pool *p, job *j)
{
	if (!j->source_done)
		p->sources_ended++;
	j->source_done = 1;
	job_unlist(p, j);
}

void job_unlink_and_free(pool *p, job *j)
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
task *job_produce(pool *p, job *j)
{
	if (j->feed) {
		/* The memory first: an item the feed gives away is the caller's index
		 * j->produced and must come back as a result, out of memory or not
		 * (one dropped put every later result at the wrong index). */
		task *t = task_alloc(p);
		if (!t)
			return NULL;
		pool_task in = {0};
		p->in_callback++; /* the feed is a callback too: loop_once() */
		int got = j->feed(j->feed_data, &in);
		p->in_callback--;
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
		/* The feed ended the pool (pool_terminate() from it, which pool.h
		 * allows): everything else is cancelled already, and this item,
		 * queued behind a killed worker, was never answered -- the iterator
		 * waited for ever. */
		if (p->terminated || p->broken) {
			cancel_task(p, t, p->broken ? p->err : "terminated");
			return NULL;
		}
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
size_t next_chunk(const pool *p)
{
	if (p->queue.n)
		return 1;
	for (job *j = p->jobs; j; j = j->next)
		if (job_has_room(p, j))
			return j->chunksize;
	return 0;
}

/* The next task to send: one in the queue first, then the oldest job with room. */
task *next_task(pool *p)
{
	task *t = list_pop(&p->queue);
	if (t)
		return t;
	for (job *j = p->jobs; j; j = j->next) {
		if (!job_has_room(p, j))
			continue;
		if ((t = job_produce(p, j)))
			return t;
		/* A feed that ended the pool (pool_terminate() from it) cancelled every
		 * job, and freed the settled ones: j->next may be one of them. */
		if (p->terminated || p->broken)
			return NULL;
	}
	return NULL;
}

/* Is any task still to produce, queued or held by a worker? */
int work_outstanding(const pool *p)
{
	if (p->queue.n || p->jobs)
		return 1;
	for (int i = 0; i < p->nworkers; i++)
		if (p->w[i].held.n)
			return 1;
	return 0;
}
