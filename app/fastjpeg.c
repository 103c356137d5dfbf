/* SPDX-License-Identifier: MIT */
/*
 * fastjpeg.c — libjpeg-turbo decoding straight into memory, DCT-scaled on load.
 * The contract is in fastjpeg.h; this file is the how.
 *
 * The whole file is read with one read() into a buffer and handed to libjpeg a
 * window at a time (window_src(), below: why). libjpeg reports errors through
 * error_exit() and warnings through emit_message(-1); both longjmp() back to the
 * call that started the work, with the message kept in the handle, so a corrupt
 * file never yields half an image. Marker parsing mirrors libvips 8.14's jpegload
 * (jpeg2vips.c): the last APP1 "Exif" block with an orientation tag decides the
 * orientation, and APP2 "ICC_PROFILE" chunks are joined in sequence order up to
 * the first one missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>

#include "exif.h"
#include "fastjpeg.h"
#include "io.h"
#include "jpegscan.h"

/* APP2 ICC chunks kept, as libvips' MAX_APP2_SECTIONS. */
#define MAX_ICC_CHUNKS 100

/* libjpeg's error manager plus where to jump and what went wrong. */
typedef struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
	/* fastjpeg_finish() reading on to the EOI: the file, to look at what
	 * libjpeg skipped there. NULL otherwise. */
	const unsigned char *data;
	size_t len;
	int eof_only; /* FASTJPEG_CHECK_END's tail: only running out of data fails */
	int warned;   /* the jump came from a warning of damage (fastjpeg_damaged()) */
} jerr;

struct fastjpeg {
	struct jpeg_decompress_struct cinfo;
	jerr err;
	int created;			/* cinfo needs jpeg_destroy_decompress() */
	unsigned char *data;		/* the whole file */
	size_t len;
	unsigned char *icc;		/* joined profile, or NULL */
	size_t icc_len;
	unsigned char *pixels;		/* the decoded image */
	J_COLOR_SPACE out_space;	/* JCS_RGB, JCS_GRAYSCALE or JCS_CMYK */
};

/* --------------------------------------------------------------- errors -- */

/* printf into the caller's error buffer (cut to errlen, always terminated). */
static void set_err(char *err, size_t errlen, const char *fmt, const char *arg)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, arg);
}

/* libjpeg's fatal error: keep the message, jump back to the caller's setjmp. */
static void on_error(j_common_ptr cinfo)
{
	jerr *e = (jerr *)cinfo->err;

	cinfo->err->format_message(cinfo, e->msg);
	longjmp(e->jump, 1);
}

/* Whether the warning being given, past the last row, is about padding only:
 * zero bytes between the image's data and its EOI, or no EOI (libjpeg's mem
 * source then supplies one). Cameras and webcams write such files, whose every
 * pixel is there; libvips, which stops reading at the last row, thumbnails them.
 * Bytes skipped there that are not all zero are damage: a chunk inserted, or a
 * stream that decoded out of step and ended in the wrong place. libjpeg's
 * next_marker() gives the warning with the source's position just past the
 * skipped bytes (or, at the end of the data, in the EOI it supplied). */
static int padding_at_end(j_common_ptr cinfo)
{
	const jerr *e = (const jerr *)cinfo->err;
	if (!e->data) /* set by fastjpeg_finish() only */
		return 0;
	if (cinfo->err->msg_code == JWRN_JPEG_EOF)
		return 1;
	if (cinfo->err->msg_code != JWRN_EXTRANEOUS_DATA)
		return 0;
	const unsigned char *at = ((j_decompress_ptr)cinfo)->src->next_input_byte;
	size_t end = at >= e->data && at <= e->data + e->len ? (size_t)(at - e->data) : e->len;
	size_t n = (size_t)cinfo->err->msg_parm.i[0];
	if (n > end)
		return 0;
	for (size_t i = end - n; i < end; i++)
		if (e->data[i])
			return 0;
	return 1;
}

/* libjpeg's warnings (msg_level -1: corrupt data, premature end, extraneous
 * bytes) are errors here, as with libvips' fail_on=warning: an image with a
 * damaged stream is not thumbnailed from grey garbage. Trace messages (level >= 0)
 * are ignored. */
