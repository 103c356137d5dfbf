/* SPDX-License-Identifier: MIT */
/*
 * test_pool.c — the pool's contract, failure paths first.
 *
 * Each test names the "done when" item of the pool issue it proves. Tasks talk back
 * to the test through a MAP_SHARED page made before any pool (workers are forks, so
 * they see it): how many times a task started, which pid to kill, and so on.
 *
 * Usage: test_pool [NAME-GLOB]   (runs the tests whose name matches; all by default)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
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

#include <cmocka.h>

#include "pool.h"

/* ---- shared with the workers ---- */

typedef struct shared {
	_Atomic int starts[16];      /* per behaviour: attempts started */
	_Atomic int victim_pid;      /* set by the task waiting to be killed from outside */
	_Atomic int inits;           /* initializer runs */
	_Atomic int init_fail_after; /* initializer fails once inits exceeds this (0: never) */
	_Atomic int runs[20000];     /* per task index: times run to the end */
} shared;

static shared *sh;
static char *volatile hog;

enum behaviour {
	B_SQUARE = 0, B_SEGV, B_ABORT, B_EXIT3, B_HANG, B_VICTIM, B_ERROR, B_GARBAGE,
	B_TRUNCATED, B_PID, B_BIG, B_EMPTY, B_SLEEP_MS, B_PRINT, B_ECHO, B_HOG,
};

typedef struct job_arg {
	uint32_t behaviour;
	uint32_t param;
	uint64_t value;
} job_arg;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Write something that is not a message to every socket this worker has (its channel
 * is the only one). */
static void write_to_channel(const void *bytes, size_t n)
{
	for (int fd = 3; fd < 64; fd++) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			send(fd, bytes, n, MSG_NOSIGNAL);
	}
}

/* The one task function of these tests: what it does is in its argument. */
static int task(const void *arg, size_t len, pool_buf *out, void *state)
{
	job_arg a;
	assert_true(len == sizeof a);
	memcpy(&a, arg, sizeof a);
	atomic_fetch_add(&sh->starts[a.behaviour], 1);
	switch (a.behaviour) {
	case B_SQUARE: {
		uint64_t r = a.value * a.value;
		if (a.value < 20000)
			atomic_fetch_add(&sh->runs[a.value], 1);
		return pool_buf_append(out, &r, sizeof r);
	}
	case B_SEGV:
		raise(SIGSEGV);
		break;
	case B_ABORT:
		abort();
	case B_EXIT3:
		_exit(3);
	case B_HANG:
		for (;;)
			pause();
	case B_VICTIM:
		atomic_store(&sh->victim_pid, getpid());
		for (;;)
			pause();
	case B_ERROR:
		pool_buf_printf(out, "bad value %llu", (unsigned long long)a.value);
		return 1;
	case B_GARBAGE:
		write_to_channel("garbage!!", 9);
		return pool_buf_append(out, "fine", 4);
	case B_TRUNCATED: {
		/* A header promising 1000 bytes, 10 of them sent, then gone. */
		struct {
			uint32_t magic;
			uint16_t type, flags;
			uint32_t count, pad;
			uint64_t len;
			char body[10];
		} m;
		memset(&m, 0, sizeof m); /* no uninitialised padding on the wire */
		m.magic = 0x4c4f4f50u;
		m.type = 2;
		m.count = 1;
		m.len = 1000;
		memcpy(m.body, "0123456789", 10);
		write_to_channel(&m, offsetof(__typeof__(m), body) + 10);
		_exit(0);
	}
	case B_PID: {
		int pid = getpid();
		if (a.value < 20000)
			atomic_fetch_add(&sh->runs[a.value], 1);
		return pool_buf_append(out, &pid, sizeof pid);
	}
	case B_BIG: {
		if (pool_buf_reserve(out, a.value) < 0)
			return 1;
		for (uint64_t i = 0; i < a.value; i++)
			out->data[i] = (char)(i * 7 + (i >> 13));
		out->len = a.value;
		return 0;
	}
	case B_EMPTY:
		return 0;
	case B_SLEEP_MS: {
		struct timespec ts = {0, (long)a.param * 1000000L};
		nanosleep(&ts, NULL);
		return pool_buf_append(out, &a.value, sizeof a.value);
	}
	case B_PRINT: {
		/* Uses stdio and malloc in the worker: deadlocks if a lock came locked. */
		char *m = malloc(64);
		snprintf(m, 64, "w%llu\n", (unsigned long long)a.value);
		fputs(m, stdout);
		fflush(stdout);
		free(m);
		return pool_buf_append(out, &a.value, sizeof a.value);
	}
	case B_ECHO:
		return pool_buf_append(out, &a.value, sizeof a.value);
	case B_HOG: {
		/* Grow by 200 MB, touched, and keep it: a leak the RSS limit must catch. */
		size_t n = (size_t)200 << 20;
		char *m = malloc(n);
		if (!m)
			return 1;
		memset(m, 1, n);
		hog = m; /* keep it reachable so the compiler cannot drop it */
		int pid = getpid();
		return pool_buf_append(out, &pid, sizeof pid);
	}
	}
	return 1;
}

