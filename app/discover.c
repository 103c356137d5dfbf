/* SPDX-License-Identifier: MIT */
/*
 * discover.c — walk the PATHs and pick the images. See discover.h; an item's
 * outputs are planned in discover_item.c, the files of --files-from are
 * discover_list.c's, the checks on a folder the walk meets discover_folder.c's.
 *
 * Why fts(3) and not nftw(3): nftw drives the walk itself and calls back for every
 * entry; it cannot be paused between two files (short of a thread or a longjmp out
 * of the callback). fts hands out one entry per fts_read(), so discover_next() walks
 * exactly as far as the next file and returns: the pool works on the first photo
 * while the rest of the tree is still unread. Memory holds the folders on the current
 * path (fts reads one folder's entries at a time, to sort them) and the collision
 * set; nothing else grows with the tree.
 *
 * Decisions beyond discover.h:
 *   - A PATH that does not exist, cannot be read, or is neither a file nor a folder
 *     is an ITEM_ERROR for that PATH and the walk goes on with the next one: a cron
 *     job one of whose folders vanished still does the others. Even when every PATH
 *     is missing the result is just error items. discover_open() fails only for
 *     configuration errors: no PATH, no sizes, a bad name template (or one that names
 *     two sizes alike), an output folder that exists but is not a folder.
 *   - Symlinks. A PATH that is a symlink is followed (FTS_COMFOLLOW). Inside a walked
 *     folder (FTS_PHYSICAL: links are not followed by fts) a link with an image name
 *     to a regular file is taken: the input is the link's path, size and mtime are
 *     the target's. A link to a folder is skipped (no walking out of the tree, no
 *     cycles); a dangling or looping link with an image name is an ITEM_ERROR.
 *     Reading through a link that points outside the tree is fine: we only read, and
 *     outputs are always under out_dir whatever the inputs are.
 *   - include/exclude globs match, ignoring case, a file's path relative to its PATH
 *     or the name of any part of it (the file's name, a folder it lies in); a folder
 *     an exclude matches is not walked. They also apply to a file given as a PATH
 *     (matched against its base name), so `--exclude '*_small.jpg' *.jpg` does what
 *     it says; only the extension and hidden-name rules are waived for a file named
 *     explicitly.
 *   - The output folder is skipped wherever the walk meets it (by st_dev/st_ino). It
 *     may not exist when the walk starts and be made by the workers while we walk,
 *     so until it exists it is looked up again at every folder entered. A folder PATH
 *     that is the output folder is an ITEM_ERROR (its files are never read).
 *   - An output must never be an input. The output of the file itself is caught by
 *     st_dev/st_ino. When a PATH lies inside the output tree (`-o .. photos`), an
 *     output that lands on that file or under that folder (compared on canonical
 *     paths, lexically below the output folder) is an ITEM_ERROR: it would overwrite
 *     an input, or be read as one on the next run. Outputs under the output folder
 *     can reach no other input: the walk never enters the output tree.
 *   - Collisions are found by the 64-bit XXH3 hash of the output path alone: a slot
 *     is 32 bytes, the first claimant's input path is kept once per input in an
 *     append-only arena. Two different paths with one hash (odds ~ n^2 / 2^65) would
 *     be reported as a collision, never overwritten silently. An output that is a
 *     folder of another's, or lies in one that is another's output, collides too
 *     (a file cannot be a folder): each output's folders are counted in the same
 *     table (claims_folder_add()), and each folder above a new output looked up
 *     among the outputs, so the check costs one lookup per folder level.
 *   - {size}: a square box "W" (a single number on the command line), "WxH", "W"
 *     for a width alone, "xH" for a height alone.
 *   - The config's arrays and strings are borrowed: they must outlive the walker.
 */
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "claims.h"
#include "discover.h"
#include "discover_internal.h"
#include "fileids.h"
#include "globs.h"
#include "inside.h"
#include "lines.h"
#include "outdir.h"
#include "paths.h"
#include "template.h"

/* ------------------------------------------------------------------------- */
/* Filters of the walk (the rule for every file: discover_wanted())            */

/* Is a folder met in the walk left out as a whole by an --exclude? (Files are
 * checked on their own too: this only saves walking it.) */
static int excluded_folder(const discover *d, const char *rel)
{
	return d->cfg.nexcludes > 0 && globs_match(d->cfg.excludes, d->cfg.nexcludes, rel);
}

