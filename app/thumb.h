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
 *     size; smaller sizes are made from that), auto-rotated by EXIF orientation,
 *     colour managed to 8-bit sRGB (CMYK, 16-bit, ICC-tagged), alpha kept for
 *     PNG/WebP/AVIF and flattened onto the background for JPEG.
 *   - Each output is written to a temp file "<dir>/.<name>.imgpool-tmp" in its
 *     destination folder (created when missing), fsync'd, then rename()d over the
 *     final path: an output is the whole new file or absent. On any failure every
 *     temp file of this call is removed and no output of this call is left behind.
 *   - The input is opened read-only and never written.
 *   - Corrupt or truncated data fails the file (fail-on "truncated"/"error"): no
 *     thumbnail from half an image. Inputs over settings->max_pixels fail before
 *     their pixels are decoded.
 * Returns 0 and fills *res on success; -1 on failure with a one-line cause in err
 * (from vips_error_buffer() or errno, e.g. "VipsJpeg: Premature end of JPEG file",
 * "No space left on device"), never naming the input path itself (the caller does).
 */
#ifndef IMGPOOL_THUMB_H
#define IMGPOOL_THUMB_H

#include <stddef.h>
#include <stdint.h>
#include "settings.h"

typedef struct thumb_result {
	int in_w, in_h;              /* input dimensions, after EXIF rotation */
	uint64_t in_bytes;           /* input file size */
	int nout;                    /* == settings->nsizes */
	struct {
		int w, h;            /* thumbnail dimensions */
		uint64_t bytes;      /* output file size */
	} out[THUMB_MAX_SIZES];
} thumb_result;

/* Once per worker process: vips_init, cache off, vips concurrency = threads
 * (>= 1), untrusted loaders blocked. Returns 0, or -1 with a cause in err. */
int thumb_worker_init(int threads, char *err, size_t errlen);

/* Once per file; see above. outputs[i] is the final path for settings->sizes[i]. */
int thumb_run(const thumb_settings *settings, const char *input,
	      const char *const *outputs, thumb_result *res, char *err, size_t errlen);

/* Clean up this worker's libvips state before the worker exits (vips_shutdown). */
void thumb_worker_fini(void);

/* Library versions for --version, e.g. "libvips 8.14.1", "libjpeg-turbo 2.1.5",
 * "libpng 1.6.39". Safe in the parent: none of them starts libvips. */
const char *thumb_vips_version(void);
const char *thumb_jpeg_version(void);
const char *thumb_png_version(void);

#endif
