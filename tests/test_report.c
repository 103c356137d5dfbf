/* SPDX-License-Identifier: MIT */
/*
 * test_report.c — what imgpool tells the user (app/report.c): JSON strings valid
 * and lossless for any byte string (decoded back here by a small decoder of its
 * own), one JSON record per file with its fields and failure kind, the summary
 * record and line, which lines -q and -v show and on which stream, and the byte
 * sizes of the human lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

/* Every report of these tests writes one fixed time, so records compare exactly. */
static report *open_fixed(FILE *out, FILE *err, int quiet, int verbose, const char *path,
			  char *msg, size_t len)
{
	report *r = report_open(out, err, quiet, verbose, path, msg, len);
	if (r)
		report_fix_time(r, "T0");
	return r;
}
#define report_open open_fixed

/* ------------------------------------------------------------------------- */
/* Capturing output                                                           */

/* Two memory streams standing for stdout and stderr. */
typedef struct streams {
	FILE *out, *err;
	char *out_text, *err_text;
	size_t out_len, err_len;
} streams;

static void streams_open(streams *s)
{
	memset(s, 0, sizeof *s);
	s->out = open_memstream(&s->out_text, &s->out_len);
	s->err = open_memstream(&s->err_text, &s->err_len);
	assert_non_null(s->out);
	assert_non_null(s->err);
}

/* Flush so the texts are current (they stay open). */
static void streams_sync(streams *s)
{
	fflush(s->out);
	fflush(s->err);
}

static void streams_close(streams *s)
{
	fclose(s->out);
	fclose(s->err);
	free(s->out_text);
	free(s->err_text);
}

/* report_json_string(s) as a malloc'd text. */
static char *json_of(const char *s)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	report_json_string(f, s);
	fclose(f);
	return text;
}

/* ------------------------------------------------------------------------- */
/* A small JSON string decoder, independent of the writer                     */

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		*v = *v * 16 + (unsigned)d;
	}
	return 0;
}

static size_t put_utf8(unsigned cp, unsigned char *o)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Is s[0..n) valid UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)? */
static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], cp, k;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/*
 * Decode one JSON string literal (RFC 8259) at text into out (NUL-terminated),
 * mapping \udc80-\udcff back to the byte it stands for (surrogateescape).
 * Returns the decoded length, or -1 when text is not one valid JSON string: a raw
 * control character, a bad escape, invalid UTF-8, a lone surrogate other than
 * \udc80-\udcff, anything after the closing quote.
 */
static long json_decode(const char *text, unsigned char *out, size_t cap)
{
	const char *p = text;
	size_t n = 0;
	if (*p++ != '"')
		return -1;
	const char *start = p;
	while (*p && *p != '"') {
		if (n + 4 >= cap)
			return -1;
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			out[n++] = c;
			p++;
			continue;
		}
		p++;
		unsigned v;
		switch (*p++) {
		case '"': out[n++] = '"'; break;
		case '\\': out[n++] = '\\'; break;
		case '/': out[n++] = '/'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u':
			if (hex4(p, &v) < 0)
				return -1;
			p += 4;
			if (v >= 0xdc80 && v <= 0xdcff) {
				out[n++] = (unsigned char)(v - 0xdc00);
			} else if (v >= 0xd800 && v <= 0xdbff) {
				unsigned lo;
				if (p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return -1;
				p += 6;
				n += put_utf8(0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00), out + n);
			} else if (v >= 0xdc00 && v <= 0xdfff) {
				return -1;
			} else {
				n += put_utf8(v, out + n);
			}
			break;
		default:
			return -1;
		}
	}
	if (*p != '"' || p[1] != '\0')
		return -1;
	/* the raw (unescaped) bytes must be valid UTF-8 for the text to be JSON */
	if (!valid_utf8((const unsigned char *)start, (size_t)(p - start)))
		return -1;
	out[n] = '\0';
	return (long)n;
}

/* s goes through report_json_string and comes back byte for byte. */
static void round_trip(const char *s)
{
	char *text = json_of(s);
	unsigned char back[4096];
	long n = json_decode(text, back, sizeof back);
	if (n < 0)
		fail_msg("not a valid JSON string: %s", text);
	if ((size_t)n != strlen(s) || memcmp(back, s, (size_t)n))
		fail_msg("round trip changed the bytes: %s", text);
	free(text);
}

/* ------------------------------------------------------------------------- */
/* JSON strings                                                               */