/* Would a file found in a walked folder with this name be an input? (Hidden names
 * and other extensions are skipped silently.) */
static int wanted_in_walk(const discover *d, const char *name, const char *rel)
{
	return name[0] != '.' && discover_is_image_name(name) && discover_wanted(d, rel);
}

/* ------------------------------------------------------------------------- */
/* Items                                                                      */

/* Forget the previous item's strings and blank *it. */
static void item_reset(discover *d, discover_item *it)
{
	free(d->input);
	free(d->rel);
	free(d->error);
	free(d->in_out);
	d->input = d->rel = d->error = d->in_out = NULL;
	d->check_in_out = 0;
	for (int i = 0; i < THUMB_MAX_SIZES; i++) {
		free(d->outputs[i]);
		free(d->out_rel[i]);
		d->outputs[i] = d->out_rel[i] = NULL;
	}
	memset(it, 0, sizeof *it);
}

/* The cause for a symlink that stat() cannot follow. */
static const char *link_cause(int err)
{
	if (err == ELOOP)
		return "symlink loop";
	if (err == ENOENT)
		return "broken symlink (its target does not exist)";
	return strerror(err);
}

const char *discover_stat_cause(const char *path, int err)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode) ? link_cause(err) : strerror(err);
}

/* ------------------------------------------------------------------------- */
/* The walk                                                                   */

/* fts's order within a folder: files (anything not a folder) first, largest first,
 * then folders; names in byte order break ties. fts stats every entry before it
 * sorts (FTS_NOSTAT is off), so fts_statp is filled (zeroed when stat failed); a
 * symlink sorts by the size of the link itself (lstat), which is cheap and rarely
 * matters. */
static int compare(const FTSENT **a, const FTSENT **b)
{
	int da = (*a)->fts_info == FTS_D, db = (*b)->fts_info == FTS_D;
	if (da != db)
		return da - db;
	if (!da) {
		off_t sa = (*a)->fts_statp->st_size, sb = (*b)->fts_statp->st_size;
		if (sa != sb)
			return sa < sb ? 1 : -1;
	}
	return strcmp((*a)->fts_name, (*b)->fts_name);
}

/* Plan a file the walk found: its folders below PATH are the walk's. */
static int plan_walked(discover *d, discover_item *it, const FTSENT *e, const char *rel,
		       const struct stat *st)
{
	int got = discover_plan(d, it, e->fts_path, rel, st);
	if (got != 1 || it->state == ITEM_ERROR)
		return got; /* nothing planned (met already), or an error line */
	size_t in_len = strlen(it->input), rel_len = strlen(it->rel);
	if (in_len > rel_len && !strcmp(it->input + in_len - rel_len, it->rel) &&
	    it->input[in_len - rel_len - 1] == '/')
		it->beneath = in_len - rel_len;
	return got;
}

/* Start PATH argument i: a folder opens an fts walk; a file, or a PATH that cannot
 * be used, gives an item at once (an error item's rel is the PATH as given).
 * Returns 1 when *it was filled. */
static int start_path(discover *d, discover_item *it, const char *path)
{
	struct stat st;
	d->cur_root = path;
	if (stat(path, &st) < 0)
		return discover_path_error_once(d, it, path, path,
						discover_stat_cause(path, errno));
	if (S_ISREG(st.st_mode)) {
		if (!discover_wanted(d, path_base(path)))
			return 0;
		free(d->root_buf);
		d->check_in_out = 1;
		const char *base = path_base(path);
		d->root_buf = base > path ? strndup(path, (size_t)(base - path)) : strdup(".");
		d->cur_root = d->root_buf ? d->root_buf : ".";
		return discover_plan(d, it, path, base, &st);
	}
	if (!S_ISDIR(st.st_mode))
		return discover_path_error_once(d, it, path, path, DISCOVER_NOT_REGULAR);
	char *canon = d->out_canon ? path_canonical(path) : NULL;
	d->root_in_out = canon && path_is_under(canon, d->out_canon);
	free(canon);
	char *argv[] = {(char *)path, NULL};
	d->fts = fts_open(argv, FTS_PHYSICAL | FTS_NOCHDIR | FTS_COMFOLLOW, compare);
	if (!d->fts)
		return discover_path_error_once(d, it, path, path, strerror(errno));
	d->root = path;
	d->root_len = strlen(path);
	d->gone_folder = NULL;
	return 0;
}

