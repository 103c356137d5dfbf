/* SPDX-License-Identifier: MIT */
/*
 * pngcheck.c — the walk over a PNG's chunk headers. See pngcheck.h.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>

#include "io.h"
#include "pngcheck.h"

static int read_at(int fd, uint64_t at, unsigned char *b, size_t n)
{
	return pread(fd, b, n, (off_t)at) == (ssize_t)n;
}

/* A chunk type as printable text: PNG types are four ASCII letters, anything
 * else shows as '?'. */
static void type_name(const unsigned char *t, char name[5])
{
	for (int i = 0; i < 4; i++)
		name[i] = (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z')
				  ? (char)t[i]
				  : '?';
	name[4] = '\0';
}

int pngcheck_file(const char *path, char *err, size_t errlen)
{
	unsigned char b[8];
	struct stat st;
	uint64_t at = sizeof b, size;
	int rc = 0;
	/* O_NONBLOCK: a FIFO put in the file's place must not block the worker. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return 0;
	/* the 8-byte signature, libpng's test */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !read_at(fd, 0, b, sizeof b) ||
	    png_sig_cmp(b, 0, sizeof b) != 0)
		goto done;
	size = (uint64_t)st.st_size;
	for (int chunks = 0; chunks < PNGCHECK_MAX_CHUNKS && at + 8 <= size; chunks++) {
		uint64_t len;
		char name[5];

		if (!read_at(fd, at, b, 8))
			break;
		len = io_be32(b);
		if (!memcmp(b + 4, "IDAT", 4) || !memcmp(b + 4, "IEND", 4))
			break;
		/* length, type, data, CRC */
		if (len + 12 > size - at) {
			type_name(b + 4, name);
			snprintf(err, errlen,
				 "cannot read the image header: %s chunk claims %llu bytes "
				 "and a CRC, the file has %llu left",
				 name, (unsigned long long)len, (unsigned long long)(size - at - 8));
			rc = -1;
			break;
		}
		at += 12 + len;
	}
done:
	close(fd);
	return rc;
}
