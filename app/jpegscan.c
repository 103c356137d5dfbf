/* SPDX-License-Identifier: MIT */
/*
 * jpegscan.c — drop the AC scans a DC-only decode does not read from a
 * progressive JPEG. The contract is in jpegscan.h; this file is the how.
 *
 * One walk over the file, segment by segment, mirrors what libjpeg-turbo's
 * marker reader (jdmarker.c) and progressive Huffman decoder (jdphuff.c) check
 * before they decode a scan: the same marker set, the same SOS header rules, the
 * same scan parameter limits and the same per-coefficient progression
 * bookkeeping (libjpeg's coef_bits), so a file refused here is one libjpeg would
 * also fail on or warn about (fastjpeg.c treats warnings as errors). The walk runs
 * twice: once to check the whole file, then, only when it passed, to copy the
 * kept bytes, so an in-place filter never leaves a half-copied buffer behind.
 */
#include <stdint.h>
#include <string.h>

#include "jpegscan.h"

/* libjpeg's limits: components a scan may list (and that a scan's component
 * selector is matched against), coefficients in a block, and the largest
 * successive approximation shift it accepts. */
#define MAX_COMPS_IN_SCAN 4
#define BLOCK_COEFS 64
#define MAX_AL 13
/* Huffman table slots per class (libjpeg's NUM_HUFF_TBLS). */
#define NUM_TABLES 4

/* Marker codes (the byte after 0xFF). */
enum {
	M_SOF0 = 0xC0, M_SOF2 = 0xC2, M_DHT = 0xC4, M_JPG = 0xC8, M_DAC = 0xCC,
	M_SOF15 = 0xCF, M_RST0 = 0xD0, M_RST7 = 0xD7, M_SOI = 0xD8, M_EOI = 0xD9,
	M_SOS = 0xDA, M_DQT = 0xDB, M_DNL = 0xDC, M_DRI = 0xDD, M_APP0 = 0xE0,
	M_APP15 = 0xEF, M_COM = 0xFE, M_TEM = 0x01,
};

typedef struct walk {
	const unsigned char *in;
	size_t len;
	size_t at;			/* next byte to read */
	unsigned drop;			/* components whose AC scans go */
	unsigned char *out;		/* NULL: check only */
	size_t out_len;			/* bytes written to out */
	int nf;				/* frame components; 0 before the SOF2 */
	int ids[JPEGSCAN_MAX_COMPONENTS];
	int scans;
	/* Per component and coefficient, the successive approximation bit the
	 * scans so far brought it to (Al), -1 before its first scan: libjpeg's
	 * coef_bits. */
	signed char bits[JPEGSCAN_MAX_COMPONENTS][BLOCK_COEFS];
	/* Per AC Huffman table slot: 0 undefined, 1 defined and one libjpeg can
	 * build, -1 defined but not (over-subscribed code lengths). A slot never
	 * defined stays 0: libjpeg-turbo 2.1 gives standard tables to sequential
	 * files only (jdhuff.c's std_huff_tables()); a progressive scan fails. */
	signed char ac_table[NUM_TABLES];
} walk;

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Keep in[from, to): appended to out when copying. memmove: out may be in,
 * always at or before the bytes read. */
static void keep(walk *w, size_t from, size_t to)
{
	if (w->out && to > from) {
		if (w->out + w->out_len != w->in + from)
			memmove(w->out + w->out_len, w->in + from, to - from);
		w->out_len += to - from;
	}
}

/* The marker at w->at: one 0xFF, any number of 0xFF fill bytes, the code.
 * Anything else there is a byte libjpeg would skip with a warning ("extraneous
 * bytes before marker"). */
static jpegscan_status read_marker(walk *w, int *code)
{
	if (w->at >= w->len)
		return JPEGSCAN_TRUNCATED;
	if (w->in[w->at] != 0xFF)
		return JPEGSCAN_BAD_MARKER;
	while (w->at < w->len && w->in[w->at] == 0xFF)
		w->at++;
	if (w->at >= w->len)
		return JPEGSCAN_TRUNCATED;
	*code = w->in[w->at++];
	return JPEGSCAN_OK;
}

/* The length field of the segment whose marker was just read: its payload is
 * in[w->at + 2, *end). A length below 2 is refused (libjpeg would read the
 * following bytes as markers). */
