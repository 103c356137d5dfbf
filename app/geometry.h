/* SPDX-License-Identifier: MIT */
/*
 * geometry.h — the master's geometry, shared by the worker's decode paths: the
 * box the master is made for, and vips_thumbnail()'s shrink to it. The JPEG
 * fast path and the libvips path use them in thumb.c, the PNG path in
 * pngmaster.c. Defined in thumb.c until it is split into its parts.
 */
#ifndef IMGPOOL_GEOMETRY_H
#define IMGPOOL_GEOMETRY_H

#include "settings.h"

/* The vips_thumbnail() target for the master of an upright w x h input: the box
 * whose uniform scale is the largest, pinned on the axis that decides it (the
 * other axis VIPS_MAX_COORD), so that every output is that master scaled down
 * (or equal) and maybe cropped. */
void master_target(const thumb_settings *s, int w, int h, int *tw, int *th);

/* vips_thumbnail()'s shrink for fitting an image stored as w x h inside the
 * target tw x th (swapped when swap: the orientation turns the image), with no
 * crop and no force: the larger of the two axis factors on both, never below 1
 * without enlarge, never past an axis. */
void master_shrink(const thumb_settings *s, int w, int h, int swap, int tw, int th,
		   double *hs, double *vs);

#endif
