/* SPDX-License-Identifier: MIT */
/*
 * save.c — encoding an output and writing it as a new file. See save.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <vips/vips.h>

#include "fastjpeg.h"
#include "io.h"
#include "metadata.h"
#include "save.h"
#include "vipserr.h"

/* Default quality per format when settings->quality is 0 (settings.h). */
#define JPEG_QUALITY thumb_default_quality(FORMAT_JPEG)
#define WEBP_QUALITY thumb_default_quality(FORMAT_WEBP)
#define AVIF_QUALITY thumb_default_quality(FORMAT_AVIF)

/* --------------------------------------------------------------- encoding -- */

/* Flatten alpha onto the background for JPEG, which has none. Grey + alpha stays
 * grey on a grey background; on a colour one it becomes sRGB first (flattened on
 * the colour's luma, --background '#ff0000' gave a grey where the red was asked
 * for). *out is a new reference. */
static int flatten_for_jpeg(const thumb_settings *s, VipsImage *in, VipsImage **out)
{
	const double *bg = s->background;
	VipsImage *rgb = NULL;
	VipsArrayDouble *background;
	int rc;

	if (!vips_image_hasalpha(in)) {
		g_object_ref(in);
		*out = in;
		return 0;
	}
	if (in->Bands <= 2 && (bg[0] != bg[1] || bg[1] != bg[2])) {
		if (vips_colourspace(in, &rgb, VIPS_INTERPRETATION_sRGB, NULL))
			return -1;
		in = rgb;
	}
	background = vips_array_double_new(bg, in->Bands <= 2 ? 1 : 3);
	rc = vips_flatten(in, out, "background", background, NULL);
	vips_area_unref(VIPS_AREA(background));
	if (rgb)
		g_object_unref(rgb);
	return rc;
}

/* JPEG through libjpeg-turbo directly: fastjpeg_encode() writes the bytes
 * vips_jpegsave_buffer() writes with strip set, without a libvips pipeline
 * (threadpool, regions, target) per output. For 8-bit 1 or 3 band images with
 * metadata stripped, baseline and the default subsampling; returns 1 otherwise
 * (the caller uses libvips, which honours --progressive and --subsample). The buffer is
 * malloc'd, which g_free() frees (GLib >= 2.46 uses the system allocator). */
static int encode_jpeg_direct(const thumb_settings *s, VipsImage *flat, int q,
			      void **buf, size_t *len)
{
	VipsImage *mem;
	unsigned char *out = NULL;
	size_t n = 0;
	char why[256];
	int rc;

	if (s->keep_metadata || s->progressive || s->subsample != SUBSAMPLE_AUTO ||
	    flat->BandFmt != VIPS_FORMAT_UCHAR ||
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

/* libvips' subsample_mode for --subsample. */
static VipsForeignSubsample subsample_mode(thumb_subsample m)
{
	return m == SUBSAMPLE_ON ? VIPS_FOREIGN_SUBSAMPLE_ON
	       : m == SUBSAMPLE_OFF ? VIPS_FOREIGN_SUBSAMPLE_OFF : VIPS_FOREIGN_SUBSAMPLE_AUTO;
}

/* The encoder's effort for --effort: libvips' default (4 for both WebP and
 * AVIF in 8.14) when not given; WebP's scale ends at 6 (--format same may give
 * a WebP output to an --effort meant for AVIF: the closest WebP has). */
static int effort_of(const thumb_settings *s, int max)
{
	if (!s->effort_given)
		return THUMB_DEFAULT_EFFORT;
	return s->effort > max ? max : s->effort;
}

/* Encode im as format f (metadata already selected: strip is off only when some
 * is kept). */
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
					    "strip", strip, "effort", effort_of(s, 6),
					    "lossless", s->lossless ? TRUE : FALSE, NULL);
	case FORMAT_AVIF:
		return vips_heifsave_buffer(im, buf, len,
					    "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
					    "Q", q ? q : AVIF_QUALITY, "strip", strip,
					    "effort", effort_of(s, 9), NULL);
	case FORMAT_JPEG:
	case FORMAT_SAME:
		break;
	}
	if (flatten_for_jpeg(s, im, &flat))
		return -1;
	rc = encode_jpeg_direct(s, flat, q ? q : JPEG_QUALITY, buf, len);
	if (rc == 1)
		rc = vips_jpegsave_buffer(flat, buf, len, "Q", q ? q : JPEG_QUALITY,
					  "strip", strip,
					  "interlace", s->progressive ? TRUE : FALSE,
					  "subsample_mode", subsample_mode(s->subsample), NULL);
	g_object_unref(flat);
	return rc;
}

