/* SPDX-License-Identifier: MIT */
/*
 * vipsload.h — the libvips path to the master: read the header (size, orientation,
 * profile, the pixel limit before any pixel is decoded), then vips_thumbnail() (file
 * based, so JPEG, WebP and HEIC shrink on load), held in memory as 8-bit sRGB or B_W.
 * Every loader runs with the fail_on level of settings->fail_on, by default
 * "warning": a truncated or corrupt file fails instead of giving a thumbnail of half
 * an image. With settings->no_rotate the EXIF orientation is not applied. Its errors are libvips' own words.
 */
#ifndef IMGPOOL_VIPSLOAD_H
#define IMGPOOL_VIPSLOAD_H

#include <stddef.h>
#include <vips/vips.h>

#include "failure.h"
#include "settings.h"

/* No profile to transform, for icc_intent below. */
#define VIPSLOAD_NO_ICC (-1)

/* How libvips loads a file, as far as the master's making differs. */
typedef enum {
	VIPSLOAD_OTHER,
	VIPSLOAD_JPEG, /* vips_thumbnail() shrinks it on load: geometry_fit_size() */
	VIPSLOAD_TIFF, /* made from its main image: libvips 8.14's pyramid shortcut
			  takes the wrong level */
} vipsload_format;

/* The upright size; how its profile is transformed to sRGB: VIPSLOAD_NO_ICC when
 * it has none, one colour_icc_is_srgb() recognises or one lcms cannot use for
 * this image (taken as none, as vipsthumbnail does), else the intent
 * (colour_input_intent()); the loader's format, and --max-pixels checked
 * (FAIL_LIMIT in *kind). 0, or -1 with a cause in err. */
int vipsload_header(const thumb_settings *s, const char *input, int *w, int *h,
		    int *icc_intent, vipsload_format *format, failure_kind *kind, char *err,
		    size_t errlen);

/* The master of input, upright size w x h and format (vipsload_header()'s),
 * through vips_thumbnail() (a TIFF through vips_thumbnail_image() of its main
 * image), its profile transformed with icc_intent (vipsload_header()'s). 0, or
 * -1. */
int vipsload_master(const thumb_settings *s, const char *input, int w, int h,
		    int icc_intent, vipsload_format format, VipsImage **master, char *err,
		    size_t errlen);

/* A vips_thumbnail*() result (its reference taken) made the master: decoded into
 * memory (where truncated data fails) and converted to 8-bit sRGB or B_W, with at
 * most one extra band (the first: alpha; no output format holds more); its
 * metadata blobs are its own copies (a loader may lend them from memory that goes
 * with it). */
int vipsload_finish(const char *input, VipsImage *thumb, VipsImage **master,
		    char *err, size_t errlen);

#endif
