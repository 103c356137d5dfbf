/* SPDX-License-Identifier: MIT */
/*
 * publish.h — imgpool's ownership rule, applied: what is at an output path, and
 * moving a finished file's outputs into place without ever touching a file imgpool
 * cannot show it made.
 *
 * The rule: imgpool overwrites, adopts or deletes a file beneath OUT only when a
 * journal of the folder records that path with the file's current size and mtime
 * (journal_owns). Anything else at a planned output path is a per-file error
 * ("exists and was not made by imgpool; --overwrite replaces it"). --overwrite
 * replaces a regular file that is in the way, never a folder or a symlink.
 *
 * Publishing one file's outputs (temp files a worker made in the run's temp folder):
 *   1. check every temp file (a regular file in the temp folder) and every output
 *      path (absent, or imgpool's, or --overwrite; where nothing but the input's
 *      own outputs of earlier settings is in its way, those are removed first);
 *   2. record each new output (path, size, mtime) and each file about to be moved
 *      aside, and commit: the write-ahead point;
 *   3. move each into place: renameat2(RENAME_NOREPLACE) for a new one, through the
 *      quarantine (checked there, see outdir.h) for one that replaces imgpool's;
 *   4. mark them made; then remove the outputs this input had under earlier
 *      settings that it no longer plans and no other current input plans. One
 *      that cannot be removed is told (publisher.kept) and its row kept; the
 *      input is made all the same, and a later run that finds it up to date
 *      removes it then (publish_drop_stale()).
 * A kill at any moment leaves every file either imgpool's and recorded, or not
 * imgpool's and untouched; publish_recover() finishes what a killed run left in
 * the quarantine.
 */
#ifndef IMGPOOL_PUBLISH_H
#define IMGPOOL_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "discover.h"
#include "journal.h"
#include "outdir.h"

struct publish_item;

typedef struct publisher {
	outdir *od;
	journal *j;          /* NULL: no journal, so nothing is provably imgpool's */
	int overwrite;       /* --overwrite */
	const discover *d;   /* what current inputs plan (discover_planned); may be NULL */
	/* Told of each output of earlier settings that publishing it removed (step 4,
	 * or step 1 where it was in the way), rel beneath OUT, so that the file's
	 * answer says so; NULL: not told. */
	void (*removed)(void *data, const struct publish_item *it, const char *rel);
	void *removed_data;
	/* Told of each output of earlier settings that could not be removed (cause:
	 * one line; its row kept for a later run), with removed_data; NULL: not told. */
	void (*kept)(void *data, const struct publish_item *it, const char *rel,
		     const char *cause);
} publisher;

typedef enum {
	OUT_ABSENT,          /* nothing there */
	OUT_OURS,            /* a regular file imgpool made (journal_owns) */
	OUT_FOREIGN,         /* a regular file imgpool cannot show it made */
	OUT_BLOCKED,         /* a folder, a symlink or the input itself is there */
	OUT_UNREACHABLE,     /* cannot be looked at now: a folder on the way unreadable,
	                        a symlink or a file on the way, I/O; or the journal
	                        could not be read to tell whose it is */
} out_state;

/* Why a file at an output path is not imgpool's to replace, where a journal is
 * kept (journal 0: --no-journal, and then nothing can be shown imgpool's, its own
 * thumbnails of an earlier run too). */
#define PUBLISH_NOT_OURS(journal) ((journal) ? "was not made by imgpool" \
				 : "cannot be shown imgpool's without a journal (--no-journal)")

/* What is at output rel now. *id is filled when something is there. For
 * OUT_BLOCKED and OUT_UNREACHABLE, why says what (without the path). in_dev/in_ino:
 * the input, which an output must never be. */
out_state publish_inspect(const publisher *pb, const char *rel, uint64_t in_dev,
			  uint64_t in_ino, file_ident *id, char *why, size_t len);

/* The output at rel as it is now: its io_stamp() and, when sum is not NULL, the checksum of its bytes (what the journal records of
 * an output imgpool made or adopted); when expect is not NULL, only if it is still
 * that inode (the file just renamed there). 0, or -1 (0 for what cannot be told:
 * no stamp without its checksum). */
int publish_placed(const publisher *pb, const char *rel, const file_ident *expect,
		   uint64_t *stamp, uint64_t *sum);

/* One finished file. */
typedef struct publish_item {
	const char *root, *rel;            /* the input, as the journal keys it */
	const char *input;                 /* and as given, for what is said of it */
	uint64_t in_dev, in_ino;
	int n;
	const char *const *out_rel;        /* relative to OUT */
	const char *const *display;        /* as reported (OUT as given + rel) */
	const char *const *temps;          /* temp file names in the temp folder */
	const uint64_t *sums;              /* each one's checksum (result.h); NULL: unknown */
	const uint64_t *inos;              /* each temp file's inode as the worker made it
	                                      (result.h); NULL or 0: not checked */
	journal_source src;                /* the input they were made from, as read */
} publish_item;

