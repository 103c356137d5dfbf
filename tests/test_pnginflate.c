/* SPDX-License-Identifier: MIT */
/*
 * test_pnginflate.c — the PNG image data inflated by libdeflate and handed back
 * to libpng (app/pnginflate.c): the rows libpng reads through it are the rows
 * it reads from the file itself, for one IDAT chunk or many, small and empty
 * ones, every colour type and depth, an image of one row and one of over 64 KiB
 * of data (several stored blocks, and the first chunk's cut inside one); and it
 * declines, changing nothing, every file it cannot take whole: a bad CRC, bad
 * zlib data, a wrong size, data after the zlib stream, a wrong offset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <libdeflate.h>

#include "pnginflate.h"

typedef struct membuf {
	unsigned char *p;
	size_t len, cap, at;
	pnginflate *z;
} membuf;

static void write_mem(png_structp png, png_bytep d, size_t n)
{
	membuf *m = png_get_io_ptr(png);

	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->p = realloc(m->p, m->cap);
		assert_non_null(m->p);
	}
	memcpy(m->p + m->len, d, n);
	m->len += n;
}

static void flush_mem(png_structp png)
{
	(void)png;
}

/* Samples a pixel of a colour type, as stored (palette: one index). */
static int channels(int type)
{
	return type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : type == PNG_COLOR_TYPE_RGB ? 3
	       : type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
}

/* A w x h PNG of colour type and depth, IDAT chunks of about chunk bytes. */
static membuf make_png(int w, int h, int type, int depth, size_t chunk, int level)
{
	membuf m = {0};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	size_t rowbytes = ((size_t)w * channels(type) * depth + 7) / 8;
	unsigned char *row = malloc(rowbytes);

	assert_int_equal(setjmp(png_jmpbuf(png)), 0);
	png_set_write_fn(png, &m, write_mem, flush_mem);
	png_set_compression_buffer_size(png, chunk);
	png_set_compression_level(png, level);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (type == PNG_COLOR_TYPE_PALETTE) {
		png_color pal[256];

		for (int i = 0; i < 256; i++)
			pal[i] = (png_color){(png_byte)i, (png_byte)(255 - i), (png_byte)(i * 7)};
		png_set_PLTE(png, info, pal, 1 << depth);
	}
	png_write_info(png, info);
	srand((unsigned)(w * 7 + h));
	for (int y = 0; y < h; y++) {
		for (size_t x = 0; x < rowbytes; x++)	/* smooth with noise: every filter */
			row[x] = (unsigned char)((x * 3 + (size_t)y * 5) / 4 + (rand() & 7));
		png_write_row(png, row);
	}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(row);
	return m;
}

static void read_cb(png_structp png, png_bytep out, size_t n)
{
	membuf *m = png_get_io_ptr(png);

	if (m->z) {
		if (pnginflate_read(m->z, out, n) < 0)
			png_error(png, "end of the rewritten stream");
		return;
	}
	if (n > m->len - m->at)
		png_error(png, "end of file");
	memcpy(out, m->p + m->at, n);
	m->at += n;
}

/* Every row of the PNG in m, as libpng reads it: through pnginflate when via
 * (which must then take the file), else from the bytes. Returns the rows,
 * packed, *size bytes; *took: whether pnginflate took it. */
static unsigned char *read_rows(membuf *m, int via, int *took, size_t *size)
{
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	unsigned char *volatile rows = NULL;

	m->at = 0;
	m->z = NULL;
	*took = 0;
	assert_int_equal(setjmp(png_jmpbuf(png)), 0);
	png_set_read_fn(png, m, read_cb);
	png_read_info(png, info);
	png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
	size_t rb = png_get_rowbytes(png, info);
	size_t raw = (size_t)h * (1 + rb);

	if (via) {
		m->z = pnginflate_new(m->p, m->len, m->at, raw);
		assert_non_null(m->z);
		*took = 1;
		png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_NO_CHANGE);
	}
	rows = calloc(h, rb);	/* libpng leaves the pad bits of a row's last byte */
	for (png_uint_32 y = 0; y < h; y++)
		png_read_row(png, rows + rb * y, NULL);
	*size = rb * h;
	png_read_end(png, NULL);
	(void)w;
	png_destroy_read_struct(&png, &info, NULL);
	pnginflate_free(m->z);
	m->z = NULL;
	return rows;
}

static void same_rows(int w, int h, int type, int depth, size_t chunk, int level)
{
	membuf m = make_png(w, h, type, depth, chunk, level);
	int took;
	size_t nwant, ngot;
	unsigned char *want = read_rows(&m, 0, &took, &nwant), *got = read_rows(&m, 1, &took, &ngot);

	assert_int_equal(took, 1);
	assert_int_equal(ngot, nwant);
	assert_int_equal(nwant, (size_t)h * (((size_t)w * channels(type) * depth + 7) / 8));
	if (memcmp(got, want, nwant))
		print_error("%dx%d type %d depth %d chunk %zu level %d: rows differ\n", w, h,
			    type, depth, chunk, level);
	assert_memory_equal(got, want, nwant);
	free(want);
	free(got);
	free(m.p);
}

