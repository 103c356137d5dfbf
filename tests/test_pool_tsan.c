/* SPDX-License-Identifier: MIT */
/*
 * test_pool_tsan.c — the calls pool.h allows from any thread, under
 * ThreadSanitizer: pool_stats_get() and pool_worker_pids() read while the driving
 * thread dispatches, respawns (crashes, recycling) and reaps, and pool_interrupt()
 * from another thread. Built with -fsanitize=thread and its own copy of the pool
 * (see pool_tests.cmake); any data race is a TSan report and a failure.
 *
 * Plain C, no cmocka: the checks are few and the finding is TSan's.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                              \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

/* Every 50th task crashes its worker; the others return their argument. */
static int task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	unsigned v;
	memcpy(&v, arg, sizeof v);
	if (v % 50 == 49)
		raise(SIGSEGV);
	return pool_buf_append(out, arg, len);
}

static _Atomic int stop;
static _Atomic long reads;

/* What a monitor thread does: read the counters and the pids, as fast as it can. */
static void *monitor(void *arg)
{
	pool *p = arg;
	while (!atomic_load(&stop)) {
		pool_stats s;
		pool_stats_get(p, &s);
		CHECK(s.workers == 2 && s.alive >= 0 && s.alive <= 2 && s.busy <= 2);
		CHECK(s.done + s.failed <= s.submitted);
		int pids[4];
		int n = pool_worker_pids(p, pids, 4);
		CHECK(n >= 0 && n <= 2);
		atomic_fetch_add(&reads, 1);
	}
	return NULL;
}

static void *interrupter(void *arg)
{
	usleep(20000);
	pool_interrupt(arg);
	return NULL;
}

int main(void)
{
	/* Recycled after 7 tasks, crashing every 50th, retried once: many respawns. */
	pool_options o = {.workers = 2, .max_tasks_per_worker = 7};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	CHECK(p);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, monitor, p);

	enum { N = 2000 };
	static unsigned v[N];
	static pool_task t[N];
	static pool_result r[N];
	for (unsigned i = 0; i < N; i++) {
		v[i] = i;
		t[i] = (pool_task){&v[i], sizeof v[i]};
	}
	CHECK(pool_map(p, task, t, N, 1, r) == 0);
	int crashed = 0;
	for (int i = 0; i < N; i++) {
		crashed += r[i].status == POOL_CRASHED;
		CHECK(r[i].status == (i % 50 == 49 ? POOL_CRASHED : POOL_OK));
		pool_result_release(&r[i]);
	}
	CHECK(crashed == N / 50);

	/* pool_interrupt from another thread, mid-map. */
	for (unsigned i = 0; i < N; i++)
		v[i] = i * 50; /* none crashes */
	pthread_t it;
	pthread_create(&it, NULL, interrupter, p);
	pool_future *f = pool_map_async(p, task, t, N, 1, r);
	CHECK(f);
	while (pool_future_wait(f, 0.01) == 0)
		usleep(1000); /* slow the driving thread so the interrupt lands mid-map */
	pthread_join(it, NULL);
	CHECK(pool_interrupted(p));
	for (int i = 0; i < N; i++) {
		CHECK(r[i].status == POOL_OK || r[i].status == POOL_CANCELLED);
		pool_result_release(&r[i]);
	}
	pool_future_free(f);

	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pool_stats s;
	pool_stats_get(p, &s);
	CHECK(s.respawned > 10);
	CHECK(atomic_load(&reads) > 0);
	pool_close(p);
	CHECK(pool_join(p) == 0);
	pool_destroy(p);
	printf("pool-tsan: %ld reads of stats and pids during %llu respawns\n",
	       atomic_load(&reads), (unsigned long long)s.respawned);
	return 0;
}
