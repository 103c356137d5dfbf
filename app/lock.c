/* SPDX-License-Identifier: MIT */
/*
 * lock.c — the run locks of an output folder. See lock.h.
 *
 * Files in OUT/.imgpool:
 *   lock            LOCK_EX by an unsharded run (its pid inside), LOCK_SH by shards
 *   lock-n-N        LOCK_SH by every shard of an N-way split
 *   lock-K-of-N     LOCK_EX by shard K of N (its pid inside)
 *   lock.meta       LOCK_EX for the moment a run checks and takes the above
 * and the folder OUT/.imgpool itself, locked as `lock` is: a file can be deleted
 * while a run holds it (a second run then made a new one, took it, and the two
 * ran at once, one emptying the other's temp folder), the folder cannot while
 * it holds the journal. Where a filesystem cannot flock a folder (NFS emulates
 * flock with byte-range locks, which need a file open for writing) the files'
 * locks stand alone, as before.
 * flock rather than fcntl locks: they belong to the open file, not the process, so
 * nothing else in the process (SQLite's own fcntl locks) can drop them by closing
 * another descriptor of the same file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "orphans.h"

#define NFS_SUPER_MAGIC 0x6969

struct run_lock {
	int fds[4]; /* lock, lock-n-N, lock-K-of-N, OUT/.imgpool; -1 when not used */
};

void lock_release(run_lock *lk)
{
	if (!lk)
		return;
	for (int i = 0; i < 4; i++)
		if (lk->fds[i] >= 0)
			close(lk->fds[i]);
	free(lk);
}

/* The pid written in lock file fd, or "" */
static void read_pid(int fd, char *pid, size_t len)
{
	ssize_t n = pread(fd, pid, len - 1, 0);
	pid[n > 0 ? n : 0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	if (strspn(pid, "0123456789") != strlen(pid))
		pid[0] = '\0';
}

/* Write our pid into a lock file only we hold. */
static void write_pid(int fd)
{
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n) {
		/* only informative: the lock itself is the flock */
	}
}

static int busy(const outdir *od, int fd, const char *who, char *msg, size_t len)
{
	char pid[32] = "";
	if (fd >= 0)
		read_pid(fd, pid, sizeof pid);
	snprintf(msg, len, "%s%s%s%s is writing to '%s'; try again when it has finished", who,
		 *pid ? " (pid " : "", pid, *pid ? ")" : "", outdir_path(od));
	return LOCK_BUSY;
}

/* Is some run holding lock-n-M for an M other than n? Checked under the meta lock,
 * so nobody takes one meanwhile. Returns that M, or 0. */
static int other_split_running(outdir *od, int n)
{
	char **names = outdir_private_list(od, "lock-n-", "");
	int found = 0;
	for (char **p = names; p && *p && !found; p++) {
		int m;
		char tail;
		if (sscanf(*p, "lock-n-%d%c", &m, &tail) != 1 || m == n)
			continue;
		int fd = outdir_private_open(od, *p, O_RDONLY);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			found = m;
		close(fd);
	}
	outdir_names_free(names);
	return found;
}

/* An NFS mount whose flocks are local to this client (nolock, local_lock=flock or
 * all)? Read from /proc/self/mountinfo, matched by the device of OUT. */
static int nfs_locks_local(int fd)
{
	struct statfs sf;
	struct stat st;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != NFS_SUPER_MAGIC || fstat(fd, &st) < 0)
		return 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 1; /* NFS, and we cannot tell how it is mounted: warn */
	char line[4096], dev[32];
	int local = 0;
	snprintf(dev, sizeof dev, " %u:%u ", major(st.st_dev), minor(st.st_dev));
	while (fgets(line, sizeof line, f))
		if (strstr(line, dev) && (strstr(line, "nolock") || strstr(line, "local_lock=flock") ||
					  strstr(line, "local_lock=all")))
			local = 1;
	fclose(f);
	return local;
}

/* Lock the folder OUT/.imgpool as `lock` (how: LOCK_EX or LOCK_SH). 0, or -1 when
 * another run holds it; a filesystem that cannot lock a folder is not a refusal. */
