/* SPDX-License-Identifier: MIT */
/*
 * discover_folder.c — what the walk makes of a folder it meets: the output folder
 * and earlier output folders (never walked as input), a folder replaced since the
 * folder holding it was read (never followed), one replaced while its entries are
 * listed (nothing of it walked), and mount points (noted for --prune). See
 * discover_internal.h.
 */
#include <fts.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "discover_internal.h"
#include "outdir.h"
#include "paths.h"

/* Is this stat the output folder? It is looked up again until it exists: the
 * workers may make it while we walk. */
int discover_is_out_dir(discover *d, const struct stat *st)
{
	if (!d->out_known) {
		struct stat os;
		if (stat(d->out_dir, &os) == 0 && S_ISDIR(os.st_mode)) {
			d->out_known = 1;
			d->out_dev = os.st_dev;
			d->out_ino = os.st_ino;
		}
	}
	return d->out_known && st->st_dev == d->out_dev && st->st_ino == d->out_ino;
}

/* Does folder path hold an imgpool output folder's own folder (OUT/.imgpool)? Such a
 * folder is an output folder of an earlier run: never walked as input. */
int discover_holds_private(const char *path)
{
	char *p = path_join(path, OUTDIR_PRIVATE);
	struct stat st;
	int yes = p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return yes;
}

/* A folder of the walk that is a mount point (discover_mount_points()); memory
 * running out forgets it, which costs only --prune's care for it. */
void discover_note_mount(discover *d, const char *folder)
{
	char *real = realpath(folder, NULL);
	char **more = real ? realloc(d->mounts, (size_t)(d->nmounts + 1) * sizeof *more) : NULL;
	if (!more) {
		free(real);
		return;
	}
	d->mounts = more;
	d->mounts[d->nmounts++] = real;
}

int discover_mount_points(const discover *d, const char *const **folders)
{
	*folders = (const char *const *)d->mounts;
	return d->nmounts;
}

/* Is the folder of entry e no longer the one its parent's listing found? fts
 * (FTS_NOCHDIR) opens a folder by its path when it descends, and follows a
 * symlink put there since: a folder swapped for a link to /etc or to a decoy
 * was walked, out of the tree. Looked at again just before the descent; what fts
 * lists from a folder swapped between this lstat() and its opendir() is caught by
 * discover_listed_elsewhere(). */
/* Is the folder at path not the one `was` describes any more (*gone: nothing
 * there)? */
static int folder_changed(const char *path, const struct stat *was, int *gone)
{
	struct stat now;
	*gone = lstat(path, &now) < 0;
	return *gone || !S_ISDIR(now.st_mode) || now.st_dev != was->st_dev ||
	       now.st_ino != was->st_ino;
}

int discover_folder_replaced(const FTSENT *e)
{
	int gone;
	return folder_changed(e->fts_accpath, e->fts_statp, &gone);
}

/* Is e's folder (below PATH) not the one the walk saw any more? fts opens a folder
 * by its path after visit() looked at it (discover_folder_replaced()), so a folder
 * swapped in that moment, for a symlink to another, say, has that other's entries
 * listed here; and one swapped while its entries come out has them met at a path
 * that now leads elsewhere. Looked at for every entry (an lstat): the folder is
 * then one error item, said once, and nothing listed from it is planned or walked
 * (the workers would not read through it either: thumb_run()). 1: skip e, with
 * *gave set when the error item is in *it. */
int discover_listed_elsewhere(discover *d, discover_item *it, const FTSENT *e, int *gave)
{
	const FTSENT *folder = e->fts_parent;
	*gave = 0;
	if (e->fts_level < 2 || e->fts_info == FTS_DP || !folder)
		return 0; /* PATH's own entries: PATH is the user's to give */
	if (folder == d->gone_folder)
		return 1;
	/* fts's entries share one path buffer, which holds e's path now: the
	 * folder's is its first fts_pathlen bytes */
	char path[PATH_MAX];
	int gone;
	if (folder->fts_pathlen >= sizeof path)
		return 0;
	memcpy(path, folder->fts_path, folder->fts_pathlen);
	path[folder->fts_pathlen] = '\0';
	if (!folder_changed(path, folder->fts_statp, &gone))
		return 0;
	d->gone_folder = folder;
	const char *rel = path + d->root_len;
	while (*rel == '/')
		rel++;
	*gave = discover_path_error(d, it, path, rel,
				    gone ? "this folder was removed or moved while the walk read it: "
					   "what it held is not walked"
					 : "this folder was replaced (by a symlink?) while the walk "
					   "read it: what it held is not walked");
	return 1;
}
