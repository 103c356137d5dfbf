/* SPDX-License-Identifier: MIT */
/*
 * fuzz_png.c — the worker's PNG path parsers and resampler: app/fastpng.h (libpng
 * with the path's transforms, limits and eXIf/iCCP reading, and app/pnginflate.h,
 * the image data inflated by libdeflate and handed back to libpng as stored
 * blocks) and app/shrink.h (the streamed resize every decoded row goes through).
 *
 * Input: a PNG file; its last byte picks the shrink (1 + byte % 16 on both axes)
 * and the orientation (1 + byte / 16 % 8). Every whole chunk's CRC is set right
 * first (a mutated byte would otherwise only ever reach libpng's CRC check, as in
 * libvips' own fuzzers, which turn CRC checks off), then the file is written to a
 * memfd and opened by path, as the worker opens its input, with a pixel limit
 * that keeps a run small (1 M pixels).
 * Invariants: a header that parses gives a positive size within the limit, 1 to
 * 4 bands with alpha exactly for 2 and 4, an orientation 1..8 and a profile with
 * a length (or none); every row reads or the first failure has a terminated
 * message and the handle then refuses more rows; a shrink fed every row finishes
 * with its promised size, and one fed fewer refuses to finish.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "fastpng.h"
#include "fuzz_util.h"
#include "shrink.h"

#define MAX_PIXELS (1u << 20)

/* The CRC-32 of PNG chunks (ISO 3309, as zlib's crc32(); written out here so the
 * harness needs no more than the project links). */
static uint32_t crc32_png(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xFFFFFFFFu;
}

/* Recompute the CRC of every whole chunk of the PNG in d[0, n), in place. */
static void fix_crcs(unsigned char *d, size_t n)
{
	size_t at = 8;

	while (at + 12 <= n) {
		uint32_t len = (uint32_t)d[at] << 24 | (uint32_t)d[at + 1] << 16 |
			       (uint32_t)d[at + 2] << 8 | d[at + 3];
		uint32_t crc;

		if (len > n - at - 12)
			break;
		crc = crc32_png(d + at + 4, (size_t)len + 4);
		d[at + 8 + len] = (unsigned char)(crc >> 24);
		d[at + 9 + len] = (unsigned char)(crc >> 16);
		d[at + 10 + len] = (unsigned char)(crc >> 8);
		d[at + 11 + len] = (unsigned char)crc;
		at += 12 + (size_t)len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy = (unsigned char *)fuzz_dup(data, size);
	char path[64], err[256];
	fastpng *p = NULL;
	fastpng_info info;
	shrink *s;
	int fd, rc, ok = 1, o, uw, uh;
	unsigned pick = size ? data[size - 1] : 0;
	double shrink_by = 1 + pick % 16;

	fix_crcs(copy, size);
	fd = memfd_create("fuzz-png", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, copy, size) != (ssize_t)size)) {
		if (fd >= 0)
			close(fd);
		free(copy);
		return 0;
	}
	free(copy);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	memset(err, 'X', sizeof err);
	rc = fastpng_open(path, MAX_PIXELS, &p, &info, err, sizeof err);
	close(fd);
	if (rc != FASTPNG_OK) {
		FUZZ_CHECK(p == NULL, "a failed open left a handle");
		FUZZ_CHECK(rc == FASTPNG_UNSUPPORTED || memchr(err, '\0', sizeof err),
			   "message not terminated");
		return 0;
	}
	FUZZ_CHECK(info.width > 0 && info.height > 0 &&
			   (uint64_t)info.width * info.height <= MAX_PIXELS,
		   "size %dx%d", info.width, info.height);
	FUZZ_CHECK(info.bands >= 1 && info.bands <= 4, "bands %d", info.bands);
	FUZZ_CHECK(info.alpha == (info.bands == 2 || info.bands == 4), "alpha %d with %d bands",
		   info.alpha, info.bands);
	FUZZ_CHECK(info.orientation >= 1 && info.orientation <= 8, "orientation %d",
		   info.orientation);
	FUZZ_CHECK((info.icc == NULL) == (info.icc_len == 0), "profile %p, %zu bytes",
		   (const void *)info.icc, info.icc_len);
	o = 1 + (int)(pick / 16 % 8);
	s = shrink_new(info.width, info.height, info.bands, info.alpha && shrink_by > 1,
		       shrink_by, shrink_by);
	for (int y = 0; y < info.height && ok; y++) {
		const unsigned char *row;

		memset(err, 'X', sizeof err);
		if (fastpng_read_row(p, &row, err, sizeof err) != FASTPNG_OK) {
			FUZZ_CHECK(memchr(err, '\0', sizeof err), "message not terminated");
			FUZZ_CHECK(fastpng_read_row(p, &row, err, sizeof err) == FASTPNG_ERROR,
				   "a row after a failure");
			ok = 0;
			break;
		}
		if (s)
			FUZZ_CHECK(shrink_row(s, row) == 0, "row %d refused", y);
	}
	if (s) {
		shrink_size(s, o, &uw, &uh);
		FUZZ_CHECK(uw >= 1 && uh >= 1, "output %dx%d", uw, uh);
		unsigned char *out = malloc((size_t)uw * uh * info.bands);

		if (out) {
			rc = shrink_finish(s, o, out);
			FUZZ_CHECK(ok ? rc == 0 : rc == -1, "finish gave %d with %s rows", rc,
				   ok ? "all" : "missing");
			free(out);
		}
		shrink_free(s);
	}
	fastpng_close(p);
	return 0;
}
