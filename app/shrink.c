/* SPDX-License-Identifier: MIT */
/*
 * shrink.c — vips_thumbnail()'s downsize of rows fed one at a time, upright. The
 * contract is in shrink.h; this file is the how.
 *
 * vips_resize() runs vips_reducev() (a box shrink by reduce_box(), then the
 * lanczos3 step) and then vips_reduceh() (the same across). The vertical box
 * runs here as rows arrive: each run of `vbox` rows is summed and averaged into
 * one, the last run padded with copies of the last row (shrinkv's "ceil" and its
 * copy-extended edge). What is left runs in shrink_finish(), in libvips' order
 * for 8-bit images, where every step rounds. The premultiplied path is linear
 * until the final unpremultiply, so there the horizontal box runs before the
 * vertical lanczos step (fewer columns to filter; the same values up to float
 * rounding).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "reduce.h"
#include "shrink.h"

/* The largest vertical box taken: its sums must fit 31 bits (255 x 255 x box
 * when premultiplied). Only absurd shapes need more (a 1-pixel-wide strip
 * shrunk from 70 000 rows to 1); those are libvips'. */
#define MAX_BOX 32768

struct shrink {
	int w, h, bands, premultiply;
	double hs, vs;
	int ow, oh;			/* the output size, as stored */
	int vbox, bh;			/* vertical box factor, rows it leaves */
	size_t row;			/* w * bands */
	int fed, in_box, boxed;		/* rows fed, in the current box, boxed rows */
	uint32_t *usum;			/* 8-bit: the current box's sums */
	unsigned char *urows;		/* 8-bit: the boxed rows (bh of them) */
	int32_t *psum;			/* premultiplied: the current box's sums */
	float *frows;			/* premultiplied: the boxed rows */
};

shrink *shrink_new(int w, int h, int bands, int premultiply, double hs, double vs)
{
	shrink *s;

	if (w < 1 || h < 1 || bands < 1 || bands > 4 || !(hs >= 1.0) || !(vs >= 1.0) ||
	    (premultiply && bands != 2 && bands != 4) || !(s = calloc(1, sizeof *s)))
		return NULL;
	s->w = w;
	s->h = h;
	s->bands = bands;
	s->premultiply = premultiply;
	s->hs = hs;
	s->vs = vs;
	s->ow = reduce_height(w, hs);
	s->oh = reduce_height(h, vs);
	s->vbox = reduce_box(h, s->oh);
	if (s->vbox > MAX_BOX) {
		free(s);
		return NULL;
	}
	s->bh = (h + s->vbox - 1) / s->vbox;
	s->row = (size_t)w * (size_t)bands;
	if (premultiply) {
		s->frows = malloc((size_t)s->bh * s->row * sizeof *s->frows);
		s->psum = calloc(s->row, sizeof *s->psum);
		if (!s->frows || !s->psum) {
			shrink_free(s);
			return NULL;
		}
	} else {
		s->urows = malloc((size_t)s->bh * s->row);
		s->usum = calloc(s->row, sizeof *s->usum);
		if (!s->urows || !s->usum) {
			shrink_free(s);
			return NULL;
		}
	}
	return s;
}

/* How many times row fed now counts in its box: once, or, as the last row of a
 * short last box, once for itself and once for each missing row. */
static int weight(const shrink *s)
{
	return s->fed == s->h - 1 ? s->vbox - s->in_box : 1;
}

/* 8-bit rows: shrinkv's integer sums, averaged with rounding to nearest. */
static void feed_bytes(shrink *s, const unsigned char *restrict in)
{
	uint32_t *restrict sum = s->usum;
	const uint32_t k = (uint32_t)weight(s), n = (uint32_t)s->vbox;
	unsigned char *restrict q;

	if (s->vbox == 1) {
		memcpy(s->urows + (size_t)s->boxed++ * s->row, in, s->row);
		return;
	}
	for (size_t x = 0; x < s->row; x++)
		sum[x] += k * in[x];
	s->in_box += (int)k;
	if (s->in_box < s->vbox)
		return;
	q = s->urows + (size_t)s->boxed++ * s->row;
	for (size_t x = 0; x < s->row; x++) {
		q[x] = (unsigned char)((sum[x] + n / 2) / n);
		sum[x] = 0;
	}
	s->in_box = 0;
}