static int lock_folder(outdir *od, run_lock *lk, int how)
{
	lk->fds[3] = openat(outdir_private_fd(od), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return lk->fds[3] >= 0 && flock(lk->fds[3], how | LOCK_NB) < 0 && errno == EWOULDBLOCK
		       ? -1 : 0;
}

/* The locks of shard sh->k of sh->n, under the meta lock. */
static int take_shard(outdir *od, const shard *sh, run_lock *lk, char *msg, size_t len)
{
	char name[64];
	if (flock(lk->fds[0], LOCK_SH | LOCK_NB) < 0)
		return busy(od, lk->fds[0], "an unsharded imgpool run", msg, len);
	if (lock_folder(od, lk, LOCK_SH) < 0)
		return busy(od, -1, "an unsharded imgpool run (its lock file was deleted)", msg,
			    len);
	int m = other_split_running(od, sh->n);
	if (m) {
		snprintf(msg, len, "imgpool runs sharded %d ways are writing to '%s', and this "
			 "run is shard %d/%d: shards of different counts overlap; try again when "
			 "they have finished", m, outdir_path(od), sh->k, sh->n);
		return LOCK_BUSY;
	}
	snprintf(name, sizeof name, "lock-n-%d", sh->n);
	if ((lk->fds[1] = outdir_private_open(od, name, O_RDWR | O_CREAT)) < 0)
		return LOCK_FAILED;
	if (flock(lk->fds[1], LOCK_SH | LOCK_NB) < 0)
		return LOCK_FAILED;
	snprintf(name, sizeof name, "lock-%d-of-%d", sh->k, sh->n);
	if ((lk->fds[2] = outdir_private_open(od, name, O_RDWR | O_CREAT)) < 0)
		return LOCK_FAILED;
	if (flock(lk->fds[2], LOCK_EX | LOCK_NB) < 0) {
		char who[64];
		snprintf(who, sizeof who, "another imgpool run of shard %d/%d", sh->k, sh->n);
		return busy(od, lk->fds[2], who, msg, len);
	}
	write_pid(lk->fds[2]);
	return LOCK_TAKEN;
}

/* The lock of an unsharded run. */
static int take_all(outdir *od, run_lock *lk, char *msg, size_t len)
{
	if (flock(lk->fds[0], LOCK_EX | LOCK_NB) == 0) {
		if (lock_folder(od, lk, LOCK_EX) < 0)
			return busy(od, -1, "another imgpool run (its lock file was deleted)", msg,
				    len);
		write_pid(lk->fds[0]);
		return LOCK_TAKEN;
	}
	/* Shards hold it shared; an unsharded run exclusively (its pid is in it). */
	if (flock(lk->fds[0], LOCK_SH | LOCK_NB) == 0) {
		flock(lk->fds[0], LOCK_UN);
		snprintf(msg, len, "sharded imgpool runs are writing to '%s'; try again when "
			 "they have finished", outdir_path(od));
		return LOCK_BUSY;
	}
	return busy(od, lk->fds[0], "another imgpool run", msg, len);
}

/* Close what a try at the locks opened (their locks go with them). */
static void lock_reset(run_lock *lk)
{
	for (int i = 0; i < 4; i++) {
		if (lk->fds[i] >= 0)
			close(lk->fds[i]);
		lk->fds[i] = -1;
	}
}

/* One try at the run's locks, under the meta lock. */
static int take_once(outdir *od, const shard *sh, run_lock *lk, char *msg, size_t len)
{
	int rc = LOCK_FAILED;
	msg[0] = '\0';
	int meta = outdir_private_open(od, "lock.meta", O_RDWR | O_CREAT);
	if (meta >= 0 && flock(meta, LOCK_EX) == 0 &&
	    (lk->fds[0] = outdir_private_open(od, "lock", O_RDWR | O_CREAT)) >= 0)
		rc = sh->n ? take_shard(od, sh, lk, msg, len) : take_all(od, lk, msg, len);
	/* A lock file with other hard links is refused (its pid would be written through
	 * them), and is not replaced here either: another run may hold the old one.
	 * A backup of OUT made with cp -al (rsnapshot) links every file: say what to do. */
	if (rc == LOCK_FAILED && !msg[0])
		snprintf(msg, len, "cannot lock the output folder '%s': %s%s", outdir_path(od),
			 outdir_strerror(errno),
			 errno == EMLINK ? "; a lock file in " OUTDIR_PRIVATE " is linked from elsewhere "
					   "(a backup made with cp -al?): remove " OUTDIR_PRIVATE
					   "/lock* while no imgpool runs there" : "");
	if (meta >= 0)
		close(meta);
	return rc;
}

/* The pids the lock files record (the runs that hold them, or held them last), at
 * most max; *dead: whether one of them has ended. */
static int recorded_runs(outdir *od, long *pids, int max, int *dead)
{
	*dead = 0;
	char **names = outdir_private_list(od, "lock", "");
	int n = 0;
	for (char **p = names; p && *p && n < max; p++) {
		char pid[32] = "";
		int fd = outdir_private_open(od, *p, O_RDONLY);
		if (fd < 0)
			continue;
		read_pid(fd, pid, sizeof pid);
		close(fd);
		if (*pid) {
			pids[n] = strtol(pid, NULL, 10);
			*dead |= pids[n] > 0 && kill((pid_t)pids[n], 0) < 0 && errno == ESRCH;
			n++;
		}
	}
	outdir_names_free(names);
	return n;
}

/* The meta lock, held for a look: a run starting meanwhile (take_once()) would
 * find the look's own probe on a lock file and take it for a run. -1 when there is
 * none (no run has locked here) or it cannot be opened. */
static int meta_hold(outdir *od)
{
	/* read-write: NFS emulates flock with byte-range locks, which need it */
	int fd = outdir_private_open(od, "lock.meta", O_RDWR);
	if (fd < 0)
		fd = outdir_private_open(od, "lock.meta", O_RDONLY);
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Is lock file name held by a run: its pid, -1 when it wrote none, 0 when not
 * held. excl: held exclusively (a shared hold, as shards hold `lock`, is not). */
static long held_by(outdir *od, const char *name, int excl)
{
	char pid[32];
	int fd = outdir_private_open(od, name, O_RDONLY);
	if (fd < 0)
		return 0;
	long held = 0;
	if (flock(fd, (excl ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		read_pid(fd, pid, sizeof pid);
		held = *pid ? strtol(pid, NULL, 10) : -1;
	}
	close(fd); /* a lock taken goes with it */
	return held;
}

long lock_holder(outdir *od, const shard *sh)
{
	char name[64];
	if (sh->n)
		snprintf(name, sizeof name, "lock-%d-of-%d", sh->k, sh->n);
	else
		snprintf(name, sizeof name, "lock");
	int meta = meta_hold(od);
	long held = held_by(od, name, 1);
	if (meta >= 0)
		close(meta);
	return held;
}

long lock_any_holder(outdir *od)
{
	int meta = meta_hold(od);
	long held = held_by(od, "lock", 1); /* an unsharded run */
	if (!held && held_by(od, "lock", 0)) {
		/* shards hold it shared: the pid of one of them */
		held = -1;
		char **names = outdir_private_list(od, "lock-", "");
		int k, n;
		char tail;
		for (char **p = names; p && *p && held == -1; p++) {
			long pid = sscanf(*p, "lock-%d-of-%d%c", &k, &n, &tail) == 2
					   ? held_by(od, *p, 1) : 0;
			if (pid > 0)
				held = pid;
		}
		outdir_names_free(names);
	}
	/* a run whose lock files were deleted holds the folder still (looked at
	 * under the meta lock alone: a run taking its locks would find the probe) */
	int pfd = outdir_private_fd(od);
	if (!held && pfd >= 0 && meta >= 0) {
		if (flock(pfd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
			held = -1;
		else
			flock(pfd, LOCK_UN);
	}
	if (meta >= 0)
		close(meta);
	return held;
}

int lock_take(outdir *od, const shard *sh, run_lock **out, char *msg, size_t len,
	      char *warn, size_t wlen)
{
	run_lock *lk = calloc(1, sizeof *lk);
	*out = NULL;
	warn[0] = '\0';
	msg[0] = '\0';
	if (!lk) {
		snprintf(msg, len, "out of memory");
		return LOCK_FAILED;
	}
	lk->fds[0] = lk->fds[1] = lk->fds[2] = lk->fds[3] = -1;
	int rc = take_once(od, sh, lk, msg, len);
	/* Held by workers a killed run left stopped (orphans.h)? Only looked for when
	 * a run the lock files name has ended (a run stopped by the user whose lock
	 * file was deleted is named by none: it is never taken for them). Continued,
	 * they exit, and their locks go with them: a few milliseconds. */
	long runs[64];
	int nruns = 0, dead = 0;
	if (rc == LOCK_BUSY)
		nruns = recorded_runs(od, runs, 64, &dead);
	if (rc == LOCK_BUSY && dead && orphans_continue(outdir_private_fd(od), runs, nruns) > 0) {
		for (int i = 0; i < 200 && rc == LOCK_BUSY; i++) {
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
			lock_reset(lk);
			rc = take_once(od, sh, lk, msg, len);
		}
		if (rc == LOCK_TAKEN)
			snprintf(warn, wlen, "imgpool: warning: workers of an earlier run on '%s' "
				 "were stopped as they started and outlived it (killed), holding "
				 "its lock; they were continued and have ended", outdir_path(od));
	}
	if (rc != LOCK_TAKEN) {
		lock_release(lk);
		return rc;
	}
	if (nfs_locks_local(outdir_fd(od)))
		snprintf(warn, wlen, "imgpool: warning: '%s' is on NFS mounted with local locks "
			 "(nolock or local_lock): runs on other machines cannot see this run's lock; "
			 "do not start two on this folder at once", outdir_path(od));
	*out = lk;
	return LOCK_TAKEN;
}
