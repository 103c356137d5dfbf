/* SPDX-License-Identifier: MIT */
/*
 * squares.c — the first lesson: map a function over a list, in parallel.
 *
 *   Python                                   C, with pool.h
 *   ------                                   --------------
 *   def square(x): return x * x              int square(arg, len, out, state)
 *   with Pool() as p:                        pool *p = pool_create(NULL, &err);
 *       print(p.map(square, range(10)))      pool_map(p, square, tasks, 10, 0, results);
 *                                            pool_close(p); pool_join(p); pool_destroy(p);
 *
 * Tasks and results are bytes: C has no pickle, so the caller decides how a value
 * travels (here: a raw int64_t). A task function writes its result into `out` and
 * returns 0 (non-zero would make it a task error; see errors.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* Runs in a worker process: read the argument's bytes, write the result's. */
static int square(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	int64_t x;
	if (len != sizeof x)
		return pool_buf_printf(out, "expected %zu bytes, got %zu", sizeof x, len), 1;
	memcpy(&x, arg, sizeof x);
	int64_t y = x * x;
	return pool_buf_append(out, &y, sizeof y);
}

int main(void)
{
	enum { N = 10 };
	int64_t xs[N];
	pool_task tasks[N];
	pool_result results[N];
	for (int i = 0; i < N; i++) {
		xs[i] = i;
		tasks[i] = (pool_task){&xs[i], sizeof xs[i]}; /* must live until map returns */
	}

	char *err = NULL;
	pool *p = pool_create(NULL, &err); /* NULL: defaults, one worker per CPU */
	if (!p) {
		fprintf(stderr, "squares: %s\n", err);
		free(err);
		return 1;
	}
	int bad = pool_map(p, square, tasks, N, 0, results) < 0;
	if (bad)
		fprintf(stderr, "squares: %s\n", pool_error(p));

	/* Results come back in order, one per task, each with its own status. */
	printf("[");
	for (int i = 0; i < N && !bad; i++) {
		int64_t y;
		if (results[i].status != POOL_OK || results[i].len != sizeof y) {
			fprintf(stderr, "squares: task %d: %s\n", i, results[i].data);
			bad = 1;
			break;
		}
		memcpy(&y, results[i].data, sizeof y);
		printf("%s%lld", i ? ", " : "", (long long)y);
		bad |= y != xs[i] * xs[i];
	}
	printf("]\n");
	for (int i = 0; i < N; i++)
		pool_result_release(&results[i]); /* the caller owns each result's data */

	pool_close(p);           /* no more work: Pool.close() */
	bad |= pool_join(p) < 0; /* wait for the workers to leave: Pool.join() */
	pool_destroy(p);
	return bad;
}
