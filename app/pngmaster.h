/* SPDX-License-Identifier: MIT */
/*
 * pngmaster.h — the worker's PNG path: the master of a PNG file decoded by
 * libpng (fastpng.c) and resized as vips_thumbnail() resizes it (shrink.c), in
 * one pass over the rows, without libvips' per-file pipeline.
 *
 * Why: for a large RGBA PNG, libvips spends more above the decode (its float
 * premultiply, resize and unpremultiply as a region pipeline, strip by strip)
 * than zlib spends decoding it. Here the box shrink runs as rows arrive, on the
 * rows libpng hands out, and only what it leaves goes through the float steps.
 *
 * The master is what the libvips path makes of the same file (thumb.c:
 * vips_thumbnail() to the master target, held in memory): the same size, the
 * same steps, upright by the eXIf orientation, 8-bit sRGB (3 or 4 bands) or B_W
 * (1 or 2), alpha kept. It takes 8-bit grey, grey + alpha, RGB, RGBA and palette
 * PNGs, interlaced or not, 16-bit RGB(A), with no profile or one that is sRGB in
 * all but name (colour_icc_is_srgb()), within the pixel limit, that shrink or
 * stay their size, without --keep-metadata. Anything else, and any decode error
 * or libpng warning, is the libvips path's: so --fail-on is honoured there (the
 * default "warning" fails such a file anyway). --no-rotate is honoured here.
 *
 * Worker-only. Returns 0 with *master (a new memory image) and the upright input
 * size in *w, *h; 1 when the file is not for this path: the caller then runs the
 * libvips path, which reports errors in its own words. Never fails a file by
 * itself.
 */
#ifndef IMGPOOL_PNGMASTER_H
#define IMGPOOL_PNGMASTER_H

#include <vips/vips.h>

#include "settings.h"

int pngmaster_make(const thumb_settings *s, const char *input, int *w, int *h,
		   VipsImage **master);

#endif
