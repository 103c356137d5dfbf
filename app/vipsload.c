/* SPDX-License-Identifier: MIT */
/*
 * vipsload.c — the libvips path: the header, then vips_thumbnail() to the master.
 * See vipsload.h.
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
#include "geometry.h"
#include "vipserr.h"
#include "vipsload.h"

/* The failure mode passed to every loader. By default (FAILON_WARNING) a truncated
 * or corrupt file fails instead of giving a thumbnail of half an image. "warning",
 * as sharp's default failOn: "truncated" and "error" let libjpeg's "Corrupt JPEG
 * data: premature end of data segment" through with grey garbage in the picture,
 * while every photo of the 64-file corpus still loads cleanly at "warning".
 * --fail-on chooses another level (a photographer's own slightly truncated photo). */
static VipsFailOn fail_on(const thumb_settings *s)
{
	switch (s->fail_on) {
	case FAILON_NONE:      return VIPS_FAIL_ON_NONE;
	case FAILON_TRUNCATED: return VIPS_FAIL_ON_TRUNCATED;
	case FAILON_ERROR:     return VIPS_FAIL_ON_ERROR;
	case FAILON_WARNING:   break;
	}
	return VIPS_FAIL_ON_WARNING;
}

/* ------------------------------------------------------------ ICC profiles -- */

/* How im's profile is transformed to sRGB: VIPSLOAD_NO_ICC without one, or for
 * one that colour_icc_is_srgb() recognises; else its colour_input_intent(). */
static int icc_intent(VipsImage *im)
{
	const void *data;
	size_t len;

	if (!vips_image_get_typeof(im, VIPS_META_ICC_NAME))
		return VIPSLOAD_NO_ICC;
	if (vips_image_get_blob(im, VIPS_META_ICC_NAME, &data, &len))
		return VIPS_INTENT_RELATIVE;
	/* A profile lcms cannot read, or one for other bands (a 7-byte one, an RGB
	 * one on a grey image), is as none, as vipsthumbnail takes it: asking for
	 * the transform failed the file at every --fail-on level. */
	if (!vips_icc_is_compatible_profile(im, data, len))
		return VIPSLOAD_NO_ICC;
	return colour_icc_is_srgb(data, len) ? VIPSLOAD_NO_ICC : colour_input_intent(data, len);
}

/* --------------------------------------------------------------- decoding -- */

/* Read the header only (no pixel is decoded): the upright input size, whether
 * an ICC profile is embedded, and the pixel limit checked against what the loader
 * would decode (its default page). */
int vipsload_header(const thumb_settings *s, const char *input, int *w, int *h,
		       int *icc, vipsload_format *format, failure_kind *kind, char *err,
		       size_t errlen)
{
	VipsImage *im = vips_image_new_from_file(input, "fail_on", fail_on(s), NULL);
	uint64_t pixels;

	if (!im) {
		vipserr_cause(err, errlen, input, "cannot read the image header");
		return -1;
	}
	pixels = (uint64_t)im->Xsize * (uint64_t)im->Ysize;
	/* max_pixels 0 means no limit. */
	if (s->max_pixels && pixels > s->max_pixels) {
		vipserr_printf(err, errlen, "image is %dx%d (%" PRIu64 " pixels), over the limit "
			"of %" PRIu64 " (--max-pixels)", im->Xsize, im->Ysize, pixels,
			s->max_pixels);
		*kind = FAIL_LIMIT;
		g_object_unref(im);
		return -1;
	}
	*w = im->Xsize;
	*h = im->Ysize;
	if (!s->no_rotate && vips_image_get_orientation_swap(im)) {
		*w = im->Ysize;
		*h = im->Xsize;
	}
	/* The outputs too (--enlarge): the master they are made from is decoded
	 * or enlarged whole, in memory. */
	int mw, mh;
	pixels = s->max_pixels ? geometry_master_pixels(s, *w, *h, &mw, &mh) : 0;
	if (pixels > s->max_pixels) {
		vipserr_printf(err, errlen, "the thumbnails need a %dx%d image (%" PRIu64 " pixels, "
			"--enlarge), over the limit of %" PRIu64 " (--max-pixels)", mw, mh, pixels,
			s->max_pixels);
		*kind = FAIL_LIMIT;
		g_object_unref(im);
		return -1;
	}
	*icc = icc_intent(im);
	const char *loader = NULL;
	if (vips_image_get_string(im, VIPS_META_LOADER, &loader) || !loader)
		loader = "";
	*format = !strcmp(loader, "jpegload") ? VIPSLOAD_JPEG
		  : !strcmp(loader, "tiffload") ? VIPSLOAD_TIFF
						: VIPSLOAD_OTHER;
	g_object_unref(im);
	return 0;
}

