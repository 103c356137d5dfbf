/* SPDX-License-Identifier: MIT */
/*
 * pnginflate.c — the stream libpng reads, rebuilt as a list of byte runs
 * (headers made here, the inflated data, the file's own tail), so nothing is
 * copied twice. See pnginflate.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include <libdeflate.h>

#include "io.h"
#include "pnginflate.h"

#define STORED_MAX 65535u		/* a stored deflate block's most bytes */

typedef struct run {
	const unsigned char *p;
	size_t len;
} run;

struct pnginflate {
	unsigned char *raw;		/* the inflated image data, raw_size bytes, mapped */
	size_t raw_size;
	unsigned char *heads;		/* headers, CRCs and the like made here */
	run *runs;
	size_t nruns, cap;
	size_t at, off;			/* reading: run index, offset in it */
};

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The IDAT chunks from the first one's data (at) on, if their CRCs hold: *in
 * is their data, in the file when there is one chunk, else gathered into
 * *joined (the caller frees it); *first is the first one's length, *end the
 * offset after the last. 0, or -1. */
static int gather_idat(const unsigned char *d, size_t len, size_t at, const unsigned char **in,
		       unsigned char **joined, size_t *total, size_t *first, size_t *end)
{
	size_t pos = at - 8, sum = 0;
	unsigned char *buf;

	/* A first pass for the size and the CRCs, a second to copy. */
	while (pos + 12 <= len && memcmp(d + pos + 4, "IDAT", 4) == 0) {
		uint32_t n = io_be32(d + pos);

		if (n > len - pos - 12 ||
		    libdeflate_crc32(0, d + pos + 4, (size_t)n + 4) != io_be32(d + pos + 8 + n))
			return -1;
		sum += n;
		pos += 12 + (size_t)n;
	}
	if (pos == at - 8)
		return -1;
	*first = io_be32(d + at - 8);
	*end = pos;
	*total = sum;
	if (sum == *first) {	/* one chunk (or only empty ones after it) */
		*in = d + at;
		*joined = NULL;
		return 0;
	}
	if (!(buf = malloc(sum)))
		return -1;
	sum = 0;
	for (pos = at - 8; pos < *end; pos += 12 + (size_t)io_be32(d + pos)) {
		memcpy(buf + sum, d + pos + 8, io_be32(d + pos));
		sum += io_be32(d + pos);
	}
	*joined = buf;
	*in = buf;
	return 0;
}

static void add_run(pnginflate *z, const unsigned char *p, size_t len)
{
	if (len)
		z->runs[z->nruns++] = (run){p, len};
}

/* Add the runs of the new zlib stream's bytes [from, to), cut out of the whole
 * stream's runs zr[0..nz). */
static void add_cut(pnginflate *z, const run *zr, size_t nz, size_t from, size_t to)
{
	size_t base = 0;

	for (size_t i = 0; i < nz && base < to; base += zr[i].len, i++) {
		size_t a = from > base ? from - base : 0;
		size_t b = to - base < zr[i].len ? to - base : zr[i].len;

		if (a < b)
			add_run(z, zr[i].p + a, b - a);
	}
}

/* The buffer for the inflated data: mapped apart, in huge pages where the
 * kernel gives them (transparent huge pages on madvise, Debian's default), so
 * that a 48 MB image costs 24 page faults rather than 12 000: the small-page
 * faults were a fifth of a 12 MP PNG's time. */
static unsigned char *map_raw(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, n, MADV_HUGEPAGE);
#endif
	return p;
}

