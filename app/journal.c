/* SPDX-License-Identifier: MIT */
/*
 * journal.c — the run journal on SQLite. See journal.h.
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <xxhash.h>

#include "journal.h"
#include "report.h"

#define SCHEMA_VERSION 1
/* Commit after this many changes or this long, whichever comes first. */
#define BATCH_CHANGES 200
#define BATCH_SECONDS 1.0

struct journal {
	sqlite3 *db;
	sqlite3_stmt *get, *put;
	int readonly;
	int64_t run;              /* this run's id */
	int in_txn;
	int changes;
	double txn_start;
	double started;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t journal_fingerprint(const thumb_settings *s, const char *name_template,
			     char *text, size_t textlen)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "sizes=");
	for (int i = 0; i < s->nsizes; i++)
		n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%dx%d", i ? "," : "",
			      s->sizes[i].w, s->sizes[i].h);
	snprintf(buf + n, sizeof buf - (size_t)n,
		 " fit=%d crop=%d enlarge=%d format=%d quality=%d background=%g,%g,%g "
		 "keep-metadata=%d name=%s",
		 s->fit, s->crop, s->enlarge, s->format, s->quality, s->background[0],
		 s->background[1], s->background[2], s->keep_metadata,
		 name_template ? name_template : "(default)");
	if (text)
		snprintf(text, textlen, "%s", buf);
	return XXH3_64bits(buf, strlen(buf));
}

