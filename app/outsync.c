/* SPDX-License-Identifier: MIT */
/*
 * outsync.c — the fsync of finished thumbnails in a thread of the parent. See
 * outsync.h.
 *
 * One mutex and two condition variables: work (slots queued, or stop) wakes the
 * thread, done wakes a waiter. The thread takes slots in the order they were
 * queued, fsyncs outside the lock, and never allocates (the parent forks
 * replacement workers while it runs).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "outsync.h"

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_SYNCING, SLOT_DONE };

typedef struct sync_slot {
	enum slot_state state;
	int n, err;
	char names[THUMB_MAX_SIZES][TASK_TEMP_NAME_MAX];
} sync_slot;

struct outsync {
	const outdir *od;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	pthread_t thread;
	int threaded, stop;
	int queue[OUTSYNC_SLOTS], head, count;	/* slots in the order queued */
	sync_slot slots[OUTSYNC_SLOTS];
};

/* fsync slot's files: 0, or the errno of the first that failed. */
static int sync_files(const outdir *od, const sync_slot *sl)
{
	for (int i = 0; i < sl->n; i++)
		if (outdir_tmp_sync(od, sl->names[i]) < 0)
			return errno ? errno : EIO;
	return 0;
}

static void *outsync_main(void *arg)
{
	outsync *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->count && !s->stop)
			pthread_cond_wait(&s->work, &s->lock);
		if (!s->count)
			break;
		int k = s->queue[s->head];
		s->head = (s->head + 1) % OUTSYNC_SLOTS;
		s->count--;
		s->slots[k].state = SLOT_SYNCING;
		pthread_mutex_unlock(&s->lock);
		int err = sync_files(s->od, &s->slots[k]);
		pthread_mutex_lock(&s->lock);
		s->slots[k].err = err;
		s->slots[k].state = SLOT_DONE;
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

outsync *outsync_start(const outdir *od)
{
	outsync *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->od = od;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->done, NULL);
	/* Signals go to the main thread, which turns them into a drain. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	s->threaded = pthread_create(&s->thread, NULL, outsync_main, s) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return s;
}

void outsync_add(outsync *s, int slot, const char names[][TASK_TEMP_NAME_MAX], int n)
{
	if (slot < 0 || slot >= OUTSYNC_SLOTS || n < 0 || n > THUMB_MAX_SIZES)
		BUG("outsync slot %d with %d files", slot, n);
	pthread_mutex_lock(&s->lock);
	sync_slot *sl = &s->slots[slot];
	if (sl->state != SLOT_FREE)
		BUG("outsync slot %d queued twice", slot);
	sl->n = n;
	sl->err = 0;
	for (int i = 0; i < n; i++)
		memcpy(sl->names[i], names[i], TASK_TEMP_NAME_MAX);
	sl->state = SLOT_QUEUED;
	if (s->threaded) {
		s->queue[(s->head + s->count) % OUTSYNC_SLOTS] = slot;
		s->count++;
		pthread_cond_signal(&s->work);
	}
	pthread_mutex_unlock(&s->lock);
}

int outsync_wait(outsync *s, int slot, int *err)
{
	if (slot < 0 || slot >= OUTSYNC_SLOTS)
		BUG("outsync slot %d", slot);
	sync_slot *sl = &s->slots[slot];
	pthread_mutex_lock(&s->lock);
	if (sl->state == SLOT_FREE)
		BUG("outsync slot %d waited for but not queued", slot);
	if (!s->threaded) {
		sl->err = sync_files(s->od, sl);
		sl->state = SLOT_DONE;
	}
	while (sl->state != SLOT_DONE)
		pthread_cond_wait(&s->done, &s->lock);
	*err = sl->err;
	sl->state = SLOT_FREE;
	pthread_mutex_unlock(&s->lock);
	return *err ? -1 : 0;
}

void outsync_stop(outsync *s)
{
	if (!s)
		return;
	if (s->threaded) {
		pthread_mutex_lock(&s->lock);
		s->stop = 1;
		pthread_cond_signal(&s->work);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
