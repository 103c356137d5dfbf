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

/* Where the n values of size bytes each of the IFD entry at t + at lie: in the
 * entry when they fit in 4 bytes, else at the offset it holds; 0 when outside
 * the block. */
static size_t value_at(const unsigned char *t, size_t tn, size_t at, int le, uint32_t n,
		       size_t size)
{
	if (n <= 4 / size)
		return at + 8;
	size_t off = get32(t + at + 8, le);
	return off > tn || n > (tn - off) / size ? 0 : off;
}

/* atoi() of the text s[0, n), stopping at a NUL: leading white space, a sign,
 * digits. Values past 8 only matter as "not 1..8", so the digits stop there. */
static long text_value(const unsigned char *s, size_t n)
{
	size_t i = 0;
	long v = 0;
	int neg = 0;

	while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
		i++;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < n && s[i] >= '0' && s[i] <= '9' && v < 1000; i++)
		v = v * 10 + (s[i] - '0');
	return neg ? 0 : v; /* a negative value is as out of range as 0 */
}

/* The orientation the IFD entry at t + at holds, as libvips 8.14 reads it: the
 * number that begins the text it makes of the entry (vips_exif_to_s(), then
 * atoi()), after libexif's exif_data_fix() has converted BYTE, SBYTE, SSHORT,
 * LONG and SLONG to SHORT (a LONG truncated to its low 16 bits, a negative value
 * wrapped). So: the first integer value; an ASCII entry's text ("6"); a RATIONAL
 * or SRATIONAL's first numerator ("6/1"); 0 for 10 values or more (libexif's
 * "Invalid number of components" text), any other type, or a negative value. -1
 * for a value outside the block. */
static long entry_value(const unsigned char *t, size_t tn, size_t at, int le)
{
	unsigned ty = get16(t + at + 2, le);
	uint32_t n = get32(t + at + 4, le);
	size_t size = ty == 1 || ty == 2 || ty == 6 ? 1 : ty == 3 || ty == 8 ? 2
		      : ty == 4 || ty == 9 ? 4 : ty == 5 || ty == 10 ? 8 : 0;
	if (!size || n < 1)
		return 0;
	size_t off = value_at(t, tn, at, le, n, size);
	if (!off)
		return -1;
	if (ty == 2)
		return text_value(t + off, n < 254 ? n : 254);
	if (n >= 10)
		return 0;
	uint32_t first = size >= 4 ? get32(t + off, le) : 0; /* a LONG, or a rational's numerator */
	if (ty == 10)
		return (int32_t)first < 0 ? 0 : (int32_t)first;
	if (ty == 5)
		return first > 8 ? 9 : (long)first;
	if (size == 1)
		return t[off];
	if (size == 2)
		return get16(t + off, le);
	return first & 0xffff;
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
		long v = entry_value(t, tn, at, le);
		if (v < 0)
			return 0;
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 0;
}
