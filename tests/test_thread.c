/* SPDX-License-Identifier: MIT */
/*
 * test_thread.c — threads of the parent (app/thread.c): started with every signal
 * blocked, and never caught half made by a fork; and no thread started behind
 * the gate's back by the modules the parent preloads.
 *
 * The fork test bites in the sanitizer build (make test-asan), whose runtime does
 * not guard fork(): with a plain pthread_create() there, about one child in three
 * forked at once after it hung at its own first pthread_create(), for good (the
 * test then fails after its deadline). glibc's own runtime guards fork(), so in the
 * plain build it passes either way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "thread.h"
#include "modules_testlib.h"
#include "vipsmodules.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;

/* Waits for ever, as the fsync threads wait for work. */
static void *parked(void *arg)
{
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&go, &lock);
	return arg;
}

static void *nothing(void *arg)
{
	return arg;
}

/* What a worker does first: start a thread of its own (libvips does). */
static void child_starts_a_thread(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, nothing, NULL) || pthread_join(t, NULL))
		_exit(2);
	_exit(0);
}

/* Wait for pid for at most secs: its status, or -1 (then it is killed). */
static int wait_at_most(pid_t pid, int secs)
{
	struct timespec nap = {0, 2000000};
	for (int i = 0; i < secs * 500; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		nanosleep(&nap, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* One round, in a process of its own (a fresh copy, one thread, as imgpool is
 * when run_setup() starts the fsync threads): two threads started, and at once
 * (as the pool then forks its workers) two children that each start a thread of
 * their own and end. Exits 0, or 1 when a child hung. */
static void fork_right_after_start(void)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		if (thread_start(&t[i], parked, NULL))
			_exit(2);
	pid_t pid[2];
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			_exit(2);
		if (!pid[i])
			child_starts_a_thread();
	}
	int hung = 0;
	for (int i = 0; i < 2; i++) {
		int st = wait_at_most(pid[i], 20);
		hung |= st < 0 || !WIFEXITED(st) || WEXITSTATUS(st);
	}
	_exit(hung);
}

static void test_fork_right_after_start(void **state)
{
	(void)state;
	for (int round = 0; round < 30; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (!pid)
			fork_right_after_start();
		int st = wait_at_most(pid, 60);
		if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			fail_msg("round %d: a child forked right after thread_start() hung", round);
	}
}

static void *own_mask(void *arg)
{
	pthread_sigmask(SIG_SETMASK, NULL, arg);
	return arg;
}

/* Signals go to the main thread: a started thread blocks them all, and the
 * caller's own mask is as it was. */
static void test_signals_blocked(void **state)
{
	(void)state;
	sigset_t before, after, seen;
	sigemptyset(&before);
	sigaddset(&before, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	pthread_t t;
	assert_int_equal(thread_start(&t, own_mask, &seen), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			assert_true(sigismember(&seen, sig));
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	assert_true(sigismember(&after, SIGUSR1));
	assert_false(sigismember(&after, SIGINT));
	sigemptyset(&before);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
}

static int threads_now(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int heif_module_mapped(void)
{
	char line[4096];
	int mapped = 0;
	FILE *maps = fopen("/proc/self/maps", "r");
	assert_non_null(maps);
	while (fgets(line, sizeof line, maps))
		mapped |= strstr(line, "vips-heif.so") != NULL;
	fclose(maps);
	return mapped;
}

/* With a VIPSHOME of the user's the workers let libvips load its own modules
 * (vipsmodules.h), so the parent preloads none: in a child, before the test
 * below has loaded any. */
static void test_no_preload_with_users_vipshome(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		setenv("VIPSHOME", "/usr", 1);
		vipsmodules_preload();
		_exit(heif_module_mapped());
	}
	int st = wait_at_most(pid, 60);
	assert_true(st >= 0 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* The parent preloads libvips' modules before it forks (vipsmodules.h): the
 * libraries they pull in (libheif and its codecs) must start no thread there,
 * or its forks would no longer be the only thing the gate has to guard. */
static void test_module_preload_starts_no_thread(void **state)
{
	(void)state;
	int before = threads_now();
	vipsmodules_preload();
	assert_int_equal(threads_now(), before);
	/* Where there is a HEIF module, it was loaded (else this tests nothing). */
	if (!heif_module_here())
		skip();
	assert_true(heif_module_mapped());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_preload_with_users_vipshome),
		cmocka_unit_test(test_module_preload_starts_no_thread),
		cmocka_unit_test(test_fork_right_after_start),
		cmocka_unit_test(test_signals_blocked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
