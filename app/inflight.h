/* SPDX-License-Identifier: MIT */
/*
 * inflight.h — the files handed to the pool and not yet answered, by feed index:
 * what the parent needs when a result comes back (the file's paths, as planned,
 * never decoded again from the task bytes), and nothing more, so memory stays flat
 * however many files a run has.
 */
#ifndef IMGPOOL_INFLIGHT_H
#define IMGPOOL_INFLIGHT_H

#include <stdint.h>

#include "plan.h"

typedef struct inflight_file {
	uint64_t index;
	char *input, *rel, *root;            /* root: NULL when unknown */
	int n;
	char *display[THUMB_MAX_SIZES];      /* outputs as reported */
	char *out_rel[THUMB_MAX_SIZES];      /* relative to OUT */
	uint64_t size, checksum, dev, ino;
	size_t beneath;                      /* discover_item's */
	int64_t mtime_ns;
	struct inflight_file *next;          /* the table's chain */
} inflight_file;

typedef struct inflight inflight;

inflight *inflight_new(void);
/* Free the table and every file still in it; NULL is a no-op. */
void inflight_free(inflight *t);

/* A copy of a planned file (every string copied), not yet in a table (index 0),
 * or NULL when memory runs out. */
inflight_file *inflight_file_copy(const plan_item *item);

/* Record f under f->index, set by the caller; the table owns it from now. */
void inflight_insert(inflight *t, inflight_file *f);

/* The file at index (still in the table), or NULL. */
inflight_file *inflight_get(inflight *t, uint64_t index);

/* Take the file at index out of the table (the caller frees it), or NULL. */
inflight_file *inflight_take(inflight *t, uint64_t index);

/* Files in the table. */
uint64_t inflight_count(const inflight *t);

/* Free one file; NULL is a no-op. */
void inflight_file_free(inflight_file *f);

#endif
