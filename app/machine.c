/* SPDX-License-Identifier: MIT */
/*
 * machine.c — what the machine lacks that decoding needs. See machine.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "machine.h"

/* Less free space than this where libvips keeps its scratch images ($TMPDIR, the
 * worker's temp folder beneath OUT) after a decode failed: the disk, not the
 * file, is the likely cause (the failed write's own file is gone by then, so
 * "none left" cannot be asked). */
#define SCRATCH_SHORT_BYTES ((uint64_t)64 << 20)

static void *no_op_thread(void *arg)
{
	return arg;
}

const char *machine_short(void)
{
	struct statvfs vfs;
	const char *tmp = getenv("TMPDIR");
	if (tmp && statvfs(tmp, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < SCRATCH_SHORT_BYTES)
		return "the disk of the output folder, where scratch images go, is nearly full";
	pthread_t t;
	int e = pthread_create(&t, NULL, no_op_thread, NULL);
	if (e == EAGAIN)
		return "no thread can be started now (ulimit -u, or the user's other processes)";
	if (e == 0)
		pthread_join(t, NULL);
	int fd = dup(STDERR_FILENO);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		return "no file can be opened now (ulimit -n)";
	if (fd >= 0)
		close(fd);
	return NULL;
}

