/* SPDX-License-Identifier: MIT */
/*
 * pngmaster.c — the master of a PNG through libpng. The contract is in
 * pngmaster.h; this file is the how.
 *
 * vips_thumbnail() on a PNG (libvips 8.14, not linear): load (fastpng.c gives
 * the same 8-bit samples), shrink to the master target computed as thumb.c
 * computes it (geometry.h), premultiplied when the image has alpha and both axes
 * shrink, then turned upright by the orientation (shrink.c does all three).
 */
#include <stdint.h>

#include "colour.h"
#include "fastpng.h"
#include "geometry.h"
#include "pngmaster.h"
#include "resize.h"
#include "shrink.h"


/* Every row of p into s. */
static int feed_rows(fastpng *p, shrink *s, int h)
{
	char why[256];

	for (int y = 0; y < h; y++) {
		const unsigned char *row;

		if (fastpng_read_row(p, &row, why, sizeof why) != FASTPNG_OK ||
		    shrink_row(s, row))
			return -1;
	}
	return 0;
}

int pngmaster_make(const thumb_settings *s, const char *input, int *w, int *h,
		   VipsImage **master)
{
	fastpng *p = NULL;
	fastpng_info info;
	shrink *sh = NULL;
	VipsImage *im = NULL;
	char why[256];
	double hs, vs;
	int uw, uh, tw = 0, th = 0, ow, oh, rc = 1;
	unsigned char *px;

	if (s->keep_metadata ||
	    fastpng_open(input, s->max_pixels, &p, &info, why, sizeof why) != FASTPNG_OK)
		return 1;
	if (s->no_rotate)	/* as libvips' no_rotate: the stored layout is upright */
		info.orientation = 1;
	uw = info.orientation >= 5 ? info.height : info.width;
	uh = info.orientation >= 5 ? info.width : info.height;
	/* A profile that needs a transform: libvips' vips_icc_transform(). */
	if (info.icc && !colour_icc_is_srgb(info.icc, info.icc_len))
		goto done;
	master_target(s, uw, uh, &tw, &th);
	master_shrink(s, info.width, info.height, info.orientation >= 5, tw, th, &hs, &vs);
	if (!(hs >= 1 && vs >= 1))
		goto done;	/* enlarging: libvips' interpolators */
	/* vips_thumbnail() premultiplies only when both axes shrink. */
	sh = shrink_new(info.width, info.height, info.bands,
			info.alpha && hs != 1.0 && vs != 1.0, hs, vs);
	if (!sh || feed_rows(p, sh, info.height))
		goto done;
	shrink_size(sh, info.orientation, &ow, &oh);
	if (!(im = resize_new_image(ow, oh, info.bands, &px)) ||
	    shrink_finish(sh, info.orientation, px))
		goto done;
	/* As a master from vips_thumbnail() (its loader sets it): outputs made
	 * from the master keep a line cache (see fastpath.c's finish_fast_master()). */
	vips_image_set_int(im, VIPS_META_SEQUENTIAL, 1);
	*master = im;
	im = NULL;
	*w = uw;
	*h = uh;
	rc = 0;
done:
	if (im)
		g_object_unref(im);
	if (rc)
		vips_error_clear();
	shrink_free(sh);
	fastpng_close(p);
	return rc;
}
