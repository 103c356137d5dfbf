/* SPDX-License-Identifier: MIT */
/*
 * test_plan.c — the per-file decisions (app/plan.c), with the real walk, output
 * folder and journal on a temporary tree: redo, up to date, adopted (with the
 * journal, and with the journal lost), failed earlier (remembered kinds at once,
 * the machine's after FAILURE_STRIKES), refused outputs, --force, --overwrite,
 * --checksum, --retry-failed, shards, racy rows; and the journal rows plan_remember
 * writes.
 *
 * No pixel is decoded: "making" a thumbnail here is writing a small file at the
 * output path and recording it the way the run does after a worker succeeded.
 * Inputs and outputs get fixed modification times, so nothing depends on the clock
 * (but racy rows, which are about the clock: their run's start is given).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "filehash.h"
#include "journal.h"
#include "outdir.h"
#include "plan.h"

/* Inputs are from T_IN, thumbnails from T_OUT (seconds). */
#define T_IN 1600000000
#define T_OUT (T_IN + 100)

/* ------------------------------------------------------------------------- */
/* Fixture: a temporary folder to work in                                     */

static char tmp_dir[PATH_MAX];
static int old_cwd = -1;

static int setup(void **state)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmp_dir, sizeof tmp_dir, "%s/test_plan.XXXXXX", base);
	if (!mkdtemp(tmp_dir))
		return -1;
	old_cwd = open(".", O_RDONLY | O_DIRECTORY);
	return chdir(tmp_dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

static int teardown(void **state)
{
	if (old_cwd >= 0) {
		if (fchdir(old_cwd) < 0)
			return -1;
		close(old_cwd);
		old_cwd = -1;
	}
	nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(buf, 0755);
			*s = '/';
		}
	mkdir(buf, 0755);
}

static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* A file with these bytes and mtime (folders made as needed). */
static void mkfile(const char *path, const char *text, time_t mtime)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdirs(dir);
	}
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	set_mtime(path, mtime);
}

/* An input of the usual kind. */
static void input(const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "src/%s", rel);
	mkfile(path, "image bytes", T_IN);
}

/* ------------------------------------------------------------------------- */
/* One planning pass                                                          */

/* Every read of an input's bytes goes through here (the linker's --wrap, in
 * app.cmake): a pass can make them fail as a machine short of descriptors would,
 * where nothing else is short (hogging descriptors failed the output's lookup
 * first). */
int __real_filehash_path(const char *path, uint64_t *sum);
static int hash_errno;
int __wrap_filehash_path(const char *path, uint64_t *sum);
int __wrap_filehash_path(const char *path, uint64_t *sum)
{
	if (hash_errno) {
		errno = hash_errno;
		return -1;
	}
	return __real_filehash_path(path, sum);
}

/* And every step of SQLite's, to fail the journal's lookups (its reads). */
int __real_sqlite3_step(sqlite3_stmt *s);
static const char *fail_sql, *fail_key;
int __wrap_sqlite3_step(sqlite3_stmt *s);
int __wrap_sqlite3_step(sqlite3_stmt *s)
{
	if (fail_sql && sqlite3_stmt_readonly(s) && strstr(sqlite3_sql(s), fail_sql)) {
		char *values = fail_key ? sqlite3_expanded_sql(s) : NULL;
		int hit = !fail_key || (values && strstr(values, fail_key));
		sqlite3_free(values);
		if (hit)
			return SQLITE_IOERR;
	}
	return __real_sqlite3_step(s);
}

typedef struct passed {
	char rel[64];
	plan_pass how;
	failure_kind kind;
	char cause[512];
} passed;

typedef struct planned {
	char rel[64];
	uint64_t checksum;
	thumb_format format;
	char root[PATH_MAX];
} planned;

/* What a pass is asked to do. */
typedef struct how {
	int force, overwrite, checksum, retry_failed, no_journal;
	int quality;              /* a setting: changes the fingerprint */
	double timeout;           /* a limit: changes journal_limits */
	const char *name_template;
	shard shard;
	int make;                 /* make each planned file's thumbnails */
	int worker_sum;           /* and record its checksum, as a worker does (else the
	                             planner's, 0 without --checksum) */
	int64_t run_start_ns;     /* the run's start (wall clock); 0: now */
	const char *journal;      /* its journal's name in out/.imgpool (journal.sqlite) */
	failure_kind fail;        /* or remember each planned file as failed so */
	const char *cause;
	const char *const *paths; /* default: {"src"} */
	int npaths;
	int hash_errno;           /* the planner's reads of inputs fail so (ulimit -n) */
	const char *fail_sql;     /* and the journal's lookups whose SQL holds this fail
	                             (EIO; "": every lookup) ... */
	const char *fail_key;     /* ... those with this among their values, if given */
	int hold;                 /* hold_contested, and after the walk each held file
	                             decided (plan_next_held()) */
	const char *fail_only;    /* with fail: only the file of this rel fails, and
	                             after the walk (a worker's outcome comes late) */
} how;

typedef struct result {
	passed pass[128];
	int npassed;
	planned plan[128];
	int nplanned;
	uint64_t adopted, failed_earlier;
	int walk_errors;
	int remember_rc;
	int held;                  /* plan_holding() after the walk */
	char held_planned[512];    /* those plan_next_held() planned, ' '-joined */
} result;

static void on_passed(void *data, const discover_item *it, plan_pass how_, failure_kind kind,
		      const char *cause)
{
	result *r = data;
	assert_true(r->npassed < 128);
	passed *p = &r->pass[r->npassed++];
	snprintf(p->rel, sizeof p->rel, "%s", it->rel);
	p->how = how_;
	p->kind = kind;
	snprintf(p->cause, sizeof p->cause, "%s", cause ? cause : "(null)");
}

static thumb_settings settings_of(const how *h)
{
	thumb_settings s;
	memset(&s, 0, sizeof s);
	s.sizes[0] = (thumb_size){256, 256};
	s.nsizes = 1;
	s.background[0] = s.background[1] = s.background[2] = 255;
	s.max_pixels = 268402689;
	s.quality = h->quality;
	return s;
}

/* Make item's thumbnails as a finished task would leave them: files at the output
 * paths, recorded as imgpool's, and the input remembered as made. */
static void make_outputs(outdir *od, journal *j, planner *p, const plan_item *item,
			 int worker_sum)
{
	const discover_item *it = item->it;
	uint64_t checksum = item->checksum;
	if (worker_sum)
		assert_int_equal(filehash_path(it->input, &checksum), 0);
	journal_source src = {1, it->size,
			      (int64_t)it->mtime.tv_sec * 1000000000 + it->mtime.tv_nsec, checksum};
	for (int i = 0; i < it->noutputs; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s", it->outputs[i]);
		/* not older than the input (a racy one's is now) */
		mkfile(path, "a thumbnail",
		       it->mtime.tv_sec < T_OUT ? T_OUT : it->mtime.tv_sec + 1);
		struct stat st;
		assert_int_equal(outdir_stat(od, it->out_rel[i], &st), 0);
		file_ident id = outdir_ident_of(&st);
		assert_int_equal(journal_output_intent(j, it->out_rel[i], &id, 0, item->root, it->rel,
						       &src),
				 0);
		assert_int_equal(journal_output_made(j, it->out_rel[i], &id, 0), 0);
	}
	plan_outcome o = {.root = item->root, .rel = it->rel, .size = it->size,
			  .checksum = checksum,
			  .mtime_ns = (int64_t)it->mtime.tv_sec * 1000000000 + it->mtime.tv_nsec,
			  .kind = FAIL_NONE, .ms = 12.5, .attempts = 1};
	assert_int_equal(plan_remember(p, &o), 0);
}

