/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jpegscan.c — the scan walker of the DC-only progressive decode
 * (app/jpegscan.h), and the decode it feeds (app/fastjpeg.h), against plain
 * libjpeg.
 *
 * Input: a JPEG file; its last byte, taken as a drop mask, picks the components
 * whose AC scans go (bit i: component i).
 * Invariants:
 *   - the walker reads only inside its input and writes only inside its output
 *     (ASan: both are exactly the input's size); a refusal has a name and leaves
 *     the output untouched;
 *   - a filtered file is at most as long as its input, starts with SOI and ends
 *     with EOI, and is filtered the same in place; with mask 0 it is the input up
 *     to its EOI; a second walk over it finds it incomplete when scans were
 *     dropped (the AC coefficients they held are never coded), and changes
 *     nothing otherwise;
 *   - whenever plain libjpeg decodes the whole input at 1/8 without a warning
 *     (at most 256 K samples), fastjpeg's 1/8 decode, which drops the AC scans of
 *     its 1x1-IDCT components, succeeds with the same pixels, byte for byte.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "fastjpeg.h"
#include "fuzz_util.h"
#include "jpegscan.h"
#include "../jpeg_reference.h"

#define MAX_SAMPLES (1u << 18)

/* fastjpeg's 1/8 decode of data (through a memfd, opened by path as the worker
 * opens its input) must equal ref (w x h x bands). */
static void check_fast_decode(const uint8_t *data, size_t size, const unsigned char *ref,
			      int w, int h, int bands)
{
	char path[64], err[256];
	fastjpeg *j = NULL;
	fastjpeg_info info;
	unsigned char *px;
	int fw, fh, rc, fd = memfd_create("fuzz-jpegscan", MFD_CLOEXEC);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	rc = fastjpeg_open(path, &j, &info, err, sizeof err);
	close(fd);
	if (rc == FASTJPEG_UNSUPPORTED)
		return;		/* a colour space the fast path leaves to libvips */
	FUZZ_CHECK(rc == FASTJPEG_OK, "fastjpeg cannot open what libjpeg decodes: %s", err);
	rc = fastjpeg_decode(j, 1, &px, &fw, &fh, err, sizeof err);
	FUZZ_CHECK(rc == FASTJPEG_OK, "fastjpeg fails at 1/8 where libjpeg decodes: %s", err);
	FUZZ_CHECK(fw == w && fh == h && info.bands == bands, "%dx%dx%d, libjpeg %dx%dx%d",
		   fw, fh, info.bands, w, h, bands);
	for (size_t i = 0; i < (size_t)w * h * bands; i++)
		FUZZ_CHECK(px[i] == ref[i], "sample %zu is %d, libjpeg %d", i, px[i], ref[i]);
	fastjpeg_close(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *in = (unsigned char *)fuzz_dup(data, size);
	unsigned char *out = (unsigned char *)fuzz_dup(data, size);
	unsigned char *again = (unsigned char *)fuzz_dup(data, size);
	unsigned drop = size ? data[size - 1] : 0;
	size_t n = 0, n0 = 0, n2 = 0;
	jpegscan_status st = jpegscan_drop_ac(in, size, drop, out, &n);

	FUZZ_CHECK(strcmp(jpegscan_status_name(st), "unknown") != 0, "status %d", (int)st);
	if (st != JPEGSCAN_OK) {
		FUZZ_CHECK(size == 0 || memcmp(out, data, size) == 0, "a refusal wrote output");
	} else {
		FUZZ_CHECK(n >= 4 && n <= size, "%zu bytes out of %zu", n, size);
		FUZZ_CHECK(out[0] == 0xFF && out[1] == 0xD8 && out[n - 2] == 0xFF &&
				   out[n - 1] == 0xD9, "not SOI ... EOI");
		FUZZ_CHECK(jpegscan_drop_ac(in, size, drop, in, &n2) == JPEGSCAN_OK && n2 == n &&
				   memcmp(in, out, n) == 0, "in place differs");
		memcpy(in, data, size);
		FUZZ_CHECK(jpegscan_drop_ac(in, size, 0, again, &n0) == JPEGSCAN_OK &&
				   n0 >= n && memcmp(again, data, n0) == 0, "mask 0 changed it");
		st = jpegscan_drop_ac(out, n, drop, again, &n2);
		if (n == n0)
			FUZZ_CHECK(st == JPEGSCAN_OK && n2 == n && memcmp(again, out, n) == 0,
				   "a second pass changed it");
		else
			FUZZ_CHECK(st == JPEGSCAN_INCOMPLETE, "a filtered file passed as whole: %s",
				   jpegscan_status_name(st));
	}
	free(again);
	free(out);
	free(in);

	/* The differential check: the decode the worker makes against plain
	 * libjpeg on the whole file. */
	char err[256];
	int w, h, bands;
	unsigned char *ref = ref_decode(data, size, 1, MAX_SAMPLES, &w, &h, &bands, err,
					sizeof err);

	if (ref) {
		check_fast_decode(data, size, ref, w, h, bands);
		free(ref);
	}
	return 0;
}