/* ------------------------------------------------------------------------- */

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS files ("
	" root TEXT NOT NULL, rel BLOB NOT NULL, size INTEGER, mtime_ns INTEGER,"
	" fingerprint INTEGER, checksum INTEGER, status INTEGER, cause TEXT,"
	" outputs BLOB, attempts INTEGER DEFAULT 0, ms REAL, seen_run INTEGER,"
	" PRIMARY KEY (root, rel)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS runs ("
	" id INTEGER PRIMARY KEY, started TEXT, settings TEXT, wall_s REAL,"
	" done INTEGER, failed INTEGER, skipped INTEGER, interrupted INTEGER);";

/* Move a journal we cannot use aside (with its -wal and -shm) and say so. */
static void move_aside(const char *path, const char *why, char *warn, size_t wlen)
{
	char aside[4400];
	snprintf(aside, sizeof aside, "%s.unusable-%ld", path, (long)time(NULL));
	rename(path, aside);
	for (const char *suffix = "-wal"; suffix; suffix = suffix[1] == 'w' ? "-shm" : NULL) {
		char a[4500], b[4500];
		snprintf(a, sizeof a, "%s%s", path, suffix);
		snprintf(b, sizeof b, "%s%s", aside, suffix);
		rename(a, b);
	}
	snprintf(warn, wlen, "imgpool: warning: the journal %s was unusable (%s); moved "
			     "aside to %s and rebuilt from the outputs", path, why, aside);
}

/* Open the file and check it is a journal of ours: 0, or -1 with why. */
static int try_open(const char *path, sqlite3 **db, const char **why)
{
	*why = NULL;
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		*why = sqlite3_errmsg(*db);
		return -1;
	}
	sqlite3_busy_timeout(*db, 5000);
	sqlite3_stmt *st = NULL;
	int version = -1;
	if (sqlite3_prepare_v2(*db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0) {
		*why = "not an SQLite database";
		return -1;
	}
	if (version > SCHEMA_VERSION) {
		*why = "written by a newer imgpool (unknown schema version)";
		return -1;
	}
	char *ok = NULL;
	if (sqlite3_prepare_v2(*db, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	int good = ok && !strcmp(ok, "ok");
	free(ok);
	if (!good) {
		*why = "it failed SQLite's integrity check";
		return -1;
	}
	/* Migrations go here, one version at a time; version 0 is a new file. */
	if (sqlite3_exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL,
			 NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(*db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(*db, "PRAGMA user_version=1", NULL, NULL, NULL) != SQLITE_OK) {
		*why = sqlite3_errmsg(*db);
		return -1;
	}
	return 0;
}

journal *journal_open(const char *out_dir, const char *file, const char *settings_text,
		      int readonly, char *warn, size_t wlen, char *err, size_t elen)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/.imgpool/%s", out_dir, file);
	warn[0] = '\0';
	err[0] = '\0';
	journal *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(err, elen, "out of memory");
		return NULL;
	}
	if (readonly) {
		j->readonly = 1;
		if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(j->db, "SELECT status, size, mtime_ns, fingerprint,"
					      " checksum, cause, attempts FROM files WHERE root=?1"
					      " AND rel=?2", -1, &j->get, NULL) != SQLITE_OK) {
			sqlite3_close(j->db);
			free(j);
			return NULL;
		}
		return j;
	}
	const char *why;
	if (try_open(path, &j->db, &why) < 0) {
		char reason[300];
		snprintf(reason, sizeof reason, "%s", why ? why : "unknown");
		sqlite3_close(j->db);
		j->db = NULL;
		move_aside(path, reason, warn, wlen);
		if (try_open(path, &j->db, &why) < 0) {
			snprintf(err, elen, "cannot create the journal %s: %s", path,
				 why ? why : "unknown");
			sqlite3_close(j->db);
			free(j);
			return NULL;
		}
	}
	sqlite3_prepare_v2(j->db,
			   "SELECT status, size, mtime_ns, fingerprint, checksum, cause, attempts"
			   " FROM files WHERE root=?1 AND rel=?2", -1, &j->get, NULL);
	sqlite3_prepare_v2(j->db,
			   "INSERT INTO files (root, rel, size, mtime_ns, fingerprint, checksum,"
			   " status, cause, outputs, attempts, ms, seen_run)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11)"
			   " ON CONFLICT (root, rel) DO UPDATE SET size=?3, mtime_ns=?4,"
			   " fingerprint=?5, checksum=?6, status=?7, cause=?8, outputs=?9,"
			   " attempts=CASE WHEN ?7=2 THEN attempts+1 ELSE 1 END, ms=?10, seen_run=?11",
			   -1, &j->put, NULL);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(j->db, "INSERT INTO runs (started, settings) VALUES"
				  " (strftime('%Y-%m-%d %H:%M:%S','now','localtime'), ?1)",
			   -1, &st, NULL);
	sqlite3_bind_text(st, 1, settings_text, -1, SQLITE_TRANSIENT);
	sqlite3_step(st);
	sqlite3_finalize(st);
	j->run = sqlite3_last_insert_rowid(j->db);
	j->started = now_s();
	if (!j->get || !j->put) {
		snprintf(err, elen, "journal: %s", sqlite3_errmsg(j->db));
		journal_close(j, 0, 0, 0, 0, 0);
		return NULL;
	}
	return j;
}

/* Open a batch if none is open; commit it when it is big or old enough. */
static void batch(journal *j)
{
	if (!j->in_txn) {
		sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL);
		j->in_txn = 1;
		j->changes = 0;
		j->txn_start = now_s();
	}
	if (++j->changes >= BATCH_CHANGES || now_s() - j->txn_start >= BATCH_SECONDS) {
		sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
		j->in_txn = 0;
	}
}

void journal_get(journal *j, const char *root, const char *rel, journal_row *row)
{
	memset(row, 0, sizeof *row);
	sqlite3_reset(j->get);
	sqlite3_bind_text(j->get, 1, root, -1, SQLITE_STATIC);
	sqlite3_bind_blob(j->get, 2, rel, (int)strlen(rel), SQLITE_STATIC);
	if (sqlite3_step(j->get) == SQLITE_ROW) {
		row->status = (journal_status)sqlite3_column_int(j->get, 0);
		row->size = (uint64_t)sqlite3_column_int64(j->get, 1);
		row->mtime_ns = sqlite3_column_int64(j->get, 2);
		row->fingerprint = (uint64_t)sqlite3_column_int64(j->get, 3);
		row->checksum = (uint64_t)sqlite3_column_int64(j->get, 4);
		const unsigned char *c = sqlite3_column_text(j->get, 5);
		snprintf(row->cause, sizeof row->cause, "%s", c ? (const char *)c : "");
		row->attempts = sqlite3_column_int(j->get, 6);
	}
	sqlite3_reset(j->get);
}