static const char *const SRC[] = {"src"};

static void run_plan(const how *h, result *r)
{
	memset(r, 0, sizeof *r);
	char err[512], warn[512], text[1200];
	outdir *od = outdir_open("out", 1, err, sizeof err);
	if (!od)
		fail_msg("outdir_open: %s", err);
	thumb_settings s = settings_of(h);
	uint64_t fingerprint = journal_fingerprint(&s, h->name_template, text, sizeof text);
	journal *j = NULL;
	if (!h->no_journal) {
		j = journal_open(od, h->journal ? h->journal : "journal.sqlite", text, 0, warn,
				 sizeof warn, err, sizeof err);
		if (!j)
			fail_msg("journal_open: %s", err);
		journal_set_fingerprint(j, fingerprint); /* as a run does */
	}
	discover_config dc = {
		.paths = h->paths ? h->paths : SRC, .npaths = h->paths ? h->npaths : 1,
		.recursive = 1, .out_dir = "out", .name_template = h->name_template,
		.settings = &s,
	};
	char *derr = NULL;
	discover *d = discover_open(&dc, &derr);
	if (!d)
		fail_msg("discover_open: %s", derr);
	planner_config pc = {
		.d = d, .od = od, .j = j, .settings = &s, .fingerprint = fingerprint,
		.limits = journal_limits(h->timeout ? h->timeout : 120, s.max_pixels,
					 FAILON_WARNING, "test 1"),
		.shard = h->shard, .force = h->force, .overwrite = h->overwrite,
		.checksum = h->checksum, .retry_failed = h->retry_failed,
		.run_start_ns = h->run_start_ns ? h->run_start_ns : clock_wall_ns(),
		.hold_contested = h->hold, .on_passed = on_passed, .data = r,
	};
	planner *p = planner_new(&pc);
	assert_non_null(p);
	plan_item item;
	plan_outcome late = {0};
	char late_root[PATH_MAX], late_input[PATH_MAX], late_out[PATH_MAX];
	hash_errno = h->hash_errno;
	fail_sql = h->fail_sql;
	fail_key = h->fail_key;
	while (plan_next(p, &item)) {
		assert_true(r->nplanned < 128);
		planned *q = &r->plan[r->nplanned++];
		snprintf(q->rel, sizeof q->rel, "%s", item.it->rel);
		q->checksum = item.checksum;
		q->format = item.formats[0];
		snprintf(q->root, sizeof q->root, "%s", item.root ? item.root : "(null)");
		if (h->make) {
			make_outputs(od, j, p, &item, h->worker_sum);
		} else if (h->fail && h->fail_only && !strcmp(h->fail_only, item.it->rel)) {
			/* its outcome comes after the walk, as a worker's would */
			snprintf(late_root, sizeof late_root, "%s", item.root);
			snprintf(late_input, sizeof late_input, "%s", item.it->input);
			snprintf(late_out, sizeof late_out, "%s", item.it->out_rel[0]);
			late = (plan_outcome){
				.root = late_root, .rel = late_input + strlen(late_input) -
							  strlen(item.it->rel),
				.size = item.it->size,
				.mtime_ns = (int64_t)item.it->mtime.tv_sec * 1000000000 +
					    item.it->mtime.tv_nsec,
				.kind = h->fail, .cause = h->cause, .ms = 3, .attempts = 1};
		} else if (h->fail && !h->fail_only) {
			plan_outcome o = {
				.root = item.root, .rel = item.it->rel, .size = item.it->size,
				.mtime_ns = (int64_t)item.it->mtime.tv_sec * 1000000000 +
					    item.it->mtime.tv_nsec,
				.kind = h->fail, .cause = h->cause, .ms = 3, .attempts = 1};
			r->remember_rc |= plan_remember(p, &o);
		}
	}
	if (late.rel) { /* and as the run does for a file that made nothing */
		r->remember_rc |= plan_remember(p, &late);
		char *out_rel[1] = {late_out};
		discover_release_outputs(d, late_input, out_rel, 1);
	}
	r->held = plan_holding(p);
	while (h->hold && plan_next_held(p, &item)) {
		if (r->held_planned[0])
			strcat(r->held_planned, " ");
		strcat(r->held_planned, item.it->rel);
		if (h->make)
			make_outputs(od, j, p, &item, h->worker_sum);
	}
	hash_errno = 0;
	fail_sql = fail_key = NULL;
	r->adopted = plan_adopted(p);
	r->failed_earlier = plan_failed_earlier(p);
	r->walk_errors = plan_walk_errors(p);
	planner_free(p);
	discover_close(d);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rels planned, sorted, joined by ' '. */
static const char *planned_names(const result *r)
{
	static char buf[4096];
	const char *names[128];
	for (int i = 0; i < r->nplanned; i++)
		names[i] = r->plan[i].rel;
	qsort(names, (size_t)r->nplanned, sizeof *names, by_name);
	buf[0] = '\0';
	for (int i = 0; i < r->nplanned; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, names[i]);
	}
	return buf;
}

/* The rels passed over in this way, sorted, joined by ' '. */
static const char *passed_names(const result *r, plan_pass how_, failure_kind kind)
{
	static char buf[4096];
	const char *names[128];
	int n = 0;
	for (int i = 0; i < r->npassed; i++)
		if (r->pass[i].how == how_ && r->pass[i].kind == kind)
			names[n++] = r->pass[i].rel;
	qsort(names, (size_t)n, sizeof *names, by_name);
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, names[i]);
	}
	return buf;
}

static const passed *passed_for(const result *r, const char *rel)
{
	for (int i = 0; i < r->npassed; i++)
		if (!strcmp(r->pass[i].rel, rel))
			return &r->pass[i];
	fail_msg("%s was not passed over", rel);
	return NULL;
}

static const planned *planned_for(const result *r, const char *rel)
{
	for (int i = 0; i < r->nplanned; i++)
		if (!strcmp(r->plan[i].rel, rel))
			return &r->plan[i];
	fail_msg("%s was not planned", rel);
	return NULL;
}

/* The journal's row of src/rel, read after a pass. */
static journal_row row_of(const char *rel)
{
	char err[256], warn[256];
	outdir *od = outdir_open("out", 0, err, sizeof err);
	assert_non_null(od);
	journal *j = journal_open(od, "journal.sqlite", "", 1, warn, sizeof warn, err, sizeof err);
	assert_non_null(j);
	char *root = realpath("src", NULL);
	journal_row row;
	journal_get(j, root, rel, &row);
	free(root);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	return row;
}

/* Does the journal own out/rel as it is now? */
static int owned(const char *rel)
{
	char err[256], warn[256];
	outdir *od = outdir_open("out", 0, err, sizeof err);
	journal *j = journal_open(od, "journal.sqlite", "", 1, warn, sizeof warn, err, sizeof err);
	struct stat st;
	int yes = 0;
	if (j && outdir_stat(od, rel, &st) == 0) {
		file_ident id = outdir_ident_of(&st);
		yes = journal_owns(j, rel, &id, 0, NULL);
	}
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
	return yes;
}

