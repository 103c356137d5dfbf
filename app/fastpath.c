/* SPDX-License-Identifier: MIT */
/*
 * fastpath.c — the JPEG fast path: libjpeg-turbo to the master, as vips_thumbnail()
 * would make it. See fastpath.h.
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

#include "colour.h"
#include "fastjpeg.h"
#include "fastpath.h"
#include "geometry.h"
#include "reduce.h"
#include "resize.h"
#include "vipsload.h"

/* Wrap decoded pixels (not copied: they must outlive the image) as a libvips
 * image carrying what vips_thumbnail_image() needs to treat it as the libvips
 * path treats the file: the EXIF orientation, and the ICC profile when it is one
 * to transform (an sRGB one is left off: the pixels are sRGB already). */
static VipsImage *wrap_pixels(unsigned char *px, int w, int h, const fastjpeg_info *info,
			      int has_icc)
{
	VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * info->bands, w, h,
						   info->bands, VIPS_FORMAT_UCHAR);

	if (!im)
		return NULL;
	/* Fat strips, as libvips' jpegload declares (a memory image says "any"). */
	vips_image_pipelinev(im, VIPS_DEMAND_STYLE_FATSTRIP, NULL);
	if (info->orientation != 1)
		vips_image_set_int(im, VIPS_META_ORIENTATION, info->orientation);
	if (has_icc)
		vips_image_set_blob_copy(im, VIPS_META_ICC_NAME, info->icc, info->icc_len);
	return im;
}

/* colour_input_intent() of the profile wrap_pixels() attached to im. */
static int intent_of(VipsImage *im)
{
	const void *icc;
	size_t len;

	return vips_image_get_blob(im, VIPS_META_ICC_NAME, &icc, &len)
		       ? VIPS_INTENT_RELATIVE
		       : colour_input_intent(icc, len);
}

/* The master's size (stored orientation) when the JPEG is loaded as lw x lh, as
 * libvips' load scale gives it: vips_thumbnail()'s shrink and vips_resize()'s
 * rounding. */
static void master_size(const thumb_settings *s, int lw, int lh, int orientation, int tw,
			int th, int *mw, int *mh)
{
	double hs, vs;

	master_shrink(s, lw, lh, orientation >= 5, tw, th, &hs, &vs);
	*mw = reduce_height(lw, hs);
	*mh = reduce_height(lh, vs);
}

/* The resample of a decoded JPEG (stored orientation, in memory) towards the
 * master target tw x th, as vips_thumbnail() resamples after its own load:
 * resize_oriented() when it only shrinks and no profile needs libvips'
 * transform; vips_thumbnail_image() itself otherwise (enlarging, grey with a
 * profile). mw x mh: where the decode is coarser than libvips' load scale
 * (--fast-shrink), the master's size at that scale (master_size()), so that every
 * output has the size it has without the option; 0 x 0 where it is that scale.
 * *out is a new image. */
static int resample(const thumb_settings *s, VipsImage *im, int orientation, int has_icc,
		    int tw, int th, int mw, int mh, VipsImage **out)
{
	double hs, vs;

	if (mw) {
		hs = (double)im->Xsize / mw;
		vs = (double)im->Ysize / mh;
	} else {
		master_shrink(s, im->Xsize, im->Ysize, orientation >= 5, tw, th, &hs, &vs);
	}
	if (!has_icc && hs >= 1 && vs >= 1)
		return resize_oriented(im, hs, vs, orientation, out);
	return vips_thumbnail_image(im, out, tw,
				    "height", th,
				    "size", s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN,
				    "no_rotate", FALSE,
				    "export_profile", has_icc ? "srgb" : NULL,
				    "intent", has_icc ? intent_of(im) : VIPS_INTENT_RELATIVE,
				    NULL);
}

/* Replace the inverted-CMYK memory image *im by its sRGB version through t
 * (colour_cmyk_to_srgb()), on failure unreferenced and NULL. */
