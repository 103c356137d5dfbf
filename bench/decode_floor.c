/* SPDX-License-Identifier: MIT */
/*
 * decode_floor.c — the decode floor: what decoding the JPEGs alone costs, the
 * least any thumbnailer must spend on them. Each file is read into memory and
 * decoded by libjpeg-turbo at the smallest DCT scale M/8 (M = 1..8) whose output
 * still covers the box (longest side >= SIZE; 8/8 when nothing smaller does),
 * into the colour space the fast path uses (RGB, grey, CMYK), in one process,
 * one file after another; the pixels are thrown away. No resample, no colour
 * management, no encode, no write.
 *
 * That covering scale is the least decoding that can still fill the box, but
 * not what a lanczos3 thumbnailer at libvips' quality decodes: vips_thumbnail()
 * (and so imgpool) leaves at least a factor of two for the final resample, e.g.
 * 1/4 where the covering scale is 1/8, at a few dB better PSNR (compare.sh
 * reports both). -v decodes at that scale instead.
 *
 *   decode_floor [-s SIZE] [-d] [-v] [-r ROUNDS] [-t] FILE...
 *
 *   -s SIZE   the box's longest side (default 256, as bench/compare.sh)
 *   -d        through imgpool's own decoder instead (app/fastjpeg.h: progressive
 *             files from their DC scans where a component's IDCT is 1x1, any
 *             warning fatal): the floor of imgpool's fast path at that scale
 *   -v        at the scale imgpool and vips_thumbnail() decode at for the box
 *             SIZE x SIZE (fit inside, no enlargement: imgpool's defaults), as
 *             app/geometry.h's geometry_jpeg_shrink() says, instead of the
 *             smallest covering one. With -d: imgpool's own decoder at imgpool's
 *             own scale, the least imgpool's fast path must spend on a file
 *   -r N      decode the whole list N times (default 1)
 *   -t        print each file's fastest decode in milliseconds ("12.345 FILE")
 *
 * Prints one line to stderr: files decoded, files skipped (not a JPEG libjpeg
 * decodes to RGB, grey or CMYK, or unreadable), and the process's CPU and wall
 * seconds. Corrupt data is decoded as far as libjpeg goes, warnings ignored:
 * a floor, not a judge. bench/compare.sh times it beside imgpool.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>

#include "fastjpeg.h"
#include "geometry.h"

typedef struct floor_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
} floor_err;

static void on_error(j_common_ptr c)
{
	longjmp(((floor_err *)c->err)->jump, 1);
}

/* Warnings and traces are not our business here. */
static void on_message(j_common_ptr c, int level)
{
	(void)c;
	(void)level;
}

