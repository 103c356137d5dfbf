/* SPDX-License-Identifier: MIT */
/*
 * claimdirs.h — the folders the outputs planned so far in a walk lie in: how an
 * output that would be a file where another input's output needs a folder
 * (out/x.jpg and out/x.jpg/b.jpg) is caught before either is made. The file
 * side of that question is claims.h's: each folder above a new output is looked
 * up among the claimed outputs there.
 *
 * Keyed by the 64-bit hash of the folder's path (relative to the output folder),
 * as claims.h keys an output's: 24 bytes a slot, open addressing, load <= 1/2.
 * A slot counts the claimed outputs beneath its folder, so that one released
 * (its input refused or failed) frees the folder only when it was the last.
 */
#ifndef IMGPOOL_CLAIMDIRS_H
#define IMGPOOL_CLAIMDIRS_H

#include <stdint.h>

typedef struct claimdirs claimdirs;

claimdirs *claimdirs_new(void);
/* NULL is a no-op. */
void claimdirs_free(claimdirs *c);

/* The input of the first output claimed beneath folder h while one is, or NULL.
 * Its claim may have been released since while others beneath remain: then
 * it is still named (a slot keeps no list of them). */
const char *claimdirs_find(const claimdirs *c, uint64_t h);

/* One more output claimed beneath folder h, by input (a string that outlives c:
 * claims.h's copy). When memory runs out the folder is not recorded: collision
 * checks get weaker, no file fails for it. */
void claimdirs_add(claimdirs *c, uint64_t h, const char *input);

/* One output beneath folder h released (no-op when none is counted). */
void claimdirs_drop(claimdirs *c, uint64_t h);

#endif
