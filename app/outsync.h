/* SPDX-License-Identifier: MIT */
/*
 * outsync.h — the fsync of finished thumbnails, in a thread of the parent, before
 * they are published.
 *
 * Why here and not in the worker that wrote them: an fsync waits for the disk
 * (on the ext4 these benchmarks run on, four synchronous waits: the data, the
 * inode, the folder's blocks, the cache flush), and a worker waiting for it is a
 * core doing nothing. Measured on 1500 small JPEGs with two workers: 1.0 s of
 * the workers' 10.3 s of task time was spent off the CPU in fsync, where one
 * worker alone spent 0.25 s (two workers' fsyncs wait for each other). Here the
 * waits overlap the workers' decoding, and the rule stays what it was: a
 * thumbnail is moved into place only once its bytes are on disk.
 *
 * The caller (results.c) queues each finished file's temp files in a slot as
 * its result arrives, and before publishing a batch waits for every slot of the
 * batch: usually done by then. A slot is reused only after it was waited for.
 * Without a thread (pthread_create failed), outsync_wait() does the fsync itself.
 */
#ifndef IMGPOOL_OUTSYNC_H
#define IMGPOOL_OUTSYNC_H

#include "outdir.h"
#include "settings.h"	/* THUMB_MAX_SIZES */
#include "task.h"	/* TASK_TEMP_NAME_MAX */

#define OUTSYNC_SLOTS 32	/* at least PUBLISH_BATCH */

typedef struct outsync outsync;

/* Start the thread for the temp folder of od (outdir_tmp_sync()), which must
 * stay open until outsync_stop(). NULL only when out of memory. */
outsync *outsync_start(const outdir *od);

/* Queue the n temp files of slot (0 <= slot < OUTSYNC_SLOTS, not queued since it
 * was last waited for) to be fsync'd. */
void outsync_add(outsync *s, int slot, const char names[][TASK_TEMP_NAME_MAX], int n);

/* Wait until slot's files are fsync'd: 0, or -1 with the errno of the first that
 * failed in *err. */
int outsync_wait(outsync *s, int slot, int *err);

/* Stop the thread (the queue is empty: every slot was waited for) and free s.
 * NULL is fine. */
void outsync_stop(outsync *s);

#endif
