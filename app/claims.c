/* SPDX-License-Identifier: MIT */
/*
 * claims.c — the planned outputs of a walk. See claims.h.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "claims.h"

#define FIRST_CAPACITY 1024

/* One path: its hash and the first input that claimed it as an output (in the
 * arena), and, as a folder, how many claimed outputs lie beneath it and the first
 * input of them (while folders > 0). An empty slot has input == NULL; a released
 * claim, or a path only a folder, has input == RELEASED (kept, so the probe chains
 * through it stay whole). */
typedef struct claim {
	uint64_t hash;
	const char *input;
	const char *folder_input;
	uint32_t folders;
} claim;

static const char released_mark[] = "";
#define RELEASED released_mark

struct claims {
	claim *slots;      /* power-of-two capacity */
	size_t cap, used;
	arena_block *arena;
};

claims *claims_new(void)
{
	return calloc(1, sizeof(claims));
}

void claims_free(claims *c)
{
	if (!c)
		return;
	free(c->slots);
	arena_free(c->arena);
	free(c);
}

/* The slot holding h (claimed or released), or NULL. */
static claim *slot_of(const claims *c, uint64_t h)
{
	if (!c || c->cap == 0)
		return NULL;
	for (size_t k = h & (c->cap - 1); c->slots[k].input; k = (k + 1) & (c->cap - 1))
		if (c->slots[k].hash == h)
			return &c->slots[k];
	return NULL;
}

const char *claims_find(const claims *c, uint64_t h)
{
	const claim *s = slot_of(c, h);
	return s && s->input != RELEASED ? s->input : NULL;
}

void claims_release(claims *c, uint64_t h)
{
	claim *s = slot_of(c, h);
	if (s)
		s->input = RELEASED;
}

/* Put a slot in a table known to have room and not to hold its hash. */
static claim *put(claim *t, size_t cap, claim s)
{
	size_t k = s.hash & (cap - 1);
	while (t[k].input)
		k = (k + 1) & (cap - 1);
	t[k] = s;
	return &t[k];
}

/* Make room for one more at load <= 1/2. -1 when out of memory. */
static int grow(claims *c)
{
	if ((c->used + 1) * 2 <= c->cap)
		return 0;
	size_t cap = c->cap ? c->cap * 2 : FIRST_CAPACITY;
	claim *t = calloc(cap, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].input)
			put(t, cap, c->slots[i]);
	free(c->slots);
	c->slots = t;
	c->cap = cap;
	return 0;
}

void claims_add(claims *c, const uint64_t *h, int n, const char *input)
{
	const char *kept = n > 0 ? arena_strdup(&c->arena, input) : NULL;
	for (int i = 0; i < n && kept; i++) {
		claim *again = slot_of(c, h[i]);
		if (again) {
			again->input = kept;	/* released before */
			continue;
		}
		if (grow(c) < 0)
			return;
		put(c->slots, c->cap, (claim){.hash = h[i], .input = kept});
		c->used++;
	}
}

const char *claims_folder_find(const claims *c, uint64_t h)
{
	const claim *s = slot_of(c, h);
	return s && s->folders ? s->folder_input : NULL;
}

void claims_folder_add(claims *c, uint64_t h, const char *input)
{
	claim *s = slot_of(c, h);
	if (!s) {
		if (!c || grow(c) < 0)
			return;
		s = put(c->slots, c->cap, (claim){.hash = h, .input = RELEASED});
		c->used++;
	}
	if (s->folders++ == 0)
		s->folder_input = input;
}

void claims_folder_drop(claims *c, uint64_t h)
{
	claim *s = slot_of(c, h);
	if (s && s->folders)
		s->folders--;
}
