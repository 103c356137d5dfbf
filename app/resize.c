/* SPDX-License-Identifier: MIT */
/*
 * resize.c — vips_resize()'s shrink of an 8-bit image in memory, SIMD both ways, and
 * the EXIF turn in the same pass. See resize.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <vips/vips.h>

#include "reduce.h"
#include "resize.h"

/* Bytes after the last pixel of every resize_new_image() buffer, so that
 * copy_strided() may move a 3-byte pixel as one 4-byte word. */
#define PIXEL_SLACK 1

/* Copy pixels (bands bytes each) into dst, uw x uh packed, taking dst pixel
 * (x, y) from src + y * dy + x * dx: with the right strides (negative ones
 * included) a transpose, a flip, a turn or any of the eight EXIF orientations,
 * in one pass. src and dst are resize_new_image() buffers (PIXEL_SLACK bytes
 * after their last pixel): a 3-byte pixel is read and written as a 4-byte word,
 * its fourth byte overwritten by the next pixel, or in the slack after the last
 * (one load and one store a pixel rather than three of each: these copies were
 * 2.8 % of a run over small photos). */
static void copy_strided(unsigned char *dst, int uw, int uh, int bands,
			 const unsigned char *src, ptrdiff_t dx, ptrdiff_t dy)
{
	for (int y = 0; y < uh; y++) {
		const unsigned char *p = src + (ptrdiff_t)y * dy;

		if (bands == 3)
			for (int x = 0; x < uw; x++, p += dx, dst += 3) {
				uint32_t v;

				memcpy(&v, p, 4);
				memcpy(dst, &v, 4);
			}
		else if (bands == 1)
			for (int x = 0; x < uw; x++, p += dx)
				*dst++ = *p;
		else
			for (int x = 0; x < uw; x++, p += dx, dst += bands)
				memcpy(dst, p, (size_t)bands);
	}
}

static void free_pixels(VipsImage *im, void *pixels)
{
	(void)im;
	free(pixels);
}

/* A new in-memory image of w x h 8-bit pixels, sRGB (3 bands) or B_W (1),
 * declared fat strips as jpegload does; *pixels points to its buffer, which the
 * image owns (freed when it closes), PIXEL_SLACK bytes longer. Not zeroed, unlike
 * a libvips memory image's (vips_tracked_malloc() zeroes): every caller writes
 * every pixel, and the memset was 1 % of a run over small photos (perf). */