static void on_message(j_common_ptr cinfo, int msg_level)
{
	jerr *e = (jerr *)cinfo->err;
	if (msg_level < 0 && !padding_at_end(cinfo) &&
	    (!e->eof_only || cinfo->err->msg_code == JWRN_JPEG_EOF)) {
		/* data cut short: libvips sees that too, and says it its way */
		e->warned = cinfo->err->msg_code != JWRN_JPEG_EOF;
		on_error(cinfo);
	}
}

/* A worker never writes to the terminal: messages reach the caller through err. */
static void on_output(j_common_ptr cinfo)
{
	(void)cinfo;
}

/* ----------------------------------------------------------------- input -- */

/* The file in memory, handed to libjpeg at most WINDOW bytes at a time, as the
 * bytes of a stream come. Given the whole file at once (jpeg_mem_src()),
 * libjpeg-turbo decodes baseline Huffman data on its fast path, which takes a bad
 * code for 0 without a warning: a photo with a damaged byte came out "ok" and
 * garbled, where libvips, reading 4 KiB at a time, mostly warns. libjpeg-turbo
 * takes its checking path while fewer than 512 bytes per block of an MCU wait
 * (jdhuff.c, BUFSIZE), so a window below 512 bytes always does. The windows
 * cost a call each; the checking decoder about 3 % of CPU on small photos
 * (bench/README.md): the price of failing a damaged file. */
#define WINDOW 511

typedef struct window_src {
	struct jpeg_source_mgr pub;
	const unsigned char *next, *end; /* the next window's start; the file's end */
} window_src;

static void window_init(j_decompress_ptr c)
{
	(void)c;
}

/* The next window; past the end, a fake EOI with libjpeg's warning, as
 * jpeg_mem_src()'s fill does. */
static boolean window_fill(j_decompress_ptr c)
{
	static const JOCTET eoi[2] = {0xFF, JPEG_EOI};
	window_src *s = (window_src *)c->src;
	if (s->next >= s->end) {
		WARNMS(c, JWRN_JPEG_EOF);
		s->pub.next_input_byte = eoi;
		s->pub.bytes_in_buffer = 2;
		return TRUE;
	}
	size_t n = (size_t)(s->end - s->next) < WINDOW ? (size_t)(s->end - s->next) : WINDOW;
	s->pub.next_input_byte = s->next;
	s->pub.bytes_in_buffer = n;
	s->next += n;
	return TRUE;
}

static void window_skip(j_decompress_ptr c, long n)
{
	window_src *s = (window_src *)c->src;
	if (n <= 0)
		return;
	if ((size_t)n <= s->pub.bytes_in_buffer) {
		s->pub.next_input_byte += n;
		s->pub.bytes_in_buffer -= (size_t)n;
		return;
	}
	size_t past = (size_t)n - s->pub.bytes_in_buffer;
	s->next += past < (size_t)(s->end - s->next) ? past : (size_t)(s->end - s->next);
	s->pub.bytes_in_buffer = 0;
	window_fill(c);
}

static void window_term(j_decompress_ptr c)
{
	(void)c;
}

/* Read data[0..len) through windows (again from its start when called again). */
static void window_src_set(j_decompress_ptr c, const unsigned char *data, size_t len)
{
	if (!c->src)
		c->src = (*c->mem->alloc_small)((j_common_ptr)c, JPOOL_PERMANENT,
						sizeof(window_src));
	window_src *s = (window_src *)c->src;
	s->pub.init_source = window_init;
	s->pub.fill_input_buffer = window_fill;
	s->pub.skip_input_data = window_skip;
	s->pub.resync_to_restart = jpeg_resync_to_restart;
	s->pub.term_source = window_term;
	s->pub.next_input_byte = NULL;
	s->pub.bytes_in_buffer = 0;
	s->next = data;
	s->end = data + len;
}

/* ------------------------------------------------------------------- ICC -- */

/* Join the saved APP2 "ICC_PROFILE" chunks (12-byte name, sequence number from
 * 1, count) in sequence order up to the first missing one, like libvips. */
