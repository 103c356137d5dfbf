/* SPDX-License-Identifier: MIT */
/*
 * reduce.c — libvips 8.14's vips_reducev(lanczos3, gap 2) on packed 8-bit rows.
 * The contract is in reduce.h; this file is the how. Each step names the part
 * of libvips (resample/reducev.cpp, shrinkv.c, templates.h) it follows, since
 * matching its sample positions is what keeps the thumbnails identical.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reduce.h"

#define GAP 2.0				/* vips_resize()'s reduce gap */
#define LANCZOS_A 3
#define PHASES 64			/* VIPS_TRANSFORM_SCALE: mask steps per pixel */
#define MAX_POINTS 2000			/* libvips' MAX_POINT */

int reduce_height(int h, double shrink)
{
	int out = (int)((double)h / shrink + 0.5);	/* VIPS_ROUND_UINT */

	return out < 1 ? 1 : out;
}

/* shrinkv with ceil: average each run of n rows (the last run padded with copies
 * of the last row), rounding to nearest; ceil(h / n) rows out. */
static void box_rows(const unsigned char *restrict in, int h, int row, int n,
		     unsigned char *restrict out, uint32_t *restrict sum)
{
	int oh = (h + n - 1) / n;

	for (int y = 0; y < oh; y++) {
		memset(sum, 0, (size_t)row * sizeof *sum);
		for (int k = 0; k < n; k++) {
			int r = y * n + k;
			const unsigned char *p = in + (size_t)(r < h ? r : h - 1) * row;

			for (int x = 0; x < row; x++)
				sum[x] += p[x];
		}
		for (int x = 0; x < row; x++)
			out[(size_t)y * row + x] = (unsigned char)((sum[x] + (uint32_t)n / 2) / (uint32_t)n);
	}
}

/* calculate_coefficients_lanczos() for a = 3: n normalised taps at phase x. */
static void lanczos3_mask(double *c, int n, double shrink, double x)
{
	const double half = x + n / 2.0 - 1;
	double sum = 0;

	for (int i = 0; i < n; i++) {
		double xp = (i - half) / shrink, l;

		if (xp == 0.0)
			l = 1.0;
		else if (xp < -LANCZOS_A || xp > LANCZOS_A)
			l = 0.0;
		else
			l = LANCZOS_A * sin(M_PI * xp) * sin(M_PI * xp / LANCZOS_A) /
			    (M_PI * M_PI * xp * xp);
		c[i] = l;
		sum += l;
	}
	for (int i = 0; i < n; i++)
		c[i] /= sum;
}

/* vips_vector_to_fixed_point(): n coefficients (summing to 1) as integers summing
 * to exactly `scale` (a search on the multiplier, then what is left spread by
 * ones), so a flat area stays exactly flat. */
static void to_fixed_point(const double *in, int16_t *out, int n, int scale)
{
	double fsum = 0, high, low, guess;
	int target, sum = 0;

	for (int i = 0; i < n; i++)
		fsum += in[i];
	target = (int)rint(fsum * scale);
	high = scale + (n + 1) / 2;
	low = scale - (n + 1) / 2;
	do {
		guess = (high + low) / 2.0;
		sum = 0;
		for (int i = 0; i < n; i++)
			sum += out[i] = (int16_t)rint(in[i] * guess);
		if (sum == target)
			break;
		if (sum < target)
			low = guess;
		else
			high = guess;
	} while (high - low > 0.01);
	if (sum != target) {
		int each = (target - sum) / n, extra = (target - sum) % n;

		for (int i = 0; i < n; i++)
			out[i] = (int16_t)(out[i] + each);
		for (int i = 0; i < abs(extra); i++)
			out[i] = (int16_t)(out[i] + (extra > 0 ? 1 : -1));
	}
}

