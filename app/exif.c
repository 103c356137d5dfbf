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
		unsigned v;

		if (at + 12 > tn)
			break;
		if (get16(t + at, le) != 0x0112)
			continue;
		if (get16(t + at + 2, le) != 3 || get32(t + at + 4, le) < 1)
			return 0;
		v = get16(t + at + 8, le);
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 0;
}
