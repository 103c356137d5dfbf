/* SPDX-License-Identifier: MIT */
/*
 * test_journal.c — the run journal (app/journal.c) in a real output folder
 * (app/outdir.c): its schema, every field of an input row and of the output and
 * quarantine rows, ownership across the journals of one folder, the conversion of
 * a schema-1 and a schema-3 journal (racy rows), an unusable journal moved aside, a
 * dry run's read-only open that changes nothing, and the errors of a write that
 * fails.
 *
 * The journal file is also read here with SQLite directly, to check what is on disk
 * rather than only what the module says back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "io.h"
#include "journal.h"
#include "outdir.h"
#include "publish.h"

/* ------------------------------------------------------------------------- */
/* Fixture                                                                    */

static char root[PATH_MAX];

static const char *at(const char *fmt, ...)
{
	static char buf[16][2 * PATH_MAX + 2]; /* a few may be in use at once */
	static int k;
	char rel[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	k = (k + 1) % 16;
	snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
	return buf[k];
}

static int setup(void **state)
{
	snprintf(root, sizeof root, "%s/test_journal.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(root) ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

static int teardown(void **state)
{
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void put_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The whole file, malloc'd; *len its size. NULL when absent. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		if (!got)
			break;
		n += got;
	}
	fclose(f);
	*len = n;
	return buf;
}

static outdir *open_out(const char *rel, int create)
{
	char err[512];
	outdir *od = outdir_open(at("%s", rel), create, err, sizeof err);
	if (!od)
		fail_msg("outdir_open: %s", err);
	return od;
}

static journal *open_journal(outdir *od, const char *file, int readonly, char *warn,
			     size_t wlen)
{
	char err[512], w[1024];
	journal *j = journal_open(od, file, "settings text", readonly, warn ? warn : w,
				  warn ? wlen : sizeof w, err, sizeof err);
	if (!j && !readonly)
		fail_msg("journal_open: %s", err);
	if (!warn && w[0])
		fail_msg("unexpected warning: %s", w);
	return j;
}

/* One integer from SQL on the journal file as it is on disk. */
static long long sql_int(const char *db_path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -999;
	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* One text from SQL, into buf. */
static const char *sql_text(const char *db_path, const char *sql, char *buf, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	buf[0] = '\0';
	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

static void sql_exec(const char *db_path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static file_ident ident(uint64_t size, int64_t mtime_ns, uint64_t dev, uint64_t ino)
{
	return (file_ident){size, mtime_ns, dev, ino};
}

/* A row with every field set to something no default would give. */
static journal_row full_row(void)
{
	journal_row r;
	memset(&r, 0, sizeof r);
	r.status = JOURNAL_FAILED;
	r.size = 0xfedcba9876543210ULL;      /* past INT64_MAX: stored as int64 */
	r.mtime_ns = -1234567890123LL;       /* before 1970 */
	r.fingerprint = 0x8000000000000001ULL;
	r.checksum = 0xffffffffffffffffULL;
	r.kind = FAIL_LIMIT;
	r.limits = 0x0123456789abcdefULL;
	r.strikes = 2;
	r.attempts = 7;
	r.ms = 12.375;
	snprintf(r.cause, sizeof r.cause, "VipsJpeg: \"bad\"\nline \xff\xfe");
	r.racy = 1;
	return r;
}

static void assert_rows_equal(const journal_row *a, const journal_row *b)
{
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->mtime_ns, b->mtime_ns);
	assert_int_equal(a->fingerprint, b->fingerprint);
	assert_int_equal(a->checksum, b->checksum);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->limits, b->limits);
	assert_int_equal(a->strikes, b->strikes);
	assert_int_equal(a->attempts, b->attempts);
	assert_true(a->ms == b->ms);
	assert_string_equal(a->cause, b->cause);
	assert_int_equal(a->racy, b->racy);
}

/* ------------------------------------------------------------------------- */
/* Fingerprints                                                               */

static void test_fingerprint(void **state)
{
	thumb_settings s;
	memset(&s, 0, sizeof s);
	s.sizes[0] = (thumb_size){256, 256};
	s.nsizes = 1;
	s.background[0] = s.background[1] = s.background[2] = 255;
	char text[1024];
	uint64_t base = journal_fingerprint(&s, NULL, text, sizeof text);
	assert_string_equal(text, "sizes=256x256 fit=0 crop=0 enlarge=0 format=0 quality=0 "
			    "background=255,255,255 keep-metadata=0 name=(default)");
	assert_int_equal(journal_fingerprint(&s, NULL, NULL, 0), base);
	/* every output setting changes it; each change alone */
	thumb_settings t;
#define CHANGED(stmt)                                                                    \
	do {                                                                             \
		t = s;                                                                   \
		stmt;                                                                    \
		if (journal_fingerprint(&t, NULL, NULL, 0) == base)                      \
			fail_msg("unchanged by %s", #stmt);                              \
	} while (0)
	CHANGED(t.sizes[0].w = 255);
	CHANGED(t.sizes[0].h = 0);
	CHANGED((t.sizes[1] = (thumb_size){64, 64}, t.nsizes = 2));
	CHANGED(t.fit = FIT_COVER);
	CHANGED(t.crop = CROP_ATTENTION);
	CHANGED(t.enlarge = 1);
	CHANGED(t.format = FORMAT_WEBP);
	CHANGED(t.quality = 80);
	CHANGED(t.background[1] = 254);
	CHANGED(t.keep_metadata = 1);
#undef CHANGED
	assert_int_not_equal(journal_fingerprint(&s, "{dir}/{stem}.{ext}", NULL, 0), base);
	/* what does not change output bytes does not change it */
	t = s;
	t.max_pixels = 12345;
	assert_int_equal(journal_fingerprint(&t, NULL, NULL, 0), base);
	/* sizes in another order are other outputs */
	t = s;
	t.sizes[0] = (thumb_size){64, 64};
	t.sizes[1] = (thumb_size){32, 32};
	t.nsizes = 2;
	uint64_t ab = journal_fingerprint(&t, NULL, NULL, 0);
	t.sizes[0] = (thumb_size){32, 32};
	t.sizes[1] = (thumb_size){64, 64};
	assert_int_not_equal(journal_fingerprint(&t, NULL, NULL, 0), ab);

	uint64_t l = journal_limits(120, 1000, FAILON_WARNING, "imgpool 1 vips 8");
	assert_int_not_equal(l, 0);
	assert_int_equal(journal_limits(120, 1000, FAILON_WARNING, "imgpool 1 vips 8"), l);
	assert_int_not_equal(journal_limits(121, 1000, FAILON_WARNING, "imgpool 1 vips 8"), l);
	assert_int_not_equal(journal_limits(120, 1001, FAILON_WARNING, "imgpool 1 vips 8"), l);
	assert_int_not_equal(journal_limits(120, 1000, FAILON_WARNING, "imgpool 2 vips 8"), l);
	assert_int_not_equal(journal_limits(120, 1000, FAILON_NONE, "imgpool 1 vips 8"), l);
	assert_int_not_equal(journal_limits(120, 1000, FAILON_WARNING, NULL), 0);
}

/* ------------------------------------------------------------------------- */
/* Schema and input rows                                                      */

static void test_schema(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_close(j, 5, 2, 3, 1.5, 1);
	outdir_close(od);
	const char *db = at("out/.imgpool/journal.sqlite");
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 8);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
				     "name IN ('files','runs','outputs','quarantine','roots')"), 5);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type='index' AND "
				     "name='outputs_owner'"), 1);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_table_info('files') WHERE name "
				     "IN ('kind','limits','strikes','checksum','fingerprint',"
				     "'racy')"), 6);
	/* the run is recorded, with its settings and, at close, its counts */
	assert_int_equal(sql_int(db, "SELECT count(*) FROM runs"), 1);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM runs WHERE settings='settings text' AND "
				     "done=5 AND failed=2 AND skipped=3 AND wall_s=1.5 AND "
				     "interrupted=1 AND started LIKE '20%T%'"), 1);
	/* a second open is a second run of the same journal */
	od = open_out("out", 1);
	j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM runs"), 2);
	char mode[16];
	assert_string_equal(sql_text(db, "PRAGMA journal_mode", mode, sizeof mode), "wal");
}