static void test_json_escapes(void **state)
{
	static const struct {
		const char *in, *json;
	} cases[] = {
		{"", "\"\""},
		{"plain/name.jpg", "\"plain/name.jpg\""},
		{"say \"cheese\"", "\"say \\\"cheese\\\"\""},
		{"back\\slash", "\"back\\\\slash\""},
		{"new\nline", "\"new\\nline\""},
		{"cr\rtab\t", "\"cr\\rtab\\t\""},
		{"\x01\x1f", "\"\\u0001\\u001f\""},
		{"bell\a", "\"bell\\u0007\""},
		{"del\x7f", "\"del\\u007f\""},
		{"caf\xc3\xa9", "\"caf\xc3\xa9\""},                   /* valid UTF-8 kept as is */
		{"\xe2\x82\xac \xf0\x9f\x93\xb7", "\"\xe2\x82\xac \xf0\x9f\x93\xb7\""},
		{"\xff", "\"\\udcff\""},                              /* not UTF-8: one byte each */
		{"\x80", "\"\\udc80\""},
		{"latin1 caf\xe9.jpg", "\"latin1 caf\\udce9.jpg\""},
		{"\xc0\xaf", "\"\\udcc0\\udcaf\""},                   /* overlong '/' */
		{"\xe0\x80\xaf", "\"\\udce0\\udc80\\udcaf\""},        /* overlong, 3 bytes */
		{"\xed\xa0\x80", "\"\\udced\\udca0\\udc80\""},        /* a UTF-16 surrogate */
		{"\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\""}, /* past U+10FFFF */
		{"\xe2\x82", "\"\\udce2\\udc82\""},                   /* cut short at the end */
		{"\xe2\x82x", "\"\\udce2\\udc82x\""},                 /* cut short by a byte */
		{"\xf5\x80\x80\x80", "\"\\udcf5\\udc80\\udc80\\udc80\""},
		{"\xc3\xa9\xff\xc3\xa9", "\"\xc3\xa9\\udcff\xc3\xa9\""},
		/* what would move or hide text on a terminal showing the report
		 * (--report -) is escaped, the same string to a JSON reader: a C1 CSI,
		 * a bidi override, the Arabic letter mark, the line separator */
		{"a\xc2\x9b" "2J", "\"a\\u009b2J\""},
		{"x\xe2\x80\xaey", "\"x\\u202ey\""},
		{"\xd8\x9c", "\"\\u061c\""},
		{"\xe2\x80\xa8", "\"\\u2028\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *text = json_of(cases[i].in);
		assert_string_equal(text, cases[i].json);
		free(text);
		round_trip(cases[i].in);
	}
	/* NULL is the empty string */
	char *text = json_of(NULL);
	assert_string_equal(text, "\"\"");
	free(text);
}

/* Every 1- and 2-byte string, and 3-byte strings around the UTF-8 edges: valid
 * JSON, and the bytes come back. */
static void test_json_any_bytes(void **state)
{
	char s[4];
	for (int a = 1; a < 256; a++) {
		s[0] = (char)a;
		s[1] = '\0';
		round_trip(s);
		for (int b = 1; b < 256; b++) {
			s[1] = (char)b;
			s[2] = '\0';
			round_trip(s);
		}
	}
	static const unsigned char lead[] = {0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf4, 0xf5};
	static const unsigned char cont[] = {0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0};
	for (size_t i = 0; i < sizeof lead; i++)
		for (size_t j = 0; j < sizeof cont; j++)
			for (size_t k = 0; k < sizeof cont; k++) {
				s[0] = (char)lead[i];
				s[1] = (char)cont[j];
				s[2] = (char)cont[k];
				s[3] = '\0';
				round_trip(s);
			}
}

/* ------------------------------------------------------------------------- */
/* Per-file records                                                           */

static thumb_result two_outputs(void)
{
	thumb_result res;
	memset(&res, 0, sizeof res);
	res.in_w = 4032;
	res.in_h = 3024;
	res.in_bytes = 3100000;
	res.nout = 2;
	res.out[0].w = 1600;
	res.out[0].h = 1200;
	res.out[0].bytes = 412300;
	res.out[1].w = 320;
	res.out[1].h = 240;
	res.out[1].bytes = 21000;
	return res;
}

static const char *const OUTS[] = {"web/a_1600.jpg", "web/a_320.jpg"};

/* One report of each status, as report_file_done is given them. */
static void report_each(report *r, const thumb_result *res)
{
	report_file ok = {.status = REPORT_OK, .input = "a.jpg", .noutputs = 2, .outputs = OUTS,
			  .res = res, .ms = 96.04, .attempts = 1, .worker = 0};
	static const char *const bo[] = {"web/b.jpg"};
	report_file err = {.status = REPORT_ERROR, .input = "b.jpg", .noutputs = 1, .outputs = bo,
			   .cause = "VipsJpeg: Premature end of input file", .kind = FAIL_DECODE,
			   .ms = 5, .attempts = 2, .worker = 1};
	report_file skip = {.status = REPORT_SKIPPED, .input = "c.jpg", .noutputs = 1,
			    .outputs = bo, .worker = -1};
	report_file plan = {.status = REPORT_PLANNED, .input = "d.jpg", .noutputs = 2,
			    .outputs = OUTS, .worker = -1};
	report_file stop = {.status = REPORT_CANCELLED, .input = "e.jpg", .noutputs = 1,
			    .outputs = bo, .cause = "interrupted", .kind = FAIL_INTERRUPTED,
			    .worker = -1};
	report_file_done(r, &ok);
	report_file_done(r, &err);
	report_file_done(r, &skip);
	report_file_done(r, &plan);
	report_file_done(r, &stop);
}

static const char json_each[] =
	"{\"schema\":1,\"time\":\"T0\",\"type\":\"file\",\"status\":\"ok\",\"input\":\"a.jpg\",\"width\":4032,\"height\":3024,"
	"\"bytes\":3100000,\"outputs\":[{\"path\":\"web/a_1600.jpg\",\"width\":1600,"
	"\"height\":1200,\"bytes\":412300},{\"path\":\"web/a_320.jpg\",\"width\":320,"
	"\"height\":240,\"bytes\":21000}],\"ms\":96.0,\"attempts\":1,\"worker\":0}\n"
	"{\"schema\":1,\"time\":\"T0\",\"type\":\"file\",\"status\":\"error\",\"input\":\"b.jpg\",\"outputs\":[{\"path\":"
	"\"web/b.jpg\"}],\"error\":\"VipsJpeg: Premature end of input file\",\"kind\":\"decode\","
	"\"ms\":5.0,\"attempts\":2,\"worker\":1}\n"
	"{\"schema\":1,\"time\":\"T0\",\"type\":\"file\",\"status\":\"skipped\",\"input\":\"c.jpg\",\"outputs\":[{\"path\":"
	"\"web/b.jpg\"}]}\n"
	"{\"schema\":1,\"time\":\"T0\",\"type\":\"file\",\"status\":\"planned\",\"input\":\"d.jpg\",\"outputs\":[{\"path\":"
	"\"web/a_1600.jpg\"},{\"path\":\"web/a_320.jpg\"}]}\n"
	"{\"schema\":1,\"time\":\"T0\",\"type\":\"file\",\"status\":\"cancelled\",\"input\":\"e.jpg\",\"outputs\":[{\"path\":"
	"\"web/b.jpg\"}],\"error\":\"interrupted\",\"kind\":\"interrupted\"}\n";

static const char human_each[] =
	"ok    a.jpg  4032x3024 3.1 MB -> web/a_1600.jpg 1600x1200 412.3 kB, web/a_320.jpg "
	"320x240 21.0 kB  96 ms\n"
	"error b.jpg: VipsJpeg: Premature end of input file\n"
	"would d.jpg -> web/a_1600.jpg web/a_320.jpg\n"
	"stop  e.jpg: interrupted\n";

/* The same with a report file: error lines on stderr, the rest on stdout. */
static const char human_out[] =
	"ok    a.jpg  4032x3024 3.1 MB -> web/a_1600.jpg 1600x1200 412.3 kB, web/a_320.jpg "
	"320x240 21.0 kB  96 ms\n"
	"would d.jpg -> web/a_1600.jpg web/a_320.jpg\n"
	"stop  e.jpg: interrupted\n";
static const char human_err[] = "error b.jpg: VipsJpeg: Premature end of input file\n";

static void test_file_records(void **state)
{
	streams s;
	char msg[256];
	thumb_result res = two_outputs();
	/* --report -: JSON on stdout, so the human lines go to stderr */
	streams_open(&s);
	report *r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	assert_non_null(r);
	report_each(r, &res);
	streams_sync(&s);
	assert_string_equal(s.out_text, json_each);
	assert_string_equal(s.err_text, human_each);
	assert_int_equal(report_close(r), 0);
	streams_close(&s);

	/* --report FILE: the same records in the file, the human lines on stdout but
	 * for the errors, on stderr */
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/test_report.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, path, msg, sizeof msg);
	assert_non_null(r);
	report_each(r, &res);
	/* each record is flushed as it is written: a kill -9 loses none */
	FILE *f = fopen(path, "r");
	char file_text[4096];
	size_t n = fread(file_text, 1, sizeof file_text - 1, f);
	file_text[n] = '\0';
	fclose(f);
	assert_string_equal(file_text, json_each);
	assert_int_equal(report_close(r), 0);
	streams_sync(&s);
	assert_string_equal(s.out_text, human_out);
	assert_string_equal(s.err_text, human_err);
	streams_close(&s);
	unlink(path);
}