/* The RIFF chunk sizes of a WebP file are little-endian (read with io_le32). */
static void put_le32(unsigned char *p, size_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The bytes of the RIFF chunk at c: its header, its data and the pad byte that
 * follows data of odd size. */
static size_t chunk_bytes(const unsigned char *c)
{
	size_t size = io_le32(c + 4);
	return 8 + size + (size & 1);
}

/* Take the metadata chunks keep (KEEP_* bits) does not ask for out of the WebP
 * file in buf, in place (*len shrinks), and their flags out of its VP8X header.
 * libvips 8.14's webpsave rebuilds an EXIF block from the image's fields
 * (vips__exif_update(): size, resolution, orientation) and writes it even with
 * no EXIF on the image, so a WebP thumbnail made to carry no metadata still had
 * one. A buffer that is not a whole RIFF WebP is left as it is. */
static void webp_drop_metadata(int keep, unsigned char *buf, size_t *len)
{
	static const struct { char id[5]; int kind; unsigned char flag; } meta[] = {
		{"EXIF", KEEP_EXIF, 0x08}, {"XMP ", KEEP_XMP, 0x04}, {"ICCP", KEEP_ICC, 0x20},
	};
	size_t n = *len, at, out = 12;
	unsigned char *vp8x = NULL, clear = 0;

	if (n < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WEBP", 4))
		return;
	/* Every chunk whole, its pad byte included, before anything moves. */
	for (at = 12; at < n; at += chunk_bytes(buf + at))
		if (n - at < 8 || chunk_bytes(buf + at) > n - at)
			return;
	for (at = 12; at < n;) {
		size_t whole = chunk_bytes(buf + at);
		int drop = 0;

		for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
			if (!memcmp(buf + at, meta[i].id, 4) && !(keep & meta[i].kind)) {
				drop = 1;
				clear |= meta[i].flag;
			}
		if (!drop) {
			memmove(buf + out, buf + at, whole);
			if (!memcmp(buf + out, "VP8X", 4) && whole > 8) /* a flags byte */
				vp8x = buf + out + 8;
			out += whole;
		}
		at += whole;
	}
	if (vp8x)
		*vp8x &= (unsigned char)~clear;
	put_le32(buf + 4, out - 8);
	*len = out;
}

int save_max_side(thumb_format f)
{
	return f == FORMAT_JPEG ? 65500 : f == FORMAT_WEBP ? 16383 : f == FORMAT_AVIF ? 65536 : 0;
}

/* Encode im as format f into a new g_malloc'd buffer. Metadata is stripped unless
 * asked to keep it, and then only the kinds asked for are kept (metadata.h). */
int save_encode(const thumb_settings *s, VipsImage *im, thumb_format f,
		  void **buf, size_t *len)
{
	VipsImage *sel = NULL;
	int rc;

	/* libvips 8.14's webpsave ignores strip: it wrote the input's EXIF (a
	 * phone photo's GPS position too), XMP and ICC profile into every WebP
	 * thumbnail. Those are removed here instead, and the minimal EXIF block it
	 * then makes of its own (size, resolution, orientation 1) is taken out of
	 * the file it wrote. */
	if (!s->keep_metadata && f != FORMAT_WEBP)
		return encode(s, im, f, buf, len);
	if (metadata_select(s->keep_metadata, im, &sel))
		return -1;
	rc = encode(s, sel, f, buf, len);
	g_object_unref(sel);
	if (!rc && f == FORMAT_WEBP)
		webp_drop_metadata(s->keep_metadata, *buf, len);
	return rc;
}

/* ------------------------------------------------------------------ saving -- */


/* Create out->name as a new file in out->dirfd (0666 less the umask, as a plain
 * open would give; never through a symlink, never over an existing file) holding
 * buf, and leave it open in *fd with its data on its way to the disk
 * (sync_file_range() starts the writeback without waiting, so that the parent's
 * fsync of it, outsync.h, finds it mostly written). On failure nothing is left and
 * err names the cause (strerror, e.g. "No space left on device"). */
int save_write(const thumb_output *out, const void *buf, size_t len, int *fd,
			char *err, size_t errlen)
{
	*fd = openat(out->dirfd, out->name,
		     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, IO_NEW_FILE_MODE);
	if (*fd < 0) {
		vipserr_printf(err, errlen, "cannot create the thumbnail file: %s", strerror(errno));
		return -1;
	}
	if (io_write_all(*fd, buf, len) != 0) {
		int e = errno;

		close(*fd);
		*fd = -1;
		unlinkat(out->dirfd, out->name, 0);
		vipserr_printf(err, errlen, "cannot write the thumbnail: %s", strerror(e));
		return -1;
	}
	/* Only a hint: the parent's fsync is what guarantees the data. */
	(void)sync_file_range(*fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/* Close each output (fds[i] becomes -1). close() can report a delayed write
 * error (NFS, quota). The first failure is the cause; the rest are closed all the
 * same (the caller removes the files). No fsync here: a worker waiting for the
 * disk is a core doing nothing; the parent fsyncs each output in a thread of its
 * own before moving it into place (outsync.h). */
int save_close(int n, int *fds, char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 0; i < n; i++) {
		int fail = close(fds[i]) != 0;
		int e = errno;

		fds[i] = -1;
		if (fail && rc == 0) {
			vipserr_printf(err, errlen, "cannot write the thumbnail: %s", strerror(e));
			rc = -1;
		}
	}
	return rc;
}

