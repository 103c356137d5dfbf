/* SPDX-License-Identifier: MIT */
/*
 * journal.h — the run journal: which files imgpool made, from what, with which
 * settings, and what failed and why.
 *
 * One SQLite file per output folder (per shard: "journal-K-of-N.sqlite") in
 * OUT/.imgpool/, opened through the output folder's descriptor (outdir.h) and never
 * through a symlink, written by the parent alone. A journal that is corrupt,
 * truncated, of an unknown schema version or not a regular file is moved aside with
 * a warning and rebuilt. One that cannot be opened now (no descriptor or memory
 * left, permissions, I/O, a full disk) is left where it is and journal_open()
 * fails: a run without it would make thumbnails no later run can show are
 * imgpool's.
 *
 * Two kinds of rows:
 *   - inputs, keyed by (root, rel): the input folder's real path and the file's path
 *     relative to it: size, mtime, content checksum, the settings fingerprint, and
 *     the outcome (made, or failed with a failure_kind, its cause, the limits it
 *     failed under and how many identical failures in a row); and whether the
 *     mtime was "racy" when the file was read;
 *   - outputs, one row per file imgpool made (or is about to make): its path
 *     relative to OUT, exact bytes, never joined with another or resolved against
 *     the current folder; its size and mtime (the file is imgpool's while both still
 *     match); and the input that owns it.
 * Write-ahead: an output row is recorded and committed (journal_sync) BEFORE the
 * file is renamed into place, so a kill -9 at any moment never leaves a file imgpool
 * cannot show it made. Likewise a file moved to the quarantine while it is replaced
 * or pruned is recorded first, so the next run can put it back.
 * Input rows are batched (committed every few hundred changes or second): a kill -9
 * loses at most the last batch, and those files are adopted or redone next time.
 *
 * Errors: calls that can fail return -1 and leave a one-line message in the
 * caller's buffer (or, for the batched writes, in journal_error()). NULL handles
 * are harmless no-ops that find nothing.
 */
#ifndef IMGPOOL_JOURNAL_H
#define IMGPOOL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "failure.h"
#include "outdir.h"
#include "settings.h"

typedef struct journal journal;

typedef enum { JOURNAL_NONE = 0, JOURNAL_OK, JOURNAL_FAILED } journal_status;

/* Longest cause kept. */
#define JOURNAL_CAUSE_MAX 512

typedef struct journal_row {
	journal_status status;    /* JOURNAL_NONE: no row */
	uint64_t size;
	int64_t mtime_ns;
	uint64_t fingerprint;     /* of the output settings */
	uint64_t checksum;        /* XXH3-64 of the input; 0 when not known */
	failure_kind kind;        /* JOURNAL_FAILED */
	uint64_t limits;          /* JOURNAL_FAILED: journal_limits() it failed under */
	int strikes;              /* JOURNAL_FAILED: identical failures in a row */
	int attempts;
	double ms;
	char cause[JOURNAL_CAUSE_MAX];
	int racy;                 /* JOURNAL_OK: the mtime was not safely older than the
	                             moment the file was read (plan_racy()): size and
	                             mtime alone cannot show it unchanged */
} journal_row;

/* The settings fingerprint: XXH3 of every option that changes output bytes (sizes,
 * fit, crop, enlarge, format, quality, background, metadata, name template), and
 * the same as text for `imgpool status`. */
uint64_t journal_fingerprint(const thumb_settings *s, const char *name_template,
			     char *text, size_t textlen);

/* The limits a failure is remembered under: --timeout, --max-pixels, --fail-on and
 * context (the imgpool and libvips versions and the resource limits, as text). A
 * failure under other limits is tried again. (--fail-on is no setting of the
 * fingerprint: it decides whether a damaged file fails, not what a made one
 * holds; adding --fail-on none to rescue one photo made every thumbnail again.) */
uint64_t journal_limits(double timeout, uint64_t max_pixels, thumb_fail_on fail_on,
			const char *context);

/*
 * Open (creating) OUT/.imgpool/<file>, and every other journal of the folder (other
 * shards') read-only, for journal_owns(). out_given: OUT as the user typed it now
 * (converting a schema-1 journal needs it). warn gets a one-line warning when an
 * unusable journal was moved aside (else ""). readonly (dry run): change nothing;
 * NULL with err "" when there is no journal. NULL with err ("cannot open the
 * journal OUT/.imgpool/journal.sqlite: unable to open database file (Too many open
 * files)") when it cannot be opened now, or even a fresh one cannot be made.
 */
journal *journal_open(outdir *od, const char *file, const char *settings_text,
		      int readonly, char *warn, size_t wlen, char *err, size_t elen);

