/* SPDX-License-Identifier: MIT */
/*
 * thumb.c — the task run in a worker: one input file -> one thumbnail per size,
 * each saved atomically. The contract is in thumb.h; this file is the how.
 *
 * The shape of thumb_run():
 *   1. make a "master": the whole image, uniformly scaled for the largest box,
 *      upright, colour managed to sRGB, 8-bit, held in memory. Two ways:
 *      - the JPEG fast path (fast_master()): libjpeg-turbo decodes the file at the
 *        DCT scale vips_thumbnail() would pick, straight into memory (fastjpeg.c),
 *        then resize_oriented() resamples it with vips_reducev()'s own arithmetic
 *        (reduce.c) and turns it upright, as vips_thumbnail() would after its
 *        own load; RGB and CMYK profiles go through cached lcms transforms
 *        (colour.c). The same pixels as the libvips path, without libvips'
 *        per-file machinery (two header reads with EXIF expanded into strings,
 *        the loader's pipeline, an orc program compiled per resample). It takes
 *        8-bit YCbCr/RGB/grey/CMYK JPEGs within the pixel limit without
 *        --keep-metadata; anything else, and any error, goes to
 *      - the libvips path: read the header (size, orientation, profile, pixel
 *        limit), then vips_thumbnail() (file based, so JPEG/WebP/HEIC shrink on
 *        load), whose errors are the ones reported;
 *      either way an embedded profile that is sRGB in all but name is not
 *      transformed (colour_icc_is_srgb(), colour.c);
 *   2. make every output from the master with vips_thumbnail_image() (crop, force
 *      and premultiplied alpha handled there; skipped when the master already is
 *      the output), flatten alpha for JPEG, encode to memory (JPEG through
 *      libjpeg-turbo directly when metadata is stripped) and write each to a new
 *      file in the folder the caller gave (the run's temp folder);
 *   3. fsync them all at once. Moving them into the output tree is the parent's
 *      (publish.c): a worker never renames or deletes anything it did not create.
 * Outputs of one file are all-or-nothing: any failure removes the files this call
 * created.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <vips/vips.h>
#include <png.h>
#include <jconfig.h>	/* libjpeg-turbo's build config: LIBJPEG_TURBO_VERSION */

#include "colour.h"
#include "fastjpeg.h"
#include "filehash.h"
#include "geometry.h"
#include "pngmaster.h"
#include "reduce.h"
#include "thumb.h"

/* The failure mode passed to every loader: a truncated or corrupt file fails
 * instead of giving a thumbnail of half an image. "warning", as sharp's default
 * failOn: "truncated" and "error" let libjpeg's "Corrupt JPEG data: premature end
 * of data segment" through with grey garbage in the picture, while every photo of
 * the 64-file corpus still loads cleanly at "warning". */
#define THUMB_FAIL_ON VIPS_FAIL_ON_WARNING

/* Default quality per format when settings->quality is 0. */
#define JPEG_QUALITY 80
#define WEBP_QUALITY 80
#define AVIF_QUALITY 50

/* ------------------------------------------------------------------ errors -- */

/* printf into the caller's error buffer (cut to errlen, always terminated). */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Remove every occurrence of needle from s, in place. */
static void strip_all(char *s, const char *needle)
{
	size_t n = strlen(needle);
	char *p;

	if (n == 0)
		return;
	while ((p = strstr(s, needle)))
		memmove(p, p + n, strlen(p + n) + 1);
}

/* A new string: s with every needle replaced by with (g_free it). */
static char *replace_all(const char *s, const char *needle, const char *with)
{
	char **parts = g_strsplit(s, needle, -1);
	char *joined = g_strjoinv(with, parts);

	g_strfreev(parts);
	return joined;
}

/* Take libvips' error text (and clear it, so the next file starts clean) as one
 * line: lines joined with "; ", repeated lines dropped, the input path removed
 * (the caller names the file): libvips' quoted "<path>" becomes "file", e.g.
 * "VipsForeignLoad: file is not a known file format". Falls back to
 * `fallback` when libvips left nothing. */
static void vips_cause(char *err, size_t errlen, const char *input, const char *fallback)
{
	char *msg = vips_error_buffer_copy();
	GString *line = g_string_new(NULL);
	char *save = NULL, *prev = NULL;

	if (input && *input) {
		char *quoted = g_strdup_printf("\"%s\"", input);
		char *colon = g_strdup_printf("%s: ", input);
		char *tmp = replace_all(msg, quoted, "file");

		g_free(msg);
		msg = tmp;
		strip_all(msg, colon);
		/* Bare only when it cannot be an ordinary word of a message. */
		if (strchr(input, '/'))
			strip_all(msg, input);
		g_free(quoted);
		g_free(colon);
	}
	for (char *l = strtok_r(msg, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		g_strstrip(l);
		if (!*l || (prev && strcmp(prev, l) == 0))
			continue;
		if (line->len)
			g_string_append(line, "; ");
		g_string_append(line, l);
		prev = l;
	}
	set_err(err, errlen, "%s", line->len ? line->str : fallback);
	g_string_free(line, TRUE);
	g_free(msg);
}

/* ------------------------------------------------------------ worker setup -- */

/* Swallow libvips' warnings and infos: a worker must never write to the
 * terminal (the parent owns it); failures reach the caller through err. */
static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *msg,
		      gpointer data)
{
	(void)domain; (void)level; (void)msg; (void)data;
}

