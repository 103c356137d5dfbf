/* SPDX-License-Identifier: MIT */
/*
 * test_pool.c — the pool in ordinary use and on the failure paths of its tasks:
 * map / imap / apply with their chunk sizes, crashes, timeouts, kills, retries,
 * recycling, big and malformed messages, terminate, interrupt, fork safety, the
 * lazy feed and the RSS limit. The promises that hold under churn, and each point
 * of the contract on its own, are in test_pool_churn.c and test_pool_contract.c.
 *
 * Tasks talk back to the test through the shared page of pool_testlib.h.
 *
 * Usage: test_pool [NAME-GLOB]   (runs the tests whose name matches; all by default)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool_testlib.h"

/* ------------------------------------------------------------------------- */
/* 1. map / imap / imap_unordered / apply_async, 10 000 tasks                  */

#define N1 10000

static job_arg args1[N1];
static pool_task tasks1[N1];

static void fill_squares(void)
{
	for (int i = 0; i < N1; i++) {
		args1[i] = J(B_SQUARE, (uint64_t)i);
		tasks1[i] = (pool_task){&args1[i], sizeof args1[i]};
	}
}


static void test_map_chunksizes(void **state)
{
	fill_squares();
	pool *p = tl_make_pool(2, 0, 0, 0);
	static pool_result res[N1];
	size_t chunks[] = {1, 7, 0};
	for (int c = 0; c < 3; c++) {
		tl_reset_shared();
		assert_int_equal(pool_map(p, tl_task, tasks1, N1, chunks[c], res), 0);
		for (uint64_t i = 0; i < N1; i++) {
			tl_check_square(&res[i], i);
			assert_true(res[i].index == i);
			assert_int_equal(atomic_load(&sh->runs[i]), 1);
			pool_result_release(&res[i]);
		}
	}
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

typedef struct feed_state {
	uint64_t next, n;
	job_arg a;
	int behaviour;
} feed_state;

static int feed(void *data, pool_task *t)
{
	feed_state *f = data;
	if (f->next >= f->n)
		return 0;
	f->a = J(f->behaviour, f->next++);
	*t = (pool_task){&f->a, sizeof f->a};
	return 1;
}

static void test_imap_ordered_and_unordered(void **state)
{
	pool *p = tl_make_pool(2, 0, 0, 0);
	size_t chunks[] = {1, 7, 0};
	for (int ordered = 0; ordered < 2; ordered++)
		for (int c = 0; c < 3; c++) {
			tl_reset_shared();
			feed_state f = {.n = N1, .behaviour = B_SQUARE};
			pool_iter *it = ordered ? pool_imap(p, tl_task, feed, &f, chunks[c])
						: pool_imap_unordered(p, tl_task, feed, &f, chunks[c]);
			assert_non_null(it);
			static unsigned char seen[N1];
			memset(seen, 0, sizeof seen);
			pool_result r;
			uint64_t k = 0;
			int rc;
			while ((rc = pool_iter_next(it, &r)) == 1) {
				if (ordered)
					assert_true(r.index == k);
				assert_true(r.index < N1);
				tl_check_square(&r, r.index);
				assert_int_equal(seen[r.index], 0);
				seen[r.index] = 1;
				pool_result_release(&r);
				k++;
			}
			assert_int_equal(rc, 0);
			assert_true(k == N1);
			pool_iter_free(it);
		}
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

static int callbacks;

static void on_done(pool_future *f, const pool_result *r, void *data)
{
	assert_int_equal(r->status, POOL_OK);
	assert_ptr_equal(data, &callbacks);
	callbacks++;
}

static void test_apply_async_and_apply(void **state)
{
	fill_squares();
	pool *p = tl_make_pool(2, 0, 0, 0);
	static pool_future *fs[N1];
	callbacks = 0;
	for (int i = 0; i < N1; i++) {
		fs[i] = pool_apply_async(p, tl_task, &args1[i], sizeof args1[i], on_done, &callbacks);
		assert_non_null(fs[i]);
	}
	for (int i = N1 - 1; i >= 0; i--) {
		const pool_result *r = pool_future_get(fs[i], -1);
		assert_non_null(r);
		assert_true(pool_future_ready(fs[i]));
		assert_true(pool_future_successful(fs[i]));
		tl_check_square(r, (uint64_t)i);
		pool_future_free(fs[i]);
	}
	assert_int_equal(callbacks, N1);

	/* Blocking apply, and a task error that is not a crash. */
	pool_result r;
	job_arg a = J(B_SQUARE, 12);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	tl_check_square(&r, 12);
	pool_result_release(&r);
	a = J(B_ERROR, 42);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_ERROR);
	assert_string_equal(r.data, "bad value 42");
	assert_int_equal(r.attempts, 1);
	pool_result_release(&r);

	/* wait with a timeout that expires, then completes. */
	job_arg slow = {B_SLEEP_MS, 300, 5};
	pool_future *f = pool_apply_async(p, tl_task, &slow, sizeof slow, NULL, NULL);
	assert_int_equal(pool_future_wait(f, 0.01), 0);
	assert_false(pool_future_ready(f));
	assert_int_equal(pool_future_wait(f, 5), 1);
	pool_future_free(f);

	/* map_async returns at once and fills the array later. */
	static pool_result res[100];
	pool_future *mf = pool_map_async(p, tl_task, tasks1, 100, 0, res);
	assert_int_equal(pool_future_wait(mf, -1), 1);
	for (int i = 0; i < 100; i++) {
		tl_check_square(&res[i], (uint64_t)i);
		pool_result_release(&res[i]);
	}
	pool_future_free(mf);

	pool_close(p);
	assert_null(pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL));
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* 2. crashes, timeouts, kills: one task lost at most, with its cause           */

static _Atomic int stop_killer;

static void *killer(void *arg)
{
	/* Kill the victim from outside each time it shows up (it asks for two).
	 * Then wait to be stopped: a thread's end is not under the fork gate, and
	 * the pool may still be replacing workers (pool.h, "Fork safety"). */
	int kills = 0;
	int64_t until = tl_now_ns() + (int64_t)30 * 1000000000;
	while (!atomic_load(&stop_killer)) {
		int pid = atomic_exchange(&sh->victim_pid, 0);
		if (pid > 0 && kills < 2 && tl_now_ns() < until) {
			kill(pid, SIGKILL);
			kills++;
		}
		usleep(1000);
	}
	return NULL;
}

static void test_crashes_cost_one_task(void **state)
{
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0.5, 0, 0);
	enum { N = 300 };
	static job_arg a[N];
	static pool_task t[N];
	int bad[] = {B_SEGV, B_ABORT, B_EXIT3, B_HANG, B_VICTIM};
	for (int i = 0; i < N; i++)
		a[i] = J(B_SQUARE, (uint64_t)i);
	for (int k = 0; k < 5; k++)
		a[40 + k * 50] = J(bad[k], (uint64_t)(40 + k * 50));
	for (int i = 0; i < N; i++)
		t[i] = (pool_task){&a[i], sizeof a[i]};
	pthread_t th;
	atomic_store(&stop_killer, 0);
	tl_thread_start(&th, killer, NULL);
	static pool_result r[N];
	assert_int_equal(pool_map(p, tl_task, t, N, 1, r), 0);
	atomic_store(&stop_killer, 1);
	pthread_join(th, NULL);

	const char *want[] = {
		"killed by signal 11 (SIGSEGV) while running task",
		"killed by signal 6 (SIGABRT) while running task",
		"exited with status 3 while running task",
		"timed out after 0.5 s",
		"killed by signal 9 (SIGKILL) while running task",
	};
	for (int i = 0; i < N; i++) {
		int k = (i - 40) % 50 == 0 && i >= 40 && i < 290 ? (i - 40) / 50 : -1;
		if (k < 0) {
			tl_check_square(&r[i], (uint64_t)i);
			/* Tasks a worker finished but had not answered when it died ran
			 * again: attempts counts every start (pool.h, Delivery). */
			assert_int_equal(r[i].attempts, atomic_load(&sh->begun[i]));
			assert_int_equal(atomic_load(&sh->runs[i]), atomic_load(&sh->begun[i]));
		} else {
			static const int sig[] = {SIGSEGV, SIGABRT, 0, 0, SIGKILL};
			assert_int_equal(r[i].status, k == 3 ? POOL_TIMEOUT : POOL_CRASHED);
			assert_int_equal(r[i].term_signal, sig[k]); /* 0: an exit, or our own kill */
			assert_int_equal(r[i].attempts, 2);
			if (!strstr(r[i].data, want[k]))
				fail_msg("task %d: \"%s\" lacks \"%s\"", i, r[i].data, want[k]);
			assert_int_equal(atomic_load(&sh->starts[bad[k]]), 2);
		}
		pool_result_release(&r[i]);
	}
	pool_stats s;
	pool_stats_get(p, &s);
	assert_int_equal(s.alive, 2);
	assert_true(s.retried == 5);
	assert_true(s.failed == 5);
	assert_true(s.done == N - 5);
	/* Died on their own: SEGV, ABRT, exit 3 and the outside kill, twice each;
	 * the hang's two timeouts were our own kills (counted as crashes before). */
	assert_int_equal(s.crashed, 8);
	assert_true(s.respawned >= 10);

	/* Chunks of 7 (the victim left out: the killer thread is gone): still one
	 * result per task and only the bad ones fail. */
	a[240] = J(B_SQUARE, 240);
	memset(sh->begun, 0, sizeof sh->begun);
	assert_int_equal(pool_map(p, tl_task, t, N, 7, r), 0);
	for (int i = 0; i < N; i++) {
		if (a[i].behaviour == B_SQUARE) {
			tl_check_square(&r[i], (uint64_t)i);
			assert_int_equal(r[i].attempts, atomic_load(&sh->begun[i]));
		} else {
			assert_int_not_equal(r[i].status, POOL_OK);
		}
		pool_result_release(&r[i]);
	}
	pool_stats_get(p, &s);
	assert_int_equal(s.alive, 2);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	tl_assert_no_children();
}

