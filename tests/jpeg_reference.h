/* SPDX-License-Identifier: MIT */
/*
 * jpeg_reference.h — the reference a fast-path JPEG decode is compared with, for
 * tests and fuzz harnesses: plain libjpeg-turbo from memory, libjpeg's own
 * defaults (block smoothing on, every scan decoded), DCT-scaled by eighths/8,
 * warnings treated as errors as fastjpeg.c treats them.
 *
 * ref_decode() gives floor(width * eighths / 8) x floor(height * eighths / 8)
 * pixels, rows packed, bands interleaved: 1 (grey), 3 (RGB from YCbCr or RGB) or
 * 4 (CMYK as stored), the colour space fastjpeg decodes to. Header-only: each
 * test is one translation unit plus this.
 */
#ifndef IMGPOOL_JPEG_REFERENCE_H
#define IMGPOOL_JPEG_REFERENCE_H

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct ref_jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
} ref_jerr;

static void ref_on_error(j_common_ptr c)
{
	ref_jerr *e = (ref_jerr *)c->err;

	c->err->format_message(c, e->msg);
	longjmp(e->jump, 1);
}

static void ref_on_message(j_common_ptr c, int level)
{
	if (level < 0)
		ref_on_error(c);
}

static void ref_on_output(j_common_ptr c)
{
	(void)c;
}

/* Decode buf at eighths/8 (1..8). Returns a malloc'd pixel buffer with its size
 * in *w, *h, *bands, or NULL with libjpeg's message in err. Only images of at
 * most max_samples output samples are decoded (NULL, "too large", otherwise), so
 * a fuzz harness can bound its work. */
static unsigned char *ref_decode(const unsigned char *buf, size_t len, int eighths,
				 uint64_t max_samples, int *w, int *h, int *bands,
				 char *err, size_t errlen)
{
	struct jpeg_decompress_struct c;
	ref_jerr e;
	unsigned char *volatile px = NULL;
	unsigned char *row = NULL;
	uint64_t fw, fh;

	memset(&c, 0, sizeof c);
	c.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = ref_on_error;
	e.pub.emit_message = ref_on_message;
	e.pub.output_message = ref_on_output;
	if (setjmp(e.jump)) {
		snprintf(err, errlen, "%s", e.msg);
		jpeg_destroy_decompress(&c);
		free(px);
		return NULL;
	}
	jpeg_create_decompress(&c);
	jpeg_mem_src(&c, buf, (unsigned long)len);
	jpeg_read_header(&c, TRUE);
	if (c.num_components == 3)
		c.out_color_space = JCS_RGB;
	else if (c.num_components == 1)
		c.out_color_space = JCS_GRAYSCALE;
	else if (c.num_components == 4)
		c.out_color_space = JCS_CMYK;
	else {
		snprintf(err, errlen, "%d components", c.num_components);
		jpeg_destroy_decompress(&c);
		return NULL;
	}
	c.scale_num = (unsigned)eighths;
	c.scale_denom = 8;
	c.dct_method = JDCT_ISLOW;
	c.do_fancy_upsampling = TRUE;
	fw = (uint64_t)c.image_width * (unsigned)eighths / 8;
	fh = (uint64_t)c.image_height * (unsigned)eighths / 8;
	if (fw < 1 || fh < 1 || fw * fh * (uint64_t)c.num_components > max_samples) {
		snprintf(err, errlen, "too large");
		jpeg_destroy_decompress(&c);
		return NULL;
	}
	jpeg_start_decompress(&c);
	*bands = c.output_components;
	px = malloc((size_t)(fw * fh) * (size_t)c.output_components);
	row = (*c.mem->alloc_small)((j_common_ptr)&c, JPOOL_IMAGE,
				    (size_t)c.output_width * (size_t)c.output_components);
	if (!px)
		ERREXIT(&c, JERR_OUT_OF_MEMORY);
	while (c.output_scanline < fh) {
		size_t y = c.output_scanline;

		jpeg_read_scanlines(&c, &row, 1);
		memcpy(px + y * fw * (size_t)*bands, row, (size_t)fw * (size_t)*bands);
	}
	jpeg_abort_decompress(&c);
	jpeg_destroy_decompress(&c);
	*w = (int)fw;
	*h = (int)fh;
	return px;
}

#endif