#ifdef __SSE2__
/* premultiply_add() for RGBA rows of weight 1, four pixels at a time: each
 * pixel's alpha spread over its colour lanes (1 in its own lane), 16-bit
 * products (exact: at most 255 x 255 = 65025), widened to 32 bits and added.
 * Returns how many pixels it did (a multiple of 4); the caller does the rest. */
static int premultiply_rgba_sse2(const unsigned char *restrict p, int w,
				 int32_t *restrict sum)
{
	const __m128i zero = _mm_setzero_si128();
	const __m128i colour_lanes = _mm_set_epi16(0, -1, -1, -1, 0, -1, -1, -1);
	const __m128i alpha_one = _mm_set_epi16(1, 0, 0, 0, 1, 0, 0, 0);
	int x = 0;

	for (; x + 4 <= w; x += 4, p += 16, sum += 16) {
		const __m128i px = _mm_loadu_si128((const __m128i *)p);
		__m128i lo = _mm_unpacklo_epi8(px, zero), hi = _mm_unpackhi_epi8(px, zero);
		/* Alpha (lane 3 of each pixel) to all four lanes of its pixel. */
		__m128i alo = _mm_shufflehi_epi16(_mm_shufflelo_epi16(lo, 0xFF), 0xFF);
		__m128i ahi = _mm_shufflehi_epi16(_mm_shufflelo_epi16(hi, 0xFF), 0xFF);

		alo = _mm_or_si128(_mm_and_si128(alo, colour_lanes), alpha_one);
		ahi = _mm_or_si128(_mm_and_si128(ahi, colour_lanes), alpha_one);
		lo = _mm_mullo_epi16(lo, alo);
		hi = _mm_mullo_epi16(hi, ahi);
		for (int i = 0; i < 4; i++) {
			__m128i v = i == 0 ? _mm_unpacklo_epi16(lo, zero)
				  : i == 1 ? _mm_unpackhi_epi16(lo, zero)
				  : i == 2 ? _mm_unpacklo_epi16(hi, zero)
					   : _mm_unpackhi_epi16(hi, zero);
			__m128i acc = _mm_loadu_si128((const __m128i *)(sum + 4 * i));

			_mm_storeu_si128((__m128i *)(sum + 4 * i), _mm_add_epi32(acc, v));
		}
	}
	return x;
}
#else
static int premultiply_rgba_sse2(const unsigned char *p, int w, int32_t *sum)
{
	(void)p; (void)w; (void)sum;
	return 0;
}
#endif

/* One row of the premultiplied box: colour x alpha and alpha, as integers
 * (exact: at most 255 x 255 a sample), times k (the row's weight in its box),
 * added to sum. vips_premultiply() then divides by 255 in float; that happens
 * once per boxed sample in box_done(), on sums that are exact. Written out for
 * the 4 and 2 bands the path takes. */
static void premultiply_add(shrink *s, const unsigned char *restrict p, int32_t k,
			    int32_t *restrict sum)
{
	int w = s->w;

	if (s->bands == 4 && k == 1) {
		int done = premultiply_rgba_sse2(p, w, sum);

		p += (size_t)done * 4;
		sum += (size_t)done * 4;
		w -= done;
	}
	if (s->bands == 4)
		for (int x = 0; x < w; x++, p += 4, sum += 4) {
			const int32_t a = p[3], ka = k * a;

			sum[0] += ka * p[0];
			sum[1] += ka * p[1];
			sum[2] += ka * p[2];
			sum[3] += ka;
		}
	else
		for (int x = 0; x < w; x++, p += 2, sum += 2) {
			const int32_t ka = k * p[1];

			sum[0] += ka * p[0];
			sum[1] += ka;
		}
}