/* 3. retries bound the attempts. */
static void test_retries_bounded(void **state)
{
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0, 3, 0);
	job_arg a = J(B_SEGV, 0);
	pool_result r;
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_CRASHED);
	assert_int_equal(r.attempts, 4);
	assert_int_equal(atomic_load(&sh->starts[B_SEGV]), 4);
	pool_result_release(&r);
	pool_destroy(p); /* destroy without join: terminates */
	tl_assert_no_children();

	/* retries < 0: no retry at all */
	tl_reset_shared();
	p = tl_make_pool(1, 0, -1, 0);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(atomic_load(&sh->starts[B_SEGV]), 1);
	pool_result_release(&r);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* 5. recycling after max tasks: new pids, nothing lost or repeated             */

static void test_max_tasks_recycles(void **state)
{
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0, 0, 10);
	enum { N = 1000 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = J(B_PID, (uint64_t)i);
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	assert_int_equal(pool_map(p, tl_task, t, N, 3, r), 0);
	int pids[N], uses[N], npids = 0;
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].status, POOL_OK);
		assert_int_equal(atomic_load(&sh->runs[i]), 1);
		int pid, k;
		memcpy(&pid, r[i].data, sizeof pid);
		for (k = 0; k < npids && pids[k] != pid; k++)
			;
		if (k == npids) {
			pids[npids] = pid;
			uses[npids++] = 0;
		}
		uses[k]++;
		assert_true(uses[k] <= 10);
		pool_result_release(&r[i]);
	}
	/* 100 lives of 10 tasks, give or take the last ones split across workers. */
	assert_true(npids >= N / 10 && npids <= N / 10 + 2);
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.respawned >= N / 10 - 2);
	assert_true(s.crashed == 0);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	tl_assert_no_children();
}

