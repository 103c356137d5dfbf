/* SPDX-License-Identifier: MIT */
/*
 * optvalues.c — the grammars of option values: whole numbers, seconds, byte sizes,
 * --size lists, colours, words, --keep-metadata lists. See optvalues.h.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "optvalues.h"

/* Is s[0..n) written as the user reads a plain number: digits, at most one '.'
 * when frac, a '-' first only when sign? strtoll() and strtod() also take
 * leading blanks, a '+', hexadecimal ('0x10' was 16 seconds) and exponents. */
static int plain_number(const char *s, size_t n, int frac, int sign)
{
	size_t i = sign && n > 0 && s[0] == '-', dots = 0, digits = 0;
	for (; i < n; i++) {
		if (s[i] == '.' && frac && !dots++)
			continue;
		if (!isdigit((unsigned char)s[i]))
			return 0;
		digits++;
	}
	return digits > 0;
}

/* A whole decimal integer in [lo, hi], nothing after it. */
int optval_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || !plain_number(s, strlen(s), 0, lo < 0) || v < lo ||
	    v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A non-negative number of seconds, finite, at most a day. */
int optval_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !plain_number(s, strlen(s), 1, 0) || !isfinite(v) ||
	    v < 0 || v > 86400)
		return -1;
	*out = v;
	return 0;
}

int options_parse_bytes(const char *s, uint64_t *bytes, double *pct)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !plain_number(s, (size_t)(end - s), 1, 0) || !isfinite(v) || v < 0)
		return -1;
	if (pct && !strcmp(end, "%")) {
		if (v > 100)
			return -1;
		*pct = v;
		*bytes = 0;
		return 0;
	}
	static const char *const units[] = {"", "K", "M", "G", "T"};
	int k;
	for (k = 4; k >= 0; k--) {
		size_t n = strlen(units[k]);
		if (!strncasecmp(end, units[k], n) &&
		    (!strcasecmp(end + n, "") || !strcasecmp(end + n, "B") ||
		     (n && !strcasecmp(end + n, "iB"))))
			break;
	}
	if (k < 0)
		return -1;
	double b = v * pow(1024, k);
	if (b > 9e18)
		return -1;
	*bytes = (uint64_t)b;
	if (pct)
		*pct = 0;
	return 0;
}

/* One box: "N", "WxH", "Wx", "xH"; sides 1..100000. */
static int parse_box(const char *s, size_t len, thumb_size *box)
{
	char buf[32];
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *x = strchr(buf, 'x');
	if (!x)
		x = strchr(buf, 'X');
	long long w = 0, h = 0;
	if (!x) {
		if (optval_int(buf, 1, 100000, &w) < 0)
			return -1;
		*box = (thumb_size){(int)w, (int)w}; /* longest side N */
		return 0;
	}
	*x = '\0';
	if (!buf[0] && !x[1])
		return -1;
	if (buf[0] && optval_int(buf, 1, 100000, &w) < 0)
		return -1;
	if (x[1] && optval_int(x + 1, 1, 100000, &h) < 0)
		return -1;
	*box = (thumb_size){(int)w, (int)h};
	return 0;
}

int options_parse_sizes(const char *spec, thumb_settings *s, char *msg, size_t msglen)
{
	s->nsizes = 0;
	const char *p = spec;
	for (;;) {
		size_t len = strcspn(p, ",");
		thumb_size box;
		if (parse_box(p, len, &box) < 0) {
			snprintf(msg, msglen, "'%.*s' is not a size (N, WxH, Wx or xH, 1-100000)",
				 (int)(len > 40 ? 40 : len), p);
			return -1;
		}
		for (int i = 0; i < s->nsizes; i++)
			if (s->sizes[i].w == box.w && s->sizes[i].h == box.h) {
				snprintf(msg, msglen, "'%.*s' is given twice (N and NxN are one box)",
					 (int)len, p);
				return -1;
			}
		if (s->nsizes == THUMB_MAX_SIZES) {
			snprintf(msg, msglen, "at most %d sizes", THUMB_MAX_SIZES);
			return -1;
		}
		s->sizes[s->nsizes++] = box;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* "white", "black", "#rrggbb", "R,G,B". */
int optval_colour(const char *s, double rgb[3])
{
	if (!strcasecmp(s, "white")) {
		rgb[0] = rgb[1] = rgb[2] = 255;
		return 0;
	}
	if (!strcasecmp(s, "black")) {
		rgb[0] = rgb[1] = rgb[2] = 0;
		return 0;
	}
	if (s[0] == '#' && strlen(s) == 7 && strspn(s + 1, "0123456789abcdefABCDEF") == 6) {
		unsigned long v = strtoul(s + 1, NULL, 16);
		rgb[0] = (double)((v >> 16) & 255);
		rgb[1] = (double)((v >> 8) & 255);
		rgb[2] = (double)(v & 255);
		return 0;
	}
	char buf[64];
	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	char *save = NULL, *tok = strtok_r(buf, ",", &save);
	for (int i = 0; i < 3; i++, tok = strtok_r(NULL, ",", &save)) {
		long long v;
		if (!tok || optval_int(tok, 0, 255, &v) < 0)
			return -1;
		rgb[i] = (double)v;
	}
	return tok ? -1 : 0;
}

/* Look a word up in a NULL-terminated table; its index or -1. */
int optval_pick(const char *s, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (!strcasecmp(s, words[i]))
			return i;
	return -1;
}

int options_parse_keep(const char *list, int *keep)
{
	static const char *const kinds[] = {"exif", "xmp", "iptc", "icc", "gps", "all", NULL};
	static const int bits[] = {KEEP_EXIF, KEEP_XMP, KEEP_IPTC, KEEP_ICC, KEEP_GPS, KEEP_ALL};
	char word[16];
	int k = 0;

	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		int i;
		if (len == 0 || len >= sizeof word)
			return -1;
		memcpy(word, p, len);
		word[len] = '\0';
		if ((i = optval_pick(word, kinds)) < 0)
			return -1;
		k |= bits[i];
		p += len;
		if (!*p)
			break;
	}
	/* GPS lives inside the EXIF block: alone it would keep nothing. */
	if ((k & KEEP_GPS) && !(k & KEEP_EXIF))
		return -2;
	*keep = k;
	return 0;
}