/* ------------------------------------------------------------------------- */
/* Redo or up to date                                                         */

static void test_up_to_date(void **state)
{
	result r;
	input("a.jpg");
	input("b.png");
	input("sub/c.jpg");
	/* nothing made yet: everything planned */
	run_plan(&(how){.make = 1}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.png sub/c.jpg");
	assert_int_equal(r.npassed, 0);
	char *root = realpath("src", NULL);
	assert_string_equal(planned_for(&r, "a.jpg")->root, root);
	free(root);
	assert_int_equal(planned_for(&r, "a.jpg")->format, FORMAT_JPEG);
	assert_int_equal(planned_for(&r, "b.png")->format, FORMAT_PNG);
	assert_int_equal(planned_for(&r, "a.jpg")->checksum, 0);
	/* made: all up to date, passed over as skipped */
	run_plan(&(how){0}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "a.jpg b.png sub/c.jpg");
	assert_string_equal(passed_for(&r, "a.jpg")->cause, "(null)");
	assert_int_equal(r.adopted, 0);
	/* --force redoes them */
	run_plan(&(how){.force = 1}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.png sub/c.jpg");
	/* another output setting: redone */
	run_plan(&(how){.quality = 90}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.png sub/c.jpg");
	/* a limit is not an output setting */
	run_plan(&(how){.timeout = 5}, &r);
	assert_int_equal(r.nplanned, 0);
	/* an input that changed size, or mtime: only it */
	mkfile("src/a.jpg", "image bytes, more of them", T_IN);
	set_mtime("src/b.png", T_IN + 1);
	run_plan(&(how){0}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.png");
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "sub/c.jpg");
	/* a thumbnail deleted: redone */
	run_plan(&(how){.make = 1}, &r);
	assert_int_equal(unlink("out/sub/c.jpg"), 0);
	run_plan(&(how){0}, &r);
	assert_string_equal(planned_names(&r), "sub/c.jpg");
	/* a thumbnail changed by someone since imgpool made it: no longer imgpool's */
	run_plan(&(how){.make = 1}, &r);
	mkfile("out/a.jpg", "edited by hand", T_OUT + 5);
	run_plan(&(how){0}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_OUTPUT), "a.jpg");
	assert_string_equal(passed_for(&r, "a.jpg")->cause, "its output out/a.jpg exists and was "
			    "not made by imgpool; --overwrite replaces it");
	run_plan(&(how){.overwrite = 1}, &r);
	assert_string_equal(planned_names(&r), "a.jpg");
}

static void test_checksum(void **state)
{
	result r;
	input("a.jpg");
	input("b.jpg");
	run_plan(&(how){.make = 1}, &r);
	uint64_t sum;
	assert_int_equal(filehash_path("src/a.jpg", &sum), 0);
	/* rows stored without a checksum (adopted after a kill lost the input's own
	 * row, a failure) prove nothing to --checksum: done again, with the checksum
	 * read then; taken by size and mtime, an edit that kept both went unseen */
	assert_int_equal(row_of("a.jpg").checksum, 0);
	run_plan(&(how){.checksum = 1, .make = 1}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.jpg");
	assert_int_equal(row_of("a.jpg").checksum, sum);
	run_plan(&(how){.checksum = 1}, &r);
	assert_int_equal(r.nplanned, 0);
	/* touched, same bytes: redone by mtime, up to date by --checksum (and the row
	 * takes the new mtime) */
	set_mtime("src/a.jpg", T_IN + 30);
	run_plan(&(how){0}, &r);
	assert_string_equal(planned_names(&r), "a.jpg");
	run_plan(&(how){.checksum = 1}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "a.jpg b.jpg");
	journal_row row = row_of("a.jpg");
	assert_int_equal(row.mtime_ns, (int64_t)(T_IN + 30) * 1000000000);
	assert_int_equal(row.checksum, sum);
	run_plan(&(how){0}, &r);
	assert_int_equal(r.nplanned, 0);
	/* other bytes of the same size, same mtime: only --checksum sees it */
	mkfile("src/b.jpg", "IMAGE BYTES", T_IN);
	run_plan(&(how){0}, &r);
	assert_int_equal(r.nplanned, 0);
	run_plan(&(how){.checksum = 1}, &r);
	assert_string_equal(planned_names(&r), "b.jpg");
	uint64_t bsum;
	assert_int_equal(filehash_path("src/b.jpg", &bsum), 0);
	assert_int_equal(planned_for(&r, "b.jpg")->checksum, bsum);
	/* another size is another file whatever --checksum says */
	mkfile("src/a.jpg", "image bytes!", T_IN + 30);
	run_plan(&(how){.checksum = 1}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.jpg");
}

/* ------------------------------------------------------------------------- */
/* Racy rows                                                                  */

#define NS 1000000000LL

static void test_racy_rule(void **state)
{
	const int64_t start = 1700000000 * NS, now = start + 30 * NS;
	assert_false(plan_racy(start - 60 * NS, start, now));     /* a minute older */
	assert_false(plan_racy(start - 2 * NS, start, now));      /* a whole vfat granule */
	assert_true(plan_racy(start - 2 * NS + 1, start, now));   /* within it */
	assert_true(plan_racy(start, start, now));
	assert_true(plan_racy(now, start, now));                  /* written during the run */
	assert_true(plan_racy(now + 2 * NS - 1, start, now));     /* a granule rounded up */
	assert_false(plan_racy(now + 2 * NS, start, now));
	assert_false(plan_racy(now + 3600 * NS, start, now));     /* a camera's wrong clock */
}

static uint64_t sum_of(const char *path)
{
	uint64_t sum;
	assert_int_equal(filehash_path(path, &sum), 0);
	return sum;
}

/* An input rewritten with the same size within the timestamp granule in which it was
 * read keeps its size and mtime (vfat: 2 s; ext4 with 128-byte inodes, HFS+: 1 s):
 * taken as up to date, its old thumbnail stayed for good. A row recorded with a
 * racy mtime is checked by its bytes on the next run; one safely older is trusted
 * by size and mtime, unread. */
static void test_racy(void **state)
{
	result r;
	const int64_t start = clock_wall_ns();
	const time_t t = (time_t)(start / NS); /* a second's granule, as ext4 -I 128 */
	mkfile("src/new.jpg", "image bytes", t);
	mkfile("src/old.jpg", "image bytes", t - 60);
	mkfile("src/future.jpg", "image bytes", t + 86400);
	run_plan(&(how){.make = 1, .worker_sum = 1, .run_start_ns = start}, &r);
	assert_string_equal(planned_names(&r), "future.jpg new.jpg old.jpg");
	journal_row row = row_of("new.jpg");
	assert_int_equal(row.racy, 1);
	assert_int_equal(row.checksum, sum_of("src/new.jpg"));
	assert_int_equal(row_of("old.jpg").racy, 0);
	assert_int_equal(row_of("future.jpg").racy, 0);
	/* one recorded without a checksum (a worker always has one) */
	mkfile("src/nosum.jpg", "image bytes", t);
	run_plan(&(how){.make = 1, .run_start_ns = start}, &r);
	assert_string_equal(planned_names(&r), "nosum.jpg");
	assert_int_equal(row_of("nosum.jpg").racy, 1);
	assert_int_equal(row_of("nosum.jpg").checksum, 0);

	/* rewritten at once in place, same size, the mtime the same */
	mkfile("src/new.jpg", "IMAGE BYTES", t);
	mkfile("src/old.jpg", "IMAGE BYTES", t - 60);
	run_plan(&(how){.run_start_ns = start}, &r);
	/* new.jpg redone, its bytes read; nosum.jpg has nothing to compare with */
	assert_string_equal(planned_names(&r), "new.jpg nosum.jpg");
	assert_int_equal(planned_for(&r, "new.jpg")->checksum, sum_of("src/new.jpg"));
	/* old.jpg, not racy, is not read: a change that kept its size and mtime is
	 * seen by --checksum alone (as before) */
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "future.jpg old.jpg");
	run_plan(&(how){.checksum = 1, .run_start_ns = start}, &r);
	assert_string_equal(planned_names(&r), "new.jpg nosum.jpg old.jpg");

	/* made again, unchanged: up to date by its bytes, and still racy this second */
	run_plan(&(how){.make = 1, .worker_sum = 1, .run_start_ns = start}, &r);
	run_plan(&(how){.run_start_ns = start}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE),
			    "future.jpg new.jpg nosum.jpg old.jpg");
	assert_int_equal(row_of("new.jpg").racy, 1);
	/* a run a minute later: its mtime is safely older by then; up to date by its
	 * bytes once more, and recorded as not racy ... */
	run_plan(&(how){.run_start_ns = start + 60 * NS}, &r);
	assert_int_equal(r.nplanned, 0);
	row = row_of("new.jpg");
	assert_int_equal(row.racy, 0);
	assert_int_equal(row.mtime_ns, (int64_t)t * NS);
	assert_int_equal(row.checksum, sum_of("src/new.jpg"));
	/* ... from then on trusted by size and mtime, as old.jpg */
	mkfile("src/new.jpg", "image bytes", t);
	run_plan(&(how){.run_start_ns = start + 60 * NS}, &r);
	assert_int_equal(r.nplanned, 0);

	/* renamed (c.jpg to c.jpeg, one output c.jpg): adopted with the checksum and
	 * the racy of the row it had, so a rewrite within the granule is still seen */
	mkfile("src/c.jpg", "image bytes", t);
	run_plan(&(how){.make = 1, .worker_sum = 1, .run_start_ns = start}, &r);
	assert_string_equal(planned_names(&r), "c.jpg");
	assert_int_equal(rename("src/c.jpg", "src/c.jpeg"), 0);
	run_plan(&(how){.run_start_ns = start}, &r);
	assert_int_equal(r.adopted, 1);
	assert_int_equal(r.nplanned, 0);
	row = row_of("c.jpeg");
	assert_int_equal(row.racy, 1);
	assert_int_equal(row.checksum, sum_of("src/c.jpeg"));
	mkfile("src/c.jpeg", "IMAGE BYTES", t);
	run_plan(&(how){.run_start_ns = start}, &r);
	assert_string_equal(planned_names(&r), "c.jpeg");
}

/* A racy row's bytes that cannot be read for want of the machine (a run under a
 * low ulimit -n, its workers starting meanwhile) prove nothing either way: the
 * file was taken for another and made again, failed there for the same want, and
 * the next run made it again. It is refused now, its row left as it was. A file
 * that cannot be read for a reason of its own is made again (and fails, said). */
static void test_racy_unreadable_for_the_machine(void **state)
{
	result r;
	const int64_t start = clock_wall_ns();
	const time_t t = (time_t)(start / NS);
	mkfile("src/old.jpg", "image bytes", t - 60);
	mkfile("src/racy.jpg", "image bytes", t);
	run_plan(&(how){.make = 1, .worker_sum = 1, .run_start_ns = start}, &r);
	assert_string_equal(planned_names(&r), "old.jpg racy.jpg");
	journal_row was = row_of("racy.jpg");
	assert_int_equal(was.racy, 1);
	for (int e = 0; e < 2; e++) {
		run_plan(&(how){.run_start_ns = start, .hash_errno = e ? ENOMEM : EMFILE}, &r);
		assert_int_equal(r.nplanned, 0);
		assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "old.jpg");
		assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_ENVIRONMENT), "racy.jpg");
		assert_string_equal(passed_for(&r, "racy.jpg")->cause,
				    e ? "cannot read it to tell whether it changed: Cannot allocate memory"
				      : "cannot read it to tell whether it changed: Too many open files");
		journal_row now = row_of("racy.jpg");
		assert_int_equal(now.status, JOURNAL_OK);
		assert_int_equal(now.racy, 1);
		assert_int_equal(now.checksum, was.checksum);
	}
	/* --force makes it again, whatever its bytes */
	run_plan(&(how){.run_start_ns = start, .hash_errno = EMFILE, .force = 1}, &r);
	assert_string_equal(planned_names(&r), "old.jpg racy.jpg");
	/* unreadable itself (EIO: a bad sector): made again, as before */
	run_plan(&(how){.run_start_ns = start, .hash_errno = EIO}, &r);
	assert_string_equal(planned_names(&r), "racy.jpg");
	/* the machine recovered: up to date by its bytes */
	run_plan(&(how){.run_start_ns = start}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "old.jpg racy.jpg");
}

