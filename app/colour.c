/* SPDX-License-Identifier: MIT */
/*
 * colour.c — profiles that need no transform, and cached lcms transforms to sRGB.
 * The contract is in colour.h; this file is the how.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>
#include <lcms2.h>	/* types only: the functions are libvips' own lcms2 (see lcms_bind()) */

#include "colour.h"
#include "io.h"

/* ------------------------------------------------------------ ICC profiles -- */

/* s15Fixed16 numbers of an ICC profile (its integers are big-endian: io_be32). */
static double icc_s15(const unsigned char *p)
{
	return (double)(int32_t)io_be32(p) / 65536.0;
}

/* The tag sig of profile p (n bytes): its data and size, bounds checked. */
static const unsigned char *icc_tag(const unsigned char *p, size_t n, const char *sig,
				    size_t *size)
{
	uint32_t count = io_be32(p + 128);

	if (count > (n - 132) / 12)
		return NULL;
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *t = p + 132 + 12 * (size_t)i;
		uint32_t off = io_be32(t + 4), len = io_be32(t + 8);

		if (memcmp(t, sig, 4) != 0)
			continue;
		if (off > n || len > n - off || len < 8)
			return NULL;
		*size = len;
		return p + off;
	}
	return NULL;
}

/* Linear light 0..1 -> sRGB code value 0..1. */
static double linear_to_srgb(double v)
{
	return v <= 0.0031308 ? v * 12.92 : 1.055 * pow(v, 1 / 2.4) - 0.055;
}

/* A TRC tag (curv table or parametric curve) at x in 0..1; NAN when the type is
 * not one we read. */
static double icc_trc_at(const unsigned char *t, size_t size, double x)
{
	if (!memcmp(t, "curv", 4) && size >= 12) {
		uint32_t n = io_be32(t + 8);
		double pos, f;
		uint32_t i;

		if (n < 2 || n > (size - 12) / 2)
			return NAN;	/* identity or a bare gamma: not sRGB */
		pos = x * (n - 1);
		i = (uint32_t)pos;
		if (i >= n - 1)
			i = n - 2;
		f = pos - i;
		return ((1 - f) * ((t[12 + 2 * i] << 8) | t[13 + 2 * i]) +
			f * ((t[14 + 2 * i] << 8) | t[15 + 2 * i])) / 65535.0;
	}
	if (!memcmp(t, "para", 4) && size >= 12) {
		static const int nparams[] = { 1, 3, 4, 5, 7 };
		unsigned type = (unsigned)t[8] << 8 | t[9];
		double g[7] = { 0 };

		if (type > 4 || size < 12 + 4 * (size_t)nparams[type])
			return NAN;
		for (int i = 0; i < nparams[type]; i++)
			g[i] = icc_s15(t + 12 + 4 * i);
		switch (type) {
		case 0: return pow(x, g[0]);
		case 1: return x >= -g[2] / g[1] ? pow(g[1] * x + g[2], g[0]) : 0;
		case 2: return x >= -g[2] / g[1] ? pow(g[1] * x + g[2], g[0]) + g[3] : g[3];
		case 3: return x >= g[4] ? pow(g[1] * x + g[2], g[0]) : g[3] * x;
		default: return x >= g[4] ? pow(g[1] * x + g[2], g[0]) + g[5] : g[3] * x + g[6];
		}
	}
	return NAN;
}

/* True when an RGB profile is sRGB in all but name: sRGB's D50-adapted primaries
 * (within 0.003) and, on each channel, a curve that maps every 8-bit code value
 * back to itself within half a step through sRGB's inverse. Converting such an
 * image to sRGB changes no pixel beyond rounding, so the transform is skipped
 * (the profile is dropped as the output is sRGB). LUT-based profiles (A2B0) are
 * never taken as sRGB: lcms would use the LUT, not the matrix. */
