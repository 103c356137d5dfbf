/* SPDX-License-Identifier: MIT */
/*
 * settings.h — what a thumbnail looks like: the options that change output bytes.
 *
 * The parent fills one thumb_settings from the command line (options.c) before the
 * pool is created; every worker sees the same struct (its copy came with fork), and
 * the journal fingerprints exactly these fields. Plain data, no pointers, so it can
 * be hashed and copied as it is.
 */
#ifndef IMGPOOL_SETTINGS_H
#define IMGPOOL_SETTINGS_H

#include <stdint.h>

#define THUMB_MAX_SIZES 8

/* One requested box. 0 in w or h means "unconstrained on that axis" (`-s xH`, `-s W`). */
typedef struct thumb_size {
	int w, h;
} thumb_size;

typedef enum { FIT_INSIDE = 0, FIT_COVER, FIT_FILL } thumb_fit;
typedef enum { CROP_CENTRE = 0, CROP_ATTENTION } thumb_crop;
typedef enum { FORMAT_SAME = 0, FORMAT_JPEG, FORMAT_PNG, FORMAT_WEBP, FORMAT_AVIF } thumb_format;
/* JPEG chroma subsampling: AUTO is libvips' default (4:2:0 unless Q >= 90). */
typedef enum { SUBSAMPLE_AUTO = 0, SUBSAMPLE_ON, SUBSAMPLE_OFF } thumb_subsample;
/* How strict decoding is, libvips' fail_on levels; WARNING (0, the default) fails a
 * file on any decoder warning, NONE thumbnails whatever can be decoded. */
typedef enum { FAILON_WARNING = 0, FAILON_ERROR, FAILON_TRUNCATED, FAILON_NONE } thumb_fail_on;
/* The metadata --keep-metadata keeps, a bit set. GPS is part of EXIF and is kept
 * only when named: thumbnails must not leak where a photo was taken. */
enum {
	KEEP_EXIF = 1, KEEP_XMP = 2, KEEP_IPTC = 4, KEEP_ICC = 8, KEEP_GPS = 16,
	KEEP_DEFAULT = KEEP_EXIF | KEEP_XMP | KEEP_IPTC | KEEP_ICC, /* bare --keep-metadata */
	KEEP_ALL = KEEP_DEFAULT | KEEP_GPS,
};

typedef struct thumb_settings {
	thumb_size sizes[THUMB_MAX_SIZES]; /* in the order given; outputs follow it */
	int nsizes;                        /* >= 1 */
	thumb_fit fit;                     /* FIT_INSIDE: whole image inside the box */
	thumb_crop crop;                   /* with FIT_COVER only */
	int enlarge;                       /* 0: never upscale a small image */
	thumb_format format;               /* FORMAT_SAME: keep the input's format where we can write it */
	int quality;                       /* 1..100; 0 = the format's default (JPEG/WebP 80, AVIF 50) */
	double background[3];              /* sRGB 0..255, flatten alpha onto it for JPEG */
	int keep_metadata;                 /* KEEP_* bits; 0: strip all (ICC becomes sRGB anyway) */
	/* The output controls. Each is 0 by default, so a zeroed struct is the defaults. */
	int progressive;                   /* progressive JPEG */
	thumb_subsample subsample;         /* JPEG chroma subsampling */
	int effort_given;                  /* 0: the encoder's default effort */
	int effort;                        /* WebP 0-6, AVIF 0-9, with effort_given */
	int lossless;                      /* lossless WebP (PNG always is) */
	int no_rotate;                     /* keep the stored pixel layout (EXIF orientation) */
	int fast_shrink;                   /* JPEGs decoded at the smallest DCT scale covering the box */
	thumb_fail_on fail_on;             /* decoding strictness */
	uint64_t max_pixels;               /* refuse inputs with more pixels (decompression bombs) */
} thumb_settings;

/* The encoders' defaults, where settings leave them 0: quality per format (JPEG and
 * WebP 80, AVIF 50; 0 for PNG, which has none), and libvips 8.14's effort (4 for
 * WebP and AVIF). */
int thumb_default_quality(thumb_format f);
#define THUMB_DEFAULT_EFFORT 4

/* The output settings as the outputs show them, for the journal's fingerprint:
 * with one output format (-f), what its encoder does not read, and a value equal
 * to its default, are the defaults (-Q 80 with -f jpeg, --effort with -f png remake
 * nothing). With FORMAT_SAME every format may be written: as given. */
thumb_settings thumb_settings_as_shown(const thumb_settings *s);

/* The extension (no dot, lower case) an output of format f gets for an input whose
 * extension is in_ext (used when f is FORMAT_SAME; formats we cannot write, such as
 * TIFF, GIF or HEIC inputs with FORMAT_SAME, give "jpg" or "png" when alpha may matter). */
const char *thumb_output_ext(thumb_format f, const char *in_ext);

/* Is ext (no dot needed, any case) the extension of an image a folder walk picks
 * up? jpg jpeg jpe jfif png webp avif tif tiff heic heif gif. */
int thumb_is_input_ext(const char *ext);

/* Those extensions, space separated, for --help. */
void thumb_input_exts(char *buf, size_t len);

/* The format an output named `name` is written in: the explicit one, else the one
 * its extension names (jpg/jpeg/jpe/jfif, png, webp, avif, any case; a template
 * may give another, e.g. {inext}). Returns 0, or -1 when FORMAT_SAME and the
 * extension names no format we write. */
int thumb_output_format(thumb_format f, const char *name, thumb_format *out);

#endif