/* ------------------------------------------------------------------------- */
/* 6. sizes, and garbage from a worker                                         */

static void test_result_sizes_and_bad_frames(void **state)
{
	tl_reset_shared();
	/* A timeout only as a guard: generous, since valgrind on a loaded machine takes
	 * seconds over the 64 MiB result. */
	pool *p = tl_make_pool(2, 120, 0, 0);
	pool_result r;
	job_arg a = J(B_EMPTY, 0);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_OK);
	assert_int_equal(r.len, 0);
	pool_result_release(&r);

	size_t big = (size_t)64 << 20;
	a = J(B_BIG, big);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_OK);
	assert_true(r.len == big);
	for (size_t i = 0; i < big; i++)
		if (r.data[i] != (char)(i * 7 + (i >> 13)))
			fail_msg("byte %zu differs", i);
	pool_result_release(&r);

	/* A big task argument also goes through. */
	size_t alen = (size_t)3 << 20;
	char *arg = malloc(alen);
	memset(arg, 'x', alen);
	memcpy(arg, &(job_arg){B_ECHO, 0, 77}, sizeof(job_arg));
	static pool_task one;
	one = (pool_task){arg, sizeof(job_arg)};
	assert_int_equal(pool_apply(p, tl_task, one.arg, one.len, &r), 0);
	pool_result_release(&r);
	free(arg);

	a = J(B_GARBAGE, 0);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_CRASHED);
	assert_non_null(strstr(r.data, "malformed message"));
	pool_result_release(&r);

	a = J(B_TRUNCATED, 0);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_CRASHED);
	if (!strstr(r.data, "exited with status 0 while running task"))
		fail_msg("unexpected cause: %s", r.data);
	assert_int_equal(atomic_load(&sh->starts[B_TRUNCATED]), 2);
	pool_result_release(&r);

	/* Still whole and working. */
	a = J(B_SQUARE, 9);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	tl_check_square(&r, 9);
	pool_result_release(&r);
	pool_stats s;
	pool_stats_get(p, &s);
	assert_int_equal(s.alive, 2);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* 7. terminate is prompt and leaves nothing behind                            */

