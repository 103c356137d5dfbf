/* SPDX-License-Identifier: MIT */
/*
 * optvalues.h — the grammars of option values, one function each: a value is
 * taken whole (nothing after it) or refused; no function prints. Shared by the
 * command's options (options.c) and imgpool bench's (bench_args.c).
 */
#ifndef IMGPOOL_OPTVALUES_H
#define IMGPOOL_OPTVALUES_H

#include <stddef.h>
#include <stdint.h>

#include "settings.h"

/* A whole decimal integer in [lo, hi]. 0, or -1. */
int optval_int(const char *s, long long lo, long long hi, long long *out);

/* A non-negative, finite number of seconds, at most a day. 0, or -1. */
int optval_seconds(const char *s, double *out);

/* "black", "white", "#rrggbb" or "R,G,B" (0-255 each) into rgb. 0, or -1. */
int optval_colour(const char *s, double rgb[3]);

/* The index of s in the NULL-ended words (any case), or -1. */
int optval_pick(const char *s, const char *const *words);

/* "512M", "1G", "1.5GiB", "100000" (bytes) -> bytes; with pct, "2%" too.
 * Returns 0, or -1 when it is not a size. */
int options_parse_bytes(const char *s, uint64_t *bytes, double *pct);

/* Parse a --size list ("1600,800,320", "256", "320x240", "x200", "300x") into s.
 * Returns 0, or -1 with a message (without the "imgpool: --size: " prefix). */
int options_parse_sizes(const char *spec, thumb_settings *s, char *msg, size_t msglen);

/* Parse a --keep-metadata list ("exif,icc", "all", "exif,gps"; any case) into KEEP_*
 * bits. Returns 0, -1 for an unknown or empty word, -2 for gps without exif. */
int options_parse_keep(const char *list, int *keep);

#endif
