/* SPDX-License-Identifier: MIT */
/*
 * globs.c — the --include / --exclude rule. See globs.h.
 *
 * fnmatch() does the matching (libc's, with FNM_CASEFOLD: a GNU extension glibc
 * has); no FNM_PATHNAME, so '*' crosses '/'. It matches in the C.UTF-8 locale,
 * set for the calling thread only (uselocale(): the walk and the counting walk
 * are threads, and nothing else of the process changes): in the C locale
 * FNM_CASEFOLD folds ASCII letters alone (--exclude 'été*' kept ÉTÉ.png) and '?'
 * is one byte (half an é). glibc matches a name that is not UTF-8 byte by byte.
 */
#include <fnmatch.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <string.h>

#include "globs.h"

#define GLOB_FLAGS FNM_CASEFOLD

static locale_t utf8;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_open(void)
{
	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0); /* 0: the C locale's rule */
}

static int matches(const char *const *globs, int n, const char *rel)
{
	for (int i = 0; i < n; i++) {
		if (!fnmatch(globs[i], rel, GLOB_FLAGS))
			return 1;
		for (const char *part = rel; *part;) {
			size_t len = strcspn(part, "/");
			char name[NAME_MAX + 1];
			if (len > 0 && len <= NAME_MAX) {
				memcpy(name, part, len);
				name[len] = '\0';
				if (!fnmatch(globs[i], name, GLOB_FLAGS))
					return 1;
			}
			part += len + (part[len] == '/');
		}
	}
	return 0;
}

int globs_match(const char *const *globs, int n, const char *rel)
{
	if (n == 0)
		return 0;
	pthread_once(&utf8_once, utf8_open);
	locale_t was = utf8 ? uselocale(utf8) : (locale_t)0;
	int yes = matches(globs, n, rel);
	if (utf8)
		uselocale(was);
	return yes;
}

/* See globs.h. */
int globs_unclosed_bracket(const char *glob)
{
	for (const char *p = glob; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '[') {
			const char *q = p + 1;
			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++; /* a ']' first is a member */
			q = strchr(q, ']');
			if (!q)
				return 1;
			p = q;
		}
	}
	return 0;
}
