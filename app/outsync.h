/* SPDX-License-Identifier: MIT */
/*
 * outsync.h — the fsync of finished thumbnails, in threads of the parent, before
 * they are published.
 *
 * Why here and not in the worker that wrote them: an fsync waits for the disk
 * (on the ext4 these benchmarks run on, four synchronous waits: the data, the
 * inode, the folder's blocks, the cache flush), and a worker waiting for it is a
 * core doing nothing. Measured on 1500 small JPEGs with two workers: 1.0 s of
 * the workers' 10.3 s of task time was spent off the CPU in fsync, where one
 * worker alone spent 0.25 s (two workers' fsyncs wait for each other). Here the
 * waits overlap the workers' decoding, and the rule stays what it was: a
 * thumbnail is moved into place only once its bytes are on disk. As many threads
 * as workers (at most OUTSYNC_MAX_THREADS), so that a slow disk or NFS, where an
 * fsync takes tens of milliseconds, still has as many fsyncs in flight as when
 * each worker made its own.
 *
 * The caller (results.c) queues each finished file's temp files in a slot as
 * its result arrives, and before publishing a batch waits for every slot of the
 * batch: usually done by then. A slot is reused only after it was waited for.
 * Without threads (pthread_create failed), outsync_wait() does the fsync itself.
 */
#ifndef IMGPOOL_OUTSYNC_H
#define IMGPOOL_OUTSYNC_H

#include "outdir.h"
#include "settings.h"	/* THUMB_MAX_SIZES */
#include "task.h"	/* TASK_TEMP_NAME_MAX */

#define OUTSYNC_SLOTS 32	/* at least PUBLISH_BATCH */
#define OUTSYNC_MAX_THREADS 8

typedef struct outsync outsync;

/* Start nthreads threads (1..OUTSYNC_MAX_THREADS; more or fewer are clamped) for
 * the temp folder of od, whose fd they use a dup of (outdir_sync_in()), so that
 * closing od never pulls it from under them. NULL when out of memory or fds. */
outsync *outsync_start(const outdir *od, int nthreads);

/* Queue the n temp files of slot (0 <= slot < OUTSYNC_SLOTS, not queued since it
 * was last waited for) to be fsync'd. Once given up (below), does nothing. */
void outsync_add(outsync *s, int slot, const char names[][TASK_TEMP_NAME_MAX], int n);

/* Wait until slot's files are fsync'd: 0, or -1 with the errno of the first that
 * failed in *err. give_up (may be NULL) is asked every OUTSYNC_POLL_MS while the
 * wait lasts: when it says yes (a second Ctrl-C: stop now), this and every later
 * wait returns -1 with EINTR at once, the queue is dropped, and the files may
 * still be in an fsync: the caller removes them all the same (an fsync of a
 * removed file is harmless). */
#define OUTSYNC_POLL_MS 50
int outsync_wait(outsync *s, int slot, int *err, int (*give_up)(void));

/* Stop the threads and free s (NULL is fine). Slots still queued are synced
 * first. After a give-up, threads still in an fsync (a hung NFS server) are left
 * to finish on their own: s is then not freed, as they may still use it, and the
 * process is about to end. */
void outsync_stop(outsync *s);

#endif
