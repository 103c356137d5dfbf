/* SPDX-License-Identifier: MIT */
/*
 * lock.h — one lock rule per output folder.
 *
 *   - An unsharded run excludes every other run on the folder.
 *   - Shards of the same N (array tasks of one job) run together; the same shard
 *     twice does not.
 *   - Shards of different N exclude each other (their shares overlap).
 * The locks are flock()s on files in OUT/.imgpool (opened through outdir.h, never
 * through a symlink, never truncated unless they are imgpool's own): the kernel
 * drops them when the process dies, so a crash never leaves a stale lock. A short
 * meta lock makes "check the other N, then take mine" one step.
 *
 * flock on NFS is only as good as the mount: with "nolock" or "local_lock" it is
 * local to each client. lock_take() says so once, in a warning.
 */
#ifndef IMGPOOL_LOCK_H
#define IMGPOOL_LOCK_H

#include <stddef.h>

#include "outdir.h"
#include "shard.h"

typedef struct run_lock run_lock;

enum { LOCK_TAKEN = 0, LOCK_FAILED = -1, LOCK_BUSY = -2 };

/*
 * Take the lock for shard sh (sh->n == 0: unsharded) on od. LOCK_TAKEN with *lk;
 * LOCK_BUSY when another run holds it (msg names it: "another imgpool run (pid
 * 4242) is writing to 'OUT'..."); LOCK_FAILED when the folder cannot be used (msg).
 * warn gets a one-line warning ("" when none): an NFS mount whose locks are local.
 */
int lock_take(outdir *od, const shard *sh, run_lock **lk, char *msg, size_t len,
	      char *warn, size_t wlen);

/* Drop the lock; NULL is a no-op. */
void lock_release(run_lock *lk);

/* Is a run of shard sh (sh->n 0: an unsharded run) going on now, its lock file held
 * exclusively? Its pid (what it wrote there), -1 when it wrote none, 0 when not
 * held. Takes no lock of its own for longer than the look (imgpool status). */
long lock_holder(outdir *od, const shard *sh);

/* Is any run at work in od now: unsharded, a shard of any count, or one whose
 * lock files were deleted (it holds OUT/.imgpool)? A pid as lock_holder()'s, -1
 * when none can be named, 0 when none. The look holds lock.meta, as a run
 * taking its locks does, so that a run starting meanwhile never takes the look's
 * probe for another run (imgpool -n). */
long lock_any_holder(outdir *od);

#endif