static int join_icc(fastjpeg *j)
{
	const unsigned char *chunk[MAX_ICC_CHUNKS] = { 0 };
	size_t clen[MAX_ICC_CHUNKS] = { 0 };
	size_t total = 0;
	int n = 0;

	for (jpeg_saved_marker_ptr m = j->cinfo.marker_list; m; m = m->next) {
		int seq;

		if (m->marker != JPEG_APP0 + 2 || m->data_length <= 14 ||
		    memcmp(m->data, "ICC_PROFILE", 11) != 0)
			continue;
		seq = m->data[12] - 1;
		if (seq >= 0 && seq < MAX_ICC_CHUNKS) {
			chunk[seq] = m->data + 14;
			clen[seq] = m->data_length - 14;
		}
	}
	while (n < MAX_ICC_CHUNKS && chunk[n])
		total += clen[n++];
	if (total == 0)
		return 0;
	if (!(j->icc = malloc(total)))
		return -1;
	for (int i = 0, at = 0; i < n; at += (int)clen[i], i++)
		memcpy(j->icc + at, chunk[i], clen[i]);
	j->icc_len = total;
	return 0;
}

/* The orientation the saved APP1 blocks give: the first block whose data starts
 * "Exif" is the file's EXIF, as for libvips (jpegload keeps the first; a later one,
 * rotated or not, changes nothing), read only with the "Exif\0\0" header libexif
 * wants. 1 without one. */
static int find_orientation(fastjpeg *j)
{
	for (jpeg_saved_marker_ptr m = j->cinfo.marker_list; m; m = m->next) {
		if (m->marker != JPEG_APP0 + 1 || m->data_length <= 4 ||
		    memcmp(m->data, "Exif", 4) != 0)
			continue;
		int o = m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0
				? exif_orientation(m->data + 6, m->data_length - 6)
				: 0;
		return o > 0 ? o : 1;
	}
	return 1;
}

/* --------------------------------------------------------------- decoding -- */

/* What the stored colour space decodes to: RGB for YCbCr/RGB with 3 components,
 * grey for 1, CMYK for CMYK/YCCK with 4 (libjpeg turns YCCK into CMYK, as for
 * libvips); JCS_UNKNOWN for everything we leave to libvips. */
static J_COLOR_SPACE output_space(const struct jpeg_decompress_struct *c)
{
	if (c->data_precision != 8)
		return JCS_UNKNOWN;
	if (c->num_components == 3 &&
	    (c->jpeg_color_space == JCS_YCbCr || c->jpeg_color_space == JCS_RGB))
		return JCS_RGB;
	if (c->num_components == 1 && c->jpeg_color_space == JCS_GRAYSCALE)
		return JCS_GRAYSCALE;
	if (c->num_components == 4 &&
	    (c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK))
		return JCS_CMYK;
	return JCS_UNKNOWN;
}

/* Parse the header of j->data: markers saved, colour space checked, orientation
 * and profile found. Runs under the caller's setjmp. */
static int parse_header(fastjpeg *j, fastjpeg_info *info)
{
	struct jpeg_decompress_struct *c = &j->cinfo;

	window_src_set(c, j->data, j->len);
	jpeg_save_markers(c, JPEG_APP0 + 1, 0xffff);
	jpeg_save_markers(c, JPEG_APP0 + 2, 0xffff);
	if (jpeg_read_header(c, TRUE) != JPEG_HEADER_OK)
		return FASTJPEG_UNSUPPORTED;
	j->out_space = output_space(c);
	if (j->out_space == JCS_UNKNOWN)
		return FASTJPEG_UNSUPPORTED;
	if (join_icc(j))
		return FASTJPEG_ERROR;
	info->width = (int)c->image_width;
	info->height = (int)c->image_height;
	info->bands = j->out_space == JCS_RGB ? 3 : j->out_space == JCS_CMYK ? 4 : 1;
	info->orientation = find_orientation(j);
	info->icc = j->icc;
	info->icc_len = j->icc_len;
	return FASTJPEG_OK;
}

int fastjpeg_open(const char *path, fastjpeg **out, fastjpeg_info *info,
		  char *err, size_t errlen)
{
	unsigned char *data;
	size_t len;

	*out = NULL;
	if (io_read_signed_file(path, FASTJPEG_SIGNATURE, FASTJPEG_SIGNATURE_LEN,
				FASTJPEG_MAX_FILE_BYTES, &data, &len) != 0)
		return FASTJPEG_UNSUPPORTED;
	return fastjpeg_open_bytes(data, len, out, info, err, errlen);
}