static void test_terminate_prompt_and_clean(void **state)
{
	int fds_before = tl_count_fds();
	pool *p = tl_make_pool(2, 0, 0, 0);
	enum { N = 1000 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = (job_arg){B_SLEEP_MS, 20, (uint64_t)i};
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	pool_future *f = pool_map_async(p, tl_task, t, N, 1, r);
	pool_poll(p, 0.1);
	int64_t t0 = tl_now_ns();
	pool_terminate(p);
	int64_t took = tl_now_ns() - t0;
	assert_true(took < 1000000000);
	assert_true(pool_future_ready(f));
	int cancelled = 0, ok = 0;
	for (int i = 0; i < N; i++) {
		assert_true(r[i].status == POOL_OK || r[i].status == POOL_CANCELLED);
		cancelled += r[i].status == POOL_CANCELLED;
		ok += r[i].status == POOL_OK;
		pool_result_release(&r[i]);
	}
	assert_true(cancelled > 900);
	assert_int_equal(ok + cancelled, N);
	pool_future_free(f);
	pool_close(p);
	pool_join(p);
	pool_destroy(p);
	tl_assert_no_children();
	assert_int_equal(tl_count_fds(), fds_before);
}

/* Interrupt: running tasks finish, nothing new starts. */
static void test_interrupt_drains(void **state)
{
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0, 0, 0);
	enum { N = 200 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = (job_arg){B_SLEEP_MS, 50, (uint64_t)i};
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	pool_future *f = pool_map_async(p, tl_task, t, N, 1, r);
	pool_poll(p, 0.12);
	pool_interrupt(p);
	assert_true(pool_interrupted(p));
	assert_int_equal(pool_future_wait(f, 5), 1);
	int ok = 0, cancelled = 0;
	for (int i = 0; i < N; i++) {
		ok += r[i].status == POOL_OK;
		cancelled += r[i].status == POOL_CANCELLED;
		if (r[i].status == POOL_CANCELLED)
			assert_non_null(strstr(r[i].data, "interrupted"));
		pool_result_release(&r[i]);
	}
	assert_int_equal(ok + cancelled, N);
	assert_true(ok >= 2 && ok <= 12);
	/* What ran, ran to the end: started == ok. */
	assert_int_equal(atomic_load(&sh->starts[B_SLEEP_MS]), ok);
	pool_future_free(f);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	tl_assert_no_children();
}

/* ------------------------------------------------------------------------- */
/* 8. fork safety: respawns while another thread prints and reads stats         */

static _Atomic int stop_noise;
static _Atomic long noise_lines;

static void *noise(void *arg)
{
	pool *p = arg;
	while (!atomic_load(&stop_noise)) {
		pool_stats s;
		pool_stats_get(p, &s);
		printf("noise %llu %d\n", (unsigned long long)s.done, s.busy);
		fprintf(stderr, "%s", "");
		atomic_fetch_add(&noise_lines, 1);
		usleep(1000);
	}
	return NULL;
}

static void test_fork_safety_stress(void **state)
{
	tl_reset_shared();
	/* Quiet the printing for the test log, keep the locking real. */
	fflush(stdout);
	int saved = dup(1);
	int devnull = open("/dev/null", 1);
	dup2(devnull, 1);
	close(devnull);

	pool *p = tl_make_pool(2, 20, -1, 1); /* a fresh worker per task */
	atomic_store(&stop_noise, 0);
	pthread_t th;
	tl_thread_start(&th, noise, p);
	enum { N = 1000 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = J(B_PRINT, (uint64_t)i);
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	int rc = pool_map(p, tl_task, t, N, 1, r);
	atomic_store(&stop_noise, 1);
	pthread_join(th, NULL);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);

	assert_int_equal(rc, 0);
	for (int i = 0; i < N; i++) {
		if (r[i].status != POOL_OK)
			fail_msg("task %d: %s", i, r[i].data);
		pool_result_release(&r[i]);
	}
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.respawned >= N - 2);
	assert_true(noise_lines > 10);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	tl_assert_no_children();
}

