/* SPDX-License-Identifier: MIT */
/*
 * resize.h — vips_resize()'s downsizing of an 8-bit image in memory without
 * libvips' per-call machinery: both passes run vips_reducev()'s SIMD arithmetic
 * (reduce.c), the horizontal one on the image transposed in memory, and the final
 * copy applies the EXIF orientation at no extra cost. The pixels are vips_resize()'s
 * within rounding.
 */
#ifndef IMGPOOL_RESIZE_H
#define IMGPOOL_RESIZE_H

#include <vips/vips.h>

/* Shrink in (8-bit, no alpha) by hs x vs (both >= 1) and turn it upright by EXIF
 * orientation o (1: none). *out: a new memory image owning its pixels. 0 or -1. */
int resize_oriented(VipsImage *in, double hs, double vs, int o, VipsImage **out);

/* A new w x h memory image of 8-bit pixels, sRGB (3 bands) or B_W (1), declared fat
 * strips as jpegload does; *pixels is its buffer (not zeroed: write every pixel),
 * owned by the image. NULL (a libvips error) when out of memory. */
VipsImage *resize_new_image(int w, int h, int bands, unsigned char **pixels);

#endif
