/* SPDX-License-Identifier: MIT */
/*
 * pnginflate.h — a PNG's image data inflated at once with libdeflate, and handed
 * back to libpng as the same PNG with that data stored uncompressed.
 *
 * Why: in the PNG path (fastpng.c) zlib's inflate was 82 % of a 12 MP RGBA
 * PNG's thumbnail; libdeflate inflates the same stream in about half the time
 * (whole buffer to whole buffer, which a file held in memory allows). libpng
 * has no hook for another inflater, so the IDAT data it reads next is replaced:
 * a zlib stream of stored blocks (which zlib copies), holding the inflated
 * bytes, in IDAT chunks. Everything else libpng does (filters, transforms,
 * checks, errors) is unchanged, and so are the pixels.
 *
 * Contract:
 *   - pnginflate_new() takes the whole file and the offset where libpng stopped
 *     reading: just past the first IDAT chunk's length and type (png_read_info()
 *     stops there). It checks every IDAT chunk's CRC, inflates their data into
 *     exactly raw_size bytes (the filtered rows: height x (1 + row bytes) for a
 *     file that is not interlaced) and checks that the stream ends there, with
 *     its Adler-32.
 *   - Anything else (a CRC or zlib error, a size that differs, data after the
 *     stream, raw_size over PNGINFLATE_MAX_BYTES, no memory) returns NULL and
 *     changes nothing: the caller reads the file as it is, and libpng meets the
 *     fault and reports it as before.
 *   - pnginflate_read() then gives the bytes libpng reads from that offset on:
 *     the rewritten IDAT chunks, then the file's bytes after its last IDAT.
 *     The rewritten chunks' CRCs are zero, as checking them again would only
 *     cost time (zlib's CRC was 5 % of the file): the caller turns libpng's
 *     CRC check of critical chunks off (PNG_CRC_QUIET_USE), which from there
 *     on sees only these chunks and IEND.
 * Holds raw_size bytes (the caller's file stays its own). Pure but for memory.
 */
#ifndef IMGPOOL_PNGINFLATE_H
#define IMGPOOL_PNGINFLATE_H

#include <stddef.h>

/* The most it holds: a 32 MP RGBA image. Larger ones stream through zlib row
 * by row, as before, so that a small file of a huge flat image (deflate packs
 * 1 GiB into 1 MB) cannot make a worker hold a gigabyte. */
#define PNGINFLATE_MAX_BYTES ((size_t)128 << 20)

typedef struct pnginflate pnginflate;

pnginflate *pnginflate_new(const unsigned char *data, size_t len, size_t at, size_t raw_size);

/* The next n bytes of the stream into out: 0, or -1 when fewer are left (none
 * consumed). */
int pnginflate_read(pnginflate *z, unsigned char *out, size_t n);

/* NULL is a no-op. */
void pnginflate_free(pnginflate *z);

#endif