/* A journal whose lookups fail (an I/O error, no memory) answered "no row" and
 * "not imgpool's": every file was made again, or refused as another's ("exists
 * and was not made by imgpool"). Each is refused with the true cause now, and
 * nothing is made. (The failure here is the wrapper's, unknown to SQLite: its
 * message is "not an error".) */
static void test_journal_unreadable(void **state)
{
	result r;
	input("a.jpg");
	input("b.jpg");
	run_plan(&(how){.make = 1}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.jpg");
	mkfile("src/new.jpg", "image bytes", T_IN); /* no row, no output */
	run_plan(&(how){.fail_sql = ""}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_OUTPUT), "a.jpg b.jpg");
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_ENVIRONMENT), "new.jpg");
	assert_string_equal(passed_for(&r, "a.jpg")->cause,
			    "its output out/a.jpg cannot be told imgpool's or not: cannot read the "
			    "journal: not an error");
	assert_string_equal(passed_for(&r, "new.jpg")->cause,
			    "cannot tell whether it is up to date: cannot read the journal: not an "
			    "error");
	run_plan(&(how){0}, &r);
	assert_string_equal(planned_names(&r), "new.jpg");
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "a.jpg b.jpg");
}

/* Only the input's own row cannot be read (S_GET), the rest of the journal can:
 * the failed lookup read as "no row", a row lost to a kill, and an input edited
 * since (new bytes and size, its mtime kept: cp -p) was adopted, its row given the
 * new size, "skipped" then and for good with the old bytes' thumbnail. And an
 * input that failed earlier was adopted too, its FAILED row turned OK. */