/* max_worker_rss counts a worker's own memory, not the pages it shares with the
 * parent it was forked from: a parent holding 192 MB, a limit of 96 MB, and
 * tasks that allocate nothing recycle no worker (1.7.2 recycled one after
 * every task, each fresh fork "over" the limit from its first moment). */
static void test_rss_limit_counts_a_workers_own_memory(void **state)
{
	(void)state;
	tl_reset_shared();
	size_t big = (size_t)192 << 20;
	char *held = malloc(big);
	assert_non_null(held);
	memset(held, 7, big);
	pool_options o = {.workers = 2, .max_worker_rss = (size_t)96 << 20};
	char *err;
	pool *p = pool_create(&o, &err);
	assert_non_null(p);
	enum { N = 40 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = J(B_PID, (uint64_t)i);
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	assert_int_equal(pool_map(p, tl_task, t, N, 1, r), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].status, POOL_OK);
		pool_result_release(&r[i]);
	}
	pool_stats s;
	pool_stats_get(p, &s);
	assert_int_equal(s.recycled, 0);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	assert_int_equal(held[big - 1], 7); /* held to the end */
	free(held);
	tl_assert_no_children();
}

/* max_worker_rss recycles a worker that grew, losing nothing; events tell it. */
static int spawns, exits, recycles, retries;

