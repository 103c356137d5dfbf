/* SPDX-License-Identifier: MIT */
/*
 * journal.c — the run journal on SQLite: reading and writing its rows. See
 * journal.h; opening and closing it are journal_open.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "clock.h"
#include "journal.h"
#include "journal_internal.h"
#include "journal_schema.h"

/* Commit after this many changes or this long, whichever comes first. */
#define BATCH_CHANGES 200
#define BATCH_SECONDS 1.0

const char *const journal_stmt_sql[S_COUNT] = {
	[S_GET] = JOURNAL_GET_COLUMNS " racy FROM files WHERE root=?1 AND rel=?2",
	[S_PUT] = "INSERT INTO files (root, rel, size, mtime_ns, fingerprint, checksum, status,"
		  " kind, limits, strikes, cause, attempts, ms, seen_run, racy)"
		  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
		  " ON CONFLICT (root, rel) DO UPDATE SET size=?3, mtime_ns=?4, fingerprint=?5,"
		  " checksum=?6, status=?7, kind=?8, limits=?9, strikes=?10, cause=?11,"
		  " attempts=?12, ms=?13, seen_run=?14, racy=?15, outputs=NULL",
	[S_OWNS] = "SELECT stamp, checksum FROM outputs WHERE path=?1 AND size=?2 AND mtime_ns=?3",
	[S_INTENT] = JOURNAL_SQL_INTENT,
	[S_MADE_KEEP] = "UPDATE outputs SET state=1, stamp=?4 WHERE path=?1 AND size=?2"
			" AND mtime_ns=?3",
	[S_MADE_DROP] = "DELETE FROM outputs WHERE path=?1 AND NOT (size=?2 AND mtime_ns=?3)",
	[S_FORGET_ONE] = "DELETE FROM outputs WHERE path=?1 AND size=?2 AND mtime_ns=?3",
	[S_FORGET_ALL] = "DELETE FROM outputs WHERE path=?1",
	[S_OUTS_OF] = "SELECT path, size, mtime_ns, dev, ino FROM outputs WHERE root=?1 AND rel=?2",
	[S_Q_ADD] = "INSERT OR REPLACE INTO quarantine (name, path, size, mtime_ns)"
		    " VALUES (?1, ?2, ?3, ?4)",
	[S_Q_DEL] = "DELETE FROM quarantine WHERE name=?1",
	[S_INFO] = "SELECT root, rel, fingerprint, src_size, src_mtime_ns, src_checksum"
		   " FROM outputs WHERE path=?1 AND size=?2 AND mtime_ns=?3",
	/* Inputs the journal knows under a root: its rows, and the owners of outputs
	 * whose input row a kill -9 lost (the output rows are written ahead). */
	[S_INPUTS] = "SELECT rel FROM files WHERE root=?1 UNION SELECT rel FROM outputs"
		     " WHERE root=?1",
	[S_FOLDER_ADD] = "INSERT OR REPLACE INTO folders (path, id) VALUES (?1, ?2)",
	[S_FOLDER_GET] = "SELECT 1 FROM folders WHERE path=?1 AND (?2 = 0 OR id=?2)",
	[S_FOLDER_DEL] = "DELETE FROM folders WHERE path=?1",
	[S_INPUT_DEL] = "DELETE FROM files WHERE root=?1 AND rel=?2",
	[S_MOVED] = "UPDATE outputs SET stamp=?4, state=1 WHERE path=?1 AND size=?2"
		    " AND mtime_ns=?3",
};

/* S_GET on another journal of the folder of schema 3 or older (a shard an older
 * imgpool wrote): no racy column, its rows taken as not racy, as they were. */
const char journal_get_sql_v3[] = JOURNAL_GET_COLUMNS " 0 FROM files WHERE root=?1 AND rel=?2";
/* S_INFO on a journal of schema 6 or older: the input each output was made from is
 * not known. */
const char journal_info_sql_v6[] = "SELECT root, rel, fingerprint, NULL, NULL, NULL FROM"
				   " outputs WHERE path=?1 AND size=?2 AND mtime_ns=?3";
const char journal_owns_sql_v5[] =
	"SELECT 0, 0 FROM outputs WHERE path=?1 AND size=?2 AND mtime_ns=?3";

/* ------------------------------------------------------------------------- */
/* Writing                                                                    */