/* Every failure kind travels as its name; none without a kind. */
static void test_kinds(void **state)
{
	streams s;
	char msg[256];
	streams_open(&s);
	report *r = report_open(s.out, s.err, 1, 0, "-", msg, sizeof msg);
	for (int k = FAIL_NONE; k < FAIL_KIND_COUNT; k++) {
		report_file f = {.status = REPORT_ERROR, .input = "x.jpg", .cause = "why",
				 .kind = (failure_kind)k, .worker = -1};
		report_file_done(r, &f);
	}
	report_close(r);
	streams_sync(&s);
	char *line = s.out_text;
	for (int k = FAIL_NONE; k < FAIL_KIND_COUNT; k++) {
		char *end = strchr(line, '\n');
		assert_non_null(end);
		*end = '\0';
		char want[64];
		snprintf(want, sizeof want, ",\"kind\":\"%s\"", failure_name((failure_kind)k));
		if (k == FAIL_NONE)
			assert_null(strstr(line, "\"kind\""));
		else if (!strstr(line, want))
			fail_msg("kind %d: %s", k, line);
		line = end + 1;
	}
	assert_string_equal(line, "");
	static const char *const names[] = {"", "decode", "limit", "output", "crash", "timeout",
					    "interrupted", "environment", "failed-earlier"};
	for (int k = 0; k < FAIL_KIND_COUNT; k++)
		assert_string_equal(failure_name((failure_kind)k), names[k]);
	assert_string_equal(failure_name(FAIL_KIND_COUNT), "");
	assert_string_equal(failure_name((failure_kind)-1), "");
	streams_close(&s);

	/* a kind on a file that did not fail is not said */
	streams_open(&s);
	r = report_open(s.out, s.err, 1, 0, "-", msg, sizeof msg);
	report_file skipped = {.status = REPORT_SKIPPED, .input = "y.jpg", .kind = FAIL_DECODE,
			       .worker = -1};
	report_file_done(r, &skipped);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.out_text, "{\"schema\":1,\"time\":\"T0\",\"type\":\"file\",\"status\":\"skipped\",\"input\":"
			    "\"y.jpg\",\"outputs\":[]}\n");
	streams_close(&s);
}

