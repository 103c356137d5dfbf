/* SPDX-License-Identifier: MIT */
/*
 * shrink.h — vips_thumbnail()'s downsize of an 8-bit image fed row by row, turned
 * upright by its EXIF orientation: what libvips 8.14 does after its PNG load.
 *
 * Two ways, as vips_thumbnail() chooses:
 *   - 8-bit: vips_resize(lanczos3, gap 2) in libvips' 8-bit arithmetic, vertical
 *     then horizontal (reduce.c: each a rounded box shrink, then the lanczos3
 *     step: in the 2.6 fixed point of libvips' orc code down, in its 12-bit C
 *     code across), byte for byte libvips';
 *   - premultiplied, for an image with alpha (the last band) that shrinks on
 *     both axes: vips_premultiply() (colour x alpha / 255, in float),
 *     vips_resize() in float (box averages, lanczos3 with double sums),
 *     vips_unpremultiply() (x 255 / alpha, 0 where alpha < 0.01) and the cast
 *     back to 8 bits, which truncates and clips as vips_cast() does.
 * The box shrink runs as rows arrive, so a large image is never held whole (only
 * its rows box-shrunk vertically, by up to half the shrink; when the shrink is
 * under 4 there is no box, and every row is kept: 4 bytes a sample on the
 * premultiplied path). The steps are libvips' and so are the sample positions.
 * The premultiplied box sums exact integer products and divides once, where
 * libvips rounds each product to float and sums in double, so a sample can differ
 * from libvips' by float rounding, which the truncation to 8 bits turns into at
 * most one level (on under 1 % of the samples, tests/test_pngmaster.c).
 *
 * A vertical box over 32768 rows (sums past 31 bits) is refused: shrink_new()
 * returns NULL.
 *
 * Orientation: 1..8 as EXIF and vips_autorot() read it (6: turn 90 degrees
 * clockwise); the upright output is oh x ow for 5..8.
 */
#ifndef IMGPOOL_SHRINK_H
#define IMGPOOL_SHRINK_H

typedef struct shrink shrink;	/* opaque: one image in progress */

/* A shrink of a w x h image of 1..4 bands by hs x vs (both >= 1, as
 * vips_resize(1 / hs, vscale = 1 / vs)); premultiplied when premultiply is set
 * (the last band is alpha). NULL on a bad argument or no memory. */
shrink *shrink_new(int w, int h, int bands, int premultiply, double hs, double vs);

/* Feed the next row (w * bands bytes), top to bottom. 0, or -1 when memory runs
 * out or every row was fed already. */
int shrink_row(shrink *s, const unsigned char *row);

/* The upright output size for orientation o. */
void shrink_size(const shrink *s, int o, int *w, int *h);

/* After the last row: the output, upright by orientation o, into out (w * h *
 * bands bytes of shrink_size()). 0, or -1 (rows missing, no memory). */
int shrink_finish(shrink *s, int o, unsigned char *out);

/* Free s. NULL is a no-op. */
void shrink_free(shrink *s);

#endif
