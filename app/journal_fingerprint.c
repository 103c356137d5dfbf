/* SPDX-License-Identifier: MIT */
/*
 * journal_fingerprint.c — what a journal row is compared against: the hash of the
 * settings that shape an output, and of the limits that decide whether a failure
 * is worth a retry. See journal.h (journal_fingerprint, journal_limits).
 */
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "journal.h"

uint64_t journal_fingerprint(const thumb_settings *given, const char *name_template,
			     char *text, size_t textlen)
{
	/* As the outputs show them: a setting its format ignores, or one equal to
	 * the default, made every thumbnail again, the same bytes. */
	thumb_settings shown = thumb_settings_as_shown(given);
	const thumb_settings *s = &shown;
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "sizes=");
	for (int i = 0; i < s->nsizes; i++)
		n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%dx%d", i ? "," : "",
			      s->sizes[i].w, s->sizes[i].h);
	n += snprintf(buf + n, sizeof buf - (size_t)n,
		      " fit=%d crop=%d enlarge=%d format=%d quality=%d background=%g,%g,%g "
		      "keep-metadata=%d",	/* KEEP_* bits */
		      s->fit, s->crop, s->enlarge, s->format, s->quality, s->background[0],
		      s->background[1], s->background[2], s->keep_metadata);
	/* The output controls only when not at their defaults: a journal written
	 * before they existed keeps its fingerprint, so an upgrade re-makes nothing. */
	if (s->progressive)
		n += snprintf(buf + n, sizeof buf - (size_t)n, " progressive=1");
	if (s->subsample != SUBSAMPLE_AUTO)
		n += snprintf(buf + n, sizeof buf - (size_t)n, " subsample=%s",
			      s->subsample == SUBSAMPLE_ON ? "on" : "off");
	if (s->effort_given)
		n += snprintf(buf + n, sizeof buf - (size_t)n, " effort=%d", s->effort);
	if (s->lossless)
		n += snprintf(buf + n, sizeof buf - (size_t)n, " lossless=1");
	if (s->no_rotate)
		n += snprintf(buf + n, sizeof buf - (size_t)n, " no-rotate=1");
	if (s->fast_shrink)
		n += snprintf(buf + n, sizeof buf - (size_t)n, " fast-shrink=1");
	snprintf(buf + n, sizeof buf - (size_t)n, " name=%s",
		 name_template ? name_template : "(default)");
	if (text)
		snprintf(text, textlen, "%s", buf);
	return XXH3_64bits(buf, strlen(buf));
}

uint64_t journal_limits(double timeout, uint64_t max_pixels, thumb_fail_on fail_on,
			const char *context)
{
	char buf[512];
	/* fail-on only when not the default: the failures of earlier runs keep their
	 * key, and stay "failed earlier" across an upgrade */
	const char *strict = fail_on == FAILON_NONE	   ? " fail-on=none"
			     : fail_on == FAILON_TRUNCATED ? " fail-on=truncated"
			     : fail_on == FAILON_ERROR	   ? " fail-on=error"
							   : "";
	int n = snprintf(buf, sizeof buf, "timeout=%g max-pixels=%llu%s %s", timeout,
			 (unsigned long long)max_pixels, strict, context ? context : "");
	uint64_t h = XXH3_64bits(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	return h ? h : 1;
}

int journal_source_shows(const journal_source *src, uint64_t size, int64_t mtime_ns,
			 uint64_t checksum)
{
	if (!src->known)
		return 1;
	if (src->checksum && checksum)
		return src->checksum == checksum;
	return src->size == size && src->mtime_ns == mtime_ns;
}