/* Is output i of it blocked only by this input's own outputs of earlier settings
 * (its journal rows; a --name that swapped a file and a folder): a folder at
 * out_rel[i] whose every regular file (and nothing else: no symlink, no FIFO) is
 * one of them, or a regular file on its way that is one, each still the file
 * recorded, none planned by it (out_rel) or by another input met so far
 * (discover_planned())? Needs only root, rel, n and out_rel of it. remove 0: 1 when
 * so, else 0. remove 1: then remove them (publish_remove(), the folders they leave
 * empty with them): 1 when all went, 0 when it is not so (nothing removed) or one
 * changed meanwhile, -1 with the cause in err when one could not be removed. */
int publish_own_in_way(const publisher *pb, const publish_item *it, int i, int remove,
		       char *err, size_t len);

/* Step 4 alone: remove each output its journal rows record that it no longer
 * plans and no other current input plans, each told to pb->removed, or, where it
 * cannot be removed, to pb->kept. list_only (a dry run): tell each that would go
 * to pb->removed (publish_stale_outputs()), and remove nothing. Needs only root,
 * rel, n and out_rel of it (and input, for what is said). */
void publish_drop_stale(const publisher *pb, const publish_item *it, int list_only);

/* What publishing it would remove (for a dry run, which removes nothing): each
 * output its journal rows record that it no longer plans and no other current
 * input plans, where that is still the file recorded, told to each(data, rel)
 * (NULL: only counted). Needs only root, rel, n and out_rel of it. The count. */
int publish_stale_outputs(const publisher *pb, const publish_item *it,
			  void (*each)(void *data, const char *rel), void *data);

/* What is in the way of making output rel, its path into at (len bytes):
 * BLOCKED_BY_FOLDER (a folder at rel), BLOCKED_BY_FILE (a regular file on its
 * way: at names it), -1 (something else on its way, or the path too long), or 0
 * (nothing of these: rel absent, a file there, or it cannot be looked at). */
enum { BLOCKED_BY_FOLDER = 1, BLOCKED_BY_FILE = 2 };
int publish_blocker(const publisher *pb, const char *rel, char *at, size_t len);

/* The regular files beneath folder rel (relative to OUT, never through a
 * symlink): how many (counting stops past max, where max >= 0), each told to
 * each(data, path relative to OUT) when not NULL; or -1 where removing them would
 * not empty it: anything else there (a symlink, a FIFO), a folder holding no file,
 * a folder on another device (a mount point), one that cannot be read, a path
 * too long, or each() returning 0; or where an emptied folder would stay: rel or
 * a folder beneath it that imgpool did not make (journal_folder_ours()). */
long publish_files_beneath(const publisher *pb, const char *rel, long max,
			   int (*each)(void *data, const char *path), void *data);

/* Move its outputs into place (see above). 0, or -1 with a one-line cause in err;
 * on failure no output of it that was not imgpool's has changed. */
int publish_outputs(const publisher *pb, const publish_item *it, char *err, size_t len);

/* The outcome of one input of a batch. */
typedef struct publish_error {
	int failed;
	char cause[1024];
} publish_error;

/* publish_outputs() for n inputs at once, with ONE commit of the write-ahead
 * records for all of them (a commit per file is most of what publishing costs the
 * parent). errs[k] tells item k's outcome. Returns the number that failed. */
int publish_batch(const publisher *pb, const publish_item *items, int n, publish_error *errs);

/* publish_inspect() of an output a journal records (no input to tell apart): where
 * a regular file is on its way (ENOTDIR), nothing can be at rel, and it is
 * OUT_ABSENT, gone. publish_remove() and a dry run's prune look so. */
out_state publish_inspect_recorded(const publisher *pb, const char *rel, file_ident *id,
				   char *why, size_t len);

/* Delete output rel, recorded as imgpool's with identity id, if it still is exactly
 * that file, and forget its row; forget it too where the file changed or went (it
 * is no longer imgpool's). 1 deleted, 0 kept (changed, or gone already), -1 error
 * (err): not removed, and the row kept, so that a later run tries again (the path
 * could not be reached: unreadable is not gone). */
int publish_remove(const publisher *pb, const char *rel, const file_ident *id, char *err,
		   size_t len);

/* After a killed run: put files it left in the quarantine back, or delete them
 * where they were imgpool's and have been replaced. warn(data, line) is told of a
 * file that had to stay there; pruned(data, output, input), when not NULL, of an
 * output a --prune had removed when the kill came before its record (the output
 * gone from its place and from the quarantine, its input gone too: output as
 * OUT/path, input as root/rel). */
void publish_recover(const publisher *pb, void (*warn)(void *data, const char *line),
		     void (*pruned)(void *data, const char *output, const char *input),
		     void *data);

#endif