/* Remember the latest error of the writes. */
static int fail(journal *j, const char *what)
{
	int e = errno; /* "disk I/O error" hides EFBIG, ENOSPC: the write's errno says */
	if (sqlite3_system_errno(j->db))
		e = sqlite3_system_errno(j->db);
	if (sqlite3_errcode(j->db) != SQLITE_IOERR && sqlite3_errcode(j->db) != SQLITE_FULL)
		e = 0;
	snprintf(j->error, sizeof j->error, "journal: %s: %s%s%s%s", what,
			 sqlite3_errmsg(j->db), e ? " (" : "", e ? strerror(e) : "", e ? ")" : "");
	return -1;
}

/* See journal_internal.h. */
int journal_write_step(journal *j, sqlite3_stmt *s, const char *what)
{
	if (j->readonly) {
		sqlite3_reset(s);
		return 0;
	}
	if (!j->in_txn) {
		if (sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_reset(s);
			return fail(j, what);
		}
		j->in_txn = 1;
		j->changes = 0;
		j->txn_start = clock_now_s();
	}
	errno = 0;
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		fail(j, what);
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	if (++j->changes >= BATCH_CHANGES || clock_now_s() - j->txn_start >= BATCH_SECONDS)
		return journal_sync(j);
	return 0;
}

int journal_moved(journal *j)
{
	int moved = 0;
	if (!j || !j->db || sqlite3_file_control(j->db, "main", SQLITE_FCNTL_HAS_MOVED,
						 &moved) != SQLITE_OK)
		return 0;
	return moved != 0;
}

int journal_holds_no_file(journal *j)
{
	sqlite3_stmt *s;
	int none = 0;
	if (!j || !j->db ||
	    sqlite3_prepare_v2(j->db, "SELECT EXISTS (SELECT 1 FROM files) OR EXISTS (SELECT 1 "
			       "FROM outputs) OR EXISTS (SELECT 1 FROM quarantine)", -1, &s,
			       NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		none = sqlite3_column_int(s, 0) == 0;
	sqlite3_finalize(s);
	return none;
}

/* The open transaction's writes are undone; counted (journal_rollbacks()). */
static int rolled_back(journal *j)
{
	sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	j->in_txn = 0;
	j->rollbacks++;
	return -1;
}

uint64_t journal_rollbacks(const journal *j)
{
	return j ? j->rollbacks : 0;
}

int journal_sync(journal *j)
{
	if (!j || j->readonly)
		return 0;
	if (journal_moved(j)) {
		snprintf(j->error, sizeof j->error, "the journal was deleted or moved away "
			 "during the run");
		return j->in_txn ? rolled_back(j) : -1;
	}
	if (j->in_txn) {
		j->in_txn = 0;
		errno = 0;
		if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			fail(j, "commit");
			return rolled_back(j);
		}
	}
	return 0;
}

const char *journal_error(const journal *j)
{
	return j ? j->error : "";
}

/* Step a lookup: a step that neither found a row nor ran to its end (an I/O
 * error, no memory, a descriptor that could not be opened) is counted, so that no
 * caller takes it for "no row": not imgpool's file, no record of the input. */
static void read_failed(journal *j, sqlite3 *db, const char *what)
{
	int e = sqlite3_system_errno(db);
	if (sqlite3_errcode(db) != SQLITE_IOERR && sqlite3_errcode(db) != SQLITE_CANTOPEN)
		e = 0; /* another error's errno is stale */
	j->read_errors++;
	snprintf(j->read_error, sizeof j->read_error, "cannot read the journal: %s%s%s%s",
		 what ? what : sqlite3_errmsg(db), e ? " (" : "", e ? strerror(e) : "", e ? ")" : "");
}

/* See journal_internal.h. */
int journal_step_read(journal *j, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		read_failed(j, sqlite3_db_handle(s), NULL);
	return rc;
}

uint64_t journal_read_errors(const journal *j, const char **cause)
{
	if (cause)
		*cause = j ? j->read_error : "";
	return j ? j->read_errors : 0;
}

static void bind_path(sqlite3_stmt *s, int i, const char *p)
{
	sqlite3_bind_blob(s, i, p, (int)strlen(p), SQLITE_STATIC);
}

/* One journal's row for (root, rel) through its S_GET statement s: 1 when found. */
static int get_in(journal *j, sqlite3_stmt *s, const char *root,
		  const char *rel, journal_row *row)
{
	int found = 0;
	if (!s)
		return 0;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, rel, (int)strlen(rel), SQLITE_STATIC);
	if (journal_step_read(j, s) == SQLITE_ROW) {
		found = 1;
		row->status = (journal_status)sqlite3_column_int(s, 0);
		row->size = (uint64_t)sqlite3_column_int64(s, 1);
		row->mtime_ns = sqlite3_column_int64(s, 2);
		row->fingerprint = (uint64_t)sqlite3_column_int64(s, 3);
		row->checksum = (uint64_t)sqlite3_column_int64(s, 4);
		int kind = sqlite3_column_int(s, 5);
		row->kind = kind > 0 && kind < FAIL_KIND_COUNT ? (failure_kind)kind : FAIL_NONE;
		row->limits = (uint64_t)sqlite3_column_int64(s, 6);
		row->strikes = sqlite3_column_int(s, 7);
		row->attempts = sqlite3_column_int(s, 8);
		row->ms = sqlite3_column_double(s, 9);
		const unsigned char *c = sqlite3_column_text(s, 10);
		snprintf(row->cause, sizeof row->cause, "%s", c ? (const char *)c : "");
		row->racy = sqlite3_column_int(s, 11) != 0;
	}
	sqlite3_reset(s);
	return found;
}

