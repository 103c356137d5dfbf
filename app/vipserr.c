/* SPDX-License-Identifier: MIT */
/*
 * vipserr.c — error text for the worker's one-line causes. See vipserr.h.
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

#include "vipserr.h"

/* ------------------------------------------------------------------ errors -- */

/* printf into the caller's error buffer (cut to errlen, always terminated). */
void vipserr_printf(char *err, size_t errlen, const char *fmt, ...)
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

/* The current file's warnings, "; "-joined, cut at the buffer's size. */
static GMutex warnings_lock;
static char warnings[512];

/* Note one line of a warning (len bytes at line), unless already noted. */
static void note_line(const char *line, size_t len)
{
	while (len && g_ascii_isspace(line[len - 1]))
		len--;
	while (len && g_ascii_isspace(*line))
		line++, len--;
	/* libvips' sink says "error in tile 0 x 64" for every region a failed decode
	 * touched: where, never why. */
	if (!len || (len >= 13 && !strncmp(line, "error in tile", 13)))
		return;
	size_t used = strlen(warnings);
	if (used + 2 + len >= sizeof warnings)
		return;
	char *dup = g_strndup(line, len);
	if (!strstr(warnings, dup))
		snprintf(warnings + used, sizeof warnings - used, "%s%s", used ? "; " : "", dup);
	g_free(dup);
}

void vipserr_note_warning(const char *msg)
{
	if (!msg)
		return;
	/* One warning can be several lines: libvips' JPEG loader logs "read gave N
	 * warnings" and then its whole error buffer, one message a line. Each line is
	 * noted on its own, so a cause stays one line and a message it already says
	 * is not repeated. */
	g_mutex_lock(&warnings_lock);
	for (const char *l = msg, *nl; *l; l = nl ? nl + 1 : l + strlen(l)) {
		nl = strchr(l, '\n');
		note_line(l, nl ? (size_t)(nl - l) : strlen(l));
	}
	g_mutex_unlock(&warnings_lock);
}

void vipserr_clear(void)
{
	vips_error_clear();
	g_mutex_lock(&warnings_lock);
	warnings[0] = '\0';
	g_mutex_unlock(&warnings_lock);
}

/* Append part to line after sep, unless it is empty or the line already says it
 * (libjpeg's warnings come once per read and libvips reads twice, header and
 * pixels, so the same sentence arrives apart, not only twice in a row). Returns
 * whether it was appended. */
static int append_part(GString *line, const char *part, const char *sep)
{
	if (!*part || strstr(line->str, part))
		return 0;
	if (line->len)
		g_string_append(line, sep);
	g_string_append(line, part);
	return 1;
}

/* Parts of a cause that say nothing of why the file failed, left out where
 * another part is said: libtiff's complaints about tags it skips, which fill
 * libvips' error buffer until its real error is cut off ("..."); the format
 * sniffing's "bad seek to N" before a HEIF loader's own error. */
static int is_noise(const char *part)
{
	static const char *const noise[] = {
		"TIFF_SETGET_UNDEFINED", "Unknown field with tag", "tags are not sorted in ascending",
		"ASCII value for tag", "bad seek to ",
	};
	if (!strcmp(part, "...")) /* libvips' buffer full: what came after is lost */
		return 1;
	for (size_t i = 0; i < sizeof noise / sizeof noise[0]; i++)
		if (strstr(part, noise[i]))
			return 1;
	return 0;
}

/* libvips' "radload: operation is blocked": a loader imgpool blocks (untrusted
 * formats), reached because the file's content is that format whatever its name.
 * Said as such; NULL for any other part. */
static char *blocked_loader(const char *part)
{
	static const struct { const char *loader, *format; } known[] = {
		{"radload", "Radiance HDR"}, {"jp2kload", "JPEG 2000"}, {"svgload", "SVG"},
		{"vipsload", "libvips' own .v"}, {"fitsload", "FITS"}, {"openexrload", "OpenEXR"},
		{"matload", "MATLAB"}, {"ppmload", "PPM/PGM/PFM"}, {"pdfload", "PDF"},
		{"magickload", "ImageMagick"}, {"jxlload", "JPEG XL"}, {"csvload", "CSV"},
		{"matrixload", "matrix"}, {"analyzeload", "Analyze"}, {"rawload", "raw"},
		{"openslideload", "OpenSlide"}, {"niftiload", "NIfTI"},
	};
	const char *tail = strstr(part, ": operation is blocked");
	if (!tail || tail[strlen(": operation is blocked")])
		return NULL;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		size_t n = strlen(known[i].loader);
		if (!strncmp(part, known[i].loader, n) && (part + n == tail || part[n] == '_'))
			return g_strdup_printf("its content is %s, a format imgpool does not read "
					       "(whatever its name says)", known[i].format);
	}
	return g_strdup_printf("its content is a format imgpool does not read (libvips' "
			       "%.*s), whatever its name says", (int)(tail - part), part);
}

/* Take and forget the warnings noted since the last clear, as "; "-joined lines
 * appended to line after sep (those it already says are left out). */
static void take_warnings(GString *line, const char *input, const char *sep)
{
	g_mutex_lock(&warnings_lock);
	char *all = g_strdup(warnings);
	warnings[0] = '\0';
	g_mutex_unlock(&warnings_lock);
	char *save = NULL;
	for (char *w = strtok_r(all, ";", &save); w; w = strtok_r(NULL, ";", &save)) {
		g_strstrip(w);
		if ((input && *input && strstr(w, input)) || (line->len && is_noise(w)))
			continue;
		sep = append_part(line, w, sep) ? "; " : sep;
	}
	g_free(all);
}

/* Take libvips' error text (and clear it, so the next file starts clean) as one
 * line: lines joined with "; ", a line already said dropped, the input path removed
 * (the caller names the file): libvips' quoted "<path>" becomes "file", e.g.
 * "VipsForeignLoad: file is not a known file format". Falls back to
 * `fallback` when libvips left nothing. */
void vipserr_cause(char *err, size_t errlen, const char *input, const char *fallback)
{
	char *msg = vips_error_buffer_copy();
	GString *line = g_string_new(NULL);
	char *save = NULL;

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
	GPtrArray *parts = g_ptr_array_new();
	int said = 0;
	for (char *l = strtok_r(msg, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		g_ptr_array_add(parts, g_strstrip(l));
		said |= *l && !is_noise(l);
	}
	for (guint i = 0; i < parts->len; i++) {
		const char *l = g_ptr_array_index(parts, i);
		/* The line before libvips' "..." was cut off mid-sentence. */
		int cut = i + 1 < parts->len && !strcmp(g_ptr_array_index(parts, i + 1), "...");
		char *blocked = blocked_loader(l);
		if (!said || !(is_noise(l) || cut))
			append_part(line, blocked ? blocked : l, "; ");
		g_free(blocked);
	}
	g_ptr_array_free(parts, TRUE);
	const char *sep = "; ";
	if (!line->len) {
		g_string_append(line, fallback);
		sep = ": "; /* "cannot read the image header: not enough data" */
	}
	take_warnings(line, input, sep);
	vipserr_printf(err, errlen, "%s", line->str);
	g_string_free(line, TRUE);
	g_free(msg);
}

