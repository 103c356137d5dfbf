/* SPDX-License-Identifier: MIT */
/*
 * test_jpegscan.c — unit tests of app/jpegscan.c (the scan walker) and of the
 * DC-only progressive decode it gives app/fastjpeg.c.
 *
 * The promise under test: a progressive JPEG decoded through fastjpeg at 1/8
 * scale (where the walker drops the AC scans of components with a 1x1 IDCT) has
 * the very pixels of a plain libjpeg decode of the whole file at 1/8
 * (jpeg_reference.h), and a file that is truncated, or damaged in a DC scan,
 * still fails with libjpeg's cause. Progressive files are generated here with
 * libjpeg-turbo (its simple progression, which refines DC after the AC scans,
 * and scan scripts of our own) in grey, 4:4:4, 4:2:2, 4:4:0, 4:2:0, RGB, CMYK and
 * YCCK, with and without restart markers; every progressive photo of
 * IMGPOOL_CORPUS is checked too (skipped without it).
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "fastjpeg.h"
#include "jpeg_reference.h"
#include "jpegscan.h"

static char tmpdir[PATH_MAX - 16];

/* ------------------------------------------------------------ test files -- */

/* Scan scripts: libjpeg's simple progression (DC first in 2 bits, AC in
 * successive approximation, DC refinement after the first AC scans); ours with
 * one DC scan per component and the DC refinement last of all; spectral
 * selection only (no refinement); and one that never sends the last AC bit. */
enum { SCRIPT_SIMPLE, SCRIPT_DC_LAST, SCRIPT_SPECTRAL, SCRIPT_INCOMPLETE, SCRIPT_BASELINE };

typedef struct fmt {
	const char *name;
	int comps;
	J_COLOR_SPACE in_space, jpeg_space;
	int h0, v0;			/* first component's sampling, the others 1x1 */
	unsigned one_by_one;		/* components with a 1x1 IDCT at 1/8 */
} fmt;

static const fmt FORMATS[] = {
	{ "grey", 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 1, 1, 0x1 },
	{ "4:4:4", 3, JCS_RGB, JCS_YCbCr, 1, 1, 0x7 },
	{ "4:2:2", 3, JCS_RGB, JCS_YCbCr, 2, 1, 0x7 },
	{ "4:4:0", 3, JCS_RGB, JCS_YCbCr, 1, 2, 0x7 },
	{ "4:2:0", 3, JCS_RGB, JCS_YCbCr, 2, 2, 0x1 },
	{ "RGB", 3, JCS_RGB, JCS_RGB, 1, 1, 0x7 },
	{ "CMYK", 4, JCS_CMYK, JCS_CMYK, 1, 1, 0xF },
	{ "YCCK 4:2:0", 4, JCS_CMYK, JCS_YCCK, 2, 2, 0x1 },
};

typedef struct jbuf {
	unsigned char *data;
	size_t len;
} jbuf;

/* Sample c of pixel (x, y): a gradient with noise, so every AC band carries
 * data. */
static unsigned char sample(int x, int y, int c)
{
	uint32_t r = (uint32_t)(x * 73856093u) ^ (uint32_t)(y * 19349663u) ^ (uint32_t)(c * 83492791u);

	r ^= r >> 13;
	r *= 0x5bd1e995u;
	return (unsigned char)((x * (2 + c) + y * 3 + (int)(r >> 26)) & 255);
}

/* A w x h JPEG of format f with scan script `script` and a restart marker
 * every `restart` MCUs (0: none), at quality 90. */