/* Names with quotes, newlines, control and non-UTF-8 bytes: the JSON line stays
 * one valid line; the human line shows control characters as '?'. */
static void test_hostile_names(void **state)
{
	streams s;
	char msg[256];
	streams_open(&s);
	report *r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	static const char *const outs[] = {"o/\"q\"\n.jpg"};
	report_file f = {.status = REPORT_ERROR, .input = "in\n\x1b[31m\xff\".jpg", .noutputs = 1,
			 .outputs = outs, .cause = "bad\nthing\x7f\xe2\x80\xa8", .kind = FAIL_OUTPUT,
			 .ms = 1.25, .attempts = 1, .worker = 3};
	report_file_done(r, &f);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.out_text,
			    "{\"schema\":1,\"time\":\"T0\",\"type\":\"file\",\"status\":\"error\",\"input\":\"in\\n\\u001b[31m"
			    "\\udcff\\\".jpg\",\"outputs\":[{\"path\":\"o/\\\"q\\\"\\n.jpg\"}],"
			    /* the error is one line, whatever a name it quotes holds */
			    "\"error\":\"bad?thing??\",\"kind\":\"output\",\"ms\":1.2,"
			    "\"attempts\":1,\"worker\":3}\n");
	assert_string_equal(s.err_text, "error in??[31m\xff\".jpg: bad?thing??\n");
	streams_close(&s);
}

/* -q: error lines only; -v: skipped files too; JSON gets everything either way. */
static void test_quiet_verbose(void **state)
{
	thumb_result res = two_outputs();
	char msg[256];
	static const struct {
		int quiet, verbose;
		const char *want;
	} modes[] = {
		{0, 0, "ok|would|stop|"},
		{0, 1, "ok|skip|would|stop|"},
		{1, 0, ""},
		{1, 1, ""},
	};
	for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
		streams s;
		streams_open(&s);
		report *r = report_open(s.out, s.err, modes[m].quiet, modes[m].verbose, NULL, msg,
					sizeof msg);
		report_each(r, &res);
		report_close(r);
		streams_sync(&s);
		/* the first word of each line, in order */
		char words[128] = "";
		for (char *p = s.out_text; *p;) {
			size_t w = strcspn(p, " ");
			strncat(words, p, w);
			strcat(words, "|");
			p = strchr(p, '\n');
			assert_non_null(p);
			p++;
		}
		assert_string_equal(words, modes[m].want);
		assert_string_equal(s.err_text, human_err); /* errors show, whatever the mode */
		if (modes[m].verbose && !modes[m].quiet)
			assert_non_null(strstr(s.out_text, "skip  c.jpg (up to date)\n"));
		streams_close(&s);
	}
	/* -q with --report FILE: the file still has every record */
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/test_report.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	int fd = mkstemp(path);
	close(fd);
	streams s;
	streams_open(&s);
	report *r = report_open(s.out, s.err, 1, 0, path, msg, sizeof msg);
	report_each(r, &res);
	report_close(r);
	FILE *f = fopen(path, "r");
	char text[4096];
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_string_equal(text, json_each);
	streams_close(&s);
	unlink(path);
}