static jpegscan_status segment(walk *w, size_t *end)
{
	unsigned n;

	if (w->len - w->at < 2)
		return JPEGSCAN_TRUNCATED;
	n = get16(w->in + w->at);
	if (n < 2)
		return JPEGSCAN_BAD_MARKER;
	if (n > w->len - w->at)
		return JPEGSCAN_TRUNCATED;
	*end = w->at + n;
	return JPEGSCAN_OK;
}

/* SOF2: the frame's component ids, in order (component_index). Checks what
 * libjpeg's get_sof() and initial_setup() check of the layout: length, 1 to 10
 * components, a non-empty image, 8-bit samples, sampling factors 1..4. */
static jpegscan_status read_frame(walk *w, size_t end)
{
	const unsigned char *p = w->in + w->at + 2;
	size_t n = end - w->at - 2;
	int nf;

	if (n < 6)
		return JPEGSCAN_BAD_FRAME;
	nf = p[5];
	if (p[0] != 8 || get16(p + 1) == 0 || get16(p + 3) == 0 || nf < 1 ||
	    nf > JPEGSCAN_MAX_COMPONENTS || n != 6 + 3 * (size_t)nf)
		return JPEGSCAN_BAD_FRAME;
	for (int i = 0; i < nf; i++) {
		int h = p[6 + 3 * i + 1] >> 4, v = p[6 + 3 * i + 1] & 15;

		if (h < 1 || h > 4 || v < 1 || v > 4)
			return JPEGSCAN_BAD_FRAME;
		w->ids[i] = p[6 + 3 * i];
	}
	w->nf = nf;
	memset(w->bits, -1, sizeof w->bits);
	return JPEGSCAN_OK;
}

/* An SOS header (payload p[0, n)): its components as frame indexes in comps[],
 * how many in *ns, and the scan parameters checked as libjpeg's get_sos() and
 * start_pass_phuff_decoder() check them, progression bookkeeping included. */
static jpegscan_status read_scan(walk *w, const unsigned char *p, size_t n, int *comps,
				 int *ns, int *ss)
{
	int se, ah, al, ta;

	if (n < 1 || p[0] < 1 || p[0] > MAX_COMPS_IN_SCAN || n != 4 + 2 * (size_t)p[0])
		return JPEGSCAN_BAD_SCAN;
	ta = p[2] & 15; /* the first component's AC table (an AC scan has one) */
	*ns = p[0];
	for (int i = 0; i < *ns; i++) {
		int id = p[1 + 2 * i], found = -1;

		/* libjpeg matches selectors against the first 4 components only,
		 * and never twice in one scan. */
		for (int c = 0; c < w->nf && c < MAX_COMPS_IN_SCAN && found < 0; c++)
			if (w->ids[c] == id)
				found = c;
		for (int k = 0; k < i; k++)
			if (comps[k] == found)
				found = -1;
		if (found < 0)
			return JPEGSCAN_BAD_SCAN;
		comps[i] = found;
	}
	p += 1 + 2 * *ns;
	*ss = p[0];
	se = p[1];
	ah = p[2] >> 4;
	al = p[2] & 15;
	if (*ss == 0 ? se != 0 : *ss > se || se >= BLOCK_COEFS || *ns != 1)
		return JPEGSCAN_BAD_SCAN;
	if ((ah != 0 && al != ah - 1) || al > MAX_AL)
		return JPEGSCAN_BAD_SCAN;
	/* An AC scan's table must be one libjpeg can build when the scan starts
	 * (start_pass_phuff_decoder(): "Huffman table 0x03 was not defined",
	 * "Bogus Huffman table definition"): checked here, since a dropped scan
	 * is never started. */
	if (*ss > 0 && (ta >= NUM_TABLES || w->ac_table[ta] != 1))
		return JPEGSCAN_BAD_SCAN;
	for (int i = 0; i < *ns; i++) {
		signed char *bits = w->bits[comps[i]];

		if (*ss > 0 && bits[0] < 0)
			return JPEGSCAN_BAD_PROGRESSION;	/* AC before DC */
		for (int k = *ss; k <= se; k++) {
			if (ah != (bits[k] < 0 ? 0 : bits[k]))
				return JPEGSCAN_BAD_PROGRESSION;
			bits[k] = (signed char)al;
		}
	}
	return JPEGSCAN_OK;
}

/* The end of the entropy-coded data that starts at w->at: the first 0xFF (of a
 * run of them) followed by a marker code that is neither a stuffed zero nor a
 * restart marker, the way libjpeg's bit reader sees it (0xFF fill bytes before
 * a zero or a marker code are skipped). */
