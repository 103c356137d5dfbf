/* SPDX-License-Identifier: MIT */
/*
 * options_conflict.c — the checks of the command line that look at several
 * options together (options.h: options_conflict()), apart from the parsing of
 * each option in options.c.
 */
#include <stdarg.h>
#include <stdio.h>

#include "options.h"

/* The message into msg; always -1. */
static int say(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -1;
}

int options_conflict(const imgpool_options *o, char *msg, size_t len)
{
	if (o->prune && o->no_journal)
		return say(msg, len, "--prune needs the journal (it deletes only what the "
				  "journal says imgpool made): drop --no-journal");
	if (o->checksum && o->no_journal)
		return say(msg, len, "--checksum compares inputs with the checksums the "
				  "journal keeps: drop --no-journal");
	if (o->shard_arg && o->shard_count)
		return say(msg, len, "--shard K/N and --shard-count N: give one (--shard-count "
				  "takes the index from the job array's variables)");
	if (o->settings.crop == CROP_ATTENTION && o->settings.fit != FIT_COVER)
		return say(msg, len, "--crop attention needs --fit cover");
	/* Kept metadata goes through libvips' own thumbnail, which decodes at its own
	 * scale: the two together quietly made what --keep-metadata alone makes. */
	if (o->settings.fast_shrink && o->settings.keep_metadata)
		return say(msg, len, "--fast-shrink and --keep-metadata: give one (kept "
				  "metadata goes through libvips, which decodes at its own "
				  "scale)");
	if (o->settings.effort_given && o->settings.effort > 6 &&
	    o->settings.format == FORMAT_WEBP)
		return say(msg, len, "--effort: '%d': WebP takes 0 to 6", o->settings.effort);
	/* Lossless is a promise about every output: with JPEG (or the input's format,
	 * which may be JPEG) it could not be kept, and quietly writing lossy files is
	 * what a user asking for lossless would least expect. PNG is lossless anyway.
	 * AVIF neither: libvips 8.14's heifsave "lossless" still goes through YCbCr,
	 * and a noise image came back with samples up to 60 levels off. */
	if (o->settings.lossless && o->settings.format != FORMAT_WEBP &&
	    o->settings.format != FORMAT_PNG)
		return say(msg, len, "--lossless needs --format webp or png (JPEG cannot "
				  "be lossless, nor AVIF with libvips 8.14)");
	return 0;
}
