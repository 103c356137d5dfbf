/* SPDX-License-Identifier: MIT */
/*
 * race_shim.c — for tests only: preloaded into imgpool (LD_PRELOAD), it does once
 * what another process might do at the worst moment, right before the first call
 * of one kind whose name argument is $RACE_NAME:
 *   RACE_CALL=rmdir   unlinkat(..., AT_REMOVEDIR)
 *   RACE_CALL=rename  renameat2(..., newpath, ...)
 *   RACE_CALL=open    open() or openat(AT_FDCWD, ...) without O_NONBLOCK: a
 *                     decoder's open of an input by its path (imgpool's own opens
 *                     of inputs all use O_NONBLOCK, so that a FIFO never blocks
 *                     them)
 *   RACE_CALL=sql     sqlite3_step() of a statement whose SQL holds $RACE_NAME
 *                     (between two steps of imgpool's own: the journal's
 *                     write-ahead record of a quarantine, say)
 *   RACE_CALL=mkdir   mkdirat(..., path, ...)
 * With RACE_WHEN=after, the race comes right after the call succeeded. Up to two
 * more races, once each, from RACE2_* and RACE3_* (the same variables): for
 * windows that only two moves at two moments open; RACE_NTH=N (RACE2_NTH ...) fires
 * on the Nth matching call instead of the first.
 * It renames $RACE_FROM to $RACE_TO, then $RACE_FROM2 to $RACE_TO2 if given (a
 * folder swapped for a symlink: the folder aside, the symlink in its place); or,
 * with RACE_TOUCH=PATH, sets PATH's mtime to now (a write in place), or with
 * RACE_CHMOD=PATH makes it mode 0640 (its change time alone moves). A RACE_NAME
 * ending in '*' matches every name it begins (/proc/self/fd/*).
 * Windows between two system calls of one function are reached so,
 * deterministically (test_output_safety.py compiles it).
 *
 * And SQL_FAIL=TEXT: every step of an SQLite statement whose SQL holds TEXT fails
 * (SQLITE_IOERR), as a journal's reads do on a failing disk. SLOW_OPEN=TEXT: every
 * open of a path that holds TEXT waits SLOW_SECONDS (default 2) first, in the
 * parent (which reads a file's head to guess its cost) and in the workers: a file
 * that stays in flight while the test does something. FAIL_OPEN=TEXT: every open
 * of a path that holds TEXT fails (EACCES), in the parent and in the workers (a
 * worker that cannot open its temp folder: a pool that breaks as it starts).
 * FAIL_OPEN_AFTER=PATH: only once PATH exists. KILL_OPEN=TEXT: a worker that
 * opens a path holding TEXT creates FAIL_OPEN_AFTER's PATH, if given, and is
 * killed (SIGKILL, as the OOM killer does). RAISE_SAY=TEXT: a line imgpool
 * formats (vsnprintf) that holds TEXT raises SIGTERM once it is formatted: a stop
 * that comes at that very moment.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fired[3], seen[3];

/* RACE_NAME ending in '*' matches the names it begins. */
static int race_name_is(const char *at, const char *name)
{
	size_t n = strlen(at);
	if (n && at[n - 1] == '*')
		return !strncmp(at, name, n - 1);
	return !strcmp(at, name);
}

/* Trigger k's variable: RACE_WHAT, RACE2_WHAT, RACE3_WHAT. */
static const char *var(int k, const char *what)
{
	char n[32];
	if (k)
		snprintf(n, sizeof n, "RACE%d_%s", k + 1, what);
	else
		snprintf(n, sizeof n, "RACE_%s", what);
	return getenv(n);
}

/* Each trigger once, before the call (after it succeeded with WHEN=after). */
static void maybe_race_at(const char *call, const char *name, int after)
{
	for (int k = 0; k < 3; k++) {
		const char *want = var(k, "CALL"), *at = var(k, "NAME"), *when = var(k, "WHEN");
		if (fired[k] || !want || !at || !name || strcmp(want, call) ||
		    !race_name_is(at, name) || after != (when && !strcmp(when, "after")))
			continue;
		const char *nth = var(k, "NTH"); /* the Nth such call (default 1) */
		if (++seen[k] < (nth ? atoi(nth) : 1))
			continue;
		fired[k] = 1;
		if (var(k, "TOUCH")) {
			/* a write in place, as far as any stat can tell: mtime and ctime now */
			if (utimensat(AT_FDCWD, var(k, "TOUCH"), NULL, 0) != 0)
				perror("race_shim: touch");
			continue;
		}
		if (var(k, "CHMOD")) {
			/* no write: its change time alone moves */
			if (chmod(var(k, "CHMOD"), 0640) != 0)
				perror("race_shim: chmod");
			continue;
		}
		if (rename(var(k, "FROM"), var(k, "TO")) != 0)
			perror("race_shim: rename");
		if (var(k, "FROM2") && rename(var(k, "FROM2"), var(k, "TO2")) != 0)
			perror("race_shim: rename 2");
	}
}

