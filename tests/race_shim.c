/* SPDX-License-Identifier: MIT */
/*
 * race_shim.c — for tests only: preloaded into imgpool (LD_PRELOAD), it does once
 * what another process might do at the worst moment, right before the first call
 * of one kind whose name argument is $RACE_NAME:
 *   RACE_CALL=rmdir   unlinkat(..., AT_REMOVEDIR)
 *   RACE_CALL=rename  renameat2(..., newpath, ...)
 * It renames $RACE_FROM to $RACE_TO. Windows between two system calls of one
 * function are reached so, deterministically (test_output_safety.py compiles it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fired;

static void maybe_race(const char *call, const char *name)
{
	const char *want = getenv("RACE_CALL"), *at = getenv("RACE_NAME");
	if (fired || !want || !at || strcmp(want, call) || strcmp(at, name))
		return;
	fired = 1;
	if (rename(getenv("RACE_FROM"), getenv("RACE_TO")) != 0)
		perror("race_shim: rename");
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
	return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
