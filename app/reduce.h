/* SPDX-License-Identifier: MIT */
/*
 * reduce.h — shrink 8-bit pixel rows vertically the way libvips 8.14's
 * vips_reducev(kernel = lanczos3, gap = 2) does, in plain C the compiler
 * vectorises.
 *
 * Why not vips_reducev() itself: every call builds and JIT-compiles its orc
 * program anew (~12 M instructions, as much as decoding a 1 MP JPEG at 1/2
 * scale), and the worker calls it twice per image (the horizontal pass runs as a
 * vertical one on the transposed image, thumb.c). The pixels are libvips'
 * within rounding: the same output size, the same sample positions and offsets,
 * the same integer box shrink first when the factor is 2 x gap or more, the
 * same normalised lanczos3 coefficients at 1/64 pixel steps, in the 2.6 fixed
 * point and 16-bit sums of the orc program libvips runs for 8-bit images.
 *
 * Images are rows packed one after another (stride = width * bands bytes).
 *
 * For a caller that streams rows through its own box shrink (the PNG path,
 * pngmaster.c), the two steps of vips_reducev() are also offered apart:
 * reduce_box() is the integer box factor it shrinks by first, and the
 * reduce_lanczos_*() functions are its lanczos3 step alone, in libvips' 8-bit
 * arithmetic or, for float images (premultiplied alpha), in its float one
 * (double masks and sums, no rounding). Called after a box of factor k, they take
 * the rows that box made, shrink / k, and extra / k, where extra = oh * shrink - h
 * of the whole reduce (libvips' extra_pixels).
 */
#ifndef IMGPOOL_REDUCE_H
#define IMGPOOL_REDUCE_H

/* The output height for reducing h rows by shrink (>= 1): round(h / shrink),
 * at least 1. */
int reduce_height(int h, double shrink);

/* Reduce the h rows of in (each `row` bytes: width * bands) by shrink (>= 1)
 * into out, reduce_height(h, shrink) rows of `row` bytes. Returns 0, or -1 when
 * memory runs out or an argument is out of range (out untouched). */
int reduce_rows(const unsigned char *in, int h, int row, double shrink,
		unsigned char *out);

/* vips_reduceh(lanczos3, gap 2) on 8-bit pixels, as libvips 8.14 runs it (plain C:
 * shrinkh's rounded box average, then integer masks of 12 fractional bits): each
 * of the h rows of w pixels (bands bytes each) into reduce_height(w, shrink)
 * pixels of out, byte for byte libvips'. Returns 0, or -1 (bad argument, no
 * memory; out untouched). */
int reduce_cols(const unsigned char *in, int w, int h, int bands, double shrink,
		unsigned char *out);

/* vips_reducev()'s box factor for a reduce from h to oh rows: floor(h / oh / 2),
 * at least 1 (1: no box). */
int reduce_box(int h, int oh);

/* The lanczos3 step of a reduce on h rows (each `row` bytes) by shrink (>= 1;
 * exactly 1 only with oh == h: a copy), `extra` as above, into oh rows of out.
 * Returns 0, or -1 (bad argument, out of memory; out untouched). */
int reduce_lanczos_rows(const unsigned char *in, int h, int row, double shrink,
			double extra, int oh, unsigned char *out);

/* The same on rows of `row` floats, as libvips' reducev computes float images. */
int reduce_lanczos_rows_float(const float *in, int h, int row, double shrink, double extra,
			      int oh, float *out);

/* The same horizontally, as libvips' reduceh computes float images: each of the
 * h rows of w pixels (bands 1..4 floats each) into ow pixels of out. */
int reduce_lanczos_cols_float(const float *in, int w, int h, int bands, double shrink,
			      double extra, int ow, float *out);

#endif
