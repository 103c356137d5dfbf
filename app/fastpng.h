/* SPDX-License-Identifier: MIT */
/*
 * fastpng.h — decode a PNG file with libpng into 8-bit rows, the way libvips 8.14's
 * pngload (libpng build) and vips_thumbnail()'s first colour step leave it, for the
 * worker's PNG path (pngmaster.c).
 *
 * What comes out, row by row, top to bottom, bands interleaved:
 *   - grey (1 band), grey + alpha (2), RGB (3) or RGBA (4), 8 bits a sample;
 *   - palette images expanded to RGB, a tRNS chunk to an alpha band (RGBA, grey +
 *     alpha), grey of 1, 2 or 4 bits to 8 (0..255): libvips' own libpng
 *     transforms, so the same samples;
 *   - 16-bit RGB(A) and 16-bit alpha shifted down to 8 bits (v >> 8), as
 *     vips_colourspace() takes RGB16 to sRGB before vips_thumbnail() resizes;
 *     16-bit grey goes to libvips through linear light there, so it is not
 *     taken here (FASTPNG_UNSUPPORTED);
 *   - interlaced files too (decoded whole on the first row asked for);
 *   - gAMA, cHRM, sRGB and bKGD are ignored, as libvips ignores them; the iCCP
 *     profile and the eXIf orientation are handed to the caller to act on.
 * Limits, checked before any pixel memory is allocated: png_set_user_limits()
 * (libvips' VIPS_MAX_COORD a side), libvips' chunk limits (50 MB a chunk, 100
 * chunks), the caller's pixel limit (--max-pixels), and a decoded size the fast
 * path is willing to hold (interlaced files are held whole).
 * The image data of a file that is not interlaced is inflated by libdeflate
 * (pnginflate.h) and read back by libpng uncompressed: the same rows, faster.
 * Strict: any libpng error or warning (CRC, truncation, bad zlib data, a broken
 * ancillary chunk) fails the file; the caller then leaves it to libvips, whose
 * message is the one users see. The zlib checksum (Adler-32) is verified, where
 * libvips ignores it: a file that fails it goes to libvips, and at --fail-on
 * error or warning the caller fails it (pngcheck_image_data()).
 *
 * Errors: FASTPNG_OK (0), FASTPNG_UNSUPPORTED (1: not a PNG, or one this decoder
 * leaves to libvips: over a limit, 16-bit grey) or FASTPNG_ERROR (-1: bad data or
 * no memory; a one-line cause in err). The handle owns everything it returns.
 * Worker-only.
 */
#ifndef IMGPOOL_FASTPNG_H
#define IMGPOOL_FASTPNG_H

#include <stddef.h>
#include <stdint.h>

#define FASTPNG_OK 0
#define FASTPNG_UNSUPPORTED 1
#define FASTPNG_ERROR (-1)

typedef struct fastpng fastpng;	/* opaque: one open file */

typedef struct fastpng_info {
	int width, height;		/* as stored, before the EXIF orientation */
	int bands;			/* 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA */
	int alpha;			/* the last band is alpha */
	int orientation;		/* eXIf orientation 1..8; 1 when absent */
	const unsigned char *icc;	/* iCCP profile (the handle's), or NULL */
	size_t icc_len;
} fastpng_info;

/* Read path into memory and parse the PNG header (signature, IHDR and the chunks
 * before the first IDAT). max_pixels: width x height above it is
 * FASTPNG_UNSUPPORTED (0: no limit). On FASTPNG_OK *p is a new handle. */
int fastpng_open(const char *path, uint64_t max_pixels, fastpng **p, fastpng_info *info,
		 char *err, size_t errlen);

/* The next row (0, 1, ... height - 1), width * bands bytes, valid until the next
 * call; FASTPNG_ERROR at the first damaged one. */
int fastpng_read_row(fastpng *p, const unsigned char **row, char *err, size_t errlen);

/* Free the handle and everything it returned. NULL is a no-op. */
void fastpng_close(fastpng *p);

#endif