/* The cause of a walk error: strerror(), or for a path past PATH_MAX what it
 * means (every name below it is as long: no file there can be opened by name,
 * by imgpool or by libvips, so none is looked at; "File name too long" alone
 * read as if this one name were at fault). */
static const char *walk_cause(int err)
{
	return err == ENAMETOOLONG
		       ? "its path is longer than the system allows (PATH_MAX, 4096 bytes): "
			 "nothing in it can be opened by name, so no file there is looked at"
		       : strerror(err);
}

/* Act on one fts entry. Returns 1 when it gave an item. */
static int visit(discover *d, discover_item *it, FTSENT *e)
{
	const char *name = e->fts_name;
	const char *rel = e->fts_level > 0 ? e->fts_path + d->root_len : "";
	while (*rel == '/')
		rel++;
	int gave;
	if (e->fts_info == FTS_DP && e == d->gone_folder)
		d->gone_folder = NULL; /* its entries are over: the address may come again */
	if (discover_listed_elsewhere(d, it, e, &gave)) {
		if (e->fts_info == FTS_D)
			fts_set(d->fts, e, FTS_SKIP);
		return gave;
	}
	switch (e->fts_info) {
	case FTS_D:
		if (e->fts_level == 0) {
			d->root_len = e->fts_pathlen;
			if (!discover_is_out_dir(d, e->fts_statp) && !discover_holds_private(e->fts_path))
				return 0;
			fts_set(d->fts, e, FTS_SKIP);
			return discover_path_error_once(d, it, e->fts_path, d->root,
					  discover_is_out_dir(d, e->fts_statp)
						  ? "this folder is the output folder, which is never "
						    "read as input"
						  : "this folder is an imgpool output folder (it holds "
						    OUTDIR_PRIVATE "), which is never read as input (if it "
						    "is not one, delete its " OUTDIR_PRIVATE ")");
		}
		if (name[0] == '.' || !d->cfg.recursive || excluded_folder(d, rel)) {
			fts_set(d->fts, e, FTS_SKIP);
			/* what -r would walk: not the output folder, nor an excluded one */
			d->not_walked += name[0] != '.' && !d->cfg.recursive &&
					 !excluded_folder(d, rel) &&
					 !discover_is_out_dir(d, e->fts_statp) &&
					 !discover_holds_private(e->fts_path);
		} else if (discover_folder_replaced(e)) {
			/* before the output folder's tests, which follow a link */
			fts_set(d->fts, e, FTS_SKIP);
			return discover_path_error_once(d, it, e->fts_path, rel, "this folder was "
					  "replaced while the walk read the one holding it (by a "
					  "symlink?): not walked");
		} else if (discover_is_out_dir(d, e->fts_statp)) {
			fts_set(d->fts, e, FTS_SKIP);
		} else if (discover_holds_private(e->fts_path)) {
			/* Another run's output folder (-o photos/thumbs-1024) holds
			 * thumbnails, never read as photos; but a photo folder given to
			 * -o by mistake dropped out of every later walk without a word:
			 * the summary names it (discover_other_outputs()). */
			fts_set(d->fts, e, FTS_SKIP);
			if (!d->other_outs++)
				d->first_other_out = strdup(e->fts_path);
		}
		else if (e->fts_parent && e->fts_statp->st_dev != e->fts_parent->fts_statp->st_dev)
			discover_note_mount(d, e->fts_path);
		return 0;
	case FTS_F:
		if (!wanted_in_walk(d, name, rel))
			return 0;
		return plan_walked(d, it, e, rel, e->fts_statp);
	case FTS_SL:
	case FTS_SLNONE: {
		if (!wanted_in_walk(d, name, rel))
			return 0;
		struct stat st;
		if (stat(e->fts_path, &st) < 0)
			return discover_path_error_once(d, it, e->fts_path, rel, link_cause(errno));
		if (S_ISREG(st.st_mode)) {
			d->check_in_out = 1;
			return plan_walked(d, it, e, rel, &st);
		}
		if (S_ISDIR(st.st_mode))
			return 0; /* a link to a folder: not walked */
		return discover_path_error_once(d, it, e->fts_path, rel,
				  "a symlink to something that is not a regular file");
	}
	case FTS_DEFAULT:
		/* FIFOs, sockets, devices: opening a FIFO would hang a worker. */
		if (!wanted_in_walk(d, name, rel))
			return 0;
		return discover_path_error_once(d, it, e->fts_path, rel, DISCOVER_NOT_REGULAR);
	case FTS_NS:
		/* stat failed. A file that vanished since its folder was read matters only
		 * if it was an input; anything else (a path past PATH_MAX, a loop, no
		 * permission) may hide a whole folder of inputs: say so. */
		if (e->fts_level > 0 && e->fts_errno == ENOENT && !wanted_in_walk(d, name, rel))
			return 0;
		if (e->fts_level > 0 && name[0] == '.')
			return 0;
		return discover_path_error_once(d, it, e->fts_path, rel, walk_cause(e->fts_errno));
	case FTS_DNR: {
		/* say it is the folder: "error in: Permission denied" read as a file's */
		char cause[256];
		snprintf(cause, sizeof cause, "cannot list this folder: %s", walk_cause(e->fts_errno));
		return discover_path_error_once(d, it, e->fts_path, rel, cause);
	}
	case FTS_ERR:
		return discover_path_error_once(d, it, e->fts_path, rel, walk_cause(e->fts_errno));
	case FTS_DC:
		return discover_path_error_once(d, it, e->fts_path, rel,
				  "folder cycle: it contains itself (a bind mount?)");
	default:
		return 0; /* FTS_DP: a folder's post-order visit */
	}
}

