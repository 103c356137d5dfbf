/* SPDX-License-Identifier: MIT */
/*
 * inside.c — PATHs inside the output tree. See inside.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inside.h"
#include "paths.h"

/* A PATH that lies inside the output tree: outputs must not land on it. */
typedef struct inside_path {
	char *canon;            /* realpath of the PATH */
	int folder;             /* 1: also nothing under it */
} inside_path;

struct inside_set {
	char *out_canon;
	inside_path *inside;    /* sorted by canon */
	int ninside;
};

/* qsort/bsearch order of inside_path by canonical path. */
static int inside_cmp(const void *a, const void *b)
{
	return strcmp(((const inside_path *)a)->canon, ((const inside_path *)b)->canon);
}

/* See inside.h. */
inside_set *inside_new(const char *out_canon, const char *const *paths, int npaths)
{
	inside_set *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	if (!out_canon || !(d->out_canon = strdup(out_canon)))
		return d;
	for (int i = 0; i < npaths; i++) {
		char *c = realpath(paths[i], NULL);
		struct stat st;
		if (!c)
			continue;
		if (!path_is_under(c, d->out_canon) || !strcmp(c, d->out_canon) || stat(c, &st) < 0) {
			free(c);
			continue;
		}
		inside_path *t = realloc(d->inside, (size_t)(d->ninside + 1) * sizeof *t);
		if (!t) {
			free(c);
			inside_free(d);
			return NULL;
		}
		d->inside = t;
		d->inside[d->ninside++] = (inside_path){c, S_ISDIR(st.st_mode)};
	}
	if (d->ninside > 1)
		qsort(d->inside, (size_t)d->ninside, sizeof *d->inside, inside_cmp);
	return d;
}

/* See inside.h: the whole canonical path, then each of its parent folders,
 * O(depth log n). */
const char *inside_hit(const inside_set *d, const char *out_rel)
{
	if (!d || d->ninside == 0)
		return NULL;
	char *p = path_join(d->out_canon, out_rel);
	if (!p)
		return NULL;
	const char *hit = NULL;
	size_t n = strlen(p);
	/* the path itself, then each prefix that ends before a '/' */
	for (size_t end = n; end > 0 && !hit; ) {
		char saved = p[end];
		p[end] = '\0';
		inside_path key = {p, 0};
		inside_path *f = bsearch(&key, d->inside, (size_t)d->ninside, sizeof *d->inside,
					 inside_cmp);
		if (f && (f->folder || end == n))
			hit = f->canon;
		p[end] = saved;
		while (end > 0 && p[--end] != '/')
			;
	}
	free(p);
	return hit;
}


void inside_free(inside_set *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->ninside; i++)
		free(d->inside[i].canon);
	free(d->inside);
	free(d->out_canon);
	free(d);
}
