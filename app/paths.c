/* SPDX-License-Identifier: MIT */
/*
 * paths.c — path strings. See paths.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"

/* a + "/" + b, without doubling a '/' that ends a. malloc'd; NULL out of memory. */
char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	int slash = la > 0 && a[la - 1] == '/';
	char *r;
	if (asprintf(&r, "%s%s%s", a, slash ? "" : "/", b) < 0)
		return NULL;
	return r;
}

/* The absolute path of p with symlinks resolved as far as it exists; the part that
 * does not exist yet is appended as written. The output folder needs this: it is
 * often made by the run itself. NULL when it cannot be told (out of memory, a
 * component that is not a folder, a missing part ending in "." or ".."). */
char *path_canonical(const char *p)
{
	char *r = realpath(p, NULL);
	if (r || errno != ENOENT)
		return r;
	return path_in_real_folder(p);
}

/* See paths.h. */
char *path_in_real_folder(const char *p)
{
	char *r = NULL, *copy = strdup(p);
	if (!copy)
		return NULL;
	size_t n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	char *slash = strrchr(copy, '/');
	const char *name = slash ? slash + 1 : copy;
	const char *parent = slash ? (slash == copy ? "/" : copy) : ".";
	if (slash && slash != copy)
		*slash = '\0';
	char *pc = NULL;
	if (*name && strcmp(name, ".") && strcmp(name, "..") && (pc = path_canonical(parent)))
		r = path_join(pc, name);
	free(pc);
	free(copy);
	return r;
}

/* See paths.h. */
char *path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	return !slash ? strdup(".") : slash == path ? strdup("/")
						    : strndup(path, (size_t)(slash - path));
}

/* See paths.h. */
char *path_lexical(const char *path)
{
	size_t k = 0;
	char *clean = malloc(strlen(path) + 1);
	if (!clean)
		return NULL;
	for (const char *p = path; *p;) {
		if (p[0] == '/' && k && clean[k - 1] == '/') {
			p++; /* a second slash */
		} else if (p[0] == '.' && (k == 0 || clean[k - 1] == '/') &&
			   (p[1] == '/' || p[1] == '\0') && (k || p[1] == '/')) {
			for (p++; *p == '/'; p++) /* a "." component, and its slashes */
				;
		} else {
			clean[k++] = *p++;
		}
	}
	while (k > 1 && clean[k - 1] == '/')
		k--; /* "sub/" names "sub" */
	clean[k] = '\0';
	return clean;
}

/* Is path the folder dir or below it? Both canonical. */
int path_is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

/* See paths.h. */
const char *path_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* See paths.h. */
const char *path_extension(const char *base)
{
	const char *dot = strrchr(base, '.');
	return dot && dot != base ? dot + 1 : "";
}