void journal_put(journal *j, const char *root, const char *rel, uint64_t size,
		 int64_t mtime_ns, uint64_t fingerprint, uint64_t checksum,
		 journal_status st, const char *cause, const char *const *outputs, int n,
		 double ms)
{
	char outs[8192];
	size_t len = 0;
	for (int i = 0; i < n && len < sizeof outs; i++)
		len += (size_t)snprintf(outs + len, sizeof outs - len, "%s%s", i ? "\n" : "",
					outputs[i]);
	if (len > sizeof outs)
		len = sizeof outs;
	sqlite3_stmt *s = j->put;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, rel, (int)strlen(rel), SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)size);
	sqlite3_bind_int64(s, 4, mtime_ns);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)fingerprint);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)checksum);
	sqlite3_bind_int(s, 7, st);
	if (cause)
		sqlite3_bind_text(s, 8, cause, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 8);
	sqlite3_bind_blob(s, 9, outs, (int)len, SQLITE_STATIC);
	sqlite3_bind_double(s, 10, ms);
	sqlite3_bind_int64(s, 11, j->run);
	if (j->readonly)
		return;
	batch(j);
	sqlite3_step(s);
	sqlite3_reset(s);
}

void journal_each(journal *j, const char *const *roots, int nroots,
		  int (*fn)(void *data, const char *root, const char *rel, const char *outputs),
		  void *data)
{
	if (j->in_txn) {
		sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
		j->in_txn = 0;
	}
	sqlite3_stmt *sel, *del;
	sqlite3_prepare_v2(j->db, "SELECT rel, outputs FROM files WHERE root=?1", -1, &sel, NULL);
	sqlite3_prepare_v2(j->db, "DELETE FROM files WHERE root=?1 AND rel=?2", -1, &del, NULL);
	if (!j->readonly)
		sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL);
	for (int r = 0; r < nroots && sel; r++) {
		sqlite3_reset(sel);
		sqlite3_bind_text(sel, 1, roots[r], -1, SQLITE_STATIC);
		while (sqlite3_step(sel) == SQLITE_ROW) {
			const void *rb = sqlite3_column_blob(sel, 0), *ob = sqlite3_column_blob(sel, 1);
			char *rel = strndup(rb ? rb : "", (size_t)sqlite3_column_bytes(sel, 0));
			char *outs = strndup(ob ? ob : "", (size_t)sqlite3_column_bytes(sel, 1));
			if (rel && outs && fn(data, roots[r], rel, outs) && !j->readonly && del) {
				sqlite3_reset(del);
				sqlite3_bind_text(del, 1, roots[r], -1, SQLITE_STATIC);
				sqlite3_bind_blob(del, 2, rel, (int)strlen(rel), SQLITE_STATIC);
				sqlite3_step(del);
			}
			free(rel);
			free(outs);
		}
	}
	if (!j->readonly)
		sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
}

void journal_close(journal *j, uint64_t done, uint64_t failed, uint64_t skipped,
		   double wall_s, int interrupted)
{
	if (!j)
		return;
	if (j->readonly) {
		sqlite3_finalize(j->get);
		sqlite3_close(j->db);
		free(j);
		return;
	}
	if (j->in_txn)
		sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(j->db, "UPDATE runs SET wall_s=?1, done=?2, failed=?3,"
				      " skipped=?4, interrupted=?5 WHERE id=?6", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_double(st, 1, wall_s);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)done);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)failed);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)skipped);
		sqlite3_bind_int(st, 5, interrupted);
		sqlite3_bind_int64(st, 6, j->run);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	sqlite3_finalize(j->get);
	sqlite3_finalize(j->put);
	sqlite3_close(j->db);
	free(j);
}

/* ------------------------------------------------------------------------- */
/* imgpool status                                                             */

