/* SPDX-License-Identifier: MIT */
/*
 * fileids.h — the input files a walk has met, by identity (device and inode), and
 * which origin met each first: how one photo reached through two PATHs (`in
 * in/sub`, `in in/sub/a.jpg`, a --files-from entry inside a folder given, a
 * symlinked folder beside its target) is done and answered once, though its two
 * outputs differ. An origin is one PATH or one list entry; two names of one inode
 * met within one origin's walk (hard links) are two inputs, each answered.
 *
 * Exact keys (no hash stands in for them: a false match would leave a file with
 * no answer), 24 bytes a slot at load <= 1/2. The walker keeps one only when a
 * run has more than one origin.
 */
#ifndef IMGPOOL_FILEIDS_H
#define IMGPOOL_FILEIDS_H

#include <stdint.h>

typedef struct fileids fileids;

fileids *fileids_new(void);
/* NULL is a no-op. */
void fileids_free(fileids *f);

/* The origin that met file (dev, ino) first; a file met for the first time is
 * noted as origin's and origin is returned. When memory runs out nothing is noted
 * and origin is returned: the file counts as new (done twice at worst, never
 * left unanswered). */
uint32_t fileids_meet(fileids *f, uint64_t dev, uint64_t ino, uint32_t origin);

#endif