/* One step of a chain of operations: *t gives way to *u, the step's result, when
 * rc (the step's return) says it worked; *t is released either way. */
static int chain_step(VipsImage **t, VipsImage **u, int rc)
{
	g_object_unref(*t);
	*t = rc ? NULL : *u;
	return rc ? -1 : 0;
}

/* Make in 8-bit sRGB (or 8-bit B_W for 1-2 band images), alpha kept. The master
 * from vips_thumbnail() is normally that already (it converts to sRGB or B_W, and
 * the export profile gives 8 bits); this catches 16-bit and odd interpretations
 * that slip through. Bands past the colour ones and one alpha (a TIFF's RGB with
 * two extra samples, grey with three) are dropped, as libvips' savers drop them
 * for vipsthumbnail: no output format holds them, and flattening them all for a
 * JPEG failed the file ("linear: vector must have 1 or 4 elements"). *out is a
 * new reference. */
static int to_srgb8(VipsImage *in, VipsImage **out)
{
	VipsInterpretation want = in->Bands < 3 ? VIPS_INTERPRETATION_B_W
						: VIPS_INTERPRETATION_sRGB;
	int keep = want == VIPS_INTERPRETATION_sRGB ? 4 : 2;
	VipsImage *t = in, *u = NULL;

	g_object_ref(t);
	/* colourspace scales 16-bit RGB16/GREY16 down; a plain cast would clip. */
	if (!(t->BandFmt == VIPS_FORMAT_UCHAR && t->Type == want) &&
	    chain_step(&t, &u, vips_colourspace(t, &u, want, NULL)) < 0)
		return -1;
	if (t->BandFmt != VIPS_FORMAT_UCHAR && chain_step(&t, &u, vips_cast_uchar(t, &u, NULL)) < 0)
		return -1;
	if (t->Bands > keep &&
	    chain_step(&t, &u, vips_extract_band(t, &u, 0, "n", keep, NULL)) < 0)
		return -1;
	*out = t;
	return 0;
}

/* Give im its own copy of every blob it carries (ICC profile, EXIF, XMP...).
 * vips_image_copy_memory() copies the pixels but shares the metadata, and libvips
 * 8.14's heifload sets its ICC and EXIF blobs without a free function, pointing
 * into the libheif image it owns: once the loader is gone (the unref of the
 * thumbnail) they are freed memory, read again by the savers (found by ASan on
 * Pillow's avif/icc_profile.avif). A copy costs a few kilobytes per file.
 * Setting "exif-data" makes vips_image_set() parse it again, which would put
 * back the orientation the thumbnail has applied and removed (and the
 * resolution): those are kept as they were. */