/* Keep freed memory in the heap between images instead of unmapping it and
 * faulting fresh zeroed pages in for the next one: every image allocates the same
 * few large buffers (compressed file, decoded pixels, libvips regions). Blocks up
 * to 32 MiB (glibc's ceiling for the threshold) come from the heap, and up to
 * 128 MiB of free heap is kept. A worker that grows is recycled by the pool
 * (--max-worker-rss). */
static void keep_memory_mapped(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

int thumb_worker_init(int threads, char *err, size_t errlen)
{
	static int quiet;

	keep_memory_mapped();

	if (!quiet) {
		g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
				  G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, quiet_log, NULL);
		quiet = 1;
	}
	if (VIPS_INIT("imgpool")) {
		vips_cause(err, errlen, NULL, "libvips failed to start");
		return -1;
	}
	/* Every call works on a new file: the operation cache only costs memory and
	 * keeps files open. */
	vips_cache_set_max(0);
	vips_cache_set_max_mem(0);
	vips_cache_set_max_files(0);
	vips_concurrency_set(threads < 1 ? 1 : threads);
	/* Loaders not fuzzed for hostile input (matload, ...) are refused. */
	vips_block_untrusted_set(TRUE);
	return 0;
}

void thumb_worker_fini(void)
{
	colour_free();
	vips_shutdown();
}

/* ----------------------------------------------------------------- sizing -- */

/* How one box scales an input of w x h (already rotated upright): the uniform
 * scale before any crop, and whether the width (else the height) decides it.
 * A 0 side is unconstrained, so such a box is always "fit inside". Without
 * enlarge the scale stops at 1. */
static double box_scale(const thumb_settings *s, thumb_size b, int w, int h, int *by_width)
{
	double sx = b.w > 0 ? (double)b.w / w : 0;
	double sy = b.h > 0 ? (double)b.h / h : 0;
	double scale;

	if (b.h <= 0)
		*by_width = 1;
	else if (b.w <= 0)
		*by_width = 0;
	else if (s->fit == FIT_INSIDE)
		*by_width = sx <= sy;
	else		/* cover and fill: the master must cover the box */
		*by_width = sx >= sy;
	scale = *by_width ? sx : sy;
	if (!s->enlarge && scale > 1)
		scale = 1;
	return scale;
}

/* The vips_thumbnail() target for the master: the box whose uniform scale is the
 * largest, pinned on the axis that decides it (the other axis unconstrained), so
 * that every output is that master scaled down (or equal) and maybe cropped. */
void master_target(const thumb_settings *s, int w, int h, int *tw, int *th)
{
	double best = -1;

	for (int i = 0; i < s->nsizes; i++) {
		int by_width;
		double scale = box_scale(s, s->sizes[i], w, h, &by_width);

		if (scale > best) {
			best = scale;
			*tw = by_width ? s->sizes[i].w : VIPS_MAX_COORD;
			*th = by_width ? VIPS_MAX_COORD : s->sizes[i].h;
		}
	}
}

/* Check the boxes before any work: 1..THUMB_MAX_SIZES of them, no negative side,
 * not both sides unconstrained. */
