/* SPDX-License-Identifier: MIT */
/*
 * thread.c — a thread of the parent started with every signal blocked and out of
 * a fork's way. See thread.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "pool.h"
#include "thread.h"

typedef struct thread_start_arg {
	void *(*fn)(void *);
	void *arg;
} thread_start_arg;

/* The new thread's first own step: the runtime has set it up, forks may come. */
static void *thread_main(void *p)
{
	thread_start_arg a = *(thread_start_arg *)p;
	free(p);
	pool_nofork_end();	/* begun by thread_start(), in the thread that made this one */
	return a.fn(a.arg);
}

int thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pool_nofork_begin();
	thread_start_arg *a = malloc(sizeof *a);
	if (!a) {
		pool_nofork_end();
		return ENOMEM;
	}
	a->fn = fn;
	a->arg = arg;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(t, NULL, thread_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		free(a);
		pool_nofork_end();
	}
	return rc;
}
