/* SPDX-License-Identifier: MIT */
/*
 * test_colour.c — colour.h: the sRGB-in-all-but-name check on real and hostile
 * profiles, and the cached transforms against libvips' own conversions.
 *
 * The profiles are libvips' built-in ones (vips_profile_load()), and one built
 * here with lcms2 that has perceptual tables only (as the XYB JPEGs jpegli
 * makes), so no file is needed; the expected pixels come from libvips'
 * vips_colourspace() and vips_icc_transform(), not from colour.c itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lcms2.h>
#include <vips/vips.h>

#include "colour.h"
#include "settings.h"
#include "vipsload.h"

static VipsBlob *profile(const char *name)
{
	VipsBlob *b = NULL;

	assert_int_equal(vips_profile_load(name, &b, NULL), 0);
	assert_non_null(b);
	return b;
}

static void test_is_srgb(void **state)
{
	VipsBlob *srgb = profile("srgb"), *cmyk = profile("cmyk"), *p3 = profile("p3");
	const unsigned char *d = VIPS_AREA(srgb)->data;
	size_t n = VIPS_AREA(srgb)->length;
	unsigned char *bad = malloc(n);

	(void)state;
	assert_true(colour_icc_is_srgb(d, n));
	assert_false(colour_icc_is_srgb(VIPS_AREA(cmyk)->data, VIPS_AREA(cmyk)->length));
	/* Display P3: RGB, sRGB's curves, other primaries. */
	assert_false(colour_icc_is_srgb(VIPS_AREA(p3)->data, VIPS_AREA(p3)->length));
	/* Hostile: truncated anywhere, a tag count that runs past the end, tag
	 * offsets out of range, random bytes. Never true, never a crash (ASan). */
	for (size_t cut = 0; cut < n; cut += 7)
		assert_false(colour_icc_is_srgb(d, cut));
	memcpy(bad, d, n);
	bad[128] = bad[129] = bad[130] = bad[131] = 0xff;
	assert_false(colour_icc_is_srgb(bad, n));
	memcpy(bad, d, n);
	for (size_t t = 132; t + 12 <= n && t < 132 + 12 * 20; t += 12)
		bad[t + 4] = 0x7f;	/* every offset ~2 GB */
	assert_false(colour_icc_is_srgb(bad, n));
	srand(7);
	for (int k = 0; k < 200; k++) {
		memcpy(bad, d, n);
		for (int j = 0; j < 8; j++)
			bad[128 + rand() % (int)(n - 128)] = (unsigned char)rand();
		(void)colour_icc_is_srgb(bad, n);	/* any answer, no crash */
	}
	assert_false(colour_icc_is_srgb(NULL, 0));
	free(bad);
	vips_area_unref(VIPS_AREA(srgb));
	vips_area_unref(VIPS_AREA(cmyk));
	vips_area_unref(VIPS_AREA(p3));
}

/* A w x 1 image of the given bytes. */
static VipsImage *row_image(const unsigned char *px, int w, int bands, VipsInterpretation in)
{
	VipsImage *im = vips_image_new_from_memory_copy(px, (size_t)w * bands, w, 1, bands,
							VIPS_FORMAT_UCHAR);
	VipsImage *out = NULL;

	assert_non_null(im);
	assert_int_equal(vips_copy(im, &out, "interpretation", in, NULL), 0);
	g_object_unref(im);
	return out;
}

/* Inverted CMYK through colour.c against vips_colourspace(CMYK -> sRGB) on the
 * same (un-inverted, as jpegload leaves them) values: the same bytes. */
static void test_cmyk_matches_libvips(void **state)
{
	enum { W = 256 };
	unsigned char inv[W * 4], ink[W * 4], ours[W * 3];
	colour_transform *t = colour_cmyk_to_srgb();
	VipsImage *im, *srgb = NULL, *mem;

	(void)state;
	assert_non_null(t);
	assert_ptr_equal(t, colour_cmyk_to_srgb());	/* cached */
	srand(3);
	for (int i = 0; i < W * 4; i++) {
		ink[i] = (unsigned char)(i < 16 ? 0 : rand());
		inv[i] = (unsigned char)(255 - ink[i]);
	}
	assert_int_equal(colour_apply_cmyk(t, inv, ours, W, 1), 0);
	assert_int_equal(ours[0], 255);	/* no ink: white */
	im = row_image(ink, W, 4, VIPS_INTERPRETATION_CMYK);
	assert_int_equal(vips_colourspace(im, &srgb, VIPS_INTERPRETATION_sRGB, NULL), 0);
	mem = vips_image_copy_memory(srgb);
	assert_non_null(mem);
	assert_int_equal(mem->Bands, 3);
	for (int i = 0; i < W * 3; i++)
		if (abs((int)ours[i] - (int)((unsigned char *)VIPS_IMAGE_ADDR(mem, 0, 0))[i]) > 1)
			fail_msg("byte %d: %d, libvips %d", i, ours[i],
				 ((unsigned char *)VIPS_IMAGE_ADDR(mem, 0, 0))[i]);
	g_object_unref(mem);
	g_object_unref(srgb);
	g_object_unref(im);
}

