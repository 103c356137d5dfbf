/* SPDX-License-Identifier: MIT */
/*
 * exif.c — the EXIF orientation tag. The contract is in exif.h.
 */
#include <stdint.h>

#include "exif.h"
#include "io.h"

/* 16 and 32 bit TIFF integers in the block's byte order. */
static unsigned get16(const unsigned char *p, int le)
{
	return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const unsigned char *p, int le)
{
	return le ? io_le32(p) : io_be32(p);
}

/* The first value of an IFD entry at t + at of type ty and count n, as libexif
 * hands libvips a tag the specification types SHORT: BYTE, SBYTE, SHORT, SSHORT,
 * LONG and SLONG are each converted to SHORT (a LONG truncated to its low 16
 * bits, a negative one wrapped); the value lies in the entry when its n values
 * fit in 4 bytes, else at the offset the entry holds. -1 for any other type, no
 * value, or a value outside the block. */
static long first_short(const unsigned char *t, size_t tn, size_t at, int le)
{
	unsigned ty = get16(t + at + 2, le);
	uint32_t n = get32(t + at + 4, le);
	size_t size = ty == 1 || ty == 6 ? 1 : ty == 3 || ty == 8 ? 2 : ty == 4 || ty == 9 ? 4 : 0;
	if (!size || n < 1)
		return -1;
	size_t off = at + 8;
	if (n > 4 / size) {
		off = get32(t + at + 8, le);
		if (off > tn || n > (tn - off) / size)
			return -1;
	}
	if (size == 1)
		return t[off];
	if (size == 2)
		return get16(t + off, le);
	return get32(t + off, le) & 0xffff;
}

int exif_orientation(const unsigned char *t, size_t tn)
{
	uint32_t ifd;
	unsigned count;
	int le;

	if (!t || tn < 8)
		return 0;
	if (t[0] == 'I' && t[1] == 'I')
		le = 1;
	else if (t[0] == 'M' && t[1] == 'M')
		le = 0;
	else
		return 0;
	if (get16(t + 2, le) != 42)
		return 0;
	ifd = get32(t + 4, le);
	if (ifd < 8 || ifd > tn - 2)
		return 0;
	count = get16(t + ifd, le);
	for (unsigned i = 0; i < count; i++) {
		size_t at = (size_t)ifd + 2 + (size_t)i * 12;

		if (at + 12 > tn)
			break;
		if (get16(t + at, le) != 0x0112)
			continue;
		long v = first_short(t, tn, at, le);
		if (v < 0)
			return 0;
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 0;
}
