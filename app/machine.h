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

#include <stdint.h>

/* A one-line cause (static) when the machine is short now of a thread (EAGAIN:
 * ulimit -u, counted over all the user's processes), of a file descriptor
 * (EMFILE, ENFILE), or of free space where libvips keeps its scratch images
 * ($TMPDIR: the worker's temp folder beneath the output folder) for an image
 * of image_bytes decoded, when that is past libvips' disc threshold (below it,
 * or 0: its size is not known, as when the header could not be read, nothing
 * went to the disk, which is not asked); NULL when of none. A damaged file on a
 * nearly full disk is still the file's fault. */
const char *machine_short(uint64_t image_bytes);

#endif
