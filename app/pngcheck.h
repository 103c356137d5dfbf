/* SPDX-License-Identifier: MIT */
/*
 * pngcheck.h — refuse a PNG file whose chunks before the image data run past its
 * end, before any decoder sees it.
 *
 * Why: libpng reads each chunk before the image data (text, profile, palette,
 * ...) into a buffer of the size the chunk claims, allocated and cleared before
 * a byte of it is read. libpng's own test file crashers/huge_tEXt_chunk.png, 57
 * bytes claiming a 1 GiB tEXt chunk, made libvips' loader take 1 GiB and 1.6 s
 * of a worker to say "not enough data" (as it does in vipsheader); a folder of
 * such files would have every worker do so at once. No decoder can read such a
 * file at any --fail-on level (libpng reads every chunk before the first IDAT
 * before it gives out a row), so refusing it first loses nothing. The image data
 * itself is read in small pieces: a file cut short inside its IDAT chunks is left
 * to the decoders, where --fail-on decides what it gives.
 *
 * Pure but for the reads: the file is opened read-only and read with a few
 * 8-byte pread()s (one a chunk, at most PNGCHECK_MAX_CHUNKS); nothing is
 * allocated. Worker-only.
 */
#ifndef IMGPOOL_PNGCHECK_H
#define IMGPOOL_PNGCHECK_H

#include <stddef.h>

/* Chunks looked at before giving up (0: the decoders decide): libvips keeps at
 * most 100 ancillary chunks, so a header this long is odd, not dangerous. */
#define PNGCHECK_MAX_CHUNKS 1000

/* 0 when path is not a PNG, cannot be read (the decoders will say why), or
 * every chunk up to its first IDAT or IEND fits in the file; -1 with a one-line
 * cause in err when one claims more bytes than the file has left, e.g.
 * "tEXt chunk claims 1073741823 bytes and a CRC, the file has 12 left". */
int pngcheck_file(const char *path, char *err, size_t errlen);

/* The image data itself: its IDAT chunks inflated (zlib, 64 KiB at a time,
 * nothing kept). 0 when the stream ends cleanly, is cut short (the decoders and
 * --fail-on judge that), or path is no PNG or cannot be read; -1 with a cause in
 * err ("damaged image data (zlib: incorrect data check)") when zlib finds bad
 * data or a wrong Adler-32. Why: libvips 8.14 reads PNGs with libpng told to
 * ignore the Adler-32 (PNG_IGNORE_ADLER32), and a bit flipped in the image data
 * of a file whose chunk CRCs were written after it (a faulty writer) came out
 * "ok" and garbled at --fail-on warning. One inflate of the file: the caller
 * asks only where no decoder checked the stream (thumb.c). */
int pngcheck_image_data(const char *path, char *err, size_t errlen);

#endif
