/* SPDX-License-Identifier: MIT */
/*
 * lookahead.h — the files planned but not yet handed to the pool, a bounded
 * window of them given out largest first.
 *
 * Why: the time a file takes grows with its size, and the run ends when its last
 * file does. Handing out the largest known file first (longest processing time
 * first, LPT) leaves small files for the end, where they even out the workers'
 * finishing times; in the order found, a large photo met late (the last folder,
 * the last PATH argument) runs alone while the other workers idle. The walk
 * already sorts each folder largest first (discover.h); the window does the same
 * across folders and arguments, within its capacity, so memory stays bounded.
 *
 * Contract:
 *   - lookahead_put() copies the planned file (its strings too: a plan_item is
 *     only valid until the next plan_next()); the window owns the copy until
 *     lookahead_take() gives it away.
 *   - lookahead_take() returns the file of the largest cost in the window (the
 *     caller's guess of its work, costguess.h); among equal costs, the one put
 *     first, so a window over an already sorted stream keeps its order.
 *   - Files still in the window at lookahead_free() are freed: they were never
 *     started, and the caller counts them as such.
 */
#ifndef IMGPOOL_LOOKAHEAD_H
#define IMGPOOL_LOOKAHEAD_H

#include <stddef.h>
#include <stdint.h>

#include "inflight.h"
#include "plan.h"

typedef struct lookahead lookahead;

/* One file taken out of the window: its copy (index not yet set) and the
 * output formats the planner chose. */
typedef struct lookahead_file {
	inflight_file *f;
	thumb_format formats[THUMB_MAX_SIZES];
} lookahead_file;

/* A window of at most capacity (>= 1) files, or NULL when memory runs out. */
lookahead *lookahead_new(size_t capacity);
/* Free the window and every file still in it; NULL is a no-op. */
void lookahead_free(lookahead *w);

/* Files in the window, and whether it holds its capacity. */
size_t lookahead_count(const lookahead *w);
int lookahead_full(const lookahead *w);

/* Copy item into the window (which must not be full), to go out by cost. 0, or
 * -1 when memory runs out (nothing kept). */
int lookahead_put(lookahead *w, const plan_item *item, uint64_t cost);

/* The largest file in the window, removed from it: 1 with *out filled (the
 * caller owns out->f), 0 when the window is empty. */
int lookahead_take(lookahead *w, lookahead_file *out);

#endif
