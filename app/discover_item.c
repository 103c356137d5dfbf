/* SPDX-License-Identifier: MIT */
/*
 * discover_item.c — what the walk answers for one path: a file's names, its
 * outputs planned from the name template, checked against the PATHs inside the
 * output tree and claimed against every other input's, or the error that
 * answers for it. The walk (discover.c) and --files-from (discover_list.c) both
 * make their items here. See discover.h for the rules.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "claims.h"
#include "discover.h"
#include "discover_internal.h"
#include "fileids.h"
#include "globs.h"
#include "inside.h"
#include "outdir.h"
#include "paths.h"
#include "settings.h"
#include "template.h"

/* Does the name end in the extension of an image we read? */
int discover_is_image_name(const char *base)
{
	return thumb_is_input_ext(path_extension(base));
}

/* The include/exclude rule: one include when any are given, and no exclude. */
int discover_wanted(const discover *d, const char *rel)
{
	if (d->cfg.nincludes > 0 && !globs_match(d->cfg.includes, d->cfg.nincludes, rel))
		return 0;
	return !globs_match(d->cfg.excludes, d->cfg.nexcludes, rel);
}

/* Make *it an ITEM_ERROR with a printf-made cause and no outputs. Returns 1: an item
 * is ready. */
int discover_item_error(discover *d, discover_item *it, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(d->error);
	if (vasprintf(&d->error, fmt, ap) < 0)
		d->error = NULL;
	va_end(ap);
	it->state = ITEM_ERROR;
	it->error_kind = FAIL_OUTPUT;
	it->error = d->error ? d->error : WHY_NOMEM;
	it->noutputs = 0;
	return 1;
}

/* Fill the item's input and rel (copies). -1 when out of memory, and then *it still
 * names the path (fts's or the config's string, valid until the next call). */
int discover_item_names(discover *d, discover_item *it, const char *input, const char *rel)
{
	d->count++;
	d->input = strdup(input);
	d->rel = strdup(rel);
	it->input = d->input ? d->input : input;
	it->rel = d->rel ? d->rel : rel;
	it->root = d->cur_root ? d->cur_root : ".";
	it->beneath = 0;
	return d->input && d->rel ? 0 : -1;
}

/* An ITEM_ERROR about a path met on the way (a missing PATH, an unreadable folder,
 * a broken link): cause is one line without the path. */
int discover_path_error(discover *d, discover_item *it, const char *path, const char *rel,
			const char *cause)
{
	discover_item_names(d, it, path, rel);
	discover_item_error(d, it, "%s", cause);
	it->error_kind = FAIL_ENVIRONMENT;
	return 1;
}

/* See discover_internal.h. The key is the canonical folder and the name as
 * given: the link or FIFO itself, not what it leads to (a dangling link leads
 * nowhere). */
static int path_error_once(discover *d, discover_item *it, const char *path, const char *rel,
			   const char *cause, int claim)
{
	if (d->files_met) {
		char *dir = path_dir(path);
		char *canon = dir ? path_canonical(dir) : NULL;
		char *key = canon ? path_join(canon, path_base(path)) : NULL;
		uint32_t first = !key	 ? d->origin
				 : claim ? fileids_meet(d->files_met, key, d->origin)
					 : fileids_met(d->files_met, key, d->origin);
		free(dir);
		free(canon);
		free(key);
		if (first != d->origin)
			return 0;
	}
	return discover_path_error(d, it, path, rel, cause);
}

int discover_path_error_once(discover *d, discover_item *it, const char *path, const char *rel,
			     const char *cause)
{
	return path_error_once(d, it, path, rel, cause, 1);
}

int discover_path_refused_once(discover *d, discover_item *it, const char *path,
			       const char *cause)
{
	return path_error_once(d, it, path, path, cause, 0);
}

/* Expand the template for every size into d->outputs; errors go into *it. Returns 0,
 * or 1 when *it became an ITEM_ERROR. */