/* The progress line goes to stderr; a live one is erased before any other line. */
static void test_progress(void **state)
{
	streams s;
	char msg[256];
	streams_open(&s);
	report *r = report_open(s.out, s.err, 0, 0, NULL, msg, sizeof msg);
	report_progress(r, "line 1", 0);
	report_progress(r, "live 1", 1);
	report_progress(r, "live 2", 1);
	report_file f = {.status = REPORT_ERROR, .input = "x.jpg", .cause = "c",
			 .kind = FAIL_DECODE, .worker = -1};
	report_file_done(r, &f);
	report_file_done(r, &f); /* nothing more to erase */
	report_progress(r, "live 3", 1);
	report_progress(r, "line 2", 0);
	report_progress(r, "line 3", 0);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.err_text, "line 1\n"
			    "\r\033[Klive 1\r\033[Klive 2\r\033[K"
			    "error x.jpg: c\nerror x.jpg: c\n"
			    "\r\033[Klive 3\r\033[Kline 2\n"
			    "line 3\n");
	assert_string_equal(s.out_text, "");
	streams_close(&s);
	/* a narrow terminal: the count and the ETA, not the bar alone */
	setenv("COLUMNS", "40", 1);
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, NULL, msg, sizeof msg);
	report_progress(r, "[#######-------------] 7/20  1.0 img/s  ETA 0:13  failed 0  busy 2/2",
			1);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.err_text, "\r\033[K7/20  1.0 img/s  ETA 0:13  failed 0  bu");
	streams_close(&s);
	setenv("COLUMNS", "100", 1);
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, NULL, msg, sizeof msg);
	report_progress(r, "[#######-------------] 7/20  1.0 img/s", 1);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.err_text, "\r\033[K[#######-------------] 7/20  1.0 img/s");
	streams_close(&s);
	unsetenv("COLUMNS");
}

static void test_pruned(void **state)
{
	streams s;
	char msg[256];
	streams_open(&s);
	report *r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	report_pruned(r, "o/a.jpg", "in/a\n.jpg", 0);
	report_pruned(r, "o/b.jpg", "in/b.jpg", 1);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.err_text, "prune o/a.jpg (its input in/a?.jpg is gone)\n"
			    "would prune o/b.jpg (its input in/b.jpg is gone)\n");
	assert_string_equal(s.out_text,
			    "{\"schema\":1,\"time\":\"T0\",\"type\":\"prune\",\"output\":\"o/a.jpg\",\"input\":\"in/a\\n.jpg\","
			    "\"dry_run\":false}\n"
			    "{\"schema\":1,\"time\":\"T0\",\"type\":\"prune\",\"output\":\"o/b.jpg\",\"input\":\"in/b.jpg\","
			    "\"dry_run\":true}\n");
	streams_close(&s);
	/* -q: only the record */
	streams_open(&s);
	r = report_open(s.out, s.err, 1, 0, NULL, msg, sizeof msg);
	report_pruned(r, "o/a.jpg", "in/a.jpg", 0);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.out_text, "");
	assert_string_equal(s.err_text, "");
	streams_close(&s);
}

/* A file's thumbnails of earlier settings that went as it was redone: a line each
 * after its own (would remove, dry run), and its record's "removed" list. */
static void test_removed(void **state)
{
	streams s;
	char msg[256];
	thumb_result res = two_outputs();
	const char *outs[] = {"o/a_640.jpg", "o/a_100.jpg"};
	const char *gone[] = {"o/a_1200.jpg", "o/a\n.jpg"};
	streams_open(&s);
	report *r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	report_file f = {.status = REPORT_OK, .input = "in/a.jpg", .noutputs = 2, .outputs = outs,
			 .res = &res, .ms = 5, .attempts = 1, .worker = 0, .nremoved = 2,
			 .removed = gone};
	report_file_done(r, &f);
	report_file planned = {.status = REPORT_PLANNED, .input = "in/b.jpg", .noutputs = 1,
			       .outputs = outs, .worker = -1, .nremoved = 1, .removed = gone};
	report_file_done(r, &planned);
	report_close(r);
	streams_sync(&s);
	assert_non_null(strstr(s.err_text, "\nremove o/a_1200.jpg (no longer an output of in/a.jpg)\n"
					   "remove o/a?.jpg (no longer an output of in/a.jpg)\n"
					   "would in/b.jpg -> o/a_640.jpg\n"
					   "would remove o/a_1200.jpg (no longer an output of in/b.jpg)\n"));
	assert_non_null(strstr(s.out_text, "\"removed\":[\"o/a_1200.jpg\",\"o/a\\n.jpg\"]"));
	assert_non_null(strstr(s.out_text, "\"status\":\"planned\",\"input\":\"in/b.jpg\","
					   "\"outputs\":[{\"path\":\"o/a_640.jpg\"}],"
					   "\"removed\":[\"o/a_1200.jpg\"]"));
	streams_close(&s);
	/* none: no field */
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	f.nremoved = 0;
	report_file_done(r, &f);
	report_close(r);
	streams_sync(&s);
	assert_null(strstr(s.out_text, "removed"));
	assert_null(strstr(s.err_text, "remove"));
	streams_close(&s);
}

