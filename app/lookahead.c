/* SPDX-License-Identifier: MIT */
/*
 * lookahead.c — a binary max-heap of planned files by guessed cost. See lookahead.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookahead.h"

typedef struct slot {
	lookahead_file file;
	uint64_t cost;		/* the order, largest first */
	uint64_t seq;		/* put order: the tie-break */
} slot;

struct lookahead {
	slot *heap;
	size_t n, capacity;
	uint64_t next_seq;
};

lookahead *lookahead_new(size_t capacity)
{
	lookahead *w = calloc(1, sizeof *w);

	if (!w || capacity < 1 || !(w->heap = calloc(capacity, sizeof *w->heap))) {
		free(w);
		return NULL;
	}
	w->capacity = capacity;
	return w;
}

void lookahead_free(lookahead *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		inflight_file_free(w->heap[i].file.f);
	free(w->heap);
	free(w);
}

size_t lookahead_count(const lookahead *w)
{
	return w->n;
}

int lookahead_full(const lookahead *w)
{
	return w->n >= w->capacity;
}

/* a goes out before b: larger, or as large and put earlier. */
static int before(const slot *a, const slot *b)
{
	return a->cost != b->cost ? a->cost > b->cost : a->seq < b->seq;
}

static void swap(slot *a, slot *b)
{
	slot t = *a;

	*a = *b;
	*b = t;
}

int lookahead_put(lookahead *w, const plan_item *item, uint64_t cost)
{
	inflight_file *f;

	if (lookahead_full(w) || !(f = inflight_file_copy(item)))
		return -1;
	size_t i = w->n++;

	w->heap[i] = (slot){.file = {.f = f}, .cost = cost, .seq = w->next_seq++};
	memcpy(w->heap[i].file.formats, item->formats, sizeof item->formats);
	while (i > 0 && before(&w->heap[i], &w->heap[(i - 1) / 2])) {
		swap(&w->heap[i], &w->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return 0;
}

int lookahead_take(lookahead *w, lookahead_file *out)
{
	if (w->n == 0)
		return 0;
	*out = w->heap[0].file;
	w->heap[0] = w->heap[--w->n];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, top = i;

		if (l < w->n && before(&w->heap[l], &w->heap[top]))
			top = l;
		if (r < w->n && before(&w->heap[r], &w->heap[top]))
			top = r;
		if (top == i)
			break;
		swap(&w->heap[i], &w->heap[top]);
		i = top;
	}
	return 1;
}
