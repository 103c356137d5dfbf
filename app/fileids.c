/* SPDX-License-Identifier: MIT */
/*
 * fileids.c — input files met, by canonical path. See fileids.h.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "arena.h"
#include "fileids.h"

#define FIRST_CAPACITY 256

/* One file met. An empty slot has path == NULL. */
typedef struct met {
	uint64_t hash;
	const char *path;	/* in the arena */
	uint32_t origin;
} met;

struct fileids {
	met *slots;	/* power-of-two capacity */
	size_t cap, used;
	arena_block *arena;
};

fileids *fileids_new(void)
{
	return calloc(1, sizeof(fileids));
}

void fileids_free(fileids *f)
{
	if (!f)
		return;
	free(f->slots);
	arena_free(f->arena);
	free(f);
}

/* The slot of path (hash h) in t, or the empty one where it goes. */
static met *find(met *t, size_t cap, uint64_t h, const char *path)
{
	size_t k = h & (cap - 1);
	while (t[k].path && (t[k].hash != h || (path && strcmp(t[k].path, path))))
		k = (k + 1) & (cap - 1);
	return &t[k];
}

/* Room for one more at load <= 1/2; -1 when out of memory. */
static int grow(fileids *f)
{
	if ((f->used + 1) * 2 <= f->cap)
		return 0;
	size_t cap = f->cap ? f->cap * 2 : FIRST_CAPACITY;
	met *t = calloc(cap, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < f->cap; i++)
		if (f->slots[i].path)
			*find(t, cap, f->slots[i].hash, NULL) = f->slots[i];
	free(f->slots);
	f->slots = t;
	f->cap = cap;
	return 0;
}

uint32_t fileids_meet(fileids *f, const char *real, uint32_t origin)
{
	if (!f || !real || grow(f) < 0)
		return origin;
	uint64_t h = XXH3_64bits(real, strlen(real));
	met *m = find(f->slots, f->cap, h, real);
	if (m->path)
		return m->origin;
	const char *kept = arena_strdup(&f->arena, real);
	if (!kept)
		return origin;
	*m = (met){h, kept, origin};
	f->used++;
	return origin;
}

uint32_t fileids_met(const fileids *f, const char *real, uint32_t origin)
{
	if (!f || !real || !f->cap)
		return origin;
	uint64_t h = XXH3_64bits(real, strlen(real));
	const met *m = find(f->slots, f->cap, h, real);
	return m->path ? m->origin : origin;
}
