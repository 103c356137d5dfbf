/* SPDX-License-Identifier: MIT */
/*
 * outfolder.c — the default output folder, and the rule that it never lies inside an
 * input tree. See outfolder.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "outfolder.h"

int outfolder_first_there(const char *const *paths, int npaths)
{
	struct stat st;
	for (int i = 0; i < npaths; i++)
		if (lstat(paths[i], &st) == 0 || errno != ENOENT)
			return i;
	return -1;
}

char *options_default_out_dir(const char *const *paths, int npaths, char *msg,
			      size_t msglen)
{
	struct stat st;
	const char *first = paths[0];
	/* The first PATH there decides: a mistyped one (imgpool -q Photos-typo in a
	 * folder holding thumbs/) took ./thumbs, locked it and recorded itself as its
	 * last run. None there: the first one's -thumbs, which the run, finding no
	 * input, takes back (run.h). */
	int i = outfolder_first_there(paths, npaths);
	if (i < 0 && npaths > 0) {
		size_t n = strlen(first);
		while (n > 1 && first[n - 1] == '/')
			n--;
		char *out = NULL;
		if (asprintf(&out, "%.*s-thumbs", (int)n, first) < 0)
			out = NULL;
		return out;
	}
	first = paths[i < 0 ? 0 : i];
	if (stat(first, &st) == 0 && S_ISDIR(st.st_mode)) {
		char *real = realpath(first, NULL);
		if (!real || !strcmp(real, "/")) {
			snprintf(msg, msglen, "cannot choose an output folder beside '%s': give -o DIR",
				 first);
			free(real);
			return NULL;
		}
		char *out = malloc(strlen(real) + 8);
		if (out)
			sprintf(out, "%s-thumbs", real);
		free(real);
		return out;
	}
	(void)npaths;
	return strdup("thumbs");
}

/* Is folder `out` (it may not exist yet) inside, or equal to, folder `in`? */
int outfolder_inside(const char *out, const char *in)
{
	char *rin = realpath(in, NULL);
	if (!rin)
		return 0;
	/* out may not exist: resolve its nearest existing ancestor; a relative name
	 * with no '/' ("thumbs") has the current folder for one. */
	char *copy = NULL, *rout = NULL;
	if (out[0] == '/' || asprintf(&copy, "./%s", out) < 0)
		copy = strdup(out);
	while (copy && !(rout = realpath(copy, NULL))) {
		char *slash = strrchr(copy, '/');
		if (!slash || slash == copy)
			break;
		*slash = '\0';
	}
	int inside = 0;
	if (rout) {
		size_t n = strlen(rin);
		inside = !strncmp(rout, rin, n) && (rout[n] == '/' || rout[n] == '\0' || n == 1);
	}
	free(rin);
	free(rout);
	free(copy);
	return inside;
}

