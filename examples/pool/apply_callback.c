/* SPDX-License-Identifier: MIT */
/*
 * apply_callback.c — submit tasks one by one and be called back as each finishes.
 *
 *   Python                                   C
 *   ------                                   -
 *   results = []                             (a struct the callback fills)
 *   p.apply_async(fib, (n,),                 pool_apply_async(p, fib, &n, sizeof n,
 *                 callback=results.append)                    on_done, &totals);
 *   p.close(); p.join()                      pool_close(p); pool_join(p);
 *
 * There is no background thread: callbacks run inside pool calls made by the thread
 * that drives the pool (here pool_join; pool_poll or waiting on a future would do
 * too), so they need no locks. The future stays the caller's: free it, also from the
 * callback itself as here when nothing else will look at it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

static uint64_t fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static int fib_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	unsigned n;
	if (len != sizeof n)
		return 1;
	memcpy(&n, arg, sizeof n);
	uint64_t f = fib(n);
	return pool_buf_append(out, &f, sizeof f);
}

typedef struct totals {
	int done, failed;
	uint64_t sum;
} totals;

/* Called once per task, in this thread, with the task's result. */
static void on_done(pool_future *f, const pool_result *r, void *data)
{
	totals *t = data;
	uint64_t v;
	if (r->status == POOL_OK && r->len == sizeof v) {
		memcpy(&v, r->data, sizeof v);
		t->sum += v;
		t->done++;
	} else {
		t->failed++;
	}
	pool_future_free(f); /* nothing else holds it: freeing here is allowed */
}

int main(void)
{
	char *err = NULL;
	pool *p = pool_create(&(pool_options){.workers = 2}, &err);
	if (!p) {
		fprintf(stderr, "apply_callback: %s\n", err);
		free(err);
		return 1;
	}
	totals t = {0, 0, 0};
	uint64_t want = 0;
	for (unsigned n = 20; n < 30; n++) {
		want += fib(n);
		if (!pool_apply_async(p, fib_task, &n, sizeof n, on_done, &t)) { /* arg copied */
			fprintf(stderr, "apply_callback: %s\n", pool_error(p));
			break;
		}
	}
	pool_close(p);
	int rc = pool_join(p); /* runs the loop: every callback has fired when it returns */
	pool_destroy(p);
	printf("%d callbacks, %d failed, sum of fib(20..29) = %llu\n", t.done, t.failed,
	       (unsigned long long)t.sum);
	return rc < 0 || t.done != 10 || t.sum != want;
}