static jpegscan_status scan_data_end(walk *w, size_t *end)
{
	size_t p = w->at;

	for (;;) {
		const unsigned char *ff = memchr(w->in + p, 0xFF, w->len - p);
		size_t q, r;

		if (!ff)
			return JPEGSCAN_TRUNCATED;
		q = (size_t)(ff - w->in);
		r = q + 1;
		while (r < w->len && w->in[r] == 0xFF)
			r++;
		if (r >= w->len)
			return JPEGSCAN_TRUNCATED;
		if (w->in[r] == 0 || (w->in[r] >= M_RST0 && w->in[r] <= M_RST7)) {
			p = r + 1;
			continue;
		}
		*end = q;
		return JPEGSCAN_OK;
	}
}

/* A DHT segment (payload p[0, n)): which AC tables it defines, and whether
 * libjpeg can build each (jpeg_make_d_derived_tbl(): the codes of each length
 * must fit in that many bits). A malformed segment is refused: libjpeg fails
 * on it (get_dht()). */
static jpegscan_status read_tables(walk *w, const unsigned char *p, size_t n)
{
	while (n > 0) {
		unsigned index = p[0], count = 0;
		long code = 0;

		if (n < 17 || (index & 0x0F) >= NUM_TABLES || (index >> 4) > 1)
			return JPEGSCAN_BAD_MARKER;
		for (int l = 1; l <= 16; l++)
			count += p[l];
		if (count > 256 || count > n - 17)
			return JPEGSCAN_BAD_MARKER;
		if (index >> 4) {
			int ok = 1;

			/* code: one past the last code of length l, as libjpeg
			 * counts; all ones is no code. */
			for (int l = 1; l <= 16; l++) {
				code = 2 * code + p[l];
				if (code >= 1L << l)
					ok = 0;
			}
			w->ac_table[index & 0x0F] = ok ? 1 : -1;
		}
		p += 17 + count;
		n -= 17 + count;
	}
	return JPEGSCAN_OK;
}

/* One scan, its SOS marker read from `start`: header checked, data found, kept
 * or dropped. */
static jpegscan_status do_scan(walk *w, size_t start)
{
	int comps[MAX_COMPS_IN_SCAN], ns = 0, ss = 0;
	size_t header_end, data_end;
	jpegscan_status st;

	if (w->nf == 0)
		return JPEGSCAN_BAD_MARKER;	/* SOS before the frame */
	if ((st = segment(w, &header_end)) != JPEGSCAN_OK ||
	    (st = read_scan(w, w->in + w->at + 2, header_end - w->at - 2, comps, &ns,
			    &ss)) != JPEGSCAN_OK)
		return st;
	w->at = header_end;
	if ((st = scan_data_end(w, &data_end)) != JPEGSCAN_OK)
		return st;
	w->at = data_end;
	w->scans++;
	/* AC scans hold one component (read_scan() checked). */
	if (!(ss > 0 && (w->drop >> comps[0] & 1)))
		keep(w, start, data_end);
	return JPEGSCAN_OK;
}

/* After the EOI: every coefficient of every component coded to its last bit
 * (Al 0), so that a full decode has nothing left to smooth. */
static jpegscan_status check_complete(const walk *w)
{
	if (w->scans == 0)
		return JPEGSCAN_BAD_MARKER;	/* libjpeg: no image */
	for (int c = 0; c < w->nf; c++)
		for (int k = 0; k < BLOCK_COEFS; k++)
			if (w->bits[c][k] != 0)
				return JPEGSCAN_INCOMPLETE;
	return JPEGSCAN_OK;
}

/* The whole walk, from the SOI to the EOI: copies kept bytes when w->out is
 * set. */