static int check_sizes(const thumb_settings *s, char *err, size_t errlen)
{
	if (s->nsizes < 1 || s->nsizes > THUMB_MAX_SIZES) {
		set_err(err, errlen, "%d sizes requested (1 to %d allowed)",
			s->nsizes, THUMB_MAX_SIZES);
		return -1;
	}
	for (int i = 0; i < s->nsizes; i++) {
		thumb_size b = s->sizes[i];

		if (b.w < 0 || b.h < 0 || (b.w == 0 && b.h == 0) ||
		    b.w > VIPS_MAX_COORD || b.h > VIPS_MAX_COORD) {
			set_err(err, errlen, "size %d is %dx%d: not a box", i + 1, b.w, b.h);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ ICC profiles -- */

/* Whether im carries a profile that needs a transform to sRGB: any embedded
 * profile that colour_icc_is_srgb() does not recognise. */
static int needs_icc_transform(VipsImage *im)
{
	const void *data;
	size_t len;

	if (!vips_image_get_typeof(im, VIPS_META_ICC_NAME))
		return 0;
	if (vips_image_get_blob(im, VIPS_META_ICC_NAME, &data, &len))
		return 1;
	return !colour_icc_is_srgb(data, len);
}

/* --------------------------------------------------------------- decoding -- */

/* Read the header only (no pixel is decoded): the upright input size, whether
 * an ICC profile is embedded, and the pixel limit checked against what the loader
 * would decode (its default page). */
static int read_header(const thumb_settings *s, const char *input, int *w, int *h,
		       int *has_icc, failure_kind *kind, char *err, size_t errlen)
{
	VipsImage *im = vips_image_new_from_file(input, "fail_on", THUMB_FAIL_ON, NULL);
	uint64_t pixels;

	if (!im) {
		vips_cause(err, errlen, input, "cannot read the image header");
		return -1;
	}
	pixels = (uint64_t)im->Xsize * (uint64_t)im->Ysize;
	/* max_pixels 0 means no limit. */
	if (s->max_pixels && pixels > s->max_pixels) {
		set_err(err, errlen, "image is %dx%d (%" PRIu64 " pixels), over the limit "
			"of %" PRIu64 " (--max-pixels)", im->Xsize, im->Ysize, pixels,
			s->max_pixels);
		*kind = FAIL_LIMIT;
		g_object_unref(im);
		return -1;
	}
	*w = im->Xsize;
	*h = im->Ysize;
	*has_icc = needs_icc_transform(im);
	if (vips_image_get_orientation_swap(im)) {
		*w = im->Ysize;
		*h = im->Xsize;
	}
	g_object_unref(im);
	return 0;
}

/* Make in 8-bit sRGB (or 8-bit B_W for 1-2 band images), alpha kept. The master
 * from vips_thumbnail() is normally that already (it converts to sRGB or B_W, and
 * the export profile gives 8 bits); this catches 16-bit and odd interpretations
 * that slip through. *out is a new reference. */
static int to_srgb8(VipsImage *in, VipsImage **out)
{
	VipsInterpretation want = in->Bands < 3 ? VIPS_INTERPRETATION_B_W
						: VIPS_INTERPRETATION_sRGB;
	VipsImage *t = NULL;

	if (in->BandFmt == VIPS_FORMAT_UCHAR && in->Type == want) {
		g_object_ref(in);
		*out = in;
		return 0;
	}
	/* colourspace scales 16-bit RGB16/GREY16 down; a plain cast would clip. */
	if (vips_colourspace(in, &t, want, NULL))
		return -1;
	if (t->BandFmt == VIPS_FORMAT_UCHAR) {
		*out = t;
		return 0;
	}
	if (vips_cast_uchar(t, out, NULL)) {
		g_object_unref(t);
		return -1;
	}
	g_object_unref(t);
	return 0;
}

/* The master from a vips_thumbnail*() result (whose reference this takes): held
 * in memory and made 8-bit sRGB. Truncated or corrupt data fails here, when the
 * pixels are actually read. */
static int finish_master(const char *input, VipsImage *thumb, VipsImage **master,
			 char *err, size_t errlen)
{
	VipsImage *mem = vips_image_copy_memory(thumb);
	int rc;

	g_object_unref(thumb);
	if (!mem) {
		vips_cause(err, errlen, input, "cannot decode the image");
		return -1;
	}
	rc = to_srgb8(mem, master);
	g_object_unref(mem);
	if (rc) {
		vips_cause(err, errlen, input, "cannot convert the image to 8-bit sRGB");
		return -1;
	}
	return 0;
}

/* Decode the input once into the in-memory master (see the top of the file).
 * A profile that needs it (has_icc) is honoured by transforming to sRGB (export
 * profile); without one, vips_thumbnail() converts to sRGB or B_W itself (CMYK
 * through its built-in CMYK profile), which keeps grey images 1-band and skips an
 * lcms pass. */
static int make_master(const thumb_settings *s, const char *input, int w, int h,
		       int has_icc, VipsImage **master, char *err, size_t errlen)
{
	VipsImage *thumb = NULL;
	int tw = 0, th = 0;

	master_target(s, w, h, &tw, &th);
	if (vips_thumbnail(input, &thumb, tw,
			   "height", th,
			   "size", s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN,
			   "no_rotate", FALSE,
			   "export_profile", has_icc ? "srgb" : NULL,
			   "fail_on", THUMB_FAIL_ON,
			   NULL)) {
		vips_cause(err, errlen, input, "cannot decode the image");
		return -1;
	}
	return finish_master(input, thumb, master, err, errlen);
}

/* ------------------------------------------------------- JPEG fast path -- */

/* The shrink-on-load factor vips_thumbnail() picks for a JPEG of upright size
 * w x h and the master target tw x th (vips_thumbnail_find_jpegshrink() of
 * libvips 8.14): the common shrink of a fit inside the target (never below 1
 * without enlarge, never past an axis), then the largest DCT scale of 8, 4 or 2
 * that still leaves a factor of two for the final resample. Same decoder scale,
 * same pixels as the libvips path, so the same quality. */
static int jpeg_shrink(const thumb_settings *s, int w, int h, int tw, int th)
{
	double shrink = fmax((double)w / tw, (double)h / th);

	if (!s->enlarge)
		shrink = fmax(shrink, 1);
	shrink = fmin(shrink, fmin(w, h));
	return shrink >= 16 ? 8 : shrink >= 8 ? 4 : shrink >= 4 ? 2 : 1;
}

/* Wrap decoded pixels (not copied: they must outlive the image) as a libvips
 * image carrying what vips_thumbnail_image() needs to treat it as the libvips
 * path treats the file: the EXIF orientation, and the ICC profile when it is one
 * to transform (an sRGB one is left off: the pixels are sRGB already). */
static VipsImage *wrap_pixels(unsigned char *px, int w, int h, const fastjpeg_info *info,
			      int has_icc)
{
	VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * info->bands, w, h,
						   info->bands, VIPS_FORMAT_UCHAR);

	if (!im)
		return NULL;
	/* Fat strips, as libvips' jpegload declares (a memory image says "any"). */
	vips_image_pipelinev(im, VIPS_DEMAND_STYLE_FATSTRIP, NULL);
	if (info->orientation != 1)
		vips_image_set_int(im, VIPS_META_ORIENTATION, info->orientation);
	if (has_icc)
		vips_image_set_blob_copy(im, VIPS_META_ICC_NAME, info->icc, info->icc_len);
	return im;
}

/* vips_thumbnail()'s shrink for fitting an image stored as w x h inside the
 * master target tw x th (swapped when the orientation turns the image), with no
 * crop and no force: the larger of the two axis factors on both, never below 1
 * without enlarge, never past an axis (vips_thumbnail_calculate_shrink() of
 * libvips 8.14, which vips_thumbnail_image() would apply). */
void master_shrink(const thumb_settings *s, int w, int h, int swap, int tw, int th,
		   double *hs, double *vs)
{
	double x = (double)w / (swap ? th : tw), y = (double)h / (swap ? tw : th);

	if (x < y)
		x = y;
	else
		y = x;
	if (!s->enlarge) {
		x = fmax(1, x);
		y = fmax(1, y);
	}
	*hs = fmin(x, w);
	*vs = fmin(y, h);
}

/* Copy pixels (bands bytes each) into dst, uw x uh packed, taking dst pixel
 * (x, y) from src + y * dy + x * dx: with the right strides (negative ones
 * included) a transpose, a flip, a turn or any of the eight EXIF orientations,
 * in one pass. */
static void copy_strided(unsigned char *dst, int uw, int uh, int bands,
			 const unsigned char *src, ptrdiff_t dx, ptrdiff_t dy)
{
	for (int y = 0; y < uh; y++) {
		const unsigned char *p = src + (ptrdiff_t)y * dy;

		if (bands == 3)
			for (int x = 0; x < uw; x++, p += dx, dst += 3) {
				dst[0] = p[0];
				dst[1] = p[1];
				dst[2] = p[2];
			}
		else
			for (int x = 0; x < uw; x++, p += dx, dst += bands)
				memcpy(dst, p, (size_t)bands);
	}
}

/* A new in-memory image of w x h 8-bit pixels, sRGB (3 bands) or B_W (1),
 * declared fat strips as jpegload does; *pixels points to its (zeroed) buffer,
 * which the image owns. */
static VipsImage *new_owned(int w, int h, int bands, unsigned char **pixels)
{
	VipsImage *im = vips_image_new_memory();

	vips_image_init_fields(im, w, h, bands, VIPS_FORMAT_UCHAR, VIPS_CODING_NONE,
			       bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W,
			       1.0, 1.0);
	vips_image_pipelinev(im, VIPS_DEMAND_STYLE_FATSTRIP, NULL);
	if (vips_image_write_prepare(im)) {
		g_object_unref(im);
		return NULL;
	}
	*pixels = VIPS_IMAGE_ADDR(im, 0, 0);
	return im;
}

/* Compute all of pipeline in into the memory image out, in the calling thread:
 * one region the size of the image, prepared straight into out's pixels. No
 * threadpool is started, so no thread hand-offs and wake-ups per image (the
 * pipelines here are a single vips_reducev() over an image in memory). */
static int compute_into(VipsImage *in, VipsImage *out)
{
	VipsRect all = { 0, 0, in->Xsize, in->Ysize };
	VipsRegion *from = vips_region_new(in);
	VipsRegion *to = vips_region_new(out);
	int rc = vips_region_image(to, &all) || vips_region_prepare_to(from, to, &all, 0, 0);

	g_object_unref(from);
	g_object_unref(to);
	return rc ? -1 : 0;
}

/* vips_reducev() as vips_resize() calls it (lanczos3, reduce gap 2: an integer
 * box shrink first when the factor is large), its result in a new memory image
 * *out; a shrink of 1 gives a copy. 8-bit images in memory (all of them, in
 * practice) go through reduce_rows(): the same pixels, without an orc program
 * compiled for every call; anything else through vips_reducev() itself. */
static int reducev_memory(VipsImage *in, double shrink, VipsImage **out)
{
	VipsImage *t = NULL;
	unsigned char *px;
	int rc;

	if (in->BandFmt == VIPS_FORMAT_UCHAR && in->Coding == VIPS_CODING_NONE && in->data &&
	    shrink >= 1) {
		if (!(*out = new_owned(in->Xsize, reduce_height(in->Ysize, shrink), in->Bands,
				       &px)))
			return -1;
		if (reduce_rows(VIPS_IMAGE_ADDR(in, 0, 0), in->Ysize,
				(int)VIPS_IMAGE_SIZEOF_LINE(in), shrink, px) == 0)
			return 0;
		g_object_unref(*out);
		*out = NULL;
		return -1;
	}
	if (shrink > 1 ? vips_reducev(in, &t, shrink, "kernel", VIPS_KERNEL_LANCZOS3,
				      "gap", 2.0, NULL)
		       : vips_copy(in, &t, NULL))
		return -1;
	if (!(*out = new_owned(t->Xsize, t->Ysize, t->Bands, &px))) {
		g_object_unref(t);
		return -1;
	}
	rc = compute_into(t, *out);
	g_object_unref(t);
	if (rc) {
		g_object_unref(*out);
		*out = NULL;
	}
	return rc;
}

/* The strides that make copy_strided() read image I (w x h, as stored) in EXIF
 * orientation o (1..8, as vips_autorot() turns it upright) when I is held
 * transposed in memory (t: h wide, w high, so I(a, b) is at t + a * h + b).
 * Returns the start; the upright size is w x h, or h x w for o >= 5. */
static const unsigned char *oriented_from_transposed(const unsigned char *t, int w, int h,
						     int bands, int o, ptrdiff_t *dx,
						     ptrdiff_t *dy)
{
	ptrdiff_t col = bands, row = (ptrdiff_t)h * bands;	/* I's b and a steps */
	ptrdiff_t last_a = (ptrdiff_t)(w - 1) * row, last_b = (ptrdiff_t)(h - 1) * col;

	switch (o) {
	case 2: *dx = -row; *dy = col; return t + last_a;
	case 3: *dx = -row; *dy = -col; return t + last_a + last_b;
	case 4: *dx = row; *dy = -col; return t + last_b;
	case 5: *dx = col; *dy = row; return t;
	case 6: *dx = -col; *dy = row; return t + last_b;
	case 7: *dx = -col; *dy = -row; return t + last_a + last_b;
	case 8: *dx = col; *dy = -row; return t + last_a;
	default: *dx = row; *dy = col; return t;
	}
}

/* Downsize an 8-bit image without alpha by hs x vs (both >= 1) as vips_resize()
 * does, and turn the result upright by EXIF orientation o (1 for none), as
 * vips_thumbnail() does after its resize. The horizontal pass is vips_reducev()
 * run on the image transposed in memory: libvips 8.14 runs vips_reducev() as orc
 * SIMD code but vips_reduceh() as plain C (~8 instructions a tap: a quarter of a
 * small photo's thumbnail). Same kernel, same output size, same sample
 * positions, so the pixels are vips_resize()'s within rounding (PSNR within 0.12
 * dB of it on the corpus). The final copy out of the transposed buffer applies the
 * orientation at no extra cost. *out is a new memory image that owns its pixels
 * (never in, whose pixels the caller may free). */
static int resize_oriented(VipsImage *in, double hs, double vs, int o, VipsImage **out)
{
	int b = in->Bands, w, h;
	VipsImage *rows = NULL, *tr = NULL, *cols = NULL, *up;
	unsigned char *tp, *up_px;
	const unsigned char *start;
	ptrdiff_t dx, dy;
	int rc = -1;

	if (reducev_memory(in, vs, &rows))
		return -1;
	w = rows->Xsize;
	/* rows (w x h1) transposed into tr (h1 x w): tr(y, x) = rows(x, y). */
	if (!(tr = new_owned(rows->Ysize, w, b, &tp)))
		goto done;
	copy_strided(tp, rows->Ysize, w, b, VIPS_IMAGE_ADDR(rows, 0, 0),
		     VIPS_IMAGE_SIZEOF_LINE(rows), b);
	if (reducev_memory(tr, hs, &cols))
		goto done;
	/* cols is the result I (w2 x h) held transposed: h wide, w2 high. */
	w = cols->Ysize;
	h = cols->Xsize;
	start = oriented_from_transposed(VIPS_IMAGE_ADDR(cols, 0, 0), w, h, b, o, &dx, &dy);
	if (!(up = o >= 5 ? new_owned(h, w, b, &up_px) : new_owned(w, h, b, &up_px)))
		goto done;
	copy_strided(up_px, up->Xsize, up->Ysize, b, start, dx, dy);
	*out = up;
	rc = 0;
done:
	if (rows)
		g_object_unref(rows);
	if (tr)
		g_object_unref(tr);
	if (cols)
		g_object_unref(cols);
	return rc;
}

/* The resample of a decoded JPEG (stored orientation, in memory) towards the
 * master target tw x th, as vips_thumbnail() resamples after its own load:
 * resize_oriented() when it only shrinks and no profile needs libvips'
 * transform; vips_thumbnail_image() itself otherwise (enlarging, grey with a
 * profile). *out is a new image. */
static int resample(const thumb_settings *s, VipsImage *im, int orientation, int has_icc,
		    int tw, int th, VipsImage **out)
{
	double hs, vs;

	master_shrink(s, im->Xsize, im->Ysize, orientation >= 5, tw, th, &hs, &vs);
	if (!has_icc && hs >= 1 && vs >= 1)
		return resize_oriented(im, hs, vs, orientation, out);
	if (im->Bands == 4)
		return -1;	/* CMYK to enlarge: the libvips path's */
	return vips_thumbnail_image(im, out, tw,
				    "height", th,
				    "size", s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN,
				    "no_rotate", FALSE,
				    "export_profile", has_icc ? "srgb" : NULL,
				    NULL);
}

/* Replace the inverted-CMYK memory image *im by its sRGB version through t
 * (colour_cmyk_to_srgb()), on failure unreferenced and NULL. */
static int cmyk_to_rgb(colour_transform *t, VipsImage **im)
{
	VipsImage *cmyk = *im, *rgb = NULL;
	unsigned char *px;

	*im = NULL;
	if (cmyk->Bands != 4 || cmyk->BandFmt != VIPS_FORMAT_UCHAR || !cmyk->data ||
	    !(rgb = new_owned(cmyk->Xsize, cmyk->Ysize, 3, &px)) ||
	    colour_apply_cmyk(t, VIPS_IMAGE_ADDR(cmyk, 0, 0), px, cmyk->Xsize, cmyk->Ysize)) {
		if (rgb)
			g_object_unref(rgb);
		g_object_unref(cmyk);
		return -1;
	}
	g_object_unref(cmyk);
	*im = rgb;
	return 0;
}

/* Last touches to a fast-path master: the cached colour transform, if any, and
 * the mark that a master from vips_thumbnail() carries (its loader sets it):
 * "read sequentially" makes vips_reducev() and vips_shrinkv() keep a line cache
 * on their output when outputs are made from the master. Without it every
 * output strip recomputes the vertical resample's overlap (a 1500 px master gave
 * its 320 px output 5x slower). Not set on the decoded image: the master's own
 * single pass gains nothing from the cache (+2 % work). */
static int finish_fast_master(VipsImage *master, colour_transform *transform)
{
	vips_image_set_int(master, VIPS_META_SEQUENTIAL, 1);
	if (!transform)
		return 0;
	if (master->BandFmt != VIPS_FORMAT_UCHAR || master->Bands != 3 || !master->data)
		return -1;
	return colour_apply_rgb(transform, VIPS_IMAGE_ADDR(master, 0, 0), master->Xsize,
				master->Ysize);
}

/* The master of a JPEG through libjpeg-turbo: decode at the DCT scale libvips
 * would use straight into memory, then the resample, colour management and
 * rotation vips_thumbnail() applies after its own load (resample(); an RGB
 * profile through a cached lcms transform). What it saves is libvips' per-file
 * machinery (two header reads with EXIF expanded into metadata strings, the
 * loader's pipeline, its second open of the file), the transform's rebuild, and
 * vips_reduceh()'s plain C. Returns 0 with *master and the upright size in *w,
 * *h; 1 when the file is not for this path (not a JPEG, --keep-metadata, over
 * the pixel limit, a profile lcms cannot use, or any decode error): the caller then
 * runs the libvips path, which reports errors in its usual words. Never fails a
 * file by itself. */
static int fast_master(const thumb_settings *s, const char *input, int *w, int *h,
		       VipsImage **master)
{
	fastjpeg *j = NULL;
	fastjpeg_info info;
	VipsImage *im, *thumb = NULL;
	colour_transform *transform;
	unsigned char *px;
	char why[256];
	int uw, uh, tw = 0, th = 0, fw, fh, has_icc, cmyk, rc;

	if (s->keep_metadata || fastjpeg_open(input, &j, &info, why, sizeof why) != FASTJPEG_OK)
		return 1;
	uw = info.orientation >= 5 ? info.height : info.width;
	uh = info.orientation >= 5 ? info.width : info.height;
	if (s->max_pixels && (uint64_t)uw * (uint64_t)uh > s->max_pixels) {
		fastjpeg_close(j);
		return 1;
	}
	master_target(s, uw, uh, &tw, &th);
	has_icc = info.icc && !colour_icc_is_srgb(info.icc, info.icc_len);
	/* An RGB profile goes through a cached lcms transform after the resample
	 * (a per-pixel operation: before or after the rotation is the same); a
	 * grey one through vips_icc_transform(), as the libvips path does. CMYK
	 * always goes to sRGB as vips_colourspace() takes it (see colour.h),
	 * resampled first: the conversion is the costly part per pixel, and the
	 * master has a tenth of the decoded pixels. Without a usable transform the
	 * file is the libvips path's. */
	cmyk = info.bands == 4;
	transform = cmyk ? colour_cmyk_to_srgb()
		    : has_icc && info.bands == 3 ? colour_rgb_to_srgb(info.icc, info.icc_len) : NULL;
	if (cmyk && !transform) {
		fastjpeg_close(j);
		return 1;
	}
	if (transform)
		has_icc = 0;
	if (fastjpeg_decode(j, 8 / jpeg_shrink(s, uw, uh, tw, th), &px, &fw, &fh,
			    why, sizeof why) != FASTJPEG_OK ||
	    !(im = wrap_pixels(px, fw, fh, &info, has_icc))) {
		fastjpeg_close(j);
		vips_error_clear();
		return 1;
	}
	/* The master is a copy in memory: px can go with the handle. */
	rc = resample(s, im, info.orientation, has_icc, tw, th, &thumb);
	if (!rc && cmyk)
		rc = cmyk_to_rgb(transform, &thumb);
	if (!rc)
		rc = finish_master(input, thumb, master, why, sizeof why);
	g_object_unref(im);
	fastjpeg_close(j);
	if (!rc && finish_fast_master(*master, cmyk ? NULL : transform)) {
		g_object_unref(*master);
		rc = -1;
	}
	if (rc) {
		vips_error_clear();
		return 1;
	}
	*w = uw;
	*h = uh;
	return 0;
}

/* ---------------------------------------------------------------- outputs -- */

/* Whether box b leaves the master as it is, so the output is the master itself
 * (the usual case of one size: the master was made for that box). Fit inside: the
 * master fits the box and either touches it or may not be enlarged, so the shrink
 * vips_thumbnail_image() would compute is exactly 1. Cover and fill: the master
 * is the box's size already. Saves a resize pipeline per output. */
static int output_is_master(const thumb_settings *s, const VipsImage *m, thumb_size b)
{
	int bounded = b.w > 0 && b.h > 0;
	int fits = (b.w <= 0 || m->Xsize <= b.w) && (b.h <= 0 || m->Ysize <= b.h);
	int touches = (b.w > 0 && m->Xsize == b.w) || (b.h > 0 && m->Ysize == b.h);

	if (bounded && s->fit != FIT_INSIDE)
		return m->Xsize == b.w && m->Ysize == b.h;
	return fits && (touches || !s->enlarge);
}

/* One output image from the master: fit, cover (crop) or fill box b. A box with
 * an unconstrained side is always "fit inside" (nothing to crop or stretch). */
static int make_output(const thumb_settings *s, VipsImage *master, thumb_size b,
		       VipsImage **out)
{
	int bounded = b.w > 0 && b.h > 0;
	VipsSize size = s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN;
	VipsInteresting crop = VIPS_INTERESTING_NONE;

	if (output_is_master(s, master, b)) {
		g_object_ref(master);
		*out = master;
		return 0;
	}
	if ((!bounded || s->fit == FIT_INSIDE) && !vips_image_hasalpha(master)) {
		double hs, vs;

		/* A plain fit inside that shrinks (no alpha to premultiply):
		 * resize_oriented(), the SIMD way. */
		master_shrink(s, master->Xsize, master->Ysize, 0,
			      b.w > 0 ? b.w : VIPS_MAX_COORD,
			      b.h > 0 ? b.h : VIPS_MAX_COORD, &hs, &vs);
		if (hs >= 1 && vs >= 1)
			return resize_oriented(master, hs, vs, 1, out);
	}
	if (bounded && s->fit == FIT_FILL)
		size = VIPS_SIZE_FORCE;
	if (bounded && s->fit == FIT_COVER)
		crop = s->crop == CROP_ATTENTION ? VIPS_INTERESTING_ATTENTION
						 : VIPS_INTERESTING_CENTRE;
	return vips_thumbnail_image(master, out, b.w > 0 ? b.w : VIPS_MAX_COORD,
				    "height", b.h > 0 ? b.h : VIPS_MAX_COORD,
				    "size", size,
				    "crop", crop,
				    "no_rotate", TRUE,
				    NULL);
}

/* --------------------------------------------------------------- encoding -- */

/* Flatten alpha onto the background for JPEG, which has none. One background
 * value (its luma) for grey + alpha. *out is a new reference. */
static int flatten_for_jpeg(const thumb_settings *s, VipsImage *in, VipsImage **out)
{
	const double *bg = s->background;
	double grey = 0.2126 * bg[0] + 0.7152 * bg[1] + 0.0722 * bg[2];
	VipsArrayDouble *background;
	int rc;

	if (!vips_image_hasalpha(in)) {
		g_object_ref(in);
		*out = in;
		return 0;
	}
	background = in->Bands <= 2 ? vips_array_double_new(&grey, 1)
				    : vips_array_double_new(bg, 3);
	rc = vips_flatten(in, out, "background", background, NULL);
	vips_area_unref(VIPS_AREA(background));
	return rc;
}

/* JPEG through libjpeg-turbo directly: fastjpeg_encode() writes the bytes
 * vips_jpegsave_buffer() writes with strip set, without a libvips pipeline
 * (threadpool, regions, target) per output. For 8-bit 1 or 3 band images with
 * metadata stripped; returns 1 otherwise (the caller uses libvips). The buffer is
 * malloc'd, which g_free() frees (GLib >= 2.46 uses the system allocator). */
static int encode_jpeg_direct(const thumb_settings *s, VipsImage *flat, int q,
			      void **buf, size_t *len)
{
	VipsImage *mem;
	unsigned char *out = NULL;
	size_t n = 0;
	char why[256];
	int rc;

	if (s->keep_metadata || flat->BandFmt != VIPS_FORMAT_UCHAR ||
	    flat->Coding != VIPS_CODING_NONE || (flat->Bands != 1 && flat->Bands != 3))
		return 1;
	if (!(mem = vips_image_copy_memory(flat))) {
		vips_error_clear();
		return 1;
	}
	rc = fastjpeg_encode(VIPS_IMAGE_ADDR(mem, 0, 0), mem->Xsize, mem->Ysize, mem->Bands,
			     q, &out, &n, why, sizeof why);
	g_object_unref(mem);
	if (rc != FASTJPEG_OK)
		return 1;
	*buf = out;
	*len = n;
	return 0;
}

/* Encode im as format f into a new g_malloc'd buffer. Metadata is stripped unless
 * asked to keep it. */
static int encode(const thumb_settings *s, VipsImage *im, thumb_format f,
		  void **buf, size_t *len)
{
	gboolean strip = !s->keep_metadata;
	int q = s->quality;
	VipsImage *flat = NULL;
	int rc;

	switch (f) {
	case FORMAT_PNG:
		return vips_pngsave_buffer(im, buf, len, "strip", strip, NULL);
	case FORMAT_WEBP:
		return vips_webpsave_buffer(im, buf, len, "Q", q ? q : WEBP_QUALITY,
					    "strip", strip, NULL);
	case FORMAT_AVIF:
		return vips_heifsave_buffer(im, buf, len,
					    "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
					    "Q", q ? q : AVIF_QUALITY, "strip", strip, NULL);
	case FORMAT_JPEG:
	case FORMAT_SAME:
		break;
	}
	if (flatten_for_jpeg(s, im, &flat))
		return -1;
	rc = encode_jpeg_direct(s, flat, q ? q : JPEG_QUALITY, buf, len);
	if (rc == 1)
		rc = vips_jpegsave_buffer(flat, buf, len, "Q", q ? q : JPEG_QUALITY,
					  "strip", strip, NULL);
	g_object_unref(flat);
	return rc;
}

/* ------------------------------------------------------------------ saving -- */

/* write() all of buf, going on after short writes and EINTR. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create out->name as a new file in out->dirfd (0666 less the umask, as a plain
 * open would give; never through a symlink, never over an existing file) holding
 * buf, and leave it open in *fd with its data on its way to the disk
 * (sync_file_range() starts the writeback without waiting) so that sync_outputs()
 * waits for all outputs of a file at once. On failure nothing is left and err
 * names the cause (strerror, e.g. "No space left on device"). */
static int write_output(const thumb_output *out, const void *buf, size_t len, int *fd,
			char *err, size_t errlen)
{
	*fd = openat(out->dirfd, out->name,
		     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (*fd < 0) {
		set_err(err, errlen, "cannot create the thumbnail file: %s", strerror(errno));
		return -1;
	}
	if (write_all(*fd, buf, len) != 0) {
		int e = errno;

		close(*fd);
		*fd = -1;
		unlinkat(out->dirfd, out->name, 0);
		set_err(err, errlen, "cannot write the thumbnail: %s", strerror(e));
		return -1;
	}
	/* Only a hint: fsync() below is what guarantees the data. */
	(void)sync_file_range(*fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/* fsync and close each output (fds[i] becomes -1): the parent moves an output into
 * place only once its bytes are on disk. close() can report a delayed write error
 * (NFS, quota). The first failure is the cause; the rest are closed all the same
 * (the caller removes the files). */
static int sync_outputs(int n, int *fds, char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 0; i < n; i++) {
		int fail = fsync(fds[i]) != 0;
		int e = errno;

		if (close(fds[i]) != 0 && !fail) {
			fail = 1;
			e = errno;
		}
		fds[i] = -1;
		if (fail && rc == 0) {
			set_err(err, errlen, "cannot write the thumbnail: %s", strerror(e));
			rc = -1;
		}
	}
	return rc;
}

/* ------------------------------------------------------------------ thumb -- */

/* Make, encode as its format and write (to a new file, left open in *fd) output
 * i. Fills res->out[i]. */
static int produce(const thumb_settings *s, VipsImage *master, int i,
		   const thumb_output *out, int *fd, thumb_result *res,
		   failure_kind *kind, char *err, size_t errlen)
{
	VipsImage *im = NULL;
	void *buf = NULL;
	size_t len = 0;
	int rc;

	if (make_output(s, master, s->sizes[i], &im) || encode(s, im, out->format, &buf, &len)) {
		vips_cause(err, errlen, NULL, "cannot make the thumbnail");
		*kind = FAIL_DECODE;
		if (im)
			g_object_unref(im);
		return -1;
	}
	res->out[i].w = im->Xsize;
	res->out[i].h = im->Ysize;
	res->out[i].bytes = len;
	g_object_unref(im);
	rc = write_output(out, buf, len, fd, err, errlen);
	if (rc)
		*kind = FAIL_OUTPUT;
	g_free(buf);
	return rc;
}

/* The checks before any decoding: sizes, outputs, and an input that is a
 * non-empty regular file we may read. */
static int check_task(const thumb_settings *settings, const char *input,
		      const thumb_output *outputs, thumb_result *res, failure_kind *kind,
		      char *err, size_t errlen)
{
	struct stat st;

	*kind = FAIL_DECODE;
	if (check_sizes(settings, err, errlen))
		return -1;
	for (int i = 0; i < settings->nsizes; i++)
		if (!outputs[i].name || !*outputs[i].name || strchr(outputs[i].name, '/') ||
		    outputs[i].format == FORMAT_SAME) {
			set_err(err, errlen, "no usable output for size %d", i + 1);
			*kind = FAIL_OUTPUT;
			return -1;
		}
	if (stat(input, &st) != 0) {
		set_err(err, errlen, "%s", strerror(errno));
		*kind = FAIL_ENVIRONMENT;
		return -1;
	}
	res->in_bytes = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "not a regular file");
		return -1;
	}
	if (st.st_size == 0) {
		set_err(err, errlen, "empty file");
		return -1;
	}
	/* Reading it here also tells an input we may not read (environmental) from
	 * one we cannot decode. */
	if (filehash_path(input, &res->in_checksum) < 0) {
		set_err(err, errlen, "%s", strerror(errno));
		*kind = FAIL_ENVIRONMENT;
		return -1;
	}
	return 0;
}

int thumb_run(const thumb_settings *settings, const char *input,
	      const thumb_output *outputs, thumb_result *res, failure_kind *kind,
	      char *err, size_t errlen)
{
	int fds[THUMB_MAX_SIZES], made[THUMB_MAX_SIZES] = {0};
	VipsImage *master = NULL;
	int w = 0, h = 0, has_icc = 0, rc = -1;

	memset(res, 0, sizeof *res);
	for (int i = 0; i < THUMB_MAX_SIZES; i++)
		fds[i] = -1;
	if (check_task(settings, input, outputs, res, kind, err, errlen))
		return -1;
	*kind = FAIL_DECODE;
	if (fast_master(settings, input, &w, &h, &master) != 0 &&
	    pngmaster_make(settings, input, &w, &h, &master) != 0 &&
	    (read_header(settings, input, &w, &h, &has_icc, kind, err, errlen) ||
	     make_master(settings, input, w, h, has_icc, &master, err, errlen)))
		goto done;
	res->in_w = w;
	res->in_h = h;
	res->nout = settings->nsizes;
	for (int i = 0; i < settings->nsizes; i++) {
		if (produce(settings, master, i, &outputs[i], &fds[i], res, kind, err, errlen))
			goto done;
		made[i] = 1;
	}
	rc = sync_outputs(settings->nsizes, fds, err, errlen);
	if (rc)
		*kind = FAIL_OUTPUT;
done:
	for (int i = 0; i < THUMB_MAX_SIZES; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (rc && made[i])
			unlinkat(outputs[i].dirfd, outputs[i].name, 0);
	}
	if (master)
		g_object_unref(master);
	vips_error_clear();
	if (rc) {
		/* What was learnt of the input stays; no output exists. */
		res->nout = 0;
		memset(res->out, 0, sizeof res->out);
	} else {
		*kind = FAIL_NONE;
	}
	return rc;
}

/* --------------------------------------------------------------- versions -- */

#define STR_(x) #x
#define STR(x) STR_(x)

/* None of these starts libvips: vips_version() reads compiled-in numbers. */
const char *thumb_vips_version(void)
{
	static char v[32];

	snprintf(v, sizeof v, "libvips %d.%d.%d", vips_version(0), vips_version(1),
		 vips_version(2));
	return v;
}

const char *thumb_jpeg_version(void)
{
#ifdef LIBJPEG_TURBO_VERSION
	return "libjpeg-turbo " STR(LIBJPEG_TURBO_VERSION);
#else
	return "libjpeg " STR(JPEG_LIB_VERSION);
#endif
}

const char *thumb_png_version(void)
{
	static char v[32];

	snprintf(v, sizeof v, "libpng %s", png_get_libpng_ver(NULL));
	return v;
}