static void own_blobs(VipsImage *im)
{
	gchar **names = vips_image_get_fields(im);
	int oriented = vips_image_get_typeof(im, VIPS_META_ORIENTATION) != 0, o = 1;
	const char *unit_was = NULL;
	char *unit = NULL;
	double xres = im->Xres, yres = im->Yres;

	if (oriented)
		vips_image_get_int(im, VIPS_META_ORIENTATION, &o);
	if (vips_image_get_typeof(im, VIPS_META_RESOLUTION_UNIT) &&
	    !vips_image_get_string(im, VIPS_META_RESOLUTION_UNIT, &unit_was))
		unit = g_strdup(unit_was);
	for (int i = 0; names && names[i]; i++) {
		const void *data;
		size_t len;

		if (vips_image_get_typeof(im, names[i]) == VIPS_TYPE_BLOB &&
		    !vips_image_get_blob(im, names[i], &data, &len))
			vips_image_set_blob_copy(im, names[i], data, len);
	}
	g_strfreev(names);
	if (oriented)
		vips_image_set_int(im, VIPS_META_ORIENTATION, o);
	else
		vips_image_remove(im, VIPS_META_ORIENTATION);
	if (unit)
		vips_image_set_string(im, VIPS_META_RESOLUTION_UNIT, unit);
	else
		vips_image_remove(im, VIPS_META_RESOLUTION_UNIT);
	g_free(unit);
	im->Xres = xres;
	im->Yres = yres;
}

/* The master from a vips_thumbnail*() result (whose reference this takes): held
 * in memory and made 8-bit sRGB. Truncated or corrupt data fails here, when the
 * pixels are actually read. */
int vipsload_finish(const char *input, VipsImage *thumb, VipsImage **master,
			 char *err, size_t errlen)
{
	VipsImage *mem = vips_image_copy_memory(thumb);
	int rc;

	if (mem)
		own_blobs(mem); /* while the loader that holds them still lives */
	g_object_unref(thumb);
	if (!mem) {
		vipserr_cause(err, errlen, input, "cannot decode the image");
		return -1;
	}
	rc = to_srgb8(mem, master);
	g_object_unref(mem);
	if (rc) {
		vipserr_cause(err, errlen, input, "cannot convert the image to 8-bit sRGB");
		return -1;
	}
	return 0;
}

/* Decode the input once into the in-memory master (see the top of the file).
 * A profile that needs it (icc_intent) is honoured by transforming to sRGB (export
 * profile, with that intent); without one, vips_thumbnail() converts to sRGB or B_W itself (CMYK
 * through its built-in CMYK profile), which keeps grey images 1-band and skips an
 * lcms pass. */
int vipsload_master(const thumb_settings *s, const char *input, int w, int h,
		       int icc_intent, vipsload_format format, VipsImage **master, char *err,
		       size_t errlen)
{
	VipsImage *thumb = NULL;
	int tw = 0, th = 0, rc;
	const char *export = icc_intent != VIPSLOAD_NO_ICC ? "srgb" : NULL;
	int intent = icc_intent != VIPSLOAD_NO_ICC ? icc_intent : VIPS_INTENT_RELATIVE;

	master_target(s, w, h, &tw, &th);
	if (format == VIPSLOAD_TIFF) {
		/* The main image, without libvips 8.14's pyramid shortcut: it takes a
		 * TIFF's sub-images for halvings of the main one, so a 32x32 image
		 * with 16x16 and 8x8 sub-IFDs gave an 8x8 thumbnail, and an overview
		 * page it cannot decode failed the file (found with Pillow's test
		 * images). A TIFF without a pyramid is decoded whole either way. */
		VipsImage *im = vips_image_new_from_file(input, "access", VIPS_ACCESS_SEQUENTIAL,
							 "fail_on", fail_on(s), NULL);
		rc = !im || vips_thumbnail_image(im, &thumb, tw, "height", th,
						 "size", s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN,
						 "no_rotate", s->no_rotate ? TRUE : FALSE,
						 "export_profile", export, "intent", intent, NULL);
		if (im)
			g_object_unref(im);
	} else {
		rc = vips_thumbnail(input, &thumb, tw, "height", th,
				    "size", s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN,
				    "no_rotate", s->no_rotate ? TRUE : FALSE,
				    "export_profile", export, "intent", intent,
				    "fail_on", fail_on(s), NULL);
	}
	if (rc) {
		vipserr_cause(err, errlen, input, "cannot decode the image");
		return -1;
	}
	return vipsload_finish(input, thumb, master, err, errlen);
}
