/* SPDX-License-Identifier: MIT */
/*
 * run_prune.c — --prune in a run: once the walk is over, the thumbnails of the
 * inputs recorded that are gone (prune.h), said file by file, and what was kept
 * and why. Part of a run: see run_internal.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
	x->removal_trouble = 1;
}

static void on_prune_behind_link(void *data, const char *link, int64_t n, int dry_run)
{
	run_ctx *x = data;
	report_say(stderr, "imgpool: --prune: %s the thumbnails of %lld file(s) recorded behind "
		   "'%s': it is a symlink now, which the walk does not follow, so they cannot be "
		   "shown gone (delete them by hand if they are)", dry_run ? "would keep" : "kept",
		   (long long)n, link);
	x->removal_trouble = 1; /* exit 1: worth a look */
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
	const char **roots = calloc((size_t)x->o->npaths, sizeof *roots);
	int n = 0, folders = 0;
	for (int i = 0; roots && i < x->o->npaths; i++) {
		struct stat st;
		char why[300];
		if (stat(x->o->paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			folders++;
			if (prune_root_unsure(x->j, x->o->paths[i], why, sizeof why)) {
				report_say(stderr, "imgpool: --prune: left the thumbnails of '%s' "
					   "alone: %s", x->o->paths[i], why);
				x->removal_trouble = 1; /* exit 1: worth a look */
				continue;
			}
			char *r = realpath(x->o->paths[i], NULL);
			if (r)
				roots[n++] = r;
		}
	}
	/* A list names files, not the tree they are in: what is gone from it
	 * cannot be told safely (a disk not mounted below --base is a tree that
	 * looks emptied: no walk found it a mount point, no run noted its device).
	 * Said, where it was silent: a nightly `find | imgpool --files-from -
	 * --prune` pruned nothing and exited 0. */
	if (x->o->files_from && !folders) {
		report_say(stderr, "imgpool: --prune: nothing pruned: it prunes under the folder "
			   "PATHs given, and a --files-from list names files, not their folder "
			   "(give the photo folder as a PATH to prune it)");
		x->removal_trouble = 1; /* exit 1: it did not do what was asked */
	} else if (!folders) { /* files as PATHs: the same, where it was silent, exit 0 */
		report_say(stderr, "imgpool: --prune: nothing pruned: it prunes under the folder "
			   "PATHs given, and none is a folder (give the photo folder as a PATH to "
			   "prune it)");
		x->removal_trouble = 1;
	}
	prune_config pc = {.pb = &x->pb, .roots = roots, .nroots = n, .dry_run = x->o->dry_run,
			   .shard = x->shard, .on_pruned = on_pruned, .on_kept = on_prune_kept,
			   .on_behind_link = on_prune_behind_link, .data = x};
	const char *cause;
	x->pruned += (uint64_t)prune_gone(&pc, &cause);
	if (cause) {
		report_say(stderr, "imgpool: --prune: %s", cause);
		x->removal_trouble = 1;
	}
	for (int i = 0; i < n; i++)
		free((char *)roots[i]);
	free(roots);
}