static jpegscan_status run(walk *w)
{
	if (w->len < 2 || w->in[0] != 0xFF || w->in[1] != M_SOI)
		return JPEGSCAN_BAD_MARKER;
	w->at = 2;
	keep(w, 0, 2);
	for (;;) {
		size_t start = w->at, end;
		int m = 0;
		jpegscan_status st = read_marker(w, &m);

		if (st != JPEGSCAN_OK)
			return st;
		if (m == M_EOI) {
			keep(w, start, w->at);
			return check_complete(w);
		}
		if (m == M_SOS) {
			if ((st = do_scan(w, start)) != JPEGSCAN_OK)
				return st;
			continue;
		}
		if ((m >= M_RST0 && m <= M_RST7) || m == M_TEM) {
			keep(w, start, w->at);	/* no parameters; libjpeg ignores them */
			continue;
		}
		if (m >= M_SOF0 && m <= M_SOF15 && m != M_DHT && m != M_DAC) {
			/* A frame: the first must be Huffman progressive; libjpeg
			 * refuses a second. */
			if (m != M_SOF2 || w->nf)
				return w->nf ? JPEGSCAN_BAD_MARKER : JPEGSCAN_NOT_PROGRESSIVE;
			if ((st = segment(w, &end)) != JPEGSCAN_OK ||
			    (st = read_frame(w, end)) != JPEGSCAN_OK)
				return st;
		} else if (m == M_DHT || m == M_DAC || m == M_DQT || m == M_DRI ||
			   m == M_DNL || (m >= M_APP0 && m <= M_APP15) || m == M_COM) {
			if ((st = segment(w, &end)) != JPEGSCAN_OK ||
			    (m == M_DHT && (st = read_tables(w, w->in + w->at + 2,
							      end - w->at - 2)) != JPEGSCAN_OK))
				return st;
		} else {
			/* SOI again, a stuffed zero, reserved codes: libjpeg fails
			 * or warns. */
			return JPEGSCAN_BAD_MARKER;
		}
		w->at = end;
		keep(w, start, end);
	}
}

jpegscan_status jpegscan_drop_ac(const unsigned char *in, size_t len, unsigned drop,
				 unsigned char *out, size_t *out_len)
{
	walk w;
	jpegscan_status st;

	memset(&w, 0, sizeof w);
	w.in = in;
	w.len = len;
	w.drop = drop;
	if ((st = run(&w)) != JPEGSCAN_OK)
		return st;
	/* Checked: now copy (the same walk cannot fail the second time). */
	memset(&w, 0, sizeof w);
	w.in = in;
	w.len = len;
	w.drop = drop;
	w.out = out;
	st = run(&w);
	*out_len = w.out_len;
	return st;
}

int jpegscan_too_short(const unsigned char *in, size_t len, int *w, int *h)
{
	walk k = { .in = in, .len = len, .at = 2 };
	if (len < 4 || in[0] != 0xFF || in[1] != M_SOI)
		return 0;
	for (;;) {
		int m = 0;
		size_t end;
		if (read_marker(&k, &m) != JPEGSCAN_OK || m == M_SOS || m == M_EOI ||
		    (m >= M_RST0 && m <= M_RST7) || segment(&k, &end) != JPEGSCAN_OK)
			return 0;
		if (m >= M_SOF0 && m <= M_SOF15 && m != M_DHT && m != M_DAC) {
			const unsigned char *p = in + k.at + 2;
			if (m != M_SOF2 || end - k.at - 2 < 6 || read_frame(&k, end) != JPEGSCAN_OK)
				return 0;
			*h = (int)get16(p + 1);
			*w = (int)get16(p + 3);
			const unsigned char *sampling = p + 7; /* a component every 3 bytes */
			int hmax = 1, vmax = 1;
			for (int i = 0; i < k.nf; i++) {
				hmax = sampling[3 * i] >> 4 > hmax ? sampling[3 * i] >> 4 : hmax;
				vmax = (sampling[3 * i] & 15) > vmax ? sampling[3 * i] & 15 : vmax;
			}
			uint64_t blocks = 0;
			for (int i = 0; i < k.nf; i++) {
				/* libjpeg's component size: ceil(w * h_i / hmax), in blocks */
				uint64_t cw = ((uint64_t)*w * (sampling[3 * i] >> 4) + hmax - 1) / hmax;
				uint64_t ch = ((uint64_t)*h * (sampling[3 * i] & 15) + vmax - 1) / vmax;
				blocks += (cw + 7) / 8 * ((ch + 7) / 8);
			}
			return blocks / 8 > len;
		}
		k.at = end;
	}
}

const char *jpegscan_status_name(jpegscan_status status)
{
	switch (status) {
	case JPEGSCAN_OK: return "ok";
	case JPEGSCAN_NOT_PROGRESSIVE: return "not progressive";
	case JPEGSCAN_TRUNCATED: return "truncated";
	case JPEGSCAN_BAD_MARKER: return "bad marker";
	case JPEGSCAN_BAD_FRAME: return "bad frame header";
	case JPEGSCAN_BAD_SCAN: return "bad scan header";
	case JPEGSCAN_BAD_PROGRESSION: return "bad progression";
	case JPEGSCAN_INCOMPLETE: return "incomplete progression";
	}
	return "unknown";
}
