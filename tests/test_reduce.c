/* SPDX-License-Identifier: MIT */
/*
 * test_reduce.c — reduce_rows() gives vips_reducev()'s pixels.
 *
 * The worker swaps vips_reducev(lanczos3, gap 2) for reduce_rows() on every
 * 8-bit image, so the two must agree: on random and on smooth images, 1 to 4
 * bands, shrink factors across the integer/box boundaries and the rounding of
 * the output height, the output has libvips' size and every byte is libvips'
 * (libvips runs its orc program for 8-bit images; reduce.c computes the same
 * fixed-point sums, so even a rounding slip shows). The expected pixels come
 * from libvips itself, so this cannot pass by agreeing with itself.
 *
 * The same for the pieces the PNG path uses: reduce_cols() against
 * vips_reduceh() on 8-bit images (byte for byte), and the lanczos3 steps alone
 * (reduce_lanczos_*(), what vips_reducev/h do with gap 0) against libvips on
 * 8-bit and float images.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include <vips/vips.h>

#include "reduce.h"

/* An image w x h x bands: random bytes (noise, the worst case for a resampler)
 * or a smooth pattern with edges. */
static unsigned char *make_image(int w, int h, int bands, int noise, unsigned seed)
{
	unsigned char *p = malloc((size_t)w * h * bands);

	srand(seed);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int b = 0; b < bands; b++) {
				size_t i = ((size_t)y * w + x) * bands + b;

				p[i] = noise ? (unsigned char)(rand() & 255)
					     : (unsigned char)((x * 7 + y * 3 + b * 50) % 256 < 128
								       ? 20 + (y * 2 + x) % 90
								       : 230 - (x + b) % 40);
			}
	return p;
}

/* vips_reducev() of the same pixels, as thumb.c called it before reduce.c. */
static VipsImage *vips_reference(unsigned char *px, int w, int h, int bands, double shrink)
{
	VipsImage *in = vips_image_new_from_memory(px, (size_t)w * h * bands, w, h, bands,
						   VIPS_FORMAT_UCHAR);
	VipsImage *out = NULL, *mem;

	assert_non_null(in);
	assert_int_equal(vips_reducev(in, &out, shrink, "kernel", VIPS_KERNEL_LANCZOS3,
				      "gap", 2.0, NULL), 0);
	mem = vips_image_copy_memory(out);
	assert_non_null(mem);
	g_object_unref(out);
	g_object_unref(in);
	return mem;
}

static void check(int w, int h, int bands, double shrink, int noise)
{
	unsigned char *px = make_image(w, h, bands, noise, (unsigned)(w * 31 + h + bands));
	VipsImage *ref = vips_reference(px, w, h, bands, shrink);
	int oh = reduce_height(h, shrink);
	unsigned char *out = malloc((size_t)w * bands * oh);
	int worst = 0;

	assert_int_equal(oh, ref->Ysize);
	assert_int_equal(reduce_rows(px, h, w * bands, shrink, out), 0);
	for (int y = 0; y < oh; y++) {
		const unsigned char *r = VIPS_IMAGE_ADDR(ref, 0, y);

		for (int x = 0; x < w * bands; x++) {
			int d = abs((int)out[(size_t)y * w * bands + x] - (int)r[x]);

			if (d > worst)
				worst = d;
		}
	}
	if (worst > 0)
		print_error("%dx%d x%d shrink %.3f %s: a byte differs by %d\n", w, h, bands,
			    shrink, noise ? "noise" : "smooth", worst);
	assert_int_equal(worst, 0);
	free(out);
	g_object_unref(ref);
	free(px);
}

static void test_matches_vips(void **state)
{
	static const double shrinks[] = { 1.0, 1.3, 1.5, 2.0, 2.5, 2.93, 3.125, 3.99,
					  4.0, 4.7, 5.86, 7.03, 8.0, 11.8, 15.75, 23.4 };
	(void)state;
	for (size_t i = 0; i < sizeof shrinks / sizeof *shrinks; i++)
		for (int bands = 1; bands <= 4; bands++) {
			check(37, 533, bands, shrinks[i], 1);
			check(61, 800, bands, shrinks[i], 0);
		}
}