int colour_icc_is_srgb(const unsigned char *p, size_t n)
{
	static const char *xyz[3] = { "rXYZ", "gXYZ", "bXYZ" };
	static const char *trc[3] = { "rTRC", "gTRC", "bTRC" };
	static const double primaries[3][3] = {
		{ 0.4361, 0.2225, 0.0139 }, { 0.3851, 0.7169, 0.0971 },
		{ 0.1431, 0.0606, 0.7141 },
	};
	size_t size;

	if (!p || n < 132 || io_be32(p) > n || memcmp(p + 16, "RGB ", 4) != 0 ||
	    memcmp(p + 20, "XYZ ", 4) != 0 || icc_tag(p, n, "A2B0", &size))
		return 0;
	for (int c = 0; c < 3; c++) {
		const unsigned char *t = icc_tag(p, n, xyz[c], &size);

		if (!t || size < 20 || memcmp(t, "XYZ ", 4) != 0)
			return 0;
		for (int k = 0; k < 3; k++)
			if (fabs(icc_s15(t + 8 + 4 * k) - primaries[c][k]) > 0.003)
				return 0;
		if (!(t = icc_tag(p, n, trc[c], &size)))
			return 0;
		for (int v = 0; v <= 255; v++) {
			double lin = icc_trc_at(t, size, v / 255.0);

			if (isnan(lin) || fabs(linear_to_srgb(lin < 0 ? 0 : lin) * 255 - v) > 0.5)
				return 0;
		}
	}
	return 1;
}

/* ------------------------------------------------------ colour transforms -- */

/* Transforms kept per worker, by input profile: photo folders hold a handful of
 * profiles (a camera's, Display P3, Adobe RGB), and building a transform costs
 * more than thumbnailing a small image (lcms inverts the sRGB output curves each
 * time: ~55 M instructions, against ~90 M for a whole 1.5 MP JPEG). */
#define TRANSFORM_CACHE 8

/* lcms2 as libvips loaded it. imgpool does not link lcms2 itself; the symbols are
 * looked up once in the process's global scope, where libvips' dependency put
 * them. Without them (a libvips built without lcms), ok stays 0 and profiles go
 * through the libvips path instead. */
static struct {
	int tried, ok;
	cmsHPROFILE (*open_mem)(const void *, cmsUInt32Number);
	cmsBool (*close)(cmsHPROFILE);
	cmsColorSpaceSignature (*space)(cmsHPROFILE);
	cmsHTRANSFORM (*create)(cmsHPROFILE, cmsUInt32Number, cmsHPROFILE, cmsUInt32Number,
				cmsUInt32Number, cmsUInt32Number);
	void (*apply)(cmsHTRANSFORM, const void *, void *, cmsUInt32Number);
	void (*destroy)(cmsHTRANSFORM);
	cmsHPROFILE (*xyz_profile)(void);
	cmsBool (*has_intent)(cmsHPROFILE, cmsUInt32Number, cmsUInt32Number);
	cmsUInt32Number (*header_intent)(cmsHPROFILE);
	cmsHPROFILE srgb;	/* libvips' built-in sRGB, the export profile */
	VipsBlob *cmyk;		/* libvips' built-in CMYK profile, once asked for */
} lcms;

/* One cached transform: the input profile's bytes (compared in full), whether
 * it takes inverted CMYK or RGB, and the transform from it to libvips' sRGB. */
static struct cached_transform {
	unsigned char *icc;
	size_t len;
	int cmyk;
	cmsHTRANSFORM t;
} transforms[TRANSFORM_CACHE];
static int transforms_next;

/* Find lcms2's functions and open libvips' sRGB profile, once. */
static int lcms_bind(void)
{
	VipsBlob *blob = NULL;

	if (lcms.tried)
		return lcms.ok;
	lcms.tried = 1;
	*(void **)&lcms.open_mem = dlsym(RTLD_DEFAULT, "cmsOpenProfileFromMem");
	*(void **)&lcms.close = dlsym(RTLD_DEFAULT, "cmsCloseProfile");
	*(void **)&lcms.space = dlsym(RTLD_DEFAULT, "cmsGetColorSpace");
	*(void **)&lcms.create = dlsym(RTLD_DEFAULT, "cmsCreateTransform");
	*(void **)&lcms.apply = dlsym(RTLD_DEFAULT, "cmsDoTransform");
	*(void **)&lcms.destroy = dlsym(RTLD_DEFAULT, "cmsDeleteTransform");
	*(void **)&lcms.xyz_profile = dlsym(RTLD_DEFAULT, "cmsCreateXYZProfile");
	*(void **)&lcms.has_intent = dlsym(RTLD_DEFAULT, "cmsIsIntentSupported");
	*(void **)&lcms.header_intent = dlsym(RTLD_DEFAULT, "cmsGetHeaderRenderingIntent");
	if (!lcms.open_mem || !lcms.close || !lcms.space || !lcms.create || !lcms.apply ||
	    !lcms.destroy || !lcms.xyz_profile || !lcms.has_intent || !lcms.header_intent ||
	    vips_profile_load("srgb", &blob, NULL)) {
		vips_error_clear();
		return 0;
	}
	lcms.srgb = lcms.open_mem(VIPS_AREA(blob)->data, (cmsUInt32Number)VIPS_AREA(blob)->length);
	vips_area_unref(VIPS_AREA(blob));
	lcms.ok = lcms.srgb != NULL;
	return lcms.ok;
}