static int plan_outputs(discover *d, discover_item *it, const char *rel)
{
	const char *base = path_base(rel);
	size_t dirlen = base > rel ? (size_t)(base - rel - 1) : 0;
	const char *ext = path_extension(base);
	size_t stemlen = *ext ? (size_t)(ext - base - 1) : strlen(base);
	char *dir = strndup(rel, dirlen), *stem = strndup(base, stemlen);
	const char *out_ext = thumb_output_ext(d->settings.format, ext);
	int failed = 0;
	if (!dir || !stem)
		failed = discover_item_error(d, it, "%s", WHY_NOMEM);
	for (int i = 0; i < d->settings.nsizes && !failed; i++) {
		const char *why;
		char *r = template_expand(d->tmpl, dir, stem, ext, out_ext, d->settings.sizes[i],
					  &why);
		if (!r) {
			failed = discover_item_error(d, it, "%s", why);
			break;
		}
		d->outputs[i] = path_join(d->out_dir, r);
		d->out_rel[i] = r;
		if (!d->outputs[i])
			failed = discover_item_error(d, it, "%s", WHY_NOMEM);
		else if (outdir_in_private(r)) /* a listed file in a/.imgpool: {dir} */
			failed = discover_item_error(d, it, "its output %s would lie in a folder "
						     "named " OUTDIR_PRIVATE ", an output folder's own, "
						     "where imgpool writes no thumbnail",
						     d->outputs[i]);
		for (int j = 0; j < i && !failed; j++)
			if (!strcmp(d->outputs[i], d->outputs[j]))
				failed = discover_item_error(d, it, "the name template gives two of its sizes "
						    "one output, %s", d->outputs[i]);
		it->outputs[i] = d->outputs[i];
		it->out_rel[i] = d->out_rel[i];
	}
	free(dir);
	free(stem);
	if (!failed)
		it->noutputs = d->settings.nsizes;
	return failed;
}

/* A PATH inside_hit() names, relative to the output folder (as in_out is). */
static const char *hit_rel(const discover *d, const char *hit)
{
	size_t n = d->out_canon ? strlen(d->out_canon) : 0;
	if (!n || strncmp(hit, d->out_canon, n))
		return hit;
	return hit + n + (d->out_canon[n - 1] != '/');
}

/* An output that would land on or under a PATH inside the output tree is an error
 * (it would overwrite an input, or be read as one next time). Whether an output
 * exists, is imgpool's and is up to date is the planner's question (plan.h),
 * asked through the output folder's descriptor. */
static void check_outputs(discover *d, discover_item *it)
{
	for (int i = 0; i < it->noutputs; i++) {
		const char *hit = inside_hit(d->inside, it->out_rel[i]);
		if (!hit)
			continue;
		/* The cause never names the file itself (report-schema.md) */
		if (it->in_out && !strcmp(hit_rel(d, hit), it->in_out))
			discover_item_error(d, it, "its output would overwrite the input itself");
		else
			discover_item_error(d, it, "its output %s would overwrite or land inside the "
					    "input %s", it->outputs[i], hit);
		return;
	}
	it->state = ITEM_TODO;
}

int discover_stop_asked(const discover *d)
{
	return d->nowait && d->cfg.stopping && d->cfg.stopping();
}

int discover_seen_before(claims *set, const char *path)
{
	char *clean = set ? path_lexical(path) : NULL;
	if (!clean)
		return 0;
	/* "a.jpg/" is not "a.jpg": an error (not a folder) of its own, which hid the
	 * photo named beside it. A folder's "in/" is "in". */
	size_t n = strlen(path);
	struct stat st;
	if (n > 1 && path[n - 1] == '/' && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
		char *slashed = path_join(clean, "");
		free(clean);
		if (!(clean = slashed))
			return 0;
	}
	uint64_t h = XXH3_64bits(clean, strlen(clean));
	int seen = claims_find(set, h) != NULL;
	if (!seen)
		claims_add(set, &h, 1, clean);
	free(clean);
	return seen;
}

/* Claim every output of the item, all or none: an output another input claimed
 * first, or one a file cannot be because of it (discover_clash_how), makes the
 * item an ITEM_ERROR naming that input (and claims nothing, so a third claimant
 * is told about the first, not about a failed one). That input
 * may be this very file under another name of the same walk (a symlink a.jpg to
 * a.jpeg beside it, a hard link a.JPG): two names a user gave, two inputs, and
 * the second gets its error as any other (it was passed over without a word).
 * One file met again through another PATH or list entry never gets here:
 * fileids_meet() answered it once already (discover_plan()). */
static void claim_outputs(discover *d, discover_item *it)
{
	int n = it->noutputs;
	discover_clash c;
	const char *first = discover_claim(d, it, &c);
	if (first) {
		char why[2 * PATH_MAX + 512];
		discover_item_error(d, it, "%s", discover_clash_cause(it, &c, why, sizeof why));
		it->taken_by = first;
		it->wanted = n;
	}
}

const char *discover_clash_cause(const discover_item *it, const discover_clash *c, char *buf,
				 size_t len)
{
	const char *out = it->outputs[c->which];
	/* The folder is out's own prefix: out_dir + "/" + out_rel[which] */
	size_t folder = strlen(out) - strlen(it->out_rel[c->which]) + c->folder;
	if (c->how == CLASH_SAME)
		snprintf(buf, len, "output %s is also the output of %s (a --name with {inext} "
			 "or {dir} keeps both)", out, c->first);
	else if (c->how == CLASH_INSIDE)
		snprintf(buf, len, "output %s would lie in %.*s, the output of %s (a file "
			 "cannot also be a folder)", out, (int)folder, out, c->first);
	else
		snprintf(buf, len, "output %s would be a folder holding an output of %s (a "
			 "file cannot also be a folder)", out, c->first);
	return buf;
}