static void test_journal_row_unreadable(void **state)
{
	result r;
	const char *get = "FROM files WHERE root=?1 AND rel=?2";
	input("a.jpg");
	input("bad.jpg");
	run_plan(&(how){.make = 1}, &r);
	run_plan(&(how){.force = 1, .fail = FAIL_DECODE, .cause = "damaged"}, &r);
	run_plan(&(how){.make = 1, .force = 1}, &r); /* a.jpg made again, OK */
	run_plan(&(how){.force = 1, .fail = FAIL_DECODE, .cause = "damaged",
			.paths = (const char *const[]){"src/bad.jpg"}, .npaths = 1}, &r);
	assert_int_equal(row_of("bad.jpg").status, JOURNAL_FAILED);
	mkfile("src/a.jpg", "other image bytes, longer", T_IN);
	journal_row a_was = row_of("a.jpg");
	run_plan(&(how){.fail_sql = get}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_int_equal(r.adopted, 0);
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_ENVIRONMENT), "a.jpg bad.jpg");
	assert_int_equal(row_of("a.jpg").size, a_was.size);
	assert_int_equal(row_of("bad.jpg").status, JOURNAL_FAILED);
	run_plan(&(how){0}, &r);
	assert_string_equal(planned_names(&r), "a.jpg");
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_EARLIER), "bad.jpg");
}

/* The row of another input that owns the output cannot be read: the owner read as
 * "has not failed since", and the input was refused as the other's ("is the
 * thumbnail of a.jpg, which is still there"), where that owner had failed and
 * the name was free. */
static void test_owner_row_unreadable(void **state)
{
	result r;
	input("a.jpg");
	run_plan(&(how){.make = 1, .name_template = "{stem}.jpg"}, &r);
	run_plan(&(how){.force = 1, .fail = FAIL_DECODE, .cause = "damaged",
			.name_template = "{stem}.jpg"}, &r);
	mkfile("src/a.png", "other bytes!", T_IN);
	run_plan(&(how){.name_template = "{stem}.jpg", .fail_sql = "FROM files WHERE root",
			.fail_key = "x'612e6a7067'" /* rel a.jpg */}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_OUTPUT), "");
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_ENVIRONMENT), "a.jpg a.png");
	assert_int_equal(row_of("a.jpg").status, JOURNAL_FAILED);
	run_plan(&(how){.name_template = "{stem}.jpg"}, &r);
	assert_string_equal(planned_names(&r), "a.png");
}

/* --checksum, a renamed input whose bytes changed (size and mtime kept): adopted,
 * "skipped", when its bytes could not be read for want of descriptors. */
static void test_adoption_unreadable_for_the_machine(void **state)
{
	result r;
	input("c.jpg");
	run_plan(&(how){.make = 1, .worker_sum = 1, .checksum = 1}, &r);
	assert_int_equal(rename("src/c.jpg", "src/c.jpeg"), 0);
	mkfile("src/c.jpeg", "image bytez", T_IN); /* same size and mtime, other bytes */
	run_plan(&(how){.checksum = 1, .hash_errno = EMFILE}, &r);
	assert_int_equal(r.adopted, 0);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_ENVIRONMENT), "c.jpeg");
	run_plan(&(how){.checksum = 1}, &r);
	assert_int_equal(r.adopted, 0);
	assert_string_equal(planned_names(&r), "c.jpeg");
}

/* Files held (plan.h): a file whose output name another input of the run has
 * waits, unanswered, for that input's outcome, and is decided after the walk. */
static void test_held_for_another_input(void **state)
{
	result r;
	const char *tpl = "{stem}.jpg";
	/* a.tif, met first (the larger), claims a.jpg; a.jpg is held; a.tif fails:
	 * a.jpg is made in the same run */
	mkfile("src/a.tif", "a damaged TIFF, the larger file", T_IN);
	mkfile("src/a.jpg", "image bytes", T_IN);
	run_plan(&(how){.hold = 1, .name_template = tpl, .fail = FAIL_DECODE, .cause = "damaged",
			.fail_only = "a.tif"}, &r);
	assert_string_equal(planned_names(&r), "a.tif");
	assert_int_equal(r.npassed, 0); /* a.jpg unanswered until then */
	assert_int_equal(r.held, 1);
	assert_string_equal(r.held_planned, "a.jpg");
	/* a.tif makes it: a.jpg is refused as the walk refuses it */
	assert_int_equal(unlink("src/a.jpg"), 0);
	assert_int_equal(rename("src/a.tif", "src/b.tif"), 0);
	mkfile("src/b.tif", "a good TIFF, the larger file", T_IN);
	mkfile("src/b.jpg", "image bytes", T_IN);
	run_plan(&(how){.hold = 1, .name_template = tpl, .make = 1,
			.paths = (const char *const[]){"src/b.tif", "src/b.jpg"}, .npaths = 2}, &r);
	assert_string_equal(planned_names(&r), "b.tif");
	assert_int_equal(r.held, 1);
	assert_string_equal(r.held_planned, "");
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_OUTPUT), "b.jpg");
	assert_string_equal(passed_for(&r, "b.jpg")->cause,
			    "output out/b.jpg is also the output of src/b.tif (a --name with "
			    "{inext} or {dir} keeps both)");
	/* the owner of the thumbnail changed since (b.tif, damaged now and the
	 * smaller: b.jpg is met first): b.jpg waits for it, and has the name once it
	 * failed */
	mkfile("src/b.tif", "damaged", T_IN + 5);
	run_plan(&(how){.hold = 1, .name_template = tpl, .fail = FAIL_DECODE, .cause = "damaged",
			.fail_only = "b.tif"}, &r);
	assert_string_equal(planned_names(&r), "b.tif");
	assert_int_equal(r.held, 1);
	assert_int_equal(r.npassed, 0);
	assert_string_equal(r.held_planned, "b.jpg");
	/* without holding (a dry run): answered at once, as before (b.jpg, met first
	 * now, has the name) */
	run_plan(&(how){.name_template = tpl}, &r);
	assert_int_equal(r.held, 0);
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_OUTPUT), "b.tif");
	assert_string_equal(planned_names(&r), "b.jpg");
}

/* The racy row in another journal of the folder (an unsharded run's, then a run
 * with --shard: a journal of its own, which adopts the outputs): its bytes were
 * not compared, and the adopted row had neither its checksum nor its racy, so a
 * rewrite within the granule left the old thumbnail for good. */