/* Look an input up: in this journal; in any journal of the folder (this one first);
 * in the folder's journal named file ("journal-2-of-3.sqlite": another shard's
 * own, as that shard's run reads it), where it was there when this one opened. */
void journal_get(journal *j, const char *root, const char *rel, journal_row *row);
void journal_get_any(journal *j, const char *root, const char *rel, journal_row *row);
void journal_get_in(journal *j, const char *file, const char *root, const char *rel,
		    journal_row *row);

/* Record an input's outcome (batched). Returns 0 or -1 (journal_error). */
int journal_put(journal *j, const char *root, const char *rel, const journal_row *row);

/* Did imgpool make the file at output path (relative to OUT), whose identity is id
 * and io_stamp() stamp (its stat now)? 1: a journal of the folder records path
 * with this size and mtime, and this stamp (the very file imgpool put there,
 * unchanged since; or none and no checksum: a row of an older version). 2: with
 * another stamp or none yet (the file was copied or restored since, written over,
 * or is another file given the thumbnail's size and mtime: touch -r, cp -p), and
 * the bytes imgpool made hash (XXH3-64) to *proof: the file is imgpool's only if
 * its bytes do. 0: none records it (a failed lookup too: journal_read_errors()). */
int journal_owns(journal *j, const char *path, const file_ident *id, uint64_t stamp,
		 uint64_t *proof);

/* Who made output path with identity id, by any journal of the folder: 1 with
 * *info filled (free it with journal_output_free), 0 when none records it. */
typedef struct journal_source {
	int known;                /* 0: a row of schema 6 or older, which did not say */
	uint64_t size;            /* the input's, when it was read */
	int64_t mtime_ns;
	uint64_t checksum;        /* of the input's bytes; 0: not known */
} journal_source;
typedef struct journal_output {
	char *root, *rel;         /* the input that owns it */
	uint64_t fingerprint;     /* the settings it was made with; 0: not known */
	journal_source src;       /* the input it was made from, as it was then */
} journal_output;
int journal_output_info(journal *j, const char *path, const file_ident *id,
			journal_output *info);
void journal_output_free(journal_output *info);

/* The settings fingerprint recorded on the output rows this run writes. */
void journal_set_fingerprint(journal *j, uint64_t fingerprint);

/* Output path, imgpool's by its bytes (journal_owns() said 2), now has this stamp:
 * recorded, so that the next run need not read it again (a copied or restored
 * output folder). A row of another journal is left. 0 or -1. */
int journal_output_moved(journal *j, const char *path, const file_ident *id, uint64_t stamp);

/* Record, ahead of the rename, that imgpool is making output path with identity id
 * (its inode: a rename keeps it) and bytes of this checksum (XXH3-64; 0: not
 * known) for input (root, rel), from that input as src says it was. Not durable
 * until journal_sync(). 0 or -1. */
int journal_output_intent(journal *j, const char *path, const file_ident *id,
			  uint64_t checksum, const char *root, const char *rel,
			  const journal_source *src);

/* Was an output made from src a picture of the input a row, or the file now,
 * describes (size, mtime_ns, checksum; 0: not known)? Their checksums decide where
 * both are known (a touched file with the same bytes is the same); else size and
 * mtime. A source not known (an older journal's row) is taken as this input, as
 * before. The input's own row alone said so, and a kill -9 between the renames and
 * the row's commit left the row of the file before: its thumbnails, made with
 * other settings or from other bytes, were "up to date" for good. */
int journal_source_shows(const journal_source *src, uint64_t size, int64_t mtime_ns,
			 uint64_t checksum);

/* The rename happened: path is now exactly id, with io_stamp() stamp; every other
 * row of path goes. */
int journal_output_made(journal *j, const char *path, const file_ident *id, uint64_t stamp);

/*
 * The folders beneath OUT imgpool made (schema 8; journal_folders.c): folder path
 * (relative to OUT) of identity id (io_identity()) is one imgpool made, recorded
 * and committed at once (journal_folder_made(): 0 or -1; on a dry run's
 * read-only journal, kept in memory for the run's later questions); is folder path of
 * identity id recorded so by any journal of the folder (journal_folder_ours():
 * 1, or 0, also where a journal is older than schema 8: a folder made by an older
 * imgpool is not known as imgpool's, and stays; or recorded as earlier, its
 * identity by a build before the generation, io_identities(), 0: none, and then
 * recorded anew as id); is path recorded so with any
 * identity (journal_folder_known(): a copied output folder's folders are the
 * same paths, other identities); folder path is gone
 * (journal_folder_forget(), this journal's row). journal_keep_folders() gives
 * the three to j's outdir as its folder record (outdir_record_folders()), for
 * outdir to ask and tell; journal_close() takes it back.
 */