static jbuf encode(const fmt *f, int w, int h, int script, int restart)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	jpeg_scan_info scans[64];
	int n = 0;
	unsigned long len = 0;
	unsigned char *out = NULL, *row = malloc((size_t)w * (size_t)f->comps);
	jbuf b;

	assert_non_null(row);
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &len);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = f->comps;
	c.in_color_space = f->in_space;
	jpeg_set_defaults(&c);
	jpeg_set_colorspace(&c, f->jpeg_space);
	jpeg_set_quality(&c, 90, TRUE);
	c.comp_info[0].h_samp_factor = f->h0;
	c.comp_info[0].v_samp_factor = f->v0;
	for (int i = 1; i < f->comps; i++)
		c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
	c.restart_interval = (unsigned)restart;
	if (script == SCRIPT_SIMPLE)
		jpeg_simple_progression(&c);
	else if (script != SCRIPT_BASELINE) {
		jpeg_scan_info all = { f->comps, { 0, 1, 2, 3 }, 0, 0, 0, 0 };

		if (script == SCRIPT_DC_LAST) {
			for (int i = 0; i < f->comps; i++)
				scans[n++] = (jpeg_scan_info){ 1, { i }, 0, 0, 0, 1 };
			for (int i = 0; i < f->comps; i++) {
				scans[n++] = (jpeg_scan_info){ 1, { i }, 1, 5, 0, 2 };
				scans[n++] = (jpeg_scan_info){ 1, { i }, 6, 63, 0, 2 };
				scans[n++] = (jpeg_scan_info){ 1, { i }, 1, 63, 2, 1 };
			}
			for (int i = 0; i < f->comps; i++)
				scans[n++] = (jpeg_scan_info){ 1, { i }, 1, 63, 1, 0 };
			all.Ah = 1;
			scans[n++] = all;	/* the DC refinement, after every AC scan */
		} else {
			scans[n++] = all;
			for (int i = 0; i < f->comps; i++) {
				scans[n++] = (jpeg_scan_info){ 1, { i }, 1, 9, 0,
							       script == SCRIPT_INCOMPLETE };
				scans[n++] = (jpeg_scan_info){ 1, { i }, 10, 63, 0, 0 };
			}
		}
		c.scan_info = scans;
		c.num_scans = n;
	}
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		for (int x = 0; x < w; x++)
			for (int k = 0; k < f->comps; k++)
				row[x * f->comps + k] = sample(x, (int)c.next_scanline, k);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(row);
	b.data = out;
	b.len = len;
	return b;
}

/* A copy of b with [at, at + cut) replaced by the n bytes of ins. */
static jbuf splice(jbuf b, size_t at, size_t cut, const void *ins, size_t n)
{
	jbuf r;

	assert_true(at + cut <= b.len);
	r.len = b.len - cut + n;
	r.data = malloc(r.len ? r.len : 1);
	assert_non_null(r.data);
	memcpy(r.data, b.data, at);
	if (n)
		memcpy(r.data + at, ins, n);
	memcpy(r.data + at + n, b.data + at + cut, b.len - at - cut);
	return r;
}

/* ----------------------------------------------- the test's own scan list -- */

/* A scan of a file the tests made (no fill bytes, no garbage): where its SOS
 * marker starts, where its entropy-coded data starts and ends, its parameters. */
typedef struct scan {
	size_t start, data, end;
	int ns, comp, ss, se, ah, al;	/* comp: the first component id listed */
} scan;

/* The scans of b, in order, into s (at most max); how many. An independent,
 * plain reading of the layout, to aim damage at one scan. */
static int list_scans(jbuf b, scan *s, int max)
{
	size_t at = 2;
	int n = 0;

	while (at + 4 <= b.len && b.data[at] == 0xFF && b.data[at + 1] != 0xD9) {
		int m = b.data[at + 1];
		size_t seg = (size_t)b.data[at + 2] << 8 | b.data[at + 3];

		if (m != 0xDA) {
			at += 2 + seg;
			continue;
		}
		assert_true(n < max);
		s[n].start = at;
		s[n].ns = b.data[at + 4];
		s[n].comp = b.data[at + 5];
		s[n].ss = b.data[at + 5 + 2 * s[n].ns];
		s[n].se = b.data[at + 6 + 2 * s[n].ns];
		s[n].ah = b.data[at + 7 + 2 * s[n].ns] >> 4;
		s[n].al = b.data[at + 7 + 2 * s[n].ns] & 15;
		s[n].data = at + 2 + seg;
		at = s[n].data;
		while (at + 1 < b.len && !(b.data[at] == 0xFF && b.data[at + 1] != 0 &&
					   (b.data[at + 1] < 0xD0 || b.data[at + 1] > 0xD7)))
			at++;
		s[n].end = at;
		n++;
	}
	return n;
}

/* The first scan of b matching: DC (ac 0) or AC (ac 1), first pass (refine 0)
 * or refinement (1), and component id comp (-1: any). Fails the test if none. */
