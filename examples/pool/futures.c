/* SPDX-License-Identifier: MIT */
/*
 * futures.c — concurrent.futures' habits: results as they complete, and
 * cancelling what has not started.
 *
 *   Python                                      C
 *   ------                                      -
 *   fs = [ex.submit(work, n) for n in ns]       fs[i] = pool_apply_async(p, work, ...)
 *   for f in as_completed(fs):                  while (pool_wait_any(fs, n, -1, &i) == 1)
 *       print(f.result())                           { use fs[i]; free it; fs[i] = NULL; }
 *   late.cancel()  # True if not started        pool_future_cancel(late) == 1
 *
 * pool_wait_any returns the lowest ready future; setting the entry to NULL once it
 * is taken turns the loop into as_completed. It scans the array each time, which is
 * right for tens or hundreds of futures; for thousands of tasks use a callback
 * (apply_callback.c) or imap_unordered (imap_progress.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"

/* Sleep the given milliseconds, answer them back. */
static int work(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	int ms;
	if (len != sizeof ms)
		return 1;
	memcpy(&ms, arg, sizeof ms);
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	return pool_buf_append(out, &ms, sizeof ms);
}

int main(void)
{
	char *err = NULL;
	pool *p = pool_create(&(pool_options){.workers = 2}, &err);
	if (!p) {
		fprintf(stderr, "futures: %s\n", err);
		free(err);
		return 1;
	}
	int ms[] = {300, 10, 200, 20, 100, 30};
	enum { N = sizeof ms / sizeof ms[0] };
	pool_future *fs[N];
	for (int i = 0; i < N; i++)
		fs[i] = pool_apply_async(p, work, &ms[i], sizeof ms[i], NULL, NULL);
	/* One more, submitted last: with both workers busy it has not started yet. */
	int late_ms = 1000;
	pool_future *late = pool_apply_async(p, work, &late_ms, sizeof late_ms, NULL, NULL);
	int cancelled = pool_future_cancel(late);
	printf("cancel the late one: %s\n", cancelled == 1 ? "cancelled" : "too late");

	int bad = 0, taken = 0;
	size_t i;
	while (pool_wait_any(fs, N, -1, &i) == 1) {
		const pool_result *r = pool_future_get(fs[i], 0);
		int got;
		if (r->status == POOL_OK && r->len == sizeof got) {
			memcpy(&got, r->data, sizeof got);
			printf("task %zu done: slept %d ms\n", i, got);
			bad |= got != ms[i];
		} else {
			bad = 1;
		}
		pool_future_free(fs[i]);
		fs[i] = NULL; /* taken: wait_any skips it from now on */
		taken++;
	}
	bad |= taken != N;
	if (cancelled == 1) {
		const pool_result *r = pool_future_get(late, 0);
		bad |= !r || r->status != POOL_CANCELLED;
	}
	pool_future_free(late);
	pool_close(p);
	bad |= pool_join(p) < 0;
	pool_destroy(p);
	return bad;
}
