/* SPDX-License-Identifier: MIT */
/*
 * colour.h — colour management for the worker's fast path (thumb.c): which
 * embedded profiles need no transform, and the transforms to sRGB, built once
 * per worker and kept.
 *
 * Why a cache: building an lcms transform costs more than thumbnailing a small
 * photo (an RGB profile ~55 M instructions, lcms inverting the sRGB curves; a
 * CMYK one ~25 ms), and libvips builds one per image. Photo folders hold a
 * handful of profiles, so up to 8 transforms are kept, keyed by the profile's
 * bytes, oldest out first.
 *
 * The transforms are the ones libvips 8.14 would apply, so both paths give the
 * same pixels: relative colorimetric (see colour_input_intent() for the
 * exception), no black point compensation, to libvips' built-in sRGB profile. lcms2 is the copy libvips loaded, found with dlsym();
 * without it (a libvips built without lcms) every transform is NULL and the
 * caller leaves the file to libvips.
 *
 * Worker-only, one thread. Transforms belong to the cache: never freed by the
 * caller, and valid only until the next colour_rgb_to_srgb() or colour_cmyk_to_srgb()
 * call (which may evict the oldest of the 8) or colour_free(): use one before
 * asking for another.
 */
#ifndef IMGPOOL_COLOUR_H
#define IMGPOOL_COLOUR_H

#include <stddef.h>

typedef struct colour_transform colour_transform;	/* opaque: an lcms transform */

/* True when an RGB profile is sRGB in all but name (sRGB's D50 primaries within
 * 0.003, and curves that map every 8-bit value back to itself within half a
 * step): transforming changes no pixel beyond rounding, so it is skipped.
 * LUT-based profiles are never taken as sRGB. */
int colour_icc_is_srgb(const unsigned char *icc, size_t len);

/* The rendering intent (a VipsIntent, the same numbers as lcms': 0 perceptual,
 * 1 relative colorimetric, 2 saturation, 3 absolute) to read profile icc with:
 * relative colorimetric, libvips' default, where the profile has it as input;
 * else the one its header suggests, as libvips 8.16.1 and later fall back to
 * (relative again when the profile lacks that one too: libvips then drops it,
 * and colour_rgb_to_srgb() gives no transform, leaving the file to libvips).
 * libvips 8.14 drops such a profile instead and takes the pixels for sRGB: the
 * XYB JPEGs jpegli makes (libvips' own test image sample-xyb.jpg), whose
 * profile has perceptual tables only, came out green. Both paths pass this
 * intent, so both show such a file as the profile says. Relative when lcms is
 * not at hand or cannot read icc. */
int colour_input_intent(const unsigned char *icc, size_t len);

/* RGB profile icc -> sRGB, 8-bit RGB in and out, read with
 * colour_input_intent(); NULL when lcms is not at hand or icc is not an RGB
 * profile lcms reads. */
colour_transform *colour_rgb_to_srgb(const unsigned char *icc, size_t len);

/* Inverted 8-bit CMYK (as libvips' jpegload reads every CMYK JPEG) -> sRGB, the
 * way vips_colourspace() takes it: libvips' built-in CMYK profile whatever the
 * file embeds (libvips 8.14's CMYK2XYZ sets it on the image before it imports;
 * later versions use the embedded one), lcms to XYZ, then libvips' own XYZ to
 * sRGB. NULL when lcms is not at hand. */
colour_transform *colour_cmyk_to_srgb(void);

/* Apply an RGB transform to w x h packed 8-bit RGB pixels, in place. Returns 0,
 * or -1 when memory runs out (pixels untouched). */
int colour_apply_rgb(colour_transform *t, unsigned char *rgb, int w, int h);

/* Apply colour_cmyk_to_srgb()'s transform: w x h packed inverted CMYK pixels
 * into w x h packed RGB. Returns 0, or -1 when memory runs out. */
int colour_apply_cmyk(colour_transform *t, const unsigned char *cmyk, unsigned char *rgb,
		      int w, int h);

/* Drop every cached transform and profile (worker exit). */
void colour_free(void);

#endif