int fastjpeg_open_bytes(unsigned char *data, size_t len, fastjpeg **out, fastjpeg_info *info,
			char *err, size_t errlen)
{
	fastjpeg *j;
	int rc;

	*out = NULL;
	if (len <= FASTJPEG_SIGNATURE_LEN || len > FASTJPEG_MAX_FILE_BYTES ||
	    memcmp(data, FASTJPEG_SIGNATURE, FASTJPEG_SIGNATURE_LEN)) {
		free(data);
		return FASTJPEG_UNSUPPORTED;
	}
	if (!(j = calloc(1, sizeof *j))) {
		free(data);
		set_err(err, errlen, "%s", "out of memory");
		return FASTJPEG_ERROR;
	}
	j->data = data;
	j->len = len;
	j->cinfo.err = jpeg_std_error(&j->err.pub);
	j->err.pub.error_exit = on_error;
	j->err.pub.emit_message = on_message;
	j->err.pub.output_message = on_output;
	if (setjmp(j->err.jump)) {
		set_err(err, errlen, "%s", j->err.msg);
		fastjpeg_close(j);
		return FASTJPEG_ERROR;
	}
	jpeg_create_decompress(&j->cinfo);
	j->created = 1;
	rc = parse_header(j, info);
	if (rc != FASTJPEG_OK) {
		if (rc == FASTJPEG_ERROR)
			set_err(err, errlen, "%s", "out of memory");
		fastjpeg_close(j);
		return rc;
	}
	*out = j;
	return FASTJPEG_OK;
}

/* Read rows [0, h) of the started decompression into buf (stride = libjpeg's
 * output_width * bands), several rows per call. Runs under the caller's setjmp. */
static void read_rows(struct jpeg_decompress_struct *c, unsigned char *buf, int h)
{
	size_t stride = (size_t)c->output_width * (size_t)c->output_components;
	JSAMPROW rows[16];

	while ((int)c->output_scanline < h) {
		int n = h - (int)c->output_scanline;

		if (n > 16)
			n = 16;
		for (int i = 0; i < n; i++)
			rows[i] = buf + ((size_t)c->output_scanline + (size_t)i) * stride;
		jpeg_read_scanlines(c, rows, (JDIMENSION)n);
	}
}

/* Pack rows of stride `from` bytes down to `to` bytes, in place (to <= from):
 * drops libjpeg's rounded-up last column. */
static void pack_rows(unsigned char *buf, int h, size_t from, size_t to)
{
	if (from == to)
		return;
	for (int y = 1; y < h; y++)
		memmove(buf + (size_t)y * to, buf + (size_t)y * from, to);
}

/* The decompression parameters, for the same pixels as libvips: the output
 * colour space, the scale, and libvips' defaults: accurate integer IDCT and
 * fancy (triangle-filtered) chroma upsampling. */
static void set_params(struct jpeg_decompress_struct *c, J_COLOR_SPACE space, int eighths)
{
	c->out_color_space = space;
	c->scale_num = (unsigned)eighths;
	c->scale_denom = 8;
	c->dct_method = JDCT_ISLOW;
	c->do_fancy_upsampling = TRUE;
}

#if JPEG_LIB_VERSION >= 70
#define IDCT_SIZE(comp) ((comp)->DCT_h_scaled_size * (comp)->DCT_v_scaled_size)
#else
#define IDCT_SIZE(comp) ((comp)->DCT_scaled_size * (comp)->DCT_scaled_size)
#endif

/* The DC-only progressive decode (jpegscan.h): in a progressive file, the AC
 * scans of the components whose IDCT at this scale is 1x1 are cut out of the
 * buffer, in place, and the header read again from it. Block smoothing goes off:
 * it would guess the missing AC coefficients and shift DC with them; a full
 * decode of the file has every coefficient (the walker checks) and never
 * smooths, so the pixels are the same. A file the walker refuses is decoded
 * whole, and fails or not as it always did. Runs under the caller's setjmp. */
static void drop_unread_scans(fastjpeg *j, int eighths)
{
	struct jpeg_decompress_struct *c = &j->cinfo;
	unsigned drop = 0;
	size_t len;

	if (!c->progressive_mode || c->arith_code)
		return;
	jpeg_calc_output_dimensions(c);
	for (int i = 0; i < c->num_components && i < JPEGSCAN_MAX_COMPONENTS; i++)
		if (IDCT_SIZE(&c->comp_info[i]) == 1)
			drop |= 1u << i;
	if (!drop || jpegscan_drop_ac(j->data, j->len, drop, j->data, &len) != JPEGSCAN_OK ||
	    len == j->len)
		return;
	j->len = len;
	jpeg_abort_decompress(c);
	window_src_set(c, j->data, j->len);
	jpeg_read_header(c, TRUE);
	set_params(c, j->out_space, eighths);
	c->do_block_smoothing = FALSE;
}

