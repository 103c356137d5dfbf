/* SPDX-License-Identifier: MIT */
/*
 * publish_recover.c — what a killed run left in the quarantine, finished: each
 * file put back, or deleted where it was imgpool's and its place is taken. See
 * publish.h (publish_recover()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "publish.h"

/* One quarantine record left by a killed run. */
typedef struct recovery {
	const publisher *pb;
	void (*warn)(void *data, const char *line);
	void (*pruned)(void *data, const char *output, const char *input);
	void *data;
} recovery;

/* A record gone from the quarantine whose path is empty: a --prune's removal
 * ended (a replacement leaves its new file there), and the kill came before the
 * journal forgot the output and the report said so. Said now, once, where the
 * output's owner is recorded and gone too; its row is forgotten. */
static void recovered_prune(recovery *r, const char *path, const file_ident *id)
{
	struct stat st;
	journal_output info;
	if (!r->pruned || outdir_stat(r->pb->od, path, &st) == 0 || errno != ENOENT ||
	    journal_output_info(r->pb->j, path, id, &info) != 1)
		return;
	char *input = NULL, *output = NULL;
	if (asprintf(&input, "%s/%s", info.root, info.rel) >= 0 &&
	    lstat(input, &st) < 0 && errno == ENOENT &&
	    asprintf(&output, "%s/%s", outdir_path(r->pb->od), path) >= 0) {
		r->pruned(r->data, output, input);
		journal_output_forget(r->pb->j, path, id);
	}
	free(input);
	free(output);
	journal_output_free(&info);
}

static void recover_one(void *data, const char *qname, const char *path, const file_ident *id)
{
	recovery *r = data;
	/* Deleted where it is imgpool's (recorded identity) and its place is taken. */
	int rc = outdir_restore(r->pb->od, qname, path, id);
	if (rc == 0 && r->warn) {
		char line[600];
		snprintf(line, sizeof line, "imgpool: warning: a file that was at %s/%s is kept in "
			 "%s/" OUTDIR_PRIVATE "/quarantine/%s (its place is taken); move it back "
			 "by hand if you want it", outdir_path(r->pb->od), path,
			 outdir_path(r->pb->od), qname);
		r->warn(r->data, line);
	}
	if (rc == 4 && r->warn) {
		char line[600];
		snprintf(line, sizeof line, "imgpool: warning: a file that imgpool did not make, met "
			 "at %s/%s as its folder was moved out of the output folder, is kept in "
			 "%s/" OUTDIR_PRIVATE "/quarantine/%s", outdir_path(r->pb->od), path,
			 outdir_path(r->pb->od), outdir_kept_name(r->pb->od));
		r->warn(r->data, line);
	}
	/* Gone from the quarantine too: the removal (or replacement) had ended, but
	 * for the folders it may have left empty (a kill between the two steps left
	 * them for good: no record leads back there). */
	if (rc == 3) {
		recovered_prune(r, path, id);
		outdir_remove_empty_dirs(r->pb->od, path);
	}
	if (rc != 0 && rc != -1)
		journal_quarantine_del(r->pb->j, qname);
}

void publish_recover(const publisher *pb, void (*warn)(void *data, const char *line),
		     void (*pruned)(void *data, const char *output, const char *input),
		     void *data)
{
	recovery r = {pb, warn, pruned, data};
	journal_quarantine_each(pb->j, recover_one, &r);
	journal_sync(pb->j);
}