/* ------------------------------------------------------------------------- */
/* The summary                                                                */

static report_summary a_summary(void)
{
	report_summary s = {
		.done = 10, .failed = 1, .skipped = 2, .wall_s = 2.0, .cpu_s = 3.0,
		.bytes_in = 4000000, .bytes_out = 123456, .task_s = 3.0, .workers = 2,
		.rss_peak = 123456789, .cores = 2, .shard = "", .exit_code = 1,
	};
	return s;
}

static const char summary_line[] =
	"imgpool: 10 done, 1 failed, 2 skipped in 2.00 s (5.0 images/s, 2.0 MB/s read, "
	"CPU 3.00 s = 75% of 2 cores, peak worker RSS 123.5 MB, parallel efficiency 75% of 2 "
	"workers)\n";

static void test_summary(void **state)
{
	streams s;
	char msg[256];
	streams_open(&s);
	report *r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	report_summary sum = a_summary();
	report_summary_print(r, &sum);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.err_text, summary_line);
	assert_string_equal(s.out_text,
			    "{\"schema\":1,\"time\":\"T0\",\"type\":\"summary\",\"version\":\"" IMGPOOL_VERSION "\",\"started\":\"T0\",\"shard\":null,\"total\":null,"
			    "\"not_started\":null,\"done\":10,\"failed\":1,\"skipped\":2,\"cancelled\":0,\"planned\":0,\"wall_s\":2.000,"
			    "\"cpu_s\":3.000,\"images_per_s\":5.00,\"mb_per_s_read\":2.00,"
			    "\"bytes_in\":4000000,\"bytes_out\":123456,\"workers\":2,"
			    "\"parallel_efficiency\":0.750,\"interrupted\":false,"
			    "\"peak_worker_rss\":123456789,\"workers_recycled\":0,\"workers_died\":0,"
			    "\"adopted\":0,\"failed_earlier\":0,\"pruned\":0,\"removed\":0,"
			    "\"exit_code\":1}\n");
	streams_close(&s);

	/* every extra line, a shard, an interrupt */
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, NULL, msg, sizeof msg);
	sum.shard = "2/4";
	sum.interrupted = 15;
	sum.cancelled = 7;
	sum.total_known = 1;
	sum.total = sum.done + sum.failed + sum.skipped + 7;
	sum.adopted = 3;
	sum.failed_earlier = 1;
	sum.pruned = 4;
	sum.recycled = 5;
	sum.crashed = 6;
	report_summary_print(r, &sum);
	sum.interrupted = 2;
	sum.adopted = sum.failed_earlier = sum.pruned = sum.recycled = sum.crashed = 0;
	sum.shard = NULL;
	report_summary_print(r, &sum);
	sum.stopped_running = 1;	/* a second signal */
	report_summary_print(r, &sum);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.out_text,
			    "imgpool: shard 2/4: 10 done, 1 failed, 2 skipped in 2.00 s (5.0 "
			    "images/s, 2.0 MB/s read, CPU 3.00 s = 75% of 2 cores, peak worker RSS "
			    "123.5 MB, parallel efficiency 75% of 2 workers)\n"
			    "imgpool: journal: 3 existing thumbnails adopted (up to date, recorded "
			    "under another name or not at all)\n"
			    "imgpool: 1 of the failures failed earlier and is unchanged: not tried "
			    "again (--retry-failed tries it)\n"
			    "imgpool: --prune: 4 thumbnails of deleted inputs removed\n"
			    "imgpool: workers: 5 recycled (--max-worker-rss), 6 died and were "
			    "replaced\n"
			    "imgpool: 10 done, 1 failed, 2 skipped in 2.00 s (5.0 images/s, 2.0 MB/s "
			    "read, CPU 3.00 s = 75% of 2 cores, peak worker RSS 123.5 MB, parallel "
			    "efficiency 75% of 2 workers)\n"
			    "imgpool: 10 done, 1 failed, 2 skipped in 2.00 s (5.0 images/s, 2.0 MB/s "
			    "read, CPU 3.00 s = 75% of 2 cores, peak worker RSS 123.5 MB, parallel "
			    "efficiency 75% of 2 workers)\n");
	/* a stop by a signal is said on standard error, as a stop's cause: a
	 * crontab's >/dev/null kept nothing of it */
	assert_string_equal(s.err_text,
			    "imgpool: interrupted by SIGTERM: running files finished, 7 not started\n"
			    "imgpool: interrupted by SIGINT: running files finished, 7 not started\n"
			    "imgpool: interrupted by SIGINT: running files stopped, 7 not started\n");
	streams_close(&s);

	/* a dry run, a stop for lack of disk */
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, NULL, msg, sizeof msg);
	sum = a_summary();
	sum.dry_run = 1;
	sum.planned = 8;
	sum.pruned = 2;
	report_summary_print(r, &sum);
	sum = a_summary();
	sum.stop_reason = "the output filesystem has 10 MB free";
	sum.cancelled = 9;
	sum.total_known = 1;
	sum.total = sum.done + sum.failed + sum.skipped + 9;
	report_summary_print(r, &sum);
	report_close(r);
	streams_sync(&s);
	char want[1024];
	snprintf(want, sizeof want,
		 "imgpool: dry run: 8 to make, 2 up to date, 1 error\n"
		 "imgpool: --prune: 2 thumbnails of deleted inputs to remove\n%s", summary_line);
	assert_string_equal(s.out_text, want);
	/* why the run stopped itself is an error: on stderr, as the files' errors */
	/* with the count of those without an error of their own: the cancelled */
	assert_string_equal(s.err_text, "imgpool: the output filesystem has 10 MB free (9 of them "
			    "cancelled)\n");
	streams_close(&s);

	/* nothing measured: no division by zero, no NaN */
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	report_summary zero = {.shard = "", .total_known = 1};
	report_summary_print(r, &zero);
	report_close(r);
	streams_sync(&s);
	/* ... and nothing made: no rates ("0.0 images/s" would read as slowness) */
	assert_string_equal(s.err_text, "imgpool: 0 done, 0 failed, 0 skipped in 0.00 s "
			    "(nothing to make)\n");
	streams_close(&s);

	/* nothing made, but files were left (a --min-free stop): not "nothing to make" */
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	report_summary left = {.shard = "", .total_known = 1, .total = 1,
			       .stop_reason = "stopped: the disk is full"};
	report_summary_print(r, &left);
	report_close(r);
	streams_sync(&s);
	assert_non_null(strstr(s.err_text, "0 skipped in 0.00 s (nothing made)\n"));
	streams_close(&s);

	/* made something in no measurable time: still no division by zero */
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	report_summary one = {.shard = "", .done = 1};
	report_summary_print(r, &one);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.err_text, "imgpool: 1 done, 0 failed, 0 skipped in 0.00 s (0.0 "
			    "images/s, 0.0 MB/s read, CPU 0.00 s = 0% of 0 cores, peak worker RSS "
			    "0 B, parallel efficiency 0% of 0 workers)\n");
	assert_null(strstr(s.err_text, "nan"));
	assert_null(strstr(s.err_text, "inf"));
	streams_close(&s);

	/* only failures: the CPU and memory they took, no rate */
	streams_open(&s);
	r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	report_summary bad = {.shard = "", .failed = 2, .wall_s = 1, .cpu_s = 0.5, .cores = 2};
	report_summary_print(r, &bad);
	report_close(r);
	streams_sync(&s);
	assert_string_equal(s.err_text, "imgpool: 0 done, 2 failed, 0 skipped in 1.00 s (CPU "
			    "0.50 s = 25% of 2 cores, peak worker RSS 0 B)\n");
	streams_close(&s);
}

