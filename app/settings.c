/* SPDX-License-Identifier: MIT */
/*
 * settings.c — the one function settings.h declares: which extension an output gets.
 *
 * Kept apart from thumb.c on purpose: the parent (output-path planning) calls it, and
 * the parent must not pull in libvips.
 */
#include <stddef.h>
#include <strings.h>

#include "settings.h"

/* Input extensions (lower or upper case) whose format we write back as it is, and the
 * extension the output gets: JPEG spellings all become "jpg". */
static const struct {
	const char *in;
	const char *out;
} same_format[] = {
	{ "jpg", "jpg" }, { "jpeg", "jpg" }, { "jpe", "jpg" }, { "jfif", "jpg" },
	{ "png", "png" },
	{ "webp", "webp" },
	{ "avif", "avif" },
};

/* Inputs we cannot (or should not) write in their own format but whose alpha is
 * common enough to matter: they become PNG. Everything else unknown becomes JPEG
 * (TIFF, HEIC/HEIF, JPEG 2000, PPM, ...: photos, usually opaque). */
static const char *const alpha_likely[] = { "gif", "svg", "pdf", "ico" };

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
	if (!in_ext)
		return "jpg";
	if (*in_ext == '.')
		in_ext++;
	for (size_t i = 0; i < sizeof same_format / sizeof same_format[0]; i++)
		if (strcasecmp(in_ext, same_format[i].in) == 0)
			return same_format[i].out;
	for (size_t i = 0; i < sizeof alpha_likely / sizeof alpha_likely[0]; i++)
		if (strcasecmp(in_ext, alpha_likely[i]) == 0)
			return "png";
	return "jpg";
}
