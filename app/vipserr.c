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

/* Take libvips' error text (and clear it, so the next file starts clean) as one
 * line: lines joined with "; ", repeated lines dropped, the input path removed
 * (the caller names the file): libvips' quoted "<path>" becomes "file", e.g.
 * "VipsForeignLoad: file is not a known file format". Falls back to
 * `fallback` when libvips left nothing. */
void vipserr_cause(char *err, size_t errlen, const char *input, const char *fallback)
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
	vipserr_printf(err, errlen, "%s", line->len ? line->str : fallback);
	g_string_free(line, TRUE);
	g_free(msg);
}