/* Next item from the current fts walk: 1 filled, 0 that walk is over. */
static int next_in_walk(discover *d, discover_item *it)
{
	for (;;) {
		errno = 0;
		FTSENT *e = fts_read(d->fts);
		if (!e) {
			int err = errno;
			fts_close(d->fts);
			d->fts = NULL;
			d->root_in_out = 0;
			if (!err)
				return 0;
			discover_item_names(d, it, d->root, d->root);
			discover_item_error(d, it, "the walk stopped: %s", strerror(err));
			it->error_kind = FAIL_ENVIRONMENT;
			return 1;
		}
		if (visit(d, it, e))
			return 1;
	}
}

/* See discover.h: walk on, PATH after PATH, then the list, until something gives
 * an item. */
int discover_next(discover *d, discover_item *it)
{
	item_reset(d, it);
	for (;;) {
		if (discover_stop_asked(d))
			return DISCOVER_LATER;
		if (d->fts) {
			if (next_in_walk(d, it))
				return 1;
			continue;
		}
		if (d->next_path < d->cfg.npaths) {
			d->origin = (uint32_t)d->next_path;
			const char *path = d->cfg.paths[d->next_path++];
			if (!discover_seen_before(d->paths_seen, path) && start_path(d, it, path))
				return 1;
			continue;
		}
		if (!d->list || d->list_done)
			return 0;
		return discover_next_listed(d, it);
	}
}

/* ------------------------------------------------------------------------- */
/* Open and close                                                             */

/* Give up opening: *err takes msg (malloc'd; NULL when even that failed), d is
 * freed. Returns NULL. */
static discover *open_fail(discover *d, char **err, char *msg)
{
	*err = msg;
	discover_close(d);
	return NULL;
}

/* The output folder: trimmed copy, must be a folder if it exists, its identity and
 * canonical path. Returns NULL or a malloc'd message. */
static char *setup_out_dir(discover *d, const char *out_dir)
{
	char *msg = NULL;
	if (!out_dir || !*out_dir)
		return strdup("no output folder given");
	d->out_dir = strdup(out_dir);
	if (!d->out_dir)
		return strdup(WHY_NOMEM);
	size_t n = strlen(d->out_dir);
	while (n > 1 && d->out_dir[n - 1] == '/')
		d->out_dir[--n] = '\0';
	struct stat st;
	if (stat(d->out_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			if (asprintf(&msg, "the output folder %s is not a folder", out_dir) < 0)
				msg = strdup(WHY_NOMEM);
			return msg;
		}
		d->out_known = 1;
		d->out_dev = st.st_dev;
		d->out_ino = st.st_ino;
	}
	d->out_canon = path_canonical(d->out_dir);
	if (!(d->inside = inside_new(d->out_canon, d->cfg.paths, d->cfg.npaths)))
		return strdup(WHY_NOMEM);
	return NULL;
}