static void test_rows_as_libpng_reads_them(void **state)
{
	(void)state;
	same_rows(300, 200, PNG_COLOR_TYPE_RGB_ALPHA, 8, 8192, 6);	/* many chunks */
	same_rows(300, 200, PNG_COLOR_TYPE_RGB_ALPHA, 8, 1 << 20, 6);	/* one chunk */
	same_rows(300, 200, PNG_COLOR_TYPE_RGB, 16, 1000, 9);
	same_rows(97, 61, PNG_COLOR_TYPE_GRAY, 1, 64, 6);		/* tiny chunks */
	same_rows(97, 61, PNG_COLOR_TYPE_GRAY, 4, 4096, 0);		/* stored input */
	same_rows(97, 61, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 4096, 1);
	same_rows(97, 61, PNG_COLOR_TYPE_PALETTE, 8, 4096, 6);
	same_rows(97, 61, PNG_COLOR_TYPE_PALETTE, 2, 4096, 6);
	same_rows(5000, 1, PNG_COLOR_TYPE_RGB, 8, 8192, 6);		/* one row */
	same_rows(1, 3000, PNG_COLOR_TYPE_GRAY, 8, 8192, 6);
	same_rows(400, 300, PNG_COLOR_TYPE_RGB_ALPHA, 16, 100000, 1);	/* ~1 MB: 15 blocks */
}

/* Offset of the first IDAT chunk's length field. */
static size_t first_idat(const membuf *m)
{
	for (size_t pos = 8; pos + 8 <= m->len;) {
		uint32_t n = (uint32_t)m->p[pos] << 24 | (uint32_t)m->p[pos + 1] << 16 |
			     (uint32_t)m->p[pos + 2] << 8 | m->p[pos + 3];

		if (memcmp(m->p + pos + 4, "IDAT", 4) == 0)
			return pos;
		pos += 12 + n;
	}
	fail();
	return 0;
}

static void set_crc(membuf *m, size_t pos)
{
	uint32_t n = (uint32_t)m->p[pos] << 24 | (uint32_t)m->p[pos + 1] << 16 |
		     (uint32_t)m->p[pos + 2] << 8 | m->p[pos + 3];
	uint32_t c = libdeflate_crc32(0, m->p + pos + 4, (size_t)n + 4);
	unsigned char *q = m->p + pos + 8 + n;

	q[0] = (unsigned char)(c >> 24);
	q[1] = (unsigned char)(c >> 16);
	q[2] = (unsigned char)(c >> 8);
	q[3] = (unsigned char)c;
}

static void test_declines(void **state)
{
	membuf m = make_png(64, 64, PNG_COLOR_TYPE_RGB, 8, 1 << 20, 6);
	size_t at = first_idat(&m), raw = 64 * (1 + 64 * 3);
	uint32_t n = (uint32_t)m.p[at + 2] << 8 | m.p[at + 3];
	pnginflate *z;

	(void)state;
	assert_non_null(z = pnginflate_new(m.p, m.len, at + 8, raw));
	pnginflate_free(z);
	assert_null(pnginflate_new(m.p, m.len, at + 8, raw - 1));	/* sizes that differ */
	assert_null(pnginflate_new(m.p, m.len, at + 8, raw + 1));
	assert_null(pnginflate_new(m.p, m.len, at + 8, 0));
	assert_null(pnginflate_new(m.p, m.len, at + 8, PNGINFLATE_MAX_BYTES + 1));
	assert_null(pnginflate_new(m.p, m.len, at + 4, raw));	/* not past an IDAT header */
	assert_null(pnginflate_new(m.p, m.len, m.len + 1, raw));
	m.p[at + 8 + n] ^= 0x01;		/* a bad CRC over good data */
	assert_null(pnginflate_new(m.p, m.len, at + 8, raw));
	m.p[at + 8 + n] ^= 0x01;
	m.p[at + 8 + n / 2] ^= 0x55;		/* bad data under its old CRC */
	assert_null(pnginflate_new(m.p, m.len, at + 8, raw));
	set_crc(&m, at);						/* bad zlib data */
	assert_null(pnginflate_new(m.p, m.len, at + 8, raw));
	pnginflate_free(NULL);
	free(m.p);
}

/* Data after the zlib stream's end, in a chunk of its own: libpng warns
 * ("extra compressed data"), so this must be left to it. */
static void test_declines_trailing_data(void **state)
{
	membuf m = make_png(64, 64, PNG_COLOR_TYPE_GRAY, 8, 1 << 20, 6);
	size_t at = first_idat(&m), raw = 64 * 65;
	uint32_t n = (uint32_t)m.p[at + 2] << 8 | m.p[at + 3];
	size_t after = at + 12 + n;
	unsigned char extra[16] = {0, 0, 0, 4, 'I', 'D', 'A', 'T', 1, 2, 3, 4};
	unsigned char *q = malloc(m.len + 16);

	(void)state;
	memcpy(q, m.p, after);
	memcpy(q + after, extra, 12);
	memcpy(q + after + 16, m.p + after, m.len - after);
	free(m.p);
	m.p = q;
	m.len += 16;
	set_crc(&m, after);
	assert_null(pnginflate_new(m.p, m.len, at + 8, raw));
	free(m.p);
}

/* Reading past the end is refused and consumes nothing. */
static void test_read_past_end(void **state)
{
	membuf m = make_png(8, 8, PNG_COLOR_TYPE_GRAY, 8, 1 << 20, 6);
	size_t at = first_idat(&m);
	pnginflate *z = pnginflate_new(m.p, m.len, at + 8, 8 * 9);
	unsigned char buf[4096];
	size_t total = 0;

	(void)state;
	assert_non_null(z);
	while (pnginflate_read(z, buf, 1) == 0)
		total++;
	assert_true(total > 8 * 9);
	assert_int_equal(pnginflate_read(z, buf, 1), -1);
	pnginflate_free(z);
	z = pnginflate_new(m.p, m.len, at + 8, 8 * 9);
	assert_int_equal(pnginflate_read(z, buf, total + 1), -1);
	assert_int_equal(pnginflate_read(z, buf, total), 0);
	pnginflate_free(z);
	free(m.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_as_libpng_reads_them),
		cmocka_unit_test(test_declines),
		cmocka_unit_test(test_declines_trailing_data),
		cmocka_unit_test(test_read_past_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
