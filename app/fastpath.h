/* SPDX-License-Identifier: MIT */
/*
 * fastpath.h — the JPEG fast path to the master: libjpeg-turbo decodes at the DCT
 * scale vips_thumbnail() would pick (from the DC scans alone where that gives the
 * same pixels: jpegscan.h), straight into memory; then the resample (resize.h),
 * colour management through cached lcms transforms (colour.h, CMYK included) and
 * the EXIF turn that vips_thumbnail() applies after its own load. The same pixels
 * as the libvips path, without libvips' per-file machinery.
 */
#ifndef IMGPOOL_FASTPATH_H
#define IMGPOOL_FASTPATH_H

#include <vips/vips.h>

#include "settings.h"

/* From input read whole (nbytes at bytes, a malloc'd buffer this takes and
 * frees; input names it in messages): 0 with *master and the upright size in *w,
 * *h; 1 when the file is not for this path (not an 8-bit JPEG, --keep-metadata,
 * over the pixel limit, a profile lcms cannot use, any decode error): the caller
 * then runs the libvips path, which reports errors in its usual words. -1, the
 * file failed, with the cause in err: only at --fail-on warning, for damage
 * after the rows the thumbnail needs (fastjpeg_finish()), which libvips would
 * not read. */
int fastpath_master(const thumb_settings *s, const char *input, unsigned char *bytes,
		    size_t nbytes, int *w, int *h, VipsImage **master, char *err,
		    size_t errlen);

#endif