int fastjpeg_decode(fastjpeg *j, int eighths, unsigned char **pixels, int *w, int *h,
		    char *err, size_t errlen)
{
	struct jpeg_decompress_struct *c = &j->cinfo;
	int fw, fh;

	if (eighths < 1 || eighths > 8)
		return FASTJPEG_UNSUPPORTED;
	fw = (int)((uint64_t)c->image_width * (unsigned)eighths / 8);
	fh = (int)((uint64_t)c->image_height * (unsigned)eighths / 8);
	if (fw < 1 || fh < 1 || j->pixels)
		return FASTJPEG_UNSUPPORTED;
	j->err.warned = 0;
	if (setjmp(j->err.jump)) {
		set_err(err, errlen, "%s", j->err.msg);
		return FASTJPEG_ERROR;
	}
	set_params(c, j->out_space, eighths);
	drop_unread_scans(j, eighths);
	jpeg_start_decompress(c);
	if ((int)c->output_width < fw || (int)c->output_height < fh) {
		set_err(err, errlen, "%s", "unexpected scaled size");
		return FASTJPEG_ERROR;
	}
	j->pixels = malloc((size_t)c->output_width * (size_t)c->output_components *
			   (size_t)fh);
	if (!j->pixels) {
		set_err(err, errlen, "%s", "out of memory");
		return FASTJPEG_ERROR;
	}
	read_rows(c, j->pixels, fh);
	pack_rows(j->pixels, fh, (size_t)c->output_width * (size_t)c->output_components,
		  (size_t)fw * (size_t)c->output_components);
	/* Rows past fh and the file's tail are not needed for the pixels (libvips
	 * does not read them either): fastjpeg_finish() reads them, if asked. */
	*pixels = j->pixels;
	*w = fw;
	*h = fh;
	return FASTJPEG_OK;
}

int fastjpeg_damaged(const fastjpeg *j)
{
	return j->err.warned;
}

int fastjpeg_finish(fastjpeg *j, int check, char *err, size_t errlen)
{
	struct jpeg_decompress_struct *c = &j->cinfo;
	unsigned char *row;

	if (!j->pixels || c->global_state == 0)
		return FASTJPEG_UNSUPPORTED;
	if (check == FASTJPEG_CHECK_NONE) {
		jpeg_abort_decompress(c); /* a progressive image's coefficients go now */
		return FASTJPEG_OK;
	}
	row = malloc((size_t)c->output_width * (size_t)c->output_components);
	if (!row) { /* no verdict on the file: the caller goes on as without a check */
		jpeg_abort_decompress(c);
		return FASTJPEG_UNSUPPORTED;
	}
	if (setjmp(j->err.jump)) {
		free(row);
		j->err.data = NULL;
		j->err.eof_only = 0;
		set_err(err, errlen, "%s", j->err.msg);
		jpeg_abort_decompress(c);
		return FASTJPEG_ERROR;
	}
	j->err.eof_only = check == FASTJPEG_CHECK_END;
	while (c->output_scanline < c->output_height) {
		JSAMPROW r = row;
		jpeg_read_scanlines(c, &r, 1);
	}
	j->err.eof_only = 0;
	if (check == FASTJPEG_CHECK_END) {
		free(row);
		jpeg_abort_decompress(c);
		return FASTJPEG_OK;
	}
	j->err.data = j->data;
	j->err.len = j->len;
	jpeg_finish_decompress(c);
	j->err.data = NULL;
	free(row);
	return FASTJPEG_OK;
}

/* --------------------------------------------------------------- encoding -- */

/* One compression: the libjpeg state, its error manager and a growable output
 * buffer of our own (libjpeg's jpeg_mem_dest() would leak its buffer when a
 * compression fails half way). */
typedef struct encoder {
	struct jpeg_compress_struct cinfo;
	struct jpeg_destination_mgr dest;
	jerr err;
	unsigned char *buf;
	size_t cap;
} encoder;

