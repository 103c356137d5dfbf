/* SPDX-License-Identifier: MIT */
/*
 * outdir_internal.h — the handle outdir.c (resolving, opening, moving beneath OUT)
 * and outdir_private.c (OUT/.imgpool and the temp folder) share. Private to them:
 * the contract is outdir.h.
 */
#ifndef IMGPOOL_OUTDIR_INTERNAL_H
#define IMGPOOL_OUTDIR_INTERNAL_H

#include "outdir.h"

struct outdir {
	char *path;        /* as given, trailing '/' trimmed */
	char *real;        /* canonical; NULL when OUT is absent (dry run) */
	int fd;            /* OUT, O_DIRECTORY */
	int priv;          /* OUT/.imgpool, or -1 */
	int had_priv;
	int quarantine;    /* OUT/.imgpool/quarantine, opened on first use, or -1 */
	int tmp;           /* the workers' temp folder, or -1 */
	char *tmp_name, *tmp_path;
	file_ident tmp_id;
	int (*tmp_ours)(const char *entry); /* which entries there are imgpool's */
	unsigned qcount;   /* quarantine names made so far */
	int no_openat2;    /* openat2 was refused once: walk from then on */
	struct made_folder *made; /* the folders outdir_open() made, outermost first */
	int nmade;
};

/* One folder outdir_open() made: the folder it was made in (an O_PATH fd kept
 * for the run), its name there, and what it was when made. */
struct made_folder {
	int parent;
	char *name;
	file_ident id;
};

/* rename without replacing (EEXIST where to is taken): renameat2(RENAME_NOREPLACE),
 * or link + unlink where the filesystem does not know the flag (EINVAL; NFS, some
 * FUSE); EOPNOTSUPP where it has neither (outdir_strerror() says so). */
int outdir_move_noreplace(int from_dir, const char *from, int to_dir, const char *to);

#endif