void journal_get(journal *j, const char *root, const char *rel, journal_row *row)
{
	memset(row, 0, sizeof *row);
	if (j)
		get_in(j, j->st[S_GET], root, rel, row);
}

void journal_get_in(journal *j, const char *file, const char *root, const char *rel,
		    journal_row *row)
{
	memset(row, 0, sizeof *row);
	if (!j || ((!file || !strcmp(file, j->file)) && get_in(j, j->st[S_GET], root, rel, row)))
		return;
	for (int i = 0; i < j->nothers; i++)
		if ((!file || !strcmp(file, j->others[i].file)) &&
		    get_in(j, j->others[i].get, root, rel, row))
			return;
}

void journal_get_any(journal *j, const char *root, const char *rel, journal_row *row)
{
	journal_get_in(j, NULL, root, rel, row);
}

int journal_put(journal *j, const char *root, const char *rel, const journal_row *row)
{
	if (!j || j->readonly)
		return 0; /* a dry run's view: nothing is written (nor S_PUT there, schema 3) */
	sqlite3_stmt *s = j->st[S_PUT];
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	bind_path(s, 2, rel);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)row->size);
	sqlite3_bind_int64(s, 4, row->mtime_ns);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)row->fingerprint);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)row->checksum);
	sqlite3_bind_int(s, 7, row->status);
	sqlite3_bind_int(s, 8, row->kind);
	sqlite3_bind_int64(s, 9, (sqlite3_int64)row->limits);
	sqlite3_bind_int(s, 10, row->strikes);
	if (row->status == JOURNAL_FAILED)
		sqlite3_bind_text(s, 11, row->cause, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 11);
	sqlite3_bind_int(s, 12, row->attempts);
	sqlite3_bind_double(s, 13, row->ms);
	sqlite3_bind_int64(s, 14, j->run);
	sqlite3_bind_int(s, 15, row->racy != 0);
	return journal_write_step(j, s, "recording a file");
}

/* Bind path and identity as ?1 ?2 ?3. */
static void bind_ident(sqlite3_stmt *s, const char *path, const file_ident *id)
{
	bind_path(s, 1, path);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)id->size);
	sqlite3_bind_int64(s, 3, id->mtime_ns);
}

/* One journal's answer (journal_owns()): 1, 2 with *proof set, or 0. */
static int owns_in(journal *j, sqlite3_stmt *s, const char *path, const file_ident *id,
		   uint64_t stamp, uint64_t *proof)
{
	int owns = 0;
	if (!s)
		return 0;
	sqlite3_reset(s);
	bind_ident(s, path, id);
	while (owns != 1 && journal_step_read(j, s) == SQLITE_ROW) {
		uint64_t made = (uint64_t)sqlite3_column_int64(s, 0);
		uint64_t sum = (uint64_t)sqlite3_column_int64(s, 1);
		if ((made && made == stamp) || (!made && !sum))
			owns = 1; /* the file put there, or a row of an older version */
		else if (sum) {
			*proof = sum;
			owns = 2;
		}
	}
	sqlite3_reset(s);
	return owns;
}

int journal_owns(journal *j, const char *path, const file_ident *id, uint64_t stamp,
		 uint64_t *proof)
{
	int owns = 0;
	uint64_t sum = 0;
	if (!j)
		return 0;
	owns = owns_in(j, j->st[S_OWNS], path, id, stamp, &sum);
	for (int i = 0; owns != 1 && i < j->nothers; i++) {
		int o = owns_in(j, j->others[i].owns, path, id, stamp, &sum);
		owns = o > owns ? o : owns;
	}
	if (owns == 2 && proof)
		*proof = sum;
	return owns;
}

