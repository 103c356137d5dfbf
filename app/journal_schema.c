/* SPDX-License-Identifier: MIT */
/*
 * journal_schema.c — the journal's tables, opening a file as a journal, migrating
 * older schemas, moving an unusable file aside. See journal_schema.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "journal_schema.h"

/* ------------------------------------------------------------------------- */
/* Schema                                                                     */

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS files ("
	" root TEXT NOT NULL, rel BLOB NOT NULL, size INTEGER, mtime_ns INTEGER,"
	" fingerprint INTEGER, checksum INTEGER, status INTEGER, cause TEXT,"
	" outputs BLOB, attempts INTEGER DEFAULT 0, ms REAL, seen_run INTEGER,"
	" kind INTEGER DEFAULT 0, limits INTEGER DEFAULT 0, strikes INTEGER DEFAULT 0,"
	" racy INTEGER DEFAULT 0, PRIMARY KEY (root, rel)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS runs ("
	" id INTEGER PRIMARY KEY, started TEXT, settings TEXT, wall_s REAL,"
	" done INTEGER, failed INTEGER, skipped INTEGER, interrupted INTEGER);";

/* Added by version 2: outputs as rows of their own, and the quarantine. */
static const char schema_v2[] =
	"CREATE TABLE IF NOT EXISTS outputs ("
	" path BLOB NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
	" dev INTEGER, ino INTEGER, root TEXT NOT NULL, rel BLOB NOT NULL,"
	" state INTEGER NOT NULL, fingerprint INTEGER DEFAULT 0, checksum INTEGER DEFAULT 0,"
	" dir_id INTEGER DEFAULT 0, stamp INTEGER DEFAULT 0,"
	" src_size INTEGER, src_mtime_ns INTEGER, src_checksum INTEGER,"
	" PRIMARY KEY (path, size, mtime_ns)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS outputs_owner ON outputs (root, rel);"
	"CREATE TABLE IF NOT EXISTS quarantine ("
	" name TEXT PRIMARY KEY, path BLOB NOT NULL, size INTEGER, mtime_ns INTEGER);";

/* Version 3: the settings each output was made with (its owner's fingerprint when
 * the row was written ahead), so that adoption never takes a thumbnail made with
 * other settings. Rows of version 2 get their owner's. */
static const char v2_to_v3[] =
	"ALTER TABLE outputs ADD COLUMN fingerprint INTEGER DEFAULT 0;";
static const char fill_v3[] =
	"UPDATE outputs SET fingerprint = coalesce((SELECT f.fingerprint FROM files f"
	" WHERE f.root = outputs.root AND f.rel = outputs.rel AND f.status = 1), 0)"
	" WHERE fingerprint = 0;";

/* Version 4: racy on files (plan_racy()). A row an older imgpool wrote is racy
 * where the mtime it recorded lies within 2 s of the run that wrote it (runs.started,
 * local time with the zone, as JOURNAL_SQL_STARTED_EPOCH reads it, or
 * "2026-12-02 22:01:54" without the zone as imgpool wrote it before, to that run's end, or without an end
 * when it was killed; 1 s more for started's truncation): the file may have been
 * rewritten within its mtime's granule after it was read, and the next run compares
 * its bytes once. Rows of other runs, and rows whose run is not known, are not. */
static const char v3_to_v4[] =
	"ALTER TABLE files ADD COLUMN racy INTEGER DEFAULT 0;";
static const char fill_v4[] =
	"UPDATE files SET racy = 1 WHERE status = 1 AND EXISTS (SELECT 1 FROM"
	" (SELECT " JOURNAL_SQL_STARTED_EPOCH("started") " AS t, wall_s"
	"  FROM runs WHERE id = files.seen_run AND length(started) IN (19, 24, 25)) r"
	" WHERE files.mtime_ns > (r.t - 2) * 1000000000"
	" AND (r.wall_s IS NULL OR files.mtime_ns < (r.t + r.wall_s + 3) * 1000000000));";

/* Version 5: the device each PATH, and each mount point a walk went into, was on
 * when a run last found it not empty, so that --prune tells an emptied folder
 * from a disk that is not mounted there (prune_note_roots()). */
static const char schema_v5[] =
	"CREATE TABLE IF NOT EXISTS roots (root TEXT PRIMARY KEY, dev INTEGER NOT NULL);";

/* Version 6: each output's checksum (XXH3-64 of its bytes) and stamp (io_stamp():
 * its inode and change time once in place): a file at an output path with the
 * recorded size and mtime is imgpool's only when it is the very file imgpool put
 * there, unchanged (its stamp), or has its bytes (a copy, a restore, a disk whose
 * inode numbers change when it is mounted again). A file of the user's with the
 * thumbnail's size and mtime (touch -r, cp -p) had been taken for imgpool's,
 * replaced and pruned. Older rows (0, 0) keep size and mtime alone. And the
 * identity of the folder each output was put in (dir_id:
 * io_identity(), its inode and birth time), so
 * that an output gone from its place takes with it only that folder, left empty,
 * not one of the user's made since at its path. Neither written nor read since
 * version 8, whose folders table says which folders imgpool made. */
static const char v5_to_v6[] = "ALTER TABLE outputs ADD COLUMN checksum INTEGER DEFAULT 0;"
			       "ALTER TABLE outputs ADD COLUMN dir_id INTEGER DEFAULT 0;"
			       "ALTER TABLE outputs ADD COLUMN stamp INTEGER DEFAULT 0;";

/* Version 7: the input each output was made from, as it was then (its size,
 * mtime and checksum; NULL in older rows: not known). The input's own row alone
 * said which file its outputs show, and that row is committed after the outputs'
 * renames: a kill -9 between them left the row of the file before, and the
 * outputs made from other bytes or with other settings were up to date for good;
 * a row the kill lost entirely let an older file synced in its place (rsync -a)
 * adopt them. */
static const char v6_to_v7[] = "ALTER TABLE outputs ADD COLUMN src_size INTEGER;"
			       "ALTER TABLE outputs ADD COLUMN src_mtime_ns INTEGER;"
			       "ALTER TABLE outputs ADD COLUMN src_checksum INTEGER;";

/* Version 8: the folders beneath OUT imgpool made, each with its io_identity()
 * (journal_folders.c): --prune removes an emptied folder only where imgpool made
 * it. Folders an older imgpool made are not known (the outputs' dir_id says in
 * which folder an output was put, not who made the folder): they stay. */
static const char schema_v8[] =
	"CREATE TABLE IF NOT EXISTS folders (path BLOB PRIMARY KEY, id INTEGER NOT NULL)"
	" WITHOUT ROWID;";

static const char v1_to_v2_columns[] =
	"ALTER TABLE files ADD COLUMN kind INTEGER DEFAULT 0;"
	"ALTER TABLE files ADD COLUMN limits INTEGER DEFAULT 0;"
	"ALTER TABLE files ADD COLUMN strikes INTEGER DEFAULT 0;";

/* Is rel a clean path below OUT (no empty, "." or ".." component)? */
static int clean_rel(const char *rel, size_t n)
{
	if (!n || rel[0] == '/')
		return 0;
	for (size_t i = 0; i < n;) {
		size_t k = i;
		while (k < n && rel[k] != '/')
			k++;
		size_t len = k - i;
		if (!len || (len == 1 && rel[i] == '.') ||
		    (len == 2 && rel[i] == '.' && rel[i + 1] == '.'))
			return 0;
		i = k + 1;
		if (k + 1 == n)
			return 0; /* trailing '/' */
	}
	return 1;
}

/* rel of a schema-1 output string below OUT: it started with OUT as the user typed
 * it then; accept it only where that is OUT as typed now, or OUT's real path. */
static const char *legacy_rel(const outdir *od, const char *piece)
{
	const char *bases[2] = {outdir_path(od), outdir_real(od)};
	for (int b = 0; b < 2; b++) {
		size_t n = bases[b] ? strlen(bases[b]) : 0;
		if (n && !strncmp(piece, bases[b], n) && piece[n] == '/' &&
		    clean_rel(piece + n + 1, strlen(piece + n + 1)))
			return piece + n + 1;
	}
	return NULL;
}

/*
 * Schema 1 kept each input's outputs as one '\n'-joined string built from -o as
 * typed. A name may hold '\n', so a piece is taken as an output only when it is
 * OUT (as typed now, or its real path) plus a clean relative path, names a regular
 * file beneath OUT (never through a symlink) and is not older than the input was.
 * Anything else is dropped: the file is then no longer provably imgpool's, which
 * costs an "exists and was not made by imgpool" at worst, never a deletion.
 */
static void convert_v1_outputs(sqlite3 *db, outdir *od)
{
	sqlite3_stmt *sel = NULL, *ins = NULL;
	if (!od || sqlite3_prepare_v2(db, "SELECT root, rel, mtime_ns, outputs FROM files"
					  " WHERE outputs IS NOT NULL", -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, JOURNAL_SQL_INTENT, -1, &ins, NULL) != SQLITE_OK) {
		sqlite3_finalize(sel);
		return;
	}
	while (sqlite3_step(sel) == SQLITE_ROW) {
		int64_t in_mtime = sqlite3_column_int64(sel, 2);
		const char *blob = sqlite3_column_blob(sel, 3);
		size_t len = (size_t)sqlite3_column_bytes(sel, 3);
		char *outs = blob ? strndup(blob, len) : NULL;
		for (char *save = NULL, *p = outs ? strtok_r(outs, "\n", &save) : NULL; p;
		     p = strtok_r(NULL, "\n", &save)) {
			const char *rel = legacy_rel(od, p);
			struct stat st;
			if (!rel || outdir_stat(od, rel, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			file_ident id = outdir_ident_of(&st);
			if (id.mtime_ns < in_mtime)
				continue;
			sqlite3_reset(ins);
			sqlite3_bind_blob(ins, 1, rel, (int)strlen(rel), SQLITE_TRANSIENT);
			sqlite3_bind_int64(ins, 2, (sqlite3_int64)id.size);
			sqlite3_bind_int64(ins, 3, id.mtime_ns);
			sqlite3_bind_int64(ins, 4, (sqlite3_int64)id.dev);
			sqlite3_bind_int64(ins, 5, (sqlite3_int64)id.ino);
			sqlite3_bind_value(ins, 6, sqlite3_column_value(sel, 0));
			sqlite3_bind_value(ins, 7, sqlite3_column_value(sel, 1));
			sqlite3_bind_int64(ins, 8, 0); /* filled from the owner's row (fill_v3) */
			sqlite3_step(ins);
		}
		free(outs);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	sqlite3_exec(db, "UPDATE outputs SET state=1; UPDATE files SET outputs=NULL", NULL,
		     NULL, NULL);
}

#define TEXT_OF_(x) #x
#define TEXT_OF(x) TEXT_OF_(x)

/* Bring the schema to SCHEMA_VERSION in one transaction: 0, or -1 with the failed
 * statement's error left on db and the transaction open (the caller closes the
 * handle, which rolls it back). */
static int migrate(sqlite3 *db, int version, outdir *od)
{
	int ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
	if (ok && version == 1)
		ok = sqlite3_exec(db, v1_to_v2_columns, NULL, NULL, NULL) == SQLITE_OK;
	if (ok)
		ok = sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK &&
		     sqlite3_exec(db, schema_v2, NULL, NULL, NULL) == SQLITE_OK;
	if (ok && version == 2)
		ok = sqlite3_exec(db, v2_to_v3, NULL, NULL, NULL) == SQLITE_OK;
	if (ok && version >= 1 && version <= 3)
		ok = sqlite3_exec(db, v3_to_v4, NULL, NULL, NULL) == SQLITE_OK;
	if (ok && version == 1)
		convert_v1_outputs(db, od);
	if (ok && version >= 1 && version <= 2)
		ok = sqlite3_exec(db, fill_v3, NULL, NULL, NULL) == SQLITE_OK;
	if (ok && version >= 1 && version <= 3)
		ok = sqlite3_exec(db, fill_v4, NULL, NULL, NULL) == SQLITE_OK;
	if (ok)
		ok = sqlite3_exec(db, schema_v5, NULL, NULL, NULL) == SQLITE_OK;
	if (ok && version >= 2 && version <= 5)
		ok = sqlite3_exec(db, v5_to_v6, NULL, NULL, NULL) == SQLITE_OK;
	if (ok && version >= 2 && version <= 6)
		ok = sqlite3_exec(db, v6_to_v7, NULL, NULL, NULL) == SQLITE_OK;
	if (ok)
		ok = sqlite3_exec(db, schema_v8, NULL, NULL, NULL) == SQLITE_OK;
	if (ok)
		ok = sqlite3_exec(db, "PRAGMA user_version=" TEXT_OF(SCHEMA_VERSION) "; COMMIT",
				  NULL, NULL, NULL) == SQLITE_OK;
	return ok ? 0 : -1;
}

/* PRAGMA user_version, or -1 when the file is not an SQLite database. */
int journal_schema_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int version = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

/* Why the last call on db failed: the machine's state now (no descriptor or memory
 * left, permissions, I/O, a full disk, a lock held by another program past the busy
 * timeout), which says nothing of the file, or else the file's content (not SQLite,
 * corrupt, tables not as a journal of ours has them). The cause goes to why, with
 * the system's errno where SQLite has one ("unable to open database file (Too many
 * open files)"). */
static journal_schema_status failed(sqlite3 *db, char *why, size_t len)
{
	int e = sqlite3_system_errno(db);
	/* Out of inodes, SQLite's last try (its -wal or -journal read-only) leaves
	 * ENOENT, "No such file or directory", of a file that is there: the
	 * filesystem's state is the cause to say. */
	struct statvfs vfs;
	const char *name = sqlite3_db_filename(db, "main");
	char *dir = name && *name ? strdup(name) : NULL, *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		*slash = '\0';
	const char *sys = e ? strerror(e) : "";
	if (slash && statvfs(dir, &vfs) == 0 && vfs.f_files > 0 && vfs.f_favail == 0)
		e = ENOSPC, sys = "no inode left on its filesystem, df -i";
	free(dir);
	snprintf(why, len, "%s%s%s%s", sqlite3_errmsg(db), e ? " (" : "", sys, e ? ")" : "");
	if (sqlite3_extended_errcode(db) == SQLITE_CANTOPEN_SYMLINK)
		return JOURNAL_SCHEMA_DAMAGED; /* not ours to read: moving it aside is safe */
	switch (sqlite3_errcode(db)) {
	case SQLITE_CANTOPEN: case SQLITE_IOERR: case SQLITE_NOMEM: case SQLITE_BUSY:
	case SQLITE_LOCKED: case SQLITE_PERM: case SQLITE_READONLY: case SQLITE_FULL:
	case SQLITE_AUTH: case SQLITE_PROTOCOL: case SQLITE_INTERRUPT:
		return JOURNAL_SCHEMA_UNAVAILABLE;
	default:
		return JOURNAL_SCHEMA_DAMAGED;
	}
}

journal_schema_status journal_schema_open(const char *path, outdir *od, sqlite3 **db,
					  char *why, size_t len)
{
	why[0] = '\0';
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				      SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK)
		return *db ? failed(*db, why, len)
			   : (snprintf(why, len, "out of memory"), JOURNAL_SCHEMA_UNAVAILABLE);
	sqlite3_busy_timeout(*db, 5000);
	int version = journal_schema_version(*db);
	if (version < 0) {
		if (failed(*db, why, len) == JOURNAL_SCHEMA_UNAVAILABLE)
			return JOURNAL_SCHEMA_UNAVAILABLE;
		snprintf(why, len, "not an SQLite database");
		return JOURNAL_SCHEMA_DAMAGED;
	}
	if (version > SCHEMA_VERSION) {
		snprintf(why, len, "written by a newer imgpool (unknown schema version)");
		return JOURNAL_SCHEMA_DAMAGED;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(*db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		if (failed(*db, why, len) == JOURNAL_SCHEMA_UNAVAILABLE)
			return JOURNAL_SCHEMA_UNAVAILABLE;
		snprintf(why, len, "it failed SQLite's integrity check");
		return JOURNAL_SCHEMA_DAMAGED;
	}
	const unsigned char *ok = sqlite3_column_text(st, 0);
	int good = ok && !strcmp((const char *)ok, "ok");
	sqlite3_finalize(st);
	if (!good) {
		snprintf(why, len, "it failed SQLite's integrity check");
		return JOURNAL_SCHEMA_DAMAGED;
	}
	if (sqlite3_exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL,
			 NULL, NULL) != SQLITE_OK)
		return failed(*db, why, len);
	/* Version 0 is a new file. */
	if (version < SCHEMA_VERSION && migrate(*db, version, od) < 0)
		return failed(*db, why, len);
	return JOURNAL_SCHEMA_OPEN;
}

/* Move a journal we cannot use aside (with its -wal and -shm) and say so. */
void journal_move_aside(outdir *od, const char *file, const char *why, char *warn,
			size_t wlen)
{
	char aside[300], a[320], b[320];
	long now = (long)time(NULL);
	/* A name no journal moved aside before has (the rename never replaces): two
	 * within one second (or one damaged again at once) must not replace the
	 * first, which may hold rows a person can still recover. */
	snprintf(aside, sizeof aside, "%s.unusable-%ld", file, now);
	for (int n = 2; n < 1000 && outdir_private_rename(od, file, aside) < 0 && errno == EEXIST;
	     n++)
		snprintf(aside, sizeof aside, "%s.unusable-%ld-%d", file, now, n);
	for (const char *suffix = "-wal"; suffix; suffix = suffix[1] == 'w' ? "-shm" : NULL) {
		snprintf(a, sizeof a, "%s%s", file, suffix);
		snprintf(b, sizeof b, "%s%s", aside, suffix);
		outdir_private_rename(od, a, b);
	}
	snprintf(warn, wlen, "imgpool: warning: the journal %s/" OUTDIR_PRIVATE "/%s was "
			     "unusable (%s); moved aside to %s and started anew",
		 outdir_path(od), file, why, aside);
}