/* A finished box of n rows: the premultiplied average, colour / 255 / n and
 * alpha / n, as floats, into the next boxed row. */
static void box_done(shrink *s, int n)
{
	const int b = s->bands;
	const float colour = (float)(1.0 / (255.0 * n)), alpha = (float)(1.0 / n);
	float *restrict q = s->frows + (size_t)s->boxed++ * s->row;
	int32_t *restrict sum = s->psum;

	/* First all as colour, then the alpha samples again: two plain loops. */
	for (size_t i = 0; i < s->row; i++)
		q[i] = (float)sum[i] * colour;
	for (size_t i = (size_t)b - 1; i < s->row; i += (size_t)b)
		q[i] = (float)sum[i] * alpha;
	memset(sum, 0, s->row * sizeof *sum);
}

/* Premultiplied rows: vips_premultiply(), then shrinkv's average. */
static void feed_premultiplied(shrink *s, const unsigned char *restrict in)
{
	const int k = weight(s);

	premultiply_add(s, in, k, s->psum);
	s->in_box += k;
	if (s->in_box >= s->vbox) {
		box_done(s, s->vbox);
		s->in_box = 0;
	}
}

int shrink_row(shrink *s, const unsigned char *row)
{
	if (!s || !row || s->fed >= s->h)
		return -1;
	if (s->premultiply)
		feed_premultiplied(s, row);
	else
		feed_bytes(s, row);
	s->fed++;
	return 0;
}

void shrink_size(const shrink *s, int o, int *w, int *h)
{
	*w = o >= 5 ? s->oh : s->ow;
	*h = o >= 5 ? s->ow : s->oh;
}

/* Copy image I (iw x ih, stored orientation; pixel (a, b) at src + a * sa + b *
 * sb) into dst upright by EXIF orientation o, rows packed: vips_autorot()'s
 * turns and flips as strides, in one pass. */
static void orient(const unsigned char *src, int iw, int ih, ptrdiff_t sa, ptrdiff_t sb,
		   int bands, int o, unsigned char *dst)
{
	const ptrdiff_t la = (ptrdiff_t)(iw - 1) * sa, lb = (ptrdiff_t)(ih - 1) * sb;
	ptrdiff_t start, dx, dy;
	int uw = o >= 5 ? ih : iw, uh = o >= 5 ? iw : ih;

	switch (o) {
	case 2: start = la; dx = -sa; dy = sb; break;
	case 3: start = la + lb; dx = -sa; dy = -sb; break;
	case 4: start = lb; dx = sa; dy = -sb; break;
	case 5: start = 0; dx = sb; dy = sa; break;
	case 6: start = lb; dx = -sb; dy = sa; break;
	case 7: start = la + lb; dx = -sb; dy = -sa; break;
	case 8: start = la; dx = sb; dy = -sa; break;
	default: start = 0; dx = sa; dy = sb; break;
	}
	for (int y = 0; y < uh; y++) {
		const unsigned char *p = src + start + (ptrdiff_t)y * dy;

		for (int x = 0; x < uw; x++, p += dx, dst += bands)
			memcpy(dst, p, (size_t)bands);
	}
}

/* The 8-bit path's remaining steps: the lanczos3 step of the vertical reduce,
 * the horizontal reduce (reduce_cols(): libvips' own C arithmetic for it), then
 * the copy upright. */
static int finish_bytes(shrink *s, int o, unsigned char *out)
{
	const int b = s->bands;
	unsigned char *v = malloc((size_t)s->oh * s->row);
	unsigned char *r = malloc((size_t)s->oh * s->ow * b);
	int rc = -1;

	if (v && r &&
	    reduce_lanczos_rows(s->urows, s->bh, (int)s->row, s->vs / s->vbox,
				(s->oh * s->vs - s->h) / s->vbox, s->oh, v) == 0 &&
	    reduce_cols(v, s->w, s->oh, b, s->hs, r) == 0) {
		orient(r, s->ow, s->oh, b, (ptrdiff_t)s->ow * b, b, o, out);
		rc = 0;
	}
	free(r);
	free(v);
	return rc;
}