static void test_racy_in_another_journal(void **state)
{
	result r;
	const int64_t start = clock_wall_ns();
	const time_t t = (time_t)(start / NS);
	mkfile("src/a.jpg", "image bytes", t);
	mkfile("src/b.jpg", "image bytes", t);
	run_plan(&(how){.make = 1, .worker_sum = 1, .run_start_ns = start}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.jpg");
	mkfile("src/a.jpg", "IMAGE BYTES", t); /* rewritten, its size and mtime kept */
	run_plan(&(how){.run_start_ns = start, .journal = "journal-1-of-1.sqlite"}, &r);
	assert_string_equal(planned_names(&r), "a.jpg");
	assert_int_equal(r.adopted, 1); /* b.jpg, unchanged: its bytes matched */
}

/* ------------------------------------------------------------------------- */
/* Adopted                                                                    */

static int forget_all(void *data, const char *root, const char *rel)
{
	return 1;
}

/* Lose the input rows (a kill -9 before their batch was committed): the output
 * rows stay. */
static void lose_input_rows(void)
{
	char err[256], warn[256];
	outdir *od = outdir_open("out", 1, err, sizeof err);
	journal *j = journal_open(od, "journal.sqlite", "", 0, warn, sizeof warn, err, sizeof err);
	assert_non_null(j);
	char *root = realpath("src", NULL);
	const char *roots[] = {root};
	assert_int_equal(journal_each_input(j, roots, 1, forget_all, NULL), 0);
	free(root);
	journal_close(j, 0, 0, 0, 0, 0);
	outdir_close(od);
}

/* No row anywhere (lost to a kill -9): an input whose mtime lies near its output's
 * may have been rewritten within its granule after it was read, and nothing is left
 * to compare its bytes with; adopted, a same-size rewrite kept the old thumbnail for
 * good. Made again; an old one is still adopted. */
static void test_adopt_lost_row_of_a_fresh_input(void **state)
{
	result r;
	mkfile("src/fresh.jpg", "image bytes", time(NULL));
	input("old.jpg");
	run_plan(&(how){.make = 1}, &r);
	lose_input_rows();
	run_plan(&(how){0}, &r);
	assert_string_equal(planned_names(&r), "fresh.jpg");
	assert_int_equal(r.adopted, 1);
}

/* This input's outputs, its row in another journal of the folder (a run with
 * --shard after one without): that row says which file they show. A photo put in
 * its place with an older mtime than the thumbnail's (cp -p) was adopted, the old
 * picture kept for good. */
static void test_adopt_checks_the_other_journals_row(void **state)
{
	result r;
	input("a.jpg");
	input("b.jpg");
	run_plan(&(how){.make = 1}, &r);
	mkfile("src/a.jpg", "other bytes!", T_IN - 100);
	run_plan(&(how){.journal = "journal-1-of-1.sqlite"}, &r);
	assert_string_equal(planned_names(&r), "a.jpg");
	assert_int_equal(r.adopted, 1); /* b.jpg, unchanged */
}

static void test_adopt_with_journal(void **state)
{
	result r;
	input("a.jpg");
	input("sub/c.jpg");
	run_plan(&(how){.make = 1}, &r);
	lose_input_rows();
	assert_int_equal(row_of("a.jpg").status, JOURNAL_NONE);
	/* the outputs are imgpool's and new enough: taken, not redone */
	run_plan(&(how){0}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_int_equal(r.adopted, 2);
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "a.jpg sub/c.jpg");
	journal_row row = row_of("a.jpg");
	assert_int_equal(row.status, JOURNAL_OK);
	assert_int_equal(row.size, strlen("image bytes"));
	assert_int_equal(row.mtime_ns, (int64_t)T_IN * 1000000000);
	assert_int_equal(row.attempts, 1);
	assert_true(owned("a.jpg"));
	/* now simply up to date */
	run_plan(&(how){0}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_int_equal(r.adopted, 0);
	/* an output older than its input is not adopted: redone */
	lose_input_rows();
	set_mtime("src/a.jpg", T_OUT + 1);
	run_plan(&(how){0}, &r);
	assert_string_equal(planned_names(&r), "a.jpg");
	assert_int_equal(r.adopted, 1);
	/* --force adopts nothing */
	lose_input_rows();
	run_plan(&(how){.force = 1}, &r);
	assert_string_equal(planned_names(&r), "a.jpg sub/c.jpg");
	assert_int_equal(r.adopted, 0);
}

/* Adoption takes only this file's own thumbnails with these settings: not those
 * made with other settings (a cron job moved to new sizes, a shard of another
 * journal), not a twin's ({inext}: a.png and a.jpg plan one output), but a renamed
 * file's (its old name gone, the journal had it with this size and mtime). */
static void test_adopt_only_own(void **state)
{
	result r;
	input("a.jpg");
	run_plan(&(how){.make = 1, .quality = 50}, &r);
	lose_input_rows();
	run_plan(&(how){.quality = 60}, &r);          /* other settings: redone */
	assert_int_equal(r.adopted, 0);
	assert_int_equal(r.nplanned, 1);

	/* a twin: a.png plans a.jpg too with {stem}.jpg; a.jpg made it */
	run_plan(&(how){.make = 1, .name_template = "{stem}.jpg"}, &r);
	lose_input_rows();
	assert_int_equal(rename("src/a.jpg", "src/gone.jpg"), 0);
	mkfile("src/a.png", "other bytes!", T_IN + 7); /* not a.jpg's size or mtime */
	assert_int_equal(rename("src/gone.jpg", "src/b.tif"), 0);
	run_plan(&(how){.name_template = "{stem}.jpg"}, &r);
	assert_int_equal(r.adopted, 0);
	assert_true(r.nplanned >= 1);

	/* a rename: same bytes, size and mtime under a new name */
	assert_int_equal(unlink("src/a.png"), 0);
	assert_int_equal(unlink("src/b.tif"), 0);
	input("c.jpg");
	run_plan(&(how){.make = 1}, &r);
	assert_int_equal(rename("src/c.jpg", "src/c.jpeg"), 0); /* the same output, c.jpg */
	run_plan(&(how){0}, &r);
	assert_int_equal(r.adopted, 1);
	assert_int_equal(r.nplanned, 0);
}

static void test_adopt_journal_lost(void **state)
{
	result r;
	input("a.jpg");
	input("b.jpg");
	input("c.jpg");
	/* thumbnails there, no journal knows them (it was lost, or never was):
	 * new enough (a, b) or older (c). Nothing shows they are imgpool's, and
	 * one may be the user's, however new: all refused, none adopted (an
	 * adopted file would be replaced by --force and deleted by --prune). */
	mkfile("out/a.jpg", "thumb", T_OUT);
	mkfile("out/b.jpg", "thumb", T_IN);
	mkfile("out/c.jpg", "thumb", T_IN - 1);
	run_plan(&(how){0}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_OUTPUT), "a.jpg b.jpg c.jpg");
	assert_string_equal(passed_for(&r, "b.jpg")->cause, "its output out/b.jpg exists and was "
			    "not made by imgpool; --overwrite replaces it");
	assert_int_equal(r.adopted, 0);
	assert_false(owned("a.jpg"));
	assert_false(owned("b.jpg"));
	/* --force takes nothing either */
	run_plan(&(how){.force = 1}, &r);
	assert_int_equal(r.nplanned, 0);
	assert_int_equal(r.adopted, 0);
	/* --overwrite, the user's say-so: all three remade */
	run_plan(&(how){.overwrite = 1}, &r);
	assert_string_equal(planned_names(&r), "a.jpg b.jpg c.jpg");
}

/* ------------------------------------------------------------------------- */
/* Failed earlier                                                             */

static void test_failed_earlier_at_once(void **state)
{
	static const failure_kind kinds[] = {FAIL_DECODE, FAIL_LIMIT, FAIL_CRASH};
	for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
		result r;
		char rel[32];
		snprintf(rel, sizeof rel, "k%zu.jpg", k);
		input(rel);
		run_plan(&(how){.fail = kinds[k], .cause = "VipsJpeg: bad"}, &r);
		assert_string_equal(planned_names(&r), rel);
		assert_int_equal(r.remember_rc, 0);
		journal_row row = row_of(rel);
		assert_int_equal(row.status, JOURNAL_FAILED);
		assert_int_equal(row.kind, kinds[k]);
		assert_int_equal(row.strikes, 1);
		assert_string_equal(row.cause, "VipsJpeg: bad");
		/* not tried again: one line saying why */
		run_plan(&(how){0}, &r);
		assert_int_equal(r.nplanned, 0);
		assert_int_equal(r.failed_earlier, 1);
		const passed *p = passed_for(&r, rel);
		assert_int_equal(p->how, PLAN_FAILED);
		assert_int_equal(p->kind, FAIL_EARLIER);
		assert_string_equal(p->cause, "failed earlier, unchanged since: VipsJpeg: bad "
				    "(--retry-failed tries again)");
		/* unless asked, or something that decides the outcome changed */
		run_plan(&(how){.retry_failed = 1}, &r);
		assert_string_equal(planned_names(&r), rel);
		assert_int_equal(r.failed_earlier, 0);
		run_plan(&(how){.quality = 50}, &r);
		assert_string_equal(planned_names(&r), rel);
		run_plan(&(how){.timeout = 300}, &r);
		assert_string_equal(planned_names(&r), rel);
		run_plan(&(how){.force = 1}, &r);
		assert_int_equal(r.nplanned, 0); /* --force redoes made files, not failed ones */
		char path[64];
		snprintf(path, sizeof path, "src/%s", rel);
		set_mtime(path, T_IN + 7);
		run_plan(&(how){0}, &r);
		assert_string_equal(planned_names(&r), rel);
		unlink(path);
	}
}