/* -q: no summary line, but the JSON summary; a stop for lack of disk is said. */
static void test_summary_quiet(void **state)
{
	streams s;
	char msg[256];
	streams_open(&s);
	report *r = report_open(s.out, s.err, 1, 0, "-", msg, sizeof msg);
	report_summary sum = a_summary();
	report_summary_print(r, &sum);
	streams_sync(&s);
	assert_string_equal(s.err_text, "");
	static const char head[] = "{\"schema\":1,\"time\":\"T0\",\"type\":\"summary\"";
	assert_true(!strncmp(s.out_text, head, sizeof head - 1));
	sum.stop_reason = "disk low";
	sum.total_known = 1;
	sum.total = sum.done + sum.failed + sum.skipped;
	report_summary_print(r, &sum);
	/* neither walk finished: what is known, as a lower bound */
	sum.total_known = 0;
	sum.cancelled = 3;
	report_summary_print(r, &sum);
	report_close(r);
	streams_sync(&s);
	/* every file answered: no "(0 not started)" */
	assert_non_null(strstr(s.err_text, "imgpool: disk low\n"));
	assert_non_null(strstr(s.err_text, "imgpool: disk low (at least 3 not started; the walk "
				   "did not finish)\n"));
	streams_close(&s);
}

/* ------------------------------------------------------------------------- */
/* Opening, closing, sizes                                                    */

