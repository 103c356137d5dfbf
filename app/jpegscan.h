/* SPDX-License-Identifier: MIT */
/*
 * jpegscan.h — the scan walker of the DC-only progressive decode: a copy of a
 * progressive JPEG without the AC scans of the components whose AC data the
 * decoder would not read.
 *
 * Why: when libjpeg decodes at 1/8 scale, a component whose IDCT is 1x1
 * (DCT_scaled_size 1: every component of a grey, 4:4:4 or 4:2:2 image, only the
 * luma of a 4:2:0 one) takes its pixels from the DC coefficient alone. A
 * progressive file carries each component's AC coefficients in scans of their
 * own (the JPEG standard allows one component per AC scan), and libjpeg entropy
 * decodes every scan before its first output row: most of a progressive photo's
 * decode time goes to coefficients that are then thrown away. Without those
 * scans the decoder leaves the AC coefficients at zero, and the 1x1 IDCT gives
 * the same pixels (fastjpeg.c turns block smoothing off, which would otherwise
 * guess the missing AC coefficients and change DC).
 *
 * What is kept, byte for byte: everything up to the first scan, every DC scan
 * (first and refinement, whichever components they hold), every AC scan of a
 * component not dropped, every marker segment between scans (DHT, DQT, DRI, DNL,
 * DAC, COM, APPn) and the EOI. What goes: the AC scans (Ss > 0) of the dropped
 * components, SOS header and entropy-coded data, and anything after the EOI.
 *
 * The walker refuses (returns a status other than JPEGSCAN_OK, output
 * unspecified) whatever libjpeg would refuse or warn about in the parts it
 * checks, so that the caller then decodes the original file and fails exactly
 * as it would have: a structure broken anywhere (truncation, garbage between
 * segments, unknown or repeated markers, a segment running past the end), a
 * malformed frame or scan header, scan parameters libjpeg rejects, or a scan
 * order libjpeg warns about ("inconsistent progression sequence"). It also
 * refuses a file whose scans leave some coefficient of some component short of
 * its last bit: there a full decode would smooth blocks, and a DC-only decode
 * could differ. What it cannot see is damage inside the entropy-coded data of
 * the AC scans it drops: such a file decodes at 1/8 where a full decode fails.
 *
 * Huffman progressive (SOF2) only; baseline, extended, arithmetic-coded and
 * lossless files are JPEGSCAN_NOT_PROGRESSIVE (there is nothing to drop).
 * Pure: no allocation, no I/O, no libjpeg.
 */
#ifndef IMGPOOL_JPEGSCAN_H
#define IMGPOOL_JPEGSCAN_H

#include <stddef.h>

typedef enum jpegscan_status {
	JPEGSCAN_OK = 0,		/* out holds the filtered file */
	JPEGSCAN_NOT_PROGRESSIVE,	/* no SOF2 frame: nothing to drop */
	JPEGSCAN_TRUNCATED,		/* the data ends before the EOI marker */
	JPEGSCAN_BAD_MARKER,		/* a non-marker byte between segments, an unknown,
					 * misplaced or repeated marker, a bad length */
	JPEGSCAN_BAD_FRAME,		/* the SOF2 segment is malformed */
	JPEGSCAN_BAD_SCAN,		/* an SOS header is malformed or has scan
					 * parameters libjpeg rejects */
	JPEGSCAN_BAD_PROGRESSION,	/* scans out of order (AC before DC, a refinement
					 * that does not follow its first pass) */
	JPEGSCAN_INCOMPLETE,		/* some coefficient is never coded to its last bit */
} jpegscan_status;

/* The largest component count of a frame (libjpeg's MAX_COMPONENTS). Component
 * i of the frame is bit i of a drop mask. */
#define JPEGSCAN_MAX_COMPONENTS 10

/* Copy the JPEG in[0, len) to out without the AC scans of the components whose
 * bit is set in drop (bit i: the frame's i-th component, libjpeg's
 * component_index), as described above; *out_len is the length written (at most
 * len). out may be in itself (the file is filtered in place) or a buffer of at
 * least len bytes; nothing is written unless the whole file checks out. Returns
 * JPEGSCAN_OK or why the file was refused (out untouched then). */
jpegscan_status jpegscan_drop_ac(const unsigned char *in, size_t len, unsigned drop,
				 unsigned char *out, size_t *out_len);

/* Whether a Huffman progressive JPEG (SOF2) of len bytes is too short for the
 * image its frame header claims, w x h in *w, *h: each 8x8 block of each
 * component takes at least one bit in that component's first DC scan, so fewer
 * than (all components' blocks) / 8 bytes cannot hold the image. libjpeg
 * allocates a progressive image's coefficients whole before it reads a scan: a
 * 567-byte file claiming 16383x16383 took 1.6 GB in each worker (and as much
 * again in libvips), before it failed as cut short. 1 when too short; 0 for
 * any other file (baseline files are decoded row by row, with no such
 * allocation; arithmetic-coded ones may take less than a bit a block; a
 * header that does not parse is the decoder's to judge). */
int jpegscan_too_short(const unsigned char *in, size_t len, int *w, int *h);

/* A short constant name of a status, for messages and tests ("truncated"). */
const char *jpegscan_status_name(jpegscan_status status);

#endif
