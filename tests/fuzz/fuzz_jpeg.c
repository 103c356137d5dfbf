/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jpeg.c — the worker's JPEG fast path parsers (app/fastjpeg.h) and the
 * ICC profile check (app/colour.h): every byte of a hostile file reaches them
 * before libvips sees it.
 *
 * Input: a JPEG file. It is written to a memfd and opened by path, as the
 * worker opens its input; the header is parsed, and when the declared image is
 * small enough to decode in a fuzzing run (at most 16 M samples at the chosen
 * scale) the pixels are decoded at eighths = 1 + last byte % 8 and, for RGB and
 * grey, encoded again. The embedded profile, and the input itself taken as a
 * profile, go through colour_icc_is_srgb().
 * Invariants: a header that parses gives a positive size, 1, 3 or 4 bands, an
 * orientation 1..8 and a profile pointer with a length (or none); a decode that
 * succeeds gives floor(size * eighths / 8) pixels; an encode gives a JPEG
 * (FF D8 ... FF D9). Failures carry a terminated message.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "colour.h"
#include "fastjpeg.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[256];
	fastjpeg *j = NULL;
	fastjpeg_info info;
	int fd, rc;
	unsigned char *copy = (unsigned char *)fuzz_dup(data, size);

	(void)colour_icc_is_srgb(copy, size);
	free(copy);
	fd = memfd_create("fuzz-jpeg", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	memset(err, 'X', sizeof err);
	rc = fastjpeg_open(path, &j, &info, err, sizeof err);
	close(fd);
	if (rc != FASTJPEG_OK) {
		FUZZ_CHECK(j == NULL, "a failed open left a handle");
		FUZZ_CHECK(rc == FASTJPEG_UNSUPPORTED || memchr(err, '\0', sizeof err),
			   "message not terminated");
		return 0;
	}
	FUZZ_CHECK(info.width > 0 && info.height > 0, "size %dx%d", info.width, info.height);
	FUZZ_CHECK(info.bands == 1 || info.bands == 3 || info.bands == 4, "bands %d", info.bands);
	FUZZ_CHECK(info.orientation >= 1 && info.orientation <= 8, "orientation %d",
		   info.orientation);
	FUZZ_CHECK((info.icc == NULL) == (info.icc_len == 0), "profile %p, %zu bytes",
		   (const void *)info.icc, info.icc_len);
	if (info.icc)
		(void)colour_icc_is_srgb(info.icc, info.icc_len);

	int eighths = size ? 1 + data[size - 1] % 8 : 8;
	uint64_t fw = (uint64_t)info.width * (unsigned)eighths / 8;
	uint64_t fh = (uint64_t)info.height * (unsigned)eighths / 8;
	unsigned char *px;
	int w, h;

	if (fw * fh * (uint64_t)info.bands <= (16u << 20) &&
	    fastjpeg_decode(j, eighths, &px, &w, &h, err, sizeof err) == FASTJPEG_OK) {
		FUZZ_CHECK((uint64_t)w == fw && (uint64_t)h == fh, "decoded %dx%d for %llux%llu",
			   w, h, (unsigned long long)fw, (unsigned long long)fh);
		if (info.bands != 4) {
			unsigned char *out = NULL;
			size_t len = 0;

			if (fastjpeg_encode(px, w, h, info.bands, 1 + data[0] % 100, &out, &len,
					    err, sizeof err) == FASTJPEG_OK) {
				FUZZ_CHECK(len >= 4 && out[0] == 0xFF && out[1] == 0xD8 &&
						   out[len - 2] == 0xFF && out[len - 1] == 0xD9,
					   "not a JPEG (%zu bytes)", len);
				free(out);
			}
		}
	}
	fastjpeg_close(j);
	return 0;
}