static int cmyk_to_rgb(colour_transform *t, VipsImage **im)
{
	VipsImage *cmyk = *im, *rgb = NULL;
	unsigned char *px;

	*im = NULL;
	if (cmyk->Bands != 4 || cmyk->BandFmt != VIPS_FORMAT_UCHAR || !cmyk->data ||
	    !(rgb = resize_new_image(cmyk->Xsize, cmyk->Ysize, 3, &px)) ||
	    colour_apply_cmyk(t, VIPS_IMAGE_ADDR(cmyk, 0, 0), px, cmyk->Xsize, cmyk->Ysize)) {
		if (rgb)
			g_object_unref(rgb);
		g_object_unref(cmyk);
		return -1;
	}
	/* The orientation goes with the pixels: vips_thumbnail_image() turns an
	 * enlarged image by it (resample()); without it an enlarged CMYK photo came
	 * out in its stored layout, stretched into the upright box. */
	int orientation;
	if (!vips_image_get_int(cmyk, VIPS_META_ORIENTATION, &orientation))
		vips_image_set_int(rgb, VIPS_META_ORIENTATION, orientation);
	g_object_unref(cmyk);
	*im = rgb;
	return 0;
}

/* Last touches to a fast-path master: the cached colour transform, if any, and
 * the mark that a master from vips_thumbnail() carries (its loader sets it):
 * "read sequentially" makes vips_reducev() and vips_shrinkv() keep a line cache
 * on their output when outputs are made from the master. Without it every
 * output strip recomputes the vertical resample's overlap (a 1500 px master gave
 * its 320 px output 5x slower). Not set on the decoded image: the master's own
 * single pass gains nothing from the cache (+2 % work). */
static int finish_fast_master(VipsImage *master, colour_transform *transform)
{
	vips_image_set_int(master, VIPS_META_SEQUENTIAL, 1);
	if (!transform)
		return 0;
	if (master->BandFmt != VIPS_FORMAT_UCHAR || master->Bands != 3 || !master->data)
		return -1;
	return colour_apply_rgb(transform, VIPS_IMAGE_ADDR(master, 0, 0), master->Xsize,
				master->Ysize);
}

/* The master of a JPEG through libjpeg-turbo: decode at the DCT scale libvips
 * would use straight into memory, then the resample, colour management and
 * rotation vips_thumbnail() applies after its own load (resample(); an RGB
 * profile through a cached lcms transform). What it saves is libvips' per-file
 * machinery (two header reads with EXIF expanded into metadata strings, the
 * loader's pipeline, its second open of the file), the transform's rebuild, and
 * vips_reduceh()'s plain C. Returns 0 with *master and the upright size in *w,
 * *h; 1 when the file is not for this path (not a JPEG, --keep-metadata, over
 * the pixel limit, a profile lcms cannot use, or any decode error or libjpeg
 * warning): the caller then runs the libvips path, which reports errors in its
 * usual words and decodes at the --fail-on level (the default, "warning", fails
 * what this path refuses; a lower one may thumbnail it). -1 with the cause in
 * err for the verdicts of its own: at --fail-on warning, any damage libjpeg warns
 * of, in the rows decoded or past them (fastjpeg_finish(), which libvips would not
 * read); at truncated and error, data that ends in the image's last rows. */
