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

#include <vips/vips.h>

#include "machine.h"

/* Room beyond the decoded image itself that a scratch image needs (libvips'
 * header, the thumbnails). The failed write's own file is gone by the time the
 * disk is asked, so "none left" cannot be asked: "less than the image would
 * need" is. */
#define SCRATCH_MARGIN_BYTES ((uint64_t)1 << 20)

static void *no_op_thread(void *arg)
{
	return arg;
}

const char *machine_short(uint64_t image_bytes)
{
	struct statvfs vfs;
	const char *tmp = getenv("TMPDIR");
	/* libvips keeps an image in memory below its disc threshold (100 MB, or
	 * VIPS_DISC_THRESHOLD): only a larger one went to the disk at all. */
	if (image_bytes && image_bytes >= vips_get_disc_threshold() && tmp &&
	    statvfs(tmp, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < image_bytes + SCRATCH_MARGIN_BYTES)
		return "the disk of the output folder, where scratch images go, has less free "
		       "space than this image needs";
	pthread_t t;
	int e = pthread_create(&t, NULL, no_op_thread, NULL);
	if (e == EAGAIN)
		/* EAGAIN also when its stack cannot be mapped under ulimit -v */
		return "no thread can be started now (ulimit -u or -v, or the user's other "
		       "processes)";
	if (e == 0)
		pthread_join(t, NULL);
	int fd = dup(STDERR_FILENO);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		return "no file can be opened now (ulimit -n)";
	if (fd >= 0)
		close(fd);
	return NULL;
}

