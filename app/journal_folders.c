/* SPDX-License-Identifier: MIT */
/*
 * journal_folders.c — the folders beneath OUT imgpool made, as the journal records
 * them (schema 8), and the journal as outdir's folder record. See journal.h.
 *
 * Why a record of its own: an output's row says which file imgpool made, not
 * which of the folders above it imgpool made. A folder the user made before any
 * run (out/web, with its own mode and group) was removed by --prune once the
 * thumbnails imgpool had put in it were gone; imgpool may remove only what it can
 * show it made.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "journal.h"
#include "journal_internal.h"

/* A dry run's record of a folder the run would record (a copied one adopted):
 * in memory, so that what the dry run says next agrees with the run. */
static int made_dry(journal *j, const char *path, uint64_t id)
{
	struct dry_folder *more = realloc(j->dry_folders, (j->ndry_folders + 1) * sizeof *more);
	if (!more)
		return -1;
	j->dry_folders = more;
	if (!(more[j->ndry_folders].path = strdup(path)))
		return -1;
	more[j->ndry_folders++].id = id;
	return 0;
}

int journal_folder_made(journal *j, const char *path, uint64_t id)
{
	sqlite3_stmt *s = j ? j->st[S_FOLDER_ADD] : NULL;
	if (j && j->readonly)
		return made_dry(j, path, id);
	if (!s)
		return -1;
	sqlite3_bind_blob(s, 1, path, (int)strlen(path), SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)id);
	/* Committed at once: the folder takes its place right after (outdir.h). In
	 * WAL mode with synchronous=NORMAL a commit is a write, not an fsync. */
	return journal_write_step(j, s, "recording a folder") < 0 || journal_sync(j) < 0 ? -1 : 0;
}

/* One journal's answer through its lookup s: 1 when it records path as id. */
static int ours_in(journal *j, sqlite3_stmt *s, const char *path, uint64_t id)
{
	if (!s)
		return 0; /* a journal older than schema 8 */
	sqlite3_reset(s);
	sqlite3_bind_blob(s, 1, path, (int)strlen(path), SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)id);
	int found = journal_step_read(j, s) == SQLITE_ROW;
	sqlite3_reset(s);
	return found;
}

/* Is path recorded, as id (0: as any identity), by a journal of the folder? */
static int recorded(journal *j, const char *path, uint64_t id)
{
	if (!j)
		return 0;
	for (size_t i = 0; i < j->ndry_folders; i++)
		if (!strcmp(j->dry_folders[i].path, path) && (!id || j->dry_folders[i].id == id))
			return 1;
	if (ours_in(j, j->st[S_FOLDER_GET], path, id))
		return 1;
	for (int i = 0; i < j->nothers; i++)
		if (ours_in(j, j->others[i].folder, path, id))
			return 1;
	return 0;
}

int journal_folder_ours(journal *j, const char *path, uint64_t id, uint64_t earlier)
{
	if (!id)
		return 0;
	if (recorded(j, path, id))
		return 1;
	/* Recorded by a build before the generation: as it is now from here on. */
	if (!earlier || !recorded(j, path, earlier))
		return 0;
	journal_folder_made(j, path, id);
	return 1;
}

int journal_folder_known(journal *j, const char *path)
{
	return recorded(j, path, 0);
}

int journal_folder_forget(journal *j, const char *path)
{
	sqlite3_stmt *s = j ? j->st[S_FOLDER_DEL] : NULL;
	if (!s)
		return 0;
	sqlite3_bind_blob(s, 1, path, (int)strlen(path), SQLITE_STATIC);
	return journal_write_step(j, s, "forgetting a folder");
}

static int made(void *data, const char *rel, uint64_t id)
{
	return journal_folder_made(data, rel, id);
}

static int ours(void *data, const char *rel, uint64_t id, uint64_t earlier)
{
	return journal_folder_ours(data, rel, id, earlier);
}

static void removed(void *data, const char *rel)
{
	journal_folder_forget(data, rel);
}

void journal_keep_folders(journal *j)
{
	if (!j || !j->od)
		return;
	outdir_record_folders(j->od, &(outdir_folder_record){made, ours, removed, j});
	j->keeps_folders = 1;
}
