/* SPDX-License-Identifier: MIT */
/*
 * nofork.c — the fork gate: pool_nofork_begin() / pool_nofork_end(), and
 * pool_thread_start(), which starts a thread inside it. See pool.h, "Fork safety".
 *
 * A child of a threaded process starts with one thread and every lock as the
 * other threads held it at the moment of fork(). glibc's malloc and stdio guard
 * their own locks across fork(), but other allocators (ASan's, for one) and every
 * other library lock do not: a worker forked while a thread of the parent was
 * inside malloc() waited forever in its first malloc(). So the pool never forks
 * while a thread is between pool_nofork_begin() and pool_nofork_end().
 *
 * It is a writer-preferring read-write lock made of a mutex and a condition
 * variable, held for writing by pthread_atfork() handlers, so it covers every
 * fork() in the process, the pool's and any other (a plain pthread_rwlock prefers
 * readers: a thread that begins again at once could keep the fork waiting).
 * Registered before main() (a constructor), so no fork can come before it.
 */
/* gettid: a glibc extension. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "nofork.h"
#include "pool.h"

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static unsigned inside;  /* threads between begin and end */
static unsigned forking; /* forks waiting or under way: no thread begins meanwhile */
static pthread_once_t registered = PTHREAD_ONCE_INIT;
/* The thread holding the gate (0: none). A thread id and not a _Thread_local flag:
 * thread-local storage would make the shared library need the dynamic loader. */
static _Atomic pid_t holder;
static int held_for_fork; /* held by before_fork (read and written by the holder) */

/* pthread_cond_wait() is a cancellation point that takes the mutex back before the
 * thread unwinds: a thread cancelled while it waited in a gate left it locked, and
 * every later fork waited for good. Each wait below gives the gate back (and its
 * count) when its thread is cancelled there. */
static void cancelled_forking(void *unused)
{
	(void)unused;
	forking--;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&gate);
}

static void cancelled_waiting(void *unused)
{
	(void)unused;
	pthread_mutex_unlock(&gate);
}

void imgpool_nofork_hold(void)
{
	pthread_mutex_lock(&gate);
	forking++;
	pthread_cleanup_push(cancelled_forking, NULL);
	while (inside)
		pthread_cond_wait(&changed, &gate);
	pthread_cleanup_pop(0);
	atomic_store(&holder, gettid());
}

void imgpool_nofork_release(void)
{
	atomic_store(&holder, 0);
	forking--;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&gate);
}

/* Around any fork() of the process: the pool's own spawn holds the gate already
 * (it must, before it takes the stdio locks: a thread inside may be waiting for
 * one) and releases it itself; any other fork takes it here. */
static void before_fork(void)
{
	if (atomic_load(&holder) == gettid())
		return;
	imgpool_nofork_hold();
	held_for_fork = 1;
}

static void after_fork_parent(void)
{
	if (held_for_fork) {
		held_for_fork = 0;
		imgpool_nofork_release();
	}
}

/* The child has only the forking thread: a fresh gate, no one inside. */
static void after_fork_child(void)
{
	pthread_mutex_init(&gate, NULL);
	pthread_cond_init(&changed, NULL);
	inside = 0;
	forking = 0;
	atomic_store(&holder, 0);
	held_for_fork = 0;
}

static void register_handlers(void)
{
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

__attribute__((constructor)) static void register_at_load(void)
{
	pthread_once(&registered, register_handlers);
}

void pool_nofork_begin(void)
{
	pthread_once(&registered, register_handlers);
	pthread_mutex_lock(&gate);
	pthread_cleanup_push(cancelled_waiting, NULL); /* see imgpool_nofork_hold() */
	while (forking)
		pthread_cond_wait(&changed, &gate);
	pthread_cleanup_pop(0);
	inside++;
	pthread_mutex_unlock(&gate);
}

void pool_nofork_end(void)
{
	pthread_mutex_lock(&gate);
	if (inside && --inside == 0)
		pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&gate);
}

/* The new thread's fn and arg, from pool_thread_start() to thread_main(). */
typedef struct thread_start {
	void *(*fn)(void *);
	void *arg;
} thread_start;

static void *thread_main(void *p)
{
	thread_start a = *(thread_start *)p;
	free(p);
	pool_nofork_end(); /* begun by pool_thread_start(): the runtime is done */
	return a.fn(a.arg);
}

int pool_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pool_nofork_begin();
	thread_start *a = malloc(sizeof *a);
	int rc = ENOMEM;
	if (a) {
		a->fn = fn;
		a->arg = arg;
		rc = pthread_create(t, NULL, thread_main, a);
	}
	if (rc) {
		free(a);
		pool_nofork_end();
	}
	return rc;
}