static void test_open_close(void **state)
{
	streams s;
	char msg[256];
	streams_open(&s);
	assert_null(report_open(s.out, s.err, 0, 0, "/nonexistent-folder/r.jsonl", msg,
				sizeof msg));
	assert_string_equal(msg, "--report: cannot write '/nonexistent-folder/r.jsonl': No such "
			    "file or directory");
	/* a report file that cannot be written: report_close says so */
	if (access("/dev/full", W_OK) == 0) {
		report *r = report_open(s.out, s.err, 1, 0, "/dev/full", msg, sizeof msg);
		assert_non_null(r);
		report_summary sum = a_summary();
		report_summary_print(r, &sum);
		assert_int_equal(report_close(r), -1);
	}
	/* --report -: stdout is not closed */
	report *r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	assert_int_equal(report_close(r), 0);
	assert_int_equal(fputs("still open", s.out) >= 0, 1);
	streams_sync(&s);
	assert_string_equal(s.out_text, "still open");
	assert_int_equal(report_close(NULL), 0);
	streams_close(&s);
}

static void test_bytes(void **state)
{
	static const struct {
		uint64_t n;
		const char *text;
	} cases[] = {
		{0, "0 B"}, {1, "1 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {1049, "1.0 kB"},
		{1050, "1.1 kB"}, {18000, "18.0 kB"}, {999949, "999.9 kB"}, {1000000, "1.0 MB"},
		{3149999, "3.1 MB"}, {999949999, "999.9 MB"}, {1000000000, "1.00 GB"},
		{1234567890123ULL, "1234.57 GB"}, {UINT64_MAX, "18446744073.71 GB"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char buf[32];
		assert_ptr_equal(report_bytes(cases[i].n, buf, sizeof buf), buf);
		assert_string_equal(buf, cases[i].text);
	}
	char tiny[4];
	report_bytes(123456, tiny, sizeof tiny);
	assert_string_equal(tiny, "123");
}

/* ------------------------------------------------------------------------- */
/* Threads: lines never mix                                                   */

typedef struct writer {
	report *r;
	int id;
} writer;

static void *write_many(void *arg)
{
	writer *w = arg;
	char input[32];
	snprintf(input, sizeof input, "thread-%d.jpg", w->id);
	report_file f = {.status = REPORT_ERROR, .input = input, .cause = "a cause of some length",
			 .kind = FAIL_DECODE, .worker = w->id};
	for (int i = 0; i < 300; i++) {
		report_file_done(w->r, &f);
		report_progress(w->r, "progress", i % 2);
	}
	return NULL;
}

static void test_threads(void **state)
{
	streams s;
	char msg[256];
	streams_open(&s);
	report *r = report_open(s.out, s.err, 0, 0, "-", msg, sizeof msg);
	pthread_t t[4];
	writer w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (writer){r, i};
		assert_int_equal(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	report_close(r);
	streams_sync(&s);
	/* stdout: 1200 whole JSON records, 300 per thread */
	int per[4] = {0};
	char *p = s.out_text;
	for (int n = 0; n < 1200; n++) {
		char *end = strchr(p, '\n');
		assert_non_null(end);
		int id;
		if (sscanf(p, "{\"schema\":1,\"time\":\"T0\",\"type\":\"file\",\"status\":\"error\",\"input\":\"thread-%d.jpg\"",
			   &id) != 1 || id < 0 || id > 3)
			fail_msg("mixed line: %.*s", (int)(end - p), p);
		char want[200];
		snprintf(want, sizeof want, "\"error\":\"a cause of some length\",\"kind\":\"decode\","
			 "\"ms\":0.0,\"attempts\":0,\"worker\":%d}", id);
		if ((size_t)(end - p) < strlen(want) || strncmp(end - strlen(want), want, strlen(want)))
			fail_msg("mixed line: %.*s", (int)(end - p), p);
		per[id]++;
		p = end + 1;
	}
	assert_string_equal(p, "");
	for (int i = 0; i < 4; i++)
		assert_int_equal(per[i], 300);
	streams_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_any_bytes),
		cmocka_unit_test(test_file_records),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_quiet_verbose),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_pruned),
		cmocka_unit_test(test_removed),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_quiet),
		cmocka_unit_test(test_open_close),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
