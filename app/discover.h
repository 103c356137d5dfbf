/* SPDX-License-Identifier: MIT */
/*
 * discover.h — find the images under the given paths and plan their outputs.
 *
 * Streams: discover_next() walks (fts, physical, no crossing into the output tree)
 * only as far as the next file, so the first task starts before a large tree is fully
 * walked and memory stays flat in the number of files (only the set of planned
 * output paths, kept to detect collisions, grows: 16 bytes + the first claimant's
 * path per output, and 24 bytes per folder they lie in).
 *
 * Rules:
 *   - A PATH that is a folder is walked (subfolders only with recursive); its files
 *     map to <out_dir>/<path relative to that folder's root, through the template>.
 *     A PATH that is a file maps to <out_dir>/<template with dir = "">. A file
 *     listed by --files-from keeps its folder relative to --base (default: the
 *     current folder): `find . -name '*.jpg' -print0 | imgpool -0 --files-from -`
 *     mirrors the tree; a listed file outside --base, or a listed folder, is an
 *     ITEM_ERROR.
 *   - Hidden files and folders (name starts with '.'), the output folder itself,
 *     symlinks to folders, and files whose extension is not an image we read
 *     (thumb_is_input_ext(), settings.h) are skipped
 *     silently. A file given explicitly as a PATH is never skipped for its extension.
 *   - include/exclude globs (fnmatch, matched against the path relative to its root
 *     and against the base name): a file must match one include (when any) and no
 *     exclude.
 *   - Within each folder files are visited largest first (so a big photo does not
 *     finish alone at the end), folders after files, names in byte order to break ties.
 *   - Output names come from the name template (template.h); a template that gives
 *     two sizes one name is refused at open, an expansion that would leave the
 *     output folder is an error for that file.
 *   - Two inputs whose outputs collide (one path, or one a folder the other needs):
 *     the second is an ITEM_ERROR naming the first.
 *     An output equal to an input path is an ITEM_ERROR too.
 *   - A folder holding OUTDIR_PRIVATE (".imgpool") is an output folder of an earlier
 *     run: never walked as input (a PATH that is one is an ITEM_ERROR).
 *   - Whether outputs exist, are imgpool's and are up to date is not decided here:
 *     that is the planner's (plan.h), which looks through the output folder's fd.
 * Errors met while walking (unreadable folder, vanished file, symlink loop, a path
 * longer than PATH_MAX) are ITEM_ERROR items naming that path; the walk goes on.
 */
#ifndef IMGPOOL_DISCOVER_H
#define IMGPOOL_DISCOVER_H

#include <stdint.h>
#include <time.h>
#include "failure.h"
#include "settings.h"

typedef struct discover_config {
	const char *const *paths;     /* the PATH arguments, as given */
	int npaths;
	int recursive;
	const char *const *includes;  /* globs; NULL or count 0 = everything */
	int nincludes;
	const char *const *excludes;
	int nexcludes;
	const char *out_dir;          /* output folder (need not exist yet) */
	const char *name_template;    /* NULL: "{dir}/{stem}.{ext}" for one size,
	                                 "{dir}/{stem}_{size}.{ext}" for several */
	const thumb_settings *settings; /* sizes and format, for names */
	const char *files_from;       /* --files-from: a file listing inputs, "-" for stdin;
	                                 read after the PATHs, one at a time */
	int files_nul;                /* -0: the list is NUL-separated (find -print0) */
	const char *base;             /* --base: listed files' paths are kept relative to
	                                 it (NULL: the current folder) */
	int count_only;               /* names only: no output is planned (count.h) */
	int sharded;                  /* --shard: an output where another input's needs a
	                                 folder is no claim's collision (discover_claim()) */
	int (*stopping)(void);        /* nonzero once the run is asked to stop (stop.h);
	                                 NULL: never. See discover_next() */
} discover_config;

typedef enum { ITEM_TODO = 0, ITEM_ERROR = 2 } discover_state;

/* One discovered file. Every pointer is owned by the walker and valid until the next
 * discover_next() or discover_close(). */
typedef struct discover_item {
	discover_state state;
	const char *input;            /* path to open: the root as given joined with rel */
	const char *rel;              /* path relative to its root (base name for a file PATH) */
	const char *root;             /* that root as given: a folder PATH, the folder of a
	                                 file PATH, or --base for a listed file */
	uint64_t size;                /* bytes */
	struct timespec mtime;
	uint64_t dev, ino;            /* the file read (a symlink's target) */
	size_t beneath;               /* found by a folder walk: where rel begins in input
	                                 (its folders are never read through a symlink:
	                                 thumb_run()); 0 otherwise */
	int noutputs;                 /* settings->nsizes when planned, else 0 */
	const char *outputs[THUMB_MAX_SIZES]; /* out_dir + "/" + out_rel, for messages */
	const char *out_rel[THUMB_MAX_SIZES]; /* relative to the output folder */
	const char *in_out;           /* the file lies in the output folder (its PATH
	                                 does: -o .. photos; a symlink leads there):
	                                 its path relative to it, for the planner to
	                                 ask whether it is a thumbnail; else NULL */
	const char *error;            /* ITEM_ERROR: one-line cause, without the path */
	failure_kind error_kind;      /* ITEM_ERROR: FAIL_ENVIRONMENT for a path that
	                                 cannot be read or walked, FAIL_OUTPUT for an
	                                 output that cannot be planned (a collision, a
	                                 template that leaves the folder) */
	const char *taken_by;         /* ITEM_ERROR of a collision (discover_claim()): the
	                                 input of this walk that planned first the output
	                                 or a folder or file in its way; outputs[] and
	                                 out_rel[] still hold this one's `wanted` outputs
	                                 (the planner may try again: discover_claim()).
	                                 Else NULL */
	int wanted;
} discover_item;