static scan find_scan(jbuf b, int ac, int refine, int comp)
{
	scan s[64];
	int n = list_scans(b, s, 64);

	for (int i = 0; i < n; i++)
		if ((s[i].ss > 0) == ac && (s[i].ah > 0) == refine &&
		    (comp < 0 || s[i].comp == comp))
			return s[i];
	fail_msg("no %s %s scan of component %d", ac ? "AC" : "DC",
		 refine ? "refinement" : "first", comp);
	return s[0];
}

/* --------------------------------------------------------------- decoding -- */

/* b written to a file and decoded by fastjpeg at eighths/8: FASTJPEG_OK with
 * *px a malloc'd copy, or the error code with the cause in err. */
static int fast_decode(jbuf b, int eighths, unsigned char **px, int *w, int *h, int *bands,
		       char *err, size_t errlen)
{
	char path[PATH_MAX];
	FILE *f;
	fastjpeg *j = NULL;
	fastjpeg_info info;
	unsigned char *p;
	int rc;

	snprintf(path, sizeof path, "%s/t.jpg", tmpdir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	assert_int_equal(fclose(f), 0);
	err[0] = '\0';
	*px = NULL;
	rc = fastjpeg_open(path, &j, &info, err, errlen);
	if (rc != FASTJPEG_OK)
		return rc;
	rc = fastjpeg_decode(j, eighths, &p, w, h, err, errlen);
	if (rc == FASTJPEG_OK) {
		*bands = info.bands;
		*px = malloc((size_t)*w * (size_t)*h * (size_t)*bands);
		assert_non_null(*px);
		memcpy(*px, p, (size_t)*w * (size_t)*h * (size_t)*bands);
	}
	fastjpeg_close(j);
	return rc;
}

/* fastjpeg's pixels at eighths/8 are the reference decode's, byte for byte. */
static void assert_same_pixels(jbuf b, int eighths, const char *what)
{
	char err[256], rerr[256];
	unsigned char *fast, *ref;
	int fw, fh, fb, rw, rh, rb;

	if (fast_decode(b, eighths, &fast, &fw, &fh, &fb, err, sizeof err) != FASTJPEG_OK)
		fail_msg("%s at %d/8: fastjpeg failed: %s", what, eighths, err);
	ref = ref_decode(b.data, b.len, eighths, UINT64_MAX, &rw, &rh, &rb, rerr, sizeof rerr);
	if (!ref)
		fail_msg("%s at %d/8: the reference decode failed: %s", what, eighths, rerr);
	if (fw != rw || fh != rh || fb != rb)
		fail_msg("%s at %d/8: %dx%dx%d, reference %dx%dx%d", what, eighths, fw, fh, fb,
			 rw, rh, rb);
	for (size_t i = 0; i < (size_t)fw * fh * fb; i++)
		if (fast[i] != ref[i])
			fail_msg("%s at %d/8: sample %zu (pixel %zu, %zu) is %d, reference %d",
				 what, eighths, i, i / fb % fw, i / fb / fw, fast[i], ref[i]);
	free(fast);
	free(ref);
}

/* fastjpeg fails on b at eighths/8 with a cause that contains `cause`. */
static void assert_fails(jbuf b, int eighths, const char *cause, const char *what)
{
	char err[256];
	unsigned char *px;
	int w, h, bands, rc = fast_decode(b, eighths, &px, &w, &h, &bands, err, sizeof err);

	if (rc != FASTJPEG_ERROR) {
		free(px);
		fail_msg("%s at %d/8: %s, expected a failure (%s)", what, eighths,
			 rc == FASTJPEG_OK ? "decoded" : "unsupported", cause);
	}
	if (!strstr(err, cause))
		fail_msg("%s at %d/8: failed with \"%s\", expected \"%s\"", what, eighths, err,
			 cause);
}

/* The walker on b, copied to a buffer of exactly its size (so that ASan sees
 * a read past its end), into a buffer of its size. */
static jpegscan_status drop(jbuf b, unsigned mask, size_t *out_len)
{
	unsigned char *in = malloc(b.len ? b.len : 1), *out = malloc(b.len ? b.len : 1);
	jpegscan_status st;

	assert_non_null(in);
	assert_non_null(out);
	memcpy(in, b.data, b.len);
	*out_len = 0;
	st = jpegscan_drop_ac(in, b.len, mask, out, out_len);
	free(out);
	free(in);
	return st;
}

/* ------------------------------------------------------------------ tests -- */

/* Every format, script and restart setting: the walker drops AC data of the
 * 1x1 components, and fastjpeg's 1/8 decode equals the full one; other scales
 * too. */
static void test_generated_identity(void **state)
{
	static const int scripts[] = { SCRIPT_SIMPLE, SCRIPT_DC_LAST, SCRIPT_SPECTRAL };
	static const char *script_names[] = { "simple", "DC last", "spectral" };

	(void)state;
	for (size_t f = 0; f < sizeof FORMATS / sizeof *FORMATS; f++)
		for (int s = 0; s < 3; s++)
			for (int restart = 0; restart <= 3; restart += 3) {
				const fmt *ft = &FORMATS[f];
				jbuf b = encode(ft, 203, 131, scripts[s], restart);
				char what[128];
				size_t n = 0, n_all = 0;

				snprintf(what, sizeof what, "%s, %s script, restart %d", ft->name,
					 script_names[s], restart);
				if (drop(b, ft->one_by_one, &n) != JPEGSCAN_OK || n >= b.len)
					fail_msg("%s: walker kept %zu of %zu bytes", what, n, b.len);
				assert_int_equal(drop(b, (1u << ft->comps) - 1, &n_all), JPEGSCAN_OK);
				assert_true(n_all <= n);
				assert_same_pixels(b, 1, what);
				assert_same_pixels(b, 2, what);
				assert_same_pixels(b, 8, what);
				free(b.data);
			}
}

/* Sizes around the block and MCU edges, down to one 1/8-scale pixel. */
static void test_odd_sizes(void **state)
{
	static const int sizes[][2] = { { 8, 8 }, { 15, 9 }, { 16, 16 }, { 17, 33 },
					{ 61, 45 }, { 640, 8 } };

	(void)state;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		for (size_t f = 0; f < sizeof FORMATS / sizeof *FORMATS; f++) {
			jbuf b = encode(&FORMATS[f], sizes[i][0], sizes[i][1],
					f % 2 ? SCRIPT_SIMPLE : SCRIPT_DC_LAST, (int)(i % 2));
			char what[64];

			snprintf(what, sizeof what, "%s %dx%d", FORMATS[f].name, sizes[i][0],
				 sizes[i][1]);
			assert_same_pixels(b, 1, what);
			free(b.data);
		}
}

/* Files the walker leaves alone decode as they always did: a progression that
 * never sends the last AC bit (a full decode smooths it: the walker refuses),
 * and a baseline file. */
static void test_refused_files_decode_as_before(void **state)
{
	jbuf b = encode(&FORMATS[1], 120, 88, SCRIPT_INCOMPLETE, 0);
	size_t n;

	(void)state;
	assert_int_equal(drop(b, 0x7, &n), JPEGSCAN_INCOMPLETE);
	assert_same_pixels(b, 1, "incomplete progression");
	free(b.data);
	b = encode(&FORMATS[1], 120, 88, SCRIPT_BASELINE, 0);
	assert_int_equal(drop(b, 0x7, &n), JPEGSCAN_NOT_PROGRESSIVE);
	assert_same_pixels(b, 1, "baseline");
	free(b.data);
}

/* What is kept is kept byte for byte, in place or not; mask 0 keeps all; bytes
 * after the EOI go. */
static void test_copy_rules(void **state)
{
	jbuf b = encode(&FORMATS[4], 96, 64, SCRIPT_SIMPLE, 2);
	jbuf tail = splice(b, b.len, 0, "trailing", 8);
	unsigned char *out = malloc(tail.len), *inplace = malloc(tail.len);
	scan in[64], kept[64];
	int nin, nkept, k = 0;
	size_t n, n2;
	jbuf o;

	(void)state;
	assert_non_null(out);
	assert_non_null(inplace);
	assert_int_equal(jpegscan_drop_ac(tail.data, tail.len, 0, out, &n), JPEGSCAN_OK);
	assert_int_equal(n, b.len);
	assert_memory_equal(out, b.data, b.len);

	assert_int_equal(jpegscan_drop_ac(b.data, b.len, 0x1, out, &n), JPEGSCAN_OK);
	memcpy(inplace, b.data, b.len);
	assert_int_equal(jpegscan_drop_ac(inplace, b.len, 0x1, inplace, &n2), JPEGSCAN_OK);
	assert_int_equal(n, n2);
	assert_memory_equal(out, inplace, n);

	/* The kept scans are the input's, in order, less the AC scans of
	 * component 1 (the luma), and everything before the first scan is the same. */
	o.data = out;
	o.len = n;
	nin = list_scans(b, in, 64);
	nkept = list_scans(o, kept, 64);
	assert_memory_equal(out, b.data, in[0].start);
	for (int i = 0; i < nin; i++) {
		if (in[i].ss > 0 && in[i].comp == 1)
			continue;
		assert_true(k < nkept);
		assert_int_equal(kept[k].end - kept[k].start, in[i].end - in[i].start);
		assert_memory_equal(out + kept[k].start, b.data + in[i].start,
				    in[i].end - in[i].start);
		k++;
	}
	assert_int_equal(k, nkept);
	assert_true(nkept < nin);
	free(out);
	free(inplace);
	free(tail.data);
	free(b.data);
}

/* Every prefix of a progressive file is refused (the caller then decodes the
 * original, which fails with "premature end"). */
static void test_truncations_refused(void **state)
{
	jbuf b = encode(&FORMATS[2], 64, 40, SCRIPT_SIMPLE, 1);

	(void)state;
	for (size_t len = 0; len < b.len; len++) {
		size_t n;
		jbuf p = { b.data, len };
		jpegscan_status st = drop(p, 0x7, &n);

		if (st == JPEGSCAN_OK)
			fail_msg("a prefix of %zu of %zu bytes passed", len, b.len);
	}
	free(b.data);
}

/* Damage libjpeg fails on or warns about is refused, with its kind. */
static void test_damage_refused(void **state)
{
	jbuf b = encode(&FORMATS[1], 64, 48, SCRIPT_SIMPLE, 0);
	scan dc = find_scan(b, 0, 0, -1), dc_refine = find_scan(b, 0, 1, -1);
	scan ac = find_scan(b, 1, 0, 1), ac_refine = find_scan(b, 1, 1, 1);
	jbuf d;
	size_t n, sof = 2;
	unsigned char bad;

	(void)state;
	/* A byte between two segments. */
	d = splice(b, ac.start, 0, "\x00", 1);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_MARKER);
	free(d.data);
	/* An unknown component id in a scan header. */
	d = splice(b, 0, 0, NULL, 0);
	d.data[ac.start + 5] = 99;
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_SCAN);
	free(d.data);
	/* An AC band that ends before it starts. */
	d = splice(b, 0, 0, NULL, 0);
	d.data[ac.start + 8] = 0;
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_SCAN);
	free(d.data);
	/* A refinement whose Al is not Ah - 1. */
	d = splice(b, 0, 0, NULL, 0);
	bad = (unsigned char)(ac_refine.ah << 4 | (ac_refine.ah + 1));
	d.data[ac_refine.data - 1] = bad;
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_SCAN);
	free(d.data);
	/* No DC scan before the AC scans: libjpeg warns "inconsistent progression". */
	d = splice(b, dc.start, dc.end - dc.start, NULL, 0);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_PROGRESSION);
	free(d.data);
	/* A refinement pass without its first pass. */
	d = splice(b, ac.start, ac.end - ac.start, NULL, 0);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_PROGRESSION);
	free(d.data);
	/* The DC refinement missing: DC short of its last bit. */
	d = splice(b, dc_refine.start, dc_refine.end - dc_refine.start, NULL, 0);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_INCOMPLETE);
	free(d.data);
	/* A second frame header, a reserved marker, a second SOI. */
	while (b.data[sof + 1] != 0xC2)
		sof += 2 + ((size_t)b.data[sof + 2] << 8 | b.data[sof + 3]);
	d = splice(b, ac.start, 0, b.data + sof,
		   2 + ((size_t)b.data[sof + 2] << 8 | b.data[sof + 3]));
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_MARKER);
	free(d.data);
	d = splice(b, ac.start, 0, "\xFF\xF0\x00\x04zz", 6);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_MARKER);
	free(d.data);
	d = splice(b, ac.start, 0, "\xFF\xD8", 2);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_MARKER);
	free(d.data);
	/* Not a JPEG at all. */
	d = splice(b, 0, 2, "GIF", 3);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_MARKER);
	free(d.data);
	/* A scan header too short to hold its component list, as the file's last
	 * bytes: refused without a read past it (ASan: drop() copies the file to a
	 * buffer of its size; the AC table was read before the length was checked). */
	d = splice(b, b.len - 2, 2, "\xFF\xDA\x00\x02", 4);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_SCAN);
	free(d.data);
	/* Fill bytes before a marker are fine (libjpeg skips them). */
	d = splice(b, ac.start, 0, "\xFF\xFF\xFF", 3);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_OK);
	free(d.data);
	free(b.data);
}