static job_arg J(int behaviour, uint64_t value)
{
	return (job_arg){(uint32_t)behaviour, 0, value};
}

static pool *make_pool(int workers, double timeout, int retries, unsigned max_tasks)
{
	pool_options o = {.workers = workers, .timeout = timeout, .retries = retries,
			  .max_tasks_per_worker = max_tasks};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p)
		fail_msg("pool_create: %s", err);
	return p;
}

static void reset_shared(void)
{
	memset(sh, 0, sizeof *sh);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* No child of ours is left, zombie or alive. */
static void assert_no_children(void)
{
	int st;
	pid_t r = waitpid(-1, &st, WNOHANG);
	assert_int_equal(r, -1);
	assert_int_equal(errno, ECHILD);
}

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

static void check_square(const pool_result *r, uint64_t i)
{
	assert_int_equal(r->status, POOL_OK);
	assert_int_equal(r->len, 8);
	uint64_t v;
	memcpy(&v, r->data, 8);
	assert_true(v == i * i);
}

static void test_map_chunksizes(void **state)
{
	fill_squares();
	pool *p = make_pool(2, 0, 0, 0);
	static pool_result res[N1];
	size_t chunks[] = {1, 7, 0};
	for (int c = 0; c < 3; c++) {
		reset_shared();
		assert_int_equal(pool_map(p, task, tasks1, N1, chunks[c], res), 0);
		for (uint64_t i = 0; i < N1; i++) {
			check_square(&res[i], i);
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
	pool *p = make_pool(2, 0, 0, 0);
	size_t chunks[] = {1, 7, 0};
	for (int ordered = 0; ordered < 2; ordered++)
		for (int c = 0; c < 3; c++) {
			reset_shared();
			feed_state f = {.n = N1, .behaviour = B_SQUARE};
			pool_iter *it = ordered ? pool_imap(p, task, feed, &f, chunks[c])
						: pool_imap_unordered(p, task, feed, &f, chunks[c]);
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
				check_square(&r, r.index);
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
	pool *p = make_pool(2, 0, 0, 0);
	static pool_future *fs[N1];
	callbacks = 0;
	for (int i = 0; i < N1; i++) {
		fs[i] = pool_apply_async(p, task, &args1[i], sizeof args1[i], on_done, &callbacks);
		assert_non_null(fs[i]);
	}
	for (int i = N1 - 1; i >= 0; i--) {
		const pool_result *r = pool_future_get(fs[i], -1);
		assert_non_null(r);
		assert_true(pool_future_ready(fs[i]));
		assert_true(pool_future_successful(fs[i]));
		check_square(r, (uint64_t)i);
		pool_future_free(fs[i]);
	}
	assert_int_equal(callbacks, N1);

	/* Blocking apply, and a task error that is not a crash. */
	pool_result r;
	job_arg a = J(B_SQUARE, 12);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	check_square(&r, 12);
	pool_result_release(&r);
	a = J(B_ERROR, 42);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_ERROR);
	assert_string_equal(r.data, "bad value 42");
	assert_int_equal(r.attempts, 1);
	pool_result_release(&r);

	/* wait with a timeout that expires, then completes. */
	job_arg slow = {B_SLEEP_MS, 300, 5};
	pool_future *f = pool_apply_async(p, task, &slow, sizeof slow, NULL, NULL);
	assert_int_equal(pool_future_wait(f, 0.01), 0);
	assert_false(pool_future_ready(f));
	assert_int_equal(pool_future_wait(f, 5), 1);
	pool_future_free(f);

	/* map_async returns at once and fills the array later. */
	static pool_result res[100];
	pool_future *mf = pool_map_async(p, task, tasks1, 100, 0, res);
	assert_int_equal(pool_future_wait(mf, -1), 1);
	for (int i = 0; i < 100; i++) {
		check_square(&res[i], (uint64_t)i);
		pool_result_release(&res[i]);
	}
	pool_future_free(mf);

	pool_close(p);
	assert_null(pool_apply_async(p, task, &a, sizeof a, NULL, NULL));
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* 2. crashes, timeouts, kills: one task lost at most, with its cause           */

static void *killer(void *arg)
{
	/* Kill the victim from outside each time it shows up (it asks for two). */
	int kills = 0;
	int64_t until = now_ns() + (int64_t)30 * 1000000000;
	while (kills < 2 && now_ns() < until) {
		int pid = atomic_exchange(&sh->victim_pid, 0);
		if (pid > 0) {
			kill(pid, SIGKILL);
			kills++;
		}
		usleep(1000);
	}
	return NULL;
}

static void test_crashes_cost_one_task(void **state)
{
	reset_shared();
	pool *p = make_pool(2, 0.5, 0, 0);
	enum { N = 300 };
	static job_arg a[N];
	static pool_task t[N];
	int bad[] = {B_SEGV, B_ABORT, B_EXIT3, B_HANG, B_VICTIM};
	for (int i = 0; i < N; i++)
		a[i] = J(B_SQUARE, (uint64_t)i);
	for (int k = 0; k < 5; k++)
		a[40 + k * 50] = J(bad[k], 0);
	for (int i = 0; i < N; i++)
		t[i] = (pool_task){&a[i], sizeof a[i]};
	pthread_t th;
	pthread_create(&th, NULL, killer, NULL);
	static pool_result r[N];
	/* Chunks of one: every other task runs exactly once (with bigger chunks, tasks
	 * that finished in the last millisecond before a crash may run again). */
	assert_int_equal(pool_map(p, task, t, N, 1, r), 0);
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
			check_square(&r[i], (uint64_t)i);
		} else {
			assert_int_equal(r[i].status, k == 3 ? POOL_TIMEOUT : POOL_CRASHED);
			assert_int_equal(r[i].attempts, 2);
			if (!strstr(r[i].data, want[k]))
				fail_msg("task %d: \"%s\" lacks \"%s\"", i, r[i].data, want[k]);
			assert_int_equal(atomic_load(&sh->starts[bad[k]]), 2);
		}
		pool_result_release(&r[i]);
	}
	/* Every square ran exactly once to the end. */
	for (int i = 0; i < N; i++)
		if (a[i].behaviour == B_SQUARE)
			assert_int_equal(atomic_load(&sh->runs[i]), 1);
	pool_stats s;
	pool_stats_get(p, &s);
	assert_int_equal(s.alive, 2);
	assert_true(s.retried == 5);
	assert_true(s.failed == 5);
	assert_true(s.done == N - 5);

	/* Chunks of 7 (the victim left out: the killer thread is gone): still one
	 * result per task and only the bad ones fail. */
	a[240] = J(B_SQUARE, 240);
	assert_int_equal(pool_map(p, task, t, N, 7, r), 0);
	for (int i = 0; i < N; i++) {
		if (a[i].behaviour == B_SQUARE)
			check_square(&r[i], (uint64_t)i);
		else
			assert_int_not_equal(r[i].status, POOL_OK);
		pool_result_release(&r[i]);
	}
	pool_stats_get(p, &s);
	assert_int_equal(s.alive, 2);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	assert_no_children();
}

/* 3. retries bound the attempts. */
static void test_retries_bounded(void **state)
{
	reset_shared();
	pool *p = make_pool(2, 0, 3, 0);
	job_arg a = J(B_SEGV, 0);
	pool_result r;
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_CRASHED);
	assert_int_equal(r.attempts, 4);
	assert_int_equal(atomic_load(&sh->starts[B_SEGV]), 4);
	pool_result_release(&r);
	pool_destroy(p); /* destroy without join: terminates */
	assert_no_children();

	/* retries < 0: no retry at all */
	reset_shared();
	p = make_pool(1, 0, -1, 0);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(atomic_load(&sh->starts[B_SEGV]), 1);
	pool_result_release(&r);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* 4. a failing initializer stops the pool                                     */

static int init_fn(void *arg, void **state, pool_buf *err)
{
	int n = atomic_fetch_add(&sh->inits, 1) + 1;
	int after = atomic_load(&sh->init_fail_after);
	if (arg == (void *)1 || (after && n > after)) {
		pool_buf_printf(err, "cannot open the model file");
		return 1;
	}
	if (arg == (void *)2)
		raise(SIGSEGV);
	*state = (void *)0x1234;
	return 0;
}

static int state_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	return pool_buf_append(out, &state, sizeof state);
}

static void test_initializer_failure(void **state)
{
	reset_shared();
	pool_options o = {.workers = 2, .init = init_fn, .init_arg = (void *)1};
	char *err = NULL;
	assert_null(pool_create(&o, &err));
	assert_non_null(err);
	assert_string_equal(err, "worker initializer failed: cannot open the model file");
	free(err);
	assert_true(atomic_load(&sh->inits) <= 2); /* no respawn storm */
	assert_no_children();

	reset_shared();
	o.init_arg = (void *)2;
	assert_null(pool_create(&o, &err));
	assert_non_null(strstr(err, "worker initializer failed"));
	assert_non_null(strstr(err, "SIGSEGV"));
	free(err);
	assert_no_children();

	/* The state reaches the tasks; an initializer that starts failing on respawn
	 * breaks the pool with the cause instead of looping. */
	reset_shared();
	o.init_arg = NULL;
	o.workers = 1;
	atomic_store(&sh->init_fail_after, 1);
	pool *p = pool_create(&o, &err);
	assert_non_null(p);
	pool_result r;
	job_arg a = J(B_SQUARE, 3);
	assert_int_equal(pool_apply(p, state_task, &a, sizeof a, &r), 0);
	void *got;
	memcpy(&got, r.data, sizeof got);
	assert_ptr_equal(got, (void *)0x1234);
	pool_result_release(&r);
	a = J(B_SEGV, 0);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_CANCELLED);
	assert_non_null(strstr(r.data, "pool stopped: worker initializer failed: cannot open"));
	pool_result_release(&r);
	assert_non_null(strstr(pool_error(p), "cannot open the model file"));
	assert_null(pool_apply_async(p, task, &a, sizeof a, NULL, NULL));
	assert_int_equal(atomic_load(&sh->inits), 2);
	pool_destroy(p);
	assert_no_children();
}

