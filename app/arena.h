/* SPDX-License-Identifier: MIT */
/*
 * arena.h — append-only storage for strings that live as long as a set does (the
 * claimants' paths of claims.c, the paths of fileids.c): one malloc per 64 KiB,
 * all freed at once.
 */
#ifndef IMGPOOL_ARENA_H
#define IMGPOOL_ARENA_H

typedef struct arena_block arena_block;

/* A copy of s in the arena whose newest block is *top (NULL: empty); NULL when
 * out of memory. */
const char *arena_strdup(arena_block **top, const char *s);

/* Free every block from top down. NULL is a no-op. */
void arena_free(arena_block *top);

#endif
