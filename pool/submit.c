/* SPDX-License-Identifier: MIT */
/*
 * submit.c — apply, map and imap, as Python's multiprocessing.Pool has them: a
 * job in, its results out through a future (apply_async, map_async) or an
 * iterator (imap, imap_unordered), and the blocking calls made of those. Part of
 * the parent side: see parent.h.
 */
/* POSIX, Linux and glibc calls (clock_gettime in worker.h) under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include "parent.h"

static job *job_new(pool *p, enum job_kind kind, pool_fn fn)
{
	if (p->closed || p->terminated || p->broken || p->interrupted) {
		set_state_err(p);
		return NULL;
	}
	if (!fn) { /* it crashed every worker that took the task, as a SIGSEGV */
		set_err(p, "no task function (fn is NULL)");
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
	/* One turn at least, also for a timeout of 0: the calls that wait are what
	 * drives the pool (pool.h), and a caller polling with 0 drove nothing. */
	for (int turned = 0; !f->ready; turned = 1) {
		if (!f->job)
			return -1; /* its pool is gone */
		if (turned && pool_now_ns() >= until)
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

/* Has any task of job j started (or finished)? One that started before, queued
 * or held again for its retry (a crash charged to it) or a rerun, counts: it was
 * cancelled as "not started" with attempts 1. */
static int job_started(pool *p, const job *j)
{
	if (j->finished)
		return 1;
	for (int i = -1; i < p->nworkers; i++) {
		const task_list *l = i < 0 ? &p->queue : &p->w[i].held;
		uint64_t claimed = i < 0 ? 0 : atomic_load(&p->shm[i].claim) & CLAIM_SEQ;
		for (const task *t = l->head; t; t = t->next)
			if (t->job == j && (t->starts > 0 || (i >= 0 && t->seq < claimed)))
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
	for (int turned = 0;; turned = 1) { /* one turn at least: pool_future_wait() */
		for (size_t i = 0; i < n; i++)
			if (fs[i] && fs[i]->ready) {
				if (index)
					*index = i;
				return 1;
			}
		if (!p)
			return -1; /* nothing to wait for */
		if (turned && pool_now_ns() >= until)
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
	if (!p || !r || refuse_in_callback(p))
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
	if (p && refuse_in_callback(p)) {
		for (size_t i = 0; results && i < n; i++)
			results[i] = (pool_result){.worker = -1, .index = i}; /* as never run */
		return -1;
	}
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
	/* A chunk beyond MAX_CHUNK is taken as MAX_CHUNK: the window below grew with
	 * it (2^32: "out of memory"; 2^62 wrapped to 256). */
	j->chunksize = !chunksize ? 1 : chunksize < MAX_CHUNK ? chunksize : MAX_CHUNK;
	if (!feed) {
		set_err(p, "no feed (feed is NULL)");
		free(j);
		free(it);
		return NULL;
	}
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
	for (int turned = 0;; turned = 1) { /* one turn at least: pool_future_wait() */
		int k = iter_take(it, r);
		if (k == 1)
			return 1;
		if (k == -2)
			return iter_end(it);
		if (turned && pool_now_ns() >= until)
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