int journal_output_moved(journal *j, const char *path, const file_ident *id, uint64_t stamp)
{
	sqlite3_stmt *s = j ? j->st[S_MOVED] : NULL;
	if (!s)
		return 0;
	bind_ident(s, path, id);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)stamp);
	return journal_write_step(j, s, "recording an output");
}

int journal_output_intent(journal *j, const char *path, const file_ident *id,
			  uint64_t checksum, const char *root, const char *rel,
			  const journal_source *src)
{
	if (!j)
		return 0;
	sqlite3_stmt *s = j->st[S_INTENT];
	bind_ident(s, path, id);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)id->dev);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)id->ino);
	sqlite3_bind_text(s, 6, root, -1, SQLITE_STATIC);
	bind_path(s, 7, rel);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)j->fingerprint);
	sqlite3_bind_int64(s, 9, (sqlite3_int64)checksum);
	for (int k = 10; k <= 12; k++)
		sqlite3_bind_null(s, k);
	if (src && src->known) {
		sqlite3_bind_int64(s, 10, (sqlite3_int64)src->size);
		sqlite3_bind_int64(s, 11, src->mtime_ns);
		sqlite3_bind_int64(s, 12, (sqlite3_int64)src->checksum);
	}
	return journal_write_step(j, s, "recording an output");
}

void journal_set_fingerprint(journal *j, uint64_t fingerprint)
{
	if (j)
		j->fingerprint = fingerprint;
}

/* One journal's answer for output path with identity id: 1 with *info filled. */
static int info_in(journal *j, sqlite3_stmt *s, const char *path,
		   const file_ident *id, journal_output *info)
{
	int found = 0;
	if (!s)
		return 0;
	sqlite3_reset(s);
	bind_ident(s, path, id);
	if (journal_step_read(j, s) == SQLITE_ROW) {
		const unsigned char *root = sqlite3_column_text(s, 0);
		const void *rel = sqlite3_column_blob(s, 1);
		info->root = strdup(root ? (const char *)root : "");
		info->rel = strndup(rel ? rel : "", (size_t)sqlite3_column_bytes(s, 1));
		info->fingerprint = (uint64_t)sqlite3_column_int64(s, 2);
		info->src = (journal_source){
			.known = sqlite3_column_type(s, 3) != SQLITE_NULL,
			.size = (uint64_t)sqlite3_column_int64(s, 3),
			.mtime_ns = sqlite3_column_int64(s, 4),
			.checksum = (uint64_t)sqlite3_column_int64(s, 5),
		};
		found = info->root && info->rel;
		if (!found)
			journal_output_free(info);
	}
	sqlite3_reset(s);
	return found;
}

int journal_output_info(journal *j, const char *path, const file_ident *id,
			journal_output *info)
{
	memset(info, 0, sizeof *info);
	if (!j)
		return 0;
	if (info_in(j, j->st[S_INFO], path, id, info))
		return 1;
	for (int i = 0; i < j->nothers; i++)
		if (info_in(j, j->others[i].info, path, id, info))
			return 1;
	return 0;
}

void journal_output_free(journal_output *info)
{
	free(info->root);
	free(info->rel);
	info->root = info->rel = NULL;
}

int journal_output_made(journal *j, const char *path, const file_ident *id, uint64_t stamp)
{
	if (!j)
		return 0;
	bind_ident(j->st[S_MADE_KEEP], path, id);
	sqlite3_bind_int64(j->st[S_MADE_KEEP], 4, (sqlite3_int64)stamp);
	bind_ident(j->st[S_MADE_DROP], path, id);
	return journal_write_step(j, j->st[S_MADE_KEEP], "recording an output") < 0 ||
			       journal_write_step(j, j->st[S_MADE_DROP], "recording an output") < 0
		       ? -1
		       : 0;
}

int journal_output_forget(journal *j, const char *path, const file_ident *id)
{
	if (!j)
		return 0;
	sqlite3_stmt *s = j->st[id ? S_FORGET_ONE : S_FORGET_ALL];
	if (id)
		bind_ident(s, path, id);
	else
		bind_path(s, 1, path);
	return journal_write_step(j, s, "forgetting an output");
}

