/* SPDX-License-Identifier: MIT */
/*
 * pool_testlib.c — the task function, initializer and checks the pool's test
 * programs share; see pool_testlib.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
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

test_shared *sh;

/* Kept reachable so the compiler cannot drop the hog's memory. */
static char *volatile hog;
/* This worker's generation: the initializer run it was (1-based; 0: none ran). */
static int tl_gen;

int64_t tl_now_ns(void)
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

static void note_generation(void)
{
	int seen = atomic_load(&sh->init_gen_seen);
	while (tl_gen > seen && !atomic_compare_exchange_weak(&sh->init_gen_seen, &seen, tl_gen))
		;
}

static int crash(uint32_t how)
{
	if (how == 1)
		abort();
	if (how == 2)
		_exit(3);
	raise(SIGSEGV);
	return 1;
}

static int run_behaviour(const job_arg *a, pool_buf *out, int first)
{
	switch (a->behaviour) {
	case B_SQUARE: {
		uint64_t hold = atomic_load(&sh->hold_above);
		while (hold && a->value > hold && !atomic_load(&sh->release))
			usleep(200);
		uint64_t r = a->value * a->value;
		return pool_buf_append(out, &r, sizeof r);
	}
	case B_SEGV:
		raise(SIGSEGV);
		return 1;
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
		pool_buf_printf(out, "bad value %llu", (unsigned long long)a->value);
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
		return pool_buf_append(out, &pid, sizeof pid);
	}
	case B_BIG: {
		if (pool_buf_reserve(out, a->value) < 0)
			return 1;
		for (uint64_t i = 0; i < a->value; i++)
			out->data[i] = (char)(i * 7 + (i >> 13));
		out->len = a->value;
		return 0;
	}
	case B_EMPTY:
		return 0;
	case B_SPIN_MS:
		tl_spin_ms((long)a->param);
		return pool_buf_append(out, &a->value, sizeof a->value);
	case B_SLEEP_MS: {
		struct timespec ts = {0, (long)a->param * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		return pool_buf_append(out, &a->value, sizeof a->value);
	}
	case B_PRINT: {
		/* Uses stdio and malloc in the worker: deadlocks if a lock came locked. */
		char *m = malloc(64);
		snprintf(m, 64, "w%llu\n", (unsigned long long)a->value);
		fputs(m, stdout);
		fflush(stdout);
		free(m);
		return pool_buf_append(out, &a->value, sizeof a->value);
	}
	case B_ECHO:
		return pool_buf_append(out, &a->value, sizeof a->value);
	case B_HOG: {
		/* Grow by 200 MB, touched, and keep it: a leak the RSS limit must catch. */
		size_t n = (size_t)200 << 20;
		char *m = malloc(n);
		if (!m)
			return 1;
		memset(m, 1, n);
		hog = m;
		int pid = getpid();
		return pool_buf_append(out, &pid, sizeof pid);
	}
	case B_WAIT: {
		int me = getpid();
		atomic_store(&sh->waiting_pid, me);
		while (!atomic_load(&sh->release))
			usleep(200);
		atomic_compare_exchange_strong(&sh->waiting_pid, &me, 0);
		return pool_buf_append(out, &a->value, sizeof a->value);
	}
	case B_CRASH_ONCE: {
		if (first)
			crash(a->param);
		uint64_t r = a->value * a->value;
		return pool_buf_append(out, &r, sizeof r);
	}
	}
	return 1;
}

void tl_spin_ms(long ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

int tl_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	job_arg a;
	if (len != sizeof a)
		return pool_buf_printf(out, "bad task length %zu", len), 1;
	memcpy(&a, arg, sizeof a);
	atomic_fetch_add(&sh->starts[a.behaviour % 32], 1);
	int me = getpid();
	atomic_compare_exchange_strong(&sh->between_pid, &me, 0);
	atomic_store(&sh->running_pid, getpid());
	note_generation();
	int indexed = a.value < TL_NTASKS;
	int first = 1;
	if (indexed) {
		first = atomic_fetch_add(&sh->begun[a.value], 1) == 0;
		if (atomic_fetch_add(&sh->now[a.value], 1) != 0)
			atomic_store(&sh->overlap, 1);
	}
	int rc = run_behaviour(&a, out, first);
	if (indexed) {
		atomic_fetch_sub(&sh->now[a.value], 1);
		atomic_fetch_add(&sh->runs[a.value], 1);
	}
	atomic_store(&sh->between_pid, getpid());
	return rc;
}

