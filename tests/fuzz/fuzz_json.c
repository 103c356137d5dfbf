/* SPDX-License-Identifier: MIT */
/*
 * fuzz_json.c — the JSON string writer of the report (report_json_string in
 * app/report.h), which must turn any file name into valid JSON.
 *
 * Input: the name, as a C string (an inner NUL ends it, as for a path).
 * Invariants: the output is one JSON string literal: quoted, valid UTF-8, no raw
 * control character (nor C1 control, line separator or bidi control: they are
 * escaped), only the escapes JSON knows, and decoding it with the
 * surrogateescape convention (\udc80-\udcff stand for single bytes) gives the
 * exact bytes of the name back.
 */
#include "fuzz_util.h"
#include "report.h"

/* Value of hex digit c, or -1. */
static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Length of the valid UTF-8 sequence at s[0, n), or 0. Written independently of
 * report.c's so the two check each other. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (!len || len > n)
		return 0;
	uint32_t cp = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* The characters the writer escapes although JSON does not ask it to: those that
 * move or hide text on a terminal (C1 controls, the line and paragraph separators,
 * bidi marks, embeddings, overrides and isolates). Listed here independently of
 * report.c's hidden_effect(). */
static int must_escape(uint32_t v)
{
	return (v >= 0x80 && v <= 0x9f) || v == 0x61c || v == 0x2028 || v == 0x2029 ||
	       v == 0x200e || v == 0x200f || (v >= 0x202a && v <= 0x202e) ||
	       (v >= 0x2066 && v <= 0x2069);
}

/* The code point of the valid UTF-8 sequence s[0, len). */
static uint32_t code_of(const unsigned char *s, size_t len)
{
	uint32_t cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

/* Decode the JSON string literal j[0, n) into out (room for n bytes); returns
 * the decoded length. Aborts on anything that is not valid JSON. */
static size_t decode(const char *j, size_t n, unsigned char *out)
{
	const unsigned char *s = (const unsigned char *)j;
	FUZZ_CHECK(n >= 2 && s[0] == '"' && s[n - 1] == '"', "not quoted: %.*s", (int)n, j);
	size_t o = 0;
	for (size_t i = 1; i < n - 1;) {
		FUZZ_CHECK(s[i] >= 0x20, "raw control byte 0x%02x at %zu", s[i], i);
		FUZZ_CHECK(s[i] != '"', "unescaped quote at %zu", i);
		if (s[i] != '\\') {
			size_t k = utf8_seq(s + i, n - 1 - i);
			FUZZ_CHECK(k > 0, "invalid UTF-8 at %zu", i);
			FUZZ_CHECK(!must_escape(code_of(s + i, k)), "U+%04x raw at %zu",
				   (unsigned)code_of(s + i, k), i);
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		FUZZ_CHECK(i + 1 < n - 1, "a backslash at the end");
		char e = (char)s[i + 1];
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e && simple) {
			static const char map[] = "\"\\/\b\f\n\r\t";
			out[o++] = (unsigned char)map[simple - "\"\\/bfnrt"];
			i += 2;
			continue;
		}
		FUZZ_CHECK(e == 'u' && i + 5 < n - 1, "bad escape \\%c", e);
		int v = 0;
		for (int d = 0; d < 4; d++) {
			int h = hexval(s[i + 2 + d]);
			FUZZ_CHECK(h >= 0, "bad \\u escape");
			v = v << 4 | h;
		}
		if (v >= 0xdc80 && v <= 0xdcff)
			out[o++] = (unsigned char)(v - 0xdc00); /* surrogateescape */
		else if (v >= 0x80) {
			FUZZ_CHECK(must_escape((uint32_t)v), "\\u%04x for a character that needs "
				   "no escape", v);
			if (v < 0x800) {
				out[o++] = (unsigned char)(0xc0 | v >> 6);
			} else {
				out[o++] = (unsigned char)(0xe0 | v >> 12);
				out[o++] = (unsigned char)(0x80 | (v >> 6 & 0x3f));
			}
			out[o++] = (unsigned char)(0x80 | (v & 0x3f));
		} else {
			out[o++] = (unsigned char)v;
		}
		i += 6;
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = fuzz_strdup(data, size);
	char *json = NULL;
	size_t len = 0;
	FILE *f = name ? open_memstream(&json, &len) : NULL;
	if (!f) {
		free(name);
		return 0;
	}
	report_json_string(f, name);
	fclose(f);
	unsigned char *back = malloc(len + 1);
	if (back) {
		size_t n = decode(json, len, back);
		size_t want = strlen(name);
		FUZZ_CHECK(n == want && !memcmp(back, name, n),
			   "round trip changed the name (%zu bytes -> %zu)", want, n);
	}
	free(back);
	free(json);
	free(name);
	return 0;
}