/* The lanczos3 pass of vips_reducev, as its vector (orc) path computes 8-bit
 * images, which is what vipsthumbnail shows: coefficients in 2.6 fixed point,
 * 16-bit sums starting at 32 (the rounding), shifted down by 6 and clipped. The
 * sums cannot overflow 16 bits (255 x 64 x sum of |lanczos3| < 2^15), so the
 * orc program's saturating adds are plain adds here, and 16-bit lanes let the
 * compiler do eight at a time. h rows in, oh rows out, shrink >= 1 after any
 * box shrink, extra = the input rows the output size invents (negative: drops);
 * coef holds (PHASES + 1) x n, acc one int16 per byte of a row. */
static void lanczos_rows(const unsigned char *restrict in, int h, int row, double shrink,
			 double extra, int oh, unsigned char *restrict out, int n,
			 int16_t *coef, int16_t *restrict acc)
{
	/* vips_reducev_build(): the origin moves inside the input by half the
	 * rows dropped, and the input is embedded with ceil(n / 2) - 1 copies of
	 * the first row above it (and copies of the last below). */
	const double voffset = (1 + extra) / 2.0 - 1;
	const int top = (int)ceil(n / 2.0) - 1;
	double cf[MAX_POINTS];

	for (int t = 0; t <= PHASES; t++) {
		lanczos3_mask(cf, n, shrink, (double)t / PHASES);
		to_fixed_point(cf, coef + t * n, n, 64);
	}
	for (int y = 0; y < oh; y++) {
		/* vips_reducev_vector_gen(): the sample position and its phase. */
		const double Y = (y + 0.5) * shrink - 0.5 - voffset;
		const int py = (int)Y;
		const int sy = (int)(Y * PHASES * 2);
		const int phase = ((sy & (PHASES * 2 - 1)) + 1) >> 1;
		const int16_t *c = coef + phase * n;
		unsigned char *q = out + (size_t)y * row;

		for (int x = 0; x < row; x++)
			acc[x] = 32;
		for (int i = 0; i < n; i++) {
			int r = py + i - top;
			const unsigned char *restrict p = in + (size_t)(r < 0 ? 0 : r >= h ? h - 1 : r) * row;
			const int16_t ci = c[i];

			for (int x = 0; x < row; x++)
				acc[x] = (int16_t)(acc[x] + (int16_t)(ci * p[x]));
		}
		for (int x = 0; x < row; x++) {
			int v = acc[x] >> 6;

			q[x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
}

int reduce_rows(const unsigned char *in, int h, int row, double shrink,
		unsigned char *out)
{
	const int oh = reduce_height(h, shrink);
	double extra = oh * shrink - h;
	unsigned char *boxed = NULL;
	uint32_t *acc = NULL;	/* the box's sums, then the lanczos' (as int16) */
	int16_t *coef = NULL;
	int n, rc = -1;

	if (!in || !out || h < 1 || row < 1 || !(shrink >= 1.0))
		return -1;
	if (!(acc = malloc((size_t)row * sizeof *acc)))
		return -1;
	/* vips_reducev_build()'s gap: an integer box shrink first, by the whole
	 * part of (rows per output row) / gap. */
	int box = (int)floor((double)h / oh / GAP);

	if (box > 1) {
		int bh = (h + box - 1) / box;

		if (!(boxed = malloc((size_t)bh * row)))
			goto done;
		box_rows(in, h, row, box, boxed, acc);
		in = boxed;
		h = bh;
		shrink /= box;
		extra /= box;
	}
	if (shrink == 1.0) {	/* never after a box: it leaves >= gap */
		memcpy(out, in, (size_t)oh * row);
		rc = 0;
		goto done;
	}
	n = 2 * (int)rint(LANCZOS_A * shrink) + 1;	/* vips_reduce_get_points() */
	if (n > MAX_POINTS || !(coef = malloc((size_t)(PHASES + 1) * n * sizeof *coef)))
		goto done;
	lanczos_rows(in, h, row, shrink, extra, oh, out, n, coef, (int16_t *)acc);
	rc = 0;
done:
	free(coef);
	free(boxed);
	free(acc);
	return rc;
}
