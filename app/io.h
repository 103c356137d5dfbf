/* SPDX-License-Identifier: MIT */
/*
 * io.h — whole reads and writes: read() and write() may stop short (a signal, a
 * pipe, a network filesystem); these go on until done, an error or the end.
 */
#ifndef IMGPOOL_IO_H
#define IMGPOOL_IO_H

#include <stddef.h>

/* Read len bytes at buf, going on after short reads and EINTR; the count read
 * (short only at the end of the file or on an error). */
size_t io_read_all(int fd, void *buf, size_t len);

/* Write all len bytes of buf, going on after short writes and EINTR. 0, or -1 with
 * errno. */
int io_write_all(int fd, const void *buf, size_t len);

#endif