static void test_put_get(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_row got, want = full_row();
	const char *rel = "2024/odd\nname \xff.jpg";
	assert_int_equal(journal_put(j, "/photos", rel, &want), 0);
	journal_get(j, "/photos", rel, &got);           /* seen before the commit */
	assert_rows_equal(&got, &want);
	assert_int_equal(journal_sync(j), 0);
	assert_string_equal(journal_error(j), "");
	/* keyed by (root, rel), bytes exact */
	journal_get(j, "/photos", "2024/odd\nname \xff.JPG", &got);
	assert_int_equal(got.status, JOURNAL_NONE);
	journal_get(j, "/other", rel, &got);
	assert_int_equal(got.status, JOURNAL_NONE);
	assert_int_equal(got.size, 0);
	assert_string_equal(got.cause, "");
	journal_close(j, 0, 0, 0, 0, 0);

	/* after a close and open: the same, field by field */
	j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_get(j, "/photos", rel, &got);
	assert_rows_equal(&got, &want);
	/* an update replaces every field; a made file keeps no cause */
	journal_row ok;
	memset(&ok, 0, sizeof ok);
	ok.status = JOURNAL_OK;
	ok.size = 10;
	ok.mtime_ns = 20;
	ok.fingerprint = 30;
	ok.checksum = 40;
	ok.attempts = 1;
	ok.ms = 0.5;
	snprintf(ok.cause, sizeof ok.cause, "not kept");
	assert_int_equal(journal_put(j, "/photos", rel, &ok), 0);
	journal_get(j, "/photos", rel, &got);
	snprintf(ok.cause, sizeof ok.cause, "%s", "");
	assert_rows_equal(&got, &ok);
	/* the longest cause is kept whole */
	journal_row longest = full_row();
	memset(longest.cause, 'c', JOURNAL_CAUSE_MAX - 1);
	longest.cause[JOURNAL_CAUSE_MAX - 1] = '\0';
	assert_int_equal(journal_put(j, "/photos", "long", &longest), 0);
	journal_get(j, "/photos", "long", &got);
	assert_rows_equal(&got, &longest);
	/* an unknown kind on disk reads as none */
	assert_int_equal(journal_sync(j), 0);
	journal_close(j, 0, 0, 0, 0, 0);
	sql_exec(at("out/.imgpool/journal.sqlite"),
		 "UPDATE files SET kind=99 WHERE rel=CAST('long' AS BLOB)");
	j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_get(j, "/photos", "long", &got);
	assert_int_equal(got.kind, FAIL_NONE);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	assert_int_equal(sql_int(at("out/.imgpool/journal.sqlite"),
				 "SELECT count(*) FROM files WHERE cause IS NULL"), 1);
}

