/* SPDX-License-Identifier: MIT */
/*
 * test_costguess.c — the look-ahead window's key (app/costguess.c): the frame
 * size (and whether it is progressive) is found past APPn segments and fill
 * bytes, in every SOF kind; what is
 * not a JPEG, has its scan first, runs short, or hides the frame past
 * COSTGUESS_MAX_SEGMENTS segments gives no frame (and then the guess is the
 * bytes); on real files the guess is the bytes (weighted when progressive) plus
 * the pixels' share, and the
 * corpus's large white JPEG (few bytes, many pixels) comes out above its
 * 12 MP photos, the case that made bytes alone wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "costguess.h"

typedef struct mem {
	const unsigned char *p;
	size_t len;
	int reads;
} mem;

static int read_mem(void *ctx, uint64_t off, unsigned char *buf, size_t n)
{
	mem *m = ctx;

	m->reads++;
	if (off > m->len || n > m->len - off)
		return 0;
	memcpy(buf, m->p + off, n);
	return 1;
}

/* A JPEG head: SOI, `apps` APP1 segments of 300 bytes, `fills` fill bytes, DQT,
 * then marker sof with w x h (no scan data: the walker stops at the frame). */
static size_t make_head(unsigned char *b, int apps, int fills, unsigned char sof, unsigned w,
			unsigned h)
{
	size_t n = 0;

	b[n++] = 0xFF;
	b[n++] = 0xD8;
	for (int i = 0; i < apps; i++) {
		b[n++] = 0xFF;
		b[n++] = 0xE1;
		b[n++] = 300 >> 8;
		b[n++] = 300 & 0xFF;
		memset(b + n, 'e', 298);
		n += 298;
	}
	for (int i = 0; i < fills; i++)
		b[n++] = 0xFF;
	static const unsigned char dqt[] = { 0xFF, 0xDB, 0x00, 0x43 };
	memcpy(b + n, dqt, sizeof dqt);
	n += sizeof dqt;
	memset(b + n, 1, 0x41);
	n += 0x41;
	unsigned char frame[] = { 0xFF, sof, 0x00, 0x11, 8, (unsigned char)(h >> 8),
				  (unsigned char)h, (unsigned char)(w >> 8), (unsigned char)w, 3,
				  1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1 };
	memcpy(b + n, frame, sizeof frame);
	return n + sizeof frame;
}

static int last_progressive;

static int frame_of(const unsigned char *b, size_t len, unsigned *w, unsigned *h)
{
	mem m = {b, len, 0};

	last_progressive = -1;
	return costguess_jpeg_frame(read_mem, &m, w, h, &last_progressive);
}

static void test_finds_the_frame(void **state)
{
	static unsigned char b[20000];
	static const unsigned char sofs[] = { 0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9,
					      0xCA, 0xCB, 0xCD, 0xCE, 0xCF };
	unsigned w = 0, h = 0;

	(void)state;
	for (size_t i = 0; i < sizeof sofs; i++) {
		size_t n = make_head(b, 3, 2, sofs[i], 6720, 4480);

		assert_int_equal(frame_of(b, n, &w, &h), 1);
		assert_int_equal(w, 6720);
		assert_int_equal(h, 4480);
		assert_int_equal(last_progressive, (sofs[i] & 3) == 2);
	}
	/* DHT, JPG and DAC are not frames: a "frame" of those is no frame. */
	size_t n = make_head(b, 0, 0, 0xC4, 100, 100);
	assert_int_equal(frame_of(b, n, &w, &h), 0);
	/* As many segments as allowed before the frame, and one more. */
	n = make_head(b, COSTGUESS_MAX_SEGMENTS - 2, 0, 0xC0, 640, 480);
	assert_int_equal(frame_of(b, n, &w, &h), 1);
	n = make_head(b, COSTGUESS_MAX_SEGMENTS - 1, 0, 0xC0, 640, 480);
	assert_int_equal(frame_of(b, n, &w, &h), 0);
}

static void test_no_frame(void **state)
{
	static unsigned char b[4096];
	unsigned w, h;
	size_t n = make_head(b, 1, 0, 0xC0, 640, 480);

	(void)state;
	/* Every truncation before the frame's sizes (its last 10 bytes, the
	 * component specs, are not read). */
	for (size_t cut = 0; cut < n - 10; cut++)
		assert_int_equal(frame_of(b, cut, &w, &h), 0);
	assert_int_equal(frame_of(b, n, &w, &h), 1);
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', 13, 10, 26, 10 };
	assert_int_equal(frame_of(png, sizeof png, &w, &h), 0);
	static const unsigned char scan_first[] = { 0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0 };
	assert_int_equal(frame_of(scan_first, sizeof scan_first, &w, &h), 0);
	static const unsigned char garbage[] = { 0xFF, 0xD8, 0x12, 0x34, 0x00, 0x08 };
	assert_int_equal(frame_of(garbage, sizeof garbage, &w, &h), 0);
	static const unsigned char zero_len[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00, 0xFF, 0xC0 };
	assert_int_equal(frame_of(zero_len, sizeof zero_len, &w, &h), 0);
	n = make_head(b, 0, 0, 0xC0, 0, 480);	/* a zero width is no frame */
	assert_int_equal(frame_of(b, n, &w, &h), 0);
}

static void test_guess_on_files(void **state)
{
	static unsigned char b[4096];
	char dir[] = "/tmp/test_costguess.XXXXXX", path[64];
	size_t n = make_head(b, 2, 0, 0xC2, 1000, 500);
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/a.jpg", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
	/* SOF2: progressive. */
	assert_int_equal(costguess(path, n), n * COSTGUESS_PROGRESSIVE_BYTE_COST +
					     1000ull * 500 * COSTGUESS_PIXEL_COST_PERCENT / 100);
	n = make_head(b, 2, 0, 0xC0, 1000, 500);	/* SOF0: baseline */
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
	assert_int_equal(costguess(path, n), n + 1000ull * 500 * COSTGUESS_PIXEL_COST_PERCENT / 100);
	snprintf(path, sizeof path, "%s/b.png", dir);	/* not a JPEG: its bytes */
	assert_non_null(f = fopen(path, "wb"));
	fputs("\x89PNG\r\n\x1a\n", f);
	fclose(f);
	assert_int_equal(costguess(path, 12345), 12345);
	unlink(path);
	snprintf(path, sizeof path, "%s/a.jpg", dir);
	unlink(path);
	assert_int_equal(costguess(path, 77), 77);	/* gone since the walk */
	snprintf(path, sizeof path, "%s/fifo.jpg", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(costguess(path, 5), 5);	/* no hang, no frame */
	unlink(path);
	rmdir(dir);
}

/* The corpus's white 6720 x 4480 JPEG against its 12 MP photos. */
static void test_corpus_white_sky(void **state)
{
	const char *corpus = getenv("IMGPOOL_CORPUS");
	char white[4096], photo[4096];
	struct stat sw, sp;

	(void)state;
	if (!corpus)
		skip();
	snprintf(white, sizeof white, "%s/6720px_white.jpg", corpus);
	snprintf(photo, sizeof photo, "%s/orientation-90.jpg", corpus);
	if (stat(white, &sw) < 0 || stat(photo, &sp) < 0)
		skip();
	assert_true((uint64_t)sw.st_size < (uint64_t)sp.st_size);	/* bytes say: later */
	assert_true(costguess(white, (uint64_t)sw.st_size) > costguess(photo, (uint64_t)sp.st_size));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_the_frame),
		cmocka_unit_test(test_no_frame),
		cmocka_unit_test(test_guess_on_files),
		cmocka_unit_test(test_corpus_white_sky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
