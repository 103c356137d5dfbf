/* SPDX-License-Identifier: MIT */
/*
 * lines.c — entries of a list read from a descriptor; see lines.h.
 *
 * One buffer of LINES_MAX + 1 bytes: the unread bytes sit at [start, start + len);
 * they are moved to the front before each read, so an entry of up to LINES_MAX
 * bytes always fits with its separator (or, the last one, with its NUL).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"

struct lines {
	int fd;
	char sep;
	char *buf;
	size_t start, len;  /* the bytes read and not handed out */
	int eof;
	int skipping;       /* dropping the rest of an entry cut at LINES_MAX */
};

lines *lines_new(int fd, char sep)
{
	lines *l = calloc(1, sizeof *l);
	if (l && !(l->buf = malloc(LINES_MAX + 1))) {
		free(l);
		return NULL;
	}
	if (l) {
		l->fd = fd;
		l->sep = sep;
	}
	return l;
}

void lines_free(lines *l)
{
	if (l)
		free(l->buf);
	free(l);
}

/* Hand out n bytes at start as an entry (the byte after them is overwritten by
 * its NUL: the separator, or one that is skipped), and drop `used` bytes. */
static lines_status give(lines *l, lines_entry *e, size_t n, size_t used, int too_long)
{
	char *text = l->buf + l->start;
	text[n] = '\0';
	*e = (lines_entry){.text = text, .len = n, .too_long = too_long};
	l->start += used;
	l->len -= used;
	return LINES_ENTRY;
}

/* Read once more: 1 when something came or the end was met, LINES_LATER or
 * LINES_ERROR otherwise. */
static int fill(lines *l, int nowait)
{
	if (l->start) {
		memmove(l->buf, l->buf + l->start, l->len);
		l->start = 0;
	}
	for (;;) {
		struct pollfd p = {l->fd, POLLIN, 0};
		/* poll() first when not to wait: a read() of a quiet pipe would block,
		 * and O_NONBLOCK would change the open file for every process sharing it. */
		int r = nowait ? poll(&p, 1, 0) : 1;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return LINES_ERROR;
		if (r == 0)
			return LINES_LATER;
		ssize_t n = read(l->fd, l->buf + l->len, LINES_MAX + 1 - l->len);
		if (n > 0) {
			l->len += (size_t)n;
			return 1;
		}
		if (n == 0) {
			l->eof = 1;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return LINES_ERROR;
		/* someone set O_NONBLOCK on it: wait (or not) the way poll() does */
		if (nowait)
			return LINES_LATER;
		poll(&p, 1, -1);
	}
}

int lines_buffered(const lines *l)
{
	return l->len && (l->eof || memchr(l->buf + l->start, l->sep, l->len));
}

lines_status lines_next(lines *l, int nowait, lines_entry *e)
{
	int read_once = 0;
	for (;;) {
		char *data = l->buf + l->start;
		char *sep = l->len ? memchr(data, l->sep, l->len) : NULL;
		if (l->skipping) {
			size_t drop = sep ? (size_t)(sep - data) + 1 : l->len;
			l->start += drop;
			l->len -= drop;
			l->skipping = !sep;
			if (sep)
				continue;
		} else if (sep) {
			size_t n = (size_t)(sep - data);
			return give(l, e, n, n + 1, 0);
		} else if (l->len > LINES_MAX) {
			/* No separator in LINES_MAX + 1 bytes (the buffer full): cut at
			 * LINES_MAX. The byte after the cut belongs to this entry (it is
			 * no separator): its NUL goes there and it is dropped with it. */
			l->skipping = 1;
			return give(l, e, LINES_MAX, LINES_MAX + 1, 1);
		} else if (l->eof && l->len) {
			/* the last entry, without a separator */
			if (l->start + l->len > LINES_MAX) { /* no room for its NUL */
				memmove(l->buf, data, l->len);
				l->start = 0;
			}
			return give(l, e, l->len, l->len, 0);
		}
		if (l->eof)
			return LINES_END; /* nothing left (or only what was skipped) */
		/* Skipping an entry without end (/dev/zero): one read per call, so
		 * that the caller's loop (a stop) comes round; nothing whole is
		 * buffered, which LINES_LATER may leave. */
		if (nowait && l->skipping && read_once)
			return LINES_LATER;
		read_once = 1;
		int r = fill(l, nowait);
		if (r != 1)
			return (lines_status)r;
	}
}
