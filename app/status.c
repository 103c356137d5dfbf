/* SPDX-License-Identifier: MIT */
/*
 * status.c — `imgpool status OUTDIR [--json]`: what the journals of an output folder
 * know. See status.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "journal.h"
#include "journal_schema.h"
#include "lock.h"
#include "outdir.h"
#include "report.h"
#include "status.h"

/* A setting of the journal's settings text (journal_fingerprint(): numbers, as
 * the fingerprint hashes them) as the options name it: fit=1 is "cover". Into buf;
 * val itself when it has no names. */
static const char *setting_shown(const char *key, const char *val, char *buf, size_t len)
{
	static const char *const fits[] = {"inside", "cover", "fill"};
	static const char *const crops[] = {"centre", "attention"};
	static const char *const formats[] = {"same", "jpeg", "png", "webp", "avif"};
	static const char *const keeps[] = {"exif", "xmp", "iptc", "icc", "gps"};
	char *end;
	long v = strtol(val, &end, 10);
	if (*val == '\0' || *end)
		return val;
	if (!strcmp(key, "fit") && v >= 0 && v < 3)
		return fits[v];
	if (!strcmp(key, "crop") && v >= 0 && v < 2)
		return crops[v];
	if (!strcmp(key, "format") && v >= 0 && v < 5)
		return formats[v];
	if (!strcmp(key, "enlarge"))
		return v ? "yes" : "no";
	if (!strcmp(key, "quality") && v == 0)
		return "default";
	if (!strcmp(key, "keep-metadata")) {
		size_t n = 0;
		buf[0] = '\0';
		for (int i = 0; i < 5; i++)
			if (v & (1L << i))
				n += (size_t)snprintf(buf + n, len > n ? len - n : 0, "%s%s", n ? "," : "",
						      keeps[i]);
		return n ? buf : "none";
	}
	return val;
}

/* The settings text with setting_shown()'s words, as "key=value ..." (text) or a
 * JSON object of strings. */
static void settings_print(const char *text, int json)
{
	if (json)
		putchar('{');
	for (const char *p = text; *p;) {
		const char *eq = strchr(p, '=');
		if (!eq)
			break;
		int last = !strncmp(p, "name=", 5);
		const char *end = last ? p + strlen(p) : p + strcspn(p, " ");
		char *key = strndup(p, (size_t)(eq - p)), *val = strndup(eq + 1, (size_t)(end - eq - 1));
		char buf[64];
		const char *shown = key && val ? setting_shown(key, val, buf, sizeof buf) : "";
		if (json) {
			if (p != text)
				putchar(',');
			report_json_string(stdout, key ? key : "");
			putchar(':');
			report_json_string(stdout, shown);
		} else {
			printf("%s%s=", p != text ? " " : "", key ? key : "");
			report_put_name(stdout, shown);
		}
		free(key);
		free(val);
		p = *end ? end + 1 : end;
	}
	if (json)
		putchar('}');
}


/* The totals count each input once, though several journals of the folder may
 * hold a row of it (a run without --shard and shards, or shards of another N): by
 * its newest row, the one written by the latest run, its start read as the clock's
 * seconds (as the schema-4 migration reads it: runs on machines in other zones
 * compare rightly). -1 where it is not known. */
