/* SPDX-License-Identifier: MIT */
/*
 * reduce.c — libvips 8.14's vips_reducev(lanczos3, gap 2) on packed 8-bit rows,
 * and its lanczos3 step on float rows and columns. The contract is in reduce.h;
 * this file is the how. Each step names the part of libvips
 * (resample/reducev.cpp, reduceh.cpp, shrinkv.c, templates.h) it follows, since
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
#define INTERPOLATE_SHIFT 12		/* VIPS_INTERPOLATE_SHIFT: reduceh's 8-bit masks */
#define INTERPOLATE_SCALE (1 << INTERPOLATE_SHIFT)

int reduce_height(int h, double shrink)
{
	/* VIPS_ROUND_UINT of h over the shrink vips_reducev() is given:
	 * vips_thumbnail() passes vips_resize() the scale 1 / shrink, and
	 * vips_resize() passes the reducer 1 / scale, which is not always shrink
	 * again. On a tie it decides: 450 / (300 / 77.) is 115.5 (116), 450 /
	 * (1 / (1 / (300 / 77.))) 115.49999999999999 (115, libvips' size: a 3:2
	 * photo at -s x77). */
	int out = (int)((double)h / (1.0 / (1.0 / shrink)) + 0.5);

	return out < 1 ? 1 : out;
}

