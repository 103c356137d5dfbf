/* SPDX-License-Identifier: MIT */
/*
 * outdir_internal.h — the handle outdir.c (opening OUT, moving beneath it),
 * outdir_folders.c (the folders beneath it) and outdir_private.c (OUT/.imgpool
 * and the temp folder) share. Private to them: the contract is outdir.h.
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
	char kept_name[64]; /* the last file of another's take_back() kept in the quarantine */
	int no_openat2;    /* openat2 was refused once: walk from then on */
	struct made_folder *made; /* the folders outdir_open() made, outermost first */
	int nmade;
	outdir_folder_record folders; /* which folders beneath OUT imgpool made */
	unsigned fcount;   /* temp names of folders made so far */
	int tmp_acl;       /* the temp folder kept a default ACL (1: its removal failed), not (0) */
	struct { dev_t dev; ino_t ino; } kept[OUTDIR_KEPT_MAX]; /* outdir_keep() */
	int nkept;
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

/* Is pfd (opened for rel) still the folder rel's parent is, beneath OUT? A folder
 * on the way moved out of OUT (or swapped) meanwhile takes pfd with it: a file put
 * in or taken from pfd then was outside OUT. 0: it is. -1 with errno
 * OUTDIR_EMOVED: it is not (rel's folders are gone or another folder is there),
 * or with the errno of the look when it cannot be told (EMFILE, ENOMEM, EACCES):
 * the caller then undoes what it did as for a moved one, and says why truly
 * (at a low descriptor limit every thumbnail was "moved out of the output
 * folder"). */
int outdir_parent_in_place(outdir *od, const char *rel, int pfd);

/* A component that is not a folder where one is needed, met with err: ELOOP where
 * it is a symlink (so that "a symlink is in the way" is what the user reads), else
 * err. */
int outdir_not_a_folder(int dirfd, const char *name, int err);

/* Temp names of the folders outdir_folders.c makes in the temp folder ("folder-"
 * pid "-" count), which outdir_private.c's sweeps remove (empty) after a kill. */
#define OUTDIR_FOLDER_TEMP_PREFIX "folder-"

/* Has the folder open at fd (O_PATH too) a default ACL, which one made in it
 * takes? 1, or 0; not known (no read permission): taken as one (1). */
int outdir_default_acl(int fd);

/* Give name, a file or folder just made in folder dirfd with mode (IO_NEW_FILE_MODE,
 * 0777), what making it in the folder open at pfd (O_PATH too) gives instead:
 * pfd's group where pfd has the setgid bit, this process's otherwise (and a
 * folder that bit with it); pfd's default ACL, masked by mode (and a folder's
 * own default). The temp folder has no default ACL of its own
 * (outdir_tmp_setup()). Only to a regular file or folder, and where made is not
 * NULL only to that file (its dev and inode): nothing is changed, and errno is
 * ESTALE, where another file is at name; EINVAL where it is not a regular file
 * or folder. 0, or -1 with errno where it cannot be made so (those; not a
 * member of that group; a filesystem that refuses the ACL): what can be given
 * is given. outdir_inherit.c. */
int outdir_as_made_in(int dirfd, const char *name, int pfd, mode_t mode,
		      const file_ident *made);

#endif