#define STARTED_UTC "coalesce(" JOURNAL_SQL_STARTED_EPOCH("r.started") ", -1)"
static sqlite3 *tally_open(void)
{
	sqlite3 *t = NULL;
	if (sqlite3_open(":memory:", &t) != SQLITE_OK ||
	    sqlite3_exec(t, "CREATE TABLE t (root TEXT, rel BLOB, status INTEGER, started INTEGER,"
			    " PRIMARY KEY (root, rel))", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(t);
		return NULL;
	}
	return t;
}

static void tally_add(sqlite3 *t, sqlite3 *db)
{
	sqlite3_stmt *rows = NULL, *put = NULL;
	if (!t ||
	    sqlite3_prepare_v2(db, "SELECT f.root, f.rel, f.status, " STARTED_UTC " FROM files f"
			       " LEFT JOIN runs r ON r.id = f.seen_run", -1, &rows, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(t, "INSERT INTO t VALUES (?1, ?2, ?3, ?4) ON CONFLICT (root, rel)"
			       " DO UPDATE SET status = ?3, started = ?4 WHERE ?4 > started", -1,
			       &put, NULL) != SQLITE_OK)
		goto out;
	sqlite3_exec(t, "BEGIN", NULL, NULL, NULL);
	while (sqlite3_step(rows) == SQLITE_ROW) {
		for (int c = 0; c < 4; c++)
			sqlite3_bind_value(put, c + 1, sqlite3_column_value(rows, c));
		sqlite3_step(put);
		sqlite3_reset(put);
	}
	sqlite3_exec(t, "COMMIT", NULL, NULL, NULL);
out:
	sqlite3_finalize(rows);
	sqlite3_finalize(put);
}

/* Inputs ok and failed over every journal read, each input once. */
static void tally_counts(sqlite3 *t, uint64_t tot[2])
{
	sqlite3_stmt *st = NULL;
	tot[0] = tot[1] = 0;
	if (!t || sqlite3_prepare_v2(t, "SELECT status, count(*) FROM t GROUP BY status", -1, &st,
				     NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW)
		tot[sqlite3_column_int(st, 0) == JOURNAL_OK ? 0 : 1] +=
			(uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
}

/* Is the run that writes journal `name` (journal.sqlite, or a shard's
 * journal-K-of-N.sqlite) going on now? Its pid, -1 where it wrote none, else 0
 * (lock_holder()). Its row in runs is this run's, with no figures yet: "0 done"
 * read as a run that had ended without doing anything. */
static long running_pid(outdir *od, const char *name)
{
	shard sh = {0};
	if (strcmp(name, "journal.sqlite") &&
	    sscanf(name, "journal-%d-of-%d.sqlite", &sh.k, &sh.n) != 2)
		return 0;
	return lock_holder(od, &sh);
}

/* Print journal `name` of od (one of possibly several shards), shown as path,
 * as text or JSON. */
static int status_one(outdir *od, const char *name, const char *path, int json, int *first,
		      sqlite3 *tally)
{
	sqlite3 *db;
	if (journal_open_view(od, name, 1, &db) != SQLITE_OK) {
		report_say(stderr, "imgpool status: cannot read %s: %s", path,
			db ? sqlite3_errmsg(db) : "not a regular file (or out of memory)");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_stmt *st;
	uint64_t ok = 0, failed = 0;
	if (sqlite3_prepare_v2(db, "SELECT status, count(*) FROM files GROUP BY status", -1,
			       &st, NULL) != SQLITE_OK) {
		report_say(stderr, "imgpool status: %s is not a journal: %s", path,
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
	tally_add(tally, db);
	if (json) {
		printf("%s{\"journal\":", *first ? "" : ",");
		report_json_string(stdout, path);
		printf(",\"ok\":%llu,\"failed\":%llu,\"failures\":[", (unsigned long long)ok,
		       (unsigned long long)failed);
	} else {
		report_put_name(stdout, path);
		printf(": %llu ok, %llu failed\n", (unsigned long long)ok,
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
		/* A failed file deleted since (without --prune, its row stays): said,
		 * where status listed it as failing still after a run that had none. */
		char full[8400];
		struct stat there;
		snprintf(full, sizeof full, "%s/%s", root ? root : "", rel ? rel : "");
		int gone = lstat(full, &there) < 0 && errno == ENOENT;
		if (json) {
			printf("%s{\"input\":", n ? "," : "");
			report_json_string(stdout, full);
			printf(",\"cause\":");
			report_json_string(stdout, cause ? cause : "");
			printf(",\"attempts\":%d,\"gone\":%s}", sqlite3_column_int(st, 3),
			       gone ? "true" : "false");
		} else if (gone) {
			fputs("  gone   ", stdout);
			report_put_name(stdout, full);
			fputs(": it failed, and was deleted since (--prune forgets it)\n", stdout);
		} else {
			/* Names as the per-file lines show them: a newline or an escape
			 * sequence in a name cannot forge or hide a line. */
			fputs("  failed ", stdout);
			report_put_name(stdout, root ? root : "");
			putchar('/');
			report_put_name(stdout, rel ? rel : "");
			fputs(": ", stdout);
			report_put_name(stdout, cause ? cause : "");
			/* attempts: the runs in a row that tried it and failed (an ok
			 * run starts the count anew; one that passed it over as failed
			 * earlier did not try it) */
			int tries = sqlite3_column_int(st, 3);
			if (tries > 1)
				printf(" (failed %d times in a row)\n", tries);
			else if (tries == 1)
				fputs(" (failed once)\n", stdout);
			else /* not counted (an older journal's row) */
				putchar('\n');
		}
		free(rel);
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db, "SELECT started, wall_s, done, failed, skipped, interrupted,"
			       " settings FROM runs ORDER BY id DESC LIMIT 1", -1, &st, NULL);
	long running = running_pid(od, name);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *started = (const char *)sqlite3_column_text(st, 0);
		const char *settings = (const char *)sqlite3_column_text(st, 6);
		if (json) {
			printf("],\"last_run\":{\"started\":");
			report_json_string(stdout, started ? started : "");
			if (running)
				printf(",\"running\":true,\"pid\":%ld", running > 0 ? running : 0);
			printf(",\"wall_s\":%.3f,\"done\":%lld,\"failed\":%lld,\"skipped\":%lld,"
			       "\"interrupted\":%s,\"settings\":",
			       sqlite3_column_double(st, 1), sqlite3_column_int64(st, 2),
			       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
			       sqlite3_column_int(st, 5) ? "true" : "false");
			settings_print(settings ? settings : "", 1);
			printf("}}");
		} else if (running && sqlite3_column_double(st, 1) == 0 &&
			   !sqlite3_column_int64(st, 2) && !sqlite3_column_int64(st, 3) &&
			   !sqlite3_column_int64(st, 4)) { /* its row, no figures yet */
			printf("  last run: %s, still running", started ? started : "?");
			if (running > 0)
				printf(" (pid %ld)", running);
			fputs(": its counts come when it ends\n  settings: ", stdout);
			settings_print(settings ? settings : "", 0);
			putchar('\n');
		} else {
			if (running > 0) /* starting: its row is not written yet */
				printf("  a run is starting (pid %ld)\n", running);
			else if (running)
				fputs("  a run is starting\n", stdout);
			printf("  last run: %s, %.2f s, %lld done, %lld failed, %lld skipped%s\n"
			       "  settings: ",
			       started ? started : "?", sqlite3_column_double(st, 1),
			       sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
			       sqlite3_column_int64(st, 4),
			       sqlite3_column_int(st, 5) ? " (interrupted)" : "");
			settings_print(settings ? settings : "", 0);
			putchar('\n');
		}
	} else if (json) {
		printf("],\"last_run\":null}");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

/* The report of the output folder out (no '/' at its end). */
static int status_of(const char *out, int json)
{
	char err[512];
	/* Only read: a symlink to the output folder is followed (a run refuses one,
	 * as it writes), where it said "no journal" of a folder that has one. */
	char *real = realpath(out, NULL);
	int real_errno = errno;
	struct stat link;
	if (!real && lstat(out, &link) == 0 && S_ISLNK(link.st_mode)) {
		report_say(stderr, "imgpool status: '%s' is a symlink that leads nowhere (%s)", out,
			   strerror(real_errno));
		return 1;
	}
	if (!real && real_errno == ENOENT) {
		report_say(stderr, "imgpool status: %s: %s", out, strerror(ENOENT));
		return 1;
	}
	outdir *od = outdir_open(real ? real : out, 0, err, sizeof err);
	free(real);
	if (!od) {
		report_say(stderr, "imgpool status: %s", err);
		return 1;
	}
	char **names = outdir_private_list(od, "journal", ".sqlite");
	size_t n = 0;
	while (names && names[n])
		n++;
	if (!n) {
		report_say(stderr, "imgpool status: no journal in %s/" OUTDIR_PRIVATE " (has imgpool "
				"run there?)", out);
		outdir_names_free(names);
		outdir_close(od);
		return 1;
	}
	int first = 1, rc = 0;
	uint64_t tot[2];
	sqlite3 *tally = tally_open();
	if (json)
		printf("{\"journals\":[");
	for (size_t i = 0; i < n; i++) {
		char *shown = NULL;
		if (asprintf(&shown, "%s/" OUTDIR_PRIVATE "/%s", out, names[i]) < 0)
			shown = NULL;
		if (!shown || status_one(od, names[i], shown, json, &first, tally) < 0)
			rc = 1;
		free(shown);
	}
	outdir_names_free(names);
	tally_counts(tally, tot);
	sqlite3_close(tally);
	if (json)
		printf("],\"ok\":%llu,\"failed\":%llu}\n", (unsigned long long)tot[0],
		       (unsigned long long)tot[1]);
	else if (n > 1)
		printf("all journals: %llu ok, %llu failed (an input in several counted once, "
		       "by its latest row)\n", (unsigned long long)tot[0], (unsigned long long)tot[1]);
	outdir_close(od);
	return rc;
}

#define STATUS_USAGE "usage: imgpool status OUTDIR [--json]"

/* getopt_long, as the run's options have it: an unknown option is named as one
 * (status -j out said "unexpected 'out'", status -x "no journal in -x"), and --
 * ends them for a folder named like one. */
int status_main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"json", no_argument, NULL, 'J'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
	int json = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		if (c == 'J') {
			json = 1;
		} else if (c == 'h') {
			printf("Usage: imgpool status OUTDIR [--json]\n"
			       "Counts by status, the failed files with their causes, and the last\n"
			       "run, from the journal(s) in OUTDIR/.imgpool (--json: as JSON).\n");
			return 0;
		} else if (optopt && !strncmp(argv[optind - 1], "--", 2) &&
			   strchr(argv[optind - 1], '=')) {
			/* --json=1: getopt's optopt is the long option's code then */
			report_say(stderr, "imgpool status: %.*s takes no value (%s)",
				   (int)strcspn(argv[optind - 1], "="), argv[optind - 1],
				   STATUS_USAGE);
			return 2;
		} else if (optopt) {
			report_say(stderr, "imgpool status: unknown option '-%c' (%s)", optopt,
				   STATUS_USAGE);
			return 2;
		} else {
			report_say(stderr, "imgpool status: unknown option '%s' (%s)",
				   argv[optind - 1], STATUS_USAGE);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "imgpool status: " STATUS_USAGE "\n");
		return 2;
	}
	if (optind + 1 < argc) {
		report_say(stderr, "imgpool status: unexpected '%s' (%s)", argv[optind + 1],
			   STATUS_USAGE);
		return 2;
	}
	/* out as shown in names: "out/" gave "out//.imgpool/journal.sqlite" */
	char *out = strdup(argv[optind]);
	if (!out)
		return 1;
	for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
		out[n - 1] = '\0';
	int rc = status_of(out, json);
	free(out);
	return rc;
}