int tl_init(void *arg, void **state, pool_buf *err)
{
	(void)arg;
	int n = atomic_fetch_add(&sh->inits, 1) + 1;
	tl_gen = n;
	if (n == 1 && atomic_load(&sh->init_slow_first_ms))
		usleep((useconds_t)atomic_load(&sh->init_slow_first_ms) * 1000);
	if (n <= atomic_load(&sh->init_crash_first))
		raise(SIGSEGV);
	int crash_after = atomic_load(&sh->init_crash_after);
	if (crash_after && n > crash_after)
		raise(SIGSEGV);
	if (n <= atomic_load(&sh->init_hang_first))
		for (;;)
			pause();
	/* Held: say who we are until let go (again and again: a killer may have read
	 * and dropped the pid before the pool listed it). */
	while (n > 1 && atomic_load(&sh->init_hold)) {
		atomic_store(&sh->init_pid, getpid());
		usleep(200);
	}
	int after = atomic_load(&sh->init_fail_after);
	if (after && n > after) {
		/* The break is under way: held tasks may go (none could finish first). */
		atomic_store(&sh->release, 1);
		pool_buf_printf(err, "cannot open the model file");
		return 1;
	}
	*state = (void *)0x1234;
	return 0;
}

int tl_state_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)arg;
	(void)len;
	return pool_buf_append(out, &state, sizeof state);
}

pool *tl_make_pool(int workers, double timeout, int retries, unsigned max_tasks)
{
	pool_options o = {.workers = workers, .timeout = timeout, .retries = retries,
			  .max_tasks_per_worker = max_tasks};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p)
		fail_msg("pool_create: %s", err);
	return p;
}

void tl_reset_shared(void)
{
	memset(sh, 0, sizeof *sh);
}

int tl_count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

void tl_assert_no_children(void)
{
	int st;
	pid_t r = waitpid(-1, &st, WNOHANG);
	assert_int_equal(r, -1);
	assert_int_equal(errno, ECHILD);
}

void tl_square_tasks(job_arg *args, pool_task *t, int n)
{
	for (int i = 0; i < n; i++) {
		args[i] = J(B_SQUARE, (uint64_t)i);
		t[i] = (pool_task){&args[i], sizeof args[i]};
	}
}

void tl_map_squares(pool *p, int n)
{
	job_arg *args = calloc((size_t)n, sizeof *args);
	pool_task *t = calloc((size_t)n, sizeof *t);
	pool_result *r = calloc((size_t)n, sizeof *r);
	assert_true(args && t && r);
	tl_square_tasks(args, t, n);
	assert_int_equal(pool_map(p, tl_task, t, (size_t)n, 1, r), 0);
	for (int i = 0; i < n; i++) {
		tl_check_square(&r[i], (uint64_t)i);
		pool_result_release(&r[i]);
	}
	free(args);
	free(t);
	free(r);
}

void tl_apply_square(pool *p, uint64_t i)
{
	job_arg a = J(B_SQUARE, i);
	pool_result r;
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	tl_check_square(&r, i);
	pool_result_release(&r);
}

void tl_check_square(const pool_result *r, uint64_t i)
{
	if (r->status != POOL_OK)
		fail_msg("task %llu: status %d: %s", (unsigned long long)i, (int)r->status,
			 r->data ? r->data : "");
	assert_int_equal(r->len, 8);
	uint64_t v;
	memcpy(&v, r->data, 8);
	assert_true(v == i * i);
}

int tl_run(const char *group, int argc, char **argv, const struct CMUnitTest *tests,
	   size_t n)
{
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	struct CMUnitTest *chosen = calloc(n ? n : 1, sizeof *chosen);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (argc < 2 || fnmatch(argv[1], tests[i].name, 0) == 0)
			chosen[k++] = tests[i];
	int rc = _cmocka_run_group_tests(group, chosen, k, NULL, NULL);
	free(chosen);
	munmap(sh, sizeof *sh);
	return rc;
}

void tl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	assert_int_equal(pool_thread_start(t, fn, arg), 0);
}
