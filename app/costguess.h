/* SPDX-License-Identifier: MIT */
/*
 * costguess.h — how much work a file will be, guessed in the parent before a
 * worker opens it: the key the look-ahead window (lookahead.h) hands files out
 * by, largest first.
 *
 * Why not bytes alone: a JPEG's decode time grows with its pixels as well as
 * its compressed bytes, and a picture that compresses well (a white sky, a
 * scan) is small on disk but not to decode: the corpus's 6720 x 4480 white
 * JPEG (0.3 MB) takes longer than its 3 MB 12 MP photos, and handed out by
 * bytes it ran alone at the end of a run.
 *
 * The guess, in bytes' units: for a JPEG, its bytes (times
 * COSTGUESS_PROGRESSIVE_BYTE_COST when progressive: its coefficients come in
 * several scans, each entropy decoded) plus its frame's pixels times
 * COSTGUESS_PIXEL_COST_PERCENT / 100; for anything else, or a JPEG whose frame
 * header is not among its first segments, its bytes. The constants are a least
 * squares fit of the time each corpus JPEG took in a worker (`imgpool --trace`)
 * to those three terms: 11.6 ms per MB, 5.2 times that when progressive, and
 * 1.5 ms per million pixels. Reads a few bytes per marker segment before the
 * frame header; never blocks on a FIFO, never writes.
 */
#ifndef IMGPOOL_COSTGUESS_H
#define IMGPOOL_COSTGUESS_H

#include <stddef.h>
#include <stdint.h>

/* The guess for the file at path, of `bytes` bytes (as the walk found it). */
uint64_t costguess(const char *path, uint64_t bytes);

/* Reads exactly n bytes at offset off into buf: 1, or 0 (short, error). */
typedef int costguess_read_fn(void *ctx, uint64_t off, unsigned char *buf, size_t n);

/* The frame size of a JPEG, read through rd (one small read per marker segment
 * before the frame header, at most COSTGUESS_MAX_SEGMENTS of them): 1 with *w,
 * *h and *progressive (SOF2, 6, 10 or 14), or 0 when it is not a JPEG or its
 * frame header is not found. */
#define COSTGUESS_MAX_SEGMENTS 32
int costguess_jpeg_frame(costguess_read_fn *rd, void *ctx, unsigned *w, unsigned *h,
			 int *progressive);

#define COSTGUESS_PROGRESSIVE_BYTE_COST 5
#define COSTGUESS_PIXEL_COST_PERCENT 13

#endif