/* Display P3 -> sRGB through colour.c against vips_icc_transform(). */
static void test_rgb_matches_libvips(void **state)
{
	enum { W = 256 };
	VipsBlob *p3 = profile("p3");
	unsigned char px[W * 3], ours[W * 3];
	colour_transform *t = colour_rgb_to_srgb(VIPS_AREA(p3)->data, VIPS_AREA(p3)->length);
	VipsImage *im, *out = NULL, *mem;

	(void)state;
	assert_non_null(t);
	assert_null(colour_rgb_to_srgb((const unsigned char *)"not a profile", 13));
	srand(5);
	for (int i = 0; i < W * 3; i++)
		px[i] = (unsigned char)rand();
	memcpy(ours, px, sizeof px);
	assert_int_equal(colour_apply_rgb(t, ours, W, 1), 0);
	im = row_image(px, W, 3, VIPS_INTERPRETATION_sRGB);
	assert_int_equal(vips_icc_transform(im, &out, "srgb", "input_profile", "p3",
					    "intent", VIPS_INTENT_RELATIVE, NULL), 0);
	mem = vips_image_copy_memory(out);
	assert_non_null(mem);
	for (int i = 0; i < W * 3; i++)
		if (abs((int)ours[i] - (int)((unsigned char *)VIPS_IMAGE_ADDR(mem, 0, 0))[i]) > 1)
			fail_msg("byte %d: %d, libvips %d", i, ours[i],
				 ((unsigned char *)VIPS_IMAGE_ADDR(mem, 0, 0))[i]);
	g_object_unref(mem);
	g_object_unref(out);
	g_object_unref(im);
	vips_area_unref(VIPS_AREA(p3));
}

/* The sampler of swapped_profile()'s table: the device's R and B swapped, then
 * sRGB to Lab (cargo: that transform). */
static cmsInt32Number swap_to_lab(const cmsUInt16Number in[], cmsUInt16Number out[],
				  void *cargo)
{
	cmsUInt16Number rgb[3] = {in[2], in[1], in[0]};

	cmsDoTransform(cargo, rgb, out, 1);
	return TRUE;
}

/* An RGB input profile with an A2B0 (perceptual) table only: the device's red
 * is sRGB's blue and its blue sRGB's red. Its header suggests perceptual; it
 * has no relative colorimetric table, so libvips 8.14 would drop it. */
static unsigned char *swapped_profile(cmsUInt32Number *len)
{
	cmsHPROFILE srgb = cmsCreate_sRGBProfile(), lab = cmsCreateLab4Profile(NULL);
	cmsHTRANSFORM t = cmsCreateTransform(srgb, TYPE_RGB_16, lab, TYPE_Lab_16,
					     INTENT_PERCEPTUAL, 0);
	cmsHPROFILE p = cmsCreateProfilePlaceholder(NULL);
	cmsPipeline *lut = cmsPipelineAlloc(NULL, 3, 3);
	cmsStage *clut = cmsStageAllocCLut16bit(NULL, 17, 3, 3, NULL);
	unsigned char *mem;

	assert_non_null(t);
	assert_true(cmsStageSampleCLut16bit(clut, swap_to_lab, t, 0));
	/* lutAtoBType's shape: A curves, the table, B curves (identity). */
	cmsPipelineInsertStage(lut, cmsAT_END, cmsStageAllocToneCurves(NULL, 3, NULL));
	cmsPipelineInsertStage(lut, cmsAT_END, clut);
	cmsPipelineInsertStage(lut, cmsAT_END, cmsStageAllocToneCurves(NULL, 3, NULL));
	cmsSetProfileVersion(p, 4.3);
	cmsSetDeviceClass(p, cmsSigInputClass);
	cmsSetColorSpace(p, cmsSigRgbData);
	cmsSetPCS(p, cmsSigLabData);
	cmsSetHeaderRenderingIntent(p, INTENT_PERCEPTUAL);
	assert_true(cmsWriteTag(p, cmsSigAToB0Tag, lut));
	assert_true(cmsWriteTag(p, cmsSigMediaWhitePointTag, cmsD50_XYZ()));
	assert_true(cmsSaveProfileToMem(p, NULL, len));
	mem = malloc(*len);
	assert_true(cmsSaveProfileToMem(p, mem, len));
	/* What the test rests on: no relative colorimetric input. */
	assert_false(cmsIsIntentSupported(p, INTENT_RELATIVE_COLORIMETRIC, LCMS_USED_AS_INPUT));
	cmsPipelineFree(lut);
	cmsDeleteTransform(t);
	cmsCloseProfile(p);
	cmsCloseProfile(lab);
	cmsCloseProfile(srgb);
	return mem;
}

