/* SPDX-License-Identifier: MIT */
/*
 * thread.c — a thread of the parent started with every signal blocked and out of
 * a fork's way, and the monotonic clock of its timed waits. See thread.h.
 */
#include <signal.h>

#include "pool.h"
#include "thread.h"

int thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pool_thread_start(t, fn, arg);	/* inherits the mask */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void thread_cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

struct timespec thread_deadline(double seconds)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	long ns = (long)((seconds - (long)seconds) * 1e9) + t.tv_nsec;
	t.tv_sec += (time_t)seconds + ns / 1000000000;
	t.tv_nsec = ns % 1000000000;
	return t;
}
