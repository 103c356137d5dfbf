/* SPDX-License-Identifier: MIT */
/*
 * discover_internal.h — what the walker's files share: discover.c (the walk, open
 * and close), discover_item.c (an item's names, outputs and errors),
 * discover_folder.c (the checks on a folder met) and discover_list.c
 * (--files-from). Private to them: the contract is discover.h.
 */
#ifndef IMGPOOL_DISCOVER_INTERNAL_H
#define IMGPOOL_DISCOVER_INTERNAL_H

#include <fts.h>
#include <sys/types.h>

#include "claims.h"
#include "fileids.h"
#include "discover.h"
#include "inside.h"
#include "lines.h"

#define WHY_NOMEM "out of memory"

struct discover {
	discover_config cfg;    /* as given: arrays and strings borrowed */
	thumb_settings settings;
	char *tmpl;             /* the name template in use */
	char *out_dir;          /* the output folder, trailing '/' trimmed ("/" stays) */
	char *out_canon;        /* its canonical path, as far as it exists; NULL: unknown */
	int out_known;          /* the output folder exists: its identity below */
	dev_t out_dev;
	ino_t out_ino;
	inside_set *inside;     /* PATHs inside the output tree */
	int root_in_out;        /* the current folder PATH lies inside the output folder */
	int check_in_out;       /* the file being planned, a file PATH or a symlink's
	                           target, may lie in the output folder as the files of
	                           a root_in_out may: discover_plan() says where
	                           (in_out) */

	int next_path;          /* next PATH argument to start */
	lines *list;            /* --files-from, once the PATHs are done; NULL: none */
	int list_fd;            /* its descriptor */
	int list_owned;         /* opened here (not stdin): closed here */
	int list_done;
	int nowait;             /* discover_nowait(): DISCOVER_LATER rather than block */
	char *base_real;        /* --base's canonical path */
	char *root_buf;         /* the current item's root when it is made (a file PATH's
	                           folder) */
	const char *cur_root;   /* the current item's root */
	char *listed;           /* that entry as a path: a relative one from --base */
	FTS *fts;               /* walk of the current folder PATH, or NULL */
	const char *root;       /* that PATH as given */
	size_t root_len;        /* the length fts gives the root (rel starts after it) */
	const FTSENT *gone_folder; /* the folder last found replaced under the walk
	                              (discover_listed_elsewhere()), or NULL */
	uint64_t count;
	uint64_t not_walked;    /* subfolders a walk without -r passed over (not hidden) */
	uint64_t other_outs;    /* subfolders not walked: another imgpool output folder */
	char *first_other_out;  /* the first of them, as walked */

	claims *claims;         /* every output planned so far, and who planned it, and
	                           the folders those outputs lie in (counted while
	                           one is claimed) */
	claims *paths_seen;     /* every PATH argument met so far (lexically cleaned): a
	                           PATH given again ("in in/") is passed over */
	fileids *files_met;     /* with more than one origin (PATHs, list entries): every
	                           file met, by canonical path, and the origin that met
	                           it first; NULL with one PATH, where nothing meets
	                           twice */
	uint32_t origin;        /* the current origin: the PATH's index, or npaths + the
	                           list entry's ordinal */
	uint64_t list_entries;  /* --files-from entries read so far */
	claims *listed_seen;    /* every --files-from entry met so far (its path, lexically
	                           cleaned): an entry met again is answered once, the
	                           ones that were errors too */
	char **mounts;          /* folders walked that are on another device than the
	                           folder holding them (real paths): discover_mount_points() */
	int nmounts;

	/* the current item's strings, freed at the next discover_next() */
	char *input, *rel, *error, *in_out;
	char *outputs[THUMB_MAX_SIZES];
	char *out_rel[THUMB_MAX_SIZES];
};

/* discover_folder.c */