/* NULL handles find nothing and change nothing. */
static void test_null_handle(void **state)
{
	journal_row row = full_row();
	file_ident id = ident(1, 2, 3, 4);
	journal_get(NULL, "/r", "a", &row);
	assert_int_equal(row.status, JOURNAL_NONE);
	assert_int_equal(row.size, 0);
	assert_int_equal(journal_put(NULL, "/r", "a", &row), 0);
	assert_int_equal(journal_owns(NULL, "a", &id, 0, NULL), 0);
	assert_int_equal(journal_output_intent(NULL, "a", &id, 0, "/r", "a", NULL), 0);
	assert_int_equal(journal_output_made(NULL, "a", &id, 0), 0);
	assert_int_equal(journal_output_forget(NULL, "a", NULL), 0);
	assert_int_equal(journal_outputs_of(NULL, "/r", "a", NULL, NULL), 0);
	assert_int_equal(journal_quarantine_add(NULL, "q", "a", &id), 0);
	assert_int_equal(journal_quarantine_del(NULL, "q"), 0);
	assert_int_equal(journal_quarantine_each(NULL, NULL, NULL), 0);
	assert_int_equal(journal_each_input(NULL, NULL, 0, NULL, NULL), 0);
	assert_int_equal(journal_sync(NULL), 0);
	assert_string_equal(journal_error(NULL), "");
	journal_close(NULL, 0, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------------- */
/* Output rows                                                                */

typedef struct seen {
	int n;
	char path[8][64];
	file_ident id[8];
	int stop_after;     /* return non-zero after this many (0: never) */
} seen;

static int collect(void *data, const char *path, const file_ident *id)
{
	seen *s = data;
	if (s->n < 8) {
		snprintf(s->path[s->n], sizeof s->path[s->n], "%s", path);
		s->id[s->n] = *id;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_outputs(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	const char *db = at("out/.imgpool/journal.sqlite");
	file_ident v1 = ident(100, 1000, 7, 70), v2 = ident(200, 2000, 7, 71);

	/* write-ahead: an intent already owns, and is on disk after the sync */
	assert_int_equal(journal_output_intent(j, "a/x_64.jpg", &v1, 0, "/in", "a/x.jpg", NULL), 0);
	assert_int_equal(journal_owns(j, "a/x_64.jpg", &v1, 0, NULL), 1);
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(sql_int(db, "SELECT state FROM outputs WHERE "
				     "path=CAST('a/x_64.jpg' AS BLOB)"), 0);
	/* a row without checksum or stamp (an older version's): path, size and mtime */
	file_ident copied = ident(100, 1000, 7, 99);
	assert_int_equal(journal_owns(j, "a/x_64.jpg", &copied, 1234, NULL), 1);
	/* with a checksum: until in place (no stamp yet), only by its bytes (2); once
	 * made, the very file (its stamp: inode and change time) owns at once, any
	 * other (a copy, a restore, the user's file given the size and mtime, or
	 * written over in place) only by its bytes */
	uint64_t proof = 0;
	file_ident s1 = ident(150, 1500, 7, 75);
	assert_int_equal(journal_output_intent(j, "s.jpg", &s1, 0xfeedULL, "/in", "s.jpg", NULL), 0);
	assert_int_equal(journal_owns(j, "s.jpg", &s1, 555, &proof), 2);
	assert_int_equal(proof, 0xfeedULL);
	assert_int_equal(journal_output_made(j, "s.jpg", &s1, 555), 0);
	proof = 0;
	assert_int_equal(journal_owns(j, "s.jpg", &s1, 555, &proof), 1);
	assert_int_equal(proof, 0);
	assert_int_equal(journal_owns(j, "s.jpg", &s1, 556, &proof), 2);
	assert_int_equal(proof, 0xfeedULL);
	/* proven by its bytes: the new stamp recorded */
	assert_int_equal(journal_output_moved(j, "s.jpg", &s1, 556), 0);
	assert_int_equal(journal_owns(j, "s.jpg", &s1, 556, NULL), 1);
	assert_int_equal(journal_output_forget(j, "s.jpg", NULL), 0);
	/* a stamp and no checksum (cannot be proven): only the very file */
	file_ident t1 = ident(170, 1700, 7, 77);
	assert_int_equal(journal_output_intent(j, "t.jpg", &t1, 0, "/in", "t.jpg", NULL), 0);
	assert_int_equal(journal_output_made(j, "t.jpg", &t1, 777), 0);
	assert_int_equal(journal_owns(j, "t.jpg", &t1, 777, NULL), 1);
	assert_int_equal(journal_owns(j, "t.jpg", &t1, 778, NULL), 0);
	assert_int_equal(journal_output_forget(j, "t.jpg", NULL), 0);
	file_ident bigger = ident(101, 1000, 7, 70), newer = ident(100, 1001, 7, 70);
	assert_int_equal(journal_owns(j, "a/x_64.jpg", &bigger, 0, NULL), 0);
	assert_int_equal(journal_owns(j, "a/x_64.jpg", &newer, 0, NULL), 0);
	assert_int_equal(journal_owns(j, "a/X_64.jpg", &v1, 0, NULL), 0);
	assert_int_equal(journal_owns(j, "a/x_64.jpg/", &v1, 0, NULL), 0);

	/* made: the new version stays, with state 1; the older version of the path goes */
	assert_int_equal(journal_output_intent(j, "a/x_64.jpg", &v2, 0, "/in", "a/x.jpg", NULL), 0);
	assert_int_equal(journal_owns(j, "a/x_64.jpg", &v1, 0, NULL), 1);
	assert_int_equal(journal_output_made(j, "a/x_64.jpg", &v2, 0), 0);
	assert_int_equal(journal_owns(j, "a/x_64.jpg", &v1, 0, NULL), 0);
	assert_int_equal(journal_owns(j, "a/x_64.jpg", &v2, 0, NULL), 1);
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outputs WHERE "
				     "path=CAST('a/x_64.jpg' AS BLOB) AND "
				     "state=1 AND size=200 AND mtime_ns=2000"), 1);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outputs"), 1);

	/* outputs_of: every row of an input, with its identity */
	file_ident v3 = ident(300, 3000, 8, 80);
	assert_int_equal(journal_output_intent(j, "a/x_32.jpg", &v3, 0, "/in", "a/x.jpg", NULL), 0);
	assert_int_equal(journal_output_intent(j, "b.jpg", &v1, 0, "/in", "b.jpg", NULL), 0);
	assert_int_equal(journal_output_intent(j, "c.jpg", &v1, 0, "/elsewhere", "a/x.jpg", NULL), 0);
	seen s = {0};
	assert_int_equal(journal_outputs_of(j, "/in", "a/x.jpg", collect, &s), 0);
	assert_int_equal(s.n, 2);
	int k32 = !strcmp(s.path[0], "a/x_32.jpg") ? 0 : 1;
	assert_string_equal(s.path[k32], "a/x_32.jpg");
	assert_string_equal(s.path[1 - k32], "a/x_64.jpg");
	assert_int_equal(s.id[k32].size, 300);
	assert_int_equal(s.id[k32].mtime_ns, 3000);
	assert_int_equal(s.id[k32].dev, 8);
	assert_int_equal(s.id[k32].ino, 80);
	/* fn returning non-zero stops */
	seen one = {.stop_after = 1};
	journal_outputs_of(j, "/in", "a/x.jpg", collect, &one);
	assert_int_equal(one.n, 1);

	/* a renamed input adopting a path: the intent for it takes the row (plan.c's
	 * adopt()) */
	assert_int_equal(journal_output_intent(j, "a/x_32.jpg", &v3, 0, "/in", "a/renamed.jpg", NULL), 0);
	memset(&s, 0, sizeof s);
	journal_outputs_of(j, "/in", "a/renamed.jpg", collect, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.path[0], "a/x_32.jpg");
	memset(&s, 0, sizeof s);
	journal_outputs_of(j, "/in", "a/x.jpg", collect, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.path[0], "a/x_64.jpg");

	/* forget: one version, or every version of the path */
	assert_int_equal(journal_output_intent(j, "b.jpg", &v2, 0, "/in", "b.jpg", NULL), 0);
	assert_int_equal(journal_output_forget(j, "b.jpg", &v1), 0);
	assert_int_equal(journal_owns(j, "b.jpg", &v1, 0, NULL), 0);
	assert_int_equal(journal_owns(j, "b.jpg", &v2, 0, NULL), 1);
	assert_int_equal(journal_output_intent(j, "b.jpg", &v3, 0, "/in", "b.jpg", NULL), 0);
	assert_int_equal(journal_output_forget(j, "b.jpg", NULL), 0);
	assert_int_equal(journal_owns(j, "b.jpg", &v2, 0, NULL), 0);
	assert_int_equal(journal_owns(j, "b.jpg", &v3, 0, NULL), 0);
	/* forgetting one path leaves the others */
	assert_int_equal(journal_owns(j, "c.jpg", &v1, 0, NULL), 1);
	assert_int_equal(journal_sync(j), 0);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outputs"), 3);
}

/* The journals of one folder: each run's shard writes its own, and owns what any
 * of them records. */
static void test_owns_across_journals(void **state)
{
	outdir *od = open_out("out", 1);
	file_ident v1 = ident(10, 11, 0, 0), v2 = ident(20, 21, 0, 0), v3 = ident(30, 31, 0, 0);
	journal *one = open_journal(od, "journal-1-of-2.sqlite", 0, NULL, 0);
	assert_int_equal(journal_output_intent(one, "one.jpg", &v1, 0, "/in", "one.jpg", NULL), 0);
	assert_int_equal(journal_output_made(one, "one.jpg", &v1, 0), 0);
	assert_int_equal(journal_sync(one), 0);
	journal *plain = open_journal(od, "journal.sqlite", 0, NULL, 0);
	assert_int_equal(journal_output_intent(plain, "plain.jpg", &v3, 0, "/in", "plain.jpg", NULL), 0);
	assert_int_equal(journal_sync(plain), 0);
	journal *two = open_journal(od, "journal-2-of-2.sqlite", 0, NULL, 0);
	/* two sees what one and plain recorded before it opened ... */
	assert_int_equal(journal_owns(two, "one.jpg", &v1, 0, NULL), 1);
	assert_int_equal(journal_owns(two, "plain.jpg", &v3, 0, NULL), 1);
	assert_int_equal(journal_owns(two, "one.jpg", &v2, 0, NULL), 0);
	/* ... and what one commits later */
	assert_int_equal(journal_output_intent(one, "later.jpg", &v2, 0, "/in", "later.jpg", NULL), 0);
	assert_int_equal(journal_sync(one), 0);
	assert_int_equal(journal_owns(two, "later.jpg", &v2, 0, NULL), 1);
	/* its own rows; and one does not hold two's input rows */
	assert_int_equal(journal_output_intent(two, "two.jpg", &v2, 0, "/in", "two.jpg", NULL), 0);
	assert_int_equal(journal_owns(two, "two.jpg", &v2, 0, NULL), 1);
	journal_row row = full_row(), got;
	assert_int_equal(journal_put(two, "/in", "two.jpg", &row), 0);
	assert_int_equal(journal_sync(two), 0);
	journal_get(one, "/in", "two.jpg", &got);
	assert_int_equal(got.status, JOURNAL_NONE);
	/* forgetting in one journal leaves the rows of the others */
	assert_int_equal(journal_output_forget(two, "one.jpg", NULL), 0);
	assert_int_equal(journal_owns(two, "one.jpg", &v1, 0, NULL), 1);
	journal_close(one, 0, 0, 0, 0, 0);
	journal_close(two, 0, 0, 0, 0, 0);
	journal_close(plain, 0, 0, 0, 0, 0);
	outdir_close(od);
}

/* ------------------------------------------------------------------------- */
/* Quarantine rows and input rows by root                                     */

typedef struct qseen {
	int n;
	char name[4][32], path[4][32];
	file_ident id[4];
} qseen;

static void qcollect(void *data, const char *qname, const char *path, const file_ident *id)
{
	qseen *q = data;
	if (q->n < 4) {
		snprintf(q->name[q->n], sizeof q->name[q->n], "%s", qname);
		snprintf(q->path[q->n], sizeof q->path[q->n], "%s", path);
		q->id[q->n] = *id;
	}
	q->n++;
}

/* Folder rel of OUT made as imgpool makes one: recorded in j. */
static void made_dir(journal *j, const char *rel)
{
	assert_int_equal(mkdir(at("out/%s", rel), 0777), 0);
	uint64_t id = io_identity(AT_FDCWD, at("out/%s", rel), 0);
	assert_int_equal(journal_folder_made(j, rel, id), 0);
	assert_int_equal(journal_folder_ours(j, rel, id, 0), 1);
	assert_int_equal(journal_folder_ours(j, rel, id + 1, 0), 0);
}

/* A kill after a removal's file was gone but before its emptied folders were:
 * the next run's recovery removes them (the property test once found OUT/x/10
 * left empty for good), and keeps a folder that still holds something, and one
 * imgpool did not make. */
static void test_recovery_removes_emptied_folders(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	file_ident a = ident(1, 2, 3, 4);
	struct stat st;
	(void)state;
	journal_keep_folders(j);
	made_dir(j, "x");
	made_dir(j, "x/10");
	made_dir(j, "keep");
	made_dir(j, "keep/16");
	FILE *f = fopen(at("out/keep/other.jpg"), "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(journal_quarantine_add(j, "q-9-1", "x/10/a.jpg", &a), 0);
	assert_int_equal(journal_quarantine_add(j, "q-9-2", "keep/16/b.jpg", &a), 0);
	assert_int_equal(journal_sync(j), 0);
	publisher pb = {.od = od, .j = j};
	publish_recover(&pb, NULL, NULL, NULL);
	assert_int_equal(stat(at("out/x"), &st), -1);
	assert_int_equal(stat(at("out/keep/16"), &st), -1);
	assert_int_equal(stat(at("out/keep/other.jpg"), &st), 0);
	qseen q = {0};
	journal_quarantine_each(j, qcollect, &q);
	assert_int_equal(q.n, 0);
	/* An output that is not there (a kill between a publish's mkdir and its
	 * rename): removing it removes the folders it would have been in. */
	char err[256];
	made_dir(j, "y");
	made_dir(j, "y/8");
	assert_int_equal(publish_remove(&pb, "y/8/c.png", &a, err, sizeof err), 0);
	assert_int_equal(stat(at("out/y"), &st), -1);
	assert_int_equal(journal_folder_known(j, "y/8"), 0); /* forgotten once gone */
	/* the user's folder (not recorded) stays, imgpool's in it goes */
	assert_int_equal(mkdir(at("out/users"), 0777), 0);
	made_dir(j, "users/8");
	assert_int_equal(publish_remove(&pb, "users/8/c.png", &a, err, sizeof err), 0);
	assert_int_equal(stat(at("out/users/8"), &st), -1);
	assert_int_equal(stat(at("out/users"), &st), 0);
	/* another shard's journal knows the folders this one made */
	made_dir(j, "z");
	uint64_t z = io_identity(AT_FDCWD, at("out/z"), 0);
	assert_int_equal(journal_sync(j), 0);
	journal *other = open_journal(od, "journal-2-of-2.sqlite", 0, NULL, 0);
	assert_int_equal(journal_folder_ours(other, "z", z, 0), 1);
	assert_int_equal(journal_folder_known(other, "z"), 1);
	assert_int_equal(journal_folder_known(other, "y"), 0);
	journal_close(other, 0, 0, 0, 0, 0);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
}

static void test_quarantine(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	file_ident a = ident(1, 2, 3, 4), b = ident(5, 6, 7, 8);
	assert_int_equal(journal_quarantine_add(j, "q-1-1", "a.jpg", &a), 0);
	assert_int_equal(journal_quarantine_add(j, "q-1-2", "sub/b.jpg", &b), 0);
	assert_int_equal(journal_sync(j), 0);
	qseen q = {0};
	assert_int_equal(journal_quarantine_each(j, qcollect, &q), 0);
	assert_int_equal(q.n, 2);
	int k = !strcmp(q.name[0], "q-1-1") ? 0 : 1;
	assert_string_equal(q.name[k], "q-1-1");
	assert_string_equal(q.path[k], "a.jpg");
	assert_int_equal(q.id[k].size, 1);
	assert_int_equal(q.id[k].mtime_ns, 2);
	assert_string_equal(q.name[1 - k], "q-1-2");
	assert_string_equal(q.path[1 - k], "sub/b.jpg");
	assert_int_equal(q.id[1 - k].size, 5);
	/* the same name again replaces its record */
	assert_int_equal(journal_quarantine_add(j, "q-1-2", "c.jpg", &a), 0);
	assert_int_equal(journal_quarantine_del(j, "q-1-1"), 0);
	assert_int_equal(journal_quarantine_del(j, "q-absent"), 0);
	memset(&q, 0, sizeof q);
	journal_quarantine_each(j, qcollect, &q);
	assert_int_equal(q.n, 1);
	assert_string_equal(q.name[0], "q-1-2");
	assert_string_equal(q.path[0], "c.jpg");
	/* and it survives a close */
	journal_close(j, 0, 0, 0, 0, 0);
	j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	memset(&q, 0, sizeof q);
	journal_quarantine_each(j, qcollect, &q);
	assert_int_equal(q.n, 1);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
}

typedef struct visits {
	int n;
	char seen[16][64];
	const char *drop;   /* rel whose row fn deletes */
} visits;

static int visit(void *data, const char *root_, const char *rel)
{
	visits *v = data;
	if (v->n < 16)
		snprintf(v->seen[v->n], sizeof v->seen[v->n], "%s|%s", root_, rel);
	v->n++;
	return v->drop && !strcmp(rel, v->drop);
}

static int visited(const visits *v, const char *what)
{
	for (int i = 0; i < v->n && i < 16; i++)
		if (!strcmp(v->seen[i], what))
			return 1;
	return 0;
}

static void test_each_input(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_row row = full_row(), got;
	static const char *const rels[] = {"a.jpg", "b.jpg", "sub/c.jpg"};
	for (int i = 0; i < 3; i++)
		assert_int_equal(journal_put(j, "/A", rels[i], &row), 0);
	assert_int_equal(journal_put(j, "/B", "d.jpg", &row), 0);
	assert_int_equal(journal_put(j, "/AB", "e.jpg", &row), 0);
	/* rows still in the batch are seen: it commits first */
	visits v = {.drop = "b.jpg"};
	const char *roots[] = {"/A"};
	assert_int_equal(journal_each_input(j, roots, 1, visit, &v), 0);
	assert_int_equal(v.n, 3);
	assert_true(visited(&v, "/A|a.jpg") && visited(&v, "/A|b.jpg") && visited(&v, "/A|sub/c.jpg"));
	journal_get(j, "/A", "b.jpg", &got);
	assert_int_equal(got.status, JOURNAL_NONE);
	journal_get(j, "/A", "a.jpg", &got);
	assert_int_equal(got.status, JOURNAL_FAILED);
	journal_get(j, "/B", "d.jpg", &got);
	assert_int_equal(got.status, JOURNAL_FAILED);
	/* several roots; the deletion is committed */
	visits w = {.drop = "d.jpg"};
	const char *both[] = {"/A", "/B"};
	assert_int_equal(journal_each_input(j, both, 2, visit, &w), 0);
	assert_int_equal(w.n, 3);
	assert_true(visited(&w, "/B|d.jpg"));
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	const char *db = at("out/.imgpool/journal.sqlite");
	assert_int_equal(sql_int(db, "SELECT count(*) FROM files"), 3);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM files WHERE root='/AB'"), 1);
}

/* ------------------------------------------------------------------------- */
/* Schema 1                                                                   */

static const char v1_schema[] =
	"CREATE TABLE files (root TEXT NOT NULL, rel BLOB NOT NULL, size INTEGER,"
	" mtime_ns INTEGER, fingerprint INTEGER, checksum INTEGER, status INTEGER,"
	" cause TEXT, outputs BLOB, attempts INTEGER DEFAULT 0, ms REAL,"
	" seen_run INTEGER, PRIMARY KEY (root, rel)) WITHOUT ROWID;"
	"CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT, settings TEXT,"
	" wall_s REAL, done INTEGER, failed INTEGER, skipped INTEGER,"
	" interrupted INTEGER); PRAGMA user_version=1;";

static void set_mtime(const char *path, int64_t ns)
{
	struct timespec ts[2] = {{(time_t)(ns / 1000000000), (long)(ns % 1000000000)},
				 {(time_t)(ns / 1000000000), (long)(ns % 1000000000)}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void test_migrate_v1(void **state)
{
	/* OUT is reached through a symlinked parent: typed as alias/out, real real/out */
	assert_int_equal(mkdir(at("real"), 0755), 0);
	assert_int_equal(mkdir(at("real/out"), 0755), 0);
	assert_int_equal(mkdir(at("real/out/.imgpool"), 0755), 0);
	assert_int_equal(mkdir(at("real/out/sub"), 0755), 0);
	assert_int_equal(symlink(at("real"), at("alias")), 0);
	const int64_t in_mtime = 1700000000000000000LL;
	static const char *const files[] = {"a.jpg", "sub/b.jpg", "old.jpg", "victim"};
	for (int i = 0; i < 4; i++) {
		put_file(at("real/out/%s", files[i]), "thumb", 5);
		set_mtime(at("real/out/%s", files[i]), in_mtime + (i == 2 ? -1 : 5));
	}
	assert_int_equal(symlink(at("real/out/a.jpg"), at("real/out/link.jpg")), 0);
	assert_int_equal(mkdir(at("real/out/dir.jpg"), 0755), 0);
	put_file(at("victim2"), "mine", 4);
	char db[PATH_MAX + 64], typed[PATH_MAX + 16], real[PATH_MAX + 16];
	snprintf(db, sizeof db, "%s", at("real/out/.imgpool/journal.sqlite"));
	snprintf(typed, sizeof typed, "%s", at("alias/out"));
	snprintf(real, sizeof real, "%s", at("real/out"));
	sql_exec(db, v1_schema);
	/* the outputs as schema 1 kept them: OUT as typed (or its real path) + rel,
	 * '\n'-joined, and some pieces that must never be taken */
	char *joined;
	assert_true(asprintf(&joined,
		 "%s/a.jpg\n"          /* OUT as typed: kept */
		 "%s/sub/b.jpg\n"      /* OUT's real path: kept */
		 ".bashrc\n"           /* not beneath OUT */
		 "%s/../victim2\n"     /* leaves OUT */
		 "%s/./a.jpg\n"        /* not a clean path */
		 "%s//a.jpg\n"
		 "%s/link.jpg\n"       /* a symlink */
		 "%s/dir.jpg\n"        /* a folder */
		 "%s/old.jpg\n"        /* older than the input: not from it */
		 "%s/missing.jpg\n"    /* gone */
		 "%s-other/victim\n"   /* a sibling whose name starts like OUT */
		 "%s/sub/",            /* trailing slash */
		 typed, real, typed, typed, typed, typed, typed, typed, typed, real, typed) > 0);
	sqlite3 *h;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "INSERT INTO files VALUES ('/in', ?1, 5, ?2, 77, 0,"
					    " 1, NULL, ?3, 1, 2.5, 1)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, "a.jpg", 5, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, in_mtime);
	sqlite3_bind_blob(st, 3, joined, (int)strlen(joined), SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	free(joined);
	assert_int_equal(sqlite3_exec(h, "INSERT INTO files VALUES ('/in', CAST('f.jpg' AS BLOB),"
				      " 9, 1, 77, 0, 2,"
				      " 'VipsJpeg: bad', NULL, 3, 1.0, 1)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);

	/* a dry run reads nothing of it and changes nothing */
	size_t before_len, after_len;
	char *before = slurp(db, &before_len);
	char err[256], warn[512];
	outdir *od = open_out("alias/out", 0);
	assert_null(journal_open(od, "journal.sqlite", "s", 1, warn, sizeof warn, err, sizeof err));
	assert_string_equal(err, "");
	assert_string_equal(warn, "");
	outdir_close(od);
	char *after = slurp(db, &after_len);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	free(before);
	free(after);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 1);

	od = open_out("alias/out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_row got;
	journal_get(j, "/in", "a.jpg", &got);
	assert_int_equal(got.status, JOURNAL_OK);
	assert_int_equal(got.size, 5);
	assert_int_equal(got.mtime_ns, in_mtime);
	assert_int_equal(got.fingerprint, 77);
	assert_int_equal(got.attempts, 1);
	assert_true(got.ms == 2.5);
	assert_int_equal(got.kind, FAIL_NONE);
	assert_int_equal(got.strikes, 0);
	assert_int_equal(got.limits, 0);
	journal_get(j, "/in", "f.jpg", &got);
	assert_int_equal(got.status, JOURNAL_FAILED);
	assert_string_equal(got.cause, "VipsJpeg: bad");
	assert_int_equal(got.kind, FAIL_NONE); /* schema 1 knew no kinds */
	/* exactly the two clean, present, regular, new-enough outputs, as made */
	struct stat sa, sb;
	assert_int_equal(lstat(at("real/out/a.jpg"), &sa), 0);
	assert_int_equal(lstat(at("real/out/sub/b.jpg"), &sb), 0);
	file_ident ia = outdir_ident_of(&sa), ib = outdir_ident_of(&sb);
	assert_int_equal(journal_owns(j, "a.jpg", &ia, 0, NULL), 1);
	assert_int_equal(journal_owns(j, "sub/b.jpg", &ib, 0, NULL), 1);
	seen s = {0};
	journal_outputs_of(j, "/in", "a.jpg", collect, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.id[0].ino == ia.ino || s.id[0].ino == ib.ino, 1);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 8);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outputs"), 2);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outputs WHERE state=1 AND root='/in' "
				     "AND rel=CAST('a.jpg' AS BLOB)"), 2);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM files WHERE outputs IS NOT NULL"), 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM runs"), 1);
	/* nothing was touched on the way */
	assert_int_equal(access(at("victim2"), F_OK), 0);
	assert_int_equal(access(at("real/out/old.jpg"), F_OK), 0);
}

/* ------------------------------------------------------------------------- */
/* Schema 3: racy rows                                                        */

static const char v3_schema[] =
	"CREATE TABLE files (root TEXT NOT NULL, rel BLOB NOT NULL, size INTEGER,"
	" mtime_ns INTEGER, fingerprint INTEGER, checksum INTEGER, status INTEGER,"
	" cause TEXT, outputs BLOB, attempts INTEGER DEFAULT 0, ms REAL,"
	" seen_run INTEGER, kind INTEGER DEFAULT 0, limits INTEGER DEFAULT 0,"
	" strikes INTEGER DEFAULT 0, PRIMARY KEY (root, rel)) WITHOUT ROWID;"
	"CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT, settings TEXT,"
	" wall_s REAL, done INTEGER, failed INTEGER, skipped INTEGER, interrupted INTEGER);"
	"CREATE TABLE outputs (path BLOB NOT NULL, size INTEGER NOT NULL,"
	" mtime_ns INTEGER NOT NULL, dev INTEGER, ino INTEGER, root TEXT NOT NULL,"
	" rel BLOB NOT NULL, state INTEGER NOT NULL, fingerprint INTEGER DEFAULT 0,"
	" PRIMARY KEY (path, size, mtime_ns)) WITHOUT ROWID;"
	"CREATE INDEX outputs_owner ON outputs (root, rel);"
	"CREATE TABLE quarantine (name TEXT PRIMARY KEY, path BLOB NOT NULL, size INTEGER,"
	" mtime_ns INTEGER);"
	/* run 1 began at 1700000000 (UTC) and took 10 s; run 2 began at 1700003600
	 * (its local time an hour ahead) and was killed: no end */
	"INSERT INTO runs VALUES (1, '2023-11-14T22:13:20+0000', 's', 10, 1, 0, 0, 0);"
	"INSERT INTO runs VALUES (2, '2023-11-15T00:13:20+0100', 's', NULL, NULL, NULL,"
	" NULL, NULL);"
	/* run 3 in the older form, local time without the zone (the test's TZ: UTC) */
	"INSERT INTO runs VALUES (3, '2023-11-14 22:13:20', 's', 10, 1, 0, 0, 0);"
	"INSERT INTO files (root, rel, size, mtime_ns, fingerprint, checksum, status,"
	" attempts, ms, seen_run) VALUES"
	" ('/in', CAST('racy.jpg' AS BLOB), 5, 1700000005000000000, 77, 99, 1, 1, 2.5, 1),"
	" ('/in', CAST('before.jpg' AS BLOB), 5, 1699999998500000000, 77, 99, 1, 1, 2.5, 1),"
	" ('/in', CAST('old.jpg' AS BLOB), 5, 1699999940000000000, 77, 99, 1, 1, 2.5, 1),"
	" ('/in', CAST('edge.jpg' AS BLOB), 5, 1699999998000000000, 77, 99, 1, 1, 2.5, 1),"
	" ('/in', CAST('future.jpg' AS BLOB), 5, 1700003000000000000, 77, 99, 1, 1, 2.5, 1),"
	" ('/in', CAST('killed.jpg' AS BLOB), 5, 1700003700000000000, 77, 99, 1, 1, 2.5, 2),"
	" ('/in', CAST('failed.jpg' AS BLOB), 5, 1700000001000000000, 77, 99, 2, 1, 2.5, 1),"
	" ('/in', CAST('lost.jpg' AS BLOB), 5, 1700000001000000000, 77, 99, 1, 1, 2.5, 9),"
	" ('/in', CAST('local.jpg' AS BLOB), 5, 1700000005000000000, 77, 99, 1, 1, 2.5, 3);"
	"PRAGMA user_version=3;";

/* Is (/in, rel) racy in j, and otherwise as it was? */
static int racy_in(journal *j, const char *rel)
{
	journal_row got;
	journal_get_any(j, "/in", rel, &got);
	assert_int_not_equal(got.status, JOURNAL_NONE);
	assert_int_equal(got.size, 5);
	assert_int_equal(got.checksum, 99);
	assert_int_equal(got.fingerprint, 77);
	return got.racy;
}

/* A journal of schema 3 (before racy rows): another shard's is read as it is, its
 * rows not racy; converted, its rows whose mtime lay within 2 s of the run that
 * recorded them (from 2 s before its start to its end, or without an end when it
 * was killed) are racy. */
static void test_migrate_v3(void **state)
{
	assert_int_equal(mkdir(at("out"), 0755), 0);
	assert_int_equal(mkdir(at("out/.imgpool"), 0755), 0);
	const char *db = at("out/.imgpool/journal-2-of-2.sqlite");
	sql_exec(db, v3_schema);

	/* another shard's journal, of schema 3, read only: its rows are found */
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal-1-of-2.sqlite", 0, NULL, 0);
	assert_int_equal(racy_in(j, "racy.jpg"), 0);
	journal_close(j, 0, 0, 0, 0, 0);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 3);

	/* a dry run's view of it, read only and left as it is: its rows are there
	 * (a -n after an upgrade had read none, as though there were no journal) */
	outdir *dry = open_out("out", 0);
	char err[256], warn[256];
	j = journal_open(dry, "journal-2-of-2.sqlite", "s", 1, warn, sizeof warn, err, sizeof err);
	assert_non_null(j);
	journal_row dry_row;
	journal_get(j, "/in", "old.jpg", &dry_row);
	assert_int_equal(dry_row.status, JOURNAL_OK);
	assert_int_equal(dry_row.racy, 0);
	assert_int_equal(journal_put(j, "/in", "old.jpg", &dry_row), 0); /* writes nothing */
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(dry);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 3);

	/* converted */
	setenv("TZ", "UTC", 1);
	tzset();
	j = open_journal(od, "journal-2-of-2.sqlite", 0, NULL, 0);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 8);
	assert_int_equal(racy_in(j, "racy.jpg"), 1);    /* during its run */
	assert_int_equal(racy_in(j, "before.jpg"), 1);  /* 1.5 s before it began */
	assert_int_equal(racy_in(j, "old.jpg"), 0);     /* a minute before */
	assert_int_equal(racy_in(j, "edge.jpg"), 0);    /* 2 s before: safely older */
	assert_int_equal(racy_in(j, "future.jpg"), 0);  /* long after its end */
	assert_int_equal(racy_in(j, "killed.jpg"), 1);  /* after the start of a killed run */
	assert_int_equal(racy_in(j, "failed.jpg"), 0);  /* failures are not */
	assert_int_equal(racy_in(j, "lost.jpg"), 0);    /* its run is not known */
	assert_int_equal(racy_in(j, "local.jpg"), 1);   /* its run's start in the older form */
	/* and rows are written with it */
	journal_row row;
	journal_get(j, "/in", "old.jpg", &row);
	row.racy = 1;
	assert_int_equal(journal_put(j, "/in", "old.jpg", &row), 0);
	assert_int_equal(racy_in(j, "old.jpg"), 1);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM files WHERE racy=1"), 5);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM runs"), 4);
}