/* Heights that round the output size both ways, and tiny ones. */
static void test_sizes(void **state)
{
	(void)state;
	for (int h = 1; h <= 40; h++)
		check(9, h, 3, h >= 3 ? 2.6 : 1.0, 1);
	check(5, 1001, 1, 1000.0, 1);	/* to a single row */
	check(5, 1000, 2, 3.0001, 0);
}

/* vips_reduce[hv]() of the w x h memory image px (format fmt) by shrink with the
 * given gap, in memory. */
static VipsImage *vips_reduced(void *px, size_t len, int w, int h, int bands, VipsBandFormat fmt,
			       int across, double shrink, double gap)
{
	VipsImage *in = vips_image_new_from_memory(px, len, w, h, bands, fmt);
	VipsImage *out = NULL, *mem;

	assert_non_null(in);
	assert_int_equal(across ? vips_reduceh(in, &out, shrink, "kernel", VIPS_KERNEL_LANCZOS3,
					       "gap", gap, NULL)
				: vips_reducev(in, &out, shrink, "kernel", VIPS_KERNEL_LANCZOS3,
					       "gap", gap, NULL), 0);
	mem = vips_image_copy_memory(out);
	assert_non_null(mem);
	g_object_unref(out);
	g_object_unref(in);
	return mem;
}

/* reduce_cols() is vips_reduceh(lanczos3, gap 2) on 8-bit images, byte for byte. */
static void test_cols_match_vips(void **state)
{
	static const double shrinks[] = { 1.0, 1.5, 2.0, 2.93, 3.99, 4.0, 5.86, 8.0, 15.75 };

	(void)state;
	for (size_t i = 0; i < sizeof shrinks / sizeof *shrinks; i++)
		for (int bands = 1; bands <= 4; bands++)
			for (int noise = 0; noise <= 1; noise++) {
				int w = 533 + bands, h = 7, ow = reduce_height(w, shrinks[i]);
				unsigned char *px = make_image(w, h, bands, noise, (unsigned)(i + bands));
				VipsImage *ref = vips_reduced(px, (size_t)w * h * bands, w, h, bands,
							      VIPS_FORMAT_UCHAR, 1, shrinks[i], 2.0);
				unsigned char *out = malloc((size_t)ow * h * bands);

				assert_int_equal(ref->Xsize, ow);
				assert_int_equal(reduce_cols(px, w, h, bands, shrinks[i], out), 0);
				for (int y = 0; y < h; y++)
					if (memcmp(out + (size_t)y * ow * bands, VIPS_IMAGE_ADDR(ref, 0, y),
						   (size_t)ow * bands) != 0)
						fail_msg("shrink %.2f, %d bands, %s: row %d differs",
							 shrinks[i], bands, noise ? "noise" : "smooth", y);
				free(out);
				g_object_unref(ref);
				free(px);
			}
}

/* The lanczos3 step alone (libvips with gap 0 does no box), 8-bit down and float
 * both ways: libvips' values (floats within float rounding). */