static void on_event(const pool_event *e, void *data)
{
	assert_ptr_equal(data, &spawns);
	if (e->kind == POOL_EV_SPAWN)
		spawns++;
	if (e->kind == POOL_EV_EXIT) {
		exits++;
		recycles += e->recycled;
		assert_non_null(e->cause);
	}
	if (e->kind == POOL_EV_RETRY) {
		retries++;
		assert_int_equal(e->attempt, 1);
		assert_int_equal(e->status, POOL_CRASHED);
		assert_true(e->end_ns >= e->start_ns && e->start_ns > 0);
		assert_non_null(strstr(e->cause, "SIGSEGV"));
	}
}

static void test_rss_limit_and_events(void **state)
{
	tl_reset_shared();
	spawns = exits = recycles = retries = 0;
	/* The worker's own memory counts (not what it shares with this process,
	 * large under ASan, whose quarantine keeps freed memory): the hog's 200 MB
	 * is over 100 MB, a worker's own start (ASan's too) under it. */
	pool_options o = {.workers = 1, .max_worker_rss = (size_t)100 << 20,
			  .on_event = on_event, .event_data = &spawns};
	char *err;
	pool *p = pool_create(&o, &err);
	assert_non_null(p);
	enum { N = 6 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = J(i == 2 ? B_HOG : B_PID, (uint64_t)i);
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	assert_int_equal(pool_map(p, tl_task, t, N, 1, r), 0);
	int pids[N];
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].status, POOL_OK);
		memcpy(&pids[i], r[i].data, sizeof(int));
		pool_result_release(&r[i]);
	}
	assert_int_equal(pids[0], pids[2]);   /* the hog ran on the first worker */
	assert_int_not_equal(pids[2], pids[3]); /* which left after it */
	assert_int_equal(pids[3], pids[5]);
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.recycled == 1);
	assert_true(s.crashed == 0);
	assert_int_equal(recycles, 1);

	job_arg seg = J(B_SEGV, 0);
	pool_result one;
	assert_int_equal(pool_apply(p, tl_task, &seg, sizeof seg, &one), 0);
	pool_result_release(&one);
	assert_int_equal(retries, 1);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	assert_int_equal(spawns, exits);
	assert_true(spawns >= 4); /* first, after the hog, after each crash */
	tl_assert_no_children();
}

/* The lazy feed keeps only a window in memory, and an abandoned iterator is fine. */
static void test_feed_is_lazy(void **state)
{
	pool *p = tl_make_pool(2, 0, 0, 0);
	feed_state f = {.n = 1000000, .behaviour = B_ECHO};
	pool_iter *it = pool_imap(p, tl_task, feed, &f, 1);
	pool_result r;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(pool_iter_next(it, &r), 1);
		pool_result_release(&r);
	}
	/* Pulled only a bounded window ahead of what was returned. */
	assert_true(f.next < 10 + 4096);
	pool_iter_free(it);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct CMUnitTest all[] = {
		cmocka_unit_test(test_map_chunksizes),
		cmocka_unit_test(test_imap_ordered_and_unordered),
		cmocka_unit_test(test_apply_async_and_apply),
		cmocka_unit_test(test_crashes_cost_one_task),
		cmocka_unit_test(test_retries_bounded),
		cmocka_unit_test(test_max_tasks_recycles),
		cmocka_unit_test(test_result_sizes_and_bad_frames),
		cmocka_unit_test(test_terminate_prompt_and_clean),
		cmocka_unit_test(test_interrupt_drains),
		cmocka_unit_test(test_fork_safety_stress),
		cmocka_unit_test(test_feed_is_lazy),
		cmocka_unit_test(test_rss_limit_counts_a_workers_own_memory),
		cmocka_unit_test(test_rss_limit_and_events),
	};
	return tl_run("pool", argc, argv, all, sizeof all / sizeof *all);
}