/* ------------------------------------------------------------------------- */
/* Unusable journals                                                          */

/* The names in OUT/.imgpool starting with prefix, joined by ' '. */
static void private_names(outdir *od, const char *prefix, char *buf, size_t len)
{
	char **names = outdir_private_list(od, prefix, "");
	assert_non_null(names);
	buf[0] = '\0';
	for (char **n = names; *n; n++) {
		strncat(buf, *n, len - strlen(buf) - 1);
		strncat(buf, " ", len - strlen(buf) - 1);
	}
	outdir_names_free(names);
}

/* Open over a journal file holding bad: moved aside with a warning naming why, a
 * fresh one made. */
static void moved_aside(const char *bad, size_t len, const char *why, int dry_opens)
{
	outdir *od = open_out("out", 1);
	put_file(at("out/.imgpool/journal.sqlite"), bad, len);
	/* a dry run leaves it where it is and goes on without */
	outdir *dry = open_out("out", 0);
	char err[256], warn[1024];
	journal *dj = journal_open(dry, "journal.sqlite", "s", 1, warn, sizeof warn, err,
				   sizeof err);
	if (!dry_opens)
		assert_null(dj);
	journal_close(dj, 0, 0, 0, 0, 0);
	assert_string_equal(warn, "");
	outdir_close(dry);
	char names[1024];
	private_names(od, "journal.sqlite.unusable-", names, sizeof names);
	assert_string_equal(names, "");

	journal *j = open_journal(od, "journal.sqlite", 0, warn, sizeof warn);
	assert_non_null(j);
	char want[1024];
	snprintf(want, sizeof want, "imgpool: warning: the journal %s/.imgpool/journal.sqlite was "
		 "unusable (%s); moved aside to journal.sqlite.unusable-", at("out"), why);
	if (strncmp(warn, want, strlen(want)))
		fail_msg("warning: %s", warn);
	assert_non_null(strstr(warn, " and started anew"));
	private_names(od, "journal.sqlite.unusable-", names, sizeof names);
	assert_true(!strncmp(names, "journal.sqlite.unusable-", 24));
	assert_non_null(strchr(names, ' '));
	*strchr(names, ' ') = '\0';
	assert_non_null(strstr(warn, names));	/* the one moved aside, named */
	/* the bad bytes kept as they were, the new journal working */
	size_t n;
	char *kept = slurp(at("out/.imgpool/%s", names), &n);
	assert_non_null(kept);
	assert_int_equal(n, len);
	assert_memory_equal(kept, bad, len);
	free(kept);
	journal_row row = full_row(), got;
	assert_int_equal(journal_put(j, "/r", "x", &row), 0);
	journal_get(j, "/r", "x", &got);
	assert_rows_equal(&got, &row);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
}