VipsImage *resize_new_image(int w, int h, int bands, unsigned char **pixels)
{
	size_t size = (size_t)w * h * bands;
	unsigned char *px = malloc(size + PIXEL_SLACK);
	VipsImage *im;

	if (!px) {
		vips_error("imgpool", "out of memory for a %dx%d image", w, h);
		return NULL;
	}
	/* The pixels are taken, not read: gcc 12 warns of any unwritten buffer passed
	 * as the const void * the prototype declares. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
	im = vips_image_new_from_memory(px, size, w, h, bands, VIPS_FORMAT_UCHAR);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
	if (!im) {
		free(px);
		return NULL;
	}
	g_signal_connect(im, "postclose", G_CALLBACK(free_pixels), px);
	im->Type = bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
	vips_image_pipelinev(im, VIPS_DEMAND_STYLE_FATSTRIP, NULL);
	*pixels = px;
	return im;
}

/* Compute all of pipeline in into the memory image out, in the calling thread:
 * one region the size of the image, prepared straight into out's pixels. No
 * threadpool is started, so no thread hand-offs and wake-ups per image (the
 * pipelines here are a single vips_reducev() over an image in memory). */
static int compute_into(VipsImage *in, VipsImage *out)
{
	VipsRect all = { 0, 0, in->Xsize, in->Ysize };
	VipsRegion *from = vips_region_new(in);
	VipsRegion *to = vips_region_new(out);
	int rc = vips_region_image(to, &all) || vips_region_prepare_to(from, to, &all, 0, 0);

	g_object_unref(from);
	g_object_unref(to);
	return rc ? -1 : 0;
}

/* vips_reducev() as vips_resize() calls it (lanczos3, reduce gap 2: an integer
 * box shrink first when the factor is large), its result in a new memory image
 * *out; a shrink of 1 gives a copy. 8-bit images in memory (all of them, in
 * practice) go through reduce_rows(): the same pixels, without an orc program
 * compiled for every call; anything else through vips_reducev() itself. */
static int reducev_memory(VipsImage *in, double shrink, VipsImage **out)
{
	VipsImage *t = NULL;
	unsigned char *px = NULL;
	int rc;

	if (in->BandFmt == VIPS_FORMAT_UCHAR && in->Coding == VIPS_CODING_NONE && in->data &&
	    shrink >= 1) {
		if (!(*out = resize_new_image(in->Xsize, reduce_height(in->Ysize, shrink), in->Bands,
				       &px)))
			return -1;
		if (reduce_rows(VIPS_IMAGE_ADDR(in, 0, 0), in->Ysize,
				(int)VIPS_IMAGE_SIZEOF_LINE(in), shrink, px) == 0)
			return 0;
		g_object_unref(*out);
		*out = NULL;
		return -1;
	}
	if (shrink > 1 ? vips_reducev(in, &t, shrink, "kernel", VIPS_KERNEL_LANCZOS3,
				      "gap", 2.0, NULL)
		       : vips_copy(in, &t, NULL))
		return -1;
	if (!(*out = resize_new_image(t->Xsize, t->Ysize, t->Bands, &px))) {
		g_object_unref(t);
		return -1;
	}
	rc = compute_into(t, *out);
	g_object_unref(t);
	if (rc) {
		g_object_unref(*out);
		*out = NULL;
	}
	return rc;
}

/* The strides that make copy_strided() read image I (w x h, as stored) in EXIF
 * orientation o (1..8, as vips_autorot() turns it upright) when I is held
 * transposed in memory (t: h wide, w high, so I(a, b) is at t + a * h + b).
 * Returns the start; the upright size is w x h, or h x w for o >= 5. */
static const unsigned char *oriented_from_transposed(const unsigned char *t, int w, int h,
						     int bands, int o, ptrdiff_t *dx,
						     ptrdiff_t *dy)
{
	ptrdiff_t col = bands, row = (ptrdiff_t)h * bands;	/* I's b and a steps */
	ptrdiff_t last_a = (ptrdiff_t)(w - 1) * row, last_b = (ptrdiff_t)(h - 1) * col;

	switch (o) {
	case 2: *dx = -row; *dy = col; return t + last_a;
	case 3: *dx = -row; *dy = -col; return t + last_a + last_b;
	case 4: *dx = row; *dy = -col; return t + last_b;
	case 5: *dx = col; *dy = row; return t;
	case 6: *dx = -col; *dy = row; return t + last_b;
	case 7: *dx = -col; *dy = -row; return t + last_a + last_b;
	case 8: *dx = col; *dy = -row; return t + last_a;
	default: *dx = row; *dy = col; return t;
	}
}

/* Downsize an 8-bit image without alpha by hs x vs (both >= 1) as vips_resize()
 * does, and turn the result upright by EXIF orientation o (1 for none), as
 * vips_thumbnail() does after its resize. The horizontal pass is vips_reducev()
 * run on the image transposed in memory: libvips 8.14 runs vips_reducev() as orc
 * SIMD code but vips_reduceh() as plain C (~8 instructions a tap: a quarter of a
 * small photo's thumbnail). Same kernel, same output size, same sample
 * positions, so the pixels are vips_resize()'s within rounding (PSNR within 0.12
 * dB of it on the corpus). The final copy out of the transposed buffer applies the
 * orientation at no extra cost. *out is a new memory image that owns its pixels
 * (never in, whose pixels the caller may free). */
int resize_oriented(VipsImage *in, double hs, double vs, int o, VipsImage **out)
{
	int b = in->Bands, w, h;
	VipsImage *rows = NULL, *tr = NULL, *cols = NULL, *up;
	unsigned char *tp, *up_px;
	const unsigned char *start;
	ptrdiff_t dx, dy;
	int rc = -1;

	if (reducev_memory(in, vs, &rows))
		return -1;
	w = rows->Xsize;
	/* rows (w x h1) transposed into tr (h1 x w): tr(y, x) = rows(x, y). */
	if (!(tr = resize_new_image(rows->Ysize, w, b, &tp)))
		goto done;
	copy_strided(tp, rows->Ysize, w, b, VIPS_IMAGE_ADDR(rows, 0, 0),
		     VIPS_IMAGE_SIZEOF_LINE(rows), b);
	if (reducev_memory(tr, hs, &cols))
		goto done;
	/* cols is the result I (w2 x h) held transposed: h wide, w2 high. */
	w = cols->Ysize;
	h = cols->Xsize;
	start = oriented_from_transposed(VIPS_IMAGE_ADDR(cols, 0, 0), w, h, b, o, &dx, &dy);
	if (!(up = o >= 5 ? resize_new_image(h, w, b, &up_px) : resize_new_image(w, h, b, &up_px)))
		goto done;
	copy_strided(up_px, up->Xsize, up->Ysize, b, start, dx, dy);
	*out = up;
	rc = 0;
done:
	if (rows)
		g_object_unref(rows);
	if (tr)
		g_object_unref(tr);
	if (cols)
		g_object_unref(cols);
	return rc;
}