/* Its modification time in ns, as the journal keeps it. */
static inline int64_t discover_item_mtime_ns(const discover_item *it)
{
	return (int64_t)it->mtime.tv_sec * 1000000000 + it->mtime.tv_nsec;
}

typedef struct discover discover;

/* Check the config (template parses, output folder usable, the file list opens) and
 * start the walk; a missing PATH is an ITEM_ERROR item, not a failure here. At
 * least one PATH or a files_from is needed. On failure returns NULL
 * and sets *err to a malloc'd one-line message the caller frees. */
discover *discover_open(const discover_config *cfg, char **err);

/* 1: *item filled; 0: walk finished; DISCOVER_LATER (only after discover_nowait):
 * the --files-from list has no whole entry readable yet (a pipe whose producer is
 * quiet; discover_wait_fd() turns readable when more comes), or the run is asked
 * to stop (cfg.stopping): checked before each entry, so that a stop is not held
 * by a long stretch of entries that give no item here or none the planner keeps
 * (files up to date, names seen before, a list of /dev/zero's empty entries). */
#define DISCOVER_LATER 2
int discover_next(discover *d, discover_item *item);

/* on: discover_next() answers DISCOVER_LATER rather than wait for the list. */
void discover_nowait(discover *d, int on);
/* The descriptor of the --files-from list while it is being read, else -1. */
int discover_wait_fd(const discover *d);
/* Are the items handed out now the list's (every PATH walked)? */
int discover_reading_list(const discover *d);

/* Subfolders the walks passed over because -r was not given (hidden ones not
 * counted): the summary's hint when they found no file. */
uint64_t discover_not_walked(const discover *d);

/* Subfolders the walks passed over because they hold another imgpool output
 * folder's .imgpool (not this run's output folder), and *first the first of them
 * (NULL: none; valid until discover_close()). */
uint64_t discover_other_outputs(const discover *d, const char **first);

/* Items handed out so far (all states); the tests check the walk with it (the
 * progress line counts what the run answers: run_counters). */
uint64_t discover_count(const discover *d);

/* The planner refused item (it->state ITEM_TODO): it makes nothing this run, so
 * its outputs are claimed no more. Another input met later in the walk plans
 * them rather than being refused as their second claimant: when the refusal
 * was that the output is that input's thumbnail (the journal's owner), the
 * owner keeps the name whatever the walk's order (largest first: an edit could
 * swap them, and both failed on every run after). */
void discover_release(discover *d, const discover_item *it);

/* How an output of an item meets another input's claim: it is that input's
 * output too, or a file cannot be a folder: it lies in a folder that is that
 * input's output (out/x.jpg/b.jpg and out/x.jpg), or it is a folder of that
 * input's output (out/x.jpg and out/x.jpg/b.jpg). Compared as the exact paths
 * are, byte for byte. */
typedef enum { CLASH_SAME, CLASH_INSIDE, CLASH_HOLDS } discover_clash_how;

typedef struct discover_clash {
	const char *first;            /* the input that has the path */
	int which;                    /* the item's output that meets it */
	discover_clash_how how;
	size_t folder;                /* CLASH_INSIDE: the length of the folder of
	                                 out_rel[which] that is first's output */
} discover_clash;

/* Claim the outputs of an item, all or none (the walk does; the planner again for
 * one it held: discover_item.taken_by): NULL when they are its now, else the input
 * that has one of them or a folder they need, or needs one as a folder (claimed
 * first, and neither refused nor failed since), described in *c. */
const char *discover_claim(discover *d, const discover_item *it, discover_clash *c);

/* The one-line cause of an item refused for clash c, in buf (len bytes): one
 * wording for the walk's refusal and the planner's. Returns buf. */
const char *discover_clash_cause(const discover_item *it, const discover_clash *c, char *buf,
				 size_t len);

/* The same for a file whose thumbnails failed (n outputs, out_rel relative to the
 * output folder, as input planned them): a claim by a file that made nothing
 * must not keep --prune from removing the stale thumbnail of a gone input at
 * that path (it stayed, unreported, on every run). */
void discover_release_outputs(discover *d, const char *input, char *const *out_rel, int n);

/* The input that planned output out_rel (relative to the output folder) so far in
 * this walk, or NULL. After a whole walk: is it an output of a current input? */
const char *discover_planned(const discover *d, const char *out_rel);

/* The folders the walks went into that are mount points (on another device than
 * the folder holding them), as real paths: *folders is valid until
 * discover_close(). Returns how many. --prune tells a disk that is not mounted
 * there from an emptied folder by them (prune_note_roots()). */
int discover_mount_points(const discover *d, const char *const **folders);

/* NULL is a harmless no-op. */
void discover_close(discover *d);

#endif
