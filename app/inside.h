/* SPDX-License-Identifier: MIT */
/*
 * inside.h — the PATHs given that lie inside the output tree (`-o .. photos`): an
 * output must never land on such a file or under such a folder (it would overwrite
 * an input, or be read as one next time). Compared on canonical paths; most runs
 * have none, and then every check costs nothing.
 */
#ifndef IMGPOOL_INSIDE_H
#define IMGPOOL_INSIDE_H

typedef struct inside_set inside_set;

/* The PATHs strictly inside the output folder whose canonical path is out_canon
 * (NULL: unknown, then none). NULL only when out of memory. */
inside_set *inside_new(const char *out_canon, const char *const *paths, int npaths);

/* The PATH (canonical) that an output, relative to the output folder, would
 * overwrite or land under, or NULL. */
const char *inside_hit(const inside_set *set, const char *out_rel);

/* NULL is a no-op. */
void inside_free(inside_set *set);

#endif