/* Where the last DHT segment before byte `before` that defines an AC table
 * starts (its 0xFF), in a file the tests made (one table per segment, no fill
 * bytes): segments are walked, scans skipped with list_scans()'s ends. */
static size_t last_ac_table(jbuf b, size_t before)
{
	scan s[64];
	int n = list_scans(b, s, 64), k = 0;
	size_t at = 2, found = 0;

	while (at < before) {
		if (k < n && at == s[k].start) {
			at = s[k++].end;
			continue;
		}
		if (b.data[at + 1] == 0xC4 && (b.data[at + 4] >> 4) == 1)
			found = at;
		at += 2 + ((size_t)b.data[at + 2] << 8 | b.data[at + 3]);
	}
	assert_true(found > 0);
	return found;
}

/* The table an AC scan names must be one libjpeg can build, though the scan
 * is dropped unread: a table never defined (slot 3, or slot 0 whose segment is
 * gone), or one whose code lengths do not fit (two 1-bit codes and more), fails
 * through fastjpeg at 1/8 with libjpeg's own cause, as a full decode does; it
 * was thumbnailed. */
static void test_ac_tables_checked(void **state)
{
	jbuf b = encode(&FORMATS[1], 64, 48, SCRIPT_SIMPLE, 0), d;
	scan ac = find_scan(b, 1, 0, -1);
	size_t dht = last_ac_table(b, ac.start), seg, n;
	unsigned char *counts;
	int delta, l = 1;

	(void)state;
	assert_int_equal(drop(b, 0x7, &n), JPEGSCAN_OK);
	/* The scan names slot 3, never defined. */
	d = splice(b, 0, 0, NULL, 0);
	d.data[ac.start + 6] = (unsigned char)((d.data[ac.start + 6] & 0xF0) | 3);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_SCAN);
	assert_fails(d, 1, "Huffman table 0x03 was not defined", "AC scan naming slot 3");
	free(d.data);
	/* Its table over-subscribed: two codes of 1 bit, taken from a longer
	 * length so that the symbol count (and the segment) stays the same. */
	d = splice(b, 0, 0, NULL, 0);
	counts = d.data + dht + 5;	/* after FF C4, the length and the index */
	delta = 2 - counts[0];
	while (l < 16 && counts[l] < delta)
		l++;
	assert_true(delta > 0 && l < 16);
	counts[l] = (unsigned char)(counts[l] - delta);
	counts[0] = 2;
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_SCAN);
	assert_fails(d, 1, "Bogus Huffman table definition", "over-subscribed AC table");
	free(d.data);
	/* The first AC scan's table segment gone (it comes after the first DC
	 * scan): its slot, 0 or 1, was never defined. libjpeg-turbo gives the
	 * standard tables to sequential files only; a progressive one fails. */
	assert_true(dht > find_scan(b, 0, 0, -1).start && (b.data[ac.start + 6] & 15) < 2);
	seg = 2 + ((size_t)b.data[dht + 2] << 8 | b.data[dht + 3]);
	d = splice(b, dht, seg, NULL, 0);
	assert_int_equal(drop(d, 0x7, &n), JPEGSCAN_BAD_SCAN);
	assert_fails(d, 1, "was not defined", "AC table segment gone");
	free(d.data);
	free(b.data);
}