/* libjpeg filled the buffer: double it (the encoder is the cinfo's container). */
static boolean grow_output(j_compress_ptr cinfo)
{
	encoder *e = (encoder *)cinfo;
	unsigned char *bigger = realloc(e->buf, e->cap * 2);

	if (!bigger)
		ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
	e->buf = bigger;
	e->dest.next_output_byte = bigger + e->cap;
	e->dest.free_in_buffer = e->cap;
	e->cap *= 2;
	return TRUE;
}

/* Nothing to do at the start and end of a compression: the buffer is ours. */
static void no_op_dest(j_compress_ptr cinfo)
{
	(void)cinfo;
}

/* The compression parameters of libvips 8.14's jpegsave for this image, strip
 * set: jpeg_set_defaults(), quality with baseline tables, no optimised Huffman
 * tables, no chroma subsampling from quality 90, and no JFIF marker. */
static void encode_params(struct jpeg_compress_struct *c, int w, int h, int bands,
			  int quality)
{
	c->image_width = (JDIMENSION)w;
	c->image_height = (JDIMENSION)h;
	c->input_components = bands;
	c->in_color_space = bands == 3 ? JCS_RGB : JCS_GRAYSCALE;
	jpeg_set_defaults(c);
	c->optimize_coding = FALSE;
	jpeg_set_quality(c, quality, TRUE);
	if (quality >= 90)
		for (int i = 0; i < c->num_components; i++) {
			c->comp_info[i].h_samp_factor = 1;
			c->comp_info[i].v_samp_factor = 1;
		}
	c->write_JFIF_header = FALSE;
}

/* Compress all rows of pixels into e->buf. Runs under the caller's setjmp. */
static void compress_rows(encoder *e, const unsigned char *pixels, int w, int h, int bands)
{
	struct jpeg_compress_struct *c = &e->cinfo;
	size_t stride = (size_t)w * (size_t)bands;
	JSAMPROW rows[16];

	jpeg_start_compress(c, TRUE);
	while ((int)c->next_scanline < h) {
		int n = h - (int)c->next_scanline;

		if (n > 16)
			n = 16;
		for (int i = 0; i < n; i++)
			rows[i] = (JSAMPROW)(pixels + ((size_t)c->next_scanline + (size_t)i) * stride);
		jpeg_write_scanlines(c, rows, (JDIMENSION)n);
	}
	jpeg_finish_compress(c);
}

int fastjpeg_encode(const unsigned char *pixels, int w, int h, int bands, int quality,
		    unsigned char **out, size_t *len, char *err, size_t errlen)
{
	encoder *e;

	if ((bands != 1 && bands != 3) || w < 1 || h < 1 || quality < 1 || quality > 100)
		return FASTJPEG_UNSUPPORTED;
	if (!(e = calloc(1, sizeof *e))) {
		set_err(err, errlen, "%s", "out of memory");
		return FASTJPEG_ERROR;
	}
	e->cinfo.err = jpeg_std_error(&e->err.pub);
	e->err.pub.error_exit = on_error;
	e->err.pub.emit_message = on_message;
	e->err.pub.output_message = on_output;
	if (setjmp(e->err.jump)) {
		set_err(err, errlen, "%s", e->err.msg);
		jpeg_destroy_compress(&e->cinfo);
		free(e->buf);
		free(e);
		return FASTJPEG_ERROR;
	}
	/* A quarter of the raw size holds most thumbnails at once. */
	e->cap = (size_t)w * (size_t)h * (size_t)bands / 4 + 4096;
	if (!(e->buf = malloc(e->cap))) {
		set_err(err, errlen, "%s", "out of memory");
		free(e);
		return FASTJPEG_ERROR;
	}
	jpeg_create_compress(&e->cinfo);
	e->dest.next_output_byte = e->buf;
	e->dest.free_in_buffer = e->cap;
	e->dest.init_destination = no_op_dest;
	e->dest.empty_output_buffer = grow_output;
	e->dest.term_destination = no_op_dest;
	e->cinfo.dest = &e->dest;
	encode_params(&e->cinfo, w, h, bands, quality);
	compress_rows(e, pixels, w, h, bands);
	*out = e->buf;
	*len = e->cap - e->dest.free_in_buffer;
	jpeg_destroy_compress(&e->cinfo);
	free(e);
	return FASTJPEG_OK;
}

void fastjpeg_close(fastjpeg *j)
{
	if (!j)
		return;
	if (j->created)
		jpeg_destroy_decompress(&j->cinfo);
	free(j->pixels);
	free(j->icc);
	free(j->data);
	free(j);
}
