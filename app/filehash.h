/* SPDX-License-Identifier: MIT */
/*
 * filehash.h — the checksum of a file's bytes (XXH3-64), in one place: the worker
 * computes it while it works on a file, the planner for --checksum.
 */
#ifndef IMGPOOL_FILEHASH_H
#define IMGPOOL_FILEHASH_H

#include <stddef.h>
#include <stdint.h>

/* XXH3-64 of the file at path, never 0 (0 means "not known" in the journal).
 * Returns 0, or -1 with errno (open or read failed; EINVAL: not a regular file,
 * which is neither waited for, a FIFO, nor read, a device). */
int filehash_path(const char *path, uint64_t *sum);

/* The same checksum of the file open at fd, read from its start to its end
 * (pread: fd's offset is left alone). 0, or -1 with errno. */
int filehash_fd(int fd, uint64_t *sum);

/* The same checksum of len bytes at data (a file already read whole). */
uint64_t filehash_bytes(const void *data, size_t len);

#endif
