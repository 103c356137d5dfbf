/* SPDX-License-Identifier: MIT */
/*
 * test_pngmaster.c — the worker's PNG path: app/fastpng.c (libpng decoding),
 * app/shrink.c (vips_thumbnail()'s resize, streamed) and app/pngmaster.c.
 *
 * The promise: the master made through libpng is the one the libvips path makes
 * (vips_thumbnail() of the same file to the same box, auto-rotated, in memory):
 * the same size and bands, and the same bytes, within one level where alpha is
 * premultiplied (float rounding before vips_cast()'s truncation; under 1 % of the
 * bytes), on every kind
 * of PNG the path takes: RGB, RGBA, grey, grey + alpha, palette with and without
 * transparency, grey of 1, 2 and 4 bits, 16-bit RGB(A), colour-key tRNS,
 * interlaced, every EXIF orientation, shrinks with and without the box step and
 * none at all. Files it must leave to libvips (16-bit grey, a profile that needs a
 * transform, --keep-metadata, over the pixel limit, enlarging, damaged data, not a
 * PNG) are refused, never decoded wrongly. The expected pixels come from libvips
 * itself. Test files are written here with libvips and libpng.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>
#include <vips/vips.h>

#include "fastpng.h"
#include "pngmaster.h"
#include "shrink.h"

static char tmpdir[PATH_MAX - 64];

/* A path in the scratch folder. */
static const char *tpath(const char *name)
{
	static char ring[4][PATH_MAX];
	static int next;
	char *p = ring[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

/* Sample c of pixel (x, y) of a w x h test picture: gradients, an edge and
 * noise; alpha (when asked) from 0 to 255 across, with fully clear and fully
 * opaque corners. */
static unsigned sample(int x, int y, int c, int bands, int alpha)
{
	uint32_t r = (uint32_t)(x * 2654435761u) ^ (uint32_t)(y * 40503u) ^ (uint32_t)(c * 97u);

	r ^= r >> 15;
	if (alpha && c == bands - 1)
		return x < 10 ? 0 : y < 10 ? 255 : (unsigned)(x * 3 + y) % 256;
	return (unsigned)((x * (3 + c) + y * 2 + ((x / 23 + y / 17) % 2) * 90 + (r & 31)) % 256);
}

/* Options of write_png(). */
typedef struct png_spec {
	int w, h;
	int type;		/* PNG_COLOR_TYPE_* (not palette) */
	int depth;		/* 1, 2, 4, 8 (grey only below 8) or 16 */
	int interlace;
	int trns;		/* a colour-key tRNS chunk (grey, RGB) */
	int orientation;	/* an eXIf chunk with this orientation, 0: none */
	const void *icc;	/* an iCCP chunk */
	size_t icc_len;
} png_spec;

/* An eXIf payload: a big-endian TIFF header and IFD0 with Orientation only. */
static void exif_block(unsigned char *b, int orientation)
{
	static const unsigned char head[] = { 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
					      0x01, 0x12, 0, 3, 0, 0, 0, 1 };

	memcpy(b, head, sizeof head);
	b[18] = 0;
	b[19] = (unsigned char)orientation;
	memset(b + 20, 0, 6);
}

/* Channels of a colour type (libpng's own function needs a png_struct). */
static int png_get_channels_for(int type)
{
	switch (type) {
	case PNG_COLOR_TYPE_GRAY: return 1;
	case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
	case PNG_COLOR_TYPE_RGB: return 3;
	default: return 4;
	}
}

/* Write the test picture to path with libpng, as spec says. */
static void write_png(const char *path, const png_spec *sp)
{
	int bands = png_get_channels_for(sp->type);
	FILE *f = fopen(path, "wb");
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	size_t rowbytes = ((size_t)sp->w * bands * sp->depth + 7) / 8;
	unsigned char *row = calloc(1, rowbytes), exif[26];
	int passes;

	assert_non_null(f);
	assert_non_null(row);
	if (setjmp(png_jmpbuf(png)))
		fail_msg("libpng failed writing %s", path);
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)sp->w, (png_uint_32)sp->h, sp->depth, sp->type,
		     sp->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (sp->trns) {
		png_color_16 key = { 0, 0, 0, 0, 0 };
		int max = (1 << sp->depth) - 1;

		/* The colour of pixel (0, 0) and its like become transparent. */
		key.gray = (png_uint_16)(sample(0, 0, 0, bands, 0) * max / 255);
		key.red = (png_uint_16)(sample(0, 0, 0, bands, 0) * max / 255);
		key.green = (png_uint_16)(sample(0, 0, 1, bands, 0) * max / 255);
		key.blue = (png_uint_16)(sample(0, 0, 2, bands, 0) * max / 255);
		png_set_tRNS(png, info, NULL, 0, &key);
	}
	if (sp->orientation) {
		exif_block(exif, sp->orientation);
		png_set_eXIf_1(png, info, sizeof exif, exif);
	}
	if (sp->icc)
		png_set_iCCP(png, info, "icc", PNG_COMPRESSION_TYPE_BASE, sp->icc,
			     (png_uint_32)sp->icc_len);
	png_write_info(png, info);
	passes = png_set_interlace_handling(png);
	for (int pass = 0; pass < passes; pass++)
		for (int y = 0; y < sp->h; y++) {
			memset(row, 0, rowbytes);
			for (int x = 0; x < sp->w; x++)
				for (int c = 0; c < bands; c++) {
					unsigned v = sample(x, y, c, bands,
							    sp->type & PNG_COLOR_MASK_ALPHA);
					size_t i = (size_t)x * bands + c;

					if (sp->trns && x % 7 == 0 && y % 5 == 0)
						v = sample(0, 0, c, bands, 0);	/* keyed */
					if (sp->depth == 16) {
						unsigned v16 = v * 257 + (unsigned)(x % 255);

						row[2 * i] = (unsigned char)(v16 >> 8);
						row[2 * i + 1] = (unsigned char)v16;
					} else if (sp->depth == 8) {
						row[i] = (unsigned char)v;
					} else {
						unsigned q = v >> (8 - sp->depth);
						size_t bit = i * (size_t)sp->depth;

						row[bit / 8] |= (unsigned char)(q << (8 - sp->depth - bit % 8));
					}
				}
			png_write_row(png, row);
		}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(row);
	assert_int_equal(fclose(f), 0);
}

/* A palette PNG (with transparency when alpha) made by libvips' pngsave from an
 * 8-bit PNG written by write_png(). */
static void write_palette_png(const char *path, int w, int h, int alpha, int interlace)
{
	png_spec sp = { w, h, alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB, 8,
			0, 0, 0, NULL, 0 };
	const char *src = tpath("palette-src.png");
	VipsImage *im;

	write_png(src, &sp);
	im = vips_image_new_from_file(src, NULL);
	assert_non_null(im);
	assert_int_equal(vips_pngsave(im, path, "palette", TRUE, "interlace", interlace, NULL), 0);
	g_object_unref(im);
}

/* Default settings: one box, fit inside. */
static thumb_settings box(int size)
{
	thumb_settings s;

	memset(&s, 0, sizeof s);
	s.sizes[0].w = s.sizes[0].h = size;
	s.nsizes = 1;
	s.background[0] = s.background[1] = s.background[2] = 255;
	s.max_pixels = 268402689;
	return s;
}

/* What the libvips path makes of path for the box: vips_thumbnail(), in memory. */
static VipsImage *libvips_master(const char *path, int size)
{
	VipsImage *t = NULL, *m;

	assert_int_equal(vips_thumbnail(path, &t, size, "height", size, "size", VIPS_SIZE_DOWN,
					"fail_on", VIPS_FAIL_ON_WARNING, NULL), 0);
	m = vips_image_copy_memory(t);
	assert_non_null(m);
	g_object_unref(t);
	return m;
}

/* The PNG path's master of path for the box is libvips', each byte within
 * tolerance. */
static void assert_like_libvips(const char *path, int size, int tolerance, const char *what)
{
	thumb_settings s = box(size);
	VipsImage *ours = NULL, *ref = libvips_master(path, size);
	int w = 0, h = 0, worst = 0;
	size_t n, diff = 0;

	if (pngmaster_make(&s, path, &w, &h, &ours) != 0)
		fail_msg("%s, box %d: refused", what, size);
	if (ours->Xsize != ref->Xsize || ours->Ysize != ref->Ysize || ours->Bands != ref->Bands ||
	    ours->BandFmt != VIPS_FORMAT_UCHAR || ref->BandFmt != VIPS_FORMAT_UCHAR)
		fail_msg("%s, box %d: %dx%dx%d, libvips %dx%dx%d (format %d)", what, size,
			 ours->Xsize, ours->Ysize, ours->Bands, ref->Xsize, ref->Ysize, ref->Bands,
			 ref->BandFmt);
	assert_int_equal(ours->Type, ref->Bands >= 3 ? VIPS_INTERPRETATION_sRGB
						     : VIPS_INTERPRETATION_B_W);
	n = (size_t)ours->Xsize * ours->Ysize * ours->Bands;
	for (size_t i = 0; i < n; i++) {
		int d = abs((int)((unsigned char *)VIPS_IMAGE_ADDR(ours, 0, 0))[i] -
			    (int)((unsigned char *)VIPS_IMAGE_ADDR(ref, 0, 0))[i]);

		worst = d > worst ? d : worst;
		diff += d != 0;
	}
	/* Float rounding moves a sample across a truncation boundary rarely: a
	 * different rounding rule would move half of them. */
	if (worst > tolerance || diff * 100 > n)
		fail_msg("%s, box %d: a byte differs by %d (%zu of %zu differ)", what, size, worst,
			 diff, n);
	if (diff)
		print_message("%s, box %d: %zu of %zu bytes off by one\n", what, size, diff, n);
	g_object_unref(ours);
	g_object_unref(ref);
}

/* ------------------------------------------------------------------ tests -- */

/* Every kind of PNG the path takes, at boxes that shrink by the box step, by
 * lanczos alone, and not at all. */
static void test_kinds_match_libvips(void **state)
{
	static const struct {
		const char *name;
		int type, depth, trns;
	} kinds[] = {
		{ "rgb", PNG_COLOR_TYPE_RGB, 8, 0 },
		{ "rgba", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0 },
		{ "grey", PNG_COLOR_TYPE_GRAY, 8, 0 },
		{ "grey-alpha", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0 },
		{ "grey-1bit", PNG_COLOR_TYPE_GRAY, 1, 0 },
		{ "grey-2bit", PNG_COLOR_TYPE_GRAY, 2, 0 },
		{ "grey-4bit", PNG_COLOR_TYPE_GRAY, 4, 0 },
		{ "rgb16", PNG_COLOR_TYPE_RGB, 16, 0 },
		{ "rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, 0 },
		{ "grey-key", PNG_COLOR_TYPE_GRAY, 8, 1 },
		{ "rgb-key", PNG_COLOR_TYPE_RGB, 8, 1 },
		{ "rgb16-key", PNG_COLOR_TYPE_RGB, 16, 1 },
	};
	static const int boxes[] = { 37, 120, 250, 500 };

	(void)state;
	for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
		for (int interlace = 0; interlace <= 1; interlace++) {
			png_spec sp = { 301, 203, kinds[k].type, kinds[k].depth, interlace,
					kinds[k].trns, 0, NULL, 0 };
			const char *path = tpath("kind.png");
			int alpha = (kinds[k].type & PNG_COLOR_MASK_ALPHA) || kinds[k].trns;
			char what[64];

			write_png(path, &sp);
			snprintf(what, sizeof what, "%s%s", kinds[k].name,
				 interlace ? " interlaced" : "");
			for (size_t b = 0; b < sizeof boxes / sizeof *boxes; b++)
				assert_like_libvips(path, boxes[b], alpha ? 1 : 0, what);
		}
	for (int alpha = 0; alpha <= 1; alpha++) {
		write_palette_png(tpath("palette.png"), 290, 190, alpha, alpha);
		for (size_t b = 0; b < sizeof boxes / sizeof *boxes; b++)
			assert_like_libvips(tpath("palette.png"), boxes[b], alpha,
					    alpha ? "palette + tRNS, interlaced" : "palette");
	}
}

/* Each EXIF orientation (an eXIf chunk) turns the master as vips_thumbnail()
 * turns it, with and without alpha. */
static void test_orientations(void **state)
{
	(void)state;
	for (int o = 1; o <= 8; o++)
		for (int alpha = 0; alpha <= 1; alpha++) {
			png_spec sp = { 211, 97, alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
					8, 0, 0, o, NULL, 0 };
			char what[32];

			write_png(tpath("oriented.png"), &sp);
			snprintf(what, sizeof what, "orientation %d%s", o, alpha ? " + alpha" : "");
			assert_like_libvips(tpath("oriented.png"), 64, alpha, what);
		}
}

/* A large shrink from a tall strip and a wide one (box factors in the hundreds,
 * an output of a few pixels). */
static void test_extreme_shapes(void **state)
{
	png_spec tall = { 3, 2500, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 0, 0, NULL, 0 };
	png_spec wide = { 2600, 5, PNG_COLOR_TYPE_GRAY, 8, 0, 0, 0, NULL, 0 };

	(void)state;
	write_png(tpath("tall.png"), &tall);
	assert_like_libvips(tpath("tall.png"), 10, 1, "3 x 2500");
	write_png(tpath("wide.png"), &wide);
	assert_like_libvips(tpath("wide.png"), 9, 0, "2600 x 5");
}

/* The decoder alone: fastpng's rows are the samples libvips' pngload gives (for
 * 16-bit RGB after vips_colourspace() to sRGB, as vips_thumbnail() does first). */
static void test_rows_are_libvips_samples(void **state)
{
	static const int types[] = { PNG_COLOR_TYPE_RGB_ALPHA, PNG_COLOR_TYPE_GRAY };

	(void)state;
	for (int t = 0; t < 2; t++)
		for (int depth = 4; depth <= 16; depth *= 2) {
			png_spec sp = { 61, 43, types[t], depth, depth == 8, 0, 0, NULL, 0 };
			fastpng *p = NULL;
			fastpng_info info;
			VipsImage *im, *srgb = NULL, *mem;
			char err[256];
			int rc;

			if (depth == 16 && types[t] == PNG_COLOR_TYPE_GRAY)
				continue;	/* refused: test_refusals */
			if (depth == 4 && types[t] != PNG_COLOR_TYPE_GRAY)
				continue;	/* not a PNG */
			write_png(tpath("rows.png"), &sp);
			assert_int_equal(fastpng_open(tpath("rows.png"), 0, &p, &info, err, sizeof err),
					 FASTPNG_OK);
			im = vips_image_new_from_file(tpath("rows.png"), NULL);
			assert_non_null(im);
			rc = vips_colourspace(im, &srgb, im->Bands >= 3 ? VIPS_INTERPRETATION_sRGB
									: VIPS_INTERPRETATION_B_W, NULL);
			assert_int_equal(rc, 0);
			mem = vips_image_copy_memory(srgb);
			assert_non_null(mem);
			assert_int_equal(info.bands, mem->Bands);
			assert_int_equal(info.alpha, info.bands == 2 || info.bands == 4);
			for (int y = 0; y < info.height; y++) {
				const unsigned char *row;

				assert_int_equal(fastpng_read_row(p, &row, err, sizeof err), FASTPNG_OK);
				assert_memory_equal(row, VIPS_IMAGE_ADDR(mem, 0, y),
						    (size_t)info.width * info.bands);
			}
			assert_int_equal(fastpng_read_row(p, &(const unsigned char *){ NULL }, err,
							  sizeof err), FASTPNG_ERROR);
			fastpng_close(p);
			g_object_unref(mem);
			g_object_unref(srgb);
			g_object_unref(im);
		}
}

/* Files the path must leave to libvips are refused (1), never decoded. */
static void test_refusals(void **state)
{
	png_spec grey16 = { 50, 40, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0, 0, NULL, 0 };
	png_spec rgb = { 50, 40, PNG_COLOR_TYPE_RGB, 8, 0, 0, 0, NULL, 0 };
	VipsBlob *p3 = NULL, *srgb = NULL;
	thumb_settings s = box(20);
	VipsImage *m = NULL;
	FILE *f;
	long len;
	int w, h;

	(void)state;
	write_png(tpath("grey16.png"), &grey16);
	assert_int_equal(pngmaster_make(&s, tpath("grey16.png"), &w, &h, &m), 1);
	grey16.type = PNG_COLOR_TYPE_GRAY;
	write_png(tpath("grey16.png"), &grey16);
	assert_int_equal(pngmaster_make(&s, tpath("grey16.png"), &w, &h, &m), 1);

	/* A profile to transform: refused; sRGB itself: taken. */
	assert_int_equal(vips_profile_load("p3", &p3, NULL), 0);
	assert_int_equal(vips_profile_load("srgb", &srgb, NULL), 0);
	rgb.icc = VIPS_AREA(p3)->data;
	rgb.icc_len = VIPS_AREA(p3)->length;
	write_png(tpath("p3.png"), &rgb);
	assert_int_equal(pngmaster_make(&s, tpath("p3.png"), &w, &h, &m), 1);
	rgb.icc = VIPS_AREA(srgb)->data;
	rgb.icc_len = VIPS_AREA(srgb)->length;
	write_png(tpath("srgb.png"), &rgb);
	assert_like_libvips(tpath("srgb.png"), 20, 0, "sRGB profile");
	vips_area_unref(VIPS_AREA(p3));
	vips_area_unref(VIPS_AREA(srgb));

	/* --keep-metadata, the pixel limit, an enlargement. */
	rgb.icc = NULL;
	write_png(tpath("rgb.png"), &rgb);
	s.keep_metadata = 1;
	assert_int_equal(pngmaster_make(&s, tpath("rgb.png"), &w, &h, &m), 1);
	s = box(20);
	s.max_pixels = 50 * 40 - 1;
	assert_int_equal(pngmaster_make(&s, tpath("rgb.png"), &w, &h, &m), 1);
	s = box(200);
	s.enlarge = 1;
	assert_int_equal(pngmaster_make(&s, tpath("rgb.png"), &w, &h, &m), 1);
	s = box(200);	/* not enlarged: the master is the image itself */
	assert_like_libvips(tpath("rgb.png"), 200, 0, "no shrink");

	/* Damage: cut short, a bad CRC in the image data, not a PNG at all. */
	f = fopen(tpath("rgb.png"), "rb+");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	assert_int_equal(truncate(tpath("rgb.png"), len - 40), 0);
	fclose(f);
	s = box(20);
	assert_int_equal(pngmaster_make(&s, tpath("rgb.png"), &w, &h, &m), 1);
	write_png(tpath("rgb.png"), &rgb);
	f = fopen(tpath("rgb.png"), "rb+");
	assert_non_null(f);
	fseek(f, len / 2, SEEK_SET);
	fputc(0x5A ^ fgetc(f), f);	/* one byte of IDAT flipped */
	fclose(f);
	assert_int_equal(pngmaster_make(&s, tpath("rgb.png"), &w, &h, &m), 1);
	f = fopen(tpath("not.png"), "wb");
	assert_non_null(f);
	fputs("\xff\xd8\xff\xe0 not a png", f);
	fclose(f);
	assert_int_equal(pngmaster_make(&s, tpath("not.png"), &w, &h, &m), 1);
	assert_int_equal(pngmaster_make(&s, tpath("missing.png"), &w, &h, &m), 1);
	assert_null(m);
}

static void test_shrink_arguments(void **state)
{
	unsigned char row[16] = { 0 }, out[64];
	shrink *s;
	int w, h;

	(void)state;
	assert_null(shrink_new(0, 5, 3, 0, 1.0, 1.0));
	assert_null(shrink_new(5, 5, 3, 1, 1.0, 1.0));		/* premultiplied needs 2 or 4 */
	assert_null(shrink_new(5, 5, 3, 0, 0.5, 1.0));		/* enlarging */
	assert_null(shrink_new(1, 100000, 1, 0, 1.0, 100000.0));	/* a box of 50000 rows */
	s = shrink_new(4, 2, 4, 1, 2.0, 2.0);
	assert_non_null(s);
	shrink_size(s, 6, &w, &h);
	assert_int_equal(w, 1);
	assert_int_equal(h, 2);
	assert_int_equal(shrink_finish(s, 1, out), -1);	/* rows missing */
	assert_int_equal(shrink_row(s, row), 0);
	assert_int_equal(shrink_row(s, row), 0);
	assert_int_equal(shrink_row(s, row), -1);		/* one too many */
	assert_int_equal(shrink_finish(s, 1, out), 0);
	assert_int_equal(out[3], 0);				/* clear stays clear */
	shrink_free(s);
	shrink_free(NULL);
	fastpng_close(NULL);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "%s/test_pngmaster.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *names[] = { "kind.png", "palette.png", "palette-src.png",
				       "oriented.png", "tall.png", "wide.png", "rows.png",
				       "grey16.png", "p3.png", "srgb.png", "rgb.png", "not.png" };

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unlink(tpath(names[i]));
	return rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_match_libvips),
		cmocka_unit_test(test_orientations),
		cmocka_unit_test(test_extreme_shapes),
		cmocka_unit_test(test_rows_are_libvips_samples),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_shrink_arguments),
	};
	int rc;

	(void)argc;
	if (VIPS_INIT(argv[0]))
		return 1;
	vips_cache_set_max(0);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	vips_shutdown();
	return rc;
}