/* Is a claim by first another input's? Its own is no collision: a held file
 * asked again (the walk meets one input path once: paths_seen, listed_seen,
 * files_met). */
static int others(const discover_item *it, const char *first)
{
	return first && strcmp(first, it->input);
}

/* Does output i of the item meet another input's claim? Fills *c. A path and
 * its folders are hashed as the exact check hashes them, byte for byte: each
 * folder above it is looked up among the claimed outputs (a file there), and
 * the path itself among the folders of claimed outputs: one lookup per folder
 * level, whatever the number of claims. Not the folders in a shard: every shard
 * claims every input, and one of another shard's that fails there (damaged)
 * never gives its claim back here, so a folder of good photos named like it was
 * refused every night; the publish tells such a clash, as before. */
static int clashes(const discover *d, const discover_item *it, int i, uint64_t h,
		   discover_clash *c)
{
	const char *rel = it->out_rel[i];
	*c = (discover_clash){.first = claims_find(d->claims, h), .which = i,
			      .how = CLASH_SAME};
	if (others(it, c->first) || d->cfg.sharded)
		return others(it, c->first);
	for (const char *slash = rel; (slash = strchr(slash, '/')); slash++) {
		c->folder = (size_t)(slash - rel);
		c->first = claims_find(d->claims, XXH3_64bits(rel, c->folder));
		c->how = CLASH_INSIDE;
		if (others(it, c->first))
			return 1;
	}
	c->first = claims_folder_find(d->claims, h);
	c->how = CLASH_HOLDS;
	return others(it, c->first);
}

void discover_count_folders(discover *d, const char *out_rel, const char *input)
{
	if (d->cfg.sharded)
		return; /* clashes() asks no folder */
	for (const char *slash = out_rel; (slash = strchr(slash, '/')); slash++) {
		uint64_t h = XXH3_64bits(out_rel, (size_t)(slash - out_rel));
		if (input)
			claims_folder_add(d->claims, h, input);
		else
			claims_folder_drop(d->claims, h);
	}
}

const char *discover_claim(discover *d, const discover_item *it, discover_clash *c)
{
	uint64_t h[THUMB_MAX_SIZES];
	int held[THUMB_MAX_SIZES];
	for (int i = 0; i < it->noutputs; i++) {
		h[i] = XXH3_64bits(it->out_rel[i], strlen(it->out_rel[i]));
		if (clashes(d, it, i, h[i], c))
			return c->first;
		held[i] = claims_find(d->claims, h[i]) != NULL; /* its own already */
	}
	claims_add(d->claims, h, it->noutputs, it->input);
	/* Counted once per claim (a held file asked again counts no more), and
	 * only when kept: a release then takes back what was counted. */
	for (int i = 0; i < it->noutputs; i++) {
		const char *kept = claims_find(d->claims, h[i]);
		if (!held[i] && kept)
			discover_count_folders(d, it->out_rel[i], kept);
	}
	return NULL;
}

/* Plan one input file: output paths, checks, collisions, up to date. st describes
 * the file read (a symlink's target). Returns 1: an item is ready. */
int discover_plan(discover *d, discover_item *it, const char *input, const char *rel,
		  const struct stat *st)
{
	/* The same file through another PATH or list entry ("in in/sub", "in
	 * in/sub/a.jpg", "in link-to-in"): answered already, though its outputs
	 * would differ. Also in the counting walk, whose total it would inflate. */
	if (d->files_met) {
		char *real = realpath(input, NULL);
		uint32_t first = fileids_meet(d->files_met, real, d->origin);
		free(real);
		if (first != d->origin)
			return 0;
	}
	if (discover_item_names(d, it, input, rel) < 0)
		return discover_item_error(d, it, "%s", WHY_NOMEM);
	if (d->cfg.count_only)
		return 1;
	/* Does the file lie in the output folder, and where? (A walk never enters
	 * it: only a PATH inside it, a file PATH or a symlink lead there.) */
	char *real = (d->root_in_out || d->check_in_out) && d->out_canon ? realpath(input, NULL)
									 : NULL;
	if (real && path_is_under(real, d->out_canon) && strcmp(real, d->out_canon)) {
		size_t n = strlen(d->out_canon);
		d->in_out = strdup(real + n + (d->out_canon[n - 1] != '/'));
		it->in_out = d->in_out;
	}
	free(real);
	it->size = (uint64_t)st->st_size;
	it->mtime = st->st_mtim;
	it->dev = (uint64_t)st->st_dev;
	it->ino = (uint64_t)st->st_ino;
	if (plan_outputs(d, it, rel))
		return 1;
	check_outputs(d, it);
	if (it->state != ITEM_ERROR)
		claim_outputs(d, it);
	return 1;
}