/* Is this stat the output folder (looked up again until it exists)? */
int discover_is_out_dir(discover *d, const struct stat *st);
/* Does folder path hold OUT/.imgpool: an earlier output folder? */
int discover_holds_private(const char *path);
/* Is the folder of fts entry e not the one its parent's listing found (a symlink
 * put there since)? */
int discover_folder_replaced(const FTSENT *e);
/* Is the folder entry e was listed from (below PATH) not the one the walk saw any
 * more (swapped since, for a symlink to another folder, say)? 1: skip e; the first
 * time for that folder *it is its error item and *gave is 1. */
int discover_listed_elsewhere(discover *d, discover_item *it, const FTSENT *e, int *gave);
/* Note folder, a mount point the walk goes into (discover_mount_points()). */
void discover_note_mount(discover *d, const char *folder);

/* discover_item.c */

/* Does the name end in the extension of an image we read (thumb_is_input_ext())? */
int discover_is_image_name(const char *base);

/* Fill the item's input and rel (copies). -1 when out of memory, and then *it still
 * names the path (valid until the next call). */
int discover_item_names(discover *d, discover_item *it, const char *input, const char *rel);

/* Make *it an ITEM_ERROR with a printf-made cause and no outputs. Returns 1. */
int discover_item_error(discover *d, discover_item *it, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An ITEM_ERROR about a path met on the way (cause: one line without the path), of
 * kind FAIL_ENVIRONMENT. Returns 1. */
int discover_path_error(discover *d, discover_item *it, const char *path, const char *rel,
			const char *cause);

/* discover_path_error(), once a path: an error another origin (PATH or list
 * entry) met first and answered (a dangling link or a FIFO in a walked folder,
 * also named as a PATH) gives no item, as a file met twice gives one answer
 * (discover_plan()). 1 when *it was filled, 0 when answered already. */
int discover_path_error_once(discover *d, discover_item *it, const char *path, const char *rel,
			     const char *cause);

/* discover_path_error_once() for a list entry refused for how it names its file
 * (not under --base), not for the file: the file is not taken as met, and a later
 * entry that names it rightly is planned. */
int discover_path_refused_once(discover *d, discover_item *it, const char *path,
			       const char *cause);

/* Does a file at rel (relative to its root) pass --include and --exclude? */
int discover_wanted(const discover *d, const char *rel);

/* Plan one input file: output paths, checks, collisions, up to date. st describes
 * the file read. Returns 1: an item is ready; 0: met again, answered already. */
int discover_plan(discover *d, discover_item *it, const char *input, const char *rel,
		  const struct stat *st);

/* Has set (paths_seen, listed_seen) met path before, as "a//./b" names "a/b"?
 * Notes it if not. A file met again through another name (a symlink, "..") is
 * caught later, by its identity (discover_plan()). Without a set, or memory for
 * it, a path counts as new. */
int discover_seen_before(claims *set, const char *path);

/* The claimed output out_rel of input (claims.h's copy) counts in each folder
 * above it (claims_folder_add()); input NULL: it counts no more (released). */
void discover_count_folders(discover *d, const char *out_rel, const char *input);

/* The run asked to stop while discover_nowait() is on (discover.h: DISCOVER_LATER):
 * the walk (discover.c) and --files-from (discover_list.c) ask before each entry. */
int discover_stop_asked(const discover *d);

/* discover_list.c */

/* Open --files-from and resolve --base. NULL, or a malloc'd message. */
char *discover_open_list(discover *d);

/* The next entry of --files-from: 1 with *it filled, 0 when the list is done,
 * DISCOVER_LATER when d->nowait and no whole entry has come yet, or a stop is
 * asked. */
int discover_next_listed(discover *d, discover_item *it);

/* One wording for a file a walk, a PATH and a --files-from entry all refuse:
 * what is there when it is neither a regular file nor (for a PATH) a folder, and
 * why stat(path) failed with err (a symlink's: "broken symlink ...", "symlink
 * loop"). */
#define DISCOVER_NOT_REGULAR "not a regular file (a FIFO, socket or device)"
const char *discover_stat_cause(const char *path, int err);

#endif
