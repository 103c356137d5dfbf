/* SPDX-License-Identifier: MIT */
/*
 * buf.c — pool_buf, the growable byte buffer tasks and results are written into.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* Grow geometrically so appending n small pieces costs O(n); keep one spare byte
 * for the NUL that makes text readable in place. */
int pool_buf_reserve(pool_buf *b, size_t n)
{
	if (!b || n > SIZE_MAX - b->len - 1)
		return -1;
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *d = realloc(b->data, cap);
	if (!d)
		return -1;
	/* NUL-terminated one past len, as pool.h says, from the first allocation
	 * on (a buffer only reserved read garbage as its text). */
	d[b->len] = '\0';
	b->data = d;
	b->cap = cap;
	return 0;
}

int pool_buf_append(pool_buf *b, const void *data, size_t len)
{
	if (pool_buf_reserve(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int pool_buf_printf(pool_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !b || pool_buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void pool_buf_release(pool_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
