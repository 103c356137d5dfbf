/* SPDX-License-Identifier: MIT */
/*
 * journal.h — the run journal: what imgpool made, from what, with which settings.
 *
 * One SQLite file per output folder (per shard: "journal-K-of-N.sqlite"), in
 * OUT/.imgpool/, written by the parent alone, in small batched transactions as
 * results arrive (a kill -9 loses at most the last batch: those files are redone
 * or adopted next time; their outputs were atomic). The outputs are the truth; the
 * journal is the memory of how they were made. A journal that is corrupt, truncated
 * or of an unknown schema version is moved aside with a warning and rebuilt, never
 * a fatal error.
 *
 * Rows are keyed by (root, rel): the input folder's real path and the file's path
 * relative to it.
 */
#ifndef IMGPOOL_JOURNAL_H
#define IMGPOOL_JOURNAL_H

#include <stdint.h>
#include <stdio.h>

#include "settings.h"

typedef struct journal journal;

typedef enum { JOURNAL_NONE = 0, JOURNAL_OK, JOURNAL_FAILED } journal_status;

typedef struct journal_row {
	journal_status status;    /* JOURNAL_NONE: no row */
	uint64_t size;
	int64_t mtime_ns;
	uint64_t fingerprint;
	uint64_t checksum;        /* 0 when not computed */
	char cause[512];          /* JOURNAL_FAILED */
	int attempts;
} journal_row;

/* The settings fingerprint: XXH3 of every option that changes output bytes (sizes,
 * fit, crop, enlarge, format, quality, background, metadata, name template), and the
 * same as text for `imgpool status`. */
uint64_t journal_fingerprint(const thumb_settings *s, const char *name_template,
			     char *text, size_t textlen);

/* Open (creating) OUT/.imgpool/<file>. warn gets a one-line warning when an unusable
 * journal was moved aside (else ""). NULL with err when even a fresh one cannot be
 * made. readonly (for --dry-run): change nothing; NULL with err "" when there is no
 * usable journal. */
journal *journal_open(const char *out_dir, const char *file, const char *settings_text,
		      int readonly, char *warn, size_t wlen, char *err, size_t elen);

/* Look a file up. */
void journal_get(journal *j, const char *root, const char *rel, journal_row *row);

/* Record an outcome (batched; committed every few hundred changes or second). */
void journal_put(journal *j, const char *root, const char *rel, uint64_t size,
		 int64_t mtime_ns, uint64_t fingerprint, uint64_t checksum,
		 journal_status st, const char *cause, const char *const *outputs, int n,
		 double ms);

/* Every file recorded under the given roots: calls fn with its root, rel and
 * outputs (joined by '\n'); fn returns 1 to delete the row (--prune). */
void journal_each(journal *j, const char *const *roots, int nroots,
		  int (*fn)(void *data, const char *root, const char *rel, const char *outputs),
		  void *data);

/* Record the run (counts, duration) and commit everything. NULL is a no-op. */
void journal_close(journal *j, uint64_t done, uint64_t failed, uint64_t skipped,
		   double wall_s, int interrupted);

/* `imgpool status OUTDIR [--json]`: print counts by status, failed files with their
 * causes, and the last run. Returns the exit code. */
int journal_status_main(int argc, char **argv);

#endif