/* A profile without relative colorimetric tables is read with the intent it
 * suggests, on both paths: colour.c's transform turns the device's red into
 * blue, as libvips does when asked for that intent; and the libvips path
 * (vipsload.c) passes that intent, so a JPEG carrying the profile comes out
 * blue there too, not red as libvips 8.14 leaves it by itself. */
static void test_profile_without_relative_intent(void **state)
{
	cmsUInt32Number len;
	unsigned char *icc = swapped_profile(&len);
	unsigned char red[16 * 3];
	colour_transform *t;
	VipsImage *im, *out = NULL, *mem;
	thumb_settings s = {0};	/* zeroed: the defaults */
	char path[] = "/tmp/test_colour_XXXXXX.jpg", err[256];
	int fd, w, h, intent;
	vipsload_format format;
	failure_kind kind;

	(void)state;
	assert_int_equal(colour_input_intent(icc, len), VIPS_INTENT_PERCEPTUAL);
	assert_int_equal(colour_input_intent((const unsigned char *)"junk", 4),
			 VIPS_INTENT_RELATIVE);
	for (int i = 0; i < 16; i++) {
		red[3 * i] = 230;
		red[3 * i + 1] = 20;
		red[3 * i + 2] = 10;
	}
	im = row_image(red, 16, 3, VIPS_INTERPRETATION_sRGB);
	assert_non_null(t = colour_rgb_to_srgb(icc, len));
	assert_int_equal(colour_apply_rgb(t, red, 16, 1), 0);
	assert_true(red[0] < 60 && red[2] > 180);	/* blue: the profile applied */
	vips_image_set_blob_copy(im, VIPS_META_ICC_NAME, icc, len);
	assert_int_equal(vips_icc_transform(im, &out, "srgb", "embedded", TRUE, "intent",
					    VIPS_INTENT_PERCEPTUAL, NULL), 0);
	assert_non_null(mem = vips_image_copy_memory(out));
	for (int i = 0; i < 16 * 3; i++)
		assert_true(abs((int)red[i] - ((unsigned char *)VIPS_IMAGE_ADDR(mem, 0, 0))[i]) <= 1);
	g_object_unref(mem);
	g_object_unref(out);

	/* The libvips path, on a JPEG that carries the profile. */
	assert_true((fd = mkstemps(path, 4)) >= 0);
	close(fd);
	assert_int_equal(vips_image_write_to_file(im, path, "Q", 95, NULL), 0);
	s.sizes[0].w = s.sizes[0].h = 8;
	s.nsizes = 1;
	assert_int_equal(vipsload_header(&s, path, &w, &h, &intent, &format, &kind, err,
					 sizeof err), 0);
	assert_int_equal(intent, VIPS_INTENT_PERCEPTUAL);
	assert_int_equal(format, VIPSLOAD_JPEG);
	out = NULL;
	assert_int_equal(vipsload_master(&s, path, w, h, intent, format, &out, err, sizeof err),
			 0);
	assert_non_null(mem = vips_image_copy_memory(out));
	assert_int_equal(mem->Bands, 3);
	unsigned char *p = VIPS_IMAGE_ADDR(mem, 0, 0);
	assert_true(p[0] < 60 && p[2] > 180);
	g_object_unref(mem);
	g_object_unref(out);
	g_object_unref(im);
	unlink(path);
	free(icc);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_srgb),
		cmocka_unit_test(test_cmyk_matches_libvips),
		cmocka_unit_test(test_rgb_matches_libvips),
		cmocka_unit_test(test_profile_without_relative_intent),
	};
	int rc;

	(void)argc;
	if (VIPS_INIT(argv[0]))
		return 1;
	vips_cache_set_max(0);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	colour_free();
	vips_shutdown();
	return rc;
}
