/* SPDX-License-Identifier: MIT */
/*
 * test_pngcheck.c — the PNG header check (app/pngcheck.c): a chunk before the
 * image data that claims more bytes than the file has left is refused, naming
 * the chunk (libpng's crashers/huge_*_chunk.png are built here the same way);
 * a file cut short inside its image data, a file cut inside a chunk header, a
 * well-formed file, a file that is not a PNG, a FIFO and a missing file are left
 * to the decoders; a run of empty chunks stops at PNGCHECK_MAX_CHUNKS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pngcheck.h"

static char dir[] = "/tmp/test_pngcheck.XXXXXX";
static char path[PATH_MAX];

typedef struct buf {
	unsigned char b[64 * 1024];
	size_t n;
} buf;

static void put32(buf *f, uint32_t v)
{
	f->b[f->n++] = (unsigned char)(v >> 24);
	f->b[f->n++] = (unsigned char)(v >> 16);
	f->b[f->n++] = (unsigned char)(v >> 8);
	f->b[f->n++] = (unsigned char)v;
}

/* A chunk: its length field says claimed, body bytes of it follow, then a CRC
 * (not checked here: a wrong CRC is the decoders' to report). */
static void chunk(buf *f, const char *type, uint32_t claimed, size_t body)
{
	put32(f, claimed);
	memcpy(f->b + f->n, type, 4);
	f->n += 4;
	memset(f->b + f->n, 'x', body);
	f->n += body;
	put32(f, 0);
}

/* Signature and a 13-byte IHDR. */
static void head(buf *f)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

	memcpy(f->b, sig, sizeof sig);
	f->n = sizeof sig;
	chunk(f, "IHDR", 13, 13);
}

static int check(const buf *f, char *err, size_t errlen)
{
	FILE *o = fopen(path, "wb");

	assert_non_null(o);
	assert_int_equal(fwrite(f->b, 1, f->n, o), f->n);
	assert_int_equal(fclose(o), 0);
	err[0] = '\0';
	return pngcheck_file(path, err, errlen);
}

static void test_huge_header_chunks_refused(void **state)
{
	static const char *const types[] = {"tEXt", "iCCP", "zTXt", "PLTE", "eXIf", "juNK"};
	char err[256];
	buf *f = malloc(sizeof *f);

	(void)state;
	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		head(f);
		chunk(f, "gAMA", 4, 4);
		/* As libpng's crashers: the huge chunk's header, then only IEND. */
		put32(f, 0x3FFFFFFF);
		memcpy(f->b + f->n, types[i], 4);
		f->n += 4;
		chunk(f, "IEND", 0, 0);
		assert_int_equal(check(f, err, sizeof err), -1);
		assert_non_null(strstr(err, types[i]));
		assert_non_null(strstr(err, "claims 1073741823 bytes"));
		assert_non_null(strstr(err, "has 12 left"));
	}
	/* Over 2^31 - 1, and one byte short of fitting. */
	head(f);
	chunk(f, "tEXt", 0xFFFFFFF0u, 0);
	assert_int_equal(check(f, err, sizeof err), -1);
	head(f);
	chunk(f, "tEXt", 101, 100);
	assert_int_equal(check(f, err, sizeof err), -1);
	assert_non_null(strstr(err, "has 104 left"));
	/* Not letters: shown as '?', never raw bytes. */
	head(f);
	chunk(f, "t\nX\x01", 5000, 0);
	assert_int_equal(check(f, err, sizeof err), -1);
	assert_non_null(strstr(err, "t?X? chunk"));
	free(f);
}

static void test_left_to_decoders(void **state)
{
	char err[256];
	buf *f = malloc(sizeof *f);

	(void)state;
	/* Well formed, chunks before and after the image data. */
	head(f);
	chunk(f, "tEXt", 100, 100);
	chunk(f, "IDAT", 1000, 1000);
	chunk(f, "IEND", 0, 0);
	assert_int_equal(check(f, err, sizeof err), 0);
	/* Cut inside the image data: a truncated photo, --fail-on's to judge. */
	head(f);
	chunk(f, "IDAT", 1000000, 0);
	assert_int_equal(check(f, err, sizeof err), 0);
	/* The walk stops at the first IDAT: later chunks are read as rows come. */
	head(f);
	chunk(f, "IDAT", 10, 10);
	chunk(f, "tEXt", 0x3FFFFFFF, 0);
	assert_int_equal(check(f, err, sizeof err), 0);
	/* Ends inside a chunk header, or with no IDAT at all. */
	head(f);
	put32(f, 5);
	assert_int_equal(check(f, err, sizeof err), 0);
	head(f);
	assert_int_equal(check(f, err, sizeof err), 0);
	/* Not a PNG (a JPEG's first bytes with the same lengths after them). */
	head(f);
	f->b[0] = 0xFF;
	f->b[1] = 0xD8;
	chunk(f, "tEXt", 0x3FFFFFFF, 0);
	assert_int_equal(check(f, err, sizeof err), 0);
	/* A run of empty chunks ends the walk, unjudged, before the huge one:
	 * IHDR, 1000 empty chunks, then it (the 1002nd). */
	head(f);
	for (int i = 0; i < PNGCHECK_MAX_CHUNKS; i++)
		chunk(f, "juNK", 0, 0);
	chunk(f, "tEXt", 0x3FFFFFFF, 0);
	assert_int_equal(check(f, err, sizeof err), 0);
	assert_string_equal(err, "");
	/* Two empty chunks fewer (and it, 12 bytes too): now it is the 1000th. */
	f->n -= 12 * 3;
	chunk(f, "tEXt", 0x3FFFFFFF, 0);
	assert_int_equal(check(f, err, sizeof err), -1);
	assert_non_null(strstr(err, "tEXt chunk"));
	free(f);
}

static void test_not_files(void **state)
{
	char err[64] = "";
	char fifo[PATH_MAX];

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/fifo.png", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(pngcheck_file(fifo, err, sizeof err), 0);	/* no block */
	unlink(fifo);
	assert_int_equal(pngcheck_file("/nonexistent/x.png", err, sizeof err), 0);
	assert_int_equal(pngcheck_file(dir, err, sizeof err), 0);
	assert_string_equal(err, "");
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/f.png", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_header_chunks_refused),
		cmocka_unit_test(test_left_to_decoders),
		cmocka_unit_test(test_not_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
