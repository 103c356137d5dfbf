/* SPDX-License-Identifier: MIT */
/*
 * report_text.c — how text is written for people and for JSON: names escaped so
 * no file name can forge a line or move the terminal, JSON strings valid for any
 * bytes (surrogateescape), byte counts, and report_say()'s one-line messages.
 * See report.h.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one; its code
 * point in *code when code is not NULL. The one judge of UTF-8 here: the JSON
 * writer escapes what it refuses, report_put_name() what it reads as a control. */
static int utf8_len(const unsigned char *s, uint32_t *code)
{
	unsigned c = s[0];
	int n;
	unsigned min;
	if (c < 0x80) {
		if (code)
			*code = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000;
	else
		return 0;
	unsigned cp = c & (0x3f >> (n - 1));
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (code)
		*code = cp;
	return n;
}

/* A character that moves to a new line, reorders what follows (Trojan Source) or
 * reads as a control: C1 controls (U+009B is CSI to many terminals), the line and
 * paragraph separators, the bidi marks (U+061C too), embeddings, overrides and
 * isolates. Never shown raw, in a line or in JSON. */
static int hidden_effect(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9F) || c == 0x061C || c == 0x2028 || c == 0x2029 ||
	       c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
	       (c >= 0x2066 && c <= 0x2069);
}

/* one_line: every control character as '?' (and the hidden ones of
 * hidden_effect()), as a human line shows them, where a name holds them. */
static void json_string(FILE *f, const char *str, int one_line)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	putc('"', f);
	while (*s) {
		uint32_t c32;
		int n = utf8_len(s, &c32);
		if (n == 0) {
			fprintf(f, "\\udc%02x", *s); /* surrogateescape: a lossless byte */
			s++;
			continue;
		}
		if (n > 1 && hidden_effect(c32)) {
			/* The same string to a JSON reader; to a terminal that shows
			 * the report (--report -), no control. */
			if (one_line)
				putc('?', f);
			else
				fprintf(f, "\\u%04x", (unsigned)c32);
			s += n;
			continue;
		}
		if (n > 1) {
			fwrite(s, 1, (size_t)n, f);
			s += n;
			continue;
		}
		unsigned char c = *s++;
		if (one_line && (c < 0x20 || c == 0x7f))
			c = '?';
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				putc(c, f);
		}
	}
	putc('"', f);
}

void report_json_string(FILE *f, const char *str)
{
	json_string(f, str, 0);
}

void report_json_line(FILE *f, const char *str)
{
	json_string(f, str, 1);
}

const char *report_bytes(uint64_t n, char *buf, size_t len)
{
	if (n < 1000)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else if (n < 1000 * 1000)
		snprintf(buf, len, "%.1f kB", n / 1e3);
	else if (n < 1000ULL * 1000 * 1000)
		snprintf(buf, len, "%.1f MB", n / 1e6);
	else
		snprintf(buf, len, "%.2f GB", n / 1e9);
	return buf;
}

void report_put_name(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t c;
		int n;
		if (*p < 0x80) {
			putc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
			p++;
		} else if ((n = utf8_len(p, &c)) && !hidden_effect(c)) {
			fwrite(p, 1, (size_t)n, f);
			p += n;
		} else if (n || *p <= 0x9F) {
			putc('?', f);
			p += n ? n : 1;
		} else {
			putc(*p, f);	/* not UTF-8, not a C1 control: a Latin-1 name's é */
			p++;
		}
	}
}

void report_vsay(FILE *f, const char *fmt, va_list ap)
{
	char small[1024], *line = small;
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	if (n >= (int)sizeof small && (line = malloc((size_t)n + 1)))
		vsnprintf(line, (size_t)n + 1, fmt, again);
	else
		line = small;	/* fits, or out of memory: the line cut short, still said */
	va_end(again);
	if (n >= 0)
		report_put_name(f, line);
	putc('\n', f);
	if (line != small)
		free(line);
}

void report_say(FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_vsay(f, fmt, ap);
	va_end(ap);
}