/* colour_input_intent() of an open profile; -1 when it has neither relative
 * colorimetric nor the intent its header suggests as input: libvips drops such
 * a profile whatever it is asked, so the transform is left to it (to_srgb()
 * gives none, though lcms would build one from another table). */
static int input_intent(cmsHPROFILE in)
{
	cmsUInt32Number suggested;

	if (lcms.has_intent(in, INTENT_RELATIVE_COLORIMETRIC, LCMS_USED_AS_INPUT))
		return INTENT_RELATIVE_COLORIMETRIC;
	suggested = lcms.header_intent(in);
	return suggested <= INTENT_ABSOLUTE_COLORIMETRIC &&
			       lcms.has_intent(in, suggested, LCMS_USED_AS_INPUT)
		       ? (int)suggested
		       : -1;
}

int colour_input_intent(const unsigned char *icc, size_t len)
{
	cmsHPROFILE in;
	int intent;

	if (!lcms_bind() || len > UINT32_MAX || !(in = lcms.open_mem(icc, (cmsUInt32Number)len)))
		return INTENT_RELATIVE_COLORIMETRIC;
	intent = input_intent(in);
	lcms.close(in);
	return intent < 0 ? INTENT_RELATIVE_COLORIMETRIC : intent;
}

/* The transform libvips would build for profile icc (relative colorimetric, or
 * input_intent()'s fallback for a profile without it as input; no
 * black point compensation, no 1-pixel cache), from the cache, else built and
 * cached (the oldest entry goes):
 *   - RGB: to sRGB, 8-bit in and out, as vips_icc_transform() on the libvips
 *     path;
 *   - cmyk set: inverted 8-bit CMYK (as jpegload reads every CMYK JPEG) to
 *     16-bit XYZ, as vips_colourspace()'s CMYK import does (colour_apply_cmyk() does
 *     the rest with libvips' own XYZ to sRGB). Always through libvips' built-in
 *     CMYK profile, whatever the file embeds: libvips 8.14's CMYK2XYZ sets that
 *     profile on the image before it imports, so this is what vipsthumbnail and
 *     our libvips path show (later libvips use the embedded one).
 * A CMYK transform costs ~25 ms to build, more than thumbnailing most images.
 * NULL when lcms is not at hand or the profile is not of that colour space: the
 * caller leaves the file to libvips. */
static cmsHTRANSFORM to_srgb(const unsigned char *icc, size_t len, int cmyk)
{
	struct cached_transform *slot;
	cmsHPROFILE in;
	cmsHTRANSFORM t;
	unsigned char *copy;

	if (!lcms_bind())
		return NULL;
	if (cmyk) {
		if (!lcms.cmyk && vips_profile_load("cmyk", &lcms.cmyk, NULL)) {
			vips_error_clear();
			return NULL;
		}
		icc = VIPS_AREA(lcms.cmyk)->data;
		len = VIPS_AREA(lcms.cmyk)->length;
	}
	for (int i = 0; i < TRANSFORM_CACHE; i++)
		if (transforms[i].t && transforms[i].cmyk == cmyk && transforms[i].len == len &&
		    memcmp(transforms[i].icc, icc, len) == 0)
			return transforms[i].t;
	if (len > UINT32_MAX || !(in = lcms.open_mem(icc, (cmsUInt32Number)len)))
		return NULL;
	if (!cmyk) {
		int intent = lcms.space(in) == cmsSigRgbData ? input_intent(in) : -1;

		t = intent < 0 ? NULL
			       : lcms.create(in, TYPE_RGB_8, lcms.srgb, TYPE_RGB_8, intent,
					     cmsFLAGS_NOCACHE);
	} else {
		cmsHPROFILE xyz = lcms.space(in) == cmsSigCmykData ? lcms.xyz_profile() : NULL;

		t = xyz ? lcms.create(in, TYPE_CMYK_8_REV, xyz, TYPE_XYZ_16,
				      INTENT_RELATIVE_COLORIMETRIC, cmsFLAGS_NOCACHE)
			: NULL;
		if (xyz)
			lcms.close(xyz);
	}
	lcms.close(in);
	if (!t || !(copy = malloc(len))) {
		if (t)
			lcms.destroy(t);
		return NULL;
	}
	memcpy(copy, icc, len);
	slot = &transforms[transforms_next];
	transforms_next = (transforms_next + 1) % TRANSFORM_CACHE;
	if (slot->t) {
		lcms.destroy(slot->t);
		free(slot->icc);
	}
	slot->icc = copy;
	slot->len = len;
	slot->cmyk = cmyk;
	slot->t = t;
	return t;
}