/* The frame header's size set to w x h (at the SOF marker `code`). */
static jbuf with_size(jbuf b, int code, unsigned w, unsigned h)
{
	jbuf d = splice(b, 0, 0, NULL, 0);
	size_t at = 2;
	while (d.data[at + 1] != code)
		at += 2 + ((size_t)d.data[at + 2] << 8 | d.data[at + 3]);
	d.data[at + 5] = (unsigned char)(h >> 8);
	d.data[at + 6] = (unsigned char)h;
	d.data[at + 7] = (unsigned char)(w >> 8);
	d.data[at + 8] = (unsigned char)w;
	return d;
}

/* A progressive file too short for the size its header claims (a bit an 8x8
 * block at least) is told apart before libjpeg allocates the whole image's
 * coefficients: a 567-byte file claiming 16383x16383 took 1.6 GB a worker.
 * Whole files of every layout are not; nor a baseline file, decoded row by row;
 * and the bound is the blocks of every component (4:2:0 counts its chroma at
 * half size). */
static void test_too_short_for_its_size(void **state)
{
	(void)state;
	int w = 0, h = 0;
	for (size_t f = 0; f < sizeof FORMATS / sizeof *FORMATS; f++) {
		jbuf b = encode(&FORMATS[f], 64, 48, SCRIPT_SIMPLE, 0);
		assert_int_equal(jpegscan_too_short(b.data, b.len, &w, &h), 0);
		jbuf d = with_size(b, 0xC2, 16383, 16383);
		assert_int_equal(jpegscan_too_short(d.data, d.len, &w, &h), 1);
		assert_int_equal(w, 16383);
		assert_int_equal(h, 16383);
		free(d.data);
		free(b.data);
	}
	/* The bound, exactly: 4:2:0 at 1024x1024 is 128 x 128 + 2 x 64 x 64 blocks,
	 * so 3072 bytes may hold it, 3071 do not. */
	jbuf b = encode(&FORMATS[4], 64, 48, SCRIPT_SIMPLE, 0);
	jbuf d = with_size(b, 0xC2, 1024, 1024);
	assert_true(d.len < 3071);
	for (size_t n = 3071; n <= 3072; n++) {
		jbuf padded = splice(d, d.len - 2, 0, (unsigned char[3072]){ 0 }, n - d.len);
		assert_int_equal(padded.len, n);
		assert_int_equal(jpegscan_too_short(padded.data, padded.len, &w, &h), n == 3071);
		free(padded.data);
	}
	free(d.data);
	free(b.data);
	b = encode(&FORMATS[1], 64, 48, SCRIPT_BASELINE, 0);
	d = with_size(b, 0xC0, 16383, 16383);
	assert_int_equal(jpegscan_too_short(d.data, d.len, &w, &h), 0);
	free(d.data);
	free(b.data);
	assert_int_equal(jpegscan_too_short((const unsigned char *)"\xFF\xD8", 2, &w, &h), 0);
}