static double now(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The whole of path in a malloc'd buffer, or NULL. */
static unsigned char *read_file(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (buf = malloc((size_t)st.st_size))) {
		while (got < (size_t)st.st_size) {
			ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
	}
	close(fd);
	if (buf && got != (size_t)st.st_size) {
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

/* The smallest M (1..8) for which the longest side of a w x h image at M/8
 * (libjpeg rounds up) is at least size; 8 when none is. */
static int covering_eighths(unsigned w, unsigned h, int size)
{
	unsigned longest = w > h ? w : h;

	for (int m = 1; m < 8; m++)
		if ((longest * (unsigned)m + 7) / 8 >= (unsigned)size)
			return m;
	return 8;
}

/* With -v: the M of the scale (8 / shrink) imgpool's fast path and
 * vips_thumbnail() decode an upright w x h JPEG at for the box size x size with
 * imgpool's default settings (fit inside, no enlargement). The rule is
 * app/geometry.c's, not a copy of it. For a square box the orientation cannot
 * change it (the longest side decides either way), so the plain libjpeg path
 * may give the stored size. */
static int imgpool_eighths(unsigned w, unsigned h, int size)
{
	thumb_settings s = { .sizes = { { size, size } }, .nsizes = 1 };
	int tw = 0, th = 0;

	master_target(&s, (int)w, (int)h, &tw, &th);
	return 8 / geometry_jpeg_shrink(&s, (int)w, (int)h, tw, th);
}

/* The M/8 scale of a w x h image (upright or stored, see above) for the box:
 * imgpool's with -v, else the smallest covering one. */
static int scale_eighths(unsigned w, unsigned h, int size, int vips_scale)
{
	return vips_scale ? imgpool_eighths(w, h, size) : covering_eighths(w, h, size);
}

/* With -d: the file through imgpool's own decoder, fastjpeg.c (DC-only scans
 * where the IDCT is 1x1, warnings fatal, rows packed), at the same scale,
 * from the upright size as app/fastpath.c takes it. */
static int decode_fast(const char *path, int size, int vips_scale)
{
	fastjpeg *j = NULL;
	fastjpeg_info info;
	unsigned char *px;
	char err[256];
	int w, h, rc;

	if (fastjpeg_open(path, &j, &info, err, sizeof err) != FASTJPEG_OK)
		return -1;
	w = info.orientation >= 5 ? info.height : info.width;
	h = info.orientation >= 5 ? info.width : info.height;
	rc = fastjpeg_decode(j, scale_eighths((unsigned)w, (unsigned)h, size, vips_scale),
			     &px, &w, &h, err, sizeof err);
	fastjpeg_close(j);
	return rc == FASTJPEG_OK ? 0 : -1;
}

/* Decode the JPEG in buf as described above; 0, or -1 when libjpeg gives up or
 * it is not RGB, grey or CMYK. */
static int decode_buf(struct jpeg_decompress_struct *c, floor_err *e, const unsigned char *buf,
		      size_t len, int size, int vips_scale)
{
	unsigned char *volatile row = NULL;

	if (setjmp(e->jump)) {
		jpeg_abort_decompress(c);
		free(row);
		return -1;
	}
	jpeg_mem_src(c, buf, (unsigned long)len);
	jpeg_read_header(c, TRUE);
	if (c->num_components == 3 &&
	    (c->jpeg_color_space == JCS_YCbCr || c->jpeg_color_space == JCS_RGB))
		c->out_color_space = JCS_RGB;
	else if (c->num_components == 1)
		c->out_color_space = JCS_GRAYSCALE;
	else if (c->num_components == 4)
		c->out_color_space = JCS_CMYK;
	else
		on_error((j_common_ptr)c);
	c->scale_num = (unsigned)scale_eighths(c->image_width, c->image_height, size, vips_scale);
	c->scale_denom = 8;
	jpeg_start_decompress(c);
	row = malloc((size_t)c->output_width * (size_t)c->output_components);
	if (!row)
		on_error((j_common_ptr)c);
	while (c->output_scanline < c->output_height) {
		JSAMPROW r = row;

		jpeg_read_scanlines(c, &r, 1);
	}
	jpeg_abort_decompress(c);
	free(row);
	return 0;
}

/* Read and decode one file with plain libjpeg; 0, or -1 when it is skipped. */
static int decode(struct jpeg_decompress_struct *c, floor_err *e, const char *path, int size,
		  int vips_scale)
{
	size_t len = 0;
	unsigned char *buf = read_file(path, &len);
	int rc;

	if (!buf)
		return -1;
	rc = decode_buf(c, e, buf, len, size, vips_scale);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	struct jpeg_decompress_struct c;
	floor_err e;
	int size = 256, rounds = 1, timing = 0, dc = 0, vips_scale = 0, opt, done = 0, skipped = 0;
	double wall0 = now(CLOCK_MONOTONIC), *best;
	struct rusage ru;

	while ((opt = getopt(argc, argv, "s:r:dvt")) != -1) {
		switch (opt) {
		case 's': size = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'd': dc = 1; break;
		case 'v': vips_scale = 1; break;
		case 't': timing = 1; break;
		default:
			fprintf(stderr, "usage: decode_floor [-s SIZE] [-d] [-v] [-r ROUNDS] [-t] FILE...\n");
			return 2;
		}
	}
	if (size < 1 || rounds < 1 || optind >= argc) {
		fprintf(stderr, "usage: decode_floor [-s SIZE] [-d] [-v] [-r ROUNDS] [-t] FILE...\n");
		return 2;
	}
	if (!(best = calloc((size_t)argc, sizeof *best)))
		return 1;
	c.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = on_error;
	e.pub.emit_message = on_message;
	jpeg_create_decompress(&c);
	for (int r = 0; r < rounds; r++)
		for (int i = optind; i < argc; i++) {
			double t0 = now(CLOCK_MONOTONIC), ms;
			int rc = dc ? decode_fast(argv[i], size, vips_scale)
				    : decode(&c, &e, argv[i], size, vips_scale);

			ms = (now(CLOCK_MONOTONIC) - t0) * 1e3;
			if (r == 0 && rc != 0) {
				skipped++;
				fprintf(stderr, "decode_floor: skipped %s\n", argv[i]);
			} else if (r == 0)
				done++;
			if (r == 0 || ms < best[i])
				best[i] = ms;
		}
	jpeg_destroy_decompress(&c);
	if (timing)
		for (int i = optind; i < argc; i++)
			printf("%.3f %s\n", best[i], argv[i]);
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "decode_floor: %d decoded, %d skipped, %d round(s), box %d%s%s: "
		"CPU %.3f s, wall %.3f s\n", done, skipped, rounds, size, dc ? ", fastjpeg" : "",
		vips_scale ? ", imgpool's scale" : ", covering scale",
		(double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
		now(CLOCK_MONOTONIC) - wall0);
	free(best);
	return 0;
}
