/* SPDX-License-Identifier: MIT */
/*
 * discover.h — find the images under the given paths and plan their outputs.
 *
 * Streams: discover_next() walks (fts, physical, no crossing into the output tree)
 * only as far as the next file, so the first task starts before a large tree is fully
 * walked and memory stays flat in the number of files (only the set of planned
 * output paths, kept to detect collisions, grows: 16 bytes + the first claimant's
 * path per output).
 *
 * Rules:
 *   - A PATH that is a folder is walked (subfolders only with recursive); its files
 *     map to <out_dir>/<path relative to that folder's root, through the template>.
 *     A PATH that is a file maps to <out_dir>/<template with dir = "">.
 *   - Hidden files and folders (name starts with '.'), the output folder itself,
 *     symlinks to folders, and files whose extension is not an image we read
 *     (jpg jpeg jpe png webp tif tiff gif heic heif avif, any case) are skipped
 *     silently. A file given explicitly as a PATH is never skipped for its extension.
 *   - include/exclude globs (fnmatch, matched against the path relative to its root
 *     and against the base name): a file must match one include (when any) and no
 *     exclude.
 *   - Within each folder files are visited largest first (so a big photo does not
 *     finish alone at the end), folders after files, names in byte order to break ties.
 *   - The name template expands {dir} (relative folder, "" at the root), {stem},
 *     {ext} (output extension), {inext} (input extension), {w}, {h} (the box; "" when
 *     0), {size} ("320" for -s 320 and for -s 320x, "x240",
 *     "320x240"; two sizes that would get one name are refused at open); "//" collapses, leading "/"
 *     is dropped. Expansion results that are absolute, contain a ".." component or
 *     are empty are errors for that file (no writing outside out_dir).
 *   - Two inputs whose outputs collide: the second is an ITEM_ERROR naming the first.
 *     An output equal to an input path is an ITEM_ERROR too.
 *   - Up to date (ITEM_UPTODATE): not force, and every planned output exists and its
 *     mtime is >= the input's mtime.
 * Errors met while walking (unreadable folder, vanished file, symlink loop) are
 * ITEM_ERROR items naming that path; the walk goes on.
 */
#ifndef IMGPOOL_DISCOVER_H
#define IMGPOOL_DISCOVER_H

#include <stdint.h>
#include <time.h>
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
	int force;                    /* 1: never ITEM_UPTODATE */
} discover_config;

typedef enum { ITEM_TODO = 0, ITEM_UPTODATE, ITEM_ERROR } discover_state;

/* One discovered file. Every pointer is owned by the walker and valid until the next
 * discover_next() or discover_close(). */
typedef struct discover_item {
	discover_state state;
	const char *input;            /* path to open: the root as given joined with rel */
	const char *rel;              /* path relative to its root (base name for a file PATH) */
	uint64_t size;                /* bytes */
	struct timespec mtime;
	int noutputs;                 /* settings->nsizes when planned, else 0 */
	const char *outputs[THUMB_MAX_SIZES];
	const char *error;            /* ITEM_ERROR: one-line cause, without the path */
} discover_item;

typedef struct discover discover;

/* Check the config (template parses, output folder usable) and start the walk; a
 * missing PATH is an ITEM_ERROR item, not a failure here. On failure returns NULL
 * and sets *err to a malloc'd one-line message the caller frees. */
discover *discover_open(const discover_config *cfg, char **err);

/* 1: *item filled; 0: walk finished. */
int discover_next(discover *d, discover_item *item);

/* Files seen so far (all states) — for the progress line's running total. */
uint64_t discover_count(const discover *d);

/* NULL is a harmless no-op. */
void discover_close(discover *d);

/* Expand a name template for one input (exposed for tests and fuzzing).
 * Returns a malloc'd relative path, or NULL with a static cause in *why. */
char *discover_expand(const char *tmpl, const char *rel_dir, const char *stem,
		      const char *in_ext, const char *out_ext, thumb_size box,
		      const char **why);

#endif