int reduce_box(int h, int oh)
{
	int box = (int)floor((double)h / oh / GAP);

	return box > 1 ? box : 1;
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

/* vips_reducev_build()'s geometry for a lanczos step of n taps: the origin moves
 * inside the input by half the rows dropped (extra: the input rows the output
 * size invents, negative when it drops some), and the input is embedded with
 * ceil(n / 2) - 1 copies of its first row above it (and of its last below). */
static double lanczos_offset(double extra)
{
	return (1 + extra) / 2.0 - 1;
}

static int lanczos_top(int n)
{
	return (int)ceil(n / 2.0) - 1;
}

/* vips_reducev_gen()'s sample position for output y: the first input row of its
 * taps (before the embedding's shift) and the mask phase, 0..PHASES. */
static int lanczos_phase(double Y, int *first)
{
	const int sy = (int)(Y * PHASES * 2);

	*first = (int)Y;
	return ((sy & (PHASES * 2 - 1)) + 1) >> 1;
}

/* vips_reduce_get_points() for lanczos3. */
static int lanczos_points(double shrink)
{
	return 2 * (int)rint(LANCZOS_A * shrink) + 1;
}

#define ROW_BLOCK 64			/* bytes of a row summed in registers at once */

/* Bytes [from, to) of one output row of lanczos_rows() below, one at a time:
 * the portable kernel, and the SIMD ones' partial blocks. taps[i] is the input
 * row of tap i, c its coefficient. */
static void lanczos_bytes(const unsigned char *const *taps, const int16_t *c, int n,
			  int from, int to, unsigned char *restrict q)
{
	for (int x = from; x < to; x++) {
		int16_t a = 32;

		for (int i = 0; i < n; i++)
			a = (int16_t)(a + (int16_t)(c[i] * taps[i][x]));
		a = (int16_t)(a >> 6);
		q[x] = (unsigned char)(a < 0 ? 0 : a > 255 ? 255 : a);
	}
}

typedef void row_kernel(const unsigned char *const *taps, const int16_t *c, int n, int row,
			unsigned char *restrict q);

/* REDUCE_PORTABLE and REDUCE_SSE2 (compile-time, for the tests, which check
 * each kernel against libvips) pin the kernel that runs. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(REDUCE_PORTABLE)
#include <immintrin.h>

/* The SIMD kernels take the row ROW_BLOCK bytes at a time with the n taps'
 * sums in registers, so each tap costs one load of its input and no load or
 * store of the sums. Summing into a row in memory once per tap, as the
 * compiler vectorises the portable loop, took 1.3x the SSE2 kernel's time and
 * 2.1x the AVX2 one's (a 650 x 530 RGB image reduced by 2.54 both ways). A partial last block is done as the block that ends
 * the row, computing some bytes twice to the same values. packus clips the
 * 16-bit sums to 0..255 as the orc program does. Written with intrinsics: GCC
 * 12's vector extensions widened bytes lane by lane on SSE2. */
static void row_sse2(const unsigned char *const *taps, const int16_t *c, int n, int row,
		     unsigned char *restrict q)
{
	const __m128i zero = _mm_setzero_si128();

	if (row < ROW_BLOCK) {
		lanczos_bytes(taps, c, n, 0, row, q);
		return;
	}
	for (int x0 = 0; x0 < row; x0 += ROW_BLOCK) {
		__m128i a[8];

		if (x0 + ROW_BLOCK > row)
			x0 = row - ROW_BLOCK;
		for (int k = 0; k < 8; k++)
			a[k] = _mm_set1_epi16(32);	/* the orc program's rounding */
		for (int i = 0; i < n; i++) {
			const __m128i ci = _mm_set1_epi16(c[i]);

			for (int k = 0; k < 4; k++) {
				__m128i b = _mm_loadu_si128((const __m128i *)(taps[i] + x0 + 16 * k));

				a[2 * k] = _mm_add_epi16(a[2 * k],
					_mm_mullo_epi16(ci, _mm_unpacklo_epi8(b, zero)));
				a[2 * k + 1] = _mm_add_epi16(a[2 * k + 1],
					_mm_mullo_epi16(ci, _mm_unpackhi_epi8(b, zero)));
			}
		}
		for (int k = 0; k < 4; k++)
			_mm_storeu_si128((__m128i *)(q + x0 + 16 * k),
					 _mm_packus_epi16(_mm_srai_epi16(a[2 * k], 6),
							  _mm_srai_epi16(a[2 * k + 1], 6)));
	}
}

#ifndef REDUCE_SSE2
/* AVX2: two taps at a time. Their rows' bytes interleaved (unpacklo/hi) meet the
 * pair of coefficients as signed bytes in maddubs, which sums the two products
 * into each 16-bit lane: one multiply-add for two taps of 16 bytes, where a
 * widen, a multiply and an add per tap took twice the instructions (this kernel
 * was 5.5 % of a run over small photos). Coefficients are 2.6 fixed point, at
 * most 64 plus the small lobes' share; maddubs_fits() checks each is a signed
 * byte and no pair's sum can saturate, and no partial sum overflows (the bound
 * above), so the sums are the plain kernel's to the bit. The unpacks work within
 * 128-bit halves and packus undoes them, so the bytes come out in order. */
#define MADDUBS_MAX 127
__attribute__((target("avx2")))
static void row_avx2(const unsigned char *const *taps, const int16_t *c, int n, int row,
		     unsigned char *restrict q)
{
	if (row < ROW_BLOCK) {
		lanczos_bytes(taps, c, n, 0, row, q);
		return;
	}
	for (int x0 = 0; x0 < row; x0 += ROW_BLOCK) {
		__m256i a[4];

		if (x0 + ROW_BLOCK > row)
			x0 = row - ROW_BLOCK;
		for (int k = 0; k < 4; k++)
			a[k] = _mm256_set1_epi16(32);	/* the orc program's rounding */
		for (int i = 0; i < n; i += 2) {
			/* An odd last tap pairs with a zero coefficient (and its own row). */
			const int j = i + 1 < n ? i + 1 : i;
			const int16_t cj = i + 1 < n ? c[i + 1] : 0;
			const __m256i cc = _mm256_set1_epi16(
				(int16_t)((uint16_t)(uint8_t)(int8_t)c[i] |
					  (uint16_t)((uint16_t)(uint8_t)(int8_t)cj << 8)));

			for (int k = 0; k < 2; k++) {
				const __m256i r0 = _mm256_loadu_si256(
					(const __m256i *)(taps[i] + x0 + 32 * k));
				const __m256i r1 = _mm256_loadu_si256(
					(const __m256i *)(taps[j] + x0 + 32 * k));

				a[2 * k] = _mm256_add_epi16(a[2 * k],
					_mm256_maddubs_epi16(_mm256_unpacklo_epi8(r0, r1), cc));
				a[2 * k + 1] = _mm256_add_epi16(a[2 * k + 1],
					_mm256_maddubs_epi16(_mm256_unpackhi_epi8(r0, r1), cc));
			}
		}
		for (int k = 0; k < 2; k++)
			_mm256_storeu_si256((__m256i *)(q + x0 + 32 * k),
					    _mm256_packus_epi16(_mm256_srai_epi16(a[2 * k], 6),
								_mm256_srai_epi16(a[2 * k + 1], 6)));
	}
}

/* Can row_avx2() take these masks (phases of n coefficients)? Each must be a
 * signed byte, and each pair it sums in one maddubs must keep the pair's sum
 * within 16 bits for any pixels: 255 x (its positive part) <= 32767 and 255 x
 * (its negative part) <= 32768. lanczos3's 2.6 fixed point stays far inside (at
 * most 64, pairs at most 79 and -9 for every shrink up to MAX_POINTS). */
static int maddubs_fits(const int16_t *coef, int phases, int n)
{
	for (int t = 0; t < phases; t++) {
		const int16_t *c = coef + (size_t)t * n;

		for (int i = 0; i < n; i += 2) {
			int a = c[i], b = i + 1 < n ? c[i + 1] : 0;
			int pos = (a > 0 ? a : 0) + (b > 0 ? b : 0);
			int neg = (a < 0 ? -a : 0) + (b < 0 ? -b : 0);

			if (a > MADDUBS_MAX || a < -MADDUBS_MAX - 1 || b > MADDUBS_MAX ||
			    b < -MADDUBS_MAX - 1 || 255 * pos > 32767 || 255 * neg > 32768)
				return 0;
		}
	}
	return 1;
}
#endif

/* The kernel for this CPU and these masks (phases x n): AVX2 when it has it and
 * they suit it (the resampler is about an eighth of a 1-2 MP JPEG's thumbnail),
 * else SSE2, which every x86-64 has. */
static row_kernel *row_kernel_here(const int16_t *coef, int phases, int n)
{
#ifdef REDUCE_SSE2
	(void)coef;
	(void)phases;
	(void)n;
	return row_sse2;
#else
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && maddubs_fits(coef, phases, n) ? row_avx2
									       : row_sse2;
#endif
}
#else
static void row_portable(const unsigned char *const *taps, const int16_t *c, int n, int row,
			 unsigned char *restrict q)
{
	lanczos_bytes(taps, c, n, 0, row, q);
}

static row_kernel *row_kernel_here(const int16_t *coef, int phases, int n)
{
	(void)coef;
	(void)phases;
	(void)n;
	return row_portable;
}
#endif

/* The lanczos3 pass of vips_reducev, as its vector (orc) path computes 8-bit
 * images, which is what vipsthumbnail shows: coefficients in 2.6 fixed point,
 * 16-bit sums starting at 32 (the rounding), shifted down by 6 and clipped. The
 * sums cannot overflow 16 bits (255 x 64 x sum of |lanczos3| < 2^15), so the
 * orc program's saturating adds are plain adds here. h rows in, oh rows out,
 * shrink >= 1 after any box shrink, extra = the input rows the output size
 * invents (negative: drops); coef holds (PHASES + 1) x n, taps n row pointers. */
static void lanczos_rows(const unsigned char *restrict in, int h, int row, double shrink,
			 double extra, int oh, unsigned char *restrict out, int n,
			 const int16_t *coef, const unsigned char **taps)
{
	const double voffset = lanczos_offset(extra);
	const int top = lanczos_top(n);
	row_kernel *const kernel = row_kernel_here(coef, PHASES + 1, n);

	for (int y = 0; y < oh; y++) {
		/* vips_reducev_vector_gen(): the sample position and its phase. */
		int py;
		const int phase = lanczos_phase((y + 0.5) * shrink - 0.5 - voffset, &py);

		for (int i = 0; i < n; i++) {
			int r = py + i - top;

			taps[i] = in + (size_t)(r < 0 ? 0 : r >= h ? h - 1 : r) * row;
		}
		kernel(taps, coef + phase * n, n, row, out + (size_t)y * row);
	}
}

/* The (PHASES + 1) x n fixed-point masks of a shrink, kept for the next images:
 * photos of one camera share their shrinks, and the masks were 130 sin() pairs
 * a pass (0.8 % of a run over small photos, perf). The same function of shrink
 * as before, so the same coefficients to the bit. Per thread (every caller runs
 * on the task's own thread; a thread that ends leaves its tables behind, so keep
 * it off libvips' pool threads); NULL when out of memory. The last MASK_CACHE
 * shrinks are kept (the two passes of an image). */
#define MASK_CACHE 4
static const int16_t *row_masks(double shrink, int n)
{
	static _Thread_local struct {
		double shrink;
		int16_t *coef;
	} cache[MASK_CACHE];
	static _Thread_local int next;
	double cf[MAX_POINTS];
	int16_t *coef;

	for (int k = 0; k < MASK_CACHE; k++)
		if (cache[k].coef && cache[k].shrink == shrink)
			return cache[k].coef;	/* n is a function of shrink */
	if (!(coef = malloc((size_t)(PHASES + 1) * n * sizeof *coef)))
		return NULL;
	for (int t = 0; t <= PHASES; t++) {
		lanczos3_mask(cf, n, shrink, (double)t / PHASES);
		to_fixed_point(cf, coef + t * n, n, 64);
	}
	free(cache[next].coef);
	cache[next].shrink = shrink;
	cache[next].coef = coef;
	next = (next + 1) % MASK_CACHE;
	return coef;
}

int reduce_lanczos_rows(const unsigned char *in, int h, int row, double shrink,
			double extra, int oh, unsigned char *out)
{
	const unsigned char **taps = NULL;
	const int16_t *coef;
	int n, rc = -1;

	if (!in || !out || h < 1 || row < 1 || oh < 1 || !(shrink >= 1.0))
		return -1;
	if (shrink == 1.0) {
		if (oh != h)
			return -1;
		memcpy(out, in, (size_t)oh * row);
		return 0;
	}
	n = lanczos_points(shrink);
	if (n <= MAX_POINTS && (coef = row_masks(shrink, n)) &&
	    (taps = malloc((size_t)n * sizeof *taps))) {
		lanczos_rows(in, h, row, shrink, extra, oh, out, n, coef, taps);
		rc = 0;
	}
	free(taps);
	return rc;
}

/* The (PHASES + 1) x n double masks of a lanczos3 step, as libvips' float path
 * uses them (matrixf), or NULL when memory runs out. */
static double *float_masks(int n, double shrink)
{
	double *m = malloc((size_t)(PHASES + 1) * n * sizeof *m);

	if (m)
		for (int t = 0; t <= PHASES; t++)
			lanczos3_mask(m + (size_t)t * n, n, shrink, (double)t / PHASES);
	return m;
}

/* reducev_float_tab(): each output row a sum of n input rows in double, stored
 * as float; edge rows repeated (the embedding). acc holds one double per float of
 * a row. */
int reduce_lanczos_rows_float(const float *in, int h, int row, double shrink, double extra,
			      int oh, float *out)
{
	double *m, *acc;
	int n, top;
	double voffset;

	if (!in || !out || h < 1 || row < 1 || oh < 1 || !(shrink >= 1.0))
		return -1;
	if (shrink == 1.0) {
		if (oh != h)
			return -1;
		memcpy(out, in, (size_t)oh * row * sizeof *out);
		return 0;
	}
	n = lanczos_points(shrink);
	if (n > MAX_POINTS || !(m = float_masks(n, shrink)))
		return -1;
	if (!(acc = malloc((size_t)row * sizeof *acc))) {
		free(m);
		return -1;
	}
	voffset = lanczos_offset(extra);
	top = lanczos_top(n);
	for (int y = 0; y < oh; y++) {
		int py;
		const double *c = m + (size_t)lanczos_phase((y + 0.5) * shrink - 0.5 - voffset,
							      &py) * n;
		float *restrict q = out + (size_t)y * row;

		for (int x = 0; x < row; x++)
			acc[x] = 0;
		for (int i = 0; i < n; i++) {
			int r = py + i - top;
			const float *restrict p = in + (size_t)(r < 0 ? 0 : r >= h ? h - 1 : r) * row;
			const double ci = c[i];

			for (int x = 0; x < row; x++)
				acc[x] += ci * p[x];
		}
		for (int x = 0; x < row; x++)
			q[x] = (float)acc[x];
	}
	free(acc);
	free(m);
	return 0;
}

/* reduceh_float_tab(): each output pixel's band a sum of n input pixels' in
 * double, stored as float; edge pixels repeated. */
int reduce_lanczos_cols_float(const float *in, int w, int h, int bands, double shrink,
			      double extra, int ow, float *out)
{
	double *m;
	int n, left;
	double hoffset;

	if (!in || !out || w < 1 || h < 1 || bands < 1 || bands > 4 || ow < 1 ||
	    !(shrink >= 1.0))
		return -1;
	if (shrink == 1.0) {
		if (ow != w)
			return -1;
		memcpy(out, in, (size_t)w * h * bands * sizeof *out);
		return 0;
	}
	n = lanczos_points(shrink);
	if (n > MAX_POINTS || !(m = float_masks(n, shrink)))
		return -1;
	hoffset = lanczos_offset(extra);
	left = lanczos_top(n);
	for (int x = 0; x < ow; x++) {
		int px;
		const double *c = m + (size_t)lanczos_phase((x + 0.5) * shrink - 0.5 - hoffset,
							      &px) * n;
		int first = px - left;
		int inside = first >= 0 && first + n <= w;

		for (int y = 0; y < h; y++) {
			const float *restrict p = in + (size_t)y * w * bands;
			double sum[4] = { 0, 0, 0, 0 };

			for (int i = 0; i < n; i++) {
				int col = first + i;
				const float *restrict s;

				if (!inside)
					col = col < 0 ? 0 : col >= w ? w - 1 : col;
				s = p + (size_t)col * bands;
				for (int b = 0; b < bands; b++)
					sum[b] += c[i] * s[b];
			}
			for (int b = 0; b < bands; b++)
				out[((size_t)y * ow + x) * bands + b] = (float)sum[b];
		}
	}
	free(m);
	return 0;
}

/* shrinkh with ceil on 8-bit pixels: average each run of n pixels (the last run
 * padded with copies of the last pixel), rounding to nearest; ceil(w / n) out. */
static void box_cols(const unsigned char *restrict in, int w, int h, int bands, int n,
		     unsigned char *restrict out)
{
	const int ow = (w + n - 1) / n;

	for (int y = 0; y < h; y++) {
		const unsigned char *p = in + (size_t)y * w * bands;
		unsigned char *q = out + (size_t)y * ow * bands;

		for (int x = 0; x < ow; x++)
			for (int b = 0; b < bands; b++) {
				uint32_t sum = 0;

				for (int k = 0; k < n; k++) {
					int c = x * n + k;

					sum += p[(size_t)(c < w ? c : w - 1) * bands + b];
				}
				q[(size_t)x * bands + b] = (unsigned char)((sum + (uint32_t)n / 2) / (uint32_t)n);
			}
	}
}

/* reduceh_unsigned_int_tab(): 8-bit pixels through integer masks (the double
 * mask times 4096, truncated), int sums rounded back by 12 bits and clipped. */
static void lanczos_cols(const unsigned char *restrict in, int w, int h, int bands,
			 double shrink, double extra, int ow, unsigned char *restrict out,
			 int n, int *coef)
{
	const double hoffset = lanczos_offset(extra);
	const int left = lanczos_top(n);
	double cf[MAX_POINTS];

	for (int t = 0; t <= PHASES; t++) {
		lanczos3_mask(cf, n, shrink, (double)t / PHASES);
		for (int i = 0; i < n; i++)
			coef[t * n + i] = (int)(cf[i] * INTERPOLATE_SCALE);
	}
	for (int x = 0; x < ow; x++) {
		int px;
		const int *c = coef + lanczos_phase((x + 0.5) * shrink - 0.5 - hoffset, &px) * n;
		const int first = px - left;

		for (int y = 0; y < h; y++) {
			const unsigned char *p = in + (size_t)y * w * bands;
			unsigned char *q = out + ((size_t)y * ow + x) * bands;

			for (int b = 0; b < bands; b++) {
				int sum = 0, v;

				for (int i = 0; i < n; i++) {
					int col = first + i;

					col = col < 0 ? 0 : col >= w ? w - 1 : col;
					sum += c[i] * p[(size_t)col * bands + b];
				}
				v = (sum + INTERPOLATE_SCALE / 2) >> INTERPOLATE_SHIFT;
				q[b] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
		}
	}
}

int reduce_cols(const unsigned char *in, int w, int h, int bands, double shrink,
		unsigned char *out)
{
	const int ow = reduce_height(w, shrink);
	double extra = ow * shrink - w;
	unsigned char *boxed = NULL;
	int *coef = NULL;
	int n, rc = -1;

	if (!in || !out || w < 1 || h < 1 || bands < 1 || !(shrink >= 1.0))
		return -1;
	int box = reduce_box(w, ow);

	if (box > 1) {
		int bw = (w + box - 1) / box;

		if (!(boxed = malloc((size_t)bw * h * bands)))
			return -1;
		box_cols(in, w, h, bands, box, boxed);
		in = boxed;
		w = bw;
		shrink /= box;
		extra /= box;
	}
	if (shrink == 1.0) {
		memcpy(out, in, (size_t)ow * h * bands);
		rc = 0;
		goto done;
	}
	n = lanczos_points(shrink);
	if (n > MAX_POINTS || !(coef = malloc((size_t)(PHASES + 1) * n * sizeof *coef)))
		goto done;
	lanczos_cols(in, w, h, bands, shrink, extra, ow, out, n, coef);
	rc = 0;
done:
	free(coef);
	free(boxed);
	return rc;
}

int reduce_rows(const unsigned char *in, int h, int row, double shrink,
		unsigned char *out)
{
	const int oh = reduce_height(h, shrink);
	double extra = oh * shrink - h;
	unsigned char *boxed = NULL;
	uint32_t *acc = NULL;	/* the box's sums */
	const unsigned char **taps = NULL;
	const int16_t *coef = NULL;
	int n, rc = -1;

	if (!in || !out || h < 1 || row < 1 || !(shrink >= 1.0))
		return -1;
	if (!(acc = malloc((size_t)row * sizeof *acc)))
		return -1;
	/* vips_reducev_build()'s gap: an integer box shrink first, by the whole
	 * part of (rows per output row) / gap. */
	int box = reduce_box(h, oh);

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
	n = lanczos_points(shrink);
	if (n > MAX_POINTS || !(coef = row_masks(shrink, n)) ||
	    !(taps = malloc((size_t)n * sizeof *taps)))
		goto done;
	lanczos_rows(in, h, row, shrink, extra, oh, out, n, coef, taps);
	rc = 0;
done:
	free(taps);
	free(boxed);
	free(acc);
	return rc;
}