int fastpath_master(const thumb_settings *s, const char *input, unsigned char *bytes,
		    size_t nbytes, int *w, int *h, VipsImage **master, char *err, size_t errlen)
{
	fastjpeg *j = NULL;
	fastjpeg_info info;
	VipsImage *im, *thumb = NULL;
	colour_transform *transform;
	unsigned char *px;
	char why[256];
	int uw, uh, tw = 0, th = 0, fw, fh, has_icc, cmyk, rc;

	if (s->keep_metadata) {
		free(bytes);
		return 1;
	}
	if (fastjpeg_open_bytes(bytes, nbytes, &j, &info, why, sizeof why) != FASTJPEG_OK)
		return 1;
	/* --no-rotate: the stored layout is the upright one (what libvips' no_rotate
	 * does); the fast path honours it with no work at all. */
	if (s->no_rotate)
		info.orientation = 1;
	uw = info.orientation >= 5 ? info.height : info.width;
	uh = info.orientation >= 5 ? info.width : info.height;
	int pw, ph;
	if (s->max_pixels && ((uint64_t)uw * (uint64_t)uh > s->max_pixels ||
			      geometry_master_pixels(s, uw, uh, &pw, &ph) > s->max_pixels)) {
		fastjpeg_close(j);
		return 1; /* the libvips path says which limit */
	}
	master_target(s, uw, uh, &tw, &th);
	has_icc = info.icc && !colour_icc_is_srgb(info.icc, info.icc_len);
	/* An RGB profile goes through a cached lcms transform after the resample
	 * (a per-pixel operation: before or after the rotation is the same); a
	 * grey one through vips_icc_transform(), as the libvips path does. CMYK
	 * goes to sRGB as vips_colourspace() takes it (see colour.h), before the
	 * resample, as vips_thumbnail() converts to its sRGB processing space
	 * before it resizes. Resampling in CMYK and converting after (a tenth of
	 * the pixels to convert) put fine CMYK photos up to 38 levels off
	 * libvips' (Pillow's pil_sample_cmyk.jpg at 32 px: 31.7 dB; 55.8 now).
	 * Without a usable transform the file is the libvips path's. */
	cmyk = info.bands == 4;
	transform = cmyk ? colour_cmyk_to_srgb()
		    : has_icc && info.bands == 3 ? colour_rgb_to_srgb(info.icc, info.icc_len) : NULL;
	if (cmyk && !transform) {
		fastjpeg_close(j);
		return 1;
	}
	if (transform)
		has_icc = 0;
	/* libvips' load scale sets the master's size; --fast-shrink may decode at a
	 * coarser one (not for a profile libvips applies: its resample takes the
	 * size from the pixels it is given), as long as its decode still covers that
	 * size on both axes (the scale is chosen on the axis that decides the fit;
	 * the other one may round up past it). */
	int load_k = geometry_jpeg_shrink(s, uw, uh, tw, th);
	int decode_k = has_icc ? load_k : geometry_jpeg_decode_shrink(s, uw, uh, tw, th);
	int mw = 0, mh = 0;
	if (decode_k > load_k) {
		int lw = info.width / load_k > 0 ? info.width / load_k : 1; /* floored, as decoded */
		int lh = info.height / load_k > 0 ? info.height / load_k : 1;
		master_size(s, lw, lh, info.orientation, tw, th, &mw, &mh);
		while (decode_k > load_k && (info.width / decode_k < mw || info.height / decode_k < mh))
			decode_k /= 2;
		if (decode_k == load_k)
			mw = mh = 0; /* libvips' scale after all */
	}
	if (fastjpeg_decode(j, 8 / decode_k, &px, &fw, &fh, why, sizeof why) != FASTJPEG_OK) {
		/* Damage seen at --fail-on warning is a verdict: handed on, libvips
		 * (reading on libjpeg-turbo's unchecking fast path part of the time)
		 * thumbnailed some such files from garbage. */
		rc = s->fail_on == FAILON_WARNING && fastjpeg_damaged(j) ? -1 : 1;
		if (rc < 0)
			snprintf(err, errlen, "%s", why);
		fastjpeg_close(j);
		return rc;
	}
	/* Damage past the decoded rows is this path's to see. libvips reads the
	 * image's last rows (a file cut there fails at --fail-on truncated), but
	 * not on to the EOI, and would thumbnail a file damaged only there. */
	int check = s->fail_on == FAILON_WARNING ? FASTJPEG_CHECK_ALL
		    : s->fail_on == FAILON_NONE  ? FASTJPEG_CHECK_NONE
						 : FASTJPEG_CHECK_END;
	if (fastjpeg_finish(j, check, why, sizeof why) == FASTJPEG_ERROR) {
		snprintf(err, errlen, "%s", why);
		fastjpeg_close(j);
		return -1;
	}
	if (!(im = wrap_pixels(px, fw, fh, &info, has_icc)) ||
	    (cmyk && cmyk_to_rgb(transform, &im))) {
		fastjpeg_close(j);
		vips_error_clear();
		return 1;
	}
	/* The master is a copy in memory: px can go with the handle. */
	rc = resample(s, im, info.orientation, has_icc, tw, th, mw, mh, &thumb);
	if (!rc)
		rc = vipsload_finish(input, thumb, master, why, sizeof why);
	g_object_unref(im);
	fastjpeg_close(j);
	if (!rc && finish_fast_master(*master, cmyk ? NULL : transform)) {
		g_object_unref(*master);
		*master = NULL; /* the libvips path runs next: nothing of ours to unref again */
		rc = -1;
	}
	if (rc) {
		vips_error_clear();
		return 1;
	}
	*w = uw;
	*h = uh;
	return 0;
}