/* ------------------------------------------------------------------------- */
/* 5. recycling after max tasks: new pids, nothing lost or repeated             */

static void test_max_tasks_recycles(void **state)
{
	reset_shared();
	pool *p = make_pool(2, 0, 0, 10);
	enum { N = 1000 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = J(B_PID, (uint64_t)i);
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	assert_int_equal(pool_map(p, task, t, N, 3, r), 0);
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
	assert_no_children();
}

/* ------------------------------------------------------------------------- */
/* 6. sizes, and garbage from a worker                                         */

static void test_result_sizes_and_bad_frames(void **state)
{
	reset_shared();
	pool *p = make_pool(2, 5, 0, 0);
	pool_result r;
	job_arg a = J(B_EMPTY, 0);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_OK);
	assert_int_equal(r.len, 0);
	pool_result_release(&r);

	size_t big = (size_t)64 << 20;
	a = J(B_BIG, big);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
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
	assert_int_equal(pool_apply(p, task, one.arg, one.len, &r), 0);
	pool_result_release(&r);
	free(arg);

	a = J(B_GARBAGE, 0);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_CRASHED);
	assert_non_null(strstr(r.data, "malformed message"));
	pool_result_release(&r);

	a = J(B_TRUNCATED, 0);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_CRASHED);
	if (!strstr(r.data, "exited with status 0 while running task"))
		fail_msg("unexpected cause: %s", r.data);
	assert_int_equal(atomic_load(&sh->starts[B_TRUNCATED]), 2);
	pool_result_release(&r);

	/* Still whole and working. */
	a = J(B_SQUARE, 9);
	assert_int_equal(pool_apply(p, task, &a, sizeof a, &r), 0);
	check_square(&r, 9);
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
	int fds_before = count_fds();
	pool *p = make_pool(2, 0, 0, 0);
	enum { N = 1000 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = (job_arg){B_SLEEP_MS, 20, (uint64_t)i};
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	pool_future *f = pool_map_async(p, task, t, N, 1, r);
	pool_poll(p, 0.1);
	int64_t t0 = now_ns();
	pool_terminate(p);
	int64_t took = now_ns() - t0;
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
	assert_no_children();
	assert_int_equal(count_fds(), fds_before);
}