/* Drop the cached transforms and the sRGB profile (worker exit). */
void colour_free(void)
{
	for (int i = 0; i < TRANSFORM_CACHE; i++)
		if (transforms[i].t) {
			lcms.destroy(transforms[i].t);
			free(transforms[i].icc);
			transforms[i].t = NULL;
			transforms[i].icc = NULL;
		}
	if (lcms.srgb)
		lcms.close(lcms.srgb);
	lcms.srgb = NULL;
	if (lcms.cmyk)
		vips_area_unref(VIPS_AREA(lcms.cmyk));
	lcms.cmyk = NULL;
	lcms.tried = lcms.ok = 0;
}

colour_transform *colour_rgb_to_srgb(const unsigned char *icc, size_t len)
{
	return (colour_transform *)to_srgb(icc, len, 0);
}

colour_transform *colour_cmyk_to_srgb(void)
{
	return (colour_transform *)to_srgb(NULL, 0, 1);
}

/* A row at a time through a small buffer: lcms is not asked to work in place. */
int colour_apply_rgb(colour_transform *t, unsigned char *rgb, int w, int h)
{
	size_t row = (size_t)w * 3;
	unsigned char *tmp = malloc(row);

	if (!tmp)
		return -1;
	for (int y = 0; y < h; y++) {
		unsigned char *p = rgb + (size_t)y * row;

		lcms.apply((cmsHTRANSFORM)t, p, tmp, (cmsUInt32Number)w);
		memcpy(p, tmp, row);
	}
	free(tmp);
	return 0;
}

/* lcms to its 16-bit D50 XYZ, then exactly what vips_colourspace() does next:
 * scaled to libvips' D65 XYZ (icc_transform.c's decode_xyz()),
 * vips_col_XYZ2scRGB(), vips_col_scRGB2sRGB_8(). */
int colour_apply_cmyk(colour_transform *t, const unsigned char *cmyk, unsigned char *rgb,
		      int w, int h)
{
	const double fx = VIPS_D50_X0 * 32768 / (VIPS_D65_X0 * 100);
	const double fy = VIPS_D50_Y0 * 32768 / (VIPS_D65_Y0 * 100);
	const double fz = VIPS_D50_Z0 * 32768 / (VIPS_D65_Z0 * 100);
	uint16_t *xyz = malloc((size_t)w * 3 * sizeof *xyz);

	if (!xyz)
		return -1;
	for (int y = 0; y < h; y++) {
		lcms.apply((cmsHTRANSFORM)t, cmyk + (size_t)y * w * 4, xyz, (cmsUInt32Number)w);
		for (int x = 0; x < w; x++, rgb += 3) {
			float r, g, b;
			int ir, ig, ib;

			vips_col_XYZ2scRGB(xyz[3 * x] / fx, xyz[3 * x + 1] / fy,
					   xyz[3 * x + 2] / fz, &r, &g, &b);
			vips_col_scRGB2sRGB_8(r, g, b, &ir, &ig, &ib, NULL);
			rgb[0] = (unsigned char)ir;
			rgb[1] = (unsigned char)ig;
			rgb[2] = (unsigned char)ib;
		}
	}
	free(xyz);
	return 0;
}
