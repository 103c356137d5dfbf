/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sizes.c — the size parsers of the command line (app/options.h):
 * options_parse_sizes ("1600,800,320", "320x240", "x200", "300x") and
 * options_parse_bytes ("512M", "1.5GiB", "5%").
 *
 * Input: the spec, as a C string (an inner NUL ends it, as in argv).
 * Invariants: a spec that parses gives 1..THUMB_MAX_SIZES boxes, each side 0..100000,
 * never both 0, no box twice; one that fails leaves a terminated message that
 * fits its buffer. A byte size is <= 9e18 and a percentage is 0..100.
 */
#include <math.h>

#include "fuzz_util.h"
#include "options.h"

/* The --size list. */
static void check_sizes(const char *spec)
{
	thumb_settings s;
	char msg[200];
	memset(&s, 0, sizeof s);
	memset(msg, 'X', sizeof msg);
	if (options_parse_sizes(spec, &s, msg, sizeof msg) < 0) {
		FUZZ_CHECK(memchr(msg, '\0', sizeof msg) != NULL, "message not terminated");
		FUZZ_CHECK(msg[0] != '\0', "a failure without a message");
		return;
	}
	FUZZ_CHECK(s.nsizes >= 1 && s.nsizes <= THUMB_MAX_SIZES, "nsizes %d", s.nsizes);
	for (int i = 0; i < s.nsizes; i++) {
		thumb_size b = s.sizes[i];
		FUZZ_CHECK(b.w >= 0 && b.w <= 100000 && b.h >= 0 && b.h <= 100000 &&
				   (b.w || b.h),
			   "box %d is %dx%d", i, b.w, b.h);
		for (int j = 0; j < i; j++)
			FUZZ_CHECK(s.sizes[j].w != b.w || s.sizes[j].h != b.h,
				   "box %dx%d given twice", b.w, b.h);
	}
}

/* --min-free and --max-worker-rss. */
static void check_bytes(const char *spec)
{
	uint64_t bytes = 0;
	double pct = -1;
	if (options_parse_bytes(spec, &bytes, &pct) == 0) {
		FUZZ_CHECK(pct >= 0 && pct <= 100 && !isnan(pct), "percentage %g", pct);
		FUZZ_CHECK(bytes <= 9000000000000000000ULL, "bytes %llu",
			   (unsigned long long)bytes);
		FUZZ_CHECK(pct == 0 || bytes == 0, "both %g %% and %llu bytes", pct,
			   (unsigned long long)bytes);
	}
	bytes = 0;
	if (options_parse_bytes(spec, &bytes, NULL) == 0)
		FUZZ_CHECK(bytes <= 9000000000000000000ULL, "bytes %llu",
			   (unsigned long long)bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = fuzz_strdup(data, size);
	if (!spec)
		return 0;
	check_sizes(spec);
	check_bytes(spec);
	free(spec);
	return 0;
}
