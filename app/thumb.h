/* SPDX-License-Identifier: MIT */
/*
 * thumb.h — the task run in a worker: one input file -> one thumbnail per size,
 * each saved atomically.
 *
 * Runs in a pool worker only: the parent never calls into libvips (libvips and glib
 * start threads, and the parent forks). thumb_worker_init() is the pool initializer's
 * body; thumb_run() is called once per file.
 *
 * Contract of thumb_run():
 *   - The input is decoded once (shrink-on-load via vips_thumbnail for the largest
 *     size; smaller sizes are made from that), auto-rotated by EXIF orientation
 *     (not with settings->no_rotate),
 *     colour managed to 8-bit sRGB (CMYK, 16-bit, ICC-tagged), alpha kept for
 *     PNG/WebP/AVIF and flattened onto the background for JPEG.
 *   - Each output is a NEW file: created (O_CREAT | O_EXCL | O_NOFOLLOW) as
 *     outputs[i].name in the folder outputs[i].dirfd, written and closed, its
 *     writeback started but not waited for: the caller fsyncs it before it
 *     publishes it (the parent does, outsync.h). Nothing
 *     is renamed, replaced or deleted but the files this call created: moving them
 *     into the output tree is the parent's job (publish.c, outdir.h), where the
 *     journal proves what imgpool made. On failure every file this call created is
 *     removed: all outputs or none.
 *   - The input is opened read-only and never written; its bytes are hashed
 *     (XXH3-64, res->in_checksum) on the way, for --checksum.
 *   - Corrupt or truncated data fails the file (libvips fail_on "warning", or the
 *     level of settings->fail_on): no thumbnail from half an image.
 *   - Metadata is stripped, or only the kinds settings->keep_metadata names are
 *     kept (metadata.h); the encoders take the output controls of settings. Inputs over settings->max_pixels fail before
 *     their pixels are decoded.
 * Returns 0 and fills *res on success; -1 on failure with the kind in *kind (see
 * failure.h: FAIL_DECODE, FAIL_LIMIT, FAIL_ENVIRONMENT for an input that cannot be
 * read, FAIL_OUTPUT for one that cannot be written) and a one-line cause in err
 * (from vips_error_buffer() or errno, e.g. "VipsJpeg: Premature end of JPEG file",
 * "No space left on device"), never naming the input path itself (the caller does).
 */
#ifndef IMGPOOL_THUMB_H
#define IMGPOOL_THUMB_H

#include <stddef.h>
#include <stdint.h>
#include "failure.h"
#include "result.h"
#include "settings.h"

/* The cause a file of no bytes fails with (a decode failure, before any decoder
 * is asked): the worker's, and -n's, which opens what it lists. */
#define THUMB_EMPTY_FILE "empty file"

/* Once per worker process: vips_init with the modules vipsmodules.h names, cache off, vips concurrency = threads
 * (>= 1), untrusted loaders blocked. Returns 0, or -1 with a cause in err. */
int thumb_worker_init(int threads, char *err, size_t errlen);

/* Where output i (for settings->sizes[i]) goes: a new file name in folder dirfd,
 * written as format (never FORMAT_SAME: thumb_output_format() resolves it). */
typedef struct thumb_output {
	int dirfd;
	const char *name;
	thumb_format format;
} thumb_output;

/* The file the parent found at a task's input (the walk's or the list's stat):
 * device and inode, both 0 when not known (then not checked). */
typedef struct thumb_found {
	uint64_t dev, ino;
} thumb_found;

/* Once per file; see above. outputs has settings->nsizes entries. The input is
 * opened once, and every decoder reads that open file (the fast path its bytes,
 * the others through /proc/self/fd), never the path again, which a rename may lead
 * elsewhere meanwhile. beneath: where in input the part a folder walk found begins
 * (0: none): the folders there are never passed through a symlink
 * (outdir_walk_dirs()); one swapped for a symlink since the walk fails the
 * file (FAIL_ENVIRONMENT: "a folder on its path was replaced"). found (NULL: not
 * checked): the file at input must be that one, else FAIL_ENVIRONMENT, not read:
 * a photo swapped for another (or for a FIFO, or read through a PATH folder
 * swapped for a symlink) and back while its task waited was thumbnailed from
 * the other and recorded under the found one's size and time, for good. */
int thumb_run(const thumb_settings *settings, const char *input, size_t beneath,
	      const thumb_found *found, const thumb_output *outputs, thumb_result *res,
	      failure_kind *kind, char *err, size_t errlen);

/* Clean up this worker's libvips state before the worker exits (vips_shutdown). */
void thumb_worker_fini(void);

/* Library versions for --version, e.g. "libvips 8.14.1", "libjpeg-turbo 2.1.5",
 * "libpng 1.6.39". Safe in the parent: none of them starts libvips. */
const char *thumb_vips_version(void);
const char *thumb_jpeg_version(void);
const char *thumb_png_version(void);

#endif