pnginflate *pnginflate_new(const unsigned char *data, size_t len, size_t at, size_t raw_size)
{
	unsigned char *joined = NULL;
	const unsigned char *in;
	size_t total, first, end, in_used, out_used;
	struct libdeflate_decompressor *dec = NULL;
	pnginflate *z = NULL;
	run *zr = NULL;

	if (at < 8 || at > len || raw_size == 0 || raw_size > PNGINFLATE_MAX_BYTES ||
	    memcmp(data + at - 4, "IDAT", 4) != 0 ||
	    gather_idat(data, len, at, &in, &joined, &total, &first, &end) < 0)
		return NULL;
	if (!(z = calloc(1, sizeof *z)) || (z->raw_size = raw_size, !(z->raw = map_raw(raw_size))) ||
	    !(dec = libdeflate_alloc_decompressor()) ||
	    libdeflate_zlib_decompress_ex(dec, in, total, z->raw, raw_size, &in_used,
					  &out_used) != LIBDEFLATE_SUCCESS ||
	    in_used != total || out_used != raw_size)
		goto fail;
	libdeflate_free_decompressor(dec);
	dec = NULL;
	free(joined);
	joined = NULL;

	/* The new zlib stream: header, stored blocks, Adler-32. */
	size_t blocks = (raw_size + STORED_MAX - 1) / STORED_MAX;
	size_t nz = 2 * blocks + 2, zlen = 2 + raw_size + 5 * blocks + 4;

	if (first > zlen || zlen - first > UINT32_MAX >> 1)
		goto fail;
	/* heads: zlib header 2, block headers 5 each, Adler 4, CRC 4, chunk 8 + CRC 4 */
	if (!(z->heads = malloc(2 + 5 * blocks + 4 + 4 + 12)) || !(zr = malloc(nz * sizeof *zr)) ||
	    !(z->runs = malloc((nz + 6) * sizeof *z->runs)))
		goto fail;
	unsigned char *h = z->heads;
	size_t k = 0;

	h[0] = 0x78;	/* deflate, 32 KiB window */
	h[1] = 0x01;	/* no dictionary; (0x78 << 8 | 0x01) % 31 == 0 */
	zr[k++] = (run){h, 2};
	h += 2;
	for (size_t b = 0; b < blocks; b++, h += 5) {
		size_t n = raw_size - b * STORED_MAX < STORED_MAX ? raw_size - b * STORED_MAX
								  : STORED_MAX;

		h[0] = b + 1 == blocks;	/* BFINAL on the last, BTYPE 00: stored */
		h[1] = (unsigned char)n;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)~n;
		h[4] = (unsigned char)(~n >> 8);
		zr[k++] = (run){h, 5};
		zr[k++] = (run){z->raw + b * STORED_MAX, n};
	}
	put_be32(h, libdeflate_adler32(1, z->raw, raw_size));
	zr[k++] = (run){h, 4};
	h += 4;

	/* Chunk one keeps the length libpng has already read; the rest of the
	 * stream goes in a second IDAT chunk. Their CRCs are zero (see the header:
	 * the originals' were checked above). */
	unsigned char *crc1 = h, *head2 = h + 4, *crc2 = h + 12;

	memset(crc1, 0, 4);
	memset(crc2, 0, 4);
	add_cut(z, zr, k, 0, first);
	add_run(z, crc1, 4);
	if (zlen > first) {
		put_be32(head2, (uint32_t)(zlen - first));
		memcpy(head2 + 4, "IDAT", 4);
		add_run(z, head2, 8);
		add_cut(z, zr, k, first, zlen);
		add_run(z, crc2, 4);
	}
	add_run(z, data + end, len - end);
	free(zr);
	return z;
fail:
	libdeflate_free_decompressor(dec);
	free(joined);
	free(zr);
	pnginflate_free(z);
	return NULL;
}

int pnginflate_read(pnginflate *z, unsigned char *out, size_t n)
{
	size_t left = 0;

	for (size_t i = z->at; i < z->nruns && left < n; i++)
		left += z->runs[i].len - (i == z->at ? z->off : 0);
	if (left < n)
		return -1;
	while (n) {
		const run *r = &z->runs[z->at];
		size_t take = r->len - z->off < n ? r->len - z->off : n;

		memcpy(out, r->p + z->off, take);
		out += take;
		n -= take;
		z->off += take;
		if (z->off == r->len) {
			z->at++;
			z->off = 0;
		}
	}
	return 0;
}

void pnginflate_free(pnginflate *z)
{
	if (!z)
		return;
	if (z->raw)
		munmap(z->raw, z->raw_size);
	free(z->heads);
	free(z->runs);
	free(z);
}
