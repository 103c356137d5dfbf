/* SPDX-License-Identifier: MIT */
/*
 * lines.h — entries of a list read from a descriptor (--files-from: a file, or a
 * pipe that a producer such as `find` or a watcher writes while the run goes on),
 * one at a time, split at '\n' or '\0'.
 *
 * Not stdio's getdelim(): that blocks until a whole line is in, and a run reading
 * its list from a pipe must be able to ask "is a whole entry there yet?" and go on
 * with the files it has while the producer is quiet (pool.h, POOL_FEED_LATER).
 * lines_next(..., nowait) answers LINES_LATER then, without ever setting O_NONBLOCK
 * on the descriptor (stdin's open file may be shared with a shell or the producer).
 *
 * An entry longer than LINES_MAX is not kept whole: its first LINES_MAX bytes come
 * with `too_long` set and the rest up to its separator is skipped, so a list
 * without separators costs LINES_MAX of memory, not its size; with nowait, at most
 * one read of it per call (LINES_LATER then, though more may be readable: a
 * separator may never come). The last entry needs no separator.
 */
#ifndef IMGPOOL_LINES_H
#define IMGPOOL_LINES_H

#include <stddef.h>

#define LINES_MAX 65536 /* bytes of one entry kept: 16 times PATH_MAX */

typedef struct lines lines;

typedef enum {
	LINES_END = 0,   /* no more entries */
	LINES_ENTRY = 1, /* *entry holds the next one */
	LINES_LATER = 2, /* nowait: no whole entry readable yet; the descriptor will
	                    turn readable when more comes */
	LINES_ERROR = -1 /* reading failed: errno */
} lines_status;

typedef struct lines_entry {
	const char *text; /* NUL-terminated, separator removed; valid until the next call */
	size_t len;
	int too_long;     /* cut at LINES_MAX bytes */
} lines_entry;

/* Read fd (not closed by lines_free) with entries separated by sep. NULL: no memory. */
lines *lines_new(int fd, char sep);
void lines_free(lines *l);

/* The next entry, waiting for it unless nowait. */
lines_status lines_next(lines *l, int nowait, lines_entry *entry);

/* Is an entry (or the end) in what was read already: would lines_next() give one
 * without reading? A caller that passes over entries may answer "later" where
 * none is (the descriptor says when more comes), never where one is. */
int lines_buffered(const lines *l);

#endif
