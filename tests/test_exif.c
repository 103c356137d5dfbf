/* SPDX-License-Identifier: MIT */
/*
 * test_exif.c — the EXIF orientation the fast paths read (exif.c, and which APP1
 * block fastjpeg.c reads it from) is the one libvips reads, for every way a
 * camera or a program may store it. libvips itself is the oracle: each case is a
 * small JPEG (or PNG) made here with crafted EXIF bytes, and the fast path's
 * orientation must equal vips_image_get_orientation() of the same bytes. The
 * oracle's own answers are checked too where they are known, so a case that
 * stopped testing what it says would fail.
 *
 * Found by an audit on public test images: gdk-pixbuf's bug143608-comment.jpg and
 * bug725582-testrotate.jpg store Orientation 6 as SLONG (as do Fujifilm cameras);
 * the fast path read only SHORT and made their thumbnails lying on their side.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <vips/vips.h>

#include "exif.h"
#include "fastjpeg.h"
#include "fastpng.h"

/* A 40x30 baseline JPEG, made once, without metadata. */
static unsigned char *base_jpeg;
static size_t base_len;

static int setup(void **state)
{
	(void)state;
	VipsImage *im = NULL;
	void *buf = NULL;
	if (vips_black(&im, 40, 30, "bands", 3, NULL) ||
	    vips_image_write_to_buffer(im, ".jpg[strip]", &buf, &base_len, NULL))
		return -1;
	g_object_unref(im);
	base_jpeg = buf;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	g_free(base_jpeg);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* Building EXIF                                                              */

typedef struct bytes {
	unsigned char b[512];
	size_t n;
} bytes;

static void put(bytes *o, const void *p, size_t n)
{
	assert_true(o->n + n <= sizeof o->b);
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put16(bytes *o, unsigned v, int le)
{
	unsigned char b[2] = {le ? v & 0xff : v >> 8, le ? v >> 8 : v & 0xff};
	put(o, b, 2);
}

static void put32(bytes *o, uint32_t v, int le)
{
	for (int i = 0; i < 4; i++)
		o->b[o->n + i] = (unsigned char)(le ? v >> (8 * i) : v >> (8 * (3 - i)));
	o->n += 4;
}

/* A TIFF structure whose IFD0 holds one entry: tag 0x0112 of type `type` with
 * `count` values; `value` is the entry's 4-byte field as raw bytes, or NULL for the
 * offset of `extra`, which follows the IFD (values too long for the field). */
static bytes tiff_with(int le, unsigned type, uint32_t count, const unsigned char value[4],
		       const unsigned char *extra, size_t nextra)
{
	bytes t = {{0}, 0};
	put(&t, le ? "II" : "MM", 2);
	put16(&t, 42, le);
	put32(&t, 8, le);
	put16(&t, 1, le);
	put16(&t, 0x0112, le);
	put16(&t, type, le);
	put32(&t, count, le);
	if (value)
		put(&t, value, 4);
	else
		put32(&t, 8 + 2 + 12 + 4, le);
	put32(&t, 0, le); /* no IFD1 */
	if (extra)
		put(&t, extra, nextra);
	return t;
}

/* A value field holding v as the first value of `size` bytes in that order. */
static void field(unsigned char f[4], uint32_t v, int size, int le)
{
	memset(f, 0, 4);
	for (int i = 0; i < size; i++)
		f[i] = (unsigned char)(le ? v >> (8 * i) : v >> (8 * (size - 1 - i)));
}

/* The base JPEG with these APP1 payloads right after SOI. */
static unsigned char *jpeg_with(const bytes *app1, int n, size_t *len)
{
	size_t total = base_len;
	for (int i = 0; i < n; i++)
		total += 4 + app1[i].n;
	unsigned char *j = malloc(total), *at = j;
	assert_non_null(j);
	memcpy(at, base_jpeg, 2);
	at += 2;
	for (int i = 0; i < n; i++) {
		at[0] = 0xff;
		at[1] = 0xe1;
		at[2] = (unsigned char)((app1[i].n + 2) >> 8);
		at[3] = (unsigned char)(app1[i].n + 2);
		memcpy(at + 4, app1[i].b, app1[i].n);
		at += 4 + app1[i].n;
	}
	memcpy(at, base_jpeg + 2, base_len - 2);
	*len = total;
	return j;
}

/* An APP1 payload: header ("Exif\0\0" or another) then the TIFF structure. */
static bytes app1_of(const char *hdr, size_t hlen, const bytes *tiff)
{
	bytes a = {{0}, 0};
	put(&a, hdr, hlen);
	if (tiff)
		put(&a, tiff->b, tiff->n);
	return a;
}

/* ------------------------------------------------------------------------- */
/* The checks                                                                 */

/* libvips' orientation of these JPEG bytes. */
static int libvips_orientation(const unsigned char *j, size_t len)
{
	VipsImage *im = vips_image_new_from_buffer(j, len, "", NULL);
	assert_non_null(im);
	int o = vips_image_get_orientation(im);
	g_object_unref(im);
	return o;
}

/* The fast path's orientation of these JPEG bytes. */
static int fast_orientation(const unsigned char *j, size_t len)
{
	unsigned char *copy = malloc(len); /* fastjpeg_open_bytes takes it */
	assert_non_null(copy);
	memcpy(copy, j, len);
	fastjpeg *fj;
	fastjpeg_info info;
	char why[256];
	assert_int_equal(fastjpeg_open_bytes(copy, len, &fj, &info, why, sizeof why), FASTJPEG_OK);
	int o = info.orientation;
	fastjpeg_close(fj);
	return o;
}

/* The fast path reads what libvips reads, which is `want` (0: whatever it is). */
static void same_as_libvips(const char *what, const bytes *app1, int n, int want)
{
	size_t len;
	unsigned char *j = jpeg_with(app1, n, &len);
	int vips = libvips_orientation(j, len), fast = fast_orientation(j, len);
	if (want && vips != want)
		fail_msg("%s: libvips reads %d, the case expects %d", what, vips, want);
	if (fast != vips)
		fail_msg("%s: the fast path reads %d, libvips %d", what, fast, vips);
	free(j);
}

/* Orientation 6 stored as every TIFF type, in both byte orders. libexif converts
 * the integer types to SHORT for libvips (a LONG truncated to 16 bits); others it
 * drops. */
static void test_every_type(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned type;
		int size, want;
	} types[] = {
		{"BYTE", 1, 1, 6}, {"SBYTE", 6, 1, 6}, {"SHORT", 3, 2, 6}, {"SSHORT", 8, 2, 6},
		{"LONG", 4, 4, 6}, {"SLONG", 9, 4, 6}, {"UNDEFINED", 7, 1, 1},
		{"FLOAT", 11, 4, 1},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		for (int le = 0; le <= 1; le++) {
			unsigned char f[4];
			field(f, 6, types[i].size, le);
			if (types[i].type == 11) /* 6.0f */
				field(f, 0x40c00000u, 4, le);
			bytes t = tiff_with(le, types[i].type, 1, f, NULL, 0);
			bytes a = app1_of("Exif\0\0", 6, &t);
			char what[64];
			snprintf(what, sizeof what, "%s %s", types[i].name, le ? "II" : "MM");
			same_as_libvips(what, &a, 1, types[i].want);
		}
}

/* One IFD0 entry for tag 0x0112, in one Exif block, read alike by both. */
static void one_entry(const char *what, int le, unsigned type, uint32_t count, uint32_t value,
		      int size, const unsigned char *extra, size_t nextra, int want)
{
	unsigned char f[4];
	field(f, value, size, le);
	bytes t = tiff_with(le, type, count, extra ? NULL : f, extra, nextra);
	bytes a = app1_of("Exif\0\0", 6, &t);
	same_as_libvips(what, &a, 1, want);
}

/* Values past the entry's field (at the offset it holds), out of range, wider
 * than 16 bits, negative, and no value. */
static void test_values(void **state)
{
	(void)state;
	/* LONG x2 and SHORT x3 and BYTE x5: the first value, stored after the IFD */
	static const unsigned char longs[8] = {6, 0, 0, 0, 3, 0, 0, 0};
	static const unsigned char shorts[6] = {6, 0, 3, 0, 3, 0};
	static const unsigned char bytes5[5] = {6, 3, 3, 3, 3};
	one_entry("LONG x2", 1, 4, 2, 0, 0, longs, sizeof longs, 6);
	one_entry("SHORT x3", 1, 3, 3, 0, 0, shorts, sizeof shorts, 6);
	one_entry("BYTE x5", 1, 1, 5, 0, 0, bytes5, sizeof bytes5, 6);
	one_entry("LONG x2 at an offset past the block", 1, 4, 2, 4000, 4, NULL, 0, 1);
	one_entry("LONG 0x10006", 1, 4, 1, 0x10006, 4, NULL, 0, 6);
	one_entry("SSHORT -6", 1, 8, 1, 0xfffa, 2, NULL, 0, 1);
	one_entry("SHORT x0", 1, 3, 0, 6, 2, NULL, 0, 1);
	for (unsigned v = 0; v <= 9; v++) {
		char what[32];
		snprintf(what, sizeof what, "SHORT %u", v);
		one_entry(what, 0, 3, 1, v, 2, NULL, 0, v >= 1 && v <= 8 ? (int)v : 1);
	}
}

/* libvips takes the orientation as the number the text of the entry begins
 * with (vips_exif_to_s(), atoi()): an ASCII "6", a RATIONAL's "6/1", an
 * SRATIONAL's "3/1"; 10 values or more print as libexif's complaint, so 1. The
 * fast path read integer types only and the first value of any count: such files
 * came out turned another way than through libvips (--keep-metadata). */
static void test_text_and_fractions(void **state)
{
	(void)state;
	static const unsigned char six[4] = {'6', 0, 0, 0}, six_ab[4] = {'6', 'a', 'b', 0};
	static const unsigned char spaced[8] = {' ', ' ', ' ', '7', 'x', 'y', 'z', 0};
	static const unsigned char r6_1[8] = {6, 0, 0, 0, 1, 0, 0, 0};
	static const unsigned char r12_2[8] = {12, 0, 0, 0, 2, 0, 0, 0};
	static const unsigned char s3_1[8] = {3, 0, 0, 0, 1, 0, 0, 0};
	static const unsigned char sm3_1[8] = {0xfd, 0xff, 0xff, 0xff, 1, 0, 0, 0};
	unsigned char twelve[24], nine[18];
	for (int i = 0; i < 12; i++) {
		twelve[2 * i] = 6;
		twelve[2 * i + 1] = 0;
	}
	memcpy(nine, twelve, sizeof nine);
	unsigned char f[4];
	memcpy(f, six, 4);
	bytes t = tiff_with(1, 2, 2, f, NULL, 0);
	bytes a = app1_of("Exif\0\0", 6, &t);
	same_as_libvips("ASCII \"6\"", &a, 1, 6);
	memcpy(f, six_ab, 4);
	t = tiff_with(1, 2, 4, f, NULL, 0);
	a = app1_of("Exif\0\0", 6, &t);
	same_as_libvips("ASCII \"6ab\"", &a, 1, 6);
	one_entry("ASCII \"   7xyz\" at an offset", 1, 2, 8, 0, 0, spaced, sizeof spaced, 7);
	one_entry("RATIONAL 6/1", 1, 5, 1, 0, 0, r6_1, sizeof r6_1, 6);
	one_entry("RATIONAL 12/2", 1, 5, 1, 0, 0, r12_2, sizeof r12_2, 1);
	one_entry("SRATIONAL 3/1", 1, 10, 1, 0, 0, s3_1, sizeof s3_1, 3);
	one_entry("SRATIONAL -3/1", 1, 10, 1, 0, 0, sm3_1, sizeof sm3_1, 1);
	one_entry("SHORT x12 of 6", 1, 3, 12, 0, 0, twelve, sizeof twelve, 1);
	one_entry("SHORT x9 of 6", 1, 3, 9, 0, 0, nine, sizeof nine, 6);
}

/* Two APP1 Exif blocks: the first is the file's EXIF (jpegload keeps it), with an
 * orientation, without one, or unreadable; a block not headed "Exif\0\0" is not
 * read but still counts as the first. */
static void test_first_exif_block(void **state)
{
	(void)state;
	unsigned char f6[4], f3[4];
	field(f6, 6, 2, 1);
	field(f3, 3, 2, 1);
	bytes t6 = tiff_with(1, 3, 1, f6, NULL, 0), t3 = tiff_with(1, 3, 1, f3, NULL, 0);
	bytes other = tiff_with(1, 7, 1, f6, NULL, 0); /* an entry libvips ignores */
	bytes junk = {{'X', 'X', '*', 0, 8, 0, 0, 0}, 8};
	bytes pairs[][2] = {
		{app1_of("Exif\0\0", 6, &t6), app1_of("Exif\0\0", 6, &t3)},
		{app1_of("Exif\0\0", 6, &t3), app1_of("Exif\0\0", 6, &t6)},
		{app1_of("Exif\0\0", 6, &other), app1_of("Exif\0\0", 6, &t6)},
		{app1_of("Exif\0\0", 6, &junk), app1_of("Exif\0\0", 6, &t6)},
		{app1_of("Exif\0\0", 6, NULL), app1_of("Exif\0\0", 6, &t6)},
		{app1_of("Exif\0\xff", 6, &t3), app1_of("Exif\0\0", 6, &t6)},
		{app1_of("Exif\0\0", 6, &t6), app1_of("Exif\0\0", 6, &junk)},
	};
	static const int want[] = {6, 3, 1, 1, 1, 1, 6};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		char what[32];
		snprintf(what, sizeof what, "two blocks, case %zu", i);
		same_as_libvips(what, pairs[i], 2, want[i]);
	}
	/* an XMP APP1 before the Exif one is not an Exif block */
	bytes xmp = app1_of("http://ns.adobe.com/xap/1.0/\0", 29, NULL);
	bytes xmp_then_6[2] = {xmp, app1_of("Exif\0\0", 6, &t6)};
	same_as_libvips("XMP, then Exif 6", xmp_then_6, 2, 6);
}

/* PNG's CRC-32 (ISO 3309), for the chunk made below. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

/* The PNG path reads the same tag from an eXIf chunk (the TIFF structure without
 * the "Exif\0\0" header), put here into a PNG libvips made, before its IDAT:
 * libvips would write its own SHORT if it wrote the chunk. */
static void test_png_exif(void **state)
{
	(void)state;
	unsigned char f[4];
	field(f, 6, 4, 0);
	bytes t = tiff_with(0, 9, 1, f, NULL, 0);
	VipsImage *im = NULL;
	void *png = NULL;
	size_t plen;
	assert_int_equal(vips_black(&im, 40, 30, "bands", 3, NULL), 0);
	assert_int_equal(vips_image_write_to_buffer(im, ".png[strip]", &png, &plen, NULL), 0);
	g_object_unref(im);
	unsigned char *idat = memmem(png, plen, "IDAT", 4);
	assert_non_null(idat);
	size_t head = (size_t)(idat - 4 - (unsigned char *)png);
	bytes chunk = {{0}, 0};
	put32(&chunk, (uint32_t)t.n, 0);
	put(&chunk, "eXIf", 4);
	put(&chunk, t.b, t.n);
	put32(&chunk, crc32_of(chunk.b + 4, 4 + t.n), 0);

	char path[] = "/tmp/test_exif-XXXXXX.png";
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	assert_true(write(fd, png, head) == (ssize_t)head);
	assert_true(write(fd, chunk.b, chunk.n) == (ssize_t)chunk.n);
	assert_true(write(fd, (char *)png + head, plen - head) == (ssize_t)(plen - head));
	close(fd);
	g_free(png);

	VipsImage *back = vips_image_new_from_file(path, NULL);
	assert_non_null(back);
	int vips = vips_image_get_orientation(back);
	g_object_unref(back);
	fastpng *p;
	fastpng_info info;
	char err[256];
	assert_int_equal(fastpng_open(path, 0, &p, &info, err, sizeof err), FASTPNG_OK);
	int fast = info.orientation;
	fastpng_close(p);
	unlink(path);
	assert_int_equal(vips, 6);
	assert_int_equal(fast, vips);
}

int main(void)
{
	if (VIPS_INIT("test_exif"))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_text_and_fractions),
		cmocka_unit_test(test_first_exif_block),
		cmocka_unit_test(test_png_exif),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	vips_shutdown();
	return rc;
}
