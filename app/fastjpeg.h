/* SPDX-License-Identifier: MIT */
/*
 * fastjpeg.h — decode a JPEG file with libjpeg-turbo straight into 8-bit memory,
 * DCT-scaled on load, for the worker's fast path (thumb.c).
 *
 * Covers exactly what the fast path needs and says "not mine" for the rest, so the
 * caller can hand those files to libvips unchanged:
 *   - 8-bit baseline, extended or progressive JPEGs whose colour space decodes to
 *     RGB (YCbCr or RGB), grey, or CMYK (CMYK or YCCK). CMYK comes as stored:
 *     inverted, 255 meaning no ink, as Adobe writes it and as libvips' jpegload
 *     reads every CMYK JPEG (it inverts them all). Anything else is unsupported.
 *   - The EXIF orientation (IFD0 tag 0x0112) and the embedded ICC profile are read
 *     from the saved APP1/APP2 markers, the way libvips' jpegload reads them, so
 *     the caller can rotate and colour manage exactly as libvips would.
 *   - Decoding scales by M/8 (M = 1..8) in the DCT domain (libjpeg's scale_num /
 *     scale_denom), and the result is floor(width * M / 8) x floor(height * M / 8):
 *     for M = 4, 2, 1 the size libvips' jpegload gives for shrink 2, 4, 8 (libjpeg
 *     rounds up and pads the last partial pixel).
 *   - Progressive files at a scale where a component's IDCT is 1x1 (1/8: all of
 *     grey, 4:4:4 and 4:2:2, the luma of 4:2:0) are decoded from their DC scans
 *     for that component (jpegscan.h): the same pixels as a full decode, but
 *     damage confined to the skipped AC data is not detected at that scale.
 *   - Strict: any libjpeg warning (corrupt data, premature end of file, extraneous
 *     bytes) fails the decode, as libvips' fail_on=warning does. A failure here
 *     is not a verdict on the file: the caller retries with libvips, whose message
 *     is the one users see.
 * The parent never calls this: it is the worker's, like the rest of thumb.c.
 *
 * Errors: functions returning int give FASTJPEG_OK (0), FASTJPEG_UNSUPPORTED (1:
 * not a JPEG this decoder takes, nothing is wrong) or FASTJPEG_ERROR (-1: the data
 * is bad or memory ran out; a one-line cause is in err). The handle owns all
 * memory it returns (profile, pixels) until fastjpeg_close().
 */
#ifndef IMGPOOL_FASTJPEG_H
#define IMGPOOL_FASTJPEG_H

#include <stddef.h>

/* What a file must start with to be opened here: SOI and the next marker's 0xFF
 * (anything else is libvips' to judge), and at most how large it may be (it is
 * held whole; larger ones are left to libvips, which streams them). */
#define FASTJPEG_SIGNATURE ((const unsigned char *)"\xFF\xD8\xFF")
#define FASTJPEG_SIGNATURE_LEN 3
#define FASTJPEG_MAX_FILE_BYTES ((size_t)1 << 30)

#define FASTJPEG_OK 0
#define FASTJPEG_UNSUPPORTED 1
#define FASTJPEG_ERROR (-1)

typedef struct fastjpeg fastjpeg;	/* opaque: one open file */

typedef struct fastjpeg_info {
	int width, height;		/* as stored, before the EXIF orientation */
	int bands;			/* 3 (RGB), 1 (grey) or 4 (inverted CMYK) */
	int orientation;		/* EXIF orientation 1..8; 1 when absent or invalid */
	const unsigned char *icc;	/* embedded ICC profile (the handle's), or NULL */
	size_t icc_len;
} fastjpeg_info;

/* Read path into memory and parse its header (no pixel is decoded). On
 * FASTJPEG_OK *j is a new handle and *info describes the image; otherwise *j is
 * NULL. A file that does not start with a JPEG signature is FASTJPEG_UNSUPPORTED. */
int fastjpeg_open(const char *path, fastjpeg **j, fastjpeg_info *info,
		  char *err, size_t errlen);

/* fastjpeg_open() of a file already read whole: len bytes at data, a malloc'd
 * buffer the handle takes (freed with it, or at once when this fails; the
 * decoder may rewrite it in place). */
int fastjpeg_open_bytes(unsigned char *data, size_t len, fastjpeg **j, fastjpeg_info *info,
			char *err, size_t errlen);

/* Decode the whole image at eighths/8 of its size (eighths 1..8) into 8-bit
 * pixels, bands interleaved, rows packed (stride w * bands). *pixels belongs to
 * the handle. Once per handle. */
int fastjpeg_decode(fastjpeg *j, int eighths, unsigned char **pixels, int *w, int *h,
		    char *err, size_t errlen);

/* After fastjpeg_decode() gave FASTJPEG_ERROR: 1 when it came from one of
 * libjpeg's warnings of corrupt data (a bad Huffman code, bytes out of place): the
 * file is damaged, as libvips' fail_on=warning fails it (which reads otherwise and
 * may not see it); 0 for an error, or data cut short (which libvips sees). */
int fastjpeg_damaged(const fastjpeg *j);

/* After fastjpeg_decode(): end the decode, freeing libjpeg's state (a progressive
 * image's coefficients). check FASTJPEG_CHECK_END: first decode the rest of the
 * image (the rows past the last whole scaled pixel), failing only where the data
 * runs out there (--fail-on truncated and error: libvips reads those rows, and a
 * file cut in its last one was "ok"). FASTJPEG_CHECK_ALL: the same, any warning
 * failing, then read on to its EOI marker, as jpeg_finish_decompress() does, to
 * see damage there that the pixels decoded so far do not show: bytes before the
 * EOI that belong to no block (a chunk inserted or repeated, or data that decoded
 * out of step). Zero bytes before the EOI, or no EOI, after data that is whole are
 * padding, not damage.
 * FASTJPEG_OK, or FASTJPEG_ERROR with libjpeg's warning in err;
 * FASTJPEG_UNSUPPORTED without a decode to end, or without memory for the check
 * (the decode is ended all the same). Bytes after the EOI are never read. Once,
 * after a decode. */
enum { FASTJPEG_CHECK_NONE = 0, FASTJPEG_CHECK_END = 1, FASTJPEG_CHECK_ALL = 2 };
int fastjpeg_finish(fastjpeg *j, int check, char *err, size_t errlen);

/* Encode 8-bit pixels (bands 3: RGB, 1: grey; rows packed, stride w * bands) as
 * a baseline JPEG of the given quality (1..100) exactly as libvips' jpegsave does
 * with strip set (no JFIF or other marker, standard Huffman tables, chroma 4:2:0
 * below quality 90, 4:4:4 from 90), into a new malloc'd buffer (free() it).
 * Returns FASTJPEG_OK, FASTJPEG_UNSUPPORTED (other band counts) or
 * FASTJPEG_ERROR with a cause in err. */
int fastjpeg_encode(const unsigned char *pixels, int w, int h, int bands, int quality,
		    unsigned char **out, size_t *len, char *err, size_t errlen);

/* Free the handle and everything it returned. NULL is a no-op. */
void fastjpeg_close(fastjpeg *j);

#endif
