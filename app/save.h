/* SPDX-License-Identifier: MIT */
/*
 * save.h — an output image encoded (JPEG through libjpeg-turbo directly when
 * metadata is stripped, libvips otherwise; alpha flattened onto the background for
 * JPEG) and written as a NEW file (O_CREAT | O_EXCL | O_NOFOLLOW: never over
 * anything, never through a symlink); the parent fsyncs it before it moves it into
 * place (outsync.h).
 */
#ifndef IMGPOOL_SAVE_H
#define IMGPOOL_SAVE_H

#include <stddef.h>
#include <vips/vips.h>

#include "settings.h"
#include "thumb.h"

/* Encode im as format f into a new g_malloc'd buffer. 0 or -1 (vips error set).
 * Only the metadata settings->keep_metadata names is kept (a WebP carries no EXIF
 * block of libvips' own making when EXIF is not kept). */
int save_encode(const thumb_settings *s, VipsImage *im, thumb_format f, void **buf,
		size_t *len);

/* The longest side format f can hold (JPEG 65500, libjpeg's JPEG_MAX_DIMENSION;
 * WebP 16383; AVIF 65536, AV1's), or 0: no limit below libvips' own. */
int save_max_side(thumb_format f);

/* Create out->name in out->dirfd holding buf, left open in *fd with its writeback
 * started. On failure nothing is left and err names the cause. 0 or -1. */
int save_write(const thumb_output *out, const void *buf, size_t len, int *fd, char *err,
	       size_t errlen);

/* Close the n files (fds become -1); the first failure is the cause. Their fsync
 * is the parent's, before it publishes them (outsync.h). */
int save_close(int n, int *fds, char *err, size_t errlen);

#endif
