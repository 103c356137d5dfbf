/* SPDX-License-Identifier: MIT */
/*
 * machine.h — what the machine lacks that decoding needs, asked of it (free space,
 * a thread, a file descriptor) after a decoder failed in a worker.
 *
 * Why: libvips reports a full disk, a thread it could not start or a descriptor
 * it could not open as its own error ("wbuffer_write: write failed", "Error
 * creating thread"), which the worker types as a decode failure, remembered at
 * once: the photo was then skipped as "failed earlier" after the machine had
 * recovered. imgpool decides nothing by reading an error's words (failure.h), so
 * the machine is asked instead, by the calls that would fail.
 */
#ifndef IMGPOOL_MACHINE_H
#define IMGPOOL_MACHINE_H

/* A one-line cause (static) when the machine is short now of free space where
 * libvips keeps its scratch images ($TMPDIR: the worker's temp folder beneath
 * the output folder), of a thread (EAGAIN: ulimit -u, counted over all the
 * user's processes) or of a file descriptor (EMFILE, ENFILE); NULL when of none. */
const char *machine_short(void);

#endif
