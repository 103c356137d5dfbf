/* SPDX-License-Identifier: MIT */
/*
 * prune.h — --prune: remove the outputs of inputs that are gone.
 *
 * After a whole walk, for every input a journal of the folder records under the
 * given roots (and in this run's shard)
 * whose file no longer exists (lstat says ENOENT, folder by folder from the root
 * without following a symlink on the way, or a file is on the way, or a folder (or a
 * symlink to one) is where the file was: not merely excluded, unreadable, or behind a symlinked
 * folder on an unmounted disk, or in a mount point /etc/fstab names whose disk is
 * not mounted: prune_unmounted_disk(), or in a folder empty now and on another
 * device than a run recorded: prune_note_roots(); inputs behind a symlink are told
 * of: on_behind_link), each output it owns is deleted when it is still
 * exactly the file imgpool made (size and mtime as recorded, checked again in the
 * quarantine: publish.h) and no current input plans that path (an input renamed,
 * IMG_1.JPG -> IMG_1.jpg, owns it now). A changed output is kept and forgotten:
 * it is the user's now. Folders left empty are removed up to OUT.
 */
#ifndef IMGPOOL_PRUNE_H
#define IMGPOOL_PRUNE_H

#include <stdint.h>

#include "journal.h"
#include "publish.h"
#include "shard.h"

typedef struct prune_config {
	const publisher *pb;
	const char *const *roots;     /* real paths of the folder PATHs */
	int nroots;
	int dry_run;                  /* list, change nothing */
	shard shard;                  /* only inputs of this run's share (n == 0: all) */
	/* told of each output removed (or, dry run, to be removed) */
	void (*on_pruned)(void *data, const char *output, const char *input, int dry_run);
	/* told of each output that could not be removed (cause): it is kept, and so
	 * are its input's journal rows, for the next --prune */
	void (*on_kept)(void *data, const char *output, const char *input, const char *cause,
			int dry_run);
	/* told, once per symlink, of the inputs recorded behind link (a folder on
	 * the way to them that is a symlink now, live or dangling, which the walk
	 * does not follow): n of them have thumbnails no current input plans, kept
	 * since a symlink proves nothing gone (NULL: not told) */
	void (*on_behind_link)(void *data, const char *link, int64_t n, int dry_run);
	void *data;
} prune_config;

/* Is folder a mount point /etc/fstab names whose disk is not mounted now (the
 * folder is on the device of the folder that holds it)? Nothing under it is taken
 * for gone. */
int prune_unmounted_disk(const char *folder);

/* Must --prune leave the thumbnails of PATH folder alone, as on a disk that is not
 * mounted? 1 (why says so) when folder is a mount point /etc/fstab names whose
 * disk is not mounted (prune_unmounted_disk()), or when it is empty and on another
 * device than the one journal j recorded when a run last found files in it
 * (prune_note_roots()): a disk mounted by hand, not mounted now. An emptied folder
 * on its own device is pruned as usual. */
int prune_root_unsure(journal *j, const char *folder, char *why, size_t len);

/* Record the device of each PATH folder that is not empty, and of each mount point
 * walk d went into, for the --prune of later runs (after this run's own): a PATH
 * (prune_root_unsure()) or a folder in it (an input missing there is not taken
 * for gone) that is empty and on another device then is a disk not mounted. */
void prune_note_roots(journal *j, const char *const *folders, int n, const discover *d);

/* Returns the number of outputs removed (listed). *cause: NULL, or what went wrong
 * with the journal (a write; or a lookup: the prune was not whole, and the rows of
 * inputs whose outputs could not be read are kept for the next one). */
int64_t prune_gone(const prune_config *cfg, const char **cause);

#endif