static void test_not_sqlite(void **state)
{
	static const char junk[] = "this is not an SQLite database, just some bytes ...........";
	moved_aside(junk, sizeof junk - 1, "not an SQLite database", 0);
}

/* Two unusable journals moved aside within one second: the second took the first's
 * name ("journal.sqlite.unusable-<seconds>") and replaced it, the last copy of what
 * the first held. Each keeps a name of its own. */
static void test_moved_aside_twice(void **state)
{
	static const char junk[] = "not a journal at all, first ........................";
	static const char junk2[] = "not a journal at all, second .......................";
	outdir *od = open_out("out", 1);
	for (int i = 0; i < 2; i++) {
		put_file(at("out/.imgpool/journal.sqlite"), i ? junk2 : junk,
			 (i ? sizeof junk2 : sizeof junk) - 1);
		char warn[1024];
		journal *j = open_journal(od, "journal.sqlite", 0, warn, sizeof warn);
		assert_non_null(strstr(warn, "moved aside"));
		journal_close(j, 0, 0, 0, 0, 0);
	}
	char **list = outdir_private_list(od, "journal.sqlite.unusable-", "");
	int n = 0;
	for (char **p = list; p && *p; p++)
		n += !strstr(*p, "-wal") && !strstr(*p, "-shm");
	outdir_names_free(list);
	assert_int_equal(n, 2);
	outdir_close(od);
}

