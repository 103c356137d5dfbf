/* SPDX-License-Identifier: MIT */
/*
 * journal_internal.h — the handle journal.c (rows) and journal_open.c (opening,
 * closing) share. Private to them: the contract is journal.h.
 */
#ifndef IMGPOOL_JOURNAL_INTERNAL_H
#define IMGPOOL_JOURNAL_INTERNAL_H

#include <stdint.h>

#include <sqlite3.h>

#include "journal.h"
#include "outdir.h"

/* Other journals of the folder looked at for ownership (shards). */
#define MAX_OTHERS 64

/* Another journal of the folder (another shard's, or the unsharded one), read-only:
 * its statements for the lookups that span every journal (NULL where its schema
 * lacks one). */
typedef struct other_journal {
	char file[64]; /* its name in OUT/.imgpool: "journal-2-of-3.sqlite" */
	sqlite3 *db;
	sqlite3_stmt *owns, *info, *outs_of, *get, *inputs, *folder;
} other_journal;

enum stmt {
	S_GET, S_PUT, S_OWNS, S_INTENT, S_MADE_KEEP, S_MADE_DROP, S_FORGET_ONE, S_FORGET_ALL,
	S_OUTS_OF, S_Q_ADD, S_Q_DEL, S_INFO, S_INPUTS, S_MOVED, S_FOLDER_ADD, S_FOLDER_GET,
	S_FOLDER_DEL, S_INPUT_DEL, S_COUNT
};

/* The SQL of each statement (journal.c). */
extern const char *const journal_stmt_sql[S_COUNT];

/* The columns S_GET reads, but for the last (racy); journal_get_sql_v3: S_GET on a
 * journal of schema 3 or older, which has no racy column. */
#define JOURNAL_GET_COLUMNS                                                         \
	"SELECT status, size, mtime_ns, fingerprint, checksum, kind, limits, strikes," \
	" attempts, ms, cause,"
extern const char journal_get_sql_v3[];
/* S_OWNS on a journal of schema 5 or older, which has no checksum column. */
extern const char journal_owns_sql_v5[];
/* S_INFO on a journal of schema 6 or older, which has no src_ columns. */
extern const char journal_info_sql_v6[];

struct journal {
	char file[64]; /* its name in OUT/.imgpool */
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	int readonly;
	outdir *od;
	int64_t run;              /* this run's id */
	int in_txn;
	uint64_t rollbacks;       /* transactions undone so far (journal_rollbacks()) */
	int changes;
	double txn_start;
	other_journal others[MAX_OTHERS];
	int nothers;
	uint64_t fingerprint;     /* of this run's settings, on the output rows it writes */
	int keeps_folders;        /* j->od's folder record (journal_keep_folders()) */
	struct dry_folder {       /* readonly (a dry run): the folders the run would
	                             record (journal_folder_made()), in memory */
		char *path;
		uint64_t id;
	} *dry_folders;
	size_t ndry_folders;
	char error[300];
	uint64_t read_errors;     /* lookups that failed (journal_read_errors()) */
	char read_error[300];     /* the latest one's cause */
};

/* Run one bound write statement inside the current batch, opening one if none is
 * open and committing it when it is big or old enough: 0, or -1 (journal_error()). */
int journal_write_step(journal *j, sqlite3_stmt *s, const char *what);

/* sqlite3_step() of a lookup, its failure counted (journal_read_errors()). */
int journal_step_read(journal *j, sqlite3_stmt *s);

#endif
