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
#include <zlib.h>

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

/* path opened, when it is a regular file that begins with the PNG signature
 * (libpng's test): its descriptor and *size; else -1 (nothing for these checks). */
static int open_png(const char *path, uint64_t *size)
{
	unsigned char b[8];
	struct stat st;
	/* O_NONBLOCK: a FIFO put in the file's place must not block the worker. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !read_at(fd, 0, b, sizeof b) ||
	    png_sig_cmp(b, 0, sizeof b) != 0) {
		close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int pngcheck_file(const char *path, char *err, size_t errlen)
{
	unsigned char b[8];
	uint64_t at = sizeof b, size;
	int rc = 0, fd = open_png(path, &size);

	if (fd < 0)
		return 0;
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
	close(fd);
	return rc;
}

/* Inflate the IDAT data from at on (the first IDAT's header) into a scratch
 * buffer: 1 when the stream ends cleanly, 0 when the data runs out first (cut
 * short: the decoders' and --fail-on's to judge), -1 with zlib's word for the
 * fault. */
static int inflate_idat(int fd, uint64_t at, uint64_t size, const char **why)
{
	static unsigned char in[1 << 16], out[1 << 16];
	unsigned char h[8];
	z_stream z = {0};
	int zr = Z_OK;
	if (inflateInit(&z) != Z_OK)
		return 0;
	while (zr == Z_OK && at + 8 <= size && read_at(fd, at, h, 8) && !memcmp(h + 4, "IDAT", 4)) {
		uint64_t len = io_be32(h), pos = at + 8;
		if (len + 12 > size - at)
			break;
		while (zr == Z_OK && pos < at + 8 + len) {
			size_t n = at + 8 + len - pos < sizeof in ? (size_t)(at + 8 + len - pos) : sizeof in;
			if (pread(fd, in, n, (off_t)pos) != (ssize_t)n)
				break;
			pos += n;
			z.next_in = in;
			z.avail_in = (uInt)n;
			do {
				z.next_out = out;
				z.avail_out = sizeof out;
				zr = inflate(&z, Z_NO_FLUSH);
			} while (zr == Z_OK && z.avail_in);
			if (zr == Z_BUF_ERROR)
				zr = Z_OK; /* wants more input */
		}
		at += 12 + len;
	}
	*why = z.msg ? z.msg : "bad data";
	inflateEnd(&z);
	return zr == Z_STREAM_END ? 1 : zr == Z_OK ? 0 : -1;
}

int pngcheck_image_data(const char *path, char *err, size_t errlen)
{
	unsigned char b[8];
	uint64_t at = sizeof b, size;
	int rc = 0, fd = open_png(path, &size);
	const char *why;

	if (fd < 0)
		return 0;
	/* every chunk before the data, however many: 8 bytes read each */
	while (at + 8 <= size) {
		if (!read_at(fd, at, b, 8) || !memcmp(b + 4, "IEND", 4))
			break;
		if (!memcmp(b + 4, "IDAT", 4)) {
			if (inflate_idat(fd, at, size, &why) < 0) {
				snprintf(err, errlen, "damaged image data (zlib: %s)", why);
				rc = -1;
			}
			break;
		}
		at += 12 + (uint64_t)io_be32(b);
	}
	close(fd);
	return rc;
}
