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

#endif
