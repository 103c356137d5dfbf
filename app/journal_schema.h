/* SPDX-License-Identifier: MIT */
/*
 * journal_schema.h — the journal's file format (private to journal*.c, but for
 * journal_open_view(), which status.c uses too): its tables,
 * the schema version in PRAGMA user_version, and the migrations from every older
 * version, one transaction each.
 *
 *   1  files (one row per input; outputs as one '\n'-joined string), runs
 *   2  outputs as rows of their own (path relative to OUT, size, mtime, owner), the
 *      quarantine, failure kinds, limits and strikes on files; schema-1 outputs
 *      converted where they provably name a file beneath OUT
 *   3  the settings fingerprint on each output row
 *   4  racy on files: the input's mtime was not safely older than the moment it was
 *      read (plan_racy()); rows of older schemas marked so from their run's times
 *   5  roots: the device each PATH (and each mount point a walk went into) was on
 *      when a run last found it not empty
 */
#ifndef IMGPOOL_JOURNAL_SCHEMA_H
#define IMGPOOL_JOURNAL_SCHEMA_H

#include <stddef.h>

#include <sqlite3.h>

#include "outdir.h"

#define SCHEMA_VERSION 8

/* A runs.started text (column c) as seconds since the epoch, from any form
 * imgpool wrote it in: "2026-12-02T22:01:54+01:00" (RFC 3339, clock_iso_now()),
 * the earlier "2026-12-02T22:01:54+0100", or the oldest "2026-12-02 22:01:54" in
 * local time. NULL for anything else. */
#define JOURNAL_SQL_STARTED_EPOCH(c)                                                       \
	"CAST(CASE length(" c ") WHEN 25 THEN strftime('%s', " c ") "                      \
	"WHEN 24 THEN strftime('%s', substr(" c ", 1, 22) || ':' || "                       \
	"substr(" c ", 23, 2)) WHEN 19 THEN strftime('%s', " c ", 'utc') END AS INTEGER)"

/* Write an output row ahead of its rename: ?1 path, ?2 size, ?3 mtime, ?4 dev,
 * ?5 ino, ?6 root, ?7 rel, ?8 fingerprint, ?9 checksum, and the input it is made
 * from: ?10 size, ?11 mtime, ?12 checksum (NULL: not known). */
#define JOURNAL_SQL_INTENT                                                              \
	"INSERT OR REPLACE INTO outputs (path, size, mtime_ns, dev, ino, root, rel, state," \
	" fingerprint, checksum, src_size, src_mtime_ns, src_checksum)"                     \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11, ?12)"

/* Open journal `file` of OUT/.imgpool read-only (a dry run's, another shard's,
 * `imgpool status`'s), never writing a file that is not the journal's alone. It is
 * read through its -wal (what a run going on, or killed, wrote) where its -shm is
 * its own or absent; otherwise immutable (SQLite then never opens, makes or writes
 * a side file), and also where there is no -wal when change_nothing (a dry run,
 * status: a reader would leave a -wal and -shm behind). Read through its -wal, it
 * waits up to 5 s for a writer's lock (SQLITE_BUSY after). SQLITE_CANTOPEN when the
 * journal is absent or not a regular file (*db then NULL). */
int journal_open_view(outdir *od, const char *file, int change_nothing, sqlite3 **db);

/* PRAGMA user_version, or -1 when the file is not an SQLite database. */
int journal_schema_version(sqlite3 *db);

/* How opening a file as a journal went. */
typedef enum journal_schema_status {
	JOURNAL_SCHEMA_OPEN = 0,
	/* The file is not a journal imgpool can use (not SQLite, corrupt, a failed
	 * integrity check, a newer schema): it is moved aside. */
	JOURNAL_SCHEMA_DAMAGED,
	/* It could not be opened or read now (no descriptor or memory left,
	 * permissions, I/O, another program's lock): that says nothing of the file,
	 * which must stay where it is (moved aside, the proof of every thumbnail
	 * goes with it). */
	JOURNAL_SCHEMA_UNAVAILABLE,
} journal_schema_status;

/* Open path read-write (never through a symlink at its name) and make it a journal
 * of SCHEMA_VERSION: a new file gets the tables, an older one is migrated (od lets
 * schema 1's outputs be checked beneath OUT). Unless JOURNAL_SCHEMA_OPEN, why says
 * what went wrong; *db may be set either way (sqlite3_close() it). */
journal_schema_status journal_schema_open(const char *path, outdir *od, sqlite3 **db,
					  char *why, size_t len);

/* Move OUT/.imgpool/<file> (and its -wal and -shm) aside as
 * "<file>.unusable-<time>", and say so in warn. */
void journal_move_aside(outdir *od, const char *file, const char *why, char *warn,
			size_t wlen);

#endif
