/* SPDX-License-Identifier: MIT */
/*
 * fileids.c — input files met, by identity. See fileids.h.
 */
#include <stdlib.h>

#include "fileids.h"

#define FIRST_CAPACITY 256

/* One file met. An empty slot has used == 0. */
typedef struct met {
	uint64_t dev, ino;
	uint32_t origin;
	uint32_t used;
} met;

struct fileids {
	met *slots;	/* power-of-two capacity */
	size_t cap, used;
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
	free(f);
}

/* splitmix64's finaliser: inode numbers are dense, the low bits must mix. */
static size_t slot_hash(uint64_t dev, uint64_t ino)
{
	uint64_t z = ino ^ (dev * 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (size_t)(z ^ (z >> 31));
}

/* The slot of (dev, ino) in t, or the empty one where it goes. */
static met *find(met *t, size_t cap, uint64_t dev, uint64_t ino)
{
	size_t k = slot_hash(dev, ino) & (cap - 1);
	while (t[k].used && (t[k].dev != dev || t[k].ino != ino))
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
		if (f->slots[i].used)
			*find(t, cap, f->slots[i].dev, f->slots[i].ino) = f->slots[i];
	free(f->slots);
	f->slots = t;
	f->cap = cap;
	return 0;
}

uint32_t fileids_meet(fileids *f, uint64_t dev, uint64_t ino, uint32_t origin)
{
	if (!f || grow(f) < 0)
		return origin;
	met *m = find(f->slots, f->cap, dev, ino);
	if (m->used)
		return m->origin;
	*m = (met){dev, ino, origin, 1};
	f->used++;
	return origin;
}