/* Interrupt: running tasks finish, nothing new starts. */
static void test_interrupt_drains(void **state)
{
	reset_shared();
	pool *p = make_pool(2, 0, 0, 0);
	enum { N = 200 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = (job_arg){B_SLEEP_MS, 50, (uint64_t)i};
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	pool_future *f = pool_map_async(p, task, t, N, 1, r);
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
	assert_no_children();
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
	reset_shared();
	/* Quiet the printing for the test log, keep the locking real. */
	fflush(stdout);
	int saved = dup(1);
	int devnull = open("/dev/null", 1);
	dup2(devnull, 1);
	close(devnull);

	pool *p = make_pool(2, 20, -1, 1); /* a fresh worker per task */
	atomic_store(&stop_noise, 0);
	pthread_t th;
	pthread_create(&th, NULL, noise, p);
	enum { N = 1000 };
	static job_arg a[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		a[i] = J(B_PRINT, (uint64_t)i);
		t[i] = (pool_task){&a[i], sizeof a[i]};
	}
	int rc = pool_map(p, task, t, N, 1, r);
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
	assert_no_children();
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
	reset_shared();
	spawns = exits = recycles = retries = 0;
	/* A fork starts with the parent's resident pages (large under ASan, whose
	 * quarantine keeps freed memory): the limit is 100 MB above that. */
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &resident), 2);
	fclose(f);
	size_t base = (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
	pool_options o = {.workers = 1, .max_worker_rss = base + ((size_t)100 << 20),
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
	assert_int_equal(pool_map(p, task, t, N, 1, r), 0);
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
	assert_int_equal(pool_apply(p, task, &seg, sizeof seg, &one), 0);
	pool_result_release(&one);
	assert_int_equal(retries, 1);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	assert_int_equal(spawns, exits);
	assert_true(spawns >= 4); /* first, after the hog, after each crash */
	assert_no_children();
}

/* The lazy feed keeps only a window in memory, and an abandoned iterator is fine. */
static void test_feed_is_lazy(void **state)
{
	pool *p = make_pool(2, 0, 0, 0);
	feed_state f = {.n = 1000000, .behaviour = B_ECHO};
	pool_iter *it = pool_imap(p, task, feed, &f, 1);
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
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	struct CMUnitTest all[] = {
		cmocka_unit_test(test_map_chunksizes),
		cmocka_unit_test(test_imap_ordered_and_unordered),
		cmocka_unit_test(test_apply_async_and_apply),
		cmocka_unit_test(test_crashes_cost_one_task),
		cmocka_unit_test(test_retries_bounded),
		cmocka_unit_test(test_initializer_failure),
		cmocka_unit_test(test_max_tasks_recycles),
		cmocka_unit_test(test_result_sizes_and_bad_frames),
		cmocka_unit_test(test_terminate_prompt_and_clean),
		cmocka_unit_test(test_interrupt_drains),
		cmocka_unit_test(test_fork_safety_stress),
		cmocka_unit_test(test_feed_is_lazy),
		cmocka_unit_test(test_rss_limit_and_events),
	};
	struct CMUnitTest chosen[sizeof all / sizeof *all];
	size_t n = 0;
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		if (argc < 2 || fnmatch(argv[1], all[i].name, 0) == 0)
			chosen[n++] = all[i];
	return _cmocka_run_group_tests("pool", chosen, n, NULL, NULL);
}