int journal_input_forget(journal *j, const char *root, const char *rel)
{
	if (!j || j->readonly)
		return 0;
	sqlite3_stmt *s = j->st[S_INPUT_DEL];
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	bind_path(s, 2, rel);
	return journal_write_step(j, s, "forgetting an input");
}

/* An output row read for journal_outputs_of(). */
typedef struct out_row {
	char *path;
	file_ident id;
} out_row;

/* Append the output rows of (root, rel) that s finds to *rows. */
static void collect_outputs(journal *j, sqlite3_stmt *s, const char *root, const char *rel,
			    out_row **rows, size_t *n)
{
	if (!s)
		return;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, rel, (int)strlen(rel), SQLITE_STATIC);
	while (journal_step_read(j, s) == SQLITE_ROW) {
		out_row *t = realloc(*rows, (*n + 1) * sizeof **rows);
		if (!t) {
			read_failed(j, sqlite3_db_handle(s), "out of memory");
			break;
		}
		*rows = t;
		const void *b = sqlite3_column_blob(s, 0);
		t[*n].path = strndup(b ? b : "", (size_t)sqlite3_column_bytes(s, 0));
		t[*n].id = (file_ident){(uint64_t)sqlite3_column_int64(s, 1),
					sqlite3_column_int64(s, 2),
					(uint64_t)sqlite3_column_int64(s, 3),
					(uint64_t)sqlite3_column_int64(s, 4)};
		if (t[*n].path)
			(*n)++;
		else
			read_failed(j, sqlite3_db_handle(s), "out of memory");
	}
	sqlite3_reset(s);
}

int journal_outputs_of(journal *j, const char *root, const char *rel,
		       int (*fn)(void *data, const char *path, const file_ident *id),
		       void *data)
{
	if (!j)
		return 0;
	/* Every journal's: an output another shard made is imgpool's as much. Collect
	 * first: fn may change the rows this reads. */
	out_row *rows = NULL;
	size_t n = 0;
	collect_outputs(j, j->st[S_OUTS_OF], root, rel, &rows, &n);
	for (int i = 0; i < j->nothers; i++)
		collect_outputs(j, j->others[i].outs_of, root, rel, &rows, &n);
	int stop = 0;
	for (size_t i = 0; i < n; i++) {
		/* A row two journals hold alike (a shard's and the unsharded run's)
		 * once: a dry run listed each prune and removal once per journal. */
		int again = 0;
		for (size_t k = 0; k < i && !again; k++)
			again = rows[k].id.size == rows[i].id.size &&
				rows[k].id.mtime_ns == rows[i].id.mtime_ns &&
				!strcmp(rows[k].path, rows[i].path);
		if (!stop && !again)
			stop = fn(data, rows[i].path, &rows[i].id);
	}
	for (size_t i = 0; i < n; i++)
		free(rows[i].path);
	free(rows);
	return 0;
}

int journal_quarantine_add(journal *j, const char *qname, const char *path,
			   const file_ident *id)
{
	if (!j)
		return 0;
	sqlite3_stmt *s = j->st[S_Q_ADD];
	sqlite3_bind_text(s, 1, qname, -1, SQLITE_STATIC);
	bind_path(s, 2, path);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)id->size);
	sqlite3_bind_int64(s, 4, id->mtime_ns);
	return journal_write_step(j, s, "recording the quarantine");
}

int journal_quarantine_del(journal *j, const char *qname)
{
	if (!j)
		return 0;
	sqlite3_stmt *s = j->st[S_Q_DEL];
	sqlite3_bind_text(s, 1, qname, -1, SQLITE_STATIC);
	return journal_write_step(j, s, "recording the quarantine");
}

/* The devices db records for root: *any set to 1 when it has one, *seen to 1 when
 * dev_now is among them. A db without the table (older schema: SQLITE_ERROR) has
 * none; any other failure is counted (read_failed()). */
static void devices_in(journal *j, sqlite3 *db, const char *root, uint64_t dev_now, int *any,
		       int *seen)
{
	sqlite3_stmt *s = NULL;
	if (!db)
		return;
	int rc = sqlite3_prepare_v2(db, "SELECT dev FROM roots WHERE root=?1", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		if (rc != SQLITE_ERROR)
			read_failed(j, db, NULL);
		return;
	}
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	while (journal_step_read(j, s) == SQLITE_ROW) {
		*any = 1;
		if ((uint64_t)sqlite3_column_int64(s, 0) == dev_now)
			*seen = 1;
	}
	sqlite3_finalize(s);
}

