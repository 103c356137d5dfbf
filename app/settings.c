/* SPDX-License-Identifier: MIT */
/*
 * settings.c — the one table of image file extensions: which names are inputs, which
 * extension an output gets, which format a name is written in. See settings.h.
 *
 * Kept apart from thumb.c on purpose: the parent (discovery, planning, --help)
 * calls it, and the parent must not pull in libvips.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "settings.h"

/* Every extension imgpool knows, any case. input: a walk picks such files up.
 * written: the format FORMAT_SAME keeps (FORMAT_SAME itself: we do not write it).
 * out: the extension of such an input's output with FORMAT_SAME: JPEG spellings all
 * become "jpg"; formats we cannot (or should not) write become PNG where alpha is
 * common enough to matter, JPEG otherwise (TIFF, HEIC/HEIF: photos, usually
 * opaque). */
static const struct image_ext {
	const char *ext;
	int input;
	thumb_format written;
	const char *out;
} exts[] = {
	{"jpg", 1, FORMAT_JPEG, "jpg"}, {"jpeg", 1, FORMAT_JPEG, "jpg"},
	{"jpe", 1, FORMAT_JPEG, "jpg"}, {"jfif", 1, FORMAT_JPEG, "jpg"},
	{"png", 1, FORMAT_PNG, "png"},  {"webp", 1, FORMAT_WEBP, "webp"},
	{"avif", 1, FORMAT_AVIF, "avif"},
	{"tif", 1, FORMAT_SAME, "jpg"}, {"tiff", 1, FORMAT_SAME, "jpg"},
	{"heic", 1, FORMAT_SAME, "jpg"}, {"heif", 1, FORMAT_SAME, "jpg"},
	{"gif", 1, FORMAT_SAME, "png"},
	/* not picked up by a walk, but given by name they are read, and come out PNG */
	{"svg", 0, FORMAT_SAME, "png"}, {"pdf", 0, FORMAT_SAME, "png"},
	{"ico", 0, FORMAT_SAME, "png"},
};

/* The table's row for ext (a leading '.' is allowed), or NULL. */
static const struct image_ext *lookup(const char *ext)
{
	if (!ext)
		return NULL;
	if (*ext == '.')
		ext++;
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
		if (strcasecmp(ext, exts[i].ext) == 0)
			return &exts[i];
	return NULL;
}

int thumb_is_input_ext(const char *ext)
{
	const struct image_ext *e = lookup(ext);
	return e && e->input;
}

void thumb_input_exts(char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof exts / sizeof exts[0] && n < len; i++)
		if (exts[i].input)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", exts[i].ext);
}

/* See settings.h. An explicit format wins; FORMAT_SAME looks at in_ext (NULL or
 * empty means unknown and gives "jpg"). */
const char *thumb_output_ext(thumb_format f, const char *in_ext)
{
	switch (f) {
	case FORMAT_JPEG: return "jpg";
	case FORMAT_PNG:  return "png";
	case FORMAT_WEBP: return "webp";
	case FORMAT_AVIF: return "avif";
	case FORMAT_SAME: break;
	}
	const struct image_ext *e = lookup(in_ext);
	return e ? e->out : "jpg";
}

/* See settings.h. */
int thumb_default_quality(thumb_format f)
{
	return f == FORMAT_AVIF ? 50 : f == FORMAT_PNG ? 0 : 80;
}

thumb_settings thumb_settings_as_shown(const thumb_settings *s)
{
	thumb_settings n = *s;
	/* --subsample as libvips' auto gives it at that quality (4:2:0 below Q90),
	 * for the JPEG outputs it shapes (with -f same too: the others ignore it):
	 * --subsample on at Q80 made every thumbnail again, the same picture */
	int q = s->quality ? s->quality : thumb_default_quality(FORMAT_JPEG);
	if ((s->format == FORMAT_JPEG || s->format == FORMAT_SAME) &&
	    ((n.subsample == SUBSAMPLE_ON && q < 90) || (n.subsample == SUBSAMPLE_OFF && q >= 90)))
		n.subsample = SUBSAMPLE_AUTO;
	if (s->format == FORMAT_SAME)
		return n;
	/* What save.c's encoder for the format reads: JPEG quality, progressive,
	 * subsample, background (alpha flattened); WebP quality, effort, lossless;
	 * AVIF quality, effort; PNG none of them. */
	if (n.quality == thumb_default_quality(s->format))
		n.quality = 0;
	if (n.effort_given && n.effort == THUMB_DEFAULT_EFFORT)
		n.effort_given = 0;
	if (s->format != FORMAT_JPEG) {
		n.progressive = 0;
		n.subsample = SUBSAMPLE_AUTO;
		n.background[0] = n.background[1] = n.background[2] = 255;
	}
	if (s->format == FORMAT_JPEG || s->format == FORMAT_PNG)
		n.effort_given = 0;
	if (s->format == FORMAT_PNG)
		n.quality = n.lossless = 0;
	if (!n.effort_given)
		n.effort = 0;
	return n;
}

int thumb_output_format(thumb_format f, const char *name, thumb_format *out)
{
	const char *slash = strrchr(name, '/');
	const char *dot = strrchr(slash ? slash + 1 : name, '.');
	const struct image_ext *e = lookup(dot ? dot + 1 : "");

	*out = f;
	if (f != FORMAT_SAME)
		return 0;
	if (!e || e->written == FORMAT_SAME)
		return -1;
	*out = e->written;
	return 0;
}
