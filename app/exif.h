/* SPDX-License-Identifier: MIT */
/*
 * exif.h — the one EXIF fact the fast paths need: the orientation tag.
 *
 * libvips turns a thumbnail upright by the Orientation tag (0x0112) of IFD0;
 * the fast paths read it themselves, the way libvips' loaders hand EXIF to
 * libexif: from a JPEG's APP1 "Exif\0\0" block (fastjpeg.c) and from a PNG's eXIf
 * chunk, which holds the TIFF structure without that prefix (fastpng.c). Every
 * offset is checked against the block's length: the bytes are the file's.
 */
#ifndef IMGPOOL_EXIF_H
#define IMGPOOL_EXIF_H

#include <stddef.h>

/* The Orientation of the TIFF structure tiff[0, len) ("II*\0" or "MM\0*", IFD0's
 * first tag 0x0112), read as libvips 8.14 reads it: the number its text begins
 * with, so the first value of any integer type (libexif converts them to SHORT:
 * a camera may write LONG or SLONG), an ASCII tag's "6", a RATIONAL's "6/1"; 1
 * for 10 values or more, another type, or a value out of range; 1..8. 0 when
 * there is none, or the structure cannot be parsed. */
int exif_orientation(const unsigned char *tiff, size_t len);

#endif
