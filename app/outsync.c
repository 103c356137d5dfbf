/* SPDX-License-Identifier: MIT */
/*
 * outsync.c — the fsync of finished thumbnails in threads of the parent. See
 * outsync.h.
 *
 * One mutex and two condition variables: work (slots queued, or stop) wakes the
 * threads, done wakes a waiter. Each thread takes the oldest queued slot, fsyncs
 * outside the lock, and never allocates (the parent forks replacement workers
 * while they run).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bug.h"
#include "clock.h"
#include "outsync.h"
#include "thread.h"

/* A thread is woken for every slot queued while fsyncs are slow (over
 * OUTSYNC_QUICK_NS on average: NFS, a busy disk), each started as soon as it can
 * be; while they are quick, for every OUTSYNC_WAKE_EVERY slots, and outsync_wait()
 * wakes them for what is left. Waking a sleeping thread per file was a tenth of the
 * parent's CPU, and neighbouring files synced together share their inode-table
 * block's write (a quarter fewer disk writes on 1500 small JPEGs); a slow fsync
 * started later instead would hold the batch's publish. */
#define OUTSYNC_WAKE_EVERY 4
#define OUTSYNC_QUICK_NS 2000000

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_SYNCING, SLOT_DONE };

typedef struct sync_slot {
	enum slot_state state;
	int n, err;
	char names[THUMB_MAX_SIZES][TASK_TEMP_NAME_MAX];
} sync_slot;

struct outsync {
	int dirfd;	/* a dup of the temp folder's fd: the threads never touch the outdir */
	pthread_mutex_t lock;
	pthread_cond_t work, done;	/* CLOCK_MONOTONIC for done's timed waits */
	pthread_t threads[OUTSYNC_MAX_THREADS];
	int nthreads, stop, given_up;
	int64_t sync_ns;	/* a moving average of a slot's fsync time */
	int queue[OUTSYNC_SLOTS], head, count;	/* slots in the order queued */
	sync_slot slots[OUTSYNC_SLOTS];
};

/* fsync slot's files: 0, or the errno of the first that failed. */
static int sync_files(int dirfd, const sync_slot *sl)
{
	for (int i = 0; i < sl->n; i++)
		if (outdir_sync_in(dirfd, sl->names[i]) < 0)
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
		int64_t t0 = clock_now_ns();
		int err = sync_files(s->dirfd, &s->slots[k]);
		int64_t took = clock_now_ns() - t0;
		pthread_mutex_lock(&s->lock);
		s->sync_ns += (took - s->sync_ns) / 4;
		s->slots[k].err = err;
		s->slots[k].state = SLOT_DONE;
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

outsync *outsync_start(const outdir *od, int nthreads)
{
	outsync *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	if ((s->dirfd = fcntl(outdir_tmp_fd(od), F_DUPFD_CLOEXEC, 0)) < 0) {
		int e = errno; /* EMFILE: the caller says so */
		free(s);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	thread_cond_init_monotonic(&s->done);
	s->sync_ns = OUTSYNC_QUICK_NS + 1; /* slow until shown quick: each woken for */
	nthreads = nthreads < 1 ? 1 : nthreads > OUTSYNC_MAX_THREADS ? OUTSYNC_MAX_THREADS : nthreads;
	while (s->nthreads < nthreads &&
	       thread_start(&s->threads[s->nthreads], outsync_main, s) == 0)
		s->nthreads++;
	return s;
}

void outsync_add(outsync *s, int slot, const char names[][TASK_TEMP_NAME_MAX], int n)
{
	if (slot < 0 || slot >= OUTSYNC_SLOTS || n < 0 || n > THUMB_MAX_SIZES)
		BUG("outsync slot %d with %d files", slot, n);
	pthread_mutex_lock(&s->lock);
	sync_slot *sl = &s->slots[slot];
	if (s->given_up) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (sl->state != SLOT_FREE)
		BUG("outsync slot %d queued twice", slot);
	sl->n = n;
	sl->err = 0;
	for (int i = 0; i < n; i++)
		memcpy(sl->names[i], names[i], TASK_TEMP_NAME_MAX);
	sl->state = SLOT_QUEUED;
	if (s->nthreads) {
		s->queue[(s->head + s->count) % OUTSYNC_SLOTS] = slot;
		s->count++;
		if (s->sync_ns > OUTSYNC_QUICK_NS || s->count % OUTSYNC_WAKE_EVERY == 0)
			pthread_cond_signal(&s->work);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Give up (s->lock held): every wait from now on says EINTR; no queued slot is
 * started any more. */
static void give_up_now(outsync *s)
{
	s->given_up = 1;
	s->count = 0;
	pthread_cond_broadcast(&s->done);
}

int outsync_wait(outsync *s, int slot, int *err, int (*give_up)(void))
{
	if (slot < 0 || slot >= OUTSYNC_SLOTS)
		BUG("outsync slot %d", slot);
	sync_slot *sl = &s->slots[slot];
	pthread_mutex_lock(&s->lock);
	if (!s->given_up && sl->state == SLOT_FREE)
		BUG("outsync slot %d waited for but not queued", slot);
	if (!s->given_up && !s->nthreads) {
		sl->err = sync_files(s->dirfd, sl);
		sl->state = SLOT_DONE;
	}
	if (s->count)
		pthread_cond_broadcast(&s->work);
	while (!s->given_up && sl->state != SLOT_DONE) {
		if (give_up && give_up()) {
			give_up_now(s);
			break;
		}
		struct timespec until = thread_deadline(OUTSYNC_POLL_MS / 1000.0);
		pthread_cond_timedwait(&s->done, &s->lock, &until);
	}
	*err = s->given_up ? EINTR : sl->err;
	if (!s->given_up)
		sl->state = SLOT_FREE;
	pthread_mutex_unlock(&s->lock);
	return *err ? -1 : 0;
}

void outsync_stop(outsync *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	int abandon = s->given_up;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->nthreads; i++)
		if (abandon)
			pthread_detach(s->threads[i]);
		else
			pthread_join(s->threads[i], NULL);
	if (abandon)
		return;	/* a thread may still be in an fsync, using s: see outsync.h */
	close(s->dirfd);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
