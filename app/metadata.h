/* SPDX-License-Identifier: MIT */
/*
 * metadata.h — the metadata an output keeps (--keep-metadata[=LIST]).
 *
 * libvips 8.14's savers know only "strip" (all or nothing; a per-kind "keep" came
 * in 8.15), so the kinds not asked for are removed from a copy of the image before
 * it is saved with strip off:
 *   - EXIF (KEEP_EXIF): "exif-data" and every "exif-ifd*" field. libvips then
 *     still writes a fresh minimal EXIF block (resolution, orientation, size) on
 *     JPEG, none of the input's tags (on WebP too, whatever strip says: save.c
 *     takes that chunk out of the file);
 *   - GPS (KEEP_GPS, with EXIF): the "exif-ifd3-*" fields. On save libvips rebuilds
 *     the EXIF block from the input's and drops every entry whose field is gone
 *     (exif.c: vips__exif_update()), and libexif writes no GPS IFD (nor its
 *     pointer) once it is empty. An XMP packet naming a GPS position is dropped
 *     whole: imgpool does not edit XML, and a kept XMP must not leak it either;
 *   - XMP, IPTC, ICC: "xmp-data", "iptc-data", "icc-profile-data".
 * Anything else a saver would write from the input is none of these kinds and
 * goes: a PNG's text chunks ("png-comment-N-KEY").
 * Worker-only (libvips).
 */
#ifndef IMGPOOL_METADATA_H
#define IMGPOOL_METADATA_H

#include <vips/vips.h>

#include "settings.h"

/* *out: a new reference to a copy of in (pixels shared) carrying only the
 * metadata keep (KEEP_* bits; 0: none, for a saver whose strip does not work)
 * asks for. 0, or -1 (libvips error). */
int metadata_select(int keep, VipsImage *in, VipsImage **out);

#endif