static void test_failed_earlier_strikes(void **state)
{
	static const failure_kind kinds[] = {FAIL_ENVIRONMENT, FAIL_TIMEOUT, FAIL_OUTPUT};
	for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
		result r;
		char rel[32];
		snprintf(rel, sizeof rel, "env%zu.jpg", k);
		input(rel);
		/* tried again after each of the first FAILURE_STRIKES - 1 failures */
		for (int strike = 1; strike < FAILURE_STRIKES; strike++) {
			run_plan(&(how){.fail = kinds[k], .cause = "Permission denied"}, &r);
			assert_string_equal(planned_names(&r), rel);
			journal_row row = row_of(rel);
			assert_int_equal(row.strikes, strike);
			assert_int_equal(row.attempts, strike);
			assert_int_equal(row.kind, kinds[k]);
		}
		/* another cause, or another kind, starts the count again */
		run_plan(&(how){.fail = kinds[k], .cause = "No space left on device"}, &r);
		assert_int_equal(row_of(rel).strikes, 1);
		assert_int_equal(row_of(rel).attempts, FAILURE_STRIKES);
		for (int strike = 2; strike < FAILURE_STRIKES; strike++)
			run_plan(&(how){.fail = kinds[k], .cause = "No space left on device"}, &r);
		assert_string_equal(planned_names(&r), rel);
		run_plan(&(how){.fail = k == 0 ? FAIL_TIMEOUT : FAIL_ENVIRONMENT,
				.cause = "No space left on device"}, &r);
		assert_int_equal(row_of(rel).strikes, 1);
		/* FAILURE_STRIKES identical ones in a row: remembered */
		for (int strike = 1; strike <= FAILURE_STRIKES; strike++) {
			run_plan(&(how){.fail = kinds[k], .cause = "Permission denied"}, &r);
			assert_string_equal(planned_names(&r), rel);
		}
		assert_int_equal(row_of(rel).strikes, FAILURE_STRIKES);
		run_plan(&(how){0}, &r);
		if (kinds[k] == FAIL_ENVIRONMENT || kinds[k] == FAIL_OUTPUT) {
			/* the machine's: remembered only while the file cannot be
			 * opened, and it can (the chmod that mended it kept its size
			 * and mtime); the output side's only while an output's
			 * folder cannot be written, and it can: tried again */
			assert_string_equal(planned_names(&r), rel);
		} else {
			assert_int_equal(r.nplanned, 0);
			assert_int_equal(passed_for(&r, rel)->kind, FAIL_EARLIER);
		}
		/* a success forgets the failures */
		run_plan(&(how){.retry_failed = 1, .make = 1}, &r);
		journal_row row = row_of(rel);
		assert_int_equal(row.status, JOURNAL_OK);
		assert_int_equal(row.strikes, 0);
		assert_int_equal(row.kind, FAIL_NONE);
		assert_string_equal(row.cause, "");
		char path[64];
		snprintf(path, sizeof path, "src/%s", rel);
		unlink(path);
	}
}

/* ------------------------------------------------------------------------- */
/* What plan_remember writes                                                  */

static void test_remember(void **state)
{
	result r;
	input("a.jpg");
	input("b.jpg");
	run_plan(&(how){.make = 1}, &r);
	journal_row row = row_of("a.jpg");
	thumb_settings s = settings_of(&(how){0});
	assert_int_equal(row.status, JOURNAL_OK);
	assert_int_equal(row.size, strlen("image bytes"));
	assert_int_equal(row.mtime_ns, (int64_t)T_IN * 1000000000);
	assert_int_equal(row.fingerprint, journal_fingerprint(&s, NULL, NULL, 0));
	assert_true(row.ms == 12.5);
	assert_int_equal(row.attempts, 1);
	assert_int_equal(row.kind, FAIL_NONE);
	assert_int_equal(row.limits, 0);

	/* a failure: its kind, cause and limits */
	run_plan(&(how){.force = 1, .fail = FAIL_DECODE, .cause = "Premature end"}, &r);
	row = row_of("b.jpg");
	assert_int_equal(row.status, JOURNAL_FAILED);
	assert_int_equal(row.kind, FAIL_DECODE);
	assert_string_equal(row.cause, "Premature end");
	assert_int_equal(row.limits, journal_limits(120, s.max_pixels, FAILON_WARNING, "test 1"));
	assert_true(row.ms == 3);
	/* a stop is not a failure: the row stays as it was */
	set_mtime("src/b.jpg", T_IN + 3);
	run_plan(&(how){.fail = FAIL_INTERRUPTED, .cause = "interrupted"}, &r);
	assert_string_equal(planned_names(&r), "b.jpg");
	assert_int_equal(r.remember_rc, 0);
	journal_row after = row_of("b.jpg");
	assert_int_equal(after.status, JOURNAL_FAILED);
	assert_int_equal(after.kind, FAIL_DECODE);
	assert_int_equal(after.mtime_ns, (int64_t)T_IN * 1000000000);
	assert_int_equal(after.attempts, row.attempts);
	/* no cause given: an empty one */
	run_plan(&(how){.fail = FAIL_CRASH}, &r);
	assert_string_equal(row_of("b.jpg").cause, "");
	assert_int_equal(row_of("b.jpg").attempts, 2);

	/* without a journal, or without a root, nothing is written and nothing fails */
	char err[256];
	outdir *od = outdir_open("out", 1, err, sizeof err);
	char *derr = NULL;
	discover_config dc = {.paths = SRC, .npaths = 1, .out_dir = "out", .settings = &s};
	discover *d = discover_open(&dc, &derr);
	planner_config pc = {.d = d, .od = od, .settings = &s};
	planner *p = planner_new(&pc);
	plan_outcome o = {.root = "/x", .rel = "a.jpg", .kind = FAIL_DECODE, .cause = "c"};
	assert_int_equal(plan_remember(p, &o), 0);
	planner_free(p);
	char warn[256];
	journal *j = journal_open(od, "journal.sqlite", "", 0, warn, sizeof warn, err, sizeof err);
	pc.j = j;
	p = planner_new(&pc);
	o.root = NULL;
	assert_int_equal(plan_remember(p, &o), 0);
	journal_row none;
	journal_get(j, "/x", "a.jpg", &none);
	assert_int_equal(none.status, JOURNAL_NONE);
	planner_free(p);
	planner_free(NULL);
	journal_close(j, 0, 0, 0, 0, 0);
	discover_close(d);
	outdir_close(od);
}

