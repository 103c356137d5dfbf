/* SPDX-License-Identifier: MIT */
/*
 * geometry.c — the master's geometry, as vips_thumbnail() computes it. See geometry.h.
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

#include "geometry.h"
#include "reduce.h"
#include "vipserr.h"

/* ----------------------------------------------------------------- sizing -- */

/* How one box scales an input of w x h (already rotated upright): the uniform
 * scale before any crop, and whether the width (else the height) decides it.
 * A 0 side is unconstrained, so such a box is always "fit inside". Without
 * enlarge the scale stops at 1. */
static double box_scale(const thumb_settings *s, thumb_size b, int w, int h, int *by_width)
{
	double sx = b.w > 0 ? (double)b.w / w : 0;
	double sy = b.h > 0 ? (double)b.h / h : 0;
	double scale;

	if (b.h <= 0)
		*by_width = 1;
	else if (b.w <= 0)
		*by_width = 0;
	else if (s->fit == FIT_INSIDE)
		*by_width = sx <= sy;
	else		/* cover and fill: the master must cover the box */
		*by_width = sx >= sy;
	scale = *by_width ? sx : sy;
	if (!s->enlarge && scale > 1)
		scale = 1;
	return scale;
}

/* The vips_thumbnail() target for the master: the box whose uniform scale is the
 * largest, pinned on the axis that decides it (the other axis unconstrained), so
 * that every output is that master scaled down (or equal) and maybe cropped. */
void master_target(const thumb_settings *s, int w, int h, int *tw, int *th)
{
	double best = -1;

	for (int i = 0; i < s->nsizes; i++) {
		thumb_size b = s->sizes[i];
		int by_width;
		double scale = box_scale(s, b, w, h, &by_width);

		/* A fill box stretches each axis on its own: enlarged, its master was
		 * the uniform scale that covers the box, 409400x3000 for a 2047x15
		 * input in 20x3000 (over --max-pixels, or 35 s and 4 GB), and the
		 * stretch from it resampled twice (23 dB against vipsthumbnail's
		 * '!'). The input's own size is enough: the stretch is made from it in
		 * one resample (make_output()). */
		if (s->fit == FIT_FILL && b.w > 0 && b.h > 0 && scale > 1) {
			scale = 1;
			by_width = 1;
			b.w = w;
		}
		if (scale > best) {
			best = scale;
			*tw = by_width ? b.w : VIPS_MAX_COORD;
			*th = by_width ? VIPS_MAX_COORD : b.h;
		}
	}
}

int geometry_is_master_box(const thumb_settings *s, int w, int h, thumb_size b)
{
	thumb_settings one = *s;
	int tw = 0, th = 0, bw = 0, bh = 0;

	one.nsizes = 1;
	one.sizes[0] = b;
	master_target(s, w, h, &tw, &th);
	master_target(&one, w, h, &bw, &bh);
	return tw == bw && th == bh;
}

uint64_t geometry_master_pixels(const thumb_settings *s, int w, int h, int *mw, int *mh)
{
	int tw = 0, th = 0;
	double hs, vs;
	master_target(s, w, h, &tw, &th);
	master_shrink(s, w, h, 0, tw, th, &hs, &vs);
	*mw = reduce_height(w, hs);
	*mh = reduce_height(h, vs);
	return (uint64_t)*mw * (uint64_t)*mh;
}

/* Check the boxes before any work: 1..THUMB_MAX_SIZES of them, no negative side,
 * not both sides unconstrained. */
int geometry_check_sizes(const thumb_settings *s, char *err, size_t errlen)
{
	if (s->nsizes < 1 || s->nsizes > THUMB_MAX_SIZES) {
		vipserr_printf(err, errlen, "%d sizes requested (1 to %d allowed)",
			s->nsizes, THUMB_MAX_SIZES);
		return -1;
	}
	for (int i = 0; i < s->nsizes; i++) {
		thumb_size b = s->sizes[i];

		if (b.w < 0 || b.h < 0 || (b.w == 0 && b.h == 0) ||
		    b.w > VIPS_MAX_COORD || b.h > VIPS_MAX_COORD) {
			vipserr_printf(err, errlen, "size %d is %dx%d: not a box", i + 1, b.w, b.h);
			return -1;
		}
	}
	return 0;
}


/* The common shrink of a fit of an upright w x h JPEG inside the master target
 * tw x th, as vips_thumbnail_find_jpegshrink() of libvips 8.14 takes it: never
 * below 1 without enlarge, never past an axis. */
static double fit_shrink(const thumb_settings *s, int w, int h, int tw, int th)
{
	double shrink = fmax((double)w / tw, (double)h / th);

	if (!s->enlarge)
		shrink = fmax(shrink, 1);
	return fmin(shrink, fmin(w, h));
}

/* The shrink-on-load factor vips_thumbnail() picks: the largest DCT scale of 8,
 * 4 or 2 that still leaves a factor of two for the final resample. Same decoder
 * scale, same pixels as the libvips path, so the same quality. */
int geometry_jpeg_shrink(const thumb_settings *s, int w, int h, int tw, int th)
{
	double shrink = fit_shrink(s, w, h, tw, th);

	return shrink >= 16 ? 8 : shrink >= 8 ? 4 : shrink >= 4 ? 2 : 1;
}

/* --fast-shrink: the largest scale whose decode still covers the target, as the
 * decode floor (bench/decode_floor.c) and sharp's fastShrinkOnLoad take it. */
int geometry_jpeg_decode_shrink(const thumb_settings *s, int w, int h, int tw, int th)
{
	if (!s->fast_shrink)
		return geometry_jpeg_shrink(s, w, h, tw, th);
	double shrink = fit_shrink(s, w, h, tw, th);

	return shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
}

/* vips_thumbnail()'s shrink for fitting an image stored as w x h inside the
 * master target tw x th (swapped when the orientation turns the image), with no
 * crop and no force: the larger of the two axis factors on both, never below 1
 * without enlarge, never past an axis (vips_thumbnail_calculate_shrink() of
 * libvips 8.14, which vips_thumbnail_image() would apply). */
void master_shrink(const thumb_settings *s, int w, int h, int swap, int tw, int th,
		   double *hs, double *vs)
{
	double x = (double)w / (swap ? th : tw), y = (double)h / (swap ? tw : th);

	if (x < y)
		x = y;
	else
		y = x;
	if (!s->enlarge) {
		x = fmax(1, x);
		y = fmax(1, y);
	}
	*hs = fmin(x, w);
	*vs = fmin(y, h);
}

void geometry_fit_size(const thumb_settings *s, int w, int h, thumb_size b, int jpeg,
		       int *ow, int *oh)
{
	thumb_settings one = *s;
	int tw = 0, th = 0, lw = w, lh = h;
	double hs, vs;

	one.nsizes = 1;
	one.sizes[0] = b;
	master_target(&one, w, h, &tw, &th);
	if (jpeg) {
		int k = geometry_jpeg_shrink(&one, w, h, tw, th);

		lw = w / k > 0 ? w / k : 1;
		lh = h / k > 0 ? h / k : 1;
	}
	master_shrink(&one, lw, lh, 0, tw, th, &hs, &vs);
	*ow = reduce_height(lw, hs);
	*oh = reduce_height(lh, vs);
}