static void test_lanczos_steps_match_vips(void **state)
{
	static const double shrinks[] = { 1.0, 1.25, 2.0, 2.93, 3.5 };

	(void)state;
	for (size_t i = 0; i < sizeof shrinks / sizeof *shrinks; i++)
		for (int bands = 1; bands <= 4; bands++) {
			const double sh = shrinks[i];
			int w = 40, h = 301, oh = reduce_height(h, sh), ow = reduce_height(w * 7, sh);
			unsigned char *px = make_image(w, h, bands, 1, (unsigned)(i * 7 + bands));
			float *fx = malloc((size_t)w * 7 * h * bands * sizeof *fx);
			unsigned char *out = malloc((size_t)w * oh * bands);
			float *fo = malloc((size_t)w * 7 * h * bands * sizeof *fo);	/* the larger */
			VipsImage *ref = vips_reduced(px, (size_t)w * h * bands, w, h, bands,
						      VIPS_FORMAT_UCHAR, 0, sh, 0.0);

			assert_int_equal(reduce_lanczos_rows(px, h, w * bands, sh, oh * sh - h, oh,
							     out), 0);
			assert_memory_equal(out, VIPS_IMAGE_ADDR(ref, 0, 0), (size_t)w * oh * bands);
			g_object_unref(ref);
			/* Float rows: the image 7 times wider, values with fractions. */
			for (size_t k = 0; k < (size_t)w * 7 * h * bands; k++)
				fx[k] = px[k % ((size_t)w * h * bands)] * 0.37f + 0.1f;
			ref = vips_reduced(fx, (size_t)w * 7 * h * bands * sizeof *fx, w * 7, h, bands,
					   VIPS_FORMAT_FLOAT, 0, sh, 0.0);
			assert_int_equal(reduce_lanczos_rows_float(fx, h, w * 7 * bands, sh,
								   oh * sh - h, oh, fo), 0);
			for (size_t k = 0; k < (size_t)w * 7 * oh * bands; k++)
				if (fabsf(fo[k] - ((float *)VIPS_IMAGE_ADDR(ref, 0, 0))[k]) > 1e-3f)
					fail_msg("rows, shrink %.2f, %d bands: sample %zu (row %zu) is %f, libvips %f",
						 sh, bands, k, k / ((size_t)w * 7 * bands), fo[k],
						 ((float *)VIPS_IMAGE_ADDR(ref, 0, 0))[k]);
			g_object_unref(ref);
			/* Float columns. */
			ref = vips_reduced(fx, (size_t)w * 7 * h * bands * sizeof *fx, w * 7, h, bands,
					   VIPS_FORMAT_FLOAT, 1, sh, 0.0);
			assert_int_equal(ref->Xsize, ow);
			assert_int_equal(reduce_lanczos_cols_float(fx, w * 7, h, bands, sh,
								   ow * sh - w * 7, ow, fo), 0);
			for (size_t k = 0; k < (size_t)ow * h * bands; k++)
				if (fabsf(fo[k] - ((float *)VIPS_IMAGE_ADDR(ref, 0, 0))[k]) > 1e-3f)
					fail_msg("cols, shrink %.2f, %d bands: sample %zu (x %zu) is %f, libvips %f",
						 sh, bands, k, k / bands % ow, fo[k],
						 ((float *)VIPS_IMAGE_ADDR(ref, 0, 0))[k]);
			g_object_unref(ref);
			free(fo);
			free(out);
			free(fx);
			free(px);
		}
}

static void test_bad_arguments(void **state)
{
	unsigned char in[4] = { 0 }, out[4];

	(void)state;
	assert_int_equal(reduce_rows(in, 2, 2, 0.5, out), -1);
	assert_int_equal(reduce_rows(in, 0, 2, 2.0, out), -1);
	assert_int_equal(reduce_rows(NULL, 2, 2, 2.0, out), -1);
	assert_int_equal(reduce_height(10, 100.0), 1);
	assert_int_equal(reduce_cols(in, 2, 1, 2, 0.5, out), -1);
	assert_int_equal(reduce_lanczos_rows(in, 2, 2, 1.0, 0, 1, out), -1);	/* 1.0: a copy */
	assert_int_equal(reduce_box(100, 10), 5);
	assert_int_equal(reduce_box(100, 60), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_vips),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_cols_match_vips),
		cmocka_unit_test(test_lanczos_steps_match_vips),
		cmocka_unit_test(test_bad_arguments),
	};
	int rc;

	(void)argc;
	if (VIPS_INIT(argv[0]))
		return 1;
	vips_cache_set_max(0);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	vips_shutdown();
	return rc;
}