/* A truncated progressive file fails through fastjpeg with libjpeg's cause,
 * wherever it is cut: in the first DC scan, an AC scan, the DC refinement, or
 * just before the end. */
static void test_truncated_fails(void **state)
{
	jbuf b = encode(&FORMATS[4], 160, 96, SCRIPT_SIMPLE, 0);
	scan dc = find_scan(b, 0, 0, -1), ac = find_scan(b, 1, 0, 1);
	scan dc_refine = find_scan(b, 0, 1, -1);
	size_t cuts[] = { (dc.data + dc.end) / 2, (ac.data + ac.end) / 2,
			  (dc_refine.data + dc_refine.end) / 2, b.len - 1 };

	(void)state;
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		jbuf p = { b.data, cuts[i] };

		assert_fails(p, 1, "Premature end of JPEG file", "truncated");
	}
	free(b.data);
}

/* Damage in a DC scan fails as it always did: half of the first DC scan's
 * data, or of the DC refinement's, is gone. */
static void test_corrupt_dc_fails(void **state)
{
	jbuf b = encode(&FORMATS[3], 160, 96, SCRIPT_SIMPLE, 0);
	scan dc = find_scan(b, 0, 0, -1), dc_refine = find_scan(b, 0, 1, -1);
	jbuf d;

	(void)state;
	d = splice(b, (dc.data + dc.end) / 2, (dc.end - dc.data) / 2, NULL, 0);
	assert_fails(d, 1, "Corrupt JPEG data", "first DC scan cut");
	free(d.data);
	d = splice(b, (dc_refine.data + dc_refine.end) / 2, (dc_refine.end - dc_refine.data) / 2,
		   NULL, 0);
	assert_fails(d, 1, "Corrupt JPEG data", "DC refinement cut");
	free(d.data);
	free(b.data);
}

