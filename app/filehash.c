/* SPDX-License-Identifier: MIT */
/*
 * filehash.c — see filehash.h. XXH3 (Debian's libxxhash) rather than a
 * cryptographic hash: it answers "did the bytes change?" at memory speed, and
 * nothing here defends against a chosen collision.
 */
#include <errno.h>
#include <unistd.h>

#include <xxhash.h>

#include "filehash.h"
#include "io.h"

int filehash_path(const char *path, uint64_t *sum)
{
	/* Never wait in open() for a FIFO's writer, nor read a device: only a file's
	 * bytes have a checksum. */
	struct stat st;
	int fd = io_open_regular(path, &st);
	if (fd < 0) {
		if (!errno)
			errno = EINVAL; /* not a regular file */
		return -1;
	}
	int rc = filehash_fd(fd, sum);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int filehash_fd(int fd, uint64_t *sum)
{
	XXH3_state_t *st = XXH3_createState();
	if (!st) {
		errno = ENOMEM;
		return -1;
	}
	XXH3_64bits_reset(st);
	char buf[1 << 16];
	off_t at = 0;
	ssize_t n;
	while ((n = pread(fd, buf, sizeof buf, at)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			XXH3_freeState(st);
			errno = e;
			return -1;
		}
		XXH3_64bits_update(st, buf, (size_t)n);
		at += n;
	}
	*sum = XXH3_64bits_digest(st);
	if (*sum == 0)
		*sum = 1;
	XXH3_freeState(st);
	return 0;
}

uint64_t filehash_bytes(const void *data, size_t len)
{
	/* One shot and streaming XXH3 give the same digest. */
	uint64_t sum = XXH3_64bits(data, len);
	return sum ? sum : 1;
}
