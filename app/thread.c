/* SPDX-License-Identifier: MIT */
/*
 * thread.c — a thread of the parent started with every signal blocked and out of
 * a fork's way. See thread.h.
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