/* The documented limit: damage confined to an AC scan the 1/8 decode skips is
 * not seen there (the pixels are the intact file's), while a full-size decode
 * still fails on it. */
static void test_damage_in_skipped_ac_not_detected(void **state)
{
	jbuf b = encode(&FORMATS[1], 160, 96, SCRIPT_SIMPLE, 0);
	scan ac = find_scan(b, 1, 0, 1);
	jbuf d = splice(b, (ac.data + ac.end) / 2, (ac.end - ac.data) / 2, NULL, 0);
	char err[256], rerr[256];
	unsigned char *fast, *ref;
	int w, h, bands, rw, rh, rb;

	(void)state;
	assert_int_equal(fast_decode(d, 1, &fast, &w, &h, &bands, err, sizeof err), FASTJPEG_OK);
	ref = ref_decode(b.data, b.len, 1, UINT64_MAX, &rw, &rh, &rb, rerr, sizeof rerr);
	assert_non_null(ref);
	assert_memory_equal(fast, ref, (size_t)w * h * bands);
	free(fast);
	free(ref);
	assert_fails(d, 8, "Corrupt JPEG data", "AC scan cut");
	free(d.data);
	free(b.data);
}

/* Whether the JPEG in b is progressive (Huffman or arithmetic), from its first
 * frame marker. */