/* See discover.h. Only configuration errors fail here; see the top of this file. */
discover *discover_open(const discover_config *cfg, char **err)
{
	*err = NULL;
	if (!cfg || ((cfg->npaths < 1 || !cfg->paths) && !cfg->files_from))
		return open_fail(NULL, err, strdup("no PATH given"));
	if (!cfg->settings || cfg->settings->nsizes < 1 ||
	    cfg->settings->nsizes > THUMB_MAX_SIZES)
		return open_fail(NULL, err, strdup("no thumbnail size given"));
	discover *d = calloc(1, sizeof *d);
	if (!d)
		return open_fail(NULL, err, strdup(WHY_NOMEM));
	d->list_fd = -1;
	d->cfg = *cfg;
	d->settings = *cfg->settings;
	d->cfg.settings = &d->settings;
	const char *tmpl = cfg->name_template ? cfg->name_template
			 : cfg->settings->nsizes > 1 ? "{dir}/{stem}_{size}.{ext}"
						     : "{dir}/{stem}.{ext}";
	d->tmpl = strdup(tmpl);
	d->claims = claims_new();
	d->paths_seen = claims_new();
	d->listed_seen = cfg->files_from ? claims_new() : NULL;
	if (cfg->npaths > 1 || cfg->files_from)
		d->files_met = fileids_new();	/* none: each file counts as new */
	if (!d->tmpl || !d->claims)
		return open_fail(d, err, strdup(WHY_NOMEM));
	char *msg = template_check(d->tmpl, &d->settings);
	if (!msg)
		msg = setup_out_dir(d, cfg->out_dir);
	if (!msg && cfg->files_from)
		msg = discover_open_list(d);
	if (msg)
		return open_fail(d, err, msg);
	return d;
}

/* See discover.h. */
void discover_nowait(discover *d, int on)
{
	d->nowait = on;
}

/* See discover.h. */
int discover_wait_fd(const discover *d)
{
	return d->list && !d->list_done ? d->list_fd : -1;
}

/* See discover.h: the PATHs are done (their walks too) and the list is read. */
int discover_reading_list(const discover *d)
{
	return d->list && !d->fts && d->next_path >= d->cfg.npaths;
}

/* See discover.h. */
const char *discover_planned(const discover *d, const char *out_rel)
{
	return d ? claims_find(d->claims, XXH3_64bits(out_rel, strlen(out_rel))) : NULL;
}

void discover_release_outputs(discover *d, const char *input, char *const *out_rel, int n)
{
	if (!d || !input)
		return;
	for (int i = 0; i < n; i++) {
		if (!out_rel[i])
			continue;
		uint64_t h = XXH3_64bits(out_rel[i], strlen(out_rel[i]));
		const char *first = claims_find(d->claims, h);
		if (first && !strcmp(first, input)) {
			claims_release(d->claims, h);
			discover_count_folders(d, out_rel[i], NULL);
		}
	}
}

void discover_release(discover *d, const discover_item *it)
{
	if (it->state == ITEM_TODO)
		discover_release_outputs(d, it->input, (char *const *)it->out_rel, it->noutputs);
}

/* See discover.h. */
uint64_t discover_not_walked(const discover *d)
{
	return d ? d->not_walked : 0;
}

/* See discover.h. */
uint64_t discover_other_outputs(const discover *d, const char **first)
{
	*first = d ? d->first_other_out : NULL;
	return d ? d->other_outs : 0;
}

/* See discover.h: items handed out so far, all states. */
uint64_t discover_count(const discover *d)
{
	return d ? d->count : 0;
}

/* See discover.h; also fine in the middle of a walk. */
void discover_close(discover *d)
{
	if (!d)
		return;
	discover_item it;
	item_reset(d, &it);
	if (d->fts)
		fts_close(d->fts);
	free(d->first_other_out);
	claims_free(d->claims);
	claims_free(d->paths_seen);
	claims_free(d->listed_seen);
	fileids_free(d->files_met);
	lines_free(d->list);
	if (d->list_owned && d->list_fd >= 0)
		close(d->list_fd);
	free(d->base_real);
	free(d->listed);
	free(d->root_buf);
	inside_free(d->inside);
	for (int i = 0; i < d->nmounts; i++)
		free(d->mounts[i]);
	free(d->mounts);
	free(d->out_canon);
	free(d->out_dir);
	free(d->tmpl);
	free(d);
}
