/* SPDX-License-Identifier: MIT */
/*
 * errors.c — what a task can do wrong, and what the pool tells you.
 *
 *   Python                                      C
 *   ------                                      -
 *   raise ValueError("bad input")               return non-zero, message in out:
 *     -> .get() raises it                         POOL_ERROR, data = the message
 *   os.kill(os.getpid(), SIGSEGV)               POOL_CRASHED, data = "worker 1 (pid
 *     -> Pool hangs forever; ProcessPool-         4242) killed by signal 11 (SIGSEGV)
 *        Executor fails every pending task        while running task 3", after a
 *                                                 retry on a fresh worker
 *   while True: pass                            POOL_TIMEOUT "timed out after 0.5 s"
 *     -> .get(timeout) gives up, the worker       (with pool_options.timeout): the
 *        keeps spinning                           worker is killed and replaced
 *
 * A crash or a timeout costs the one task that was running: the others go on, on a
 * fresh worker. Each result carries its status, a one-line cause, and how many times
 * it was started (attempts). A task that finished on a worker just before that
 * worker crashed may show 2 attempts: workers send results in batches, and one
 * not sent yet is run again (pool.h: every task is answered once, run at least once).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"

enum what { FINE, BAD_INPUT, SEGFAULT, SPIN };

static int task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	int what;
	if (len != sizeof what)
		return 1;
	memcpy(&what, arg, sizeof what);
	switch (what) {
	case BAD_INPUT:
		pool_buf_printf(out, "bad input: not a number");
		return 1; /* a task error: the worker lives on */
	case SEGFAULT:
		raise(SIGSEGV); /* the worker dies: the pool notices and says how */
		return 1;
	case SPIN:
		for (;;) /* never returns: the timeout ends it */
			;
	default:
		return pool_buf_printf(out, "fine");
	}
}

static const char *status_name(pool_status s)
{
	static const char *names[] = {"pending", "ok", "error", "crashed", "timeout",
				      "cancelled"};
	return s <= POOL_CANCELLED ? names[s] : "?";
}

int main(void)
{
	/* One retry after a crash or timeout (the default), 0.5 s per attempt. */
	pool_options o = {.workers = 2, .timeout = 0.5, .retries = 1};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p) {
		fprintf(stderr, "errors: %s\n", err);
		free(err);
		return 1;
	}
	int what[] = {FINE, BAD_INPUT, FINE, SEGFAULT, FINE, SPIN, FINE};
	enum { N = sizeof what / sizeof what[0] };
	pool_status want[N] = {POOL_OK, POOL_ERROR, POOL_OK, POOL_CRASHED, POOL_OK,
			       POOL_TIMEOUT, POOL_OK};
	pool_task tasks[N];
	pool_result res[N];
	for (int i = 0; i < N; i++)
		tasks[i] = (pool_task){&what[i], sizeof what[i]};
	int bad = pool_map(p, task, tasks, N, 0, res) < 0;
	for (int i = 0; i < N && !bad; i++) {
		printf("task %d: %-7s attempts %d: %s\n", i, status_name(res[i].status),
		       res[i].attempts, res[i].data);
		bad |= res[i].status != want[i];
	}
	for (int i = 0; i < N; i++)
		pool_result_release(&res[i]);
	pool_stats s;
	pool_stats_get(p, &s);
	printf("%llu workers replaced, %llu attempts retried; the pool is still whole\n",
	       (unsigned long long)s.respawned, (unsigned long long)s.retried);
	pool_close(p);
	bad |= pool_join(p) < 0;
	pool_destroy(p);
	return bad;
}