static int is_progressive(jbuf b)
{
	size_t at = 2;

	while (at + 4 <= b.len && b.data[at] == 0xFF) {
		int m = b.data[at + 1];

		if (m == 0xC2 || m == 0xCA)
			return 1;
		if ((m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xCC) || m == 0xDA)
			return 0;
		at += 2 + ((size_t)b.data[at + 2] << 8 | b.data[at + 3]);
	}
	return 0;
}

/* Every progressive JPEG of the corpus: fastjpeg's 1/8 decode is the full one. */
static void test_corpus_progressive_identity(void **state)
{
	const char *corpus = getenv("IMGPOOL_CORPUS");
	DIR *d;
	struct dirent *e;
	int checked = 0;

	(void)state;
	if (!corpus || !(d = opendir(corpus))) {
		print_message("no corpus (IMGPOOL_CORPUS): skipped\n");
		skip();
	}
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		FILE *f;
		struct stat st;
		jbuf b;
		size_t n;

		snprintf(path, sizeof path, "%s/%s", corpus, e->d_name);
		if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    st.st_size < 4 || !(f = fopen(path, "rb")))
			continue;
		b.len = (size_t)st.st_size;
		b.data = malloc(b.len);
		assert_non_null(b.data);
		if (fread(b.data, 1, b.len, f) != b.len || b.data[0] != 0xFF || b.data[1] != 0xD8 ||
		    !is_progressive(b)) {
			fclose(f);
			free(b.data);
			continue;
		}
		fclose(f);
		print_message("%s: walker, every AC scan dropped: %s", e->d_name,
			      jpegscan_status_name(drop(b, 0xF, &n)));
		print_message(", %zu of %zu bytes kept\n", n, b.len);
		assert_same_pixels(b, 1, e->d_name);
		checked++;
		free(b.data);
	}
	closedir(d);
	if (checked == 0) {
		print_message("no progressive JPEG in %s: skipped\n", corpus);
		skip();
	}
}

static void test_status_names(void **state)
{
	(void)state;
	for (int s = JPEGSCAN_OK; s <= JPEGSCAN_INCOMPLETE; s++)
		assert_string_not_equal(jpegscan_status_name((jpegscan_status)s), "unknown");
	assert_string_equal(jpegscan_status_name(JPEGSCAN_TRUNCATED), "truncated");
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "%s/test_jpegscan.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof path, "%s/t.jpg", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated_identity),
		cmocka_unit_test(test_odd_sizes),
		cmocka_unit_test(test_refused_files_decode_as_before),
		cmocka_unit_test(test_copy_rules),
		cmocka_unit_test(test_truncations_refused),
		cmocka_unit_test(test_damage_refused),
		cmocka_unit_test(test_ac_tables_checked),
		cmocka_unit_test(test_too_short_for_its_size),
		cmocka_unit_test(test_truncated_fails),
		cmocka_unit_test(test_corrupt_dc_fails),
		cmocka_unit_test(test_damage_in_skipped_ac_not_detected),
		cmocka_unit_test(test_corpus_progressive_identity),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