/* Schema 5: the devices of the PATH folders (prune_root_unsure()); a journal of
 * schema 4 gains the table and keeps its rows. */
static void test_root_devices(void **state)
{
	(void)state;
	outdir *od = open_out("roots", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	assert_int_equal(journal_root_device_seen(j, "/photos", 2049), -1);
	assert_int_equal(journal_set_root_device(j, "/photos", 2049), 0);
	assert_int_equal(journal_set_root_device(j, "/photos", 2050), 0);
	journal_close(j, 0, 0, 0, 0, 0);
	const char *db = at("roots/.imgpool/journal.sqlite");
	sql_exec(db, "PRAGMA journal_mode=DELETE; DROP TABLE roots; "
		     "ALTER TABLE outputs DROP COLUMN checksum; "
		     "ALTER TABLE outputs DROP COLUMN dir_id; ALTER TABLE outputs DROP COLUMN stamp; "
		     "ALTER TABLE outputs DROP COLUMN src_size; "
		     "ALTER TABLE outputs DROP COLUMN src_mtime_ns; "
		     "ALTER TABLE outputs DROP COLUMN src_checksum; "
		     "PRAGMA user_version=4; "
		     "INSERT INTO files (root, rel, size, mtime_ns, status) VALUES "
		     "('/photos', CAST('a.jpg' AS BLOB), 1, 2, 1)");
	/* A dry run reads it as it is (it read none of a schema-4 journal once). */
	j = open_journal(od, "journal.sqlite", 1, NULL, 0);
	assert_non_null(j);
	journal_row row;
	journal_get(j, "/photos", "a.jpg", &row);
	assert_int_equal(row.status, JOURNAL_OK);
	assert_int_equal(journal_root_device_seen(j, "/photos", 2050), -1);
	journal_close(j, 0, 0, 0, 0, 0);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 4);
	j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 8);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM files"), 1);
	assert_int_equal(journal_root_device_seen(j, "/photos", 2050), -1);
	assert_int_equal(journal_set_root_device(j, "/photos", 2050), 0);
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(journal_root_device_seen(j, "/photos", 2050), 1);
	assert_int_equal(journal_root_device_seen(j, "/photos", 40), 0);
	journal_close(j, 0, 0, 0, 0, 0);
	/* Another journal of the folder (a shard's) sees the record too: a run with
	 * another layout prunes the inputs every journal records. */
	j = open_journal(od, "journal-1-of-2.sqlite", 0, NULL, 0);
	assert_int_equal(journal_root_device_seen(j, "/photos", 40), 0);
	assert_int_equal(journal_root_device_seen(j, "/photos", 2050), 1);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
}