/* Print the journal at path (one of possibly several shards) as text or JSON. */
static int status_one(const char *path, int json, int *first, uint64_t tot[2])
{
	sqlite3 *db;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "imgpool status: cannot read %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_stmt *st;
	uint64_t ok = 0, failed = 0;
	if (sqlite3_prepare_v2(db, "SELECT status, count(*) FROM files GROUP BY status", -1,
			       &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "imgpool status: %s is not a journal: %s\n", path,
			sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 0) == JOURNAL_OK)
			ok = (uint64_t)sqlite3_column_int64(st, 1);
		else
			failed = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	tot[0] += ok;
	tot[1] += failed;
	if (json) {
		printf("%s{\"journal\":", *first ? "" : ",");
		report_json_string(stdout, path);
		printf(",\"ok\":%llu,\"failed\":%llu,\"failures\":[", (unsigned long long)ok,
		       (unsigned long long)failed);
	} else {
		printf("%s: %llu ok, %llu failed\n", path, (unsigned long long)ok,
		       (unsigned long long)failed);
	}
	*first = 0;
	sqlite3_prepare_v2(db, "SELECT root, rel, cause, attempts FROM files WHERE status=2"
			       " ORDER BY root, rel", -1, &st, NULL);
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char *rel = strndup(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
		const char *root = (const char *)sqlite3_column_text(st, 0);
		const char *cause = (const char *)sqlite3_column_text(st, 2);
		if (json) {
			printf("%s{\"input\":", n ? "," : "");
			char full[8400];
			snprintf(full, sizeof full, "%s/%s", root, rel ? rel : "");
			report_json_string(stdout, full);
			printf(",\"cause\":");
			report_json_string(stdout, cause ? cause : "");
			printf(",\"attempts\":%d}", sqlite3_column_int(st, 3));
		} else {
			printf("  failed %s/%s: %s (%d attempts)\n", root, rel ? rel : "",
			       cause ? cause : "", sqlite3_column_int(st, 3));
		}
		free(rel);
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db, "SELECT started, wall_s, done, failed, skipped, interrupted,"
			       " settings FROM runs ORDER BY id DESC LIMIT 1", -1, &st, NULL);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *started = (const char *)sqlite3_column_text(st, 0);
		const char *settings = (const char *)sqlite3_column_text(st, 6);
		if (json) {
			printf("],\"last_run\":{\"started\":");
			report_json_string(stdout, started ? started : "");
			printf(",\"wall_s\":%.3f,\"done\":%lld,\"failed\":%lld,\"skipped\":%lld,"
			       "\"interrupted\":%s,\"settings\":",
			       sqlite3_column_double(st, 1), sqlite3_column_int64(st, 2),
			       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
			       sqlite3_column_int(st, 5) ? "true" : "false");
			report_json_string(stdout, settings ? settings : "");
			printf("}}");
		} else {
			printf("  last run: %s, %.2f s, %lld done, %lld failed, %lld skipped%s\n"
			       "  settings: %s\n",
			       started ? started : "?", sqlite3_column_double(st, 1),
			       sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
			       sqlite3_column_int64(st, 4),
			       sqlite3_column_int(st, 5) ? " (interrupted)" : "",
			       settings ? settings : "");
		}
	} else if (json) {
		printf("],\"last_run\":null}");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

int journal_status_main(int argc, char **argv)
{
	int json = 0;
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: imgpool status OUTDIR [--json]\n"
			       "Counts by status, the failed files with their causes, and the last "
			       "run, from the journal(s) in OUTDIR/.imgpool.\n");
			return 0;
		} else if (!out)
			out = argv[i];
		else {
			fprintf(stderr, "imgpool status: unexpected '%s' (usage: imgpool status "
					"OUTDIR [--json])\n", argv[i]);
			return 2;
		}
	}
	if (!out) {
		fprintf(stderr, "imgpool status: usage: imgpool status OUTDIR [--json]\n");
		return 2;
	}
	char pattern[4200];
	snprintf(pattern, sizeof pattern, "%s/.imgpool/journal*.sqlite", out);
	glob_t g;
	if (glob(pattern, 0, NULL, &g) != 0) {
		fprintf(stderr, "imgpool status: no journal in %s/.imgpool (has imgpool run "
				"there?)\n", out);
		return 1;
	}
	int first = 1, rc = 0;
	uint64_t tot[2] = {0, 0};
	if (json)
		printf("{\"journals\":[");
	for (size_t i = 0; i < g.gl_pathc; i++)
		if (status_one(g.gl_pathv[i], json, &first, tot) < 0)
			rc = 1;
	if (json)
		printf("],\"ok\":%llu,\"failed\":%llu}\n", (unsigned long long)tot[0],
		       (unsigned long long)tot[1]);
	globfree(&g);
	return rc;
}