/* vips_cast() of a float to 8 bits: clipped, then truncated. */
static unsigned char cast_byte(float v)
{
	return v > 0 ? (v < 255 ? (unsigned char)v : 255) : 0;
}

/* shrinkh's float average of one row of w pixels (b bands) by n into
 * ceil(w / n) pixels of q, the last run padded with copies of the last pixel. */
static void box_across(const float *restrict p, int w, int b, int n, float *restrict q)
{
	const int full = w / n, bw = (w + n - 1) / n;

	for (int x = 0; x < bw; x++) {
		float acc[4] = { 0, 0, 0, 0 };

		if (x < full) {
			const float *restrict r = p + (size_t)x * n * b;

			for (int k = 0; k < n; k++, r += b)
				for (int i = 0; i < 4; i++)
					acc[i] += i < b ? r[i] : 0;
		} else {
			for (int k = 0; k < n; k++) {
				int c = x * n + k;
				const float *r = p + (size_t)(c < w ? c : w - 1) * b;

				for (int i = 0; i < b; i++)
					acc[i] += r[i];
			}
		}
		for (int i = 0; i < b; i++)
			q[(size_t)x * b + i] = acc[i] / n;
	}
}

/* The premultiplied path's remaining steps: the horizontal box (averages, the
 * last run padded with copies of the last pixel), the lanczos3 steps down and
 * across, vips_unpremultiply() and the cast, then the copy upright. */
static int finish_premultiplied(shrink *s, int o, unsigned char *out)
{
	const int b = s->bands;
	const int hbox = reduce_box(s->w, s->ow), bw = (s->w + hbox - 1) / hbox;
	float *hb = s->frows, *v = NULL, *r = NULL;
	unsigned char *u = NULL;
	int rc = -1;

	if (hbox > 1) {
		if (!(hb = malloc((size_t)s->bh * bw * b * sizeof *hb)))
			goto done;
		for (int y = 0; y < s->bh; y++)
			box_across(s->frows + (size_t)y * s->row, s->w, b, hbox,
				   hb + (size_t)y * bw * b);
	}
	if (!(v = malloc((size_t)s->oh * bw * b * sizeof *v)) ||
	    !(r = malloc((size_t)s->oh * s->ow * b * sizeof *r)) ||
	    !(u = malloc((size_t)s->oh * s->ow * b)) ||
	    reduce_lanczos_rows_float(hb, s->bh, bw * b, s->vs / s->vbox,
				      (s->oh * s->vs - s->h) / s->vbox, s->oh, v) ||
	    reduce_lanczos_cols_float(v, bw, s->oh, b, s->hs / hbox,
				      (s->ow * s->hs - s->w) / hbox, s->ow, r))
		goto done;
	for (size_t i = 0; i < (size_t)s->oh * s->ow; i++) {
		const float *p = r + i * b;
		unsigned char *q = u + i * b;
		const float a = p[b - 1];
		const float factor = fabsf(a) < 0.01f ? 0 : (float)(255.0 / a);

		for (int k = 0; k < b - 1; k++)
			q[k] = cast_byte(factor * p[k]);
		q[b - 1] = cast_byte(a);
	}
	orient(u, s->ow, s->oh, b, (ptrdiff_t)s->ow * b, b, o, out);
	rc = 0;
done:
	if (hb != s->frows)
		free(hb);
	free(u);
	free(r);
	free(v);
	return rc;
}

int shrink_finish(shrink *s, int o, unsigned char *out)
{
	if (!s || !out || s->fed != s->h || s->boxed != s->bh)
		return -1;
	return s->premultiply ? finish_premultiplied(s, o, out) : finish_bytes(s, o, out);
}

void shrink_free(shrink *s)
{
	if (!s)
		return;
	free(s->usum);
	free(s->urows);
	free(s->psum);
	free(s->frows);
	free(s);
}
