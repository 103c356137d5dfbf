/* SPDX-License-Identifier: MIT */
/*
 * initializer.c — per-worker set-up done once, not once per task.
 *
 *   Python                                      C
 *   ------                                      -
 *   def init(path):                             int load_table(void *arg, void **state,
 *       global table; table = load(path)                       pool_buf *err)
 *   Pool(2, initializer=init,                   pool_options o = {.workers = 2,
 *        initargs=(path,),                          .init = load_table, .init_arg = &n,
 *        maxtasksperchild=100)                      .fini = free_table,
 *                                                   .max_tasks_per_worker = 100};
 *
 * The initializer runs in each worker process before its first task; what it stores
 * in *state is handed to every task of that worker, and the finalizer gets it back
 * when the worker leaves normally. This is where to open files, load a model, or
 * start a library that starts threads (never in the parent before pool_create: a
 * fork copies only the calling thread). An initializer that returns non-zero
 * stops the pool with its message: a worker that cannot start is not retried.
 * max_tasks_per_worker recycles workers (a fresh process, initializer again), as
 * Python's maxtasksperchild.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"

/* The state each worker builds once: a table of the first n squares. */
typedef struct table {
	unsigned n;
	uint64_t *square;
} table;

static int load_table(void *arg, void **state, pool_buf *err)
{
	unsigned n = *(const unsigned *)arg;
	table *t = malloc(sizeof *t);
	if (t)
		t->square = malloc(n * sizeof *t->square);
	if (!t || !t->square) {
		pool_buf_printf(err, "cannot allocate a table of %u squares", n);
		free(t);
		return 1; /* the pool stops with this message */
	}
	t->n = n;
	for (unsigned i = 0; i < n; i++)
		t->square[i] = (uint64_t)i * i;
	*state = t;
	return 0;
}

static void free_table(void *state)
{
	table *t = state;
	free(t->square);
	free(t);
}

/* A task: look its number up in this worker's table; answer the square and the pid
 * of the worker that answered. */
static int lookup(const void *arg, size_t len, pool_buf *out, void *state)
{
	const table *t = state;
	unsigned i;
	if (len != sizeof i)
		return pool_buf_printf(out, "expected %zu bytes, got %zu", sizeof i, len), 1;
	memcpy(&i, arg, sizeof i);
	if (i >= t->n)
		return pool_buf_printf(out, "%u is not in the table", i), 1;
	uint64_t answer[2] = {t->square[i], (uint64_t)getpid()};
	return pool_buf_append(out, answer, sizeof answer);
}

int main(void)
{
	unsigned n = 1000;
	pool_options o = {.workers = 2, .init = load_table, .init_arg = &n,
			  .fini = free_table, .max_tasks_per_worker = 100};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p) {
		fprintf(stderr, "initializer: %s\n", err);
		free(err);
		return 1;
	}
	enum { N = 1000 };
	static unsigned idx[N];
	static pool_task tasks[N];
	static pool_result res[N];
	for (unsigned i = 0; i < N; i++) {
		idx[i] = i;
		tasks[i] = (pool_task){&idx[i], sizeof idx[i]};
	}
	int bad = pool_map(p, lookup, tasks, N, 10, res) < 0;
	uint64_t pids[N];
	int npids = 0;
	for (unsigned i = 0; i < N && !bad; i++) {
		uint64_t answer[2];
		if (res[i].status != POOL_OK || res[i].len != sizeof answer) {
			bad = 1;
			break;
		}
		memcpy(answer, res[i].data, sizeof answer);
		bad |= answer[0] != (uint64_t)i * i;
		int k = 0;
		while (k < npids && pids[k] != answer[1])
			k++;
		if (k == npids)
			pids[npids++] = answer[1];
	}
	for (unsigned i = 0; i < N; i++)
		pool_result_release(&res[i]);
	pool_stats s;
	pool_stats_get(p, &s);
	pool_close(p);
	bad |= pool_join(p) < 0;
	pool_destroy(p);
	/* 1000 tasks, 100 per worker life: about 10 workers, each built its table once. */
	printf("%d tasks answered by %d worker processes (%llu recycled), each with its "
	       "own table\n", N, npids, (unsigned long long)s.recycled);
	return bad || npids < N / 100;
}
