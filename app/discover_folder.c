/* SPDX-License-Identifier: MIT */
/*
 * discover_folder.c — what the walk makes of a folder it meets: the output folder
 * and earlier output folders (never walked as input), a folder replaced since the
 * folder holding it was read (never followed), and mount points (noted for
 * --prune). See discover_internal.h.
 */
#include <fts.h>
#include <stdlib.h>
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
 * was walked, out of the tree. Looked at again just before the descent; the
 * moment between this lstat() and fts' opendir() remains. */
int discover_folder_replaced(const FTSENT *e)
{
	struct stat now;
	return lstat(e->fts_accpath, &now) < 0 || !S_ISDIR(now.st_mode) ||
	       now.st_dev != e->fts_statp->st_dev || now.st_ino != e->fts_statp->st_ino;
}