static void test_newer_schema(void **state)
{
	outdir *od = open_out("made", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	sql_exec(at("made/.imgpool/journal.sqlite"), "PRAGMA journal_mode=DELETE; "
						     "PRAGMA user_version=9");
	size_t n;
	char *bytes = slurp(at("made/.imgpool/journal.sqlite"), &n);
	moved_aside(bytes, n, "written by a newer imgpool (unknown schema version)", 0);
	free(bytes);
}

static void test_damaged(void **state)
{
	/* a real journal with its pages scrambled past the header */
	outdir *od = open_out("made", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_row row = full_row();
	char rel[32];
	for (int i = 0; i < 300; i++) {
		snprintf(rel, sizeof rel, "file-%04d.jpg", i);
		assert_int_equal(journal_put(j, "/r", rel, &row), 0);
	}
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	sql_exec(at("made/.imgpool/journal.sqlite"), "PRAGMA journal_mode=DELETE");
	size_t n;
	char *bytes = slurp(at("made/.imgpool/journal.sqlite"), &n);
	assert_true(n > 8 * 4096);
	for (size_t i = 4096 + 7; i < n; i += 13)
		bytes[i] ^= 0x5a;
	moved_aside(bytes, n, "it failed SQLite's integrity check", 1);
	free(bytes);
}

/* ------------------------------------------------------------------------- */
/* A dry run's read-only open                                                 */

static void test_readonly(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_row row = full_row(), got;
	file_ident v = ident(5, 6, 0, 0);
	assert_int_equal(journal_put(j, "/r", "a.jpg", &row), 0);
	assert_int_equal(journal_put(j, "/r", "b.jpg", &row), 0);
	assert_int_equal(journal_output_intent(j, "a.jpg", &v, 0, "/r", "a.jpg", NULL), 0);
	assert_int_equal(journal_quarantine_add(j, "q-1", "a.jpg", &v), 0);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	const char *db = at("out/.imgpool/journal.sqlite");
	sql_exec(db, "PRAGMA journal_mode=DELETE"); /* one file to compare */
	size_t before_len, after_len;
	char *before = slurp(db, &before_len);

	od = open_out("out", 0);
	char warn[256], err[256];
	j = journal_open(od, "journal.sqlite", "s", 1, warn, sizeof warn, err, sizeof err);
	assert_non_null(j);
	/* it reads ... */
	journal_get(j, "/r", "a.jpg", &got);
	assert_rows_equal(&got, &row);
	assert_int_equal(journal_owns(j, "a.jpg", &v, 0, NULL), 1);
	qseen q = {0};
	journal_quarantine_each(j, qcollect, &q);
	assert_int_equal(q.n, 1);
	/* ... and every write is a no-op that succeeds */
	journal_row other = row;
	other.size = 1;
	assert_int_equal(journal_put(j, "/r", "a.jpg", &other), 0);
	assert_int_equal(journal_put(j, "/r", "new.jpg", &other), 0);
	assert_int_equal(journal_output_intent(j, "n.jpg", &v, 0, "/r", "n.jpg", NULL), 0);
	assert_int_equal(journal_output_made(j, "n.jpg", &v, 0), 0);
	assert_int_equal(journal_output_forget(j, "a.jpg", NULL), 0);
	assert_int_equal(journal_quarantine_del(j, "q-1"), 0);
	visits vs = {.drop = "a.jpg"};
	const char *roots[] = {"/r"};
	assert_int_equal(journal_each_input(j, roots, 1, visit, &vs), 0);
	assert_int_equal(vs.n, 2);
	assert_int_equal(journal_sync(j), 0);
	journal_get(j, "/r", "a.jpg", &got);
	assert_rows_equal(&got, &row);
	journal_get(j, "/r", "new.jpg", &got);
	assert_int_equal(got.status, JOURNAL_NONE);
	assert_int_equal(journal_owns(j, "a.jpg", &v, 0, NULL), 1);
	assert_string_equal(journal_error(j), "");
	journal_close(j, 1, 2, 3, 4, 0);
	outdir_close(od);
	char *after = slurp(db, &after_len);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	free(before);
	free(after);

	/* no journal yet, no output folder yet: NULL and no error */
	od = open_out("absent", 0);
	assert_null(journal_open(od, "journal.sqlite", "s", 1, warn, sizeof warn, err, sizeof err));
	assert_string_equal(err, "");
	assert_string_equal(warn, "");
	outdir_close(od);
	assert_int_equal(access(at("absent"), F_OK), -1);
	/* its own not there yet, another is (a first dry run with --shard after runs
	 * without): an empty one in memory, the other's rows found through it, and
	 * nothing made on disk */
	od = open_out("out", 0);
	j = journal_open(od, "journal-1-of-2.sqlite", "s", 1, warn, sizeof warn, err, sizeof err);
	assert_non_null(j);
	assert_string_equal(err, "");
	journal_get(j, "/r", "a.jpg", &got);
	assert_int_equal(got.status, JOURNAL_NONE);
	journal_get_any(j, "/r", "a.jpg", &got);
	assert_rows_equal(&got, &row);
	assert_int_equal(journal_owns(j, "a.jpg", &v, 0, NULL), 1);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	assert_int_equal(access(at("out/.imgpool/journal-1-of-2.sqlite"), F_OK), -1);
}

/* ------------------------------------------------------------------------- */
/* Writes that fail                                                           */

/* In a child (the limit is per process): what went wrong, as an exit code. */
enum { CHILD_OK = 0, CHILD_NO_JOURNAL = 10, CHILD_ERROR_EARLY, CHILD_NEVER_FAILED,
       CHILD_BAD_MESSAGE, CHILD_NO_RECOVERY, CHILD_LOST_OLD_ROW };

static int fill_until_failure(void)
{
	char err[256];
	outdir *od = outdir_open(at("out"), 1, err, sizeof err);
	journal *j = od ? journal_open(od, "journal.sqlite", "s", 0, err, sizeof err, err,
				       sizeof err) : NULL;
	if (!j)
		return CHILD_NO_JOURNAL;
	journal_row row = full_row();
	memset(row.cause, 'x', 500);
	row.cause[500] = '\0';
	if (journal_put(j, "/r", "first", &row) < 0 || journal_sync(j) < 0 ||
	    journal_error(j)[0])
		return CHILD_ERROR_EARLY;
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 256 * 1024;
	setrlimit(RLIMIT_FSIZE, &lim);
	int failed = 0;
	char rel[32];
	for (int i = 0; i < 5000 && !failed; i++) {
		snprintf(rel, sizeof rel, "f%05d", i);
		failed = journal_put(j, "/r", rel, &row) < 0;
		if (!failed && i % 50 == 49)
			failed = journal_sync(j) < 0;
	}
	if (!failed)
		failed = journal_sync(j) < 0;
	if (!failed)
		return CHILD_NEVER_FAILED;
	const char *e = journal_error(j);
	if (strncmp(e, "journal: ", 9) || !strstr(e, strerror(EFBIG))) {
		fprintf(stderr, "journal_error: %s\n", e);
		return CHILD_BAD_MESSAGE;
	}
	/* room again: the journal goes on, and what was committed is there */
	setrlimit(RLIMIT_FSIZE, &old);
	if (journal_put(j, "/r", "after", &row) < 0 || journal_sync(j) < 0)
		return CHILD_NO_RECOVERY;
	journal_row got;
	journal_get(j, "/r", "first", &got);
	if (got.status != JOURNAL_FAILED)
		return CHILD_LOST_OLD_ROW;
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	return CHILD_OK;
}

static int in_child(int (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_write_fails(void **state)
{
	assert_int_equal(in_child(fill_until_failure), CHILD_OK);
	/* what the child committed is in the file */
	const char *db = at("out/.imgpool/journal.sqlite");
	assert_int_equal(sql_int(db, "SELECT count(*) FROM files WHERE rel IN "
				     "(CAST('first' AS BLOB), CAST('after' AS BLOB))"), 2);
}

/* Not even a fresh journal can be written: NULL and a message saying why; nothing
 * moved aside (there was nothing, and a full disk says nothing of a file). */
static int open_without_room(void)
{
	char err[512], warn[512];
	outdir *od = outdir_open(at("out"), 1, err, sizeof err);
	if (!od)
		return CHILD_NO_JOURNAL;
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim;
	getrlimit(RLIMIT_FSIZE, &lim);
	lim.rlim_cur = 0;
	setrlimit(RLIMIT_FSIZE, &lim);
	journal *j = journal_open(od, "journal.sqlite", "s", 0, warn, sizeof warn, err, sizeof err);
	if (j)
		return CHILD_NEVER_FAILED;
	char want[600];
	snprintf(want, sizeof want, "cannot open the journal %s/.imgpool/journal.sqlite: ",
		 at("out"));
	if (strncmp(err, want, strlen(want)) || !strstr(err, strerror(EFBIG)) || warn[0]) {
		fprintf(stderr, "err: %s\nwarn: %s\n", err, warn);
		return CHILD_BAD_MESSAGE;
	}
	outdir_close(od);
	return CHILD_OK;
}

/* A good journal that cannot be opened now (no descriptor left): NULL with the
 * system's reason, and the file left where it is with its rows. Moved aside, it
 * took the proof of every thumbnail with it. */
static int open_without_descriptors(void)
{
	char err[512], warn[512];
	outdir *od = outdir_open(at("out"), 1, err, sizeof err);
	if (!od)
		return CHILD_NO_JOURNAL;
	struct rlimit lim;
	getrlimit(RLIMIT_NOFILE, &lim);
	lim.rlim_cur = 256;
	setrlimit(RLIMIT_NOFILE, &lim);
	int fds[256], n = 0;
	while (n < 256 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
		n++;
	if (n == 256 || errno != EMFILE)
		return CHILD_ERROR_EARLY;
	journal *j = journal_open(od, "journal.sqlite", "s", 0, warn, sizeof warn, err, sizeof err);
	if (j)
		return CHILD_NEVER_FAILED;
	if (!strstr(err, "cannot open the journal") || !strstr(err, strerror(EMFILE)) ||
	    warn[0]) {
		fprintf(stderr, "err: %s\nwarn: %s\n", err, warn);
		return CHILD_BAD_MESSAGE;
	}
	while (n > 0)
		close(fds[--n]);
	j = journal_open(od, "journal.sqlite", "s", 0, warn, sizeof warn, err, sizeof err);
	if (!j || warn[0])
		return CHILD_LOST_OLD_ROW;
	journal_row got;
	journal_get(j, "/r", "kept", &got);
	if (got.status == JOURNAL_NONE)
		return CHILD_LOST_OLD_ROW;
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	return CHILD_OK;
}

static void test_cannot_create(void **state)
{
	assert_int_equal(in_child(open_without_room), CHILD_OK);
}

static void test_cannot_open_now(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_row row = full_row();
	assert_int_equal(journal_put(j, "/r", "kept", &row), 0);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	assert_int_equal(in_child(open_without_descriptors), CHILD_OK);
	char names[1024];
	od = open_out("out", 0);
	private_names(od, "journal.sqlite.unusable-", names, sizeof names);
	assert_string_equal(names, "");
	outdir_close(od);
}

/* The journal deleted while a run holds it: a sync says so, and every sync after
 * it, a transaction open or not; the rows it undid are counted, so that a batch
 * whose write-ahead rows a full batch's inner sync undid never counts as
 * recorded. */
static void test_moved_journal(void **state)
{
	outdir *od = open_out("out", 1);
	journal *j = open_journal(od, "journal.sqlite", 0, NULL, 0);
	journal_row row = full_row();
	assert_int_equal(journal_put(j, "/photos", "a.jpg", &row), 0);
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(journal_moved(j), 0);
	assert_int_equal(journal_rollbacks(j), 0);
	assert_int_equal(journal_put(j, "/photos", "b.jpg", &row), 0);
	assert_int_equal(unlink(at("out/.imgpool/journal.sqlite")), 0);
	assert_int_equal(journal_moved(j), 1);
	assert_int_equal(journal_sync(j), -1);
	assert_int_equal(journal_rollbacks(j), 1); /* b.jpg's row is undone: counted */
	assert_non_null(strstr(journal_error(j), "deleted or moved"));
	assert_int_equal(journal_sync(j), -1);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_null_handle),
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owns_across_journals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_removes_emptied_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_sqlite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_open_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved_aside_twice, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
