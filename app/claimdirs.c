/* SPDX-License-Identifier: MIT */
/*
 * claimdirs.c — the folders of the planned outputs of a walk. See claimdirs.h.
 */
#include <stdlib.h>

#include "claimdirs.h"

#define FIRST_CAPACITY 256

/* One folder: its path's hash, how many claimed outputs lie beneath it, and the
 * input of the first of them (while count > 0). A slot once used is never
 * emptied (count 0 keeps the probe chains through it whole). */
typedef struct dir_slot {
	uint64_t hash;
	uint32_t count;
	uint32_t used;          /* 1: the slot holds a folder */
	const char *input;
} dir_slot;

struct claimdirs {
	dir_slot *slots;        /* power-of-two capacity */
	size_t cap, used;
};

claimdirs *claimdirs_new(void)
{
	return calloc(1, sizeof(claimdirs));
}

void claimdirs_free(claimdirs *c)
{
	if (!c)
		return;
	free(c->slots);
	free(c);
}

/* The slot of folder h, or NULL. */
static dir_slot *slot_of(const claimdirs *c, uint64_t h)
{
	if (!c || c->cap == 0)
		return NULL;
	for (size_t k = h & (c->cap - 1); c->slots[k].used; k = (k + 1) & (c->cap - 1))
		if (c->slots[k].hash == h)
			return &c->slots[k];
	return NULL;
}

const char *claimdirs_find(const claimdirs *c, uint64_t h)
{
	const dir_slot *s = slot_of(c, h);
	return s && s->count ? s->input : NULL;
}

/* A new slot for h in a table known to have room and not to hold it. */
static dir_slot *put(dir_slot *t, size_t cap, uint64_t h)
{
	size_t k = h & (cap - 1);
	while (t[k].used)
		k = (k + 1) & (cap - 1);
	t[k] = (dir_slot){.hash = h, .used = 1};
	return &t[k];
}

/* Make room for one more at load <= 1/2. -1 when out of memory. */
static int grow(claimdirs *c)
{
	if ((c->used + 1) * 2 <= c->cap)
		return 0;
	size_t cap = c->cap ? c->cap * 2 : FIRST_CAPACITY;
	dir_slot *t = calloc(cap, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].used)
			*put(t, cap, c->slots[i].hash) = c->slots[i];
	free(c->slots);
	c->slots = t;
	c->cap = cap;
	return 0;
}

void claimdirs_add(claimdirs *c, uint64_t h, const char *input)
{
	dir_slot *s = slot_of(c, h);
	if (!s) {
		if (!c || grow(c) < 0)
			return;
		s = put(c->slots, c->cap, h);
		c->used++;
	}
	if (s->count++ == 0)
		s->input = input;
}

void claimdirs_drop(claimdirs *c, uint64_t h)
{
	dir_slot *s = slot_of(c, h);
	if (s && s->count)
		s->count--;
}
