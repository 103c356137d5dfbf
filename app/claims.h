/* SPDX-License-Identifier: MIT */
/*
 * claims.h — every output path planned so far in a walk, and the input that
 * planned it first: how two inputs that would write one file are caught, and how
 * --prune and publishing tell an output a current input still makes.
 *
 * And the folders those outputs lie in: how an output that would be a file where
 * another input's output needs a folder (out/x.jpg and out/x.jpg/b.jpg) is caught
 * before either is made. A path is a file's, a folder's, or both (a collision).
 *
 * Keyed by the 64-bit hash of the path alone (32 bytes a slot, open addressing,
 * load <= 1/2); each claimant's input path is kept once in an append-only arena.
 * Two paths with one hash (odds ~ n^2 / 2^65) would be taken for one: reported as a
 * collision, never an overwrite.
 */
#ifndef IMGPOOL_CLAIMS_H
#define IMGPOOL_CLAIMS_H

#include <stdint.h>

typedef struct claims claims;

claims *claims_new(void);
/* NULL is a no-op. */
void claims_free(claims *c);

/* The input that claimed hash h, or NULL. */
const char *claims_find(const claims *c, uint64_t h);

/* Record that input claims the n hashes (new, or released). When memory runs out a
 * claim is dropped: collision checks get weaker, no file fails for it. */
void claims_add(claims *c, const uint64_t *h, int n, const char *input);

/* Give up the claim on hash h (no-op when unclaimed): claims_find() then says NULL,
 * and the next claimant takes it. For a claimant refused after it claimed, so
 * that the refusal does not fall on the one that may have the path. */
void claims_release(claims *c, uint64_t h);

/* The input of the first output claimed beneath folder h while one is, or NULL.
 * Its claim may have been released since while others beneath remain: it is still
 * named then (a slot keeps no list of them). */
const char *claims_folder_find(const claims *c, uint64_t h);

/* One more output claimed beneath folder h, by input (a string that outlives c:
 * claims_find()'s, the arena's copy). A release takes it back with
 * claims_folder_drop() (no-op when none is counted), so that a folder is free
 * again when the last output beneath it goes. Out of memory: not recorded, as
 * claims_add(). */
void claims_folder_add(claims *c, uint64_t h, const char *input);
void claims_folder_drop(claims *c, uint64_t h);

#endif
