/* SPDX-License-Identifier: MIT */
/*
 * fastpng.c — libpng decoding into 8-bit rows. The contract is in fastpng.h;
 * this file is the how.
 *
 * The file is read with one read() and handed to libpng through a read callback
 * on the buffer. libpng reports errors and warnings through callbacks that
 * longjmp() back to the public call that started the work, with the message kept
 * in the handle. The transforms asked of libpng are libvips 8.14's (vipspng.c:
 * palette to RGB, tRNS to alpha, grey to 8 bits), plus png_set_strip_16() for
 * its RGB16 -> sRGB step (a cast with shift: v >> 8), so the samples are the
 * ones libvips resizes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>

#include "exif.h"
#include "fastpng.h"
#include "io.h"
#include "pnginflate.h"

/* libvips' limits (vipspng.c): VIPS_MAX_COORD a side, 50 MB a chunk, 100 chunks. */
#define MAX_SIDE 10000000
#define MAX_CHUNK_BYTES (50u << 20)
#define MAX_CHUNKS 100

/* Larger files are left to libvips (which streams them); an interlaced image is
 * held whole, so its decoded size is bounded too. */
#define MAX_FILE_BYTES ((size_t)1 << 30)
#define MAX_HELD_BYTES ((size_t)1 << 30)

struct fastpng {
	png_structp png;
	png_infop info;
	char msg[256];			/* libpng's last error or warning */
	unsigned char *data;		/* the whole file */
	size_t len, at;			/* its length, the read position */
	unsigned char *icc;
	size_t icc_len;
	int width, height, interlaced;
	size_t rowbytes;		/* width * bands */
	unsigned char *row;		/* one row (not interlaced) */
	unsigned char *image;		/* every row (interlaced), read at once */
	int next;			/* the next row to hand out */
	size_t raw_size;		/* the filtered rows' bytes (not interlaced) */
	pnginflate *inflated;		/* the IDAT data inflated (NULL: libpng's zlib) */
};

/* printf into the caller's error buffer (cut to errlen, always terminated). */
static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

/* libpng's errors and warnings: keep the message, jump back to the public call.
 * Warnings too: a file libpng complains about is libvips' to judge. */
static void on_error(png_structp png, png_const_charp msg)
{
	fastpng *p = png_get_error_ptr(png);

	snprintf(p->msg, sizeof p->msg, "libpng: %s", msg ? msg : "error");
	png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
	on_error(png, msg);
}

/* libpng's input: the next length bytes of the buffer, or its error. */
static void read_mem(png_structp png, png_bytep out, size_t length)
{
	fastpng *p = png_get_io_ptr(png);

	if (p->inflated) {
		if (pnginflate_read(p->inflated, out, length) < 0)
			png_error(png, "premature end of file");
		return;
	}
	if (length > p->len - p->at)
		png_error(png, "premature end of file");
	memcpy(out, p->data + p->at, length);
	p->at += length;
}



/* The profile and the orientation the chunks before the image data carry. An
 * eXIf chunk holds the TIFF structure; some writers put JPEG's "Exif\0\0" in
 * front, which libvips accepts too. */
static int read_metadata(fastpng *p, fastpng_info *info)
{
	png_charp name;
	png_bytep profile, exif;
	png_uint_32 plen, elen;
	int compression;

	info->orientation = 1;
	if (png_get_eXIf_1(p->png, p->info, &elen, &exif) && exif) {
		int o;

		if (elen >= 6 && memcmp(exif, "Exif\0\0", 6) == 0) {
			exif += 6;
			elen -= 6;
		}
		if ((o = exif_orientation(exif, elen)) > 0)
			info->orientation = o;
	}
	if (png_get_iCCP(p->png, p->info, &name, &compression, &profile, &plen) && plen) {
		if (!(p->icc = malloc(plen)))
			return -1;
		memcpy(p->icc, profile, plen);
		p->icc_len = plen;
	}
	info->icc = p->icc;
	info->icc_len = p->icc_len;
	return 0;
}

/* Header, limits and transforms. Runs under the caller's setjmp. */
static int parse_header(fastpng *p, uint64_t max_pixels, fastpng_info *info)
{
	png_uint_32 w, h;
	int depth, type, interlace, bands;
	int trns;

	png_read_info(p->png, p->info);
	png_get_IHDR(p->png, p->info, &w, &h, &depth, &type, &interlace, NULL, NULL);
	/* The filtered rows' bytes, as stored (before the transforms below change
	 * the row size): a filter byte + the packed samples a row (pnginflate.h);
	 * 0 (not taken) past what it holds. */
	uint64_t raw = (uint64_t)h * (1 + (uint64_t)png_get_rowbytes(p->png, p->info));

	p->raw_size = raw <= PNGINFLATE_MAX_BYTES ? (size_t)raw : 0;
	if (max_pixels && (uint64_t)w * h > max_pixels)
		return FASTPNG_UNSUPPORTED;
	trns = png_get_valid(p->png, p->info, PNG_INFO_tRNS) != 0;
	switch (type) {
	case PNG_COLOR_TYPE_PALETTE: bands = 3 + trns; break;
	case PNG_COLOR_TYPE_GRAY: bands = 1 + trns; break;
	case PNG_COLOR_TYPE_GRAY_ALPHA: bands = 2; break;
	case PNG_COLOR_TYPE_RGB: bands = 3 + trns; break;
	case PNG_COLOR_TYPE_RGB_ALPHA: bands = 4; break;
	default: return FASTPNG_UNSUPPORTED;
	}
	if (depth > 8 && bands <= 2)
		return FASTPNG_UNSUPPORTED;	/* GREY16: libvips' linear-light path */
	if (interlace != PNG_INTERLACE_NONE &&
	    (uint64_t)w * h * (uint64_t)bands > MAX_HELD_BYTES)
		return FASTPNG_UNSUPPORTED;
	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(p->png);
	if (trns)
		png_set_tRNS_to_alpha(p->png);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(p->png);
	if (depth > 8)
		png_set_strip_16(p->png);
	(void)png_set_interlace_handling(p->png);
	png_read_update_info(p->png, p->info);
	p->rowbytes = png_get_rowbytes(p->png, p->info);
	if (png_get_channels(p->png, p->info) != bands || png_get_bit_depth(p->png, p->info) != 8 ||
	    p->rowbytes != (size_t)w * (size_t)bands)
		return FASTPNG_UNSUPPORTED;	/* not the layout the transforms promise */
	if (read_metadata(p, info))
		return FASTPNG_ERROR;
	p->width = (int)w;
	p->height = (int)h;
	p->interlaced = interlace != PNG_INTERLACE_NONE;
	info->width = (int)w;
	info->height = (int)h;
	info->bands = bands;
	info->alpha = bands == 2 || bands == 4;
	return FASTPNG_OK;
}

