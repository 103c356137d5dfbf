/* SPDX-License-Identifier: MIT */
/*
 * arena.c — append-only string storage. See arena.h.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_BLOCK 65536

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

const char *arena_strdup(arena_block **top, const char *s)
{
	size_t n = strlen(s) + 1;
	arena_block *b = *top;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		if (!(b = malloc(sizeof *b + cap)))
			return NULL;
		b->next = *top;
		b->used = 0;
		b->cap = cap;
		*top = b;
	}
	char *p = b->data + b->used;
	memcpy(p, s, n);
	b->used += n;
	return p;
}

void arena_free(arena_block *top)
{
	while (top) {
		arena_block *next = top->next;
		free(top);
		top = next;
	}
}