int journal_root_device_seen(journal *j, const char *root, uint64_t dev_now)
{
	int any = 0, seen = 0;
	if (!j)
		return -1;
	uint64_t read_errors = j->read_errors;
	/* Every journal of the folder: a run with another shard layout (or the
	 * first into a new journal) prunes the inputs they all record. */
	devices_in(j, j->db, root, dev_now, &any, &seen);
	for (int i = 0; i < j->nothers; i++)
		devices_in(j, j->others[i].db, root, dev_now, &any, &seen);
	if (!seen && j->read_errors != read_errors)
		return -2;
	return seen ? 1 : any ? 0 : -1;
}

int journal_set_root_device(journal *j, const char *root, uint64_t dev)
{
	sqlite3_stmt *s = NULL;
	if (!j || j->readonly)
		return 0;
	if (sqlite3_prepare_v2(j->db, "INSERT OR REPLACE INTO roots (root, dev) VALUES (?1, ?2)",
			       -1, &s, NULL) != SQLITE_OK)
		return fail(j, "recording the folders' devices");
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)dev);
	int rc = journal_write_step(j, s, "recording the folders' devices");
	sqlite3_finalize(s);
	return rc;
}

int journal_quarantine_each(journal *j,
			    void (*fn)(void *data, const char *qname, const char *path,
				       const file_ident *id),
			    void *data)
{
	if (!j)
		return 0;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(j->db, "SELECT name, path, size, mtime_ns FROM quarantine", -1,
			       &s, NULL) != SQLITE_OK)
		return fail(j, "reading the quarantine");
	while (journal_step_read(j, s) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(s, 0);
		const void *b = sqlite3_column_blob(s, 1);
		char *path = strndup(b ? b : "", (size_t)sqlite3_column_bytes(s, 1));
		char *qname = name ? strdup((const char *)name) : NULL;
		file_ident id = {(uint64_t)sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3),
				 0, 0};
		if (path && qname)
			fn(data, qname, path, &id);
		free(path);
		free(qname);
	}
	sqlite3_finalize(s);
	return 0;
}

/* The rels s lists under root (S_INPUTS), appended to *rels. */
static void collect_rels(journal *j, sqlite3_stmt *s, const char *root, char ***rels,
			 size_t *n)
{
	if (!s)
		return;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	while (journal_step_read(j, s) == SQLITE_ROW) {
		char **t = realloc(*rels, (*n + 1) * sizeof **rels);
		if (!t) {
			read_failed(j, sqlite3_db_handle(s), "out of memory");
			break;
		}
		*rels = t;
		const void *b = sqlite3_column_blob(s, 0);
		if ((t[*n] = strndup(b ? b : "", (size_t)sqlite3_column_bytes(s, 0))))
			(*n)++;
		else
			read_failed(j, sqlite3_db_handle(s), "out of memory");
	}
	sqlite3_reset(s);
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int journal_each_input(journal *j, const char *const *roots, int nroots,
		       int (*fn)(void *data, const char *root, const char *rel), void *data)
{
	if (!j)
		return 0;
	if (journal_sync(j) < 0)
		return -1;
	sqlite3_stmt *del = NULL;
	if (sqlite3_prepare_v2(j->db, "DELETE FROM files WHERE root=?1 AND rel=?2", -1, &del,
			       NULL) != SQLITE_OK)
		return fail(j, "reading files");
	for (int r = 0; r < nroots; r++) {
		/* Every journal's inputs, each once; collected first: fn writes through
		 * the batch. Only this journal's rows are deleted (the others are read
		 * only). */
		char **rels = NULL;
		size_t n = 0;
		collect_rels(j, j->st[S_INPUTS], roots[r], &rels, &n);
		for (int i = 0; i < j->nothers; i++)
			collect_rels(j, j->others[i].inputs, roots[r], &rels, &n);
		if (n > 1)
			qsort(rels, n, sizeof *rels, by_string);
		for (size_t i = 0; i < n; i++) {
			int dup = i > 0 && !strcmp(rels[i], rels[i - 1]);
			if (!dup && fn(data, roots[r], rels[i]) && !j->readonly) {
				sqlite3_bind_text(del, 1, roots[r], -1, SQLITE_STATIC);
				bind_path(del, 2, rels[i]);
				journal_write_step(j, del, "forgetting a file");
			}
		}
		for (size_t i = 0; i < n; i++)
			free(rels[i]);
		free(rels);
	}
	sqlite3_finalize(del);
	return journal_sync(j);
}