static void maybe_race(const char *call, const char *name)
{
	maybe_race_at(call, name, 0);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	static int (*real)(int, const char *, mode_t);
	if (!real)
		real = (int (*)(int, const char *, mode_t))dlsym(RTLD_NEXT, "mkdirat");
	maybe_race("mkdir", path);
	int rc = real(dirfd, path, mode), e = errno;
	if (rc == 0)
		maybe_race_at("mkdir", path, 1);
	errno = e;
	return rc;
}

int unlinkat(int dirfd, const char *path, int flags)
{
	static int (*real)(int, const char *, int);
	if (!real)
		real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat");
	if (flags & AT_REMOVEDIR)
		maybe_race("rmdir", path);
	return real(dirfd, path, flags);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	      unsigned int flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned int);
	if (!real)
		real = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(
			RTLD_NEXT, "renameat2");
	maybe_race("rename", newpath);
	int rc = real(olddirfd, oldpath, newdirfd, newpath, flags), e = errno;
	if (rc == 0) /* WHEN=after: a file put at a name the moment imgpool moved its own there */
		maybe_race_at("rename", newpath, 1);
	errno = e;
	return rc;
}

static void maybe_slow(const char *path)
{
	const char *slow = getenv("SLOW_OPEN"), *secs = getenv("SLOW_SECONDS");
	if (slow && path && strstr(path, slow))
		sleep(secs ? (unsigned)atoi(secs) : 2);
}

static pid_t parent; /* imgpool's own process; the workers are forked from it */

__attribute__((constructor)) static void who_is_parent(void)
{
	parent = getpid();
}

static int must_fail(const char *path)
{
	const char *fail = getenv("FAIL_OPEN"), *after = getenv("FAIL_OPEN_AFTER");
	if (!fail || !path || !strstr(path, fail) || (after && access(after, F_OK) != 0))
		return 0;
	errno = EACCES;
	return 1;
}

static void maybe_killed(const char *path)
{
	const char *kill_at = getenv("KILL_OPEN"), *after = getenv("FAIL_OPEN_AFTER");
	if (!kill_at || !path || !strstr(path, kill_at) || getpid() == parent)
		return;
	if (after)
		close(creat(after, 0600));
	raise(SIGKILL);
}

/* open and openat, and their 64 names (the same calls on LP64, but a library may
 * be bound to either). */
static int open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

#define OPEN_SHIM(name)                                                          \
	int name(const char *path, int flags, ...)                               \
	{                                                                        \
		static int (*real)(const char *, int, ...);                      \
		if (!real)                                                       \
			real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		va_list ap;                                                      \
		va_start(ap, flags);                                             \
		int mode = open_mode(flags, ap);                                 \
		va_end(ap);                                                      \
		if (!(flags & O_NONBLOCK))                                       \
			maybe_race("open", path);                                \
		maybe_slow(path);                                                \
		maybe_killed(path);                                              \
		if (must_fail(path))                                             \
			return -1;                                               \
		return real(path, flags, mode);                                  \
	}
OPEN_SHIM(open)
OPEN_SHIM(open64)

#define OPENAT_SHIM(name)                                                        \
	int name(int dirfd, const char *path, int flags, ...)                    \
	{                                                                        \
		static int (*real)(int, const char *, int, ...);                 \
		if (!real)                                                       \
			real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		va_list ap;                                                      \
		va_start(ap, flags);                                             \
		int mode = open_mode(flags, ap);                                 \
		va_end(ap);                                                      \
		if (dirfd == AT_FDCWD && !(flags & O_NONBLOCK))                  \
			maybe_race("open", path);                                \
		maybe_slow(path);                                                \
		maybe_killed(path);                                              \
		if (must_fail(path))                                             \
			return -1;                                               \
		return real(dirfd, path, flags, mode);                           \
	}
OPENAT_SHIM(openat)
OPENAT_SHIM(openat64)

/* SQL_FAIL (above). SQLite's own names, looked up: no header or library needed. */
typedef struct sqlite3_stmt sqlite3_stmt;
int sqlite3_step(sqlite3_stmt *s);
int sqlite3_step(sqlite3_stmt *s)
{
	static int (*real)(sqlite3_stmt *);
	static const char *(*sql_of)(sqlite3_stmt *);
	if (!real) {
		real = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_step");
		sql_of = (const char *(*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_sql");
	}
	const char *fail = getenv("SQL_FAIL"), *sql = fail && sql_of ? sql_of(s) : NULL;
	if (sql && strstr(sql, fail))
		return 10; /* SQLITE_IOERR */
	const char *race = getenv("RACE_CALL"), *at = getenv("RACE_NAME");
	if (race && at && !strcmp(race, "sql") && sql_of && (sql = sql_of(s)) &&
	    strstr(sql, at))
		maybe_race("sql", at);
	return real(s);
}

/* RAISE_SAY (above). */
int vsnprintf(char *out, size_t size, const char *fmt, va_list ap)
{
	static int (*real)(char *, size_t, const char *, va_list);
	static int raised;
	if (!real)
		real = (int (*)(char *, size_t, const char *, va_list))dlsym(RTLD_NEXT, "vsnprintf");
	int n = real(out, size, fmt, ap);
	const char *say = getenv("RAISE_SAY");
	if (say && !raised && out && size && strstr(out, say)) {
		raised = 1;
		raise(SIGTERM);
	}
	return n;
}