int journal_folder_made(journal *j, const char *path, uint64_t id);
int journal_folder_ours(journal *j, const char *path, uint64_t id, uint64_t earlier);
int journal_folder_known(journal *j, const char *path);
int journal_folder_forget(journal *j, const char *path);
void journal_keep_folders(journal *j);

/* Forget output path: the row with identity id, or every row of it (id NULL). */
int journal_output_forget(journal *j, const char *path, const file_ident *id);

/* Forget input (root, rel)'s row in this journal (its output rows are the caller's:
 * an input whose every output another one adopted, and which is gone). */
int journal_input_forget(journal *j, const char *root, const char *rel);

/* Every output row an input owns, in any journal of the folder: fn(data, path, id);
 * fn returning non-zero stops. */
int journal_outputs_of(journal *j, const char *root, const char *rel,
		       int (*fn)(void *data, const char *path, const file_ident *id),
		       void *data);

/* Record / forget a file moved to the quarantine (qname) from path. */
int journal_quarantine_add(journal *j, const char *qname, const char *path,
			   const file_ident *id);
int journal_quarantine_del(journal *j, const char *qname);
/* Every quarantine record: fn(data, qname, path, id). */
int journal_quarantine_each(journal *j,
			    void (*fn)(void *data, const char *qname, const char *path,
				       const file_ident *id),
			    void *data);

/* Has a run recorded folder root (a PATH's or a mount point's real path) on device
 * dev_now when it found it not empty, in any journal of the folder? 1 yes; 0 no,
 * only other devices were recorded; -1 nothing is recorded (or the journals are
 * older than schema 5, or there is none); -2 cannot tell (a lookup failed:
 * journal_read_errors()). */
int journal_root_device_seen(journal *j, const char *root, uint64_t dev_now);
/* Record it for this run (a read-only journal records nothing). */
int journal_set_root_device(journal *j, const char *root, uint64_t dev);

/* Would a run keep the rows of journal `file` of od (an SQLite journal of this or an
 * older schema, which it converts)? 0 where it would move the file aside or find it
 * empty: not SQLite, a newer schema, no tables, not a regular file. A dry run that
 * cannot read its journal asks, to judge as the run will. Changes nothing. */
int journal_would_keep(outdir *od, const char *file);

/* Commit now: the write-ahead point. 0 or -1 (journal_error); -1 also when the
 * journal's file was deleted or moved away since it was opened (journal_moved()):
 * a record written there would prove nothing to the next run. */
int journal_sync(journal *j);

/* How many times writes were undone so far (a commit that failed, a journal that
 * moved). A caller that writes rows ahead of acting on them compares it before
 * and after: a sync inside a write (a full batch) may have undone the earlier
 * rows, and the last journal_sync() then has nothing left to commit and says 0. */
uint64_t journal_rollbacks(const journal *j);

/* 1 when the journal's file was deleted or renamed since it was opened (SQLite's
 * SQLITE_FCNTL_HAS_MOVED), 0 otherwise (and without a journal). */
int journal_moved(journal *j);

/* Every input recorded under the given roots, by any journal of the folder (an input
 * row, or the owner of an output row whose input row a kill -9 lost), each once:
 * fn(data, root, rel) returns 1 to delete this journal's row (its output rows are
 * the caller's to forget; the other journals are read only). */
int journal_each_input(journal *j, const char *const *roots, int nroots,
		       int (*fn)(void *data, const char *root, const char *rel), void *data);

/* 1 when the journal holds no word on any file (no input, output or quarantine
 * row): a run that found no input leaves it so. 0 when it does or cannot tell. */
int journal_holds_no_file(journal *j);

/* Lookups that failed so far (journal_get, journal_get_any, journal_owns,
 * journal_output_info, journal_outputs_of, journal_each_input,
 * journal_quarantine_each, journal_root_device_seen; a step, or memory for what it
 * collects): each answered "none" (no row, not imgpool's) or fewer rows than there
 * are, which a caller that decides from them must not believe. *cause (may be
 * NULL): the latest one's ("cannot read the journal: ..."). NULL j: 0. */
uint64_t journal_read_errors(const journal *j, const char **cause);

/* The latest error of the writes ("" when none yet). */
const char *journal_error(const journal *j);

/* Record the run (counts, duration) and commit everything. NULL is a no-op. */
void journal_close(journal *j, uint64_t done, uint64_t failed, uint64_t skipped,
		   double wall_s, int interrupted);

#endif