/* ------------------------------------------------------------------------- */
/* Refused outputs                                                            */

static void test_refused(void **state)
{
	result r;
	static const char *const names[] = {"dir.jpg", "link.jpg", "self.jpg", "fifo.jpg",
					    "theirs.jpg", "fine.jpg", "sub/deep.jpg"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		input(names[i]);
	mkdirs("out/dir.jpg");
	mkfile("elsewhere/x", "precious", T_OUT);
	assert_int_equal(symlink("../elsewhere/x", "out/link.jpg"), 0);
	assert_int_equal(link("src/self.jpg", "out/self.jpg"), 0);
	assert_int_equal(mkfifo("out/fifo.jpg", 0600), 0);
	mkfile("out/theirs.jpg", "someone's", T_IN - 10);
	assert_int_equal(symlink("../elsewhere", "out/sub"), 0);

	static const struct {
		const char *rel, *cause;
	} want[] = {
		{"dir.jpg", "its output out/dir.jpg is a folder"},
		{"link.jpg", "its output out/link.jpg is a symlink (imgpool never writes through one)"},
		{"self.jpg", "its output out/self.jpg is the input itself"},
		{"fifo.jpg", "its output out/fifo.jpg is not a regular file"},
		{"theirs.jpg", "its output out/theirs.jpg exists and was not made by imgpool; "
			       "--overwrite replaces it"},
	};
	static const how modes[] = {{0}, {.force = 1}};
	for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
		run_plan(&modes[m], &r);
		assert_string_equal(planned_names(&r), "fine.jpg");
		for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
			const passed *p = passed_for(&r, want[i].rel);
			assert_int_equal(p->how, PLAN_FAILED);
			assert_int_equal(p->kind, FAIL_OUTPUT);
			assert_string_equal(p->cause, want[i].cause);
		}
		/* a symlink on the way: never followed */
		const passed *deep = passed_for(&r, "sub/deep.jpg");
		assert_int_equal(deep->kind, FAIL_OUTPUT);
		char cause[256];
		snprintf(cause, sizeof cause, "its output out/sub/deep.jpg cannot be reached: %s", outdir_strerror(ELOOP));
		assert_string_equal(deep->cause, cause);
	}
	/* --overwrite replaces someone else's regular file, never the rest */
	run_plan(&(how){.overwrite = 1}, &r);
	assert_string_equal(planned_names(&r), "fine.jpg theirs.jpg");
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_OUTPUT),
			    "dir.jpg fifo.jpg link.jpg self.jpg sub/deep.jpg");
	/* nothing was touched on the way */
	struct stat st;
	assert_int_equal(lstat("out/link.jpg", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(access("elsewhere/x", F_OK), 0);
	assert_int_equal(access("elsewhere/deep.jpg", F_OK), -1);
}

/* An output name whose format imgpool does not write is refused before any work. */
static void test_unwritable_format(void **state)
{
	result r;
	input("a.tif");
	input("b.png");
	run_plan(&(how){.name_template = "{dir}/{stem}.{inext}"}, &r);
	assert_string_equal(planned_names(&r), "b.png");
	const passed *p = passed_for(&r, "a.tif");
	assert_int_equal(p->kind, FAIL_OUTPUT);
	assert_string_equal(p->cause, "cannot write \"tif\" files (output out/a.tif)");
	/* the default name gives it a format imgpool writes */
	run_plan(&(how){0}, &r);
	assert_string_equal(planned_names(&r), "a.tif b.png");
	assert_int_equal(planned_for(&r, "a.tif")->format, FORMAT_JPEG);
}

/* ------------------------------------------------------------------------- */
/* Without a journal                                                          */

static void test_no_journal(void **state)
{
	result r;
	input("new.jpg");
	input("fresh.jpg");
	input("stale.jpg");
	mkfile("out/fresh.jpg", "thumb", T_OUT);
	mkfile("out/stale.jpg", "thumb", T_IN - 1);
	run_plan(&(how){.no_journal = 1}, &r);
	/* up to date by mtime alone; nothing is provably imgpool's, so an older file in
	 * the way is refused like any other */
	assert_string_equal(planned_names(&r), "new.jpg");
	assert_string_equal(passed_names(&r, PLAN_SKIPPED, FAIL_NONE), "fresh.jpg");
	assert_string_equal(passed_names(&r, PLAN_FAILED, FAIL_OUTPUT), "stale.jpg");
	assert_int_equal(r.adopted, 0);
	run_plan(&(how){.no_journal = 1, .overwrite = 1}, &r);
	assert_string_equal(planned_names(&r), "new.jpg stale.jpg");
	run_plan(&(how){.no_journal = 1, .force = 1, .overwrite = 1}, &r);
	assert_string_equal(planned_names(&r), "fresh.jpg new.jpg stale.jpg");
	/* the root is still known (for the report), the journal untouched */
	char *root = realpath("src", NULL);
	assert_string_equal(planned_for(&r, "new.jpg")->root, root);
	free(root);
	assert_int_equal(access("out/.imgpool/journal.sqlite", F_OK), -1);
}

/* ------------------------------------------------------------------------- */
/* Shards                                                                     */

static void test_shards(void **state)
{
	enum { FILES = 60, N = 3 };
	char rel[32];
	for (int i = 0; i < FILES; i++) {
		snprintf(rel, sizeof rel, "%s%02d.jpg", i % 2 ? "d/" : "", i);
		input(rel);
	}
	static const char *const paths[] = {"src", "missing"};
	int seen[FILES] = {0}, total = 0;
	for (int k = 1; k <= N; k++) {
		result r;
		run_plan(&(how){.shard = {k, N, "--shard"}, .paths = paths, .npaths = 2}, &r);
		for (int i = 0; i < r.nplanned; i++) {
			int n;
			const char *name = r.plan[i].rel;
			if (sscanf(name + (name[0] == 'd' ? 2 : 0), "%d", &n) != 1)
				fail_msg("%s", name);
			if (shard_of(name, N) != k)
				fail_msg("%s is not in shard %d", name, k);
			seen[n]++;
		}
		total += r.nplanned;
		assert_true(r.nplanned > 0);
		/* a PATH that is missing is every shard's error */
		const passed *p = passed_for(&r, "missing");
		assert_int_equal(p->how, PLAN_FAILED);
		assert_int_equal(p->kind, FAIL_ENVIRONMENT);
		assert_int_equal(r.walk_errors, 1);
		assert_int_equal(r.npassed, 1);
	}
	/* disjoint and complete */
	assert_int_equal(total, FILES);
	for (int i = 0; i < FILES; i++)
		assert_int_equal(seen[i], 1);
	/* no shard: everything */
	result r;
	run_plan(&(how){0}, &r);
	assert_int_equal(r.nplanned, FILES);
	assert_int_equal(r.walk_errors, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_up_to_date, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum, setup, teardown),
		cmocka_unit_test(test_racy_rule),
		cmocka_unit_test_setup_teardown(test_racy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_racy_in_another_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_racy_unreadable_for_the_machine, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_journal_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_for_another_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_row_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_row_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adoption_unreadable_for_the_machine, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_adopt_lost_row_of_a_fresh_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_checks_the_other_journals_row, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_adopt_with_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_only_own, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_journal_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_earlier_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_earlier_strikes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remember, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shards, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
