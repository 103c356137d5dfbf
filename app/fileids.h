/* SPDX-License-Identifier: MIT */
/*
 * fileids.h — the input files a walk has met, by canonical path, and which origin
 * met each first: how one photo reached through two PATHs (`in in/sub`, `in
 * in/sub/a.jpg`, a --files-from entry inside a folder given, a symlinked folder
 * beside its target) is done and answered once, though its two outputs differ.
 * An origin is one PATH or one list entry; a path met twice within one origin's
 * walk (two symlinks to one photo) is two inputs, each answered.
 *
 * Why the canonical path (realpath()) and not the inode: two hard links are two
 * names a user gave, each with its thumbnail; met under two PATHs, the second
 * was dropped with no answer. Exact keys (the path compared, not only its hash:
 * a false match would leave a file with no answer). The walker keeps one only
 * when a run has more than one origin, and pays a realpath() per file then.
 */
#ifndef IMGPOOL_FILEIDS_H
#define IMGPOOL_FILEIDS_H

#include <stdint.h>

typedef struct fileids fileids;

fileids *fileids_new(void);
/* NULL is a no-op. */
void fileids_free(fileids *f);

/* The origin that met the file at canonical path `real` first; a path met for the
 * first time is noted as origin's and origin is returned. When memory runs out
 * nothing is noted and origin is returned: the file counts as new (done twice at
 * worst, never left unanswered). */
uint32_t fileids_meet(fileids *f, const char *real, uint32_t origin);

/* The origin that met `real` first, as fileids_meet(), but a path not met yet is
 * not noted (origin is returned): an entry refused for how it was named (not
 * under --base) answers for itself, and does not take the file from a later
 * entry that names it rightly. */
uint32_t fileids_met(const fileids *f, const char *real, uint32_t origin);

#endif
