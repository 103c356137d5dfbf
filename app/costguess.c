/* SPDX-License-Identifier: MIT */
/*
 * costguess.c — the look-ahead window's key. See costguess.h.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "costguess.h"

int costguess_jpeg_frame(costguess_read_fn *rd, void *ctx, unsigned *w, unsigned *h,
			 int *progressive)
{
	unsigned char b[9];
	uint64_t at = 2;

	if (!rd(ctx, 0, b, 2) || b[0] != 0xFF || b[1] != 0xD8)
		return 0;
	for (int segments = 0; segments < COSTGUESS_MAX_SEGMENTS; segments++) {
		if (!rd(ctx, at, b, 4) || b[0] != 0xFF)
			return 0;
		if (b[1] == 0xFF) {	/* a fill byte before the marker */
			at++;
			continue;
		}
		unsigned seg = (unsigned)b[2] << 8 | b[3];

		if (seg < 2 || b[1] == 0xD9 || b[1] == 0xDA)	/* EOI or a scan first */
			return 0;
		/* SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
		if (b[1] >= 0xC0 && b[1] <= 0xCF && b[1] != 0xC4 && b[1] != 0xC8 && b[1] != 0xCC) {
			if (seg < 7 || !rd(ctx, at, b, 9))
				return 0;
			*h = (unsigned)b[5] << 8 | b[6];
			*w = (unsigned)b[7] << 8 | b[8];
			*progressive = (b[1] & 3) == 2;	/* C2, C6, CA, CE */
			return *w > 0 && *h > 0;
		}
		at += 2 + (uint64_t)seg;
	}
	return 0;
}

static int read_fd(void *ctx, uint64_t off, unsigned char *buf, size_t n)
{
	return pread(*(int *)ctx, buf, n, (off_t)off) == (ssize_t)n;
}

uint64_t costguess(const char *path, uint64_t bytes)
{
	unsigned w, h;
	int progressive;
	uint64_t cost = bytes;
	struct stat st;
	/* O_NONBLOCK: a file swapped for a FIFO since the walk must not hang the
	 * parent; the worker will refuse it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return bytes;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    costguess_jpeg_frame(read_fd, &fd, &w, &h, &progressive))
		cost = bytes * (progressive ? COSTGUESS_PROGRESSIVE_BYTE_COST : 1) +
		       (uint64_t)w * h * COSTGUESS_PIXEL_COST_PERCENT / 100;
	close(fd);
	return cost;
}
