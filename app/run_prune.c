/* SPDX-License-Identifier: MIT */
/*
 * run_prune.c — --prune in a run: once the walk is over, the thumbnails of the
 * inputs recorded under its folders (the folder PATHs, and --base of a
 * --files-from list) that are gone (prune.h), said file by file, and what was
 * kept and why. Part of a run: see run_internal.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "prune.h"
#include "report.h"
#include "run_internal.h"

static void on_pruned(void *data, const char *output, const char *input, int dry_run)
{
	run_ctx *x = data;
	report_pruned(x->rep, output, input, dry_run);
}

static void on_prune_kept(void *data, const char *output, const char *input, const char *cause,
			  int dry_run)
{
	run_ctx *x = data;
	report_prune_kept(x->rep, output, input, cause, dry_run);
	x->prune_trouble = 1;
}

static void on_prune_behind_link(void *data, const char *link, int64_t n, int dry_run)
{
	run_ctx *x = data;
	report_say(stderr, "imgpool: --prune: %s the thumbnails of %lld file(s) recorded behind "
		   "'%s': it is a symlink now, which the walk does not follow, so they cannot be "
		   "shown gone (delete them by hand if they are)", dry_run ? "would keep" : "kept",
		   (long long)n, link);
	x->prune_trouble = 1; /* exit 1: worth a look */
}

void run_prune(run_ctx *x)
{
	if (x->prune_ran)
		return;
	x->prune_ran = 1;
	if (plan_walk_errors(x->plan)) {
		fprintf(stderr, "imgpool: --prune skipped: %d input path(s) could not be walked, "
				"so missing files may only be unreachable\n", plan_walk_errors(x->plan));
		return;
	}
	/* The folder PATHs, and with --files-from the folder its entries are
	 * taken from (--base, or the current one): the root the journal records
	 * listed files under. Without it a nightly `find | imgpool --files-from -
	 * --prune` never pruned a thing, and said nothing. */
	const char *list_root = x->o->files_from ? (x->o->base ? x->o->base : ".") : NULL;
	int nfolders = x->o->npaths + (list_root != NULL);
	const char **roots = calloc((size_t)nfolders + 1, sizeof *roots);
	int n = 0;
	for (int i = 0; roots && i < nfolders; i++) {
		const char *folder = i < x->o->npaths ? x->o->paths[i] : list_root;
		struct stat st;
		char why[300];
		if (stat(folder, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (prune_root_unsure(x->j, folder, why, sizeof why)) {
				report_say(stderr, "imgpool: --prune: left the thumbnails of '%s' "
					   "alone: %s", folder, why);
				x->prune_trouble = 1; /* exit 1: worth a look */
				continue;
			}
			char *r = realpath(folder, NULL);
			int again = 0; /* a PATH that is --base too: its inputs once */
			for (int k = 0; r && k < n; k++)
				again |= !strcmp(roots[k], r);
			if (r && !again)
				roots[n++] = r;
			else
				free(r);
		}
	}
	prune_config pc = {.pb = &x->pb, .roots = roots, .nroots = n, .dry_run = x->o->dry_run,
			   .shard = x->shard, .on_pruned = on_pruned, .on_kept = on_prune_kept,
			   .on_behind_link = on_prune_behind_link, .data = x};
	const char *cause;
	x->pruned += (uint64_t)prune_gone(&pc, &cause);
	if (cause) {
		report_say(stderr, "imgpool: --prune: %s", cause);
		x->prune_trouble = 1;
	}
	for (int i = 0; i < n; i++)
		free((char *)roots[i]);
	free(roots);
}
