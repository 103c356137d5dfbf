/* SPDX-License-Identifier: MIT */
/*
 * run_checks.c — the looks a run takes at every turn of its loop that may stop
 * it: free space on the output filesystem below --min-free, and the journal or
 * the temp folder deleted or moved away. Either stop is said once and drains the
 * pool; the files not started are then errors, tried again by the next run. Part
 * of a run: see run_internal.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "clock.h"
#include "journal.h"
#include "outdir.h"
#include "pool.h"
#include "report.h"
#include "run_internal.h"

/* How often each is looked at, at most: thumbnails are small, and each look is a
 * system call. */
#define DISK_CHECK_S 0.1
#define JOURNAL_CHECK_S 0.1

/* Stop the run for the cause in x->stop_why (for_disk: --min-free's, after which
 * --prune still runs). */
static void stop_for(run_ctx *x, pool *p, int for_disk)
{
	x->stop_for_disk = for_disk;
	snprintf(x->stop_msg, sizeof x->stop_msg,
		 "stopped: %s; the files it did not start are errors (those a worker held, "
		 "cancelled), tried again next run",
		 x->stop_why);
	pool_interrupt(p);
}

/* n in the units --min-free is written in (binary: 46G is 46 GiB, as df -h
 * says it): "49.39 GB" beside "46G" read as another number. */
static void binary_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
	else
		snprintf(buf, len, "%.2f %s", v, units[u]);
}

void run_check_disk(run_ctx *x, pool *p)
{
	struct statvfs vfs;
	double now = clock_now_s();
	if (!x->min_free || x->stop_msg[0] || now - x->disk_checked < DISK_CHECK_S)
		return;
	x->disk_checked = now;
	if (fstatvfs(outdir_fd(x->od), &vfs) < 0)
		return;
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail >= (uint64_t)x->min_free)
		return;
	/* The limit as the user wrote it (70G is 70 GiB) beside the figure in the
	 * units of the free space: "75.16 GB" alone read as another number. */
	char a[32], l[32];
	const char *given = x->o->min_free_text;
	binary_bytes(avail, a, sizeof a);
	binary_bytes((uint64_t)x->min_free, l, sizeof l);
	if (!strcmp(a, l)) /* "only 15.7 MB free ... below 15M (15.7 MB)": in bytes then */
		snprintf(a, sizeof a, "%llu bytes", (unsigned long long)avail),
		snprintf(l, sizeof l, "%llu bytes", (unsigned long long)x->min_free);
	snprintf(x->stop_why, sizeof x->stop_why,
		 "only %s free on the filesystem of '%.200s', below --min-free %.40s (%s)", a,
		 x->o->out_dir, given ? given : "default", l);
	stop_for(x, p, 1);
}

/* Is the run's temp folder, where every worker writes, no longer the one made?
 * Deleted, every file after failed on its own with "cannot create the thumbnail
 * file: No such file or directory", a cause that named nothing. */
static int tmp_gone(run_ctx *x)
{
	struct stat st;
	file_ident made = outdir_tmp_ident(x->od);
	if (!made.dev && !made.ino)
		return 0;
	if (lstat(outdir_tmp_path(x->od), &st) < 0)
		return errno == ENOENT || errno == ENOTDIR;
	return !S_ISDIR(st.st_mode) || (uint64_t)st.st_dev != made.dev ||
	       (uint64_t)st.st_ino != made.ino;
}

/* The thumbnails made once the journal is gone could not be shown to be imgpool's
 * by the next run (their records would go to a file no one finds). The stop is
 * what this adds: every commit looks again itself (journal_sync()), so nothing is
 * moved into place once the journal is gone, looked at here or not. A temp folder
 * gone (tmp_gone()) stops the run too. */
void run_check_journal(run_ctx *x, pool *p)
{
	double now = clock_now_s();
	if (now - x->journal_checked < JOURNAL_CHECK_S)
		return;
	x->journal_checked = now;
	/* After a --min-free stop too: --prune still runs after that one. */
	if (x->stop_msg[0] && !x->stop_for_disk)
		return;
	if (journal_moved(x->j))
		snprintf(x->stop_why, sizeof x->stop_why,
			 "the journal in '%.300s/" OUTDIR_PRIVATE "' was deleted or moved away "
			 "during the run", x->o->out_dir);
	else if (tmp_gone(x))
		snprintf(x->stop_why, sizeof x->stop_why,
			 "the temp folder '%.300s', where the workers write, was deleted or "
			 "replaced during the run", outdir_tmp_path(x->od));
	else
		return;
	stop_for(x, p, 0);
}

int64_t run_min_free_bytes(const imgpool_options *o, int fd)
{
	struct statvfs vfs;
	int have = fstatvfs(fd, &vfs) == 0;
	double total = have ? (double)vfs.f_blocks * vfs.f_frsize : 0;
	if (o->min_free_set)
		return o->min_free_pct > 0 ? (have ? (int64_t)(total * o->min_free_pct / 100) : 0)
					   : (int64_t)o->min_free;
	if (!have)
		return 0;
	int64_t two_pct = (int64_t)(total * 0.02);
	return two_pct < ((int64_t)1 << 30) ? two_pct : (int64_t)1 << 30;
}
