/* SPDX-License-Identifier: MIT */
/*
 * geometry.h — the master's geometry, shared by the worker's decode paths: the
 * box the master is made for, and vips_thumbnail()'s shrink to it, for the JPEG
 * fast path (fastpath.c), the libvips path (vipsload.c), the PNG path
 * (pngmaster.c) and the outputs (thumb.c). Numbers only: libvips 8.14's own
 * arithmetic, so every path makes the same pixels.
 */
#ifndef IMGPOOL_GEOMETRY_H
#define IMGPOOL_GEOMETRY_H

#include <stdint.h>

#include "settings.h"

/* The vips_thumbnail() target for the master of an upright w x h input: the box
 * whose uniform scale is the largest, pinned on the axis that decides it (the
 * other axis VIPS_MAX_COORD), so that every output is that master scaled down
 * (or equal) and maybe cropped. */
void master_target(const thumb_settings *s, int w, int h, int *tw, int *th);

/* Whether the master of an upright w x h input is made for box b: b alone gives
 * the same master_target() as all the boxes together (so a run asking for b alone
 * makes that master, pixel for pixel). */
int geometry_is_master_box(const thumb_settings *s, int w, int h, thumb_size b);

/* The size of the master of an upright w x h input (the largest image the
 * outputs are made from: master_target() fitted, enlarged only with enlarge),
 * in *mw x *mh; returns its pixels. With --enlarge it may be far past the
 * input's: -s 100000 --enlarge made a 1920x1364 photo's worker grow to 10 GB. */
uint64_t geometry_master_pixels(const thumb_settings *s, int w, int h, int *mw, int *mh);

/* vips_thumbnail()'s shrink for fitting an image stored as w x h inside the
 * target tw x th (swapped when swap: the orientation turns the image), with no
 * crop and no force: the larger of the two axis factors on both, never below 1
 * without enlarge, never past an axis. */
void master_shrink(const thumb_settings *s, int w, int h, int swap, int tw, int th,
		   double *hs, double *vs);

/* Check the boxes before any work: 1..THUMB_MAX_SIZES of them, no negative side,
 * not both sides unconstrained. 0, or -1 with a cause in err. */
int geometry_check_sizes(const thumb_settings *s, char *err, size_t errlen);

/* The shrink-on-load factor (1, 2, 4 or 8) vips_thumbnail() picks for a JPEG of
 * upright size w x h and the master target tw x th
 * (vips_thumbnail_find_jpegshrink() of libvips 8.14). */
int geometry_jpeg_shrink(const thumb_settings *s, int w, int h, int tw, int th);

/* The DCT scale divisor (1, 2, 4 or 8) the JPEG fast path decodes at: with
 * --fast-shrink the largest that still covers the target (as sharp's
 * fastShrinkOnLoad), leaving the resample no factor of two; otherwise
 * geometry_jpeg_shrink()'s. Output sizes always follow geometry_jpeg_shrink(). */
int geometry_jpeg_decode_shrink(const thumb_settings *s, int w, int h, int tw, int th);

/* The size of a plain fit of box b for an upright w x h input, as a run asking
 * for that box alone makes it: vips_thumbnail()'s arithmetic from the image as
 * loaded (a JPEG (jpeg: 1) shrunk on load as geometry_jpeg_shrink() says, its
 * sides floored as libvips' jpegload does; anything else as it is), then
 * vips_resize()'s rounding. So the outputs of -s 1200,320 are the sizes -s 1200
 * and -s 320 give on their own, not 320x241 where -s 320 gives 320x240.
 * (Loaders that shrink on load in other ways, WebP and HEIF, are taken at full
 * size: their outputs may still be a pixel off a one-size run's.) */
void geometry_fit_size(const thumb_settings *s, int w, int h, thumb_size b, int jpeg,
		       int *ow, int *oh);

#endif