int fastpng_open(const char *path, uint64_t max_pixels, fastpng **out, fastpng_info *info,
		 char *err, size_t errlen)
{
	fastpng *p = calloc(1, sizeof *p);
	int rc;

	*out = NULL;
	if (!p) {
		set_err(err, errlen, "out of memory");
		return FASTPNG_ERROR;
	}
	static const unsigned char sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	rc = io_read_signed_file(path, sig, sizeof sig, MAX_FILE_BYTES, &p->data, &p->len) == 0
		     ? FASTPNG_OK
		     : FASTPNG_UNSUPPORTED;
	if (rc != FASTPNG_OK) {
		fastpng_close(p);
		return rc;
	}
	p->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, p, on_error, on_warning);
	if (!p->png || !(p->info = png_create_info_struct(p->png))) {
		set_err(err, errlen, "out of memory");
		fastpng_close(p);
		return FASTPNG_ERROR;
	}
	if (setjmp(png_jmpbuf(p->png))) {
		set_err(err, errlen, p->msg);
		fastpng_close(p);
		return FASTPNG_ERROR;
	}
	/* libvips' option: a broken sRGB profile is no reason to refuse a file. */
	png_set_option(p->png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
	png_set_user_limits(p->png, MAX_SIDE, MAX_SIDE);
	png_set_chunk_malloc_max(p->png, MAX_CHUNK_BYTES);
	png_set_chunk_cache_max(p->png, MAX_CHUNKS);
	png_set_read_fn(p->png, p, read_mem);
	rc = parse_header(p, max_pixels, info);
	/* The image data inflated at once by libdeflate where it can be (not
	 * interlaced: one pass of rows); else, or on any fault, libpng's zlib reads
	 * the file as it is. */
	if (rc == FASTPNG_OK && !p->interlaced &&
	    (p->inflated = pnginflate_new(p->data, p->len, p->at, p->raw_size))) {
		/* libdeflate checked the stream's Adler-32; zlib need not again. */
		png_set_crc_action(p->png, PNG_CRC_QUIET_USE, PNG_CRC_NO_CHANGE);
		png_set_option(p->png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
	}
	if (rc != FASTPNG_OK) {
		if (rc == FASTPNG_ERROR)
			set_err(err, errlen, "out of memory");
		fastpng_close(p);
		return rc;
	}
	*out = p;
	return FASTPNG_OK;
}

int fastpng_read_row(fastpng *p, const unsigned char **row, char *err, size_t errlen)
{
	if (p->next >= p->height) {
		set_err(err, errlen, "no more rows");
		return FASTPNG_ERROR;
	}
	if (setjmp(png_jmpbuf(p->png))) {
		set_err(err, errlen, p->msg);
		p->next = p->height;	/* the stream is broken: no more rows */
		return FASTPNG_ERROR;
	}
	if (!p->interlaced) {
		if (!p->row && !(p->row = malloc(p->rowbytes)))
			goto no_memory;
		png_read_row(p->png, p->row, NULL);
		*row = p->row;
	} else {
		if (!p->image) {
			png_bytep *rows = malloc((size_t)p->height * sizeof *rows);

			if (!rows || !(p->image = malloc(p->rowbytes * (size_t)p->height))) {
				free(rows);
				goto no_memory;
			}
			for (int y = 0; y < p->height; y++)
				rows[y] = p->image + (size_t)y * p->rowbytes;
			/* rows must not leak on a longjmp: keep it until done. */
			p->row = (unsigned char *)rows;
			png_read_image(p->png, rows);
			free(rows);
			p->row = NULL;
		}
		*row = p->image + (size_t)p->next * p->rowbytes;
	}
	p->next++;
	return FASTPNG_OK;
no_memory:
	set_err(err, errlen, "out of memory");
	return FASTPNG_ERROR;
}

void fastpng_close(fastpng *p)
{
	if (!p)
		return;
	if (p->png)
		png_destroy_read_struct(&p->png, p->info ? &p->info : NULL, NULL);
	pnginflate_free(p->inflated);
	free(p->row);
	free(p->image);
	free(p->icc);
	free(p->data);
	free(p);
}
